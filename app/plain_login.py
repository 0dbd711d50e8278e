"""``pi-tui login PROVIDER --no-tui``: the plain-lines Prompter of the one login sequence.

For SSH without a full screen, and for scripts: the link (or the device code and its page)
goes to stderr and to ``$BROWSER``, the answers (a question's, the pasted code, yes/no) are
read from stdin one line each. :func:`app.login.run_login` decides what is asked; the checks
and sentences are the flows' own. It names no provider.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from app.errors import Cancelled, ConfigError, LoginInputError
from app.login import LoginDone, LoginRequest, Outcome, run_login
from app.providers import OFFER, Method, ProviderInfo, Question

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
    """The plain-lines Prompter; :meth:`run` returns the LoginResult or raises a PiTuiError."""

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

    async def run(
        self,
        provider_id: str,
        method_id: str | None = None,
        *,
        mode: str | None = None,
        label: str | None = None,
    ) -> LoginResult:
        """Log in to ``provider_id`` through the one login sequence, with this Prompter
        (``mode``: replace or add a stored login without asking)."""
        done = await run_login(self.service, self, provider_id, method_id=method_id, mode=mode, label=label)
        if done is None:
            raise Cancelled("Login cancelled; nothing was changed.")
        for line in done.details:
            self.say(line)
        return done.result

    # -- the Prompter ---------------------------------------------------------------------

    async def decide(self, question: str, answers: tuple[tuple[str, str], ...]) -> str | None:
        """An answer by its first letter (or its id) on a terminal; Enter backs out. Without a
        terminal there is nobody to ask: ConfigError names the options that decide it."""
        if not os.isatty(self.reader.fd):
            flags = " or ".join(f"--{answer_id}" for answer_id, _label in answers)
            raise ConfigError(f"{question} Add {flags} to decide without a prompt.")
        keys = " / ".join(f"[{label[0].lower()}]{label[1:].lower()}" for _id, label in answers)
        while True:
            text = (await self.ask(f"{question} {keys}, Enter to cancel: ")).strip().lower()
            if not text:
                return None
            for answer_id, label in answers:
                if text in (answer_id, label.lower(), label[0].lower()):
                    return answer_id
            self.say(
                f"Type {' or '.join(label[0].lower() for _id, label in answers)}, or press Enter to cancel."
            )

    async def answer(self, title: str, question: Question, check: Callable[[str], str]) -> str | None:
        """Ask one of the provider's questions until the answer passes its check."""
        while True:
            text = await self.ask(f"{question.prompt} ")
            try:
                return check(text)
            except LoginInputError as exc:
                self.say(str(exc))  # e.g. a host that is not one: ask again

    async def notice(self, text: str) -> None:
        """A passing line."""
        self.say(text)

    async def choose(
        self, info: ProviderInfo, methods: tuple[Method, ...], default: Method, why: str
    ) -> str | None:
        """The usual method here, or the user's pick when there is a terminal to ask on.

        Logins found on this machine are listed after the flows; the default is always a
        flow, so nothing found is used unless it is chosen.
        """
        offers = [m for m in methods if m.kind == OFFER]
        if not os.isatty(self.reader.fd):
            # A script's stdin holds the code, not a menu answer: take the usual one and say so.
            others = ", ".join(m.id for m in methods if m != default and m.kind != OFFER)
            others = f"; other: {others}" if others else ""
            self.say(f"Login method: {default.label} (--method {default.id}{others}).")
            for offer in offers:
                self.say(
                    f"Found on this machine, not used unless chosen: {offer.label} (--method {offer.id})."
                )
            return default.id
        self.say(f"How do you want to log in to {info.name}?")
        for number, method in enumerate(methods, 1):
            mark = "  (default)" if method == default else ""
            self.say(f"  {number}. {method.label}{mark}")
        if offers:
            self.say("Found on this machine: a saved login, listed above. It is used only if you choose it.")
        while True:
            text = (await self.ask(f"Choose 1-{len(methods)} (Enter for the default): ")).strip()
            if not text:
                return default.id
            if text.isdigit() and 1 <= int(text) <= len(methods):
                return methods[int(text) - 1].id
            match = [m for m in methods if m.id == text]
            if match:
                return match[0].id
            self.say(f"Type a number from 1 to {len(methods)}, or press Enter for the default.")

    async def run_flow(self, request: LoginRequest, other: Method | None) -> Outcome:
        """Start the flow and run it in lines: the link and a paste, or the code and polling."""
        login = await request.start()
        try:
            if login.kind == "device":
                return await self.device(login)
            return await self.auth_code(login)
        finally:
            await login.aclose()

    async def auth_code(self, login: AuthCodeLogin[LoginResult]) -> LoginDone:
        """Authorization code: the link, then the browser's redirect or a pasted code."""
        self.say(f"{login.title}.")
        self.say(login.instructions)
        self.show_link(login.url)
        if login.bind_error:
            self.say(login.bind_error)  # why the browser cannot come back by itself (a taken port)
        callback = asyncio.ensure_future(login.wait_for_callback()) if login.listening else None
        try:
            while True:
                paste = asyncio.ensure_future(self.ask(login.spec.prompt))
                waits = {paste} | ({callback} if callback else set())
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if callback is not None and callback in done:
                    paste.cancel()
                    self.say()
                    return LoginDone(callback.result())  # the browser on this machine came back
                try:
                    pasted = paste.result()
                except Cancelled:
                    if callback is None:
                        raise
                    # No more input (`< /dev/null`), but the browser here may still answer.
                    self.say("No code on stdin; waiting for the browser (Ctrl-C to cancel)…")
                    return LoginDone(await callback)
                try:
                    return LoginDone(await login.submit(pasted))
                except LoginInputError as exc:
                    self.say(str(exc))  # the same link still works: ask again
        finally:
            if callback is not None and not callback.done():
                callback.cancel()

    async def device(self, login: DeviceLogin[LoginResult]) -> LoginDone:
        """Device code: the code and its page, then polling until approved."""
        self.say(f"{login.title}.")
        # With a complete link (RFC 8628 verification_uri_complete) the page already holds the code.
        verb = "confirm" if login.verification_uri_complete else "enter"
        self.say(f"Open this page and {verb} the code {login.user_code}:")
        self.show_link(login.link)
        self.say("Waiting for you to approve (Ctrl-C to cancel)…")
        async for event in login.poll():
            if event.result is not None:
                return LoginDone(event.result, tuple(login.details))
        raise AssertionError("the poll ended without a result")  # poll raises or yields done
