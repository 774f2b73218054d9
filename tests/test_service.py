"""The web service (b12labs.service): every route through httpx's ASGI transport, asserting on
the JSON actually served; limits, errors, the access log, OpenAPI, and ``b12labs serve``.

Hostile input never gives a 500: invalid JSON, 50 MB bodies (declared or streamed), deep
nesting, wrong types, huge numbers, unknown fields and wrong content types are all 4xx with
a JSON body that does not echo the request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import b12labs
from asgi_client import Client
from b12labs import cli
from b12labs.service import create_app

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = "application/problem+json"
FHIR_JSON = "application/fhir+json"
MIB = 1 << 20


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    c = Client(create_app())
    yield c
    c.close()


def problem(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    """The RFC 9457 problem of an error response, checked."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["reason"] == reason
    assert body["type"] == f"https://b12labs.org/problems/{reason}"
    assert body["title"]
    assert body["detail"]
    assert len(response.content) < 4000  # never the request echoed back
    return body


def outcome(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The OperationOutcome of a FHIR error response, checked."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == FHIR_JSON
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    assert issue["code"] == code
    assert issue["diagnostics"]
    return body


VIGNETTE = {"b12": "150 pmol/L", "mma": "0.52 umol/L", "age": 70, "sex": "female"}


# ----------------------------------------------------------------------------- /v1/interpret


def test_interpret_serves_the_library_interpretation(client: Client) -> None:
    response = client.post("/v1/interpret", json=VIGNETTE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served == b12labs.interpret(VIGNETTE).model_dump(mode="json")
    assert served["status"] == "deficiency_likely"
    assert (
        b12labs.Interpretation.model_validate_json(response.content).status == "deficiency_likely"
    )


def test_interpret_takes_a_profile_query(client: Client) -> None:
    panel = {"b12": "160 ng/L"}  # NICE: low (< 180); Mayo: indeterminate (150 to 400)
    nice = client.post("/v1/interpret", json=panel).json()
    mayo = client.post("/v1/interpret?profile=mayo-cascade", json=panel).json()
    assert (nice["profile_id"], nice["markers"]["b12"]["category"]) == ("nice-ng239", "low")
    assert (mayo["profile_id"], mayo["markers"]["b12"]["category"]) == (
        "mayo-cascade",
        "indeterminate",
    )
    body = problem(
        client.post("/v1/interpret?profile=../../etc/passwd", json=panel), 422, "unknown_profile"
    )
    assert body["field"] == "profile"


def test_default_profile_of_the_app_is_used() -> None:
    c = Client(create_app(profile="labcorp-cascade"))
    try:
        assert c.post("/v1/interpret", json={"b12": "300 pg/mL"}).json()["profile_id"] == (
            "labcorp-cascade"
        )
    finally:
        c.close()


def test_missing_content_type_is_read_as_json(client: Client) -> None:
    response = client.post("/v1/interpret", content=json.dumps(VIGNETTE).encode())
    assert response.status_code == 200


HOSTILE_BODIES = {
    "invalid JSON": (b'{"b12": ', 400, "invalid_json"),
    "empty": (b"", 400, "invalid_json"),
    "not UTF-8": (b'{"b12": "\xff\xfe"}', 400, "invalid_json"),
    "deep nesting 1e5": (b"[" * 100_000 + b"]" * 100_000, 400, "too_deep"),
    "deep objects": (b'{"a":' * 5000 + b"1" + b"}" * 5000, 400, "too_deep"),
    "65 levels": (b"[" * 65 + b"]" * 65, 400, "too_deep"),
    "an array": (b'[{"b12": "150 pmol/L"}]', 422, "invalid_body"),
    "a number": (b"5", 422, "invalid_body"),
    "a string": (b'"150 pmol/L"', 422, "invalid_body"),
    "null": (b"null", 422, "invalid_body"),
    "unknown field": (b'{"b12": "150 pmol/L", "patient_name": "x"}', 422, "unknown_field"),
    "wrong type": (b'{"b12": [1, 2, 3]}', 422, "invalid_value"),
    "object value": (b'{"b12": {"value": "x", "unit": 5}}', 422, "invalid_value"),
    "bool as age": (b'{"age": true}', 422, "invalid_value"),
    "no unit": (b'{"b12": 150}', 422, "invalid_value"),
    "unknown unit": (b'{"b12": "150 blorps/L"}', 422, "unknown_unit"),
    "wrong unit": (b'{"b12": "150 mmol/mol"}', 422, "incompatible_unit"),
    "implausible": (b'{"b12": "0.3 pg/mL"}', 422, "implausible_value"),
    "huge integer": (b'{"age": ' + b"9" * 5000 + b"}", 400, "invalid_json"),
    "huge float": (b'{"age": 1e400}', 422, "invalid_value"),
    "huge value": (b'{"b12": {"value": 1e308, "unit": "pmol/L"}}', 422, "implausible_value"),
    "NaN": (b'{"egfr": NaN}', 422, "invalid_value"),
    "negative": (b'{"mma": "-1 umol/L"}', 422, "invalid_value"),
    "long text": (b'{"b12": "' + b"1" * 100_000 + b' pmol/L"}', 422, "invalid_value"),
    "many symptoms": (b'{"symptoms": "' + b"tremor;" * 20_000 + b'"}', 422, "invalid_value"),
    "bad sex": (b'{"sex": "x"}', 422, "invalid_value"),
    "pregnant man": (b'{"sex": "male", "pregnant": true}', 422, "invalid_value"),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_bodies_get_a_4xx_problem(client: Client, name: str) -> None:
    body, status, reason = HOSTILE_BODIES[name]
    response = client.post(
        "/v1/interpret", content=body, headers={"content-type": "application/json"}
    )
    problem(response, status, reason)


def test_a_422_names_the_field_and_does_not_echo_the_body(client: Client) -> None:
    secret = "Jane-Doe-NHS-943-476-5919"
    response = client.post(
        "/v1/interpret", json={"b12": "150 pmol/L", "mma": "abc", "note_for": secret}
    )
    body = problem(response, 422, "unknown_field")
    assert secret not in response.text
    body = problem(
        client.post("/v1/interpret", json={"b12": "163 pmol/L", "mma": "abc"}),
        422,
        "invalid_value",
    )
    assert body["field"] == "mma"
    assert "163" not in body["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_wrong_content_types_get_415(client: Client, content_type: str) -> None:
    response = client.post(
        "/v1/interpret", content=json.dumps(VIGNETTE), headers={"content-type": content_type}
    )
    body = problem(response, 415, "unsupported_media_type")
    assert "application/json" in body["detail"]
    assert response.headers["accept-post"] == "application/json"


def test_unknown_path_and_method_are_problems(client: Client) -> None:
    problem(client.get("/v2/interpret"), 404, "not_found")
    problem(client.get("/v1/interpret"), 405, "method_not_allowed")


# ----------------------------------------------------------------------------- limits


def test_a_50_mb_body_is_refused_before_it_is_read(client: Client) -> None:
    big = b'{"b12": "' + b"1" * (50 * MIB) + b'"}'
    for path in ("/v1/interpret", "/v1/interpret/batch", "/fhir/$b12-interpret"):
        response = client.post(path, content=big, headers={"content-type": "application/json"})
        if path.startswith("/fhir"):
            outcome(response, 413, "too-long")
        else:
            problem(response, 413, "body_too_large")


async def _chunks(total: int, size: int = MIB, pause: float = 0.0) -> AsyncIterator[bytes]:
    sent = 0
    yield b'{"b12": "'
    while sent < total:
        if pause:
            await asyncio.sleep(pause)
        yield b"1" * size
        sent += size
    yield b'"}'


def test_a_streamed_body_without_content_length_is_counted(client: Client) -> None:
    # chunked transfer: no Content-Length, the limit is enforced as the bytes arrive
    response = client.post(
        "/v1/interpret",
        content=_chunks(50 * MIB),
        headers={"content-type": "application/json"},
    )
    problem(response, 413, "body_too_large")
    response = client.post(
        "/v1/interpret/batch",
        content=_chunks(50 * MIB),
        headers={"content-type": "text/csv"},
    )
    problem(response, 413, "body_too_large")


def test_a_lying_content_length_is_not_trusted() -> None:
    app = create_app(max_body_bytes=1000)
    c = Client(app)
    try:
        response = c.post(
            "/v1/interpret", content=_chunks(5000, size=1000), headers={"content-length": "10"}
        )
        assert response.status_code in (400, 413)
        assert response.headers["content-type"] == PROBLEM
    finally:
        c.close()


def test_an_invalid_content_length_is_a_400(client: Client) -> None:
    response = client.post("/v1/interpret", content=b"{}", headers={"content-length": "a lot"})
    problem(response, 400, "invalid_request")


def test_limits_are_settings() -> None:
    c = Client(create_app(max_body_bytes=100))
    try:
        problem(c.post("/v1/interpret", json={"b12": "1" * 200}), 413, "body_too_large")
        assert c.post("/v1/interpret", json={"b12": "150 pmol/L"}).status_code == 200
    finally:
        c.close()
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(max_body_bytes=0)
    with pytest.raises(ValueError, match="time_limit"):
        create_app(time_limit=float("nan"))
    with pytest.raises(b12labs.UnknownProfileError):
        create_app(profile="no-such-profile")


def test_a_slow_request_gets_503_at_the_time_limit() -> None:
    c = Client(create_app(time_limit=0.3))
    try:
        started = time.perf_counter()
        response = c.post(
            "/v1/interpret",
            content=_chunks(20, size=1, pause=0.1),
            headers={"content-type": "application/json"},
        )
        body = problem(response, 503, "time_limit")
        assert "0.3 s" in body["detail"]
        assert time.perf_counter() - started < 2.0
    finally:
        c.close()


def test_a_batch_that_reaches_the_time_limit_ends_with_an_error_line() -> None:
    c = Client(create_app(batch_time_limit=1.0))
    try:
        panels = [{"b12": f"{100 + i % 500} pmol/L", "mma": "0.3 umol/L"} for i in range(60_000)]
        response = c.post("/v1/interpret/batch", json=panels)
        assert response.status_code == 200
        lines = response.text.splitlines()
        last = json.loads(lines[-1])
        assert last["reason"] == "time_limit"
        assert last["index"] == len(lines) - 1 < len(panels)
    finally:
        c.close()


# ----------------------------------------------------------------------------- batch


def test_json_batch_gives_one_line_per_item_in_order(client: Client) -> None:
    items: list[Any] = [
        {"b12": "150 pmol/L", "mma": "0.52 umol/L", "age": 70},
        {"b12": "abc"},
        5,
        {"b12": "450 pmol/L", "unknown": 1},
        {"b12": "450 pmol/L"},
        [],
    ]
    response = client.post("/v1/interpret/batch", json=items)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == len(items)
    assert lines[0] == b12labs.interpret(items[0]).model_dump(mode="json")
    assert lines[1] == {
        "index": 1,
        "reason": "invalid_value",
        "detail": lines[1]["detail"],
        "field": "b12",
    }
    assert (lines[2]["index"], lines[2]["reason"]) == (2, "invalid_body")
    assert (lines[3]["index"], lines[3]["reason"]) == (3, "unknown_field")
    assert lines[4]["status"] == "not_indicated"
    assert (lines[5]["index"], lines[5]["reason"]) == (5, "invalid_body")


def test_json_batch_edges(client: Client) -> None:
    post = functools.partial(
        client.post, "/v1/interpret/batch", headers={"content-type": "application/json"}
    )
    assert post(content=b" [ ] ").text == ""
    problem(post(content=b'{"b12": "150 pmol/L"}'), 400, "invalid_body")
    problem(post(content=b"[{"), 400, "invalid_json")  # the first item: still a 400
    problem(post(content=b"[] x"), 400, "invalid_json")
    problem(post(content=b"[" * 100_000), 400, "too_deep")
    # a syntax error further on ends the stream with an error line
    lines = post(content=b'[{"b12": "150 pmol/L"}, {"b12": ').text.splitlines()
    assert json.loads(lines[0])["status"] == "borderline"
    assert json.loads(lines[1])["reason"] == "invalid_json"
    lines = post(content=b'[{"b12": "150 pmol/L"}] trailing').text.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1])["reason"] == "invalid_json"
    deep = b'[{"b12": "150 pmol/L"}, ' + b"[" * 70 + b"]" * 70 + b"]"
    lines = post(content=deep).text.splitlines()
    assert [json.loads(line).get("reason") for line in lines] == [None, "too_deep"]
    problem(
        client.post("/v1/interpret/batch", content=b"x", headers={"content-type": "text/html"}),
        415,
        "unsupported_media_type",
    )


def test_csv_batch_equals_b12labs_score(client: Client, tmp_path: Path) -> None:
    source = ROOT / "examples" / "messy_export.csv"
    out = tmp_path / "scored.csv"
    assert cli.main(["score", str(source), "-o", str(out), "--quiet"]) == 1  # rows with errors
    response = client.post(
        "/v1/interpret/batch", content=source.read_bytes(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content == out.read_bytes()


def test_csv_batch_keeps_one_row_per_line_and_guards_formulas(client: Client) -> None:
    text = (
        "b12,b12 unit,age\n"
        "150,pmol/L,70\n"
        '"unclosed,pmol/L,70\n'
        "=HYPERLINK(1),pg/mL,40\n"
        "450,pmol/L,30,extra\n"
        "<100,pg/mL,55\n"
    )
    response = client.post(
        "/v1/interpret/batch?profile=mayo-cascade",
        content=text.encode(),
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 200
    rows = response.text.splitlines()
    assert len(rows) == 1 + 5  # the header, then one row per input line
    assert rows[0].startswith('"b12","b12 unit","age","b12labs_status"')
    assert rows[1].startswith('"150","pmol/L","70","borderline"')
    assert rows[2].startswith('"\'=HYPERLINK(1)"')  # neutralized formula
    assert rows[3].startswith('"<100","pg/mL","55","deficiency_likely"')
    assert "malformed_row" in rows[4]
    assert "malformed_row" in rows[5]


def test_csv_batch_errors_and_edges(client: Client) -> None:
    def post(body: bytes, kind: str = "text/csv") -> httpx.Response:
        return client.post("/v1/interpret/batch", content=body, headers={"content-type": kind})

    problem(post(b""), 400, "invalid_csv")
    problem(post(b"\x1f\x8b\x08\x00compressed"), 400, "invalid_csv")
    body = problem(post(b"name,weight\nx,1\n"), 422, "column_error")
    assert "b12" in body["detail"]
    header_only = post(b"b12\n")
    assert header_only.status_code == 200
    assert header_only.text.splitlines()[0].startswith('"b12","b12labs_status"')
    tsv = post(b"b12\tage\n150 pmol/L\t70\n", "text/tab-separated-values")
    assert tsv.status_code == 200
    assert tsv.text.splitlines()[1].startswith('"150 pmol/L","70","borderline"')


# ----------------------------------------------------------------------------- FHIR


def _observation(ident: str, loinc: str, value: float, unit: str, day: dt.date) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": day.isoformat(),
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def _bundle() -> dict[str, Any]:
    day = dt.date.today() - dt.timedelta(days=5)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "pat-1",
                    "gender": "female",
                    "birthDate": "1955-01-15",
                }
            },
            {"resource": _observation("b12-1", "14685-2", 150, "pmol/L", day)},
            {"resource": _observation("mma-1", "13964-2", 0.52, "umol/L", day)},
            {"resource": _observation("b12-0", "14685-2", 300, "pmol/L", day)},
        ],
    }


def test_fhir_operation_answers_a_collection_bundle(client: Client) -> None:
    response = client.post("/fhir/$b12-interpret", json=_bundle())
    assert response.status_code == 200
    assert response.headers["content-type"] == FHIR_JSON
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    resources = [e["resource"] for e in bundle["entry"]]
    overall = next(
        r for r in resources if r["resourceType"] == "Observation"
        and r["code"]["coding"][0]["code"] == "b12-status"
    )  # fmt: skip
    assert overall["valueCodeableConcept"]["coding"][0]["code"] == "deficiency_likely"
    assert overall["subject"] == {"reference": "Patient/pat-1"}
    notes = resources[-1]
    assert notes["resourceType"] == "OperationOutcome"
    assert all(i["severity"] == "information" for i in notes["issue"])
    assert any("b12 given twice" in i["diagnostics"] for i in notes["issue"])


@pytest.mark.parametrize(
    ("identifier", "written"),
    [("pat-1", "Patient/pat-1"), ("pat-1\n", None), ("pat 1", None), ("x" * 65, None)],
)
def test_fhir_operation_writes_patient_references_only_from_valid_ids(
    client: Client, identifier: str, written: str | None
) -> None:
    # The FHIR id datatype (R4 and R5): [A-Za-z0-9\-.]{1,64}. An id outside it is not echoed
    # into the written references (a pattern ending in "$" took "pat-1\n"); the results then
    # refer to the patient by the Bundle's own urn:uuid.
    bundle = _bundle()
    bundle["entry"][0]["resource"]["id"] = identifier
    for entry in bundle["entry"][1:]:
        entry["resource"].pop("subject", None)  # the Bundle's Patient, implicitly
    response = client.post("/fhir/$b12-interpret", json=bundle)
    assert response.status_code == 200
    resources = [e["resource"] for e in response.json()["entry"]]
    references = {
        r["subject"]["reference"] for r in resources if r["resourceType"] == "Observation"
    }
    assert len(references) == 1
    reference = references.pop()
    if written is None:
        assert reference.startswith("urn:uuid:")
    else:
        assert reference == written


def test_fhir_operation_takes_parameters(client: Client) -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": _bundle()},
            {"name": "profile", "valueCode": "mayo-cascade"},
        ],
    }
    response = client.post(
        "/fhir/$b12-interpret", json=parameters, headers={"content-type": FHIR_JSON}
    )
    assert response.status_code == 200
    notes = " ".join(
        r["resource"].get("note", [{}])[0].get("text", "") for r in response.json()["entry"]
    )
    assert "mayo-cascade" in notes


