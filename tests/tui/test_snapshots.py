"""What a person sees during a login, screen by screen and state by state (80×24, fixed clock,
no blink). The screens around the logins are in test_snapshots_home.py.

Tokens here are recognisable fakes; the screens must show them masked. The Anthropic link is
made from a fixed PKCE pair, the store lives at a fixed path, and Copilot logins are scripted.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.providers.github_copilot import device_flow_error
from app.service import AuthService, LoginResult
from tests.tui.helpers import (
    FIXED_PKCE,
    PollEvent,
    choose_method,
    fixed_anthropic_login,
    scripted_copilot,
    wait_until,
)


def with_models(start: Any, made: list[Any]) -> Any:
    """Scripted logins that enabled 3 of 4 models, as the real one reports after approval."""

    async def start_with_models(*args: Any, **kwargs: Any) -> Any:
        login = await start(*args, **kwargs)
        login.details = ("Copilot models enabled: 3 of 4.",)
        return login

    return start_with_models


def snap_env(fake: Any) -> dict[str, str]:
    """The fake's overrides, minus the authorize URL: the link on screen stays claude.ai's."""
    return {k: v for k, v in fake.env().items() if k != "PI_TUI_ANTHROPIC_AUTHORIZE_URL"}


@pytest.fixture
def service(fixed_store: Any, clock: Any) -> AuthService:
    """No network: the default endpoints, nothing in the environment."""
    return AuthService(fixed_store, env={}, clock=clock)


async def settle(pilot: Any) -> None:
    """Let workers finish and the screen repaint."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def on_screen(pilot: Any, name: str) -> None:
    """Wait for the screen ``name`` and for its footer to show its keys."""
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == name)
    await wait_until(pilot, lambda: pilot.app.screen.query("KeyBar") or name == "LinkScreen")


class TestAnthropicLogin:
    @pytest.fixture
    def login_service(self, fixed_store: Any, clock: Any, fake: Any) -> AuthService:
        service = AuthService(fixed_store, env=snap_env(fake), clock=clock)
        service.start_login = fixed_anthropic_login(service)  # type: ignore[method-assign]
        return service

    @staticmethod
    async def ready(pilot: Any, method: str = "browser") -> None:
        """The link is shown, copied and opened (the callback worker waits on: no settle)."""
        await choose_method(pilot, method)
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "AuthCodeScreen")
        await wait_until(pilot, lambda: str(pilot.app.screen.query_one("#link-status").content))
        await pilot.pause()

    def test_method_choice(self, snap_compare, make_app, login_service):
        async def choice(pilot: Any) -> None:
            await on_screen(pilot, "MethodChoiceScreen")

        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=choice)

    def test_copy_code(self, snap_compare, make_app, login_service):
        async def copy_code(pilot: Any) -> None:
            await self.ready(pilot, "copy_code")

        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=copy_code)

    def test_waiting_for_browser_or_paste(self, snap_compare, make_app, login_service):
        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=self.ready)

    def test_paste_only_when_no_listener(self, snap_compare, make_app, login_service, clipboard, opener):
        login_service.start_login = fixed_anthropic_login(login_service, listening=False)  # type: ignore[method-assign]
        clipboard.available = False
        opener.opens = False
        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=self.ready)

    def test_after_an_invalid_paste(self, snap_compare, make_app, login_service):
        from textual import events

        async def paste_junk(pilot: Any) -> None:
            await self.ready(pilot)
            pilot.app.post_message(events.Paste("this is not a code!"))
            await wait_until(pilot, lambda: "-failure" in pilot.app.screen.query_one("#feedback").classes)
            await pilot.pause()

        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=paste_junk)

    @pytest.mark.parametrize("size", [(40, 12), (200, 60)], ids=["small", "large"])
    def test_error_sizes(self, snap_compare, make_app, login_service, fake, size):
        """The server's refusal wraps whole at 40×12 (scrolled to), and the keys wrap, not cut."""
        from textual import events

        async def refused(pilot: Any) -> None:
            await self.ready(pilot)
            pilot.app.post_message(events.Paste(f"not-issued-by-the-server#{FIXED_PKCE.state}"))
            screen = pilot.app.screen
            feedback = screen.query_one("#feedback")
            await wait_until(pilot, lambda: "-failure" in feedback.classes)
            # The screen scrolls the error into view after a refresh, animated: wait until it
            # is all in view and the scroll has stopped, or the snapshot catches it half-way.
            await wait_until(pilot, lambda: screen.query_one("#login").can_view_entire(feedback))
            await pilot.wait_for_animation()
            await pilot.pause()

        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=refused, terminal_size=size)

    def test_link_alone(self, snap_compare, make_app, login_service):
        async def alone(pilot: Any) -> None:
            await self.ready(pilot)
            await pilot.press("ctrl+l")
            await on_screen(pilot, "LinkScreen")

        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=alone)

    def test_exchanging(self, snap_compare, make_app, login_service, fake):
        from textual import events

        fake.set_latency("anthropic.exchange", 30)

        async def paste(pilot: Any) -> None:
            await self.ready(pilot)
            # A fixed code (the input shows it); the fake holds the exchange for 30 s.
            pilot.app.post_message(events.Paste(f"FAKE-CODE-0001#{FIXED_PKCE.state}"))
            await wait_until(pilot, lambda: pilot.app.screen.exchanging)
            await pilot.pause()

        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=paste)

    def test_success(self, snap_compare, make_app, login_service, fake):
        from textual import events

        async def paste(pilot: Any) -> None:
            await self.ready(pilot)
            code, state = fake.anthropic.authorize(pilot.app.screen.login.url)
            pilot.app.post_message(events.Paste(f"{code}#{state}"))
            await on_screen(pilot, "LoginDoneScreen")
            await pilot.pause()

        app = make_app(login_service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=paste)


