"""pi's lock on ``auth.json`` (proper-lockfile: the directory ``auth.json.lock``) against pi-tui's.

pi's own store class holds its lock, synchronously (``FileAuthStorageBackend.withLock``, which
takes a lock older than 10 s as abandoned and gives up after ten tries 20 ms apart) and
asynchronously (``withLockAsync``: abandoned after 30 s, refreshed every 15 s, waits up to
30 s), while real ``pi-tui`` processes write, and the other way round. Nothing either side
writes may be lost, and pi-tui must never leave a lock behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.server import FakeProviders
from tests.interop.real_pi import RealPi, leftovers, read_json, write_json
from tests.processes import run_cli, start_cli

# Entries pi-tui does not own, valid for pi's own validation (pi refuses a file with others).
OTHERS: dict[str, Any] = {
    "openai": {"type": "api_key", "key": "sk-openai-kept"},
    "google-gemini-cli": {
        "type": "oauth",
        "refresh": "gemini-refresh-kept",
        "access": "gemini-access-kept",
        "expires": 1_700_000_000_000,
        "projectId": "p-1",
    },
}
PI_ENTRY = {"type": "api_key", "key": "sk-or-written-by-pi"}


def now_ms() -> int:
    return int(time.time() * 1000)


def seed_due_anthropic(real_pi: RealPi, fake: FakeProviders) -> dict[str, Any]:
    """auth.json with a due Anthropic login (live at the fake) between pi's other entries."""
    tokens = fake.anthropic.seed_login()
    doc = {
        "openai": OTHERS["openai"],
        "anthropic": {
            "type": "oauth",
            "refresh": tokens["refresh"],
            "access": tokens["access"],
            "expires": now_ms() - 1,
        },
        "google-gemini-cli": OTHERS["google-gemini-cli"],
    }
    write_json(real_pi.auth_json, doc)
    return doc


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def pi_tui_token(real_pi: RealPi, fake: FakeProviders) -> subprocess.Popen[str]:
    return start_cli("token", "anthropic", "--agent-dir", str(real_pi.agent_dir), env=fake.env())


