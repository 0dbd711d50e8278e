"""Make text from a server or a paste safe to show in a terminal."""

from __future__ import annotations

import math
import re

from app.mask import mask_secrets

# CSI, OSC (BEL or ST terminated), other two-byte escapes, and the C0/C1 controls left over.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Zero-width, bidi (embeddings, overrides, isolates), soft hyphen, BOM, tag characters, and lone
# surrogates (invalid UTF-8 decoded with surrogateescape; no terminal can be sent one).
_INVISIBLE = re.compile(
    r"[\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    r"\ud800-\udfff\U000e0000-\U000e007f]"
)


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences, control characters and invisible format characters."""
    return _INVISIBLE.sub("", _CONTROLS.sub("", _ESCAPES.sub("", text)))


def for_display(text: object, *, limit: int = 300) -> str:
    """One clean line of at most ``limit`` characters from something a server sent.

    Token-shaped text is masked: a server that quotes the token it was sent must not put it
    on screen, in an exception, or in ``pi-tui token``'s error (masked after cleaning, so an
    escape slipped into a token cannot hide it).
    """
    visible = "".join(c for c in strip_escapes(str(text)) if c.isprintable() or c.isspace())
    cleaned = mask_secrets(" ".join(visible.split()))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


# Tokens are visible ASCII: anything else would be stored, then printed by `pi-tui token`.
_TOKEN_SHAPE = re.compile(r"[!-~]{1,8192}")


def is_token_shaped(value: object) -> bool:
    """True for a non-empty string of visible ASCII that is safe to store, send and print."""
    return isinstance(value, str) and _TOKEN_SHAPE.fullmatch(value) is not None


def finite_number(value: object) -> float | None:
    """A finite number from a JSON value (numbers and numeric strings), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None
