#!/usr/bin/env python3
"""Race pi's own refresh against ``pi-tui switch``, many rounds (the suite runs 30).

    .venv/bin/python scripts/accounts_race.py [--rounds 200] [--seed 1]

Each round (see tests/interop/accounts_race.py): both Anthropic accounts are due; pi 1.6.0's
store class refreshes the active one (rotating its single-use refresh token) while a
``pi-tui switch`` process makes the other active, refreshing it first from the vault. After each
round every account must be in exactly one file with the tokens the fake accepts.

Uses the real pi (installed as the interop tests install it) and the loopback fake; prints one
line of figures (runs, switches, refreshes, lost). Exit status 0 when nothing was lost.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.server import FakeProviders  # noqa: E402  (needs the path above)
from tests.interop.accounts_race import run_race  # noqa: E402
from tests.interop.install import install_pi  # noqa: E402
from tests.interop.real_pi import RealPi, Tripwire  # noqa: E402
from tests.processes import PROCESS_HOME  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200, help="switches to race (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="the random order of pi and the switch")
    args = parser.parse_args(argv)
    install = install_pi()
    with tempfile.TemporaryDirectory(prefix="pi-tui-accounts-race-") as scratch:
        base = Path(scratch)
        # pi-tui's state file and every process's home stay in the scratch directory.
        os.environ["PI_TUI_STATE_DIR"] = str(base / "state")
        os.environ[PROCESS_HOME] = str(base / "home")
        (base / "pi-home").mkdir()
        tripwire = Tripwire()
        try:
            with FakeProviders() as fake:
                real_pi = RealPi(install, base / "agent", base / "pi-home", tripwire)
                real_pi.cli("auth", "check", "--provider", "anthropic")
                figures = run_race(real_pi, fake, args.rounds, seed=args.seed)
        finally:
            tripwire.close()
    print(figures.line())
    for problem in figures.problems:
        print(f"  {problem}")
    if tripwire.hits:
        print(f"  pi tried to reach the network: {tripwire.hits}")
    return 0 if not figures.problems and not tripwire.hits and figures.lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
