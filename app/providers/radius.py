"""Radius, pi's gateway (and every custom Radius gateway): browser or device-code login, refresh.

The gateway is ``https://radius.pi.dev`` unless ``PI_TUI_RADIUS_URL`` says otherwise; a custom
gateway of pi's ``models.json`` runs this module with that variable set by the registry (and
``PI_TUI_RADIUS_NAME``, its name). Requests go to ``{gateway}/v1/oauth``, ``/v1/oauth/device``,
``/v1/oauth/token`` and ``/v1/config`` (pi resolves them against the gateway's origin; the same
for the gateways pi supports, which have no path, and a proxy's prefix is kept, as with every
``PI_TUI_*`` base). Browser: discover
the authorize page (``GET /v1/oauth``), PKCE, loopback 1456. Stored as pi stores it: ``{type,
access, refresh, expires (60 s early), scope}``; an older entry's ``gatewayConfig`` is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode, urlsplit

from app.endpoints import callback_port, url_override
from app.errors import AuthError
from app.flows.oauth import ToEntry, TokenEndpoint, code_grant, refresh_grant
from app.http import models_sentence, request_json
from app.providers import bearer
from app.providers.base import CallResult, stored_account
from app.sanitize import for_display
from app.tokens import entry_from_token_response

if TYPE_CHECKING:
    import httpx

    from app.flows.auth_code import AuthCodeSpec
    from app.flows.device import DeviceSpec
    from app.flows.pkce import Pkce

NAME = "Radius"
GATEWAY = "https://radius.pi.dev"
CLIENT_ID = "pi-gateway"
SCOPE = "gateway offline_access"
CALLBACK_PORT = 1456
CALLBACK_PATH = "/oauth/callback"
EXPIRY_SKEW_MS = 60_000
ACCEPT = {"Accept": "application/json"}


class Endpoints(NamedTuple):
    """The gateway (``PI_TUI_RADIUS_URL``) and the name this login goes by."""

    gateway: str = GATEWAY
    name: str = NAME
    callback_port: int | None = CALLBACK_PORT

    def url(self, path: str) -> str:
        """``path`` (``/v1/…``) on the gateway."""
        return f"{self.gateway}{path}"


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the gateway from ``env``; ConfigError names a bad one."""
    name = for_display(env.get("PI_TUI_RADIUS_NAME") or NAME, limit=80)
    return Endpoints(
        gateway=url_override(env, "PI_TUI_RADIUS_URL", GATEWAY),
        name=name,
        callback_port=callback_port(env, CALLBACK_PORT),
    )


# -- tokens ----------------------------------------------------------------------------