class TestCopilotLogin:
    @staticmethod
    def start(make_app: Any, service: AuthService) -> Any:
        return make_app(service, start="login", provider="github-copilot")

    @staticmethod
    async def device_code(pilot: Any, progress: str = "") -> None:
        await on_screen(pilot, "QuestionScreen")  # keys typed before a screen appears are dropped
        await pilot.press("enter")
        await on_screen(pilot, "DeviceCodeScreen")
        await wait_until(pilot, lambda: progress in str(pilot.app.screen.query_one("#progress").content))
        await pilot.pause()

    def test_enterprise_prompt(self, snap_compare, make_app, service):
        assert snap_compare(self.start(make_app, service))

    def test_enterprise_host_rejected(self, snap_compare, make_app, service):
        async def bad_host(pilot: Any) -> None:
            await on_screen(pilot, "QuestionScreen")  # keys typed before a screen appears are dropped
            await pilot.press(*"ghe example", "enter")
            await pilot.pause()

        assert snap_compare(self.start(make_app, service), run_before=bad_host)

    def test_waiting(self, snap_compare, make_app, service):
        scripted_copilot(service, [PollEvent("waiting", polls=1), PollEvent("waiting", polls=3)])

        async def run(pilot: Any) -> None:
            await self.device_code(pilot, "checked 3 times")

        assert snap_compare(self.start(make_app, service), run_before=run)

    def test_slowed_down(self, snap_compare, make_app, service):
        scripted_copilot(service, [PollEvent("waiting", polls=1), PollEvent("slow_down", 10, polls=2)])

        async def run(pilot: Any) -> None:
            await self.device_code(pilot, "slow down")

        assert snap_compare(self.start(make_app, service), run_before=run)

    def test_expired(self, snap_compare, make_app, service, clock):
        expired = device_flow_error("expired_token", "", status=200, domain="github.com")
        scripted_copilot(service, [PollEvent("waiting", polls=1), expired])

        async def run(pilot: Any) -> None:
            clock.advance(15 * 60)
            await self.device_code(pilot, "expired")

        assert snap_compare(self.start(make_app, service), run_before=run)

    def test_denied(self, snap_compare, make_app, service):
        denied = device_flow_error("access_denied", "", status=200, domain="github.com")
        scripted_copilot(service, [PollEvent("waiting", polls=1), denied])

        async def run(pilot: Any) -> None:
            await self.device_code(pilot, "denied")

        assert snap_compare(self.start(make_app, service), run_before=run)

    def test_success(self, snap_compare, make_app, service, fixed_store):
        result = LoginResult("github-copilot", "GitHub Copilot", fixed_store.path, "@octocat")
        made = scripted_copilot(
            service, [PollEvent("waiting", polls=1), PollEvent("done", polls=2, result=result)]
        )
        service.start_login = with_models(service.start_login, made)  # type: ignore[method-assign]

        async def run(pilot: Any) -> None:
            await on_screen(pilot, "QuestionScreen")  # keys typed before a screen appears are dropped
            await pilot.press("enter")
            await on_screen(pilot, "LoginDoneScreen")
            await settle(pilot)

        assert snap_compare(self.start(make_app, service), run_before=run)


class TestNewLogins:
    """The screens the newer logins add: Radius's two methods, ChatGPT's single browser login,
    and the question over a stored login (replace it, or add another account)."""

    def test_radius_method_choice(self, snap_compare, make_app, service):
        async def choice(pilot: Any) -> None:
            await on_screen(pilot, "MethodChoiceScreen")

        app = make_app(service, start="login", provider="radius")
        assert snap_compare(app, run_before=choice)

    def test_replace_or_add_another_account(self, snap_compare, make_app, fixed_store, clock):
        from tests.tui.helpers import HOUR_MS, seed_fake_anthropic

        seed_fake_anthropic(fixed_store, expires=clock.ms() + HOUR_MS)
        service = AuthService(fixed_store, env={}, clock=clock)

        async def question(pilot: Any) -> None:
            await on_screen(pilot, "ChoiceScreen")

        app = make_app(service, start="login", provider="anthropic")
        assert snap_compare(app, run_before=question)
