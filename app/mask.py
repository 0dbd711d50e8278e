"""One way to show a secret (its recognisable prefix and last four characters), and masking
every token-shaped piece of a text with it."""

from __future__ import annotations

import re

# A pattern string, not a compiled pattern: `re` compiles it on first use, so the
# `pi-tui token` path (which never masks) does not pay for it.
_PREFIX = r"^(?:[A-Za-z]+[-_])+(?:[A-Za-z0-9]+[-_])?|^[a-z]+="
_MIN_MASKABLE = 16
# mask() keeps at most this much of a token's prefix before its "…".
_MASKED_PREFIX_MAX = 16


def mask(secret: str | None) -> str:
    """Return ``secret`` masked, e.g. ``sk-ant-oat01-…a1b2``; short secrets become ``…``."""
    if not secret:
        return ""
    if len(secret) < _MIN_MASKABLE:
        return "…"
    match = re.match(_PREFIX, secret)
    prefix = match.group(0) if match and len(match.group(0)) <= _MASKED_PREFIX_MAX else ""
    return f"{prefix}…{secret[-4:]}"


# Provider tokens and keys (sk-ant-…, gh?_…, tid=…;exp=…;…), and bearer values.
_SECRET = (
    r"sk-ant-[A-Za-z0-9_\-]+"
    r"|\bgh[oupsr]_[A-Za-z0-9_]+"
    r"|\bgithub_pat_[A-Za-z0-9_]+"
    r"|\btid=[^\s\"',]+"
    r"|(?<=Bearer )[A-Za-z0-9._~+/=\-]{8,}"
)


def _mask_match(match: re.Match[str]) -> str:
    token = match.group(0)
    follows = match.string[match.end() : match.end() + 1]
    head = token.partition("…")[0]
    if ("…" in token or follows == "…") and len(head) <= _MASKED_PREFIX_MAX:
        return token  # already masked: masking twice would eat the prefix
    return mask(token)


def mask_secrets(text: str) -> str:
    """``text`` with every token-shaped substring masked (``sk-ant-oat01-…a1b2``); idempotent."""
    return re.sub(_SECRET, _mask_match, text)
