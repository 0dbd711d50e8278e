"""The line across the top of every screen."""

from __future__ import annotations

from textual.widget import Widget


class TitleBar(Widget):
    """The app's title, and the screen's subtitle when it has one.

    Textual's Header would do, but it updates itself in a callback after mounting, which
    fails when a screen is replaced within the same frame (a login that ends at once).
    """

    def render(self) -> str:
        title, subtitle = self.app.title, self.screen.sub_title
        return f"{title} — {subtitle}" if subtitle else title
