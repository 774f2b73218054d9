"""FHIR input of several dates for one patient reads as a series (decision-spec section 8):
``b12labs.fhir.read_fhir_series``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

import b12labs
from b12labs import FhirError
from b12labs.fhir import read_fhir, read_fhir_series
from conftest import ROOT

TODAY = dt.date(2025, 1, 1)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def observation(id_: str, code: str, value: float, unit: str, when: str | None, **extra: Any):
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        **extra,
    }
    if when is not None:
        resource["effectiveDateTime"] = when
    return {"fullUrl": f"https://fhir.example.org/Observation/{id_}", "resource": resource}


PATIENT = {
    "fullUrl": "https://fhir.example.org/Patient/p1",
    "resource": {
        "resourceType": "Patient",
        "id": "p1",
        "gender": "female",
        "birthDate": "1954-06-02",
    },
}


def bundle(*entries: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [PATIENT, *entries]}


KUZMINSKI = bundle(
    observation("mma-0", "13964-2", 3850, "nmol/L", "2024-01-10T08:00:00+01:00"),
    observation("hcy-0", "13965-9", 37.2, "umol/L", "2024-01-10"),
    observation("mma-4", "13964-2", 169, "nmol/L", "2024-05-10T09:30:00Z"),
    observation("hcy-4", "13965-9", 10.6, "umol/L", "2024-05-10"),
    observation("glucose", "2345-7", 5.2, "mmol/L", "2024-05-10"),
)


def test_each_date_is_one_point():
    series = read_fhir_series(KUZMINSKI, today=TODAY)
    assert [p.collected for p in series] == [dt.date(2024, 1, 10), dt.date(2024, 5, 10)]
    first, last = series.points
    assert first.panel.mma is not None
    assert first.panel.mma.source == "Observation/mma-0"
    assert last.panel.hcy is not None
    assert last.panel.hcy.value == 10.6
    # the Patient gives age at each date (completed years from birthDate 1954-06-02)
    assert (first.panel.age, last.panel.age) == (69, 69)
    assert first.panel.sex == "female"
    assert series.ignored == ["Observation/glucose (2345-7)"]
    assert series.reads[dt.date(2024, 5, 10)].used == {
        "mma": "Observation/mma-4",
        "hcy": "Observation/hcy-4",
    }


def test_a_fhir_series_interprets_as_a_series():
    result = b12labs.interpret_series(
        read_fhir_series(KUZMINSKI, today=TODAY),
        treatment_started="2024-01-10",
        treatment_route="oral",
    )
    assert result.finding_codes == ("biochemical_response", "biochemical_response")


def test_one_date_reads_as_read_fhir_does():
    one = bundle(
        observation("b12", "14685-2", 140, "pmol/L", "2024-05-01"),
        observation("mma", "13964-2", 0.52, "umol/L", "2024-05-01"),
    )
    (point,) = read_fhir_series(one, today=TODAY)
    assert point.panel == read_fhir(one, today=TODAY).panel


def test_the_example_bundle_reads_as_two_points():
    data = json.loads((ROOT / "examples" / "fhir_bundle.json").read_text("utf-8"))
    series = read_fhir_series(data, today=TODAY)
    assert [p.collected.isoformat() for p in series] == ["2024-03-01", "2024-05-01"]
    assert any("entered-in-error" in note for note in series.notes)


@pytest.mark.parametrize(
    ("when", "words"),
    [(None, "no collection date"), ("2024-05", "year or month only")],
)
def test_a_result_needs_its_collection_day(when: str | None, words: str):
    data = bundle(
        observation("b12", "14685-2", 140, "pmol/L", "2024-05-01"),
        observation("mma", "13964-2", 0.52, "umol/L", when),
    )
    with pytest.raises(FhirError, match=words):
        read_fhir_series(data, today=TODAY)


def test_context_of_a_date_without_results_is_not_used():
    age = observation("age", "30525-0", 70, "a", "2024-02-01")
    data = bundle(observation("b12", "14685-2", 140, "pmol/L", "2024-05-01"), age)
    series = read_fhir_series(data, today=TODAY)
    assert any("Observation/age not used" in note for note in series.notes)


def test_two_patients_are_refused():
    other = {"resource": {"resourceType": "Patient", "id": "p2"}}
    with pytest.raises(FhirError, match="more than one Patient"):
        read_fhir_series(bundle(other), today=TODAY)
