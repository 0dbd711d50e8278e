"""Meta (Muse): RFC 8628 device flow on auth.meta.com, then an API-key mint on api.meta.ai.

``PI_TUI_META_AUTH_URL`` → ``/meta-auth`` (``/oidc/device/authorization/``,
``/oidc/device/token/``) and ``PI_TUI_META_API_URL`` → ``/meta-api`` (``https://api.meta.ai``).
The device flow yields an identity token (no refresh token: it cannot be renewed). The mint is
``POST /muse-code/key`` with body ``{}``, ``Authorization: Bearer {identity}``,
``x-api-version: 1.0.0`` and JSON content type; it answers ``{"api_key": …}``. Test call:
``GET /v1/models`` with the key as Bearer.

Settings beyond the generic ones: ``mint_mode`` — ``"ok"``, ``"no_key"`` (an answer without
``api_key`` but with ``action_url``), ``"expired"`` (401), ``"forbidden"`` (403);
``action_url``. Observation: ``minted`` (every key minted, oldest first).
"""

from __future__ import annotations

import threading
from typing import Any

from tests.fakes.oauth import ProviderFake, Session
from tests.fakes.spec import FORM, DeviceSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, bearer, json_reply, random_token

CLIENT_ID = "1031625952748946"
API_VERSION = "1.0.0"


def _identity_answer(fake: ProviderFake, session: Session, with_refresh: bool) -> dict[str, Any]:
    return {"access_token": session.access, "token_type": "Bearer", "expires_in": fake.expires_in}


class MetaFake(ProviderFake):
    """Meta's key mint and API test call."""

    def __init__(self, config: ProviderConfig, lock: threading.RLock, peers: dict[str, ProviderFake]) -> None:
        super().__init__(config, lock, peers)
        self.mint_mode = "ok"
        self.action_url = "https://www.meta.ai/muse/subscribe"
        self.minted: list[str] = []

    def is_key_valid(self, key: str | None) -> bool:
        """True if ``key`` is an API key the mint issued."""
        with self._lock:
            return bool(key) and key in self.minted

    def handle_mint(self, request: RecordedRequest) -> Reply:
        """``POST /muse-code/key``."""
        if self.body_problem(request, "json") is not None:
            return _error(400, "the body must be a JSON object")
        if request.headers.get("x-api-version") != API_VERSION:
            return _error(400, f"x-api-version must be {API_VERSION}")
        if "application/json" not in request.headers.get("accept", ""):
            return _error(406, "Accept must be application/json")
        if self.mint_mode == "expired" or not self.is_access_valid(bearer(request.headers)):
            return _error(401, "The identity token is invalid or expired")
        if self.mint_mode == "forbidden":
            return _error(403, "This account has no Muse subscription")
        if self.mint_mode == "no_key":
            return json_reply(200, {"status": "action_required", "action_url": self.action_url})
        key = random_token("muse-", 48)
        with self._lock:
            self.minted.append(key)
        return json_reply(200, {"api_key": key, "expires_in": 86400})

    def handle_models(self, request: RecordedRequest) -> Reply:
        """``GET /v1/models`` with the minted key."""
        if not self.is_key_valid(bearer(request.headers)):
            return _error(401, "Invalid API key")
        return json_reply(200, {"object": "list", "data": [{"id": "muse-code-1", "object": "model"}]})


def _error(status: int, message: str) -> Reply:
    return json_reply(status, {"error": {"message": message, "code": status}})


CONFIG = ProviderConfig(
    name="meta",
    provider_id="meta",
    client_id=CLIENT_ID,
    env=lambda base: {"PI_TUI_META_AUTH_URL": f"{base}/meta-auth", "PI_TUI_META_API_URL": f"{base}/meta-api"},
    tokens=TokenSpec(
        path="/meta-auth/oidc/device/token/",
        body=FORM,
        length=64,
        expires_in=5184000,
        refresh=False,
        answer=_identity_answer,
    ),
    device=DeviceSpec(
        device_path="/meta-auth/oidc/device/authorization/",
        verification_uri="https://www.meta.com/device",
        complete=True,
    ),
    routes=(
        RouteSpec("POST", "/meta-api/muse-code/key", "mint", "handle_mint"),
        RouteSpec("GET", "/meta-api/v1/models", "models", "handle_models"),
    ),
    fake=MetaFake,
    scope="openid",
)
