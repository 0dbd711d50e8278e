"""How long a writer waits for the store's lock: pi's bound by default, shorter when told."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.store import DIR_LOCK_TIMEOUT, CredentialStore
from tests.processes import run_cli


def test_the_default_wait_for_pis_lock_is_longer_than_pis_own(tmp_path: Path) -> None:
    store = CredentialStore.for_agent_dir(tmp_path, env={})
    assert store.kind == "auth.json"
    assert store.lock_timeout == DIR_LOCK_TIMEOUT == 35.0


def test_the_wait_can_be_shortened_through_the_environment(tmp_path: Path) -> None:
    store = CredentialStore.for_agent_dir(tmp_path, env={"PI_TUI_LOCK_TIMEOUT": "1"})
    assert store.lock_timeout == 1.0


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan", "1e9"])
def test_a_wait_that_is_not_a_number_of_seconds_is_one_sentence(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"PI_TUI_LOCK_TIMEOUT is .*; set it to a number of seconds"):
        CredentialStore.for_agent_dir(tmp_path, env={"PI_TUI_LOCK_TIMEOUT": value})


def test_a_process_gives_up_on_a_held_lock_after_the_shortened_wait(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    agent.mkdir(mode=0o700)
    path = agent / "auth.json"
    path.write_text(json.dumps({"xai": {"type": "api_key", "key": "xai-key"}}))
    os.chmod(path, 0o600)
    (agent / "auth.json.lock").mkdir()  # a live pi holds it (its mtime is fresh)

    started = time.monotonic()
    out = run_cli("logout", "xai", "--yes", "--agent-dir", str(agent), env={"PI_TUI_LOCK_TIMEOUT": "1"})

    assert out.returncode != 0
    assert time.monotonic() - started < 15
    assert "has held the lock" in out.stderr and "for 1 s" in out.stderr
    assert "Traceback" not in out.stderr
    assert json.loads(path.read_text()) == {"xai": {"type": "api_key", "key": "xai-key"}}
