"""The loopback fake of every provider pi-tui talks to: one server, one configuration each.

Real HTTP on 127.0.0.1 (standard library only): ``ThreadingHTTPServer`` in a daemon thread,
HTTP/1.1 keep-alive, JSON or form bodies. Each provider of :data:`REGISTRY` is served under its
own path prefix; its generic OAuth behaviour comes from its configuration
(:mod:`tests.fakes.spec`, :mod:`tests.fakes.oauth`) and its quirks from its module in
:mod:`tests.fakes.providers`. Every request is recorded; any endpoint can be told to fail.

Endpoint names (for :meth:`FakeProviders.count`, :meth:`FakeProviders.fail` and
:meth:`FakeProviders.set_latency`) are listed in :data:`ENDPOINTS`.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.oauth import DEVICE_GRANT_TYPE, ProviderFake
from tests.fakes.providers import REGISTRY
from tests.fakes.spec import ProviderConfig
from tests.fakes.wire import (
    FAULT_KINDS,
    Fault,
    Handler,
    RecordedRequest,
    Reply,
    Server,
    as_seconds,
    canned_reply,
    cut,
    describe,
    field_of,
    json_reply,
    parse_body,
    text_reply,
)

ENDPOINTS: tuple[str, ...] = tuple(name for config in REGISTRY for name in config.endpoint_names())
_MISSING = object()


@dataclass(frozen=True)
class Route:
    """One endpoint: ``name`` is fixed, or chosen per request by ``namer`` (the token endpoint)."""

    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    namer: Callable[[Any], str] | None = None


class FakeProviders:
    """Every fake provider on one loopback port.

    Use as a context manager or call :meth:`start` / :meth:`stop`. Per-provider state and
    helpers live on one attribute per provider (``anthropic``, ``github``, ``copilot``, ``codex``,
    ``xai``, ``kimi``, ``openrouter``, ``meta``; :meth:`provider` finds one by pi-tui's provider
    id); faults and latency are set by endpoint name (see :data:`ENDPOINTS`).
    """

    anthropic: Any
    github: Any
    copilot: Any
    codex: Any
    xai: Any
    kimi: Any
    openrouter: Any
    meta: Any

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.RLock()
        self._port = port
        self.providers: dict[str, ProviderFake] = {}
        for config in REGISTRY:
            kind = config.fake or ProviderFake
            self.providers[config.name] = kind(config, self._lock, self.providers)
            setattr(self, config.name, self.providers[config.name])
        self.latency = 0.0
        self.drip_interval = 0.5
        self.drip_cap = 60.0
        self.hang_cap = 600.0
        self.stopping = threading.Event()
        self._latencies: dict[str, float] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self._routes = [route for fake in self.providers.values() for route in _routes_of(fake)]
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None

    def provider(self, provider_id: str) -> Any:
        """The fake of pi-tui's provider ``provider_id`` (e.g. ``"openai-codex"``)."""
        for fake in self.providers.values():
            if fake.config.provider_id == provider_id:
                return fake
        raise LookupError(f"no fake for provider {provider_id!r}")

    # ---- lifecycle

    def start(self) -> FakeProviders:
        """Bind 127.0.0.1 and serve in a daemon thread; returns ``self``."""
        if self._server is not None or self.stopping.is_set():
            raise RuntimeError("FakeProviders can be started once")
        self._server = Server(self, self._port)
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._server.serve_until, args=(self._wake[0],), daemon=True, name="fake-http"
        )
        self._thread.start()
        for fake in self.providers.values():
            fake.base = self.base
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving, cut open connections (hanging or dripping ones too), join threads."""
        server, thread, wake = self._server, self._thread, self._wake
        if server is None or thread is None or wake is None or self.stopping.is_set():
            return
        deadline = time.monotonic() + timeout
        self.stopping.set()
        wake[1].send(b"x")
        thread.join(timeout)
        if thread.is_alive():
            # Never close a listener a thread may still accept() on: its descriptor number would
            # go to the next socket opened, whose connections that thread would take.
            self.errors.append("the fake's accept loop did not stop; its listener is left open")
        else:
            server.server_close()
        with server.track_lock:
            connections, threads = list(server.connections), list(server.handler_threads)
        for connection in connections:
            cut(connection)
        for handler_thread in threads:
            handler_thread.join(max(0.0, deadline - time.monotonic()))
        for sock in wake:
            sock.close()

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("FakeProviders is not started")
        return self._server.server_port

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The ``PI_TUI_*`` overrides that point the app at this fake, every provider's."""
        overrides: dict[str, str] = {}
        for config in REGISTRY:
            overrides |= config.env(self.base)
        return overrides | {"PI_TUI_CALLBACK_PORT": "0"}

    # ---- observation

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint name (the same as :data:`ENDPOINTS`)."""
        return ENDPOINTS

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every recorded request (control requests excluded), oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, name: str) -> list[RecordedRequest]:
        """The recorded requests of endpoint ``name``."""
        _check_name(name)
        return [request for request in self.requests if request.name == name]

    def count(self, name: str) -> int:
        """How many requests endpoint ``name`` received."""
        return len(self.requests_for(name))

    def counts(self) -> dict[str, int]:
        """Request counts of every endpoint."""
        names = [request.name for request in self.requests]
        return {name: names.count(name) for name in ENDPOINTS}

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    # ---- faults and timing

    def set_latency(self, name: str, seconds: float) -> None:
        """Delay endpoint ``name`` by ``seconds`` (instead of the global :attr:`latency`)."""
        _check_name(name)
        with self._lock:
            self._latencies[name] = seconds

    def fail(
        self,
        name: str,
        *,
        status: int = 500,
        body: Any = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        kind: str = "response",
    ) -> None:
        """Answer the next ``times`` calls of endpoint ``name`` with a fault.

        ``kind="response"`` sends ``status`` with ``body`` (dict/list → JSON, str → text or HTML,
        bytes as they are, ``None`` → empty) and ``headers``; ``"reset"`` closes the socket with
        an RST; ``"hang"`` reads the request and never answers until :meth:`stop`; ``"drip"``
        sends headers with a large Content-Length and then one byte every
        :attr:`drip_interval` seconds.
        """
        _check_name(name)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        reply = canned_reply(status, body, content_type, headers) if kind == "response" else None
        with self._lock:
            queue = self._faults.setdefault(name, deque())
            queue.extend(Fault(kind, reply) for _ in range(times))

    # ---- dispatch

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_port: int
    ) -> Reply | Fault:
        """Record a request and decide its answer (called from handler threads)."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        data = parse_body(body, headers.get("content-type", ""))
        request = RecordedRequest(
            None, method, parts.path, query, headers, body, data, time.monotonic(), client_port
        )
        if parts.path.startswith("/_control/"):
            return self._control(request, parts.path.removeprefix("/_control/"))
        route, path_known = self._match(method, parts.path)
        if route is not None:
            request.name = route.namer(data) if route.namer else route.name
        self._record(request)
        if route is None or request.name is None:
            if path_known:
                return json_reply(405, {"message": "Method Not Allowed"})
            return json_reply(404, {"message": "Not Found"})
        name = request.name
        self._delay(name)
        fault = self._next_fault(name)
        if fault is not None:
            return fault.reply or fault
        return self._call(route.handler, request)

    def _call(self, handler: Handler, request: RecordedRequest) -> Reply:
        """Run a handler; a bug in the fake becomes a 500 with the traceback, kept in ``errors``."""
        try:
            return handler(request)
        except Exception:
            trace = traceback.format_exc()
            with self._lock:
                self.errors.append(trace)
            return text_reply(500, f"fake server bug:\n{trace}")

    def _match(self, method: str, path: str) -> tuple[Route | None, bool]:
        """The route for ``(method, path)`` and whether any route has that path."""
        path_known = False
        for route in self._routes:
            if route.pattern.match(path):
                if route.method == method:
                    return route, True
                path_known = True
        return None, path_known

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _delay(self, name: str) -> None:
        with self._lock:
            seconds = self._latencies.get(name, self.latency)
        if seconds > 0:
            self.stopping.wait(seconds)

    def _next_fault(self, name: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(name)
            return queue.popleft() if queue else None

    # ---- settings and control endpoints

    def configure(self, settings: dict[str, Any]) -> None:
        """Set provider settings by dotted name, e.g. ``{"github.interval": 1}``."""
        for key, value in settings.items():
            provider, _, attribute = key.partition(".")
            target = self.providers.get(provider)
            current = getattr(target, attribute, _MISSING) if attribute else _MISSING
            if attribute.startswith("_") or current is _MISSING or callable(current):
                raise AttributeError(f"unknown setting {key!r}")
            setattr(target, attribute, value)

    def _control(self, request: RecordedRequest, action: str) -> Reply:
        """``/_control/<action>``: drive the fake from another process (JSON in, JSON out)."""
        handler = self._control_actions().get(action)
        if handler is None:
            return json_reply(404, {"error": f"unknown control action {action!r}"})
        args = request.data if isinstance(request.data, dict) else {}
        try:
            result = handler(args)
        except (LookupError, TypeError, ValueError, AttributeError) as error:
            return json_reply(400, {"error": str(error)})
        return json_reply(200, {} if result is None else result)

    def _control_actions(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        anthropic, github, copilot = self.anthropic, self.github, self.copilot

        def target(args: dict[str, Any], default: str) -> Any:
            return self.providers[str(args.get("provider") or default)]

        return {
            "approve": lambda a: {
                "user_code": target(a, "github").approve(a.get("user_code"), a.get("login") or None)
            },
            "deny": lambda a: {"user_code": target(a, "github").deny(a.get("user_code"))},
            "force_slow_down": lambda a: target(a, "github").force_slow_down(int(a.get("n", 1))),
            "seed": lambda a: target(a, "anthropic").seed_login(a.get("account")),
            "revoke": lambda a: target(a, "anthropic").revoke_all(),
            "expire": lambda a: target(a, "anthropic").expire_access_tokens(),
            "seed_anthropic": lambda a: anthropic.seed_login(a.get("email")),
            "seed_github": lambda a: {"github_token": github.seed_login(a.get("login") or "octocat")},
            "seed_copilot": lambda a: {"token": copilot.seed_token()},
            "expire_anthropic": lambda a: anthropic.expire_access_tokens(),
            "revoke_anthropic": lambda a: anthropic.revoke_all(),
            "deny_next_authorize": lambda a: target(a, "anthropic").deny_next_authorize(),
            "expire_copilot": lambda a: copilot.expire_tokens(),
            "latency": self._control_latency,
            "fail": lambda a: self.fail(**a),
            "configure": self.configure,
            "counts": lambda a: self.counts(),
            "requests": lambda a: [describe(request) for request in self.requests],
            "clear": lambda a: self.clear_requests(),
        }

    def _control_latency(self, args: dict[str, Any]) -> None:
        seconds = as_seconds(args.get("seconds"), 0.0)
        if args.get("name"):
            self.set_latency(str(args["name"]), seconds)
        else:
            self.latency = seconds


def _routes_of(fake: ProviderFake) -> list[Route]:
    """The generic endpoints a provider's specs imply, then its custom ones."""
    config = fake.config
    table: list[tuple[str, str, str, Handler, Callable[[Any], str] | None]] = []
    auth, device, tokens = config.auth_code, config.device, config.tokens
    if auth is not None:
        table.append(("GET", auth.authorize_path, "authorize", fake.handle_authorize, None))
        if auth.exchange_path is not None:
            table.append(("POST", auth.exchange_path, "exchange", fake.handle_exchange, None))
    if device is not None:
        table.append(("POST", device.device_path, "device_code", fake.handle_device_code, None))
        if device.poll_path is not None and device.poll_path != tokens.path:
            table.append(("POST", device.poll_path, "poll", fake.handle_poll, None))
    if tokens.path is not None and (auth is not None or tokens.refresh or device is not None):
        table.append(("POST", tokens.path, "token", fake.handle_token, _token_namer(config)))
    table += [
        (route.method, route.path, route.name, getattr(fake, route.handler), None) for route in config.routes
    ]
    routes = []
    for method, path, name, handler, namer in table:
        full = name if "." in name else f"{config.name}.{name}"
        pattern = re.compile(f"^{path.rstrip('/')}/?$")
        routes.append(Route(method, pattern, full, handler, namer))
    return routes


def _token_namer(config: ProviderConfig) -> Callable[[Any], str]:
    """The token endpoint counts as ``<name>.exchange``, ``.refresh`` or ``.poll`` by grant type."""
    fallback = "exchange" if config.auth_code is not None else "poll"

    def name(data: Any) -> str:
        grant_type = field_of(data, "grant_type")
        if grant_type == "refresh_token" and config.tokens.refresh:
            return f"{config.name}.refresh"
        if grant_type == DEVICE_GRANT_TYPE and config.device is not None:
            return f"{config.name}.poll"
        if grant_type == "authorization_code" and config.auth_code is not None:
            return f"{config.name}.exchange"
        return f"{config.name}.{fallback}"

    return name


def _check_name(name: str) -> None:
    if name not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {name!r}; use one of {', '.join(ENDPOINTS)}")
