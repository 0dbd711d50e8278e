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
from app.credentials import resolve
from app.errors import NotLoggedIn
from app.mask import mask
from app.service import AuthService, run_blocking

if TYPE_CHECKING:
    from app.store import CredentialStore

log = logging.getLogger("pi_tui.auth")

EXTENSION = "pi_tui"


class PiAuth(httpx.Auth):
    """Signs requests for ``provider_id`` with its stored login; works with sync and async clients.

    ``options`` are the provider's request options (its module's ``check_options`` lists
    them); per request, ``extensions={"pi_tui": {...}}`` overrides them.
    """

    requires_request_body = True  # the body must be replayable for the retry

    def __init__(
        self, service: AuthService, provider_id: str, *, account: str | None = None, **options: Any
    ) -> None:
        self.service = service
        # Another stored account's credential, without switching pi (see app.accounts).
        self.account = account
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
        account: str | None = None,
        **options: Any,
    ) -> PiAuth:
        """Build one over ``store`` (and the ``PI_TUI_*`` overrides in ``env``) without a service at hand."""
        return cls(AuthService(store, env=env), provider_id, account=account, **options)

    def base_url(self) -> str:
        """The provider's API base for the stored login (no network)."""
        info = self.service.info(self.provider_id)
        found = resolve(info, self.service.store, self.service.env)
        if found.source is None:
            raise NotLoggedIn(providers.login_hint(info))
        # An API key (stored or from the environment) uses the provider's default base.
        entry = found.entry if found.kind == "oauth" and found.entry is not None else {}
        return str(self.module.api_base(self.service.endpoints(self.provider_id), entry))

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Sign, send, and on 401 refresh once and send again."""
        if not self._signs(request):
            yield request
            return
        issued = await self.service.token(self.provider_id, account=self.account)
        self._sign(
            request,
            issued.token,
            kind=issued.resolution.kind,
            asynchronous=True,
            source=issued.resolution.entry,
        )
        response = yield request
        if response.status_code != 401 or issued.resolution.kind == "api_key" or self.account is not None:
            return
        log.info("%s answered 401 for token %s; refreshing once", self.provider_id, mask(issued.token))
        entry = await self.service.refresh_entry(self.provider_id, seen={"access": issued.token}, force=True)
        self._sign(request, str(entry["access"]), asynchronous=True)
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The same for ``httpx.Client`` (a due refresh runs on a private loop)."""
        if not self._signs(request):
            yield request
            return
        issued = self.service.token_sync(self.provider_id, account=self.account)
        self._sign(request, issued.token, kind=issued.resolution.kind, source=issued.resolution.entry)
        response = yield request
        if response.status_code != 401 or issued.resolution.kind == "api_key" or self.account is not None:
            return
        log.info("%s answered 401 for token %s; refreshing once", self.provider_id, mask(issued.token))
        entry = run_blocking(
            self.service.refresh_entry(self.provider_id, seen={"access": issued.token}, force=True)
        )
        self._sign(request, str(entry["access"]))
        yield request

    def _signs(self, request: httpx.Request) -> bool:
        """Only requests to the provider's API origin carry its credential; others go unsigned."""
        api = httpx.URL(self.base_url())
        if _origin(request.url.scheme, request.url.host, request.url.port) == _origin(
            api.scheme, api.host, api.port
        ):
            return True
        log.info("not signing a request to %s: not %s's API host", request.url.host, self.provider_id)
        return False

    def _sign(
        self,
        request: httpx.Request,
        token: str,
        *,
        kind: str | None = "oauth",
        asynchronous: bool = False,
        source: Mapping[str, Any] | None = None,
    ) -> None:
        entry: Mapping[str, Any]
        if kind == "api_key":
            # Stored or from the environment: the provider decides how a key is sent.
            entry = {"type": "api_key", "key": token, "access": token}
        elif source is not None and source.get("access") == token:
            entry = source  # the entry the token came from (another account's, too)
        else:
            stored = self.service.store.get(self.provider_id)
            # An environment token (no stored login, or another one) is signed as a bare token.
            entry = stored if stored is not None and stored.get("access") == token else {"access": token}
        endpoints = self.service.endpoints(self.provider_id)
        signed = self.module.auth_headers(endpoints, entry)
        extra = self.module.request_headers
        if extra is not None:
            per_request = request.extensions.get(EXTENSION) or {}
            signed.update(extra(request.url.path, {**self.options, **per_request}))
        request.headers.update(signed)
        self._strip_on_redirect(
            request, {name.lower().encode() for name in signed}, asynchronous=asynchronous
        )

    @staticmethod
    def _strip_on_redirect(request: httpx.Request, names: set[bytes], *, asynchronous: bool) -> None:
        """Keep the provider's headers off any other origin a redirect leads to.

        httpx follows a redirect without asking the auth flow, and strips only Authorization
        when it leaves the origin; an API key in ``x-api-key`` would go along. httpx hands the
        request's extensions to every hop, and httpcore's ``trace`` hook sees each hop's headers
        just before they are sent: there, a hop to another origin loses the provider's headers.
        """
        origin = _origin(request.url.scheme, request.url.host, request.url.port)
        chained = request.extensions.get("trace")

        def strip(name: str, info: dict[str, Any]) -> None:
            if not name.endswith("send_request_headers.started"):
                return
            hop = info.get("request")
            url = getattr(hop, "url", None)
            if hop is None or url is None:
                return
            if _origin(url.scheme.decode(), url.host.decode(), url.port) != origin:
                hop.headers[:] = [(k, v) for k, v in hop.headers if k.lower() not in names]

        if asynchronous:

            async def trace(name: str, info: dict[str, Any]) -> None:
                strip(name, info)
                if chained is not None:
                    await chained(name, info)

            request.extensions["trace"] = trace
        else:

            def trace_sync(name: str, info: dict[str, Any]) -> None:
                strip(name, info)
                if chained is not None:
                    chained(name, info)

            request.extensions["trace"] = trace_sync


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    return scheme, host.lower(), port if port is not None else {"http": 80, "https": 443}.get(scheme)
