"""Auth-code login: the authorization link, then a pasted code or the browser's redirect."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.style import Style
from textual.widgets import Input, Static

from app.tui.copying import copy_text
from app.tui.feedback import describe
from app.tui.outcome import LoginDone, LoginRequest, Outcome, SwitchMethod
from app.tui.screens import SCREENS_CSS
from app.tui.screens.link_alone import LinkScreen, print_link_alone
from app.tui.widgets.code_input import CodeInput
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.flows.auth_code import AuthCodeLogin
    from app.providers import Method
    from app.service import LoginResult
    from app.tui.app import PiTuiApp


class Feedback(Static):
    """The latest message: kept in view when new text changes its height."""

    def on_resize(self) -> None:
        # The screen's scroll_visible after a refresh can run before the new text's height is
        # laid out (then it scrolls to the old, shorter box): follow the real size as well.
        if self.size.height:
            self.scroll_visible(animate=False)


class AuthCodeScreen(Screen[Outcome]):
    """Shows the whole link, copies and opens it, and takes the code either way it comes back.

    Dismisses with :class:`LoginDone`, with :class:`SwitchMethod` (Ctrl+O, when the provider has
    another method), or None (Esc).
    """

    CSS_PATH = SCREENS_CSS

    app: PiTuiApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+o", "switch", "Other method"),
        Binding("ctrl+y", "copy_link", "Copy link"),
        Binding("ctrl+b", "open_link", "Open link"),
        Binding("ctrl+l", "link_alone", "Link alone"),
    ]

    exchanging: reactive[bool] = reactive(False)

    def __init__(self, request: LoginRequest, *, other: Method | None = None) -> None:
        super().__init__(id="auth-code-login")
        self.request = request
        self.service = request.service
        self.provider_id = request.provider_id
        self.other = other
        self.login: AuthCodeLogin[LoginResult] | None = None
        self._done = False

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with VerticalScroll(id="login"):
            yield Static(self.request.title, classes="title", markup=False)
            yield Static("Open this link and choose Authorize:", id="instructions", classes="step")
            yield Static("Preparing the login link…", id="url")
            yield Static("", id="link-status", markup=False)
            yield Static("", id="waiting")
            code = CodeInput(placeholder="Paste the code here", id="code")
            code.cursor_blink = self.app.cursor_blink
            code.disabled = True
            yield code
            yield Feedback("", id="feedback", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self._start(open_browser=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch":
            return self.other is not None
        if action in ("copy_link", "open_link", "link_alone"):
            return self.login is not None
        return True

    def action_copy_link(self) -> None:
        """Ctrl+Y: copy the link again (and say whether it really was)."""
        if self.login is not None:
            self.query_one("#link-status", Static).update(copy_text(self.app, self.login.url, "Link"))

    @work(exclusive=True, group="open", exit_on_error=False)
    async def action_open_link(self) -> None:
        """Ctrl+B: open the link in the browser again."""
        if self.login is not None:
            opened = await asyncio.to_thread(self.app.opener, self.login.url)
            self.query_one("#link-status", Static).update(opened.message)

    async def action_link_alone(self) -> None:
        """Ctrl+L: the link on its own, unwrapped by the app, for selecting it in the terminal."""
        if self.login is None:
            return
        try:
            with self.app.suspend():
                back = print_link_alone(self.login.url)
        except SuspendNotSupported:  # no terminal to step aside to (tests, web): a bare screen
            self.app.push_screen(LinkScreen(self.login.url))
            return
        if not back:  # Ctrl-C
            await self.app.run_action("quit")

    def action_switch(self) -> None:
        """Ctrl+O: the provider's other login method (the browser here, or copying a code)."""
        if self.other is not None and not self._done:
            self._done = True
            self.dismiss(SwitchMethod(self.other.id))

    async def on_unmount(self) -> None:
        await self._close()

    async def _close(self) -> None:
        login, self.login = self.login, None
        if login is not None:
            await login.aclose()

    def watch_exchanging(self, exchanging: bool) -> None:
        if exchanging:
            self._feedback("Exchanging the code…")

    def _ready_input(self) -> None:
        """The code input takes text once there is a login (an exchange in flight ignores it)."""
        self.refresh_bindings()  # the link keys work once there is a link
        code = self.query_one("#code", CodeInput)
        code.disabled = self.login is None
        if not code.disabled:
            code.focus()

    def _feedback(self, text: str, *, error: bool = False) -> None:
        feedback = self.query_one("#feedback", Static)
        feedback.update(text)
        feedback.set_class(error, "-failure")
        self.call_after_refresh(feedback.scroll_visible)  # once the new text has its height

    @work(exclusive=True, group="start", exit_on_error=False)
    async def _start(self, *, open_browser: bool) -> None:
        """Get a fresh link (a new PKCE pair and state), show it, copy it, open it."""
        await self._close()
        try:
            login = await self.request.start()
        except Exception as exc:
            self.query_one("#url", Static).update("No link: the login could not start.")
            self._feedback(describe(exc), error=True)
            return
        assert login.kind == "auth_code"
        self.login = login
        self.query_one("#instructions", Static).update(login.instructions)
        self.query_one("#url", Static).update(Content.styled(login.url, Style(link=login.url)))
        # Why the browser cannot come back by itself (e.g. the port is taken), before what to do.
        waiting = f"{login.bind_error}\n{login.hint}" if login.bind_error else login.hint
        self.query_one("#waiting", Static).update(Content(waiting))
        self.query_one("#code", CodeInput).placeholder = login.spec.placeholder
        self._ready_input()
        self.run_worker(self.service.warm_up(self.provider_id), group="warm-up", exit_on_error=False)
        status = [copy_text(self.app, login.url, "Link")]
        if open_browser:
            opened = await asyncio.to_thread(self.app.opener, login.url)
            status.append(opened.message)
        self.query_one("#link-status", Static).update(" ".join(status))
        if login.listening:
            self._wait_for_browser(login)

    @work(exclusive=True, group="callback", exit_on_error=False)
    async def _wait_for_browser(self, login: AuthCodeLogin[LoginResult]) -> None:
        """The loopback path: the browser on this machine delivers the code by itself."""
        try:
            result = await login.wait_for_callback()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.login is not login or self._done:
                return
            # The listener has answered once and is spent: start over with a new link.
            # Say only what is true: the copy's own sentence follows with the new link.
            self._feedback(f"{describe(exc)} Here is a new link.", error=True)
            self._start(open_browser=False)
            return
        self._finish(result)

    @on(CodeInput.Pasted)
    def _pasted(self, event: CodeInput.Pasted) -> None:
        self.submit_code(event.text)

    @on(Input.Submitted, "#code")
    def _typed(self, event: Input.Submitted) -> None:
        self.submit_code(event.value)

    def submit_code(self, text: str) -> None:
        """Judge what the user pasted or typed at once; exchange it in a worker if it is a code."""
        login = self.login
        if login is None or self.exchanging:
            return
        try:
            login.code_from(text)
        except Exception as exc:
            self._rejected(exc)
            return
        self.exchanging = True
        self._exchange(login, text)

    @work(exclusive=True, group="submit", exit_on_error=False)
    async def _exchange(self, login: AuthCodeLogin[LoginResult], text: str) -> None:
        """The paste path: trade the code for tokens (never retried: a code is single-use)."""
        try:
            result = await login.submit(text)
        except Exception as exc:
            self.exchanging = False
            self._rejected(exc)
            return
        self._finish(result)

    def _rejected(self, error: BaseException) -> None:
        """Say why; the rejected text stays, selected, so the next paste or key replaces it."""
        self._feedback(describe(error), error=True)
        code = self.query_one("#code", CodeInput)
        code.focus()
        code.select_all()

    def _finish(self, result: LoginResult) -> None:
        if self._done:
            return
        self._done = True
        self.dismiss(LoginDone(result))

    def action_cancel(self) -> None:
        """Esc: stop waiting and go back; the workers stop and the listener closes on unmount."""
        if not self._done:
            self._done = True
            self.dismiss(None)
