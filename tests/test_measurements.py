"""Measurement inputs: text parsing, accepted input forms, bad and implausible values,
patient fields of a Panel, and the structured b12labs errors they raise.

Expected values come from decision-spec section 1 (molar masses, censoring, plausibility
examples), the NHANES extremes quoted there and in ``_data/analytes.toml``, and independent
arithmetic written next to them.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import b12labs
from b12labs import Censor, Measurement, Panel, RiskFactor, Sex, Symptom

# Molar mass of cobalamin, g/mol (decision-spec section 1): 1 pg/mL = 1/1.35537 pmol/L.
B12_PG_PER_ML_TO_PMOL_PER_L = 1 / 1.35537


def build_panel(**kwargs: Any) -> object:
    return Panel(**kwargs)


def build_interpretation(**kwargs: Any) -> object:
    return b12labs.interpret(**kwargs)


# Both public entry points must behave the same for inputs.
ENTRY_POINTS: list[Callable[..., object]] = [build_panel, build_interpretation]
ENTRY_IDS = ["Panel", "interpret"]


@pytest.fixture(scope="module")
def ureg() -> pint.UnitRegistry:
    """A user's own pint registry (not the library's), built once: building one is slow."""
    return pint.UnitRegistry()


# --------------------------------------------------------------------------- Measurement.parse


@pytest.mark.parametrize(
    ("text", "value", "unit", "censor"),
    [
        ("150 pmol/L", 150.0, "pmol/L", None),
        ("<50 pg/mL", 50.0, "pg/mL", Censor.LT),
        ("< 50 pg/mL", 50.0, "pg/mL", Censor.LT),
        (">2000 ng/L", 2000.0, "ng/L", Censor.GT),
        ("≤0.05 umol/L", 0.05, "umol/L", Censor.LE),
        ("≥ 2,000 pg/mL", 2000.0, "pg/mL", Censor.GE),
        ("<=5 pmol/L", 5.0, "pmol/L", Censor.LE),
        (">= 5 pmol/L", 5.0, "pmol/L", Censor.GE),
        ("1,234 pg/mL", 1234.0, "pg/mL", None),
        ("34,254 pg/mL", 34254.0, "pg/mL", None),
        ("1,234,567 pg/mL", 1234567.0, "pg/mL", None),
        ("  350 pmol/L  ", 350.0, "pmol/L", None),
        (".5 umol/L", 0.5, "umol/L", None),
        ("0.378 umol/L", 0.378, "umol/L", None),
        ("2e3 pmol/L", 2000.0, "pmol/L", None),
        ("150pmol/L", 150.0, "pmol/L", None),
        ("0 pmol/L", 0.0, "pmol/L", None),
        ("150 \u00b5mol/L", 150.0, "\u00b5mol/L", None),
    ],
)
def test_parse_reads_number_unit_and_censor(
    text: str, value: float, unit: str, censor: Censor | None
) -> None:
    measurement = Measurement.parse(text)
    assert measurement.value == pytest.approx(value, rel=1e-12)
    assert measurement.unit == unit
    assert measurement.censor is censor


@pytest.mark.parametrize(
    ("member", "symbol"),
    [(Censor.LT, "<"), (Censor.LE, "<="), (Censor.GT, ">"), (Censor.GE, ">=")],
)
def test_censor_values_are_the_comparator_symbols(member: Censor, symbol: str) -> None:
    assert member.value == symbol
    assert Censor(symbol) is member


@given(
    number=st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False),
    censor=st.sampled_from(["", "<", "< ", ">", "<=", ">=", "≤", "≥ "]),
    unit=st.sampled_from(["pmol/L", "pg/mL", "umol/L", "NG/ML", "\u03bcmol/L"]),
    thousands=st.booleans(),
)
def test_parse_round_trips_formatted_numbers(
    number: float, censor: str, unit: str, thousands: bool
) -> None:
    text_number = f"{number:,.3f}" if thousands else f"{number:.3f}"
    measurement = Measurement.parse(f"{censor}{text_number} {unit}")
    assert measurement.value == pytest.approx(float(f"{number:.3f}"), rel=1e-12, abs=1e-12)
    assert measurement.unit == unit
    expected_censor = {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "≤": "<=", "≥": ">="}
    symbol = censor.strip()
    assert measurement.censor == (Censor(expected_censor[symbol]) if symbol else None)


def test_measurement_constructor_accepts_a_censor_symbol() -> None:
    measurement = Measurement(value=50, unit="pg/mL", censor="<")
    assert measurement.censor is Censor.LT
    assert measurement.value == 50.0


# --------------------------------------------------------------------------- input forms


def _b12_pmol(result: b12labs.Interpretation) -> float:
    return result.markers[b12labs.Analyte.B12].value


@pytest.mark.parametrize(
    "form",
    [
        "150 pmol/L",
        "  150 pmol/L  ",
        "150 PMOL/L",
        (150, "pmol/L"),
        [150, "pmol/L"],
        (150.0, "pmol/l"),
        Measurement(value=150, unit="pmol/L"),
        (0.15, "nmol/L"),
    ],
    ids=repr,
)
def test_interpret_accepts_every_input_form_of_150_pmol_per_l(form: object) -> None:
    result = b12labs.interpret(b12=form)
    assert _b12_pmol(result) == pytest.approx(150.0, rel=1e-9)


def test_interpret_accepts_a_pint_quantity_from_the_users_registry(
    ureg: pint.UnitRegistry,
) -> None:
    result = b12labs.interpret(b12=ureg.Quantity(150, "pmol/L"))
    assert _b12_pmol(result) == pytest.approx(150.0, rel=1e-9)


def test_interpret_converts_a_pint_mass_quantity_through_the_molar_mass(
    ureg: pint.UnitRegistry,
) -> None:
    result = b12labs.interpret(b12=ureg.Quantity(200, "pg/mL"))
    # decision-spec section 1: 200 pg/mL = 200/1.35537 pmol/L
    assert _b12_pmol(result) == pytest.approx(200 * B12_PG_PER_ML_TO_PMOL_PER_L, rel=1e-9)


def test_panel_stores_a_pint_quantity_as_a_measurement(ureg: pint.UnitRegistry) -> None:
    panel = Panel(mma=ureg.Quantity(0.378, "umol/L"))
    assert isinstance(panel.mma, Measurement)
    assert panel.mma.value == pytest.approx(0.378, rel=1e-12)


def test_panel_keeps_the_value_and_unit_as_reported() -> None:
    panel = Panel(b12="200 pg/mL")
    assert panel.b12 == Measurement(value=200, unit="pg/mL")


@pytest.mark.parametrize(
    ("analyte", "text", "canonical", "censor"),
    [
        # decision-spec section 1: censored results are first-class; pg/mL -> pmol/L via 1355.37
        ("b12", "<50 pg/mL", 50 * B12_PG_PER_ML_TO_PMOL_PER_L, Censor.LT),
        ("b12", "< 50 pg/mL", 50 * B12_PG_PER_ML_TO_PMOL_PER_L, Censor.LT),
        ("b12", ">2000 ng/L", 2000 * B12_PG_PER_ML_TO_PMOL_PER_L, Censor.GT),  # ng/L = pg/mL
        ("b12", "≥ 2,000 pg/mL", 2000 * B12_PG_PER_ML_TO_PMOL_PER_L, Censor.GE),
        ("mma", "≤0.05 umol/L", 0.05, Censor.LE),
        ("mma", "<50 nmol/L", 0.05, Censor.LT),  # 50 nmol/L = 0.05 umol/L
        ("holotc", ">128 pmol/L", 128.0, Censor.GT),
    ],
)
def test_interpret_keeps_the_censor_and_converts_the_bound(
    analyte: str, text: str, canonical: float, censor: Censor
) -> None:
    panel = Panel(**{analyte: text})
    measurement = getattr(panel, analyte)
    assert measurement.censor is censor
    marker = b12labs.interpret(panel).markers[b12labs.Analyte(analyte)]
    assert marker.censor is censor
    assert marker.value == pytest.approx(canonical, rel=1e-9)


def test_interpret_accepts_a_censored_measurement_object() -> None:
    measurement = Measurement(value=50, unit="pg/mL", censor=Censor.LT)
    marker = b12labs.interpret(b12=measurement).markers[b12labs.Analyte.B12]
    assert marker.censor is Censor.LT
    assert marker.value == pytest.approx(50 * B12_PG_PER_ML_TO_PMOL_PER_L, rel=1e-9)


def test_interpret_accepts_a_mapping_of_fields() -> None:
    result = b12labs.interpret({"b12": "150 pmol/L", "mma": "378 nmol/L"})
    assert _b12_pmol(result) == pytest.approx(150.0, rel=1e-9)
    # 378 nmol/L = 0.378 umol/L (prefix arithmetic)
    assert result.markers[b12labs.Analyte.MMA].value == pytest.approx(0.378, rel=1e-9)


@pytest.mark.parametrize(
    "number",
    [Fraction(300, 2), Decimal("150"), Decimal("150.0")],
    ids=repr,
)
def test_tuple_accepts_exact_numeric_types(number: object) -> None:
    """Decimal (what SQL NUMERIC columns and ``json(parse_float=Decimal)`` return) and
    Fraction are numbers: decision-spec section 1 rejects only non-numeric values."""
    result = b12labs.interpret(b12=(number, "pmol/L"))
    assert _b12_pmol(result) == pytest.approx(150.0, rel=1e-9)


# --------------------------------------------------------------------------- bad values

BAD_TEXTS = ["abc", "pending", "", "   ", "nan pmol/L", "inf pmol/L", "pmol/L", "- 5 pmol/L"]


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_parse_rejects_non_numeric_text(text: str) -> None:
    with pytest.raises(b12labs.InvalidValueError) as info:
        Measurement.parse(text, analyte="b12")
    assert info.value.analyte == "b12"
    assert info.value.value == text


@pytest.mark.parametrize("text", ["-5 pmol/L", "-0.1 pmol/L", "<-5 pmol/L"])
def test_parse_rejects_negative_numbers(text: str) -> None:
    with pytest.raises(b12labs.InvalidValueError, match="non-negative"):
        Measurement.parse(text, analyte="b12")


def test_negative_value_message_names_the_unit_once() -> None:
    """The message should read "'-5 pmol/L' is not ...", not "'-5 pmol/L' pmol/L is not ..."."""
    with pytest.raises(b12labs.InvalidValueError) as info:
        Measurement.parse("-5 pmol/L", analyte="b12")
    assert "'-5 pmol/L' pmol/L" not in str(info.value)


@pytest.mark.parametrize("text", ["150", "  150  ", "<50", "0.45"])
def test_parse_rejects_a_number_without_unit(text: str) -> None:
    with pytest.raises(b12labs.InvalidValueError, match="no unit"):
        Measurement.parse(text, analyte="b12")


@pytest.mark.parametrize("text", ["0,45 umol/L", "1,5 umol/L", "<0,45 umol/L", "0,45"])
def test_parse_rejects_a_decimal_comma(text: str) -> None:
    with pytest.raises(b12labs.InvalidValueError, match="decimal"):
        Measurement.parse(text, analyte="mma")


@pytest.mark.parametrize("text", ["0,450 umol/L", "0,378 umol/L", "<0,050 umol/L"])
def test_parse_rejects_a_decimal_comma_with_three_decimals(text: str) -> None:
    """``0,450`` cannot be a thousands-separated number (a leading ``0`` group): it is
    0.45 written with a decimal comma, and must not be read as 450."""
    with pytest.raises(b12labs.InvalidValueError, match="decimal"):
        Measurement.parse(text, analyte="mma")


@pytest.mark.parametrize(
    "value",
    [-1, -0.001, math.nan, math.inf, -math.inf, True, False, "abc", None, "150"],
    ids=repr,
)
def test_measurement_constructor_rejects_unusable_values(value: object) -> None:
    with pytest.raises(b12labs.InvalidValueError):
        Measurement(value=value, unit="pmol/L")


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize(
    "form",
    [
        (-5, "pmol/L"),
        (math.nan, "pmol/L"),
        (math.inf, "pmol/L"),
        (True, "pmol/L"),
        ("abc", "pmol/L"),
        "-5 pmol/L",
        "abc",
        True,
        object(),
        (150, "pmol/L", "extra"),
    ],
    ids=repr,
)
def test_entry_points_reject_bad_values_with_invalid_value_error(
    entry: Callable[..., object], form: object
) -> None:
    with pytest.raises(b12labs.InvalidValueError) as info:
        entry(b12=form)
    assert type(info.value) is b12labs.InvalidValueError
    assert info.value.analyte == "b12"


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize("bare", [150, 150.0, 0.45])
def test_a_bare_number_is_rejected_because_units_are_never_guessed(
    entry: Callable[..., object], bare: float
) -> None:
    with pytest.raises(b12labs.InvalidValueError, match="no unit") as info:
        entry(b12=bare)
    assert info.value.analyte == "b12"
    assert info.value.value == bare
    assert "pmol/L" in str(info.value)  # says which units are accepted


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
def test_a_decimal_comma_is_rejected_by_entry_points(entry: Callable[..., object]) -> None:
    with pytest.raises(b12labs.InvalidValueError, match="decimal") as info:
        entry(mma="0,45 umol/L")
    assert info.value.analyte == "mma"
    assert info.value.value == "0,45 umol/L"


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
def test_an_empty_unit_is_a_b12labs_error_not_a_pydantic_error(
    entry: Callable[..., object],
) -> None:
    with pytest.raises(b12labs.B12LabsError) as info:
        entry(b12=(150, ""))
    assert not isinstance(info.value, ValidationError)
    assert info.value.analyte == "b12"


# --------------------------------------------------------------------------- plausibility

# Plausible ranges in canonical units, from src/b12labs/_data/analytes.toml (engineering
# limits to catch a wrong unit): b12 5 to 100,000 pmol/L; holotc 0.5 to 10,000 pmol/L;
# mma 0.01 to 5,000 umol/L; hcy 0.5 to 1,000 umol/L; folate 0.5 to 10,000 nmol/L.
IMPLAUSIBLE = [
    # decision-spec example: B12 0.3 pg/mL is 0.3 ng/mL mistyped; 0.3/1.35537 = 0.22 pmol/L < 5
    ("b12", "0.3 pg/mL", 0.3, "pg/mL"),
    # 200 ng/mL (pg/mL entered as ng/mL) = 200,000/1.35537 = 147,561 pmol/L > 100,000
    ("b12", "200 ng/mL", 200.0, "ng/mL"),
    # 150 umol/L (pmol/L entered as umol/L) = 1.5e8 pmol/L > 100,000
    ("b12", "150 umol/L", 150.0, "umol/L"),
    # holoTC 0.3 pmol/L < 0.5; 50 nmol/mL = 5e7 pmol/L > 10,000
    ("holotc", "0.3 pmol/L", 0.3, "pmol/L"),
    ("holotc", "50 nmol/mL", 50.0, "nmol/mL"),
    # MMA 0.378 nmol/L (umol/L value with the nmol/L unit) = 0.000378 umol/L < 0.01
    ("mma", "0.378 nmol/L", 0.378, "nmol/L"),
    ("mma", "0.005 umol/L", 0.005, "umol/L"),  # below 0.01
    # MMA 6000 nmol/mL = 6000 umol/L > 5,000;
    # 80 mg/dL = 0.8 g/L / 118.09 g/mol = 6,774 umol/L > 5,000
    ("mma", "6000 nmol/mL", 6000.0, "nmol/mL"),
    ("mma", "80 mg/dL", 80.0, "mg/dL"),
    # homocysteine 0.4 umol/L < 0.5; 15 mg/dL = 0.15 g/L / 135.18 = 1,110 umol/L > 1,000
    ("hcy", "0.4 umol/L", 0.4, "umol/L"),
    ("hcy", "15 mg/dL", 15.0, "mg/dL"),
    # folate 0.1 ng/mL = 100/441.40 = 0.227 nmol/L < 0.5;
    # 5 mg/L = 5e-3 g/L / 441.40 g/mol = 11,327 nmol/L > 10,000
    ("folate", "0.1 ng/mL", 0.1, "ng/mL"),
    ("folate", "5 mg/L", 5.0, "mg/L"),
]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize(("analyte", "text", "value", "unit"), IMPLAUSIBLE)
def test_implausible_value_raises_check_the_unit(
    entry: Callable[..., object], analyte: str, text: str, value: float, unit: str
) -> None:
    with pytest.raises(b12labs.ImplausibleValueError, match="check the unit") as info:
        entry(**{analyte: text})
    exc = info.value
    assert not isinstance(exc, ValidationError)
    assert isinstance(exc, b12labs.InvalidValueError)
    assert isinstance(exc, b12labs.B12LabsError)
    assert isinstance(exc, ValueError)
    assert exc.analyte == analyte
    assert exc.value == pytest.approx(value, rel=1e-12)
    assert exc.unit == unit
    assert analyte in str(exc)
    assert unit in str(exc)


@pytest.mark.parametrize(
    "form",
    [(0.3, "pg/mL"), Measurement(value=0.3, unit="pg/mL"), "<0.3 pg/mL"],
    ids=repr,
)
def test_implausible_value_is_rejected_in_every_input_form(form: object) -> None:
    # decision-spec section 1: B12 0.3 pg/mL must be rejected ("check the unit").
    with pytest.raises(b12labs.ImplausibleValueError, match="check the unit"):
        Panel(b12=form)


def test_implausible_pint_quantity_is_rejected(ureg: pint.UnitRegistry) -> None:
    with pytest.raises(b12labs.ImplausibleValueError, match="check the unit") as info:
        Panel(b12=ureg.Quantity(0.3, "pg/mL"))
    assert info.value.analyte == "b12"


@pytest.mark.parametrize(
    ("analyte", "text", "canonical"),
    [
        # NHANES extremes (decision-spec section 1; analytes.toml header): all must be kept.
        ("b12", "34254 pg/mL", 34254 * B12_PG_PER_ML_TO_PMOL_PER_L),  # high-dose supplement
        ("b12", "34,254 pg/mL", 34254 * B12_PG_PER_ML_TO_PMOL_PER_L),
        ("b12", "34 pg/mL", 34 * B12_PG_PER_ML_TO_PMOL_PER_L),  # NHANES minimum
        ("mma", "0.035 umol/L", 0.035),  # detection limit
        ("mma", "10.558 umol/L", 10.558),
        ("mma", "3020 nmol/L", 3.020),  # 3020 nmol/L = 3.02 umol/L
        ("hcy", "116.21 umol/L", 116.21),
        ("hcy", "1.79 umol/L", 1.79),
        # serum folate 4.5 to 1,561 nmol/L (analytes.toml header)
        ("folate", "4.5 nmol/L", 4.5),
        ("folate", "1561 nmol/L", 1561.0),
    ],
)
def test_real_extreme_values_are_accepted(analyte: str, text: str, canonical: float) -> None:
    marker = b12labs.interpret(**{analyte: text}).markers[b12labs.Analyte(analyte)]
    assert marker.value == pytest.approx(canonical, rel=1e-9)


def test_very_high_mma_in_nmol_per_ml_is_kept_with_a_check_unit_finding() -> None:
    """MMA 250 nmol/mL = 250 umol/L: inside the plausible range (up to 5,000 umol/L in
    analytes.toml, to allow inherited methylmalonic acidaemia) but above 100 umol/L, so it
    is kept and flagged (decision-spec section 1: "check the unit (nmol/L vs umol/L)")."""
    result = b12labs.interpret(mma="250 nmol/mL")
    assert result.markers[b12labs.Analyte.MMA].value == pytest.approx(250.0, rel=1e-9)
    assert "mma_check_unit" in result.finding_codes
    finding = next(f for f in result.findings if f.code == "mma_check_unit")
    assert "check the unit" in finding.message


# --------------------------------------------------------------------------- unit errors via Panel


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize(
    ("analyte", "text", "unit", "error"),
    [
        ("b12", "150 U/L", "U/L", b12labs.IncompatibleUnitError),
        ("b12", "150 %", "%", b12labs.IncompatibleUnitError),
        ("hcy", "5 mmol/mol", "mmol/mol", b12labs.IncompatibleUnitError),
        ("holotc", "50 pg/mL", "pg/mL", b12labs.IncompatibleUnitError),
        ("mma", "0.3 xyz/L", "xyz/L", b12labs.UnknownUnitError),
    ],
)
def test_unit_errors_reach_the_caller_unwrapped(
    entry: Callable[..., object],
    analyte: str,
    text: str,
    unit: str,
    error: type[b12labs.UnitError],
) -> None:
    with pytest.raises(error) as info:
        entry(**{analyte: text})
    assert not isinstance(info.value, ValidationError)
    assert info.value.analyte == analyte
    assert info.value.unit == unit


def test_unit_error_from_panel_carries_the_value() -> None:
    """_models docstring: errors "name the analyte, the value, the unit"."""
    with pytest.raises(b12labs.IncompatibleUnitError) as info:
        Panel(b12=(150, "U/L"))
    assert info.value.value == 150


def test_model_validate_keeps_pydantics_validation_error() -> None:
    """Documented in _models: only the constructor unwraps; model_validate is pydantic's."""
    with pytest.raises(ValidationError, match="check the unit"):
        Panel.model_validate({"b12": "0.3 pg/mL"})


