"""Run a pi-tui entry point with OS calls of the credential store made to fail.

    fault_runner.py [--fail FUNC:ERRNO[:SUBSTRING]]... cli ARGS...
    fault_runner.py [--fail ...] login AGENT_DIR

``--fail write:ENOSPC`` makes every ``os.write`` that app/store.py makes raise
``OSError(ENOSPC)``; with a SUBSTRING, only calls whose first argument contains it (e.g.
``open:EROFS:.tmp``: creating the temp file fails as in a read-only directory). The fault sits at
the OS-call boundary of the store module only: the rest of the process is untouched.

``cli`` runs ``app.cli.main(ARGS)``. ``login`` stores a new Anthropic login through
``AuthService.save_login``, the write a finished login makes, reporting errors the way the
command line does (``pi-tui: <sentence>`` on stderr, the error's exit code).
"""

from __future__ import annotations

import asyncio
import errno
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import app.store
import app.store.document
import app.store.locks
from app.errors import PiTuiError

NEW_LOGIN = {
    "type": "oauth",
    "refresh": "sk-ant-ort01-new-login-refresh",
    "access": "sk-ant-oat01-new-login-access",
    "expires": 4_102_444_800_000,
}


class FaultyOs:
    """Stands in for the ``os`` module inside app.store; named functions fail with an errno."""

    def __init__(self, faults: dict[str, tuple[int, str | None]]) -> None:
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name not in self._faults:
            return real
        code, substring = self._faults[name]
        return _failing(real, code, substring)


def _failing(real: Callable[..., Any], code: int, substring: str | None) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if substring is None or (args and substring in str(args[0])):
            raise OSError(code, os.strerror(code), str(args[0]) if args else None)
        return real(*args, **kwargs)

    return call


def parse_faults(argv: list[str]) -> tuple[dict[str, tuple[int, str | None]], list[str]]:
    faults: dict[str, tuple[int, str | None]] = {}
    while argv and argv[0] == "--fail":
        function, name, *substring = argv[1].split(":", 2)
        faults[function] = (getattr(errno, name), substring[0] if substring else None)
        argv = argv[2:]
    return faults, argv


def login(agent_dir: str) -> int:
    from app.service import AuthService

    store = app.store.CredentialStore(Path(agent_dir) / "oauth.json")
    entry = NEW_LOGIN | {"expires": int(time.time() * 1000) + 3_600_000}
    try:
        result = asyncio.run(AuthService(store).save_login("anthropic", entry))
    except PiTuiError as exc:
        print(f"pi-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    print(result.message)
    if store.last_backup is not None:
        print(f"The unreadable file was kept as {store.last_backup}")
    return 0


def main(argv: list[str]) -> int:
    faults, rest = parse_faults(argv)
    if faults:
        for module in (app.store, app.store.document, app.store.locks):
            module.os = FaultyOs(faults)  # type: ignore[attr-defined]
    command, *args = rest
    if command == "login":
        return login(*args)
    from app.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
