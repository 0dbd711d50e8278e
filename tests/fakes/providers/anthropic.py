"""Anthropic (Claude Pro/Max): authorization code + PKCE, JSON token endpoint, Messages API.

Served at the root of the fake (``/oauth/authorize``, ``/v1/oauth/token``, ``/v1/messages``),
as the override variables name whole URLs. Quirks: ``code=true`` on the authorize page, the
exchange repeats the state (which must not be the verifier), the Messages API insists on the
OAuth betas and the Claude Code system block. Settings beyond the generic ones: ``email`` (the
account of new logins), ``api_keys`` (keys the Messages API accepts in ``x-api-key``, without a
bearer token), ``usage_body`` (what ``GET /api/oauth/usage`` answers; ``None`` = a realistic
answer: 5 h at 61 %, 7 d at 22 %, extra usage on), ``ratelimit_headers`` (the
``anthropic-ratelimit-unified-*`` headers of every Messages answer to a login; ``None`` = a
realistic set: 5 h at 0.64, 7 d at 0.23, as fractions the way the real API sends them).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from tests.fakes.oauth import ProviderFake, Session
from tests.fakes.spec import JSON, AuthCodeSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, bearer, field_of, json_reply, random_token

CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
CLAUDE_CODE_SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."
ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_BETAS = ("claude-code-20250219", "oauth-2025-04-20")
_REDIRECTS = (
    r"http://(localhost|127\.0\.0\.1|\[::1\]):\d{1,5}/callback"
    r"|https://(console\.anthropic\.com|platform\.claude\.com)/oauth/code/callback"
)


def _account_fields(fake: ProviderFake, session: Session) -> dict[str, Any]:
    """Anthropic names the account and organisation in every token answer."""
    return {
        "account": {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"account:{session.account}")),
            "email_address": session.account,
        },
        "organization": {"uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "org:example")), "name": "Example Org"},
    }


class AnthropicFake(ProviderFake):
    """Anthropic's quirks: the Messages API test call; ``email`` is the generic ``account``."""

    def __init__(self, config: ProviderConfig, lock: threading.RLock, peers: dict[str, ProviderFake]) -> None:
        super().__init__(config, lock, peers)
        self.api_keys: set[str] = set()
        self.usage_body: Any = None
        self.ratelimit_headers: dict[str, str] | None = None

    @property
    def email(self) -> str:
        """The account (an email address) of new logins."""
        return self.account

    @email.setter
    def email(self, value: str) -> None:
        self.account = value

    def seed_login(self, email: str | None = None) -> dict[str, str]:
        """Create a live token pair directly; returns ``{"access": …, "refresh": …}``."""
        return super().seed_login(email)

    def handle_messages(self, request: RecordedRequest) -> Reply:
        """``POST /v1/messages``: checks the OAuth headers and the Claude Code system prompt."""
        headers = request.headers
        if "x-api-key" in headers:
            # An API key: alone, in x-api-key, never with a bearer token (the real API refuses both).
            if "authorization" in headers:
                return _error(400, "invalid_request_error", "send x-api-key or a bearer token, not both")
            if headers["x-api-key"] not in self.api_keys:
                return _error(401, "authentication_error", "invalid x-api-key")
            if headers.get("anthropic-version") != ANTHROPIC_VERSION:
                return _error(400, "invalid_request_error", f"anthropic-version must be {ANTHROPIC_VERSION}")
            return json_reply(
                200, {"type": "message", "model": field_of(request.data, "model") or "claude-unknown"}
            )
        if not self.is_access_valid(bearer(headers)):
            return _error(401, "authentication_error", "invalid bearer token")
        problem = _messages_problem(headers, request.data)
        if problem is not None:
            return _error(400, "invalid_request_error", problem)
        unified = (
            self.ratelimit_headers if self.ratelimit_headers is not None else default_ratelimit_headers()
        )
        return json_reply(
            200,
            {
                "id": random_token("msg_", 24),
                "type": "message",
                "role": "assistant",
                "model": field_of(request.data, "model") or "claude-unknown",
                "content": [{"type": "text", "text": "Hi"}],
                "stop_reason": "max_tokens",
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
            unified,
        )

    def handle_usage(self, request: RecordedRequest) -> Reply:
        """``GET /api/oauth/usage``: Bearer and the ``oauth-2025-04-20`` beta, as Claude Code sends them."""
        if not self.is_access_valid(bearer(request.headers)):
            return _error(401, "authentication_error", "invalid bearer token")
        if "oauth-2025-04-20" not in request.headers.get("anthropic-beta", ""):
            return _error(401, "authentication_error", "OAuth authentication is currently not supported.")
        return json_reply(200, self.usage_body if self.usage_body is not None else default_usage())


def iso_in(seconds: float) -> str:
    """An ISO 8601 time ``seconds`` from now, as Anthropic writes it (with microseconds and offset)."""
    when = time.time() + seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1e6):06d}+00:00"


