"""Run the real pi 1.6.0 next to pi-tui: its CLI, its own store class, and a tripwire for its network.

pi is pointed at a test's agent directory with ``PI_CODING_AGENT_DIR`` and at a throwaway
``HOME``. It has no setting for its OAuth URLs, so it must never need them: the tests only hand
it tokens that are far from due (``print-bearer-token`` refreshes anything with less than
30 minutes left) or use ``check --no-refresh``. Should pi still try the network, every HTTP(S)
proxy variable points at :class:`Tripwire`, a loopback listener that records the attempt and
answers nothing; the ``real_pi`` fixture fails the test if anything reached it.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.interop.install import PiInstall
from tests.processes import clean_env

HERE = Path(__file__).resolve().parent
STORE_SCRIPT = HERE / "pi_store.mjs"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


class Tripwire:
    """A loopback listener standing in for every proxy: records the first line of each connection."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        # accept() wakes up often to look at _stop: the socket may only be closed once the thread
        # has ended. Closed under a thread still in accept(), its descriptor number goes to the
        # next socket this process opens (a fake provider's listener), whose connections that
        # thread would then take and drop.
        self._server.settimeout(0.1)
        self._stop = threading.Event()
        self.hits: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True, name="pi-tripwire")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    first = connection.recv(1024).split(b"\r\n", 1)[0]
                except OSError:
                    first = b"(nothing)"
                self.hits.append(first.decode("latin-1"))

    def close(self) -> None:
        """Stop the thread, then close the socket (never the other way round)."""
        self._stop.set()
        self._thread.join()
        self._server.close()


class StoreScript:
    """One running ``pi_store.mjs``: its JSON events, its stdin, its end."""

    def __init__(self, argv: list[str], env: Mapping[str, str]) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
        )
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "garbage", "line": line}
            self._queue.put(event)
        self._queue.put(None)

    def wait_for(self, name: str, timeout: float = 60) -> dict[str, Any]:
        """The next event called ``name``; fails on an ``error`` event, an exit or the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                event = self._queue.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(f"pi's store script gave no {name!r} in {timeout:.0f} s") from None
            if event is None:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"pi's store script ended before {name!r}: {self.events} {stderr}")
            self.events.append(event)
            if event["event"] == name:
                return event
            if event["event"] == "error":
                raise AssertionError(f"pi's store script failed: {event}")

    def send(self, line: str = "go") -> None:
        """Write one line to the script's stdin (a ``hold`` lets go of the lock)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 60) -> int:
        """Wait for the exit; the exit code."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no exit handler runs, so pi leaves its lock directory behind."""
        self.proc.kill()
        self.proc.wait(30)


class RealPi:
    """pi 1.6.0 bound to one agent directory."""

    def __init__(self, install: PiInstall, agent_dir: Path, home: Path, tripwire: Tripwire) -> None:
        self.install = install
        self.agent_dir = agent_dir
        self.home = home
        self.tripwire = tripwire

    @property
    def auth_json(self) -> Path:
        return self.agent_dir / "auth.json"

    @property
    def lock_dir(self) -> Path:
        """proper-lockfile's lock: ``<realpath of auth.json>.lock``, a directory."""
        return self.agent_dir / "auth.json.lock"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """pi's environment: this agent directory, a scratch home, offline, proxies to the tripwire."""
        env = clean_env()
        for name in (*_PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
            env.pop(name, None)
        env.update({name: self.tripwire.url for name in _PROXY_VARIABLES})
        env.update(
            {
                "PI_CODING_AGENT_DIR": str(self.agent_dir),
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.home / ".config"),
                "PI_OFFLINE": "1",
                "PI_SKIP_VERSION_CHECK": "1",
                "PI_AUTH_STORAGE": str(self.install.auth_storage),
                "NO_COLOR": "1",
            }
        )
        env.update(extra or {})
        return env

    def cli(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """``pi ARGS`` to completion, output captured."""
        return subprocess.run(
            [str(self.install.node), str(self.install.cli), *args],
            capture_output=True,
            text=True,
            env=self.env(env),
            cwd=self.home,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def store(self, command: str, **options: Any) -> StoreScript:
        """Start ``pi_store.mjs COMMAND --path auth.json --option value…`` (dicts become JSON)."""
        argv = [str(self.install.node), str(STORE_SCRIPT), command, "--path", str(self.auth_json)]
        for name, value in options.items():
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            argv += [f"--{name.replace('_', '-')}", text]
        return StoreScript(argv, self.env())

    def put(self, provider: str, entry: dict[str, Any], *, mode: str = "async") -> dict[str, Any]:
        """One write by pi's store class; what pi read under the lock."""
        script = self.store("put", mode=mode, provider=provider, entry=entry)
        done = script.wait_for("done")
        assert script.finish() == 0
        return done["seen"]  # type: ignore[no-any-return]


def pi_tui_store(agent_dir: Path) -> Any:
    """The store ``pi-tui --agent-dir AGENT_DIR`` would use (same selection as the CLI)."""
    from app.cli import _store

    return _store(argparse.Namespace(agent_dir=str(agent_dir)), {})


def read_json(path: Path) -> dict[str, Any]:
    """The file parsed (a torn or half-written file fails here); a leading BOM is allowed."""
    doc = json.loads(path.read_bytes().decode("utf-8").removeprefix("\ufeff"))
    assert isinstance(doc, dict), f"{path} holds {type(doc).__name__}, not an object"
    return doc


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` the way pi does (2-space JSON, no trailing newline, 0600, directory 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps(doc, indent=2))
    os.chmod(path, 0o600)


def leftovers(agent_dir: Path) -> list[str]:
    """Lock directories, lock files and temp files left in the agent directory."""
    return sorted(name for name in os.listdir(agent_dir) if name.endswith(".lock") or ".tmp" in name)
