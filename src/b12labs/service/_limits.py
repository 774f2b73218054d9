"""Limits and the access log: one ASGI middleware around every request.

* **Body size.** A declared ``Content-Length`` above the route's limit is answered 413 before
  the body is read; a body sent without one (chunked, streamed) is counted as it arrives and
  answered 413 as soon as it passes the limit, whatever the route was doing with it.
* **Time.** Every request runs under a deadline (``time_limit``, or ``batch_time_limit`` for
  the batch route): past it, a request not yet answered gets 503 ``time_limit``. Work in
  threads is abandoned at the deadline (its result is dropped); the batch route also checks
  the deadline between chunks and ends its stream with an error line of its own.
* **Access log.** One JSON line per request on the logger ``b12labs.service``: method, route
  template (``/cds-services/{service_id}``, never the path as sent), status, duration in
  milliseconds, request and response body sizes in bytes. Never a body, a query string, a
  value or a patient id.
* **No traceback leaves.** An exception that escapes a route is logged with its type and code
  location only, and answered 500 (if the response has not started) here, so that the server
  never logs its message (which may quote a value a client sent).
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import INTERNAL_DETAIL, ServiceError, error_response, log_internal
from ._settings import BATCH_PATH, Settings

__all__ = ["DEADLINE_KEY", "LimitsMiddleware", "deadline_of", "run_sync"]

logger = logging.getLogger("b12labs.service")
#: Scope key of the request's deadline (``time.monotonic()`` seconds).
DEADLINE_KEY = "b12labs.deadline"
_T = TypeVar("_T")
# anyio 4.1 renamed ``cancellable`` to ``abandon_on_cancel``.
_ABANDON = (
    "abandon_on_cancel"
    if "abandon_on_cancel" in inspect.signature(anyio.to_thread.run_sync).parameters
    else "cancellable"
)


async def run_sync(func: Callable[..., _T], *args: Any) -> _T:
    """``func(*args)`` in a worker thread; abandoned (not waited for) when the request's
    deadline passes, so that the request is answered 503 on time."""
    if _ABANDON == "abandon_on_cancel":
        return await anyio.to_thread.run_sync(func, *args, abandon_on_cancel=True)
    return await anyio.to_thread.run_sync(func, *args, cancellable=True)  # anyio < 4.1


def deadline_of(scope: Scope) -> float:
    """The request's deadline in ``time.monotonic()`` seconds (infinite outside the
    middleware)."""
    deadline = scope.get(DEADLINE_KEY)
    return float(deadline) if deadline is not None else float("inf")


class _BodyTooLargeError(Exception):
    """Raised into the app by ``receive`` when the body passes the limit."""


class _Exchange:
    __slots__ = ("error", "received", "replaced", "sent", "started", "status")

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0
        self.status: int | None = None
        self.started = False
        self.replaced = False  # the app's response is dropped: ours (413) replaces it
        self.error: str | None = None


class LimitsMiddleware:
    """The body-size and time limits and the access log (see the module documentation)."""

    def __init__(self, app: ASGIApp, settings: Settings, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.settings = settings
        self.routes = routes  # to name the route of a request answered before routing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        settings = self.settings
        batch = scope["path"] == BATCH_PATH
        max_bytes = settings.max_batch_bytes if batch else settings.max_body_bytes
        seconds = settings.batch_time_limit if batch else settings.time_limit
        scope[DEADLINE_KEY] = time.monotonic() + seconds
        exchange = _Exchange()

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.received += len(message.get("body", b""))
                if exchange.received > max_bytes:
                    exchange.replaced = True
                    raise _BodyTooLargeError
            return message

        async def tracked_send(message: Message) -> None:
            if exchange.replaced:
                return
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.started = True
            elif message["type"] == "http.response.body":
                exchange.sent += len(message.get("body", b""))
            await send(message)

        try:
            declared = _content_length(scope)
            if declared == -1:
                exchange.error = "invalid_request"
                await self._answer(
                    scope, receive, tracked_send, 400, "invalid_request",
                    "the Content-Length header is not a number of bytes",
                )  # fmt: skip
            elif declared is not None and declared > max_bytes:
                exchange.error = "body_too_large"
                await self._too_large(scope, receive, tracked_send, max_bytes)
            else:
                try:
                    with anyio.fail_after(seconds):
                        await self.app(scope, counted_receive, tracked_send)
                except _BodyTooLargeError:
                    pass
                if exchange.replaced:
                    exchange.replaced = False
                    exchange.error = "body_too_large"
                    if not exchange.started:
                        await self._too_large(scope, receive, tracked_send, max_bytes)
        except TimeoutError:
            exchange.error = "time_limit"
            if not exchange.started:
                await self._answer(
                    scope, receive, tracked_send, 503, "time_limit",
                    f"the request took longer than the time limit of {seconds:g} s; send "
                    "less at a time",
                )  # fmt: skip
        except Exception as error:  # a bug of ours: never a traceback with a message
            exchange.error = "internal_error"
            log_internal(error, "request")
            if not exchange.started:
                await self._answer(
                    scope, receive, tracked_send, 500, "internal_error", INTERNAL_DETAIL
                )
        finally:
            if logger.isEnabledFor(logging.INFO):
                if "route" not in scope:  # answered here, before routing
                    scope["route"] = self._route(scope)
                logger.info(_access_line(scope, exchange, began))

    def _route(self, scope: Scope) -> BaseRoute | None:
        for route in self.routes:
            try:
                match, _ = route.matches(scope)
            except Exception:  # a route that cannot read this scope: not this one
                continue
            if match is Match.FULL:
                return route
        return None

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await self._answer(
            scope,
            receive,
            send,
            413,
            "body_too_large",
            f"the request body is larger than this route's limit of {limit:,} bytes; send "
            "less at a time",
        )

    @staticmethod
    async def _answer(
        scope: Scope, receive: Receive, send: Send, status: int, reason: str, detail: str
    ) -> None:
        headers = {"Connection": "close"} if status in (400, 413) else None
        response = error_response(
            scope["path"], ServiceError(status, reason, detail, headers=headers)
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None when not declared, -1 when not a number."""
    values = [v for k, v in scope.get("headers", ()) if k.lower() == b"content-length"]
    if not values:
        return None
    text = values[0].strip()
    if len(values) > 1 and any(v.strip() != text for v in values):
        return -1
    if not text.isdigit() or len(text) > 18:
        return -1
    return int(text)


def _access_line(scope: Scope, exchange: _Exchange, began: float) -> str:
    route = scope.get("route")
    line: dict[str, Any] = {
        "event": "request",
        "method": scope.get("method"),
        "route": getattr(route, "path", None),  # the template, never the path as sent
        "status": exchange.status,
        "duration_ms": round((time.perf_counter() - began) * 1000, 3),
        "request_bytes": exchange.received,
        "response_bytes": exchange.sent,
    }
    if exchange.error:
        line["error"] = exchange.error
    return json.dumps(line, separators=(",", ":"))
