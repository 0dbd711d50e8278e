"""Home: one line per provider, the selected one's details, and the keys that act on it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from app.credentials import AccountStatus, State
from app.errors import PiTuiError
from app.timefmt import expiry
from app.tui.feedback import describe
from app.tui.widgets.account_details import AccountDetails
from app.tui.widgets.account_list import AccountList
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.service import AuthService
    from app.tui.app import PiTuiApp
    from app.usage import UsageReport

EMPTY = "Nothing is logged in yet. Press l to log in."
USAGE_EVERY_MS = 60_000


class Said(NamedTuple):
    """What a message was about, as it stood when it was said: it goes when that changes."""

    provider: str | None
    facts: tuple[object, ...] = ()


def facts(status: AccountStatus | None) -> tuple[object, ...]:
    """The parts of a status a message can speak of."""
    if status is None:
        return ()
    return (status.state, status.source, status.expires_ms, status.masked_token, status.last_error)


class StatusScreen(Screen[None]):
    """Where every login stands, live; l/o/r/t act from here, on the selected provider."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "app.login", "Log in", tooltip="Log in to a provider"),
        Binding("o", "logout", "Log out", tooltip="Log out of the selected provider"),
        Binding("r", "refresh", "Refresh", tooltip="Refresh the selected login now"),
        Binding("t", "test", "Test", tooltip="Make one real API call with the selected login"),
        Binding("u", "usage", "Usage", tooltip="Ask every subscription how much is left, now"),
        Binding("question_mark", "app.help", "Help", key_display="?", tooltip="Keys, store and log paths"),
        Binding("q", "app.quit", "Quit", tooltip="Leave pi-tui (Ctrl-C too)"),
    ]

    app: PiTuiApp
    message: reactive[str] = reactive("")
    failed: reactive[bool] = reactive(False)

    def __init__(self, service: AuthService, *, usage: bool = True) -> None:
        super().__init__(id="status")
        self.service = service
        # Subscription usage, fetched in the background after the first frame (False: never).
        self.usage_on = usage
        self._usage: dict[str, UsageReport] = {}
        self._usage_asked_ms: int | None = None
        self._store_stamp: tuple[int, int] | None = None
        self._said = Said(None)

    def compose(self) -> ComposeResult:
        yield TitleBar()
        # Stamp first: a write between the stamp and the read only costs one more reload.
        self._store_stamp = self._stamp()
        statuses = self.service.statuses()
        now = self.service.now_ms()
        yield Static(EMPTY, id="empty")
        yield AccountList(statuses, now_ms=now, glyphs=self.app.glyphs, id="accounts")
        with VerticalScroll(id="details-scroll", can_focus=False):
            yield AccountDetails(glyphs=self.app.glyphs, id="details")
        # Not a message: it stays for as long as it is true (until `pi-tui migrate` has run).
        yield Static("", id="store-note", markup=False)
        with Vertical(id="status-foot"):
            yield Static("", id="message", markup=False)
            yield KeyBar()

    def on_mount(self) -> None:
        # Something may have been said before the message line existed (see watch_message).
        self.watch_message(self.message)
        self.watch_failed(self.failed)
        self._show_empty()
        self._show_details()
        self._show_store_note()
        self.set_interval(1.0, self._tick)
        if self.usage_on:
            self.call_after_refresh(self._fetch_usage)  # never before the first frame

    def on_screen_resume(self) -> None:
        # Back from a login or logout: the file changed. (Not on the first show: compose just read it.)
        if self._stamp() != self._store_stamp:
            self.reload()

    def on_screen_suspend(self) -> None:
        # Leaving for another screen: what the message said belongs to the moment it was said.
        self.say("")

    @property
    def accounts(self) -> AccountList:
        """The list of providers."""
        return self.query_one(AccountList)

    # -- the message line ----------------------------------------------------------------

    # A message can be said or cleared before compose (a start at the logout select): no line yet.
    def watch_message(self, text: str) -> None:
        for message in self.query("#message").results(Static):
            message.update(text)
            message.display = bool(text)

    def watch_failed(self, failed: bool) -> None:
        for message in self.query("#message"):
            message.set_class(failed, "-failure")

    def say(self, text: str, *, error: bool = False, about: str | None = None) -> None:
        """Show one sentence; with ``about``, it goes away when that provider's status changes."""
        status = self._status_of(about) if about else None
        self._said = Said(about, facts(status))
        self.failed = error
        self.message = text

    def _status_of(self, provider: str) -> AccountStatus | None:
        try:
            return self.service.status(provider)
        except Exception:
            return None

    # -- reading the store ---------------------------------------------------------------

    def reload(self) -> None:
        """Read every provider's status again (no network)."""
        self._store_stamp = self._stamp()
        statuses = self.service.statuses()
        self.accounts.update(statuses, self.service.now_ms())
        self._show_empty()
        self._show_details()
        self._show_store_note()
        said = self._said
        if said.provider is not None:
            now = next((s for s in statuses if s.provider == said.provider), None)
            if facts(now) != said.facts:
                self.say("")

    def _show_empty(self) -> None:
        # An unreadable store is not an empty one: its details say what is wrong with it.
        nothing = all(s.source is None and s.state is not State.UNREADABLE for s in self.accounts.statuses)
        self.query_one("#empty").display = nothing

    def _show_store_note(self) -> None:
        # When auth.json is in use and oauth.json beside it holds logins pi can't see.
        note = self.service.migration_note()
        line = self.query_one("#store-note", Static)
        line.update(note or "")
        line.display = note is not None

    def _show_details(self) -> None:
        current = self.accounts.current()
        usage = self._usage.get(current.provider) if current is not None else None
        self.query_one(AccountDetails).show(current, self.accounts.now_ms, usage)

    @on(AccountList.Highlighted)
    def _highlighted(self, event: AccountList.Highlighted) -> None:
        if self._said.provider is not None and self._said.provider != event.provider:
            self.say("")  # it spoke of the provider that was selected before
        self._show_details()

    def _tick(self) -> None:
        """Once a second: move the countdowns; reload when a login falls due or the file changes."""
        now = self.service.now_ms()
        accounts = self.accounts
        stale = self._stamp() != self._store_stamp
        for status in accounts.statuses:
            # Due (pi 1.x: 5 minutes before expires) is when the state word changes.
            due = status.next_refresh_ms
            if status.state is State.LOGGED_IN and due is not None and now >= due:
                stale = True
        asked = self._usage_asked_ms
        if self.usage_on and asked is not None and now - asked >= USAGE_EVERY_MS:
            self._usage_asked_ms = None  # until the fetch below has run
            self._fetch_usage()  # the cache decides whether that asks anyone
        if stale:
            self.reload()
        else:
            accounts.now_ms = now
            self._show_details()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.service.store.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def selected(self) -> AccountStatus | None:
        """The status of the provider under the cursor (None before the list exists: a start at a select)."""
        return next((accounts.current() for accounts in self.query(AccountList).results(AccountList)), None)

    def select(self, provider_id: str) -> None:
        """Put the cursor on ``provider_id`` (e.g. the login just made), with the file read again."""
        self.reload()
        self.accounts.selected = provider_id

    # -- actions on the selected provider ------------------------------------------------

    def action_logout(self) -> None:
        """Log out of the selected provider, after asking."""
        status = self.selected()
        if status is None:
            return
        try:
            self.service.check_logout(status.provider)
        except PiTuiError as exc:
            self.say(describe(exc), error=True, about=status.provider)
            return
        self.app.confirm_logout(status.provider)

    def action_refresh(self) -> None:
        """Refresh the selected provider's stored login now."""
        status = self.selected()
        if status is None:
            return
        self.say(f"Refreshing {status.name}…", about=status.provider)
        self._refresh(status.provider)

    @work(exclusive=True, group="account", exit_on_error=False)
    async def _refresh(self, provider_id: str) -> None:
        try:
            status = await self.service.refresh(provider_id)
        except Exception as exc:
            self.say(describe(exc), error=True, about=provider_id)
        else:
            text = f"Refreshed {status.name}; {expiry(status.expires_ms, self.service.now_ms())}."
            self.say(text, about=provider_id)
        self.reload()

    def action_test(self) -> None:
        """Make one real API call with the selected provider's credential."""
        status = self.selected()
        if status is None:
            return
        self.say(f"Testing {status.name}…", about=status.provider)
        self._test(status.provider, status.name)

    @work(exclusive=True, group="account", exit_on_error=False)
    async def _test(self, provider_id: str, name: str) -> None:
        try:
            result = await self.service.test(provider_id)
        except Exception as exc:
            self.say(describe(exc), error=True, about=provider_id)
        else:
            self.say(f"{name}: {result}", about=provider_id)
            if self.usage_on and self._usage_asked_ms is not None:
                self._fetch_usage()  # its answer's rate-limit headers may have renewed the cache
        self.reload()

    # -- subscription usage --------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The usage key is shown only where usage is read (not in a panel built without it).
        return self.usage_on if action == "usage" else True

    def action_usage(self) -> None:
        """Ask every logged-in subscription how much is left, now (not from the cache)."""
        self.say("Checking usage…")
        self._fetch_usage(refresh=True)

    @work(exclusive=True, group="usage", exit_on_error=False)
    async def _fetch_usage(self, refresh: bool = False) -> None:
        """Each live login's usage, one provider at a time as it arrives; a failure is its line."""
        import asyncio

        from app.usage import UsageReport

        self._usage_asked_ms = None
        # A due or failed login is left to r: usage never refreshes behind the user's back.
        live = [s for s in self.accounts.statuses if s.stored and s.state is State.LOGGED_IN]

        async def one(status: AccountStatus) -> None:
            try:
                report = await self.service.usage(status.provider, refresh=refresh)
            except Exception as exc:
                report = UsageReport(status.provider, status.name, error=describe(exc))
            self._usage[status.provider] = report
            self.accounts.show_usage(self._usage)
            self._show_details()

        await asyncio.gather(*(one(status) for status in live))
        self._usage_asked_ms = self.service.now_ms()
        if refresh and self.message == "Checking usage…":
            self.say("")
