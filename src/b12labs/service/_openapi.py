"""The OpenAPI document: FastAPI's, with the request bodies and errors the routes read
themselves described from the same pydantic models.

The routes read their bodies themselves (to answer every malformed body with the service's
own errors), so FastAPI cannot see them; each route names its body and error schemas with
:func:`json_body` and :func:`problems`, and :func:`install` adds those schemas to the
document's components: ``Panel`` (as accepted, including the text forms ``"150 pmol/L"``),
``Interpretation`` (as served), ``Problem``, ``BatchError``, the CDS Hooks models and loose
FHIR ``Bundle``, ``Parameters`` and ``OperationOutcome`` schemas.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.json_schema import models_json_schema

from .._analytes import MARKERS
from .._models import Interpretation, Panel

__all__ = [
    "MEASURED",
    "PROFILE_PARAMETER",
    "BatchError",
    "Problem",
    "install",
    "json_body",
    "problems",
    "ref",
]

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    400: "The request is malformed (not JSON, nested too deeply, wrong shape).",
    404: "Nothing is served at this path.",
    412: "The data the service needs was not sent (CDS Hooks: prefetch).",
    413: "The body is larger than the limit.",
    415: "The body's Content-Type is not accepted.",
    422: "A value, unit, field or profile is not accepted.",
    503: "The request took longer than the time limit.",
}


class Problem(BaseModel):
    """An error (RFC 9457 problem details), served as ``application/problem+json``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="https://b12labs.org/problems/<reason>")
    title: str
    status: int
    detail: str = Field(description="What is wrong and what would be accepted.")
    reason: str = Field(description="The b12labs reason code (docs/service.md).")
    field: str | None = Field(default=None, description="The field at fault, when one is.")
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Every field at fault: {field, message}."
    )


class BatchError(BaseModel):
    """A line of ``POST /v1/interpret/batch`` (JSON) for an item that was not interpreted."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="0-based index of the item in the array.")
    reason: str = Field(description="The b12labs reason code (docs/service.md).")
    detail: str
    field: str | None = None


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": _REF.format(model=name)}


def json_body(
    schema: dict[str, Any],
    *,
    media: tuple[str, ...] = ("application/json",),
    profile: bool = False,
) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads a JSON body of ``schema`` itself (and, with
    ``profile``, the ``?profile=`` query parameter: read from the query string by the route,
    so that FastAPI does not resolve a parameter on the hot path)."""
    extra: dict[str, Any] = {
        "requestBody": {
            "required": True,
            "content": {kind: {"schema": schema} for kind in media},
        }
    }
    if profile:
        extra["parameters"] = [PROFILE_PARAMETER]
    return extra


#: ``?profile=``: the profile of the request.
PROFILE_PARAMETER: dict[str, Any] = {
    "name": "profile",
    "in": "query",
    "required": False,
    "description": "The profile: a shipped id (nice-ng239, mayo-cascade, labcorp-cascade, "
    "population-survey) or the server's own profile's id; default: the server's profile.",
    "schema": {"type": "string", "maxLength": 100},
}


def problems(*statuses: int, fhir: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses`` of the error statuses a route answers."""
    media = "application/fhir+json" if fhir else "application/problem+json"
    schema = ref("OperationOutcome") if fhir else ref("Problem")
    return {
        status: {"description": _STATUS_TEXT[status], "content": {media: {"schema": schema}}}
        for status in statuses
    }


#: Panel fields that take a measurement: also as a text or a [number, unit] pair (and, at
#: ``/v1``, as a JSON object with the Measurement's fields).
MEASURED = frozenset({*(str(m) for m in MARKERS), "creatinine"})
_TEXT_RESULT = {
    "type": "string",
    "maxLength": 64,
    "description": "A result as text: a number and a unit, optionally censored.",
    "examples": ["150 pmol/L", "<50 pg/mL"],
}
_PAIR_RESULT = {
    "type": "array",
    "description": "A result as [number, unit].",
    "prefixItems": [{"type": "number"}, {"type": "string"}],
    "minItems": 2,
    "maxItems": 2,
    "examples": [[150, "pmol/L"]],
}
_TEXT_CODES = {
    "type": "string",
    "description": "Codes in one text separated by ';' or ',' ('none': none reported).",
}


def _panel_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Panel as accepted: each marker may also be a text, each code list one text."""
    schema = copy.deepcopy(schema)
    properties = schema.get("properties", {})
    for name, prop in properties.items():
        alternatives = prop.get("anyOf")
        if not isinstance(alternatives, list):
            continue
        if name in MEASURED:
            alternatives[1:1] = [dict(_TEXT_RESULT), dict(_PAIR_RESULT)]
        elif name in ("symptoms", "risk_factors"):
            alternatives.insert(1, dict(_TEXT_CODES))
    schema["description"] = (
        (schema.get("description") or "") + " Every field is optional; unknown fields are refused."
    ).strip()
    return schema


def _fhir_resource(name: str, description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "title": name,
        "description": description,
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "const": name}},
        "additionalProperties": True,
    }


def component_schemas() -> dict[str, Any]:
    """Every schema the routes refer to, by name."""
    from ._cds import CdsRequest, CdsResponse, Discovery

    _, top = models_json_schema(
        [
            (Panel, "validation"),
            (Interpretation, "serialization"),
            (Problem, "serialization"),
            (BatchError, "serialization"),
            (Discovery, "serialization"),
            (CdsResponse, "serialization"),
        ],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    request = TypeAdapter(CdsRequest).json_schema(ref_template=_REF, mode="validation")
    schemas.update(request.pop("$defs", {}))
    request["title"] = "CdsRequest"
    request["description"] = "A CDS Hooks 2.0 call, keyed on its hook."
    schemas["CdsRequest"] = request
    schemas["Panel"] = _panel_schema(schemas["Panel"])
    schemas["Bundle"] = _fhir_resource("Bundle", "A FHIR Bundle (R4, R4B or R5 JSON).")
    schemas["Parameters"] = _fhir_resource(
        "Parameters",
        "FHIR Parameters: 'resource' holds the Bundle; 'profile' (valueString or valueCode) "
        "names a profile.",
    )
    schemas["OperationOutcome"] = _fhir_resource("OperationOutcome", "A FHIR OperationOutcome.")
    return schemas


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` the document with the components of :func:`component_schemas`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in component_schemas().items():
                components.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
