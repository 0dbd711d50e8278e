"""Make text from a server or a paste safe to show in a terminal."""

from __future__ import annotations

import re

# CSI, OSC (BEL or ST terminated), other two-byte escapes, and the C0/C1 controls left over.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences, control characters and invisible format characters."""
    return _INVISIBLE.sub("", _CONTROLS.sub("", _ESCAPES.sub("", text)))


def for_display(text: object, *, limit: int = 300) -> str:
    """One clean line of at most ``limit`` characters from something a server sent."""
    cleaned = " ".join(strip_escapes(str(text)).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
