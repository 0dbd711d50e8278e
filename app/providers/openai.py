"""OpenAI, "Sign in with ChatGPT": PKCE with a client registered per login, tokens for api.openai.com.

The link asks for ``client_id=dynamic_agent_client``; OpenAI registers a client for this login
and names it in the redirect (``client_id``), and that issued id is used for the exchange, for
every refresh, and stored as ``clientId``. The installation is named by pi's ``deviceId``
(``<agentDir>/settings.json``, see :mod:`app.providers.settings`). The listener is on 1455
only (shared with Codex and the Codex CLI): when it is taken the login says so and takes a
paste of the whole redirect URL. Stored as pi stores it: ``{type, access, refresh, expires
(3 minutes early), clientId, scopes}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

from app.endpoints import callback_port, url_override
from app.errors import AuthError, LoginInputError, NetworkError, RefreshError
from app.flows.oauth import TokenEndpoint, code_grant, refresh_grant
from app.providers import bearer
from app.providers.base import stored_account
from app.providers.openai_compatible import OpenAICompatibleApi
from app.sanitize import finite_number, for_display, is_token_shaped

if TYPE_CHECKING:
    import httpx

    from app.flows.auth_code import AuthCodeSpec
    from app.flows.pkce import Pkce

NAME = "OpenAI API (ChatGPT subscription)"
WHAT = "OpenAI"
DYNAMIC_CLIENT_ID = "dynamic_agent_client"
AGENT_NAME_HINT = "Pi"
AUTH_URL = "https://auth.openai.com"
API_URL = "https://api.openai.com/v1"
RESOURCE = "https://api.openai.com/v1"
DIRECT_SCOPE = "chatgpt.tokens.use.direct"
SCOPE = f"openid profile email offline_access resource.invoke {DIRECT_SCOPE}"
CALLBACK_PORT = 1455
CALLBACK_PATH = "/auth/callback"
EXPIRY_MARGIN_MS = 3 * 60 * 1000
DEAD_REFRESH = {"invalid_grant", "refresh_token_expired", "refresh_token_reused", "refresh_token_invalidated"}


class Endpoints(NamedTuple):
    """``PI_TUI_OPENAI_AUTH_URL`` / ``PI_TUI_OPENAI_API_URL``; the agent dir holds pi's deviceId."""

    auth: str = AUTH_URL
    api: str = API_URL
    callback_port: int | None = CALLBACK_PORT
    agent_dir: str = ""


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the overrides from ``env``; ConfigError names a bad one."""
    from app.paths import agent_dir

    return Endpoints(
        auth=url_override(env, "PI_TUI_OPENAI_AUTH_URL", AUTH_URL),
        api=url_override(env, "PI_TUI_OPENAI_API_URL", API_URL),
        callback_port=callback_port(env, CALLBACK_PORT),
        agent_dir=str(agent_dir(None, env)),
    )


# -- tokens ----------------------------------------------------------------------------


def _required(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise NetworkError(f"{WHAT}'s answer had no {name}; nothing was saved. Try again.")
    if name != "scope" and not is_token_shaped(value):
        raise NetworkError(f"{WHAT}'s answer had a {name} with spaces or control characters; try again.")
    return value


def entry_from_tokens(data: Any, client_id: str, *, now_ms: int) -> dict[str, Any]:
    """pi's entry; every answer needs both tokens, a scope with direct use, and a lifetime."""
    data = data if isinstance(data, dict) else {}
    access, refresh = _required(data, "access_token"), _required(data, "refresh_token")
    scopes = _required(data, "scope").split()
    expires_in = data.get("expires_in")
    seconds = None if isinstance(expires_in, bool) else finite_number(expires_in)
    if not isinstance(expires_in, int | float) or seconds is None or seconds <= 0:
        raise NetworkError(
            f"{WHAT}'s answer did not say when the token expires; nothing was saved. Try again."
        )
    if DIRECT_SCOPE not in scopes:
        raise AuthError(
            f"{WHAT} did not grant {DIRECT_SCOPE}, so this token cannot be used for the API; "
            "nothing was saved. Check that the account has a ChatGPT subscription, then log in again."
        )
    expires = now_ms + int(seconds * 1000) - EXPIRY_MARGIN_MS
    return {
        "type": "oauth",
        "access": access,
        "refresh": refresh,
        "expires": expires,
        "clientId": client_id,
        "scopes": scopes,
    }


def token_endpoint(endpoints: Endpoints) -> TokenEndpoint:
    """The token endpoint (forms; the client id is each login's own, so the caller sends it)."""
    return TokenEndpoint(
        WHAT,
        f"{endpoints.auth}/api/accounts/oauth/token",
        dead=frozenset({*DEAD_REFRESH, "invalid_client"}),
    )


def _email(id_token: str) -> str | None:
    from app.providers.openai_codex import jwt_claims

    email = jwt_claims(id_token).get("email")
    return for_display(email, limit=200) if isinstance(email, str) and email else None


