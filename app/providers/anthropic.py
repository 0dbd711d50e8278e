"""Anthropic (Claude Pro/Max): two auth-code methods, refresh, request headers, test call.

Methods: "browser" (loopback listener on 53692, raced with a paste) and "copy_code" (the
redirect goes to Anthropic's page, which shows ``code#state`` to paste). ``state`` is always
pi-tui's own random value, never the PKCE verifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app.endpoints import callback_port, url_override
from app.errors import AuthError
from app.expiry import current_ms
from app.flows.oauth import TokenEndpoint, code_grant, refresh_grant
from app.http import oauth_error, request_json
from app.providers.base import CallResult, Usage, UsageWindow, stored_account
from app.sanitize import for_display, is_token_shaped
from app.tokens import entry_from_token_response

if TYPE_CHECKING:
    import httpx

    from app.flows.auth_code import AuthCodeSpec
    from app.flows.pkce import Pkce

NAME = "Anthropic (Claude Pro/Max)"
CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
SCOPES = (
    "org:create_api_key user:profile user:inference user:sessions:claude_code "
    "user:mcp_servers user:file_upload"
)
AUTHORIZE_URL = "https://claude.ai/oauth/authorize"
TOKEN_URL = "https://platform.claude.com/v1/oauth/token"
API_URL = "https://api.anthropic.com"
CALLBACK_PORT = 53692
CALLBACK_PATH = "/callback"
COPY_CODE_REDIRECT = "https://platform.claude.com/oauth/code/callback"
API_VERSION = "2023-06-01"
API_BETA = "claude-code-20250219,oauth-2025-04-20"
SYSTEM_PROMPT = "You are Claude Code, Anthropic's official CLI for Claude."
TEST_MODEL = "claude-haiku-4-5"
WHAT = "Anthropic"
# An API key (console.anthropic.com) is sent as x-api-key; OAuth tokens carry this marker.
OAUTH_MARKER = "sk-ant-oat"


class Endpoints(NamedTuple):
    """Anthropic's URLs after the ``PI_TUI_ANTHROPIC_*`` overrides; ``callback_port`` None: paste only."""

    authorize: str = AUTHORIZE_URL
    token: str = TOKEN_URL
    api: str = API_URL
    callback_port: int | None = CALLBACK_PORT


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the overrides from ``env``; ConfigError names a bad one."""
    return Endpoints(
        authorize=url_override(env, "PI_TUI_ANTHROPIC_AUTHORIZE_URL", AUTHORIZE_URL),
        token=url_override(env, "PI_TUI_ANTHROPIC_TOKEN_URL", TOKEN_URL),
        api=url_override(env, "PI_TUI_ANTHROPIC_API_URL", API_URL),
        callback_port=callback_port(env, CALLBACK_PORT),
    )


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> AuthCodeSpec:
    """The flow for ``browser`` (loopback + paste) or ``copy_code`` (paste from Anthropic's page)."""
    from app.flows.auth_code import AuthCodeSpec

    def url(redirect_uri: str, pkce: Pkce) -> str:
        return authorize_url(endpoints, redirect_uri=redirect_uri, challenge=pkce.challenge, state=pkce.state)

    async def exchange(
        client: httpx.AsyncClient, code: str, pkce: Pkce, redirect_uri: str, now_ms: int
    ) -> dict[str, Any]:
        return await exchange_code(
            client,
            endpoints,
            code=code,
            state=pkce.state,
            verifier=pkce.verifier,
            redirect_uri=redirect_uri,
            now_ms=now_ms,
        )

    title = f"Log in to {NAME}"
    if method_id == "copy_code":
        return AuthCodeSpec(
            provider=WHAT,
            title=title,
            authorize_url=url,
            exchange=exchange,
            fixed_redirect=COPY_CODE_REDIRECT,
            instructions="Open this link (on any machine) and choose Authorize:",
            paste_only="Anthropic's page then shows a code: copy it and paste it below.",
            placeholder="Paste the code Anthropic shows (code#state)",
        )
    return AuthCodeSpec(
        provider=WHAT,
        title=title,
        authorize_url=url,
        exchange=exchange,
        port=endpoints.callback_port,
        default_port=CALLBACK_PORT,
        path=CALLBACK_PATH,
    )


def redirect_uri_for(port: int) -> str:
    """The redirect URI for a loopback listener on ``port``."""
    return f"http://localhost:{port}{CALLBACK_PATH}"


def authorize_url(endpoints: Endpoints, *, redirect_uri: str, challenge: str, state: str) -> str:
    """The URL the user opens to authorize pi-tui."""
    query = {
        "code": "true",
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
    }
    return with_query(endpoints.authorize, query)


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to the query it may already have (an override's ``?foo=1``)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*kept, *params.items()])))


def _entry_from_token_response(data: Any, previous: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """pi's entry for a token response, plus the account's email when Anthropic names it."""
    entry = entry_from_token_response(data, what=WHAT, now_ms=now_ms, previous=previous)
    account = data.get("account")
    if isinstance(account, dict) and isinstance(account.get("email_address"), str):
        entry["email"] = for_display(account["email_address"], limit=200)
    return entry


async def exchange_code(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    *,
    code: str,
    state: str,
    verifier: str,
    redirect_uri: str,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Trade an authorization code for tokens. Never retried: a code is single-use."""
    data = await code_grant(
        client,
        token_endpoint(endpoints),
        {"code": code, "state": state, "redirect_uri": redirect_uri, "code_verifier": verifier},
        # Anthropic says the same for a code that never existed, was used, or expired: don't guess.
        rejected="Anthropic did not accept that code ({detail}). Check that you pasted the whole "
        "code the page showed; if you did, open the link again, authorize, and paste the new one.",
    )
    return _entry_from_token_response(data, None, current_ms() if now_ms is None else now_ms)


async def refresh(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    entry: dict[str, Any],
    *,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Refresh ``entry``; returns the new entry. Raises RefreshError (``revoked`` on invalid_grant)."""
    now = current_ms() if now_ms is None else now_ms
    return await refresh_grant(
        client, token_endpoint(endpoints), entry, now_ms=now, to_entry=_entry_from_token_response
    )


def token_endpoint(endpoints: Endpoints) -> TokenEndpoint:
    """Anthropic's token endpoint: JSON bodies; invalid_grant means the login is gone."""
    return TokenEndpoint(WHAT, endpoints.token, CLIENT_ID, json_body=True, dead_status=frozenset())


def api_key_headers(key: str) -> dict[str, str]:
    """Headers for an Anthropic API call made with an API key (``x-api-key``, no OAuth beta)."""
    return {"x-api-key": key, "anthropic-version": API_VERSION}


def api_headers(access: str, *, api_key: bool = False) -> dict[str, str]:
    """Headers for an Anthropic API call: an OAuth token as Bearer with the betas, an API key as x-api-key.

    ``api_key``: the caller knows it is one (e.g. from ``ANTHROPIC_API_KEY``), whatever it looks like.
    """
    if api_key or OAUTH_MARKER not in access:
        return api_key_headers(access)
    return {
        "Authorization": f"Bearer {access}",
        "anthropic-version": API_VERSION,
        "anthropic-beta": API_BETA,
        "user-agent": "claude-cli/2.1.322",
        "x-app": "cli",
        "anthropic-dangerous-direct-browser-access": "true",
    }


def auth_headers(endpoints: Endpoints, entry: Mapping[str, Any]) -> dict[str, str]:
    """What :class:`app.auth.PiAuth` sets on every request."""
    if entry.get("type") == "api_key":
        return api_key_headers(str(entry["key"]))
    return api_headers(str(entry["access"]))


def api_base(endpoints: Endpoints, entry: Mapping[str, Any]) -> str:
    """Where API requests go (``base_url`` of an httpx client)."""
    return endpoints.api


def status_rows(endpoints: Endpoints, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Nothing beyond the account and expiry every provider shows."""
    return []


async def test_call(
    client: httpx.AsyncClient, endpoints: Endpoints, access: str, *, api_key: bool = False
) -> CallResult:
    """Make one real Messages API call; return a one-line success sentence (and the answer's
    headers, which carry the rate-limit state) or raise AuthError.

    An OAuth token goes as Bearer with Claude Code's headers and system prompt; an API key
    (``api_key``) the way Anthropic wants one: in ``x-api-key``, nothing else.
    """
    if not is_token_shaped(access):
        # httpx cannot put such a token in a header; it comes from an edited file or variable.
        raise AuthError(
            "The token has spaces, control or non-ASCII characters, so it cannot be sent. Check "
            "ANTHROPIC_OAUTH_TOKEN or ANTHROPIC_API_KEY if one is set, or log in again."
        )
    body = {
        "model": TEST_MODEL,
        "max_tokens": 1,
        "system": [{"type": "text", "text": SYSTEM_PROMPT}],
        "messages": [{"role": "user", "content": "Hi"}],
    }
    if api_key:
        del body["system"]
    response = await request_json(
        client,
        "POST",
        f"{endpoints.api}/v1/messages",
        what=WHAT,
        json=body,
        headers={
            **api_headers(access, api_key=api_key),
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    error, description = oauth_error(response.data)
    if response.status >= 400 or error:
        detail = for_display(description or error or "unknown error", limit=200)
        if response.status in (401, 403) and api_key:
            raise AuthError(
                f"Anthropic rejected the API key (HTTP {response.status}: {detail}). An API key "
                "cannot be refreshed: check it, or replace it with a working one."
            )
        if response.status in (401, 403):
            raise AuthError(
                f"Anthropic rejected the token (HTTP {response.status}: {detail}). "
                "Press r to refresh, or log in again."
            )
        raise AuthError(f"The test call failed (HTTP {response.status}: {detail}).")
    model = response.data.get("model", TEST_MODEL) if isinstance(response.data, dict) else TEST_MODEL
    return CallResult(f"OK: {for_display(model, limit=80)} answered the test call.", response.headers)


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> CallResult:
    """The provider-module form of :func:`test_call` (the service passes the whole entry).

    An API key comes as pi stores one: ``{"type": "api_key", "key": …}``.
    """
    if entry.get("type") == "api_key":
        return await test_call(client, endpoints, str(entry["key"]), api_key=True)
    return await test_call(client, endpoints, entry["access"])


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
check_answer = offers = use_offer = check_options = request_headers = None


# -- subscription usage (PROVIDERS.md §11) --------------------------------------------------

USAGE_BETA = "oauth-2025-04-20"
USAGE_WINDOWS = (
    ("five_hour", "5h"),
    ("seven_day", "7d"),
    ("seven_day_opus", "7d Opus"),
    ("seven_day_sonnet", "7d Sonnet"),
)


async def usage(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> Usage:
    """``GET {api}/api/oauth/usage``: the 5-hour and weekly windows, and extra usage (paid overage)."""
    from app.providers import usage_fields as f

    headers = {
        "Authorization": f"Bearer {entry['access']}",
        "anthropic-beta": USAGE_BETA,
        "user-agent": "claude-cli/2.1.322",
    }
    data = await f.get_usage_json(client, f"{endpoints.api}/api/oauth/usage", what=WHAT, headers=headers)
    windows = []
    for key, name in USAGE_WINDOWS:
        window = f.obj(data, key)
        used, resets = f.percent(window.get("utilization")), f.iso_ms(window.get("resets_at"))
        # A window not yet started (nothing used, no reset time) says nothing: left out.
        if resets is not None or (used is not None and used > 0):
            windows.append(UsageWindow(name, used, resets))
    extra = _extra_usage(f.obj(data, "extra_usage"))
    return Usage(windows=tuple(windows), extra=extra)


def _extra_usage(extra: Mapping[str, Any]) -> dict[str, str] | None:
    """ "on · $12.34 of $50.00 used this month (25%)" / "off": paid usage beyond the plan."""
    from app.providers import usage_fields as f

    enabled = extra.get("is_enabled")
    if not isinstance(enabled, bool):
        return None
    if not enabled:
        return {"Extra usage": "off"}
    used, limit = f.number(extra.get("used_credits")), f.number(extra.get("monthly_limit"))
    shown = "on"
    if used is not None and limit is not None:
        shown += f" · ${used / 100:.2f} of ${limit / 100:.2f} used this month"
    elif used is not None:
        shown += f" · ${used / 100:.2f} used this month"
    percent = f.percent(extra.get("utilization"))
    if percent is not None:
        shown += f" ({percent:.0f}%)"
    return {"Extra usage": shown}


# Every Messages API answer carries the subscription's unified rate-limit state.
UNIFIED = "anthropic-ratelimit-unified-"
HEADER_WINDOWS = ("5h", "7d")  # named as the usage answer's five_hour and seven_day windows


def usage_from_headers(headers: Mapping[str, str]) -> Usage | None:
    """The 5-hour and weekly windows from ``anthropic-ratelimit-unified-*`` headers, or None.

    ``-<window>-utilization`` is read as a fraction when it is at most 1.0 (the API sends
    fractions, ``0.61`` for 61 %), else as a percentage: ``1`` is 100 %, never 1 %, and a
    percentage below 1 % would read as more (a choice that favours the form the API sends).
    ``-<window>-reset`` is epoch seconds. ``-status: rejected`` is the note "limit reached".
    """
    from app.providers import usage_fields as f

    windows = []
    for name in HEADER_WINDOWS:
        used = f.number(headers.get(f"{UNIFIED}{name}-utilization"))
        if used is not None and used <= 1.0:
            used *= 100.0
        used = None if used is None else f.percent(used)
        resets = f.epoch_ms(headers.get(f"{UNIFIED}{name}-reset"))
        if used is not None or resets is not None:
            windows.append(UsageWindow(name, used, resets))
    if not windows:
        return None
    notes = ("limit reached",) if headers.get(f"{UNIFIED}status") == "rejected" else ()
    return Usage(windows=tuple(windows), notes=notes)
