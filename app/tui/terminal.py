"""The terminal the app draws on, for the one sequence Textual has no call for: OSC 52 through tmux."""

from __future__ import annotations

from typing import Any, Protocol

from textual.app import App
from textual.drivers.linux_driver import LinuxDriver


class Terminal(Protocol):
    """Where raw escape sequences go (a Textual driver, or a recorder in tests)."""

    def write(self, data: str) -> None: ...

    def flush(self) -> None: ...


class TerminalDriver(LinuxDriver):
    """Textual's POSIX driver that hands itself to an app with a ``terminal`` attribute.

    ``App.copy_to_clipboard`` writes a bare OSC 52, which tmux drops unless its
    ``set-clipboard`` is on; the passthrough-wrapped copy must be written by the app itself,
    and Textual offers no public way to reach its driver but to choose the driver class.
    """

    def __init__(self, app: App[Any], **options: Any) -> None:
        super().__init__(app, **options)
        if hasattr(app, "terminal"):
            app.terminal = self
