"""The loopback listener that receives the OAuth redirect from a browser on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import html
import secrets
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from app.errors import LoginInputError
from app.sanitize import for_display

_READ_TIMEOUT = 10.0
_MAX_REQUEST = 16 * 1024

# No <meta charset>: the Content-Type header already says utf-8.
_PAGE = """<!doctype html><html><head><title>pi-tui</title></head>
<body style="font-family: system-ui, sans-serif; margin: 4em auto; max-width: 36em">
<h1>{title}</h1><p>{body}</p></body></html>"""


class CallbackListener:
    """Listens on 127.0.0.1 (and ::1 when possible) for ``GET {path}?code=…&state=…``.

    The first request with the right state (or any, without an expected state) and a code is
    handed to :attr:`complete`; the browser gets its answer only once that has succeeded or
    failed, so the page says what really happened. Requests with another state are answered
    and ignored, so a stray tab cannot end the login. ``provider`` names it on the pages.
    """

    def __init__(self, expected_state: str | None, path: str, provider: str) -> None:
        self._expected_state = expected_state
        self._path = path
        self._provider = provider
        self._result: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._servers: list[asyncio.Server] = []
        self._handled = False
        self.port = 0
        self.complete: Callable[[str], Awaitable[object]] | None = None
        # Sees the query (first values) before ``complete``; raising ends the login with it.
        self.inspect: Callable[[Mapping[str, str]], None] | None = None

    @classmethod
    async def start(
        cls,
        port: int,
        *,
        expected_state: str | None,
        path: str,
        provider: str,
        any_port: bool = True,
    ) -> CallbackListener:
        """Bind ``port`` (falling back to an ephemeral port when it is taken, if ``any_port``)."""
        listener = cls(expected_state, path, provider)
        try:
            server = await asyncio.start_server(listener._handle, "127.0.0.1", port)
        except OSError:
            if port == 0 or not any_port:
                raise
            server = await asyncio.start_server(listener._handle, "127.0.0.1", 0)
        listener._servers.append(server)
        listener.port = server.sockets[0].getsockname()[1]
        # Browsers may resolve "localhost" to ::1 first; listening there too is best effort.
        with contextlib.suppress(OSError):
            listener._servers.append(await asyncio.start_server(listener._handle, "::1", listener.port))
        return listener

    async def wait(self) -> None:
        """Return once a browser's redirect completed the login; raise what completing raised."""
        await asyncio.shield(self._result)

    async def close(self) -> None:
        """Stop listening; a pending :meth:`wait` is cancelled."""
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()
        if not self._result.done():
            self._result.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            writer.close()
            return
        status, title, body = await self._answer(head[:_MAX_REQUEST])
        page = _PAGE.format(title=html.escape(title), body=html.escape(body)).encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Cache-Control: no-store\r\nContent-Length: {len(page)}\r\nConnection: close\r\n\r\n".encode()
            + page
        )
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    async def _answer(self, head: bytes) -> tuple[str, str, str]:
        """Return (status line, title, text) for one request, completing the login if it is the one."""
        try:
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        except ValueError:
            return "400 Bad Request", "Bad request", "pi-tui did not understand this request."
        parts = urlsplit(target)
        if method != "GET" or parts.path != self._path:
            return "404 Not Found", "Not found", "This address only receives pi-tui's login."
        params = parse_qs(parts.query)
        state = params.get("state", [""])[0]
        expected = self._expected_state
        if expected is not None and not secrets.compare_digest(state.encode(), expected.encode()):
            return (
                "400 Bad Request",
                "Not this login",
                "This response belongs to a different login attempt and was ignored. "
                "Use the link pi-tui shows now.",
            )
        if self._handled:
            return "200 OK", "Already done", "This login is already complete. You can close this tab."
        provider = self._provider
        error = params.get("error", [""])[0]
        if error:
            self._handled = True
            detail = for_display(params.get("error_description", [error])[0], limit=200)
            self._set(
                # This listener is spent: whoever retries makes a new link, so don't send the
                # user back to this one.
                LoginInputError(f"{provider} did not authorize the login ({detail}).")
            )
            return "200 OK", "Login not authorized", f"{detail}. Return to pi-tui to try again."
        code = params.get("code", [""])[0]
        if not code:
            return "400 Bad Request", "No code", "The redirect carried no authorization code."
        self._handled = True
        try:
            if self.inspect is not None:
                self.inspect({name: values[0] for name, values in params.items()})
            if self.complete is not None:
                await self.complete(code)
        except Exception as exc:
            self._set(exc)
            return (
                "502 Bad Gateway",
                "Login failed",
                f"{provider} login failed: {for_display(exc, limit=300)} See the terminal.",
            )
        self._set(None)
        return "200 OK", "Logged in", f"Signed in to {provider}. You can close this tab."

    def _set(self, outcome: BaseException | None) -> None:
        if self._result.done():
            return
        if outcome is None:
            self._result.set_result(None)
        else:
            self._result.set_exception(outcome)
