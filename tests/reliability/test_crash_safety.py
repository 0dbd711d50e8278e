"""A pi-tui process dies at every step of a store write: the file stays whole.

tests/store/test_store.py kills ``CredentialStore.put`` itself at each step. This goes further: the
process is a real entry point (a finished login through ``AuthService.save_login``, a refresh
through ``pi-tui token``, ``pi-tui logout``, and a login over a damaged file that must be copied
aside first), the file holds other providers, and the check is byte for byte: what is left at
``oauth.json`` is exactly the complete old document or exactly the complete new one.

What the runs show (pinned below): SIGKILL leaves the old file up to the rename and the new one
from it on. SIGINT during an asynchronous write (a login, a refresh) lets the write finish,
because ``asyncio.run`` turns the first Ctrl-C into a task cancellation that only lands at the
next ``await`` (and a refresh under way is finished and stored before the cancellation is
honoured); during ``pi-tui logout`` it stops the write and the temp file is removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from app.store import WRITE_STEPS, CredentialStore
from tests.fakes.server import FakeProviders
from tests.processes import run_python, start_cli
from tests.reliability.helpers import (
    OTHERS,
    file_mode,
    now_ms,
    temp_files,
    write_doc,
)

WORKER = Path(__file__).with_name("crash_worker.py")
SIGNALS = ("KILL", "INT")
OPERATIONS = ("login", "refresh", "logout", "login-over-damaged")
# Every (operation, step, signal) is one process killed or interrupted at that point: 64 of them.
INJECTION_POINTS = [(op, step, sig) for op in OPERATIONS for step in WRITE_STEPS for sig in SIGNALS]
RENAMED = WRITE_STEPS.index("renamed")
DAMAGED = b'{\n  "anthropic": {"type": "oauth", "access": "half-writ'


def entry(tag: str, expires: int) -> dict[str, Any]:
    return {"type": "oauth", "refresh": f"refresh-{tag}", "access": f"access-{tag}", "expires": expires}


def document(anthropic: dict[str, Any] | None) -> dict[str, Any]:
    """The store with the other providers around Anthropic's entry (or without one)."""
    doc: dict[str, Any] = {"github-copilot": entry("copilot", 1_900_000_000_000)}
    if anthropic is not None:
        doc["anthropic"] = anthropic
    return doc | OTHERS


def encoded(doc: dict[str, Any]) -> bytes:
    """The bytes the store writes for ``doc``."""
    return (json.dumps(doc, indent=2) + "\n").encode("ascii")


