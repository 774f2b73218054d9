"""Fuzzing the FHIR reader (issue 10): on any input, a result or a b12labs error.

``read_fhir`` takes JSON from other systems. Whatever it is given (wrong types at every field,
random nesting, huge or non-finite numbers, dates that are not dates, Bundles inside Bundles),
it must return a :class:`~b12labs.fhir.FhirInput` or raise a :class:`~b12labs.B12LabsError`:
never a ``TypeError``, ``KeyError``, ``AttributeError``, ``RecursionError``... And what it
returns must be usable: ``interpret()`` on the panel gives a result or a b12labs error, and
the result writes to FHIR.

The inputs start from well-formed resources (so that the fuzz reaches deep into the reader)
and are then damaged at random places.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import b12labs
import b12labs.fhir
from b12labs import B12LabsError
from b12labs.fhir import LOINC, OBSERVATION_CODE_SYSTEM, UCUM, read_fhir, to_fhir

TODAY = dt.date(2024, 6, 1)
SNOMED = "http://snomed.info/sct"

# ----------------------------------------------------------------------------- values

KEYS = (
    "resourceType", "id", "status", "code", "coding", "system", "display", "text", "subject",
    "reference", "identifier", "value", "valueQuantity", "unit", "comparator",
    "effectiveDateTime", "effectivePeriod", "start", "end", "effectiveInstant", "issued",
    "valueBoolean", "valueCodeableConcept", "component", "entry", "resource", "fullUrl",
    "gender", "birthDate", "clinicalStatus", "verificationStatus", "onsetDateTime",
    "onsetPeriod", "abatementDateTime", "dataAbsentReason", "type", "category",
)  # fmt: skip
TEXTS = (
    "Observation", "Patient", "Condition", "Bundle", "final", "cancelled", "entered-in-error",
    LOINC, UCUM, SNOMED, OBSERVATION_CODE_SYSTEM, "14685-2", "2132-9", "13964-2", "13965-9",
    "72160-5", "2284-8", "2160-0", "30525-0", "98979-8", "48643-1", "48642-3", "82810-3",
    "LA15173-0", "77386006", "pmol/L", "pg/mL", "umol/L", "mg/dL", "a", "mo", "kg", "%",
    "mL/min/{1.73_m2}", "mL/s/{1.73_m2}", "<", ">=", "~", "Patient/p1", "Patient/p2",
    "urn:uuid:1", "female", "male", "active", "confirmed", "pregnant", "symptoms",
    "risk_factors", "nitrous_oxide", "recent_b12_treatment", "egfr", "tremor",
    "2024-05-01", "2024-05-01T09:30:00Z", "2024-02-30", "2024-13-01", "0000-01-01",
    "9999-12-31", "1954", "1954-06", "2024-05-01T25:00:00", "2024-05-01T09:30:00+99:00",
    "yesterday", "", " ", "\x00", "\ud800", "1e999", "NaN", "-0", "Z",
)  # fmt: skip
NUMBERS = (0, -1, 1, 150, 2**63, 10**30, 10**400, -(10**400), 1e308, 1e-320, -0.0)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(NUMBERS),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TEXTS),
    st.text(max_size=12),
)
json_keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6))
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=12,
)

# ----------------------------------------------------------------------------- well-formed inputs


def observation(id_: str, loinc: str, value: Any, unit: str, date: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": date,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def own(id_: str, code: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": OBSERVATION_CODE_SYSTEM, "code": code}]},
        **value,
    }


RESOURCES: tuple[dict[str, Any], ...] = (
    {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1954-06-02"},
    observation("b", "14685-2", 140, "pmol/L", "2024-05-01T09:30:00Z"),
    observation("b2", "2132-9", 300, "pg/mL", "2024-04-01"),
    observation("h", "72160-5", 40, "pmol/L", "2024-05-01"),
    observation("m", "13964-2", 0.52, "umol/L", "2024-05-01"),
    observation("y", "13965-9", 18, "umol/L", "2024-05-01"),
    observation("f", "2284-8", 4, "ng/mL", "2024-05-01"),
    observation("c", "2160-0", 1.2, "mg/dL", "2024-05-01"),
    observation("e", "98979-8", 55, "mL/min/{1.73_m2}", "2024-05-01"),
    observation("age", "30525-0", 70, "a", "2024-05-01"),
    {
        "resourceType": "Observation",
        "id": "preg",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
        "effectiveDateTime": "2024-04-20",
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "60001007"}]},
    },
    {
        "resourceType": "Condition",
        "id": "cond",
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": SNOMED, "code": "77386006"}]},
        "onsetDateTime": "2024-03-01",
    },
    own("n2o", "nitrous_oxide", {"valueBoolean": True}),
    own("rx", "recent_b12_treatment", {"valueBoolean": False}),
    own(
        "sym",
        "symptoms",
        {
            "valueBoolean": True,
            "component": [
                {
                    "code": {"coding": [{"system": b12labs.fhir.SYMPTOM_SYSTEM, "code": "tremor"}]},
                    "valueBoolean": True,
                }
            ],
        },
    ),
)


@st.composite
def fhir_inputs(draw: st.DrawFn) -> Any:
    """A Bundle, a list or one resource, built from well-formed resources."""
    chosen = draw(st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=6))
    resources = json.loads(json.dumps(chosen))  # fresh copies to damage
    shape = draw(st.sampled_from(("bundle", "list", "one", "nested-bundle")))
    if shape == "one":
        return resources[0]
    if shape == "list":
        return resources
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"fullUrl": f"https://fhir.example.org/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }
    if shape == "nested-bundle":
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": bundle}]}
    return bundle


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, (*path, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            out += _paths(child, (*path, i))
    return out


@st.composite
def damaged(draw: st.DrawFn) -> Any:
    """A well-formed input damaged at 1 to 4 random places: a value replaced by anything
    (a wrong type, a number too large, a date that is not one, a nested structure), a key
    removed, or a value wrapped in a list."""
    data = draw(fhir_inputs())
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(("replace", "replace", "delete", "wrap")))
        if not path:
            if action == "replace":
                data = draw(json_like)
            elif action == "wrap":
                data = [data]
            continue
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = draw(json_like)
        elif action == "wrap":
            parent[last] = [parent[last]]
        elif isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    return data


# ----------------------------------------------------------------------------- properties


def check(data: Any) -> None:
    """read_fhir gives a FhirInput or a b12labs error; the panel interprets and writes."""
    try:
        read = read_fhir(data, today=TODAY)
    except B12LabsError:
        return
    assert isinstance(read, b12labs.fhir.FhirInput)
    try:
        result = b12labs.interpret(read.panel)
    except B12LabsError:
        return
    bundle = to_fhir(result)
    json.dumps(bundle, allow_nan=False)  # what is written is JSON
    for marker in result.markers.values():
        assert math.isfinite(marker.value)


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=damaged())
def test_damaged_fhir_gives_a_result_or_a_b12labs_error(data: Any) -> None:
    check(data)


@FUZZ
@given(data=damaged())
def test_damaged_fhir_as_json_text_gives_a_result_or_a_b12labs_error(data: Any) -> None:
    try:
        text = json.dumps(data)
    except (ValueError, TypeError):  # not JSON-encodable (NaN is: Python writes it)
        return
    check(text)
    check(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=None)
@given(data=json_like)
def test_random_json_gives_a_result_or_a_b12labs_error(data: Any) -> None:
    check(data)
    if isinstance(data, dict):
        check({**data, "resourceType": "Observation"})
        check({"resourceType": "Bundle", "entry": [data, {"resource": data}]})


@pytest.mark.parametrize(
    "text",
    ["", "{", "null", "[]", "[[[]]]", '"Observation"', "1e999", "1" * 5000, "[" * 100000,
     '{"resourceType": 5}', '{"resourceType": "Bundle", "entry": 5}',
     '{"resourceType": "Bundle", "entry": [5, null, [], {"resource": 7}]}'],
)  # fmt: skip
def test_hostile_json_texts(text: str) -> None:
    check(text)
