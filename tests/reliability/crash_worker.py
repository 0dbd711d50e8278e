"""A pi-tui process that signals itself when a store write reaches a given step.

    crash_worker.py STEP SIGNAL login PROVIDER ENTRY_JSON [AGENT_DIR]
        AuthService.save_login, the write a finished login makes
    crash_worker.py STEP SIGNAL cli ARGS...
        app.cli.main(ARGS), e.g. ``token anthropic`` (a refresh) or ``logout anthropic --yes``

SIGNAL is KILL or INT; it is sent the first time any store of this process reaches STEP (one of
app.store.WRITE_STEPS), from inside the ``on_step`` hook, so it lands exactly there.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.store import CredentialStore


def arm(step: str, signal_name: str) -> None:
    """Make every CredentialStore built from now on signal this process at ``step``, once."""
    fired = False
    signum = getattr(signal, f"SIG{signal_name}")

    def on_step(name: str) -> None:
        nonlocal fired
        if name == step and not fired:
            fired = True
            os.kill(os.getpid(), signum)

    original = CredentialStore.__init__

    def init(self: CredentialStore, path: Path, **kwargs: Any) -> None:
        kwargs.setdefault("on_step", on_step)
        original(self, path, **kwargs)

    CredentialStore.__init__ = init  # type: ignore[method-assign]


def login(provider: str, entry_json: str, agent_dir: str) -> int:
    from app.service import AuthService

    store = CredentialStore(Path(agent_dir) / "oauth.json")
    asyncio.run(AuthService(store).save_login(provider, json.loads(entry_json)))
    return 0


def main(argv: list[str]) -> int:
    step, signal_name, command, *rest = argv
    arm(step, signal_name)
    if command == "login":
        return login(*rest)
    from app.cli import main as cli_main

    return cli_main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
