"""The service's settings: one frozen object per app, read by the routes from ``app.state``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from .._profile import DEFAULT_PROFILE, Profile, get_profile, list_profiles
from ._errors import ServiceError

__all__ = [
    "BATCH_PATH",
    "DEFAULT_BATCH_TIME_LIMIT",
    "DEFAULT_MAX_BATCH_BYTES",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIME_LIMIT",
    "Settings",
    "chosen_profile",
    "settings_of",
]

_MIB = 1 << 20
#: Largest body of a single request (a panel, a FHIR Bundle, a CDS Hooks call with its prefetch).
DEFAULT_MAX_BODY_BYTES = 4 * _MIB
#: Largest body of ``POST /v1/interpret/batch`` (a JSON array of panels or a CSV export).
DEFAULT_MAX_BATCH_BYTES = 32 * _MIB
#: Seconds a single request may take, from its first byte received to its last byte sent.
DEFAULT_TIME_LIMIT = 10.0
#: Seconds a batch request may take.
DEFAULT_BATCH_TIME_LIMIT = 120.0
#: The one route whose body and time limits are the batch ones.
BATCH_PATH = "/v1/interpret/batch"


@dataclass(frozen=True)
class Settings:
    """What :func:`b12labs.service.create_app` was given.

    Attributes:
        profile: the profile used when a request names none (a shipped id or a
            :class:`~b12labs.Profile` from :func:`~b12labs.load_profile`).
        max_body_bytes: largest request body, in bytes, of every route but the batch one;
            a larger body is refused with 413 (counted as it arrives, with or without a
            Content-Length header).
        max_batch_bytes: largest body of ``POST /v1/interpret/batch``.
        time_limit: seconds a request may take before it is answered 503.
        batch_time_limit: the same for ``POST /v1/interpret/batch``.
    """

    profile: Profile
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    time_limit: float = DEFAULT_TIME_LIMIT
    batch_time_limit: float = DEFAULT_BATCH_TIME_LIMIT
    #: Profile ids a request may name with ``?profile=``: the shipped ones and the default.
    profile_ids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive number of bytes, not {value!r}")
        for name in ("time_limit", "batch_time_limit"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        ids = list(list_profiles())
        if self.profile.id not in ids:
            ids.append(self.profile.id)
        object.__setattr__(self, "profile_ids", tuple(ids))

    @classmethod
    def build(cls, profile: str | Profile = DEFAULT_PROFILE, **limits: Any) -> Settings:
        """Settings from a profile id or Profile and the limits' keywords."""
        resolved = get_profile(profile) if isinstance(profile, str) else profile
        if not isinstance(resolved, Profile):
            raise TypeError(
                f"profile must be a shipped profile id or a b12labs.Profile, not "
                f"{type(profile).__name__}"
            )
        return cls(profile=resolved, **limits)

    def resolve(self, profile_id: str | None) -> Profile:
        """The profile a request names (None: the default). Only shipped ids and the
        default's id are accepted: a client never makes the server read a file."""
        if profile_id is None or profile_id == self.profile.id:
            return self.profile
        return get_profile(profile_id)  # checked against profile_ids by the caller


def settings_of(request: Request) -> Settings:
    """The settings of the app serving ``request``."""
    settings: Settings = request.app.state.b12labs_settings
    return settings


def chosen_profile(request: Request, profile_id: str | None) -> Profile:
    """The profile a request names with ``?profile=`` (or a FHIR ``profile`` parameter), or
    the app's default; an id that is not served is refused with 422 naming ``profile``."""
    settings = settings_of(request)
    if profile_id is not None and profile_id not in settings.profile_ids:
        shown = profile_id if len(profile_id) <= 40 else profile_id[:37] + "..."
        raise ServiceError(
            422,
            "unknown_profile",
            f"profile {shown!r} is not served here; use one of {', '.join(settings.profile_ids)}",
            field="profile",
        )
    return settings.resolve(profile_id)
