"""Meta (Muse subscription): device login (RFC 8628) for an identity token, then an API-key mint.

The stored login is pi's: ``refresh`` is the identity token (it cannot be renewed), ``access``
the minted API key, ``expires`` 24 h after the mint. "Refreshing" mints a new key with the
stored identity token, which is kept; a 401/403 from the mint means logging in again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from app.endpoints import url_override
from app.errors import AuthError, DeviceFlowError, NetworkError, RefreshError
from app.flows.oauth import TokenEndpoint
from app.http import models_sentence, oauth_error, request_json
from app.providers import bearer
from app.providers.base import CallResult, stored_account
from app.sanitize import finite_number, for_display, is_token_shaped
from app.tokens import oauth_entry

if TYPE_CHECKING:
    import httpx

    from app.flows.device import DeviceCode, DeviceSpec, PollAnswer

NAME = "Meta (Muse subscription)"
WHAT = "Meta"  # how sentences name the server
CLIENT_ID = "1031625952748946"  # the Muse Code CLI client
API_VERSION = "1.0.0"
KEY_LIFETIME_MS = 24 * 3_600_000
TIMEOUT_S = 30.0
SESSION_EXPIRED = "Meta session expired (status {status}). Run `pi-tui login meta` to sign in again."


class Endpoints(NamedTuple):
    """``PI_TUI_META_AUTH_URL`` (device login) and ``PI_TUI_META_API_URL`` (mint, API)."""

    auth: str
    api: str


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the overrides from ``env``; ConfigError names a bad one."""
    return Endpoints(
        auth=url_override(env, "PI_TUI_META_AUTH_URL", "https://auth.meta.com"),
        api=url_override(env, "PI_TUI_META_API_URL", "https://api.meta.ai"),
    )


# -- device login ------------------------------------------------------------------------


async def request_device_code(client: httpx.AsyncClient, endpoints: Endpoints) -> DeviceCode:
    """Ask Meta for a device code; DeviceFlowError with a sentence if refused or unusable."""
    from app.flows.device import (
        MAX_CODE_LIFETIME_S,
        DeviceCode,
        clamp_expires_in,
        clamp_interval,
        clean_user_code,
        clean_verification_uri,
        start_device_request,
    )

    data, device_code = await start_device_request(
        client,
        f"{endpoints.auth}/oidc/device/authorization/",
        what=WHAT,
        data={"client_id": CLIENT_ID},
        deadline=TIMEOUT_S,
    )
    # pi shows the link that carries the code when there is one, and checks only the one it shows.
    complete = data.get("verification_uri_complete")
    if complete:
        link = clean_verification_uri(complete, server=WHAT)
        plain = trusted_http_url(data.get("verification_uri")) or link
    else:
        link, plain = "", clean_verification_uri(data.get("verification_uri"), server=WHAT)
    # Without expires_in pi polls forever; pi-tui stops after an hour all the same.
    lifetime = finite_number(data.get("expires_in"))
    return DeviceCode(
        device_code=device_code,
        user_code=clean_user_code(data.get("user_code"), server=WHAT),
        verification_uri=plain,
        verification_uri_complete=link,
        expires_in=clamp_expires_in(lifetime) if lifetime and lifetime > 0 else MAX_CODE_LIFETIME_S,
        interval=clamp_interval(data.get("interval")),
    )


# The sentences for the error codes that end Meta's device login; any other ends "Meta stopped
# the login (…)".
DEVICE_ERRORS = {
    "expired_token": "The code expired before it was approved on Meta; start again.",
    "access_denied": "The login was denied on Meta. Start again to retry.",
    "no_token": "Meta approved the login but sent no identity token; start again.",
}


# -- the key mint ------------------------------------------------------------------------


def trusted_http_url(value: object) -> str | None:
    """``value`` if it is an http(s) link pi-tui may show, else None."""
    from app.flows.device import clean_verification_uri

    try:
        return clean_verification_uri(value, server=WHAT)
    except DeviceFlowError:
        return None


