"""A pi-tui process that SIGKILLs itself at the Nth step of any store or vault write.

    crash_switch.py N ARGS...     app.cli.main(ARGS), e.g. ``switch anthropic ada``

Every CredentialStore and AccountVault built in this process reports its steps (lock taken,
temp file written, fsynced, renamed, …; the vault's prefixed ``vault:``) to one counter; at the
Nth the process kills itself, so the kill lands exactly there. With N = 0 nothing is killed and
each step's name is printed on stderr (``step NAME``), for the test to count them.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.accounts import AccountVault
from app.store import CredentialStore


def arm(n: int) -> None:
    seen = 0

    def on_step(name: str) -> None:
        nonlocal seen
        seen += 1
        if n == 0:
            print(f"step {name}", file=sys.stderr, flush=True)
        elif seen == n:
            os.kill(os.getpid(), signal.SIGKILL)

    for cls in (CredentialStore, AccountVault):
        original = cls.__init__

        def init(self: Any, path: Path, *, _original: Any = original, **kwargs: Any) -> None:
            kwargs.setdefault("on_step", on_step)
            _original(self, path, **kwargs)

        cls.__init__ = init  # type: ignore[method-assign]


if __name__ == "__main__":
    arm(int(sys.argv[1]))
    from app.cli import main

    sys.exit(main(sys.argv[2:]))
