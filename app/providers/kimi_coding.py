"""Kimi Code: RFC 8628 device login on auth.kimi.com, refresh with retries, Bearer requests.

Stored as pi stores it: ``{type, access, refresh, expires}`` with ``expires`` the real expiry
(no buffer). Every refresh rotates the refresh token. A refresh that meets a network error,
429 or 5xx is tried again after 1, 2 and 4 s, all within :data:`REFRESH_DEADLINE_S`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from app.endpoints import check_url, url_override
from app.errors import NetworkError, RefreshError
from app.flows.oauth import TokenEndpoint, refresh_grant
from app.http import JsonResponse, request_json
from app.providers import bearer
from app.providers.base import CallResult, Usage, UsageWindow, stored_account
from app.providers.openai_compatible import OpenAICompatibleApi
from app.sanitize import finite_number
from app.tokens import entry_from_token_response

if TYPE_CHECKING:
    import httpx

    from app.flows.device import DeviceSpec

NAME = "Kimi Code (subscription)"
WHAT = "Kimi Code"
CLIENT_ID = "17e5f671-d194-4dfb-9706-5516cb48c098"
AUTH_URL = "https://auth.kimi.com"
API_URL = "https://api.kimi.com/coding/v1"
# pi-tui's own variable first, then pi's two (same https-or-loopback rule for all three).
AUTH_VARIABLES = ("PI_TUI_KIMI_AUTH_URL", "KIMI_CODE_OAUTH_HOST", "KIMI_OAUTH_HOST")
ACCEPT = {"Accept": "application/json"}
# pi: every request 30 s; refresh retried after 1, 2, 4 s; the whole refresh bounded by
# resolve.js's 15 s. Read at call time, so tests can shrink them.
REQUEST_TIMEOUT_S = 30.0
RETRY_DELAYS_S: tuple[float, ...] = (1.0, 2.0, 4.0)
REFRESH_DEADLINE_S = 15.0
REVOKED = (
    "Kimi Code refresh unauthorized: the login was revoked or has expired. "
    "Log in again with `pi-tui login kimi-coding`."
)


def _log() -> Any:
    import logging  # not on the `pi-tui status` path, which reads this module's status rows

    return logging.getLogger("pi_tui.kimi")


class Endpoints(NamedTuple):
    """Kimi's auth host and API base after the overrides."""

    auth: str = AUTH_URL
    api: str = API_URL

    @property
    def device(self) -> str:
        """Device authorization."""
        return f"{self.auth}/api/oauth/device_authorization"

    @property
    def token(self) -> TokenEndpoint:
        """Polling and refresh."""
        return TokenEndpoint(
            WHAT,
            f"{self.auth}/api/oauth/token",
            CLIENT_ID,
            dead_status=frozenset({401, 403}),
            revoked=REVOKED,
        )


def endpoints(env: Mapping[str, str]) -> Endpoints:
    """Read the overrides from ``env``; ConfigError names a bad one."""
    auth = AUTH_URL
    for variable in AUTH_VARIABLES:
        value = env.get(variable)
        if value:
            auth = check_url(variable, value)
            break
    return Endpoints(auth=auth, api=url_override(env, "PI_TUI_KIMI_API_URL", API_URL))


# -- device login ----------------------------------------------------------------------


# pi's sentences for an expired or denied code; any other ends "Kimi Code stopped the login (…)".
DEVICE_ERRORS = {
    "expired_token": "Kimi Code device code expired. Please restart login.",
    "access_denied": "Kimi Code login was denied. Start again to retry.",
}


