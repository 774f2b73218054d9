"""The decision procedure: one pure function over discrete states.

Every marker is first reduced to a small discrete *level* (absent, low, indeterminate...)
by the profile's :class:`~b12labs._profile.Cuts`. The status, findings and next steps are
then a pure function, :func:`decide`, of the tuple of levels and context flags
(:class:`RuleState`). This is what lets the scalar path and the vectorized path share one set
of rules: the scalar path calls ``decide(state)``; the batch path computes the same states
as integer arrays, finds the distinct ones and calls ``decide`` once per distinct state.
No threshold appears here: thresholds live in profiles.
"""

from __future__ import annotations

import functools
import tomllib
from enum import IntEnum
from importlib import resources
from typing import NamedTuple

from ._models import Category, Finding, NextStep, Status

__all__ = [
    "CB",
    "FL",
    "FOL",
    "HCY",
    "MMA",
    "Decision",
    "RuleState",
    "Tri",
    "catalog",
    "decide",
    "reduce_range",
]


class FL(IntEnum):
    """Level of a first-line marker (total B12 or holoTC)."""

    ABSENT = 0
    LOW = 1
    INDETERMINATE = 2
    NORMAL = 3
    ABOVE_REFERENCE = 4
    UNCLASSIFIABLE = 5


class MMA(IntEnum):
    """Level of methylmalonic acid."""

    ABSENT = 0
    NORMAL = 1
    ELEVATED = 2
    MARKEDLY_ELEVATED = 3
    UNCLASSIFIABLE = 4


class HCY(IntEnum):
    """Level of total homocysteine (MODERATE and above are elevated)."""

    ABSENT = 0
    NORMAL = 1
    MODERATE = 2
    INTERMEDIATE = 3
    SEVERE = 4
    UNCLASSIFIABLE = 5


class FOL(IntEnum):
    """Level of serum folate."""

    ABSENT = 0
    LOW = 1
    NORMAL = 2
    UNCLASSIFIABLE = 3


class Tri(IntEnum):
    """A yes/no fact that may be unknown."""

    UNKNOWN = 0
    NO = 1
    YES = 2


class CB(IntEnum):
    """Band of the combined indicator cB12 (NONE: not computed)."""

    NONE = 0
    PROBABLE_DEFICIENCY = 1
    POSSIBLE_DEFICIENCY = 2
    LOW = 3
    ADEQUATE = 4
    ELEVATED = 5


class RuleState(NamedTuple):
    """Everything the rules look at, as small integers (hashable; one row of a batch)."""

    b12: int = FL.ABSENT
    holotc: int = FL.ABSENT
    mma: int = MMA.ABSENT
    mma_check_unit: bool = False
    hcy: int = HCY.ABSENT
    folate: int = FOL.ABSENT
    renal: int = Tri.UNKNOWN
    pregnant: bool = False
    recent_treatment: bool = False
    nitrous_oxide: bool = False
    symptoms: int = Tri.UNKNOWN
    risk_factors: int = Tri.UNKNOWN
    cb12: int = CB.NONE
    below_guideline_age: bool = False


#: Number of values each RuleState field can take, in field order (for mixed-radix codes).
STATE_CARDINALITIES: tuple[int, ...] = (
    len(FL), len(FL), len(MMA), 2, len(HCY), len(FOL), len(Tri),
    2, 2, 2, len(Tri), len(Tri), len(CB), 2,
)  # fmt: skip


class Decision(NamedTuple):
    """Output of :func:`decide`: status and coded findings and next steps, in order."""

    status: Status
    findings: tuple[str, ...]
    next_steps: tuple[str, ...]


def _first_line_level(level: int) -> int:
    """Collapse a first-line level to LOW, INDETERMINATE or NORMAL for the status."""
    if level == FL.ABOVE_REFERENCE:
        return FL.NORMAL
    if level == FL.UNCLASSIFIABLE:  # decision-spec 3.2: unclassifiable counts as indeterminate
        return FL.INDETERMINATE
    return level


