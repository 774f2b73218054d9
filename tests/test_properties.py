"""Property-based tests (hypothesis) of the interpretation contract.

Thresholds used to seed the strategies come from decision-spec section 2 (the profile table
and the "common to all profiles" defaults) and from domain-facts.md; they are listed once in
``SPEC_THRESHOLDS`` with the row they come from.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import b12labs
from b12labs import Interpretation, Status
from b12labs._profile import CENSOR_INDEX as CENSOR_CODES
from b12labs._profile import compiled
from b12labs._rules import CB, FL, FOL, HCY, MMA, RuleState, Tri, catalog, decide
from b12labs._units import canonical_factor
from conftest import CANONICAL, RANGES

PROFILES = b12labs.list_profiles()

# Order of concern (decision-spec section 3). insufficient_data is not a degree of concern:
# with a marker present it arises only from results taken on treatment (decision-spec 7.2
# step 3), so the marker monotonicity tests leave those pairs out (a KeyError would fail
# the test loudly). CONCERN places it for the context properties of section 7: less
# reassuring than not_indicated, less concerning than borderline.
SEVERITY = {Status.NOT_INDICATED: 0, Status.BORDERLINE: 1, Status.DEFICIENCY_LIKELY: 2}
CONCERN = {
    Status.NOT_INDICATED: 0,
    Status.INSUFFICIENT_DATA: 1,
    Status.BORDERLINE: 2,
    Status.DEFICIENCY_LIKELY: 3,
}

# Every threshold of decision-spec section 2, in the unit the spec states it in.
SPEC_THRESHOLDS: dict[str, tuple[tuple[float, str], ...]] = {
    "b12": (
        (180, "ng/L"),  # nice-ng239 low
        (350, "ng/L"),  # nice-ng239 indeterminate upper end
        (914, "ng/L"),  # nice-ng239 / mayo above reference
        (150, "ng/L"),  # mayo-cascade low
        (400, "ng/L"),  # mayo-cascade indeterminate upper end
        (200, "pg/mL"),  # labcorp-cascade low
        (400, "pg/mL"),  # labcorp-cascade indeterminate upper end
        (1245, "pg/mL"),  # labcorp-cascade above reference
        (148, "pmol/L"),  # population-survey low
        (258, "pmol/L"),  # population-survey indeterminate upper end
        (133, "pmol/L"),  # NICE 180 ng/L as quoted in pmol/L (domain-facts)
    ),
    "holotc": ((25, "pmol/L"), (70, "pmol/L")),  # NICE bands
    "mma": (
        (0.40, "umol/L"),  # nice / mayo elevated
        (0.46, "umol/L"),  # nice elevated from age 65
        (0.75, "umol/L"),  # common: markedly elevated
        (378, "nmol/L"),  # labcorp elevated
        (0.271, "umol/L"),  # population-survey elevated
    ),
    "hcy": ((15, "umol/L"), (30, "umol/L"), (100, "umol/L"), (13, "umol/L")),
    "folate": ((6.8, "nmol/L"), (3, "ng/mL")),  # common: folate low (WHO)
}
# Spellings seen on real reports (decision-spec section 1).
UNITS = {
    "b12": ("pmol/L", "pg/mL", "ng/L", "PG/ML", "pmol/l"),
    "holotc": ("pmol/L", "PMOL/L"),
    "mma": ("umol/L", "nmol/L", "µmol/L", "nmol/mL", "UMOL/L"),
    "hcy": ("umol/L", "μmol/L", "mg/L"),
    "folate": ("nmol/L", "ng/mL", "ug/L"),
}
MARKER_NAMES = ("b12", "holotc", "mma", "hcy", "folate")
CENSORS = ("<", "<=", ">", ">=")


def _to_unit(value: float, from_unit: str, unit: str, analyte: str) -> float:
    return b12labs.convert(value, from_unit, unit, analyte=analyte)


def _thresholds_in(analyte: str, unit: str) -> list[float]:
    lo, hi = RANGES[analyte]
    out = []
    for value, src_unit in SPEC_THRESHOLDS[analyte]:
        canonical = _to_unit(value, src_unit, CANONICAL[analyte], analyte)
        if lo <= canonical <= hi:
            # The exact spec number when the unit is the spec's own (no conversion drift).
            same = canonical_factor(analyte, src_unit) == canonical_factor(analyte, unit)
            out.append(float(value) if same else _to_unit(value, src_unit, unit, analyte))
    return out


@st.composite
def values_in(draw: st.DrawFn, analyte: str, unit: str) -> float:
    """A value of ``analyte`` in ``unit``: a spec threshold or a random realistic value."""
    lo, hi = RANGES[analyte]
    thresholds = _thresholds_in(analyte, unit)
    canonical = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    random_value = canonical.map(lambda x: _to_unit(x, CANONICAL[analyte], unit, analyte))
    if thresholds:
        return draw(st.one_of(st.sampled_from(thresholds), random_value))
    return draw(random_value)


@st.composite
def marker_input(draw: st.DrawFn, analyte: str, *, censored: bool = True) -> Any:
    """One marker as a string, a (value, unit) tuple or a Measurement, maybe censored."""
    unit = draw(st.sampled_from(UNITS[analyte]))
    value = draw(values_in(analyte, unit))
    censor = draw(st.sampled_from((None, *CENSORS))) if censored else None
    form = draw(st.sampled_from(("str", "tuple", "measurement")))
    if censor is not None or form == "str":
        return f"{censor or ''}{value!r} {unit}"
    if form == "tuple":
        return (value, unit)
    return b12labs.Measurement(value=value, unit=unit)


@st.composite
def context(draw: st.DrawFn) -> dict[str, Any]:
    """Optional patient context; pregnant only with sex female or unknown."""
    sex = draw(st.sampled_from((None, "female", "male")))
    out: dict[str, Any] = {"sex": sex}
    out["age"] = draw(st.one_of(st.none(), st.floats(0, 110), st.sampled_from((16.0, 65.0, 64.99))))
    out["egfr"] = draw(st.one_of(st.none(), st.floats(5, 150), st.just(60.0)))
    if sex != "male":
        out["pregnant"] = draw(st.sampled_from((None, False, True)))
    out["symptoms"] = draw(
        st.one_of(st.none(), st.lists(st.sampled_from(list(b12labs.Symptom)), max_size=3))
    )
    out["risk_factors"] = draw(
        st.one_of(st.none(), st.lists(st.sampled_from(list(b12labs.RiskFactor)), max_size=3))
    )
    out["recent_b12_treatment"] = draw(st.sampled_from((None, False, True)))
    out["nitrous_oxide"] = draw(st.sampled_from((None, False, True)))
    return out


@st.composite
def other_markers(draw: st.DrawFn, exclude: str) -> dict[str, Any]:
    out = {}
    for name in MARKER_NAMES:
        if name != exclude and draw(st.booleans()):
            out[name] = draw(marker_input(name))
    return out


@st.composite
def raised_pair(draw: st.DrawFn, analyte: str) -> tuple[tuple[float, str], tuple[float, str]]:
    """Two exact results v1 <= v2 of ``analyte`` in the same unit."""
    unit = draw(st.sampled_from(UNITS[analyte]))
    a = draw(values_in(analyte, unit))
    b = draw(values_in(analyte, unit))
    v1, v2 = sorted((a, b))
    return (v1, unit), (v2, unit)


# ----------------------------------------------------------------------------- monotonicity


def _status(profile: str, panel: dict[str, Any]) -> Status:
    status = b12labs.interpret(panel, profile=profile).status
    if not panel.get("recent_b12_treatment"):  # only step 3 of 7.2 gives it with a marker
        assert status is not Status.INSUFFICIENT_DATA, panel
    return status


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("first_line", ["b12", "holotc"])
@given(data=st.data())
def test_raising_first_line_never_more_severe(profile: str, first_line: str, data: st.DataObject):
    low, high = data.draw(raised_pair(first_line))
    rest = data.draw(other_markers(exclude=first_line)) | data.draw(context())
    s_low = _status(profile, rest | {first_line: low})
    s_high = _status(profile, rest | {first_line: high})
    assume(Status.INSUFFICIENT_DATA not in (s_low, s_high))
    assert SEVERITY[s_high] <= SEVERITY[s_low], (low, high, rest, s_low, s_high)


@pytest.mark.parametrize("profile", PROFILES)
@given(data=st.data())
def test_raising_mma_never_less_severe(profile: str, data: st.DataObject):
    low, high = data.draw(raised_pair("mma"))
    rest = data.draw(other_markers(exclude="mma")) | data.draw(context())
    s_low = _status(profile, rest | {"mma": low})
    s_high = _status(profile, rest | {"mma": high})
    assume(Status.INSUFFICIENT_DATA not in (s_low, s_high))
    assert SEVERITY[s_high] >= SEVERITY[s_low], (low, high, rest, s_low, s_high)


@pytest.mark.parametrize("profile", PROFILES)
def test_monotone_over_a_fine_b12_sweep(profile: str):
    """A deterministic sweep across every spec B12 threshold (and either side of it)."""
    points = sorted(
        {
            x
            for v, u in SPEC_THRESHOLDS["b12"]
            for c in [_to_unit(v, u, "pmol/L", "b12")]
            for x in (c * (1 - 1e-6), c, c * (1 + 1e-6))
        }
        | set(np.linspace(30, 3000, 200).tolist())
    )
    for mma in (None, "0.30 umol/L", "0.50 umol/L", "0.90 umol/L"):
        for egfr in (None, 45.0, 90.0):
            panel: dict[str, Any] = {"egfr": egfr}
            if mma is not None:
                panel["mma"] = mma
            ranks = [SEVERITY[_status(profile, panel | {"b12": (x, "pmol/L")})] for x in points]
            assert all(a >= b for a, b in itertools.pairwise(ranks)), (mma, egfr, ranks)


def test_threshold_in_spec_unit_classifies_as_spec_says():
    """Decision-spec 2: "X to Y" includes both ends, "< X" is strictly below."""
    nice = {
        "179.9 ng/L": "low",
        "180 ng/L": "indeterminate",  # 180 to 350 ng/L, both inclusive
        "350 ng/L": "indeterminate",
        "350.1 ng/L": "normal",
        "914 ng/L": "normal",  # above reference is "> 914 ng/L"
        "914.1 ng/L": "above_reference",
    }
    for text, category in nice.items():
        got = b12labs.interpret(b12=text).markers["b12"].category
        assert got == category, text
    labcorp_mma = {"378 nmol/L": "normal", "0.378 umol/L": "normal", "379 nmol/L": "elevated"}
    for text, category in labcorp_mma.items():
        got = b12labs.interpret(mma=text, profile="labcorp-cascade").markers["mma"].category
        assert got == category, text


# ----------------------------------------------------------------------------- JSON round trip


@st.composite
def any_panel(draw: st.DrawFn) -> dict[str, Any]:
    markers = {}
    for name in MARKER_NAMES:
        if draw(st.booleans()):
            markers[name] = draw(marker_input(name))
    if draw(st.booleans()):
        markers["creatinine"] = draw(st.sampled_from(("0.9 mg/dL", "79.6 umol/L", "2.1 mg/dL")))
    return markers | draw(context())


def _check_required(instance: Any, schema: dict[str, Any], defs: dict[str, Any]) -> None:
    """Minimal check used when jsonschema is not installed: required keys, recursively."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    for option in schema.get("anyOf", ()):
        if instance is None and option.get("type") == "null":
            return
    if "anyOf" in schema:
        refs = [o for o in schema["anyOf"] if o.get("type") != "null"]
        assert instance is not None or not refs
        schema = refs[0]
        if "$ref" in schema:
            schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("type") == "object" and isinstance(instance, dict):
        for key in schema.get("required", ()):
            assert key in instance, key
        if schema.get("additionalProperties") is False:
            assert set(instance) <= set(schema.get("properties", {})), set(instance)
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                _check_required(instance[key], sub, defs)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for value in instance.values():
                _check_required(value, extra, defs)
    if "enum" in schema:
        assert instance in schema["enum"], instance
    if schema.get("type") == "array":
        assert isinstance(instance, list)
        items = schema.get("items")
        if isinstance(items, dict):
            for item in instance:
                _check_required(item, items, defs)


