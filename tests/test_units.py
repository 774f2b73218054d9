"""Unit parsing and conversion: ``b12labs.convert``, ``accepted_units`` and unit errors.

Expected numbers are never taken from the library: they are computed here from the molar
masses in decision-spec section 1 / domain-facts "Units and codes" and from the SI prefixes.
"""

from __future__ import annotations

import itertools

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st

import b12labs
from b12labs import _units

# --------------------------------------------------------------------------- reference data

# Molar masses in g/mol: decision-spec section 1 table; domain-facts "Units and codes".
MOLAR_MASS: dict[str, float | None] = {
    "b12": 1355.37,  # cobalamin
    "holotc": None,  # reported in molar units only (decision-spec section 1)
    "mma": 118.09,  # methylmalonic acid
    "hcy": 135.18,  # homocysteine
    "folate": 441.40,  # folic acid
}
MARKERS = tuple(MOLAR_MASS)

# Canonical units: decision-spec section 1 table.
CANONICAL_UNIT = {
    "b12": "pmol/L",
    "holotc": "pmol/L",
    "mma": "umol/L",
    "hcy": "umol/L",
    "folate": "nmol/L",
}

# Units seen on real reports, per analyte: decision-spec section 1 table, last column.
REPORTED_UNITS = {
    "b12": ("pg/mL", "ng/L", "pmol/L"),
    "holotc": ("pmol/L",),
    "mma": ("umol/L", "nmol/L", "nmol/mL", "mg/L"),
    "hcy": ("umol/L", "mg/L"),
    "folate": ("ng/mL", "ug/L", "nmol/L"),
}

# Independent scale of each unit, from SI prefixes only:
# amount units in mol/L per unit, mass units in g/L per unit.
MOL_PER_L = {
    "pmol/L": 1e-12,
    "nmol/L": 1e-9,
    "umol/L": 1e-6,
    "nmol/mL": 1e-9 / 1e-3,  # nmol per millilitre = umol per litre
    "mmol/L": 1e-3,
}
G_PER_L = {
    "pg/mL": 1e-12 / 1e-3,  # = ng/L
    "ng/L": 1e-9,
    "ng/mL": 1e-9 / 1e-3,  # = ug/L
    "ug/L": 1e-6,
    "mg/L": 1e-3,
    "mg/dL": 1e-3 / 1e-1,  # a decilitre is 0.1 L
}


def mol_per_l(analyte: str, unit: str) -> float:
    """Independent: 1 ``unit`` of ``analyte`` in mol/L (mass units through the molar mass)."""
    if unit in MOL_PER_L:
        return MOL_PER_L[unit]
    molar_mass = MOLAR_MASS[analyte]
    assert molar_mass is not None, f"{analyte} has no molar mass"
    return G_PER_L[unit] / molar_mass


def expected_factor(analyte: str, from_unit: str, to_unit: str) -> float:
    """Independent: the number that 1 ``from_unit`` becomes in ``to_unit``."""
    return mol_per_l(analyte, from_unit) / mol_per_l(analyte, to_unit)


def unit_pairs() -> list[tuple[str, str, str]]:
    """Every (analyte, from, to) pair of accepted units, including from == to."""
    return [
        (analyte, a, b)
        for analyte in MARKERS
        for a, b in itertools.product(b12labs.accepted_units(analyte), repeat=2)
    ]


@pytest.fixture(scope="module")
def ureg() -> pint.UnitRegistry:
    """An independent pint registry (not the library's), built once: building one is slow."""
    return pint.UnitRegistry()


# --------------------------------------------------------------------------- accepted units


@pytest.mark.parametrize("analyte", MARKERS)
def test_accepted_units_include_every_unit_seen_on_real_reports(analyte: str) -> None:
    accepted = b12labs.accepted_units(analyte)
    assert set(REPORTED_UNITS[analyte]) <= set(accepted)
    assert CANONICAL_UNIT[analyte] in accepted


@pytest.mark.parametrize("analyte", MARKERS)
def test_accepted_units_are_all_known_to_this_test_table(analyte: str) -> None:
    """Guards the independent table below: every accepted unit has an independent scale."""
    for unit in b12labs.accepted_units(analyte):
        assert unit in MOL_PER_L or unit in G_PER_L, unit


