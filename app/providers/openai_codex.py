"""OpenAI Codex (ChatGPT Plus/Pro): browser (PKCE, loopback 1455) or device code; JWT account id.

Methods: "browser" (listener on port 1455 only, shared with the Codex CLI: when it is taken the
login says so and takes a paste of the redirect URL) and "device_code" (Codex's own device API,
ending in an authorization code that is exchanged like the browser's). The stored entry is pi's
``{type, access, refresh, expires, accountId}``; ``accountId`` comes from the access token's
``https://api.openai.com/auth`` claim, and a token without it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

from app.endpoints import callback_port, url_override
from app.errors import AuthError, DeviceFlowError, NetworkError, RefreshError
from app.flows.oauth import TokenEndpoint, code_grant, refresh_grant
from app.http import authorized_answer, models_available, oauth_error, request_json
from app.providers.base import CallResult, Usage, UsageWindow, stored_account
from app.sanitize import finite_number, for_display, is_token_shaped
from app.tokens import oauth_entry

if TYPE_CHECKING:
    import httpx

    from app.flows.auth_code import AuthCodeSpec
    from app.flows.device import DeviceCode, DeviceSpec, PollAnswer
    from app.flows.pkce import Pkce

NAME = "OpenAI (ChatGPT Plus/Pro)"
WHAT = "OpenAI"
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
SCOPE = "openid profile email offline_access"
AUTH_URL = "https://auth.openai.com"
API_URL = "https://chatgpt.com/backend-api"
CALLBACK_PORT = 1455
CALLBACK_PATH = "/auth/callback"
AUTH_CLAIM = "https://api.openai.com/auth"
ORIGINATOR = "pi"
PI_VERSION = "1.6.0"
DEVICE_LIFETIME_S = 900.0
# The device API spells "not approved yet" its own way (and as HTTP 403/404).
DEVICE_PENDING = "deviceauth_authorization_pending"
# OpenAI's codes for a refresh token that will never work again.
DEAD_REFRESH = {"invalid_grant", "refresh_token_expired", "refresh_token_reused", "refresh_token_invalidated"}


class Endpoints(NamedTuple):
    """The ``PI_TUI_OPENAI_*`` overrides; ``callback_port`` None: paste only."""

    auth: str = AUTH_URL
    api: str = API_URL
    callback_port: int | None = CALLBACK_PORT

    @property
    def device_page(self) -> str:
        """Where the user enters the device code."""
        return f"{self.auth}/codex/device"

    @property
    def device_redirect(self) -> str:
        """The redirect_uri of the device flow's exchange."""
        return f"{self.auth}/deviceauth/callback"


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the overrides from ``env``; ConfigError names a bad one."""
    return Endpoints(
        auth=url_override(env, "PI_TUI_OPENAI_AUTH_URL", AUTH_URL),
        api=url_override(env, "PI_TUI_OPENAI_CODEX_API_URL", API_URL),
        callback_port=callback_port(env, CALLBACK_PORT),
    )


# -- tokens ----------------------------------------------------------------------------


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT (unverified: it only tells us the account); {} when it is not one."""
    import base64
    import json

    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}


def account_id(token: str) -> str | None:
    """``chatgpt_account_id`` from the access token's auth claim, or None."""
    claim = jwt_claims(token).get(AUTH_CLAIM)
    value = claim.get("chatgpt_account_id") if isinstance(claim, dict) else None
    return value if isinstance(value, str) and value and is_token_shaped(value) else None