def _validate_against_schema(data: Any, schema: dict[str, Any]) -> None:
    try:
        import jsonschema
    except ImportError:
        _check_required(data, schema, schema.get("$defs", {}))
    else:
        jsonschema.validate(data, schema)


def test_result_json_schema_shape():
    schema = b12labs.result_json_schema()
    assert isinstance(schema, dict)
    for key in ("status", "markers", "findings", "next_steps", "cb12"):
        assert key in schema["properties"]
    # A copy: mutating it does not change the next call.
    schema["properties"].clear()
    assert "status" in b12labs.result_json_schema()["properties"]


@pytest.mark.parametrize("profile", PROFILES)
@given(panel=any_panel())
def test_json_round_trip(profile: str, panel: dict[str, Any]):
    result = b12labs.interpret(panel, profile=profile)
    text = result.model_dump_json()
    assert Interpretation.model_validate_json(text) == result
    _validate_against_schema(json.loads(text), b12labs.result_json_schema())


def test_json_round_trip_of_every_censor_spelling():
    for censor in ("<", "<=", ">", ">=", "≤", "≥", "< ", "> "):
        result = b12labs.interpret(
            b12=f"{censor}200 pg/mL", mma=f"{censor}0.4 umol/L", hcy=f"{censor}15 umol/L"
        )
        text = result.model_dump_json()
        assert Interpretation.model_validate_json(text) == result
        assert result.markers["b12"].censor is not None
        _validate_against_schema(json.loads(text), b12labs.result_json_schema())


