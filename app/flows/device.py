"""RFC 8628 device authorization: show a code, poll until approved. Knows no provider.

A provider describes its device login in a :class:`DeviceSpec` — how to ask for a code, how
to poll once, how to turn the approval into an entry, and (optionally) its own sentences
for error codes. Non-standard device APIs (a JSON body, "pending" spelt as HTTP 403) fit by
mapping their answers to :class:`PollAnswer` in their ``poll`` hook. The flow hands the
entry to ``finish`` (the service saves it) and never saves anything.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar
from urllib.parse import urlsplit

from app.errors import AuthError, DeviceFlowError, LoginCancelled, NetworkError
from app.flows.oauth import ACCEPT_JSON, standard_entry
from app.http import DEADLINE_SECONDS, oauth_error, request_json
from app.opener import discard_pages
from app.sanitize import finite_number, for_display, is_token_shaped, strip_escapes

if TYPE_CHECKING:
    import httpx

    from app.flows.oauth import ToEntry, TokenEndpoint

R = TypeVar("R")
T = TypeVar("T")
ClientFactory = Callable[[], "httpx.AsyncClient"]

DEFAULT_INTERVAL_S = 5.0
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 60.0
SLOW_DOWN_STEP_S = 5.0
DEFAULT_CODE_LIFETIME_S = 900.0
MAX_CODE_LIFETIME_S = 3600.0
MAX_USER_CODE = 32
# Polls in a row that may be lost to the network, or answered with a passing server error
# (5xx, 429), before the login gives up.
MAX_DROPPED_POLLS = 3

PollKind = Literal["waiting", "slow_down", "done"]


def _log() -> Any:
    return logging.getLogger("pi_tui.device")


def clamp_interval(value: object) -> float:
    """The poll interval for what the server sent: 5 s if absent or absurd, 1 s to 60 s."""
    seconds = finite_number(value)
    if seconds is None or seconds <= 0:
        return DEFAULT_INTERVAL_S
    return min(max(seconds, MIN_INTERVAL_S), MAX_INTERVAL_S)


def clamp_expires_in(value: object) -> float:
    """How long the device code lives: 900 s if absent or absurd, at most an hour."""
    seconds = finite_number(value)
    if seconds is None or seconds <= 0:
        return DEFAULT_CODE_LIFETIME_S
    return min(seconds, MAX_CODE_LIFETIME_S)


def next_interval(current: float, server_interval: object) -> float:
    """The interval after ``slow_down``: 5 s more, or the server's larger (sane) interval.

    RFC 8628 §3.5 asks for at least 5 s more; a larger interval the server names wins.
    """
    suggested = finite_number(server_interval)
    bigger = current + SLOW_DOWN_STEP_S
    if suggested is not None and bigger < suggested <= MAX_INTERVAL_S:
        return suggested
    return bigger


def clean_user_code(value: object, *, server: str) -> str:
    """The user code to show, or DeviceFlowError when it cannot be shown safely."""
    code = strip_escapes(value).strip() if isinstance(value, str) else ""
    if not code or len(code) > MAX_USER_CODE or not code.isprintable():
        raise DeviceFlowError(f"{server} sent a login code that cannot be shown; start again.")
    return code


def clean_verification_uri(
    value: object, *, server: str, schemes: tuple[str, ...] = ("http", "https")
) -> str:
    """A verification URL that is a web link (``schemes``), or DeviceFlowError; never opened otherwise."""
    uri = strip_escapes(value).strip() if isinstance(value, str) else ""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    unusable = parts is None or not host or len(uri) > 2048 or not uri.isprintable() or " " in uri
    if unusable or parts is None or parts.scheme.lower() not in schemes:
        shown = for_display(uri, limit=80) or "nothing"
        kind = "an https:// link" if tuple(schemes) == ("https",) else "a web link"
        raise DeviceFlowError(
            f"{server} sent a verification address that is not {kind} ({shown!r}); "
            "pi-tui will not open it. Start again."
        )
    return uri


class DeviceCode(NamedTuple):
    """The answer to the device code request, checked and cleaned for the screen.

    ``expires_in`` None: the code has no deadline. ``wait_first``: wait one interval before
    the first poll (RFC 8628 clients do; some APIs want an immediate first poll).
    ``verification_uri_complete``: the page with the code already filled in (RFC 8628 §3.3.1),
    "" when the server sent none; shown and opened in preference to ``verification_uri``.
    """

    device_code: str
    user_code: str
    verification_uri: str
    expires_in: float | None
    interval: float
    wait_first: bool = True
    verification_uri_complete: str = ""

    def __repr__(self) -> str:
        return f"DeviceCode(user_code={self.user_code!r}, verification_uri={self.verification_uri!r})"

    @property
    def link(self) -> str:
        """The address to show and open: the complete one when given."""
        return self.verification_uri_complete or self.verification_uri


class PollAnswer(NamedTuple):
    """One answer of the token endpoint: approved (``data`` holds the tokens) or an error code."""

    approved: bool = False
    data: Mapping[str, Any] = MappingProxyType({})
    error: str = ""
    description: str = ""
    interval: object = None

    def __repr__(self) -> str:
        return f"PollAnswer(approved={self.approved}, error={self.error!r})"


class DeviceSpec(NamedTuple):
    """What a provider tells the device flow.

    ``request_code(client)`` asks for a code; ``poll(client, code)`` asks once;
    ``finish(client, answer, now_ms)`` turns an approval into ``(entry, detail lines)``.
    An error code that ends the login (expired_token, access_denied, …) is said by ``errors``,
    the provider's sentence for each code it names (:func:`default_error` with them), or by
    ``error(code, description)`` when its sentences need more than the code.
    """

    provider: str
    title: str
    request_code: Callable[[httpx.AsyncClient], Awaitable[DeviceCode]]
    poll: Callable[[httpx.AsyncClient, DeviceCode], Awaitable[PollAnswer]]
    finish: Callable[[httpx.AsyncClient, PollAnswer, int], Awaitable[tuple[dict[str, Any], tuple[str, ...]]]]
    error: Callable[[str, str], AuthError] | None = None
    server: str = ""
    errors: Mapping[str, str] = MappingProxyType({})

    @property
    def server_name(self) -> str:
        """Who is polled, for sentences ("… asked us to slow down")."""
        return self.server or self.provider

    def failure(self, error: str, description: str) -> AuthError:
        """The sentence for an error code that ends the login."""
        if self.error is not None:
            return self.error(error, description)
        return default_error(self.server_name, error, description, self.errors)


DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"


def token_poll(
    token: TokenEndpoint, *, deadline: float = DEADLINE_SECONDS, missing: str = ""
) -> Callable[[httpx.AsyncClient, DeviceCode], Awaitable[PollAnswer]]:
    """A :class:`DeviceSpec` ``poll``: one RFC 8628 poll of ``token`` (a form with its client id
    when it has one, a JSON answer).

    Approved when the answer is a success without an error code (the provider's ``finish``
    checks the tokens); with ``missing``, only when it carries a usable ``access_token``, kept
    alone (without one: the error ``no_token``, ``missing`` its description). Otherwise the error
    code (``http_<status>`` when the server named none) with the server's ``interval`` for a
    slow_down.
    """

    async def poll(client: httpx.AsyncClient, code: DeviceCode) -> PollAnswer:
        body = {"grant_type": DEVICE_GRANT_TYPE, "device_code": code.device_code}
        if token.client_id:
            body["client_id"] = token.client_id
        response = await request_json(
            client, "POST", token.url, what=token.what, deadline=deadline, data=body, headers=ACCEPT_JSON
        )
        data = response.data if isinstance(response.data, dict) else {}
        error, description = oauth_error(data)
        if error or response.status >= 400:
            if not error:
                error, description = f"http_{response.status}", description or f"HTTP {response.status}"
            return PollAnswer(error=error, description=description, interval=data.get("interval"))
        if not missing:
            return PollAnswer(approved=True, data=data)
        access = data.get("access_token")
        if is_token_shaped(access):
            return PollAnswer(approved=True, data={"access_token": str(access)})
        return PollAnswer(error="no_token", description=missing)

    return poll


async def start_device_request(
    client: httpx.AsyncClient, url: str, *, what: str, data: Mapping[str, str], deadline: float | None = None
) -> tuple[dict[str, Any], str]:
    """POST an RFC 8628 device authorization request: ``(the answer, its device code)``.

    DeviceFlowError "{what} refused to start the login (…)" on an OAuth error or an error
    status, "{what}'s answer had no device code" when the code is missing or unprintable.
    """
    response = await request_json(
        client,
        "POST",
        url,
        what=what,
        deadline=DEADLINE_SECONDS if deadline is None else deadline,
        data=dict(data),
        headers={"Accept": "application/json"},
    )
    error, description = oauth_error(response.data)
    if error or response.status >= 400:
        detail = for_display(description or error or f"HTTP {response.status}", limit=200)
        raise DeviceFlowError(f"{what} refused to start the login ({detail}). Try again later.")
    answer = response.data if isinstance(response.data, dict) else {}
    device_code = answer.get("device_code")
    if not isinstance(device_code, str) or not device_code or not device_code.isprintable():
        raise DeviceFlowError(f"{what}'s answer had no device code; start again.")
    return answer, device_code


class DeviceStart(NamedTuple):
    """A standard device authorization request and what its answer must hold.

    ``schemes``: what the verification addresses may be; ``lifetime_required``: refuse an
    answer without a positive ``expires_in`` (else 900 s); ``complete_required``: refuse one
    without ``verification_uri_complete`` (shown in preference whenever it is there).
    """

    url: str
    what: str
    data: Mapping[str, str]
    schemes: tuple[str, ...] = ("http", "https")
    lifetime_required: bool = False
    complete_required: bool = False
    deadline: float | None = None


async def request_device_code(client: httpx.AsyncClient, start: DeviceStart) -> DeviceCode:
    """Ask for a code (RFC 8628 §3.1–3.2); DeviceFlowError with a sentence when refused or unusable."""
    data, device_code = await start_device_request(
        client, start.url, what=start.what, data=start.data, deadline=start.deadline
    )
    lifetime = finite_number(data.get("expires_in"))
    if start.lifetime_required and (lifetime is None or lifetime <= 0):
        raise DeviceFlowError(f"{start.what}'s answer did not say how long the code is valid; start again.")
    complete = data.get("verification_uri_complete")
    clean = functools.partial(clean_verification_uri, server=start.what, schemes=start.schemes)
    return DeviceCode(
        device_code=device_code,
        user_code=clean_user_code(data.get("user_code"), server=start.what),
        verification_uri=clean(data.get("verification_uri")),
        expires_in=clamp_expires_in(lifetime),
        interval=clamp_interval(data.get("interval")),
        verification_uri_complete=clean(complete) if complete or start.complete_required else "",
    )


def standard_device_login(
    *,
    title: str,
    start: DeviceStart,
    token: TokenEndpoint,
    errors: Mapping[str, str] = MappingProxyType({}),
    to_entry: ToEntry | None = None,
) -> DeviceSpec:
    """The whole RFC 8628 login of a standard provider: the start request, polling its token
    endpoint, and the approval as pi's entry (``to_entry``, default a standard token response);
    ``errors`` are its sentences for the error codes that end it (:class:`DeviceSpec`)."""
    build = to_entry or standard_entry(token.what)

    async def request_code(client: httpx.AsyncClient) -> DeviceCode:
        return await request_device_code(client, start)

    async def finish(
        client: httpx.AsyncClient, answer: PollAnswer, now_ms: int
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        return build(dict(answer.data), None, now_ms), ()

    return DeviceSpec(
        provider=token.what,
        title=title,
        request_code=request_code,
        poll=token_poll(token),
        finish=finish,
        server=token.what,
        errors=errors,
    )


def default_error(
    server: str, error: str, description: str, sentences: Mapping[str, str] | None = None
) -> DeviceFlowError:
    """The sentence for an error code that ends a device login: the one ``sentences`` gives it
    (when there are none, RFC 8628's terminal errors in general words), any other
    "{server} stopped the login (its description). Start again."."""
    if not sentences:
        denied = f"The login was denied on {server}. Start again to retry."
        expired = "The code expired before it was approved; start again."
        sentences = {"expired_token": expired, "access_denied": denied, "authorization_denied": denied}
    if error in sentences:
        return DeviceFlowError(sentences[error])
    detail = for_display(description or error or "no reason given", limit=200)
    return DeviceFlowError(f"{server} stopped the login ({detail}). Start again.")


def _passing(error: NetworkError) -> bool:
    """True for a failure that asking again later may cure: no answer, a 5xx or a 429."""
    return error.status is None or error.status >= 500 or error.status == 429


class PollEvent(NamedTuple, Generic[R]):
    """One step of the polling: still waiting, told to slow down, or done (with the result)."""

    kind: PollKind
    interval: float
    polls: int
    result: R | None = None


class DeviceLogin(Generic[R]):
    """One device login: show :attr:`user_code` and :attr:`verification_uri`, then iterate :meth:`poll`.

    :meth:`aclose` (Esc) stops it at once: a wait or a request in flight is abandoned, nothing
    more is sent, and :meth:`poll` raises LoginCancelled.
    """

    kind: Literal["device"] = "device"

    def __init__(
        self,
        spec: DeviceSpec,
        code: DeviceCode,
        *,
        client: ClientFactory,
        now_ms: Callable[[], int],
        finish: Callable[[dict[str, Any]], Awaitable[R]],
        scale: float = 1.0,
    ) -> None:
        self.spec = spec
        self.code = code
        self.user_code = code.user_code
        self.verification_uri = code.verification_uri
        self.verification_uri_complete = code.verification_uri_complete
        started = now_ms()
        self.expires_at_ms = None if code.expires_in is None else started + int(code.expires_in * 1000)
        self.interval = code.interval
        self.polls = 0
        self.result: R | None = None
        # Filled in after approval by the provider's finish hook; shown by the UI, not stored.
        self.details: tuple[str, ...] = ()
        self._client = client
        self._now_ms = now_ms
        self._finish = finish
        # Shrinks every wait in tests (which also shrink the fake server's poll gap).
        self._scale = scale
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._polling = False

    def __repr__(self) -> str:
        return (
            f"DeviceLogin(provider={self.spec.provider!r}, user_code={self.user_code!r}, polls={self.polls})"
        )

    @classmethod
    async def start(
        cls,
        spec: DeviceSpec,
        *,
        client: ClientFactory,
        now_ms: Callable[[], int],
        finish: Callable[[dict[str, Any]], Awaitable[R]],
        scale: float = 1.0,
    ) -> DeviceLogin[R]:
        """Ask the provider for a code to show the user (once more if the connection dropped)."""
        async with client() as http:
            try:
                code = await spec.request_code(http)
            except NetworkError as exc:
                # Nobody has seen a code yet, so a second request costs nothing; a server that
                # answered (status) or was too slow (not dropped) is not asked again.
                if exc.status is not None or not exc.dropped:
                    raise
                _log().info("%s device code request lost (%s); asking again", spec.provider, exc)
                code = await spec.request_code(http)
        _log().info("device login started for %s (code %s)", spec.provider, code.user_code)
        return cls(spec, code, client=client, now_ms=now_ms, finish=finish, scale=scale)

    @property
    def title(self) -> str:
        """The screen's title, e.g. "Log in to … (host)"."""
        return self.spec.title

    @property
    def link(self) -> str:
        """The address to show and open (``verification_uri_complete`` when the server sent one)."""
        return self.code.link

    @property
    def instructions(self) -> str:
        """What to do with the code (with a complete link the page already holds it)."""
        if self.verification_uri_complete:
            return f"Open {self.link} and confirm this code:"
        return f"Open {self.verification_uri} and enter this code:"

    @property
    def server(self) -> str:
        """Who is being polled, for progress lines."""
        return self.spec.server_name

    @property
    def cancelled(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._stop.is_set()

    async def poll(self) -> AsyncIterator[PollEvent[R]]:
        """Poll until approved (RFC 8628), yielding an event after every answer.

        Waits :attr:`interval` before every poll (the first too, unless the code says not to).
        The last event is ``done`` with the result; errors raise DeviceFlowError, AuthError or
        NetworkError; :meth:`aclose` makes it raise LoginCancelled.
        """
        if self._polling:
            raise RuntimeError("this login is already being polled")
        self._polling = True
        try:
            async for event in self._poll_loop():
                yield event
        finally:
            self._polling = False

    async def _poll_loop(self) -> AsyncGenerator[PollEvent[R], None]:
        first = True
        dropped = 0
        while True:
            await self._wait(self.interval * self._scale if (self.code.wait_first or not first) else 0.0)
            first = False
            try:
                answer = await self._unless_stopped(self._ask())
            except NetworkError as exc:
                # A poll lost on the way (Wi-Fi, a slow SSH hop, a dropped keep-alive) or met by a
                # passing server error (a 5xx, a 429) is asked again at the next interval: the
                # user may be typing the code right now. Any other bad answer, or a server gone
                # or failing for several polls in a row, ends it.
                dropped += 1
                if not _passing(exc) or dropped > MAX_DROPPED_POLLS:
                    raise
                _log().info("%s poll failed (%s); asking again", self.server, exc)
                if exc.status == 429:  # too many requests: RFC 8628's slow_down, said in HTTP
                    self.interval = next_interval(self.interval, None)
                    yield PollEvent("slow_down", self.interval, self.polls)
                else:
                    yield PollEvent("waiting", self.interval, self.polls)
                continue
            dropped = 0
            self.polls += 1
            if answer.approved:
                self.result = await self._unless_stopped(self._complete(answer))
                yield PollEvent("done", self.interval, self.polls, self.result)
                return
            if answer.error == "authorization_pending":
                yield PollEvent("waiting", self.interval, self.polls)
            elif answer.error == "slow_down":
                self.interval = next_interval(self.interval, answer.interval)
                _log().info("%s asked to slow down; polling every %.0f s", self.server, self.interval)
                yield PollEvent("slow_down", self.interval, self.polls)
            else:
                raise self.spec.failure(answer.error, answer.description)

    async def aclose(self) -> None:
        """Stop polling now; returns once no request of this login is in flight. The local page
        that opened the link in a browser goes too."""
        self._stop.set()
        await self._idle.wait()
        discard_pages(self.link)

    def _expired(self) -> bool:
        return self.expires_at_ms is not None and self._now_ms() >= self.expires_at_ms

    async def _wait(self, seconds: float) -> None:
        if self._stop.is_set():
            raise LoginCancelled("The login was cancelled.")
        if self._expired():
            raise self.spec.failure("expired_token", "")
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            pass
        else:
            raise LoginCancelled("The login was cancelled.")
        if self._expired():
            raise self.spec.failure("expired_token", "")

    async def _unless_stopped(self, work: Awaitable[T]) -> T:
        """Run ``work`` unless :meth:`aclose` comes first; then it is cancelled mid-flight."""
        if self._stop.is_set():
            if isinstance(work, Coroutine):
                work.close()
            raise LoginCancelled("The login was cancelled.")
        self._idle.clear()
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            self._idle.set()
        if task.cancelled():
            raise LoginCancelled("The login was cancelled.")
        return task.result()

    async def _ask(self) -> PollAnswer:
        async with self._client() as http:
            return await self.spec.poll(http, self.code)

    async def _complete(self, answer: PollAnswer) -> R:
        async with self._client() as http:
            entry, self.details = await self.spec.finish(http, answer, self._now_ms())
        return await self._finish(entry)
