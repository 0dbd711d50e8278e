"""PiTuiApp: the screen stack over one injected AuthService."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from app import clipboard, providers
from app.tui.feedback import describe
from app.tui.screens.status import StatusScreen

if TYPE_CHECKING:
    from app.cli import Start
    from app.opener import Opened
    from app.service import AuthService


class PiTuiApp(App[int]):
    """The full-screen app. Every outside effect (clock, store, HTTP, clipboard, browser) is injected."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "pi-tui"

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
    ) -> None:
        super().__init__()
        self.service = service
        self.start = start
        self.start_provider = provider
        self.copy_to_system_clipboard = clipboard
        self.opener = opener or self._open_in_browser
        self.log_path = log_path
        self.cursor_blink = cursor_blink

    def get_default_screen(self) -> Screen[None]:
        return StatusScreen(self.service)

    @property
    def status_screen(self) -> StatusScreen:
        """The home screen (always at the bottom of the stack)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, StatusScreen)
        return screen

    def on_mount(self) -> None:
        if self.start == "login":
            self.action_login(self.start_provider)
        elif self.start == "logout":
            self.action_logout(self.start_provider)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette lists every key of the current screen, by its description."""
        yield from super().get_system_commands(screen)
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.show and binding.description and active.enabled:
                run = functools.partial(self.run_action, binding.action, active.node)
                yield SystemCommand(binding.description, binding.tooltip or binding.description, run)

    def copy_text(self, text: str, what: str) -> str:
        """Copy ``text`` (pyperclip, else OSC 52) and say which way it went."""
        try:
            self.copy_to_system_clipboard(text)
        except Exception:
            self.copy_to_clipboard(text)
            return f"{what} sent to your terminal's clipboard (OSC 52)."
        return f"{what} copied to the clipboard."

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
        question = f"Log out of {info.name}? This deletes its tokens from {self.service.store.path}."
        self.push_screen(ConfirmScreen(question, yes="Log out"), functools.partial(self._logout, provider))

    def _logout(self, provider: str, confirmed: bool | None) -> None:
        info = providers.provider(provider)
        status = self.status_screen
        if not confirmed:
            status.say("Logout cancelled; nothing was changed.")
            return
        try:
            removed = self.service.logout(provider)
        except Exception as exc:
            status.say(describe(exc), error=True)
            return
        if removed:
            status.say(f"Logged out of {info.name}. Its tokens were deleted from {self.service.store.path}.")
        else:
            status.say(f"Not logged in to {info.name}; nothing to do.")
        status.reload()

    # -- help ----------------------------------------------------------------------------

    def action_help(self) -> None:
        """Keys, the store path and where the logs go."""
        from app.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.service.store.path, self.log_path))