def test_fhir_operation_errors_are_operation_outcomes(client: Client) -> None:
    post = functools.partial(client.post, "/fhir/$b12-interpret")
    outcome(post(content=b"{", headers={"content-type": FHIR_JSON}), 400, "structure")
    outcome(post(json={"resourceType": "Observation"}), 400, "structure")
    outcome(
        post(json={"resourceType": "Parameters", "parameter": [{"name": "x"}]}), 400, "structure"
    )
    outcome(post(content=b"[" * 100_000, headers={"content-type": FHIR_JSON}), 400, "structure")
    outcome(
        post(content=b"<Bundle/>", headers={"content-type": "application/fhir+xml"}),
        415,
        "not-supported",
    )
    two_patients = _bundle()
    two_patients["entry"].append({"resource": {"resourceType": "Patient", "id": "pat-2"}})
    body = outcome(post(json=two_patients), 422, "invalid")
    assert "more than one Patient" in body["issue"][0]["diagnostics"]
    bad_unit = _bundle()
    bad_unit["entry"][1]["resource"]["valueQuantity"]["code"] = "furlongs"
    body = outcome(post(json=bad_unit), 422, "value")
    assert body["issue"][0]["expression"] == ["b12"]
    outcome(post(json=_bundle(), params={"profile": "nope"}), 422, "not-supported")