def entry_from_tokens(data: Any, previous: Mapping[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """pi's entry: access, refresh and a numeric expires_in are required; no expiry buffer."""
    data = data if isinstance(data, dict) else {}
    access, refresh = data.get("access_token"), data.get("refresh_token")
    for name, value in (("an access token", access), ("a refresh token", refresh)):
        if not isinstance(value, str) or not value:
            raise NetworkError(
                f"{WHAT}'s answer had no {name.partition(' ')[2]}; nothing was saved. Try again."
            )
        if not is_token_shaped(value):
            raise NetworkError(f"{WHAT}'s answer had {name} with spaces or control characters; try again.")
    expires_in = data.get("expires_in")
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
        or finite_number(expires_in) is None
    ):
        raise NetworkError(
            f"{WHAT}'s answer did not say when the token expires; nothing was saved. Try again."
        )
    account = account_id(str(access))
    if account is None:
        raise AuthError(
            f"{WHAT}'s token names no ChatGPT account (no chatgpt_account_id), so pi cannot use it; "
            "nothing was saved. Check that this account has ChatGPT Plus or Pro, then log in again."
        )
    entry = oauth_entry(
        previous, access=str(access), refresh=str(refresh), expires=now_ms + int(expires_in * 1000)
    )
    entry["accountId"] = account
    return entry


def token_endpoint(endpoints: Endpoints) -> TokenEndpoint:
    """OpenAI's token endpoint: forms; its dead-refresh codes, and any 401, end the login."""
    return TokenEndpoint(WHAT, f"{endpoints.auth}/oauth/token", CLIENT_ID, dead=frozenset(DEAD_REFRESH))


async def exchange_code(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    now_ms: int,
) -> dict[str, Any]:
    """Trade an authorization code for tokens (form body). Never retried: a code is single-use."""
    data = await code_grant(
        client,
        token_endpoint(endpoints),
        {"code": code, "code_verifier": verifier, "redirect_uri": redirect_uri},
    )
    return entry_from_tokens(data, None, now_ms)


async def refresh(
    client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any], *, now_ms: int
) -> dict[str, Any]:
    """New tokens for the stored refresh token; OpenAI always rotates it (a new one is required)."""
    return await refresh_grant(client, token_endpoint(endpoints), entry, now_ms=now_ms, to_entry=_refreshed)


