"""OpenRouter: PKCE without client id or state, exchanged for an API key that never expires.

``PI_TUI_OPENROUTER_URL`` → ``/openrouter`` (``https://openrouter.ai``). The authorize page is
``GET /auth?callback_url=…&code_challenge=…&code_challenge_method=S256``; it redirects to the
callback URL (any loopback port, any path) with ``?code=`` only. The exchange is
``POST /api/v1/auth/keys`` with JSON ``{code, code_verifier, code_challenge_method: "S256"}``
answering ``{"key": "sk-or-v1-…", "user_id": …}``. Test calls with the key as Bearer:
``GET /api/v1/key`` and ``GET /api/v1/models/user``. Set ``omit_token_fields=["key"]`` for an
exchange answer without a key. ``GET /api/v1/credits`` answers the account's credits (set
``credits_forbidden`` for a key that may not read them: 403); ``key_data`` is merged into the key
answer's ``data``.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.oauth import ProviderFake, Session
from tests.fakes.spec import JSON, LOOPBACK_REDIRECT, AuthCodeSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, bearer, json_reply

PREFIX = "/openrouter"


def _key_answer(fake: ProviderFake, session: Session, with_refresh: bool) -> dict[str, Any]:
    return {"key": session.access, "user_id": f"user_{abs(hash(session.account)) % 10**8:08d}"}


class OpenRouterFake(ProviderFake):
    """OpenRouter's key test calls; keys never expire."""

    credits_forbidden = False
    key_data: Any = None

    def _unauthorized(self, request: RecordedRequest) -> Reply | None:
        if self.is_access_valid(bearer(request.headers)):
            return None
        return json_reply(401, {"error": {"message": "No auth credentials found", "code": 401}})

    def handle_key(self, request: RecordedRequest) -> Reply:
        """``GET /api/v1/key``: what the key is allowed."""
        problem = self._unauthorized(request)
        if problem is not None:
            return problem
        data = {"label": "sk-or-v1-…", "limit": None, "usage": 0.0, "is_free_tier": False}
        return json_reply(200, {"data": data | dict(self.key_data or {})})

    def handle_credits(self, request: RecordedRequest) -> Reply:
        """``GET /api/v1/credits``: what the account bought and spent (403 for some keys)."""
        problem = self._unauthorized(request)
        if problem is not None:
            return problem
        if self.credits_forbidden:
            return json_reply(
                403, {"error": {"message": "Only management keys can fetch credits", "code": 403}}
            )
        return json_reply(200, {"data": {"total_credits": 20.0, "total_usage": 7.66}})

    def handle_models(self, request: RecordedRequest) -> Reply:
        """``GET /api/v1/models/user``: the models this key's account may use."""
        problem = self._unauthorized(request)
        if problem is not None:
            return problem
        return json_reply(200, {"data": [{"id": "anthropic/claude-sonnet-4.5"}, {"id": "openai/gpt-5"}]})


CONFIG = ProviderConfig(
    name="openrouter",
    provider_id="openrouter",
    client_id=None,
    env=lambda base: {"PI_TUI_OPENROUTER_URL": f"{base}{PREFIX}"},
    tokens=TokenSpec(
        access_prefix="sk-or-v1-", length=64, expires_in=10**12, refresh=False, answer=_key_answer
    ),
    auth_code=AuthCodeSpec(
        authorize_path=f"{PREFIX}/auth",
        redirect_uris=LOOPBACK_REDIRECT + "/.*",
        redirect_param="callback_url",
        client_id=False,
        state=False,
        redirect_in_exchange=False,
        method_in_exchange=True,
        exchange_path=f"{PREFIX}/api/v1/auth/keys",
        exchange_body=JSON,
    ),
    routes=(
        RouteSpec("GET", f"{PREFIX}/api/v1/key", "key", "handle_key"),
        RouteSpec("GET", f"{PREFIX}/api/v1/models/user", "models", "handle_models"),
        RouteSpec("GET", f"{PREFIX}/api/v1/credits", "credits", "handle_credits"),
    ),
    fake=OpenRouterFake,
)
