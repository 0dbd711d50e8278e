"""A provider that issues 10-minute tokens: pi-tui refreshes when one is due, not on every call.

Providers store ``expires`` five minutes early (as pi does), and pi's rule refreshes five
minutes before that: by that rule alone a 10-minute token is due the moment it arrives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.expiry import BUFFER_MS, is_due, refresh_due_ms
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.server import FakeProviders
from tests.integration.helpers import now_ms
from tests.processes import run_cli

MINUTE_MS = 60_000


def _expired_xai_login(fake: FakeProviders, tmp_path: Path) -> CredentialStore:
    store = CredentialStore(tmp_path / "agent" / "auth.json", lock_timeout=10.0)
    tokens = fake.xai.seed_login()
    store.put(
        "xai",
        {"type": "oauth", "access": tokens["access"], "refresh": tokens["refresh"], "expires": now_ms() - 1},
    )
    return store


def test_five_token_calls_refresh_a_ten_minute_token_once(tmp_path: Path, fake: FakeProviders) -> None:
    fake.xai.expires_in = 600
    store = _expired_xai_login(fake, tmp_path)
    printed = []
    for _ in range(5):
        out = run_cli("token", "xai", "--agent-dir", str(store.path.parent), env=fake.env())
        assert out.returncode == 0, out.stderr
        printed.append(out.stdout.strip())
    assert fake.count("xai.refresh") == 1
    assert len(set(printed)) == 1 and fake.xai.is_access_valid(printed[0])
    # Stored as pi stores it (five minutes early), so pi can use it as well.
    entry = store.get("xai")
    assert entry is not None
    assert 4 * MINUTE_MS < entry["expires"] - now_ms() <= 5 * MINUTE_MS


def test_the_library_refreshes_a_ten_minute_token_once(tmp_path: Path, fake: FakeProviders) -> None:
    fake.xai.expires_in = 600
    store = _expired_xai_login(fake, tmp_path)
    service = AuthService(store, env=fake.env())

    async def five_calls() -> set[str]:
        return {await service.get_token("xai") for _ in range(5)}

    assert len(asyncio.run(five_calls())) == 1
    assert fake.count("xai.refresh") == 1


def test_status_right_after_the_refresh_says_logged_in(tmp_path: Path, fake: FakeProviders) -> None:
    fake.xai.expires_in = 600
    store = _expired_xai_login(fake, tmp_path)
    assert run_cli("token", "xai", "--agent-dir", str(store.path.parent), env=fake.env()).returncode == 0
    out = run_cli("status", "--agent-dir", str(store.path.parent), env=fake.env())
    assert "xAI (Grok/X subscription): logged in (" in out.stdout
    assert "next refresh in 2m" in out.stdout  # half of the five minutes it has left


def test_a_fresh_token_is_given_half_its_life_before_it_is_due() -> None:
    now = 1_800_000_000_000
    entry = {"expires": now + 5 * MINUTE_MS}  # a 10-minute token, stored five minutes early
    assert is_due(entry, now_ms=now)  # pi's rule alone: due on arrival
    assert not is_due(entry, now_ms=now, seen_ms=now)
    assert refresh_due_ms(entry, seen_ms=now) == now + 150_000
    assert is_due(entry, now_ms=now + 150_000, seen_ms=now)
    # A long-lived token keeps pi's five minutes; an unknown arrival too.
    long = {"expires": now + 55 * MINUTE_MS}
    assert refresh_due_ms(long, seen_ms=now) == refresh_due_ms(long) == now + 55 * MINUTE_MS - BUFFER_MS
    # An arrival after the expiry (a clock gone back) changes nothing.
    assert refresh_due_ms(entry, seen_ms=now + 6 * MINUTE_MS) == now