@functools.cache
def decide(s: RuleState) -> Decision:
    """Apply the status rules of decision-spec section 3 to one state."""
    findings: list[str] = []
    steps: list[str] = []
    mma_elevated = s.mma in (MMA.ELEVATED, MMA.MARKEDLY_ELEVATED)
    mma_marked = s.mma == MMA.MARKEDLY_ELEVATED
    mma_normal = s.mma == MMA.NORMAL
    mma_finding = "mma_markedly_elevated" if mma_marked else "mma_elevated"
    hcy_elevated = s.hcy in (HCY.MODERATE, HCY.INTERMEDIATE, HCY.SEVERE)
    renal_impaired = s.renal == Tri.YES

    def functional_decides() -> Status:
        # Rules 2 and 4: MMA resolves an indeterminate or missing first-line result.
        if mma_elevated:
            if renal_impaired and not mma_marked:
                findings.append("mma_may_reflect_renal_impairment")
                return Status.BORDERLINE
            findings.append(mma_finding)
            return Status.DEFICIENCY_LIKELY
        if mma_normal:
            findings.append("mma_normal")
            return Status.NOT_INDICATED
        steps.append("measure_mma")
        if hcy_elevated:
            findings.append("homocysteine_supportive")
        return Status.BORDERLINE

    present = [lvl for lvl in (s.b12, s.holotc) if lvl != FL.ABSENT]
    levels = [_first_line_level(lvl) for lvl in present]
    if levels:
        first_line = min(levels)  # LOW < INDETERMINATE < NORMAL: the more concerning counts
        if len(set(levels)) > 1:
            findings.append("first_line_discordant")
        if first_line == FL.LOW:
            if s.pregnant and s.holotc == FL.ABSENT and not mma_elevated:
                status = Status.BORDERLINE
                findings.append("pregnancy_low_total_b12")
                steps.append("measure_holotc_or_mma")
            else:
                status = Status.DEFICIENCY_LIKELY
                findings.append("first_line_low")
                if mma_elevated:
                    findings.append(mma_finding)
                elif mma_normal:
                    findings.append("discordant_normal_mma")
        elif first_line == FL.INDETERMINATE:
            unclassifiable = FL.UNCLASSIFIABLE in present and FL.INDETERMINATE not in present
            findings.append(
                "first_line_unclassifiable" if unclassifiable else "first_line_indeterminate"
            )
            status = functional_decides()
        else:
            findings.append("first_line_normal")
            if mma_elevated:
                findings.append(mma_finding)
                findings.append("functional_deficiency_possible")
                steps.append("assess_nitrous_oxide_exposure")
                if mma_marked and not renal_impaired:
                    status = Status.DEFICIENCY_LIKELY
                else:
                    status = Status.BORDERLINE
                    if renal_impaired:
                        findings.append("mma_may_reflect_renal_impairment")
            else:
                status = Status.NOT_INDICATED
                if mma_normal:
                    findings.append("mma_normal")
    elif s.mma in (MMA.NORMAL, MMA.ELEVATED, MMA.MARKEDLY_ELEVATED):
        status = functional_decides()
        steps.append("measure_b12_or_holotc")
    elif hcy_elevated:
        status = Status.BORDERLINE
        findings.append("homocysteine_elevated_nonspecific")
        steps.extend(("measure_b12_or_holotc", "measure_mma"))
    elif s.hcy == HCY.NORMAL:
        status = Status.NOT_INDICATED
        findings.append("homocysteine_alone_nonspecific")
        steps.append("measure_b12_or_holotc")
    else:
        status = Status.INSUFFICIENT_DATA
        findings.append("no_usable_marker")
        steps.append("measure_b12_or_holotc")

    _caveats(s, status, findings, steps, hcy_elevated=hcy_elevated, mma_elevated=mma_elevated)
    if status == Status.DEFICIENCY_LIKELY:
        steps.extend(("discuss_treatment", "test_intrinsic_factor_antibodies"))
    elif status == Status.BORDERLINE:
        steps.append("clinical_review")
    return Decision(status, tuple(dict.fromkeys(findings)), tuple(dict.fromkeys(steps)))


