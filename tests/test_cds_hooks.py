"""CDS Hooks 2.0 services: discovery, a request/response pair per hook checked against the
specification's required fields, request validation, and cards for clinical vignettes.

The required-field checks are written from the specification text (CDS Hooks 2.0,
https://cds-hooks.hl7.org/2.0/; the same tables are in the HL7 repository's
``docs/specification/current.md``), quoted where they are checked:

* Discovery, "Response": "The response to the discovery endpoint SHALL be an object
  containing a list of CDS Services" (``services``); each service: ``hook`` REQUIRED string,
  ``title`` RECOMMENDED string, ``description`` REQUIRED string, ``id`` REQUIRED string,
  ``prefetch`` OPTIONAL object of key/value pairs of FHIR queries (strings),
  ``usageRequirements`` OPTIONAL string.
* "Prefetch tokens": "Prefetch tokens MUST be delimited by ``{{`` and ``}}``, and MUST
  contain only the qualified path to a hook context field or one of the following user
  identifiers"; "Only root-level fields with a primitive value within the context object are
  eligible"; the hooks list which fields are tokens (patient-view and order-select:
  ``userId``, ``patientId``, ``encounterId``).
* "CDS Service Response": "CDS Services SHALL respond with a 200 HTTP response with an
  object containing a ``cards`` array"; "Card Attributes": ``summary`` REQUIRED "One-sentence,
  <140-character summary message", ``indicator`` REQUIRED, "Allowed values, in order of
  increasing urgency, are: info, warning, critical", ``source`` REQUIRED object; ``detail``
  OPTIONAL, "if provided MUST be represented in (GitHub Flavored) Markdown"; ``uuid`` OPTIONAL
  string. "Source": ``label`` REQUIRED string, ``url`` OPTIONAL absolute URL.
* "Use of JSON": "JSON elements SHALL NOT be null, unless otherwise specified" and "SHALL NOT
  be empty" ("If a JSON attribute is defined as OPTIONAL, and does not have a value,
  implementers MUST omit it").
* "Calling a CDS Service": ``hook`` REQUIRED, ``hookInstance`` REQUIRED, ``fhirServer``
  CONDITIONAL ("If fhirAuthorization is provided, this field is REQUIRED"), ``context``
  REQUIRED; patient-view context: ``userId``, ``patientId`` REQUIRED; order-select context:
  ``userId``, ``patientId``, ``selections``, ``draftOrders`` REQUIRED.
* "Prefetch Template": "If the CDS Service is unable to obtain required data because it
  cannot access the FHIR server and the request did not contain the necessary prefetch keys,
  the service SHALL respond with an HTTP 412 Precondition Failed status code."
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from asgi_client import Client
from b12labs.service import create_app

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PATIENT_ID = "pt-4411"
TODAY = dt.datetime.now(dt.UTC).date()
NICE_TITLE = "NICE NG239 (2024), vitamin B12 deficiency in over 16s"
NICE_URL = "https://www.nice.org.uk/guidance/ng239"
DISCLAIMER = "Decision support, not a diagnosis."


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    c = Client(create_app())
    yield c
    c.close()


# ----------------------------------------------------------------------------- builders


def days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def observation(ident: str, loinc: str, value: float, unit: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def patient(gender: str, born: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": PATIENT_ID, "gender": gender, "birthDate": born}


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"fullUrl": f"https://ehr.example/fhir/{r['resourceType']}/{r['id']}", "resource": r,
             "search": {"mode": "match"}}
            for r in resources
        ],
    }  # fmt: skip


def request(hook: str, prefetch: dict[str, Any] | None, **context: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": PATIENT_ID, **context},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def full_prefetch(results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    prefetch: dict[str, Any] = {
        "patient": patient("female", days_ago(70 * 365 + 30)),
        "b12Results": searchset(*results),
        "kidneyFunction": searchset(
            observation("egfr-1", "98979-8", 78, "mL/min/{1.73_m2}", days_ago(3))
        ),
        "pregnancyStatus": None,
        "conditions": None,
        "procedures": None,
        "medicationRequests": None,
        "medicationStatements": None,
    }  # fmt: skip
    prefetch.update(extra)
    return prefetch


def order(loinc: str, ident: str = "sr-1") -> dict[str, Any]:
    return {
        "selections": [f"ServiceRequest/{ident}"],
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "resource": {
                        "resourceType": "ServiceRequest",
                        "id": ident,
                        "status": "draft",
                        "intent": "order",
                        "code": {"coding": [{"system": LOINC, "code": loinc}]},
                        "subject": {"reference": f"Patient/{PATIENT_ID}"},
                    }
                },
                {
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "id": "mr-9",
                        "status": "draft",
                        "intent": "order",
                        "subject": {"reference": f"Patient/{PATIENT_ID}"},
                    }
                },
            ],
        },
    }


def call(client: Client, service: str, body: dict[str, Any]) -> httpx.Response:
    return client.request("POST", f"/cds-services/{service}", json=body)


def cards(client: Client, service: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = call(client, service, body)
    assert response.status_code == 200, response.text[:800]
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    check_response(served)
    result: list[dict[str, Any]] = served["cards"]
    return result


# ----------------------------------------------------------------------------- spec checks


def no_null_or_empty(value: Any, path: str = "$") -> None:
    """'JSON elements SHALL NOT be null ... SHALL NOT be empty' (CDS Hooks 2.0, "Use of
    JSON"); the one exception the specification names is an empty array of cards."""
    assert value is not None, f"{path} is null"
    if isinstance(value, str | list | dict) and path != "$.cards":
        assert len(value) > 0, f"{path} is empty"
    if isinstance(value, dict):
        for key, item in value.items():
            no_null_or_empty(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            no_null_or_empty(item, f"{path}[{i}]")


def check_discovery(served: dict[str, Any]) -> None:
    assert set(served) == {"services"}
    assert isinstance(served["services"], list)
    no_null_or_empty(served)
    for service in served["services"]:
        for required in ("hook", "description", "id"):  # REQUIRED strings
            assert isinstance(service[required], str), required
        assert isinstance(service["title"], str)  # RECOMMENDED
        assert set(service) <= {"hook", "title", "description", "id", "prefetch",
                                "usageRequirements"}  # fmt: skip
        prefetch = service.get("prefetch", {})
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in prefetch.items())
        for template in prefetch.values():
            tokens = re.findall(r"\{\{(.*?)\}\}", template)
            assert tokens, template
            assert set(tokens) <= {"context.userId", "context.patientId", "context.encounterId"}
            assert "{{" not in re.sub(r"\{\{.*?\}\}", "", template)


def check_response(served: dict[str, Any]) -> None:
    assert set(served) <= {"cards", "systemActions"}
    assert isinstance(served["cards"], list)  # REQUIRED, possibly empty
    no_null_or_empty(served)
    for card in served["cards"]:
        assert set(card) <= {"uuid", "summary", "detail", "indicator", "source", "suggestions",
                             "selectionBehavior", "overrideReasons", "links"}  # fmt: skip
        summary = card["summary"]
        assert isinstance(summary, str)
        assert len(summary) < 140
        assert "\n" not in summary
        assert card["indicator"] in ("info", "warning", "critical")
        source = card["source"]
        assert isinstance(source["label"], str)
        if "url" in source:
            assert re.match(r"^https?://", source["url"])  # an absolute URL
        if "uuid" in card:
            assert isinstance(card["uuid"], str)
        assert isinstance(card.get("detail", ""), str)


# ----------------------------------------------------------------------------- discovery


def test_discovery_lists_two_services_with_their_prefetch(client: Client) -> None:
    response = client.request("GET", "/cds-services")
    assert response.status_code == 200
    served = response.json()
    check_discovery(served)
    services = {s["id"]: s for s in served["services"]}
    assert {s["hook"] for s in services.values()} == {"patient-view", "order-select"}
    for service in services.values():
        prefetch = service["prefetch"]
        assert prefetch["patient"] == "Patient/{{context.patientId}}"
        assert set(prefetch) >= {"patient", "b12Results", "kidneyFunction", "conditions",
                                 "medicationRequests", "medicationStatements"}  # fmt: skip
        for code in ("2132-9", "14685-2", "72160-5", "13964-2", "13965-9"):
            assert f"{LOINC}|{code}" in prefetch["b12Results"], code
        for code in ("2160-0", "98979-8"):  # creatinine, eGFR CKD-EPI 2021
            assert f"{LOINC}|{code}" in prefetch["kidneyFunction"], code
        assert prefetch["conditions"].startswith("Condition?patient={{context.patientId}}")
        assert prefetch["medicationRequests"].startswith("MedicationRequest?patient=")
        assert prefetch["medicationStatements"].startswith("MedicationStatement?patient=")


# ----------------------------------------------------------------------------- one pair per hook

GREY_ZONE = [
    observation("b12-1", "14685-2", 150, "pmol/L", days_ago(10)),
    observation("mma-1", "13964-2", 0.52, "umol/L", days_ago(10)),
]


def test_patient_view_request_response_pair(client: Client) -> None:
    body = request("patient-view", full_prefetch(GREY_ZONE), encounterId="enc-7")
    served = cards(client, "b12labs-patient-view", body)
    assert len(served) == 1
    card = served[0]
    assert card["indicator"] == "warning"  # deficiency_likely
    assert card["summary"] == (
        f"Vitamin B12: deficiency likely on results of {days_ago(10)} (nice-ng239)"
    )
    assert card["source"] == {"label": NICE_TITLE, "url": NICE_URL}
    detail = card["detail"]
    assert "MMA is elevated, which supports a functional B12 deficiency." in detail
    assert "Discuss B12 treatment and its cause with a clinician." in detail
    assert "| methylmalonic acid | 0.52 umol/L |" in detail
    assert DISCLAIMER in detail
    # the same call gives the same card (uuid from the service and hookInstance)
    assert cards(client, "b12labs-patient-view", body)[0]["uuid"] == card["uuid"]


def test_order_select_request_response_pair(client: Client) -> None:
    body = request("order-select", full_prefetch(GREY_ZONE), **order("14685-2"))
    served = cards(client, "b12labs-order-select", body)
    assert len(served) == 1
    card = served[0]
    assert card["summary"] == (
        f"Total B12 measured 10 days ago ({days_ago(10)}): deficiency likely; check before "
        "repeating"
    )
    assert card["indicator"] == "warning"
    assert "may already answer this order" in card["detail"]
    assert "ServiceRequest/sr-1" in card["detail"]


# ----------------------------------------------------------------------------- vignettes


def test_normal_b12_and_mma_give_an_info_card(client: Client) -> None:
    results = [
        observation("b12-2", "14685-2", 450, "pmol/L", days_ago(20)),
        observation("mma-2", "13964-2", 0.21, "umol/L", days_ago(20)),
    ]
    (card,) = cards(client, "b12labs-patient-view", request("patient-view", full_prefetch(results)))
    assert card["indicator"] == "info"
    assert "deficiency not indicated" in card["summary"]
    assert "These results do not indicate B12 deficiency." in card["detail"]


def test_pregnancy_with_low_total_b12_is_borderline_and_asks_for_active_b12(
    client: Client,
) -> None:
    results = [observation("b12-3", "14685-2", 120, "pmol/L", days_ago(7))]
    pregnancy = {
        "resourceType": "Observation",
        "id": "preg-1",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": days_ago(7),
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA15173-0"}]},
    }
    prefetch = full_prefetch(results, pregnancyStatus=searchset(pregnancy))
    prefetch["patient"] = patient("female", days_ago(31 * 365))
    (card,) = cards(client, "b12labs-patient-view", request("patient-view", prefetch))
    assert card["indicator"] == "info"  # borderline: never critical, not a warning
    assert "borderline" in card["summary"]
    assert "NICE NG239 prefers it in pregnancy" in card["detail"]  # measure_holotc
    assert "pregnant from Observation/preg-1" in card["detail"]


def test_pregnancy_from_a_condition_and_metformin_from_a_medication_statement(
    client: Client,
) -> None:
    condition = {
        "resourceType": "Condition",
        "id": "cond-1",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": SNOMED, "code": "77386006"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "onsetDateTime": days_ago(60),
    }
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms-1",
        "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "6809"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    results = [observation("b12-4", "14685-2", 120, "pmol/L", days_ago(7))]
    prefetch = full_prefetch(
        results, conditions=searchset(condition), medicationStatements=searchset(statement)
    )
    prefetch["patient"] = patient("female", days_ago(29 * 365))
    (card,) = cards(client, "b12labs-patient-view", request("patient-view", prefetch))
    assert "borderline" in card["summary"]
    assert "metformin (MedicationStatement/ms-1)" in card["detail"]


def test_recent_results_that_advise_the_ordered_test(client: Client) -> None:
    results = [observation("b12-5", "14685-2", 200, "pmol/L", days_ago(14))]  # grey zone
    body = request("order-select", full_prefetch(results), **order("13964-2"))  # MMA ordered
    (card,) = cards(client, "b12labs-order-select", body)
    assert card["summary"] == (
        f"Recent B12 results ({days_ago(14)}, borderline) advise this test (MMA)"
    )
    assert card["indicator"] == "info"
    assert "Measure methylmalonic acid (MMA) to resolve the result." in card["detail"]


def test_recent_results_without_the_ordered_test(client: Client) -> None:
    results = [observation("holotc-6", "72160-5", 90, "pmol/L", days_ago(30))]  # active B12
    body = request("order-select", full_prefetch(results), **order("2132-9"))  # total B12
    (card,) = cards(client, "b12labs-order-select", body)
    assert card["summary"].startswith(f"Recent B12 results ({days_ago(30)}): ")
    assert "they do not include the ordered test" in card["detail"]


def test_order_select_says_nothing_without_recent_results_or_a_b12_order(
    client: Client,
) -> None:
    old = [observation("b12-7", "14685-2", 150, "pmol/L", days_ago(200))]
    body = request("order-select", full_prefetch(old), **order("14685-2"))
    assert cards(client, "b12labs-order-select", body) == []
    haemoglobin = request("order-select", full_prefetch(GREY_ZONE), **order("718-7"))
    assert cards(client, "b12labs-order-select", haemoglobin) == []
    nothing = request("order-select", full_prefetch([]), **order("14685-2"))
    assert cards(client, "b12labs-order-select", nothing) == []


def test_missing_prefetch_keys_are_said_in_the_card(client: Client) -> None:
    body = request("patient-view", {"b12Results": searchset(*GREY_ZONE)})
    (card,) = cards(client, "b12labs-patient-view", body)
    detail = card["detail"]
    assert "**Not sent by the EHR** (b12labs fetches nothing itself)" in detail
    for key in ("patient:", "kidneyFunction:", "conditions:", "medicationStatements:"):
        assert key in detail, key
    assert "age and sex unknown" in detail
    # sent as null ("no data"): not listed as missing
    (card,) = cards(
        client, "b12labs-patient-view", request("patient-view", full_prefetch(GREY_ZONE))
    )
    assert "Not sent by the EHR" not in card["detail"]


def test_no_b12_results_no_card(client: Client) -> None:
    body = request("patient-view", full_prefetch([], b12Results=None))
    assert cards(client, "b12labs-patient-view", body) == []


def test_missing_b12_results_prefetch_is_412(client: Client) -> None:
    for prefetch in (None, {}, {"patient": patient("female", "1950-01-01")}):
        response = call(client, "b12labs-patient-view", request("patient-view", prefetch))
        assert response.status_code == 412
        assert response.json()["reason"] == "missing_prefetch"
    failed = {"b12Results": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "timeout"}]}}  # fmt: skip
    response = call(client, "b12labs-patient-view", request("patient-view", failed))
    assert response.status_code == 412