def finished(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def assert_refreshed_and_kept(
    real_pi: RealPi, fake: FakeProviders, printed: str, before: dict[str, Any]
) -> dict[str, Any]:
    """One refresh, the printed token is the stored one and live, pi's entries all kept."""
    doc = read_json(real_pi.auth_json)
    assert fake.count("anthropic.refresh") == 1
    assert doc["anthropic"]["access"] == printed and printed != before["anthropic"]["access"]
    assert fake.anthropic.is_access_valid(printed)
    assert fake.anthropic.is_refresh_valid(doc["anthropic"]["refresh"])
    for key, entry in OTHERS.items():
        assert doc[key] == entry, f"{key} changed"
    assert leftovers(real_pi.agent_dir) == []
    return doc


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_pi_holding_its_lock_keeps_pi_tui_waiting_and_both_writes_land(
    real_pi: RealPi, fake: FakeProviders, mode: str
) -> None:
    before = seed_due_anthropic(real_pi, fake)
    holder = real_pi.store("hold", mode=mode, provider="openrouter", entry=PI_ENTRY)
    holder.wait_for("locked")
    assert real_pi.lock_dir.is_dir()
    raw = real_pi.auth_json.read_bytes()
    proc = pi_tui_token(real_pi, fake)

    # pi-tui gets three seconds to misbehave: while pi holds the lock it must not refresh or write.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"pi-tui did not wait for pi's lock: {finished(proc)}"
        assert fake.count("anthropic.refresh") == 0, "pi-tui refreshed while pi held the lock"
        assert real_pi.auth_json.read_bytes() == raw, "auth.json changed while pi held the lock"
        time.sleep(0.1)

    holder.send()
    holder.wait_for("released")
    assert holder.finish() == 0
    code, out, err = finished(proc)
    assert code == 0, err
    doc = assert_refreshed_and_kept(real_pi, fake, out.strip(), before)
    assert doc["openrouter"] == PI_ENTRY, "pi's write was lost"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_pi_tui_holding_the_lock_keeps_pi_out_until_it_has_written(
    real_pi: RealPi, fake: FakeProviders, mode: str
) -> None:
    before = seed_due_anthropic(real_pi, fake)
    fake.set_latency("anthropic.refresh", 2.0)
    proc = pi_tui_token(real_pi, fake)
    wait_until(lambda: fake.count("anthropic.refresh") == 1, "pi-tui's refresh request")
    assert real_pi.lock_dir.is_dir(), "pi-tui refreshes without pi's lock directory"

    # pi's synchronous path gives up after ~200 ms, so pi's callers try again: put-retry does.
    command = "put-retry" if mode == "sync" else "put"
    writer = real_pi.store(command, mode=mode, provider="openrouter", entry=PI_ENTRY)
    done = writer.wait_for("done")
    assert writer.finish() == 0
    code, out, err = finished(proc)
    assert code == 0, err

    printed = out.strip()
    # What pi read under its lock is what pi-tui wrote: pi got the lock only after pi-tui was done.
    assert done["seen"]["anthropic"]["access"] == printed, done
    doc = assert_refreshed_and_kept(real_pi, fake, printed, before)
    assert doc["openrouter"] == PI_ENTRY, "pi's write was lost"


def test_refresh_slower_than_pis_10s_staleness_keeps_pis_sync_path_out(
    real_pi: RealPi, fake: FakeProviders
) -> None:
    """pi's synchronous path takes any lock whose mtime is 10 s old: pi-tui must keep it fresh."""
    before = seed_due_anthropic(real_pi, fake)
    fake.set_latency("anthropic.refresh", 12.5)
    proc = pi_tui_token(real_pi, fake)
    wait_until(lambda: fake.count("anthropic.refresh") == 1, "pi-tui's refresh request")

    writer = real_pi.store("put-retry", provider="openrouter", entry=PI_ENTRY, deadline_ms=60_000)
    writer.wait_for("waiting")  # pi is refused at least once: pi-tui holds the lock
    oldest = 0.0
    while proc.poll() is None:
        with contextlib.suppress(FileNotFoundError):
            oldest = max(oldest, time.time() - real_pi.lock_dir.stat().st_mtime)
        time.sleep(0.2)
    code, out, err = finished(proc)
    done = writer.wait_for("done")
    assert writer.finish() == 0
    assert code == 0, err

    printed = out.strip()
    assert done["refusals"] >= 1
    assert done["seen"]["anthropic"]["access"] == printed, (
        f"pi's synchronous path got the lock before pi-tui was done (oldest lock mtime seen by pi: "
        f"{done['oldestLockMs']} ms, by the test: {oldest:.1f} s)"
    )
    doc = assert_refreshed_and_kept(real_pi, fake, printed, before)
    assert doc["openrouter"] == PI_ENTRY


def kill_pi_holding_the_lock(real_pi: RealPi) -> Path:
    """A pi that took its lock and was SIGKILLed: its lock directory stays."""
    holder = real_pi.store("hold", mode="async", provider="openrouter", entry=PI_ENTRY)
    holder.wait_for("locked")
    holder.kill()
    assert real_pi.lock_dir.is_dir()
    return real_pi.lock_dir


def test_lock_left_by_a_killed_pi_is_taken_over_once_stale(real_pi: RealPi, fake: FakeProviders) -> None:
    before = seed_due_anthropic(real_pi, fake)
    lock = kill_pi_holding_the_lock(real_pi)
    old = time.time() - 60
    os.utime(lock, (old, old))

    out = run_cli("token", "anthropic", "--agent-dir", str(real_pi.agent_dir), env=fake.env())

    assert out.returncode == 0, out.stderr
    doc = assert_refreshed_and_kept(real_pi, fake, out.stdout.strip(), before)
    # pi itself can lock and write again straight away (its synchronous path waits only ~200 ms).
    seen = real_pi.put("openrouter", PI_ENTRY, mode="sync")
    assert seen["anthropic"] == doc["anthropic"]


def test_fresh_lock_of_a_killed_pi_is_waited_for_until_30s_old(real_pi: RealPi, fake: FakeProviders) -> None:
    before = seed_due_anthropic(real_pi, fake)
    lock = kill_pi_holding_the_lock(real_pi)
    young = time.time() - 25
    os.utime(lock, (young, young))
    stale_at = lock.stat().st_mtime + 30

    out = run_cli("token", "anthropic", "--agent-dir", str(real_pi.agent_dir), env=fake.env())

    assert out.returncode == 0, out.stderr
    assert_refreshed_and_kept(real_pi, fake, out.stdout.strip(), before)
    (request,) = fake.requests_for("anthropic.refresh")
    sent_at = request.time + (time.time() - time.monotonic())  # the fake's clock → wall clock
    assert sent_at >= stale_at - 0.5, f"pi-tui took a {30 - (stale_at - sent_at):.1f} s old lock"


@pytest.mark.parametrize(
    "wait",
    [
        # pi-tui's default 35 s outlasts pi-tui's 30 s staleness rule: only pi's refreshes (every
        # 15 s) keep pi-tui from taking over. The one test that must wait that long.
        pytest.param(None, id="35s-past-staleness", marks=pytest.mark.slow),
        pytest.param("1", id="1s"),
    ],
)
def test_live_pi_holding_its_lock_is_never_robbed(
    real_pi: RealPi, fake: FakeProviders, wait: str | None
) -> None:
    """pi's async holder refreshes its mtime only every 15 s: pi-tui gives up, with a sentence."""
    seed_due_anthropic(real_pi, fake)
    holder = real_pi.store("hold", mode="async", provider="openrouter", entry=PI_ENTRY)
    holder.wait_for("locked")

    env = fake.env() | ({"PI_TUI_LOCK_TIMEOUT": wait} if wait else {})
    out = run_cli("token", "anthropic", "--agent-dir", str(real_pi.agent_dir), env=env, timeout=120)

    assert out.returncode != 0 and out.stdout == ""
    *before, sentence = out.stderr.strip().splitlines()
    assert f"{real_pi.lock_dir} for {wait or 35} s" in sentence, out.stderr
    # Before the sentence that ends it, at most one line: said once the wait passed a second.
    assert len(before) == (1 if wait is None else len(before)) and len(before) <= 1, out.stderr
    assert all(line.startswith("pi-tui: Waiting for the lock on auth.json") for line in before)
    assert "Traceback" not in out.stderr
    assert fake.count("anthropic.refresh") == 0
    # pi still holds its lock (proper-lockfile would call it compromised otherwise) and writes.
    holder.send()
    holder.wait_for("released")
    assert holder.finish() == 0
    doc = read_json(real_pi.auth_json)
    assert doc["openrouter"] == PI_ENTRY and doc["anthropic"]["expires"] < now_ms()
    assert leftovers(real_pi.agent_dir) == []


def test_no_lock_directory_is_left_after_any_pi_tui_command(real_pi: RealPi, fake: FakeProviders) -> None:
    agent = str(real_pi.agent_dir)

    def pi_tui(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, "--agent-dir", agent, env=fake.env())
        assert leftovers(real_pi.agent_dir) == [], f"left behind by pi-tui {' '.join(args)}: {result}"
        # pi's synchronous path (ten tries, 200 ms) gets the lock at once: nothing at the lock path.
        real_pi.put("openrouter", PI_ENTRY, mode="sync")
        return result

    seed_due_anthropic(real_pi, fake)
    copilot = {"type": "oauth", "refresh": fake.github.seed_login(), "access": "x", "expires": 0}
    real_pi.put("github-copilot", copilot)
    assert pi_tui("status").returncode == 0
    assert pi_tui("status", "--json").returncode == 0
    fake.fail("anthropic.refresh", status=502, body="<html>bad gateway</html>", content_type="text/html")
    assert pi_tui("token", "anthropic").returncode != 0  # the refresh fails
    assert pi_tui("token", "anthropic").returncode == 0  # the refresh works
    assert pi_tui("token", "anthropic").returncode == 0  # nothing due
    assert pi_tui("logout", "github-copilot", "--yes").returncode == 0
    assert pi_tui("migrate").returncode == 0  # nothing to migrate

    for sig in (signal.SIGTERM, signal.SIGINT):
        doc = read_json(real_pi.auth_json)
        doc["anthropic"]["expires"] = now_ms() - 1
        write_json(real_pi.auth_json, doc)
        fake.set_latency("anthropic.refresh", 1.0)
        refreshes = fake.count("anthropic.refresh")
        proc = start_cli("token", "anthropic", "--agent-dir", agent, env=fake.env())
        wait_until(lambda n=refreshes: fake.count("anthropic.refresh") > n, "pi-tui's refresh")
        proc.send_signal(sig)
        code, _, err = finished(proc)
        assert code != 0 and "Traceback" not in err, err
        assert leftovers(real_pi.agent_dir) == [], f"lock left after {sig.name}"
        saved = read_json(real_pi.auth_json)["anthropic"]
        assert fake.anthropic.is_refresh_valid(saved["refresh"]), "the answer in flight was not saved"
        real_pi.put("openrouter", PI_ENTRY, mode="sync")
