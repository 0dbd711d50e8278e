"""Radius, pi's gateway: discovery, PKCE on the page it names, RFC 8628 device flow, rotating refresh.

``PI_TUI_RADIUS_URL`` → ``/radius`` (the gateway; a custom gateway of ``models.json`` may point
its ``baseUrl`` at ``/radius/v1`` too). ``GET /v1/oauth`` names the authorize page
(``/radius/authorize``; set ``authorization_endpoint`` to name another), which needs
``client_id=pi-gateway``, ``handoff=url``, the ``gateway offline_access`` scope and a redirect
to ``http://127.0.0.1:<port>/oauth/callback``. ``POST /v1/oauth/device`` and
``POST /v1/oauth/token`` (every grant) take forms; device errors are RFC 8628's (pending,
slow_down, expired_token, access_denied). Test call: ``GET /v1/config`` with Bearer →
``{"baseUrl", "models"}``.
"""

from __future__ import annotations

import threading

from tests.fakes.oauth import ProviderFake
from tests.fakes.spec import FORM, AuthCodeSpec, DeviceSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, bearer, json_reply

CLIENT_ID = "pi-gateway"
SCOPE = "gateway offline_access"
PREFIX = "/radius"
MODELS = [
    {"id": "claude-sonnet-4-5", "name": "Claude Sonnet 4.5"},
    {"id": "gpt-5.1", "name": "GPT-5.1"},
    {"id": "kimi-k2", "name": "Kimi K2"},
]


class RadiusFake(ProviderFake):
    """Discovery and the gateway's model catalog."""

    def __init__(self, config: ProviderConfig, lock: threading.RLock, peers: dict[str, ProviderFake]) -> None:
        super().__init__(config, lock, peers)
        self.authorization_endpoint: str | None = None  # None: this fake's own authorize page

    def handle_discovery(self, request: RecordedRequest) -> Reply:
        """``GET /v1/oauth``: where to authorize."""
        page = self.authorization_endpoint or f"{self.base}{PREFIX}/authorize"
        return json_reply(200, {"authorizationEndpoint": page})

    def handle_config(self, request: RecordedRequest) -> Reply:
        """``GET /v1/config`` with Bearer: the gateway's model catalog."""
        if not self.is_access_valid(bearer(request.headers)):
            return json_reply(401, {"error": "invalid_token", "error_description": "Bearer token is invalid"})
        return json_reply(200, {"baseUrl": f"{self.base}{PREFIX}/v1", "models": MODELS})


CONFIG = ProviderConfig(
    name="radius",
    provider_id="radius",
    client_id=CLIENT_ID,
    env=lambda base: {"PI_TUI_RADIUS_URL": f"{base}{PREFIX}"},
    tokens=TokenSpec(
        path=f"{PREFIX}/v1/oauth/token",
        body=FORM,
        access_prefix="rad-at-",
        refresh_prefix="rad-rt-",
        length=48,
        expires_in=3600,
    ),
    auth_code=AuthCodeSpec(
        authorize_path=f"{PREFIX}/authorize",
        redirect_uris=r"http://127\.0\.0\.1:\d{1,5}/oauth/callback",
        params={"response_type": "code", "handoff": "url"},
        scope_includes=("gateway", "offline_access"),
    ),
    device=DeviceSpec(
        device_path=f"{PREFIX}/v1/oauth/device",
        verification_uri="https://radius.pi.dev/device",
        scope_includes=("gateway", "offline_access"),
    ),
    routes=(
        RouteSpec("GET", f"{PREFIX}/v1/oauth", "discovery", "handle_discovery"),
        RouteSpec("GET", f"{PREFIX}/v1/config", "config", "handle_config"),
    ),
    fake=RadiusFake,
    scope=SCOPE,
)
