"""Choose how to log in when a provider offers more than one way."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from app.tui.screens import SCREENS_CSS
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.providers import Method
    from app.tui.app import PiTuiApp


class MethodChoiceScreen(Screen[str | None]):
    """An option list of login methods with the default highlighted; dismisses with a method id."""

    CSS_PATH = SCREENS_CSS
    app: PiTuiApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back"),
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
    ]

    def __init__(self, name: str, methods: tuple[Method, ...], *, default: str, why: str = "") -> None:
        super().__init__(id="method-choice")
        self.provider_name = name
        self.methods = methods
        self.default = default
        self.why = why

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Vertical(id="methods-body"):
            yield Static(f"How do you want to log in to {self.provider_name}?", classes="title", markup=False)
            options = [
                Option(f"{m.label}{'  (default)' if m.id == self.default else ''}", id=m.id)
                for m in self.methods
            ]
            yield OptionList(*options, id="methods")
            if self.why:
                yield Static(self.why, classes="hint", markup=False)
            arrows = self.app.glyphs.arrows
            yield Static(f"{arrows} or j/k to move, Enter to choose, Esc to go back.", classes="hint")
        yield KeyBar()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        ids = [m.id for m in self.methods]
        options.highlighted = ids.index(self.default) if self.default in ids else 0

    def action_move(self, step: int) -> None:
        """j/k move like the arrow keys."""
        options = self.query_one(OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_cancel(self) -> None:
        """Esc: back without choosing."""
        self.dismiss(None)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
