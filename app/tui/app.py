"""PiTuiApp: the screen stack over one injected AuthService."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from app import providers
from app.errors import Cancelled, PiTuiError
from app.paths import display_path
from app.tui.feedback import describe
from app.tui.glyphs import glyphs_for
from app.tui.screens.status import StatusScreen

if TYPE_CHECKING:
    from textual.driver import Driver

    from app.opener import Opened
    from app.service import AuthService, LoginResult
    from app.tui.outcome import Start
    from app.tui.screens.login_done import LoginDoneScreen
    from app.tui.terminal import Terminal

log = logging.getLogger("pi_tui.tui")

# Keys that still count when typed before the screen they land on appeared: quitting.
TYPE_AHEAD_ALLOWED = frozenset({"ctrl+c", "ctrl+q"})


class Stopped(Exception):
    """An unexpected error ended the app: its sentence is all the terminal shows (no traceback)."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence

    def __rich__(self) -> Text:
        return Text(self.sentence)


class PiTuiApp(App[int]):
    """The full-screen app. Every outside effect (clock, store, HTTP, clipboard, browser) is injected."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "pi-tui"
    # Ctrl-C quits, as a terminal user expects, on every screen (Textual only says how to quit).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", key_display="^c", tooltip="Leave pi-tui", priority=True),
        Binding("ctrl+q", "quit", "Quit", key_display="^q", show=False, priority=True),
    ]

    def __init__(
        self,
        service: AuthService,
        *,
        start: Start = "status",
        provider: str | None = None,
        clipboard: Callable[[str], None] | None = None,
        opener: Callable[[str], Opened] | None = None,
        log_path: Path | None = None,
        cursor_blink: bool = True,
        driver_class: type[Driver] | None = None,
        usage: bool = True,
        on_first_frame: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(driver_class=driver_class)
        # Called once the first frame is drawn (the command line resumes the collector there).
        self.on_first_frame = on_first_frame
        self.read_usage = usage  # the panel reads subscription usage in the background
        self.service = service
        self.start = start
        self.start_provider = provider
        # None: the system clipboard (app.tui.copying, loaded with the screens that copy).
        self.copy_to_system_clipboard = clipboard
        self.opener = opener or self._open_in_browser
        self.log_path = log_path
        self.cursor_blink = cursor_blink
        # When the current screen appeared (the clock Textual stamps events with, monotonic on
        # POSIX), for dropping keys typed before it.
        self._screen_since = 0.0
        # Where an escape sequence Textual has no call for is written (see app.tui.terminal).
        self.terminal: Terminal | None = None
        # Started to log in: the logins made since (the exit code says whether one was).
        self.logins: list[LoginResult] = []
        # What the terminal can draw, as its locale says (ASCII stand-ins under LANG=C).
        self.glyphs = glyphs_for(service.env)

    def get_default_screen(self) -> Screen[None]:
        return StatusScreen(self.service, usage=self.read_usage)

    @property
    def status_screen(self) -> StatusScreen:
        """The home screen (always at the bottom of the stack)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, StatusScreen)
        return screen

    def on_mount(self) -> None:
        self.set_class(self.glyphs.ascii, "-ascii")  # box borders in ASCII too (app.tcss)
        # Immediate: posted (the default), the stamp would come after the new screen's first
        # frame, and a key the user typed on seeing that frame would count as typed ahead.
        self.screen_change_signal.subscribe(self, self._screen_changed, immediate=True)
        if self.on_first_frame is not None:
            self.call_after_refresh(self.on_first_frame)
        if self.start == "login":
            self.action_login(self.start_provider)
        elif self.start == "logout":
            self._ask_logout(self.start_provider, leave=True)

    # -- keys typed ahead and errors nobody expected ----------------------------------------

    def _screen_changed(self, screen: Screen[object]) -> None:
        self._screen_since = time.monotonic()
        log.info("screen: %s", type(screen).__name__)

    async def on_event(self, event: events.Event) -> None:
        """Drop keys typed before the current screen appeared: they were meant for another one.

        Over a slow link ``l Enter Enter`` arrives in one burst; the Enters must not choose,
        confirm or cancel anything on a screen the user has not seen yet. A key comes here
        twice: first to be sent to the focused widget, then back up to run the bindings of
        whatever screen is current by then, which is where a typed-ahead key does harm.
        """
        if (
            isinstance(event, events.Key)
            and event.time < self._screen_since
            and event.key not in TYPE_AHEAD_ALLOWED
        ):
            event.stop()
            typed = "a character" if event.is_printable else event.key
            early = (self._screen_since - event.time) * 1000
            log.info("dropped %s typed %.0f ms before %s appeared", typed, early, type(self.screen).__name__)
            return
        if isinstance(event, events.Key) and event.key == "escape" and self.screen.query("HelpPanel"):
            # Textual's keys panel (palette: "Keys") closes with Esc like every other panel here.
            event.stop()
            self.action_hide_help_panel()
            return
        await super().on_event(event)

    def _handle_exception(self, error: Exception) -> None:
        """An error nothing caught: one sentence on the terminal, the traceback masked in the log.

        Textual would print a traceback with local variables, which can hold tokens. The one
        Textual name here that is not public: Textual has no public hook for an error nothing
        caught (Textualize/textual#2818, #5931); test_type_ahead's unexpected-error test fails
        if it goes.
        """
        if isinstance(error, Stopped):
            super()._handle_exception(error)
            return
        sentence = describe(error).rstrip()
        if not sentence.endswith((".", "!", "?")):
            sentence += "."
        where = f" Details are in {display_path(self.log_path)}." if self.log_path else ""
        stopped = Stopped(f"pi-tui stopped: {sentence}{where}")
        stopped.__cause__ = error
        super()._handle_exception(stopped)

    async def action_quit(self) -> None:
        """Leave (q, Ctrl-C). Started to log in, the code says whether a login was made (0) or not (5)."""
        self.exit(return_code=self.quit_code())

    def quit_code(self) -> int:
        """The exit code of quitting now: a login or logout started from the command line that
        has not happened yet was cancelled."""
        if self.start == "status":
            return 0
        if self.start == "login" and any(
            self.start_provider in (None, result.provider) for result in self.logins
        ):
            return 0
        return Cancelled.exit_code

    def on_login_done_screen_logged_in(self, message: LoginDoneScreen.LoggedIn) -> None:
        """A login was saved (its screen says so): quitting now is not a cancelled login."""
        self.logins.append(message.result)

    async def action_pop_screen(self) -> None:
        """Back to the previous screen; a second Enter or Esc at the status panel does nothing."""
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: Textual's own commands, then every key of the current screen, once."""
        commands = {command.title: command for command in super().get_system_commands(screen)}
        for active in screen.active_bindings.values():
            binding = active.binding
            if not (binding.show and binding.description and active.enabled):
                continue
            if binding.description not in commands:
                run = functools.partial(self.run_action, binding.action, active.node)
                commands[binding.description] = SystemCommand(
                    binding.description, binding.tooltip or binding.description, run
                )
        yield from commands.values()

    def _open_in_browser(self, url: str) -> Opened:
        """The default opener: app.opener's rules over the service's environment."""
        from app.opener import open_url  # only when a link is opened

        return open_url(url, env=self.service.env)

    def open_url(self, url: str, *, new_tab: bool = True) -> None:
        """Links clicked on screen go through the same browser rules as everything else."""
        self.run_worker(functools.partial(self.opener, url), thread=True, exit_on_error=False)

    # -- log in --------------------------------------------------------------------------

    def action_login(self, provider: str | None = None) -> None:
        """Log in: choose a provider (unless named), then its flow."""
        if provider is not None:
            self.begin_login(provider)
            return
        from app.tui.screens.provider_select import ProviderSelectScreen

        selected = self.status_screen.selected()
        select = ProviderSelectScreen(
            self.service.statuses(), mode="login", selected=selected.provider if selected else None
        )
        self.push_screen(select, self.begin_login)

    def begin_login(self, provider: str | None, *, add: bool = False) -> None:
        """Open the login flow of ``provider`` (None: nothing was chosen); ``add``: as another
        account, keeping the stored one (no "replace, or add?" question)."""
        if provider is None:
            return
        self._login(provider, add)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def _login(self, provider: str, add: bool = False) -> None:
        from app.tui.login import login_in_app  # the login machinery loads after the first frame

        await login_in_app(self, provider, mode="add" if add else None)

    # -- log out -------------------------------------------------------------------------

    def action_logout(self, provider: str | None = None) -> None:
        """Log out: choose a stored login (unless named), confirm, delete it."""
        self._ask_logout(provider, leave=False)

    def _ask_logout(self, provider: str | None, *, leave: bool) -> None:
        """Log out of ``provider`` (None: choose one); ``leave``: then exit with what happened."""
        if provider is not None:
            self.confirm_logout(provider, leave=leave)
            return
        statuses = self.service.statuses()
        if not any(s.stored for s in statuses):
            self._tell("Nothing to log out of: no login is stored.", error=True, leave=leave, code=0)
            return
        from app.tui.screens.provider_select import ProviderSelectScreen

        selected = self.status_screen.selected()
        select = ProviderSelectScreen(
            statuses, mode="logout", selected=selected.provider if selected else None
        )
        self.push_screen(select, functools.partial(self._chosen_for_logout, leave=leave))

    def _chosen_for_logout(self, provider: str | None, *, leave: bool) -> None:
        if provider is None:
            if leave:
                self._tell("Logout cancelled; nothing was changed.", leave=leave, code=Cancelled.exit_code)
            return
        self.confirm_logout(provider, leave=leave)

    def confirm_logout(self, provider: str, *, leave: bool = False) -> None:
        """Ask before deleting ``provider``'s tokens; ``leave``: then exit with what happened."""
        info = providers.provider(provider)
        question = (
            f"Log out of {info.name}? This deletes its tokens from {display_path(self.service.store.path)}."
        )
        self.confirm(question, "Log out", functools.partial(self._logout, provider, leave=leave))

    def confirm(self, question: str, yes: str, then: Callable[[bool | None], None]) -> None:
        """Ask ``question`` (``yes`` on its button); ``then`` gets the answer (None: backed out)."""
        from app.tui.screens.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen(question, yes=yes), then)

    def _logout(self, provider: str, confirmed: bool | None, *, leave: bool) -> None:
        info = providers.provider(provider)
        if not confirmed:
            cancelled = "Logout cancelled; nothing was changed."
            self._tell(cancelled, about=provider, leave=leave, code=Cancelled.exit_code)
            return
        try:
            removed = self.service.logout(provider)
        except Exception as exc:
            code = exc.exit_code if isinstance(exc, PiTuiError) else 1
            self._tell(describe(exc), error=True, about=provider, leave=leave, code=code)
            return
        self.status_screen.reload()
        if removed:
            where = display_path(self.service.store.path)
            text = f"Logged out of {info.name}. Its tokens were deleted from {where}."
        else:
            text = f"Not logged in to {info.name}; nothing to do."
        self._tell(text, about=provider, leave=leave, code=0)

    def _tell(
        self, text: str, *, error: bool = False, about: str | None = None, leave: bool, code: int
    ) -> None:
        """Say how it went: on the status panel, or (``leave``) on the terminal, exiting with ``code``."""
        if leave:
            # After a frame: at a start with nothing to log out of, the panel is still mounting.
            self.call_after_refresh(self.exit, return_code=code, message=Text(text))
        else:
            self.status_screen.say(text, error=error, about=about)

    # -- help ----------------------------------------------------------------------------

    def action_help(self) -> None:
        """Keys, the store path and where the logs go."""
        from app.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.service.store.path, self.log_path))
