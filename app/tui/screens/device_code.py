"""Device-code login: the user code, large and copied, while the flow polls the provider."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from app.timefmt import duration
from app.tui.copying import copy_text
from app.tui.feedback import describe
from app.tui.outcome import LoginDone, LoginRequest, Outcome
from app.tui.screens import SCREENS_CSS
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.flows.device import DeviceLogin, PollEvent
    from app.service import LoginResult
    from app.tui.app import PiTuiApp


def progress(event: PollEvent[Any], first_interval: float, server: str) -> str:
    """What polling is doing, from a poll event; a slow-down stays mentioned once it happened."""
    slowed = f"{server} asked us to slow down; checking every {event.interval:g} s."
    if event.kind == "slow_down":
        return slowed
    times = "once" if event.polls == 1 else f"{event.polls} times"
    checked = f" (checked {times})" if event.polls else ""
    waiting = f"Waiting for you to approve…{checked}"
    return f"{waiting} {slowed}" if event.interval > first_interval else waiting


class DeviceCodeScreen(Screen[Outcome]):
    """Starts the device flow, shows the code and link, counts down, and polls until done.

    The login comes from ``service.start_login(…)``; ``aclose()`` stops it at once.
    Dismisses with :class:`LoginDone`, or None (Esc).
    """

    CSS_PATH = SCREENS_CSS

    app: PiTuiApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("n", "restart", "New code"),
    ]

    failed: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, request: LoginRequest) -> None:
        super().__init__(id="device-code")
        self.request = request
        self.service = request.service
        self.provider_id = request.provider_id
        self.login: DeviceLogin[LoginResult] | None = None
        self._done = False

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with VerticalScroll(id="device"):
            yield Static(self.request.title, id="device-title", classes="title", markup=False)
            yield Static("Asking for a code…", id="instructions", markup=False)
            with Center():
                yield Static("", id="user-code", markup=False)
            yield Static("", id="link-status", markup=False)
            yield Static("", id="countdown")
            yield Static("", id="progress", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#user-code").display = False
        self.set_interval(1.0, self._tick)
        self._run()

    async def on_unmount(self) -> None:
        await self._close()

    async def _close(self) -> None:
        login, self.login = self.login, None
        if login is not None:
            await login.aclose()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "restart":
            return self.failed
        return True

    def watch_failed(self, failed: bool) -> None:
        # A failed code is dimmed and its countdown hidden (see app.tcss).
        self.set_class(failed, "-failed")

    def action_cancel(self) -> None:
        """Esc: stop polling and go back; the login closes on unmount."""
        if not self._done:
            self._done = True
            self.dismiss(None)

    def action_restart(self) -> None:
        """n: after a failure, ask for a new code."""
        self._run()

    def _show(self, widget_id: str, text: str, *, error: bool = False) -> None:
        widget = self.query_one(f"#{widget_id}", Static)
        widget.update(text)
        widget.set_class(error, "-failure")

    @work(exclusive=True, group="device", exit_on_error=False)
    async def _run(self) -> None:
        """Start the flow, then follow the poll until the provider answers for good."""
        self.failed = False
        await self._close()
        self._show("progress", "")
        try:
            login = await self.request.start()
            assert login.kind == "device"
            self.login = login
            first_interval = login.interval
            self._show_code(login)
            await self._open(login)
            async for event in login.poll():
                if event.kind == "done" and event.result is not None:
                    self._finish(login, event.result)
                    return
                self._show("progress", progress(event, first_interval, login.server))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed = True
            self._show("progress", f"{describe(exc)} Press n for a new code, or Esc to go back.", error=True)

    def _show_code(self, login: DeviceLogin[LoginResult]) -> None:
        self._show("device-title", login.title)
        self._show("instructions", login.instructions)
        code = self.query_one("#user-code", Static)
        # One word, as the provider wrote it: selecting it in the terminal copies the code itself.
        code.update(login.user_code)
        code.display = True
        self._show("progress", "Waiting for you to approve…")
        self._tick()

    async def _open(self, login: DeviceLogin[LoginResult]) -> None:
        copied = copy_text(self.app, login.user_code, "Code")
        opened = await asyncio.to_thread(self.app.opener, login.link)
        self._show("link-status", f"{copied} {opened.message}")

    def _tick(self) -> None:
        """Once a second: the time left on the code."""
        if self.login is None:
            return
        if self.login.expires_at_ms is None:
            self._show("countdown", "")
            return
        left = self.login.expires_at_ms - self.service.now_ms()
        if left > 0:
            self._show("countdown", f"The code expires in {duration(left)}.")
        else:
            self._show("countdown", "The code has expired.", error=True)

    def _finish(self, login: DeviceLogin[LoginResult], result: LoginResult) -> None:
        if self._done:
            return
        self._done = True
        self.dismiss(LoginDone(result, login.details))
