"""The loopback listener that receives the OAuth redirect from a browser on this machine.

It listens on 127.0.0.1 and, where the machine has an IPv6 loopback, on ::1 with the same port:
a browser may resolve "localhost" to either, so another user must not hold the other one. It
serves few connections at a time, drops idle ones, and never lets a stray connection print
anything: what goes wrong is logged (masked) and the listener keeps listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import html
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from app.errors import LoginInputError
from app.sanitize import for_display

# A browser sends its request at once; a connection silent this long is dropped.
_READ_TIMEOUT = 5.0
_MAX_REQUEST = 16 * 1024
# Connections served at once; one more makes room by dropping the oldest still silent one.
_MAX_CONNECTIONS = 32
# After accept() failed (e.g. out of descriptors): wait this long before accepting again.
_ACCEPT_RETRY = 0.2
# How long closing waits for answers in flight (the page saying "Logged in").
_CLOSE_GRACE = 1.0
# bind() on ::1 failing with these means the machine has no IPv6 loopback, not that it is taken.
_NO_IPV6 = frozenset({errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT})
# Port 0 (any free port): how many ports to try before giving up on one free at both addresses.
_FREE_PORT_TRIES = 8

log = logging.getLogger("pi_tui.callback")

# No <meta charset>: the Content-Type header already says utf-8.
_PAGE = """<!doctype html><html><head><title>pi-tui</title></head>
<body style="font-family: system-ui, sans-serif; margin: 4em auto; max-width: 36em">
<h1>{title}</h1><p>{body}</p></body></html>"""


def bind_loopback(port: int) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1:``port`` and [::1]:``port``; OSError if either is taken.

    Both or none: a port that someone else holds on one loopback address is taken, since a
    browser sent to "localhost" may reach them there. Without IPv6 loopback on this machine,
    127.0.0.1 alone. ``port`` 0 takes a free port, one free at both addresses.
    """
    tries = _FREE_PORT_TRIES if port == 0 else 1
    for attempt in range(tries):
        v4 = _listening(socket.AF_INET, "127.0.0.1", port)
        try:
            v6 = _listening(socket.AF_INET6, "::1", v4.getsockname()[1])
        except OSError as exc:
            if exc.errno in _NO_IPV6:
                return [v4]
            v4.close()
            if attempt == tries - 1:
                raise
            continue
        return [v4, v6]
    raise AssertionError("unreachable")


def _listening(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        # As asyncio's servers: the last login's connections in TIME_WAIT don't hold the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class CallbackListener:
    """Listens on 127.0.0.1 (and ::1 where there is one) for ``GET {path}?code=…&state=…``.

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
        # The listening sockets (empty once closed), their accept loops, and every connection
        # being served: True once its request has arrived (it is being answered).
        self._servers: list[socket.socket] = []
        self._acceptors: list[asyncio.Task[None]] = []
        self._connections: dict[asyncio.Task[None], bool] = {}
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
        """Bind ``port`` (falling back to a free port when it is taken, if ``any_port``)."""
        listener = cls(expected_state, path, provider)
        try:
            sockets = bind_loopback(port)
        except OSError:
            if port == 0 or not any_port:
                raise
            sockets = bind_loopback(0)
        listener._servers = sockets
        listener.port = sockets[0].getsockname()[1]
        listener._acceptors = [asyncio.create_task(listener._accept(sock)) for sock in sockets]
        return listener

    async def wait(self) -> None:
        """Return once a browser's redirect completed the login; raise what completing raised."""
        await asyncio.shield(self._result)

    async def close(self) -> None:
        """Stop listening; a pending :meth:`wait` is cancelled.

        Connections still silent are dropped; answers in flight get a moment to reach the browser.
        """
        idle = [task for task, busy in self._connections.items() if not busy]
        for task in (*self._acceptors, *idle):
            task.cancel()
        # Every socket is closed once its task has let go of it (not under a waiting reader).
        await asyncio.gather(*self._acceptors, *idle, return_exceptions=True)
        self._acceptors = []
        for sock in self._servers:
            sock.close()
        self._servers = []
        busy = list(self._connections)
        if busy:
            await asyncio.wait(busy, timeout=_CLOSE_GRACE)
        if not self._result.done():
            self._result.cancel()

    async def _accept(self, server: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(server)
            except OSError as exc:  # out of descriptors (EMFILE), ENOBUFS…: keep listening
                log.info("loopback listener: accept failed (%s); trying again", exc.strerror or exc)
                await asyncio.sleep(_ACCEPT_RETRY)
                continue
            if len(self._connections) >= _MAX_CONNECTIONS and not self._drop_oldest_idle():
                conn.close()
            else:
                task = asyncio.create_task(self._serve(conn))
                self._connections[task] = False
                # Closed however the task ends, even cancelled before it ever ran.
                task.add_done_callback(functools.partial(self._forget, conn=conn))
            # Let dropped connections close and new ones start before accepting more: a flood
            # of connections must not pile up descriptors or starve the browser's request.
            await asyncio.sleep(0)

    def _drop_oldest_idle(self) -> bool:
        """Cancel the oldest connection that has sent no request yet; False if none has."""
        for task, busy in self._connections.items():
            if not busy and not task.done():
                task.cancel()
                del self._connections[task]
                return True
        return False

    def _forget(self, task: asyncio.Task[None], conn: socket.socket) -> None:
        self._connections.pop(task, None)
        conn.close()

    async def _serve(self, conn: socket.socket) -> None:
        """One connection: read a request, answer it, close. Nothing escapes but cancellation."""
        loop = asyncio.get_running_loop()
        try:
            with conn:
                conn.setblocking(False)
                try:
                    head = await asyncio.wait_for(self._read_head(loop, conn), _READ_TIMEOUT)
                except (TimeoutError, OSError):
                    return
                if head is None:
                    return
                task = asyncio.current_task()
                if task in self._connections:
                    self._connections[task] = True
                reply = await self._reply(head)
                with contextlib.suppress(TimeoutError, OSError):
                    await asyncio.wait_for(loop.sock_sendall(conn, reply), _READ_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not end the login or print a traceback
            log.info("loopback listener: a connection failed: %s", for_display(repr(exc), limit=300))

    @staticmethod
    async def _read_head(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> bytes | None:
        """The request's head (up to the blank line); None if it ended first or is too long."""
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > _MAX_REQUEST:
                return None
            chunk = await loop.sock_recv(conn, 4096)
            if not chunk:
                return None
            data += chunk
        return data.partition(b"\r\n\r\n")[0][:_MAX_REQUEST]

    async def _reply(self, head: bytes) -> bytes:
        status, title, body = await self._answer(head)
        page = _PAGE.format(title=html.escape(title), body=html.escape(body)).encode()
        return (
            f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Cache-Control: no-store\r\nContent-Length: {len(page)}\r\nConnection: close\r\n\r\n".encode()
            + page
        )

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
