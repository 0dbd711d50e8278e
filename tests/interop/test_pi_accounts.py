"""Several accounts with the real pi 1.6.0: pi uses the active one, a switch changes what pi uses,
and pi's own refresh racing a switch never loses a rotated refresh token."""

from __future__ import annotations

import json

import pytest

from app.accounts import add_account
from tests.fakes.server import FakeProviders
from tests.interop.accounts_race import ADA, BOB, run_race
from tests.interop.real_pi import RealPi, leftovers, pi_tui_store, read_json
from tests.processes import run_cli

# Rounds of the race in the suite; scripts/accounts_race.py runs as many as asked.
RACE_ROUNDS = 30
HOUR_MS = 3_600_000
# The vault's flock file is permanent, as oauth.json.lock is: deleting it would let two holders
# lock two files.
VAULT_LOCK = "pi-tui-accounts.json.lock"


def test_pi_uses_the_active_account_and_the_switched_one(real_pi: RealPi, fake: FakeProviders) -> None:
    real_pi.cli("auth", "check", "--provider", "anthropic")  # pi has run: auth.json exists
    store = pi_tui_store(real_pi.agent_dir)
    tokens = {email: fake.anthropic.seed_login(email) for email in (ADA, BOB)}
    for email in (ADA, BOB):
        # Far from due: pi's print-bearer-token refreshes anything with less than 30 minutes left.
        entry = {"type": "oauth", **tokens[email], "expires": int(fake_now_ms() + 8 * HOUR_MS)}
        add_account(store, "anthropic", entry, email, env=fake.env())

    listed = run_cli("accounts", "anthropic", "--json", "--agent-dir", str(real_pi.agent_dir))
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["accounts"]
    assert [(r["account"], r["active"]) for r in rows] == [(BOB, True), (ADA, False)]

    bearer = real_pi.cli("auth", "print-bearer-token", "--provider", "anthropic")
    assert (bearer.returncode, bearer.stdout) == (0, tokens[BOB]["access"] + "\n"), bearer.stderr

    switched = run_cli("switch", "anthropic", "ada", "--agent-dir", str(real_pi.agent_dir), env=fake.env())
    assert switched.returncode == 0, switched.stderr

    bearer = real_pi.cli("auth", "print-bearer-token", "--provider", "anthropic")
    assert (bearer.returncode, bearer.stdout) == (0, tokens[ADA]["access"] + "\n"), bearer.stderr
    assert read_json(real_pi.auth_json)["anthropic"]["refresh"] == tokens[ADA]["refresh"]
    assert fake.count("anthropic.refresh") == 0
    assert leftovers(real_pi.agent_dir) == [VAULT_LOCK]


def fake_now_ms() -> int:
    import time

    return int(time.time() * 1000)


def test_pi_refreshing_the_account_being_switched_away_loses_nothing(
    real_pi: RealPi, fake: FakeProviders, capsys: pytest.CaptureFixture[str]
) -> None:
    real_pi.cli("auth", "check", "--provider", "anthropic")

    figures = run_race(real_pi, fake, RACE_ROUNDS, seed=17)

    with capsys.disabled():
        print(f"\n{figures.line()}")
    assert figures.problems == [], figures.problems
    assert (figures.runs, figures.switches, figures.lost) == (RACE_ROUNDS, RACE_ROUNDS, 0)
    assert figures.pi_refreshes >= 1, "pi never refreshed: the race was not run"
    assert figures.pi_tui_refreshes >= RACE_ROUNDS - figures.pi_refreshes
    assert leftovers(real_pi.agent_dir) == [VAULT_LOCK]
