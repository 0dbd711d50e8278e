"""One line per provider: name, state, account, live time to expiry. Logged-in ones first.

A provider with several accounts has one more line under its own for each account pi-tui
stores for it (not the one pi uses): its name, state, usage when known, and expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Spacing
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from app.credentials import AccountStatus, State
from app.tui.glyphs import UNICODE, Glyphs
from app.tui.widgets.account_text import (
    expiry_short,
    state_style,
    state_text,
    stored_expiry_short,
    stored_name,
    stored_state_text,
    usage_short,
)
from app.tui.widgets.cells import Justify, fit, row, widths

if TYPE_CHECKING:
    from app.accounts import AccountRow
    from app.usage import UsageReport


class Line(NamedTuple):
    """One line of the list: a provider (its active login), or one of its stored accounts."""

    status: AccountStatus
    stored: AccountRow | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        """What the cursor is on: the provider, and the stored account's name (None: the provider)."""
        return self.status.provider, self.stored.account if self.stored else None


def ordered(statuses: list[AccountStatus], stored: tuple[AccountRow, ...] = ()) -> list[AccountStatus]:
    """Providers with a credential, a stored account or a store that cannot be read first, each
    in registry order."""
    with_stored = {row.provider for row in stored}
    return sorted(
        statuses,
        key=lambda s: s.source is None and s.state is not State.UNREADABLE and s.provider not in with_stored,
    )


