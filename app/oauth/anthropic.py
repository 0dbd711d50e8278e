"""Anthropic (Claude Pro/Max): Authorization Code + PKCE, pasted-code parsing, refresh, test call."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from app.errors import AuthError, LoginInputError, NetworkError, RefreshError
from app.oauth.endpoints import Endpoints
from app.oauth.expiry import current_ms, expires_at_ms
from app.oauth.http import oauth_error, request_json
from app.sanitize import for_display, is_token_shaped, strip_escapes

PROVIDER_ID = "anthropic"
DISPLAY_NAME = "Anthropic (Claude Pro/Max)"
CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
SCOPES = (
    "org:create_api_key user:profile user:inference user:sessions:claude_code "
    "user:mcp_servers user:file_upload"
)
CALLBACK_PATH = "/callback"
API_VERSION = "2023-06-01"
API_BETA = "claude-code-20250219,oauth-2025-04-20"
SYSTEM_PROMPT = "You are Claude Code, Anthropic's official CLI for Claude."
TEST_MODEL = "claude-haiku-4-5"
WHAT = "Anthropic"

# Codes are base64url-ish; anything else was not copied from the browser.
_CODE_RE = re.compile(r"[A-Za-z0-9._~\-]{1,2048}")
_PASTE_MARKERS = re.compile(r"\x1b?\[20[01]~")


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
    return with_query(endpoints.anthropic_authorize, query)


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to the query it may already have (an override's ``?foo=1``)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*kept, *params.items()])))


def parse_pasted(text: str, expected_state: str) -> str:
    """Return the authorization code from whatever the user pasted.

    Accepts ``code#state``, the whole redirect URL, a ``code=…&state=…`` query, or a bare
    code. Raises LoginInputError with a sentence for empty input, a provider error, a state
    from another login attempt, or text that is not a code.
    """
    cleaned = "".join(strip_escapes(_PASTE_MARKERS.sub("", text)).split())
    if not cleaned:
        raise LoginInputError(
            "Nothing was pasted. Authorize in the browser, copy the code it shows, and paste it here."
        )
    code, states, error = _split_pasted(cleaned)
    if error:
        raise LoginInputError(
            f"Anthropic did not authorize the login ({for_display(error, limit=200)}). "
            "Open the link again and choose Authorize."
        )
    expected = expected_state.encode("ascii")
    if not all(secrets.compare_digest(state.encode("utf-8", "replace"), expected) for state in states):
        raise LoginInputError(
            "That code belongs to a different login attempt (its state does not match). "
            "Open the link shown here, authorize, and paste the new code."
        )
    if not code:
        raise LoginInputError(
            "No authorization code found in what you pasted. Paste the code the browser shows "
            "after you authorize (it looks like abc123…#xyz…)."
        )
    if not _CODE_RE.fullmatch(code):
        raise LoginInputError(
            "That doesn't look like an authorization code. Copy the whole code from the "
            "browser page and paste it again."
        )
    return code


def _split_pasted(text: str) -> tuple[str, list[str], str | None]:
    """(code, every state in the paste, error) from a pasted string, without judging them."""
    if text.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(text)
        except ValueError:  # "http://[…", or a host with a full-width "＃": not a redirect URL
            return text, [], None
        return _from_params(_query(parts.query), _query(parts.fragment))
    if "code=" in text or "error=" in text:
        return _from_params(_query(text.lstrip("?#")))
    code, sep, state = text.partition("#")
    return code, ([state] if sep else []), None


def _query(text: str) -> dict[str, list[str]]:
    # Blank values are kept: "state=" is a state, and not the expected one.
    return parse_qs(text, keep_blank_values=True)


def _from_params(*sources: dict[str, list[str]]) -> tuple[str, list[str], str | None]:
    params: dict[str, list[str]] = {}
    for source in sources:
        for name, values in source.items():
            params.setdefault(name, []).extend(values)

    def first(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    error = first("error")
    if error:
        description = first("error_description")
        return "", [], f"{error}: {description}" if description else error
    code, sep, state_in_code = (first("code") or "").partition("#")
    # Every state counts: a paste that also carries another attempt's state is not this login's.
    return code, params.get("state", []) + ([state_in_code] if sep else []), None


def _entry_from_token_response(
    data: Any, *, now_ms: int, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build pi's stored entry from a token response; keeps the old refresh token if none came."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("access_token"), str)
        or not data["access_token"]
    ):
        raise NetworkError("Anthropic's answer had no access token; try again in a moment.")
    refresh = data.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        if previous is None:
            raise NetworkError("Anthropic's answer had no refresh token; try logging in again.")
        refresh = previous["refresh"]
    if not (is_token_shaped(data["access_token"]) and is_token_shaped(refresh)):
        raise NetworkError(
            "Anthropic's answer had a token with spaces or control characters in it; try again in a moment."
        )
    entry: dict[str, Any] = dict(previous or {})
    entry.update(
        type="oauth",
        refresh=refresh,
        access=data["access_token"],
        expires=expires_at_ms(data.get("expires_in"), now_ms=now_ms),
    )
    account = data.get("account")
    if isinstance(account, dict) and isinstance(account.get("email_address"), str):
        entry["email"] = for_display(account["email_address"], limit=200)
    return entry


async def _token_request(
    client: httpx.AsyncClient, endpoints: Endpoints, body: dict[str, str]
) -> tuple[Any, str, str]:
    """POST ``body`` to the token URL; ``(data, error, detail)`` where ``error`` is "" on success."""
    response = await request_json(
        client,
        "POST",
        endpoints.anthropic_token,
        what=WHAT,
        json={"client_id": CLIENT_ID, **body},
        headers={"Accept": "application/json"},
    )
    error, description = oauth_error(response.data)
    if response.status >= 400 and not error:
        error = f"HTTP {response.status}"
    return response.data, error, for_display(description or error, limit=200)


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
    data, error, detail = await _token_request(
        client,
        endpoints,
        {
            "grant_type": "authorization_code",
            "code": code,
            "state": state,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
    )
    if error == "invalid_grant":
        # Anthropic says the same for a code that never existed, was used, or expired: don't guess.
        raise LoginInputError(
            f"Anthropic did not accept that code ({detail}). Check that you pasted the whole "
            "code the page showed; if you did, open the link again, authorize, and paste the new one."
        )
    if error:
        raise AuthError(f"Anthropic refused the login ({detail}). Start the login again.")
    return _entry_from_token_response(data, now_ms=current_ms() if now_ms is None else now_ms)


async def refresh(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    entry: dict[str, Any],
    *,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Refresh ``entry``; returns the new entry. Raises RefreshError (``revoked`` on invalid_grant)."""
    data, error, detail = await _token_request(
        client, endpoints, {"grant_type": "refresh_token", "refresh_token": entry["refresh"]}
    )
    if error == "invalid_grant":
        raise RefreshError(
            "Anthropic no longer accepts this login (it was revoked or replaced). Log in again to continue.",
            revoked=True,
        )
    if error:
        raise RefreshError(f"Anthropic refused the refresh ({detail}); try again later.")
    return _entry_from_token_response(data, now_ms=current_ms() if now_ms is None else now_ms, previous=entry)