# ----------------------------------------------------------------------------- scalar == vector

CODE_TO_CENSOR = {code: censor for censor, code in CENSOR_CODES.items()}


def _all_cuts() -> list[tuple[str, str, int]]:
    out = []
    for pid in PROFILES:
        cp = compiled(pid)
        for analyte in ("b12", "holotc", "hcy", "folate", "renal", "cb12"):
            out.append((pid, analyte, 0))
        for band in range(len(cp.mma_bands)):
            out.append((pid, "mma", band))
    return out


def _boundaries(analyte: str, cuts: Any) -> list[float]:
    exact = []
    for t in cuts.thresholds:
        factor = 1.0 if analyte in ("renal", "cb12") else canonical_factor(analyte, t.unit)
        exact.append(t.value * factor)
    pool = set(exact) | set(cuts.lower_edges) | set(cuts.upper_edges)
    for b in list(pool):
        pool |= {float(np.nextafter(b, -np.inf)), float(np.nextafter(b, np.inf))}
    return sorted(pool)


def test_censor_codes_are_documented_ones():
    assert CENSOR_CODES == {None: 0, "<": 1, "<=": 2, ">": 3, ">=": 4}


@pytest.mark.parametrize(("pid", "analyte", "band"), _all_cuts())
@given(data=st.data())
def test_scalar_and_vectorized_ranges_agree(pid: str, analyte: str, band: int, data: st.DataObject):
    cuts = compiled(pid).cuts_for(analyte, band)
    pool = _boundaries(analyte, cuts)
    span = max(abs(b) for b in pool) * 3 + 1
    low = -span if analyte == "cb12" else 0.0
    element = st.one_of(
        st.sampled_from(pool),
        st.floats(low, span, allow_nan=False, allow_infinity=False),
    )
    xs = data.draw(st.lists(element, min_size=1, max_size=40))
    codes = data.draw(st.lists(st.integers(0, 4), min_size=len(xs), max_size=len(xs)))
    lo_arr, hi_arr = cuts.range_array(
        np.array(xs, dtype=np.float64), np.array(codes, dtype=np.int8)
    )
    assert lo_arr.shape == hi_arr.shape == (len(xs),)
    for i, (x, code) in enumerate(zip(xs, codes, strict=True)):
        lo, hi = cuts.range(x, CODE_TO_CENSOR[code])
        assert (int(lo_arr[i]), int(hi_arr[i])) == (lo, hi), (x, code)
        assert 0 <= lo <= hi <= len(cuts.categories) - 1
        if code == 0:
            assert int(cuts.point_array(np.array([x]))[0]) == cuts.point(x) == lo