def test_operation_outcomes_in_prefetch_are_reported(client: Client) -> None:
    conditions = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {"resourceType": "OperationOutcome",
                             "issue": [{"severity": "error", "code": "too-costly"}]},
                "search": {"mode": "outcome"},
            }
        ],
    }  # fmt: skip
    body = request("patient-view", full_prefetch(GREY_ZONE, conditions=conditions))
    (card,) = cards(client, "b12labs-patient-view", body)
    assert "The EHR reported errors fetching: conditions" in card["detail"]


def test_older_results_are_counted_not_used(client: Client) -> None:
    results = [*GREY_ZONE, observation("b12-old", "14685-2", 600, "pmol/L", days_ago(400))]
    (card,) = cards(client, "b12labs-patient-view", request("patient-view", full_prefetch(results)))
    assert card["indicator"] == "warning"
    assert "1 older result not used" in card["detail"]


def test_results_that_cannot_be_read_give_an_info_card(client: Client) -> None:
    results = [observation("b12-8", "14685-2", 150, "blorps/L", days_ago(5))]
    (card,) = cards(client, "b12labs-patient-view", request("patient-view", full_prefetch(results)))
    assert card["indicator"] == "info"
    assert "could not be interpreted" in card["summary"]
    assert "Observation/b12-8" in card["detail"]


