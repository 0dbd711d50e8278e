"""PiTuiApp: the screen stack over one injected AuthService."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, work
from textual._time import get_time as events_clock  # the clock Textual stamps events with
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from app import clipboard, providers
from app.paths import display_path
from app.tui.feedback import describe
from app.tui.screens.status import StatusScreen

if TYPE_CHECKING:
    from app.cli import Start
    from app.opener import Opened
    from app.service import AuthService

log = logging.getLogger("pi_tui.tui")

# Keys that still count when typed before the screen they land on appeared: quitting.
TYPE_AHEAD_ALLOWED = frozenset({"ctrl+c", "ctrl+q"})


def _resume_collector() -> None:
    """After the first frame: what start-up made lives as long as the app, so it is frozen
    (never scanned again) and the collector resumes for what comes after."""
    gc.freeze()
    gc.enable()


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
        clipboard: Callable[[str], None] = clipboard.copy,
        opener: Callable[[str], Opened] | None = None,
        log_path: Path | None = None,
        cursor_blink: bool = True,
        usage: bool = True,
    ) -> None:
        super().__init__()
        self.read_usage = usage  # the panel reads subscription usage in the background
        self.service = service
        self.start = start
        self.start_provider = provider
        self.copy_to_system_clipboard = clipboard
        self.opener = opener or self._open_in_browser
        self.log_path = log_path
        self.cursor_blink = cursor_blink
        # When the current screen appeared (the event clock), for dropping keys typed before it.
        self._screen_since = 0.0

    def get_default_screen(self) -> Screen[None]:
        return StatusScreen(self.service, usage=self.read_usage)

    @property
    def status_screen(self) -> StatusScreen:
        """The home screen (always at the bottom of the stack)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, StatusScreen)
        return screen

    def on_mount(self) -> None:
        # Immediate: posted (the default), the stamp would come after the new screen's first
        # frame, and a key the user typed on seeing that frame would count as typed ahead.
        self.screen_change_signal.subscribe(self, self._screen_changed, immediate=True)
        if not gc.isenabled():  # paused for the start-up (cli._run_app)
            self.call_after_refresh(_resume_collector)
        if self.start == "login":
            self.action_login(self.start_provider)
        elif self.start == "logout":
            self.action_logout(self.start_provider)

    # -- keys typed ahead and errors nobody expected ----------------------------------------

    def _screen_changed(self, screen: Screen[object]) -> None:
        self._screen_since = events_clock()
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

        Textual would print a traceback with local variables, which can hold tokens.
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

    def copy_text(self, text: str, what: str) -> str:
        """Copy ``text`` (pyperclip, else OSC 52) and say which way it went, and only what is true.

        OSC 52 cannot be confirmed: the sentence says it was sent, not that it arrived.
        """
        try:
            self.copy_to_system_clipboard(text)
        except Exception:
            pass
        else:
            return f"{what} copied to the clipboard."
        self._clipboard = text  # what Textual's own copy keeps, for paste inside the app
        if self._driver is None:
            return f"{what} not copied: no clipboard here."
        env = self.service.env
        self._driver.write(clipboard.osc52(text, env))
        self._driver.flush()
        if env.get("TMUX"):
            return (
                f"{what} sent to your terminal through tmux (OSC 52); it arrives only with "
                "tmux's `set -g allow-passthrough on`."
            )
        return f"{what} sent to your terminal's clipboard (OSC 52), if your terminal accepts that."

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

        self.push_screen(ProviderSelectScreen(self.service.statuses(), mode="login"), self.begin_login)

    def begin_login(self, provider: str | None) -> None:
        """Open the login flow of ``provider`` (None: nothing was chosen)."""
        if provider is None:
            return
        self._login(provider)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def _login(self, provider: str) -> None:
        from app.tui.login import run_login  # the login machinery loads after the first frame

        await run_login(self, provider)

    # -- log out -------------------------------------------------------------------------

    def action_logout(self, provider: str | None = None) -> None:
        """Log out: choose a stored login (unless named), confirm, delete it."""
        if provider is not None:
            self.confirm_logout(provider)
            return
        statuses = self.service.statuses()
        if not any(s.stored for s in statuses):
            self.status_screen.say("Nothing to log out of: no login is stored.", error=True)
            return
        from app.tui.screens.provider_select import ProviderSelectScreen

        self.push_screen(ProviderSelectScreen(statuses, mode="logout"), self.confirm_logout)

    def confirm_logout(self, provider: str | None) -> None:
        """Ask before deleting ``provider``'s tokens."""
        if provider is None:
            return
        from app.tui.screens.confirm import ConfirmScreen

        info = providers.provider(provider)
        question = (
            f"Log out of {info.name}? This deletes its tokens from {display_path(self.service.store.path)}."
        )
        self.push_screen(ConfirmScreen(question, yes="Log out"), functools.partial(self._logout, provider))

    def _logout(self, provider: str, confirmed: bool | None) -> None:
        info = providers.provider(provider)
        status = self.status_screen
        if not confirmed:
            status.say("Logout cancelled; nothing was changed.", about=provider)
            return
        try:
            removed = self.service.logout(provider)
        except Exception as exc:
            status.say(describe(exc), error=True, about=provider)
            return
        status.reload()
        if removed:
            where = display_path(self.service.store.path)
            text = f"Logged out of {info.name}. Its tokens were deleted from {where}."
        else:
            text = f"Not logged in to {info.name}; nothing to do."
        status.say(text, about=provider)

    # -- help ----------------------------------------------------------------------------

    def action_help(self) -> None:
        """Keys, the store path and where the logs go."""
        from app.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.service.store.path, self.log_path))