def test_holotc_accepts_molar_units_only() -> None:
    # decision-spec section 1: holoTC is reported in molar units only.
    accepted = b12labs.accepted_units("holotc")
    assert accepted
    assert all(unit in MOL_PER_L for unit in accepted)


@pytest.mark.parametrize("analyte", ["b12", "mma", "hcy", "folate"])
def test_analytes_with_a_molar_mass_accept_mass_units(analyte: str) -> None:
    # decision-spec section 1: mass and molar units convert through the molar mass.
    accepted = b12labs.accepted_units(analyte)
    assert any(unit in G_PER_L for unit in accepted)
    assert any(unit in MOL_PER_L for unit in accepted)


# --------------------------------------------------------------------------- conversion


@pytest.mark.parametrize(
    ("analyte", "value", "from_unit", "to_unit", "expected"),
    [
        # B12: 200 pg/mL = 200 ng/L = 200e-9 g/L / 1355.37 g/mol = 200/1.35537 pmol/L
        ("b12", 200, "pg/mL", "pmol/L", 200 / 1.35537),
        # domain-facts: 1 pg/mL = 0.7378 pmol/L (= 1/1.35537)
        ("b12", 1, "pg/mL", "pmol/L", 1 / 1.35537),
        ("b12", 1, "ng/L", "pmol/L", 1 / 1.35537),  # ng/L and pg/mL are the same
        ("b12", 147.56, "pmol/L", "pg/mL", 147.56 * 1.35537),
        ("b12", 1, "ng/mL", "pmol/L", 1000 / 1.35537),
        ("b12", 1000, "pmol/L", "nmol/L", 1.0),
        # folate: 1 ng/mL = 1e-6 g/L / 441.40 g/mol = 1000/441.40 nmol/L = 2.2655
        ("folate", 1, "ng/mL", "nmol/L", 1000 / 441.40),
        ("folate", 1, "ug/L", "nmol/L", 1000 / 441.40),
        # decision-spec: folate low below 6.8 nmol/L (3 ng/mL): 3 ng/mL = 3000/441.40 nmol/L
        ("folate", 3, "ng/mL", "nmol/L", 3000 / 441.40),
        # MMA: 378 nmol/L = 0.378 umol/L (prefix arithmetic; labcorp-cascade threshold)
        ("mma", 378, "nmol/L", "umol/L", 0.378),
        ("mma", 0.378, "umol/L", "nmol/L", 378.0),
        ("mma", 1, "nmol/mL", "umol/L", 1.0),  # nmol/mL = umol/L
        # MMA in mg/dL: 1 mg/dL = 1e-2 g/L / 118.09 g/mol = 1e4/118.09 umol/L
        ("mma", 1, "mg/dL", "umol/L", 1e4 / 118.09),
        ("mma", 1, "mg/L", "umol/L", 1e3 / 118.09),
        ("mma", 0.4, "umol/L", "mg/L", 0.4 * 118.09 / 1e3),
        # homocysteine: 1 mg/L = 1e-3 g/L / 135.18 g/mol = 1e3/135.18 umol/L
        ("hcy", 1, "mg/L", "umol/L", 1e3 / 135.18),
        ("hcy", 15, "umol/L", "mg/L", 15 * 135.18 / 1e3),
        # holoTC: molar only, pure prefix arithmetic
        ("holotc", 0.025, "nmol/L", "pmol/L", 25.0),
        ("holotc", 70, "pmol/L", "nmol/L", 0.070),
    ],
)
def test_convert_matches_independent_arithmetic(
    analyte: str, value: float, from_unit: str, to_unit: str, expected: float
) -> None:
    result = b12labs.convert(value, from_unit, to_unit, analyte=analyte)
    assert result == pytest.approx(expected, rel=1e-9)


def test_convert_200_pg_per_ml_b12_is_147_56_pmol_per_l() -> None:
    # decision-spec / convert docstring example: 200 pg/mL = 147.56 pmol/L
    assert round(b12labs.convert(200, "pg/mL", "pmol/L", analyte="b12"), 2) == 147.56


def test_convert_b12_factor_matches_published_rounded_factor() -> None:
    # domain-facts: 1 pg/mL = 0.7378 pmol/L (NHANES rounds to 0.738)
    assert round(b12labs.convert(1, "pg/mL", "pmol/L", analyte="b12"), 4) == 0.7378


