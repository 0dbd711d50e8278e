"""The end of a successful login: what happened and where the tokens went."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from app.tui.screens import SCREENS_CSS
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.service import LoginResult
    from app.tui.app import PiTuiApp


class LoginDoneScreen(Screen[None]):
    """Shows ``result.message``; Enter or Esc returns to the status panel."""

    CSS_PATH = SCREENS_CSS
    app: PiTuiApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "app.pop_screen", "Back to status"),
        Binding("escape", "app.pop_screen", "Back", show=False),
    ]

    class LoggedIn(Message):
        """The login shown here was saved (the app's exit code counts it)."""

        def __init__(self, result: LoginResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, result: LoginResult, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(id="login-done")
        self.result = result
        self.details = details

    def on_mount(self) -> None:
        self.post_message(self.LoggedIn(self.result))

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Vertical(id="done"):
            # The sentence names the account (cleaned for display); it is not said twice.
            yield Static(f"{self.app.glyphs.check} {self.result.message}", id="done-message", markup=False)
            for line in self.details:
                yield Static(line, classes="done-detail", markup=False)
            yield Static("Press Enter to return to the status panel.", classes="hint")
        yield KeyBar()
