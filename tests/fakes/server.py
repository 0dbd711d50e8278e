"""A loopback fake of Anthropic's and GitHub Copilot's OAuth and API endpoints.

Real HTTP on 127.0.0.1 (standard library only): ``ThreadingHTTPServer`` in a daemon thread,
HTTP/1.1 keep-alive, JSON or form bodies. It checks what the real providers check (client ids,
PKCE S256, redirect_uri equality, single-use codes, rotating refresh tokens, device-flow timing
and expiry, Copilot token expiry and headers), records every request, and can be told to fail.

Endpoint names (for :meth:`FakeProviders.count`, :meth:`FakeProviders.fail` and
:meth:`FakeProviders.set_latency`) are listed in :data:`ENDPOINTS`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import selectors
import socket
import socketserver
import string
import struct
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

ANTHROPIC_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
GITHUB_CLIENT_ID = "Iv1.b507a08c87ecfe98"
CLAUDE_CODE_SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."
ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_BETAS = ("claude-code-20250219", "oauth-2025-04-20")
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
GITHUB_ERROR_URI = (
    "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow"
)
COPILOT_HEADERS = {
    "User-Agent": "GitHubCopilotChat/0.35.0",
    "Editor-Version": "vscode/1.107.0",
    "Editor-Plugin-Version": "copilot-chat/0.35.0",
    "Copilot-Integration-Id": "vscode-chat",
}
COPILOT_API_VERSION = "2026-06-01"
COPILOT_CHAT_HEADERS = ("openai-intent", "x-initiator", "copilot-vision-request")

ENDPOINTS = (
    "anthropic.authorize",
    "anthropic.exchange",
    "anthropic.refresh",
    "anthropic.messages",
    "github.device_code",
    "github.poll",
    "github.copilot_token",
    "github.user",
    "copilot.models",
    "copilot.policy",
    "copilot.chat",
)
FAULT_KINDS = ("response", "reset", "hang", "drip")

_REDIRECT_URI_RE = re.compile(
    r"^(http://(localhost|127\.0\.0\.1|\[::1\]):\d{1,5}/callback"
    r"|https://(console\.anthropic\.com|platform\.claude\.com)/oauth/code/callback)$"
)
_POLICY_PATH = "/copilot/models/(?P<model>[^/]+)/policy"
_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_ALNUM = string.ascii_letters + string.digits
_MISSING = object()


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
    """Build the answer for :meth:`FakeProviders.fail`, guessing a content type if none given."""
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


# --------------------------------------------------------------------------- Anthropic


@dataclass
class _AuthCode:
    redirect_uri: str
    challenge: str
    state: str
    scope: str
    used: bool = False


@dataclass
class _AnthropicSession:
    email: str
    scope: str
    access: str
    refresh: str
    access_expires: float


class AnthropicFake:
    """Anthropic's authorize page, token endpoint and Messages API.

    Settings: ``expires_in`` (seconds, default 28800), ``email`` (default ``user@example.com``),
    ``omit_refresh_token`` (refresh answers carry no refresh token; the old one stays valid),
    ``api_keys`` (keys the Messages API accepts in ``x-api-key``, without a bearer token).
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.api_keys: set[str] = set()
        self.expires_in: Any = 28800
        self.email = "user@example.com"
        self.omit_refresh_token = False
        self._codes: dict[str, _AuthCode] = {}
        self._by_refresh: dict[str, _AnthropicSession] = {}
        self._by_access: dict[str, _AnthropicSession] = {}
        self._deny: tuple[str, str] | None = None

    # ---- helpers for tests

    def authorize(self, url: str) -> tuple[str, str]:
        """Play the browser without HTTP: validate ``url`` and issue a code; ``(code, state)``.

        Raises ValueError with the same message the HTTP endpoint would answer with.
        """
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        self._check_authorize(query)
        return self._issue_code(query), query["state"]

    def redirect_for(self, url: str) -> str:
        """The ``Location`` the authorize endpoint answers ``url`` with (honours a pending deny)."""
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        self._check_authorize(query)
        with self._lock:
            deny, self._deny = self._deny, None
        if deny is not None:
            error, description = deny
            params = {"error": error, "error_description": description, "state": query["state"]}
        else:
            params = {"code": self._issue_code(query), "state": query["state"]}
        redirect_uri = query["redirect_uri"]
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(params)}"

    def deny_next_authorize(
        self, description: str = "The user denied access", error: str = "access_denied"
    ) -> None:
        """Make the next HTTP authorize redirect back with ``error=…`` instead of a code."""
        with self._lock:
            self._deny = (error, description)

    def seed_login(self, email: str | None = None) -> dict[str, str]:
        """Create a live token pair directly; returns ``{"access": …, "refresh": …}``."""
        with self._lock:
            session = self._new_session(email or self.email, "user:inference user:profile")
            return {"access": session.access, "refresh": session.refresh}

    def revoke_all(self) -> None:
        """Invalidate every access and refresh token."""
        with self._lock:
            self._by_refresh.clear()
            self._by_access.clear()

    def expire_access_tokens(self) -> None:
        """Make every current access token expired (refresh tokens stay valid)."""
        with self._lock:
            for session in self._by_access.values():
                session.access_expires = 0.0

    def is_access_valid(self, token: str) -> bool:
        """True if ``token`` is a live, unexpired access token."""
        with self._lock:
            session = self._by_access.get(token)
            return session is not None and session.access_expires > time.monotonic()

    def is_refresh_valid(self, token: str) -> bool:
        """True if ``token`` is the current refresh token of some login."""
        with self._lock:
            return token in self._by_refresh

    # ---- internals

    def _check_authorize(self, query: dict[str, str]) -> None:
        checks = (
            (query.get("client_id") == ANTHROPIC_CLIENT_ID, "unknown or missing client_id"),
            (query.get("response_type") == "code", "response_type must be 'code'"),
            (query.get("code") == "true", "code=true is required"),
            (query.get("code_challenge_method") == "S256", "code_challenge_method must be S256"),
            (bool(_CHALLENGE_RE.match(query.get("code_challenge", ""))), "bad code_challenge"),
            (bool(query.get("state")), "state is required"),
            (bool(_REDIRECT_URI_RE.match(query.get("redirect_uri", ""))), "bad redirect_uri"),
            ("user:inference" in query.get("scope", "").split(), "scope lacks user:inference"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Invalid authorization request: {message}")

    def _issue_code(self, query: dict[str, str]) -> str:
        code = secrets.token_urlsafe(32)
        grant = _AuthCode(
            redirect_uri=query["redirect_uri"],
            challenge=query["code_challenge"],
            state=query["state"],
            scope=query["scope"],
        )
        with self._lock:
            self._codes[code] = grant
        return code

    def _new_session(self, email: str, scope: str) -> _AnthropicSession:
        session = _AnthropicSession(
            email=email,
            scope=scope,
            access=random_token("sk-ant-oat01-", 64),
            refresh=random_token("sk-ant-ort01-", 64),
            access_expires=time.monotonic() + as_seconds(self.expires_in, 28800),
        )
        self._by_access[session.access] = session
        self._by_refresh[session.refresh] = session
        return session

    def _token_payload(self, session: _AnthropicSession, with_refresh: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": session.access,
            "expires_in": self.expires_in,
            "scope": session.scope,
            "account": {
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"account:{session.email}")),
                "email_address": session.email,
            },
            "organization": {
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "org:example")),
                "name": "Example Org",
            },
        }
        if with_refresh:
            payload["refresh_token"] = session.refresh
        return payload

    # ---- HTTP handlers

    def handle_authorize(self, request: RecordedRequest) -> Reply:
        """``GET /oauth/authorize``: 302 back to the redirect_uri, or 400 with a sentence."""
        target = "/oauth/authorize?" + urlencode(request.query)
        try:
            location = self.redirect_for(target)
        except ValueError as error:
            return text_reply(400, str(error))
        return Reply(302, headers={"Location": location})

    def handle_token(self, request: RecordedRequest) -> Reply:
        """``POST /v1/oauth/token`` for both grant types."""
        data = request.data
        if not isinstance(data, dict):
            return _oauth_error("invalid_request", "the body must be a JSON object")
        grant_type = data.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(data)
        if grant_type == "refresh_token":
            return self._refresh(data)
        return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} not supported")

    def _exchange(self, data: dict[str, Any]) -> Reply:
        code = field_of(data, "code")
        with self._lock:
            grant = self._codes.get(code or "")
            fresh = grant is not None and not grant.used
            if grant is not None:
                grant.used = True
            if data.get("client_id") != ANTHROPIC_CLIENT_ID:
                return _oauth_error("invalid_client", "unknown client_id")
            if not code:
                return _oauth_error("invalid_request", "code is required")
            if grant is None or not fresh:
                return _oauth_error("invalid_grant", "Invalid or already used authorization code")
            problem = _exchange_problem(grant, data)
            if problem is not None:
                return _oauth_error(*problem)
            session = self._new_session(self.email, grant.scope)
            return json_reply(200, self._token_payload(session, with_refresh=True))

    def _refresh(self, data: dict[str, Any]) -> Reply:
        if data.get("client_id") != ANTHROPIC_CLIENT_ID:
            return _oauth_error("invalid_client", "unknown client_id")
        token = field_of(data, "refresh_token")
        if not token:
            return _oauth_error("invalid_request", "refresh_token is required")
        with self._lock:
            session = self._by_refresh.get(token)
            if session is None:
                return _oauth_error("invalid_grant", "Refresh token is invalid or already used")
            self._by_access.pop(session.access, None)
            session.access = random_token("sk-ant-oat01-", 64)
            session.access_expires = time.monotonic() + as_seconds(self.expires_in, 28800)
            self._by_access[session.access] = session
            rotate = not self.omit_refresh_token
            if rotate:
                del self._by_refresh[token]
                session.refresh = random_token("sk-ant-ort01-", 64)
                self._by_refresh[session.refresh] = session
            return json_reply(200, self._token_payload(session, with_refresh=rotate))

    def handle_messages(self, request: RecordedRequest) -> Reply:
        """``POST /v1/messages``: checks the OAuth headers and the Claude Code system prompt."""
        headers = request.headers
        if "x-api-key" in headers:
            # An API key: alone, in x-api-key, never with a bearer token (the real API refuses both).
            if "authorization" in headers:
                return _anthropic_error(
                    400, "invalid_request_error", "send x-api-key or a bearer token, not both"
                )
            if headers["x-api-key"] not in self.api_keys:
                return _anthropic_error(401, "authentication_error", "invalid x-api-key")
            if headers.get("anthropic-version") != ANTHROPIC_VERSION:
                return _anthropic_error(
                    400, "invalid_request_error", f"anthropic-version must be {ANTHROPIC_VERSION}"
                )
            return json_reply(
                200, {"type": "message", "model": field_of(request.data, "model") or "claude-unknown"}
            )
        token = bearer(headers)
        if token is None or not self.is_access_valid(token):
            return _anthropic_error(401, "authentication_error", "invalid bearer token")
        problem = _messages_problem(headers, request.data)
        if problem is not None:
            return _anthropic_error(400, "invalid_request_error", problem)
        model = field_of(request.data, "model") or "claude-unknown"
        return json_reply(
            200,
            {
                "id": random_token("msg_", 24),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "Hi"}],
                "stop_reason": "max_tokens",
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
        )