def test_convert_folate_factor_matches_published_rounded_factor() -> None:
    # domain-facts: 1 ng/mL = 2.266 nmol/L (NHANES uses 2.265); 1000/441.40 = 2.26552
    result = b12labs.convert(1, "ng/mL", "nmol/L", analyte="folate")
    assert round(result, 4) == 2.2655
    assert round(result, 3) == 2.266


def test_convert_creatinine_mg_per_dl_gives_nhanes_factor_88_4() -> None:
    # analytes.toml: creatinine 113.12 g/mol reproduces NHANES's 88.4 umol/L per mg/dL;
    # independent: 1 mg/dL = 1e-2 g/L / 113.12 g/mol = 1e4/113.12 umol/L
    result = b12labs.convert(1, "mg/dL", "umol/L", analyte="creatinine")
    assert result == pytest.approx(1e4 / 113.12, rel=1e-9)
    assert round(result, 1) == 88.4


@pytest.mark.parametrize(("analyte", "from_unit", "to_unit"), unit_pairs())
def test_convert_every_accepted_unit_pair_matches_independent_factor(
    analyte: str, from_unit: str, to_unit: str
) -> None:
    result = b12labs.convert(1.0, from_unit, to_unit, analyte=analyte)
    assert result == pytest.approx(expected_factor(analyte, from_unit, to_unit), rel=1e-9)


def test_convert_accepts_the_analyte_enum() -> None:
    result = b12labs.convert(200, "pg/mL", "pmol/L", analyte=b12labs.Analyte.B12)
    assert result == pytest.approx(200 / 1.35537, rel=1e-9)  # decision-spec section 1


def test_convert_unknown_analyte_is_a_b12labs_error() -> None:
    with pytest.raises(b12labs.B12LabsError, match="vitamin_d"):
        b12labs.convert(1, "pmol/L", "pmol/L", analyte="vitamin_d")


