"""The system clipboard, through pyperclip. No Textual here: the app adds its OSC 52 fallback."""

from __future__ import annotations


class ClipboardUnavailable(Exception):
    """This machine has no clipboard pyperclip can use (no xclip/xsel/wl-copy, no display)."""


def copy(text: str) -> None:
    """Put ``text`` on the system clipboard; ClipboardUnavailable when there is none."""
    import pyperclip  # only when something is copied: keeps start-up light

    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException as exc:
        raise ClipboardUnavailable(str(exc).splitlines()[0] if str(exc) else "no clipboard") from None
