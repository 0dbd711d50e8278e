"""Codex and the auth-code screen in the app: the port-taken notice with a paste, the device code."""

from __future__ import annotations

import socket
from typing import Any

from textual import events

from app.service import AuthService
from tests.tui.helpers import choose_method, flat, read_doc, screen_text, wait_for_screen, wait_until


async def test_taken_port_is_said_on_the_login_screen_and_paste_completes(
    store: Any, fake: Any, clock: Any, make_app: Any
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        service = AuthService(store, env={**fake.env(), "PI_TUI_CALLBACK_PORT": str(taken)}, clock=clock)
        app = make_app(service, start="login", provider="openai-codex")
        async with app.run_test(size=(80, 24)) as pilot:
            await choose_method(pilot, "browser")
            await wait_for_screen(pilot, "AuthCodeScreen")
            await wait_until(pilot, lambda: getattr(pilot.app.screen, "login", None) is not None)
            login = app.screen.login
            assert not login.listening
            notice = (
                f"Port {taken} is in use (the Codex CLI uses it too), so the browser cannot come back "
                "to pi-tui by itself."
            )
            assert notice in flat(app)
            assert "copy its whole address and paste it below." in flat(app)
            app.post_message(events.Paste(fake.codex.redirect_for(login.url)))
            await wait_for_screen(pilot, "LoginDoneScreen")
            entry = read_doc(store)["openai-codex"]
            assert entry["accountId"] == fake.codex.account_id
            assert entry["access"] not in screen_text(app)


async def test_codex_device_code_login_in_the_app(store: Any, fake: Any, clock: Any, make_app: Any) -> None:
    fake.codex.min_poll_gap = 0
    service = AuthService(store, env=fake.env(), clock=clock, poll_scale=0.01)
    app = make_app(service, start="login", provider="openai-codex")
    async with app.run_test(size=(80, 24)) as pilot:
        await choose_method(pilot, "device_code")
        await wait_for_screen(pilot, "DeviceCodeScreen")
        await wait_until(pilot, lambda: fake.count("codex.poll") >= 1)
        assert fake.codex.latest_user_code in flat(app)
        assert f"{fake.base}/openai/codex/device" in flat(app)
        fake.codex.approve()
        await wait_for_screen(pilot, "LoginDoneScreen")
        entry = read_doc(store)["openai-codex"]
        assert entry["accountId"] == fake.codex.account_id
        assert entry["access"] not in screen_text(app)
    assert fake.count("codex.poll") >= 2


def test_device_code_is_the_default_over_ssh(store: Any) -> None:
    ssh = AuthService(store, env={"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"})
    assert ssh.default_method("openai-codex").id == "device_code"
    desktop = AuthService(store, env={"DISPLAY": ":0"})
    assert desktop.default_method("openai-codex").id == "browser"