def _exchange_problem(grant: _AuthCode, data: dict[str, Any]) -> tuple[str, str] | None:
    """What is wrong with an authorization_code exchange for a fresh ``grant``, if anything."""
    verifier = field_of(data, "code_verifier")
    state = field_of(data, "state")
    if not verifier:
        return "invalid_request", "code_verifier is required"
    if not state:
        return "invalid_request", "state is required"
    if state == verifier:
        return "invalid_request", "state must not be the code_verifier"
    if data.get("redirect_uri") != grant.redirect_uri:
        return "invalid_grant", "redirect_uri does not match the authorization request"
    if state != grant.state:
        return "invalid_grant", "state does not match the authorization request"
    if not secrets.compare_digest(pkce_challenge(verifier), grant.challenge):
        return "invalid_grant", "code_verifier does not match the code_challenge"
    return None


def _messages_problem(headers: dict[str, str], data: Any) -> str | None:
    """What is wrong with a Messages API call's headers or body, if anything."""
    if headers.get("anthropic-version") != ANTHROPIC_VERSION:
        return f"anthropic-version must be {ANTHROPIC_VERSION}"
    betas = {beta.strip() for beta in headers.get("anthropic-beta", "").split(",")}
    missing = [beta for beta in ANTHROPIC_BETAS if beta not in betas]
    if missing:
        return f"anthropic-beta must include {', '.join(missing)}"
    if not isinstance(data, dict):
        return "the body must be a JSON object"
    system = data.get("system")
    first = system[0] if isinstance(system, list) and system else None
    if not isinstance(first, dict) or first.get("text") != CLAUDE_CODE_SYSTEM:
        return "This credential is only authorized for use with Claude Code"
    return None