def api_key_headers(key: str) -> dict[str, str]:
    """Headers for an Anthropic API call made with an API key (``x-api-key``, no OAuth beta)."""
    return {
        "x-api-key": key,
        "anthropic-version": API_VERSION,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def api_headers(access: str) -> dict[str, str]:
    """Headers for an Anthropic API call made with an OAuth token."""
    return {
        "Authorization": f"Bearer {access}",
        "anthropic-version": API_VERSION,
        "anthropic-beta": API_BETA,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


async def test_call(
    client: httpx.AsyncClient, endpoints: Endpoints, access: str, *, api_key: bool = False
) -> str:
    """Make one real Messages API call; return a one-line success sentence or raise AuthError.

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
        f"{endpoints.anthropic_api}/v1/messages",
        what=WHAT,
        json=body,
        headers=api_key_headers(access) if api_key else api_headers(access),
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
    return f"OK: {for_display(model, limit=80)} answered the test call."


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> str:
    """The provider-module form of :func:`test_call` (the service passes the whole entry).

    An API key comes as pi stores one: ``{"type": "api_key", "key": …}``.
    """
    if entry.get("type") == "api_key":
        return await test_call(client, endpoints, str(entry["key"]), api_key=True)
    return await test_call(client, endpoints, entry["access"])
