"""Issue 11 on the login screens (defects 2 and 3): what is said, copied and opened, and when."""

from __future__ import annotations

import os
from typing import Any

import pytest

from app.service import AuthService
from app.store import CredentialStore
from tests.tui.helpers import choose_method, flat, wait_for_screen, wait_for_text


@pytest.fixture
def unsafe_store(tmp_path: Any) -> CredentialStore:
    path = tmp_path / "agent" / "oauth.json"
    path.parent.mkdir(mode=0o700)
    path.write_text("{}\n")
    os.chmod(path, 0o644)
    return CredentialStore(path)


async def test_an_unsafe_store_is_said_before_any_link_is_opened_or_copied(
    unsafe_store, make_app, clock, fake, opener, clipboard
):
    service = AuthService(unsafe_store, env=fake.env(), clock=clock)
    app = make_app(service, start="login", provider="anthropic")
    async with app.run_test(size=(80, 24)) as pilot:
        await choose_method(pilot, "browser")
        await wait_for_screen(pilot, "AuthCodeScreen")
        await wait_for_text(pilot, "No link: the login could not start.")
        assert "readable by other users (mode 0644)" in flat(app)
    assert opener.opened == [] and clipboard.copied == []
    assert fake.count("anthropic.authorize") == 0
