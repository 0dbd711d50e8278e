"""pi's lock on auth.json: a directory made with mkdir, kept fresh, taken over only when stale.

The intervals are injected (``lock_heartbeat``, ``lock_stale``) so a hold "longer than pi's 10 s
rule" is a hold of many heartbeats, not ten seconds of sleep. Against the real pi: tests/interop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from app.errors import StoreLockLost, StoreLockTimeout, StoreUnsafe
from app.store import CredentialStore
from tests.fakes.server import FakeProviders
from tests.processes import run_cli, start_cli


def login(tag: str = "1", **extra: Any) -> dict[str, Any]:
    return {"type": "oauth", "refresh": f"refresh-{tag}", "access": f"access-{tag}", "expires": 1, **extra}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "agent" / "auth.json"


@pytest.fixture
def store(path: Path) -> CredentialStore:
    return CredentialStore(path, lock_timeout=5.0)


def lock_dir(path: Path) -> Path:
    return path.with_name("auth.json.lock")


def wait_until(condition: Any, what: str, timeout: float = 30.0) -> None:
    """Wait for ``condition()`` (not a timed assertion: the bound is only a hang guard)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def make_lock(path: Path, age: float = 0.0) -> Path:
    """A lock directory as another process (pi) would leave it, ``age`` seconds old."""
    lock = lock_dir(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.mkdir()
    when = time.time() - age
    os.utime(lock, (when, when))
    return lock


def test_mkdir_is_the_lock_and_rmdir_releases_it(store: CredentialStore, path: Path) -> None:
    assert store.uses_pi_lock and store.lock_path == lock_dir(path)
    with store.transaction() as tx:
        assert lock_dir(path).is_dir()  # a directory, never a plain file
        tx.put("anthropic", login())
    assert not os.path.lexists(lock_dir(path))
    assert json.loads(path.read_text()) == {"anthropic": login()}
    assert sorted(os.listdir(path.parent)) == ["auth.json"]


def test_lock_is_released_when_the_block_raises(store: CredentialStore, path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        raise RuntimeError("boom")
    assert not os.path.lexists(lock_dir(path))


def test_auth_json_path_needs_no_fcntl(path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['fcntl'] = None  # as on a platform without it\n"
        "from pathlib import Path\n"
        "from app.store import CredentialStore\n"
        f"s = CredentialStore(Path({str(path)!r}))\n"
        "s.put('anthropic', {'type': 'oauth', 'refresh': 'r', 'access': 'a', 'expires': 1})\n"
        "print(s.get('anthropic')['access'])\n"
    )
    out = run_cli_python(code)
    assert out.returncode == 0 and out.stdout.strip() == "a", out.stderr


def run_cli_python(code: str) -> Any:
    from tests.processes import run_python

    return run_python("-c", code)


def test_heartbeat_keeps_the_lock_fresh_for_as_long_as_it_is_held(path: Path) -> None:
    holder = CredentialStore(path, lock_heartbeat=0.05)
    # pi's synchronous path: a lock older than its stale age is taken as abandoned.
    impatient = CredentialStore(path, lock_timeout=3.0, lock_stale=1.0)
    with holder.transaction() as tx:
        seen = {os.stat(lock_dir(path)).st_mtime_ns}
        wait_until(lambda: seen.add(os.stat(lock_dir(path)).st_mtime_ns) or len(seen) >= 4, "heartbeats")
        # Held for three times the other side's stale age: it must wait, never take over.
        with pytest.raises(StoreLockTimeout):
            impatient.put("github-copilot", login("gh"))
        tx.put("anthropic", login())  # still ours: the write goes through
    assert json.loads(path.read_text()) == {"anthropic": login()}
    assert not os.path.lexists(lock_dir(path))


def test_a_fresh_lock_of_another_process_is_waited_for_with_one_sentence(path: Path) -> None:
    lock = make_lock(path, age=5)  # pi's async holder touches it every 15 s: alive
    store = CredentialStore(path, lock_timeout=0.3)
    with pytest.raises(StoreLockTimeout) as caught:
        store.put("anthropic", login())
    message = str(caught.value)
    assert message.startswith(f"Another pi or pi-tui process has held the lock {lock} for 0.3 s")
    assert f"rmdir {lock}" in message
    assert lock.is_dir() and not path.exists()  # neither taken over nor written


def test_a_lock_released_while_we_wait_is_taken(path: Path) -> None:
    lock = make_lock(path)
    timer = threading.Timer(0.3, lock.rmdir)
    timer.start()
    try:
        CredentialStore(path, lock_timeout=10).put("anthropic", login())
    finally:
        timer.cancel()
    assert json.loads(path.read_text()) == {"anthropic": login()}
    assert not os.path.lexists(lock)


@pytest.mark.parametrize("age", [31.0, 3600.0])
def test_an_abandoned_lock_older_than_30_s_is_taken_over(path: Path, age: float) -> None:
    lock = make_lock(path, age=age)
    CredentialStore(path, lock_timeout=1.0).put("anthropic", login())
    assert json.loads(path.read_text()) == {"anthropic": login()}
    assert not os.path.lexists(lock)
    assert sorted(os.listdir(path.parent)) == ["auth.json"]  # nothing left aside


def test_a_lock_younger_than_the_stale_age_is_not_taken_over(path: Path) -> None:
    make_lock(path, age=25)
    with pytest.raises(StoreLockTimeout):
        CredentialStore(path, lock_timeout=0.2).put("anthropic", login())
    make_lock_age = CredentialStore(path, lock_timeout=1.0, lock_stale=20.0)
    make_lock_age.put("anthropic", login())  # the same lock, with a shorter stale age: taken
    assert json.loads(path.read_text()) == {"anthropic": login()}


def test_lock_taken_over_while_held_means_nothing_is_written(store: CredentialStore, path: Path) -> None:
    store.put("anthropic", login("old"))
    before = path.read_bytes()
    with store.transaction() as tx:
        lock_dir(path).rmdir()  # another process decided ours was abandoned…
        lock_dir(path).mkdir()  # …and made its own
        with pytest.raises(StoreLockLost, match="took over the lock"):
            tx.put("anthropic", login("new"))
    assert path.read_bytes() == before
    assert lock_dir(path).is_dir()  # theirs: not ours to remove
    lock_dir(path).rmdir()


def test_racing_takers_of_one_abandoned_lock_exclude_each_other(path: Path) -> None:
    """Every round, several threads find the same stale lock; each must get it alone.

    Takers take turns (an flock on the directory) and look again before moving the lock, so
    none moves the fresh lock another has just made: nobody loses the lock, nobody's write is
    refused, and no thread dies of a lock that vanished under it.
    """
    inside, most, lost, died = [0], [0], [], []
    guard = threading.Lock()

    def worker(name: str, gate: threading.Barrier) -> None:
        store = CredentialStore(path, lock_timeout=20)
        gate.wait()
        try:
            with store.transaction() as tx:
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.005)
                with guard:
                    inside[0] -= 1
                tx.put(name, login(name))
        except StoreLockLost as exc:  # a victim of a takeover would write nothing
            lost.append(str(exc))
        except BaseException as exc:
            died.append(repr(exc))

    names: list[str] = []
    for round_ in range(40):
        make_lock(path, age=60)
        gate = threading.Barrier(4)
        threads = [threading.Thread(target=worker, args=(f"p{round_}-{i}", gate)) for i in range(4)]
        names += [f"p{round_}-{i}" for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert most[0] == 1, "two holders at once"
    assert (lost, died) == ([], [])
    assert sorted(json.loads(path.read_text())) == sorted(names)
    assert not os.path.lexists(lock_dir(path))
    assert sorted(os.listdir(path.parent)) == ["auth.json"]


def test_a_plain_file_at_the_lock_path_is_refused_and_left_alone(store: CredentialStore, path: Path) -> None:
    path.parent.mkdir()
    lock_dir(path).write_text("12345")
    with pytest.raises(StoreUnsafe, match="is a plain file, not pi's lock directory"):
        store.put("anthropic", login())
    assert lock_dir(path).read_text() == "12345" and not path.exists()


def test_a_plain_file_at_the_lock_path_exits_3_with_a_sentence(tmp_path: Path, path: Path) -> None:
    path.parent.mkdir()
    path.write_text(json.dumps({"anthropic": {"type": "api_key", "key": "sk-ant-api03-literal-key-1234"}}))
    path.chmod(0o600)
    lock_dir(path).write_text("")
    out = run_cli("logout", "anthropic", "--yes", "--agent-dir", str(path.parent))
    assert out.returncode == 3, out.stderr
    assert f"{lock_dir(path)} is a plain file" in out.stderr and "Traceback" not in out.stderr
    assert "anthropic" in json.loads(path.read_text())


def test_a_lock_directory_of_another_user_is_refused(store: CredentialStore, path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a directory another user owns needs root")
    lock = make_lock(path, age=3600)  # even an old one: not ours to take
    os.chown(lock, 65534, 65534)
    with pytest.raises(StoreUnsafe, match=r"belongs to another user \(uid 65534\)"):
        store.put("anthropic", login())
    assert lock.is_dir() and not path.exists()


def test_waiting_ends_when_unless_says_so(path: Path) -> None:
    make_lock(path)
    asked: list[int] = []
    store = CredentialStore(path, lock_timeout=10)
    with store.transaction(unless=lambda: asked.append(1) or len(asked) >= 3) as tx:
        assert not tx.held
    assert len(asked) == 3
    lock_dir(path).rmdir()
    with store.transaction(unless=lambda: True) as tx:
        assert tx.held


async def test_async_transactions_exclude_each_other_and_release(store: CredentialStore, path: Path) -> None:
    order: list[str] = []

    async def writer(name: str) -> None:
        async with store.transaction() as tx:
            order.append(f"in-{name}")
            await asyncio.sleep(0.05)
            order.append(f"out-{name}")
            tx.put(name, login(name))

    await asyncio.gather(writer("a"), writer("b"))
    assert order in (["in-a", "out-a", "in-b", "out-b"], ["in-b", "out-b", "in-a", "out-a"])
    assert set(json.loads(path.read_text())) == {"a", "b"}
    assert not os.path.lexists(lock_dir(path))


async def test_task_cancelled_while_waiting_never_keeps_the_lock(path: Path) -> None:
    lock = make_lock(path)
    store = CredentialStore(path, lock_timeout=10)

    async def wait_for_it() -> None:
        async with store.transaction():
            pass

    task = asyncio.ensure_future(wait_for_it())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lock.rmdir()
    await asyncio.sleep(0.1)
    assert not os.path.lexists(lock)


# --- the command line: no lock directory left behind ------------------------------------------


def seed_due_login(path: Path, fake: FakeProviders) -> dict[str, Any]:
    tokens = fake.anthropic.seed_login()
    entry = {"type": "oauth", "refresh": tokens["refresh"], "access": tokens["access"], "expires": 0}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"anthropic": entry, "pi-only": {"type": "api_key", "key": "x"}}))
    path.chmod(0o600)
    return entry


