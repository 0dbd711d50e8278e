"""xAI (SuperGrok / X Premium): RFC 8628 device flow on auth.x.ai, form bodies, rotating refresh.

``PI_TUI_XAI_AUTH_URL`` → ``/xai-auth`` (``/oauth2/device/code``, ``/oauth2/token``) and
``PI_TUI_XAI_API_URL`` → ``/xai-api`` (``https://api.x.ai/v1``; test call ``GET /models``).
The device request must carry ``scope`` with ``grok-cli:access api:access`` and ``referrer=pi``;
the answer has an https ``verification_uri`` and ``verification_uri_complete``. Set
``omit_refresh_token`` for a refresh answer without a refresh token (pi keeps the old one).
"""

from __future__ import annotations

from tests.fakes.oauth import ProviderFake
from tests.fakes.spec import FORM, DeviceSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, bearer, json_reply

CLIENT_ID = "b1a00492-073a-47ea-816f-4c329264a828"
SCOPE = "openid profile email offline_access grok-cli:access api:access"


class XaiFake(ProviderFake):
    """xAI's API test call."""

    def handle_models(self, request: RecordedRequest) -> Reply:
        """``GET {api}/models`` with Bearer."""
        if not self.is_access_valid(bearer(request.headers)):
            return json_reply(401, {"code": "Unauthenticated", "error": "Invalid bearer token"})
        models = [
            {"id": "grok-4", "object": "model", "owned_by": "xai"},
            {"id": "grok-code-fast-1", "object": "model", "owned_by": "xai"},
        ]
        return json_reply(200, {"object": "list", "data": models})


CONFIG = ProviderConfig(
    name="xai",
    provider_id="xai",
    client_id=CLIENT_ID,
    env=lambda base: {"PI_TUI_XAI_AUTH_URL": f"{base}/xai-auth", "PI_TUI_XAI_API_URL": f"{base}/xai-api"},
    tokens=TokenSpec(
        path="/xai-auth/oauth2/token",
        body=FORM,
        access_prefix="xai-at-",
        refresh_prefix="xai-rt-",
        expires_in=3600,
    ),
    device=DeviceSpec(
        device_path="/xai-auth/oauth2/device/code",
        verification_uri="https://accounts.x.ai/device",
        params={"referrer": "pi"},
        scope_includes=("grok-cli:access", "api:access"),
        complete=True,
    ),
    routes=(RouteSpec("GET", "/xai-api/models", "models", "handle_models"),),
    fake=XaiFake,
    scope=SCOPE,
)
