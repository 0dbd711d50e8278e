"""Run the fake providers standalone: ``python -m tests.fakes [--port N] [--latency S]``.

Prints one JSON line ``{"base": …, "env": {…}}`` to stdout, then serves until SIGTERM or
SIGINT. Drive it from another process with ``POST {base}/_control/<action>``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from tests.fakes.engine import FakeProviders


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="provider setting, e.g. github.interval=1 (VALUE is JSON, else a string)",
    )
    return parser.parse_args(argv)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``["github.interval=1", …]`` → ``{"github.interval": 1, …}``."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set needs KEY=VALUE, got {pair!r}")
        try:
            settings[key.strip()] = json.loads(raw)
        except ValueError:
            settings[key.strip()] = raw
    return settings


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status."""
    args = parse_args(argv)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    for stop_signal in stop_signals:
        signal.signal(stop_signal, signal.SIG_DFL)
    fake = FakeProviders(port=args.port)
    fake.latency = args.latency
    fake.configure(parse_settings(args.set))
    with fake:
        sys.stdout.write(json.dumps({"base": fake.base, "env": fake.env()}) + "\n")
        sys.stdout.flush()
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
