"""A damaged file or entry says "log in again" (or log out) fixes it: the command line does that.

``login PROVIDER --no-tui`` over a damaged file sets the file aside and saves the new login;
``logout PROVIDER`` of a damaged entry removes it (a copy of the file is kept either way).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.processes import run_cli
from tests.store.helpers import agent_dir, log_in_to_anthropic, now_ms, write_private

HOUR_MS = 3_600_000
XAI = {"type": "oauth", "access": "xai-a", "refresh": "xai-r", "expires": 1}


def corrupt_copies(agent: Path) -> list[Path]:
    return sorted(agent.glob("auth.json.corrupt-*"))


def test_a_login_over_a_damaged_file_sets_it_aside_and_saves(tmp_path: Path, fake: Any) -> None:
    agent = agent_dir(tmp_path)
    write_private(agent / "auth.json", '{"xai": {"type": "oauth", "access": "xai-a",')  # cut off

    code, err = log_in_to_anthropic(agent, fake)

    assert code == 0, err
    assert "Traceback" not in err
    saved = json.loads((agent / "auth.json").read_text())
    assert list(saved) == ["anthropic"] and fake.anthropic.is_access_valid(saved["anthropic"]["access"])
    (copy,) = corrupt_copies(agent)
    assert copy.read_text() == '{"xai": {"type": "oauth", "access": "xai-a",'
    assert f"The damaged file was kept as {copy}" in err


def test_a_login_over_a_damaged_entry_replaces_it_and_keeps_the_others(tmp_path: Path, fake: Any) -> None:
    agent = agent_dir(tmp_path)
    write_private(agent / "auth.json", json.dumps({"anthropic": {"type": "oauth"}, "xai": XAI}))

    code, err = log_in_to_anthropic(agent, fake)

    assert code == 0, err
    saved = json.loads((agent / "auth.json").read_text())
    assert saved["xai"] == XAI
    assert fake.anthropic.is_access_valid(saved["anthropic"]["access"])
    assert len(corrupt_copies(agent)) == 1


def test_a_logout_removes_a_damaged_entry(tmp_path: Path) -> None:
    agent = agent_dir(tmp_path)
    other = {"type": "oauth", "access": "a", "refresh": "r", "expires": now_ms() + HOUR_MS}
    write_private(
        agent / "auth.json", json.dumps({"xai": {"type": "oauth", "access": 7}, "anthropic": other})
    )

    out = run_cli("logout", "xai", "--yes", "--agent-dir", str(agent))

    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert json.loads((agent / "auth.json").read_text()) == {"anthropic": other}
    (copy,) = corrupt_copies(agent)
    assert f"Logged out of xai. Removed its damaged entry from {agent / 'auth.json'}" in out.stdout
    assert str(copy) in out.stdout


def test_a_logout_leaves_a_damaged_file_to_the_next_login(tmp_path: Path) -> None:
    agent = agent_dir(tmp_path)
    path = write_private(agent / "auth.json", "{not json")

    out = run_cli("logout", "xai", "--yes", "--agent-dir", str(agent))

    assert out.returncode == 3
    assert f"pi-tui: {path} is not valid JSON" in out.stderr
    assert path.read_text() == "{not json" and corrupt_copies(agent) == []
