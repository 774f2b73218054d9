"""Rules version 2 (decision-spec section 7), end to end through ``interpret``.

One parametrized table per amendment, then a table of step interactions, then properties.
Every expected answer cites the part of decision-spec section 7 that gives it; the clinical
facts behind each step are in domain-facts.md (quoted next to each table). Marker values sit
well inside their NICE NG239 bands (decision-spec 2) except where a row tests a boundary:

- total B12: low < 180 ng/L; indeterminate 180 to 350 ng/L; normal > 350; above ref. > 914
- holoTC: low < 25; indeterminate 25 to 70; normal > 70 pmol/L
- MMA: elevated > 0.40 umol/L (> 0.46 from age 65), markedly elevated > 0.75 umol/L;
  flagged (check the unit) strictly above 100 umol/L (analytes.toml, b12labs' own choice)
- homocysteine: elevated > 15 umol/L; folate low < 6.8 nmol/L; renal impairment eGFR < 60
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import b12labs
from b12labs import Status
from b12labs._rules import RULES_VERSION, catalog
from conftest import case

DL = Status.DEFICIENCY_LIKELY
BL = Status.BORDERLINE
NI = Status.NOT_INDICATED
ID = Status.INSUFFICIENT_DATA

B12_LOW = "150 ng/L"
B12_IND = "250 ng/L"
B12_NORM = "400 ng/L"
B12_HIGH = "1500 ng/L"
HTC_LOW = "20 pmol/L"
HTC_IND = "50 pmol/L"
HTC_NORM = "100 pmol/L"
MMA_NORM = "0.25 umol/L"
MMA_ELEV = "0.55 umol/L"
MMA_MARK = "1.2 umol/L"
MMA_SLIP = "271 umol/L"  # 271 nmol/L (the survey's MMA limit) typed with umol/L
HCY_NORM = "10 umol/L"
HCY_ELEV = "25 umol/L"
HCY_HIGH = "40 umol/L"
FOL_NORM = "20 nmol/L"
FOL_LOW = "5 nmol/L"
SYMPTOMS = ["paraesthesia", "ataxia"]


def check(
    panel: dict[str, Any],
    status: Status,
    findings: tuple[str, ...],
    steps: tuple[str, ...],
    absent: tuple[str, ...],
) -> b12labs.Interpretation:
    result = b12labs.interpret(**panel)
    assert result.status is status, (result.finding_codes, result.next_step_codes)
    for code in findings:
        assert code in result.finding_codes, (code, result.finding_codes)
    for code in steps:
        assert code in result.next_step_codes, (code, result.next_step_codes)
    for code in absent:
        assert code not in result.finding_codes + result.next_step_codes, code
    return result


# --------------------------------------------------------------------- 7.2 step 1
# MMA and homocysteine both raised is the metabolic signature of B12 deficiency. Boundaries:
# MMA elevated is strictly above 0.40 umol/L (0.46 from 65; decision-spec 2, NICE row);
# homocysteine strictly above 15 umol/L; renal impairment below 60 (KDIGO); folate low below
# 6.8 nmol/L (WHO, 3 ng/mL).
STEP_1 = [
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV}, DL,
         ("functional_markers_elevated", "mma_elevated"), ("measure_folate", "discuss_treatment"),
         id="normal B12, MMA + Hcy raised -> DL, measure folate (7.2.1)"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV, "folate": FOL_NORM}, DL,
         ("functional_markers_elevated",), absent=("measure_folate",),
         id="folate normal: no measure_folate"),
    case({"b12": B12_HIGH, "mma": MMA_ELEV, "hcy": HCY_ELEV}, DL, ("functional_markers_elevated",),
         id="B12 above reference counts as normal"),
    case({"holotc": HTC_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV}, DL,
         ("functional_markers_elevated",), id="holoTC normal"),
    case({"b12": B12_NORM, "mma": "0.40 umol/L", "hcy": HCY_ELEV}, NI,
         absent=("functional_markers_elevated",), id="MMA exactly 0.40: not elevated -> NI"),
    case({"b12": B12_NORM, "mma": "0.41 umol/L", "hcy": HCY_ELEV}, DL,
         ("functional_markers_elevated",), id="MMA 0.41: elevated -> DL"),
    case({"b12": B12_NORM, "mma": "0.45 umol/L", "hcy": HCY_ELEV, "age": 70}, NI,
         absent=("functional_markers_elevated",), id="MMA 0.45 at 70: below the 65+ limit 0.46"),
    case({"b12": B12_NORM, "mma": "0.75 umol/L", "hcy": HCY_ELEV}, DL,
         ("functional_markers_elevated",), id="MMA exactly 0.75: elevated, not markedly"),
    case({"b12": B12_NORM, "mma": MMA_MARK, "hcy": HCY_ELEV}, DL, ("mma_markedly_elevated",),
         absent=("functional_markers_elevated",), id="MMA markedly elevated: rule 3.3 decides"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": "15 umol/L"}, BL,
         absent=("functional_markers_elevated",), id="Hcy exactly 15: not elevated -> BL"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": "15.1 umol/L"}, DL,
         ("functional_markers_elevated",), id="Hcy 15.1: elevated -> DL"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV, "egfr": 59}, BL,
         ("mma_may_reflect_renal_impairment", "renal_impairment"),
         absent=("functional_markers_elevated",), id="eGFR 59: renal impairment -> BL"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV, "egfr": 60}, DL,
         ("functional_markers_elevated",), absent=("renal_impairment",), id="eGFR 60 -> DL"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV, "folate": "6.7 nmol/L"}, BL,
         ("folate_low",), absent=("functional_markers_elevated",), id="folate 6.7: low -> BL"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV, "folate": "6.8 nmol/L"}, DL,
         ("functional_markers_elevated",), absent=("folate_low",), id="folate 6.8 -> DL"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV, "folate": "<10 nmol/L"}, DL,
         ("functional_markers_elevated", "folate_unclassifiable"), absent=("measure_folate",),
         id="censored folate is not low (7.0) but was measured"),
    case({"b12": B12_IND, "mma": MMA_ELEV, "hcy": HCY_ELEV}, DL, ("mma_elevated",),
         absent=("functional_markers_elevated",), id="indeterminate B12: rule 3.2 decides"),
    case({"b12": B12_NORM, "mma": MMA_ELEV}, BL, absent=("functional_markers_elevated",),
         id="MMA raised alone stays borderline (3.3)"),
]  # fmt: skip


# --------------------------------------------------------------------- 7.2 step 2
# Nitrous oxide inactivates B12: serum B12 catches 20 to 50% of cases, MMA and homocysteine
# 80 to 90% (domain-facts, Confounders); NICE NG239 names homocysteine when recreational
# nitrous oxide use is suspected (domain-facts, Guidelines).
STEP_2 = [
    case({"b12": B12_NORM, "hcy": HCY_HIGH, "nitrous_oxide": True, "symptoms": SYMPTOMS}, DL,
         ("nitrous_oxide_functional_deficiency", "nitrous_oxide_exposure"), ("discuss_treatment",),
         ("symptoms_not_explained", "consider_other_causes"),
         id="the review's case: Hcy 40 with N2O -> DL (7.2.2a)"),
    case({"b12": B12_NORM, "hcy": HCY_HIGH, "risk_factors": ["nitrous_oxide"]}, DL,
         ("nitrous_oxide_functional_deficiency",), id="risk factor nitrous_oxide counts (7.0)"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "nitrous_oxide": True}, DL,
         ("nitrous_oxide_functional_deficiency",), id="MMA raised with N2O -> DL (7.2.2a)"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "egfr": 45, "nitrous_oxide": True}, DL,
         ("nitrous_oxide_functional_deficiency", "renal_impairment"),
         id="renal findings still apply (7.2.2a)"),
    case({"b12": B12_IND, "hcy": HCY_ELEV, "nitrous_oxide": True}, DL,
         ("nitrous_oxide_functional_deficiency",), absent=("measure_mma",),
         id="grey-zone B12 + Hcy: measure_mma dropped with DL (7.3)"),
    case({"b12": B12_NORM, "nitrous_oxide": True}, BL, ("nitrous_oxide_b12_not_reassuring",),
         ("measure_homocysteine_or_mma", "clinical_review"), ("measure_mma",),
         id="normal B12, no Hcy -> BL, measure Hcy or MMA (7.2.2b)"),
    case({"b12": B12_NORM, "hcy": "<20 umol/L", "nitrous_oxide": True}, BL,
         ("nitrous_oxide_b12_not_reassuring", "hcy_unclassifiable"),
         id="censored Hcy spanning normal and raised is not usable (7.0)"),
    case({"b12": B12_NORM, "mma": MMA_NORM, "nitrous_oxide": True}, BL,
         ("nitrous_oxide_b12_not_reassuring",), id="MMA normal but no Hcy -> BL (7.2.2b)"),
    case({"b12": B12_NORM, "hcy": HCY_NORM, "nitrous_oxide": True}, NI, ("nitrous_oxide_exposure",),
         ("measure_mma",), ("nitrous_oxide_b12_not_reassuring",),
         id="normal Hcy: not_indicated stands"),
    case({"b12": B12_LOW, "nitrous_oxide": True}, DL, ("first_line_low",),
         absent=("nitrous_oxide_functional_deficiency",), id="already DL: no step-2 finding"),
    case({"b12": B12_NORM, "hcy": HCY_HIGH, "nitrous_oxide": False}, NI,
         absent=("nitrous_oxide_functional_deficiency",), id="nitrous_oxide=False: no step 2"),
    case({"b12": B12_NORM, "hcy": HCY_HIGH}, NI, absent=("nitrous_oxide_functional_deficiency",),
         id="unknown exposure never fires (7.0)"),
]  # fmt: skip


# --------------------------------------------------------------------- 7.2 step 4
# Intrinsic-factor antibodies make common B12 assays read falsely normal in 22 to 35% of
# untreated pernicious anaemia (Carmel & Agrawal, NEJM 2012; one small study).
STEP_4 = [
    case({"b12": B12_NORM, "risk_factors": ["pernicious_anaemia"], "symptoms": ["tremor"]}, BL,
         ("normal_b12_antibody_interference",), ("measure_mma", "clinical_review"),
         ("symptoms_not_explained", "consider_other_causes"),
         id="PA risk, symptom, normal B12 -> BL, measure MMA (7.2.4)"),
    case({"b12": B12_NORM, "risk_factors": ["autoimmune_gastritis"], "symptoms": ["numbness"]},
         BL, ("normal_b12_antibody_interference",), id="code autoimmune_gastritis"),
    case({"b12": B12_NORM, "risk_factors": ["pernicious_anaemia"]}, NI,
         absent=("normal_b12_antibody_interference",), id="symptoms unknown: no step 4 (7.0)"),
    case({"b12": B12_NORM, "risk_factors": ["pernicious_anaemia"], "symptoms": []}, NI,
         absent=("normal_b12_antibody_interference",), id="no symptoms: no step 4"),
    case({"b12": B12_NORM, "risk_factors": ["metformin"], "symptoms": ["tremor"]}, NI,
         ("symptoms_not_explained",), absent=("normal_b12_antibody_interference",),
         id="other risk factor: symptoms not explained"),
    case({"b12": B12_NORM, "mma": MMA_NORM, "risk_factors": ["pernicious_anaemia"],
          "symptoms": ["tremor"]}, NI, ("mma_normal",),
         absent=("normal_b12_antibody_interference",), id="MMA normal settles it"),
    case({"b12": B12_IND, "risk_factors": ["pernicious_anaemia"], "symptoms": ["tremor"]}, BL,
         ("first_line_indeterminate",), absent=("normal_b12_antibody_interference",),
         id="grey zone is borderline already"),
    case({"hcy": HCY_NORM, "risk_factors": ["pernicious_anaemia"], "symptoms": ["tremor"]}, BL,
         ("normal_b12_antibody_interference",), id="homocysteine alone, normal"),
]  # fmt: skip


# --------------------------------------------------------------------- 7.2 step 3
# Injections and supplements raise total and active B12 within days (Bor, Nexo and Hvas,
# Clin Chem 2004) and lower MMA; Mayo: do not test B12 within 2 weeks of an injection.
STEP_3 = [
    case({"b12": B12_HIGH, "recent_b12_treatment": True}, ID,
         ("results_unreliable_after_treatment", "recent_b12_treatment", "b12_above_reference"),
         ("retest_off_treatment",), ("review_high_b12", "symptoms_not_explained"),
         id="the review's case: B12 1500 after injection -> ID (7.2.3)"),
    case({"b12": B12_NORM, "recent_b12_treatment": True, "symptoms": ["tremor"]}, ID,
         ("results_unreliable_after_treatment",), absent=("symptoms_not_explained",),
         id="symptoms not called unexplained on treatment (7.3)"),
    case({"b12": B12_NORM, "hcy": HCY_ELEV, "recent_b12_treatment": True}, BL,
         ("results_unreliable_after_treatment",), ("retest_off_treatment", "clinical_review"),
         id="Hcy raised -> BL (7.2.3)"),
    case({"b12": B12_IND, "recent_b12_treatment": True}, ID,
         ("results_unreliable_after_treatment",), id="grey zone without MMA -> ID"),
    case({"b12": B12_NORM, "mma": MMA_NORM, "recent_b12_treatment": True}, ID,
         ("results_unreliable_after_treatment", "mma_normal"), id="normal MMA on treatment -> ID"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "recent_b12_treatment": True}, BL,
         absent=("results_unreliable_after_treatment",), id="an elevated MMA still counts"),
    case({"b12": B12_LOW, "recent_b12_treatment": True}, DL,
         absent=("results_unreliable_after_treatment",), id="a low result still counts"),
    case({"folate": FOL_NORM, "recent_b12_treatment": True}, ID, ("no_usable_marker",),
         absent=("results_unreliable_after_treatment",), id="no marker: ID as before"),
    case({"b12": B12_NORM, "recent_b12_treatment": False}, NI,
         absent=("results_unreliable_after_treatment",), id="recent_b12_treatment=False"),
    case({"b12": B12_HIGH}, NI, ("b12_above_reference",), ("review_high_b12",),
         id="high B12 with no known treatment: review_high_b12 (7.3)"),
]  # fmt: skip


def test_retest_sentence_never_suggests_stopping_or_delaying_treatment():
    # decision-spec 7.2 step 3: "whose sentence must not suggest stopping or delaying
    # treatment". Every "stop" or "delay" in it must be negated.
    message = catalog().next_steps["retest_off_treatment"].message.lower()
    assert "do not stop or delay treatment" in message
    assert len(re.findall(r"\b(stop|delay)", message)) == 2


# --------------------------------------------------------------------- 7.2 step 5 / 7.1
# An MMA strictly above 100 umol/L (analytes.toml check_unit_above: b12labs' own plausibility
# choice, not a published cut-off) is flagged: treated as absent, and never reassuring.
FLAGGED = [
    case({"b12": B12_NORM, "mma": MMA_SLIP}, BL, ("mma_check_unit",),
         ("check_mma_unit", "clinical_review"),
         ("mma_markedly_elevated", "discuss_treatment", "functional_deficiency_possible"),
         id="the review's case: MMA 271 umol/L -> BL, no treatment call (7.2.5)"),
    case({"b12": B12_NORM, "mma": "100 umol/L"}, DL, ("mma_markedly_elevated",),
         absent=("mma_check_unit",), id="MMA exactly 100: not flagged, markedly elevated"),
    case({"b12": B12_NORM, "mma": "100.1 umol/L"}, BL, ("mma_check_unit",),
         absent=("mma_markedly_elevated",), id="MMA 100.1: flagged"),
    case({"b12": B12_NORM, "mma": ">150 umol/L"}, BL, ("mma_check_unit",), id="'>150' flagged"),
    case({"b12": B12_NORM, "mma": "<150 umol/L"}, NI, ("mma_unclassifiable",),
         absent=("mma_check_unit",), id="'<150' proves nothing: not flagged"),
    case({"mma": MMA_SLIP}, BL, ("no_usable_marker", "mma_check_unit"), ("check_mma_unit",),
         id="flagged MMA alone: insufficient data floored to BL"),
    case({"b12": B12_IND, "mma": MMA_SLIP}, BL, ("first_line_indeterminate",),
         ("check_mma_unit",), ("measure_mma",),
         id="grey zone: check_mma_unit instead of measure_mma (7.1)"),
    case({"b12": B12_LOW, "mma": MMA_SLIP}, DL, ("first_line_low", "mma_check_unit"),
         absent=("mma_markedly_elevated", "discordant_normal_mma"),
         id="low B12 decides; the flagged MMA is not used"),
]  # fmt: skip


# NICE NG239 prefers active B12 in pregnancy; total B12 falls by trimester (Abbassi-Ghanavati
# 2009); about a third of pregnant women have raised MMA regardless of B12 (domain-facts).
PREGNANCY = [
    case({"b12": B12_LOW, "holotc": HTC_NORM, "pregnant": True}, NI,
         ("pregnancy_total_b12_discordant",),
         absent=("first_line_low", "first_line_discordant", "first_line_normal"),
         id="the review's case: normal holoTC outranks low total B12 (7.1)"),
    case({"b12": B12_IND, "holotc": HTC_NORM, "pregnant": True}, NI,
         ("pregnancy_total_b12_discordant",), id="grey-zone total B12, normal holoTC"),
    case({"b12": B12_LOW, "holotc": HTC_IND, "pregnant": True}, BL,
         ("pregnancy_total_b12_discordant", "first_line_indeterminate"), ("measure_mma",),
         id="holoTC indeterminate decides"),
    case({"b12": B12_NORM, "holotc": HTC_LOW, "pregnant": True}, DL,
         ("first_line_low", "first_line_discordant"),
         absent=("pregnancy_total_b12_discordant",), id="holoTC low, total B12 better"),
    case({"b12": B12_LOW, "holotc": HTC_NORM, "pregnant": False}, DL,
         ("first_line_low", "first_line_discordant"), id="not pregnant: more concerning counts"),
    case({"b12": B12_LOW, "holotc": HTC_NORM}, DL, ("first_line_low",),
         id="pregnancy unknown: more concerning counts (7.0)"),
    case({"b12": B12_LOW, "pregnant": True}, BL, ("pregnancy_low_total_b12",),
         ("measure_holotc", "clinical_review"), ("measure_holotc_or_mma",),
         id="total B12 only: BL, measure holoTC (7.1)"),
    case({"b12": B12_LOW, "pregnant": True, "mma": MMA_ELEV}, DL, ("first_line_low",),
         absent=("pregnancy_low_total_b12", "measure_holotc"), id="MMA raised -> DL"),
]  # fmt: skip


# --------------------------------------------------------------------- interactions
# The order of the steps (decision-spec 7.2: 1, 2, 4, then 3; 5 last) decides these.
INTERACTIONS = [
    case({"b12": B12_NORM, "nitrous_oxide": True, "recent_b12_treatment": True}, BL,
         ("nitrous_oxide_b12_not_reassuring",), ("measure_homocysteine_or_mma",),
         ("results_unreliable_after_treatment",),
         id="N2O + treatment: step 2 changed the status, so step 3 does not apply"),
    case({"b12": B12_NORM, "hcy": HCY_HIGH, "nitrous_oxide": True, "recent_b12_treatment": True},
         DL, ("nitrous_oxide_functional_deficiency",),
         absent=("results_unreliable_after_treatment",), id="N2O + treatment + Hcy raised -> DL"),
    case({"b12": B12_NORM, "hcy": HCY_NORM, "nitrous_oxide": True, "recent_b12_treatment": True},
         ID, ("results_unreliable_after_treatment", "nitrous_oxide_exposure"),
         id="N2O + treatment + Hcy normal: step 2 left it, step 3 -> ID"),
    case({"b12": B12_NORM, "holotc": HTC_NORM, "risk_factors": ["pernicious_anaemia"],
          "symptoms": ["tremor"]}, NI, absent=("normal_b12_antibody_interference",),
         id="antibody risk + normal holoTC: holoTC is usable, no step 4"),
    case({"b12": B12_NORM, "risk_factors": ["pernicious_anaemia"], "symptoms": ["tremor"],
          "recent_b12_treatment": True}, BL, ("normal_b12_antibody_interference",),
         absent=("results_unreliable_after_treatment",),
         id="antibody risk + treatment: step 4 changed it, step 3 does not apply"),
    case({"b12": B12_NORM, "mma": MMA_SLIP, "risk_factors": ["pernicious_anaemia"],
          "symptoms": ["tremor"]}, BL, ("normal_b12_antibody_interference", "mma_check_unit"),
         ("check_mma_unit",), ("measure_mma",),
         id="flagged MMA + normal B12 + antibody risk: MMA not usable, unit checked"),
    case({"b12": B12_NORM, "mma": MMA_SLIP, "hcy": HCY_ELEV}, BL, ("mma_check_unit",),
         absent=("functional_markers_elevated",),
         id="flagged MMA + Hcy raised: no step 1 (flagged MMA is absent)"),
    case({"b12": B12_NORM, "mma": MMA_SLIP, "recent_b12_treatment": True}, BL,
         ("results_unreliable_after_treatment", "mma_check_unit"), ("check_mma_unit",),
         id="flagged MMA + treatment: step 3 gives ID, step 5 floors it to BL"),
    case({"b12": B12_LOW, "pregnant": True, "hcy": HCY_ELEV}, DL,
         ("first_line_low", "homocysteine_supportive"),
         absent=("pregnancy_low_total_b12", "measure_holotc"),
         id="pregnancy + low total B12 + Hcy raised -> DL (7.1)"),
    case({"b12": B12_NORM, "holotc": HTC_NORM, "pregnant": True, "mma": MMA_ELEV,
          "hcy": HCY_ELEV}, DL, ("functional_markers_elevated",),
         id="pregnancy + holoTC normal + MMA and Hcy raised -> step 1"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "hcy": HCY_ELEV, "nitrous_oxide": True}, DL,
         ("functional_markers_elevated",), absent=("nitrous_oxide_functional_deficiency",),
         id="step 1 before step 2: already DL"),
]  # fmt: skip


#: Every table above, by the part of decision-spec section 7 it checks.
TABLES = {
    "7.2 step 1": STEP_1, "7.2 step 2": STEP_2, "7.2 step 4": STEP_4, "7.2 step 3": STEP_3,
    "7.2 step 5": FLAGGED, "7.1 pregnancy": PREGNANCY, "7.2 order": INTERACTIONS,
}  # fmt: skip


@pytest.mark.parametrize(
    ("panel", "status", "findings", "steps", "absent"),
    [
        pytest.param(*row.values, id=f"{part}: {row.id}")
        for part, table in TABLES.items()
        for row in table
    ],
)
def test_rules_version_2_tables(panel, status, findings, steps, absent):
    check(panel, status, findings, steps, absent)


# --------------------------------------------------------------------- 7.3 wording and caveats


def test_homocysteine_other_causes_needs_normal_mma_and_usable_normal_folate():
    base = {"b12": B12_NORM, "mma": MMA_NORM, "hcy": HCY_ELEV}
    assert "homocysteine_other_causes" in b12labs.interpret(**base, folate=FOL_NORM).finding_codes
    unknown = b12labs.interpret(**base)
    assert "homocysteine_other_causes" not in unknown.finding_codes
    assert "folate_unknown_high_homocysteine" in unknown.finding_codes
    low = b12labs.interpret(**base, folate=FOL_LOW)
    assert "homocysteine_other_causes" not in low.finding_codes
    assert "folate_deficiency_pattern" in low.finding_codes
    assert all(r.status is NI for r in (unknown, low))


def test_sentences_reworded_by_section_7_3():
    findings = catalog().findings
    symptoms = findings["symptoms_not_explained"].message
    assert "do not show B12 deficiency" in symptoms
    assert "trial of treatment" in symptoms
    assert "Solomon, Blood 2005" in symptoms
    assert "magnesium" in symptoms  # the other causes, as listed before
    assert "before folic acid" in findings["folate_low"].message


def test_every_new_code_has_a_sentence():
    cat = catalog()
    new_findings = (
        "functional_markers_elevated", "nitrous_oxide_functional_deficiency",
        "nitrous_oxide_b12_not_reassuring", "results_unreliable_after_treatment",
        "normal_b12_antibody_interference", "pregnancy_total_b12_discordant",
        "homocysteine_other_causes", "research_profile",
    )  # fmt: skip
    for code in new_findings:
        assert cat.findings[code].message.endswith("."), code
    for code in ("measure_homocysteine_or_mma", "measure_holotc", "review_high_b12"):
        assert cat.next_steps[code].message.endswith("."), code


@pytest.mark.parametrize("profile", b12labs.list_profiles())
@pytest.mark.parametrize("panel", [{"b12": B12_NORM}, {"folate": FOL_NORM}, {"mma": MMA_ELEV}])
def test_research_profile_finding_on_every_result_of_a_research_profile(profile, panel):
    result = b12labs.interpret(panel, profile=profile)
    research = b12labs.get_profile(profile).intended_use == "research"
    assert research == (profile == "population-survey")  # decision-spec 7.3
    assert ("research_profile" in result.finding_codes) == research


def test_rules_version_is_carried_by_every_result():
    result = b12labs.interpret(b12=B12_NORM)
    assert RULES_VERSION == 2
    assert result.rules_version == 2
    assert '"rules_version":2' in result.model_dump_json()
    schema = b12labs.result_json_schema()
    assert "rules_version" in schema["required"]
    assert schema["properties"]["rules_version"]["type"] == "integer"
    assert "rules version 2" in result.report()


# --------------------------------------------------------------------- properties

CONCERN = {NI: 0, ID: 1, BL: 2, DL: 3}
MARKERS = {
    "b12": (B12_LOW, B12_IND, B12_NORM, B12_HIGH, "<200 pmol/L"),
    "holotc": (HTC_LOW, HTC_IND, HTC_NORM),
    "mma": (MMA_NORM, MMA_ELEV, MMA_MARK, "0.40 umol/L", MMA_SLIP, "<0.5 umol/L"),
    "hcy": (HCY_NORM, HCY_ELEV, "120 umol/L", "<20 umol/L"),
    "folate": (FOL_LOW, FOL_NORM),
}


@st.composite
def panels(draw: st.DrawFn) -> dict[str, Any]:
    """Panels over every marker band and every context field (unknown included)."""
    out: dict[str, Any] = {}
    for name, values in MARKERS.items():
        value = draw(st.one_of(st.none(), st.sampled_from(values)))
        if value is not None:
            out[name] = value
    out["egfr"] = draw(st.sampled_from((None, 45.0, 59.0, 60.0, 90.0)))
    out["age"] = draw(st.sampled_from((None, 30.0, 70.0)))
    out["pregnant"] = draw(st.sampled_from((None, False, True)))
    out["recent_b12_treatment"] = draw(st.sampled_from((None, False, True)))
    out["nitrous_oxide"] = draw(st.sampled_from((None, False, True)))
    out["symptoms"] = draw(st.sampled_from((None, [], ["tremor"])))
    out["risk_factors"] = draw(
        st.sampled_from((None, [], ["metformin"], ["pernicious_anaemia"], ["nitrous_oxide"]))
    )
    return out


@given(panels())
def test_adding_nitrous_oxide_never_lowers_concern(panel):
    # issue 9: "adding nitrous_oxide=True never turns a result to a less concerning status"
    without = b12labs.interpret(**panel).status
    with_n2o = b12labs.interpret(**{**panel, "nitrous_oxide": True}).status
    assert CONCERN[with_n2o] >= CONCERN[without], (panel, without, with_n2o)


@given(panels())
def test_adding_recent_treatment_never_reassures(panel):
    # issue 9: "adding recent_b12_treatment=True never turns insufficient_data or
    # deficiency_likely into not_indicated"
    without = b12labs.interpret(**panel).status
    treated = b12labs.interpret(**{**panel, "recent_b12_treatment": True}).status
    if without in (ID, DL):
        assert treated is not NI, (panel, without)
    if without is DL:
        assert treated is DL  # a low result or an elevated MMA still counts


@given(panels())
def test_unknown_context_decides_as_false(panel):
    # decision-spec 7.0: unknown context is unknown, never false, and never fires steps 2 to 4
    # (so None and False give the same answer for the yes/no facts).
    for key in ("nitrous_oxide", "recent_b12_treatment", "pregnant"):
        unknown = b12labs.interpret(**{**panel, key: None})
        false = b12labs.interpret(**{**panel, key: False})
        assert (unknown.status, unknown.finding_codes, unknown.next_step_codes) == (
            false.status,
            false.finding_codes,
            false.next_step_codes,
        ), key


@given(panels())
def test_final_status_governs_the_next_steps(panel):
    # decision-spec 7.3
    result = b12labs.interpret(**panel)
    steps = result.next_step_codes
    if result.status is DL:
        assert "measure_mma" not in steps
        assert {"discuss_treatment", "test_intrinsic_factor_antibodies"} <= set(steps)
    else:
        assert "discuss_treatment" not in steps
    symptoms_finding = "symptoms_not_explained" in result.finding_codes
    assert symptoms_finding == (result.status is NI and bool(panel.get("symptoms")))
    if "mma_check_unit" in result.finding_codes:
        assert result.status in (BL, DL)  # step 5: a flagged MMA is never reassuring
        assert "measure_mma" not in steps


# --------------------------------------------------------------------- batch packing
# A batch with every marker and context field has more possible rule states than the
# direct lookup tables hold; its states are then renumbered by np.unique. Both ways must
# give the same answers (and the same answers as decide()).


@pytest.mark.parametrize("direct_slots", [0, 1 << 21])
def test_batch_state_packing_with_every_field(monkeypatch, direct_slots):
    import numpy as np

    from b12labs import _vector
    from b12labs._profile import compiled

    monkeypatch.setattr(_vector, "_DIRECT_SLOTS", direct_slots)
    rng = np.random.default_rng(9)
    n = 3000
    values = {
        "b12": rng.choice([100.0, 200.0, 400.0, 900.0, np.nan], n),  # pmol/L
        "holotc": rng.choice([20.0, 50.0, 100.0, np.nan], n),
        "mma": rng.choice([0.2, 0.5, 1.2, 150.0, np.nan], n),  # umol/L
        "hcy": rng.choice([10.0, 25.0, 120.0, np.nan], n),
        "folate": rng.choice([5.0, 20.0, np.nan], n),
    }
    censors = {k: np.zeros(n, dtype=np.int8) for k in values}
    symptoms = rng.integers(0, 3, n).astype(np.int8)
    risks = rng.integers(0, 3, n).astype(np.int8)
    valid = rng.random(n) > 0.05
    data = _vector.BatchInput(
        n=n,
        values=values,
        censors=censors,
        valid=valid,
        age=rng.choice([30.0, 70.0, np.nan], n),
        sex_known=np.zeros(n, dtype=bool),
        female=np.zeros(n, dtype=bool),
        pregnant=rng.random(n) > 0.7,
        egfr=rng.choice([45.0, 90.0, np.nan], n),
        recent_treatment=rng.random(n) > 0.7,
        nitrous_oxide=rng.random(n) > 0.7,
        symptoms=symptoms,
        risk_factors=risks,
        autoimmune_gastritis=(risks == 2) & (rng.random(n) > 0.5),
    )
    result = _vector.evaluate(compiled("population-survey"), data)
    assert (result.status[~valid] == -1).all()
    texts = result.findings[0]
    for row in np.flatnonzero(valid)[:400].tolist():
        kwargs: dict[str, Any] = {
            k: (float(v[row]), "umol/L" if k in ("mma", "hcy") else "nmol/L" if k == "folate"
                else "pmol/L")
            for k, v in values.items() if not np.isnan(v[row])
        }  # fmt: skip
        for key, arr in (("age", data.age), ("egfr", data.egfr)):
            if not np.isnan(arr[row]):
                kwargs[key] = float(arr[row])
        kwargs["pregnant"] = bool(data.pregnant[row]) or None
        kwargs["recent_b12_treatment"] = bool(data.recent_treatment[row])
        kwargs["nitrous_oxide"] = bool(data.nitrous_oxide[row])
        kwargs["symptoms"] = [None, [], ["tremor"]][symptoms[row]]
        risk = [None, [], ["metformin"]][risks[row]]
        if risks[row] == 2 and data.autoimmune_gastritis[row]:
            risk = ["pernicious_anaemia"]
        kwargs["risk_factors"] = risk
        expected = b12labs.interpret(profile="population-survey", **kwargs)
        assert _vector.STATUSES[result.status[row]] is expected.status, kwargs
        assert texts[result.findings[1][row]] == ";".join(expected.finding_codes), kwargs
