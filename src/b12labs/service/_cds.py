"""CDS Hooks 2.0: discovery and two services, ``patient-view`` and ``order-select``.

The models keep the specification's words (https://cds-hooks.hl7.org/2.0/): what b12labs
emits forbids any other field (``extra="forbid"``) and leaves out optional fields it has no
value for (the specification: "If a JSON attribute is defined as OPTIONAL, and does not have
a value, implementers MUST omit it"); what it receives keeps fields it does not know
(``extension``, newer context fields). The request is a union keyed on ``hook``, so each
hook's context is read with its own fields (``encounterId``, ``selections``,
``draftOrders``...), and the service is chosen by the id in the URL.

Statuses: 200 with cards (``{"cards": []}`` when there is nothing to say); 400 for a request
that does not follow the specification (not JSON, a required field missing or of the wrong
type, ``fhirAuthorization`` without ``fhirServer``, a hook other than the service's, a
selection not in ``draftOrders``, prefetched resources of another patient); 404 for an
unknown service id; 412 when the B12-status results prefetch (``b12Results``) was not sent:
b12labs never fetches anything itself (no outbound call, ever), so without it the service
"is unable to obtain required data" and the specification's 412 applies.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from .._fhir_codes import FHIR_ID
from ._body import parse_json, require_media_type
from ._errors import ServiceError, validation_error
from ._limits import run_sync
from ._openapi import json_body, problems, ref
from ._settings import settings_of

__all__ = [
    "SERVICE_IDS",
    "Card",
    "CdsRequest",
    "CdsResponse",
    "CdsService",
    "Discovery",
    "FhirAuthorization",
    "Indicator",
    "OrderSelectContext",
    "OrderSelectRequest",
    "PatientViewContext",
    "PatientViewRequest",
    "Source",
    "router",
]

SPEC = "https://cds-hooks.hl7.org/2.0/"
#: The services' ids: the patient-view one, the order-select one.
SERVICE_IDS = ("b12labs-patient-view", "b12labs-order-select")
#: ``[ResourceType]/[id]``: the form the hooks give ``userId`` and the selections.
_TYPED_ID = rf"^[A-Z][A-Za-z]{{1,63}}/{FHIR_ID}$"
_FHIR_ID = rf"^{FHIR_ID}$"


class _Emitted(BaseModel):
    """What b12labs sends: exactly the specification's fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Received(BaseModel):
    """What b12labs receives: the specification's fields checked, others kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


Indicator = Literal["info", "warning", "critical"]


class Coding(_Emitted):
    """CDS Hooks Coding: ``code`` and ``system`` REQUIRED, ``display`` CONDITIONAL."""

    code: str = Field(min_length=1)
    system: str = Field(min_length=1)
    display: str | None = Field(default=None, min_length=1)


class Source(_Emitted):
    """Card ``source``: ``label`` REQUIRED; ``url``, ``icon``, ``topic`` OPTIONAL."""

    label: str = Field(min_length=1, description="Short, human-readable label of the source.")
    url: str | None = Field(default=None, description="Absolute URL to learn more.")
    icon: str | None = None
    topic: Coding | None = None


class Card(_Emitted):
    """A card (CDS Hooks 2.0, "Card Attributes"). ``summary`` is a one-sentence summary of
    fewer than 140 characters; ``detail`` is GitHub Flavored Markdown."""

    uuid: str | None = Field(default=None, min_length=1)
    summary: str = Field(min_length=1, max_length=139)
    detail: str | None = Field(default=None, min_length=1)
    indicator: Indicator
    source: Source

    @field_validator("summary")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value:
            raise ValueError("summary is one sentence on one line")
        return value


class CdsResponse(_Emitted):
    """The service's answer: ``cards`` REQUIRED (possibly empty)."""

    cards: list[Card]


class CdsService(_Emitted):
    """One service of the discovery response."""

    hook: str = Field(min_length=1)
    title: str | None = None
    description: str = Field(min_length=1)
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9\-._~]+$")
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None  # noqa: N815 - the specification's word


class Discovery(_Emitted):
    """``GET /cds-services``: ``services`` REQUIRED."""

    services: list[CdsService]


