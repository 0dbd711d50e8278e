"""Expiry arithmetic shared by every provider (pi's convention: the 5-minute buffer is baked in)."""

from __future__ import annotations

import math
import time

from app.sanitize import finite_number

BUFFER_MS = 5 * 60 * 1000
DEFAULT_LIFETIME_S = 3600
MAX_LIFETIME_S = 366 * 24 * 3600
# pi's "never expires" (JavaScript's Number.MAX_SAFE_INTEGER), e.g. for a permanent API key.
NEVER_EXPIRES_MS = 9_007_199_254_740_991


def current_ms() -> int:
    """The wall clock in epoch milliseconds, the unit of ``expires``."""
    return int(time.time() * 1000)


def expires_at_ms(expires_in: object, *, now_ms: int, buffer_ms: int = BUFFER_MS) -> int:
    """The ``expires`` value to store for a token that lives ``expires_in`` seconds.

    A missing or non-numeric value is taken as one hour; a huge one is capped at a year. A
    lifetime shorter than twice the buffer keeps half of it, so a short-lived token is
    still used before it is refreshed instead of being due the moment it arrives. A provider
    that stores the real expiry (pi does so for some) passes ``buffer_ms=0``.
    """

    number = finite_number(expires_in)
    seconds = DEFAULT_LIFETIME_S if number is None else min(max(number, 0.0), MAX_LIFETIME_S)
    lifetime_ms = int(seconds * 1000)
    buffer = buffer_ms if lifetime_ms >= 2 * buffer_ms else lifetime_ms // 2
    return now_ms + lifetime_ms - buffer


def never_expires(expires: object) -> bool:
    """True for pi's "never expires" value (or anything beyond it)."""
    return isinstance(expires, int | float) and expires >= NEVER_EXPIRES_MS


def is_due(
    entry: dict[str, object], *, now_ms: int, seen_ms: int | None = None, min_valid_ms: int = 0
) -> bool:
    """True when the stored token should be refreshed before use.

    pi 1.x's rule, now + max(5 min, ``min_valid_ms``) ≥ expires, unless pi-tui knows when the token arrived
    (``seen_ms``, from its state file): then the lead is at most half of the life the token had
    left on arrival, so a fresh token is never due. (A provider issuing 10-minute tokens stores
    ``expires`` 5 minutes early, see :func:`expires_at_ms`; by pi's rule alone such a token is
    due the moment it arrives, and every ``pi-tui token`` refreshed it.)

    ``expires`` is kept as each provider stores it (most already subtract their own 5 minutes):
    a token that lives longer than 10 minutes is due when pi would refresh it.
    """
    due = refresh_due_ms(entry, seen_ms=seen_ms)
    if due is None:
        return True
    # ``min_valid_ms``: a caller asked for at least that much life (pi's --min-expiry).
    expires = entry["expires"]
    assert isinstance(expires, int | float)  # refresh_due_ms checked it
    return now_ms >= due or now_ms + min_valid_ms >= expires


def refresh_due_ms(entry: dict[str, object], *, seen_ms: int | None = None) -> int | None:
    """When :func:`is_due` starts saying yes (epoch ms); None when ``expires`` is unusable."""
    expires = entry.get("expires")
    if isinstance(expires, bool) or not isinstance(expires, int | float) or not math.isfinite(expires):
        return None
    return int(expires) - refresh_lead_ms(int(expires), seen_ms)


def refresh_lead_ms(expires: int, seen_ms: int | None) -> int:
    """How long before ``expires`` a token is due: 5 minutes, or half its life if that is less.

    ``seen_ms`` is when pi-tui saw the token arrive (None: not known, pi's 5 minutes).
    """
    if seen_ms is None or seen_ms >= expires:
        return BUFFER_MS
    return min(BUFFER_MS, (expires - seen_ms) // 2)
