"""The selected provider's details: source and kind, provider rows, the token's life, the last error;
or, on one of its stored accounts, that account's."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from app.credentials import AccountStatus
from app.tui.glyphs import UNICODE, Glyphs
from app.tui.widgets.account_text import Row, detail_rows, stored_rows
from app.tui.widgets.cells import fit

if TYPE_CHECKING:
    from app.accounts import AccountRow
    from app.usage import UsageReport

# The labels' column ("Expires", "Account", …), then a space, then the value.
LABEL_WIDTH = 12


class AccountDetails(Widget):
    """Label/value lines for one provider; its name is the border title. One widget, cheap to redraw."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "account-details--label",
        *(f"account-details--{style}" for style in ("ok", "due", "failed", "none", "error", "hint")),
    }

    status: reactive[AccountStatus | None] = reactive(None, layout=True)
    now_ms: reactive[int] = reactive(0, layout=True)
    usage: reactive[UsageReport | None] = reactive(None, layout=True)
    # One of the provider's stored accounts (not the one pi uses), and where it is kept.
    stored: reactive[AccountRow | None] = reactive(None, layout=True)

    def __init__(self, *, glyphs: Glyphs = UNICODE, id: str | None = None) -> None:
        super().__init__(id=id)
        self.glyphs = glyphs
        self.stored_where = ""

    def show(
        self,
        status: AccountStatus | None,
        now_ms: int,
        usage: UsageReport | None = None,
        *,
        stored: AccountRow | None = None,
        where: str = "",
    ) -> None:
        """Show ``status`` (and its subscription ``usage``, when known) as of ``now_ms``; with
        ``stored``, that stored account of it instead (kept in ``where``)."""
        self.now_ms = now_ms
        self.usage = usage
        self.stored_where = where
        self.stored = stored
        self.status = status
        self.border_title = status.name if status else None

    def rows(self) -> list[Row]:
        """The lines shown (none when no provider is selected)."""
        if self.status is None:
            return []
        if self.stored is not None:
            return stored_rows(
                self.stored, self.now_ms, self.usage, where=self.stored_where, hollow=self.glyphs.hollow
            )
        return detail_rows(self.status, self.now_ms, self.usage, dot=self.glyphs.dot)

    def lines(self, width: int) -> list[Text]:
        """The rows in ``width`` cells: the label's column, then the value, wrapped under itself."""
        label_style = self.get_component_rich_style("account-details--label")
        value_width = max(1, width - LABEL_WIDTH - 1)
        lines: list[Text] = []
        for row in self.rows():
            style = self.get_component_rich_style(f"account-details--{row.style}") if row.style else ""
            value = Text(row.value, style=style)
            wrapped = value.wrap(self.app.console, value_width, justify="left", overflow="ellipsis")
            for index, part in enumerate(wrapped):
                label = fit(Text(row.label if index == 0 else ""), LABEL_WIDTH)
                label.append(" ")
                label.stylize_before(label_style)
                lines.append(Text.assemble(label, part))
        return lines

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Content:
        lines = Text("\n").join(self.lines(self.content_region.width or self.size.width))
        # One span where a label and its value look the same ("State  ● not logged in"), as
        # they are drawn (and exported) as one.
        return Content.from_rich_text(lines, console=self.app.console).simplify()
