"""A refresh spends the refresh token, so it is not sent unless its answer can be saved."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.providers import provider
from tests.processes import ROOT, clean_env
from tests.store.helpers import agent_dir, due_login, write_private

FILE_SIZE_LIMIT = 64  # bytes: smaller than the store, so no write of it can succeed


def limit_file_size() -> None:
    # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG instead of killing it.
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def token_with_file_size_limit(agent: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "token", "anthropic", "--agent-dir", str(agent)],
        capture_output=True,
        text=True,
        env=clean_env({**env, "PYTHONDONTWRITEBYTECODE": "1"}),
        cwd=ROOT,
        timeout=60,
        stdin=subprocess.DEVNULL,
        preexec_fn=limit_file_size,
    )


@pytest.mark.parametrize("name", ["auth.json", "oauth.json"])
def test_no_refresh_is_sent_when_the_answer_could_not_be_saved(tmp_path: Path, fake: Any, name: str) -> None:
    agent = agent_dir(tmp_path)
    tokens = fake.anthropic.seed_login()
    path = write_private(agent / name, json.dumps({"anthropic": due_login(tokens)}, indent=2))
    before = path.read_bytes()
    assert len(before) > FILE_SIZE_LIMIT

    out = token_with_file_size_limit(agent, fake.env())

    assert fake.count("anthropic.refresh") == 0
    assert out.returncode == 3, out.stderr
    assert out.stdout == ""
    message = out.stderr.strip()
    assert message == (
        f"pi-tui: Could not save {path}: the file size limit is reached (ulimit -f) (EFBIG). The "
        f"{provider('anthropic').name} login was not refreshed and is unchanged; fix that and try again."
    )
    assert path.read_bytes() == before
    left = [name, f"{name}.lock"] if name == "oauth.json" else [name]  # no temp file is left
    assert sorted(os.listdir(agent)) == left


def test_the_refresh_is_saved_when_there_is_room(tmp_path: Path, fake: Any) -> None:
    agent = agent_dir(tmp_path)
    tokens = fake.anthropic.seed_login()
    path = write_private(agent / "auth.json", json.dumps({"anthropic": due_login(tokens)}))

    from tests.processes import run_cli

    out = run_cli("token", "anthropic", "--agent-dir", str(agent), env=fake.env())

    assert out.returncode == 0, out.stderr
    assert fake.count("anthropic.refresh") == 1
    saved = json.loads(path.read_text())["anthropic"]
    assert saved["access"] == out.stdout.strip() != tokens["access"]
    assert sorted(os.listdir(agent)) == ["auth.json"]  # the room set aside became the file


def test_no_refresh_is_sent_when_the_disk_is_full(tmp_path: Path, fake: Any) -> None:
    from tests.processes import run_python

    agent = agent_dir(tmp_path)
    tokens = fake.anthropic.seed_login()
    path = write_private(agent / "auth.json", json.dumps({"anthropic": due_login(tokens)}))
    before = path.read_bytes()
    runner = ROOT / "tests" / "reliability" / "fault_runner.py"

    out = run_python(
        str(runner),
        "--fail",
        "write:ENOSPC",
        "cli",
        "token",
        "anthropic",
        "--agent-dir",
        str(agent),
        env=fake.env(),
    )

    assert fake.count("anthropic.refresh") == 0
    assert out.returncode == 3, out.stderr
    assert "the disk is full (ENOSPC). The" in out.stderr and "login was not refreshed" in out.stderr
    assert "Traceback" not in out.stderr
    assert path.read_bytes() == before
    assert fake.anthropic.is_refresh_valid(tokens["refresh"])