def run_worker(
    step: str, signal_name: str, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return run_python(str(WORKER), step, signal_name, *args, env=env)


def died_of(result: subprocess.CompletedProcess[str], signal_name: str) -> bool:
    """True if the process stopped because of the signal (killed, or an orderly interrupt)."""
    if signal_name == "KILL":
        return result.returncode == -signal.SIGKILL
    return result.returncode in (-signal.SIGINT, 130)


def prepare(path: Path, operation: str, fake: FakeProviders) -> tuple[bytes, bytes | None, list[str]]:
    """Seed the store for ``operation``; return (old bytes, new bytes if known, worker args)."""
    agent_dir = str(path.parent)
    new_entry = entry("new", now_ms() + 7_200_000)
    if operation == "login":
        old = write_doc(path, document(entry("old", now_ms() + 3_600_000)))
        return old, encoded(document(new_entry)), ["login", "anthropic", json.dumps(new_entry), agent_dir]
    if operation == "login-over-damaged":
        path.parent.mkdir(mode=0o700)
        path.write_bytes(DAMAGED)
        path.chmod(0o600)
        new = encoded({"anthropic": new_entry})  # nothing could be read from the damaged file
        return DAMAGED, new, ["login", "anthropic", json.dumps(new_entry), agent_dir]
    if operation == "logout":
        old = write_doc(path, document(entry("old", now_ms() + 3_600_000)))
        return old, encoded(document(None)), ["cli", "logout", "anthropic", "--yes", "--agent-dir", agent_dir]
    tokens = fake.anthropic.seed_login()
    due = {"type": "oauth", "refresh": tokens["refresh"], "access": tokens["access"], "expires": now_ms() - 1}
    old = write_doc(path, document(due))
    return old, None, ["cli", "token", "anthropic", "--agent-dir", agent_dir]


def expected_outcome(operation: str, step: str, signal_name: str) -> str:
    if signal_name == "INT" and operation == "refresh" and step == "lock-acquired":
        # `pi-tui token` takes the lock before starting asyncio: Ctrl-C there stops it before
        # any request is made, and the old login is still valid.
        return "old"
    if signal_name == "INT" and operation != "logout":
        # Cancellation waits for the next await, so the synchronous write finishes.
        return "new"
    return "old" if WRITE_STEPS.index(step) < RENAMED else "new"


@pytest.mark.parametrize("signal_name", SIGNALS)
@pytest.mark.parametrize("step", WRITE_STEPS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_process_stopped_at_a_write_step_leaves_the_whole_old_or_new_file(
    tmp_path: Path, fake: FakeProviders, operation: str, step: str, signal_name: str
) -> None:
    path = tmp_path / "agent" / "oauth.json"
    old, new, args = prepare(path, operation, fake)

    result = run_worker(step, signal_name, *args, env=fake.env())

    assert died_of(result, signal_name), (result.returncode, result.stderr[-2000:])
    after = path.read_bytes()
    if new is None and after != old:  # a refresh was stored: a live token in an otherwise equal file
        doc = json.loads(after)
        assert fake.anthropic.is_access_valid(doc["anthropic"]["access"])
        assert encoded(doc) == after
        assert {k: v for k, v in doc.items() if k != "anthropic"} == document(None)
        new = after
    assert after in (old, new), f"torn or mixed file after SIG{signal_name} at {step}:\n{after[:300]!r}"
    assert ("old" if after == old else "new") == expected_outcome(operation, step, signal_name)
    if signal_name == "INT":
        assert temp_files(path.parent) == [], "an interrupted writer cleans up its temp file"
    if operation == "login-over-damaged" and after == new:
        assert [b.read_bytes() for b in path.parent.glob("oauth.json.corrupt-*")] == [DAMAGED]
    assert file_mode(path) == 0o600
    lock = path.with_name("oauth.json.lock")
    assert lock.is_file() and file_mode(lock) == 0o600, "the lock file is permanent"
    assert_next_write_works(path)


def assert_next_write_works(path: Path) -> None:
    """The kernel dropped the dead process's lock, and a leftover temp file harms nothing."""
    long_ago = time.time() - 3600
    for name in temp_files(path.parent):  # left by SIGKILL; aged so the next write removes it
        os.utime(path.parent / name, (long_ago, long_ago))
    before = path.read_bytes()
    store = CredentialStore(path, lock_timeout=1.0)
    store.put("github-copilot", entry("next", 1_900_000_000_000))
    doc = store.load()
    assert doc["github-copilot"] == entry("next", 1_900_000_000_000)
    if before != DAMAGED:
        rest = {k: v for k, v in json.loads(before).items() if k != "github-copilot"}
        assert {k: v for k, v in doc.items() if k != "github-copilot"} == rest
    assert temp_files(path.parent) == [], "temp files a dead writer left an hour ago are cleaned up"


def test_refresh_killed_after_its_request_loses_a_rotating_login(tmp_path: Path, fake: FakeProviders) -> None:
    """Inherent to single-use refresh tokens: the server rotated, the answer died with the process.

    Pinned so that the day the app narrows this window (or the provider keeps a grace period),
    the test says so. Nothing was written, so the file is still the whole old one.
    """
    path = tmp_path / "agent" / "oauth.json"
    old, _, args = prepare(path, "refresh", fake)
    stored = json.loads(old)["anthropic"]["refresh"]

    result = run_worker("before-temp", "KILL", *args, env=fake.env())

    assert result.returncode == -signal.SIGKILL
    assert path.read_bytes() == old
    assert fake.count("anthropic.refresh") == 1
    assert not fake.anthropic.is_refresh_valid(stored)


def test_ctrl_c_while_the_refresh_request_is_in_flight_still_stores_the_answer(
    tmp_path: Path, fake: FakeProviders
) -> None:
    """The server spends the old refresh token as soon as it answers: the answer must be kept.

    A first Ctrl-C waits for the request under way and stores what it brings, then exits 130.
    """
    path = tmp_path / "agent" / "oauth.json"
    old, _, args = prepare(path, "refresh", fake)
    fake.set_latency("anthropic.refresh", 1.0)
    process = start_cli(*args[1:], env=fake.env())
    deadline = time.monotonic() + 30
    while fake.count("anthropic.refresh") == 0:
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)

    assert process.returncode == 130, err
    assert "Traceback" not in err
    stored = json.loads(path.read_bytes())["anthropic"]
    assert path.read_bytes() != old
    assert fake.anthropic.is_refresh_valid(stored["refresh"]), "Ctrl-C lost the login"
    assert fake.count("anthropic.refresh") == 1