@pytest.mark.parametrize(("pid", "analyte", "band"), _all_cuts())
def test_scalar_and_vectorized_agree_on_every_boundary(pid: str, analyte: str, band: int):
    cuts = compiled(pid).cuts_for(analyte, band)
    pool = _boundaries(analyte, cuts)
    xs = np.repeat(np.array(pool, dtype=np.float64), 5)
    codes = np.tile(np.arange(5, dtype=np.int8), len(pool))
    lo_arr, hi_arr = cuts.range_array(xs, codes)
    for x, code, lo, hi in zip(xs.tolist(), codes.tolist(), lo_arr, hi_arr, strict=True):
        assert (int(lo), int(hi)) == cuts.range(x, CODE_TO_CENSOR[code]), (x, code)


# ----------------------------------------------------------------------------- decide

STATE_FIELDS = {
    "b12": list(FL),
    "holotc": list(FL),
    "mma": list(MMA),
    "mma_check_unit": [False, True],
    "hcy": list(HCY),
    "folate": list(FOL),
    "renal": list(Tri),
    "pregnant": [False, True],
    "recent_treatment": [False, True],
    "nitrous_oxide": [False, True],
    "symptoms": list(Tri),
    "risk_factors": list(Tri),
    "cb12": list(CB),
    "below_guideline_age": [False, True],
    "autoimmune_gastritis": [False, True],
    "research_profile": [False, True],
    "egfr_not_computed": [False, True],
}


