"""The configuration format of a fake provider: one :class:`ProviderConfig` per provider module.

A provider module in ``tests/fakes/providers/`` builds a ``CONFIG`` from these pieces and the
registry (``tests/fakes/providers/__init__.py``) lists it. The engine derives the endpoints,
their names and the generic OAuth behaviour from the specs; provider quirks are a subclass of
:class:`tests.fakes.oauth.ProviderFake` plus :class:`RouteSpec` entries for custom endpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.oauth import ProviderFake

JSON = "json"
FORM = "form"
LOOPBACK_REDIRECT = r"http://(localhost|127\.0\.0\.1|\[::1\]):\d{1,5}"


@dataclass(frozen=True)
class TokenSpec:
    """The token endpoint and the tokens it issues.

    ``path`` is the token endpoint (authorization_code, refresh_token and, when a device flow
    polls there, device_code grants); ``body`` the body format it insists on. ``refresh``: a login
    issues a refresh token and the endpoint takes the refresh_token grant; ``rotate``: a refresh
    burns the old refresh token and issues a new one (otherwise it answers the same one).
    ``extra`` adds provider fields to every token answer; ``answer`` replaces the whole answer.
    """

    path: str | None = None
    body: str = FORM
    client_id: bool = True
    access_prefix: str = ""
    refresh_prefix: str = ""
    length: int = 48
    expires_in: Any = 3600
    refresh: bool = True
    rotate: bool = True
    token_type: str = "Bearer"
    extra: Callable[[ProviderFake, Any], dict[str, Any]] | None = None
    answer: Callable[[ProviderFake, Any, bool], dict[str, Any]] | None = None


@dataclass(frozen=True)
class AuthCodeSpec:
    """Authorization code + PKCE S256.

    ``params``: authorize parameters required beyond the PKCE pair, state and redirect (a value
    to equal, or ``None`` for "present and non-empty"). ``redirect_param`` names the redirect
    parameter (OpenRouter: ``callback_url``) and ``redirect_uris`` is the regex it must match.
    ``state``: the authorize request must carry a state, which the redirect passes back.
    ``state_in_exchange``: the exchange carries that state too and it must not be the verifier
    (Anthropic). ``exchange_path`` is a separate exchange endpoint (OpenRouter's key exchange);
    by default the exchange goes to :attr:`TokenSpec.path`.
    """

    authorize_path: str
    redirect_uris: str
    params: Mapping[str, str | None] = field(default_factory=dict)
    redirect_param: str = "redirect_uri"
    scope_includes: tuple[str, ...] = ()
    client_id: bool = True
    state: bool = True
    state_in_exchange: bool = False
    redirect_in_exchange: bool = True
    method_in_exchange: bool = False
    exchange_path: str | None = None
    exchange_body: str | None = None


@dataclass(frozen=True)
class DeviceSpec:
    """RFC 8628 device authorization.

    ``poll_path`` defaults to :attr:`TokenSpec.path`. ``style`` is how errors are answered:
    ``"rfc"`` (HTTP 400, JSON) or ``"github"`` (HTTP 200, form unless ``Accept: application/json``,
    with ``error_uri``). ``complete``: the answer carries ``verification_uri_complete``.
    ``first_poll_free``: an immediate first poll is not "too soon".
    """

    device_path: str
    verification_uri: str
    poll_path: str | None = None
    body: str = FORM
    params: Mapping[str, str | None] = field(default_factory=dict)
    scope_includes: tuple[str, ...] = ()
    complete: bool = False
    interval: Any = 5
    expires_in: Any = 900
    style: str = "rfc"
    first_poll_free: bool = False


@dataclass(frozen=True)
class RouteSpec:
    """A custom endpoint: ``handler`` names a method of the provider's fake.

    ``path`` is a regex from the server root (anchored by the engine; a trailing ``/`` is
    optional). ``name`` is the endpoint name after the provider's prefix, or a full dotted name.
    """

    method: str
    path: str
    name: str
    handler: str


@dataclass(frozen=True)
class ProviderConfig:
    """One provider (or one part of one, like Copilot's API) of the fake.

    ``name`` prefixes its endpoint names and is its attribute on ``FakeProviders``;
    ``provider_id`` is pi-tui's provider id (empty for a part that is no provider of its own);
    ``env`` maps the fake's base URL to the ``PI_TUI_*`` overrides it answers to.
    """

    name: str
    provider_id: str
    client_id: str | None
    env: Callable[[str], dict[str, str]]
    tokens: TokenSpec = field(default_factory=TokenSpec)
    auth_code: AuthCodeSpec | None = None
    device: DeviceSpec | None = None
    routes: tuple[RouteSpec, ...] = ()
    fake: type[ProviderFake] | None = None
    account: str = "user@example.com"
    scope: str = ""

    def endpoint_names(self) -> tuple[str, ...]:
        """Every endpoint name this provider answers to, e.g. ``("xai.device_code", …)``."""
        names: list[str] = []
        if self.auth_code is not None:
            names += ["authorize", "exchange"]
        if self.tokens.refresh and self.tokens.path is not None:
            names.append("refresh")
        if self.device is not None:
            names += ["device_code", "poll"]
        names += [route.name for route in self.routes]
        full = [name if "." in name else f"{self.name}.{name}" for name in names]
        return tuple(dict.fromkeys(full))
