"""OpenAI Codex (ChatGPT Plus/Pro): PKCE on auth.openai.com, Codex's own device API, JWT tokens.

``PI_TUI_OPENAI_AUTH_URL`` → ``/openai`` (authorize, token, device API, device page) and
``PI_TUI_OPENAI_CODEX_API_URL`` → ``/codex-api`` (``https://chatgpt.com/backend-api``).

- Authorize needs ``id_token_add_organizations=true``, ``codex_cli_simplified_flow=true``, an
  ``originator`` and the redirect ``http://localhost:1455/auth/callback`` (any loopback port and
  host is accepted, as pi-tui may bind another); the exchange and refresh are **form** bodies.
- Device API: ``POST /api/accounts/deviceauth/usercode`` JSON ``{client_id}`` →
  ``{device_auth_id, user_code, interval: "5"}`` (a numeric string, as OpenAI sends it);
  ``POST /api/accounts/deviceauth/token`` JSON ``{device_auth_id, user_code}`` → 403
  ``deviceauth_authorization_pending`` until approved, then 200 ``{authorization_code,
  code_challenge, code_verifier}`` for an exchange with ``redirect_uri`` =
  ``{auth}/deviceauth/callback`` (the real ``https://auth.openai.com/deviceauth/callback`` or the
  overridden base's). slow_down / expired / denied answer 400 with ``error.code``.
- Access and id tokens are JWTs whose ``https://api.openai.com/auth`` claim carries
  ``chatgpt_account_id``; refresh tokens rotate.
- Test calls: ``GET {api}/codex/models`` and ``GET {api}/wham/usage`` with Bearer and a
  ``chatgpt-account-id`` header equal to the token's claim.

Settings beyond the generic ones: ``account_id`` (the claim; ``None`` leaves it out of the JWT),
``plan_type``, ``device_enabled`` (``False`` → the device API answers 404), ``usage_body`` (what
``/wham/usage`` answers; ``None`` = 12 % of the 5-hour window and 40 % of the week used),
``ratelimit_headers`` (the ``x-codex-*`` headers of every backend answer; ``None`` = 15 % of the
5-hour window and 41 % of the week, a little past the usage answer, as a later one would be).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from typing import Any

from tests.fakes.oauth import ProviderFake, Session
from tests.fakes.spec import FORM, LOOPBACK_REDIRECT, AuthCodeSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, bearer, field_of, json_reply, pkce_challenge

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
AUTH_CLAIM = "https://api.openai.com/auth"
DEVICE_CALLBACK = "https://auth.openai.com/deviceauth/callback"
PREFIX = "/openai"
API = "/codex-api"


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT (header.payload.signature, base64url) carrying ``claims``."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def _id_token(fake: ProviderFake, session: Session) -> dict[str, Any]:
    assert isinstance(fake, CodexFake)
    return {"id_token": jwt({"email": session.account, **fake.auth_claims(session)})}


class CodexFake(ProviderFake):
    """Codex's JWT tokens, device API and backend test calls."""

    def __init__(self, config: ProviderConfig, lock: threading.RLock, peers: dict[str, ProviderFake]) -> None:
        super().__init__(config, lock, peers)
        self.account_id: str | None = "acct_" + secrets.token_hex(8)
        self.plan_type = "plus"
        self.device_enabled = True
        self.usage_body: Any = None
        self.ratelimit_headers: dict[str, str] | None = None
        self.interval = "5"
        self.device_expires_in = 900
        self.first_poll_free = True

    def auth_claims(self, session: Session) -> dict[str, Any]:
        """The ``https://api.openai.com/auth`` claim (left out when ``account_id`` is ``None``)."""
        account_id = session.extra.get("account_id")
        if account_id is None:
            return {}
        return {AUTH_CLAIM: {"chatgpt_account_id": account_id, "chatgpt_plan_type": self.plan_type}}

    def new_access(self, session: Session) -> str:
        """A JWT access token carrying the account claim."""
        session.extra.setdefault("account_id", self.account_id)
        now = int(time.time())
        claims = {
            "iss": "https://auth.openai.com",
            "aud": ["https://api.openai.com/v1"],
            "client_id": CLIENT_ID,
            "sub": f"user-{secrets.token_hex(6)}",
            "iat": now,
            "exp": now + 864000,
            "jti": secrets.token_hex(8),
        }
        return jwt(claims | self.auth_claims(session))

    def account_of(self, token: str | None) -> str | None:
        """The account id in the claim of a live access token."""
        session = self.session_for(token)
        return session.extra.get("account_id") if session else None

    # ---- device API

    def handle_usercode(self, request: RecordedRequest) -> Reply:
        """``POST /api/accounts/deviceauth/usercode`` with JSON ``{client_id}``."""
        if not self.device_enabled:
            return json_reply(404, {"error": {"message": "Not found", "code": "not_found"}})
        problem = self.body_problem(request, "json")
        if problem is not None:
            return _error(400, "invalid_request", problem)
        if field_of(request.data, "client_id") != CLIENT_ID:
            return _error(400, "invalid_client", "unknown client_id")
        with self._lock:
            grant = self.new_grant()
            payload = {
                "device_auth_id": grant.device_code,
                "user_code": grant.user_code,
                "interval": self.interval,
                "expires_at": _iso(time.time() + 900),
            }
        for name in self.omit_device_fields:
            payload.pop(name, None)
        return json_reply(200, payload)

    def handle_device_token(self, request: RecordedRequest) -> Reply:
        """``POST /api/accounts/deviceauth/token`` with JSON ``{device_auth_id, user_code}``."""
        if not self.device_enabled:
            return json_reply(404, {"error": {"message": "Not found", "code": "not_found"}})
        problem = self.body_problem(request, "json")
        if problem is not None:
            return _error(400, "invalid_request", problem)
        with self._lock:
            grant = self.grant_for(field_of(request.data, "device_auth_id"))
            if grant is not None and field_of(request.data, "user_code") != grant.user_code:
                return _error(400, "invalid_request", "user_code does not match the device_auth_id")
            outcome = self.poll_outcome(grant)
            if isinstance(outcome, Session):
                # The device flow ends in an authorization code for a normal exchange.
                self._by_access.pop(outcome.access, None)
                self._by_refresh.pop(outcome.refresh or "", None)
                verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
                challenge = pkce_challenge(verifier)
                redirects = (DEVICE_CALLBACK, f"{self.base}{PREFIX}/deviceauth/callback")
                code = self.issue_code(redirects, challenge, "", "openid profile email offline_access")
                return json_reply(
                    200,
                    {"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier},
                )
        error, description = outcome
        if error == "authorization_pending":
            return _error(403, "deviceauth_authorization_pending", description)
        return _error(400, error, description)

    # ---- backend test calls

    def _api_problem(self, request: RecordedRequest) -> Reply | None:
        token = bearer(request.headers)
        if not self.is_access_valid(token):
            return json_reply(
                401, {"detail": "Could not parse your authentication token. Please try signing in again."}
            )
        account_id = self.account_of(token)
        if account_id is None or request.headers.get("chatgpt-account-id") != account_id:
            return json_reply(403, {"detail": "chatgpt-account-id is missing or does not match the token"})
        return None

    def handle_models(self, request: RecordedRequest) -> Reply:
        """``GET {api}/codex/models``."""
        problem = self._api_problem(request)
        if problem is not None:
            return problem
        models = [
            {"slug": "gpt-5.1-codex", "display_name": "GPT-5.1 Codex"},
            {"slug": "gpt-5.1", "display_name": "GPT-5.1"},
        ]
        headers = (
            self.ratelimit_headers if self.ratelimit_headers is not None else default_ratelimit_headers()
        )
        return json_reply(200, {"models": models}, headers)

    def handle_usage(self, request: RecordedRequest) -> Reply:
        """``GET {api}/wham/usage``: the plan and its rate-limit windows."""
        problem = self._api_problem(request)
        if problem is not None:
            return problem
        if self.usage_body is not None:
            return json_reply(200, self.usage_body)
        now = int(time.time())
        primary = {"used_percent": 12, "limit_window_seconds": 18000, "reset_after_seconds": 3630}
        secondary = {
            "used_percent": 40,
            "limit_window_seconds": 604800,
            "reset_at": now + 2 * 86400 + 5 * 3600 + 30,
        }
        return json_reply(
            200,
            {
                "plan_type": self.plan_type,
                "rate_limit": {
                    "allowed": True,
                    "limit_reached": False,
                    "primary_window": primary | {"reset_at": now + 3630},
                    "secondary_window": secondary,
                },
                "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
            },
        )


def default_ratelimit_headers() -> dict[str, str]:
    """Codex's rate-limit headers: the primary (5 h) window at 15 %, the secondary (week) at 41 %;
    percents 0–100, resets as epoch seconds and seconds from now, windows in minutes."""
    now = int(time.time())
    return {
        "x-codex-primary-used-percent": "15",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-after-seconds": "3630",
        "x-codex-primary-reset-at": str(now + 3630),
        "x-codex-secondary-used-percent": "41",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-after-seconds": str(2 * 86400 + 5 * 3600 + 30),
        "x-codex-secondary-reset-at": str(now + 2 * 86400 + 5 * 3600 + 30),
        "x-codex-primary-over-secondary-limit-percent": "0",
        "x-codex-credits-has-credits": "False",
        "x-codex-credits-unlimited": "False",
    }


def _error(status: int, code: str, message: str) -> Reply:
    return json_reply(status, {"error": {"message": message, "type": "invalid_request_error", "code": code}})


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


CONFIG = ProviderConfig(
    name="codex",
    provider_id="openai-codex",
    client_id=CLIENT_ID,
    env=lambda base: {
        "PI_TUI_OPENAI_AUTH_URL": f"{base}{PREFIX}",
        "PI_TUI_OPENAI_CODEX_API_URL": f"{base}{API}",
    },
    tokens=TokenSpec(
        path=f"{PREFIX}/oauth/token",
        body=FORM,
        length=64,
        refresh_prefix="rt_",
        expires_in=864000,
        extra=_id_token,
    ),
    auth_code=AuthCodeSpec(
        authorize_path=f"{PREFIX}/oauth/authorize",
        redirect_uris=LOOPBACK_REDIRECT + "/auth/callback",
        params={
            "response_type": "code",
            "id_token_add_organizations": "true",
            "codex_cli_simplified_flow": "true",
            "originator": None,
        },
        scope_includes=("openid", "profile", "email", "offline_access"),
    ),
    routes=(
        RouteSpec("POST", f"{PREFIX}/api/accounts/deviceauth/usercode", "device_code", "handle_usercode"),
        RouteSpec("POST", f"{PREFIX}/api/accounts/deviceauth/token", "poll", "handle_device_token"),
        RouteSpec("GET", f"{API}/codex/models", "models", "handle_models"),
        RouteSpec("GET", f"{API}/wham/usage", "usage", "handle_usage"),
    ),
    fake=CodexFake,
    scope="openid profile email offline_access",
)
