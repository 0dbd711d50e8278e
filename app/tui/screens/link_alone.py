"""The login link alone on the screen: nothing around it, so a terminal selection takes all of it."""

from __future__ import annotations

import signal
import sys
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from app.tui.screens import SCREENS_CSS


class LinkScreen(Screen[None]):
    """Only the URL, from the first column, no border, title or key bar; any of Esc, Enter, ^l goes back.

    Used where the app cannot step aside from the terminal (see :func:`show_link_alone`).
    """

    CSS_PATH = SCREENS_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,ctrl+l", "back", "Back", show=False),
    ]

    def __init__(self, url: str) -> None:
        super().__init__(id="link-alone")
        self.url = url

    def compose(self) -> ComposeResult:
        yield Static(self.url, id="link-alone-url", markup=False)

    def action_back(self) -> None:
        self.dismiss(None)


def print_link_alone(url: str) -> bool:
    """While the app is suspended: the URL as one line of the normal terminal, then wait for Enter.

    The terminal wraps it itself, so a selection (or tmux's copy mode) takes it as one line.
    False when the user pressed Ctrl-C instead (the terminal is back in its own mode, where
    Ctrl-C is a signal, not a key the app sees): they want to quit, as everywhere else.
    """
    sys.stdout.write(f"\n{url}\n\n")
    sys.stdout.write("(Select the link above and copy it. Press Enter to return to pi-tui.)")
    sys.stdout.flush()
    # asyncio's own handler only marks the app's task for cancelling, which cannot happen while
    # this read holds the loop: Python's default one interrupts the read itself.
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.stdin.readline()
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return False
    finally:
        signal.signal(signal.SIGINT, handler)
    return True