@given(
    triple=st.sampled_from(unit_pairs()),
    value=st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_convert_round_trip_returns_the_original_value(
    triple: tuple[str, str, str], value: float
) -> None:
    analyte, a, b = triple
    there = b12labs.convert(value, a, b, analyte=analyte)
    back = b12labs.convert(there, b, a, analyte=analyte)
    assert abs(back - value) / value < 1e-9


@given(
    triple=st.sampled_from(unit_pairs()),
    value=st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_convert_is_linear_in_the_value(triple: tuple[str, str, str], value: float) -> None:
    analyte, a, b = triple
    result = b12labs.convert(value, a, b, analyte=analyte)
    assert result == pytest.approx(value * expected_factor(analyte, a, b), rel=1e-9)


# --------------------------------------------------------------------------- spellings

# (analyte, spelling, the canonical UCUM code it must equal). decision-spec section 1 lists
# these spellings as seen in lab exports and HL7 v2 feeds.
SPELLINGS: list[tuple[str, str, str]] = [
    ("mma", "\u00b5mol/L", "umol/L"),  # MICRO SIGN U+00B5
    ("mma", "\u03bcmol/L", "umol/L"),  # GREEK SMALL LETTER MU U+03BC
    ("mma", "umol/L", "umol/L"),
    ("mma", "mcmol/L", "umol/L"),
    ("hcy", "\u00b5mol/l", "umol/L"),
    ("hcy", "\u03bcmol/l", "umol/L"),
    ("folate", "mcg/L", "ug/L"),
    ("folate", "\u00b5g/L", "ug/L"),
    ("b12", "mcg/L", "ug/L"),
    ("b12", "pg/ml", "pg/mL"),
    ("b12", "pmol/l", "pmol/L"),
    ("b12", "ng/l", "ng/L"),
    ("mma", "nmol/mL", "nmol/mL"),
    ("mma", "nmol/ml", "nmol/mL"),
    ("mma", "\u00b5M", "umol/L"),  # micromolar shorthand
    ("mma", "\u03bcM", "umol/L"),
    ("hcy", "uM", "umol/L"),
    ("mma", "nM", "nmol/L"),
    # surrounding (and inner) white space
    ("b12", " pmol/L ", "pmol/L"),
    ("b12", "\tpg/mL\n", "pg/mL"),
    ("mma", "  umol / L  ", "umol/L"),
    # upper-case HL7 v2 / laboratory-feed spellings: must NOT be petagauss or petamoles
    ("b12", "PG/ML", "pg/mL"),
    ("b12", "PMOL/L", "pmol/L"),
    ("holotc", "PMOL/L", "pmol/L"),
    ("mma", "UMOL/L", "umol/L"),
    ("hcy", "UMOL/L", "umol/L"),
    ("mma", "NMOL/L", "nmol/L"),
    ("folate", "NMOL/L", "nmol/L"),
    ("folate", "NG/ML", "ng/mL"),
    ("mma", "NMOL/ML", "nmol/mL"),
    ("b12", "Pmol/L", "pmol/L"),  # plain pint would read petamoles
    ("b12", "Pg/mL", "pg/mL"),  # plain pint would read petagrams
    ("mma", "MCMOL/L", "umol/L"),
    ("folate", "MCG/L", "ug/L"),
    # pint-parsable long forms
    ("mma", "nanomole / liter", "nmol/L"),
    ("b12", "picomole / liter", "pmol/L"),
    ("hcy", "micromole / liter", "umol/L"),
    ("mma", "micromole per liter", "umol/L"),
    ("folate", "nanogram / milliliter", "ng/mL"),
]


@pytest.mark.parametrize(("analyte", "spelling", "canonical"), SPELLINGS)
def test_unit_spelling_converts_like_its_canonical_code(
    analyte: str, spelling: str, canonical: str
) -> None:
    assert b12labs.convert(1.0, spelling, canonical, analyte=analyte) == pytest.approx(
        1.0, rel=1e-12
    )


@pytest.mark.parametrize(("analyte", "spelling", "canonical"), SPELLINGS)
def test_unit_spelling_has_the_independent_numeric_factor(
    analyte: str, spelling: str, canonical: str
) -> None:
    """The factor to the analyte's canonical unit is the laboratory meaning, not pint's."""
    target = CANONICAL_UNIT[analyte]
    result = b12labs.convert(1.0, spelling, target, analyte=analyte)
    assert result == pytest.approx(expected_factor(analyte, canonical, target), rel=1e-9)


def test_upper_case_pg_per_ml_is_picograms_not_petagauss() -> None:
    # 100 PG/ML of B12 = 100 pg/mL = 100/1.35537 pmol/L (decision-spec section 1 molar mass)
    result = b12labs.convert(100, "PG/ML", "pmol/L", analyte="b12")
    assert result == pytest.approx(100 / 1.35537, rel=1e-9)


def test_capitalised_pmol_is_picomoles_not_petamoles() -> None:
    # Pmol/L read as petamole/L would be 1e27 times a picomole/L.
    assert b12labs.convert(150, "Pmol/L", "pmol/L", analyte="b12") == pytest.approx(150, rel=1e-12)


@pytest.mark.parametrize("unit", ["mm", "nm", "um", "m"])
def test_lower_case_length_units_are_not_read_as_molar_shorthands(unit: str) -> None:
    """``mm`` is a millimetre and ``nm`` a nanometre: not mM / nM by case-folding.

    decision-spec section 1: spellings go through an explicit alias table, "never through
    case-insensitive guessing"; a length is a unit of the wrong kind.
    """
    with pytest.raises(b12labs.IncompatibleUnitError):
        b12labs.convert(1.0, unit, "umol/L", analyte="hcy")


# --------------------------------------------------------------------------- unit errors

WRONG_KIND_UNITS = ["mmol/mol", "%", "U/L", "kg", "mg", "L", "mmol", "furlongs"]
UNKNOWN_UNITS = ["xyz/L", "furlongz", "blah", "pmol/Lx", "   "]


@pytest.mark.parametrize("analyte", MARKERS)
@pytest.mark.parametrize("unit", WRONG_KIND_UNITS)
def test_wrong_kind_unit_raises_incompatible_unit_error(analyte: str, unit: str) -> None:
    # decision-spec section 1: units of the wrong kind (mmol/mol, %, U/L, kg) are an error.
    # "furlongs" is a real (length) unit to pint, hence incompatible rather than unknown.
    with pytest.raises(b12labs.IncompatibleUnitError):
        b12labs.convert(1.0, unit, CANONICAL_UNIT[analyte], analyte=analyte)


@pytest.mark.parametrize("analyte", MARKERS)
@pytest.mark.parametrize("unit", WRONG_KIND_UNITS)
def test_wrong_kind_unit_as_target_raises_incompatible_unit_error(analyte: str, unit: str) -> None:
    with pytest.raises(b12labs.IncompatibleUnitError):
        b12labs.convert(1.0, CANONICAL_UNIT[analyte], unit, analyte=analyte)


@pytest.mark.parametrize("analyte", MARKERS)
@pytest.mark.parametrize("unit", UNKNOWN_UNITS)
def test_gibberish_unit_raises_unknown_unit_error(analyte: str, unit: str) -> None:
    with pytest.raises(b12labs.UnknownUnitError):
        b12labs.convert(1.0, unit, CANONICAL_UNIT[analyte], analyte=analyte)


@pytest.mark.parametrize("unit", ["pg/mL", "ng/L", "PG/ML", "mcg/L", "ng/mL", "mg/dL"])
def test_mass_unit_for_holotc_is_rejected_as_molar_only(unit: str) -> None:
    # decision-spec section 1: holoTC is reported in molar units only.
    with pytest.raises(b12labs.IncompatibleUnitError, match="molar") as info:
        b12labs.convert(50, unit, "pmol/L", analyte="holotc")
    assert info.value.analyte == "holotc"
    assert info.value.unit == unit


ERROR_CASES: list[tuple[str, str, type[b12labs.UnitError]]] = [
    *[("b12", u, b12labs.IncompatibleUnitError) for u in ("mmol/mol", "%", "U/L", "kg")],
    ("mma", "%", b12labs.IncompatibleUnitError),
    ("holotc", "pg/mL", b12labs.IncompatibleUnitError),
    ("folate", "xyz/L", b12labs.UnknownUnitError),
    ("hcy", "furlongz", b12labs.UnknownUnitError),
    ("holotc", "xyz/L", b12labs.UnknownUnitError),
]


@pytest.mark.parametrize(("analyte", "unit", "error"), ERROR_CASES)
def test_unit_error_is_a_b12labs_value_error_with_fields(
    analyte: str, unit: str, error: type[b12labs.UnitError]
) -> None:
    with pytest.raises(error) as info:
        b12labs.convert(1.0, unit, CANONICAL_UNIT[analyte], analyte=analyte)
    exc = info.value
    assert isinstance(exc, b12labs.UnitError)
    assert isinstance(exc, b12labs.B12LabsError)
    assert isinstance(exc, ValueError)
    assert exc.analyte == analyte
    assert exc.unit == unit


@pytest.mark.parametrize(("analyte", "unit", "error"), ERROR_CASES)
def test_unit_error_message_names_analyte_unit_and_accepted_units(
    analyte: str, unit: str, error: type[b12labs.UnitError]
) -> None:
    with pytest.raises(error) as info:
        b12labs.convert(1.0, unit, CANONICAL_UNIT[analyte], analyte=analyte)
    message = str(info.value)
    assert analyte in message
    assert unit in message
    assert "accepted" in message
    for accepted in b12labs.accepted_units(analyte):
        assert accepted in message


def test_unit_errors_are_catchable_as_value_error() -> None:
    with pytest.raises(ValueError, match="kg"):
        b12labs.convert(1.0, "kg", "pmol/L", analyte="b12")


# --------------------------------------------------------------------------- alias table


def test_alias_keys_are_upper_case_and_normalised() -> None:
    for key in _units.ALIASES:
        assert key == key.upper(), key
        assert key == _units.normalize_unit_text(key), key


def test_alias_keys_do_not_collide() -> None:
    """No two laboratory codes fold to the same upper-case key."""
    sources = [code.upper() for code in _units._LAB_UNITS]
    assert len(sources) == len(set(sources))
    assert len(_units.ALIASES) == len(sources)


def test_alias_lab_unit_keys_fold_from_their_target() -> None:
    for key, target in _units.ALIASES.items():
        assert target.upper() == key


def test_molar_shorthands_are_never_case_folded() -> None:
    """uM, nM... are matched as written: upper-cased they would be lengths (mm, nm)."""
    for key in _units.MOLAR_SHORTHANDS:
        assert key.upper() not in _units.ALIASES, key


@pytest.mark.parametrize("target", sorted(set(_units.ALIASES.values())))
def test_alias_target_is_a_concentration_to_plain_pint(
    target: str, ureg: pint.UnitRegistry
) -> None:
    """Every alias target, parsed case-sensitively by an independent registry, is a
    mass or amount-of-substance concentration."""
    dims = ureg.Quantity(1.0, target).dimensionality
    concentration = {
        ureg.Quantity(1.0, "g/L").dimensionality,
        ureg.Quantity(1.0, "mol/L").dimensionality,
    }
    assert dims in concentration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u00b5mol/L", "umol/L"),
        ("\u03bcmol/L", "umol/L"),
        ("mcmol/L", "umol/L"),
        ("mcg/L", "ug/L"),
        (" pg / mL ", "pg/mL"),
    ],
)
def test_normalize_unit_text_writes_micro_as_u_and_drops_spaces(text: str, expected: str) -> None:
    assert _units.normalize_unit_text(text) == expected


