"""One line per provider: name, state, account, live time to expiry. Logged-in ones first."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Spacing
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from app.credentials import AccountStatus, State
from app.tui.glyphs import UNICODE, Glyphs
from app.tui.widgets.account_text import expiry_short, state_style, state_text, usage_short

if TYPE_CHECKING:
    from app.usage import UsageReport


def ordered(statuses: list[AccountStatus]) -> list[AccountStatus]:
    """Providers with a credential (or a store that cannot be read) first, each in registry order."""
    return sorted(statuses, key=lambda s: s.source is None and s.state is not State.UNREADABLE)


class AccountList(Widget, can_focus=True):
    """The providers as a list with a cursor; ↑/↓ or j/k move it, and ``Highlighted`` says where."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Previous", show=False),
        Binding("down,j", "move(1)", "Next", show=False),
        Binding("home", "move(-99)", show=False),
        Binding("end", "move(99)", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "account-list--header",
        "account-list--cursor",
        *(f"account-list--{style}" for style in ("ok", "due", "failed", "none")),
    }

    statuses: reactive[tuple[AccountStatus, ...]] = reactive((), layout=True)
    now_ms: reactive[int] = reactive(0)
    selected: reactive[str | None] = reactive(None)
    # Subscription usage by provider id (filled in the background after the first frame).
    usage: reactive[dict[str, UsageReport]] = reactive(dict, layout=True)

    class Highlighted(Message):
        """The cursor moved to ``provider``."""

        def __init__(self, provider: str) -> None:
            super().__init__()
            self.provider = provider

    def __init__(
        self, statuses: list[AccountStatus], *, now_ms: int, glyphs: Glyphs = UNICODE, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.glyphs = glyphs
        rows = tuple(ordered(statuses))
        self.set_reactive(AccountList.statuses, rows)
        self.set_reactive(AccountList.now_ms, now_ms)
        self.set_reactive(AccountList.selected, rows[0].provider if rows else None)

    def update(self, statuses: list[AccountStatus], now_ms: int) -> None:
        """New statuses (re-sorted); the cursor stays on the same provider."""
        self.now_ms = now_ms
        self.statuses = tuple(ordered(statuses))

    def show_usage(self, reports: dict[str, UsageReport]) -> None:
        """New usage reports; the list gains a "Used" column once one has something to show."""
        self.usage = dict(reports)

    def current(self) -> AccountStatus | None:
        """The status under the cursor."""
        return next((s for s in self.statuses if s.provider == self.selected), None)

    def watch_selected(self, provider: str | None) -> None:
        if provider is not None:
            self.post_message(self.Highlighted(provider))
            self.call_after_refresh(self.show_cursor)

    def show_cursor(self) -> None:
        """Scroll what holds the list so the cursor's row is on screen (a short terminal cuts the list)."""
        ids = [s.provider for s in self.statuses]
        holder = self.parent
        if self.selected not in ids or not isinstance(holder, Widget):
            return
        mine = self.virtual_region  # where the list is in what holds it
        top = mine.y + self.styles.gutter.top + 1 + ids.index(self.selected)  # under the header
        # What is docked at the top and bottom (title, key bar, message) covers the scrolled lines.
        docked = {"top": 0, "bottom": 0}
        for widget in holder.children:
            if widget.display and widget.styles.dock in docked:
                docked[widget.styles.dock] += widget.outer_size.height
        holder.scroll_to_region(
            Region(mine.x, top, mine.width, 1),
            spacing=Spacing(docked["top"], 0, docked["bottom"], 0),
            animate=False,
            immediate=True,
        )

    def action_move(self, step: int) -> None:
        """Move the cursor by ``step`` lines (clamped)."""
        ids = [s.provider for s in self.statuses]
        if not ids:
            return
        here = ids.index(self.selected) if self.selected in ids else 0
        self.selected = ids[max(0, min(len(ids) - 1, here + step))]

    def on_click(self, event: events.Click) -> None:
        row = event.y - 1  # the header is the first line
        if 0 <= row < len(self.statuses):
            self.selected = self.statuses[row].provider

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.statuses) + 1

    def columns(self, width: int) -> tuple[str, ...]:
        """The columns that fit ``width``: the account, then the expiry, go first when narrow.

        "Used" (the tightest usage window) only once some provider's usage is known.
        """
        used = ("Used",) if any(usage_short(report) for report in self.usage.values()) else ()
        if width >= 64:
            return ("Provider", "State", "Account", *used, "Expires")
        if width >= 46:
            return ("Provider", "State", *used, "Expires")
        return ("Provider", "State", *used)

    def render(self) -> Table:
        header = self.get_component_rich_style("account-list--header", partial=True)
        cursor = self.get_component_rich_style("account-list--cursor", partial=True)
        columns = self.columns(self.content_region.width or self.size.width)
        rows = [self._cells(status) for status in self.statuses]
        table = Table.grid(padding=(0, 1), expand=True)
        # Widths from the content, so names and states are not cut while there is room; the
        # account (or, when narrow, the name) takes what is left and is the one cut.
        flexible = "Account" if "Account" in columns else "Provider"
        for title in columns:
            widest = max([len(title), *(row[title].cell_len for row in rows)])
            table.add_column(
                width=None if title == flexible else widest,
                ratio=1 if title == flexible else None,
                no_wrap=True,
                overflow="ellipsis",
                justify="right" if title in ("Expires", "Used") else "left",
            )
        table.add_row(*(Text(title, style=header) for title in columns))
        for status, cells in zip(self.statuses, rows, strict=True):
            row_style = cursor if status.provider == self.selected and self.has_focus else None
            table.add_row(*(cells[title] for title in columns), style=row_style)
        return table

    def _cells(self, status: AccountStatus) -> dict[str, Text]:
        style = self.get_component_rich_style(f"account-list--{state_style(status)}", partial=True)
        marker = f"{self.glyphs.cursor} " if status.provider == self.selected else "  "
        return {
            "Provider": Text(marker + status.name),
            "State": Text(state_text(status, short=True, dot=self.glyphs.dot), style=style),
            "Account": Text(status.account or ""),
            "Expires": Text(expiry_short(status, self.now_ms)),
            "Used": Text(usage_short(self.usage.get(status.provider))),
        }
