"""An Input for authorization codes that keeps the whole of a paste."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Input

from app.mask import mask_secrets
from app.sanitize import strip_escapes


class CodeInput(Input):
    """Takes a bracketed paste of any length and any number of lines.

    Textual's ``Input`` keeps only the first line of a paste (and drops a paste that breaks
    ``max_length``/``restrict``), which can cut a code in two. Here the whole pasted text
    travels in :class:`CodeInput.Pasted`; the field shows it on one line, with anything
    token-shaped masked (a token pasted here by mistake must not appear on screen).
    """

    class Pasted(Message):
        """The user pasted ``text`` (exactly as the terminal delivered it)."""

        def __init__(self, code_input: CodeInput, text: str) -> None:
            super().__init__()
            self.code_input = code_input
            self.text = text

        @property
        def control(self) -> CodeInput:
            """The input that received the paste."""
            return self.code_input

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()  # Input's own handler would keep the first line only
        if self.disabled or not event.text:
            return
        self.value = mask_secrets("".join(strip_escapes(event.text).split()))
        self.cursor_position = len(self.value)
        self.post_message(self.Pasted(self, event.text))
