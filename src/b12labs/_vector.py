"""The vectorized decision path (numpy only; the pandas module builds on it).

It applies the same compiled profile and the same rules as :func:`b12labs.interpret`:

* classification uses :meth:`Cuts.range_array`, the array twin of the scalar
  :meth:`Cuts.range`, over the same compiled boundaries;
* a (lo, hi) category range becomes a level and a reported category through tables built
  from :func:`~b12labs._rules.reduce_range`, the function the scalar path calls;
* the rule state of every row is packed into one integer; each distinct state is decided
  once by the scalar :func:`~b12labs._rules.decide` and the answer is spread back to its
  rows. Thousands of rows usually share a few hundred states.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ._analytes import MARKERS, analyte_info
from ._equations import cb12_value, egfr_ckd_epi_2021, equation_constants, numpy_ops
from ._interpret import _CB12_LEVEL, CATEGORY_CODES, CENSOR_CODES, _resolved
from ._models import Category, CB12Band, Censor, InterpretationCode, Status
from ._profile import CENSOR_CODES as CENSOR_INDEX
from ._profile import CompiledProfile
from ._rules import STATE_CARDINALITIES, RuleState, Tri, reduce_range

__all__ = ["CATEGORIES", "CODES", "STATUSES", "BatchInput", "BatchResult", "evaluate"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Orders of the categorical outputs (index i in a code array means the i-th entry).
CATEGORIES: tuple[Category, ...] = tuple(Category)
CODES: tuple[InterpretationCode, ...] = tuple(InterpretationCode)
STATUSES: tuple[Status, ...] = tuple(Status)
CB12_BANDS: tuple[CB12Band, ...] = tuple(CB12Band)
_CENSORS: tuple[Censor, ...] = tuple(Censor)  # index + 1 = censor code of _profile


@dataclass
class BatchInput:
    """Checked inputs of a batch, one array entry per row, in canonical units.

    Marker values are NaN when absent; censor codes are 0 none, 1 '<', 2 '<=', 3 '>', 4 '>='.
    ``female`` is meaningful only where ``sex_known``. Rows with ``valid`` False are not
    interpreted (their inputs had errors).
    """

    values: Mapping[str, FloatArray]
    censors: Mapping[str, npt.NDArray[np.int8]]
    age: FloatArray
    sex_known: BoolArray
    female: BoolArray
    pregnant: BoolArray
    egfr: FloatArray
    creatinine_mg_dl: FloatArray
    valid: BoolArray


@dataclass
class BatchResult:
    """Per-row answers. Code arrays index :data:`STATUSES`, :data:`CATEGORIES`, :data:`CODES`;
    -1 means none (absent marker or invalid row)."""

    status: npt.NDArray[np.int8]
    categories: dict[str, npt.NDArray[np.int8]]
    fhir: dict[str, npt.NDArray[np.int8]]
    cb12: FloatArray
    cb12_band: npt.NDArray[np.int8]
    egfr: FloatArray
    findings: tuple[tuple[str, ...], IntArray]
    next_steps: tuple[tuple[str, ...], IntArray]


@functools.cache
def _reduction_tables(
    analyte: str, categories: tuple[Category, ...]
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Level, category index and HL7 code index of every (lo, hi), from reduce_range."""
    n = len(categories)
    level = np.zeros((n, n), dtype=np.int8)
    category = np.zeros((n, n), dtype=np.int8)
    code = np.zeros((n, n), dtype=np.int8)
    for lo in range(n):
        for hi in range(lo, n):
            lvl, cat = reduce_range(analyte, lo, hi, categories)
            level[lo, hi] = lvl
            category[lo, hi] = CATEGORIES.index(cat)
            code[lo, hi] = CODES.index(CATEGORY_CODES[cat])
    return level, category, code


def _censor_codes() -> npt.NDArray[np.int8]:
    # HL7 code index of each censor code (0 = not censored, unused).
    table = np.zeros(len(CENSOR_INDEX), dtype=np.int8)
    for censor in _CENSORS:
        table[CENSOR_INDEX[censor.value]] = CODES.index(CENSOR_CODES[censor])
    return table