def test_request_text_cannot_inject_markdown(client: Client) -> None:
    results = [observation("b12-9", "14685-2", 150, "pmol/L", days_ago(5))]
    results[0]["valueQuantity"]["unit"] = results[0]["valueQuantity"]["code"] = (
        "[click](https://evil.example)<img src=x>"
    )
    (card,) = cards(client, "b12labs-patient-view", request("patient-view", full_prefetch(results)))
    detail = card["detail"]
    assert "\\[click\\](https://evil.example)\\<img" in detail  # shown, escaped
    assert not re.search(r"(?<!\\)\[click|(?<!\\)<img", detail)  # never a link or HTML


@pytest.mark.parametrize(
    ("results", "status"),
    [
        (GREY_ZONE, "deficiency likely"),
        ([observation("b", "14685-2", 200, "pmol/L", days_ago(3))], "borderline"),
        ([observation("b", "14685-2", 500, "pmol/L", days_ago(3))], "deficiency not indicated"),
        ([observation("f", "14732-2", 20, "nmol/L", days_ago(3))], "not enough data"),
        ([observation("h", "13965-9", 120, "umol/L", days_ago(3))], "borderline"),
    ],
)
def test_indicator_mapping_never_critical(
    client: Client, results: list[dict[str, Any]], status: str
) -> None:
    (card,) = cards(client, "b12labs-patient-view", request("patient-view", full_prefetch(results)))
    assert status in card["summary"]
    expected = "warning" if status == "deficiency likely" else "info"
    assert card["indicator"] == expected


