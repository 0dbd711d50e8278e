"""Human-readable durations for the status panel and ``pi-tui status``."""

from __future__ import annotations

from app.expiry import never_expires


def duration(ms: int) -> str:
    """``ms`` as ``2d 3h``, ``7h 54m``, ``12m 03s``, ``42s`` or ``over a year`` (negative counts as 0)."""
    seconds = max(0, ms // 1000)
    if seconds >= 366 * 86_400:
        return "over a year"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def expiry(expires_ms: int | None, now_ms: int) -> str:
    """``expires in 7h 54m`` / ``expired 3m 10s ago`` / ``no expiry`` / ``does not expire``."""
    if expires_ms is None:
        return "no expiry"
    if never_expires(expires_ms):
        return "does not expire"
    left = expires_ms - now_ms
    if left > 0:
        return f"expires in {duration(left)}"
    return f"expired {duration(-left)} ago"
