"""Reading status changes no file: `pi-tui status` and the service's statuses only read."""

from __future__ import annotations

import os
from pathlib import Path

from app.service import AuthService
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, seed_anthropic
from tests.processes import run_cli


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in directory.rglob("*")
        if path.is_file()
    }


def test_status_writes_no_state_file_for_a_login_pi_made(
    tmp_path: Path, fake: FakeProviders, state_dir: Path
) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    before = snapshot(tmp_path)
    for args in (("status",), ("status", "--json")):
        out = run_cli(*args, "--agent-dir", str(store.path.parent), env={"PI_TUI_STATE_DIR": str(state_dir)})
        assert out.returncode == 0, out.stderr
    assert snapshot(tmp_path) == before
    assert not state_dir.exists() or not any(state_dir.iterdir())


def test_a_change_pi_made_is_shown_on_every_read_without_being_written(
    tmp_path: Path, fake: FakeProviders, state_dir: Path
) -> None:
    store = make_store(tmp_path)
    tokens = fake.anthropic.seed_login()
    entry = seed_anthropic(store, tokens, expires=now_ms() - 1)
    service = AuthService(store, env=fake.env())
    service.token_sync("anthropic")  # pi-tui refreshes: its state file knows the new entry
    renewed = store.get("anthropic")
    assert renewed is not None and renewed != entry
    store.put("anthropic", {**renewed, "access": renewed["access"] + "x", "expires": now_ms() + HOUR_MS})
    os.utime(store.path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # pi wrote then
    before = snapshot(state_dir)
    for _ in range(2):
        status = AuthService(store, env=fake.env()).status("anthropic")
        assert (status.refreshed_by, status.refreshed_at_ms) == ("another process", 1_700_000_000_000)
    assert snapshot(state_dir) == before
