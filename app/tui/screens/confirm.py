"""A yes/no question over the current screen."""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from app.tui.screens import SCREENS_CSS
from app.tui.widgets.key_bar import KeyBar


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True for Yes (y), False for No (n, Esc). No has the focus."""

    CSS_PATH = SCREENS_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("left,right,tab", "app.focus_next", show=False),
    ]

    def __init__(self, question: str, *, yes: str = "Yes") -> None:
        super().__init__(id="confirm")
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="question", markup=False)
            with Horizontal(id="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button("No (n)", id="no")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        """Close the dialog with the answer."""
        # Once, and only while on top: a queued second key must not close another screen.
        if self.is_active:
            self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "yes")


class ChoiceScreen(ModalScreen[str | None]):
    """A question with a few answers, one button (and key) each; dismisses with the chosen
    answer's id, or None on Esc. The last answer has the focus (the safe one goes last)."""

    CSS_PATH = SCREENS_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "choose('')", "Cancel"),
        Binding("left,right,tab", "app.focus_next", show=False),
    ]

    def __init__(self, question: str, answers: tuple[tuple[str, str, str], ...]) -> None:
        super().__init__(id="choice")
        self.question = question
        self.answers = answers  # (id, label, key)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="question", markup=False)
            with Horizontal(id="buttons"):
                for answer_id, label, key in self.answers:
                    yield Button(f"{label} ({key})", id=f"answer-{answer_id}")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query(Button).last().focus()

    def on_key(self, event: events.Key) -> None:
        """An answer's key chooses it (the buttons show which)."""
        for answer_id, _label, key in self.answers:
            if event.key == key:
                event.stop()
                self.action_choose(answer_id)

    def action_choose(self, answer_id: str) -> None:
        """Close the dialog with ``answer_id`` ("" for none)."""
        if self.is_active:  # once, and only while on top (a queued second key must not leak)
            self.dismiss(answer_id or None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose((event.button.id or "").removeprefix("answer-"))