# --------------------------------------------------------------------------- patient fields


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize("age", [200, 131.5, 1e6])
def test_age_above_range_is_implausible(entry: Callable[..., object], age: float) -> None:
    with pytest.raises(b12labs.ImplausibleValueError) as info:
        entry(age=age)
    assert info.value.analyte == "age"
    assert info.value.value == age


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize("age", [-1, -0.5, math.nan, math.inf, "abc", True])
def test_negative_or_non_numeric_age_is_invalid(entry: Callable[..., object], age: object) -> None:
    with pytest.raises(b12labs.InvalidValueError) as info:
        entry(age=age)
    assert info.value.analyte == "age"


@pytest.mark.parametrize("age", [0, 0.5, 45, 70.25, 100])
def test_realistic_ages_are_accepted(age: float) -> None:
    assert Panel(age=age).age == age


@pytest.mark.parametrize(
    ("spelling", "sex"),
    [
        ("F", Sex.FEMALE),
        ("f", Sex.FEMALE),
        ("female", Sex.FEMALE),
        ("Female", Sex.FEMALE),
        (" FEMALE ", Sex.FEMALE),
        ("M", Sex.MALE),
        ("m", Sex.MALE),
        ("male", Sex.MALE),
        ("Male", Sex.MALE),
        (Sex.MALE, Sex.MALE),
    ],
)
def test_sex_spellings_are_accepted(spelling: str, sex: Sex) -> None:
    assert Panel(sex=spelling).sex is sex


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize("spelling", ["x", "unknown", "", "fem", 1])
def test_unknown_sex_is_invalid(entry: Callable[..., object], spelling: object) -> None:
    with pytest.raises(b12labs.InvalidValueError, match="female") as info:
        entry(sex=spelling)
    assert info.value.analyte == "sex"
    assert info.value.value == spelling


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize("sex", ["male", "M", Sex.MALE])
def test_pregnant_male_is_invalid(entry: Callable[..., object], sex: object) -> None:
    with pytest.raises(b12labs.InvalidValueError, match="pregnant") as info:
        entry(pregnant=True, sex=sex)
    assert info.value.analyte == "pregnant"