def _classify(
    cp: CompiledProfile, analyte: str, x: FloatArray, censor: npt.NDArray[np.int8], band: IntArray
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Level, category index and HL7 code index per row (level 0 where absent)."""
    present = ~np.isnan(x)
    level = np.zeros(x.shape, dtype=np.int8)
    category = np.full(x.shape, -1, dtype=np.int8)
    code = np.full(x.shape, -1, dtype=np.int8)
    bands = range(len(cp.mma_bands)) if analyte == "mma" else range(1)
    for b in bands:
        rows = present & (band == b) if analyte == "mma" else present
        if not rows.any():
            continue
        cuts = cp.cuts_for(analyte, b)
        lo, hi = cuts.range_array(x[rows], censor[rows])
        t_level, t_category, t_code = _reduction_tables(analyte, cuts.categories)
        level[rows] = t_level[lo, hi]
        category[rows] = t_category[lo, hi]
        code[rows] = t_code[lo, hi]
    censored = present & (censor > 0)
    code[censored] = _censor_codes()[censor[censored]]
    return level, category, code


def _tri(known: BoolArray, yes: BoolArray) -> IntArray:
    return np.where(known, np.where(yes, Tri.YES, Tri.NO), Tri.UNKNOWN).astype(np.int64)


def evaluate(
    cp: CompiledProfile,
    data: BatchInput,
    factorize: Callable[[IntArray], tuple[IntArray, IntArray]] | None = None,
) -> BatchResult:
    """Interpret every valid row of ``data`` under the compiled profile ``cp``.

    ``factorize(codes) -> (inverse, uniques)`` may be given (pandas.factorize is faster than
    the default sort-based numpy.unique).
    """
    n = data.age.shape[0]
    age = data.age
    band = np.zeros(n, dtype=np.int64)
    if len(cp.mma_ages) > 1:
        known_age = ~np.isnan(age)
        starts = np.asarray(cp.mma_ages[1:])
        band[known_age] = np.searchsorted(starts, age[known_age], side="right")

    levels: dict[str, IntArray] = {}
    categories: dict[str, npt.NDArray[np.int8]] = {}
    fhir: dict[str, npt.NDArray[np.int8]] = {}
    for analyte in (str(m) for m in MARKERS):
        x = data.values.get(analyte)
        if x is None:
            levels[analyte] = np.zeros(n, dtype=np.int64)
            continue
        censor = data.censors[analyte]
        level, category, hl7 = _classify(cp, analyte, x, censor, band)
        levels[analyte] = level.astype(np.int64)
        categories[analyte] = category
        fhir[analyte] = hl7

    nan = np.full(n, np.nan)
    mma = data.values.get("mma", nan)
    mma_censor = data.censors.get("mma", np.zeros(n, dtype=np.int8))
    limit = analyte_info("mma").check_unit_above
    upper_bounded = (mma_censor == CENSOR_INDEX["<"]) | (mma_censor == CENSOR_INDEX["<="])
    mma_check_unit = ~upper_bounded & (mma > (np.inf if limit is None else limit))

    # eGFR: as given, else CKD-EPI 2021 from an exact creatinine with age (adult) and sex.
    egfr = data.egfr.copy()
    ckd = equation_constants()["ckd_epi_2021"]
    computable = (
        np.isnan(egfr)
        & ~np.isnan(data.creatinine_mg_dl)
        & data.sex_known
        & ~np.isnan(age)
        & (age >= ckd["min_age"])
    )
    if computable.any():
        egfr[computable] = egfr_ckd_epi_2021(
            data.creatinine_mg_dl[computable], age[computable], data.female[computable], numpy_ops()
        )
    has_egfr = ~np.isnan(egfr)
    renal = np.full(n, int(Tri.UNKNOWN), dtype=np.int64)
    renal[has_egfr] = np.where(cp.renal.point_array(egfr[has_egfr]) == 0, Tri.YES, Tri.NO)

    # cB12 needs all four markers exact and age.
    exact = ~np.isnan(age)
    inputs = []
    for analyte in ("holotc", "b12", "mma", "hcy"):
        x = data.values.get(analyte, nan)
        exact &= ~np.isnan(x) & (data.censors.get(analyte, np.zeros(n, dtype=np.int8)) == 0)
        inputs.append(x)
    cb12 = np.full(n, np.nan)
    cb12_band = np.full(n, -1, dtype=np.int8)
    if exact.any():
        holotc, b12, mma_value, hcy = (x[exact] for x in inputs)
        cb12[exact] = cb12_value(holotc, b12, mma_value, hcy, age[exact], numpy_ops())
        cb12_band[exact] = cp.cb12.point_array(cb12[exact])
    cb12_level = np.where(
        cb12_band >= 0, cb12_band.astype(np.int64) + _CB12_LEVEL[CB12_BANDS[0]], 0
    )

    below_age = np.zeros(n, dtype=bool)
    if cp.applies_from_age is not None:
        known = ~np.isnan(age)
        below_age[known] = cp.applies_from_age.point_array(age[known]) == 0

    unknown = np.zeros(n, dtype=np.int64)
    fields: tuple[Any, ...] = (
        levels["b12"],
        levels["holotc"],
        levels["mma"],
        mma_check_unit,
        levels["hcy"],
        levels["folate"],
        renal,
        data.pregnant,
        np.zeros(n, dtype=bool),  # recent_treatment: not a batch column
        np.zeros(n, dtype=bool),  # nitrous_oxide: not a batch column
        unknown,  # symptoms: unknown in a batch
        unknown,  # risk_factors: unknown in a batch
        cb12_level,
        below_age,
    )
    code = np.zeros(n, dtype=np.int64)
    radix = 1
    for values, cardinality in zip(fields, STATE_CARDINALITIES, strict=True):
        code += np.asarray(values, dtype=np.int64) * radix
        radix *= cardinality
    valid = data.valid
    inverse, uniques = (factorize or _np_factorize)(code[valid])

    status_of = np.empty(len(uniques), dtype=np.int8)
    finding_of, step_of = [], []
    for i, packed in enumerate(uniques.tolist()):
        decided, _, found, steps = _resolved(_unpack(packed))
        status_of[i] = STATUSES.index(decided)
        finding_of.append(";".join(f.code for f in found))
        step_of.append(";".join(s.code for s in steps))

    status = np.full(n, -1, dtype=np.int8)
    status[valid] = status_of[inverse]
    findings = _spread(finding_of, inverse, valid)
    next_steps = _spread(step_of, inverse, valid)
    for analyte in categories:
        categories[analyte][~valid] = -1
        fhir[analyte][~valid] = -1
    cb12[~valid] = np.nan
    cb12_band[~valid] = -1
    egfr[~valid] = np.nan
    return BatchResult(status, categories, fhir, cb12, cb12_band, egfr, findings, next_steps)


def _np_factorize(codes: IntArray) -> tuple[IntArray, IntArray]:
    uniques, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64), uniques


def _spread(
    texts: list[str], inverse: IntArray, valid: BoolArray
) -> tuple[tuple[str, ...], IntArray]:
    """Distinct texts and per-row indexes into them (-1 for invalid rows)."""
    index: dict[str, int] = {}
    position = np.array([index.setdefault(t, len(index)) for t in texts], dtype=np.int64)
    distinct = tuple(index)
    rows = np.full(valid.shape[0], -1, dtype=np.int64)
    if position.size:
        rows[valid] = position[inverse]
    return distinct, rows


@functools.lru_cache(maxsize=65536)
def _unpack(packed: int) -> RuleState:
    values: list[int] = []
    for cardinality in STATE_CARDINALITIES:
        packed, value = divmod(packed, cardinality)
        values.append(value)
    state = RuleState._make(values)
    # Boolean fields back to bool so that the state hashes like the scalar path's.
    return state._replace(
        mma_check_unit=bool(state.mma_check_unit),
        pregnant=bool(state.pregnant),
        recent_treatment=bool(state.recent_treatment),
        nitrous_oxide=bool(state.nitrous_oxide),
        below_guideline_age=bool(state.below_guideline_age),
    )