def _oauth_error(error: str, description: str) -> Reply:
    return json_reply(400, {"error": error, "error_description": description})


def _anthropic_error(status: int, kind: str, message: str) -> Reply:
    return json_reply(status, {"type": "error", "error": {"type": kind, "message": message}})


# --------------------------------------------------------------------------- GitHub


@dataclass
class _DeviceGrant:
    device_code: str
    user_code: str
    expires_at: float
    interval: float
    gap: float
    last_poll: float
    status: str = "pending"
    login: str = "octocat"


class GitHubFake:
    """GitHub's device flow (``/github``) and ``/user`` (``/github-api``).

    Settings: ``next_user_code`` (used once by the next device code), ``verification_uri``,
    ``expires_in`` (seconds, may be fractional), ``interval`` (advertised), ``min_poll_gap``
    (``None`` = the advertised interval), ``slow_down_gap_scale`` (each slow_down grows the
    required gap by ``5 * scale`` seconds), ``disable_device_flow``.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.next_user_code: str | None = None
        self.verification_uri = "https://github.com/login/device"
        self.expires_in: float = 900
        self.interval: float = 5
        self.min_poll_gap: float | None = None
        self.slow_down_gap_scale = 1.0
        self.disable_device_flow = False
        self._grants: dict[str, _DeviceGrant] = {}
        self._tokens: dict[str, str] = {}
        self._forced_slow_downs = 0

    # ---- helpers for tests

    def approve(self, user_code: str | None = None, login: str = "octocat") -> str:
        """Approve the latest pending device code (or the one with ``user_code``); returns it."""
        return self._decide(user_code, "approved", login)

    def deny(self, user_code: str | None = None) -> str:
        """Deny the latest pending device code (or the one with ``user_code``); returns it."""
        return self._decide(user_code, "denied", "")

    def force_slow_down(self, n: int = 1) -> None:
        """Answer the next ``n`` polls with ``slow_down`` whatever their timing."""
        with self._lock:
            self._forced_slow_downs += n

    def seed_login(self, login: str = "octocat") -> str:
        """Create a valid GitHub token for ``login`` directly and return it."""
        with self._lock:
            token = random_token("ghu_", 36)
            self._tokens[token] = login
            return token

    def revoke_all(self) -> None:
        """Invalidate every GitHub token."""
        with self._lock:
            self._tokens.clear()

    def login_for(self, token: str | None) -> str | None:
        """The login a GitHub token belongs to, or ``None`` if it is not valid."""
        with self._lock:
            return self._tokens.get(token or "")

    @property
    def latest_user_code(self) -> str | None:
        """The user code of the most recently issued device code."""
        with self._lock:
            grants = list(self._grants.values())
            return grants[-1].user_code if grants else None

    # ---- internals

    def _decide(self, user_code: str | None, status: str, login: str) -> str:
        with self._lock:
            for grant in reversed(self._grants.values()):
                wanted = grant.user_code == user_code if user_code else grant.status == "pending"
                if wanted:
                    grant.status = status
                    grant.login = login or grant.login
                    return grant.user_code
        raise LookupError(f"no pending device code {user_code or ''}".strip())

    def _new_user_code(self) -> str:
        code, self.next_user_code = self.next_user_code, None
        if code:
            return code
        letters = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(4))
        return f"{letters}-{secrets.randbelow(10000):04d}"

    # ---- HTTP handlers

    def handle_device_code(self, request: RecordedRequest) -> Reply:
        """``POST /github/login/device/code``."""
        data = request.data
        if field_of(data, "client_id") != GITHUB_CLIENT_ID:
            return _github_error(request, "incorrect_client_credentials", "unknown client_id")
        if self.disable_device_flow:
            return _github_error(request, "device_flow_disabled", "Device flow is disabled")
        if "read:user" not in (field_of(data, "scope") or "").replace(",", " ").split():
            return _github_error(request, "invalid_scope", "scope must include read:user")
        now = time.monotonic()
        with self._lock:
            interval = self.interval
            grant = _DeviceGrant(
                device_code=secrets.token_hex(20),
                user_code=self._new_user_code(),
                expires_at=now + as_seconds(self.expires_in, 900),
                interval=as_seconds(interval, 5),
                gap=as_seconds(self.min_poll_gap if self.min_poll_gap is not None else interval, 5),
                last_poll=now,
            )
            self._grants[grant.device_code] = grant
            payload = {
                "device_code": grant.device_code,
                "user_code": grant.user_code,
                "verification_uri": self.verification_uri,
                "expires_in": self.expires_in,
                "interval": interval,
            }
        return _github_answer(request, payload)

    def handle_poll(self, request: RecordedRequest) -> Reply:
        """``POST /github/login/oauth/access_token``: always HTTP 200, errors in the body."""
        data = request.data
        if field_of(data, "client_id") != GITHUB_CLIENT_ID:
            return _github_error(request, "incorrect_client_credentials", "unknown client_id")
        if self.disable_device_flow:
            return _github_error(request, "device_flow_disabled", "Device flow is disabled")
        if field_of(data, "grant_type") != DEVICE_GRANT_TYPE:
            return _github_error(request, "unsupported_grant_type", "grant_type is not supported")
        with self._lock:
            grant = self._grants.get(field_of(data, "device_code") or "")
            outcome = self._poll_outcome(grant, time.monotonic())
            if isinstance(outcome, dict):
                return _github_answer(request, outcome)
            error, description = outcome
            extra = {"interval": grant.interval} if grant and error == "slow_down" else {}
        return _github_error(request, error, description, extra)

    def _poll_outcome(self, grant: _DeviceGrant | None, now: float) -> dict[str, Any] | tuple[str, str]:
        """Either a token payload or ``(error, description)``; call with the lock held."""
        if grant is None or grant.status == "consumed":
            return "incorrect_device_code", "The device_code provided is not valid."
        if now >= grant.expires_at:
            return "expired_token", "The device_code has expired."
        too_soon = now - grant.last_poll < grant.gap
        grant.last_poll = now
        if self._forced_slow_downs > 0 or too_soon:
            self._forced_slow_downs = max(0, self._forced_slow_downs - 1)
            grant.interval += 5
            grant.gap += 5 * self.slow_down_gap_scale
            return "slow_down", "Too many requests have been made in the same timeframe."
        if grant.status == "denied":
            return "access_denied", "The authorization request was denied."
        if grant.status == "pending":
            return "authorization_pending", "The authorization request is still pending."
        grant.status = "consumed"
        token = random_token("ghu_", 36)
        self._tokens[token] = grant.login
        return {"access_token": token, "token_type": "bearer", "scope": "read:user"}

    def handle_user(self, request: RecordedRequest) -> Reply:
        """``GET /github-api/user``."""
        login = self.login_for(bearer(request.headers, ("bearer", "token")))
        if login is None:
            return _bad_credentials()
        return json_reply(200, {"login": login, "id": 1, "name": "The Octocat"})


def _wants_json(request: RecordedRequest) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _github_answer(request: RecordedRequest, payload: dict[str, Any]) -> Reply:
    return json_reply(200, payload) if _wants_json(request) else form_reply(200, payload)


def _github_error(
    request: RecordedRequest, error: str, description: str, extra: dict[str, Any] | None = None
) -> Reply:
    payload = {"error": error, "error_description": description, "error_uri": GITHUB_ERROR_URI}
    return _github_answer(request, payload | (extra or {}))


def _bad_credentials() -> Reply:
    return json_reply(
        401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
    )


# --------------------------------------------------------------------------- Copilot


def default_models() -> list[dict[str, Any]]:
    """The models ``GET /copilot/models`` lists unless a test sets ``fake.copilot.models``."""
    return [
        {"id": "gpt-4.1", "name": "GPT-4.1", "vendor": "Azure OpenAI"},
        {"id": "claude-sonnet-4.5", "name": "Claude Sonnet 4.5", "vendor": "Anthropic"},
        {"id": "gpt-5-mini", "name": "GPT-5 mini", "vendor": "Azure OpenAI"},
        {"id": "gemini-2.5-pro", "name": "Gemini 2.5 Pro", "vendor": "Google"},
    ]


class CopilotFake:
    """The Copilot token exchange (under ``/github-api``) and the Copilot API (``/copilot``).

    Settings: ``mode`` (``"ok"``, ``"no_access"`` → 403, ``"not_found"`` → 404),
    ``token_lifetime`` (seconds, default 1800), ``proxy_ep`` (``None`` leaves it out of the
    token), ``models``. Observations: ``enabled_policies`` (model ids, in order, one per
    enabling call), ``chat_headers`` (one dict of the intent/initiator/vision headers per chat).
    """

    def __init__(self, lock: threading.RLock, github: GitHubFake) -> None:
        self._lock = lock
        self._github = github
        self.mode = "ok"
        self.token_lifetime: float = 1800
        self.proxy_ep: str | None = "proxy.individual.githubcopilot.com"
        self.models: list[dict[str, Any]] = default_models()
        self.enabled_policies: list[str] = []
        self.chat_headers: list[dict[str, str | None]] = []
        self._tokens: dict[str, float] = {}

    # ---- helpers for tests

    def seed_token(self) -> str:
        """Issue a valid Copilot token directly and return it."""
        return self._issue()["token"]

    def expire_tokens(self) -> None:
        """Make every Copilot token issued so far expired."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def is_token_valid(self, token: str | None) -> bool:
        """True if ``token`` is an unexpired Copilot token."""
        with self._lock:
            return self._tokens.get(token or "", 0.0) > time.time()

    # ---- internals

    def _issue(self) -> dict[str, Any]:
        lifetime = as_seconds(self.token_lifetime, 1800)
        expires = time.time() + lifetime
        fields = [
            f"tid={secrets.token_hex(16)}",
            f"exp={int(expires)}",
            "sku=copilot_individual",
            "st=dotcom",
            "chat=1",
        ]
        if self.proxy_ep:
            fields.append(f"proxy-ep={self.proxy_ep}")
        fields.append(f"8kp=1:{secrets.token_hex(32)}")
        token = ";".join(fields)
        with self._lock:
            self._tokens[token] = expires
        api_host = (self.proxy_ep or "proxy.individual.githubcopilot.com").removeprefix("proxy.")
        return {
            "token": token,
            "expires_at": int(expires),
            "refresh_in": max(0, int(lifetime) - 300),
            "endpoints": {"api": f"https://api.{api_host}"},
            "sku": "copilot_individual",
            "chat_enabled": True,
        }

    def _copilot_problem(self, request: RecordedRequest) -> Reply | None:
        """401 for a bad/expired Copilot token, 400 naming a missing/wrong editor header."""
        if not self.is_token_valid(bearer(request.headers)):
            return json_reply(401, {"error": {"message": "unauthorized: token expired"}})
        for name, expected in COPILOT_HEADERS.items():
            if request.headers.get(name.lower()) != expected:
                message = f"missing or wrong header {name}: expected {expected}"
                return json_reply(400, {"error": {"message": message}})
        return None

    # ---- HTTP handlers

    def handle_token(self, request: RecordedRequest) -> Reply:
        """``GET /github-api/copilot_internal/v2/token``."""
        if self._github.login_for(bearer(request.headers, ("bearer", "token"))) is None:
            return _bad_credentials()
        if self.mode == "no_access":
            message = "You do not have access to GitHub Copilot."
            return json_reply(403, {"message": message, "error_details": {"title": message}})
        if self.mode == "not_found":
            return json_reply(404, {"message": "Not Found"})
        return json_reply(200, self._issue())

    def handle_models(self, request: RecordedRequest) -> Reply:
        """``GET /copilot/models``."""
        problem = self._copilot_problem(request)
        if problem is not None:
            return problem
        if request.headers.get("x-github-api-version") != COPILOT_API_VERSION:
            message = f"missing or wrong header X-GitHub-Api-Version: expected {COPILOT_API_VERSION}"
            return json_reply(400, {"error": {"message": message}})
        with self._lock:
            enabled = set(self.enabled_policies)
            data = [
                model | {"policy": {"state": "enabled" if model["id"] in enabled else "unconfigured"}}
                for model in self.models
            ]
        return json_reply(200, {"object": "list", "data": data})

    def handle_policy(self, request: RecordedRequest) -> Reply:
        """``POST /copilot/models/{id}/policy`` with ``{"state": "enabled"}``."""
        problem = self._copilot_problem(request)
        if problem is not None:
            return problem
        match = re.match(_POLICY_PATH, request.path)
        model_id = match.group("model") if match else ""
        with self._lock:
            if model_id not in {model.get("id") for model in self.models}:
                return json_reply(404, {"error": {"message": f"model {model_id} not found"}})
            if field_of(request.data, "state") != "enabled":
                return json_reply(400, {"error": {"message": 'body must be {"state":"enabled"}'}})
            self.enabled_policies.append(model_id)
        return json_reply(200, {})

    def handle_chat(self, request: RecordedRequest) -> Reply:
        """``POST /copilot/chat/completions``: a minimal completion; records the chat headers."""
        problem = self._copilot_problem(request)
        if problem is not None:
            return problem
        with self._lock:
            self.chat_headers.append({name: request.headers.get(name) for name in COPILOT_CHAT_HEADERS})
        if not isinstance(request.data, dict) or not isinstance(request.data.get("messages"), list):
            return json_reply(400, {"error": {"message": "messages must be a list"}})
        return json_reply(
            200,
            {
                "id": random_token("chatcmpl-", 24),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": field_of(request.data, "model") or "gpt-4.1",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hi"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            },
        )


