"""``pi-tui migrate`` renames oauth.json and leaves nothing of it behind: not its flock file either."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from app.store.locks import remove_lock_file
from tests.processes import run_cli
from tests.store.helpers import agent_dir, now_ms, write_private

HOUR_MS = 3_600_000


def test_migrate_removes_the_old_files_lock(tmp_path: Path) -> None:
    agent = agent_dir(tmp_path)
    login = {"type": "oauth", "access": "a", "refresh": "r", "expires": now_ms() + HOUR_MS}
    write_private(agent / "oauth.json", json.dumps({"xai": login}))
    write_private(agent / "auth.json", "{}")

    out = run_cli("migrate", "--agent-dir", str(agent))

    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(agent)) == ["auth.json", "oauth.json.migrated"]
    assert json.loads((agent / "auth.json").read_text()) == {"xai": login}


def test_a_lock_file_someone_holds_is_left_alone(tmp_path: Path) -> None:
    lock = write_private(tmp_path / "oauth.json.lock", "")
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        remove_lock_file(lock)
        assert lock.exists()
    finally:
        os.close(fd)
    remove_lock_file(lock)
    assert not lock.exists()
    remove_lock_file(lock)  # gone already: nothing to do


def test_a_link_in_place_of_the_lock_file_is_left_alone(tmp_path: Path) -> None:
    victim = write_private(tmp_path / "victim", "kept")
    lock = tmp_path / "oauth.json.lock"
    lock.symlink_to(victim)
    remove_lock_file(lock)
    assert lock.is_symlink() and victim.read_text() == "kept"
