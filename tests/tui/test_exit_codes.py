"""The app's exit code comes from what its screens reported: a login made, a logout answered."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events

from app.errors import Cancelled
from app.service import AuthService
from tests.tui.helpers import HOUR_MS, read_doc, seed, wait_for_screen, wait_until


@pytest.fixture
def service(store: Any, fake: Any, clock: Any) -> AuthService:
    return AuthService(store, env=fake.env() | {"PI_TUI_CALLBACK_PORT": "off"}, clock=clock)


@pytest.fixture
def logged_in(store: Any, fake: Any, clock: Any) -> dict[str, str]:
    tokens = fake.anthropic.seed_login()
    seed(store, "anthropic", tokens, expires=clock.ms() + 2 * HOUR_MS, email="ada@example.com")
    return tokens


async def log_in_to_anthropic(pilot: Any, fake: Any) -> None:
    """From the Anthropic method choice: the default method, a pasted code, the success screen."""
    await wait_for_screen(pilot, "MethodChoiceScreen")
    await pilot.press("enter")
    await wait_for_screen(pilot, "AuthCodeScreen")
    await wait_until(pilot, lambda: getattr(pilot.app.screen, "login", None) is not None)
    code, state = fake.anthropic.authorize(pilot.app.screen.login.url)
    pilot.app.post_message(events.Paste(f"{code}#{state}"))
    await wait_for_screen(pilot, "LoginDoneScreen")


@pytest.mark.parametrize("provider", ["anthropic", None])
async def test_quitting_after_the_login_asked_for_exits_0(service, fake, make_app, provider):
    app = make_app(service, start="login", provider=provider)
    async with app.run_test(size=(80, 24)) as pilot:
        if provider is None:
            await wait_for_screen(pilot, "ProviderSelectScreen")
            await pilot.press("enter")
        await log_in_to_anthropic(pilot, fake)
        await pilot.press("enter")
        await wait_for_screen(pilot, "StatusScreen")
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running and app.return_code == 0


async def test_quitting_a_login_before_it_is_made_exits_cancelled(service, make_app, logged_in):
    # The login already in the file is not one made now.
    app = make_app(service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "ChoiceScreen")  # replace the stored login, or add?
        await pilot.press("r")
        await wait_for_screen(pilot, "MethodChoiceScreen")
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert not app.is_running and app.return_code == Cancelled.exit_code


async def test_a_login_to_another_provider_is_not_the_one_asked_for(service, fake, make_app):
    app = make_app(service, start="login", provider="github-copilot")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "QuestionScreen")
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        app.screen.query_one("#providers").highlighted = 0  # Anthropic
        await pilot.press("enter")
        await log_in_to_anthropic(pilot, fake)
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == Cancelled.exit_code


async def test_the_status_panel_exits_0(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0


# -- `pi-tui logout`: the app at the logout select, back to the shell once answered --------------


@pytest.mark.parametrize(("keys", "code"), [(("y",), 0), (("n",), Cancelled.exit_code)])
async def test_a_logout_started_from_the_command_line_ends_with_its_answer(
    service, store, make_app, logged_in, keys, code
):
    app = make_app(service, start="logout")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "ConfirmScreen")
        await pilot.press(*keys)
        await wait_until(pilot, lambda: not app.is_running, timeout=3)
    assert app.return_code == code
    assert ("anthropic" in read_doc(store)) is (code != 0)


@pytest.mark.parametrize("key", ["escape", "ctrl+c"])
async def test_a_logout_started_from_the_command_line_and_left_exits_cancelled(
    service, store, make_app, logged_in, key
):
    app = make_app(service, start="logout")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press(key)
        await wait_until(pilot, lambda: not app.is_running, timeout=3)
    assert app.return_code == Cancelled.exit_code
    assert "anthropic" in read_doc(store)


async def test_a_logout_with_nothing_stored_says_so_and_exits(service, make_app):
    app = make_app(service, start="logout")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: not app.is_running, timeout=3)
    assert app.return_code == 0


async def test_a_logout_from_the_panel_stays_in_the_app(service, store, make_app, logged_in):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await wait_for_screen(pilot, "ConfirmScreen")
        await pilot.press("y")
        await wait_for_screen(pilot, "StatusScreen")
        assert app.is_running
        assert "anthropic" not in read_doc(store)


def test_run_app_returns_the_apps_code(monkeypatch, store, tmp_path):
    import logging

    from app.tui.app import PiTuiApp
    from app.tui.run import run_app

    codes: dict[str, int | None] = {}

    def run(app: PiTuiApp) -> None:
        if codes["set"] is not None:
            app.exit(return_code=codes["set"])

    monkeypatch.setattr(PiTuiApp, "run", run)
    env = {"PI_TUI_LOG_DIR": str(tmp_path / "logs")}
    try:
        for start, provider, set_code, expected in [
            ("status", None, 0, 0),
            ("login", "anthropic", 0, 0),
            ("logout", None, Cancelled.exit_code, Cancelled.exit_code),
            ("status", None, 1, 1),
            ("login", "anthropic", None, Cancelled.exit_code),  # never ran: nothing was made
        ]:
            codes["set"] = set_code
            assert run_app(store, env=env, start=start, provider=provider) == expected  # type: ignore[arg-type]
    finally:
        logger = logging.getLogger("pi_tui")
        for handler in logger.handlers[:]:
            handler.close()
            logger.removeHandler(handler)
