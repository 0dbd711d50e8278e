"""``pi-tui switch`` SIGKILLed at every step of its writes: every account survives, in one file.

A switch is three atomic writes of two files (vault, pi's ``auth.json``, vault), so between them
an account can sit in both files; the vault's ``pending`` note says which move was under way and
every reader settles it (``pi-tui accounts`` shows each account once, the right one active), and
the next change leaves each account in exactly one file. Nothing is ever lost — except, as for
``pi-tui token``, a vault account's rotated refresh token when the process dies after the server
answered and before the vault's rename (the answer dies with it; pinned below).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from app import cli
from app.accounts import VAULT_NAME, add_account
from app.store import WRITE_STEPS, CredentialStore
from tests.accounts.helpers import ADA, BOB, login_entry, now_ms, read, vault_records
from tests.fakes.server import FakeProviders
from tests.processes import clean_env, run_python

WORKER = Path(__file__).with_name("crash_switch.py")
WRITE = [step for step in WRITE_STEPS if step != "lock-acquired"]
VAULT_WRITE = [f"vault:{step}" for step in WRITE]
# The switch's steps, in order: pi's lock, the vault's lock, the three writes.
SWITCH_STEPS = ["lock-acquired", "vault:lock-acquired", *VAULT_WRITE, *WRITE, *VAULT_WRITE]
# Switching to a due vault account first refreshes it under the vault's lock alone.
REFRESH_STEPS = ["vault:lock-acquired", *VAULT_WRITE]
PI_RENAMED = SWITCH_STEPS.index("renamed")


def setup(agent: Path, fake: FakeProviders, *, due: bool) -> None:
    """Bob active in pi's auth.json; Ada in the vault (due when ``due``)."""
    store = CredentialStore(agent / "auth.json")
    ada = login_entry(fake, ADA, expires=now_ms() - 1 if due else None)
    add_account(store, "anthropic", ada, ADA, "work", env=fake.env())
    add_account(store, "anthropic", login_entry(fake, BOB), BOB, env=fake.env())


def owners(agent: Path, fake: FakeProviders) -> dict[str, list[str]]:
    """Each account whose live login the two files hold: in which file(s)."""
    found: dict[str, list[str]] = {}
    entries = [("pi", read(agent / "auth.json").get("anthropic"))]
    entries += [("vault", r["entry"]) for r in vault_records(agent)]
    for where, entry in entries:
        if entry is None:
            continue
        session = fake.anthropic.session_for(entry["access"])
        live = session is not None and fake.anthropic.is_refresh_valid(entry["refresh"])
        found.setdefault(session.account if live and session else "(spent)", []).append(where)
    return found


def take_over_abandoned_lock(agent: Path) -> None:
    """The killed switch leaves pi's lock directory; aged past pi's 30 s it is taken over."""
    lock = agent / "auth.json.lock"
    if lock.exists():
        long_ago = time.time() - 3600
        os.utime(lock, (long_ago, long_ago))


def pi_tui(capsys: pytest.CaptureFixture[str], *args: str, env: dict[str, str] | None = None) -> str:
    """``pi-tui ARGS`` run after the kill, in this process (under the test's own HOME, the
    ``home`` fixture): only the killed switch needs a process of its own; what then reads and
    changes its files is the same code, without a start-up each time. Exit 0; returns stdout."""
    sigterm = signal.getsignal(signal.SIGTERM)  # the switch sets a handler of its own
    capsys.readouterr()
    try:
        code = cli.main(list(args), env=clean_env(env))
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def listed(agent: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, bool]]:
    out = pi_tui(capsys, "accounts", "anthropic", "--json", "--agent-dir", str(agent))
    return [(r["account"], r["active"]) for r in json.loads(out)["accounts"]]


@pytest.mark.parametrize("due", [False, True], ids=["fresh", "due"])
def test_the_switch_makes_exactly_these_steps(tmp_path: Path, fake: FakeProviders, due: bool) -> None:
    agent = tmp_path / "agent"
    setup(agent, fake, due=due)
    result = run_python(
        str(WORKER), "0", "switch", "anthropic", ADA, "--agent-dir", str(agent), env=fake.env()
    )
    assert result.returncode == 0, result.stderr
    steps = [line.removeprefix("step ") for line in result.stderr.splitlines() if line.startswith("step ")]
    assert steps == (REFRESH_STEPS if due else []) + SWITCH_STEPS


POINTS = [(False, n) for n in range(1, len(SWITCH_STEPS) + 1)]
POINTS += [(True, n) for n in range(1, len(REFRESH_STEPS) + len(SWITCH_STEPS) + 1)]


@pytest.mark.parametrize(("due", "n"), POINTS, ids=[f"{'due' if d else 'fresh'}-{n}" for d, n in POINTS])
def test_switch_killed_at_any_step_loses_no_account(
    tmp_path: Path, fake: FakeProviders, home: Path, capsys: pytest.CaptureFixture[str], due: bool, n: int
) -> None:
    agent = tmp_path / "agent"
    setup(agent, fake, due=due)
    steps = (REFRESH_STEPS if due else []) + SWITCH_STEPS
    step = steps[n - 1]
    refreshing = due and n <= len(REFRESH_STEPS)
    # Between the refresh answer and the vault's rename the answer exists only in the process.
    answer_dies = refreshing and REFRESH_STEPS.index(step) in range(1, REFRESH_STEPS.index("vault:renamed"))

    result = run_python(
        str(WORKER), str(n), "switch", "anthropic", ADA, "--agent-dir", str(agent), env=fake.env()
    )

    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    take_over_abandoned_lock(agent)
    switched = not refreshing and n - (len(REFRESH_STEPS) if due else 0) > PI_RENAMED
    active = ADA if switched else BOB
    # Settled as it is read: each account once, the active one as pi's file says.
    assert sorted(listed(agent, capsys)) == sorted([(ADA, active == ADA), (BOB, active == BOB)]), step
    held = owners(agent, fake)
    assert held.get(BOB), f"Bob's login was lost at {step}: {held}"
    if answer_dies:
        assert held.get("(spent)") == ["vault"] and ADA not in held, held
        return
    assert held.get(ADA), f"Ada's login was lost at {step}: {held}"
    assert "(spent)" not in held, held

    # The next change leaves each account in exactly one file, and both logins work.
    other = BOB if active == ADA else ADA
    pi_tui(capsys, "switch", "anthropic", other, "--agent-dir", str(agent), env=fake.env())
    assert owners(agent, fake) == {other: ["pi"], active: ["vault"]}, step
    assert "pending" not in read(agent / VAULT_NAME)
