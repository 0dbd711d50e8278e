"""pi refreshes the active account while ``pi-tui switch`` moves it to the vault: nothing is lost.

One round: both Anthropic accounts are made due (the active one in pi's file, the other in
pi-tui's vault). Then, in a random order and a few hundred milliseconds apart, pi (its own store
class, ``pi_refresh.mjs``) refreshes whatever is active — rotating its single-use refresh token —
and a ``pi-tui switch`` process makes the other account active, refreshing it first (it is due
in the vault, and its refresh token was rotated by pi in an earlier round, when it was active).
The fake's refresh answer takes a moment, so pi holds its lock while the switch waits for it.

After each round: pi's file holds the switched-to account, the vault holds the other one, and
each file's tokens are the live ones at the fake (the fake knows whose a token is). An account
whose stored refresh token the fake no longer accepts, or that is not in exactly one file, is
lost. Used by tests/interop/test_pi_accounts.py and scripts/accounts_race.py.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.accounts import VAULT_NAME, AccountVault, add_account
from app.store import CredentialStore
from tests.fakes.server import ANTHROPIC_CLIENT_ID, FakeProviders
from tests.interop.real_pi import RealPi, StoreScript
from tests.processes import start_cli

HERE = Path(__file__).resolve().parent
REFRESH_SCRIPT = HERE / "pi_refresh.mjs"
ADA = "ada@example.com"
BOB = "bob@example.com"
HOUR_MS = 3_600_000


@dataclass
class Figures:
    """What the rounds add up to (printed for quoting)."""

    runs: int = 0
    switches: int = 0
    pi_refreshes: int = 0
    pi_tui_refreshes: int = 0
    pi_first: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"accounts race: runs {self.runs}, switches {self.switches}, refreshes "
            f"{self.pi_refreshes + self.pi_tui_refreshes} ({self.pi_refreshes} by pi, "
            f"{self.pi_tui_refreshes} by pi-tui), pi first in {self.pi_first}, lost {self.lost}"
        )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _entry(fake: FakeProviders, email: str) -> dict[str, Any]:
    tokens = fake.anthropic.seed_login(email)
    return {
        "type": "oauth",
        "refresh": tokens["refresh"],
        "access": tokens["access"],
        "expires": _now_ms() + HOUR_MS,
    }


def _owner(fake: FakeProviders, entry: dict[str, Any]) -> str | None:
    """Whose live login ``entry`` is at the fake; None when its tokens are not the live ones."""
    session = fake.anthropic.session_for(entry.get("access"))
    if session is None or not fake.anthropic.is_refresh_valid(str(entry.get("refresh"))):
        return None
    return str(session.account)


def _make_due(store: CredentialStore, vault: AccountVault) -> None:
    with store.transaction() as tx:
        entry = tx.get("anthropic")
        assert entry is not None
        tx.put("anthropic", {**entry, "expires": _now_ms() - 1})
    with store.transaction() as tx, vault.transaction() as vtx:
        doc = vtx.load()
        for record in doc["providers"]["anthropic"]:
            record["entry"]["expires"] = _now_ms() - 1
        vtx.write(doc)


def _start_pi_refresh(real_pi: RealPi, fake: FakeProviders, delay_ms: int) -> StoreScript:
    argv = [
        str(real_pi.install.node),
        str(REFRESH_SCRIPT),
        *("--path", str(real_pi.auth_json), "--provider", "anthropic"),
        *("--token-url", fake.env()["PI_TUI_ANTHROPIC_TOKEN_URL"], "--client-id", ANTHROPIC_CLIENT_ID),
        *("--delay-ms", str(delay_ms)),
    ]
    return StoreScript(argv, real_pi.env())


def check_round(fake: FakeProviders, store: CredentialStore, vault: AccountVault, active: str) -> list[str]:
    """What is wrong after a switch to ``active``: an empty list when nothing was lost."""
    wrong = []
    pi_entry = store.get("anthropic")
    records = vault.records("anthropic")
    owners = [_owner(fake, pi_entry)] if pi_entry else []
    owners += [_owner(fake, r["entry"]) for r in records]
    if pi_entry is None or _owner(fake, pi_entry) != active:
        wrong.append(f"pi's file does not hold {active}'s live login")
    for account in (ADA, BOB):
        if owners.count(account) != 1:
            wrong.append(f"{account} is held {owners.count(account)} times with live tokens")
    if [r["account"] for r in records] != [BOB if active == ADA else ADA]:
        wrong.append(f"the vault holds {[r['account'] for r in records]}")
    return wrong


def run_race(real_pi: RealPi, fake: FakeProviders, rounds: int, *, seed: int = 0) -> Figures:
    """``rounds`` switches, each raced by pi's refresh of the account being switched away from."""
    rng = random.Random(seed)
    agent = real_pi.agent_dir
    store = CredentialStore(real_pi.auth_json)
    vault = AccountVault(agent / VAULT_NAME)
    add_account(store, "anthropic", _entry(fake, ADA), ADA, "work", env=fake.env())
    add_account(store, "anthropic", _entry(fake, BOB), BOB, env=fake.env())
    fake.set_latency("anthropic.refresh", 0.2)
    figures = Figures()
    active = BOB
    for _ in range(rounds):
        target = ADA if active == BOB else BOB
        _make_due(store, vault)
        before = fake.count("anthropic.refresh")
        pi_first = rng.random() < 0.6
        figures.pi_first += pi_first
        # Python takes longer to start than node: these delays put pi's lock before, during and
        # after the switch's first look at the files.
        pi = _start_pi_refresh(real_pi, fake, rng.randint(0, 150) if pi_first else rng.randint(300, 900))
        switch = start_cli("switch", "anthropic", target, "--agent-dir", str(agent), env=fake.env())
        _, err = switch.communicate(timeout=120)
        done = pi.wait_for("done", timeout=120)
        assert pi.finish() == 0
        figures.runs += 1
        if switch.returncode != 0:
            figures.problems.append(f"round {figures.runs}: switch failed: {err.strip()[-300:]}")
        else:
            figures.switches += 1
        figures.pi_refreshes += bool(done["refreshed"])
        figures.pi_tui_refreshes += fake.count("anthropic.refresh") - before - bool(done["refreshed"])
        wrong = check_round(fake, store, vault, target)
        if wrong:
            figures.lost += 1
            figures.problems.append(f"round {figures.runs}: " + "; ".join(wrong))
            break
        active = target
    return figures