async def exchange_code(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    *,
    code: str,
    client_id: str,
    verifier: str,
    redirect_uri: str,
    now_ms: int,
) -> dict[str, Any]:
    """Trade the code with the issued client id; the answer must carry an id token (its email kept)."""
    body = {"client_id": client_id, "code": code, "code_verifier": verifier, "redirect_uri": redirect_uri}
    data = await code_grant(client, token_endpoint(endpoints), {**body, "resource": RESOURCE})
    id_token = data.get("id_token") if isinstance(data, dict) else None
    if not isinstance(id_token, str) or not id_token.strip():
        raise NetworkError(f"{WHAT}'s answer had no ID token; nothing was saved. Try again.")
    entry = entry_from_tokens(data, client_id, now_ms=now_ms)
    email = _email(id_token)
    if email is not None:
        entry["email"] = email  # moved to pi-tui's state file by the service
    return entry


async def refresh(
    client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any], *, now_ms: int
) -> dict[str, Any]:
    """New tokens with the stored ``clientId``; the whole entry is replaced, as pi does."""
    client_id = entry.get("clientId")
    if not isinstance(client_id, str) or not client_id.strip():
        raise RefreshError(
            f"This {WHAT} login has no issued client id (clientId), so it cannot be renewed: "
            "log in again to reconnect ChatGPT.",
            revoked=True,
        )

    def to_entry(data: Any, previous: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
        return entry_from_tokens(data, client_id, now_ms=now_ms)

    extra = {"client_id": client_id, "resource": RESOURCE}
    return await refresh_grant(
        client, token_endpoint(endpoints), entry, now_ms=now_ms, to_entry=to_entry, extra=extra
    )


# -- login -----------------------------------------------------------------------------


def authorize_url(
    endpoints: Endpoints, *, redirect_uri: str, challenge: str, state: str, device_id: str
) -> str:
    """The browser link: pi's parameters, with this installation's agent host id."""
    import secrets

    query = {
        "client_id": DYNAMIC_CLIENT_ID,
        "agent_name_hint": AGENT_NAME_HINT,
        "ext_agent_host_id": f"urn:uuid:{device_id.lower()}",
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "resource": RESOURCE,
        "scope": SCOPE,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": secrets.token_urlsafe(32),
    }
    return f"{endpoints.auth}/api/accounts/authorize?{urlencode(query)}"


def issued_client_id(params: Mapping[str, str]) -> str:
    """The client id OpenAI registered for this login, from the redirect; LoginInputError if absent."""
    client_id = params.get("client_id", "").strip()
    if not client_id or not is_token_shaped(client_id) or len(client_id) > 200:
        raise LoginInputError(
            f"{WHAT}'s redirect did not name the client it registered for this login (client_id); "
            "start the login again."
        )
    return client_id


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> AuthCodeSpec:
    """The browser login (loopback 1455, or a pasted redirect URL)."""
    from app.flows.auth_code import AuthCodeSpec
    from app.providers.pi_settings import device_id

    issued: dict[str, str] = {}

    def url(redirect_uri: str, pkce: Pkce) -> str:
        return authorize_url(
            endpoints,
            redirect_uri=redirect_uri,
            challenge=pkce.challenge,
            state=pkce.state,
            device_id=device_id(Path(endpoints.agent_dir)),
        )

    def on_redirect(params: Mapping[str, str]) -> None:
        issued["client_id"] = issued_client_id(params)

    async def exchange(
        client: httpx.AsyncClient, code: str, pkce: Pkce, redirect_uri: str, now_ms: int
    ) -> dict[str, Any]:
        return await exchange_code(
            client,
            endpoints,
            code=code,
            client_id=issued["client_id"],
            verifier=pkce.verifier,
            redirect_uri=redirect_uri,
            now_ms=now_ms,
        )

    return AuthCodeSpec(
        provider=WHAT,
        title=f"Log in to {NAME}",
        authorize_url=url,
        exchange=exchange,
        port=endpoints.callback_port,
        default_port=CALLBACK_PORT,
        path=CALLBACK_PATH,
        redirect_host="127.0.0.1",
        fixed_port=True,  # the redirect is registered for 1455 only
        on_redirect=on_redirect,
        waiting="Waiting for the browser… or paste the whole address it ends on below.",
        paste_only=(
            "After you authorize, the browser ends on a 127.0.0.1 page that may not load: "
            "copy its whole address and paste it below."
        ),
        prompt="Paste the whole address the browser ended on (the redirect URL), then Enter: ",
        placeholder="Paste the redirect URL (http://127.0.0.1:1455/auth/callback?code=…)",
        port_taken=(
            "Port {port} is in use, probably by an unfinished login in another pi session or by the "
            "Codex CLI, so the browser cannot come back to pi-tui by itself: after you authorize, "
            "copy the address the browser ends on and paste it below."
        ),
    )


# -- requests --------------------------------------------------------------------------


# Bearer to the API base, the model list as the test call (app/providers/openai_compatible.py).
API = OpenAICompatibleApi(WHAT, API_URL)
auth_headers, api_base, status_rows, test = bearer, API.api_base, API.status_rows, API.test


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
usage = usage_from_headers = check_answer = offers = use_offer = check_options = request_headers = None
