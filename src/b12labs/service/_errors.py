"""HTTP errors in one place: every error the service answers is built here.

* ``/fhir/...``: a FHIR ``OperationOutcome`` (``application/fhir+json``) whose issue has a
  ``severity``, an IssueType ``code`` and the message as ``diagnostics``;
* everything else (``/v1/...``, ``/cds-services...``, unknown paths): an RFC 9457 problem
  (``application/problem+json``) with ``type``, ``title``, ``status``, ``detail``, the
  b12labs ``reason`` code and, when one field is at fault, ``field``. CDS Hooks defines no
  error body; its statuses (400 for a malformed request, 412 when the data the service needs
  was not sent) are the specification's.

A response never echoes the request body: a message may quote one offending value, shortened
the way b12labs error messages always shorten values. Nothing a client sends gives a 500: a
500 is a bug, answered with a body that says so and logged with the exception type and code
location only (never its message, which may quote a value).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._exceptions import (
    B12LabsError,
    FhirError,
    ImplausibleValueError,
    IncompatibleUnitError,
    InvalidValueError,
    ProfileError,
    UnitError,
    UnknownProfileError,
    UnknownUnitError,
)

__all__ = [
    "INTERNAL_DETAIL",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "REASONS",
    "ServiceError",
    "error_response",
    "install",
    "log_internal",
    "service_error",
    "validation_error",
]

logger = logging.getLogger("b12labs.service")

PROBLEM_MEDIA_TYPE = "application/problem+json"
FHIR_MEDIA_TYPE = "application/fhir+json"
#: Every problem ``type`` is this base followed by the reason code (docs/service.md).
PROBLEM_TYPE_BASE = "https://b12labs.org/problems/"

#: reason code -> (title, FHIR IssueType code). The reason codes are documented in
#: docs/service.md ("Errors") and part of the service's API.
REASONS: Mapping[str, tuple[str, str]] = {
    "invalid_json": ("The body is not valid JSON", "structure"),
    "too_deep": ("The JSON is nested too deeply", "structure"),
    "invalid_body": ("The body does not have the expected shape", "structure"),
    "invalid_request": ("The request does not follow the specification", "structure"),
    "unknown_field": ("The body has a field that is not accepted", "structure"),
    "invalid_value": ("A value is not accepted", "value"),
    "implausible_value": ("A value is outside its plausible range", "value"),
    "unknown_unit": ("A unit is not known", "value"),
    "incompatible_unit": ("A unit is not a concentration of that analyte", "value"),
    "unit_error": ("A unit cannot be used", "value"),
    "unknown_profile": ("No profile has that id", "not-supported"),
    "profile_error": ("The profile cannot be used", "processing"),
    "fhir_error": ("The FHIR resources cannot be interpreted", "invalid"),
    "invalid_csv": ("The CSV body cannot be read", "structure"),
    "column_error": ("The CSV columns cannot be interpreted", "structure"),
    "unknown_service": ("No CDS service has that id", "not-found"),
    "wrong_hook": ("The request's hook is not the service's hook", "invalid"),
    "missing_prefetch": ("The data the service needs was not sent", "required"),
    "body_too_large": ("The request body is too large", "too-long"),
    "unsupported_media_type": ("The body's content type is not accepted", "not-supported"),
    "not_found": ("Nothing is served at this path", "not-found"),
    "method_not_allowed": ("This path does not take this method", "not-supported"),
    "http_error": ("The request cannot be served", "processing"),
    "time_limit": ("The request took longer than the time limit", "timeout"),
    "internal_error": ("Internal error", "exception"),
}
#: The detail of every 500 answer.
INTERNAL_DETAIL = (
    "an internal error of b12labs; please report it at https://github.com/b12labs/b12labs/issues"
)
_STATUS_REASONS = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
# The most specific class first: a reason per library error (docs/service.md).
_LIBRARY_REASONS: tuple[tuple[type[B12LabsError], str], ...] = (
    (UnknownUnitError, "unknown_unit"),
    (IncompatibleUnitError, "incompatible_unit"),
    (UnitError, "unit_error"),
    (ImplausibleValueError, "implausible_value"),
    (InvalidValueError, "invalid_value"),
    (UnknownProfileError, "unknown_profile"),
    (ProfileError, "profile_error"),
    (FhirError, "fhir_error"),
    (B12LabsError, "invalid_value"),
)


class ServiceError(Exception):
    """An error answered to the client: an HTTP status, a reason code and a message.

    ``errors`` lists the fields at fault (``{"field": ..., "message": ...}``) when there
    are several; ``headers`` are added to the response.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        *,
        field: str | None = None,
        errors: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        if reason not in REASONS:  # pragma: no cover - a programming error of ours
            raise ValueError(f"unknown reason code {reason!r}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.field = field
        self.errors = [dict(e) for e in errors]
        self.headers = dict(headers or {})


def service_error(error: B12LabsError | TypeError, *, status: int = 422) -> ServiceError:
    """The ServiceError of a library error: its reason code, its message, the field it
    names (``analyte``). A TypeError from the library is an unknown field."""
    if isinstance(error, TypeError):
        return ServiceError(status, "unknown_field", _one_line(str(error)))
    reason = next(code for cls, code in _LIBRARY_REASONS if isinstance(error, cls))
    field = error.analyte if isinstance(error.analyte, str) else None
    return ServiceError(status, reason, _one_line(error.message), field=field)


def validation_error(
    error: ValidationError | RequestValidationError,
    *,
    status: int,
    reason: str,
    lead: str,
    tags: Collection[str] = (),
) -> ServiceError:
    """A ServiceError naming every field pydantic refused, without the values given.
    ``tags`` are the tags of a discriminated union, left out of the field paths."""
    fields = _field_errors(error.errors(), tags)
    listed = "; ".join(f"{e['field']}: {e['message']}" for e in fields[:5])
    more = f" (and {len(fields) - 5} more)" if len(fields) > 5 else ""
    return ServiceError(
        status,
        reason,
        f"{lead}: {listed}{more}" if listed else lead,
        field=fields[0]["field"] if len(fields) == 1 else None,
        errors=fields[:20],
    )


def _field_errors(
    errors: Iterable[Mapping[str, Any]], tags: Collection[str] = ()
) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and (loc[0] in ("body", "query", "path", "header") or loc[0] in tags):
            loc = loc[1:]
        message = str(error.get("msg", "not accepted"))
        message = message.removeprefix("Value error, ")
        original = (error.get("ctx") or {}).get("error")
        if isinstance(original, B12LabsError):  # the library's own message, not pydantic's
            message = original.message
        out.append({"field": ".".join(loc) or "(body)", "message": _one_line(message)[:300]})
    return out


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def error_response(path: str, error: ServiceError) -> Response:
    """The response for an error at ``path``: an OperationOutcome under ``/fhir``, an RFC 9457
    problem elsewhere."""
    status, reason, detail = error.status, error.reason, error.detail
    field, errors, headers = error.field, error.errors, error.headers
    title, issue_code = REASONS[reason]
    if path == "/fhir" or path.startswith("/fhir/"):
        issues: list[dict[str, Any]] = []
        for item in errors or [{"field": field or "", "message": detail}]:
            issue: dict[str, Any] = {
                "severity": "fatal" if status >= 500 else "error",
                "code": issue_code,
                "details": {"text": title},
                "diagnostics": item["message"] if errors else detail,
            }
            if item.get("field"):
                issue["expression"] = [item["field"]]
            issues.append(issue)
        body: dict[str, Any] = {"resourceType": "OperationOutcome", "issue": issues}
        return JSONResponse(body, status, headers=dict(headers), media_type=FHIR_MEDIA_TYPE)
    problem: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + reason,
        "title": title,
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    if field:
        problem["field"] = field
    if errors:
        problem["errors"] = [dict(e) for e in errors]
    return JSONResponse(problem, status, headers=dict(headers), media_type=PROBLEM_MEDIA_TYPE)


def log_internal(error: BaseException, where: str) -> None:
    """A bug of ours: its type and the code location, never its message (messages may quote
    a value sent by a client)."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    location = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
    logger.error(
        '{"event": "internal_error", "where": "%s", "type": "%s", "at": "%s"}',
        where,
        type(error).__name__,
        location.replace("\\", "/").replace('"', "'"),
    )


# ----------------------------------------------------------------------------- handlers


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return error_response(request.url.path, exc)


async def _library_error(request: Request, exc: Exception) -> Response:
    # A library error no route turned into a ServiceError: the input was refused.
    assert isinstance(exc, B12LabsError)
    return await _service_error(request, service_error(exc))


async def _request_validation(request: Request, exc: Exception) -> Response:
    # FastAPI's own validation of path and query parameters.
    assert isinstance(exc, RequestValidationError)
    cds = request.url.path.startswith("/cds-services")
    error = validation_error(
        exc,
        status=400 if cds else 422,
        reason="invalid_request" if cds else "invalid_value",
        lead="the request's parameters are not accepted",
    )
    return await _service_error(request, error)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    reason = _STATUS_REASONS.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else REASONS[reason][0]
    if reason == "not_found":
        detail = "nothing is served at this path; see /openapi.json for the routes"
    elif reason == "method_not_allowed":
        detail = f"{request.method} is not accepted at this path; see /openapi.json"
    return error_response(
        request.url.path, ServiceError(exc.status_code, reason, detail, headers=exc.headers)
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    log_internal(exc, "route")
    return error_response(request.url.path, ServiceError(500, "internal_error", INTERNAL_DETAIL))


def install(app: FastAPI) -> None:
    """Register the handlers of every error family on ``app``."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(B12LabsError, _library_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
