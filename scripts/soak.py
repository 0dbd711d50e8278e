#!/usr/bin/env python3
"""Soak the credential store: many ``pi-tui token`` processes, some killed mid-refresh, M rounds.

    .venv/bin/python scripts/soak.py [--rounds 20] [--procs 16] [--latency 0.2] [--signal KILL]
                                     [--store oauth.json|auth.json] [--pi-writes N]

Each round makes the stored Anthropic login due, releases N processes at one instant against
the loopback fake (single-use, rotating refresh tokens; the refresh answer takes ``--latency``
seconds), and as soon as the refresh request reaches the fake sends ``--signal`` to a random
handful of the processes still running. Then it checks the file: it parses, it is 0600, the
other providers are exactly as they were, and the stored login still works at the fake.

With ``--store auth.json`` the store is modern pi's file under pi's directory lock, and
``--pi-writes N`` (default 3 there) has pi's own store class (the real pi 1.6.0, installed as the
interop tests install it) write N entries of its own in the middle of every round; each must
survive. A SIGKILLed lock holder leaves ``auth.json.lock`` behind (pi's does too): the soak
counts those, and ages the directory past pi's 30 s rule so the next round takes it over
instead of waiting; a lock directory left any other way is a failure.

A "lost login" is a stored refresh token the fake no longer accepts. With rotating refresh
tokens that happens, and can only happen, when the process that sent the refresh dies after
the server rotated and before the rename: the server's answer dies with it. The summary counts
those kills (the refreshing process is the one holding ``oauth.json.lock`` in /proc/locks when
the request arrives, or for auth.json the process on the refresh request's socket) next to the
losses, so any loss with another cause stands out. A lost
login is logged in again before the next round.

Exit status 0 when no file was torn, no other provider was touched, no surviving process failed
while the login was intact, and every lost login is explained by a kill mid-refresh.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.store import CredentialStore  # noqa: E402  (needs the path above)
from tests.fakes.server import FakeProviders  # noqa: E402
from tests.processes import start_together  # noqa: E402
from tests.reliability.helpers import OTHERS, write_doc  # noqa: E402

COPILOT_ENTRY = {"type": "oauth", "refresh": "ghu_kept", "access": "tid=kept", "expires": 1_900_000_000_000}


@dataclass
class Totals:
    """What the rounds add up to."""

    rounds: int = 0
    processes: int = 0
    kills: int = 0
    refresher_killed: int = 0
    lost: int = 0
    unexplained_lost: int = 0
    torn: int = 0
    others_changed: int = 0
    bad_mode: int = 0
    survivors_failed_login_intact: int = 0
    survivors_failed_after_loss: int = 0
    leftover_temps: int = 0
    refresh_requests: int = 0
    pi_writes: int = 0
    pi_writes_lost: int = 0
    locks_left_by_killed_holder: int = 0
    locks_left_unexplained: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.torn
            or self.others_changed
            or self.bad_mode
            or self.unexplained_lost
            or self.pi_writes_lost
            or self.locks_left_unexplained
        ) and (not self.survivors_failed_login_intact)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20, help="rounds to run (default 20)")
    parser.add_argument("--procs", type=int, default=16, help="processes per round (default 16)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the fake takes to refresh")
    parser.add_argument("--max-kills", type=int, default=0, help="most victims per round (default procs/4)")
    parser.add_argument("--signal", default="KILL", choices=("KILL", "TERM", "INT"), help="what to send")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument(
        "--agent-dir", type=Path, default=None, help="where to keep the store (default: a temp dir)"
    )
    parser.add_argument(
        "--store", default="oauth.json", choices=("oauth.json", "auth.json"), help="which file (and lock)"
    )
    parser.add_argument(
        "--pi-writes",
        type=int,
        default=None,
        help="entries pi's own store class writes mid-round (auth.json only; default 3 there)",
    )
    args = parser.parse_args(argv)
    if args.pi_writes is None:
        args.pi_writes = 3 if args.store == "auth.json" else 0
    if args.pi_writes and args.store != "auth.json":
        parser.error("--pi-writes needs --store auth.json (pi 1.x never writes oauth.json)")
    return args


def lock_holders(lock_path: Path) -> set[int]:
    """Pids holding an flock on ``lock_path`` right now (Linux /proc/locks)."""
    try:
        inode = os.stat(lock_path).st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return set()
    holders = set()
    for line in lines:
        parts = line.split()
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
            continue
        if parts[5].rsplit(":", 1)[-1] == str(inode):
            holders.add(int(parts[4]))
    return holders


def socket_owner(client_port: int, pids: set[int]) -> int | None:
    """The pid among ``pids`` whose TCP socket has local port ``client_port`` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == client_port:
                inodes.add(parts[9])
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    return None


