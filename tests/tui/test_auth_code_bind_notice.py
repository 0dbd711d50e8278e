"""The auth-code login screen says why the browser cannot come back (port taken) and takes a paste."""

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