# --------------------------------------------------------------------------- exact table factors

TABLE_ANALYTES = ("b12", "holotc", "mma", "hcy", "folate", "creatinine")


@pytest.mark.parametrize("analyte", TABLE_ANALYTES)
@pytest.mark.parametrize("code", _units._LAB_UNITS)
def test_table_factors_equal_an_independent_pint_registry(
    analyte: str, code: str, ureg: pint.UnitRegistry
) -> None:
    """The table's factors are computed without pint (exact arithmetic on SI prefixes and
    the molar mass); they agree with pint to rounding."""
    canonical = {**CANONICAL_UNIT, "creatinine": "mg/dL"}[analyte]
    molar_mass = {**MOLAR_MASS, "creatinine": 113.12}[analyte]
    one = ureg.Quantity(1.0, code)
    target = ureg.Quantity(1.0, canonical)
    if one.dimensionality != target.dimensionality:
        if molar_mass is None:
            with pytest.raises(b12labs.IncompatibleUnitError):
                _units.canonical_factor(analyte, code)
            return
        mass = ureg.Quantity(molar_mass, "g/mol")
        one = one / mass if one.check("[mass]/[length]**3") else one * mass
    expected = one.to(target.units).magnitude
    assert _units.canonical_factor(analyte, code) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize(
    ("analyte", "spelling", "same_as"),
    [
        ("b12", "picomole/liter", "pmol/L"),
        ("b12", "pg/cm^3", "pg/mL"),
        ("b12", "nanogram / liter", "ng/L"),
        ("mma", "micromole/liter", "umol/L"),
        ("mma", "nmol/cm**3", "umol/L"),
        ("folate", "nanogram/milliliter", "ng/mL"),
    ],
)
def test_pint_spellings_give_the_table_factor_to_the_last_bit(
    analyte: str, spelling: str, same_as: str
) -> None:
    """A spelling only pint reads is snapped to the table's exact factor: every spelling of a
    unit gives the same answer, and a cached spelling the same as a fresh parse."""
    assert _units.canonical_factor(analyte, spelling) == _units.canonical_factor(analyte, same_as)


