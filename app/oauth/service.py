"""AuthService: login, logout, refresh, test and token hand-out over every provider.

The one door the screens and the command line go through. Reports progress by return
values, exceptions and plain async iterators — never through widgets. Provider modules
(and with them httpx) are imported on first use, so building a service is cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import providers
from app.credentials import (
    ACCOUNT_KEYS,
    AccountStatus,
    account_label,
    account_status,
    ready_token,
    resolve,
)
from app.errors import AuthError, NetworkError, NotLoggedIn, RefreshError, StoreError, StoreWriteError
from app.mask import mask
from app.oauth.endpoints import DEFAULT_CALLBACK_PORT, Endpoints, load_endpoints
from app.oauth.expiry import is_due
from app.state import StateFile
from app.store import CredentialStore, StoreTransaction

if TYPE_CHECKING:
    import httpx

    from app.oauth.callback import CallbackListener
    from app.oauth.github_copilot import CopilotLogin
    from app.oauth.pkce import Pkce

log = logging.getLogger("pi_tui.service")

ClientFactory = Callable[[], "httpx.AsyncClient"]


@dataclass(frozen=True)
class LoginResult:
    """A finished login: what to tell the user."""

    provider: str
    name: str
    path: Path
    account: str | None = None

    @property
    def message(self) -> str:
        """The success sentence shown on screen and printed by the command line."""
        return f"Logged in to {self.name}. Credentials saved to {self.path}"


class AuthService:
    """Everything the UI can do with logins. Construct one per app or command."""

    def __init__(
        self,
        store: CredentialStore,
        *,
        env: Mapping[str, str] | None = None,
        endpoints: Endpoints | None = None,
        clock: Callable[[], float] = time.time,
        client_factory: ClientFactory | None = None,
        poll_scale: float = 1.0,
        state: StateFile | None = None,
    ) -> None:
        self.store = store
        self.env = os.environ if env is None else env
        self.endpoints = endpoints or load_endpoints(self.env)
        self.clock = clock
        # Shrinks device-flow waits in tests (which also shrink the fake server's poll gap).
        self.poll_scale = poll_scale
        self._client_factory = client_factory
        self._errors: dict[str, str] = {}
        # pi-tui's own memory (account names); $PI_TUI_STATE_DIR of the process, not of ``env``.
        self.state = state if state is not None else StateFile.default()

    # -- reading -----------------------------------------------------------------------

    def now_ms(self) -> int:
        """The injected clock, in epoch milliseconds."""
        return int(self.clock() * 1000)

    def providers(self) -> list[providers.ProviderInfo]:
        """Every known provider, in display order."""
        return list(providers.PROVIDERS.values())

    def status(self, provider_id: str) -> AccountStatus:
        """One provider's status (no network)."""
        info = providers.provider(provider_id)
        return account_status(
            info,
            self.store,
            self.env,
            now_ms=self.now_ms(),
            last_error=self._errors.get(provider_id),
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
        from app.oauth.http import make_client

        return make_client()

    # -- tokens ------------------------------------------------------------------------

    async def get_token(self, provider_id: str) -> str:
        """A valid token for ``provider_id`` by the resolution order, refreshing a due login."""
        info = providers.provider(provider_id)
        found = resolve(info, self.store, self.env, for_token=True)
        token = ready_token(info, found, now_ms=self.now_ms())
        if token is not None:
            return token
        assert found.entry is not None  # only a stored login can be due
        entry = await self._refresh(provider_id, seen=found.entry, force=False)
        return str(entry["access"])

    async def refresh(self, provider_id: str) -> AccountStatus:
        """Refresh now, even when not due (unless another process just did)."""
        seen = self.store.get(provider_id)
        if seen is None:
            raise NotLoggedIn(providers.login_hint(providers.provider(provider_id)))
        await self._refresh(provider_id, seen=seen, force=True)
        return self.status(provider_id)

    async def _refresh(self, provider_id: str, *, seen: dict[str, Any], force: bool) -> dict[str, Any]:
        """Refresh under the store lock; another process's fresh token wins without a request."""
        async with self.store.transaction() as tx:
            return await self.refresh_locked(tx, provider_id, seen=seen, force=force)

    async def refresh_locked(
        self, tx: StoreTransaction, provider_id: str, *, seen: dict[str, Any], force: bool
    ) -> dict[str, Any]:
        """The refresh itself, inside a transaction the caller already holds.

        Re-reads first: when another process refreshed since ``seen`` was read, its entry is
        returned and no request is made.
        """
        entry = tx.get(provider_id)
        if entry is None:
            raise NotLoggedIn(providers.login_hint(providers.provider(provider_id)))
        now = self.now_ms()
        someone_else_refreshed = entry.get("access") != seen.get("access")
        if not is_due(entry, now_ms=now) and (not force or someone_else_refreshed):
            return entry
        # Only the process that really refreshes pays for importing the HTTP stack.
        module = providers.load(provider_id)
        log.info("refreshing %s (token %s)", provider_id, mask(entry.get("access")))

        async def exchange_and_store() -> dict[str, Any]:
            try:
                async with self.client() as client:
                    new = await module.refresh(client, self.endpoints, entry, now_ms=now)
            except RefreshError as exc:
                if exc.revoked:
                    # pi itself may have rotated the token without our lock: trust the file.
                    latest = tx.get(provider_id)
                    if latest is not None and latest.get("refresh") != entry.get("refresh"):
                        return latest
                raise
            new = self._as_pi_writes_it(provider_id, new)
            try:
                tx.put(provider_id, new)
            except StoreWriteError as exc:
                if new.get("refresh") == entry.get("refresh"):
                    raise  # the stored login still works: trying again is the right advice
                info = providers.provider(provider_id)
                raise StoreWriteError(
                    f"Could not save {self.store.path}: {exc.reason or 'the write failed'}. "
                    f"{info.name} had already renewed the login, so the refresh token in the file "
                    f"is now used up: fix that, then log in again (pi-tui login {provider_id}).",
                    reason=exc.reason,
                ) from None
            return new

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
        except (NetworkError, AuthError) as exc:
            self._errors[provider_id] = str(exc)
            raise
        self._errors.pop(provider_id, None)
        log.info("refreshed %s (token %s)", provider_id, mask(new.get("access")))
        return new

    # -- actions -----------------------------------------------------------------------

    async def test(self, provider_id: str) -> str:
        """One real API call with the winning credential; a sentence on success, AuthError otherwise."""
        token = await self.get_token(provider_id)
        module = providers.load(provider_id)
        entry = self.store.get(provider_id)
        if entry is None or entry.get("access") != token:
            entry = {"access": token}  # an environment token wins over the stored login
        async with self.client() as client:
            return str(await module.test(client, self.endpoints, entry))

    def logout(self, provider_id: str) -> bool:
        """Remove the stored login (an OAuth login or an API key entry); True if there was one."""
        return self.remove(provider_id) is not None

    def remove(self, provider_id: str) -> str | None:
        """Remove the stored entry of either kind; its kind (``oauth``/``api_key``), None if none."""
        providers.provider(provider_id)
        with self.store.transaction() as tx:
            try:
                entry = tx.entry(provider_id)
            except StoreError:
                entry = None  # of a shape pi can't use: a deliberate logout still removes it
            removed = tx.delete(provider_id)
        self._errors.pop(provider_id, None)
        self.state.forget(self.store.path, provider_id)
        log.info("logged out of %s (removed=%s)", provider_id, removed)
        if not removed:
            return None
        kind = entry.get("type") if entry is not None else None
        return kind if isinstance(kind, str) else "entry"

    async def save_login(self, provider_id: str, entry: dict[str, Any]) -> LoginResult:
        """Store a new login under the lock, exactly as pi writes it, and describe it."""
        account = account_label(entry)
        entry = self._as_pi_writes_it(provider_id, entry)
        async with self.store.transaction() as tx:
            tx.put(provider_id, entry)
        self.state.update(self.store.path, provider_id, account=account)
        self._errors.pop(provider_id, None)
        info = providers.provider(provider_id)
        log.info("logged in to %s (token %s)", provider_id, mask(entry.get("access")))
        return LoginResult(provider_id, info.name, self.store.path, account)

    def _as_pi_writes_it(self, provider_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """``entry`` without the keys pi-tui once added to pi's entries; the account moves to state."""
        if not any(key in entry for key in ACCOUNT_KEYS):
            return entry
        account = account_label(entry)
        if account is not None:
            self.state.update(self.store.path, provider_id, account=account)
        return {key: value for key, value in entry.items() if key not in ACCOUNT_KEYS}

    async def start_copilot_login(self, domain: str | None = None) -> CopilotLogin:
        """Begin a GitHub Copilot device login (``domain`` None: github.com); asks for a user code."""
        from app.oauth.github_copilot import CopilotLogin

        return await CopilotLogin.start(self, domain)

    async def warm_up(self, provider_id: str) -> None:
        """Load the provider's HTTP stack and the TLS certificates in a thread.

        A screen calls this while the user reads, so the first request does not stall the
        event loop for the ~100 ms that importing httpx and loading the CA bundle take.
        """
        await asyncio.to_thread(providers.load, provider_id)
        if self._client_factory is None:
            from app.oauth.http import warm_up

            await warm_up()

    async def start_anthropic_login(self) -> AnthropicLogin:
        """Begin an Anthropic login: PKCE, the loopback listener (if enabled), the URL."""
        from app.oauth import anthropic
        from app.oauth.callback import CallbackListener
        from app.oauth.pkce import Pkce

        pkce = Pkce.generate()
        port = self.endpoints.callback_port
        listener = None
        if port is not None:
            try:
                listener = await CallbackListener.start(
                    port, expected_state=pkce.state, path=anthropic.CALLBACK_PATH
                )
            except OSError as exc:
                log.warning("no loopback listener: %s", exc)
        bound = listener.port if listener else (port or 0)
        redirect = anthropic.redirect_uri_for(bound or DEFAULT_CALLBACK_PORT)
        url = anthropic.authorize_url(
            self.endpoints, redirect_uri=redirect, challenge=pkce.challenge, state=pkce.state
        )
        return AnthropicLogin(self, pkce, redirect, url, listener)


@dataclass
class AnthropicLogin:
    """One Anthropic login attempt. Either the browser callback or a paste completes it, once."""

    service: AuthService
    pkce: Pkce = field(repr=False)
    redirect_uri: str
    url: str
    listener: CallbackListener | None = field(default=None, repr=False)
    result: LoginResult | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def listening(self) -> bool:
        """True when a browser on this machine can complete the login by itself."""
        return self.listener is not None

    async def wait_for_callback(self) -> LoginResult:
        """Wait for the browser redirect, then exchange the code. Never returns without a listener."""
        if self.listener is None:
            await asyncio.Event().wait()
        assert self.listener is not None
        # The listener already checked the state; the code gets the same shape check as a paste.
        code = self.code_from(await self.listener.wait())
        return await self._exchange(code)

    def code_from(self, pasted: str) -> str:
        """The authorization code in what the user pasted; LoginInputError says what to fix.

        Makes no request, so a screen can judge a paste in the same frame it arrives.
        """
        from app.oauth.anthropic import parse_pasted

        return parse_pasted(pasted, self.pkce.state)

    async def submit(self, pasted: str) -> LoginResult:
        """Complete the login with what the user pasted; LoginInputError says what to fix."""
        if self.result is not None:
            return self.result
        return await self._exchange(self.code_from(pasted))

    async def _exchange(self, code: str) -> LoginResult:
        from app.oauth.anthropic import exchange_code

        async with self._lock:
            if self.result is not None:
                return self.result
            async with self.service.client() as client:
                entry = await exchange_code(
                    client,
                    self.service.endpoints,
                    code=code,
                    state=self.pkce.state,
                    verifier=self.pkce.verifier,
                    redirect_uri=self.redirect_uri,
                    now_ms=self.service.now_ms(),
                )
            self.result = await self.service.save_login("anthropic", entry)
        await self.aclose()
        return self.result

    async def aclose(self) -> None:
        """Stop the loopback listener."""
        if self.listener is not None:
            await self.listener.close()