def start_pi_writer(store: CredentialStore, number: int, count: int) -> Any:
    """pi's own store class writing ``count`` entries of its own, alternating its two lock paths."""
    from tests.interop.install import install_pi
    from tests.interop.real_pi import STORE_SCRIPT, StoreScript

    pi = install_pi()
    argv = [str(pi.node), str(STORE_SCRIPT), "writer", "--path", str(store.path)]
    argv += ["--count", str(count), "--prefix", f"x-pi-{number}-", "--pause-ms", "30"]
    return StoreScript(argv, {**os.environ, "PI_AUTH_STORAGE": str(pi.auth_storage)})


def make_due(store: CredentialStore, fake: FakeProviders) -> None:
    """Make the stored login due (logging in again if the last round lost it)."""
    entry = store.get("anthropic")
    if entry is None or not fake.anthropic.is_refresh_valid(entry["refresh"]):
        tokens = fake.anthropic.seed_login()
        entry = {
            "type": "oauth",
            "refresh": tokens["refresh"],
            "access": tokens["access"],
            "accountUuid": "u-1",
        }
    store.put("anthropic", entry | {"expires": int(time.time() * 1000) - 1})


def run_round(
    number: int,
    store: CredentialStore,
    fake: FakeProviders,
    args: argparse.Namespace,
    rng: random.Random,
    totals: Totals,
) -> None:
    """One round: due login, N processes at once, victims signalled mid-refresh, then the checks."""
    make_due(store, fake)
    before_refreshes = fake.count("anthropic.refresh")
    command = ["token", "anthropic", "--agent-dir", str(store.path.parent)]
    procs = start_together([command] * args.procs, fake.env())
    writer = start_pi_writer(store, number, args.pi_writes) if args.pi_writes else None
    started = time.monotonic()
    by_pid = {proc.pid: proc for proc in procs}
    refresher: int | None = None
    while refresher is None and time.monotonic() - started < 10:
        if fake.count("anthropic.refresh") > before_refreshes:
            if store.path.name == "auth.json":
                request = fake.requests_for("anthropic.refresh")[before_refreshes]
                refresher = socket_owner(request.client_port, set(by_pid)) or -1
            else:
                holders = lock_holders(store.lock_path) & by_pid.keys()
                refresher = holders.pop() if holders else -1
        elif all(proc.poll() is not None for proc in procs):
            break
        else:
            time.sleep(0.002)
    running = [proc for proc in procs if proc.poll() is None]
    victims = rng.sample(running, min(len(running), rng.randint(1, args.max_kills)))
    signum = getattr(signal, f"SIG{args.signal}")
    for victim in victims:
        victim.send_signal(signum)
    killed = {victim.pid for victim in victims}
    outcomes = [(proc, *proc.communicate(timeout=120)) for proc in procs]
    if writer is not None:
        # pi's synchronous path takes a dead holder's lock after 10 s, its async path after 30 s.
        writer.wait_for("done", timeout=120)
        writer.finish()
        totals.pi_writes += args.pi_writes

    totals.rounds += 1
    totals.processes += len(procs)
    totals.kills += len(victims)
    refresher_killed = refresher in killed
    totals.refresher_killed += refresher_killed
    totals.refresh_requests += fake.count("anthropic.refresh") - before_refreshes

    raw = store.path.read_bytes()
    try:
        doc: Any = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except ValueError as error:
        totals.torn += 1
        totals.problems.append(f"round {number}: torn file ({error}): {raw[:120]!r}")
        store.path.unlink()
        return
    if stat.S_IMODE(os.lstat(store.path).st_mode) != 0o600:
        totals.bad_mode += 1
        totals.problems.append(f"round {number}: mode {stat.S_IMODE(os.lstat(store.path).st_mode):o}")
    if {k: doc.get(k) for k in OTHERS} != OTHERS or doc.get("github-copilot") != COPILOT_ENTRY:
        totals.others_changed += 1
        totals.problems.append(f"round {number}: another provider's entry changed")
    lost = not fake.anthropic.is_refresh_valid(doc["anthropic"]["refresh"])
    totals.lost += lost
    if lost and not refresher_killed:
        totals.unexplained_lost += 1
        totals.problems.append(f"round {number}: login lost although the refreshing process lived")
    failed = [
        (proc.returncode, err.strip().splitlines()[-1:] or [""])
        for proc, _out, err in outcomes
        if proc.pid not in killed and proc.returncode != 0
    ]
    if lost:
        totals.survivors_failed_after_loss += len(failed)
    elif failed:
        totals.survivors_failed_login_intact += len(failed)
        totals.problems.append(f"round {number}: {len(failed)} survivors failed: {failed[:2]}")
    totals.leftover_temps = sum(name.endswith(".tmp") for name in os.listdir(store.path.parent))
    pi_lost = [i for i in range(args.pi_writes) if f"x-pi-{number}-{i}" not in doc]
    if pi_lost:
        totals.pi_writes_lost += len(pi_lost)
        totals.problems.append(f"round {number}: pi's writes lost: {pi_lost}")
    lock_dir = store.path.with_name(store.path.name + ".lock")
    if store.path.name == "auth.json" and lock_dir.exists():
        if refresher_killed and args.signal == "KILL":
            totals.locks_left_by_killed_holder += 1
            old = time.time() - 60  # abandoned, as if 30 s had passed: the next round takes it over
            os.utime(lock_dir, (old, old))
        else:
            totals.locks_left_unexplained += 1
            totals.problems.append(f"round {number}: {lock_dir.name} left behind")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.max_kills = args.max_kills or max(1, args.procs // 4)
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    totals = Totals()

    with tempfile.TemporaryDirectory(prefix="pi-tui-soak-") as scratch, FakeProviders() as fake:
        agent_dir = args.agent_dir or Path(scratch) / "agent"
        store = CredentialStore(agent_dir / args.store)
        write_doc(store.path, {"github-copilot": COPILOT_ENTRY, **OTHERS})
        fake.set_latency("anthropic.refresh", args.latency)
        started = time.monotonic()
        for number in range(1, args.rounds + 1):
            run_round(number, store, fake, args, rng, totals)
        elapsed = time.monotonic() - started
    print(
        f"soak: {totals.rounds} rounds x {args.procs} processes ({totals.processes} in all), "
        f"SIG{args.signal} to {totals.kills}, seed {seed}, {args.store}, {elapsed:.1f} s\n"
        f"  refresh requests: {totals.refresh_requests}\n"
        f"  refreshing process hit mid-refresh: {totals.refresher_killed}\n"
        f"  logins lost: {totals.lost} (unexplained: {totals.unexplained_lost})\n"
        f"  torn files: {totals.torn}\n"
        f"  other providers changed: {totals.others_changed}; wrong mode: {totals.bad_mode}\n"
        f"  surviving processes failed, login intact: {totals.survivors_failed_login_intact}; "
        f"after a lost login: {totals.survivors_failed_after_loss}\n"
        f"  temp files left by killed writers at the end: {totals.leftover_temps}"
    )
    if args.store == "auth.json":
        print(
            f"  pi's own writes: {totals.pi_writes}, lost: {totals.pi_writes_lost}\n"
            f"  lock directories left: by a SIGKILLed holder {totals.locks_left_by_killed_holder}, "
            f"otherwise {totals.locks_left_unexplained}"
        )
    for problem in totals.problems:
        print(f"  ! {problem}")
    return 0 if totals.ok else 1


if __name__ == "__main__":
    sys.exit(main())
