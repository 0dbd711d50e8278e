"""The baseline for pi-tui's first frame and memory: a bare Textual app that draws one Label.

Run by ``bench/run.py`` in a pseudo-terminal exactly as ``pi-tui`` is, with the same interpreter.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Label

MARKER = "bench: bare app ready"


class BareApp(App[None]):
    """One Label, nothing else."""

    def compose(self) -> ComposeResult:
        """The Label whose text marks the first frame."""
        yield Label(MARKER)


if __name__ == "__main__":
    BareApp().run()
