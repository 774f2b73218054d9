"""``POST /fhir/$b12-interpret``: a FHIR operation (operations are named with a leading
``$``), system level.

**In**: a ``Bundle`` of one patient's resources (laboratory Observations, the Patient,
Conditions, Procedures, medicines), or a ``Parameters`` resource whose ``resource`` parameter
holds that Bundle and whose optional ``profile`` parameter (``valueString`` or
``valueCode``) names a profile (``?profile=`` works too). Read by
:func:`b12labs.fhir.read_fhir`.

**Out** (``application/fhir+json``): the Bundle :func:`b12labs.fhir.to_fhir` writes, of type
``collection``: the operation has one output, a resource, so FHIR returns it as is rather than
in a Parameters (FHIR "Operations": a single ``return`` resource is returned directly). It is
a ``collection``, not a ``searchset``: its Observations are new, derived resources, not
matches of a search (a searchset's entries carry ``search.mode`` and a ``total``). When the
reading has notes (duplicates, resources not read and why), they are the issues
(``information``) of an OperationOutcome added as the Bundle's last entry. The subject of the
written Observations is the input's Patient (``Patient/<id>``) when it has an id.

**Only at system level.** ``/fhir/Observation/$b12-interpret`` is not served (404): the input
is a Bundle of several resource types, not one Observation, and the service stores nothing a
type- or instance-level operation could act on.

**Errors**: an OperationOutcome (issue ``severity``, ``code``, ``diagnostics``): 400 when the
body is not JSON or not a Bundle or Parameters, 422 when the resources cannot be interpreted
(:class:`~b12labs.FhirError`, a value or unit refused), 413, 415, 503 as for every route.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .._exceptions import B12LabsError
from .._fhir_codes import FHIR_ID
from .._interpret import interpret
from .._profile import Profile
from ..fhir import read_fhir, to_fhir
from ._body import parse_json, require_media_type
from ._errors import FHIR_MEDIA_TYPE, ServiceError, service_error
from ._limits import run_sync
from ._openapi import json_body, problems, ref
from ._settings import chosen_profile

__all__ = ["OPERATION", "router"]

#: The operation's name.
OPERATION = "$b12-interpret"
_ID = re.compile(FHIR_ID)
_NOTES_ID = uuid.UUID("0f3c7b2e-4b7d-4e0a-9c51-b12b12b12f00")

router = APIRouter(prefix="/fhir", tags=["FHIR"])


@router.post(
    f"/{OPERATION}",
    summary="FHIR operation $b12-interpret",
    response_model=None,
    openapi_extra=json_body(
        {"anyOf": [ref("Bundle"), ref("Parameters")]},
        media=(FHIR_MEDIA_TYPE, "application/json"),
        profile=True,
    ),
    responses={
        200: {
            "description": "A collection Bundle of the interpreted Observations.",
            "content": {FHIR_MEDIA_TYPE: {"schema": ref("Bundle")}},
        },
        **problems(400, 413, 415, 422, 503, fhir=True),
    },
)
async def b12_interpret(request: Request) -> Response:
    """Interpret one patient's FHIR resources; answer the interpreted Observations."""
    require_media_type(request, (FHIR_MEDIA_TYPE, "application/json"))
    data = parse_json(await request.body())
    bundle, named = _unwrap(data)
    chosen = chosen_profile(
        request, named if named is not None else request.query_params.get("profile")
    )
    result = await run_sync(_interpret, bundle, chosen)
    return Response(result, media_type=FHIR_MEDIA_TYPE)


def _unwrap(data: Any) -> tuple[dict[str, Any], str | None]:
    """(the Bundle, the profile named by a Parameters) of the body."""
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if kind == "Bundle":
        return data, None
    if kind != "Parameters":
        raise ServiceError(
            400,
            "invalid_body",
            f"{OPERATION} takes a Bundle, or a Parameters whose 'resource' parameter holds "
            "the Bundle",
        )
    parameters = data.get("parameter", [])
    if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
        raise ServiceError(400, "invalid_body", "Parameters.parameter must be an array of objects")
    bundle: dict[str, Any] | None = None
    profile: str | None = None
    for i, parameter in enumerate(parameters):
        name = parameter.get("name")
        if name == "resource":
            resource = parameter.get("resource")
            if bundle is not None or not isinstance(resource, dict):
                raise ServiceError(
                    400,
                    "invalid_body",
                    "give one 'resource' parameter, holding the Bundle",
                    field=f"parameter[{i}]",
                )
            if resource.get("resourceType") != "Bundle":
                raise ServiceError(
                    400,
                    "invalid_body",
                    "the 'resource' parameter must hold a Bundle",
                    field=f"parameter[{i}].resource",
                )
            bundle = resource
        elif name == "profile":
            value = parameter.get("valueString", parameter.get("valueCode"))
            if not isinstance(value, str):
                raise ServiceError(
                    400,
                    "invalid_body",
                    "the 'profile' parameter needs a valueString or valueCode",
                    field=f"parameter[{i}]",
                )
            profile = value
    if bundle is None:
        raise ServiceError(
            400, "invalid_body", "the Parameters have no 'resource' parameter holding the Bundle"
        )
    return bundle, profile


def _interpret(bundle: dict[str, Any], profile: Profile) -> str:
    try:
        read = read_fhir(bundle)
        result = interpret(read.panel, profile=profile)
    except B12LabsError as error:
        raise service_error(error) from None
    written = to_fhir(result, subject=_subject(bundle))
    notes = [*read.notes, *(f"not read: {item}" for item in read.ignored)]
    if notes:
        outcome_id = str(uuid.uuid5(_NOTES_ID, written["id"]))
        written["entry"].append(
            {
                "fullUrl": f"urn:uuid:{outcome_id}",
                "resource": {
                    "resourceType": "OperationOutcome",
                    "id": outcome_id,
                    "issue": [
                        {"severity": "information", "code": "informational", "diagnostics": n}
                        for n in notes
                    ],
                },
            }
        )
    return json.dumps(written, ensure_ascii=False, separators=(",", ":"))


def _subject(bundle: dict[str, Any]) -> str | None:
    """``Patient/<id>`` of the Bundle's Patient, when it has a valid id."""
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            identifier = resource.get("id")
            if isinstance(identifier, str) and _ID.fullmatch(identifier):
                return f"Patient/{identifier}"
            return None
    return None
