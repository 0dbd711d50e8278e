"""Authorization Code + PKCE: a loopback listener raced with a paste. Knows no provider.

A provider describes its login in an :class:`AuthCodeSpec` (how to build the link, how to
trade a code for an entry, where the browser comes back to); :class:`AuthCodeLogin` runs
it. The flow hands the entry to ``finish`` (the service saves it) and never saves anything.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar
from urllib.parse import parse_qs, urlsplit

from app.errors import AuthError, LoginInputError
from app.flows.callback import CallbackListener
from app.flows.pkce import Pkce
from app.opener import discard_pages
from app.sanitize import for_display, strip_escapes

if TYPE_CHECKING:
    import httpx

R = TypeVar("R")
ClientFactory = Callable[[], "httpx.AsyncClient"]
Exchange = Callable[["httpx.AsyncClient", str, "Pkce", str, int], Awaitable[dict[str, Any]]]

# Codes are base64url-ish; anything else was not copied from the browser.
_CODE_RE = re.compile(r"[A-Za-z0-9._~\-]{1,2048}")
_PASTE_MARKERS = re.compile(r"\x1b?\[20[01]~")


class AuthCodeSpec(NamedTuple):
    """What a provider tells the auth-code flow: its link, its exchange, its redirect.

    ``authorize_url(redirect_uri, pkce)`` builds the link; ``exchange(client, code, pkce,
    redirect_uri, now_ms)`` trades a code for the entry to store (raising a sentence).
    With ``fixed_redirect`` there is no listener (the provider's page shows the code);
    otherwise a listener binds ``port`` (None: paste only; 0: any free port), falling back to
    any free port when ``port`` is taken unless ``fixed_port``. A listener that cannot bind
    leaves the login paste only and says so in :attr:`AuthCodeLogin.bind_error` (``port_taken``,
    with ``{port}``), or, with ``bind_required``, fails the start with a sentence.
    ``make_state`` replaces the default state; ``timeout_s`` ends the login after that long.
    ``prepare(client)`` runs before the link is built (e.g. to ask a gateway where to
    authorize). ``on_redirect(params)`` sees the redirect's query (first values) before its code
    is exchanged, from the listener or a paste, and may keep what the exchange needs (a client
    id the server registered for this login) or raise LoginInputError; a paste must then be the
    whole redirect URL.
    """

    provider: str
    title: str
    authorize_url: Callable[[str, Pkce], str]
    exchange: Exchange
    port: int | None = None
    default_port: int = 0
    path: str = "/callback"
    redirect_host: str = "localhost"
    fixed_port: bool = False
    fixed_redirect: str | None = None
    check_state: bool = True
    instructions: str = "Open this link and choose Authorize:"
    waiting: str = "Waiting for the browser… or paste the code below."
    paste_only: str = "After you authorize, the browser shows a code: paste it below."
    placeholder: str = "Paste the code here (it looks like abc123…#xyz…)"
    # The plain-lines login's question.
    prompt: str = "Paste the code the page shows (or the whole redirect URL), then Enter: "
    bind_required: bool = False
    port_taken: str = (
        "Port {port} is in use on this machine, so the browser cannot come back to pi-tui by "
        "itself: after you authorize, copy the address the browser ends on and paste it below."
    )
    make_state: Callable[[], str] | None = None
    timeout_s: float | None = None
    prepare: Callable[[httpx.AsyncClient], Awaitable[None]] | None = None
    on_redirect: Callable[[Mapping[str, str]], None] | None = None


class AuthCodeLogin(Generic[R]):
    """One login attempt. Either the browser callback or a paste completes it, once."""

    kind: Literal["auth_code"] = "auth_code"

    def __init__(
        self,
        spec: AuthCodeSpec,
        pkce: Pkce,
        redirect_uri: str,
        *,
        client: ClientFactory,
        now_ms: Callable[[], int],
        finish: Callable[[dict[str, Any]], Awaitable[R]],
    ) -> None:
        self.spec = spec
        self.pkce = pkce
        self.redirect_uri = redirect_uri
        self.url = spec.authorize_url(redirect_uri, pkce)
        self.listener: CallbackListener | None = None
        # Why there is no listener although the spec wanted one (a sentence for the screen).
        self.bind_error = ""
        self.result: R | None = None
        started = now_ms()
        self.deadline_ms = None if spec.timeout_s is None else started + int(spec.timeout_s * 1000)
        self._client = client
        self._now_ms = now_ms
        self._finish = finish
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AuthCodeLogin(provider={self.spec.provider!r}, redirect_uri={self.redirect_uri!r})"

    @classmethod
    async def start(
        cls,
        spec: AuthCodeSpec,
        *,
        client: ClientFactory,
        now_ms: Callable[[], int],
        finish: Callable[[dict[str, Any]], Awaitable[R]],
        pkce: Pkce | None = None,
    ) -> AuthCodeLogin[R]:
        """Fresh PKCE and state, the listener (when the spec has one), and the link."""
        if spec.prepare is not None:
            async with client() as http:
                await spec.prepare(http)
        if pkce is None:
            pkce = Pkce.generate()
            if spec.make_state is not None:
                pkce = Pkce(verifier=pkce.verifier, challenge=pkce.challenge, state=spec.make_state())
        listener = None
        bind_error = ""
        if spec.fixed_redirect is None and spec.port is not None:
            try:
                listener = await CallbackListener.start(
                    spec.port,
                    expected_state=pkce.state if spec.check_state else None,
                    path=spec.path,
                    provider=spec.provider,
                    any_port=not spec.fixed_port,
                )
            except OSError as exc:
                logging.getLogger("pi_tui.auth_code").warning("no loopback listener: %s", exc)
                if spec.bind_required:
                    reason = exc.strerror or type(exc).__name__
                    where = f"port {spec.port} of 127.0.0.1 and ::1" if spec.port else "127.0.0.1 and ::1"
                    raise AuthError(
                        f"pi-tui could not listen on {where} for {spec.provider}'s redirect "
                        f"({reason}); check PI_TUI_CALLBACK_PORT, or free the port, and try again."
                    ) from None
                bind_error = spec.port_taken.format(port=spec.port)
        if spec.fixed_redirect is not None:
            redirect = spec.fixed_redirect
        else:
            port = listener.port if listener else (spec.port or spec.default_port)
            redirect = f"http://{spec.redirect_host}:{port}{spec.path}"
        login = cls(spec, pkce, redirect, client=client, now_ms=now_ms, finish=finish)
        login.bind_error = bind_error
        if listener is not None:
            login.listener = listener
            listener.complete = login._exchange
            listener.inspect = spec.on_redirect
        return login

    @property
    def title(self) -> str:
        """The screen's title, e.g. "Log in to …"."""
        return self.spec.title

    @property
    def listening(self) -> bool:
        """True when a browser on this machine can complete the login by itself."""
        return self.listener is not None

    @property
    def instructions(self) -> str:
        """What to do with the link."""
        return self.spec.instructions

    @property
    def hint(self) -> str:
        """What happens after the link is opened (browser or paste)."""
        return self.spec.waiting if self.listening else self.spec.paste_only

    async def wait_for_callback(self) -> R:
        """Wait until the browser redirect completed the login. Never returns without a listener."""
        if self.listener is None:
            await asyncio.Event().wait()
        assert self.listener is not None
        if self.deadline_ms is None:
            await self.listener.wait()
        else:
            try:
                await asyncio.wait_for(self.listener.wait(), max(0, self.deadline_ms - self._now_ms()) / 1000)
            except TimeoutError:
                await self.listener.close()
                raise self._timed_out() from None
        assert self.result is not None
        return self.result

    def _timed_out(self) -> AuthError:
        minutes = (self.spec.timeout_s or 0) / 60
        return AuthError(
            f"This login link is more than {minutes:g} minutes old, so it no longer works; "
            "start the login again."
        )

    def code_from(self, pasted: str) -> str:
        """The authorization code in what the user pasted; LoginInputError says what to fix.

        Makes no request, so a screen can judge a paste in the same frame it arrives.
        """
        expected = self.pkce.state if self.spec.check_state else None
        code = parse_pasted(pasted, expected, provider=self.spec.provider)
        if self.spec.on_redirect is not None:
            self.spec.on_redirect(redirect_params(pasted, self.redirect_uri))
        return code

    async def submit(self, pasted: str) -> R:
        """Complete the login with what the user pasted; LoginInputError says what to fix."""
        if self.result is not None:
            return self.result
        code = self.code_from(pasted)
        if self.deadline_ms is not None and self._now_ms() >= self.deadline_ms:
            raise self._timed_out()
        return await self._exchange(code)

    async def _exchange(self, code: str) -> R:
        """Trade the code (single-use: never retried), then hand the entry to ``finish``."""
        async with self._lock:
            if self.result is not None:
                return self.result
            code = parse_pasted(code, None, provider=self.spec.provider)
            async with self._client() as client:
                entry = await self.spec.exchange(client, code, self.pkce, self.redirect_uri, self._now_ms())
            self.result = await self._finish(entry)
        return self.result

    async def aclose(self) -> None:
        """Stop the loopback listener and remove the page that opened the link in a browser."""
        discard_pages(self.url)
        if self.listener is not None:
            await self.listener.close()


def redirect_params(pasted: str, redirect_uri: str) -> dict[str, str]:
    """The query of a pasted redirect URL (first values); LoginInputError unless it is one."""
    cleaned = "".join(strip_escapes(_PASTE_MARKERS.sub("", pasted)).split())
    try:
        parts, expected = urlsplit(cleaned), urlsplit(redirect_uri)
        same = (parts.scheme, parts.netloc, parts.path) == (expected.scheme, expected.netloc, expected.path)
    except ValueError:
        same = False
    if not same:
        raise LoginInputError(f"Paste the whole address the browser ended on; it starts with {redirect_uri}.")
    return {name: values[0] for name, values in _query(parts.query).items()}


def parse_pasted(text: str, expected_state: str | None, *, provider: str) -> str:
    """Return the authorization code from whatever the user pasted.

    Accepts ``code#state``, the whole redirect URL, a ``code=…&state=…`` query, or a bare
    code. Raises LoginInputError with a sentence for empty input, a provider error, a state
    from another login attempt, or text that is not a code. ``expected_state`` None: the
    flow has no state (the callback path is the secret), so states are not compared.
    """
    cleaned = "".join(strip_escapes(_PASTE_MARKERS.sub("", text)).split())
    if not cleaned:
        raise LoginInputError(
            "Nothing was pasted. Authorize in the browser, copy the code it shows, and paste it here."
        )
    code, states, error = _split_pasted(cleaned)
    if error:
        raise LoginInputError(
            f"{provider} did not authorize the login ({for_display(error, limit=200)}). "
            "Open the link again and choose Authorize."
        )
    if expected_state is not None:
        expected = expected_state.encode("ascii")
        if not all(secrets.compare_digest(s.encode("utf-8", "replace"), expected) for s in states):
            raise LoginInputError(
                "That code belongs to a different login attempt (its state does not match). "
                "Open the link shown here, authorize, and paste the new code."
            )
    if not code:
        raise LoginInputError(
            "No authorization code found in what you pasted. Paste the code the browser shows "
            "after you authorize (it looks like abc123…#xyz…)."
        )
    if not _CODE_RE.fullmatch(code):
        raise LoginInputError(
            "That doesn't look like an authorization code. Copy the whole code from the "
            "browser page and paste it again."
        )
    return code


def _split_pasted(text: str) -> tuple[str, list[str], str | None]:
    """(code, every state in the paste, error) from a pasted string, without judging them."""
    if text.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(text)
        except ValueError:  # "http://[…", or a host with a full-width "＃": not a redirect URL
            return text, [], None
        return _from_params(_query(parts.query), _query(parts.fragment))
    if "code=" in text or "error=" in text:
        return _from_params(_query(text.lstrip("?#")))
    code, sep, state = text.partition("#")
    return code, ([state] if sep else []), None


def _query(text: str) -> dict[str, list[str]]:
    # Blank values are kept: "state=" is a state, and not the expected one.
    return parse_qs(text, keep_blank_values=True)


def _from_params(*sources: dict[str, list[str]]) -> tuple[str, list[str], str | None]:
    params: dict[str, list[str]] = {}
    for source in sources:
        for name, values in source.items():
            params.setdefault(name, []).extend(values)

    def first(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    error = first("error")
    if error:
        description = first("error_description")
        return "", [], f"{error}: {description}" if description else error
    code, sep, state_in_code = (first("code") or "").partition("#")
    # Every state counts: a paste that also carries another attempt's state is not this login's.
    return code, params.get("state", []) + ([state_in_code] if sep else []), None
