"""``pi-tui login PROVIDER --no-tui``: the same login as the app, in plain lines.

For SSH without a full screen, and for scripts: the link (or the device code and its page)
goes to stderr and to ``$BROWSER``, the answers (a question's, the pasted code) are read from
stdin one line each, and the checks and sentences are the flows' own. Any provider, either
flow kind: it goes through :meth:`AuthService.start_login` and names no provider.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from app.errors import Cancelled, ConfigError, LoginInputError, PiTuiError
from app.providers import OFFER, Method, ProviderInfo, Question, provider

if TYPE_CHECKING:
    from app.flows.auth_code import AuthCodeLogin
    from app.flows.device import DeviceLogin
    from app.opener import Opened
    from app.service import AuthService, LoginResult

Opener = Callable[[str], "Opened"]


class LineReader:
    """Lines from a file descriptor without a blocking thread, so a login can stop waiting.

    End of input (Ctrl-D, a closed pipe) is :class:`Cancelled`: nothing was changed.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""
        self._eof = False

    async def readline(self) -> str:
        """The next line without its newline; Cancelled at end of input."""
        while b"\n" not in self._buffer:
            if self._eof:
                break
            chunk = await self._read()
            if not chunk:
                self._eof = True
            self._buffer += chunk
        if not self._buffer and self._eof:
            raise Cancelled("Login cancelled: the input ended before an answer came; nothing was changed.")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    async def _read(self) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(self.fd, wake)
        except (OSError, ValueError, NotImplementedError, PermissionError):
            # A regular file (`< answers.txt`) cannot be watched; it never blocks either.
            return os.read(self.fd, 65536)
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)
        return os.read(self.fd, 65536)


