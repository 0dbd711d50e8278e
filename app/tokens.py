"""pi's stored OAuth entry, built one way for every provider.

``{"type": "oauth", "refresh", "access", "expires" (epoch ms), …}``: :func:`oauth_entry` sets
the four keys over a previous entry's others; :func:`entry_from_token_response` checks a
standard OAuth token response (RFC 6749 §5.1) and builds the entry from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.errors import NetworkError
from app.expiry import BUFFER_MS, expires_at_ms
from app.sanitize import is_token_shaped


def oauth_entry(
    previous: Mapping[str, Any] | None, *, access: str, refresh: str, expires: int
) -> dict[str, Any]:
    """pi's entry: the four OAuth keys over every other key of ``previous`` (enterpriseUrl, login, …)."""
    entry = dict(previous or {})
    entry.update(type="oauth", refresh=refresh, access=access, expires=expires)
    return entry


def entry_from_token_response(
    data: Any,
    *,
    what: str,
    now_ms: int,
    previous: Mapping[str, Any] | None = None,
    keep_refresh: bool = True,
    buffer_ms: int = BUFFER_MS,
) -> dict[str, Any]:
    """The entry for a token response; NetworkError with a sentence naming ``what`` when unusable.

    On a refresh (``previous`` given) a response without ``refresh_token`` keeps the old one
    when ``keep_refresh``; a login always needs one. ``expires`` is ``expires_in`` from now,
    less ``buffer_ms`` (pi's convention for most providers).
    """
    access = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(access, str) or not access:
        raise NetworkError(f"{what}'s answer had no access token; try again in a moment.")
    refresh = data.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        if previous is None or not keep_refresh:
            raise NetworkError(f"{what}'s answer had no refresh token; try logging in again.")
        refresh = str(previous["refresh"])
    if not (is_token_shaped(access) and is_token_shaped(refresh)):
        raise NetworkError(
            f"{what}'s answer had a token with spaces or control characters in it; try again in a moment."
        )
    expires = expires_at_ms(data.get("expires_in"), now_ms=now_ms, buffer_ms=buffer_ms)
    return oauth_entry(previous, access=access, refresh=refresh, expires=expires)
