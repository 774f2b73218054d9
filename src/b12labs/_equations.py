"""The two equations b12labs evaluates: CKD-EPI 2021 eGFR and the combined indicator cB12.

Their constants are data (``_data/equations.toml``) with citations; the code only applies
them, on plain floats.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

from ._data_files import read_toml
from ._models import Sex

__all__ = [
    "SCALAR_OPS",
    "Ops",
    "cb12_value",
    "egfr_ckd_epi_2021",
    "equation_constants",
    "numpy_ops",
]


@functools.cache
def equation_constants() -> dict[str, dict[str, Any]]:
    """The equation constants and their citations, as loaded from the package data."""
    return read_toml("_data/equations.toml")


class Ops(NamedTuple):
    """The few operations the equations need, so one text serves floats and numpy arrays."""

    minimum: Callable[[Any, Any], Any]
    maximum: Callable[[Any, Any], Any]
    where: Callable[[Any, Any, Any], Any]
    log10: Callable[[Any], Any]


#: Plain-float operations (the single-panel path never imports numpy).
SCALAR_OPS = Ops(min, max, lambda cond, a, b: a if cond else b, math.log10)


@functools.cache
def numpy_ops() -> Ops:
    """numpy operations, for the batch path."""
    import numpy as np

    return Ops(np.minimum, np.maximum, np.where, np.log10)


def egfr_ckd_epi_2021(
    creatinine_mg_dl: Any, age: Any, sex: Sex | Any, ops: Ops = SCALAR_OPS
) -> Any:
    """eGFR in mL/min/1.73 m2 by the race-free CKD-EPI 2021 creatinine equation.

    ``creatinine_mg_dl`` is IDMS-traceable serum creatinine in mg/dL; ``age`` in years;
    ``sex`` a :class:`Sex` (or, with ``ops=numpy_ops()``, a boolean array: True = female).
    """
    c = equation_constants()["ckd_epi_2021"]
    female = sex is Sex.FEMALE if isinstance(sex, Sex) else sex
    kappa = ops.where(female, c["kappa_female"], c["kappa_male"])
    alpha = ops.where(female, c["alpha_female"], c["alpha_male"])
    ratio = creatinine_mg_dl / kappa
    egfr = (
        c["scale"]
        * ops.minimum(ratio, 1.0) ** alpha
        * ops.maximum(ratio, 1.0) ** c["upper_exponent"]
        * c["age_base"] ** age
    )
    return egfr * ops.where(female, c["female_factor"], 1.0)


def cb12_value(holotc: Any, b12: Any, mma: Any, hcy: Any, age: Any, ops: Ops = SCALAR_OPS) -> Any:
    """cB12 from holoTC and B12 (pmol/L), MMA and Hcy (umol/L) and age (years)."""
    c = equation_constants()["cb12"]
    age_factor = c["age_factor_numerator"] / (
        1.0 + (age / c["age_factor_scale"]) ** c["age_factor_exponent"]
    )
    return ops.log10((holotc * b12) / (mma * hcy)) - age_factor