def _refreshed(data: Any, previous: Mapping[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """A refresh answer without its tokens is a refusal (pi requires a new refresh token)."""
    try:
        return entry_from_tokens(data, previous, now_ms)
    except NetworkError as exc:
        raise RefreshError(str(exc)) from None


# -- login -----------------------------------------------------------------------------


def _state() -> str:
    import secrets

    return secrets.token_hex(16)


def authorize_url(endpoints: Endpoints, *, redirect_uri: str, challenge: str, state: str) -> str:
    """The browser link: pi's parameters, Codex's flags and ``originator=pi``."""
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
        "originator": ORIGINATOR,
    }
    return f"{endpoints.auth}/oauth/authorize?{urlencode(query)}"


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> AuthCodeSpec | DeviceSpec:
    """``browser`` (loopback on 1455 or a pasted redirect URL) or ``device_code``."""
    from app.flows.auth_code import AuthCodeSpec

    if method_id == "device_code":
        return _device_login(endpoints)

    def url(redirect_uri: str, pkce: Pkce) -> str:
        return authorize_url(endpoints, redirect_uri=redirect_uri, challenge=pkce.challenge, state=pkce.state)

    async def exchange(
        client: httpx.AsyncClient, code: str, pkce: Pkce, redirect_uri: str, now_ms: int
    ) -> dict[str, Any]:
        return await exchange_code(
            client, endpoints, code=code, verifier=pkce.verifier, redirect_uri=redirect_uri, now_ms=now_ms
        )

    return AuthCodeSpec(
        provider=WHAT,
        title=f"Log in to {NAME}",
        authorize_url=url,
        exchange=exchange,
        port=endpoints.callback_port,
        default_port=CALLBACK_PORT,
        path=CALLBACK_PATH,
        fixed_port=True,  # pi's redirect is registered for 1455 only: no ephemeral fallback
        make_state=_state,
        waiting="Waiting for the browser… or paste the address it ends on below.",
        paste_only=(
            "After you authorize, the browser ends on a localhost page that may not load: "
            "copy its whole address and paste it below."
        ),
        placeholder="Paste the redirect URL (http://localhost:1455/auth/callback?code=…)",
        port_taken=(
            "Port {port} is in use (the Codex CLI uses it too), so the browser cannot come back to "
            "pi-tui by itself."
        ),
    )


def _interval(value: object) -> float:
    """The poll interval: a number or a numeric string, else DeviceFlowError."""
    seconds = finite_number(value) if isinstance(value, int | float | str) else None
    if seconds is None or seconds < 0:
        shown = for_display(value, limit=40)
        raise DeviceFlowError(f"{WHAT} sent a poll interval that is not a number ({shown!r}); start again.")
    return max(1.0, seconds or 5.0)


def _device_login(endpoints: Endpoints) -> DeviceSpec:
    from app.flows.device import DeviceCode, DeviceSpec, PollAnswer, clean_user_code, clean_verification_uri

    async def request_code(client: httpx.AsyncClient) -> DeviceCode:
        response = await request_json(
            client,
            "POST",
            f"{endpoints.auth}/api/accounts/deviceauth/usercode",
            what=WHAT,
            json={"client_id": CLIENT_ID},
            headers={"Accept": "application/json"},
        )
        if response.status == 404:
            raise DeviceFlowError(
                f"{WHAT}'s device code login is not enabled for this server (HTTP 404); "
                "use the Browser method instead (ctrl+o)."
            )
        error, message = oauth_error(response.data)
        if response.status >= 400 or error:
            detail = for_display(message or error or f"HTTP {response.status}", limit=200)
            raise DeviceFlowError(f"{WHAT} refused the device login ({detail}); start again.")
        data = response.data if isinstance(response.data, dict) else {}
        device_auth_id = data.get("device_auth_id")
        if not isinstance(device_auth_id, str) or not is_token_shaped(device_auth_id):
            raise DeviceFlowError(f"{WHAT}'s answer had no device login id; start again.")
        return DeviceCode(
            device_code=device_auth_id,
            user_code=clean_user_code(data.get("user_code"), server=WHAT),
            verification_uri=clean_verification_uri(endpoints.device_page, server=WHAT),
            expires_in=DEVICE_LIFETIME_S,
            interval=_interval(data.get("interval", 5)),
            wait_first=False,
        )

    async def poll(client: httpx.AsyncClient, code: DeviceCode) -> PollAnswer:
        response = await request_json(
            client,
            "POST",
            f"{endpoints.auth}/api/accounts/deviceauth/token",
            what=WHAT,
            json={"device_auth_id": code.device_code, "user_code": code.user_code},
            headers={"Accept": "application/json"},
        )
        data = response.data if isinstance(response.data, dict) else {}
        error, message = oauth_error(data)
        if response.status in (403, 404) or error == DEVICE_PENDING:
            return PollAnswer(error="authorization_pending")
        if error or response.status >= 400:
            return PollAnswer(error=error or f"HTTP {response.status}", description=message)
        auth_code, verifier = data.get("authorization_code"), data.get("code_verifier")
        if not (is_token_shaped(auth_code) and is_token_shaped(verifier)):
            return PollAnswer(error="no_code", description="the approval carried no authorization code")
        return PollAnswer(approved=True, data={"code": auth_code, "verifier": verifier})

    async def finish(
        client: httpx.AsyncClient, answer: PollAnswer, now_ms: int
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        entry = await exchange_code(
            client,
            endpoints,
            code=str(answer.data["code"]),
            verifier=str(answer.data["verifier"]),
            redirect_uri=endpoints.device_redirect,
            now_ms=now_ms,
        )
        return entry, ()

    return DeviceSpec(
        provider=WHAT,
        title=f"Log in to {NAME}",
        request_code=request_code,
        poll=poll,
        finish=finish,
    )


# -- requests --------------------------------------------------------------------------


def user_agent() -> str:
    """pi's User-Agent shape: ``pi/1.6.0 (linux; python/3.11.9; x64)``."""
    import platform
    import sys

    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64"}.get(
        platform.machine().lower(), platform.machine()
    )
    return f"pi/{PI_VERSION} ({sys.platform}; python/{platform.python_version()}; {arch})"


def auth_headers(endpoints: Endpoints, entry: Mapping[str, Any]) -> dict[str, str]:
    """Bearer, the account id re-read from the token, ``originator: pi`` and pi's User-Agent."""
    access = str(entry["access"])
    headers = {"Authorization": f"Bearer {access}", "originator": ORIGINATOR, "User-Agent": user_agent()}
    account = account_id(access)
    if account is not None:
        headers["chatgpt-account-id"] = account
    return headers


def api_base(endpoints: Endpoints, entry: Mapping[str, Any]) -> str:
    """Where Codex API requests go (``base_url`` of an httpx client)."""
    return endpoints.api


def _masked_account(value: str) -> str:
    return f"{value[:5]}…{value[-4:]}" if len(value) >= 12 else "…"


def status_rows(endpoints: Endpoints, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ChatGPT account id, masked in part."""
    account = entry.get("accountId")
    if not isinstance(account, str) or not account:
        return []
    return [("ChatGPT account", _masked_account(for_display(account, limit=100)))]


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> CallResult:
    """One real request (the Codex model list); e.g. "OK: 2 Codex models available.", with the
    answer's headers (they carry the rate-limit windows)."""
    models, headers = await authorized_answer(
        client,
        f"{endpoints.api}/codex/models",
        what=WHAT,
        headers={**auth_headers(endpoints, entry), "Accept": "application/json"},
        key="models",
        failed="The test call failed",
    )
    return CallResult(models_available(len(models), "Codex "), headers)


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
check_answer = offers = use_offer = check_options = request_headers = None


# -- subscription usage (PROVIDERS.md §11) --------------------------------------------------


async def usage(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> Usage:
    """``GET {api}/wham/usage``: the plan, the primary (5 h) and secondary (weekly) windows, credits."""
    import time

    from app.providers import usage_fields as f

    url = f"{endpoints.api}/wham/usage"
    data = await f.get_usage_json(client, url, what=WHAT, headers=auth_headers(endpoints, entry))
    limits = f.obj(data, "rate_limit")
    windows = []
    for key, fallback in (("primary_window", "primary"), ("secondary_window", "secondary")):
        window = f.obj(limits, key)
        if not window:
            continue
        resets = f.epoch_ms(window.get("reset_at"))
        after = f.number(window.get("reset_after_seconds"))
        if resets is None and after is not None and 0 <= after < 400 * 86_400:
            resets = int((time.time() + after) * 1000)
        used = f.percent(window.get("used_percent"))
        if used is not None or resets is not None:
            windows.append(
                UsageWindow(f.window_name(window.get("limit_window_seconds"), fallback), used, resets)
            )
    notes = ("limit reached",) if limits.get("limit_reached") is True else ()
    # Credits only when the account has some (most plans answer has_credits false, balance "0").
    credits = f.obj(data, "credits")
    shown_credits: dict[str, Any] = {}
    if credits.get("unlimited") is True:
        shown_credits["unlimited"] = True
    balance = f.number(credits.get("balance"))
    if credits.get("has_credits") is True and balance is not None:
        shown_credits["balance"] = balance
    plan = f.text(data.get("plan_type")) if isinstance(data, dict) else None
    return Usage(windows=tuple(windows), plan=plan, credits=shown_credits or None, notes=notes)


# Every Codex backend answer carries the primary (5 h) and secondary (weekly) windows.
HEADER_WINDOWS = (("primary", "x-codex-primary-"), ("secondary", "x-codex-secondary-"))


def usage_from_headers(headers: Mapping[str, str]) -> Usage | None:
    """The windows of ``x-codex-{primary,secondary}-*`` headers (``-used-percent`` 0–100,
    ``-reset-at`` epoch seconds, ``-window-minutes`` for the name), or None. A window at 100 %
    is the full answer's note "limit reached"."""
    from app.providers import usage_fields as f

    windows = []
    for fallback, prefix in HEADER_WINDOWS:
        used = f.percent(headers.get(f"{prefix}used-percent"))
        resets = f.epoch_ms(headers.get(f"{prefix}reset-at"))
        if used is None and resets is None:
            continue
        minutes = f.number(headers.get(f"{prefix}window-minutes"))
        name = f.window_name(None if minutes is None else minutes * 60, fallback)
        windows.append(UsageWindow(name, used, resets))
    if not windows:
        return None
    full = any(w.used_percent is not None and w.used_percent >= 100.0 for w in windows)
    return Usage(windows=tuple(windows), notes=("limit reached",) if full else ())
