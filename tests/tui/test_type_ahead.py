"""Keys typed ahead (a slow link delivers ``l Enter Enter`` in one burst) and errors nobody expected."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events

from app.service import AuthService
from tests.tui.helpers import HOUR_MS, flat, read_doc, seed_fake_anthropic, wait_for_screen


def burst(app: Any, *keys: str) -> None:
    """Deliver ``keys`` the way a terminal does when they arrive together: all queued at once."""
    for key in keys:
        app.post_message(events.Key(key, "\r" if key == "enter" else key))


def stack(app: Any) -> list[str]:
    return [type(screen).__name__ for screen in app.screen_stack]


@pytest.fixture
def service(store: Any, clock: Any) -> AuthService:
    return AuthService(store, env={"PI_TUI_CALLBACK_PORT": "off"}, clock=clock)


@pytest.mark.parametrize("enters", [1, 2, 3])
async def test_login_key_and_enters_in_one_burst_leave_the_provider_select_open(service, make_app, enters):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        burst(app, "l", *["enter"] * enters)
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.pause(0.2)
        assert stack(app) == ["StatusScreen", "ProviderSelectScreen"]
        # The screen works for keys typed after it appeared (Anthropic: its method choice next).
        await pilot.press("enter")
        await wait_for_screen(pilot, "MethodChoiceScreen")
        assert stack(app) == ["StatusScreen", "MethodChoiceScreen"]


async def test_a_key_typed_once_a_screen_is_up_counts_on_that_screen(service, make_app):
    # A screen's time is taken when it is pushed. Taken later (a posted signal runs after the
    # messages already queued, so after the new screen's first frame), the Enter a user types on
    # seeing that frame counted as typed ahead and was dropped.
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_help()
        burst(app, "escape")  # typed after the push, before the app has handled anything else
        await wait_for_screen(pilot, "StatusScreen")
        assert stack(app) == ["StatusScreen"]


async def test_enters_typed_ahead_never_close_the_login_just_opened(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        burst(app, "enter", "enter", "enter")
        await wait_for_screen(pilot, "MethodChoiceScreen")
        await pilot.pause(0.2)
        assert stack(app) == ["StatusScreen", "MethodChoiceScreen"]


async def test_logout_confirmation_survives_enters_typed_ahead(service, store, make_app, clock):
    seed_fake_anthropic(store, expires=clock.ms() + HOUR_MS)
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        burst(app, "o", "enter", "enter", "y")
        await wait_for_screen(pilot, "ConfirmScreen")
        await pilot.pause(0.2)
        assert stack(app) == ["StatusScreen", "ConfirmScreen"]
        assert "anthropic" in read_doc(store)  # the typed-ahead y did not answer either
        await pilot.press("n")
        await wait_for_screen(pilot, "StatusScreen")
        assert "Logout cancelled; nothing was changed." in flat(app)


async def test_logout_select_and_confirmation_survive_enters_typed_ahead(service, store, make_app, clock):
    seed_fake_anthropic(store, expires=clock.ms() + HOUR_MS)
    app = make_app(service, start="logout")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "ConfirmScreen")
        confirm = app.screen
        burst(app, "escape")
        await wait_for_screen(pilot, "StatusScreen")
        confirm.action_answer(True)  # a queued second answer to a dialog already closed
        await pilot.pause(0.2)
        assert stack(app) == ["StatusScreen"]
        assert "anthropic" in read_doc(store)


async def test_a_select_screen_answers_once_even_when_asked_twice(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        select = app.screen
        await pilot.press("enter")
        await wait_for_screen(pilot, "MethodChoiceScreen")
        select.action_cancel()  # a second answer, as a queued key would give
        await pilot.pause(0.2)
        assert stack(app) == ["StatusScreen", "MethodChoiceScreen"]


async def test_back_at_the_status_panel_does_nothing(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.run_action("app.pop_screen")
        await pilot.pause()
        assert stack(app) == ["StatusScreen"]


async def test_ctrl_c_typed_ahead_still_quits(service, make_app):
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        burst(app, "l", "ctrl+c")
        await pilot.pause(0.3)
    assert app.return_code == 0


@pytest.fixture
def log_file(tmp_path: Any) -> Any:
    """pi-tui's masked log, as run_app sets it up, under tmp_path."""
    import logging

    from app.logs import setup_logging

    path = setup_logging({"PI_TUI_LOG_DIR": str(tmp_path / "logs")})
    yield path
    logger = logging.getLogger("pi_tui")
    for handler in logger.handlers[:]:
        handler.close()
        logger.removeHandler(handler)


async def test_unexpected_error_ends_with_one_sentence_and_a_masked_log(
    service, make_app, monkeypatch, log_file
):
    from app.tui.app import Stopped

    def boom() -> None:
        raise RuntimeError("lost sk-ant-oat01-AAAAAAAAAAAAAAAAAAAAAAAAAAAA1234 on the way")

    app = make_app(service)
    monkeypatch.setattr(app, "action_help", boom)
    with pytest.raises(Stopped) as raised:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
    assert app.return_code == 1
    # What the terminal prints on the way out: this sentence, no traceback, no locals, no token.
    printed = str(raised.value.__rich__())
    assert printed == (
        "pi-tui stopped: Unexpected error: lost sk-ant-oat01-…1234 on the way. "
        "Details are in ~/logs/pi-tui.log."
    )
    logged = log_file.read_text()
    assert "Traceback" in logged and "RuntimeError" in logged
    assert "AAAAAAAAAAAA" not in logged