def entry_from_tokens(
    data: Any, endpoints: Endpoints, *, now_ms: int, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """pi's entry; a refresh keeps an older entry's ``gatewayConfig`` and nothing else of it."""
    kept = {"gatewayConfig": previous["gatewayConfig"]} if previous and "gatewayConfig" in previous else {}
    entry = entry_from_token_response(
        data, what=endpoints.name, now_ms=now_ms, keep_refresh=False, buffer_ms=EXPIRY_SKEW_MS
    )
    scope = data.get("scope") if isinstance(data, dict) else None
    if isinstance(scope, str):
        entry["scope"] = scope
    return {**entry, **kept}


def token_endpoint(endpoints: Endpoints) -> TokenEndpoint:
    """The gateway's token endpoint for every grant (forms)."""
    return TokenEndpoint(
        endpoints.name,
        endpoints.url("/v1/oauth/token"),
        CLIENT_ID,
        dead=frozenset({"invalid_grant", "invalid_token"}),
        revoked="{what} no longer accepts this login (it was revoked or has expired). Log in again.",
    )


def _to_entry(endpoints: Endpoints) -> ToEntry:
    def to_entry(data: Any, previous: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
        return entry_from_tokens(data, endpoints, now_ms=now_ms, previous=previous)

    return to_entry


async def refresh(
    client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any], *, now_ms: int
) -> dict[str, Any]:
    """New tokens for the stored refresh token; RefreshError(revoked=True) when it is refused."""
    return await refresh_grant(
        client, token_endpoint(endpoints), entry, now_ms=now_ms, to_entry=_to_entry(endpoints)
    )


# -- browser login ---------------------------------------------------------------------


async def discover(client: httpx.AsyncClient, endpoints: Endpoints) -> str:
    """The authorize page the gateway names (``GET /v1/oauth``); an http(s) URL or AuthError."""
    response = await request_json(
        client, "GET", endpoints.url("/v1/oauth"), what=endpoints.name, headers=ACCEPT
    )
    page = response.data.get("authorizationEndpoint") if isinstance(response.data, dict) else None
    try:
        parts = urlsplit(page) if isinstance(page, str) else None
    except ValueError:
        parts = None
    if response.status >= 400 or parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise AuthError(
            f"{endpoints.name} did not say where to sign in (HTTP {response.status}); "
            "try again later, or use the device code."
        )
    assert isinstance(page, str)
    return page


def _browser_login(endpoints: Endpoints) -> AuthCodeSpec:
    import uuid

    from app.flows.auth_code import AuthCodeSpec

    found: dict[str, str] = {}

    async def prepare(client: httpx.AsyncClient) -> None:
        found["page"] = await discover(client, endpoints)

    def url(redirect_uri: str, pkce: Pkce) -> str:
        query = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "handoff": "url",
            "state": pkce.state,
        }
        page = found["page"]
        return f"{page}{'&' if '?' in page else '?'}{urlencode(query)}"

    async def exchange(
        client: httpx.AsyncClient, code: str, pkce: Pkce, redirect_uri: str, now_ms: int
    ) -> dict[str, Any]:
        body = {
            "redirect_uri": redirect_uri,
            "code": code,
            "code_verifier": pkce.verifier,
        }
        data = await code_grant(client, token_endpoint(endpoints), body)
        return entry_from_tokens(data, endpoints, now_ms=now_ms)

    return AuthCodeSpec(
        provider=endpoints.name,
        title=f"Log in to {endpoints.name}",
        authorize_url=url,
        exchange=exchange,
        port=endpoints.callback_port,
        default_port=CALLBACK_PORT,
        path=CALLBACK_PATH,
        redirect_host="127.0.0.1",
        fixed_port=True,  # pi's redirect is http://127.0.0.1:1456/oauth/callback
        make_state=lambda: str(uuid.uuid4()),
        prepare=prepare,
        waiting="Waiting for the browser… or paste the address it ends on below.",
        paste_only="After you authorize, copy the address the browser ends on and paste it below.",
        prompt="Paste the whole address the browser ended on (the redirect URL), then Enter: ",
        placeholder="Paste the redirect URL (http://127.0.0.1:1456/oauth/callback?code=…)",
    )


# -- device login ----------------------------------------------------------------------


def device_errors(name: str) -> dict[str, str]:
    """RFC 8628's endings in pi's words (any other ends "{name} stopped the login (…)")."""
    denied = f"{name}: device authorization was denied. Start again to retry."
    return {
        "expired_token": f"{name}: the device code expired before it was approved. Start again.",
        "access_denied": denied,
        "authorization_denied": denied,
    }


def _device_login(endpoints: Endpoints) -> DeviceSpec:
    from app.flows.device import DeviceStart, standard_device_login

    start = DeviceStart(
        endpoints.url("/v1/oauth/device"),
        endpoints.name,
        {"client_id": CLIENT_ID, "scope": SCOPE},
        lifetime_required=True,
    )
    return standard_device_login(
        title=f"Log in to {endpoints.name}",
        start=start,
        token=token_endpoint(endpoints),
        errors=device_errors(endpoints.name),
        to_entry=_to_entry(endpoints),
    )


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> AuthCodeSpec | DeviceSpec:
    """``browser`` (discovery, loopback 1456, or paste) or ``device_code``."""
    if method_id == "device_code":
        return _device_login(endpoints)
    return _browser_login(endpoints)


# -- requests, status, test ------------------------------------------------------------


# The token, or a stored API key, as Bearer.
auth_headers = bearer


def api_base(endpoints: Endpoints, entry: Mapping[str, Any]) -> str:
    """The gateway's API (``{gateway}/v1``)."""
    return endpoints.url("/v1")


def status_rows(endpoints: Endpoints, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The gateway, and the model count an older entry's ``gatewayConfig`` holds (no request)."""
    rows = [("Gateway", for_display(endpoints.gateway, limit=200))]
    config = entry.get("gatewayConfig")
    models = config.get("models") if isinstance(config, dict) else None
    if isinstance(models, list):
        rows.append(("Models", str(len(models))))
    return rows


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> CallResult:
    """One real request: the gateway's model catalog (``GET /v1/config``); "OK: N models available."."""
    sentence = await models_sentence(
        client,
        endpoints.url("/v1/config"),
        what=endpoints.name,
        headers=auth_headers(endpoints, entry),
        key="models",
        failed=f"{endpoints.name} did not send its model catalog",
    )
    return CallResult(sentence)


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
usage = usage_from_headers = check_answer = offers = use_offer = check_options = request_headers = None
