"""PiAuth: one ``httpx.Auth`` for every provider.

Sets the provider's auth headers (from its module) on each request, with a token from the
store refreshed under the store lock when due, and on a 401 refreshes once — unless another
process already stored a newer token — and sends the request again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Generator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from app import providers
from app.api import run_blocking
from app.errors import NotLoggedIn
from app.mask import mask

if TYPE_CHECKING:
    from app.service import AuthService
    from app.store import CredentialStore

log = logging.getLogger("pi_tui.auth")

EXTENSION = "pi_tui"


class PiAuth(httpx.Auth):
    """Signs requests for ``provider_id`` with its stored login; works with sync and async clients.

    ``options`` are the provider's request options (its module's ``check_options`` lists
    them); per request, ``extensions={"pi_tui": {...}}`` overrides them.
    """

    requires_request_body = True  # the body must be replayable for the retry

    def __init__(self, service: AuthService, provider_id: str, **options: Any) -> None:
        self.service = service
        self.provider_id = service.info(provider_id).id
        self.module = providers.load(provider_id)
        check = self.module.check_options
        if check is not None:
            self.options: dict[str, Any] = check(options)
        elif options:
            raise ValueError(f"{provider_id} requests take no options, not {sorted(options)}")
        else:
            self.options = {}

    @classmethod
    def from_store(
        cls,
        store: CredentialStore,
        provider_id: str,
        *,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> PiAuth:
        """Build one over ``store`` (and the ``PI_TUI_*`` overrides in ``env``) without a service at hand."""
        from app.service import AuthService

        return cls(AuthService(store, env=env), provider_id, **options)

    def base_url(self) -> str:
        """The provider's API base for the stored login (no network)."""
        from app.credentials import resolve

        info = self.service.info(self.provider_id)
        found = resolve(info, self.service.store, self.service.env)
        if found.source is None:
            raise NotLoggedIn(providers.login_hint(info))
        # An API key (stored or from the environment) uses the provider's default base.
        entry = found.entry if found.kind == "oauth" and found.entry is not None else {}
        return str(self.module.api_base(self.service.endpoints(self.provider_id), entry))

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Sign, send, and on 401 refresh once and send again."""
        found, token = await self.service._winner(self.provider_id)
        self._sign(request, token, kind=found.kind)
        response = yield request
        if response.status_code != 401:
            return
        log.info("%s answered 401 for token %s; refreshing once", self.provider_id, mask(token))
        entry = await self.service._refresh(self.provider_id, seen={"access": token}, force=True)
        self._sign(request, str(entry["access"]))
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The same for ``httpx.Client``; the async service runs on a private loop in a thread."""
        found, token = run_blocking(self.service._winner(self.provider_id))
        self._sign(request, token, kind=found.kind)
        response = yield request
        if response.status_code != 401:
            return
        log.info("%s answered 401 for token %s; refreshing once", self.provider_id, mask(token))
        entry = run_blocking(self.service._refresh(self.provider_id, seen={"access": token}, force=True))
        self._sign(request, str(entry["access"]))
        yield request

    def _sign(self, request: httpx.Request, token: str, *, kind: str | None = "oauth") -> None:
        if kind == "api_key":
            # Stored or from the environment: the provider decides how a key is sent.
            entry: dict[str, Any] = {"type": "api_key", "key": token, "access": token}
        else:
            stored = self.service.store.get(self.provider_id)
            # An environment token (no stored login, or another one) is signed as a bare token.
            entry = stored if stored is not None and stored.get("access") == token else {"access": token}
        endpoints = self.service.endpoints(self.provider_id)
        request.headers.update(self.module.auth_headers(endpoints, entry))
        extra = self.module.request_headers
        if extra is not None:
            per_request = request.extensions.get(EXTENSION) or {}
            request.headers.update(extra(request.url.path, {**self.options, **per_request}))