def _caveats(
    s: RuleState,
    status: Status,
    findings: list[str],
    steps: list[str],
    *,
    hcy_elevated: bool,
    mma_elevated: bool,
) -> None:
    """Findings that never change the status but must be reported (decision-spec 3)."""
    for level, code in ((s.b12, "b12"), (s.holotc, "holotc")):
        if level == FL.UNCLASSIFIABLE:
            findings.append(f"{code}_unclassifiable")
            steps.append("request_quantitative_result")
    for level, unclassifiable, code in (
        (s.mma, MMA.UNCLASSIFIABLE, "mma"),
        (s.hcy, HCY.UNCLASSIFIABLE, "hcy"),
        (s.folate, FOL.UNCLASSIFIABLE, "folate"),
    ):
        if level == unclassifiable:
            findings.append(f"{code}_unclassifiable")
            steps.append("request_quantitative_result")
    if s.b12 == FL.ABOVE_REFERENCE:
        findings.append("b12_above_reference")
    if s.recent_treatment:
        findings.append("recent_b12_treatment")
        steps.append("retest_off_treatment")
        if s.mma == MMA.ABSENT:
            steps.append("measure_mma")
    if s.renal == Tri.YES:
        findings.append("renal_impairment")
    elif s.renal == Tri.UNKNOWN and (mma_elevated or hcy_elevated):
        findings.append("renal_function_unknown")
        steps.append("measure_kidney_function")
    if hcy_elevated and s.mma == MMA.NORMAL:
        if s.folate == FOL.LOW:
            findings.append("folate_deficiency_pattern")
        elif s.folate == FOL.ABSENT:
            findings.append("folate_unknown_high_homocysteine")
            steps.append("measure_folate")
    if s.folate == FOL.LOW:
        findings.append("folate_low")
    if s.hcy == HCY.SEVERE:
        findings.append("homocysteine_severe")
        steps.append("consider_inherited_disorder")
    if s.mma_check_unit:
        findings.append("mma_check_unit")
        steps.extend(("check_mma_unit", "consider_inherited_disorder"))
    if s.nitrous_oxide:
        findings.append("nitrous_oxide_exposure")
        if s.mma == MMA.ABSENT:
            steps.append("measure_mma")
    if s.pregnant and (s.b12 != FL.ABSENT or s.mma != MMA.ABSENT):
        findings.append("pregnancy_reference_ranges")
    if s.cb12 != CB.NONE:
        cb12_deficient = s.cb12 < CB.ADEQUATE  # Fedosov 2015: deficiency below -0.5
        if (status == Status.DEFICIENCY_LIKELY and not cb12_deficient) or (
            status == Status.NOT_INDICATED and cb12_deficient
        ):
            findings.append("cb12_disagrees")
    if s.below_guideline_age:
        findings.append("below_guideline_age")
    if s.symptoms == Tri.YES and status == Status.NOT_INDICATED:
        findings.append("symptoms_not_explained")
        steps.append("consider_other_causes")
    if s.symptoms != Tri.UNKNOWN and s.risk_factors != Tri.UNKNOWN:
        both = s.symptoms == Tri.YES and s.risk_factors == Tri.YES
        findings.append("nice_testing_criteria_met" if both else "nice_testing_criteria_not_met")


class Catalog(NamedTuple):
    """The finding and next-step objects, built once and shared by every result."""

    findings: dict[str, Finding]
    next_steps: dict[str, NextStep]
    summaries: dict[Status, str]


@functools.cache
def catalog() -> Catalog:
    """Load ``_data/codes.toml`` once."""
    text = resources.files("b12labs").joinpath("_data/codes.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    return Catalog(
        {code: Finding(code=code, message=msg) for code, msg in raw["findings"].items()},
        {code: NextStep(code=code, message=msg) for code, msg in raw["next_steps"].items()},
        {Status(code): msg for code, msg in raw["status"].items()},
    )


# ----------------------------------------------------------------------------- levels
# A (possibly censored) result is classified as a range of category indexes (lo, hi). These
# tables reduce a range to the level the rules use and the category results report. They are
# small 2-D tables, so the batch path can index them with arrays and get the same answer.

_LEVELS: dict[str, tuple[int, ...]] = {
    "first_line": (FL.LOW, FL.INDETERMINATE, FL.NORMAL, FL.ABOVE_REFERENCE),
    "mma": (MMA.NORMAL, MMA.ELEVATED, MMA.MARKEDLY_ELEVATED),
    "hcy": (HCY.NORMAL, HCY.MODERATE, HCY.INTERMEDIATE, HCY.SEVERE),
    "folate": (FOL.LOW, FOL.NORMAL),
}
_UNCLASSIFIABLE: dict[str, int] = {
    "first_line": FL.UNCLASSIFIABLE,
    "mma": MMA.UNCLASSIFIABLE,
    "hcy": HCY.UNCLASSIFIABLE,
    "folate": FOL.UNCLASSIFIABLE,
}


def _kind(analyte: str) -> str:
    return "first_line" if analyte in ("b12", "holotc") else analyte


def reduce_range(
    analyte: str, lo: int, hi: int, categories: tuple[Category, ...]
) -> tuple[int, Category]:
    """Level and reported category of a result whose category index lies in ``[lo, hi]``.

    An exact result has ``lo == hi``. A censored one spanning several categories keeps the
    part its bound proves: a first-line result that can only be normal or above reference
    is normal; an MMA or homocysteine result that is at least elevated is reported at the
    lowest category it proves. Anything else is unclassifiable.
    """
    kind = _kind(analyte)
    levels = _LEVELS[kind]
    if lo == hi:
        return levels[lo], categories[lo]
    if kind == "first_line" and lo >= categories.index(Category.NORMAL):
        return FL.NORMAL, Category.NORMAL
    if kind in ("mma", "hcy") and lo >= 1:
        return levels[lo], categories[lo]
    return _UNCLASSIFIABLE[kind], Category.UNCLASSIFIABLE