def to_entry(data: Any, previous: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """pi's entry: access, refresh and a positive ``expires_in`` are all required; no buffer."""
    lifetime = finite_number(data.get("expires_in")) if isinstance(data, dict) else None
    if lifetime is None or lifetime <= 0:
        raise NetworkError(f"{WHAT}'s answer did not say when the token expires; try logging in again.")
    return entry_from_token_response(
        data, what=WHAT, now_ms=now_ms, previous=previous, keep_refresh=False, buffer_ms=0
    )


def login(method_id: str, endpoints: Endpoints, answers: Mapping[str, str]) -> DeviceSpec:
    """The device flow (Kimi's only method): ``client_id`` only, no scope; pi requires both
    addresses and shows the complete one."""
    from app.flows.device import DeviceStart, standard_device_login

    start = DeviceStart(
        endpoints.device, WHAT, {"client_id": CLIENT_ID}, complete_required=True, deadline=REQUEST_TIMEOUT_S
    )
    return standard_device_login(
        title=f"Log in to {NAME}", start=start, token=endpoints.token, errors=DEVICE_ERRORS, to_entry=to_entry
    )


# -- refresh, requests, test -----------------------------------------------------------


def _retryable(error: NetworkError) -> bool:
    """Not reached at all, rate limited, or a server error: worth another try."""
    return error.status is None or error.status == 429 or error.status >= 500


async def _send_with_retries(
    client: httpx.AsyncClient, token: TokenEndpoint, body: dict[str, str]
) -> JsonResponse:
    """POST the refresh, trying again after each of :data:`RETRY_DELAYS_S` while time is left."""
    import asyncio
    import time

    deadline = time.monotonic() + REFRESH_DEADLINE_S
    delays = list(RETRY_DELAYS_S)
    attempts = 0
    while True:
        attempts += 1
        left = deadline - time.monotonic()
        try:
            return await request_json(
                client,
                "POST",
                token.url,
                what=WHAT,
                deadline=max(min(REQUEST_TIMEOUT_S, left), 0.001),
                data=body,
                headers=ACCEPT,
            )
        except NetworkError as exc:
            if exc.status in (401, 403):
                raise RefreshError(REVOKED, revoked=True) from None
            if not _retryable(exc) or not delays or time.monotonic() + delays[0] >= deadline:
                tried = f" (tried {attempts} times)" if attempts > 1 else ""
                raise NetworkError(f"{str(exc).rstrip('.')}{tried}.", status=exc.status) from None
            delay = delays.pop(0)
            _log().info("Kimi Code refresh failed (%s); trying again in %.3g s", exc, delay)
            await asyncio.sleep(delay)


async def refresh(
    client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any], *, now_ms: int
) -> dict[str, Any]:
    """A new access and refresh token (both required), retried on passing failures.

    RefreshError(revoked=True) on 401, 403 or invalid_grant; NetworkError once the retries
    are spent or the time is up. Never deletes anything.
    """
    return await refresh_grant(
        client, endpoints.token, entry, now_ms=now_ms, to_entry=to_entry, send=_send_with_retries
    )


# Bearer to the API base, the model list as the test call (app/providers/openai_compatible.py).
API = OpenAICompatibleApi(WHAT, API_URL)
auth_headers, api_base = bearer, API.api_base


def status_rows(endpoints: Endpoints, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The auth host and API base, each only when an override moved it."""
    auth = [] if endpoints.auth == AUTH_URL else [("Auth host", endpoints.auth)]
    return auth + API.status_rows(endpoints, entry)


async def test(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> CallResult:
    """One real request: the model list, within pi's 30 s; e.g. "OK: 1 model available"."""
    return await API.test(client, endpoints, entry, deadline=REQUEST_TIMEOUT_S)


# -- the contract's account and optional hooks (app/providers/base.py) -------------------

account = stored_account
usage_from_headers = check_answer = offers = use_offer = check_options = request_headers = None


# -- subscription usage (PROVIDERS.md §11) --------------------------------------------------

MINUTES = {"TIME_UNIT_MINUTE": 60, "TIME_UNIT_HOUR": 3600, "TIME_UNIT_DAY": 86_400, "TIME_UNIT_SECOND": 1}


async def usage(client: httpx.AsyncClient, endpoints: Endpoints, entry: dict[str, Any]) -> Usage:
    """``GET {api}/usages``: the 5-hour window (``limits``) and the weekly quota (``usage``).

    Numbers arrive as strings and times as ISO 8601.
    """
    from app.providers import usage_fields as f

    url = f"{endpoints.api}/usages"
    data = await f.get_usage_json(client, url, what=WHAT, headers=auth_headers(endpoints, entry))

    def window(name: str, detail: Any) -> UsageWindow | None:
        if not isinstance(detail, dict):
            return None
        used = f.used_percent(detail.get("used"), detail.get("limit"))
        if used is None:
            limit, remaining = f.number(detail.get("limit")), f.number(detail.get("remaining"))
            if limit is not None and remaining is not None:
                used = f.used_percent(limit - remaining, limit)
        resets = f.iso_ms(detail.get("resetTime"))
        return UsageWindow(name, used, resets) if used is not None or resets is not None else None

    windows = []
    limits = data.get("limits") if isinstance(data, dict) else None
    for limit in limits if isinstance(limits, list) else []:
        span = f.obj(limit, "window")
        seconds = None
        duration, unit = f.number(span.get("duration")), MINUTES.get(str(span.get("timeUnit")))
        if duration is not None and unit is not None:
            seconds = duration * unit
        found = window(f.window_name(seconds, "window"), f.obj(limit, "detail"))
        if found is not None:
            windows.append(found)
    weekly = window("week", f.obj(data, "usage"))
    if weekly is not None:
        windows.append(weekly)
    level = f.text(f.obj(data, "user").get("membershipLevel"))
    plan = level.removeprefix("LEVEL_").lower() if level else None
    return Usage(windows=tuple(windows), plan=plan)
