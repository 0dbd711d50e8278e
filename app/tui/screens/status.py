"""Home: one card per provider, and the keys that act on the selected one."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from app.credentials import AccountStatus, State
from app.expiry import refresh_due_ms
from app.timefmt import expiry
from app.tui.feedback import describe
from app.tui.widgets.account_panel import AccountPanel
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.service import AuthService

EMPTY = "Nothing is logged in yet. Press l to log in."


class StatusScreen(Screen[None]):
    """Where every login stands, live; l/o/r/t act from here."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "app.login", "Log in", tooltip="Log in to a provider"),
        Binding("o", "app.logout", "Log out", tooltip="Remove a stored login"),
        Binding("r", "refresh", "Refresh", tooltip="Refresh the selected login now"),
        Binding("t", "test", "Test", tooltip="Make one real API call with the selected login"),
        Binding("question_mark", "app.help", "Help", key_display="?", tooltip="Keys, store and log paths"),
        Binding("q", "app.quit", "Quit", tooltip="Leave pi-tui"),
        Binding("up,k", "app.focus_previous", "Previous", show=False),
        Binding("down,j", "app.focus_next", "Next", show=False),
    ]

    message: reactive[str] = reactive("")
    failed: reactive[bool] = reactive(False)

    def __init__(self, service: AuthService) -> None:
        super().__init__(id="status")
        self.service = service
        self._store_stamp: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        # Stamp first: a write between the stamp and the read only costs one more reload.
        self._store_stamp = self._stamp()
        statuses = self.service.statuses()
        now = self.service.now_ms()
        yield Static(EMPTY, id="empty")
        with VerticalScroll(id="panels", can_focus=False):
            for status in statuses:
                yield AccountPanel(status, now_ms=now)
        yield Static("", id="message", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._show_empty()
        self.set_interval(1.0, self._tick)
        note = self.service.migration_note()
        if note is not None:
            self.say(note)

    def on_screen_resume(self) -> None:
        # Back from a login or logout: the file changed. (Not on the first show: compose just read it.)
        if self._stamp() != self._store_stamp:
            self.reload()

    def watch_message(self, text: str) -> None:
        message = self.query_one("#message", Static)
        message.update(text)
        message.display = bool(text)

    def watch_failed(self, failed: bool) -> None:
        self.query_one("#message").set_class(failed, "-failure")

    def say(self, text: str, *, error: bool = False) -> None:
        """Show one sentence on the message line."""
        self.failed = error
        self.message = text

    def reload(self) -> None:
        """Read every provider's status again (no network)."""
        self._store_stamp = self._stamp()
        now = self.service.now_ms()
        by_id = {s.provider: s for s in self.service.statuses()}
        for panel in self.query(AccountPanel):
            panel.now_ms = now
            panel.status = by_id[panel.provider]
        self._show_empty()

    def _show_empty(self) -> None:
        # An unreadable store is not an empty one: its cards say what is wrong with it.
        nothing = all(
            p.status is None or (p.status.source is None and p.status.state is not State.UNREADABLE)
            for p in self.query(AccountPanel)
        )
        self.query_one("#empty").display = nothing

    def _tick(self) -> None:
        """Once a second: move the countdowns; reload when a login falls due or the file changes."""
        now = self.service.now_ms()
        stale = self._stamp() != self._store_stamp
        for panel in self.query(AccountPanel):
            panel.now_ms = now
            status = panel.status
            if (
                status
                and status.state is State.LOGGED_IN
                and status.expires_ms
                and now >= (refresh_due_ms({"expires": status.expires_ms}) or 0)
            ):
                stale = True
        if stale:
            self.reload()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.service.store.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def selected(self) -> AccountStatus | None:
        """The status of the focused card (the first card when none is focused)."""
        focused = self.focused if isinstance(self.focused, AccountPanel) else None
        panel = focused or next(iter(self.query(AccountPanel)), None)
        return panel.status if panel else None

    def action_refresh(self) -> None:
        """Refresh the selected provider's stored login now."""
        status = self.selected()
        if status is None:
            return
        if not status.stored:
            how = f"it uses ${status.source}" if status.source else "it is not logged in"
            self.say(f"Nothing to refresh for {status.name}: {how}.", error=True)
            return
        self.say(f"Refreshing {status.name}…")
        self._refresh(status.provider)

    @work(exclusive=True, group="account", exit_on_error=False)
    async def _refresh(self, provider_id: str) -> None:
        try:
            status = await self.service.refresh(provider_id)
        except Exception as exc:
            self.say(describe(exc), error=True)
        else:
            self.say(f"Refreshed {status.name}; {expiry(status.expires_ms, self.service.now_ms())}.")
        self.reload()

    def action_test(self) -> None:
        """Make one real API call with the selected provider's credential."""
        status = self.selected()
        if status is None:
            return
        if status.source is None:
            self.say(f"{status.name} is not logged in; press l to log in.", error=True)
            return
        self.say(f"Testing {status.name}…")
        self._test(status.provider, status.name)

    @work(exclusive=True, group="account", exit_on_error=False)
    async def _test(self, provider_id: str, name: str) -> None:
        try:
            result = await self.service.test(provider_id)
        except Exception as exc:
            self.say(describe(exc), error=True)
        else:
            self.say(f"{name}: {result}")
        self.reload()
