"""``b12labs serve``: the service under uvicorn, with production settings.

No reload; uvicorn's access log off (the service writes its own: one JSON line per request
on standard error); proxy headers off (client addresses are not taken from headers anyone can
send); no ``Server`` header. With ``workers`` above 1, uvicorn starts that many processes,
each building the app from the environment (:func:`app_from_environment`).
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from fastapi import FastAPI

from .._profile import DEFAULT_PROFILE, Profile, list_profiles, load_profile
from . import create_app

__all__ = ["ENV_PROFILE", "LOG_CONFIG", "app_from_environment", "serve"]

#: The profile (an id or a file) of the worker processes when ``workers`` > 1.
ENV_PROFILE = "B12LABS_SERVICE_PROFILE"

#: Logging: the access log (logger ``b12labs.service``) as bare JSON lines, uvicorn's own
#: messages (start, stop, errors) as plain lines, both on standard error.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"format": "%(message)s"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
        "plain": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "b12labs.service": {"handlers": ["json"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["plain"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    profile: str | Profile = DEFAULT_PROFILE,
    profile_source: str | None = None,
    workers: int = 1,
) -> int:
    """Run the service until it is stopped (SIGINT, SIGTERM); return 0.

    ``profile_source`` is what ``profile`` was read from (an id or a file), handed to the
    worker processes when ``workers`` > 1.

    Raises:
        OSError: the address cannot be served (in use, not this machine's).
    """
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        "log_config": LOG_CONFIG,
        "lifespan": "on",
        "reload": False,
    }
    try:
        if workers > 1:
            os.environ[ENV_PROFILE] = profile_source or (
                profile if isinstance(profile, str) else profile.id
            )
            uvicorn.run(
                "b12labs.service._serve:app_from_environment",
                factory=True,
                workers=workers,
                **options,
            )
        else:
            uvicorn.run(create_app(profile=profile), **options)
    except SystemExit as stop:  # uvicorn exits when it cannot start (address in use...)
        if stop.code not in (None, 0):
            raise OSError(f"cannot serve on {host}:{port} (see the message above)") from None
    return 0


def app_from_environment() -> FastAPI:
    """The app of a worker process: the profile of :data:`ENV_PROFILE` (an id or a file)."""
    value = os.environ.get(ENV_PROFILE, DEFAULT_PROFILE)
    return create_app(profile=value if value in list_profiles() else load_profile(value))
