"""Status rules of decision-spec section 3, end to end through ``interpret``.

Each case is a panel under the default profile (NICE NG239) with the status the spec gives and
the finding / next-step codes (``_data/codes.toml``) that must explain it. Marker values are
chosen well inside their NICE bands (decision-spec 2):

- total B12: low < 180 ng/L; indeterminate 180 to 350 ng/L; normal; above reference > 914 ng/L
- holoTC: low < 25; indeterminate 25 to 70; normal > 70 pmol/L
- MMA (age unknown or < 65): elevated > 0.40, markedly elevated > 0.75 umol/L
- homocysteine: moderate > 15, severe > 100 umol/L; folate low < 6.8 nmol/L; renal: eGFR < 60
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import b12labs
from b12labs import Status
from b12labs._rules import CB, FL, FOL, HCY, MMA, RuleState, Tri, catalog, decide
from conftest import case

DL = Status.DEFICIENCY_LIKELY
BL = Status.BORDERLINE
NI = Status.NOT_INDICATED
ID = Status.INSUFFICIENT_DATA

B12_LOW = "150 ng/L"  # NICE: < 180 ng/L low
B12_IND = "250 ng/L"  # NICE: 180 to 350 ng/L indeterminate
B12_NORM = "500 ng/L"  # NICE: > 350 ng/L, <= 914 ng/L
B12_HIGH = "1200 ng/L"  # above reference > 914 ng/L
B12_CENSORED = "<200 pmol/L"  # spans NICE low (< 132.8 pmol/L) and indeterminate: unclassifiable
HTC_LOW = "20 pmol/L"
HTC_IND = "50 pmol/L"
HTC_NORM = "100 pmol/L"
MMA_NORM = "0.25 umol/L"
MMA_ELEV = "0.55 umol/L"  # > 0.40 (and > 0.46 at 65+), not > 0.75
MMA_075 = "0.75 umol/L"  # elevated, NOT markedly elevated (markedly is strictly > 0.75)
MMA_MARK = "1.2 umol/L"
HCY_NORM = "10 umol/L"
HCY_MOD = "20 umol/L"
HCY_SEV = "120 umol/L"
FOL_LOW = "5 nmol/L"
FOL_NORM = "20 nmol/L"
RENAL = {"egfr": 45}  # KDIGO: < 60 impaired
# CKD-EPI 2021: creatinine 2.0 mg/dL, 70 y, male -> 142 x (2.0/0.9)^-1.2 x 0.9938^70 = 35.2
RENAL_BY_CREATININE = {"creatinine": "2.0 mg/dL", "age": 70, "sex": "male"}


def run(panel: dict[str, Any]) -> b12labs.Interpretation:
    return b12labs.interpret(**panel)


RULES = [
    # ---- rule 1: first-line low -> deficiency_likely
    case({"b12": B12_LOW}, DL, ("first_line_low",), absent=("pregnancy_low_total_b12",),
         id="1: B12 low"),
    case({"holotc": HTC_LOW}, DL, ("first_line_low",), id="1: holoTC low"),
    case({"b12": B12_LOW, "mma": MMA_ELEV}, DL, ("first_line_low",),
         absent=("discordant_normal_mma",), id="1: B12 low + MMA elevated"),
    case({"b12": B12_LOW, "mma": MMA_NORM}, DL, ("first_line_low", "discordant_normal_mma"),
         id="1: B12 low + MMA normal -> keep DL, discordant_normal_mma"),
    case({"holotc": HTC_LOW, "mma": MMA_NORM}, DL, ("first_line_low", "discordant_normal_mma"),
         id="1: holoTC low + MMA normal -> discordant_normal_mma"),
    case({"b12": B12_LOW, "mma": MMA_NORM, "egfr": 45}, DL, ("discordant_normal_mma",),
         id="1: B12 low + MMA normal + renal"),
    case({"b12": B12_LOW, "pregnant": False}, DL, ("first_line_low",),
         absent=("pregnancy_low_total_b12",), id="1: not pregnant -> no exception"),
    # ---- rule 1 exception: pregnancy, only total B12, no functional marker says otherwise
    # (rules version 2, decision-spec 7.1: the next step is measure_holotc)
    case({"b12": B12_LOW, "pregnant": True}, BL, ("pregnancy_low_total_b12",),
         ("measure_holotc",), id="1-preg: B12 low only -> borderline"),
    case({"b12": B12_LOW, "pregnant": True, "sex": "female", "age": 30}, BL,
         ("pregnancy_low_total_b12",), ("measure_holotc",),
         id="1-preg: with sex and age -> borderline"),
    case({"b12": B12_LOW, "pregnant": True, "mma": MMA_NORM}, BL, ("pregnancy_low_total_b12",),
         ("measure_holotc",), id="1-preg: B12 low + MMA normal -> borderline"),
    case({"b12": B12_LOW, "pregnant": True, "holotc": HTC_LOW}, DL, ("first_line_low",),
         absent=("pregnancy_low_total_b12",), id="1-preg: holoTC present (low) -> DL"),
    # rules version 2 (decision-spec 7.1): in pregnancy a usable holoTC alone is first-line
    case({"b12": B12_LOW, "pregnant": True, "holotc": HTC_NORM}, NI,
         ("pregnancy_total_b12_discordant",),
         absent=("pregnancy_low_total_b12", "first_line_discordant", "first_line_low"),
         id="1-preg: holoTC normal decides, total B12 low is discordant"),
    case({"b12": B12_LOW, "pregnant": True, "mma": MMA_ELEV}, DL, ("first_line_low",),
         absent=("pregnancy_low_total_b12",), id="1-preg: MMA elevated -> DL"),
    case({"b12": B12_LOW, "pregnant": True, "mma": MMA_MARK}, DL, ("first_line_low",),
         absent=("pregnancy_low_total_b12",), id="1-preg: MMA markedly elevated -> DL"),
    case({"holotc": HTC_LOW, "pregnant": True}, DL, ("first_line_low",),
         absent=("pregnancy_low_total_b12",), id="1-preg: holoTC low alone -> DL (not total B12)"),
    # ---- both first-line markers: the more concerning counts + first_line_discordant
    case({"b12": B12_LOW, "holotc": HTC_NORM}, DL, ("first_line_low", "first_line_discordant"),
         id="both: B12 low, holoTC normal -> DL"),
    case({"b12": B12_NORM, "holotc": HTC_LOW}, DL, ("first_line_low", "first_line_discordant"),
         id="both: B12 normal, holoTC low -> DL"),
    case({"b12": B12_IND, "holotc": HTC_LOW}, DL, ("first_line_low", "first_line_discordant"),
         id="both: B12 indeterminate, holoTC low -> DL"),
    case({"b12": B12_NORM, "holotc": HTC_IND}, BL, ("first_line_discordant",), ("measure_mma",),
         id="both: B12 normal, holoTC indeterminate, no MMA -> borderline"),
    case({"b12": B12_NORM, "holotc": HTC_IND, "mma": MMA_NORM}, NI, ("first_line_discordant",),
         id="both: holoTC indeterminate + MMA normal -> not_indicated"),
    case({"b12": B12_HIGH, "holotc": HTC_IND, "mma": MMA_ELEV}, DL, ("first_line_discordant",),
         id="both: B12 above ref, holoTC indeterminate + MMA elevated -> DL"),
    case({"b12": B12_NORM, "holotc": HTC_NORM}, NI, absent=("first_line_discordant",),
         id="both normal: not discordant"),
    case({"b12": B12_LOW, "holotc": HTC_LOW}, DL, ("first_line_low",),
         absent=("first_line_discordant",), id="both low: not discordant"),
    case({"b12": B12_IND, "holotc": HTC_IND}, BL, (), ("measure_mma",),
         absent=("first_line_discordant",), id="both indeterminate: not discordant"),
    # ---- rule 2: first-line indeterminate (or unclassifiable)
    case({"b12": B12_IND, "mma": MMA_ELEV}, DL, id="2: B12 indet + MMA elevated -> DL"),
    case({"holotc": HTC_IND, "mma": MMA_ELEV}, DL, id="2: holoTC indet + MMA elevated -> DL"),
    case({"b12": B12_IND, "mma": MMA_MARK}, DL, id="2: MMA markedly elevated -> DL"),
    case({"b12": B12_IND, "mma": MMA_ELEV, **RENAL}, BL,
         ("mma_may_reflect_renal_impairment", "renal_impairment"),
         id="2: MMA elevated + eGFR 45 -> borderline (renal)"),
    case({"b12": B12_IND, "mma": MMA_075, **RENAL}, BL, ("mma_may_reflect_renal_impairment",),
         id="2: MMA 0.75 (not markedly, strictly >0.75) + eGFR 45 -> borderline"),
    case({"b12": B12_IND, "mma": MMA_ELEV, **RENAL_BY_CREATININE}, BL,
         ("mma_may_reflect_renal_impairment", "renal_impairment"),
         id="2: MMA elevated + creatinine eGFR 35 -> borderline (renal)"),
    case({"b12": B12_IND, "mma": MMA_MARK, **RENAL}, DL,
         absent=("mma_may_reflect_renal_impairment",),
         id="2: MMA > 0.75 + eGFR 45 -> DL"),
    case({"b12": B12_IND, "mma": MMA_ELEV, "egfr": 60}, DL,
         absent=("mma_may_reflect_renal_impairment", "renal_impairment"),
         id="2: eGFR 60 is not impaired -> DL"),
    case({"b12": B12_IND, "mma": MMA_NORM}, NI, id="2: MMA normal -> not_indicated"),
    case({"b12": B12_IND, "mma": MMA_NORM, "hcy": HCY_MOD}, NI,
         id="2: MMA normal + Hcy elevated -> not_indicated"),
    case({"b12": B12_IND}, BL, (), ("measure_mma",), id="2: MMA absent -> borderline, measure_mma"),
    case({"holotc": HTC_IND}, BL, (), ("measure_mma",), id="2: holoTC indet alone -> borderline"),
    case({"b12": B12_IND, "hcy": HCY_MOD}, BL, ("homocysteine_supportive",), ("measure_mma",),
         id="2: MMA absent + Hcy elevated -> still borderline, supportive finding"),
    case({"b12": B12_IND, "hcy": HCY_SEV}, BL, ("homocysteine_supportive", "homocysteine_severe"),
         ("measure_mma",), id="2: MMA absent + Hcy severe -> still borderline"),
    case({"b12": B12_IND, "hcy": HCY_NORM}, BL, (), ("measure_mma",),
         absent=("homocysteine_supportive",), id="2: MMA absent + Hcy normal -> no supportive"),
    case({"b12": B12_CENSORED}, BL, ("b12_unclassifiable",), ("measure_mma",),
         id="2: B12 <200 pmol/L unclassifiable -> treated as indeterminate"),
    case({"b12": B12_CENSORED, "mma": MMA_ELEV}, DL, id="2: unclassifiable + MMA elevated -> DL"),
    case({"b12": B12_CENSORED, "mma": MMA_NORM}, NI, id="2: unclassifiable + MMA normal -> NI"),
    case({"b12": B12_CENSORED, "mma": MMA_ELEV, **RENAL}, BL,
         ("mma_may_reflect_renal_impairment",), id="2: unclassifiable + MMA elevated + renal"),
    # ---- rule 3: first-line normal or above reference
    case({"b12": B12_NORM, "mma": MMA_MARK}, DL, ("functional_deficiency_possible",),
         ("assess_nitrous_oxide_exposure",), id="3: MMA markedly elevated, renal unknown -> DL"),
    case({"b12": B12_NORM, "mma": MMA_MARK, "egfr": 90}, DL, ("functional_deficiency_possible",),
         id="3: MMA markedly elevated, eGFR 90 -> DL"),
    case({"b12": B12_HIGH, "mma": MMA_MARK}, DL,
         ("functional_deficiency_possible", "b12_above_reference"),
         id="3: B12 above reference + MMA markedly elevated -> DL"),
    case({"holotc": HTC_NORM, "mma": MMA_MARK}, DL, ("functional_deficiency_possible",),
         id="3: holoTC normal + MMA markedly elevated -> DL"),
    case({"b12": B12_NORM, "mma": MMA_MARK, **RENAL}, BL, ("functional_deficiency_possible",),
         ("assess_nitrous_oxide_exposure",), id="3: MMA markedly elevated + renal -> borderline"),
    case({"b12": B12_NORM, "mma": MMA_ELEV}, BL, ("functional_deficiency_possible",),
         ("assess_nitrous_oxide_exposure",), id="3: MMA elevated -> borderline"),
    case({"b12": B12_NORM, "mma": MMA_075}, BL, ("functional_deficiency_possible",),
         id="3: MMA 0.75 is not markedly elevated -> borderline"),
    case({"b12": B12_NORM, "mma": MMA_ELEV, "egfr": 90}, BL, ("functional_deficiency_possible",),
         id="3: MMA elevated, kidneys fine -> borderline"),
    case({"b12": B12_NORM, "mma": MMA_NORM}, NI, absent=("functional_deficiency_possible",),
         id="3: MMA normal -> not_indicated"),
    case({"b12": B12_NORM}, NI, id="3: B12 normal alone -> not_indicated"),
    case({"holotc": HTC_NORM}, NI, id="3: holoTC normal alone -> not_indicated"),
    case({"b12": B12_NORM, "hcy": HCY_MOD}, NI, id="3: B12 normal + Hcy elevated -> not_indicated"),
    case({"b12": B12_HIGH}, NI, ("b12_above_reference",), id="3: above reference -> NI"),
    case({"b12": ">2000 pmol/L", "mma": MMA_NORM}, NI, ("b12_above_reference",),
         id="3: B12 >2000 pmol/L + MMA normal -> not_indicated"),
    # ---- rule 4: no first-line marker
    case({"mma": MMA_ELEV}, DL, id="4: MMA elevated -> DL"),
    case({"mma": MMA_MARK}, DL, id="4: MMA markedly elevated -> DL"),
    case({"mma": MMA_ELEV, "hcy": HCY_NORM}, DL, id="4: MMA elevated + Hcy normal -> DL"),
    case({"mma": MMA_ELEV, **RENAL}, BL, ("mma_may_reflect_renal_impairment",),
         id="4: MMA elevated + renal -> borderline"),
    case({"mma": MMA_075, **RENAL}, BL, ("mma_may_reflect_renal_impairment",),
         id="4: MMA 0.75 + renal -> borderline"),
    case({"mma": MMA_MARK, **RENAL}, DL, absent=("mma_may_reflect_renal_impairment",),
         id="4: MMA markedly elevated + renal -> DL"),
    case({"mma": MMA_NORM}, NI, id="4: MMA normal -> not_indicated"),
    case({"mma": MMA_NORM, "hcy": HCY_MOD}, NI, id="4: MMA normal + Hcy elevated -> MMA decides"),
    case({"hcy": HCY_MOD}, BL, id="4: only Hcy elevated -> borderline"),
    case({"hcy": HCY_SEV}, BL, ("homocysteine_severe",), id="4: only Hcy severe -> borderline"),
    case({"hcy": HCY_MOD, "folate": FOL_LOW}, BL, id="4: Hcy elevated + folate low -> borderline"),
    case({"hcy": HCY_NORM}, NI, ("homocysteine_alone_nonspecific",),
         id="4: only Hcy normal -> not_indicated, non-specific"),
    case({}, ID, ("no_usable_marker",), id="4: nothing -> insufficient_data"),
    case({"folate": FOL_LOW}, ID, ("no_usable_marker",), id="4: folate only (low) -> insufficient"),
    case({"folate": FOL_NORM}, ID, ("no_usable_marker",), id="4: folate only -> insufficient"),
    case({"egfr": 45, "age": 50, "symptoms": ["tremor"]}, ID, ("no_usable_marker",),
         id="4: context only -> insufficient_data"),
]  # fmt: skip


@pytest.mark.parametrize(("panel", "status", "findings", "steps", "absent"), RULES)
def test_status_rules(panel, status, findings, steps, absent):
    result = run(panel)
    assert isinstance(result.status, Status)
    assert result.status == status
    codes = result.finding_codes
    for code in findings:
        assert code in codes, (code, codes)
    for code in steps:
        assert code in result.next_step_codes, (code, result.next_step_codes)
    for code in absent:
        assert code not in codes, (code, codes)
    assert result.summary.strip()
    assert all(f.message.strip() for f in result.findings)
    assert all(s.message.strip() for s in result.next_steps)


def test_no_usable_marker_is_not_reported_with_a_marker():
    for panel in ({"b12": B12_NORM}, {"mma": MMA_NORM}, {"hcy": HCY_NORM}, {"holotc": HTC_IND}):
        assert "no_usable_marker" not in run(panel).finding_codes


# ------------------------------------------------------------------------ status-neutral findings


def _cb12_spec(holotc: float, b12: float, mma: float, hcy: float, age: float) -> float:
    """decision-spec 5: cB12 = log10[(holoTC B12)/(MMA Hcy)] - 3.79 / (1 + (age/230)^2.6)."""
    return math.log10((holotc * b12) / (mma * hcy)) - 3.79 / (1 + (age / 230) ** 2.6)


# Deficiency likely (B12 low) but cB12 adequate: 150 ng/L = 110.67 pmol/L (1 pg/mL = 0.7378).
CB12_DL_PANEL = {"b12": B12_LOW, "holotc": HTC_NORM, "mma": "0.20 umol/L", "hcy": "8 umol/L"}
# Not indicated (rule 2: holoTC indeterminate + MMA normal at age 40) but cB12 deficient.
CB12_NI_PANEL = {
    "b12": "260 pmol/L",
    "holotc": "30 pmol/L",
    "mma": "0.40 umol/L",
    "hcy": "15 umol/L",
}


def test_cb12_fixtures_are_on_the_intended_side_of_minus_0_5():
    # Fedosov 2015: deficiency below -0.5.
    assert _cb12_spec(100, 150 * 0.7378, 0.20, 8, 40) >= -0.5 + 0.3
    assert _cb12_spec(30, 260, 0.40, 15, 40) < -0.5 - 0.1


NEUTRAL = [
    # (base panel, triggering context, spec status, finding, next step)
    ({"b12": B12_NORM}, {"b12": B12_HIGH}, NI, "b12_above_reference", None,
     "B12 above reference (supplementation, liver disease...)"),
    ({"b12": B12_NORM, "mma": MMA_ELEV}, {"b12": B12_HIGH}, BL, "b12_above_reference", None,
     "B12 above reference with MMA elevated"),
    # Rules version 2 (decision-spec 7.2) lets recent treatment, nitrous oxide and a flagged
    # MMA change the status: those cases are in test_rules_v2.py. Here, the cases where the
    # status stays.
    ({"b12": B12_LOW}, {"recent_b12_treatment": True}, DL, "recent_b12_treatment", None,
     "recent B12 treatment, low B12"),
    ({"b12": B12_NORM, "mma": MMA_ELEV}, {"recent_b12_treatment": True}, BL,
     "recent_b12_treatment", "retest_off_treatment", "recent B12 treatment, MMA elevated"),
    ({"b12": B12_NORM, "mma": MMA_NORM}, RENAL, NI, "renal_impairment", None,
     "renal impairment by eGFR 45"),
    ({"b12": B12_NORM, "mma": MMA_NORM}, RENAL_BY_CREATININE, NI, "renal_impairment", None,
     "renal impairment by CKD-EPI (creatinine 2.0 mg/dL, 70 y, male)"),
    ({"b12": B12_LOW}, RENAL, DL, "renal_impairment", None, "renal impairment, B12 low"),
    ({"b12": B12_NORM, "mma": MMA_NORM, "hcy": HCY_MOD, "folate": FOL_NORM}, {"folate": FOL_LOW},
     NI, "folate_deficiency_pattern", None, "Hcy elevated, MMA normal, folate low"),
    ({"mma": MMA_NORM, "hcy": HCY_MOD, "folate": FOL_NORM}, {"folate": FOL_LOW},
     NI, "folate_deficiency_pattern", None, "folate pattern without first-line marker"),
    ({"b12": B12_NORM, "mma": MMA_NORM, "hcy": HCY_MOD, "folate": FOL_NORM}, {"folate": None},
     NI, "folate_unknown_high_homocysteine", "measure_folate", "Hcy elevated, folate unknown"),
    ({"b12": B12_NORM, "mma": MMA_NORM, "hcy": HCY_MOD}, {"hcy": HCY_SEV}, NI,
     "homocysteine_severe", "consider_inherited_disorder", "Hcy > 100, first line normal"),
    ({"b12": B12_IND, "hcy": HCY_MOD}, {"hcy": HCY_SEV}, BL, "homocysteine_severe", None,
     "Hcy > 100, B12 indeterminate"),
    ({"b12": B12_LOW, "mma": MMA_MARK}, {"mma": "150 umol/L"}, DL, "mma_check_unit",
     "check_mma_unit", "MMA > 100 umol/L with B12 low"),
    ({"b12": B12_NORM, "hcy": HCY_NORM}, {"nitrous_oxide": True}, NI, "nitrous_oxide_exposure",
     "measure_mma", "nitrous_oxide=True, homocysteine normal"),
    ({"b12": B12_NORM, "hcy": HCY_NORM, "risk_factors": ["metformin"]},
     {"risk_factors": ["metformin", "nitrous_oxide"]}, NI, "nitrous_oxide_exposure", None,
     "risk factor nitrous_oxide, homocysteine normal"),
    ({"b12": B12_IND, "mma": MMA_ELEV}, {"nitrous_oxide": True}, DL, "nitrous_oxide_exposure",
     None, "nitrous oxide with MMA elevated"),
    (CB12_DL_PANEL, {"age": 40}, DL, "cb12_disagrees", None,
     "cB12 adequate while deficiency_likely"),
    (CB12_NI_PANEL, {"age": 40}, NI, "cb12_disagrees", None,
     "cB12 deficient while not_indicated"),
    ({"b12": B12_NORM}, {"symptoms": ["tremor"]}, NI, "symptoms_not_explained",
     "consider_other_causes", "symptoms with not_indicated"),
    ({"b12": B12_IND, "mma": MMA_NORM}, {"symptoms": ["muscle_cramps", "fasciculations"]}, NI,
     "symptoms_not_explained", "consider_other_causes", "symptoms, grey zone resolved by MMA"),
    ({"b12": B12_IND, "symptoms": ["paraesthesia"]}, {"risk_factors": ["metformin"]}, BL,
     "nice_testing_criteria_met", None, "symptom + risk factor: NICE criteria met"),
    ({"b12": B12_LOW, "risk_factors": ["vegan"]}, {"symptoms": ["fatigue"]}, DL,
     "nice_testing_criteria_met", None, "risk factor + symptom, B12 low"),
    ({"b12": B12_IND, "symptoms": ["paraesthesia"]}, {"risk_factors": []}, BL,
     "nice_testing_criteria_not_met", None, "symptom, no risk factor: not met"),
    ({"b12": B12_IND, "risk_factors": ["metformin"]}, {"symptoms": []}, BL,
     "nice_testing_criteria_not_met", None, "risk factor, no symptom: not met"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("base", "context", "status", "finding", "step"),
    [pytest.param(b, c, s, f, n, id=f"{f}: {why}") for b, c, s, f, n, why in NEUTRAL],
)
def test_findings_that_never_change_the_status(base, context, status, finding, step):
    without = run(base)
    with_context = run({**base, **context})
    assert without.status == status
    assert with_context.status == status  # the finding is reported, the status is unchanged
    assert finding in with_context.finding_codes
    assert finding not in without.finding_codes
    if step is not None:
        assert step in with_context.next_step_codes


def test_creatinine_gives_ckd_epi_2021_egfr():
    # CKD-EPI 2021 (race-free), male: 142 x min(Scr/0.9, 1)^-0.302 x max(Scr/0.9, 1)^-1.200
    # x 0.9938^age.
    expected = 142 * (2.0 / 0.9) ** -1.200 * 0.9938**70
    result = run({"b12": B12_NORM, **RENAL_BY_CREATININE})
    assert result.patient.egfr == pytest.approx(expected, rel=1e-9)
    assert result.patient.egfr < 60
    assert result.patient.egfr_source == "ckd-epi-2021"
    assert result.patient.renal_impairment is True
    # without sex the equation cannot be applied: renal function unknown
    unknown = run({"b12": B12_NORM, "creatinine": "2.0 mg/dL", "age": 70})
    assert unknown.patient.egfr is None
    assert "renal_impairment" not in unknown.finding_codes


@pytest.mark.parametrize(
    ("panel", "status"),
    [
        pytest.param({"b12": B12_IND}, BL, id="borderline"),
        pytest.param({"b12": B12_LOW}, DL, id="deficiency_likely"),
        pytest.param({"mma": MMA_ELEV, **RENAL}, BL, id="borderline (renal)"),
        pytest.param({}, ID, id="insufficient_data"),
    ],
)
def test_symptoms_not_explained_only_when_not_indicated(panel, status):
    result = run({**panel, "symptoms": ["tremor", "muscle_tension"]})
    assert result.status == status
    assert "symptoms_not_explained" not in result.finding_codes
    assert "consider_other_causes" not in result.next_step_codes


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({}, id="neither known"),
        pytest.param({"symptoms": ["paraesthesia"]}, id="only symptoms known"),
        pytest.param({"risk_factors": ["metformin"]}, id="only risk factors known"),
        pytest.param({"symptoms": []}, id="only symptoms known (none)"),
    ],
)
def test_nice_testing_criteria_only_when_both_are_given(context):
    codes = run({"b12": B12_IND, **context}).finding_codes
    assert "nice_testing_criteria_met" not in codes
    assert "nice_testing_criteria_not_met" not in codes


def test_no_symptoms_gives_no_symptoms_finding():
    codes = run({"b12": B12_NORM, "symptoms": []}).finding_codes
    assert "symptoms_not_explained" not in codes


# ----------------------------------------------------------------------------- codes and statuses


def test_status_values_are_the_four_public_strings():
    assert {s.value for s in Status} == {
        "deficiency_likely",
        "borderline",
        "not_indicated",
        "insufficient_data",
    }
    assert len(Status) == 4


def test_catalog_messages_are_non_empty():
    cat = catalog()
    assert cat.findings
    assert cat.next_steps
    for code, finding in cat.findings.items():
        assert finding.code == code
        assert finding.message.strip(), code
    for code, step in cat.next_steps.items():
        assert step.code == code
        assert step.message.strip(), code
    assert set(cat.summaries) == set(Status)
    assert all(text.strip() for text in cat.summaries.values())


def _assert_in_catalog(state: RuleState) -> None:
    cat = catalog()
    decision = decide(state)
    assert isinstance(decision.status, Status)
    assert decision.findings, state  # every status carries the findings that led to it
    for code in decision.findings:
        assert code in cat.findings, (code, state)
    for code in decision.next_steps:
        assert code in cat.next_steps, (code, state)
    assert len(set(decision.findings)) == len(decision.findings)
    assert len(set(decision.next_steps)) == len(decision.next_steps)


_FLAGS_OFF: dict[str, Any] = {}
_FLAGS_ON = {
    "mma_check_unit": True,
    "recent_treatment": True,
    "nitrous_oxide": True,
    "symptoms": Tri.YES,
    "risk_factors": Tri.NO,
    "below_guideline_age": True,
}


@pytest.mark.parametrize("flags", [_FLAGS_OFF, _FLAGS_ON], ids=["flags-off", "flags-on"])
def test_every_code_decide_emits_is_in_the_catalog_exhaustive_markers(flags):
    for b12, holotc, mma, hcy, folate, renal, pregnant in itertools.product(
        FL, FL, MMA, HCY, FOL, Tri, (False, True)
    ):
        cb12 = CB((b12 + mma + hcy) % len(CB))  # vary the cB12 band across states
        _assert_in_catalog(
            RuleState(b12=b12, holotc=holotc, mma=mma, hcy=hcy, folate=folate, renal=renal,
                      pregnant=pregnant, cb12=cb12, **flags)
        )  # fmt: skip


STATES = st.builds(
    RuleState,
    b12=st.sampled_from(FL),
    holotc=st.sampled_from(FL),
    mma=st.sampled_from(MMA),
    mma_check_unit=st.booleans(),
    hcy=st.sampled_from(HCY),
    folate=st.sampled_from(FOL),
    renal=st.sampled_from(Tri),
    pregnant=st.booleans(),
    recent_treatment=st.booleans(),
    nitrous_oxide=st.booleans(),
    symptoms=st.sampled_from(Tri),
    risk_factors=st.sampled_from(Tri),
    cb12=st.sampled_from(CB),
    below_guideline_age=st.booleans(),
    autoimmune_gastritis=st.booleans(),
    research_profile=st.booleans(),
    egfr_not_computed=st.booleans(),
)


@given(STATES)
def test_every_code_decide_emits_is_in_the_catalog(state):
    _assert_in_catalog(state)


@given(STATES, st.sampled_from(Tri), st.sampled_from(Tri), st.sampled_from(CB), st.booleans(),
       st.booleans(), st.booleans())  # fmt: skip
def test_status_neutral_context_never_changes_the_status(
    state, symptoms, risks, cb12, young, research, no_egfr
):
    # decision-spec 3 and 7.3: these findings "never change the status but must be reported".
    # Rules version 2 lets recent treatment, nitrous oxide, a flagged MMA and folate (step 1)
    # change the status, and symptoms with autoimmune gastritis (step 4): not varied here.
    state = state._replace(autoimmune_gastritis=False)
    changed = state._replace(
        symptoms=symptoms,
        risk_factors=risks,
        cb12=cb12,
        below_guideline_age=young,
        research_profile=research,
        egfr_not_computed=no_egfr,
    )
    assert decide(changed).status == decide(state).status


@given(STATES)
def test_above_reference_and_severe_homocysteine_never_change_the_status(state):
    # B12 above reference counts as normal (rule 3); Hcy > 100 is elevated like > 15.
    if state.b12 == FL.ABOVE_REFERENCE:
        assert decide(state).status == decide(state._replace(b12=FL.NORMAL)).status
    if state.holotc == FL.ABOVE_REFERENCE:
        assert decide(state).status == decide(state._replace(holotc=FL.NORMAL)).status
    if state.hcy == HCY.SEVERE:
        assert decide(state).status == decide(state._replace(hcy=HCY.MODERATE)).status


def test_markedly_elevated_mma_with_renal_impairment_is_not_called_mild():
    """Spec 3.3: MMA markedly elevated with renal impairment is borderline, and the renal
    finding must not claim the MMA is 'not markedly' elevated."""
    result = b12labs.interpret(b12="500 pmol/L", mma="1.0 umol/L", egfr=30)
    assert result.status is b12labs.Status.BORDERLINE
    assert "mma_markedly_elevated" in result.finding_codes
    renal = next(f for f in result.findings if f.code == "mma_may_reflect_renal_impairment")
    assert "not markedly" not in renal.message


# ----------------------------------------------------------------------------- eGFR not computed
# Issue 10: a creatinine that gives no eGFR used to say nothing. CKD-EPI 2021 needs an exact
# creatinine, age (adults: 18 and over) and sex; without them kidney function stays unknown,
# and the result says why.

CREATININE = "1.0 mg/dL"
NO_EGFR = [
    pytest.param({"creatinine": CREATININE}, id="no age, no sex"),
    pytest.param({"creatinine": CREATININE, "age": 50}, id="no sex"),
    pytest.param({"creatinine": CREATININE, "sex": "female"}, id="no age"),
    pytest.param({"creatinine": CREATININE, "age": 16, "sex": "male"}, id="age under 18"),
    pytest.param({"creatinine": "<0.5 mg/dL", "age": 50, "sex": "male"}, id="censored"),
]


@pytest.mark.parametrize("context", NO_EGFR)
@pytest.mark.parametrize("markers", [{"b12": B12_NORM}, {"b12": B12_IND, "mma": MMA_ELEV}])
def test_creatinine_without_an_egfr_says_so(context: dict[str, Any], markers: dict[str, Any]):
    result = run({**markers, **context})
    assert result.patient.egfr is None
    assert "egfr_not_computed" in result.finding_codes
    # a finding that never changes the status
    without = run({**markers, **{k: v for k, v in context.items() if k != "creatinine"}})
    assert result.status is without.status


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({"creatinine": CREATININE, "age": 50, "sex": "male"}, id="computed"),
        pytest.param({"creatinine": CREATININE, "egfr": 75}, id="eGFR given"),
        pytest.param({"creatinine": "<0.5 mg/dL", "egfr": 75}, id="censored, eGFR given"),
        pytest.param({"age": 50}, id="no creatinine"),
    ],
)
def test_no_egfr_not_computed_finding_when_egfr_is_known_or_no_creatinine(
    context: dict[str, Any],
):
    assert "egfr_not_computed" not in run({"b12": B12_NORM, **context}).finding_codes
