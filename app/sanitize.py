"""Make text from a file, the environment, a server or a paste safe to show in a terminal."""

from __future__ import annotations

import codecs
import math
import re
import sys

from app.errors import ConfigError, StoreError
from app.mask import mask_secrets

# Pattern strings, not compiled patterns: `re` compiles each on first use (and caches it), so
# `pi-tui status`, which cleans only what needs cleaning, does not pay for them up front.
# CSI, OSC (BEL or ST terminated), other two-byte escapes, and the C0/C1 controls left over.
_ESCAPES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"
# Zero-width, bidi (embeddings, overrides, isolates), soft hyphen, BOM, tag characters, and lone
# surrogates (invalid UTF-8 decoded with surrogateescape; no terminal can be sent one).
_INVISIBLE = (
    r"[\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    r"\ud800-\udfff\U000e0000-\U000e007f]"
)


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences, control characters and invisible format characters."""
    if text.isprintable():  # nothing to remove: each pattern starts at a non-printable character
        return text
    return re.sub(_INVISIBLE, "", re.sub(_CONTROLS, "", re.sub(_ESCAPES, "", text)))


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
_TOKEN_SHAPE = r"[!-~]{1,8192}"


def is_token_shaped(value: object) -> bool:
    """True for a non-empty string of visible ASCII that is safe to store, send and print."""
    return isinstance(value, str) and re.fullmatch(_TOKEN_SHAPE, value) is not None


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


def display_text(text: str) -> str:
    """``text`` (from a file, the environment or a server) as one line a terminal shows as it is.

    Escape sequences (OSC 52, clear-screen, CSI in its one-byte form), C0 and C1 controls, DEL,
    bidi overrides and other invisible characters are removed; line breaks and tabs become
    spaces. Nothing is masked or shortened: the values ``status`` shows are not secrets.
    """
    if text.isprintable():  # the usual case, without compiling a pattern
        return text
    cleaned = strip_escapes(text)
    return " ".join("".join(c if c.isprintable() or c.isspace() else "" for c in cleaned).split())


class UnprintableToken(StoreError):
    """A stored token holds characters a terminal would act on; ``pi-tui token`` does not print it."""


def check_token_printable(
    token: str, *, provider: str, variable: str | None = None, api_key: bool = False
) -> None:
    """Raise a sentence (no secret in it) when ``token`` holds characters a terminal acts on.

    ``pi-tui token`` prints its token to a terminal or a script: control characters (escape
    sequences such as OSC 52 or clear-screen, C1 controls, DEL), line breaks, bidi overrides
    and other invisible characters must not reach it. ``variable`` names the environment
    variable the token came from (ConfigError, exit 2); without it the token is stored
    (UnprintableToken, a StoreError: exit 3), ``api_key`` when it is pi's API key entry (its
    literal, variable or ``!command`` output).
    """
    if token.isprintable():
        return
    if variable is not None:
        raise ConfigError(
            f"${variable} holds control characters; pi-tui will not print it. Set it to the token alone."
        )
    if api_key:
        raise UnprintableToken(
            f"The stored API key for {provider} holds control characters; pi-tui will not print it. "
            f"Fix its entry, or log in again with `pi-tui login {provider}`."
        )
    raise UnprintableToken(
        f"The stored token for {provider} holds control characters; pi-tui will not print it. "
        f"Log in again with `pi-tui login {provider}`."
    )


# What pi-tui's own symbols become on a terminal whose encoding lacks them (LC_ALL=C with
# PYTHONUTF8=0, PYTHONIOENCODING=latin-1, an ISO-8859 locale). Any other character that cannot
# be encoded becomes "?".
ASCII_FALLBACKS = {
    "…": "...",
    "—": "-",
    "–": "-",
    "·": "-",
    "•": "*",
    "✓": "*",
    "✗": "x",
    "▸": ">",
    "→": "->",
    "←": "<-",
    "↑": "^",
    "↓": "v",
    "⏎": "Enter",
    "●": "*",
    "○": "o",
    # The full-screen app's borders (other box-drawing characters: see _fallback).
    "─": "-",
    "│": "|",
    "╭": "+",
    "╮": "+",
    "╰": "+",
    "╯": "+",
}
FALLBACK_ERRORS = "pi-tui-ascii"


def _fallback(char: str) -> str:
    found = ASCII_FALLBACKS.get(char)
    if found is not None:
        return found
    if "\u2500" <= char <= "\u257f":  # box drawing: a line stays a line
        import unicodedata  # only a box-drawing character needs it: `pi-tui status` loads this module

        name = unicodedata.name(char, "")
        if "HORIZONTAL" in name and "VERTICAL" not in name:
            return "-"
        if "VERTICAL" in name and "HORIZONTAL" not in name:
            return "|"
        return "+"
    return "?"


def _ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(_fallback(c) for c in bad), error.end


def fit_output_streams() -> None:
    """Let stdout and stderr write every character, in ASCII where their encoding has no room.

    A stream whose encoding can encode pi-tui's symbols is left alone; the others get an error
    handler that writes :data:`ASCII_FALLBACKS` (then "?") instead of raising
    UnicodeEncodeError. The full-screen app writes through ``sys.__stderr__``, so it is
    covered too.
    """
    codecs.register_error(FALLBACK_ERRORS, _ascii_fallback)
    for stream in {id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)}.values():
        encoding = getattr(stream, "encoding", None)
        reconfigure = getattr(stream, "reconfigure", None)
        if not encoding or reconfigure is None or getattr(stream, "errors", "") == FALLBACK_ERRORS:
            continue
        try:
            "".join(ASCII_FALLBACKS).encode(encoding)
        except UnicodeEncodeError:
            reconfigure(errors=FALLBACK_ERRORS)
        except LookupError:
            continue