def test_state_fields_are_all_covered():
    assert tuple(STATE_FIELDS) == RuleState._fields


rule_states = st.builds(
    RuleState, **{name: st.sampled_from(values) for name, values in STATE_FIELDS.items()}
).filter(lambda s: not s.mma_check_unit or s.mma == MMA.MARKEDLY_ELEVATED)
# An MMA above the check-unit limit (100 umol/L) is always markedly elevated: other states
# with the flag cannot arise.


def _check_decision(state: RuleState) -> None:
    cat = catalog()
    first = decide(state)
    fresh = decide.__wrapped__(state)  # bypass the cache: recompute from scratch
    assert fresh == first == decide(state)
    assert first.status in set(Status)
    assert first.status in cat.summaries
    unknown_findings = [c for c in first.findings if c not in cat.findings]
    unknown_steps = [c for c in first.next_steps if c not in cat.next_steps]
    assert not unknown_findings, (state, unknown_findings)
    assert not unknown_steps, (state, unknown_steps)
    assert len(set(first.findings)) == len(first.findings)
    assert len(set(first.next_steps)) == len(first.next_steps)
    assert first.findings, state  # every status carries the findings that led to it
    any_marker = (state.b12, state.holotc, state.mma, state.hcy) != (0, 0, 0, 0)
    if not any_marker:
        assert first.status is Status.INSUFFICIENT_DATA


@given(state=rule_states)
def test_decide_is_deterministic_and_uses_catalogued_codes(state: RuleState):
    _check_decision(state)


def test_decide_exhaustive_over_marker_levels():
    """Every combination of marker levels, under a few contexts."""
    contexts = [
        {},
        {"renal": Tri.YES, "pregnant": True, "symptoms": Tri.YES, "risk_factors": Tri.NO},
        {"renal": Tri.NO, "recent_treatment": True, "nitrous_oxide": True, "cb12": CB.LOW},
        {"mma_check_unit": True, "cb12": CB.ELEVATED, "below_guideline_age": True},
        {"autoimmune_gastritis": True, "symptoms": Tri.YES, "research_profile": True},
    ]
    count = 0
    for extra in contexts:
        for b12, holotc, mma, hcy, folate in itertools.product(FL, FL, MMA, HCY, FOL):
            if extra.get("mma_check_unit") and mma != MMA.MARKEDLY_ELEVATED:
                mma = MMA.MARKEDLY_ELEVATED  # the flag implies it (see rule_states)
            state = RuleState(b12=b12, holotc=holotc, mma=mma, hcy=hcy, folate=folate, **extra)
            _check_decision(state)
            count += 1
    assert count == 5 * len(FL) ** 2 * len(MMA) * len(HCY) * len(FOL)


def test_catalog_messages_are_sentences():
    cat = catalog()
    for code, finding in cat.findings.items():
        assert finding.code == code
        assert finding.message.strip()
    for code, step in cat.next_steps.items():
        assert step.code == code
        assert step.message.strip()
    assert set(cat.summaries) == set(Status)


@given(x=st.floats(30, 3000))
def test_equal_values_in_equivalent_units_classify_alike(x: float):
    """pg/mL and ng/L are the same unit (1 pg/mL = 1 ng/L): same category always."""
    assume(math.isfinite(x))
    a = b12labs.interpret(b12=(x, "pg/mL")).markers["b12"].category
    b = b12labs.interpret(b12=(x, "ng/L")).markers["b12"].category
    assert a == b
