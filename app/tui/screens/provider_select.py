"""Choose a provider to log in to (or out of)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from app.credentials import AccountStatus
from app.tui.screens import SCREENS_CSS
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.tui.app import PiTuiApp

Mode = Literal["login", "logout"]


class ProviderSelectScreen(Screen[str | None]):
    """An option list of providers, ``selected`` highlighted; dismisses with the chosen id, or None on Esc."""

    CSS_PATH = SCREENS_CSS
    app: PiTuiApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back"),
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
    ]

    def __init__(
        self, statuses: list[AccountStatus], *, mode: Mode = "login", selected: str | None = None
    ) -> None:
        super().__init__(id=f"select-{mode}")
        self.statuses = statuses
        self.mode = mode
        self.selected = selected

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Vertical(id="select"):
            yield Static(f"Select provider to {self.mode}:", classes="title")
            yield OptionList(*(self._option(s) for s in self.statuses), id="providers")
            arrows = self.app.glyphs.arrows
            yield Static(f"{arrows} or j/k to move, Enter to choose, Esc to go back.", classes="hint")
        yield KeyBar()

    def _option(self, status: AccountStatus) -> Option:
        stored = status.stored
        label = f"{self.app.glyphs.check if stored else ' '} {status.name}"
        if self.mode == "logout" and not stored:
            return Option(f"{label}  (not logged in)", id=status.provider, disabled=True)
        return Option(label, id=status.provider)

    def on_mount(self) -> None:
        # The provider selected on the panel, if it can be chosen here; else the first that can.
        options = self.query_one(OptionList)
        enabled = [i for i in range(options.option_count) if not options.get_option_at_index(i).disabled]
        chosen = [i for i in enabled if options.get_option_at_index(i).id == self.selected]
        options.highlighted = next(iter(chosen or enabled), None)

    def action_move(self, step: int) -> None:
        """j/k move like the arrow keys."""
        options = self.query_one(OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_cancel(self) -> None:
        """Esc: back without choosing."""
        self._answer(None)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self._answer(event.option.id)

    def _answer(self, provider: str | None) -> None:
        # Only the screen on top answers, and only once: a second Enter already queued for
        # the option list must not pop the screen that the first one opened.
        if self.is_active:
            self.dismiss(provider)
