"""pi-tui's own files (its state file, its log) and the store's directory: no link planted
there is followed, and a directory other users can change is refused with the chmod that fixes it."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.errors import ConfigError
from app.logs import LOGGER, setup_logging
from app.state import STATE_NAME, StateFile
from tests.processes import run_cli
from tests.store.helpers import agent_dir, log_in_to_anthropic, now_ms, write_private

VICTIM_TEXT = "precious: not pi-tui's\n"
HOUR_MS = 3_600_000


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of the user's that a planted link points at."""
    return write_private(tmp_path / "victim.txt", VICTIM_TEXT)


@pytest.fixture
def no_log_handlers() -> Iterator[None]:
    yield
    logger = logging.getLogger(LOGGER)
    for handler in logger.handlers[:]:
        handler.close()
        logger.removeHandler(handler)


def logged_in_to_xai(tmp_path: Path) -> Path:
    agent = agent_dir(tmp_path)
    login = {"type": "oauth", "access": "a", "refresh": "r", "expires": now_ms() + HOUR_MS}
    write_private(agent / "auth.json", json.dumps({"xai": login}))
    return agent


def test_a_link_planted_at_the_state_files_temp_name_is_not_followed(tmp_path: Path, victim: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    # The temp name this process would have used: its pid.
    (state_dir / f".{STATE_NAME}.{os.getpid()}.tmp").symlink_to(victim)
    state = StateFile(state_dir / STATE_NAME)

    state.update(tmp_path / "auth.json", "xai", account="grok")

    assert victim.read_text() == VICTIM_TEXT
    assert state.get(tmp_path / "auth.json", "xai") == {"account": "grok"}


def test_a_state_file_that_is_a_link_is_neither_read_nor_written(tmp_path: Path, victim: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    victim.write_text(json.dumps({"version": 1, "stores": {str(tmp_path / "auth.json"): {"xai": {"a": 1}}}}))
    before = victim.read_text()
    (state_dir / STATE_NAME).symlink_to(victim)
    state = StateFile(state_dir / STATE_NAME)

    assert state.get(tmp_path / "auth.json", "xai") == {}
    state.update(tmp_path / "auth.json", "xai", account="grok")

    assert victim.read_text() == before
    assert (state_dir / STATE_NAME).is_symlink()
    with pytest.raises(ConfigError, match=r"state file .* is a symbolic link.*Remove it \(rm "):
        state.check()


def test_a_logout_refuses_a_state_directory_anyone_can_write(tmp_path: Path, victim: Path) -> None:
    agent = logged_in_to_xai(tmp_path)
    state_dir = tmp_path / "shared-state"
    state_dir.mkdir()
    os.chmod(state_dir, 0o777)
    for pid in range(os.getpid(), os.getpid() + 50):  # whatever pid the process gets
        (state_dir / f".{STATE_NAME}.{pid}.tmp").symlink_to(victim)

    out = run_cli(
        "logout", "xai", "--yes", "--agent-dir", str(agent), env={"PI_TUI_STATE_DIR": str(state_dir)}
    )

    assert out.returncode == 2, out.stderr
    assert out.stderr == (
        f"pi-tui: {state_dir} can be changed by any user (mode 0777), so pi-tui will not write its "
        f"state file there. Run: chmod go-w {state_dir}\n"
    )
    assert victim.read_text() == VICTIM_TEXT
    assert "xai" in json.loads((agent / "auth.json").read_text())  # nothing was done


def test_a_write_refuses_an_agent_directory_anyone_can_write(tmp_path: Path) -> None:
    agent = logged_in_to_xai(tmp_path)
    os.chmod(agent, 0o777)
    before = (agent / "auth.json").read_bytes()

    out = run_cli("logout", "xai", "--yes", "--agent-dir", str(agent))

    assert out.returncode == 3, out.stderr
    assert out.stderr == (
        f"pi-tui: {agent} can be changed by any user (mode 0777), so pi-tui will not write "
        f"credentials there. Run: chmod go-w {agent}\n"
    )
    assert (agent / "auth.json").read_bytes() == before
    assert sorted(os.listdir(agent)) == ["auth.json"]


def test_a_link_planted_as_the_log_is_not_followed(
    tmp_path: Path, victim: Path, no_log_handlers: None
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / "pi-tui.log").symlink_to(victim)

    with pytest.raises(PermissionError, match=r"pi-tui keeps no log in .*pi-tui.log: it is a symbolic link"):
        setup_logging({"PI_TUI_LOG_DIR": str(logs)})
    logging.getLogger(LOGGER).warning("a line that must not land in the victim")

    assert victim.read_text() == VICTIM_TEXT


def test_a_log_directory_anyone_can_write_is_refused(tmp_path: Path, no_log_handlers: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    os.chmod(logs, 0o777)

    with pytest.raises(PermissionError, match=r"can be changed by any user \(mode 0777\).*keep its log"):
        setup_logging({"PI_TUI_LOG_DIR": str(logs)})

    assert os.listdir(logs) == []


def test_a_log_of_ones_own_is_written_as_before(tmp_path: Path, no_log_handlers: None) -> None:
    path = setup_logging({"PI_TUI_LOG_DIR": str(tmp_path / "logs")})
    logging.getLogger(LOGGER).warning("hello")
    for handler in logging.getLogger(LOGGER).handlers:
        handler.flush()
    assert "hello" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_plain_login_says_why_it_keeps_no_log_and_still_logs_in(tmp_path: Path, fake: Any) -> None:
    agent = agent_dir(tmp_path)
    logs = tmp_path / "shared-logs"
    logs.mkdir()
    os.chmod(logs, 0o777)

    code, err = log_in_to_anthropic(agent, fake, logs)

    assert code == 0, err
    assert (
        f"pi-tui: no log: {logs} can be changed by any user (mode 0777), so pi-tui will not keep "
        f"its log there. Run: chmod go-w {logs}\n"
    ) in err
    assert os.listdir(logs) == []
    assert "anthropic" in json.loads((agent / "auth.json").read_text())
