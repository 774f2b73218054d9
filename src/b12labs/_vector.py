"""The vectorized decision path (numpy only; the pandas module builds on it).

It applies the same compiled profile and the same rules as :func:`b12labs.interpret`:

* classification uses :meth:`Cuts.range_array`, the array twin of the scalar
  :meth:`Cuts.range`, over the same compiled boundaries;
* a (lo, hi) category range becomes a level and a reported category through tables built
  from :func:`~b12labs._rules.reduce_range`, the function the scalar path calls;
* the rule state of every row is packed into one integer; each distinct state is decided
  once by the scalar :func:`~b12labs._rules.decide` and the answer is spread back to its
  rows through lookup tables. A million rows usually share a few hundred states.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ._analytes import MARKERS, analyte_info
from ._equations import cb12_value, egfr_ckd_epi_2021, equation_constants, numpy_ops
from ._interpret import _CB12_LEVEL, CATEGORY_CODES, CENSOR_CODES, _resolved
from ._models import Category, CB12Band, Censor, InterpretationCode, Status
from ._profile import CENSOR_INDEX, CompiledProfile
from ._rules import STATE_CARDINALITIES, RuleState, Tri, reduce_range

__all__ = ["CATEGORIES", "CODES", "STATUSES", "BatchInput", "BatchResult", "evaluate"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.signedinteger[Any]]
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
    A context array is None when the frame has no such column. ``female`` is meaningful
    only where ``sex_known``. Rows with ``valid`` False are not interpreted (input errors).
    """

    n: int
    values: Mapping[str, FloatArray]
    censors: Mapping[str, npt.NDArray[np.int8]]
    valid: BoolArray
    age: FloatArray | None = None
    sex_known: BoolArray | None = None
    female: BoolArray | None = None
    pregnant: BoolArray | None = None
    egfr: FloatArray | None = None
    #: Exact creatinine in mg/dL (NaN where absent or censored: a censored one gives no eGFR).
    creatinine_mg_dl: FloatArray | None = None
    #: Rows with a creatinine result, censored or not (for ``egfr_not_computed``).
    creatinine_given: BoolArray | None = None
    recent_treatment: BoolArray | None = None
    nitrous_oxide: BoolArray | None = None
    #: Tri codes (0 unknown, 1 none reported, 2 some reported).
    symptoms: npt.NDArray[np.int8] | None = None
    risk_factors: npt.NDArray[np.int8] | None = None
    autoimmune_gastritis: BoolArray | None = None


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


# Rule states are packed into int32 codes: the number of possible states must fit.
assert math.prod(STATE_CARDINALITIES) < 2**31
#: Up to this many possible codes, lookup tables have a slot per code (a few MB at most).
_DIRECT_SLOTS = 1 << 21