def default_usage() -> dict[str, Any]:
    """A Max plan 61 % into its 5-hour window and 22 % into its week, extra usage on.

    Resets are 30 s past the whole minute, so "resets in 1h 12m" holds while a test runs.
    """
    return {
        "five_hour": {"utilization": 61.0, "resets_at": iso_in(72 * 60 + 30)},
        "seven_day": {"utilization": 22.0, "resets_at": iso_in(3 * 86400 + 4 * 3600 + 30)},
        "seven_day_oauth_apps": None,
        "seven_day_opus": {"utilization": 0.0, "resets_at": None},
        "seven_day_sonnet": None,
        "extra_usage": {
            "is_enabled": True,
            "monthly_limit": 5000,
            "used_credits": 1234,
            "utilization": 24.68,
        },
    }


def default_ratelimit_headers() -> dict[str, str]:
    """The unified rate-limit headers of a Max plan 64 % into its 5-hour window and 23 % into
    its week (a little past :func:`default_usage`, as a later answer would be), overage refused.

    Utilization is a fraction and resets are epoch seconds, 30 s past the whole minute.
    """
    now = int(time.time())
    five_hour, week = now + 70 * 60 + 30, now + 3 * 86400 + 4 * 3600 + 30
    prefix = "anthropic-ratelimit-unified-"
    return {
        f"{prefix}status": "allowed",
        f"{prefix}5h-status": "allowed",
        f"{prefix}5h-reset": str(five_hour),
        f"{prefix}5h-utilization": "0.64",
        f"{prefix}7d-status": "allowed",
        f"{prefix}7d-reset": str(week),
        f"{prefix}7d-utilization": "0.23",
        f"{prefix}representative-claim": "five_hour",
        f"{prefix}fallback-percentage": "0.5",
        f"{prefix}reset": str(five_hour),
        f"{prefix}overage-status": "rejected",
        f"{prefix}overage-disabled-reason": "org_level_disabled",
    }


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


def _error(status: int, kind: str, message: str) -> Reply:
    return json_reply(status, {"type": "error", "error": {"type": kind, "message": message}})


CONFIG = ProviderConfig(
    name="anthropic",
    provider_id="anthropic",
    client_id=CLIENT_ID,
    env=lambda base: {
        "PI_TUI_ANTHROPIC_AUTHORIZE_URL": f"{base}/oauth/authorize",
        "PI_TUI_ANTHROPIC_TOKEN_URL": f"{base}/v1/oauth/token",
        "PI_TUI_ANTHROPIC_API_URL": base,
    },
    tokens=TokenSpec(
        path="/v1/oauth/token",
        body=JSON,
        access_prefix="sk-ant-oat01-",
        refresh_prefix="sk-ant-ort01-",
        length=64,
        expires_in=28800,
        extra=_account_fields,
    ),
    auth_code=AuthCodeSpec(
        authorize_path="/oauth/authorize",
        redirect_uris=_REDIRECTS,
        params={"code": "true", "response_type": "code"},
        scope_includes=("user:inference",),
        state_in_exchange=True,
    ),
    routes=(
        RouteSpec("POST", "/v1/messages", "messages", "handle_messages"),
        RouteSpec("GET", "/api/oauth/usage", "usage", "handle_usage"),
    ),
    fake=AnthropicFake,
    scope="user:inference user:profile",
)
