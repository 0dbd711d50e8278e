"""The system clipboard, through pyperclip. No Textual here: the app adds its OSC 52 fallback."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import pyperclip


class ClipboardUnavailable(Exception):
    """This machine has no clipboard pyperclip can use (no xclip/xsel/wl-copy, no display)."""


def copy(text: str) -> None:
    """Put ``text`` on the system clipboard; ClipboardUnavailable when there is none."""
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException as exc:
        raise ClipboardUnavailable(str(exc).splitlines()[0] if str(exc) else "no clipboard") from None


def osc52(text: str, env: Mapping[str, str]) -> str:
    """The OSC 52 sequence that asks the terminal to put ``text`` on its clipboard.

    Inside tmux (``$TMUX``) it is wrapped in tmux's DCS passthrough, every ESC doubled: tmux
    drops a bare OSC 52 from an application unless its ``set-clipboard`` says otherwise, and
    passes the wrapped one on with ``set -g allow-passthrough on``.
    """
    sequence = f"\x1b]52;c;{base64.b64encode(text.encode('utf-8')).decode('ascii')}\a"
    if env.get("TMUX"):
        return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence
