"""Durations: shown on the status panel and by ``pi-tui status``, read from the command line."""

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


def duration_ms(text: str) -> int | None:
    """A duration typed on the command line (seconds, or a number with ``s``, ``m`` or ``h``) in
    milliseconds; None when it is not one."""
    units = {"s": 1, "m": 60, "h": 3600}
    value = text.strip().lower()
    scale = units.get(value[-1:], 0)
    number = value[:-1] if scale else value
    if not number.isdigit() or len(number) > 7:
        return None
    return int(number) * (scale or 1) * 1000