@pytest.mark.parametrize(
    ("pregnant", "sex"), [(True, "female"), (True, None), (False, "male"), (None, "male")]
)
def test_consistent_pregnancy_and_sex_are_accepted(pregnant: bool | None, sex: str | None) -> None:
    panel = Panel(pregnant=pregnant, sex=sex)
    assert panel.pregnant is pregnant


@pytest.mark.parametrize("flag", ["yes", 1, "true"])
def test_pregnant_must_be_a_boolean(flag: object) -> None:
    with pytest.raises(b12labs.InvalidValueError) as info:
        Panel(pregnant=flag)
    assert info.value.analyte == "pregnant"


@pytest.mark.parametrize("symptom", list(Symptom))
def test_every_symptom_value_is_accepted(symptom: Symptom) -> None:
    assert Panel(symptoms=[symptom.value]).symptoms == (symptom,)
    assert Panel(symptoms=[symptom]).symptoms == (symptom,)


@pytest.mark.parametrize("risk", list(RiskFactor))
def test_every_risk_factor_value_is_accepted(risk: RiskFactor) -> None:
    assert Panel(risk_factors=[risk.value]).risk_factors == (risk,)
    assert Panel(risk_factors=[risk]).risk_factors == (risk,)


@pytest.mark.parametrize(
    ("alias", "symptom"),
    [
        ("twitching", Symptom.FASCICULATIONS),
        ("tingling", Symptom.PARAESTHESIA),
        ("pins and needles", Symptom.PARAESTHESIA),
        ("paresthesia", Symptom.PARAESTHESIA),  # US spelling
        ("Muscle cramps", Symptom.MUSCLE_CRAMPS),
        ("muscle-weakness", Symptom.MUSCLE_WEAKNESS),
        ("Tremor", Symptom.TREMOR),
    ],
)
def test_symptom_aliases_map_to_the_enum(alias: str, symptom: Symptom) -> None:
    assert Panel(symptoms=[alias]).symptoms == (symptom,)


