"""Home: one line per provider (and one per account pi-tui stores for it), the selected one's
details, and the keys that act on it."""

from __future__ import annotations

import asyncio
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
from app.errors import ConfigError, PiTuiError
from app.expiry import BUFFER_MS
from app.paths import display_path
from app.sanitize import for_display
from app.timefmt import expiry
from app.tui.feedback import describe
from app.tui.widgets.account_details import AccountDetails
from app.tui.widgets.account_list import AccountList
from app.tui.widgets.account_text import stored_name
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar
from app.usage import UsageReport

if TYPE_CHECKING:
    from pathlib import Path

    from app.accounts import AccountRow
    from app.service import AuthService
    from app.tui.app import PiTuiApp

EMPTY = "Nothing is logged in yet. Press l to log in."
USAGE_EVERY_MS = 60_000
# pi-tui's file of the accounts pi does not use now, beside pi's: app.accounts.VAULT_NAME, named
# here so that a panel without one starts without importing app.accounts (a test pins the two).
VAULT_NAME = "pi-tui-accounts.json"


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
    """Where every login stands, live; l/o/r/t/s/a act from here, on the selected provider or account."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "app.login", "Log in", tooltip="Log in to a provider"),
        Binding("o", "logout", "Log out", tooltip="Log out of the selected provider or stored account"),
        Binding("r", "refresh", "Refresh", tooltip="Refresh the selected login now"),
        Binding("t", "test", "Test", tooltip="Make one real API call with the selected login"),
        Binding("s", "switch", "Switch", tooltip="Make the selected stored account the one pi uses"),
        Binding(
            "a", "add_account", "Add account", tooltip="Log in to another account of the selected provider"
        ),
        # The same key, out of the key bar: where a provider has one account, l says it too.
        Binding("a", "add_account(True)", show=False),
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
        # What the usage cache held for stored accounts (or the panel saw before a switch).
        self._stored_usage: dict[tuple[str, str], UsageReport] = {}
        self._store_stamp: tuple[tuple[int, int] | None, ...] = ()
        self._said = Said(None)
        # Why the accounts file beside pi's cannot be read (shown with the store note), if it cannot.
        self._vault_problem: str | None = None
        # The list, once composed (keys are checked before it exists: a start at a select).
        self._list: AccountList | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        # Stamp first: a write between the stamp and the read only costs one more reload.
        self._store_stamp = self._stamp()
        statuses = self.service.statuses()
        stored = self._read_stored(statuses)
        now = self.service.now_ms()
        yield Static(EMPTY, id="empty")
        self._list = AccountList(statuses, now_ms=now, stored=stored, glyphs=self.app.glyphs, id="accounts")
        yield self._list
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
        self.accounts.show_stored_usage(self._stored_usage)
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
        assert self._list is not None, "the status screen is not composed yet"
        return self._list

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
        """Read every provider's status (and the stored accounts) again (no network)."""
        self._store_stamp = self._stamp()
        statuses = self.service.statuses()
        stored = self._read_stored(statuses)
        self.accounts.update(statuses, self.service.now_ms(), stored)
        self.accounts.show_stored_usage(self._stored_usage)
        self._show_empty()
        self._show_details()
        self._show_store_note()
        self.refresh_bindings()
        said = self._said
        if said.provider is not None:
            now = next((s for s in statuses if s.provider == said.provider), None)
            if facts(now) != said.facts:
                self.say("")

    @property
    def vault_path(self) -> Path:
        """pi-tui's file of the accounts pi does not use now (beside pi's credential file)."""
        return self.service.store.path.with_name(VAULT_NAME)

    def _read_stored(self, statuses: list[AccountStatus]) -> tuple[AccountRow, ...]:
        """The accounts pi-tui stores for the listed providers, not the ones pi uses (reads only).

        A file that cannot be read lists none, and its sentence goes with the store note. What
        the usage cache holds for them is read too (it asks no one).
        """
        self._vault_problem = None
        if not os.path.lexists(self.vault_path):
            self._stored_usage = {}
            return ()  # one provider, one account: app.accounts is not even imported
        try:
            accounts = self.service.accounts()
            kept = accounts.vault.load()["providers"]
            listed = [s.provider for s in statuses]
            ids = [p for p in listed if kept.get(p)]
            stored = tuple(row for row in accounts.rows(ids) if not row.active) if ids else ()
            seen: dict[tuple[str, str], UsageReport] = {}
            if self.usage_on:
                for provider_id in {row.provider for row in stored}:
                    cached = self.service.stored_usage(provider_id)
                    seen |= {(provider_id, name): report for name, report in cached.items()}
        except PiTuiError as exc:
            self._vault_problem = describe(exc)
            return ()
        names = {(row.provider, row.account) for row in stored}
        # What the panel saw before a switch is kept while the cache has nothing newer.
        self._stored_usage = {key: r for key, r in self._stored_usage.items() if key in names} | seen
        return stored

    def _show_empty(self) -> None:
        # An unreadable store is not an empty one: its details say what is wrong with it.
        accounts = self.accounts
        nothing = not accounts.stored and all(
            s.source is None and s.state is not State.UNREADABLE for s in accounts.statuses
        )
        self.query_one("#empty").display = nothing

    def _show_store_note(self) -> None:
        # When auth.json is in use and oauth.json beside it holds logins pi can't see; when the
        # file of the other accounts cannot be read.
        notes = [note for note in (self.service.migration_note(), self._vault_problem) if note]
        line = self.query_one("#store-note", Static)
        line.update("\n".join(notes))
        line.display = bool(notes)

    def _show_details(self) -> None:
        accounts = self.accounts
        current = accounts.current()
        stored = accounts.current_account()
        details = self.query_one(AccountDetails)
        if stored is not None:
            usage = self._stored_usage.get((stored.provider, stored.account))
            where = display_path(self.vault_path)
            details.show(current, accounts.now_ms, usage, stored=stored, where=where)
            return
        usage = self._usage.get(current.provider) if current is not None else None
        details.show(current, accounts.now_ms, usage)

    @on(AccountList.Highlighted)
    def _highlighted(self, event: AccountList.Highlighted) -> None:
        if self._said.provider is not None and self._said.provider != event.provider:
            self.say("")  # it spoke of the provider that was selected before
        self._show_details()
        self.refresh_bindings()  # s, r, t and a depend on what is selected

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
        for row in accounts.stored:
            # A stored account by pi's rule alone (pi-tui does not note when its token arrived).
            ends = row.expires_ms
            if row.state is State.LOGGED_IN and ends is not None and now + BUFFER_MS >= ends:
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

    def _stamp(self) -> tuple[tuple[int, int] | None, ...]:
        """pi's file's and the stored accounts' file's change stamps (a switch or a logout of a
        stored account elsewhere changes only the second)."""
        stamps: list[tuple[int, int] | None] = []
        for path in (self.service.store.path, self.vault_path):
            try:
                info = os.stat(path)
            except OSError:
                stamps.append(None)
            else:
                stamps.append((info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def selected(self) -> AccountStatus | None:
        """The status of the provider under the cursor (None before the list exists: a start at a select)."""
        return self._list.current() if self._list is not None else None

    def select(self, provider_id: str) -> None:
        """Put the cursor on ``provider_id`` (e.g. the login just made), with the file read again."""
        self.reload()
        self.accounts.selected_account = None
        self.accounts.selected = provider_id

    # -- actions on the selected provider ------------------------------------------------

    def action_logout(self) -> None:
        """Log out of the selected provider (or stored account), after asking."""
        stored = self.accounts.current_account()
        if stored is not None:
            self._ask_remove(stored)
            return
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

    # -- several accounts of a provider --------------------------------------------------

    def action_switch(self) -> None:
        """Make the stored account under the cursor the one pi uses."""
        stored = self.accounts.current_account()
        if stored is None:
            return
        self.say(f"Switching {stored.name} to {stored_name(stored)}…", about=stored.provider)
        self._switch(stored.provider, stored.account)

    @work(group="accounts", exit_on_error=False)
    async def _switch(self, provider_id: str, account: str) -> None:
        accounts = self.service.accounts()
        was = self._usage.get(provider_id)

        def switch() -> tuple[AccountRow, str | None]:
            # Its own loop in a thread: the switch waits for pi's lock, the panel must not.
            return asyncio.run(accounts.switch(provider_id, account))

        try:
            chosen, before = await asyncio.to_thread(switch)
        except Exception as exc:
            self.reload()
            self.say(describe(exc), error=True, about=provider_id)
            return
        if chosen.active:
            self.reload()
            text = f"{stored_name(chosen)} is already the active {chosen.name} account; nothing changed."
            self.say(text, about=provider_id)
            return
        # The usage shown was the account that went to the file beside pi's; the new one's is
        # what the panel saw of it while it was stored, until it is read again.
        now = self._stored_usage.pop((provider_id, chosen.account), None)
        self._usage.pop(provider_id, None)
        if now is not None:
            self._usage[provider_id] = now
        if was is not None and before is not None:
            self._stored_usage[(provider_id, before)] = was
        self.accounts.show_usage(self._usage)
        self.reload()
        self.accounts.selected_account = None  # on the provider's line: the account just chosen
        kept = f"; {for_display(before, limit=120)} is kept by pi-tui" if before else ""
        self.say(
            f"Switched {chosen.name} to {stored_name(chosen)}{kept}. pi uses it from its next request.",
            about=provider_id,
        )
        if self.usage_on:
            self._fetch_usage()  # the cache says whose answer it holds: the new account's is asked for

    def _ask_remove(self, stored: AccountRow) -> None:
        """Ask before deleting a stored account's tokens (pi's file is not touched)."""
        question = (
            f"Log out of the {stored.name} account {stored_name(stored)}? This deletes its tokens "
            f"from {display_path(self.vault_path)}; pi's file is not changed."
        )
        self.app.confirm(question, "Log out", lambda confirmed: self._remove_confirmed(stored, confirmed))

    def _remove_confirmed(self, stored: AccountRow, confirmed: bool | None) -> None:
        if not confirmed:
            self.say("Logout cancelled; nothing was changed.", about=stored.provider)
            return
        self._remove(stored.provider, stored.account)

    @work(group="accounts", exit_on_error=False)
    async def _remove(self, provider_id: str, account: str) -> None:
        accounts = self.service.accounts()

        def remove() -> AccountRow:
            # The one confirmed: never pi's own login, should it have been switched to meanwhile.
            found = accounts.find(provider_id, account)
            if found.active or found.account != account:
                raise ConfigError(
                    f"{stored_name(found)} is now the active {found.name} account; nothing was changed."
                )
            return accounts.remove(provider_id, account)  # takes the locks: not on the panel's loop

        try:
            gone = await asyncio.to_thread(remove)
        except Exception as exc:
            self.reload()
            self.say(describe(exc), error=True, about=provider_id)
            return
        self._stored_usage.pop((provider_id, account), None)
        self.reload()
        where = display_path(self.vault_path)
        text = f"Logged out of the {gone.name} account {stored_name(gone)}; its tokens were deleted "
        text += f"from {where}."
        self.say(text, about=provider_id)

    def action_add_account(self, quiet: bool = False) -> None:
        """Log in to another account of the selected provider, keeping the stored one.

        ``quiet``: the binding out of the key bar (the provider has one account).
        """
        status = self.selected()
        if status is not None:
            self.app.begin_login(status.provider, add=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Keys are shown only where they act: usage where it is read (not in a panel built
        # without it); s on a stored account; r and t on a provider's own line; a where the
        # provider has several accounts, and (out of the key bar) where it has one login.
        if action == "usage":
            return self.usage_on
        if action not in ("switch", "refresh", "test", "add_account"):
            return True
        accounts = self._list
        if accounts is None:
            return action in ("refresh", "test")  # as before the list existed
        on_stored = accounts.current_account() is not None
        if action == "switch":
            return on_stored
        if action in ("refresh", "test"):
            return not on_stored
        status = accounts.current()
        if status is None:
            return False
        several = any(row.provider == status.provider for row in accounts.stored)
        return several or (bool(parameters) and status.stored)

    # -- subscription usage --------------------------------------------------------------

    def action_usage(self) -> None:
        """Ask every logged-in subscription how much is left, now (not from the cache)."""
        self.say("Checking usage…")
        self._fetch_usage(refresh=True)

    @work(exclusive=True, group="usage", exit_on_error=False)
    async def _fetch_usage(self, refresh: bool = False) -> None:
        """Each live login's usage, one provider at a time as it arrives; a failure is its line."""
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
