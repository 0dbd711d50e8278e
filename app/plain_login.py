"""``pi-tui login PROVIDER --no-tui``: the same login as the app, in plain lines.

For SSH without a full screen, and for scripts: the link (or the device code and its page)
goes to stderr and to ``$BROWSER``, the answers (a question's, the pasted code) are read from
stdin one line each, and the checks and sentences are the login objects' own. Only their
public attributes are used (``url``, ``listening``, ``wait_for_callback``, ``submit``,
``user_code``, ``verification_uri``, ``poll``, ``aclose``), so moving to generic flows is easy.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from app.errors import Cancelled, LoginInputError
from app.providers import provider

if TYPE_CHECKING:
    from app.oauth.service import AuthService, LoginResult
    from app.opener import Opened

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

    async def run(self, provider_id: str) -> LoginResult:
        """Log in to ``provider_id`` (a provider with a login here: anthropic, github-copilot)."""
        if provider_id == "anthropic":
            return await self.anthropic()
        return await self.copilot()

    async def anthropic(self) -> LoginResult:
        """Authorization code: the link, then the browser's redirect or a pasted code."""
        login = await self.service.start_anthropic_login()
        try:
            self.say(f"To log in to {provider('anthropic').name}, open this link and authorize:")
            self.show_link(login.url)
            callback = asyncio.ensure_future(login.wait_for_callback()) if login.listening else None
            while True:
                paste = asyncio.ensure_future(
                    self.ask("Paste the code the page shows (or the whole redirect URL), then Enter: ")
                )
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
            await login.aclose()

    async def copilot(self) -> LoginResult:
        """Device code: the question (Enterprise host), the code and its page, then polling."""
        while True:
            host = await self.ask("GitHub Enterprise URL/domain (blank for github.com): ")
            try:
                login = await self.service.start_copilot_login(host.strip() or None)
                break
            except LoginInputError as exc:
                self.say(str(exc))  # a host that is not one: ask again
        try:
            self.say(f"Open this page and enter the code {login.user_code}:")
            self.show_link(login.verification_uri)
            self.say("Waiting for you to approve (Ctrl-C to cancel)…")
            async for event in login.poll():
                if event.result is not None:
                    return event.result
            raise AssertionError("the poll ended without a result")  # poll raises or yields done
        finally:
            await login.aclose()
