"""A separate process that uses the credential store, for the tests in tests/store/test_store.py.

store_worker.py write PATH PROVIDER ENTRY_JSON STEP SIGNAL
    put ENTRY_JSON as PROVIDER's login, sending SIGNAL (KILL, INT or NONE) to this process
    when the write reaches STEP (one of app.store.WRITE_STEPS)
store_worker.py hold PATH
    take the store lock, print "locked", and hold it until stdin is closed
store_worker.py churn PATH COUNT
    write COUNT different, large anthropic logins one after the other
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.store import CredentialStore


def write(path: str, provider: str, entry_json: str, step: str, signal_name: str) -> None:
    """Put one entry and interrupt this process at ``step`` with ``signal_name``."""

    def on_step(name: str) -> None:
        if name == step and signal_name != "NONE":
            os.kill(os.getpid(), getattr(signal, f"SIG{signal_name}"))

    CredentialStore(Path(path), on_step=on_step).put(provider, json.loads(entry_json))


def hold(path: str) -> None:
    """Hold the lock until the parent closes our stdin."""
    with CredentialStore(Path(path)).transaction():
        print("locked", flush=True)
        sys.stdin.read()


def churn(path: str, count: str) -> None:
    """Write many large entries so a reader has every chance to catch a half-written file."""
    store = CredentialStore(Path(path))
    for i in range(int(count)):
        padding = f"{i:08d}" * 20_000
        store.put(
            "anthropic",
            {"type": "oauth", "access": f"a{i}", "refresh": f"r{i}", "expires": i, "pad": padding},
        )


if __name__ == "__main__":
    commands: dict[str, Callable[..., None]] = {"write": write, "hold": hold, "churn": churn}
    commands[sys.argv[1]](*sys.argv[2:])