@pytest.mark.parametrize(
    ("alias", "risk"),
    [
        ("ppi", RiskFactor.PROTON_PUMP_INHIBITOR),
        ("PPI", RiskFactor.PROTON_PUMP_INHIBITOR),
        ("proton pump inhibitor", RiskFactor.PROTON_PUMP_INHIBITOR),
        ("vegan", RiskFactor.VEGAN_OR_VEGETARIAN),
        ("Metformin", RiskFactor.METFORMIN),
        ("pernicious anemia", RiskFactor.AUTOIMMUNE_GASTRITIS),
        ("coeliac disease", RiskFactor.COELIAC_OR_CROHNS),
        ("H2-blocker", RiskFactor.H2_BLOCKER),
    ],
)
def test_risk_factor_aliases_map_to_the_enum(alias: str, risk: RiskFactor) -> None:
    assert Panel(risk_factors=[alias]).risk_factors == (risk,)


@pytest.mark.parametrize(
    ("alias", "risk"),
    [
        ("Crohn's disease", RiskFactor.COELIAC_OR_CROHNS),
        ("Sjogren's syndrome", RiskFactor.SJOGRENS_SYNDROME),
    ],
)
def test_risk_factor_spelled_with_an_apostrophe_is_accepted(alias: str, risk: RiskFactor) -> None:
    """The possessive spelling is the usual one; the apostrophe must not become ``_``."""
    assert Panel(risk_factors=[alias]).risk_factors == (risk,)


