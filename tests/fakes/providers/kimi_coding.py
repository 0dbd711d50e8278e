"""Kimi Code: RFC 8628 device flow on auth.kimi.com, form bodies, rotating refresh tokens.

``PI_TUI_KIMI_AUTH_URL`` → ``/kimi-auth`` (``/api/oauth/device_authorization``,
``/api/oauth/token``) and ``PI_TUI_KIMI_API_URL`` → ``/kimi-api`` (``https://api.kimi.com/coding/v1``;
test call ``GET /models``). The device request carries ``client_id`` only (no scope); the answer
has both ``verification_uri`` and ``verification_uri_complete``. Refresh retries on 5xx/429 are
tested with ``fail("kimi.refresh", status=503, times=n)``. ``GET {api}/usages`` answers
``usage_body`` (``None`` = 30 % of the 5-hour window and 55 % of the week used; numbers as strings).
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.oauth import ProviderFake
from tests.fakes.spec import FORM, DeviceSpec, ProviderConfig, RouteSpec, TokenSpec
from tests.fakes.wire import RecordedRequest, Reply, bearer, json_reply

CLIENT_ID = "17e5f671-d194-4dfb-9706-5516cb48c098"


class KimiFake(ProviderFake):
    """Kimi's API test call and usage."""

    usage_body: Any = None

    def handle_usages(self, request: RecordedRequest) -> Reply:
        """``GET {api}/usages`` with Bearer."""
        if not self.is_access_valid(bearer(request.headers)):
            error = {"message": "Invalid Authentication", "type": "invalid_authentication_error"}
            return json_reply(401, {"error": {"message": error["message"], "type": error["type"]}})
        return json_reply(200, self.usage_body if self.usage_body is not None else default_usages())

    def handle_models(self, request: RecordedRequest) -> Reply:
        """``GET {api}/models`` with Bearer."""
        if not self.is_access_valid(bearer(request.headers)):
            error = {"message": "Invalid Authentication", "type": "invalid_authentication_error"}
            return json_reply(401, {"error": error})
        return json_reply(200, {"object": "list", "data": [{"id": "kimi-for-coding", "object": "model"}]})


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + seconds))


def default_usages() -> dict[str, Any]:
    """What Kimi Code answers: the weekly quota in ``usage``, the 5-hour window in ``limits``."""
    return {
        "user": {"userId": "u-123", "region": "REGION_OVERSEA", "membershipLevel": "LEVEL_INTERMEDIATE"},
        "usage": {"limit": "100", "used": "55", "remaining": "45", "resetTime": _iso(4 * 86400 + 30)},
        "limits": [
            {
                "window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
                "detail": {"limit": "100", "used": "30", "remaining": "70", "resetTime": _iso(2 * 3600 + 30)},
            }
        ],
    }


CONFIG = ProviderConfig(
    name="kimi",
    provider_id="kimi-coding",
    client_id=CLIENT_ID,
    env=lambda base: {"PI_TUI_KIMI_AUTH_URL": f"{base}/kimi-auth", "PI_TUI_KIMI_API_URL": f"{base}/kimi-api"},
    tokens=TokenSpec(path="/kimi-auth/api/oauth/token", body=FORM, length=64, expires_in=900),
    device=DeviceSpec(
        device_path="/kimi-auth/api/oauth/device_authorization",
        verification_uri="https://www.kimi.com/code/authorize_device",
        complete=True,
    ),
    routes=(
        RouteSpec("GET", "/kimi-api/models", "models", "handle_models"),
        RouteSpec("GET", "/kimi-api/usages", "usage", "handle_usages"),
    ),
    fake=KimiFake,
    scope="kimi-code",
)
