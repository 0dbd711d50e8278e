"""AuthService: login, logout, refresh, test and token hand-out over every provider.

The one door the screens and the command line go through. It names no provider: it looks
each one up in :mod:`app.providers` and runs the flow kind its login method uses. Reports
progress by return values, exceptions and plain async iterators — never through widgets.
Provider modules and httpx are imported on first use, so building a service is cheap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path

from app import providers
from app.credentials import (
    API_KEY,
    AccountStatus,
    Resolution,
    account_label,
    account_status,
    fingerprint,
    ready_token,
    remembered_account,
    resolve,
    state_file,
    token_due,
)
from app.errors import (
    AuthError,
    ConfigError,
    NetworkError,
    NotLoggedIn,
    PiTuiError,
    RefreshError,
    StoreError,
    StoreLockTimeout,
    StoreWriteError,
)
from app.expiry import never_expires
from app.mask import mask
from app.providers import ACCOUNT_KEYS
from app.records import NamedTuple
from app.state import BY_APP, StateFile
from app.store import CredentialStore, StoreTransaction

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    import logging
    from typing import Any, TypeAlias, TypeVar

    import httpx

    from app.accounts import Accounts
    from app.flows.auth_code import AuthCodeLogin
    from app.flows.device import DeviceLogin
    from app.providers import Method, ProviderInfo
    from app.providers.base import Usage
    from app.usage import UsageBook, UsageReport

    # Explicit: with the import cycle through app.http, mypy otherwise takes it for a variable.
    Login: TypeAlias = AuthCodeLogin["LoginResult"] | DeviceLogin["LoginResult"]
    T = TypeVar("T")


def _log() -> logging.Logger:
    import logging  # `pi-tui token` with a fresh token logs nothing and does not pay for it

    return logging.getLogger("pi_tui.service")


ClientFactory = Callable[[], "httpx.AsyncClient"]


class LoginResult(NamedTuple):
    """A finished login: what to tell the user."""

    provider: str
    name: str
    path: Path
    account: str | None = None

    @property
    def message(self) -> str:
        """The success sentence shown on screen and printed by the command line."""
        from app.paths import display_path
        from app.sanitize import for_display

        # The account, so that a login made with someone else's account is seen at once.
        who = f" as {for_display(self.account, limit=100)}" if self.account else ""
        return f"Logged in to {self.name}{who}. Credentials saved to {display_path(self.path)}"


class Issued(NamedTuple):
    """A token handed out, where it came from, and a warning when an old one stood in for a
    refresh that failed for a passing reason. ``token`` never shows in ``repr``."""

    resolution: Resolution
    token: str
    warning: str | None = None

    def __repr__(self) -> str:
        return f"Issued({self.resolution!r}, warning={self.warning!r})"


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion; inside a running event loop, on a private loop in a thread."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="pi-tui-token")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class AuthService:
    """Everything the UI can do with logins. Construct one per app or command."""

    def __init__(
        self,
        store: CredentialStore,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        client_factory: ClientFactory | None = None,
        poll_scale: float = 1.0,
        actor: str = BY_APP,
        state: StateFile | None = None,
    ) -> None:
        self.store = store
        self.env = os.environ if env is None else env
        # Who this service is, in the token's life ("refreshed by pi-tui token"); see app.state.
        self.actor = actor
        # pi-tui's own memory (account names, a token's life), never a token; see app.state.
        self.state = state or state_file(self.env)
        self._endpoints: dict[str, Any] = {}
        self.clock = clock
        # Shrinks device-flow waits in tests (which also shrink the fake server's poll gap).
        self.poll_scale = poll_scale
        self._client_factory = client_factory
        self._errors: dict[str, str] = {}

    # -- reading -----------------------------------------------------------------------

    def now_ms(self) -> int:
        """The injected clock, in epoch milliseconds."""
        return int(self.clock() * 1000)

    def providers(self) -> list[providers.ProviderInfo]:
        """Every known provider, in display order (custom gateways of the agent dir's models.json last)."""
        return list(providers.registry(self.store.path.parent, self.env).values())

    def info(self, provider_id: str) -> ProviderInfo:
        """The provider with this id in this store's agent directory (its custom gateways too)."""
        return providers.provider(provider_id, self.store.path.parent)

    def endpoints(self, provider_id: str) -> Any:
        """The provider's endpoints with the ``PI_TUI_*`` overrides applied (ConfigError on a bad one).

        The module sees the store's directory as ``PI_CODING_AGENT_DIR`` and the environment its
        registry entry carries (a custom gateway's address).
        """
        if provider_id not in self._endpoints:
            info = self.info(provider_id)
            env = {**self.env, "PI_CODING_AGENT_DIR": str(self.store.path.parent), **dict(info.env)}
            self._endpoints[provider_id] = providers.load(provider_id).endpoints(env)
        return self._endpoints[provider_id]

    def status(self, provider_id: str) -> AccountStatus:
        """One provider's status (no network)."""
        info = self.info(provider_id)
        return account_status(
            info,
            self.store,
            self.env,
            now_ms=self.now_ms(),
            last_error=self._errors.get(provider_id),
            state=self.state,
        )

    def statuses(self) -> list[AccountStatus]:
        """Every provider's status (no network)."""
        return [self.status(p.id) for p in self.providers()]

    def migration_note(self) -> str | None:
        """When auth.json is in use and oauth.json beside it holds logins pi can't see: what to do."""
        from app.store import migration_note, pending_migration

        pending = pending_migration(self.store)
        return None if pending is None else migration_note(pending)

    def client(self) -> httpx.AsyncClient:
        """A new HTTP client (the injected factory in tests)."""
        if self._client_factory is not None:
            return self._client_factory()
        from app.http import make_client

        return make_client()

    # -- tokens: the one path every caller (CLI, library, PiAuth) takes ---------------------

    def _ready(self, provider_id: str, min_valid_ms: int) -> tuple[Resolution, str | None]:
        """The winning source and its token when usable as it is; None when it must be refreshed."""
        info = self.info(provider_id)
        found = resolve(info, self.store, self.env, for_token=True)
        token = ready_token(info, found, now_ms=self.now_ms(), state=self.state, min_valid_ms=min_valid_ms)
        return found, token

    async def token(self, provider_id: str, *, min_valid_ms: int = 0, account: str | None = None) -> Issued:
        """A valid token by the resolution order, refreshed under the lock when due or when it
        has less than ``min_valid_ms`` left. The async form of :meth:`token_sync`."""
        if account is not None:
            from app.accounts import Accounts

            accounts = Accounts(self.store, env=self.env, state=self.state)
            chosen = accounts.find(provider_id, account)
            if not chosen.active:
                entry = await accounts.entry_for(chosen.provider, chosen.account, min_valid_ms=min_valid_ms)
                return self._account_issued(provider_id, chosen.account, entry)
        found, token = self._ready(provider_id, min_valid_ms)
        if token is not None:
            return Issued(found, token)
        assert found.entry is not None  # only a stored login can be due
        try:
            async with self.store.transaction() as tx:
                entry = await self.refresh_locked(
                    tx, provider_id, seen=found.entry, force=False, min_valid_ms=min_valid_ms
                )
        except (NetworkError, RefreshError, StoreLockTimeout) as exc:
            return self._stand_in(found, exc, min_valid_ms)
        return Issued(found._replace(entry=entry, token=str(entry["access"])), str(entry["access"]))

    def token_sync(
        self,
        provider_id: str,
        *,
        min_valid_ms: int = 0,
        on_wait: Callable[[str], None] | None = None,
        account: str | None = None,
    ) -> Issued:
        """:meth:`token` for synchronous callers, and the fast path of ``pi-tui token``: neither
        asyncio nor httpx is imported unless a refresh is due.

        While it waits for the lock, the file is re-read at every poll: when another process has
        refreshed meanwhile, its token is used and the lock is never taken (many processes asking
        at once make one request). ``on_wait`` gets one sentence once the wait passes a second.
        ``account``: another stored account's token (:mod:`app.accounts`), without switching pi.
        """
        if account is not None:
            from app.accounts import Accounts

            accounts = Accounts(self.store, env=self.env, state=self.state)
            chosen = accounts.find(provider_id, account)
            if not chosen.active:
                entry = accounts.fresh_vault_entry(chosen.provider, chosen.account, min_valid_ms)
                if entry is None:
                    entry = run_blocking(
                        accounts.entry_for(chosen.provider, chosen.account, min_valid_ms=min_valid_ms)
                    )
                return self._account_issued(provider_id, chosen.account, entry)
        found, token = self._ready(provider_id, min_valid_ms)
        if token is not None:
            return Issued(found, token)
        assert found.entry is not None  # only a stored login can be due
        fresh: list[dict[str, Any]] = []
        started = time.monotonic()
        told = on_wait is None

        def refreshed_by_another() -> bool:
            nonlocal told
            entry = self.store.get(provider_id)
            now = self.now_ms()
            if entry is not None and not token_due(
                self.store.path, provider_id, entry, now_ms=now, state=self.state, min_valid_ms=min_valid_ms
            ):
                fresh.append(entry)
            elif not told and time.monotonic() - started >= 1.0:
                told = True
                assert on_wait is not None
                on_wait(
                    f"Waiting for the lock on {self.store.path.name}, held by another program (pi or pi-tui)…"
                )
            return bool(fresh)

        try:
            with self.store.transaction(unless=refreshed_by_another) as tx:
                if tx.held:
                    refreshed_by_another()  # it may have finished just before we got the lock
                if not fresh:
                    fresh.append(
                        run_blocking(
                            self.refresh_locked(
                                tx, provider_id, seen=found.entry, force=False, min_valid_ms=min_valid_ms
                            )
                        )
                    )
        except (NetworkError, RefreshError, StoreLockTimeout) as exc:
            return self._stand_in(found, exc, min_valid_ms)
        entry = fresh[-1]
        return Issued(found._replace(entry=entry, token=str(entry["access"])), str(entry["access"]))

    def _account_issued(self, provider_id: str, account: str, entry: dict[str, Any]) -> Issued:
        """A vault account's entry as a token handed out (an API key entry's key resolved as pi would)."""
        from app.accounts import VAULT_NAME

        source = f"{VAULT_NAME} ({account})"
        if entry.get("type") == API_KEY:
            from app.keys import resolve_key

            token = resolve_key(entry["key"], self.env, provider_id, self.store.path)
            return Issued(Resolution(provider_id, source, (), entry, token, kind=API_KEY), token)
        token = str(entry["access"])
        return Issued(Resolution(provider_id, source, (), entry, token, kind="oauth"), token)

    def _stand_in(self, found: Resolution, exc: PiTuiError, min_valid_ms: int) -> Issued:
        """After a refresh that failed for a passing reason, the old token when it still works.

        Not when the login was revoked, nor when the caller asked for more life than it has.
        """
        entry = found.entry or {}
        expires = entry.get("expires")
        still_valid = isinstance(expires, int | float) and self.now_ms() + min_valid_ms < expires
        if getattr(exc, "revoked", False) or not still_valid or found.token is None:
            raise exc
        _log().info("refresh failed (%s); the current token is still valid and is used", exc)
        return Issued(found, found.token, warning=f"{exc} The current token is still valid; using it.")

    async def get_token(self, provider_id: str) -> str:
        """A valid token for ``provider_id`` (:meth:`token`'s string)."""
        return (await self.token(provider_id)).token

    async def refresh(self, provider_id: str) -> AccountStatus:
        """Refresh now, even when not due (unless another process just did).

        When there is nothing to refresh (no stored login, an API key, a token from the
        environment, a login that never expires): AuthError with the sentence saying why.
        """
        seen = self.store.get(provider_id)
        if seen is None or never_expires(seen.get("expires")):
            raise self._nothing_to_refresh(provider_id, stored_login=seen is not None)
        await self.refresh_entry(provider_id, seen=seen, force=True)
        return self.status(provider_id)

    def _nothing_to_refresh(self, provider_id: str, *, stored_login: bool) -> AuthError:
        status = self.status(provider_id)
        if stored_login:
            why = "its login does not expire"
        elif status.source is None:
            return NotLoggedIn(f"Nothing to refresh for {status.name}: it is not logged in.")
        elif status.kind == API_KEY:
            where = status.source if status.stored else f"${status.source}"
            why = f"it uses an API key ({where}), which has no expiry to renew"
        else:
            why = f"it uses ${status.source}, a token pi-tui cannot renew; set a new one, or log in"
        return AuthError(f"Nothing to refresh for {status.name}: {why}.")

    async def refresh_entry(self, provider_id: str, *, seen: dict[str, Any], force: bool) -> dict[str, Any]:
        """Refresh under the store lock; another process's fresh token wins without a request."""
        async with self.store.transaction() as tx:
            return await self.refresh_locked(tx, provider_id, seen=seen, force=force)

    async def refresh_locked(
        self,
        tx: StoreTransaction,
        provider_id: str,
        *,
        seen: dict[str, Any],
        force: bool,
        min_valid_ms: int = 0,
    ) -> dict[str, Any]:
        """The refresh itself, inside a transaction the caller already holds.

        Re-reads first: when another process refreshed since ``seen`` was read, its entry is
        returned and no request is made.
        """
        entry = tx.get(provider_id)
        if entry is None:
            raise NotLoggedIn(providers.login_hint(self.info(provider_id)))
        now = self.now_ms()
        someone_else_refreshed = entry.get("access") != seen.get("access")
        due = token_due(
            self.store.path, provider_id, entry, now_ms=now, state=self.state, min_valid_ms=min_valid_ms
        )
        if not due and (not force or someone_else_refreshed):
            return entry
        # Only the process that really refreshes pays for importing the HTTP stack.
        module = providers.load(provider_id)
        _log().info("refreshing %s (token %s)", provider_id, mask(entry.get("access")))

        others: list[dict[str, Any]] = []  # an entry another process stored meanwhile

        async def exchange_and_store() -> dict[str, Any]:
            # The request spends the refresh token: first make sure its answer can be saved.
            self.state.check()
            try:
                tx.reserve(provider_id)
            except StoreWriteError as exc:
                raise StoreWriteError(
                    f"Could not save {self.store.path}: {exc.reason or 'the write failed'}. The "
                    f"{providers.provider(provider_id).name} login was not refreshed and is unchanged; "
                    "fix that and try again.",
                    reason=exc.reason,
                ) from None
            try:
                async with self.client() as client:
                    new = await module.refresh(client, self.endpoints(provider_id), entry, now_ms=now)
            except RefreshError as exc:
                if exc.revoked:
                    # pi itself may have rotated the token without our lock: trust the file.
                    latest = tx.get(provider_id)
                    if latest is not None and latest.get("refresh") != entry.get("refresh"):
                        others.append(latest)
                        return latest
                raise
            new = self._as_pi_writes_it(provider_id, new)
            try:
                tx.put(provider_id, new)
            except StoreWriteError as exc:
                if new.get("refresh") == entry.get("refresh"):
                    raise  # the stored login still works: trying again is the right advice
                info = self.info(provider_id)
                raise StoreWriteError(
                    f"Could not save {self.store.path}: {exc.reason or 'the write failed'}. "
                    f"{info.name} had already renewed the login, so the refresh token in the file "
                    f"is now used up: fix that, then log in again (pi-tui login {provider_id}).",
                    reason=exc.reason,
                ) from None
            return new

        import asyncio
        import contextlib

        exchange = asyncio.ensure_future(exchange_and_store())
        try:
            new = await asyncio.shield(exchange)
        except asyncio.CancelledError:
            # Once the request is out, the server may have spent the old refresh token:
            # store its answer before giving up (Ctrl-C, a cancelled worker), or the
            # login is lost. A second Ctrl-C still stops at once.
            with contextlib.suppress(Exception):
                await exchange
            raise
        except (NetworkError, AuthError, StoreWriteError) as exc:
            self._errors[provider_id] = str(exc)
            # Remembered for every pi-tui process: `status` must not promise that a dead login
            # "will refresh". Tied to this entry, so a later change of it (pi) clears it.
            failure = {"at": now, "message": str(exc), "dead": bool(getattr(exc, "revoked", False))}
            self.state.update(
                self.store.path,
                provider_id,
                seen=fingerprint(entry),  # what was tried: a later change of it is another process's
                last_failure={**failure, "entry": fingerprint(entry)},
            )
            raise
        self._errors.pop(provider_id, None)
        if not others:  # another process's refresh is noticed by `status` as a change of the file
            self.state.update(
                self.store.path,
                provider_id,
                seen=fingerprint(new),
                last_refresh={"at": self.now_ms(), "by": self.actor},
                last_failure=None,
            )
        _log().info("refreshed %s (token %s)", provider_id, mask(new.get("access")))
        return new

    # -- actions -----------------------------------------------------------------------

    async def test(self, provider_id: str) -> str:
        """One real API call with the winning credential; a sentence on success, AuthError otherwise.

        The answer's rate-limit headers, where the provider reads them (``usage_from_headers``),
        refresh a stored login's cached usage for free (:meth:`app.usage.UsageBook.take_live`).
        """
        issued = await self.token(provider_id)
        found, token = issued.resolution, issued.token
        module = providers.load(provider_id)
        if found.kind == API_KEY:
            # Stored (pi's api_key entry, its !command already run) or from the environment:
            # sent as the provider wants an API key.
            entry: dict[str, Any] = {"type": "api_key", "key": token}
        elif found.entry is not None:
            entry = found.entry
        else:
            entry = {"access": token}  # an OAuth token from the environment
        async with self.client() as client:
            result = await module.test(client, self.endpoints(provider_id), entry)
        if found.kind != API_KEY and found.entry is not None:
            self._take_live_usage(provider_id, found.entry, result.headers)
        return result.sentence

    def _take_live_usage(self, provider_id: str, entry: dict[str, Any], headers: Mapping[str, str]) -> None:
        """What a stored login's test answer's headers tell of its usage, into the usage cache."""
        module = providers.load(provider_id)
        if module.usage is None or module.usage_from_headers is None:
            return
        try:
            live = module.usage_from_headers(headers)
            if live is not None:
                book, login = self._usage_book(provider_id, entry)
                book.take_live(self.info(provider_id), live, login=login)
        except Exception:  # a hook's bug must not cost the test call's answer
            _log().warning("usage from %s's headers failed", provider_id, exc_info=True)

    def _usage_book(self, provider_id: str, entry: Mapping[str, Any]) -> tuple[UsageBook, str]:
        """The usage cache of this store, and whose answer ``entry``'s would be (its login key)."""
        from app import usage
        from app.credentials import remembered_account

        book = usage.UsageBook(
            usage.UsageCache(self.state.path.parent / "usage", self.store.path), clock_ms=self.now_ms
        )
        return book, usage.login_key(remembered_account(self.store, provider_id, self.state), entry)

    def check_logout(self, provider_id: str) -> None:
        """NotLoggedIn, with the sentence saying why, when there is no stored entry to log out of."""
        status = self.status(provider_id)
        if status.stored:
            return
        if status.source is None:
            why = "it is not logged in"
        else:
            why = f"it uses ${status.source}, which pi-tui does not store; unset it to stop using it"
        raise NotLoggedIn(f"Nothing to log out of for {status.name}: {why}.")

    def logout(self, provider_id: str) -> bool:
        """Remove the stored login (an OAuth login or an API key entry); True if there was one."""
        return self.remove(provider_id) is not None

    def remove(self, provider_id: str) -> str | None:
        """Remove the stored entry of either kind; its kind (``oauth``/``api_key``), None if none."""
        self.info(provider_id)
        self.state.check()
        with self.store.transaction() as tx:
            try:
                entry = tx.entry(provider_id)
            except StoreError:
                entry = None  # of a shape pi can't use: a deliberate logout still removes it
            removed = tx.delete(provider_id)
        self._errors.pop(provider_id, None)
        self.state.forget(self.store.path, provider_id)
        _log().info("logged out of %s (removed=%s)", provider_id, removed)
        if not removed:
            return None
        kind = entry.get("type") if entry is not None else None
        return kind if isinstance(kind, str) else "entry"

    async def save_login(
        self, provider_id: str, entry: dict[str, Any], *, add: bool = False, label: str | None = None
    ) -> LoginResult:
        """Store a new login under the lock, exactly as pi writes it, and describe it.

        ``add``: the login stored before stays as another account (in pi-tui's vault beside the
        store). Without it the new login replaces the stored one; when a vault exists, through it,
        so the same account is never kept twice.
        """
        account = providers.load(provider_id).account(entry)
        # pi's keys only; the account is remembered below, once the stored login it replaces
        # has been named (moved to the vault under its own name).
        entry = {key: value for key, value in entry.items() if key not in ACCOUNT_KEYS}
        from app.accounts import Accounts, AccountVault

        if add or label is not None or AccountVault.beside(self.store).path.exists():
            import asyncio

            accounts = Accounts(self.store, env=self.env, state=self.state)
            save = accounts.add_account if add else accounts.replace_account
            await asyncio.to_thread(save, provider_id, entry, account, label)
        else:
            async with self.store.transaction() as tx:
                tx.put(provider_id, entry)
        self._errors.pop(provider_id, None)
        self.state.update(
            self.store.path,
            provider_id,
            account=account,
            seen=fingerprint(entry),
            logged_in_at=self.now_ms(),
            last_refresh=None,
            last_failure=None,
        )
        info = self.info(provider_id)
        _log().info("logged in to %s (token %s)", provider_id, mask(entry.get("access")))
        return LoginResult(provider_id, info.name, self.store.path, account)

    def _as_pi_writes_it(self, provider_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """``entry`` without the keys pi-tui once added to pi's entries; the account moves to state."""
        if not any(key in entry for key in ACCOUNT_KEYS):
            return entry
        account = account_label(entry)
        if account is not None:
            self.state.update(self.store.path, provider_id, account=account)
        return {key: value for key, value in entry.items() if key not in ACCOUNT_KEYS}

    async def warm_up(self, provider_id: str) -> None:
        """Load the provider's HTTP stack and the TLS certificates in a thread.

        A screen calls this while the user reads, so the first request does not stall the
        event loop for the ~100 ms that importing httpx and loading the CA bundle take.
        """
        import asyncio

        await asyncio.to_thread(providers.load, provider_id)
        if self._client_factory is None:
            from app.http import warm_up

            await warm_up()

    def existing_login(self, provider_id: str) -> tuple[str, str | None] | None:
        """The stored login a new one would replace: its kind and account; None when there is
        none, or none pi could use (a damaged entry is set aside by the save, not asked about)."""
        try:
            entry = self.store.entry(provider_id)
        except StoreError:
            return None
        if entry is None:
            return None
        account = remembered_account(self.store, provider_id, self.state)
        if account is None:
            account = providers.load(provider_id).account(entry)
        return str(entry.get("type")), account

    def default_method(self, provider_id: str) -> Method:
        """The login method to pre-select here (the headless one over SSH or without a browser)."""
        return providers.default_method(self.info(provider_id), self.env)

    def check_answer(self, provider_id: str, question_id: str, text: str) -> str:
        """The cleaned answer to one of the provider's questions; LoginInputError says what to fix."""
        check = providers.load(provider_id).check_answer
        return text if check is None else check(question_id, text)

    def check_can_save(self) -> None:
        """Say now, not after the user authorized in a browser, that a login could not be saved.

        StoreUnsafe (e.g. a 0644 file) keeps its own sentence; a directory that takes no new
        file is StoreWriteError. A damaged file is no obstacle: saving sets it aside.
        """
        self.state.check()
        try:
            self.store.check_writable()
        except StoreWriteError as exc:
            from app.paths import display_path

            raise StoreWriteError(
                f"A login could not be saved to {display_path(self.store.path)}: {exc.reason}. "
                "Fix that first, then log in again; no link was opened.",
                reason=exc.reason,
            ) from None

    async def start_login(
        self,
        provider_id: str,
        method_id: str | None = None,
        answers: Mapping[str, str] | None = None,
        *,
        add: bool = False,
        label: str | None = None,
    ) -> Login:
        """Begin a login: an :class:`AuthCodeLogin` or a :class:`DeviceLogin`, by the method's flow kind.

        ``method_id`` None: :meth:`default_method`. ``answers`` answer the provider's questions
        (blank when missing); each is checked before any request is made. The login saves
        through :meth:`save_login` once it completes (``add``: as another account).
        """
        info = self.info(provider_id)
        method = info.method(method_id) if method_id else providers.default_method(info, self.env)
        module = providers.load(provider_id)
        given = dict(answers or {})
        checked = {q.id: self.check_answer(provider_id, q.id, given.get(q.id, "")) for q in info.questions}
        self.check_can_save()
        spec = module.login(method.id, self.endpoints(provider_id), checked)

        async def finish(entry: dict[str, Any]) -> LoginResult:
            return await self.save_login(provider_id, entry, add=add, label=label)

        from app.flows.auth_code import AuthCodeLogin, AuthCodeSpec
        from app.flows.device import DeviceLogin

        if isinstance(spec, AuthCodeSpec):
            return await AuthCodeLogin.start(spec, client=self.client, now_ms=self.now_ms, finish=finish)
        return await DeviceLogin.start(
            spec, client=self.client, now_ms=self.now_ms, finish=finish, scale=self.poll_scale
        )

    def offers(self, provider_id: str, answers: Mapping[str, str] | None = None) -> list[Method]:
        """Logins the provider found on this machine that need no flow (e.g. a token another
        client saved), as methods of kind :data:`app.providers.OFFER`. Reading only; nothing is
        used unless the user chooses it (:meth:`use_offer`)."""
        find = providers.load(provider_id).offers
        if find is None:
            return []
        return [
            providers.Method(offer_id, label, providers.OFFER)
            for offer_id, label in find(self.env, answers or {})
        ]

    async def use_offer(
        self, provider_id: str, offer_id: str, *, add: bool = False, label: str | None = None
    ) -> tuple[LoginResult, tuple[str, ...]]:
        """Log in with a chosen offer: the provider checks it with its server first, and only a
        login that passed is saved. AuthError with a sentence otherwise (nothing saved)."""
        use = providers.load(provider_id).use_offer
        if use is None:
            raise ConfigError(f"{self.info(provider_id).name} found no saved login to use.")
        self.check_can_save()  # before asking the server: a login that could not be kept is no login
        async with self.client() as client:
            entry, details = await use(
                client, self.endpoints(provider_id), offer_id, self.env, now_ms=self.now_ms()
            )
        return await self.save_login(provider_id, entry, add=add, label=label), tuple(details)

    async def usage(self, provider_id: str, *, refresh: bool = False) -> UsageReport:
        """What the provider's subscription has left (:mod:`app.usage`): cached for a few minutes,
        else fetched through its ``usage`` hook with the stored login (refreshed first if due).

        Never raises for a fetch that failed: the report carries the sentence and the last good
        answer. Only a stored OAuth login is asked; an API key or a variable's token is not.
        """
        from app import usage
        from app.credentials import remembered_account

        info = self.info(provider_id)
        hook = providers.load(provider_id).usage
        found = resolve(info, self.store, self.env)
        if found.source is None and found.error:
            raise StoreError(found.error)  # the store cannot be read: not "not logged in"
        if found.source is None:
            return usage.unavailable(info, usage.NOT_LOGGED_IN)
        if found.kind == API_KEY:
            return usage.unavailable(info, usage.API_KEY_ONLY)
        if found.entry is None:
            return usage.unavailable(info, usage.ENV_TOKEN)
        if hook is None:
            return usage.unavailable(info, usage.NO_HOOK)
        book, login = self._usage_book(provider_id, found.entry)
        account = remembered_account(self.store, provider_id, self.state)
        used = [found.entry]

        async def fetch() -> Usage:
            assert hook is not None
            winner = (await self.token(provider_id)).resolution  # refreshed under the lock when due
            used.append(winner.entry or {})
            async with self.client() as client:
                return await hook(client, self.endpoints(provider_id), winner.entry or {})

        return await book.report(
            info, fetch, login=login, login_after=lambda: usage.login_key(account, used[-1]), refresh=refresh
        )

    # -- several accounts (app.accounts) -----------------------------------------------------

    def accounts(self) -> Accounts:
        """This store's several accounts (switch, remove, list), with this service's environment,
        state file, clock and HTTP client."""
        from app.accounts import Accounts

        return Accounts(
            self.store, env=self.env, state=self.state, client_factory=self._client_factory, clock=self.clock
        )

    def stored_usage(self, provider_id: str) -> dict[str, UsageReport]:
        """What the usage cache still holds for ``provider_id``'s stored (inactive) accounts, by
        account name (an answer from when one of them was active). Reads only; asks no one."""
        from app import usage
        from app.accounts import AccountVault

        record = usage.UsageCache(self.state.path.parent / "usage", self.store.path).read(provider_id)
        if record is None or record.login is None:
            return {}
        whose = record.login.rpartition("#")[2]  # the login's checksum: the name may have changed
        found: dict[str, UsageReport] = {}
        for stored in AccountVault.beside(self.store).records(provider_id):
            if usage.login_key(None, stored["entry"]).rpartition("#")[2] == whose:
                found[stored["account"]] = record.report(self.info(provider_id), cached=True)
        return found
