"""Every key and what it does, and where pi-tui keeps things."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from app.paths import display_path
from app.tui.screens import SCREENS_CSS
from app.tui.screens.status import VAULT_NAME, StatusScreen
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar

MORE_KEYS = (
    ("↑ ↓ / j k", "Select a provider, or one of its stored accounts"),
    ("ctrl+c", "Leave pi-tui, from any screen"),
    ("ctrl+p", "Command palette: every action by name"),
    ("esc", "Back, or cancel a login in progress"),
)


def keys() -> list[tuple[str, str]]:
    """The status screen's keys (from its bindings) and the ones that work everywhere."""
    shown = [b for b in StatusScreen.BINDINGS if isinstance(b, Binding) and b.show]
    return [(b.key_display or b.key, b.tooltip) for b in shown] + list(MORE_KEYS)


class HelpScreen(Screen[None]):
    """Keys, the store path and the log path. Esc, q or ? closes it."""

    CSS_PATH = SCREENS_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close", key_display="esc"),
    ]

    def __init__(self, store_path: Path, log_path: Path | None) -> None:
        super().__init__(id="help")
        self.store_path = store_path
        self.log_path = log_path

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with VerticalScroll(id="help-body"):
            yield Static("Keys", classes="title")
            # A grid, so a description that wraps on a narrow terminal stays in its column.
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True)
            grid.add_column()
            for key, what in keys():
                grid.add_row(Text(key), Text(what))
            yield Static(grid, classes="key-line", id="keys")
            yield Static(
                "Logging in to Anthropic: the link is copied for you; authorize in the browser, "
                "then paste the code it shows (or let this machine's browser finish by itself).",
                classes="para",
            )
            yield Static("Files", classes="title")
            yield Static(f"Credentials  {display_path(self.store_path)}", classes="key-line", markup=False)
            # Beside pi's file: the accounts pi does not use now (app.accounts).
            stored = display_path(self.store_path.with_name(VAULT_NAME))
            yield Static(
                f"Accounts     {stored} (those pi does not use now)", classes="key-line", markup=False
            )
            logs = display_path(self.log_path) if self.log_path else "not written (no log file for this run)"
            yield Static(f"Logs         {logs}", classes="key-line", markup=False)
            yield Static("Tokens are shown masked everywhere, logs included.", classes="para")
        yield KeyBar()