def test_no_lock_directory_is_left_after_any_command(path: Path, fake: FakeProviders) -> None:
    seed_due_login(path, fake)
    agent = str(path.parent)
    for args in (
        ["status"],
        ["status", "--json"],
        ["token", "anthropic"],  # refreshes under the lock
        ["token", "anthropic"],  # fresh now: no lock at all
        ["migrate"],
        ["logout", "anthropic", "--yes"],
        ["logout", "pi-only", "--yes"],  # an unknown provider: a usage error
    ):
        out = run_cli(*args, "--agent-dir", agent, env=fake.env())
        assert "Traceback" not in out.stderr, out.stderr
        assert not os.path.lexists(lock_dir(path)), f"{args} left the lock behind"
    assert json.loads(path.read_text()) == {"pi-only": {"type": "api_key", "key": "x"}}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_a_refresh_saves_the_answer_and_removes_the_lock(
    path: Path, fake: FakeProviders, sig: signal.Signals
) -> None:
    old = seed_due_login(path, fake)
    fake.set_latency("anthropic.refresh", 1.0)
    process = start_cli("token", "anthropic", "--agent-dir", str(path.parent), env=fake.env())
    try:
        wait_until(lambda: fake.count("anthropic.refresh") > 0 or process.poll() is not None, "the refresh")
        assert lock_dir(path).is_dir()  # held while the request is out
        process.send_signal(sig)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert not os.path.lexists(lock_dir(path))
    saved = json.loads(path.read_text())["anthropic"]
    assert saved["refresh"] != old["refresh"] and fake.anthropic.is_refresh_valid(saved["refresh"])


def test_sigterm_while_holding_the_lock_outside_token_still_removes_it(path: Path) -> None:
    """Any holder in the main thread routes SIGTERM through Ctrl-C, so the directory goes."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from app.store import CredentialStore\n"
        f"s = CredentialStore(Path({str(path)!r}))\n"
        "try:\n"
        "    with s.transaction():\n"
        "        print('held', flush=True)\n"
        "        time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    import subprocess
    import sys

    from tests.processes import ROOT, clean_env

    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=clean_env(), cwd=ROOT
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        assert lock_dir(path).is_dir()
        process.terminate()
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert not os.path.lexists(lock_dir(path))