@functools.cache
def _reduction_tables(
    analyte: str, categories: tuple[Category, ...]
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Level, category index and HL7 code index of every (lo, hi), from reduce_range.

    Entry ``lo * n + hi`` holds the answer for the range [lo, hi]; the extra last entry is
    for an absent marker (level 0, no category, no code).
    """
    n = len(categories)
    level = np.zeros(n * n + 1, dtype=np.int8)
    category = np.full(n * n + 1, -1, dtype=np.int8)
    code = np.full(n * n + 1, -1, dtype=np.int8)
    for lo in range(n):
        for hi in range(lo, n):
            lvl, cat = reduce_range(analyte, lo, hi, categories)
            level[lo * n + hi] = lvl
            category[lo * n + hi] = CATEGORIES.index(cat)
            code[lo * n + hi] = CODES.index(CATEGORY_CODES[cat])
    return level, category, code


@functools.cache
def _censor_codes() -> npt.NDArray[np.int8]:
    # HL7 code index of each censor code (0 = not censored, unused).
    table = np.zeros(len(CENSOR_INDEX), dtype=np.int8)
    for censor in _CENSORS:
        table[CENSOR_INDEX[censor.value]] = CODES.index(CENSOR_CODES[censor])
    return table


def _classify(
    cp: CompiledProfile, analyte: str, x: FloatArray, censor: npt.NDArray[np.int8], band: IntArray
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Level, category index and HL7 code index per row (level 0, index -1 where absent).

    Works on whole arrays (NaN classifies as the lowest category and is masked at the end):
    cheaper than copying the present rows out and back.
    """
    absent = np.flatnonzero(np.isnan(x))
    found: list[list[npt.NDArray[np.int8]]] = []
    for b in range(len(cp.mma_bands) if analyte == "mma" else 1):
        cuts = cp.cuts_for(analyte, b)
        size = len(cuts.categories)
        if censor.any():
            lo, hi = cuts.range_array(x, censor)
            flat = lo * np.int8(size) + hi  # at most 5 x 5 + 1: fits in int8
        else:  # exact results only: lo == hi
            flat = cuts.point_array(x) * np.int8(size + 1)
        flat[absent] = size * size  # the table's "absent" entry
        found.append([np.take(t, flat) for t in _reduction_tables(analyte, cuts.categories)])
    level, category, code = found[0]
    for b, (b_level, b_category, b_code) in enumerate(found[1:], start=1):
        use = band == b  # rows whose age selects this MMA band
        level = np.where(use, b_level, level)
        category = np.where(use, b_category, category)
        code = np.where(use, b_code, code)
    censored = np.flatnonzero(censor)
    if censored.size:  # off-scale results: '<' or '>' whatever category the bound proves
        code[censored] = _censor_codes()[censor[censored]]
    return level, category, code


def evaluate(
    cp: CompiledProfile,
    data: BatchInput,
) -> BatchResult:
    """Interpret every valid row of ``data`` under the compiled profile ``cp``."""
    n = data.n
    age = data.age
    band = np.zeros(n, dtype=np.int64)
    if age is not None and len(cp.mma_ages) > 1:
        band = np.searchsorted(np.asarray(cp.mma_ages[1:]), age, side="right")
        band[np.isnan(age)] = 0  # unknown age: the default MMA limit, as interpret() does

    levels: dict[str, npt.NDArray[np.int8] | None] = {}
    categories: dict[str, npt.NDArray[np.int8]] = {}
    fhir: dict[str, npt.NDArray[np.int8]] = {}
    for analyte in (str(m) for m in MARKERS):
        x = data.values.get(analyte)
        if x is None:
            levels[analyte] = None
            continue
        level, category, hl7 = _classify(cp, analyte, x, data.censors[analyte], band)
        levels[analyte] = level
        categories[analyte] = category
        fhir[analyte] = hl7

    mma_check_unit = None
    limit = analyte_info("mma").check_unit_above
    if "mma" in data.values and limit is not None:
        mma_censor = data.censors["mma"]
        upper_bounded = (mma_censor == CENSOR_INDEX["<"]) | (mma_censor == CENSOR_INDEX["<="])
        mma_check_unit = ~upper_bounded & (data.values["mma"] > limit)

    # eGFR: as given, else CKD-EPI 2021 from an exact creatinine with age (adult) and sex.
    egfr = np.full(n, np.nan) if data.egfr is None else data.egfr.copy()
    creatinine = data.creatinine_mg_dl
    if creatinine is not None and age is not None and data.sex_known is not None:
        ckd = equation_constants()["ckd_epi_2021"]
        computable = (
            np.isnan(egfr) & ~np.isnan(creatinine) & data.sex_known & (age >= ckd["min_age"])
        )
        if computable.any():
            assert data.female is not None
            egfr[computable] = egfr_ckd_epi_2021(
                creatinine[computable], age[computable], data.female[computable], numpy_ops()
            )
    renal = None
    has_egfr = ~np.isnan(egfr)
    # a creatinine that gave no eGFR says so (as interpret() does)
    egfr_not_computed = None
    if data.creatinine_given is not None:
        egfr_not_computed = data.creatinine_given & ~has_egfr
    if has_egfr.any():
        renal = np.full(n, int(Tri.UNKNOWN), dtype=np.int8)
        renal[has_egfr] = np.where(cp.renal.point_array(egfr[has_egfr]) == 0, Tri.YES, Tri.NO)

    # cB12 needs all four markers exact and age.
    cb12 = np.full(n, np.nan)
    cb12_band = np.full(n, -1, dtype=np.int8)
    cb12_level = None
    needed = ("holotc", "b12", "mma", "hcy")
    if age is not None and all(a in data.values for a in needed):
        exact = ~np.isnan(age)
        for analyte in needed:
            exact &= ~np.isnan(data.values[analyte]) & (data.censors[analyte] == 0)
        if exact.any():
            holotc, b12, mma, hcy = (data.values[a][exact] for a in needed)
            cb12[exact] = cb12_value(holotc, b12, mma, hcy, age[exact], numpy_ops())
            cb12_band[exact] = cp.cb12.point_array(cb12[exact])
            first = np.int8(_CB12_LEVEL[CB12_BANDS[0]])
            cb12_level = np.where(cb12_band >= 0, cb12_band + first, 0)

    below_age = None
    if cp.applies_from_age is not None and age is not None:
        below_age = ~np.isnan(age) & (cp.applies_from_age.point_array(age) == 0)

    # One integer per row: the RuleState fields in mixed radix (their product fits in int32).
    # None marks a field that is 0 (false or unknown) on every row.
    fields: tuple[Any, ...] = (
        levels["b12"],
        levels["holotc"],
        levels["mma"],
        mma_check_unit,
        levels["hcy"],
        levels["folate"],
        renal,
        data.pregnant,
        data.recent_treatment,
        data.nitrous_oxide,
        data.symptoms,
        data.risk_factors,
        cb12_level,
        below_age,
        data.autoimmune_gastritis,
        None,  # research_profile: one value for the whole batch, set when unpacking
        egfr_not_computed,
    )
    # Pack the fields a batch carries into one compact integer per row. When the possible
    # codes are few enough, every one gets a slot in small lookup tables: no hashing or
    # sorting of the rows, just a bincount and three takes. A frame with every marker and
    # every context column has too many possible codes for that: its codes are first
    # renumbered by np.unique (a sort), so the tables stay as small as the distinct states.
    present = [(i, values) for i, values in enumerate(fields) if values is not None]
    radices = [STATE_CARDINALITIES[i] for i, _ in present]
    code = np.zeros(n, dtype=np.int32)
    radix = 1
    for (_, values), cardinality in zip(present, radices, strict=True):
        code += np.asarray(values, dtype=np.int32) * np.int32(radix)
        radix *= cardinality
    valid = data.valid
    all_valid = bool(valid.all())
    if radix <= _DIRECT_SLOTS:
        slots = radix  # codes run from 0 to slots - 1; slot ``slots`` is "not interpreted"
        if not all_valid:
            code[~valid] = slots
        used = np.flatnonzero(np.bincount(code, minlength=slots + 1)[:slots])
        packed_of = used
    else:
        if not all_valid:
            code[~valid] = radix
        packed_of, inverse = np.unique(code, return_inverse=True)
        code = inverse.astype(np.int32).reshape(-1)
        if not all_valid and packed_of[-1] == radix:
            packed_of = packed_of[:-1]  # the "not interpreted" code sorts last
        slots = len(packed_of)
        used = np.arange(slots)

    status_table = np.full(slots + 1, -1, dtype=np.int8)
    finding_table = np.full(slots + 1, -1, dtype=np.int32)
    step_table = np.full(slots + 1, -1, dtype=np.int32)
    finding_texts: dict[str, int] = {}
    step_texts: dict[str, int] = {}
    indexes = tuple(i for i, _ in present)
    for slot, packed in zip(used.tolist(), packed_of.tolist(), strict=True):
        state = _unpack(packed, indexes)._replace(research_profile=cp.research)
        decided, _, found, steps = _resolved(state)
        status_table[slot] = STATUSES.index(decided)
        text = ";".join(f.code for f in found)
        finding_table[slot] = finding_texts.setdefault(text, len(finding_texts))
        text = ";".join(s.code for s in steps)
        step_table[slot] = step_texts.setdefault(text, len(step_texts))

    status = np.take(status_table, code)
    findings = (tuple(finding_texts), np.take(finding_table, code))
    next_steps = (tuple(step_texts), np.take(step_table, code))
    if not all_valid:
        for analyte in categories:
            categories[analyte][~valid] = -1
            fhir[analyte][~valid] = -1
        cb12[~valid] = np.nan
        cb12_band[~valid] = -1
        egfr[~valid] = np.nan
    return BatchResult(status, categories, fhir, cb12, cb12_band, egfr, findings, next_steps)


@functools.lru_cache(maxsize=65536)
def _unpack(packed: int, fields: tuple[int, ...]) -> RuleState:
    """The RuleState of a compact code over the RuleState field indexes ``fields``."""
    values = [0] * len(STATE_CARDINALITIES)
    for i in fields:
        packed, values[i] = divmod(packed, STATE_CARDINALITIES[i])
    state = RuleState._make(values)
    # Boolean fields back to bool, as the scalar path builds them.
    return state._replace(
        mma_check_unit=bool(state.mma_check_unit),
        pregnant=bool(state.pregnant),
        recent_treatment=bool(state.recent_treatment),
        nitrous_oxide=bool(state.nitrous_oxide),
        below_guideline_age=bool(state.below_guideline_age),
        autoimmune_gastritis=bool(state.autoimmune_gastritis),
        research_profile=bool(state.research_profile),
        egfr_not_computed=bool(state.egfr_not_computed),
    )
