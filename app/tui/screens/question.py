"""A question a provider asks before its login (e.g. an Enterprise host)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from app.tui.feedback import describe
from app.tui.screens import SCREENS_CSS
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.providers import Question
    from app.tui.app import PiTuiApp


class QuestionScreen(Screen[str | None]):
    """Asks one question; dismisses with the checked answer, or None on Esc.

    ``check`` cleans the answer or raises an error whose sentence is shown under the input,
    so a wrong answer is asked again and nothing is sent.
    """

    CSS_PATH = SCREENS_CSS

    app: PiTuiApp

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back")]

    def __init__(self, title: str, question: Question, check: Callable[[str], str]) -> None:
        super().__init__(id="question")
        self.title_text = title
        self.question = question
        self.check = check

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Vertical(id="question-body"):
            yield Static(self.title_text, classes="title", markup=False)
            yield Static(self.question.prompt, classes="step", markup=False)
            answer = Input(placeholder=self.question.placeholder, id="answer")
            answer.cursor_blink = self.app.cursor_blink
            yield answer
            yield Static("Press Enter to continue.", id="feedback", markup=False)
        yield KeyBar()

    @on(Input.Submitted, "#answer")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            answer = self.check(event.value)
        except Exception as exc:
            feedback = self.query_one("#feedback", Static)
            feedback.update(describe(exc))
            feedback.add_class("-failure")
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        """Esc: back without an answer."""
        self.dismiss(None)