# ----------------------------------------------------------------------------- validation


BAD_REQUESTS: dict[str, Any] = {
    "no hook": {"hookInstance": "x", "context": {"userId": "Practitioner/a", "patientId": "p"}},
    "unknown hook": {**request("patient-view", {}), "hook": "encounter-start"},
    "no hookInstance": {
        k: v for k, v in request("patient-view", {}).items() if k != "hookInstance"
    },
    "no context": {k: v for k, v in request("patient-view", {}).items() if k != "context"},
    "no patientId": {**request("patient-view", {}), "context": {"userId": "Practitioner/a"}},
    "userId not Type/id": {**request("patient-view", {}),
                           "context": {"userId": "bob", "patientId": PATIENT_ID}},
    "context not an object": {**request("patient-view", {}), "context": [1]},
    "authorization without server": {
        **request("patient-view", {"b12Results": None}),
        "fhirAuthorization": {"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                              "scope": "user/Patient.read", "subject": "b12labs"},
    },
    "prefetch not an object": {**request("patient-view", None), "prefetch": [1, 2]},
    "prefetch value a string": request("patient-view", {"b12Results": "Observation/1"}),
    "prefetch of another patient": request(
        "patient-view",
        {"b12Results": searchset(*GREY_ZONE), "patient": {**patient("male", "1950-01-01"),
                                                          "id": "someone-else"}},
    ),
    "observation of another patient": request(
        "patient-view",
        {"b12Results": searchset({**GREY_ZONE[0], "subject": {"reference": "Patient/other"}})},
    ),
    "not JSON": b'{"hook": ',
    "deeply nested": b"[" * 100_000,
    "a list": [request("patient-view", {})],
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_malformed_requests_get_400(client: Client, name: str) -> None:
    body = BAD_REQUESTS[name]
    kwargs: dict[str, Any] = (
        {"content": body, "headers": {"content-type": "application/json"}}
        if isinstance(body, bytes)
        else {"json": body}
    )
    response = client.request("POST", "/cds-services/b12labs-patient-view", **kwargs)
    assert response.status_code == 400, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400
    assert 't","token_type' not in response.text  # no request echoed (nor the token)


def test_order_select_validation(client: Client) -> None:
    body = request("order-select", full_prefetch(GREY_ZONE), **order("14685-2"))
    missing = json.loads(json.dumps(body))
    missing["context"]["selections"] = ["ServiceRequest/not-there"]
    response = call(client, "b12labs-order-select", missing)
    assert (response.status_code, response.json()["field"]) == (400, "context.selections[0]")
    no_drafts = json.loads(json.dumps(body))
    del no_drafts["context"]["draftOrders"]
    assert call(client, "b12labs-order-select", no_drafts).status_code == 400
    not_bundle = json.loads(json.dumps(body))
    not_bundle["context"]["draftOrders"] = {"resourceType": "Patient"}
    assert call(client, "b12labs-order-select", not_bundle).status_code == 400
    empty = json.loads(json.dumps(body))
    empty["context"]["selections"] = []
    assert call(client, "b12labs-order-select", empty).status_code == 400


def test_hook_and_service_must_agree(client: Client) -> None:
    body = request("order-select", full_prefetch(GREY_ZONE), **order("14685-2"))
    response = call(client, "b12labs-patient-view", body)
    assert (response.status_code, response.json()["reason"]) == (400, "wrong_hook")
    response = call(client, "b12labs-order-select", request("patient-view", {}))
    assert (response.status_code, response.json()["reason"]) == (400, "wrong_hook")


def test_unknown_service_is_404(client: Client) -> None:
    response = call(client, "static-patient-greeter", request("patient-view", {}))
    assert (response.status_code, response.json()["reason"]) == (404, "unknown_service")


def test_extensions_and_unknown_fields_are_accepted(client: Client) -> None:
    body = request("patient-view", full_prefetch(GREY_ZONE))
    body["extension"] = {"com.example.timestamp": "2017-11-27T22:13:25Z"}
    body["context"]["com.example.extra"] = 1
    body["fhirServer"] = "https://ehr.example/fhir"
    body["fhirAuthorization"] = {"access_token": "secret-token", "token_type": "Bearer",
                                 "expires_in": 300, "scope": "user/Observation.read",
                                 "subject": "b12labs", "patient": PATIENT_ID}  # fmt: skip
    (card,) = cards(client, "b12labs-patient-view", body)
    assert card["indicator"] == "warning"


def test_an_observation_status_that_is_not_text_is_no_server_error(client: Client) -> None:
    # found by test_service_fuzz: prefetch is read before its shape is checked, and a status
    # that is a list is unhashable; the card says the record could not be interpreted
    body = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/1", "patientId": "p1"},
        "prefetch": {
            "b12Results": {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "Observation",
                            "id": "o1",
                            "status": ["final"],
                            "subject": {"reference": "Patient/p1"},
                            "code": {"coding": [{"system": "http://loinc.org", "code": "2132-9"}]},
                            "valueQuantity": {"value": 150, "unit": "pmol/L"},
                        }
                    }
                ],
            }
        },
    }
    response = client.request("POST", "/cds-services/b12labs-patient-view", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["cards"]
