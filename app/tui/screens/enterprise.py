"""GitHub Copilot, step one: github.com or a GitHub Enterprise host."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from app.oauth.copilot_urls import normalize_domain
from app.tui.feedback import describe
from app.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from app.oauth.service import AuthService
    from app.tui.app import PiTuiApp


class EnterpriseScreen(Screen[None]):
    """Asks for an Enterprise host, then hands over to the device-code screen."""

    app: PiTuiApp

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, service: AuthService) -> None:
        super().__init__(id="enterprise")
        self.service = service

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Vertical(id="enterprise-body"):
            yield Static("Log in to GitHub Copilot", classes="title")
            yield Static("GitHub Enterprise URL/domain (blank for github.com):", classes="step")
            domain = Input(placeholder="github.com", id="domain")
            domain.cursor_blink = self.app.cursor_blink
            yield domain
            yield Static("Press Enter to continue.", id="feedback", markup=False)
        yield Footer()

    @on(Input.Submitted, "#domain")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            domain = normalize_domain(event.value)
        except Exception as exc:
            feedback = self.query_one("#feedback", Static)
            feedback.update(describe(exc))
            feedback.add_class("-failure")
            return
        from app.tui.screens.device_code import DeviceCodeScreen

        self.app.switch_screen(DeviceCodeScreen(self.service, domain))
