"""xAI (SuperGrok / X Premium): RFC 8628 device login on auth.x.ai, refresh, Bearer requests.

Stored as pi stores it: ``{type, access, refresh, expires}`` with ``expires`` five minutes
before the real expiry. A refresh answer without a refresh token keeps the old one. Every
address the login shows or opens must be https (stricter than the other providers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from app.endpoints import url_override
from app.flows.oauth import TokenEndpoint, refresh_grant
from app.providers import bearer
from app.providers.base import stored_account
from app.providers.openai_compatible import OpenAICompatibleApi

if TYPE_CHECKING:
    import httpx

    from app.flows.device import DeviceSpec

NAME = "xAI (Grok/X subscription)"
WHAT = "xAI"
CLIENT_ID = "b1a00492-073a-47ea-816f-4c329264a828"
SCOPE = "openid profile email offline_access grok-cli:access api:access"
AUTH_URL = "https://auth.x.ai"
API_URL = "https://api.x.ai/v1"
REVOKED = (
    "xAI no longer accepts this login (it was revoked or has expired). Log in again with `pi-tui login xai`."
)


class Endpoints(NamedTuple):
    """xAI's bases after ``PI_TUI_XAI_AUTH_URL`` / ``PI_TUI_XAI_API_URL``."""

    auth: str = AUTH_URL
    api: str = API_URL

    @property
    def token(self) -> TokenEndpoint:
        """Polling and refresh."""
        return TokenEndpoint(WHAT, f"{self.auth}/oauth2/token", CLIENT_ID, revoked=REVOKED)


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the overrides from ``env``; ConfigError names a bad one."""
    return Endpoints(
        auth=url_override(env, "PI_TUI_XAI_AUTH_URL", AUTH_URL),
        api=url_override(env, "PI_TUI_XAI_API_URL", API_URL),
    )


# pi's sentences for a denied or expired code; any other ends "xAI stopped the login (…)".
DENIED = "xAI device authorization was denied. Start again to retry."
DEVICE_ERRORS = {
    "access_denied": DENIED,
    "authorization_denied": DENIED,
    "expired_token": "xAI device code expired before it was approved. Start again.",
}


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> DeviceSpec:
    """The device flow (xAI's only method); pi refuses a code without a lifetime, and any
    address that is not https."""
    from app.flows.device import DeviceStart, standard_device_login

    start = DeviceStart(
        f"{endpoints.auth}/oauth2/device/code",
        WHAT,
        {"client_id": CLIENT_ID, "scope": SCOPE, "referrer": "pi"},
        schemes=("https",),
        lifetime_required=True,
    )
    return standard_device_login(
        title=f"Log in to {NAME}", start=start, token=endpoints.token, errors=DEVICE_ERRORS
    )


async def refresh(
    client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any], *, now_ms: int
) -> dict[str, Any]:
    """A new access token; the old refresh token is kept when xAI sends none."""
    return await refresh_grant(client, endpoints.token, entry, now_ms=now_ms)


# Bearer to the API base, the model list as the test call (app/providers/openai_compatible.py).
API = OpenAICompatibleApi(WHAT, API_URL)
auth_headers, api_base, status_rows, test = bearer, API.api_base, API.status_rows, API.test


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
usage = usage_from_headers = check_answer = offers = use_offer = check_options = request_headers = None
