"""b12labs as a stateless web service (FastAPI): panels, batches, a FHIR operation, CDS Hooks.

Install with ``pip install "b12labs[service]"``; run with ``b12labs serve`` or mount
:data:`app` (or an app from :func:`create_app`) in your own ASGI server::

    uvicorn b12labs.service:app --host 127.0.0.1 --port 8000

Routes (docs/service.md, docs/cds-hooks.md):

* ``POST /v1/interpret``: one panel (JSON) -> its Interpretation (JSON);
* ``POST /v1/interpret/batch``: a JSON array of panels -> NDJSON, or CSV -> CSV, streamed;
* ``POST /fhir/$b12-interpret``: a Bundle (or Parameters) -> a Bundle of interpreted
  Observations;
* ``GET /cds-services`` and ``POST /cds-services/{id}``: CDS Hooks 2.0, ``patient-view`` and
  ``order-select``;
* ``GET /healthz``, ``GET /openapi.json``.

The service keeps nothing between requests, makes no outbound call, and logs one JSON line per
request without bodies, values or patient ids. Decision support, not a diagnosis.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
except ModuleNotFoundError as exc:  # the optional dependency: say how to install it
    if (exc.name or "").partition(".")[0] not in ("fastapi", "starlette", "pydantic", "anyio"):
        raise
    raise ModuleNotFoundError(
        "b12labs.service needs fastapi and uvicorn, which are not installed; install them "
        'with: pip install "b12labs[service]"',
        name=exc.name,
    ) from exc

import contextlib
import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from .._interpret import interpret
from .._profile import DEFAULT_PROFILE, Profile
from .._version import __version__
from . import _cds, _errors, _fhir_op, _openapi, _v1
from ._limits import LimitsMiddleware
from ._settings import Settings

__all__ = ["Settings", "app", "create_app"]

logger = logging.getLogger("b12labs.service")

_health = APIRouter(tags=["service"])


@_health.get(
    "/healthz",
    summary="Liveness",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> Response:
    """``{"status": "ok", ...}`` while the service can answer (it holds no state to check)."""
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_app(
    *,
    profile: str | Profile = DEFAULT_PROFILE,
    max_body_bytes: int | None = None,
    max_batch_bytes: int | None = None,
    time_limit: float | None = None,
    batch_time_limit: float | None = None,
) -> FastAPI:
    """A new service app.

    Args:
        profile: the profile of requests that name none: a shipped id or a
            :class:`~b12labs.Profile` (e.g. ``b12labs.load_profile("my-lab.toml")``).
            Requests may name the shipped profiles and this one with ``?profile=``.
        max_body_bytes: largest request body in bytes (default 4 MiB); larger: 413.
        max_batch_bytes: largest body of ``POST /v1/interpret/batch`` (default 32 MiB).
        time_limit: seconds a request may take (default 10); longer: 503.
        batch_time_limit: seconds a batch request may take (default 120).

    Raises:
        UnknownProfileError: ``profile`` is not a shipped id.
        ValueError: a limit that is not a positive number.
    """
    limits = {
        name: value
        for name, value in (
            ("max_body_bytes", max_body_bytes),
            ("max_batch_bytes", max_batch_bytes),
            ("time_limit", time_limit),
            ("batch_time_limit", batch_time_limit),
        )
        if value is not None
    }
    settings = Settings.build(profile, **limits)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Warm up: compile the profile and load the unit registry before the first request.
        interpret(b12="150 pmol/L", mma="0.52 umol/L", age=70, profile=settings.profile)
        logger.info(
            json.dumps(
                {
                    "event": "startup",
                    "version": __version__,
                    "profile": settings.profile.id,
                    "max_body_bytes": settings.max_body_bytes,
                    "max_batch_bytes": settings.max_batch_bytes,
                    "time_limit": settings.time_limit,
                    "batch_time_limit": settings.batch_time_limit,
                },
                separators=(",", ":"),
            )
        )
        yield

    service = FastAPI(
        title="b12labs",
        version=__version__,
        description=(
            "Interpretation of vitamin B12 status blood tests: one panel, batches, a FHIR "
            "operation and CDS Hooks services. Decision support, not a diagnosis."
        ),
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: not served
        redoc_url=None,
        lifespan=lifespan,
    )
    service.state.b12labs_settings = settings
    for router in (_v1.router, _fhir_op.router, _cds.router, _health):
        service.include_router(router)
    _errors.install(service)
    _openapi.install(service)
    service.add_middleware(LimitsMiddleware, settings=settings, routes=service.router.routes)
    return service


#: The service with the default settings (profile nice-ng239), for ``uvicorn
#: b12labs.service:app`` or mounting in your own ASGI application.
app = create_app()
