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
from enum import IntEnum
from typing import NamedTuple

from ._data_files import read_toml
from ._models import Category, Finding, NextStep, Status

__all__ = [
    "CB",
    "FL",
    "FOL",
    "HCY",
    "MMA",
    "RULES_VERSION",
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


#: Version of the decision rules (decision-spec section 7: rules version 2 amends section 3).
#: It changes whenever a status may change for the same input; results carry it.
RULES_VERSION = 2


class RuleState(NamedTuple):
    """Everything the rules look at, as small integers (hashable; one row of a batch).

    Boolean context fields are True only when the fact is known to hold: unknown is never
    true (decision-spec 7.0), so an unknown flag and a false one decide alike.
    """

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
    autoimmune_gastritis: bool = False
    research_profile: bool = False
    #: A creatinine was given but no eGFR is known: none given, and CKD-EPI 2021 could not
    #: be computed (age or sex unknown, age under the equation's minimum, censored creatinine).
    egfr_not_computed: bool = False


#: Number of values each RuleState field can take, in field order (for mixed-radix codes).
STATE_CARDINALITIES: tuple[int, ...] = (
    len(FL), len(FL), len(MMA), 2, len(HCY), len(FOL), len(Tri),
    2, 2, 2, len(Tri), len(Tri), len(CB), 2, 2, 2, 2,
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


_MMA_ELEVATED = (MMA.ELEVATED, MMA.MARKEDLY_ELEVATED)
_HCY_ELEVATED = (HCY.MODERATE, HCY.INTERMEDIATE, HCY.SEVERE)
_HCY_USABLE = (HCY.NORMAL, *_HCY_ELEVATED)


@functools.cache
def decide(s: RuleState) -> Decision:
    """Apply the status rules (decision-spec section 3 as amended by section 7) to one state.

    Order: section 3 on the amended inputs (7.1), then steps 1, 2, 4, 3 and 5 of 7.2, then
    the findings and next steps that follow the final status (7.3).
    """
    findings: list[str] = []
    steps: list[str] = []
    # 7.0/7.1: an MMA above the check-unit limit is flagged and treated as absent.
    flagged = s.mma_check_unit
    mma = MMA.ABSENT if flagged else s.mma
    mma_elevated = mma in _MMA_ELEVATED
    mma_marked = mma == MMA.MARKEDLY_ELEVATED
    mma_normal = mma == MMA.NORMAL
    mma_usable = mma_normal or mma_elevated
    mma_finding = "mma_markedly_elevated" if mma_marked else "mma_elevated"
    hcy_elevated = s.hcy in _HCY_ELEVATED
    renal_impaired = s.renal == Tri.YES
    folate_low = s.folate == FOL.LOW
    holotc_usable = s.holotc not in (FL.ABSENT, FL.UNCLASSIFIABLE)

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

    # 7.1: in pregnancy a usable holoTC is the only first-line marker (NICE NG239).
    holotc_only = s.pregnant and holotc_usable
    present = [lvl for lvl in (s.b12, s.holotc) if lvl != FL.ABSENT]
    if holotc_only:
        present = [s.holotc]
    levels = [_first_line_level(lvl) for lvl in present]
    first_line = min(levels) if levels else FL.ABSENT
    if holotc_only and s.b12 != FL.ABSENT and _first_line_level(s.b12) != levels[0]:
        worse = _first_line_level(s.b12) < levels[0]
        findings.append("pregnancy_total_b12_discordant" if worse else "first_line_discordant")
    elif len(set(levels)) > 1:
        findings.append("first_line_discordant")
    if levels:
        if first_line == FL.LOW:
            if s.pregnant and s.holotc == FL.ABSENT and not (mma_elevated or hcy_elevated):
                # 7.1: total B12 falls in normal pregnancy; active B12 settles it.
                status = Status.BORDERLINE
                findings.append("pregnancy_low_total_b12")
                steps.append("measure_holotc")
            else:
                status = Status.DEFICIENCY_LIKELY
                findings.append("first_line_low")
                if mma_elevated:
                    findings.append(mma_finding)
                elif mma_normal:
                    findings.append("discordant_normal_mma")
                if s.pregnant and s.holotc == FL.ABSENT and hcy_elevated and not mma_elevated:
                    findings.append("homocysteine_supportive")
        elif first_line == FL.INDETERMINATE:
            unclassifiable = FL.UNCLASSIFIABLE in present and FL.INDETERMINATE not in present
            findings.append(
                "first_line_unclassifiable" if unclassifiable else "first_line_indeterminate"
            )
            status = functional_decides()
        else:
            if "pregnancy_total_b12_discordant" not in findings:
                findings.append("first_line_normal")  # its sentence covers both markers
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
    elif mma_usable:
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

    # 7.2 step 1: MMA and homocysteine both raised is the metabolic signature of deficiency.
    if (
        first_line == FL.NORMAL
        and mma_elevated
        and not mma_marked
        and hcy_elevated
        and not renal_impaired
        and not folate_low
        and status != Status.DEFICIENCY_LIKELY
    ):
        status = Status.DEFICIENCY_LIKELY
        findings.append("functional_markers_elevated")
        if s.folate == FOL.ABSENT:
            steps.append("measure_folate")

    # 7.2 step 2: nitrous oxide inactivates B12; serum B12 misses many cases.
    before_steps_2_and_4 = status
    if s.nitrous_oxide:
        if (mma_elevated or hcy_elevated) and status != Status.DEFICIENCY_LIKELY:
            status = Status.DEFICIENCY_LIKELY
            findings.append("nitrous_oxide_functional_deficiency")
        elif status == Status.NOT_INDICATED and s.hcy not in _HCY_USABLE:
            status = Status.BORDERLINE
            findings.append("nitrous_oxide_b12_not_reassuring")
            steps.append("measure_homocysteine_or_mma")

    # 7.2 step 4: intrinsic-factor antibodies can make total B12 assays read falsely normal.
    if (
        s.autoimmune_gastritis
        and s.symptoms == Tri.YES
        and status == Status.NOT_INDICATED
        and not mma_usable
        and not holotc_usable
    ):
        status = Status.BORDERLINE
        findings.append("normal_b12_antibody_interference")
        steps.append("measure_mma")

    # 7.2 step 3: results taken on treatment cannot exclude a deficiency that preceded it.
    if (
        s.recent_treatment
        and status == before_steps_2_and_4
        and status in (Status.NOT_INDICATED, Status.BORDERLINE)
        and first_line != FL.LOW
        and not mma_elevated
    ):
        status = Status.BORDERLINE if hcy_elevated else Status.INSUFFICIENT_DATA
        findings.append("results_unreliable_after_treatment")
        steps.append("retest_off_treatment")

    # 7.2 step 5: a value this high is a unit slip or a severe elevation: never reassuring.
    if flagged and status in (Status.NOT_INDICATED, Status.INSUFFICIENT_DATA):
        status = Status.BORDERLINE
        steps.append("check_mma_unit")

    _caveats(s, status, findings, steps, mma=mma, hcy_elevated=hcy_elevated)
    # 7.3: next steps follow the final status.
    if flagged:  # a measured MMA is not measured again: its unit is checked
        steps = ["check_mma_unit" if step == "measure_mma" else step for step in steps]
    if status == Status.DEFICIENCY_LIKELY:
        steps = [step for step in steps if step != "measure_mma"]
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
    mma: int,
    hcy_elevated: bool,
) -> None:
    """Findings that never change the status but must be reported (decision-spec 3, 7.3).

    ``mma`` is the MMA level the rules use (absent when the MMA is flagged for its unit).
    """
    mma_elevated = mma in _MMA_ELEVATED
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
        if not s.recent_treatment:
            steps.append("review_high_b12")
    if s.recent_treatment:
        findings.append("recent_b12_treatment")
        steps.append("retest_off_treatment")
        if mma == MMA.ABSENT:
            steps.append("measure_mma")
    if s.renal == Tri.YES:
        findings.append("renal_impairment")
    elif s.renal == Tri.UNKNOWN and (mma_elevated or hcy_elevated):
        findings.append("renal_function_unknown")
        steps.append("measure_kidney_function")
    if s.egfr_not_computed:
        findings.append("egfr_not_computed")
    if hcy_elevated and mma == MMA.NORMAL:
        if s.folate == FOL.LOW:
            findings.append("folate_deficiency_pattern")
        elif s.folate == FOL.ABSENT:
            findings.append("folate_unknown_high_homocysteine")
            steps.append("measure_folate")
        elif s.folate == FOL.NORMAL:
            findings.append("homocysteine_other_causes")
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
        if mma == MMA.ABSENT and "measure_homocysteine_or_mma" not in steps:
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
    if s.research_profile:
        findings.append("research_profile")


class Catalog(NamedTuple):
    """The finding and next-step objects, built once and shared by every result."""

    findings: dict[str, Finding]
    next_steps: dict[str, NextStep]
    summaries: dict[Status, str]


@functools.cache
def catalog() -> Catalog:
    """Load ``_data/codes.toml`` once."""
    raw = read_toml("_data/codes.toml")
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
