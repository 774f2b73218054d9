"""Fuzzing the service: nothing a client sends gives a 5xx.

* schemathesis generates requests from the served OpenAPI document (in process, through the
  ASGI app: no network, no server) for every operation, within a bounded number of
  examples, and checks that none is answered 5xx and that every error has a JSON body;
* hypothesis sends arbitrary JSON to the JSON routes (panels, batches, FHIR, CDS Hooks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_client import Client
from b12labs.service import create_app

APP = create_app(time_limit=30.0, batch_time_limit=30.0)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
JSON_TYPES = ("application/json", "application/problem+json", "application/fhir+json")


def _check(status: int, content_type: str, body: bytes) -> None:
    assert status < 500, (status, body[:500])
    if status >= 400:
        assert content_type.split(";")[0] in JSON_TYPES, content_type
        json.loads(body)


@SCHEMA.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_openapi_operations_never_answer_5xx(case: Any) -> None:
    response = case.call()
    _check(response.status_code, response.headers.get("content-type", [""])[0], response.content)


# ----------------------------------------------------------------------------- raw JSON


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    c = Client(APP)
    yield c
    c.close()


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["150 pmol/L", "<50 pg/mL", "0.52 umol/L", "1,250", "N/A", "pmol/L", ""])
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_PANEL_KEYS = st.sampled_from(
    ["b12", "holotc", "mma", "hcy", "folate", "age", "sex", "pregnant", "egfr", "creatinine",
     "symptoms", "risk_factors", "recent_b12_treatment", "nitrous_oxide", "other"]
)  # fmt: skip
_PANELS = st.dictionaries(_PANEL_KEYS, _JSON, max_size=6)
_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _post(client: Client, path: str, body: Any) -> httpx.Response:
    response = client.post(
        path, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    _check(response.status_code, response.headers.get("content-type", ""), response.content)
    return response


@_FUZZ
@given(panel=_PANELS | _JSON)
def test_any_json_panel_is_answered_without_5xx(client: Client, panel: Any) -> None:
    _post(client, "/v1/interpret", panel)


@_FUZZ
@given(items=st.lists(_PANELS | _JSON, max_size=5))
def test_any_json_batch_gives_one_line_per_item(client: Client, items: list[Any]) -> None:
    response = _post(client, "/v1/interpret/batch", items)
    assert response.status_code == 200
    assert len(response.text.splitlines()) == len(items)


_RESOURCE = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["Observation", "Patient", "Condition", "MedicationRequest"])},
    optional={
        "id": st.text(max_size=6),
        "status": st.sampled_from(["final", "entered-in-error", "active"]) | _JSON,
        "code": st.fixed_dictionaries(
            {"coding": st.lists(st.fixed_dictionaries(
                {"system": st.sampled_from(["http://loinc.org", "x"]),
                 "code": st.sampled_from(["14685-2", "13964-2", "2160-0", "98979-8", "1"])}),
                max_size=2)}
        ) | _JSON,
        "valueQuantity": st.fixed_dictionaries(
            {"value": _SCALARS, "code": st.sampled_from(["pmol/L", "umol/L", "mg/dL", "x"])}
        ) | _JSON,
        "effectiveDateTime": st.sampled_from(["2024-01-01", "2999-01-01", "x"]) | _JSON,
        "subject": st.fixed_dictionaries({"reference": st.sampled_from(["Patient/p", "x"])}),
        "gender": _JSON,
        "birthDate": st.sampled_from(["1950-01-01", "1950"]) | _JSON,
    },
)  # fmt: skip
_BUNDLES = st.builds(
    lambda entries, kind: {"resourceType": "Bundle", "type": kind,
                           "entry": [{"resource": r} for r in entries]},
    st.lists(_RESOURCE, max_size=5),
    st.sampled_from(["searchset", "collection"]),
)  # fmt: skip


@_FUZZ
@given(bundle=_BUNDLES | _JSON)
def test_any_fhir_input_is_answered_without_5xx(client: Client, bundle: Any) -> None:
    _post(client, "/fhir/$b12-interpret", bundle)


@_FUZZ
@given(
    hook=st.sampled_from(["patient-view", "order-select"]),
    context=st.fixed_dictionaries(
        {"userId": st.just("Practitioner/1"), "patientId": st.sampled_from(["p", "q"])},
        optional={
            "selections": _JSON | st.just(["ServiceRequest/s"]),
            "draftOrders": _JSON | _BUNDLES,
        },
    ),
    prefetch=st.dictionaries(
        st.sampled_from(["b12Results", "patient", "conditions", "kidneyFunction", "x"]),
        _BUNDLES | _RESOURCE | _JSON,
        max_size=4,
    )
    | _JSON,
)
def test_any_cds_call_is_answered_without_5xx(
    client: Client, hook: str, context: dict[str, Any], prefetch: Any
) -> None:
    body = {"hook": hook, "hookInstance": "h-1", "context": context, "prefetch": prefetch}
    _post(client, f"/cds-services/b12labs-{hook}", body)
