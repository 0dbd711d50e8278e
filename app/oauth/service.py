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
    API_KEY,
    AccountStatus,
    account_label,
    account_status,
    fingerprint,
    ready_token,
    resolve,
    state_file,
)
from app.errors import AuthError, NetworkError, NotLoggedIn, RefreshError, StoreWriteError
from app.mask import mask
from app.oauth.endpoints import DEFAULT_CALLBACK_PORT, Endpoints, load_endpoints
from app.oauth.expiry import is_due
from app.state import BY_APP, StateFile
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
        actor: str = BY_APP,
        state: StateFile | None = None,
    ) -> None:
        self.store = store
        self.env = os.environ if env is None else env
        # Who this service is, in the token's life ("refreshed by pi-tui token"); see app.state.
        self.actor = actor
        self.state = state or state_file(self.env)
        self.endpoints = endpoints or load_endpoints(self.env)
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
            state=self.state,
        )

    def statuses(self) -> list[AccountStatus]:
        """Every provider's status (no network)."""
        return [self.status(p.id) for p in self.providers()]

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
        found = resolve(info, self.store, self.env)
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

        others: list[dict[str, Any]] = []  # an entry another process stored meanwhile

        async def exchange_and_store() -> dict[str, Any]:
            try:
                async with self.client() as client:
                    new = await module.refresh(client, self.endpoints, entry, now_ms=now)
            except RefreshError as exc:
                if exc.revoked:
                    # pi itself may have rotated the token without our lock: trust the file.
                    latest = tx.get(provider_id)
                    if latest is not None and latest.get("refresh") != entry.get("refresh"):
                        others.append(latest)
                        return latest
                raise
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
        except (NetworkError, AuthError, StoreWriteError) as exc:
            self._errors[provider_id] = str(exc)
            # Remembered for every pi-tui process: `status` must not promise that a dead login
            # "will refresh". Tied to this entry, so a later change of it (pi) clears it.
            failure = {"at": now, "message": str(exc), "dead": bool(getattr(exc, "revoked", False))}
            self.state.update(
                self.store.path, provider_id, last_failure={**failure, "entry": fingerprint(entry)}
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
        log.info("refreshed %s (token %s)", provider_id, mask(new.get("access")))
        return new

    # -- actions -----------------------------------------------------------------------

    async def test(self, provider_id: str) -> str:
        """One real API call with the winning credential; a sentence on success, AuthError otherwise."""
        token = await self.get_token(provider_id)
        module = providers.load(provider_id)
        found = resolve(providers.provider(provider_id), self.store, self.env)
        entry = self.store.get(provider_id)
        if found.kind == API_KEY and found.token == token:
            entry = {"type": "api_key", "key": token}  # sent as the provider wants an API key
        elif entry is None or entry.get("access") != token:
            entry = {"access": token}  # an environment token wins over the stored login
        async with self.client() as client:
            return str(await module.test(client, self.endpoints, entry))

    def logout(self, provider_id: str) -> bool:
        """Remove the stored login; True if there was one."""
        providers.provider(provider_id)
        removed = self.store.delete(provider_id)
        self._errors.pop(provider_id, None)
        self.state.forget(self.store.path, provider_id)
        log.info("logged out of %s (removed=%s)", provider_id, removed)
        return removed

    async def save_login(self, provider_id: str, entry: dict[str, Any]) -> LoginResult:
        """Store a new login under the lock and describe it."""
        async with self.store.transaction() as tx:
            tx.put(provider_id, entry)
        self._errors.pop(provider_id, None)
        self.state.update(
            self.store.path,
            provider_id,
            seen=fingerprint(entry),
            logged_in_at=self.now_ms(),
            last_refresh=None,
            last_failure=None,
        )
        info = providers.provider(provider_id)
        log.info("logged in to %s (token %s)", provider_id, mask(entry.get("access")))
        return LoginResult(provider_id, info.name, self.store.path, account_label(entry))

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