def test_fhir_operation_is_system_level_only(client: Client) -> None:
    outcome(client.post("/fhir/Observation/$b12-interpret", json=_bundle()), 404, "not-found")


# ----------------------------------------------------------------------------- health, OpenAPI


def test_healthz(client: Client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_openapi_validates_and_describes_the_models(client: Client) -> None:
    import schemathesis

    document = client.get("/openapi.json").json()
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3.1 meta-schema
    schemas = document["components"]["schemas"]
    for name in ("Panel", "Interpretation", "Problem", "BatchError", "CdsRequest", "Card"):
        assert name in schemas, name
    assert schemas["Interpretation"]["properties"]["status"] == {
        "$ref": "#/components/schemas/Status"
    }
    b12 = schemas["Panel"]["properties"]["b12"]["anyOf"]
    assert {"type": "string"}.items() <= b12[1].items()  # "150 pmol/L" is accepted too
    paths = document["paths"]
    assert set(paths) >= {
        "/v1/interpret",
        "/v1/interpret/batch",
        "/fhir/$b12-interpret",
        "/cds-services",
        "/cds-services/{service_id}",
        "/healthz",
    }
    body = paths["/v1/interpret"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Panel"}
    assert "/docs" not in paths
    assert client.get("/docs").status_code == 404


# ----------------------------------------------------------------------------- access log


def test_access_log_has_one_json_line_per_request_and_no_patient_data(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    patient_id = "PAT-7741-QX"
    value = "151.37"
    bundle = _bundle()
    bundle["entry"][0]["resource"]["id"] = patient_id
    for entry in bundle["entry"][1:]:
        entry["resource"]["subject"]["reference"] = f"Patient/{patient_id}"
        entry["resource"]["valueQuantity"]["value"] = float(value)
    cds = {
        "hook": "patient-view",
        "hookInstance": "2c7e2f1a-1111-4f5e-9d3a-0d5c2e0f9a10",
        "context": {"userId": "Practitioner/dr-1", "patientId": patient_id},
        "prefetch": {
            "patient": bundle["entry"][0]["resource"],
            "b12Results": {"resourceType": "Bundle", "type": "searchset",
                           "entry": bundle["entry"][1:]},
        },
    }  # fmt: skip
    with caplog.at_level(logging.INFO, logger="b12labs.service"):
        caplog.clear()
        requests = [
            client.post("/v1/interpret", json={"b12": f"{value} pmol/L", "age": 71}),
            client.post("/v1/interpret", json={"b12": f"{value} furlongs", "name": patient_id}),
            client.post("/v1/interpret?profile=" + patient_id, json={}),
            client.post("/fhir/$b12-interpret", json=bundle),
            client.post("/cds-services/b12labs-patient-view", json=cds),
            client.post(f"/cds-services/{patient_id}", json=cds),
            client.get(f"/patients/{patient_id}/{value}"),
            client.post(
                "/v1/interpret/batch", json=[{"b12": f"{value} pmol/L"}, {"x": patient_id}]
            ),
        ]
    assert all(r.status_code < 500 for r in requests)
    records = [r for r in caplog.records if r.name == "b12labs.service"]
    lines = [json.loads(r.getMessage()) for r in records]
    assert len(lines) == len(requests)
    for line, response in zip(lines, requests, strict=True):
        assert set(line) >= {"event", "method", "route", "status", "duration_ms",
                             "request_bytes", "response_bytes"}  # fmt: skip
        assert line["status"] == response.status_code
        assert line["response_bytes"] == len(response.content)
    assert [line["route"] for line in lines] == [
        "/v1/interpret",
        "/v1/interpret",
        "/v1/interpret",
        "/fhir/$b12-interpret",
        "/cds-services/{service_id}",
        "/cds-services/{service_id}",
        None,
        "/v1/interpret/batch",
    ]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert patient_id not in text
    assert value not in text
    assert "furlongs" not in text


def test_importing_b12labs_imports_no_web_framework() -> None:
    code = (
        "import sys, b12labs, b12labs.fhir, b12labs.cli; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# ----------------------------------------------------------------------------- b12labs serve


def test_serve_without_the_extra_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [
        m for m in sys.modules if m == "b12labs.service" or m.startswith("b12labs.service.")
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)
    assert cli.main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == 'b12labs: error: serve needs fastapi: pip install "b12labs[service]"'


def test_serve_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--port", "70000"]) == 2
    assert cli.main(["serve", "--workers", "0"]) == 2
    assert cli.main(["serve", "--profile", "nope"]) == 2
    assert "unknown profile" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_b12labs_serve_runs_the_service_on_localhost_and_stops_cleanly() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "b12labs", "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        response = httpx.post(f"{base}/v1/interpret", json=VIGNETTE, timeout=10)
        assert response.json()["status"] == "deficiency_likely"
        assert "server" not in response.headers  # no Server header
        chunked = httpx.post(
            f"{base}/v1/interpret",
            content=iter([b'{"b12": "', b"1" * (5 * MIB), b'"}']),
            headers={"content-type": "application/json"},
            timeout=10,
        )
        assert chunked.status_code == 413
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0
    access = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert access[0]["event"] == "startup"
    assert [a["status"] for a in access if a["event"] == "request"][-2:] == [200, 413]


def test_b12labs_serve_on_a_busy_port_exits_with_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "b12labs", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"b12labs: error: cannot serve on 127.0.0.1:{port} (see the message above)"
    )
