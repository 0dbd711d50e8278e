"""xAI (SuperGrok / X Premium): RFC 8628 device login on auth.x.ai, refresh, Bearer requests.

Stored as pi stores it: ``{type, access, refresh, expires}`` with ``expires`` five minutes
before the real expiry. A refresh answer without a refresh token keeps the old one. Every
address the login shows or opens must be https (stricter than the other providers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from app.endpoints import url_override
from app.errors import DeviceFlowError, RefreshError
from app.http import authorized_field, models_available, oauth_error, request_json
from app.providers.base import stored_account
from app.providers.common import start_device_login
from app.sanitize import finite_number, for_display
from app.tokens import entry_from_token_response

if TYPE_CHECKING:
    import httpx

    from app.flows.device import DeviceCode, DeviceSpec, PollAnswer

NAME = "xAI (Grok/X subscription)"
WHAT = "xAI"
CLIENT_ID = "b1a00492-073a-47ea-816f-4c329264a828"
SCOPE = "openid profile email offline_access grok-cli:access api:access"
AUTH_URL = "https://auth.x.ai"
API_URL = "https://api.x.ai/v1"
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
ACCEPT = {"Accept": "application/json"}


class Endpoints(NamedTuple):
    """xAI's bases after ``PI_TUI_XAI_AUTH_URL`` / ``PI_TUI_XAI_API_URL``."""

    auth: str = AUTH_URL
    api: str = API_URL

    @property
    def device(self) -> str:
        """Device authorization."""
        return f"{self.auth}/oauth2/device/code"

    @property
    def token(self) -> str:
        """Polling and refresh."""
        return f"{self.auth}/oauth2/token"


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the overrides from ``env``; ConfigError names a bad one."""
    return Endpoints(
        auth=url_override(env, "PI_TUI_XAI_AUTH_URL", AUTH_URL),
        api=url_override(env, "PI_TUI_XAI_API_URL", API_URL),
    )


# -- device login ----------------------------------------------------------------------


async def request_device_code(client: httpx.AsyncClient, endpoints: Endpoints) -> DeviceCode:
    """Ask auth.x.ai for a code; DeviceFlowError with a sentence when refused or unusable."""
    from app.flows.device import (
        DeviceCode,
        clamp_expires_in,
        clamp_interval,
        clean_user_code,
        clean_verification_uri,
    )

    data, device_code = await start_device_login(
        client, endpoints.device, what=WHAT, data={"client_id": CLIENT_ID, "scope": SCOPE, "referrer": "pi"}
    )
    # pi refuses a code without a lifetime; a huge one is still capped.
    lifetime = finite_number(data.get("expires_in"))
    if lifetime is None or lifetime <= 0:
        raise DeviceFlowError("xAI's answer did not say how long the code is valid; start again.")
    complete = data.get("verification_uri_complete")
    return DeviceCode(
        device_code=device_code,
        user_code=clean_user_code(data.get("user_code"), server=WHAT),
        verification_uri=clean_verification_uri(
            data.get("verification_uri"), server=WHAT, schemes=("https",)
        ),
        expires_in=clamp_expires_in(lifetime),
        interval=clamp_interval(data.get("interval")),
        verification_uri_complete=(
            clean_verification_uri(complete, server=WHAT, schemes=("https",)) if complete else ""
        ),
    )


def device_error(error: str, description: str) -> DeviceFlowError:
    """pi's sentences for a denied or expired code; others with the server's description."""
    if error in ("access_denied", "authorization_denied"):
        return DeviceFlowError("xAI device authorization was denied. Start again to retry.")
    if error == "expired_token":
        return DeviceFlowError("xAI device code expired before it was approved. Start again.")
    detail = for_display(description or error or "no reason given", limit=200)
    return DeviceFlowError(f"xAI stopped the login ({detail}). Start again.")


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> DeviceSpec:
    """The device flow (xAI's only method)."""
    from app.flows.device import DeviceSpec, poll_token_endpoint

    async def request_code(client: httpx.AsyncClient) -> DeviceCode:
        return await request_device_code(client, endpoints)

    async def poll(client: httpx.AsyncClient, code: DeviceCode) -> PollAnswer:
        body = {"grant_type": DEVICE_GRANT_TYPE, "client_id": CLIENT_ID, "device_code": code.device_code}
        return await poll_token_endpoint(client, endpoints.token, what=WHAT, data=body)

    async def finish(
        client: httpx.AsyncClient, answer: PollAnswer, now_ms: int
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        # access_token and refresh_token are both required at login.
        return entry_from_token_response(dict(answer.data), what=WHAT, now_ms=now_ms), ()

    return DeviceSpec(
        provider=WHAT,
        title=f"Log in to {NAME}",
        request_code=request_code,
        poll=poll,
        finish=finish,
        error=device_error,
        server=WHAT,
    )


# -- refresh, requests, test -----------------------------------------------------------


async def refresh(
    client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any], *, now_ms: int
) -> dict[str, Any]:
    """A new access token; the old refresh token is kept when xAI sends none.

    RefreshError(revoked=True) when xAI no longer accepts the refresh token.
    """
    response = await request_json(
        client,
        "POST",
        endpoints.token,
        what=WHAT,
        data={"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": str(entry["refresh"])},
        headers=ACCEPT,
    )
    error, description = oauth_error(response.data)
    if error == "invalid_grant" or response.status == 401:
        raise RefreshError(
            "xAI no longer accepts this login (it was revoked or has expired). "
            "Log in again with `pi-tui login xai`.",
            revoked=True,
        )
    if error or response.status >= 400:
        detail = for_display(description or error or f"HTTP {response.status}", limit=200)
        raise RefreshError(f"xAI refused the refresh ({detail}); try again later.")
    return entry_from_token_response(response.data, what=WHAT, now_ms=now_ms, previous=entry)


def auth_headers(endpoints: Endpoints, entry: Mapping[str, Any]) -> dict[str, str]:
    """The access token as Bearer."""
    return {"Authorization": f"Bearer {entry['access']}"}


def api_base(endpoints: Endpoints, entry: Mapping[str, Any]) -> str:
    """Where API requests go (``https://api.x.ai/v1`` unless overridden)."""
    return endpoints.api


def status_rows(endpoints: Endpoints, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The API base, when ``PI_TUI_XAI_API_URL`` moved it."""
    return [] if endpoints.api == API_URL else [("API base", endpoints.api)]


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> str:
    """One real request: the model list; e.g. "OK: 2 models available"."""
    headers = {**ACCEPT, **auth_headers(endpoints, entry)}
    models = await authorized_field(client, f"{endpoints.api}/models", what=WHAT, headers=headers)
    return models_available(len(models))


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
usage = None
check_answer = None
offers = None
use_offer = None
check_options = None
request_headers = None
