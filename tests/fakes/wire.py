"""The wire side of the fake: recorded requests, replies, faults, and the threaded HTTP server.

Standard library only. :class:`Server` serves HTTP/1.1 with keep-alive on 127.0.0.1 and hands
every request to its engine (``engine.respond``), which answers with a :class:`Reply` or a
:class:`Fault` (``reset``, ``hang`` or ``drip``) that the handler then plays out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import selectors
import socket
import socketserver
import string
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

FAULT_KINDS = ("response", "reset", "hang", "drip")
_ALNUM = string.ascii_letters + string.digits

# --------------------------------------------------------------------------- plumbing types


@dataclass
class RecordedRequest:
    """One request as the fake received it.

    ``headers`` has lower-cased names; ``data`` is the parsed body (a JSON value, a dict for a
    form body, or ``None``); ``time`` is ``time.monotonic()`` when the request was read.
    """

    name: str | None
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    data: Any
    time: float
    client_port: int


@dataclass
class Reply:
    """An HTTP answer: status, body bytes, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """A queued misbehaviour: a canned ``reply``, or a ``reset``, ``hang`` or ``drip``."""

    kind: str
    reply: Reply | None = None


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, "application/json; charset=utf-8", dict(headers or {}))


def form_reply(status: int, payload: dict[str, Any]) -> Reply:
    """A form-encoded answer, the way GitHub answers without ``Accept: application/json``."""
    body = urlencode({key: str(value) for key, value in payload.items()}).encode()
    return Reply(status, body, "application/x-www-form-urlencoded; charset=utf-8")


def text_reply(status: int, text: str) -> Reply:
    """A plain-text answer."""
    return Reply(status, text.encode(), "text/plain; charset=utf-8")


def canned_reply(
    status: int,
    body: Any,
    content_type: str | None,
    headers: dict[str, str] | None,
) -> Reply:
    """Build the answer for ``FakeProviders.fail``, guessing a content type if none given."""
    if body is None:
        raw, guessed = b"", None
    elif isinstance(body, bytes):
        raw, guessed = body, "application/octet-stream"
    elif isinstance(body, str):
        html = body.lstrip().startswith("<")
        raw, guessed = body.encode(), "text/html" if html else "text/plain; charset=utf-8"
    else:
        raw, guessed = json.dumps(body).encode(), "application/json"
    return Reply(status, raw, content_type or guessed, dict(headers or {}))


def random_token(prefix: str = "", length: int = 40) -> str:
    """``prefix`` followed by ``length`` random letters and digits."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def pkce_challenge(verifier: str) -> str:
    """base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def as_seconds(value: Any, default: float) -> float:
    """``value`` as a number of seconds, or ``default`` if it is not a number."""
    if isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def bearer(headers: dict[str, str], schemes: tuple[str, ...] = ("bearer",)) -> str | None:
    """The credential of an ``Authorization`` header using one of ``schemes``, else ``None``."""
    scheme, _, credential = headers.get("authorization", "").strip().partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() in schemes and credential else None


def parse_body(body: bytes, content_type: str) -> Any:
    """Parse a JSON or form body; ``None`` when it is empty or neither."""
    if not body:
        return None
    if "application/x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        return json.loads(body)
    except ValueError:
        return None


def field_of(data: Any, key: str) -> str | None:
    """``data[key]`` if ``data`` is a dict and the value is a string, else ``None``."""
    if isinstance(data, dict):
        value = data.get(key)
        return value if isinstance(value, str) else None
    return None


# --------------------------------------------------------------------------- HTTP server

Handler = Callable[[RecordedRequest], Reply]


class RequestHandler(BaseHTTPRequestHandler):
    """Reads one request, lets the engine decide, writes the answer or misbehaves."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read stderr."""

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch()

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Dispatch a PUT."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Dispatch a DELETE."""
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        outcome = self.server.fake.respond(self.command, self.path, headers, body, self.client_address[1])
        if isinstance(outcome, Reply):
            self._send(outcome)
        elif outcome.kind == "reset":
            self._reset()
        elif outcome.kind == "hang":
            self.server.fake.stopping.wait(self.server.fake.hang_cap)
            self.close_connection = True
        else:
            self._drip()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _drip(self) -> None:
        fake = self.server.fake
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        deadline = time.monotonic() + fake.drip_cap
        try:
            while time.monotonic() < deadline and not fake.stopping.is_set():
                self.wfile.write(b" ")
                fake.stopping.wait(fake.drip_interval)
        except OSError:
            return


class Server(ThreadingHTTPServer):
    """A threading HTTP server that tracks its connections so ``stop`` can cut them."""

    daemon_threads = True

    def __init__(self, fake: Engine, port: int) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self.track_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), RequestHandler)

    def server_bind(self) -> None:
        """Bind without the reverse-DNS lookup ``HTTPServer`` does (it can take seconds)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve ``request`` in a tracked daemon thread."""
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address), daemon=True)
        with self.track_lock:
            self.connections.add(request)
            self.handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.track_lock:
                self.connections.discard(request)
                self.handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is normal; anything else is a bug of the fake: keep it."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | BrokenPipeError) or self.fake.stopping.is_set():
            return
        self.fake.errors.append(traceback.format_exc())

    def serve_until(self, wake: socket.socket) -> None:
        """Accept connections until ``wake`` becomes readable."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if wake in ready:
                    return
                self._handle_request_noblock()


class Engine(Protocol):
    """What the HTTP handler needs from the fake it serves."""

    stopping: threading.Event
    errors: list[str]
    hang_cap: float
    drip_cap: float
    drip_interval: float

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_port: int
    ) -> Reply | Fault:
        """Record a request and decide its answer."""
        ...


def describe(request: RecordedRequest) -> dict[str, Any]:
    """A recorded request as JSON-ready data (for ``/_control/requests``)."""
    return {
        "name": request.name,
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": request.headers,
        "body": request.body.decode("utf-8", "replace"),
        "time": request.time,
    }


def cut(connection: socket.socket) -> None:
    """Shut a connection down so a thread blocked reading or writing it returns."""
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        return