async def mint_key(
    client: httpx.AsyncClient, endpoints: Endpoints, identity: str, *, refreshing: bool
) -> str:
    """An API key for the identity token. 401/403: the session is over (RefreshError(revoked=True)
    when ``refreshing``, else AuthError), said in one sentence."""
    response = await request_json(
        client,
        "POST",
        f"{endpoints.api}/muse-code/key",
        what=WHAT,
        deadline=TIMEOUT_S,
        json={},
        headers={
            "Authorization": f"Bearer {identity}",
            "x-api-version": API_VERSION,
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    data = response.data if isinstance(response.data, dict) else {}
    if response.status in (401, 403):
        sentence = SESSION_EXPIRED.format(status=response.status)
        raise RefreshError(sentence, revoked=True) if refreshing else AuthError(sentence)
    if response.status >= 400:
        _, description = oauth_error(data)
        detail = for_display(description or f"HTTP {response.status}", limit=200)
        raise (RefreshError if refreshing else AuthError)(
            f"Meta did not issue an API key ({detail}); try again later."
        )
    key = data.get("api_key")
    if isinstance(key, str) and key:
        if not is_token_shaped(key):
            raise NetworkError(
                "Meta's API key had spaces or control characters in it; try again in a moment."
            )
        return key
    action = trusted_http_url(data.get("action_url"))
    where = (
        f"Finish the step Meta asks for at {action}, then" if action else "Check your Muse subscription, then"
    )
    raise (RefreshError if refreshing else AuthError)(
        f"Meta signed you in but issued no API key. {where} run `pi-tui login meta` again."
    )


def build_entry(identity: str, key: str, *, now_ms: int) -> dict[str, Any]:
    """pi's entry: identity token as ``refresh``, the key as ``access``, 24 h from now."""
    return oauth_entry(None, access=key, refresh=identity, expires=now_ms + KEY_LIFETIME_MS)


async def refresh(
    client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any], *, now_ms: int
) -> dict[str, Any]:
    """Mint a new key with the stored identity token (kept); RefreshError(revoked=True) on 401/403."""
    identity = str(entry["refresh"])
    key = await mint_key(client, endpoints, identity, refreshing=True)
    return build_entry(identity, key, now_ms=now_ms)


# -- requests ----------------------------------------------------------------------------


# The token, or a stored API key, as Bearer.
auth_headers = bearer


def api_base(endpoints: Endpoints, entry: Mapping[str, Any]) -> str:
    """Where Meta API requests go (pi's base ``https://api.meta.ai/v1``)."""
    return f"{endpoints.api}/v1"


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> CallResult:
    """One real request (the model list); e.g. "OK: 1 model available."."""
    sentence = await models_sentence(
        client,
        f"{api_base(endpoints, entry)}/models",
        what=WHAT,
        headers=auth_headers(endpoints, entry),
        credential="the API key",
        deadline=TIMEOUT_S,
    )
    return CallResult(sentence)


def status_rows(endpoints: Endpoints, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The API base; the key is minted for 24 h and renewed with the identity token."""
    return [("API base", api_base(endpoints, entry)), ("Renews", "re-minted from the Meta sign-in")]


# -- login -------------------------------------------------------------------------------


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> DeviceSpec:
    """The device flow on Meta's sign-in (an approval carries the identity token), finished by
    the key mint."""
    from app.flows.device import DeviceSpec, token_poll

    token = TokenEndpoint(WHAT, f"{endpoints.auth}/oidc/device/token/", CLIENT_ID)

    async def request_code(client: httpx.AsyncClient) -> DeviceCode:
        return await request_device_code(client, endpoints)

    async def finish(
        client: httpx.AsyncClient, answer: PollAnswer, now_ms: int
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        identity = str(answer.data["access_token"])
        key = await mint_key(client, endpoints, identity, refreshing=False)
        return build_entry(identity, key, now_ms=now_ms), ("Meta issued an API key for 24 hours.",)

    return DeviceSpec(
        provider=NAME,
        title=f"Log in to {NAME}",
        request_code=request_code,
        poll=token_poll(token, deadline=TIMEOUT_S, missing="the answer had no identity token"),
        finish=finish,
        errors=DEVICE_ERRORS,
        server=WHAT,
    )


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
usage = usage_from_headers = check_answer = offers = use_offer = check_options = request_headers = None
