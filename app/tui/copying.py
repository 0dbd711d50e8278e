"""Copying a login's link or code: the system clipboard, else OSC 52 (wrapped for tmux).

Its own module, loaded with the login screens that copy: the system clipboard is pyperclip,
which loads ctypes, and the status panel's first frame needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app import clipboard

if TYPE_CHECKING:
    from app.tui.app import PiTuiApp


def copy_text(app: PiTuiApp, text: str, what: str) -> str:
    """Copy ``text`` (pyperclip, else OSC 52) and say which way it went, and only what is true.

    The app's injected clipboard is used when it has one. OSC 52 cannot be confirmed: the
    sentence says it was sent, not that it arrived.
    """
    try:
        (app.copy_to_system_clipboard or clipboard.copy)(text)
    except Exception:
        pass
    else:
        return f"{what} copied to the clipboard."
    app.copy_to_clipboard(text)  # Textual's own: a bare OSC 52, and kept for paste in the app
    env = app.service.env
    if env.get("TMUX"):
        if app.terminal is not None:
            app.terminal.write(clipboard.osc52(text, env))  # wrapped for tmux's passthrough
            app.terminal.flush()
        return (
            f"{what} sent to your terminal through tmux (OSC 52); it arrives only with "
            "tmux's `set -g allow-passthrough on` (or `set -g set-clipboard on`)."
        )
    return f"{what} sent to your terminal's clipboard (OSC 52), if your terminal accepts that."