def test_a_single_string_is_one_item() -> None:
    panel = Panel(symptoms="twitching", risk_factors="ppi")
    assert panel.symptoms == (Symptom.FASCICULATIONS,)
    assert panel.risk_factors == (RiskFactor.PROTON_PUMP_INHIBITOR,)


def test_several_items_are_kept() -> None:
    panel = Panel(symptoms=["tremor", "twitching"], risk_factors=["ppi", "metformin"])
    assert set(panel.symptoms or ()) == {Symptom.TREMOR, Symptom.FASCICULATIONS}
    assert set(panel.risk_factors or ()) == {RiskFactor.PROTON_PUMP_INHIBITOR, RiskFactor.METFORMIN}


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize(
    ("field", "bad", "enum"),
    [
        ("symptoms", "headache", Symptom),
        ("symptoms", "ppi", Symptom),
        ("risk_factors", "smoking", RiskFactor),
        ("risk_factors", "twitching", RiskFactor),
    ],
)
def test_unknown_symptom_or_risk_factor_is_invalid_and_lists_accepted_values(
    entry: Callable[..., object], field: str, bad: str, enum: type[Symptom] | type[RiskFactor]
) -> None:
    with pytest.raises(b12labs.InvalidValueError) as info:
        entry(**{field: ["tremor" if enum is Symptom else "ppi", bad]})
    exc = info.value
    assert exc.analyte == field
    assert exc.value == bad
    message = str(exc)
    assert bad in message
    for member in enum:
        assert member.value in message


