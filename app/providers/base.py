"""The provider contract: what every ``app/providers/<id>.py`` module offers, checked by mypy.

A provider is a module, like pi's ``OAuthProviderInterface`` objects: its endpoints, the login
flow it describes, its refresh, how its token is sent, its test call, what the panel shows of
it, and (optionally) its subscription usage. Optional hooks are declared here too; a module
without one sets it to ``None``, all in one line (``usage = offers = use_offer = None``), so no
caller looks a hook up by name.

:data:`app.providers.checked.CHECKED` assigns every registered module to :class:`Provider` under
``TYPE_CHECKING``: a module that drifts from this contract fails ``mypy app``.

Light at import (no httpx, no asyncio): the registry and ``pi-tui status`` read it.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.providers import ACCOUNT_KEYS, stored_account
from app.records import NamedTuple

__all__ = ["ACCOUNT_KEYS", "Provider", "Usage", "UsageWindow", "stored_account"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any, Protocol

    import httpx

    from app.flows.auth_code import AuthCodeSpec
    from app.flows.device import DeviceSpec

    Entry = dict[str, Any]
    Rows = list[tuple[str, str]]
else:
    # Only type checkers hold a module to the contract; `pi-tui usage --short` reads the records
    # above it without importing typing.
    Protocol = object


class UsageWindow(NamedTuple):
    """One rate-limit window of a subscription: "5h", "7d", "premium requests", …

    ``used_percent`` 0–100 (None when the provider gave no number), ``resets_at`` epoch ms or None.
    """

    name: str
    used_percent: float | None
    resets_at: int | None = None


class Usage(NamedTuple):
    """What a provider says is left, in one shape for every provider.

    ``credits``: free-form facts about money or credits (e.g. ``{"balance": 12.5}``),
    ``extra``: provider-specific facts shown prominently (Anthropic's extra usage), ``notes``:
    short lines for the user. Holds no secret.
    """

    windows: tuple[UsageWindow, ...] = ()
    plan: str | None = None
    credits: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()


class CallResult(NamedTuple):
    """What a provider's test call answered: the sentence, and its response's headers.

    ``headers`` (case-insensitive when they come from httpx) may carry the subscription's
    rate-limit state, read by the ``usage_from_headers`` hook. Empty when there is nothing to read.
    """

    sentence: str
    headers: Mapping[str, str] = {}


if TYPE_CHECKING:
    UsageHook = Callable[[httpx.AsyncClient, Any, Entry], Awaitable[Usage]]
    UsageFromHeaders = Callable[[Mapping[str, str]], Usage | None]
    CheckAnswer = Callable[[str, str], str]
    OffersHook = Callable[[Mapping[str, str], Mapping[str, str]], list[tuple[str, str]]]
    UseOfferHook = Callable[..., Awaitable[tuple[Entry, tuple[str, ...]]]]
    CheckOptions = Callable[[Mapping[str, Any]], dict[str, Any]]
    RequestHeaders = Callable[[str, Mapping[str, Any]], dict[str, str]]


class Provider(Protocol):
    """One provider module. ``endpoints`` is whatever the module's ``endpoints(env)`` returns."""

    def endpoints(self, env: Mapping[str, str]) -> Any:
        """Its URLs with its ``PI_TUI_*`` overrides applied (ConfigError names a bad one)."""
        ...

    def login(self, method_id: str, endpoints: Any, answers: Mapping[str, str]) -> AuthCodeSpec | DeviceSpec:
        """The flow to run for one of its login methods (the registry lists them)."""
        ...

    async def refresh(self, client: httpx.AsyncClient, endpoints: Any, entry: Entry, *, now_ms: int) -> Entry:
        """A renewed entry, exactly as pi stores it; RefreshError(revoked=…) on refusal."""
        ...

    async def test(self, client: httpx.AsyncClient, endpoints: Any, entry: Entry) -> CallResult:
        """One real, minimal API call; a sentence ("OK: 12 models available") and its headers."""
        ...

    def auth_headers(self, endpoints: Any, entry: Mapping[str, Any]) -> dict[str, str]:
        """The headers a request with this credential needs (an ``api_key`` entry too)."""
        ...

    def api_base(self, endpoints: Any, entry: Mapping[str, Any]) -> str:
        """Where its API requests go for this login."""
        ...

    def status_rows(self, endpoints: Any, entry: Mapping[str, Any]) -> Rows:
        """Extra label/value rows for the panel (Enterprise host, API base, …); no secret."""
        ...

    def account(self, entry: Mapping[str, Any]) -> str | None:
        """The account a login belongs to, from the entry alone (email, ``@login``), or None."""
        ...

    # -- optional hooks: a module without one sets it to None ------------------------------

    @property
    def usage(self) -> UsageHook | None:
        """``async usage(client, endpoints, entry) -> Usage``: what the subscription has left."""
        ...

    @property
    def usage_from_headers(self) -> UsageFromHeaders | None:
        """``usage_from_headers(headers) -> Usage | None``: the windows an API answer's rate-limit
        headers tell (a test call's), None when they tell nothing. Merged into the usage cache."""
        ...

    @property
    def check_answer(self) -> CheckAnswer | None:
        """``check_answer(question_id, text) -> str``: a question's cleaned answer, or LoginInputError."""
        ...

    @property
    def offers(self) -> OffersHook | None:
        """``offers(env, answers) -> [(id, label)]``: logins found on this machine (reading only)."""
        ...

    @property
    def use_offer(self) -> UseOfferHook | None:
        """``async use_offer(client, endpoints, offer_id, env, *, now_ms) -> (entry, details)``."""
        ...

    @property
    def check_options(self) -> CheckOptions | None:
        """``check_options(options) -> dict``: the request options :class:`app.auth.PiAuth` takes."""
        ...

    @property
    def request_headers(self) -> RequestHeaders | None:
        """``request_headers(path, options) -> dict``: per-request extras (e.g. chat headers)."""
        ...
