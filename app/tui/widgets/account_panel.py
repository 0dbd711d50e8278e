"""One provider's card on the status screen."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from app.credentials import AccountStatus, State
from app.timefmt import expiry

# The state's component class; app.tcss gives each its colour.
STATE_STYLES = {
    State.LOGGED_IN: "account-panel--ok",
    State.DUE: "account-panel--due",
    State.REFRESH_FAILED: "account-panel--failed",
    State.NOT_LOGGED_IN: "account-panel--none",
    State.UNREADABLE: "account-panel--failed",
}


class AccountPanel(Widget, can_focus=True):
    """Where one provider's login stands: state, source, account, expiry, token (masked).

    One widget that renders a two-column grid: cheap to build and to restyle, which keeps
    the first frame fast.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "account-panel--label",
        "account-panel--hint",
        "account-panel--error",
        *STATE_STYLES.values(),
    }

    status: reactive[AccountStatus | None] = reactive(None, layout=True)
    now_ms: reactive[int] = reactive(0)

    def __init__(self, status: AccountStatus, *, now_ms: int) -> None:
        super().__init__(id=f"panel-{status.provider}")
        self.border_title = status.name
        self.set_reactive(AccountPanel.status, status)
        self.set_reactive(AccountPanel.now_ms, now_ms)

    @property
    def provider(self) -> str:
        """The provider id this card shows."""
        assert self.status is not None
        return self.status.provider

    def rows(self) -> list[tuple[str, str, str | None]]:
        """``(label, value, component class)`` for every line the card shows."""
        status = self.status
        assert status is not None
        rows: list[tuple[str, str, str | None]] = [
            ("State", f"● {status.state.value}", STATE_STYLES[status.state])
        ]
        details = (
            ("Account", status.account),
            ("Source", self._source_text(status)),
            ("Expiry", None if status.expires_ms is None else expiry(status.expires_ms, self.now_ms)),
            *status.rows,
            ("Token", status.masked_token),
        )
        rows += [(label, value, None) for label, value in details if value]
        if status.last_error:
            rows.append(("Error", status.last_error, "account-panel--error"))
        if status.state is State.NOT_LOGGED_IN:
            rows.append(("", "Press l to log in.", "account-panel--hint"))
        elif status.state is State.REFRESH_FAILED:
            rows.append(("", "Press r to try again, or l to log in again.", "account-panel--hint"))
        return rows

    def render(self) -> Table:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(width=10, style=self.get_component_rich_style("account-panel--label"))
        grid.add_column(ratio=1)
        for label, value, component in self.rows():
            style = self.get_component_rich_style(component) if component else ""
            grid.add_row(Text(label), Text(value, style=style))
        return grid

    @staticmethod
    def _source_text(status: AccountStatus) -> str | None:
        if status.source is None:
            return None
        if not status.stored:
            text = f"${status.source}"
        elif status.kind == "api_key":
            text = f"stored API key ({status.source})"
        else:
            text = f"stored login ({status.source})"
        if status.shadowed:
            text += f"; also set, not used: {', '.join(status.shadowed)}"
        return text
