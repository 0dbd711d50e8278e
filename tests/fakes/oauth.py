"""The generic OAuth server behind every fake provider, driven by its :class:`ProviderConfig`.

Authorization code + PKCE S256 (client id, redirect_uri equality between authorize and exchange,
single-use codes, state passthrough), the token endpoint (authorization_code, refresh_token and
device_code grants; rotating refresh tokens or not; revocation), and RFC 8628 device
authorization with its polling state machine (authorization_pending, slow_down when polled too
fast, expired_token, access_denied). Provider modules subclass :class:`ProviderFake` for quirks.

Settings (plain attributes a test may set, or ``--set name.attr=…`` / ``/_control/configure``):
``expires_in`` (token lifetime, returned as given), ``rotate``, ``omit_refresh_token`` (refresh
answers carry none; the old one stays valid), ``omit_token_fields`` / ``omit_device_fields``
(answers lack these fields), ``account``; for device flows ``interval`` (advertised, as given),
``device_expires_in``, ``min_poll_gap`` (``None`` = the interval), ``slow_down_gap_scale`` (each
slow_down grows the required gap by ``5 * scale`` s), ``verification_uri``,
``verification_uri_complete`` (``None`` = built from the user code), ``next_user_code``,
``auto_approve`` (approve after that many pending polls), ``disable_device_flow``,
``first_poll_free``. ``base`` is the fake's base URL once started; ``issued`` lists every token
answer given, oldest first.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes.spec import FORM, JSON, ProviderConfig
from tests.fakes.wire import (
    RecordedRequest,
    Reply,
    as_seconds,
    bearer,
    field_of,
    form_reply,
    json_reply,
    pkce_challenge,
    random_token,
    text_reply,
)

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
GITHUB_ERROR_URI = (
    "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow"
)
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass
class AuthCode:
    """An issued authorization code and what the exchange must repeat."""

    redirect_uris: tuple[str, ...]
    challenge: str
    state: str
    scope: str
    account: str
    used: bool = False


@dataclass
class Session:
    """One login: its current access and refresh token."""

    account: str
    scope: str
    access: str
    refresh: str | None
    access_expires: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class DeviceGrant:
    """One device code and where it stands."""

    device_code: str
    user_code: str
    expires_at: float
    interval: float
    gap: float
    last_poll: float
    status: str = "pending"
    account: str = ""
    pending_polls: int = 0


class ProviderFake:
    """One provider's server state and its generic OAuth endpoints."""

    def __init__(self, config: ProviderConfig, lock: threading.RLock, peers: dict[str, ProviderFake]) -> None:
        self.config = config
        self.base = ""
        self._lock = lock
        self._peers = peers
        self.expires_in: Any = config.tokens.expires_in
        self.rotate = config.tokens.rotate
        self.omit_refresh_token = False
        self.omit_token_fields: list[str] = []
        self.omit_device_fields: list[str] = []
        self.account = config.account
        self.issued: list[dict[str, Any]] = []
        self._codes: dict[str, AuthCode] = {}
        self._by_refresh: dict[str, Session] = {}
        self._by_access: dict[str, Session] = {}
        self._deny: tuple[str, str] | None = None
        device = config.device
        self.interval: Any = device.interval if device else 5
        self.device_expires_in: Any = device.expires_in if device else 900
        self.verification_uri = device.verification_uri if device else ""
        self.verification_uri_complete: str | None = None
        self.min_poll_gap: float | None = None
        self.slow_down_gap_scale = 1.0
        self.next_user_code: str | None = None
        self.auto_approve: int | None = None
        self.disable_device_flow = False
        self.first_poll_free = device.first_poll_free if device else False
        self._grants: dict[str, DeviceGrant] = {}
        self._forced_slow_downs = 0

    # ------------------------------------------------------------------ helpers for tests

    def authorize(self, url: str) -> tuple[str, str]:
        """Play the browser without HTTP: validate ``url`` and issue a code; ``(code, state)``.

        Raises ValueError with the same message the HTTP endpoint would answer with.
        """
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        self._check_authorize(query)
        return self._code_for(query), query.get("state", "")

    def redirect_for(self, url: str) -> str:
        """The ``Location`` the authorize endpoint answers ``url`` with (honours a pending deny)."""
        spec = self._auth_spec()
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        self._check_authorize(query)
        with self._lock:
            deny, self._deny = self._deny, None
        if deny is not None:
            params = {"error": deny[0], "error_description": deny[1]}
        else:
            params = {"code": self._code_for(query)}
        if spec.state:
            params["state"] = query["state"]
        redirect_uri = query[spec.redirect_param]
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(params)}"

    def deny_next_authorize(
        self, description: str = "The user denied access", error: str = "access_denied"
    ) -> None:
        """Make the next HTTP authorize redirect back with ``error=…`` instead of a code."""
        with self._lock:
            self._deny = (error, description)

    def seed_login(self, account: str | None = None) -> dict[str, str]:
        """Create a live login directly; returns ``{"access": …, "refresh": …}``."""
        with self._lock:
            session = self.new_session(account or self.account, self.config.scope)
            return {"access": session.access, "refresh": session.refresh or ""}

    def revoke_all(self) -> None:
        """Invalidate every access and refresh token."""
        with self._lock:
            self._by_refresh.clear()
            self._by_access.clear()

    def revoke(self, token: str) -> None:
        """Invalidate the login that ``token`` (access or refresh) belongs to."""
        with self._lock:
            session = self._by_access.get(token) or self._by_refresh.get(token)
            if session is not None:
                self._by_access.pop(session.access, None)
                self._by_refresh.pop(session.refresh or "", None)

    def expire_access_tokens(self) -> None:
        """Make every current access token expired (refresh tokens stay valid)."""
        with self._lock:
            for session in self._by_access.values():
                session.access_expires = 0.0

    def is_access_valid(self, token: str | None) -> bool:
        """True if ``token`` is a live, unexpired access token."""
        return self.session_for(token) is not None

    def is_refresh_valid(self, token: str) -> bool:
        """True if ``token`` is the current refresh token of some login."""
        with self._lock:
            return token in self._by_refresh

    def session_for(self, token: str | None) -> Session | None:
        """The login of a live access token, else ``None``."""
        with self._lock:
            session = self._by_access.get(token or "")
            if session is None or session.access_expires <= time.monotonic():
                return None
            return session

    def approve(self, user_code: str | None = None, login: str | None = None) -> str:
        """Approve the latest pending device code (or the one with ``user_code``); returns it."""
        return self._decide(user_code, "approved", login or self.account)

    def deny(self, user_code: str | None = None) -> str:
        """Deny the latest pending device code (or the one with ``user_code``); returns it."""
        return self._decide(user_code, "denied", "")

    def force_slow_down(self, n: int = 1) -> None:
        """Answer the next ``n`` polls with ``slow_down`` whatever their timing."""
        with self._lock:
            self._forced_slow_downs += n

    def expire_device_codes(self) -> None:
        """Make every device code issued so far expired."""
        with self._lock:
            for grant in self._grants.values():
                grant.expires_at = 0.0

    @property
    def latest_user_code(self) -> str | None:
        """The user code of the most recently issued device code."""
        with self._lock:
            grants = list(self._grants.values())
            return grants[-1].user_code if grants else None

    # ------------------------------------------------------------------ tokens

    def new_access(self, session: Session) -> str:
        """A fresh access token for ``session`` (override for structured tokens such as JWTs)."""
        tokens = self.config.tokens
        return random_token(tokens.access_prefix, tokens.length)

    def new_session(self, account: str, scope: str) -> Session:
        """Start a login (call with the lock held)."""
        tokens = self.config.tokens
        refresh = random_token(tokens.refresh_prefix, tokens.length) if tokens.refresh else None
        session = Session(account, scope, "", refresh, 0.0)
        self._renew_access(session)
        if refresh is not None:
            self._by_refresh[refresh] = session
        return session

    def _renew_access(self, session: Session) -> None:
        self._by_access.pop(session.access, None)
        session.access = self.new_access(session)
        session.access_expires = time.monotonic() + as_seconds(self.expires_in, 3600)
        self._by_access[session.access] = session

    def token_answer(self, session: Session, with_refresh: bool) -> dict[str, Any]:
        """The token endpoint's answer for ``session`` (call with the lock held)."""
        tokens = self.config.tokens
        if tokens.answer is not None:
            payload = tokens.answer(self, session, with_refresh)
        else:
            payload = {
                "token_type": tokens.token_type,
                "access_token": session.access,
                "expires_in": self.expires_in,
                "scope": session.scope,
            }
            if tokens.extra is not None:
                payload |= tokens.extra(self, session)
            if with_refresh and session.refresh is not None:
                payload["refresh_token"] = session.refresh
        for name in self.omit_token_fields:
            payload.pop(name, None)
        self.issued.append(dict(payload))
        return payload

    def issue_code(self, redirect_uris: tuple[str, ...], challenge: str, state: str, scope: str) -> str:
        """Issue a single-use authorization code bound to these values."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = AuthCode(redirect_uris, challenge, state, scope, self.account)
        return code

    # ------------------------------------------------------------------ errors

    def oauth_error(self, error: str, description: str, status: int = 400) -> Reply:
        """An OAuth error answer (RFC 6749 §5.2)."""
        return json_reply(status, {"error": error, "error_description": description})

    def device_error(
        self, request: RecordedRequest, error: str, description: str, extra: dict[str, Any] | None = None
    ) -> Reply:
        """A device-flow error in the provider's style."""
        spec = self.config.device
        if spec is not None and spec.style == "github":
            payload = {"error": error, "error_description": description, "error_uri": GITHUB_ERROR_URI}
            return self.github_answer(request, payload | (extra or {}))
        return json_reply(400, {"error": error, "error_description": description} | (extra or {}))

    def github_answer(self, request: RecordedRequest, payload: dict[str, Any]) -> Reply:
        """JSON if the client asked for it, else form (as GitHub answers)."""
        if "application/json" in request.headers.get("accept", ""):
            return json_reply(200, payload)
        return form_reply(200, payload)

    def body_problem(self, request: RecordedRequest, kind: str) -> str | None:
        """What is wrong with the body's format, if anything."""
        content_type = request.headers.get("content-type", "")
        if kind == JSON:
            ok = "json" in content_type and isinstance(request.data, dict)
            return None if ok else "the body must be a JSON object"
        ok = "application/x-www-form-urlencoded" in content_type
        return None if ok else "the body must be form-encoded (application/x-www-form-urlencoded)"

    # ------------------------------------------------------------------ authorization code

    def _auth_spec(self) -> Any:
        if self.config.auth_code is None:
            raise ValueError(f"{self.config.name} has no authorization-code flow")
        return self.config.auth_code

    def _check_authorize(self, query: dict[str, str]) -> None:
        spec = self._auth_spec()
        scopes = query.get("scope", "").split()
        checks: list[tuple[bool, str]] = []
        if spec.client_id:
            checks.append((query.get("client_id") == self.config.client_id, "unknown or missing client_id"))
        for name, value in spec.params.items():
            if value is None:
                checks.append((bool(query.get(name)), f"{name} is required"))
            else:
                checks.append((query.get(name) == value, f"{name}={value} is required"))
        checks += [
            (query.get("code_challenge_method") == "S256", "code_challenge_method must be S256"),
            (bool(CHALLENGE_RE.match(query.get("code_challenge", ""))), "bad code_challenge"),
        ]
        if spec.state:
            checks.append((bool(query.get("state")), "state is required"))
        redirect = query.get(spec.redirect_param, "")
        checks.append((bool(re.fullmatch(spec.redirect_uris, redirect)), f"bad {spec.redirect_param}"))
        checks += [(scope in scopes, f"scope lacks {scope}") for scope in spec.scope_includes]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Invalid authorization request: {message}")

    def _code_for(self, query: dict[str, str]) -> str:
        spec = self._auth_spec()
        redirect = query[spec.redirect_param]
        return self.issue_code(
            (redirect,), query["code_challenge"], query.get("state", ""), query.get("scope", "")
        )

    def handle_authorize(self, request: RecordedRequest) -> Reply:
        """``GET`` the authorize page: 302 back to the redirect URI, or 400 with a sentence."""
        try:
            location = self.redirect_for("/?" + urlencode(request.query))
        except ValueError as error:
            return text_reply(400, str(error))
        return Reply(302, headers={"Location": location})

    def handle_token(self, request: RecordedRequest) -> Reply:
        """The token endpoint: authorization_code, refresh_token and device_code grants."""
        problem = self.body_problem(request, self.config.tokens.body)
        if problem is not None:
            return self.oauth_error("invalid_request", problem)
        data = request.data
        grant_type = data.get("grant_type")
        if grant_type == "authorization_code" and self.config.auth_code is not None:
            return self.exchange(data)
        if grant_type == "refresh_token" and self.config.tokens.refresh:
            return self.refresh(data)
        if grant_type == DEVICE_GRANT_TYPE and self.config.device is not None:
            return self.handle_poll(request)
        return self.oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} not supported")

    def handle_exchange(self, request: RecordedRequest) -> Reply:
        """A separate exchange endpoint (no grant_type): checks the body, then :meth:`exchange`."""
        spec = self._auth_spec()
        problem = self.body_problem(request, spec.exchange_body or self.config.tokens.body)
        if problem is not None:
            return self.oauth_error("invalid_request", problem)
        return self.exchange(request.data)

    def exchange(self, data: dict[str, Any]) -> Reply:
        """Redeem an authorization code (once, whatever the outcome)."""
        spec = self._auth_spec()
        code = field_of(data, "code")
        with self._lock:
            grant = self._codes.get(code or "")
            fresh = grant is not None and not grant.used
            if grant is not None:
                grant.used = True
            if spec.client_id and data.get("client_id") != self.config.client_id:
                return self.oauth_error("invalid_client", "unknown client_id")
            if not code:
                return self.oauth_error("invalid_request", "code is required")
            if grant is None or not fresh:
                return self.oauth_error("invalid_grant", "Invalid or already used authorization code")
            problem = self._exchange_problem(grant, data)
            if problem is not None:
                return self.oauth_error(*problem)
            session = self.new_session(grant.account, grant.scope)
            return json_reply(200, self.token_answer(session, with_refresh=True))

    def _exchange_problem(self, grant: AuthCode, data: dict[str, Any]) -> tuple[str, str] | None:
        spec = self._auth_spec()
        verifier = field_of(data, "code_verifier")
        state = field_of(data, "state")
        if not verifier:
            return "invalid_request", "code_verifier is required"
        if spec.state_in_exchange:
            if not state:
                return "invalid_request", "state is required"
            if state == verifier:
                return "invalid_request", "state must not be the code_verifier"
        if spec.method_in_exchange and data.get("code_challenge_method") != "S256":
            return "invalid_request", "code_challenge_method must be S256"
        if spec.redirect_in_exchange and data.get("redirect_uri") not in grant.redirect_uris:
            return "invalid_grant", "redirect_uri does not match the authorization request"
        if spec.state_in_exchange and state != grant.state:
            return "invalid_grant", "state does not match the authorization request"
        if not secrets.compare_digest(pkce_challenge(verifier), grant.challenge):
            return "invalid_grant", "code_verifier does not match the code_challenge"
        return None

    def refresh(self, data: dict[str, Any]) -> Reply:
        """The refresh_token grant: a new access token; rotates the refresh token if set to."""
        if self.config.tokens.client_id and data.get("client_id") != self.config.client_id:
            return self.oauth_error("invalid_client", "unknown client_id")
        token = field_of(data, "refresh_token")
        if not token:
            return self.oauth_error("invalid_request", "refresh_token is required")
        with self._lock:
            session = self._by_refresh.get(token)
            if session is None:
                return self.oauth_error("invalid_grant", "Refresh token is invalid or already used")
            self._renew_access(session)
            if self.rotate and not self.omit_refresh_token:
                del self._by_refresh[token]
                session.refresh = random_token(self.config.tokens.refresh_prefix, self.config.tokens.length)
                self._by_refresh[session.refresh] = session
            return json_reply(200, self.token_answer(session, with_refresh=not self.omit_refresh_token))

    # ------------------------------------------------------------------ device flow

    def new_grant(self) -> DeviceGrant:
        """Issue a device code (call with the lock held)."""
        now = time.monotonic()
        gap = self.min_poll_gap if self.min_poll_gap is not None else self.interval
        grant = DeviceGrant(
            device_code=secrets.token_hex(20),
            user_code=self._new_user_code(),
            expires_at=now + as_seconds(self.device_expires_in, 900),
            interval=as_seconds(self.interval, 5),
            gap=as_seconds(gap, 5),
            last_poll=float("-inf") if self.first_poll_free else now,
        )
        self._grants[grant.device_code] = grant
        if self.auto_approve == 0:
            grant.status, grant.account = "approved", self.account
        return grant

    def grant_for(self, device_code: str | None) -> DeviceGrant | None:
        """The device grant of ``device_code`` (call with the lock held)."""
        return self._grants.get(device_code or "")

    def poll_outcome(self, grant: DeviceGrant | None) -> Session | tuple[str, str]:
        """A new login, or ``(error, description)``; call with the lock held."""
        now = time.monotonic()
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
            grant.pending_polls += 1
            if self.auto_approve is None or grant.pending_polls <= self.auto_approve:
                return "authorization_pending", "The authorization request is still pending."
            grant.account = self.account
        grant.status = "consumed"
        return self.new_session(grant.account or self.account, self.config.scope)

    def device_answer(self, grant: DeviceGrant) -> dict[str, Any]:
        """The device authorization answer for ``grant`` (call with the lock held)."""
        spec = self.config.device
        payload: dict[str, Any] = {
            "device_code": grant.device_code,
            "user_code": grant.user_code,
            "verification_uri": self.verification_uri,
            "expires_in": self.device_expires_in,
            "interval": self.interval,
        }
        if spec is not None and spec.complete:
            complete = self.verification_uri_complete
            if complete is None:
                complete = f"{self.verification_uri}?{urlencode({'user_code': grant.user_code})}"
            payload["verification_uri_complete"] = complete
        for name in self.omit_device_fields:
            payload.pop(name, None)
        return payload

    def handle_device_code(self, request: RecordedRequest) -> Reply:
        """``POST`` device authorization."""
        spec = self.config.device
        assert spec is not None
        problem = self.body_problem(request, spec.body)
        if problem is not None:
            return self.device_error(request, "invalid_request", problem)
        data = request.data if isinstance(request.data, dict) else {}
        if field_of(data, "client_id") != self.config.client_id:
            bad_client = "incorrect_client_credentials" if spec.style == "github" else "invalid_client"
            return self.device_error(request, bad_client, "unknown client_id")
        if self.disable_device_flow:
            disabled = "device_flow_disabled" if spec.style == "github" else "unauthorized_client"
            return self.device_error(request, disabled, "Device flow is disabled")
        scopes = (field_of(data, "scope") or "").replace(",", " ").split()
        for scope in spec.scope_includes:
            if scope not in scopes:
                return self.device_error(request, "invalid_scope", f"scope must include {scope}")
        for name, value in spec.params.items():
            if (value is None and not data.get(name)) or (value is not None and data.get(name) != value):
                return self.device_error(request, "invalid_request", f"{name} is missing or wrong")
        with self._lock:
            payload = self.device_answer(self.new_grant())
        if spec.style == "github":
            return self.github_answer(request, payload)
        return json_reply(200, payload)

    def handle_poll(self, request: RecordedRequest) -> Reply:
        """``POST`` the device_code grant: a token answer, or pending/slow_down/expired/denied."""
        spec = self.config.device
        assert spec is not None
        problem = self.body_problem(request, spec.body)
        if problem is not None:
            return self.device_error(request, "invalid_request", problem)
        data = request.data if isinstance(request.data, dict) else {}
        if field_of(data, "client_id") != self.config.client_id:
            bad_client = "incorrect_client_credentials" if spec.style == "github" else "invalid_client"
            return self.device_error(request, bad_client, "unknown client_id")
        if self.disable_device_flow:
            disabled = "device_flow_disabled" if spec.style == "github" else "unauthorized_client"
            return self.device_error(request, disabled, "Device flow is disabled")
        if field_of(data, "grant_type") != DEVICE_GRANT_TYPE:
            return self.device_error(request, "unsupported_grant_type", "grant_type is not supported")
        with self._lock:
            grant = self.grant_for(field_of(data, "device_code"))
            outcome = self.poll_outcome(grant)
            if isinstance(outcome, Session):
                payload = self.token_answer(outcome, with_refresh=True)
                return (
                    self.github_answer(request, payload)
                    if spec.style == "github"
                    else json_reply(200, payload)
                )
            error, description = outcome
            extra = {"interval": grant.interval} if grant and error == "slow_down" else {}
        return self.device_error(request, error, description, extra)

    # ------------------------------------------------------------------ internals

    def _decide(self, user_code: str | None, status: str, account: str) -> str:
        with self._lock:
            for grant in reversed(self._grants.values()):
                wanted = grant.user_code == user_code if user_code else grant.status == "pending"
                if wanted:
                    grant.status = status
                    grant.account = account or grant.account
                    return grant.user_code
        raise LookupError(f"no pending device code {user_code or ''}".strip())

    def _new_user_code(self) -> str:
        code, self.next_user_code = self.next_user_code, None
        if code:
            return code
        letters = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(4))
        return f"{letters}-{secrets.randbelow(10000):04d}"


__all__ = ["FORM", "JSON", "AuthCode", "DeviceGrant", "ProviderFake", "Session", "bearer"]