# --------------------------------------------------------------------------- HTTP server

Handler = Callable[[RecordedRequest], Reply]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads one request, lets :class:`FakeProviders` decide, writes the answer or misbehaves."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

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


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that tracks its connections so ``stop`` can cut them."""

    daemon_threads = True

    def __init__(self, fake: FakeProviders, port: int) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self.track_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _RequestHandler)

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
        """Stay quiet about client disconnects and resets."""

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


class FakeProviders:
    """Both fake providers on one loopback port.

    Use as a context manager or call :meth:`start` / :meth:`stop`. Per-provider state and
    helpers live on :attr:`anthropic`, :attr:`github` and :attr:`copilot`; faults and latency
    are set by endpoint name (see :data:`ENDPOINTS`).
    """

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.RLock()
        self._port = port
        self.anthropic = AnthropicFake(self._lock)
        self.github = GitHubFake(self._lock)
        self.copilot = CopilotFake(self._lock, self.github)
        self.latency = 0.0
        self.drip_interval = 0.5
        self.drip_cap = 60.0
        self.hang_cap = 600.0
        self.stopping = threading.Event()
        self._latencies: dict[str, float] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self._routes = self._build_routes()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None

    # ---- lifecycle

    def start(self) -> FakeProviders:
        """Bind 127.0.0.1 and serve in a daemon thread; returns ``self``."""
        if self._server is not None or self.stopping.is_set():
            raise RuntimeError("FakeProviders can be started once")
        self._server = _Server(self, self._port)
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._server.serve_until, args=(self._wake[0],), daemon=True, name="fake-http"
        )
        self._thread.start()
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
        server.server_close()
        with server.track_lock:
            connections, threads = list(server.connections), list(server.handler_threads)
        for connection in connections:
            _cut(connection)
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
        """The ``PI_TUI_*`` overrides that point the app at this fake."""
        base = self.base
        return {
            "PI_TUI_ANTHROPIC_AUTHORIZE_URL": f"{base}/oauth/authorize",
            "PI_TUI_ANTHROPIC_TOKEN_URL": f"{base}/v1/oauth/token",
            "PI_TUI_ANTHROPIC_API_URL": base,
            "PI_TUI_GITHUB_URL": f"{base}/github",
            "PI_TUI_GITHUB_API_URL": f"{base}/github-api",
            "PI_TUI_COPILOT_API_URL": f"{base}/copilot",
            "PI_TUI_CALLBACK_PORT": "0",
        }

    # ---- observation

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

    def _build_routes(self) -> list[_Route]:
        anthropic, github, copilot = self.anthropic, self.github, self.copilot
        table: list[tuple[str, str, str, Handler]] = [
            ("GET", "/oauth/authorize", "anthropic.authorize", anthropic.handle_authorize),
            ("POST", "/v1/oauth/token", "anthropic.token", anthropic.handle_token),
            ("POST", "/v1/messages", "anthropic.messages", anthropic.handle_messages),
            ("POST", "/github/login/device/code", "github.device_code", github.handle_device_code),
            ("POST", "/github/login/oauth/access_token", "github.poll", github.handle_poll),
            ("GET", "/github-api/copilot_internal/v2/token", "github.copilot_token", copilot.handle_token),
            ("GET", "/github-api/user", "github.user", github.handle_user),
            ("GET", "/copilot/models", "copilot.models", copilot.handle_models),
            ("POST", _POLICY_PATH, "copilot.policy", copilot.handle_policy),
            ("POST", "/copilot/chat/completions", "copilot.chat", copilot.handle_chat),
        ]
        return [
            _Route(method, re.compile(f"^{path}/?$"), name, handler) for method, path, name, handler in table
        ]

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
            request.name = _endpoint_name(route.name, data)
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

    def _match(self, method: str, path: str) -> tuple[_Route | None, bool]:
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
        targets = {"anthropic": self.anthropic, "github": self.github, "copilot": self.copilot}
        for key, value in settings.items():
            provider, _, attribute = key.partition(".")
            target = targets.get(provider)
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
        return {
            "approve": lambda a: {
                "user_code": github.approve(a.get("user_code"), a.get("login") or "octocat")
            },
            "deny": lambda a: {"user_code": github.deny(a.get("user_code"))},
            "force_slow_down": lambda a: github.force_slow_down(int(a.get("n", 1))),
            "seed_anthropic": lambda a: anthropic.seed_login(a.get("email")),
            "seed_github": lambda a: {"github_token": github.seed_login(a.get("login") or "octocat")},
            "seed_copilot": lambda a: {"token": copilot.seed_token()},
            "expire_anthropic": lambda a: anthropic.expire_access_tokens(),
            "revoke_anthropic": lambda a: anthropic.revoke_all(),
            "deny_next_authorize": lambda a: anthropic.deny_next_authorize(),
            "expire_copilot": lambda a: copilot.expire_tokens(),
            "latency": self._control_latency,
            "fail": lambda a: self.fail(**a),
            "configure": self.configure,
            "counts": lambda a: self.counts(),
            "requests": lambda a: [_describe(request) for request in self.requests],
            "clear": lambda a: self.clear_requests(),
        }

    def _control_latency(self, args: dict[str, Any]) -> None:
        seconds = as_seconds(args.get("seconds"), 0.0)
        if args.get("name"):
            self.set_latency(str(args["name"]), seconds)
        else:
            self.latency = seconds


def _endpoint_name(route_name: str, data: Any) -> str:
    """The token endpoint counts as ``anthropic.refresh`` or ``anthropic.exchange``."""
    if route_name != "anthropic.token":
        return route_name
    is_refresh = field_of(data, "grant_type") == "refresh_token"
    return "anthropic.refresh" if is_refresh else "anthropic.exchange"


def _check_name(name: str) -> None:
    if name not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {name!r}; use one of {', '.join(ENDPOINTS)}")


def _describe(request: RecordedRequest) -> dict[str, Any]:
    return {
        "name": request.name,
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": request.headers,
        "body": request.body.decode("utf-8", "replace"),
        "time": request.time,
    }


def _cut(connection: socket.socket) -> None:
    """Shut a connection down so a thread blocked reading or writing it returns."""
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        return