class PlainLogin:
    """One login in plain lines; :meth:`run` returns the LoginResult or raises a PiTuiError."""

    def __init__(self, service: AuthService, *, err: TextIO, reader: LineReader, opener: Opener) -> None:
        self.service = service
        self.err = err
        self.reader = reader
        self.opener = opener

    def say(self, text: str = "") -> None:
        """One line on stderr, flushed at once (stderr may be a pipe)."""
        print(text, file=self.err, flush=True)

    async def ask(self, question: str) -> str:
        """``question`` on stderr, the answer from stdin."""
        print(question, end="", file=self.err, flush=True)
        answer = await self.reader.readline()
        if not os.isatty(self.reader.fd):
            self.say()  # no terminal echoed the Enter: end the question's line ourselves
        return answer

    def show_link(self, url: str) -> None:
        """The link on a line of its own, nothing around it, then whether a browser opened it."""
        self.say()
        self.say(url)
        self.say()
        self.say(self.opener(url).message)

    async def run(self, provider_id: str, method_id: str | None = None) -> LoginResult:
        """Log in to ``provider_id``: its questions, its method (``method_id`` or a choice), its flow.

        A login found on this machine (e.g. a token another client saved) is
        listed as one more numbered method, and used only when chosen, here or by ``--method``.
        """
        info = provider(provider_id)
        answers = {question.id: await self.answer(provider_id, question) for question in info.questions}
        offers = self.service.offers(provider_id, answers)
        if method_id:
            method = self.named_method(info, offers, method_id)
            if method.kind == OFFER:
                return await self.use_offer(provider_id, method)
        else:
            while True:
                method = await self.choose_method(provider_id, offers)
                if method.kind != OFFER:
                    break
                try:
                    return await self.use_offer(provider_id, method)
                except (Cancelled, ConfigError):
                    raise
                except PiTuiError as exc:
                    # Refused (nothing saved): say why and offer the rest again.
                    self.say(str(exc))
                    offers = [o for o in offers if o.id != method.id]
        login = await self.service.start_login(provider_id, method.id, answers)
        try:
            if login.kind == "device":
                return await self.device(login)
            return await self.auth_code(login)
        finally:
            await login.aclose()

    async def answer(self, provider_id: str, question: Question) -> str:
        """Ask one of the provider's questions until the answer passes its check."""
        while True:
            text = await self.ask(f"{question.prompt} ")
            try:
                return self.service.check_answer(provider_id, question.id, text)
            except LoginInputError as exc:
                self.say(str(exc))  # e.g. a host that is not one: ask again

    @staticmethod
    def named_method(info: ProviderInfo, offers: list[Method], method_id: str) -> Method:
        """``--method``: one of the provider's methods or one of the logins found here."""
        for method in (*info.methods, *offers):
            if method.id == method_id:
                return method
        known = ", ".join(m.id for m in (*info.methods, *offers))
        raise ConfigError(f"{info.name} has no login method {method_id!r}; choose one of: {known}.")

    async def choose_method(self, provider_id: str, offers: list[Method] | None = None) -> Method:
        """The usual method here, or the user's pick when there is a choice and a terminal to ask on.

        ``offers`` (logins found on this machine) are listed after the flows; the default is
        always a flow, so nothing found is used unless it is chosen.
        """
        info = provider(provider_id)
        default = self.service.default_method(provider_id)
        methods = (*info.methods, *(offers or ()))
        if len(methods) == 1:
            return default
        if not os.isatty(self.reader.fd):
            # A script's stdin holds the code, not a menu answer: take the usual one and say so.
            others = _others(methods, default)
            others = f"; other: {others}" if others else ""
            self.say(f"Login method: {default.label} (--method {default.id}{others}).")
            for offer in offers or ():
                self.say(
                    f"Found on this machine, not used unless chosen: {offer.label} (--method {offer.id})."
                )
            return default
        self.say(f"How do you want to log in to {info.name}?")
        for number, method in enumerate(methods, 1):
            mark = "  (default)" if method == default else ""
            self.say(f"  {number}. {method.label}{mark}")
        if offers:
            self.say("Found on this machine: a saved login, listed above. It is used only if you choose it.")
        while True:
            text = (await self.ask(f"Choose 1-{len(methods)} (Enter for the default): ")).strip()
            if not text:
                return default
            if text.isdigit() and 1 <= int(text) <= len(methods):
                return methods[int(text) - 1]
            match = [m for m in methods if m.id == text]
            if match:
                return match[0]
            self.say(f"Type a number from 1 to {len(methods)}, or press Enter for the default.")

    async def use_offer(self, provider_id: str, offer: Method) -> LoginResult:
        """Log in with a login found on this machine, once the provider's server accepted it."""
        self.say(f"Checking it with the server: {offer.label}…")
        result, details = await self.service.use_offer(provider_id, offer.id)
        for line in details:
            self.say(line)
        return result

    async def auth_code(self, login: AuthCodeLogin[LoginResult]) -> LoginResult:
        """Authorization code: the link, then the browser's redirect or a pasted code."""
        self.say(f"{login.title}.")
        self.say(login.instructions)
        self.show_link(login.url)
        if login.bind_error:
            self.say(login.bind_error)
        callback = asyncio.ensure_future(login.wait_for_callback()) if login.listening else None
        try:
            while True:
                paste = asyncio.ensure_future(self.ask(login.spec.prompt))
                waits = {paste} | ({callback} if callback else set())
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if callback is not None and callback in done:
                    paste.cancel()
                    self.say()
                    return callback.result()  # the browser on this machine came back
                try:
                    pasted = paste.result()
                except Cancelled:
                    if callback is None:
                        raise
                    # No more input (`< /dev/null`), but the browser here may still answer.
                    self.say("No code on stdin; waiting for the browser (Ctrl-C to cancel)…")
                    return await callback
                try:
                    return await login.submit(pasted)
                except LoginInputError as exc:
                    self.say(str(exc))  # the same link still works: ask again
        finally:
            if callback is not None and not callback.done():
                callback.cancel()

    async def device(self, login: DeviceLogin[LoginResult]) -> LoginResult:
        """Device code: the code and its page, then polling until approved."""
        self.say(f"{login.title}.")
        # With a complete link (RFC 8628 verification_uri_complete) the page already holds the code.
        verb = "confirm" if login.verification_uri_complete else "enter"
        self.say(f"Open this page and {verb} the code {login.user_code}:")
        self.show_link(login.link)
        self.say("Waiting for you to approve (Ctrl-C to cancel)…")
        async for event in login.poll():
            if event.result is not None:
                for line in login.details:
                    self.say(line)
                return event.result
        raise AssertionError("the poll ended without a result")  # poll raises or yields done


def _others(methods: tuple[Method, ...], default: Method) -> str:
    return ", ".join(m.id for m in methods if m != default and m.kind != OFFER)
