"""Reading request bodies: content types, JSON with a depth limit, JSON arrays item by item.

Every failure is a :class:`~b12labs.service._errors.ServiceError` (400 or 415): nothing a
client sends reaches the routes as an exception of another kind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request

from ..fhir import MAX_DEPTH
from ._errors import ServiceError

__all__ = [
    "MAX_DEPTH",
    "JsonArrayItems",
    "media_type",
    "parse_json",
    "require_media_type",
    "utf8_text",
]

_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


def media_type(request: Request) -> str | None:
    """The request's media type, lower-cased, without parameters (None when not given)."""
    header = request.headers.get("content-type")
    if header is None:
        return None
    kind = header.split(";", 1)[0].strip().lower()
    return kind or None


def require_media_type(request: Request, accepted: tuple[str, ...]) -> str:
    """The request's media type if it is one of ``accepted`` (a missing Content-Type counts
    as the first), else 415."""
    kind = media_type(request)
    if kind is None:
        return accepted[0]
    if kind in accepted:
        return kind
    raise ServiceError(
        415,
        "unsupported_media_type",
        f"the body's Content-Type {_shown(kind)} is not accepted here; send "
        + " or ".join(accepted),
        headers={"Accept-Post": ", ".join(accepted)},
    )


def parse_json(body: bytes, what: str = "the body") -> Any:
    """``body`` as JSON (UTF-8), refused with 400 when it is not JSON or is nested more than
    :data:`~b12labs.fhir.MAX_DEPTH` levels deep."""
    if not body.strip():
        raise ServiceError(400, "invalid_json", f"{what} is empty; send JSON")
    text = utf8_text(body, what, advice="; send JSON")
    try:
        data = json.loads(text)
    except RecursionError:
        raise _too_deep(what) from None
    except json.JSONDecodeError as error:
        raise ServiceError(
            400,
            "invalid_json",
            f"{what} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        ) from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise ServiceError(400, "invalid_json", f"{what} is not usable JSON: {error}") from None
    # fewer brackets than the limit cannot nest deeper than it: skip the walk (the hot path)
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and too_deep(data):
        raise _too_deep(what)
    return data


def utf8_text(body: bytes, what: str = "the body", *, advice: str = "") -> str:
    """``body`` decoded as UTF-8, refused with 400 (``invalid_json``) when it is not."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ServiceError(
            400, "invalid_json", f"{what} is not UTF-8 text (byte {error.start}){advice}"
        ) from None


def too_deep(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON-like ``data`` is nested more than ``limit`` levels (level by level,
    without recursion)."""
    level = [data] if isinstance(data, Mapping | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            for child in item.values() if isinstance(item, Mapping) else item:
                if isinstance(child, Mapping | list):
                    below.append(child)
        level = below
    return False


def _too_deep(what: str) -> ServiceError:
    return ServiceError(
        400,
        "too_deep",
        f"{what} is nested more than {MAX_DEPTH} levels deep (arrays and objects inside one "
        "another); no b12labs input is, so it is not read",
    )


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


class JsonArrayItems:
    """The items of a JSON array text, parsed one at a time (bounded memory: the parsed form
    of one item at a time, beside the text).

    :meth:`start` checks the opening bracket; :meth:`next` gives the next item, or raises
    :class:`StopIteration` after the closing bracket. A syntax error raises ServiceError
    (400, ``invalid_json`` or ``too_deep``) naming the item's index; an error found after an
    item (a missing comma, text after the array) is raised by the call after the one that
    gave that item, so that every item read is answered first. Items are not checked for
    depth: the caller answers a too deep item and goes on.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.index = 0  # the index of the next item
        self.done = False
        self._pending: ServiceError | None = None

    def _skip(self) -> None:
        text, i = self.text, self.position
        while i < len(text) and text[i] in _WHITESPACE:
            i += 1
        self.position = i

    def start(self) -> None:
        self._skip()
        if self.position >= len(self.text) or self.text[self.position] != "[":
            raise ServiceError(
                400,
                "invalid_body",
                "the body must be a JSON array of panels, e.g. "
                '[{"b12": "150 pmol/L"}, {"b12": "420 pmol/L"}]',
            )
        self.position += 1
        self._skip()
        if self.text.startswith("]", self.position):
            self.position += 1
            self._end()
            if self._pending is not None:
                raise self._pending

    def _end(self) -> None:
        self.done = True
        self._skip()
        if self.position != len(self.text):
            self._pending = ServiceError(
                400,
                "invalid_json",
                f"the body is not valid JSON: text after the end of the array (character "
                f"{self.position})",
            )

    def next(self) -> Any:
        if self._pending is not None:
            error, self._pending = self._pending, None
            self.done = True
            raise error
        if self.done:
            raise StopIteration
        where = f"item {self.index}"
        try:
            item, end = _DECODER.raw_decode(self.text, self.position)
        except RecursionError:
            self.done = True
            raise _too_deep(where) from None
        except json.JSONDecodeError as error:
            self.done = True
            raise ServiceError(
                400,
                "invalid_json",
                f"{where} is not valid JSON: {error.msg} (character {error.pos})",
            ) from None
        except ValueError as error:  # e.g. an integer of more than 4300 digits
            self.done = True
            raise ServiceError(
                400, "invalid_json", f"{where} is not usable JSON: {error}"
            ) from None
        self.index += 1
        self.position = end
        self._skip()
        if self.text.startswith(",", self.position):
            self.position += 1
            self._skip()
            if self.text.startswith("]", self.position):
                self._pending = ServiceError(
                    400, "invalid_json", f"the body is not valid JSON: a comma after {where}"
                )
        elif self.text.startswith("]", self.position):
            self.position += 1
            self._end()
        else:
            self._pending = ServiceError(
                400,
                "invalid_json",
                f"the body is not valid JSON: expected ',' or ']' after {where} (character "
                f"{self.position})",
            )
        return item
