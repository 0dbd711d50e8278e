"""One way to show a secret: its recognisable prefix and last four characters."""

from __future__ import annotations

import re

# A pattern string, not a compiled pattern: `re` compiles it on first use, so the
# `pi-tui token` path (which never masks) does not pay for it.
_PREFIX = r"^(?:[A-Za-z]+[-_])+(?:[A-Za-z0-9]+[-_])?|^[a-z]+="
_MIN_MASKABLE = 16


def mask(secret: str | None) -> str:
    """Return ``secret`` masked, e.g. ``sk-ant-oat01-…a1b2``; short secrets become ``…``."""
    if not secret:
        return ""
    if len(secret) < _MIN_MASKABLE:
        return "…"
    match = re.match(_PREFIX, secret)
    prefix = match.group(0) if match and len(match.group(0)) <= 16 else ""
    return f"{prefix}…{secret[-4:]}"
