"""The symbols the app draws beside words, and ASCII stand-ins for a terminal that cannot draw them.

Textual writes UTF-8 whatever the locale says (Python itself switches to UTF-8 under ``LANG=C``),
so the terminal, or tmux between, shows ``_`` or garbage for ``▸``. The locale is the only sign
of what the terminal can draw: tmux reads the same variables to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Glyphs(NamedTuple):
    """The cursor of a list, the mark of a stored login, the dot before a state, the arrow keys;
    ``ascii``: the stand-ins (box borders are drawn in ASCII too); ``hollow``: the dot before a
    stored account's state (not the one pi uses), ``branch``: what puts it under its provider."""

    cursor: str
    check: str
    dot: str
    arrows: str
    ascii: bool = False
    hollow: str = "○"
    branch: str = "└"


UNICODE = Glyphs(cursor="▸", check="✓", dot="●", arrows="↑/↓")
ASCII = Glyphs(cursor=">", check="*", dot="*", arrows="Up/Down", ascii=True, hollow="o", branch="`-")


def glyphs_for(env: Mapping[str, str]) -> Glyphs:
    """ASCII when the locale (the first of ``LC_ALL``, ``LC_CTYPE``, ``LANG`` that is set) is not UTF-8.

    With none set, the symbols are drawn: many terminals reached over SSH pass no locale and
    draw UTF-8 anyway.
    """
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = env.get(name)
        if value:
            return UNICODE if "utf8" in value.lower().replace("-", "") else ASCII
    return UNICODE
