"""A synchronous in-process HTTP client of an ASGI app, for the service tests.

httpx.AsyncClient over ASGITransport, driven from a blocking anyio portal: the requests go
through the whole app (middleware, routers, error handlers) without a socket.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal


class Client:
    """A synchronous client of an ASGI app (httpx.AsyncClient + ASGITransport, on a portal)."""

    def __init__(self, app: Any) -> None:
        self._stack = ExitStack()
        self.portal = self._stack.enter_context(start_blocking_portal())
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=60
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(functools.partial(self.client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self.client.aclose)
        self._stack.close()
