"""The keys of the current screen along the bottom, wrapped rather than cut on a narrow terminal."""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.text import Text
from textual.widget import Widget

QUIT_ACTIONS = ("quit", "app.quit")


class KeyItem(NamedTuple):
    """One entry of the bar: the keys that do it and what it does."""

    keys: str
    description: str


class KeyBar(Widget):
    """Every shown key of the screen, once per action (``q/^c Quit``), over as many lines as needed.

    Textual's Footer cuts what does not fit ("r Refr" at 40 columns); this wraps between
    entries, never inside one.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key"}
    # The entries last read, until the screen says its bindings changed (as Textual's Footer,
    # which reads them once per change): sizing and drawing the bar read them several times.
    _shown: list[KeyItem] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._shown = None

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: object) -> None:
        self._shown = None
        self.refresh(layout=True)

    def items(self) -> list[KeyItem]:
        """The entries, in binding order; keys with the same action and description share one."""
        if self._shown is None:
            self._shown = self._read_items()
        return self._shown

    def _read_items(self) -> list[KeyItem]:
        merged: dict[tuple[str, str], list[str]] = {}
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not binding.description or not active.enabled:
                continue
            action = "quit" if binding.action in QUIT_ACTIONS else binding.action
            keys = merged.setdefault((action, binding.description), [])
            shown = self.app.get_key_display(binding)
            if shown not in keys:
                # The screen's own key first (q), the app-wide one after it (^c).
                keys.insert(0, shown) if active.node is self.screen else keys.append(shown)
        if not any(action == "quit" for action, _ in merged):
            # A modal screen does not list the app's keys: Ctrl-C still quits there.
            merged[("quit", "Quit")] = ["^c"]
        items = [KeyItem("/".join(keys), description) for (_, description), keys in merged.items()]
        # Quitting last, where footers usually keep it (app bindings come first otherwise).
        return sorted(items, key=lambda item: item.description == "Quit")

    def lines(self, width: int) -> list[Text]:
        """The entries packed into lines of at most ``width`` cells."""
        style = self.get_component_rich_style("key-bar--key", partial=True)
        lines: list[Text] = []
        line = Text()
        for item in self.items():
            entry = Text.assemble((item.keys, style), " ", item.description)
            if line.cell_len and line.cell_len + 2 + entry.cell_len > width:
                lines.append(line)
                line = Text()
            if line.cell_len:
                line.append("  ")
            line.append_text(entry)
        if line.cell_len or not lines:
            lines.append(line)
        return lines

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Text:
        return Text("\n").join(self.lines(self.content_region.width or self.size.width))
