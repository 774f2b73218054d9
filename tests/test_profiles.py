"""Profiles: every threshold of decision-spec section 2, censoring, codes, loading, validation.

Expected categories come from the decision specification (``decision-spec.md``) and the
sources it cites (``domain-facts.md``), never from library output. Section 2 says: "X to Y"
includes both ends, "< X" is strictly below, "above X" is strictly greater, and a value given in
the threshold's own unit and equal to it classifies exactly as the source says.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import b12labs
from b12labs import Category, InterpretationCode, Status

NICE = "nice-ng239"
MAYO = "mayo-cascade"
LABCORP = "labcorp-cascade"
SURVEY = "population-survey"
PROFILES = (NICE, MAYO, LABCORP, SURVEY)

LOW = Category.LOW
INDET = Category.INDETERMINATE
NORMAL = Category.NORMAL
ABOVE = Category.ABOVE_REFERENCE
ELEVATED = Category.ELEVATED
MARKED = Category.MARKEDLY_ELEVATED
MODERATE = Category.MODERATE
INTERMEDIATE = Category.INTERMEDIATE
SEVERE = Category.SEVERE
UNCLASSIFIABLE = Category.UNCLASSIFIABLE


def category(profile: str | b12labs.Profile, analyte: str, value: str, **context: Any) -> Category:
    """The category ``interpret`` reports for one marker."""
    result = b12labs.interpret(profile=profile, **{analyte: value}, **context)
    return result.markers[analyte].category


def _fmt(x: float) -> str:
    """Shortest text that round-trips ``x`` (so the value given is exactly the one meant)."""
    return repr(float(x)) if x != int(x) else str(int(x))


# ----------------------------------------------------------------------------- section 2 table


class Cut(NamedTuple):
    """One threshold of the spec table: a value at ``x`` goes to ``at``; below/above it as given.

    ``edge`` is the spec's wording: "<" (strictly below X is the lower category, so X itself
    is in the upper one), "to" (an inclusive upper end: X is in the lower category) or ">"
    ("above X": X itself is in the lower category).
    """

    profile: str
    analyte: str
    x: float
    unit: str
    edge: str  # "<", "to" or ">"
    below: Category
    above: Category
    step: float  # one unit of the last digit a laboratory reports
    spec: str
    context: tuple[tuple[str, Any], ...] = ()

    @property
    def at(self) -> Category:
        return self.above if self.edge == "<" else self.below


# decision-spec section 2: B12 low / indeterminate / above reference, per profile.
_B12 = {
    NICE: (180, 350, 914, "ng/L", "NICE NG239: <180 low, 180 to 350 ng/L indeterminate, >914"),
    MAYO: (150, 400, 914, "ng/L", "Mayo ACASM: <150 low, 150 to 400 ng/L, >914"),
    LABCORP: (200, 400, 1245, "pg/mL", "Labcorp 141503: <200, 200 to 400 pg/mL, >1245"),
    SURVEY: (148, 258, None, "pmol/L", "Qi 2014: <148, 148 to 258 pmol/L, no upper"),
}
# decision-spec section 2: MMA "elevated above", per profile (NICE: age-unknown default).
_MMA = {
    NICE: (0.40, "umol/L", 0.001, "NICE profile: MMA elevated above 0.40 umol/L (adult limit)"),
    MAYO: (0.40, "umol/L", 0.001, "Mayo ACASM: MMA elevated above 0.40 umol/L"),
    LABCORP: (378, "nmol/L", 1, "Labcorp 141503: MMA elevated above 378 nmol/L"),
    SURVEY: (0.271, "umol/L", 0.001, "Stabler/Allen: MMA elevated above 0.271 umol/L"),
}
# decision-spec section 2: homocysteine elevated above 15 (13 for the survey profile).
_HCY_ELEVATED = {NICE: 15, MAYO: 15, LABCORP: 15, SURVEY: 13}


def _spec_cuts() -> list[Cut]:
    cuts: list[Cut] = []
    for p in PROFILES:
        low, upper, above_ref, unit, why = _B12[p]
        cuts += [
            Cut(p, "b12", low, unit, "<", LOW, INDET, 1, f"{why}: low"),
            Cut(p, "b12", upper, unit, "to", INDET, NORMAL, 1, f"{why}: indeterminate upper end"),
        ]
        if above_ref is not None:
            cuts.append(Cut(p, "b12", above_ref, unit, ">", NORMAL, ABOVE, 1, f"{why}: above ref"))
        cuts += [
            Cut(p, "holotc", 25, "pmol/L", "<", LOW, INDET, 1, "NICE bands: holoTC <25 low"),
            Cut(p, "holotc", 70, "pmol/L", "to", INDET, NORMAL, 1, "NICE bands: 25 to 70 indet"),
        ]
        x, unit, step, why = _MMA[p]
        cuts.append(Cut(p, "mma", x, unit, ">", NORMAL, ELEVATED, step, why))
        cuts.append(
            Cut(
                p, "mma", 0.75, "umol/L", ">", ELEVATED, MARKED, 0.001, "common: MMA markedly >0.75"
            )
        )
        cuts += [
            Cut(p, "hcy", _HCY_ELEVATED[p], "umol/L", ">", NORMAL, MODERATE, 0.1, "Hcy moderate >"),
            Cut(
                p, "hcy", 30, "umol/L", ">", MODERATE, INTERMEDIATE, 0.1, "common: Hcy >30 interm."
            ),
            Cut(p, "hcy", 100, "umol/L", ">", INTERMEDIATE, SEVERE, 0.1, "common: Hcy >100 severe"),
            Cut(
                p, "folate", 6.8, "nmol/L", "<", LOW, NORMAL, 0.1, "common: folate low <6.8 nmol/L"
            ),
        ]
    # NICE's MMA limits are age-specific: 18-64 y 0.40, 65 y and over 0.46 umol/L (Danish RI).
    cuts += [
        Cut(NICE, "mma", 0.40, "umol/L", ">", NORMAL, ELEVATED, 0.001, "NICE MMA age 40: 0.40",
            (("age", 40),)),
        Cut(NICE, "mma", 0.46, "umol/L", ">", NORMAL, ELEVATED, 0.001, "NICE MMA age 65+: 0.46",
            (("age", 70),)),
        Cut(NICE, "mma", 0.46, "umol/L", ">", NORMAL, ELEVATED, 0.001, "NICE MMA age 65: 0.46",
            (("age", 65),)),
        Cut(NICE, "mma", 0.75, "umol/L", ">", ELEVATED, MARKED, 0.001, "markedly >0.75 at 70",
            (("age", 70),)),
    ]  # fmt: skip
    return cuts


SPEC_CUTS = _spec_cuts()


def _cut_id(c: Cut, where: str) -> str:
    ctx = "".join(f",{k}={v}" for k, v in c.context)
    return f"{c.profile}:{c.analyte}{ctx}:{where}:{c.spec}"


def _cut_params() -> list[Any]:
    params = []
    for c in SPEC_CUTS:
        x = c.x
        points = (
            ("at", x, c.at),
            ("last-digit-below", x - c.step, c.below),
            ("last-digit-above", x + c.step, c.above),
            ("1e-6-below", x * (1 - 1e-6), c.below),
            ("1e-6-above", x * (1 + 1e-6), c.above),
        )
        for where, value, expected in points:
            text = f"{_fmt(value)} {c.unit}"
            params.append(
                pytest.param(c.profile, c.analyte, text, dict(c.context), expected,
                             id=_cut_id(c, f"{where}={text}"))
            )  # fmt: skip
    return params


@pytest.mark.parametrize(("profile", "analyte", "value", "context", "expected"), _cut_params())
def test_threshold_boundaries_in_the_thresholds_own_unit(
    profile, analyte, value, context, expected
):
    assert category(profile, analyte, value, **context) == expected


def test_every_shipped_profile_is_covered_by_the_boundary_table():
    assert set(b12labs.list_profiles()) == set(PROFILES)
    assert b12labs.list_profiles()[0] == NICE  # the default profile comes first
    assert b12labs.interpret(b12="500 ng/L").profile_id == NICE
    for p in PROFILES:
        analytes = {c.analyte for c in SPEC_CUTS if c.profile == p}
        assert analytes == {"b12", "holotc", "mma", "hcy", "folate"}


# The profile data must hold the numbers of the spec table, each with the right edge
# ("<" -> strictly below; "to" -> inclusive upper end; ">" -> strictly above).
_EDGE_WORDS = {"<": "below", "to": "up_to", ">": "above"}
_PATHS = {
    ("b12", "<"): "b12.low",
    ("b12", "to"): "b12.indeterminate",
    ("b12", ">"): "b12.above_reference",
    ("holotc", "<"): "holotc.low",
    ("holotc", "to"): "holotc.indeterminate",
    ("folate", "<"): "folate.low",
}


def _data_params() -> list[Any]:
    params = []
    for c in SPEC_CUTS:
        if c.context:
            continue
        if c.analyte == "mma":
            path = "mma.markedly_elevated" if c.x == 0.75 else "mma.elevated"
        elif c.analyte == "hcy":
            path = {30: "hcy.intermediate", 100: "hcy.severe"}.get(c.x, "hcy.elevated")
        else:
            path = _PATHS[c.analyte, c.edge]
        params.append(pytest.param(c.profile, path, c, id=f"{c.profile}:{path}:{c.spec}"))
    return params


@pytest.mark.parametrize(("profile", "path", "cut"), _data_params())
def test_profile_data_matches_the_spec_table(profile, path, cut):
    threshold = b12labs.get_profile(profile).thresholds()[path]
    assert threshold.edge == _EDGE_WORDS[cut.edge]
    in_spec_unit = b12labs.convert(threshold.value, threshold.unit, cut.unit, analyte=cut.analyte)
    assert in_spec_unit == pytest.approx(cut.x, rel=1e-12)


@pytest.mark.parametrize(
    ("profile", "path", "unit"),
    [
        pytest.param(NICE, "b12.low", "ng/L", id="NICE NG239 states B12 in ng/L"),
        pytest.param(NICE, "b12.indeterminate", "ng/L", id="NICE NG239 indeterminate in ng/L"),
        pytest.param(MAYO, "b12.low", "ng/L", id="Mayo ACASM states B12 in ng/L"),
        pytest.param(LABCORP, "b12.low", "pg/mL", id="Labcorp 141503 states B12 in pg/mL"),
        pytest.param(LABCORP, "b12.above_reference", "pg/mL", id="Labcorp reference in pg/mL"),
        pytest.param(LABCORP, "mma.elevated", "nmol/L", id="Labcorp 141503 states MMA in nmol/L"),
        pytest.param(SURVEY, "b12.low", "pmol/L", id="Qi 2014 states B12 in pmol/L"),
        pytest.param(NICE, "folate.low", "nmol/L", id="WHO folate 6.8 nmol/L"),
    ],
)
def test_thresholds_are_stored_in_the_unit_the_source_states(profile, path, unit):
    assert b12labs.get_profile(profile).thresholds()[path].unit == unit


def test_population_survey_has_no_b12_upper_limit():
    # decision-spec 2: population-survey "B12 above reference: none".
    assert b12labs.get_profile(SURVEY).b12.above_reference is None
    assert category(SURVEY, "b12", "20000 pmol/L") == NORMAL
    assert (
        "b12_above_reference"
        not in b12labs.interpret(b12="20000 pmol/L", profile=SURVEY).finding_codes
    )


def test_nice_mma_age_limit_starts_at_65_inclusive():
    # "age 65+: 0.46 umol/L" (Danish reference interval: 65 years and over).
    assert category(NICE, "mma", "0.43 umol/L", age=64.9) == ELEVATED
    assert category(NICE, "mma", "0.43 umol/L", age=65) == NORMAL


@pytest.mark.parametrize(
    ("profile", "age", "expected"),
    [
        pytest.param(NICE, 40, ELEVATED, id="NICE age 40: limit 0.40, so 0.43 elevated"),
        pytest.param(NICE, 70, NORMAL, id="NICE age 70: limit 0.46 (65+), so 0.43 normal"),
        pytest.param(NICE, None, ELEVATED, id="NICE age unknown: default 0.40, so 0.43 elevated"),
        pytest.param(MAYO, 70, ELEVATED, id="Mayo has no age-specific limit: 0.40"),
        pytest.param(LABCORP, 70, ELEVATED, id="Labcorp 378 nmol/L, no age-specific limit"),
        pytest.param(SURVEY, 70, ELEVATED, id="survey 0.271 umol/L, no age-specific limit"),
    ],
)
def test_mma_043_by_age(profile, age, expected):
    assert category(profile, "mma", "0.43 umol/L", age=age) == expected


# ----------------------------------------------------------------------------- spellings

# A value equal to a threshold written in an equivalent unit spelling must classify the same
# as in the threshold's own unit (decision-spec 2: no floating-point drift from conversion).
EQUIVALENT_SPELLINGS = [
    # (profile, analyte, value, expected, why)
    (NICE, "b12", "180 pg/mL", INDET, "180 pg/mL = 180 ng/L: NICE 180 to 350 indeterminate"),
    (NICE, "b12", "0.18 ng/mL", INDET, "0.18 ng/mL = 180 ng/L"),
    (NICE, "b12", "0.18 ug/L", INDET, "0.18 ug/L = 180 ng/L"),
    (NICE, "b12", "180 PG/ML", INDET, "HL7 upper case PG/ML = pg/mL"),
    (NICE, "b12", "350 pg/mL", INDET, "350 pg/mL = 350 ng/L: inclusive upper end"),
    (NICE, "b12", "0.35 ng/mL", INDET, "0.35 ng/mL = 350 ng/L"),
    (NICE, "b12", "914 pg/mL", NORMAL, "914 pg/mL: NICE above reference is strictly >914"),
    (NICE, "b12", "0.914 ng/mL", NORMAL, "0.914 ng/mL = 914 ng/L"),
    (MAYO, "b12", "150 pg/mL", INDET, "Mayo 150 to 400 ng/L indeterminate"),
    (MAYO, "b12", "400 pg/mL", INDET, "Mayo 400 ng/L inclusive"),
    (MAYO, "mma", "0.40 nmol/mL", NORMAL, "Mayo states MMA above 0.40 nmol/mL (= umol/L)"),
    (MAYO, "mma", "400 nmol/L", NORMAL, "400 nmol/L = 0.40 umol/L"),
    (MAYO, "mma", "0.41 nmol/mL", ELEVATED, "0.41 nmol/mL is above 0.40"),
    (LABCORP, "b12", "200 ng/L", INDET, "200 ng/L = 200 pg/mL: Labcorp 200 to 400"),
    (LABCORP, "b12", "400 ng/L", INDET, "400 ng/L = 400 pg/mL inclusive"),
    (LABCORP, "b12", "1245 ng/L", NORMAL, "1245 ng/L = 1245 pg/mL: above reference strictly >"),
    (LABCORP, "b12", "1.245 ng/mL", NORMAL, "1.245 ng/mL = 1245 pg/mL"),
    (LABCORP, "mma", "0.378 umol/L", NORMAL, "0.378 umol/L = 378 nmol/L: Labcorp strictly >378"),
    (LABCORP, "mma", "0.378 µmol/L", NORMAL, "micro sign spelling"),
    (LABCORP, "mma", "0.378 μmol/L", NORMAL, "Greek mu spelling"),
    (LABCORP, "mma", "0.378 nmol/mL", NORMAL, "0.378 nmol/mL = 378 nmol/L"),
    (LABCORP, "mma", "0.379 umol/L", ELEVATED, "0.379 umol/L = 379 nmol/L > 378"),
    (SURVEY, "b12", "0.148 nmol/L", INDET, "0.148 nmol/L = 148 pmol/L: survey 148 to 258"),
    (SURVEY, "b12", "0.258 nmol/L", INDET, "0.258 nmol/L = 258 pmol/L inclusive"),
    (SURVEY, "b12", "148 PMOL/L", INDET, "HL7 upper case PMOL/L = pmol/L"),
    (SURVEY, "mma", "271 nmol/L", NORMAL, "271 nmol/L = 0.271 umol/L: strictly >271 elevated"),
    (SURVEY, "mma", "272 nmol/L", ELEVATED, "272 nmol/L > 271 nmol/L"),
    (SURVEY, "hcy", "13 µmol/L", NORMAL, "survey Hcy elevated strictly above 13 umol/L"),
    (SURVEY, "hcy", "13000 nmol/L", NORMAL, "13000 nmol/L = 13 umol/L"),
    (NICE, "holotc", "0.025 nmol/L", INDET, "0.025 nmol/L = 25 pmol/L: NICE 25 to 70"),
    (NICE, "holotc", "0.07 nmol/L", INDET, "0.07 nmol/L = 70 pmol/L inclusive"),
    (NICE, "hcy", "15 µmol/L", NORMAL, "Hcy elevated strictly above 15 umol/L"),
    (NICE, "hcy", "15 UMOL/L", NORMAL, "HL7 upper case UMOL/L"),
    (NICE, "hcy", "15000 nmol/L", NORMAL, "15000 nmol/L = 15 umol/L"),
    (NICE, "hcy", "30 µmol/L", MODERATE, "Hcy moderate >15 to 30 inclusive"),
    (NICE, "hcy", "100 µmol/L", INTERMEDIATE, "Hcy intermediate >30 to 100 inclusive"),
    (NICE, "mma", "750 nmol/L", ELEVATED, "750 nmol/L = 0.75 umol/L: markedly strictly >0.75"),
    (LABCORP, "mma", "751 nmol/L", MARKED, "751 nmol/L > 0.75 umol/L"),
    (NICE, "folate", "6800 pmol/L", NORMAL, "6800 pmol/L = 6.8 nmol/L: low strictly <6.8"),
    (NICE, "folate", "6.8 NMOL/L", NORMAL, "HL7 upper case NMOL/L"),
]


@pytest.mark.parametrize(
    ("profile", "analyte", "value", "expected"),
    [pytest.param(p, a, v, e, id=f"{p}:{a}:{v}:{why}") for p, a, v, e, why in EQUIVALENT_SPELLINGS],
)
def test_equal_values_in_equivalent_spellings_classify_the_same(profile, analyte, value, expected):
    assert category(profile, analyte, value) == expected


@pytest.mark.parametrize("profile", PROFILES)
def test_folate_3_ng_per_ml_is_low(profile):
    # decision-spec 2: folate low "below 6.8 nmol/L (3 ng/mL)"; the profile stores the WHO
    # threshold as 6.8 nmol/L (its own unit). With folic acid 441.40 g/mol, 3 ng/mL is
    # 3e-6 g/L / 441.40 g/mol = 6.7966e-9 mol/L = 6.797 nmol/L, which is 0.003 nmol/L
    # (4.4e-4 relative, far above any float noise) strictly below 6.8: low. The "(3 ng/mL)"
    # in the spec is the rounded equivalent, not a second threshold, so 3 ng/mL is low.
    nmol_per_l = 3 / 441.40 * 1000
    assert nmol_per_l == pytest.approx(6.797, abs=5e-4)
    assert nmol_per_l < 6.8
    result = b12labs.interpret(folate="3 ng/mL", profile=profile)
    assert result.markers["folate"].value == pytest.approx(nmol_per_l, rel=1e-9)
    assert result.markers["folate"].category == LOW
    assert category(profile, "folate", "3.1 ng/mL") == NORMAL  # 6.84 nmol/L


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    ("egfr", "impaired"),
    [
        pytest.param(59.9, True, id="KDIGO: eGFR 59.9 < 60 impaired"),
        pytest.param(60, False, id="KDIGO: eGFR 60 not below 60"),
        pytest.param(60.1, False, id="KDIGO: eGFR 60.1 not impaired"),
        pytest.param(59.999999, True, id="KDIGO: 59.999999 still strictly below 60"),
    ],
)
def test_renal_impairment_below_egfr_60(profile, egfr, impaired):
    result = b12labs.interpret(b12="500 ng/L", egfr=egfr, profile=profile)
    assert result.patient.renal_impairment is impaired
    assert ("renal_impairment" in result.finding_codes) is impaired


# ----------------------------------------------------------------------------- censored values

CENSORED = [
    # (profile, analyte, value, category, code, why)
    *[
        (p, "b12", "<100 pmol/L", LOW, "<", "spec 1: B12 <100 pmol/L is low under every profile")
        for p in PROFILES
    ],
    (NICE, "b12", "<200 pmol/L", UNCLASSIFIABLE, "<", "spec 1: <200 pmol/L spans NICE low/indet"),
    (NICE, "b12", ">2000 pmol/L", ABOVE, ">", "2000 pmol/L = 2711 ng/L > 914: above reference"),
    (NICE, "mma", "<0.1 umol/L", NORMAL, "<", "MMA <0.1 is below every elevated limit"),
    (NICE, "b12", "<180 ng/L", LOW, "<", "NICE: every value below 180 ng/L is low"),
    (NICE, "b12", "≤180 ng/L", UNCLASSIFIABLE, "<", "≤180 includes 180 (indeterminate)"),
    (NICE, "b12", ">914 ng/L", ABOVE, ">", "every value above 914 ng/L is above reference"),
    (NICE, "mma", ">0.40 umol/L", ELEVATED, ">", "every value above 0.40 is at least elevated"),
    (NICE, "mma", ">0.75 umol/L", MARKED, ">", "every value above 0.75 is markedly elevated"),
    (NICE, "mma", "<0.40 umol/L", NORMAL, "<", "every value below 0.40 is normal"),
    (NICE, "hcy", "<5 umol/L", NORMAL, "<", "Hcy below 5 is normal"),
    (NICE, "holotc", "<10 pmol/L", LOW, "<", "holoTC below 10 is low (<25)"),
    (NICE, "holotc", "<50 pmol/L", UNCLASSIFIABLE, "<", "holoTC <50 spans low/indeterminate"),
]


@pytest.mark.parametrize(
    ("profile", "analyte", "value", "expected", "code"),
    [pytest.param(p, a, v, e, c, id=f"{p}:{a}:{v}:{why}") for p, a, v, e, c, why in CENSORED],
)
def test_censored_values_get_the_category_their_bound_proves(
    profile, analyte, value, expected, code
):
    marker = b12labs.interpret(profile=profile, **{analyte: value}).markers[analyte]
    assert marker.category == expected
    # decision-spec 6: off-scale censored results carry FHIR '<' / '>'.
    assert marker.interpretation_code == InterpretationCode(code)
    assert marker.censor is not None


def test_unclassifiable_b12_is_treated_as_indeterminate():
    # decision-spec 1 and 3.2: "<200 pmol/L" proves nothing under NICE; the marker is
    # unclassifiable, says why, and the status rules treat it as indeterminate.
    result = b12labs.interpret(b12="<200 pmol/L")
    assert result.markers["b12"].category == UNCLASSIFIABLE
    assert result.status == Status.BORDERLINE  # rule 2, MMA absent
    assert "b12_unclassifiable" in result.finding_codes
    assert "measure_mma" in result.next_step_codes
    assert (
        b12labs.interpret(b12="<200 pmol/L", mma="0.60 umol/L").status == Status.DEFICIENCY_LIKELY
    )
    assert b12labs.interpret(b12="<200 pmol/L", mma="0.20 umol/L").status == Status.NOT_INDICATED


UNCENSORED_CODES = [
    ("b12", "100 ng/L", LOW, "L"),
    ("b12", "250 ng/L", INDET, "E"),
    ("b12", "500 ng/L", NORMAL, "N"),
    ("b12", "1200 ng/L", ABOVE, "H"),
    ("holotc", "20 pmol/L", LOW, "L"),
    ("holotc", "50 pmol/L", INDET, "E"),
    ("holotc", "100 pmol/L", NORMAL, "N"),
    ("mma", "0.20 umol/L", NORMAL, "N"),
    ("mma", "0.55 umol/L", ELEVATED, "H"),
    ("mma", "1.2 umol/L", MARKED, "HH"),
    ("hcy", "10 umol/L", NORMAL, "N"),
    ("hcy", "150 umol/L", SEVERE, "HH"),
    ("folate", "5 nmol/L", LOW, "L"),
    ("folate", "20 nmol/L", NORMAL, "N"),
]


@pytest.mark.parametrize(
    ("analyte", "value", "expected", "code"),
    [
        pytest.param(a, v, e, c, id=f"NICE:{a}:{v}:{e.value}->{c}")
        for a, v, e, c in UNCENSORED_CODES
    ],
)
def test_uncensored_interpretation_codes(analyte, value, expected, code):
    # decision-spec 6 / domain-facts: FHIR v3 ObservationInterpretation; E for equivocal.
    marker = b12labs.interpret(**{analyte: value}).markers[analyte]
    assert marker.category == expected
    assert marker.interpretation_code == InterpretationCode(code)
    assert marker.censor is None


# ----------------------------------------------------------------------------- registry, sources


def test_unknown_profile_id():
    with pytest.raises(b12labs.UnknownProfileError, match="no-such-lab") as info:
        b12labs.get_profile("no-such-lab")
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, b12labs.B12LabsError)
    assert isinstance(info.value, b12labs.ProfileError)
    with pytest.raises(b12labs.UnknownProfileError):
        b12labs.interpret(b12="500 ng/L", profile="no-such-lab")


@pytest.mark.parametrize("profile", PROFILES)
def test_every_threshold_cites_a_known_source(profile):
    p = b12labs.get_profile(profile)
    thresholds = p.thresholds()
    assert thresholds  # a profile without numbers would be vacuous
    for path, threshold in thresholds.items():
        assert threshold.source in p.sources, path
        assert p.sources[threshold.source].citation.strip(), path
    # every number of the spec table is among them
    for key in ("b12.low", "b12.indeterminate", "holotc.low", "holotc.indeterminate",
                "mma.elevated", "mma.markedly_elevated", "hcy.elevated", "hcy.intermediate",
                "hcy.severe", "folate.low", "renal.impaired"):  # fmt: skip
        assert key in thresholds


@pytest.mark.parametrize("profile", PROFILES)
def test_results_record_profile_id_and_version(profile):
    p = b12labs.get_profile(profile)
    result = b12labs.interpret(b12="500 ng/L", profile=profile)
    assert (result.profile_id, result.profile_version) == (p.id, p.version)
    assert result.library_version == b12labs.__version__


# ----------------------------------------------------------------------------- reference intervals


def test_nice_b12_reference_interval():
    # NICE NG239: above 350 ng/L deficiency unlikely; above reference > 914 ng/L (Mayo).
    ri = b12labs.interpret(b12="500 ng/L").markers["b12"].reference_interval
    assert ri.low == 350
    assert ri.low_inclusive is False
    assert ri.high == 914
    assert ri.high_inclusive is True
    assert ri.unit == "ng/L"
    assert re.fullmatch(r">\s*350\b.*≤\s*914\s*ng/L", ri.text), ri.text


REFERENCE_INTERVALS = [
    # (profile, analyte, value, context, (low, low_inclusive, high, high_inclusive, unit), why)
    (MAYO, "b12", "500 ng/L", {}, (400, False, 914, True, "ng/L"), "Mayo >400 to 914"),
    (LABCORP, "b12", "500 pg/mL", {}, (400, False, 1245, True, "pg/mL"), "Labcorp >400 to 1245"),
    (SURVEY, "b12", "500 pmol/L", {}, (258, False, None, True, "pmol/L"), "survey >258, no top"),
    *[
        (p, "holotc", "100 pmol/L", {}, (70, False, None, True, "pmol/L"), "NICE holoTC >70")
        for p in PROFILES
    ],
    (NICE, "mma", "0.2 umol/L", {}, (None, True, 0.40, True, "umol/L"), "NICE MMA up to 0.40"),
    (NICE, "mma", "0.2 umol/L", {"age": 70}, (None, True, 0.46, True, "umol/L"), "65+: 0.46"),
    (LABCORP, "mma", "0.2 umol/L", {}, (None, True, 378, True, "nmol/L"), "Labcorp 378 nmol/L"),
    (SURVEY, "mma", "0.2 umol/L", {}, (None, True, 0.271, True, "umol/L"), "survey 0.271"),
    (NICE, "hcy", "10 umol/L", {}, (None, True, 15, True, "umol/L"), "Hcy up to 15"),
    (SURVEY, "hcy", "10 umol/L", {}, (None, True, 13, True, "umol/L"), "survey Hcy up to 13"),
    (NICE, "folate", "20 nmol/L", {}, (6.8, True, None, True, "nmol/L"), "folate from 6.8"),
]


@pytest.mark.parametrize(
    ("profile", "analyte", "value", "context", "expected"),
    [
        pytest.param(p, a, v, ctx, e, id=f"{p}:{a}{ctx or ''}:{why}")
        for p, a, v, ctx, e, why in REFERENCE_INTERVALS
    ],
)
def test_reference_interval_is_the_normal_band(profile, analyte, value, context, expected):
    ri = b12labs.interpret(profile=profile, **{analyte: value}, **context).markers[analyte]
    ri = ri.reference_interval
    assert (ri.low, ri.low_inclusive, ri.high, ri.high_inclusive, ri.unit) == expected


# ----------------------------------------------------------------------------- load_profile

LAB_SOURCES = {
    "example-lab": {"citation": "Example Hospital laboratory B12 reference ranges, 2024."}
}
LAB_B12 = {
    "low": {"below": 200, "unit": "ng/L", "source": "example-lab"},
    "indeterminate": {"up_to": 300, "unit": "ng/L", "source": "example-lab"},
    "above_reference": {"above": 900, "unit": "ng/L", "source": "example-lab"},
}

LAB_TOML = """
id = "example-lab"
version = "2024.1"
title = "Example Hospital laboratory"
base = "nice-ng239"