def test_none_means_unknown_and_empty_means_none() -> None:
    """Panel docstring / decision-spec section 4: None = unknown, [] = none."""
    unknown = Panel()
    assert unknown.symptoms is None
    assert unknown.risk_factors is None
    none = Panel(symptoms=[], risk_factors=[])
    assert none.symptoms == ()
    assert none.risk_factors == ()


def test_interpret_echoes_unknown_and_empty_patient_lists_distinctly() -> None:
    unknown = b12labs.interpret(b12="150 pmol/L").patient
    empty = b12labs.interpret(b12="150 pmol/L", symptoms=[], risk_factors=[]).patient
    assert unknown.symptoms is None
    assert unknown.risk_factors is None
    assert empty.symptoms == ()
    assert empty.risk_factors == ()


# --------------------------------------------------------------------------- pickling

ERROR_CLASSES = [
    b12labs.B12LabsError,
    b12labs.UnitError,
    b12labs.UnknownUnitError,
    b12labs.IncompatibleUnitError,
    b12labs.InvalidValueError,
    b12labs.ImplausibleValueError,
    b12labs.ProfileError,
    b12labs.InvalidProfileError,
    b12labs.UnknownProfileError,
]


@pytest.mark.parametrize("cls", ERROR_CLASSES)
def test_pickled_error_keeps_type_message_and_fields(cls: type[b12labs.B12LabsError]) -> None:
    error = cls("b12: 0.3 pg/mL; check the unit", analyte="b12", value=0.3, unit="pg/mL")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert copy.message == error.message
    assert (copy.analyte, copy.value, copy.unit) == ("b12", 0.3, "pg/mL")


def test_pickled_error_raised_by_the_library_keeps_its_fields() -> None:
    with pytest.raises(b12labs.ImplausibleValueError) as info:
        Panel(b12="0.3 pg/mL")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is b12labs.ImplausibleValueError
    assert (copy.analyte, copy.value, copy.unit) == ("b12", 0.3, "pg/mL")
    assert "check the unit" in str(copy)


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize("text", ["N/A", "pending", " hemolysed ", "", "na", "--"])
def test_no_result_texts_are_missing_not_errors(entry: Callable[..., object], text: str) -> None:
    """Exports write "N/A", "pending" or "hemolysed" where there is no result: missing is
    missing (b12labs.MISSING_TOKENS), so the marker is simply absent."""
    result = b12labs.interpret(b12=text, mma="0.2 umol/L")
    assert "b12" not in result.markers
    assert entry(b12=text) is not None