class AccountList(Widget, can_focus=True):
    """The providers (and their stored accounts) as a list with a cursor; ↑/↓ or j/k move it,
    and ``Highlighted`` says where."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Previous", show=False),
        Binding("down,j", "move(1)", "Next", show=False),
        Binding("home", "move(-99)", show=False),
        Binding("end", "move(99)", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "account-list--header",
        "account-list--cursor",
        "account-list--stored",
        *(f"account-list--{style}" for style in ("ok", "due", "failed", "none")),
    }

    statuses: reactive[tuple[AccountStatus, ...]] = reactive((), layout=True)
    # The accounts pi-tui stores that pi does not use now (app.accounts), in the vault's order.
    stored: reactive[tuple[AccountRow, ...]] = reactive((), layout=True)
    now_ms: reactive[int] = reactive(0)
    # The provider under the cursor, and the stored account of it (None: the provider's own line).
    selected: reactive[str | None] = reactive(None)
    selected_account: reactive[str | None] = reactive(None)
    # Subscription usage by provider id (filled in the background after the first frame).
    usage: reactive[dict[str, UsageReport]] = reactive(dict, layout=True)
    # What the usage cache holds for stored accounts, by (provider id, account name).
    stored_usage: reactive[dict[tuple[str, str], UsageReport]] = reactive(dict, layout=True)

    class Highlighted(Message):
        """The cursor moved to ``provider`` (``account``: one of its stored accounts)."""

        def __init__(self, provider: str, account: str | None = None) -> None:
            super().__init__()
            self.provider = provider
            self.account = account

    def __init__(
        self,
        statuses: list[AccountStatus],
        *,
        now_ms: int,
        stored: tuple[AccountRow, ...] = (),
        glyphs: Glyphs = UNICODE,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.glyphs = glyphs
        rows = tuple(ordered(statuses, stored))
        self.set_reactive(AccountList.statuses, rows)
        self.set_reactive(AccountList.stored, tuple(stored))
        self.set_reactive(AccountList.now_ms, now_ms)
        self.set_reactive(AccountList.selected, rows[0].provider if rows else None)

    def update(self, statuses: list[AccountStatus], now_ms: int, stored: tuple[AccountRow, ...] = ()) -> None:
        """New statuses (re-sorted) and stored accounts; the cursor stays where it was, or on its
        provider when the stored account it was on is gone (switched to, logged out of)."""
        self.now_ms = now_ms
        self.stored = tuple(stored)
        self.statuses = tuple(ordered(statuses, self.stored))
        if self.selected_account is not None and self.current_account() is None:
            self.selected_account = None

    def show_usage(self, reports: dict[str, UsageReport]) -> None:
        """New usage reports; the list gains a "Used" column once one has something to show."""
        self.usage = dict(reports)

    def show_stored_usage(self, reports: dict[tuple[str, str], UsageReport]) -> None:
        """What the usage cache holds for stored accounts (by provider id and account name)."""
        self.stored_usage = dict(reports)

    def lines(self) -> list[Line]:
        """Every line, in order: each provider, then its stored accounts."""
        lines: list[Line] = []
        for status in self.statuses:
            lines.append(Line(status))
            lines += [Line(status, row) for row in self.stored if row.provider == status.provider]
        return lines

    def current(self) -> AccountStatus | None:
        """The status of the provider under the cursor (also when on one of its stored accounts)."""
        return next((s for s in self.statuses if s.provider == self.selected), None)

    def current_account(self) -> AccountRow | None:
        """The stored account under the cursor; None on a provider's own line."""
        if self.selected_account is None:
            return None
        return next(
            (r for r in self.stored if (r.provider, r.account) == (self.selected, self.selected_account)),
            None,
        )

    def watch_selected(self, provider: str | None) -> None:
        self._moved()

    def watch_selected_account(self, account: str | None) -> None:
        self._moved()

    def _moved(self) -> None:
        if self.selected is not None:
            self.post_message(self.Highlighted(self.selected, self.selected_account))
            self.call_after_refresh(self.show_cursor)

    def _select(self, line: Line) -> None:
        # The account first: a move between providers then says where it went once, complete.
        self.set_reactive(AccountList.selected_account, line.key[1])
        if self.selected == line.key[0]:
            self._moved()
        else:
            self.selected = line.key[0]
        self.refresh()

    def show_cursor(self) -> None:
        """Scroll what holds the list so the cursor's row is on screen (a short terminal cuts the list)."""
        keys = [line.key for line in self.lines()]
        holder = self.parent
        here = (self.selected, self.selected_account)
        if here not in keys or not isinstance(holder, Widget):
            return
        mine = self.virtual_region  # where the list is in what holds it
        top = mine.y + self.styles.gutter.top + 1 + keys.index(here)  # under the header
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
        lines = self.lines()
        if not lines:
            return
        keys = [line.key for line in lines]
        here = (self.selected, self.selected_account)
        at = keys.index(here) if here in keys else 0
        self._select(lines[max(0, min(len(lines) - 1, at + step))])

    def on_click(self, event: events.Click) -> None:
        row = event.y - 1  # the header is the first line
        lines = self.lines()
        if 0 <= row < len(lines):
            self._select(lines[row])

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.lines()) + 1

    def columns(self, width: int) -> tuple[str, ...]:
        """The columns that fit ``width``: the account, then the expiry, go first when narrow.

        "Used" (the tightest usage window) only once some account's usage is known.
        """
        reports = [*self.usage.values(), *self.stored_usage.values()]
        used = ("Used",) if any(usage_short(report) for report in reports) else ()
        if width >= 64:
            return ("Provider", "State", "Account", *used, "Expires")
        if width >= 46:
            return ("Provider", "State", *used, "Expires")
        return ("Provider", "State", *used)

    def render(self) -> Text:
        header = self.get_component_rich_style("account-list--header", partial=True)
        cursor = self.get_component_rich_style("account-list--cursor", partial=True)
        width = self.content_region.width or self.size.width
        columns = self.columns(width)
        lines = self.lines()
        rows = [self._cells(line) for line in lines]
        # Widths from the content, so names and states are not cut while there is room; the
        # account (or, when narrow, the name) takes what is left and is the one cut. A stored
        # account's name, under its provider's, is cut at the width of the providers' names.
        providers = [cells for line, cells in zip(lines, rows, strict=True) if not line.stored]
        natural = [
            max(
                [
                    len(title),
                    *(cells[title].cell_len for cells in (providers if title == "Provider" else rows)),
                ]
            )
            for title in columns
        ]
        flexible = columns.index("Account" if "Account" in columns else "Provider")
        sized = widths(natural, flexible, width)
        justify: list[Justify] = ["right" if title in ("Expires", "Used") else "left" for title in columns]

        def line_of(cells: list[Text], style: Style | str = "") -> Text:
            return row([fit(cell, w, j) for cell, w, j in zip(cells, sized, justify, strict=True)], style)

        shown = [line_of([Text(title, style=header) for title in columns])]
        here = (self.selected, self.selected_account)
        for line, cells in zip(lines, rows, strict=True):
            row_style = cursor if line.key == here and self.has_focus else ""
            shown.append(line_of([cells[title] for title in columns], row_style))
        return Text("\n").join(shown)

    def _cells(self, line: Line) -> dict[str, Text]:
        marker = f"{self.glyphs.cursor} " if line.key == (self.selected, self.selected_account) else "  "
        status, stored = line
        if stored is not None:
            return self._stored_cells(marker, stored)
        style = self.get_component_rich_style(f"account-list--{state_style(status)}", partial=True)
        return {
            "Provider": Text(marker + status.name),
            "State": Text(state_text(status, short=True, dot=self.glyphs.dot), style=style),
            "Account": Text(status.account or ""),
            "Expires": Text(expiry_short(status, self.now_ms)),
            "Used": Text(usage_short(self.usage.get(status.provider))),
        }

    def _stored_cells(self, marker: str, row: AccountRow) -> dict[str, Text]:
        """A stored account's line: named under its provider's name (where it reads whole even
        when the account column is narrow or gone), muted but for its state."""
        muted = self.get_component_rich_style("account-list--stored", partial=True)
        state = STORED_STYLES.get(row.state, "none")
        style = self.get_component_rich_style(f"account-list--{state}", partial=True)
        usage = self.stored_usage.get((row.provider, row.account))
        return {
            "Provider": Text(f"{marker}  {self.glyphs.branch} {stored_name(row)}", style=muted),
            "State": Text(stored_state_text(row, short=True, hollow=self.glyphs.hollow), style=style),
            "Account": Text(""),
            "Expires": Text(stored_expiry_short(row, self.now_ms), style=muted),
            "Used": Text(usage_short(usage), style=muted),
        }


# A stored account's state colour: due is normal for one (pi does not refresh it), so not a warning.
STORED_STYLES = {State.LOGGED_IN: "ok", State.DUE: "none"}
