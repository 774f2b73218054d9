"""The two equations: CKD-EPI 2021 eGFR and the combined indicator cB12 (Fedosov).

Reference formulas, re-implemented here from their sources (not from the library):

* CKD-EPI 2021, race-free (National Kidney Foundation,
  kidney.org/ckd-epi-creatinine-equation-2021; Inker et al., NEJM 2021):
  eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 [female],
  k = 0.7 (F) / 0.9 (M), a = -0.241 (F) / -0.302 (M), Scr in mg/dL.
* cB12 (decision-spec section 5; Fedosov et al., Clin Chem Lab Med 2015;53:1215):
  cB12 = log10[(holoTC x B12) / (MMA x Hcy)] - 3.79 / (1 + (age/230)^2.6), holoTC and B12
  in pmol/L, MMA and Hcy in umol/L. The age-factor constants are "widely reproduced but
  unconfirmed" (domain-facts.md). Bands: below -2.5 probable deficiency; -2.5 to -1.5
  possible deficiency; -1.5 to -0.5 low; -0.5 to 1.5 adequate; above 1.5 elevated.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import b12labs
from b12labs import CB12Band, Sex
from b12labs._equations import cb12_value, egfr_ckd_epi_2021, equation_constants
from b12labs._profile import compiled

MG_DL_PER_UMOL_L = 1 / 88.4  # creatinine: 1 mg/dL = 88.4 umol/L (NHANES LBDSCRSI/LBXSCR)


def nkf_ckd_epi_2021(scr_mg_dl: float, age: float, female: bool) -> float:
    """CKD-EPI 2021 exactly as printed by the National Kidney Foundation."""
    k = 0.7 if female else 0.9
    a = -0.241 if female else -0.302
    egfr = 142 * min(scr_mg_dl / k, 1) ** a * max(scr_mg_dl / k, 1) ** -1.200 * 0.9938**age
    return egfr * 1.012 if female else egfr


def fedosov_cb12(holotc: float, b12: float, mma: float, hcy: float, age: float) -> float:
    """cB12 as written in decision-spec section 5."""
    return math.log10((holotc * b12) / (mma * hcy)) - 3.79 / (1 + (age / 230) ** 2.6)


# ----------------------------------------------------------------------------- CKD-EPI 2021

# Published worked example (creatinineclearancecalculator.net, CKD-EPI 2021 calculator):
# a 55-year-old woman with serum creatinine 0.9 mg/dL has an eGFR of about 76 mL/min/1.73m2.
WORKED_EXAMPLE_EGFR = 76.0


def test_ckd_epi_worked_example():
    egfr = egfr_ckd_epi_2021(0.9, 55, Sex.FEMALE)
    assert egfr == pytest.approx(WORKED_EXAMPLE_EGFR, abs=1.0)
    assert egfr == pytest.approx(nkf_ckd_epi_2021(0.9, 55, female=True), rel=1e-12)


def test_ckd_epi_worked_example_through_interpret():
    result = b12labs.interpret(creatinine="0.9 mg/dL", age=55, sex="female", b12="300 pmol/L")
    assert result.patient.egfr == pytest.approx(WORKED_EXAMPLE_EGFR, abs=1.0)
    assert result.patient.egfr_source == "ckd-epi-2021"
    assert result.patient.renal_impairment is False  # about 76 >= 60 (spec 2: below 60)


def test_creatinine_in_umol_per_litre_gives_the_same_egfr():
    umol = 0.9 / MG_DL_PER_UMOL_L  # 79.56 umol/L; the brief's 79.6 umol/L = 0.9 mg/dL
    assert umol == pytest.approx(79.6, abs=0.05)
    by_mg = b12labs.interpret(creatinine="0.9 mg/dL", age=55, sex="female", b12="300 pmol/L")
    for text in ("79.6 umol/L", "79.6 µmol/L", f"{umol!r} umol/L"):
        by_umol = b12labs.interpret(creatinine=text, age=55, sex="female", b12="300 pmol/L")
        assert by_umol.patient.egfr_source == "ckd-epi-2021"
        assert by_umol.patient.egfr == pytest.approx(by_mg.patient.egfr, rel=0.005), text


@given(
    scr=st.floats(0.2, 15.0),
    age=st.floats(18, 110),
    female=st.booleans(),
)
def test_ckd_epi_matches_the_published_equation(scr: float, age: float, female: bool):
    sex = Sex.FEMALE if female else Sex.MALE
    assert egfr_ckd_epi_2021(scr, age, sex) == pytest.approx(
        nkf_ckd_epi_2021(scr, age, female), rel=1e-12
    )


def test_ckd_epi_male_and_impairment():
    # 70-year-old man, creatinine 2.0 mg/dL: 142 x (2.0/0.9)^-1.2 x 0.9938^70 = about 35.
    expected = 142 * (2.0 / 0.9) ** -1.2 * 0.9938**70
    result = b12labs.interpret(creatinine="2.0 mg/dL", age=70, sex="male", mma="0.35 umol/L")
    assert result.patient.egfr == pytest.approx(expected, rel=1e-9)
    assert 30 < result.patient.egfr < 40
    assert result.patient.renal_impairment is True  # eGFR below 60 (spec 2)
    assert "renal_impairment" in result.finding_codes


@pytest.mark.parametrize(
    "context",
    [
        {"age": 17, "sex": "female"},  # CKD-EPI is for adults (18 and over)
        {"age": 17.9, "sex": "male"},
        {"age": 55},  # sex unknown
        {"sex": "female"},  # age unknown
    ],
)
def test_no_egfr_without_adult_age_and_sex(context):
    result = b12labs.interpret(creatinine="0.9 mg/dL", b12="300 pmol/L", **context)
    assert result.patient.egfr is None
    assert result.patient.egfr_source is None
    assert result.patient.renal_impairment is None


def test_egfr_at_18_is_computed():
    result = b12labs.interpret(creatinine="0.9 mg/dL", age=18, sex="male", b12="300 pmol/L")
    assert result.patient.egfr == pytest.approx(nkf_ckd_epi_2021(0.9, 18, female=False))


def test_given_egfr_wins_over_creatinine():
    result = b12labs.interpret(
        creatinine="0.9 mg/dL", age=55, sex="female", egfr=40, b12="300 pmol/L"
    )
    assert result.patient.egfr == 40
    assert result.patient.egfr_source == "given"
    assert result.patient.renal_impairment is True


def test_ckd_epi_constants_are_the_nkf_ones():
    c = equation_constants()["ckd_epi_2021"]
    assert (c["scale"], c["kappa_female"], c["kappa_male"]) == (142, 0.7, 0.9)
    assert (c["alpha_female"], c["alpha_male"], c["upper_exponent"]) == (-0.241, -0.302, -1.2)
    assert (c["age_base"], c["female_factor"]) == (0.9938, 1.012)
    assert c["citation"]


# ----------------------------------------------------------------------------- cB12


def test_cb12_hand_computed_at_age_230():
    # log10((100 x 1000) / (1 x 100)) = log10(1e3) = 3; at age 230 the age factor is
    # 3.79 / (1 + 1^2.6) = 1.895, so cB12 = 3 - 1.895 = 1.105.
    assert cb12_value(100, 1000, 1, 100, 230) == pytest.approx(1.105, abs=1e-12)


def test_cb12_hand_computed_at_age_zero():
    # At age 0 the age factor is the full 3.79: cB12 = 3 - 3.79 = -0.79.
    value = b12labs.cb12(holotc=100, b12=1000, mma=1, hcy=100, age=0)
    assert value == pytest.approx(-0.79, abs=1e-12)
    # log10((50 x 200) / (0.1 x 10)) = log10(1e4) = 4; at age 0: 4 - 3.79 = 0.21.
    assert b12labs.cb12(holotc=50, b12=200, mma=0.1, hcy=10, age=0) == pytest.approx(
        0.21, abs=1e-12
    )


def test_cb12_with_units_agrees_with_plain_numbers():
    plain = b12labs.cb12(holotc=100, b12=1000, mma=1, hcy=100, age=0)
    # 1000 pmol/L of cobalamin = 1355.37 pg/mL (molar mass 1355.37 g/mol, spec section 1).
    with_units = b12labs.cb12(
        holotc="100 pmol/L",
        b12="1355.37 pg/mL",
        mma=(1000, "nmol/L"),
        hcy=b12labs.Measurement(value=100, unit="umol/L"),
        age=0,
    )
    assert with_units == pytest.approx(plain, abs=1e-9)
    # Homocysteine 100 umol/L in mg/L: 100 umol/L x 135.18 g/mol = 13.518 mg/L.
    in_mg = b12labs.cb12(holotc=100, b12="1000 pmol/L", mma="1 umol/L", hcy="13.518 mg/L", age=0)
    assert in_mg == pytest.approx(plain, abs=1e-9)


@given(
    holotc=st.floats(5, 200),
    b12=st.floats(50, 2000),
    mma=st.floats(0.05, 3),
    hcy=st.floats(3, 60),
    age=st.floats(0, 110),
)
def test_cb12_matches_the_spec_formula(holotc, b12, mma, hcy, age):
    expected = fedosov_cb12(holotc, b12, mma, hcy, age)
    assert b12labs.cb12(holotc=holotc, b12=b12, mma=mma, hcy=hcy, age=age) == pytest.approx(
        expected, abs=1e-9
    )


@pytest.mark.parametrize("analyte", ["holotc", "b12", "mma", "hcy"])
@pytest.mark.parametrize("censor", ["<", "<=", ">", ">="])
def test_cb12_rejects_censored_input(analyte: str, censor: str):
    values = {"holotc": "60 pmol/L", "b12": "300 pmol/L", "mma": "0.2 umol/L", "hcy": "10 umol/L"}
    values[analyte] = f"{censor}{values[analyte]}"
    with pytest.raises(b12labs.InvalidValueError):
        b12labs.cb12(**values, age=50)


def test_cb12_age_constants_are_documented_as_unconfirmed():
    c = equation_constants()["cb12"]
    assert (c["age_factor_numerator"], c["age_factor_scale"], c["age_factor_exponent"]) == (
        3.79,
        230,
        2.6,
    )
    assert c["evidence"] == "unconfirmed"
    assert "not confirmed" in (b12labs.cb12.__doc__ or "")


def test_interpret_reports_cb12_value_and_band():
    result = b12labs.interpret(
        holotc="60 pmol/L", b12="300 pmol/L", mma="0.2 umol/L", hcy="10 umol/L", age=50
    )
    expected = fedosov_cb12(60, 300, 0.2, 10, 50)
    assert result.cb12.value == pytest.approx(expected, abs=1e-9)
    assert -0.5 <= expected <= 1.5
    assert result.cb12.band is CB12Band.ADEQUATE
    assert result.cb12.reason is None


def _panel_for(target: float) -> dict[str, object]:
    """Four markers at age 0 (age factor 3.79) whose cB12 is ``target``."""
    if target < -0.5:
        holotc, mma, hcy = 10.0, 1.0, 100.0  # MMA x Hcy = 100
    else:
        holotc, mma, hcy = 100.0, 0.1, 10.0  # MMA x Hcy = 1
    b12 = 10 ** (target + 3.79) * mma * hcy / holotc
    return {
        "holotc": (holotc, "pmol/L"),
        "b12": (b12, "pmol/L"),
        "mma": (mma, "umol/L"),
        "hcy": (hcy, "umol/L"),
        "age": 0,
    }


@pytest.mark.parametrize(
    ("target", "band"),
    [
        (-3.0, CB12Band.PROBABLE_DEFICIENCY),  # below -2.5
        (-2.0, CB12Band.POSSIBLE_DEFICIENCY),  # -2.5 to -1.5
        (-1.0, CB12Band.LOW),  # -1.5 to -0.5
        (-0.5 - 1e-6, CB12Band.LOW),
        (-0.5, CB12Band.ADEQUATE),  # "deficiency below -0.5": -0.5 itself is adequate
        (0.0, CB12Band.ADEQUATE),
        (1.5, CB12Band.ADEQUATE),  # "above 1.5" is elevated: 1.5 itself is adequate
        (1.5 + 1e-6, CB12Band.ELEVATED),
        (2.0, CB12Band.ELEVATED),
    ],
)
def test_cb12_bands_through_interpret(target: float, band: CB12Band):
    result = b12labs.interpret(_panel_for(target))
    assert result.cb12.value == pytest.approx(target, abs=1e-12)
    assert result.cb12.band is band


@pytest.mark.parametrize("profile", b12labs.list_profiles())
def test_cb12_band_boundaries_on_the_cuts(profile: str):
    cuts = compiled(profile).cb12
    bands = list(CB12Band)
    assert bands[cuts.point(-0.5)] is CB12Band.ADEQUATE
    assert bands[cuts.point(1.5)] is CB12Band.ADEQUATE
    assert bands[cuts.point(-0.5000001)] is CB12Band.LOW
    assert bands[cuts.point(1.5000001)] is CB12Band.ELEVATED
    assert bands[cuts.point(-10)] is CB12Band.PROBABLE_DEFICIENCY
    assert bands[cuts.point(-2.0)] is CB12Band.POSSIBLE_DEFICIENCY
    assert bands[cuts.point(-1.0)] is CB12Band.LOW


FULL = {
    "holotc": "60 pmol/L",
    "b12": "300 pmol/L",
    "mma": "0.2 umol/L",
    "hcy": "10 umol/L",
    "age": 50,
}


@pytest.mark.parametrize("missing", ["holotc", "b12", "mma", "hcy", "age"])
def test_cb12_missing_input_gives_none_with_reason(missing: str):
    panel = {k: v for k, v in FULL.items() if k != missing}
    result = b12labs.interpret(panel)
    assert result.cb12.value is None
    assert result.cb12.band is None
    assert result.cb12.reason
    assert missing in result.cb12.reason
    others = [k for k in FULL if k != missing and k != "age"]
    # The reason names what is missing, after "missing" (not just the list of inputs).
    tail = result.cb12.reason.split("missing", 1)[-1]
    assert missing in tail
    for name in others:
        assert name not in tail, (name, result.cb12.reason)


def test_cb12_censored_marker_in_interpret_gives_none_with_reason():
    panel = dict(FULL, mma="<0.2 umol/L")
    result = b12labs.interpret(panel)
    assert result.cb12.value is None
    assert result.cb12.reason
    assert "mma" in result.cb12.reason.split("missing", 1)[-1]