class FhirAuthorization(_Received):
    """``fhirAuthorization``: an OAuth 2.0 bearer token b12labs never uses (it fetches
    nothing), checked only so that a malformed request is refused."""

    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    patient: str | None = None


class _Context(_Received):
    userId: str = Field(pattern=_TYPED_ID, description="[ResourceType]/[id] of the user.")  # noqa: N815
    patientId: str = Field(pattern=_FHIR_ID, description="The FHIR Patient.id in context.")  # noqa: N815
    encounterId: str | None = Field(default=None, pattern=_FHIR_ID)  # noqa: N815


class PatientViewContext(_Context):
    """``patient-view`` context: ``userId``, ``patientId`` REQUIRED; ``encounterId``."""


class OrderSelectContext(_Context):
    """``order-select`` context: also ``selections`` (ids of the newly selected orders, in
    ``draftOrders``) and ``draftOrders`` (a Bundle of the unsigned orders), both REQUIRED."""

    selections: list[Annotated[str, Field(pattern=_TYPED_ID)]] = Field(min_length=1)
    draftOrders: dict[str, Any]  # noqa: N815

    @field_validator("draftOrders")
    @classmethod
    def _bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle")
        entries = value.get("entry", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError("draftOrders.entry must be an array of objects")
        return value


class _Request(_Received):
    hookInstance: str = Field(min_length=1, max_length=256)  # noqa: N815
    fhirServer: str | None = Field(default=None, min_length=1)  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_authorization(self) -> _Request:
        # CDS Hooks 2.0: "If fhirAuthorization is provided, this field is REQUIRED."
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is given")
        return self


class PatientViewRequest(_Request):
    """A call for the ``patient-view`` hook."""

    hook: Literal["patient-view"]
    context: PatientViewContext


class OrderSelectRequest(_Request):
    """A call for the ``order-select`` hook."""

    hook: Literal["order-select"]
    context: OrderSelectContext


#: A CDS Hooks request, keyed on its ``hook``.
CdsRequest = Annotated[PatientViewRequest | OrderSelectRequest, Field(discriminator="hook")]
_REQUEST: TypeAdapter[PatientViewRequest | OrderSelectRequest] = TypeAdapter(CdsRequest)

router = APIRouter(prefix="/cds-services", tags=["CDS Hooks"])


@router.get(
    "",
    summary="CDS Hooks discovery",
    response_model=Discovery,
    response_model_exclude_none=True,
)
async def discovery() -> Response:
    """The two services: ``b12labs-patient-view`` and ``b12labs-order-select``."""
    from ._cards import discovery_json

    return Response(discovery_json(), media_type="application/json")


@router.post(
    "/{service_id}",
    summary="Call a CDS service",
    response_model=CdsResponse,
    response_model_exclude_none=True,
    openapi_extra=json_body(ref("CdsRequest")),
    responses=problems(400, 404, 412, 413, 415, 503),
)
async def call_service(
    request: Request,
    service_id: Annotated[
        str,
        Path(
            description="The service's id (GET /cds-services).",
            json_schema_extra={"enum": list(SERVICE_IDS)},
        ),
    ],
) -> Response:
    """Answer one hook call with cards: the request's ``hook`` must be the service's."""
    from ._cards import SERVICES, answer

    settings = settings_of(request)
    service = SERVICES.get(service_id)
    if service is None:
        raise ServiceError(
            404,
            "unknown_service",
            f"no CDS service has this id; the services are {', '.join(SERVICES)} "
            "(GET /cds-services)",
        )
    require_media_type(request, ("application/json",))
    data = parse_json(await request.body())
    if isinstance(data, dict) and isinstance(data.get("hook"), str):
        hook = data["hook"]
        if hook in ("patient-view", "order-select") and hook != service.hook:
            raise ServiceError(
                400,
                "wrong_hook",
                f"this service answers the {service.hook} hook, not {hook}",
                field="hook",
            )
    try:
        call = _REQUEST.validate_python(data)
    except ValidationError as error:
        raise validation_error(
            error,
            status=400,
            reason="invalid_request",
            lead=f"the request does not follow CDS Hooks 2.0 ({SPEC})",
            tags=("patient-view", "order-select"),
        ) from None
    # a valid call's hook is one of the two, checked against the service's above
    body = await run_sync(answer, service, call, settings.profile)
    return Response(body, media_type="application/json")
