"""The two equations b12labs evaluates: CKD-EPI 2021 eGFR and the combined indicator cB12.

Their constants are data (``_data/equations.toml``) with citations; the code only applies
them, on plain floats.
"""

from __future__ import annotations

import functools
import math
import tomllib
from importlib import resources
from typing import Any

from ._models import Sex

__all__ = ["cb12_value", "egfr_ckd_epi_2021", "equation_constants"]


@functools.cache
def equation_constants() -> dict[str, dict[str, Any]]:
    """The equation constants and their citations, as loaded from the package data."""
    text = resources.files("b12labs").joinpath("_data/equations.toml").read_text("utf-8")
    return tomllib.loads(text)


def egfr_ckd_epi_2021(creatinine_mg_dl: float, age: float, sex: Sex) -> float:
    """eGFR in mL/min/1.73 m2 by the race-free CKD-EPI 2021 creatinine equation.

    ``creatinine_mg_dl`` is IDMS-traceable serum creatinine in mg/dL; ``age`` in years.
    """
    c = equation_constants()["ckd_epi_2021"]
    female = sex is Sex.FEMALE
    kappa = c["kappa_female"] if female else c["kappa_male"]
    alpha = c["alpha_female"] if female else c["alpha_male"]
    ratio = creatinine_mg_dl / kappa
    egfr = float(
        c["scale"]
        * min(ratio, 1.0) ** alpha
        * max(ratio, 1.0) ** c["upper_exponent"]
        * c["age_base"] ** age
    )
    return egfr * float(c["female_factor"]) if female else egfr


def cb12_value(holotc: float, b12: float, mma: float, hcy: float, age: float) -> float:
    """cB12 from holoTC and B12 (pmol/L), MMA and Hcy (umol/L) and age (years)."""
    c = equation_constants()["cb12"]
    age_factor: float = c["age_factor_numerator"] / (
        1.0 + (age / c["age_factor_scale"]) ** c["age_factor_exponent"]
    )
    return math.log10((holotc * b12) / (mma * hcy)) - age_factor