[sources.example-lab]
citation = "Example Hospital laboratory B12 reference ranges, 2024."

[b12]
low = { below = 200, unit = "ng/L", source = "example-lab" }
indeterminate = { up_to = 300, unit = "ng/L", source = "example-lab" }
above_reference = { above = 900, unit = "ng/L", source = "example-lab" }
"""


def lab_data(**b12: Any) -> dict[str, Any]:
    """A laboratory profile based on NICE that overrides only the B12 thresholds."""
    return {
        "id": "example-lab",
        "version": "2024.1",
        "title": "Example Hospital laboratory",
        "base": NICE,
        "sources": LAB_SOURCES,
        "b12": {**LAB_B12, **b12},
    }


@pytest.fixture(params=["dict", "json", "toml"])
def loaded(request, tmp_path: Path) -> b12labs.Profile:
    if request.param == "dict":
        return b12labs.load_profile(lab_data())
    if request.param == "json":
        path = tmp_path / "lab.json"
        path.write_text(json.dumps(lab_data()), encoding="utf-8")
        return b12labs.load_profile(path)
    path = tmp_path / "lab.toml"
    path.write_text(LAB_TOML, encoding="utf-8")
    return b12labs.load_profile(str(path))


def test_loaded_profile_overrides_only_b12(loaded):
    nice = b12labs.get_profile(NICE)
    assert loaded.id == "example-lab"
    assert loaded.version == "2024.1"
    assert (loaded.b12.low.edge, loaded.b12.low.value, loaded.b12.low.unit) == (
        "below",
        200,
        "ng/L",
    )
    assert loaded.b12.indeterminate.value == 300
    assert loaded.b12.above_reference is not None
    assert loaded.b12.above_reference.value == 900
    for block in ("holotc", "mma", "hcy", "folate", "renal", "cb12"):
        assert getattr(loaded, block) == getattr(nice, block), block
    assert "example-lab" in loaded.sources
    for path, threshold in loaded.thresholds().items():
        assert threshold.source in loaded.sources, path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("199 ng/L", LOW, id="lab: below 200 low"),
        pytest.param("200 ng/L", INDET, id="lab: 200 indeterminate"),
        pytest.param("200 pg/mL", INDET, id="lab: 200 pg/mL = 200 ng/L indeterminate"),
        pytest.param("300 ng/L", INDET, id="lab: 300 inclusive"),
        pytest.param("301 ng/L", NORMAL, id="lab: 301 normal (NICE would say indeterminate)"),
        pytest.param("900 ng/L", NORMAL, id="lab: 900 normal"),
        pytest.param("901 ng/L", ABOVE, id="lab: 901 above reference (NICE: normal)"),
    ],
)
def test_loaded_profile_classifies_with_its_own_b12_thresholds(loaded, value, expected):
    result = b12labs.interpret(b12=value, profile=loaded)
    assert result.markers["b12"].category == expected
    assert result.profile_id == "example-lab"


def test_loaded_profile_keeps_base_mma_and_hcy(loaded):
    # Inherited from NICE: age-specific MMA limit, Hcy 15, markedly elevated 0.75.
    assert category(loaded, "mma", "0.43 umol/L", age=70) == NORMAL
    assert category(loaded, "mma", "0.43 umol/L", age=40) == ELEVATED
    assert category(loaded, "mma", "0.76 umol/L") == MARKED
    assert category(loaded, "hcy", "15 umol/L") == NORMAL
    assert category(loaded, "holotc", "25 pmol/L") == INDET
    status = b12labs.interpret(b12="250 ng/L", mma="0.60 umol/L", profile=loaded).status
    assert status == Status.DEFICIENCY_LIKELY  # 250 ng/L is indeterminate for this lab


def test_partial_b12_override_keeps_other_base_thresholds():
    data = lab_data()
    data["b12"] = {"low": {"below": 160, "unit": "ng/L", "source": "example-lab"}}
    profile = b12labs.load_profile(data)
    assert profile.b12.low.value == 160
    assert profile.b12.indeterminate == b12labs.get_profile(NICE).b12.indeterminate
    assert category(profile, "b12", "170 ng/L") == INDET
    assert category(profile, "b12", "350 ng/L") == INDET


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("179 ng/L", LOW, id="up_to 179: 179 belongs to low"),
        pytest.param("179.5 ng/L", INDET, id="up_to 179: 179.5 is above it"),
        pytest.param("899 ng/L", NORMAL, id="from 900: 899 is below it"),
        pytest.param("900 ng/L", ABOVE, id="from 900: 900 itself is above reference"),
    ],
)
def test_inclusive_edges_of_a_loaded_profile(value, expected):
    # Threshold edges: up_to (inclusive upper end) and from (inclusive lower end).
    profile = b12labs.load_profile(
        lab_data(
            low={"up_to": 179, "unit": "ng/L", "source": "example-lab"},
            above_reference={"from": 900, "unit": "ng/L", "source": "example-lab"},
        )
    )
    assert category(profile, "b12", value) == expected


def test_load_profile_does_not_mutate_its_input():
    data = lab_data()
    before = json.dumps(data, sort_keys=True)
    b12labs.load_profile(data)
    assert json.dumps(data, sort_keys=True) == before


def test_profile_without_base_uses_common_defaults():
    data = {
        "id": "standalone",
        "version": "1",
        "title": "Standalone laboratory",
        "sources": LAB_SOURCES,
        "b12": LAB_B12,
        "mma": {"elevated": {"above": 0.35, "unit": "umol/L", "source": "example-lab"}},
        "hcy": {"elevated": {"above": 12, "unit": "umol/L", "source": "example-lab"}},
    }
    profile = b12labs.load_profile(data)
    assert category(profile, "mma", "0.35 umol/L") == NORMAL
    assert category(profile, "mma", "0.36 umol/L") == ELEVATED
    assert category(profile, "hcy", "12.1 umol/L") == MODERATE
    # decision-spec 2: NICE holoTC bands and the common bands apply unless overridden
    assert category(profile, "holotc", "24 pmol/L") == LOW
    assert category(profile, "mma", "0.76 umol/L") == MARKED
    assert category(profile, "folate", "6.7 nmol/L") == LOW


def _bad(path: str, value: Any) -> dict[str, Any]:
    """lab_data() with one dotted path replaced."""
    data = lab_data()
    data["b12"] = dict(data["b12"])
    block, name = path.split(".")
    data[block] = {**data.get(block, {}), name: value}
    return data


INVALID = [
    pytest.param(
        lab_data(
            low={"below": 400, "unit": "ng/L", "source": "example-lab"},
            indeterminate={"up_to": 350, "unit": "ng/L", "source": "example-lab"},
        ),
        ("b12.low", "b12.indeterminate", "400", "350"),
        id="spec 2: low threshold above the indeterminate upper bound",
    ),
    pytest.param(
        lab_data(above_reference={"above": 250, "unit": "ng/L", "source": "example-lab"}),
        ("b12.indeterminate", "b12.above_reference"),
        id="above-reference threshold below the indeterminate upper bound",
    ),
    pytest.param(
        lab_data(low={"above": 180, "unit": "ng/L", "source": "example-lab"}),
        ("b12.low", "above"),
        id="b12.low bounds from above: 'above' is the wrong edge",
    ),
    pytest.param(
        lab_data(low={"below": 10, "unit": "%", "source": "example-lab"}),
        ("b12", "%"),
        id="spec 1: unit of the wrong kind (%)",
    ),
    pytest.param(
        lab_data(low={"below": 10, "unit": "mmol/mol", "source": "example-lab"}),
        ("b12", "mmol/mol"),
        id="spec 1: unit of the wrong kind (mmol/mol)",
    ),
    pytest.param(
        _bad("holotc.low", {"below": 25, "unit": "ng/L", "source": "example-lab"}),
        ("holotc", "ng/L"),
        id="spec 1: holoTC is reported in molar units only",
    ),
    pytest.param(
        lab_data(low={"below": 180, "unit": "ng/L", "source": "nowhere"}),
        ("nowhere",),
        id="unknown source key",
    ),
    pytest.param(
        lab_data(low={"below": 180, "up_to": 200, "unit": "ng/L", "source": "example-lab"}),
        ("below", "up_to"),
        id="threshold with two edges",
    ),
    pytest.param(
        lab_data(low={"unit": "ng/L", "source": "example-lab"}),
        ("b12.low",),
        # load_profile documents that "a threshold given in the data replaces the base
        # threshold as a whole": an edgeless threshold must not inherit NICE's 180 ng/L.
        id="threshold with no edge (with base): must not inherit the base number",
    ),
    pytest.param(
        lab_data(low={"below": -5, "unit": "ng/L", "source": "example-lab"}),
        ("b12.low",),
        id="negative concentration",
    ),
    pytest.param(
        {k: v for k, v in lab_data().items() if k not in ("base", "b12")},
        ("b12",),
        id="missing b12 block without base",
    ),
    pytest.param(
        {k: v for k, v in lab_data().items() if k != "base"},
        ("mma",),
        id="missing mma.elevated without base",
    ),
    pytest.param(
        {**lab_data(), "sources": {"example-lab": {"citation": ""}}},
        ("citation",),
        id="empty citation",
    ),
]


@pytest.mark.parametrize(("data", "words"), INVALID)
def test_invalid_profiles_raise_clear_errors(data, words):
    with pytest.raises(b12labs.InvalidProfileError) as info:
        b12labs.load_profile(data)
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
    assert isinstance(info.value, b12labs.B12LabsError)


def test_unknown_base_is_a_profile_error():
    with pytest.raises(b12labs.ProfileError, match="no-such-base"):
        b12labs.load_profile({**lab_data(), "base": "no-such-base"})


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        pytest.param("lab.toml", "id = \n[b12", ("lab.toml", "TOML"), id="invalid TOML"),
        pytest.param("lab.json", '{"id": "x",', ("lab.json", "JSON"), id="invalid JSON"),
        pytest.param("lab.json", "[1, 2]", ("lab.json",), id="JSON top level not an object"),
    ],
)
def test_invalid_profile_files(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(b12labs.InvalidProfileError) as info:
        b12labs.load_profile(path)
    for word in words:
        assert word in str(info.value)


def test_unreadable_profile_file(tmp_path):
    missing = tmp_path / "missing-lab.toml"
    with pytest.raises(b12labs.InvalidProfileError, match=r"missing-lab\.toml"):
        b12labs.load_profile(missing)
    with pytest.raises(b12labs.InvalidProfileError):
        b12labs.load_profile(tmp_path)  # a directory is not a profile file


def test_loaded_file_errors_name_the_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(LAB_TOML.replace("below = 200", "below = 400"), encoding="utf-8")
    with pytest.raises(b12labs.InvalidProfileError, match=r"b12\.low.*b12\.indeterminate"):
        b12labs.load_profile(path)


def test_threshold_with_no_edge_without_base():
    data = lab_data(low={"unit": "ng/L", "source": "example-lab"})
    del data["base"]
    with pytest.raises(b12labs.InvalidProfileError, match=r"b12\.low"):
        b12labs.load_profile(data)


def test_threshold_values_are_finite():
    with pytest.raises(b12labs.InvalidProfileError):
        b12labs.load_profile(
            lab_data(low={"below": math.inf, "unit": "ng/L", "source": "example-lab"})
        )


# --- regressions found in review -------------------------------------------------------


def _lab(**extra):
    data = {
        "id": "example-lab",
        "version": "1",
        "title": "Example lab",
        "base": "nice-ng239",
        "sources": {"example-lab": {"citation": "Example laboratory reference ranges"}},
    }
    data.update(extra)
    return data


def test_profile_with_base_must_name_itself():
    """A lab profile on top of NICE must not report itself as NICE."""
    data = _lab()
    del data["id"]
    with pytest.raises(b12labs.InvalidProfileError, match="id"):
        b12labs.load_profile(data)


def test_applies_from_age_is_replaced_whole_and_its_edge_is_used():
    # 'above 18': an 18-year-old is below the population, an 18.5-year-old is in it.
    loaded = b12labs.load_profile(
        _lab(applies_from_age={"above": 18, "unit": "years", "source": "example-lab"})
    )
    assert loaded.applies_from_age is not None
    assert loaded.applies_from_age.evidence == "unconfirmed"  # not inherited from NICE
    at_18 = b12labs.interpret(b12="300 pmol/L", age=18, profile=loaded)
    after_18 = b12labs.interpret(b12="300 pmol/L", age=18.5, profile=loaded)
    assert "below_guideline_age" in at_18.finding_codes
    assert "below_guideline_age" not in after_18.finding_codes


def test_applies_from_age_rejects_an_upper_edge():
    with pytest.raises(b12labs.InvalidProfileError, match="applies_from_age"):
        b12labs.load_profile(
            _lab(applies_from_age={"below": 16, "unit": "years", "source": "example-lab"})
        )


# ----------------------------------------------------------------------------- intended use
# decision-spec 7.3: profiles declare `intended_use` (`clinical` by default, or `research`;
# shipped `population-survey` is `research`); every result of a research profile carries
# the finding `research_profile`.


@pytest.mark.parametrize(
    ("pid", "use"),
    [("nice-ng239", "clinical"), ("mayo-cascade", "clinical"),
     ("labcorp-cascade", "clinical"), ("population-survey", "research")],
)  # fmt: skip
def test_shipped_profiles_declare_their_intended_use(pid, use):
    assert b12labs.get_profile(pid).intended_use == use


def test_intended_use_defaults_to_clinical_and_is_validated():
    assert b12labs.load_profile(_lab()).intended_use == "clinical"
    research = b12labs.load_profile(_lab(intended_use="research"))
    assert research.intended_use == "research"
    result = b12labs.interpret(b12="500 pmol/L", profile=research)
    assert "research_profile" in result.finding_codes
    with pytest.raises(b12labs.InvalidProfileError, match="intended_use"):
        b12labs.load_profile(_lab(intended_use="screening"))


def test_intended_use_is_inherited_from_the_base_unless_given():
    survey_based = b12labs.load_profile(_lab(base="population-survey"))
    assert survey_based.intended_use == "research"
    own = b12labs.load_profile(_lab(base="population-survey", intended_use="clinical"))
    assert own.intended_use == "clinical"
    assert "research_profile" not in b12labs.interpret(b12="500 pmol/L", profile=own).finding_codes
