"""OpenRouter: PKCE without client id or state, exchanged for an API key that never expires.

The listener takes any free port and an unguessable path (``/oauth/callback/{uuid}``), which
replaces ``state``. pi stores the key as ``{type: "oauth", access: key, refresh: "",
expires: Number.MAX_SAFE_INTEGER}``; "refreshing" it changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

from app.endpoints import callback_port, url_override
from app.errors import AuthError, LoginInputError, NetworkError
from app.expiry import NEVER_EXPIRES_MS
from app.http import authorized_field, request_json
from app.providers import bearer
from app.providers.base import CallResult, Usage, UsageWindow, stored_account
from app.sanitize import for_display, is_token_shaped
from app.tokens import oauth_entry

if TYPE_CHECKING:
    import httpx

    from app.flows.auth_code import AuthCodeSpec
    from app.flows.pkce import Pkce

NAME = "OpenRouter OAuth"
WHAT = "OpenRouter"
BASE_URL = "https://openrouter.ai"
LOGIN_TIMEOUT_S = 300.0
EXCHANGE_DEADLINE_S = 30.0


class Endpoints(NamedTuple):
    """``PI_TUI_OPENROUTER_URL`` (authorize page, key exchange, API); ``callback_port`` None: paste only."""

    base: str = BASE_URL
    callback_port: int | None = 0

    @property
    def api(self) -> str:
        """The API base (``{base}/api/v1``)."""
        return f"{self.base}/api/v1"


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the override from ``env``; ConfigError names a bad one."""
    return Endpoints(
        base=url_override(env, "PI_TUI_OPENROUTER_URL", BASE_URL),
        callback_port=callback_port(env, 0),
    )


def authorize_url(endpoints: Endpoints, *, callback_url: str, challenge: str) -> str:
    """The browser link: no client id, scope or state."""
    query = {"callback_url": callback_url, "code_challenge": challenge, "code_challenge_method": "S256"}
    return f"{endpoints.base}/auth?{urlencode(query)}"


def _error(data: Any) -> str:
    """The error message of an answer (``{"error": {"message"}}`` or OAuth style), or ""."""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")
    return str(data.get("error_description") or error or "")


async def exchange_code(
    client: httpx.AsyncClient, endpoints: Endpoints, *, code: str, verifier: str
) -> dict[str, Any]:
    """Trade the code for a key; pi's entry for it. Never retried: a code is single-use."""
    response = await request_json(
        client,
        "POST",
        f"{endpoints.api}/auth/keys",
        what=WHAT,
        deadline=EXCHANGE_DEADLINE_S,
        json={"code": code, "code_verifier": verifier, "code_challenge_method": "S256"},
        headers={"Accept": "application/json"},
    )
    data = response.data if isinstance(response.data, dict) else {}
    if response.status >= 400:
        detail = for_display(_error(data) or f"HTTP {response.status}", limit=200)
        if response.status in (400, 403):
            raise LoginInputError(
                f"{WHAT} rejected that code ({detail}); it may have expired or been used. "
                "Open the link again and authorize."
            )
        raise AuthError(f"{WHAT} refused the login ({detail}). Start the login again.")
    key = data.get("key")
    if not isinstance(key, str) or not key:
        raise NetworkError(f"{WHAT}'s answer had no API key; nothing was saved. Start the login again.")
    if not is_token_shaped(key):
        raise NetworkError(f"{WHAT}'s answer had a key with spaces or control characters; try again.")
    return oauth_entry(None, access=key, refresh="", expires=NEVER_EXPIRES_MS)


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> AuthCodeSpec:
    """Loopback on any free port with an unguessable path, raised with a paste; 5 minutes."""
    import uuid

    from app.flows.auth_code import AuthCodeSpec

    def url(redirect_uri: str, pkce: Pkce) -> str:
        return authorize_url(endpoints, callback_url=redirect_uri, challenge=pkce.challenge)

    async def exchange(
        client: httpx.AsyncClient, code: str, pkce: Pkce, redirect_uri: str, now_ms: int
    ) -> dict[str, Any]:
        return await exchange_code(client, endpoints, code=code, verifier=pkce.verifier)

    return AuthCodeSpec(
        provider=WHAT,
        title=f"Log in to {NAME}",
        authorize_url=url,
        exchange=exchange,
        port=endpoints.callback_port,
        path=f"/oauth/callback/{uuid.uuid4()}",
        redirect_host="127.0.0.1",
        fixed_port=True,
        bind_required=True,  # as pi: without the listener there is no callback URL to give
        check_state=False,  # the path is the secret
        timeout_s=LOGIN_TIMEOUT_S,
        waiting="Waiting for the browser… or paste the address it ends on (or its code) below.",
        paste_only="After you authorize, copy the address the browser ends on and paste it below.",
        placeholder="Paste the redirect URL, code=…, or the code",
    )


async def refresh(
    client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any], *, now_ms: int
) -> dict[str, Any]:
    """Nothing to do: the key never expires (pi returns the entry unchanged)."""
    return dict(entry)


# The token, or a stored API key, as Bearer.
auth_headers = bearer


def api_base(endpoints: Endpoints, entry: Mapping[str, Any]) -> str:
    """Where API requests go (``base_url`` of an httpx client)."""
    return endpoints.api


def status_rows(endpoints: Endpoints, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Nothing beyond the account and expiry ("does not expire") every provider shows."""
    return []


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> CallResult:
    """One real request (``GET /api/v1/key``: what the key may do)."""
    data = await authorized_field(
        client,
        f"{endpoints.api}/key",
        what=WHAT,
        headers={**auth_headers(endpoints, entry), "Accept": "application/json"},
        kind=dict,
        failed="The test call failed",
        credential="the key",
        advice="; it was deleted or disabled. Log in again.",
    )
    limit = data.get("limit")
    shown = "no credit limit" if limit is None else f"credit limit {for_display(limit, limit=20)}"
    return CallResult(f"OK: {WHAT} accepts the key ({shown}).")


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
usage_from_headers = check_answer = offers = use_offer = check_options = request_headers = None


# -- subscription usage (PROVIDERS.md §11) --------------------------------------------------


async def usage(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> Usage:
    """``GET /api/v1/key`` (the key's limit) and ``/api/v1/credits`` (the account's balance).

    Either may be forbidden for a key type (403): that part is left out.
    """
    from app.providers import usage_fields as f

    headers = auth_headers(endpoints, entry)
    key = await f.get_usage_json(
        client, f"{endpoints.api}/key", what=WHAT, headers=headers, forbidden_ok=True
    )
    credits = await f.get_usage_json(
        client, f"{endpoints.api}/credits", what=WHAT, headers=headers, forbidden_ok=True
    )
    data, account = f.obj(key, "data"), f.obj(credits, "data")
    windows = []
    used = f.used_percent(data.get("usage"), data.get("limit"))
    if used is not None:
        windows.append(UsageWindow("key limit", used, None))
    facts: dict[str, float] = {}
    for name in ("limit", "limit_remaining", "usage", "usage_daily", "usage_weekly", "usage_monthly"):
        value = f.number(data.get(name))
        if value is not None:
            facts[f"key_{name}"] = value
    total, spent = f.number(account.get("total_credits")), f.number(account.get("total_usage"))
    extra = None
    if total is not None and spent is not None:
        facts |= {"total_credits": total, "total_usage": spent, "balance": total - spent}
        extra = {"Credits": f"${total - spent:.2f} left of ${total:.2f}"}
    return Usage(windows=tuple(windows), credits=facts or None, extra=extra)