@pytest.mark.parametrize("unit", ["pmol/L%", "percent*pmol/L", "ppm*g/L", "pmol/L/count"])
def test_a_concentration_scaled_by_a_pure_number_is_refused(unit: str) -> None:
    with pytest.raises(b12labs.IncompatibleUnitError, match="pure number"):
        b12labs.convert(100, unit, "pmol/L", analyte="b12")


def test_table_spellings_never_load_pint() -> None:
    import subprocess
    import sys

    code = (
        "import sys, b12labs\n"
        "for u in ('pg/mL', 'PG/ML', 'µmol/l', 'nM', 'mg/dL', 'NG/ML'):\n"
        "    b12labs.convert(1.0, u, 'pmol/L', analyte='b12')\n"
        "b12labs.accepted_units('holotc')\n"
        "try:\n"
        "    b12labs.interpret(holotc='50 pg/mL')\n"
        "except b12labs.IncompatibleUnitError:\n"
        "    pass\n"
        "print('pint' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("unit", ['pmol/L"', "pmol/L'", "pmol/L#", "pmol/L;", "pmol/L!", '"pmol/L'])
def test_stray_punctuation_in_a_unit_is_unknown_on_every_python(unit: str):
    # pint reads text with Python's tokenizer, which skipped a stray quote on 3.11 and
    # refuses it on 3.13: b12labs refuses such text before pint, the same on every Python
    with pytest.raises(b12labs.UnknownUnitError):
        b12labs.interpret(b12=(150, unit))
