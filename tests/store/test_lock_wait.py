"""How long pi-tui waits for the store's lock: 35 s for pi's lock directory, 10 s for flock, or
``$PI_TUI_LOCK_TIMEOUT`` (what lets a test of a held lock end in a second instead of 35)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.store import DIR_LOCK_TIMEOUT, FLOCK_TIMEOUT, CredentialStore, lock_wait
from tests.fakes.server import FakeProviders
from tests.processes import run_cli


def test_unset_the_defaults_stay_35_s_for_pis_lock_and_10_s_for_flock(tmp_path: Path) -> None:
    assert lock_wait({}) is None and lock_wait({"PI_TUI_LOCK_TIMEOUT": " "}) is None
    (tmp_path / "auth.json").write_text("{}")
    assert CredentialStore.for_agent_dir(tmp_path, {}).lock_timeout == DIR_LOCK_TIMEOUT == 35.0
    (tmp_path / "auth.json").unlink()
    (tmp_path / "oauth.json").write_text("{}")
    assert CredentialStore.for_agent_dir(tmp_path, {}).lock_timeout == FLOCK_TIMEOUT == 10.0


def test_the_variable_sets_the_wait(tmp_path: Path) -> None:
    env = {"PI_TUI_LOCK_TIMEOUT": "1.5"}
    assert lock_wait(env) == 1.5
    assert CredentialStore.for_agent_dir(tmp_path, env).lock_timeout == 1.5


@pytest.mark.parametrize("raw", ["soon", "0", "-3", "nan", "inf", "1e9"])
def test_a_value_that_is_not_a_wait_is_one_sentence(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        lock_wait({"PI_TUI_LOCK_TIMEOUT": raw})
    message = str(caught.value)
    assert message.startswith(f"PI_TUI_LOCK_TIMEOUT is {raw!r}; set it to") and "\n" not in message


def test_token_gives_up_on_a_held_lock_after_the_configured_wait(tmp_path: Path, fake: FakeProviders) -> None:
    """A live lock (fresh: pi's rule takes over only after 30 s) and a 0.5 s wait: one sentence."""
    agent = tmp_path / "agent"
    agent.mkdir(mode=0o700)
    tokens = fake.anthropic.seed_login()
    entry = {"type": "oauth", "refresh": tokens["refresh"], "access": tokens["access"], "expires": 1}
    (agent / "auth.json").write_text(json.dumps({"anthropic": entry}))
    os.chmod(agent / "auth.json", 0o600)
    (agent / "auth.json.lock").mkdir()
    started = time.monotonic()
    out = run_cli(
        "token", "anthropic", "--agent-dir", str(agent), env=fake.env() | {"PI_TUI_LOCK_TIMEOUT": "0.5"}
    )
    assert time.monotonic() - started < 20  # not the 35 s default (a process start is the rest)
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"has held the lock {agent / 'auth.json.lock'} for 0.5 s" in out.stderr
    assert fake.count("anthropic.refresh") == 0
    assert (agent / "auth.json.lock").is_dir()  # not taken over


def test_a_bad_value_on_the_command_line_is_one_sentence(tmp_path: Path) -> None:
    out = run_cli("status", "--agent-dir", str(tmp_path), env={"PI_TUI_LOCK_TIMEOUT": "soon"})
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().endswith("or unset it."), out.stderr
    assert out.stderr.count("\n") == 1
