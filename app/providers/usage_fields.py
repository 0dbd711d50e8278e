"""Reading the providers' undocumented usage answers (PROVIDERS.md §11): every field optional.

The ``usage`` hooks share these: numbers that may arrive as strings, percentages kept within
0–100, times as ISO 8601 or epoch seconds, and the one GET that turns 401/403 into a sentence
and any other refusal into "not available" (``None``). A field of the wrong type is treated as
missing, never as an error: a changed answer costs the usage line, never the login's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.errors import AuthError
from app.http import request_json
from app.sanitize import finite_number, for_display

if TYPE_CHECKING:
    import httpx

DEADLINE_S = 20.0


def number(value: object) -> float | None:
    """A finite number (JSON number or numeric string), else None."""
    return finite_number(value)


def percent(value: object) -> float | None:
    """A number clamped to 0–100, else None."""
    found = finite_number(value)
    return None if found is None else min(100.0, max(0.0, found))


def used_percent(used: object, limit: object) -> float | None:
    """``used / limit`` as a percentage (None without a positive limit or a used amount)."""
    total, spent = finite_number(limit), finite_number(used)
    if total is None or spent is None or total <= 0:
        return None
    return min(100.0, max(0.0, spent * 100.0 / total))


def iso_ms(value: object) -> int | None:
    """Epoch ms from an ISO 8601 time or date (``Z`` or an offset; no zone counts as UTC)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    from datetime import UTC, datetime

    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return int(when.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        return None


def epoch_ms(seconds: object) -> int | None:
    """Epoch ms from epoch seconds (a plausible one: after 2001, before 2286), else None."""
    found = finite_number(seconds)
    if found is None or not 1e9 <= found < 1e10:
        return None
    return int(found * 1000)


def window_name(seconds: object, fallback: str) -> str:
    """``5h``, ``7d``, ``30m`` from a window's length in seconds; ``fallback`` if unusable."""
    found = finite_number(seconds)
    if found is None or found <= 0 or found > 366 * 86_400:
        return fallback
    whole = int(found)
    if whole % 86_400 == 0:
        return f"{whole // 86_400}d"
    if whole % 3600 == 0:
        return f"{whole // 3600}h"
    return f"{max(1, whole // 60)}m"


def text(value: object, limit: int = 40) -> str | None:
    """A short clean string from a server's field (a plan name), else None."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    shown = for_display(value, limit=limit)
    return shown or None


def obj(data: object, key: str) -> Mapping[str, Any]:
    """``data[key]`` when both are JSON objects, else ``{}``."""
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, Mapping) else {}


async def get_usage_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str],
    forbidden_ok: bool = False,
) -> Any:
    """GET a usage answer: its JSON, or None when the server has no usage for this login.

    401 (and 403 unless ``forbidden_ok``) is an AuthError sentence; 404 and other 4xx are
    None ("usage not available"); 429, 5xx and bodies that are not JSON are NetworkError
    sentences from :func:`app.http.request_json`.
    """
    response = await request_json(
        client, "GET", url, what=what, deadline=DEADLINE_S, headers={"Accept": "application/json", **headers}
    )
    if response.status == 401:
        raise AuthError(
            f"{what} rejected the token when asked for usage (HTTP 401). Press r to refresh, or log in again."
        )
    if response.status == 403 and not forbidden_ok:
        raise AuthError(f"{what} did not allow this login to read its usage (HTTP 403).")
    if response.status >= 400:
        return None
    return response.data
