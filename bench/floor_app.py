"""A reference for figure 3: pi-tui's status screen rebuilt in plain Textual, with no pi-tui code.

Same widgets as ``app/tui/screens/status.py`` draws at 80×24 (a one-line title bar, two
bordered cards of five lines, a Footer with six keys), same run in a pseudo-terminal. Its first frame is what
Textual itself needs for that screen; what ``pi-tui`` takes beyond it is pi-tui's own (imports,
reading the store, building the cards). Not a target: it tells the two apart.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

CARDS = {
    "Anthropic (Claude Pro/Max)": (
        "State      ● logged in\nAccount    bench@example.com\nSource     stored login (oauth.json)\n"
        "Expiry     expires in 59m 59s\nToken      sk-ant-oat01-…aaAA"
    ),
    "GitHub Copilot": (
        "State      ● logged in\nAccount    @octocat\nSource     stored login (oauth.json)\n"
        "Expiry     expires in 59m 59s\nToken      tid=…com;"
    ),
}


class FloorApp(App[None]):
    """The status screen's shape: title bar, two bordered cards, Footer."""

    TITLE = "pi-tui"
    CSS = """
    #title {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
        text-style: bold;
        text-align: center;
    }
    #panels { padding: 0 1; }
    .card {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
        padding: 0 1;
        margin: 1 0 0 0;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "bell", "Log in"),
        Binding("o", "bell", "Log out"),
        Binding("r", "bell", "Refresh"),
        Binding("t", "bell", "Test"),
        Binding("question_mark", "bell", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        """Title bar, the cards (the last one's title marks the first frame), Footer."""
        yield Static(self.title, id="title")
        with VerticalScroll(id="panels"):
            for title, text in CARDS.items():
                card = Static(text, classes="card")
                card.border_title = title
                yield card
        yield Footer()


if __name__ == "__main__":
    FloorApp().run()
