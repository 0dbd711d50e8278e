"""Many ``pi-tui token`` processes on a due ``auth.json`` while pi's own store class writes.

The concurrency test of tests/reliability on pi's file and pi's lock: real processes released
at one instant ask for due Anthropic and Copilot tokens while pi (``AuthStorage.modify`` and
the synchronous ``withLock``, in place: truncate, then write) adds entries of its own. The fake
rotates refresh tokens, so a second refresh of a provider would fail or kill the login.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from tests.fakes.server import FakeProviders
from tests.interop.real_pi import RealPi, leftovers, read_json, write_json
from tests.interop.test_pi_lock import OTHERS, now_ms
from tests.processes import ROOT, run_python, start_together

PROCESSES = 4  # per provider; the CI machine has two cores
PI_WRITES = 10


def seed(real_pi: RealPi, fake: FakeProviders) -> dict[str, Any]:
    tokens = fake.anthropic.seed_login()
    doc = {
        "openai": OTHERS["openai"],
        "anthropic": {
            "type": "oauth",
            "refresh": tokens["refresh"],
            "access": tokens["access"],
            "expires": now_ms() - 1,
        },
        "github-copilot": {
            "type": "oauth",
            "refresh": fake.github.seed_login(),
            "access": "tid=old;exp=1;proxy-ep=proxy.individual.githubcopilot.com",
            "expires": now_ms() - 1,
        },
        "google-gemini-cli": OTHERS["google-gemini-cli"],
    }
    write_json(real_pi.auth_json, doc)
    return doc


def test_processes_refresh_once_each_while_pi_writes_other_entries(
    real_pi: RealPi, fake: FakeProviders
) -> None:
    before = seed(real_pi, fake)
    # Each refresh holds the lock for a second, so pi's writes land before, between and after.
    fake.set_latency("anthropic.refresh", 1.0)
    fake.set_latency("github.copilot_token", 1.0)
    commands = [
        ["token", provider, "--agent-dir", str(real_pi.agent_dir)]
        for _ in range(PROCESSES)
        for provider in ("anthropic", "github-copilot")
    ]

    procs = start_together(commands, fake.env())
    writer = real_pi.store("writer", count=PI_WRITES, prefix="x-pi-", pause_ms=150)
    results: dict[str, list[tuple[str, str, int]]] = {"anthropic": [], "github-copilot": []}
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        results[args[1]].append((out, err, proc.returncode))
    assert writer.wait_for("done")["count"] == PI_WRITES
    assert writer.finish() == 0

    doc = read_json(real_pi.auth_json)  # a torn file would not parse
    endpoints = {"anthropic": "anthropic.refresh", "github-copilot": "github.copilot_token"}
    for provider, endpoint in endpoints.items():
        failures = [(code, err) for _, err, code in results[provider] if code != 0]
        assert failures == [], f"{provider}: {failures[:3]}"
        printed = {out.strip() for out, _, _ in results[provider]}
        assert len(printed) == 1, f"{provider}: {len(printed)} different tokens printed"
        assert fake.count(endpoint) == 1, f"{provider}: {fake.count(endpoint)} refreshes"
        assert doc[provider]["access"] == printed.pop()
    assert fake.anthropic.is_access_valid(doc["anthropic"]["access"])
    assert fake.anthropic.is_refresh_valid(doc["anthropic"]["refresh"])
    assert fake.copilot.is_token_valid(doc["github-copilot"]["access"])
    assert doc["github-copilot"]["refresh"] == before["github-copilot"]["refresh"]
    for key, entry in OTHERS.items():
        assert doc[key] == entry, f"{key} changed"
    written = {f"x-pi-{i}": {"type": "api_key", "key": f"key-x-pi-{i}"} for i in range(PI_WRITES)}
    lost = [key for key, entry in written.items() if doc.get(key) != entry]
    assert lost == [], f"pi's writes lost: {lost}"
    assert set(doc) == {*before, *written}
    assert stat.S_IMODE(os.stat(real_pi.auth_json).st_mode) == 0o600
    assert leftovers(real_pi.agent_dir) == []


def test_soak_script_on_auth_json_with_pi_writing(pi_install: object) -> None:
    """scripts/soak.py --store auth.json keeps working: two short rounds, pi writing mid-round.

    SIGTERM keeps it short: a SIGKILLed refresher's lock holds the others for 30 s.
    """
    result = run_python(
        str(ROOT / "scripts" / "soak.py"),
        *("--store", "auth.json", "--rounds", "2", "--procs", "4", "--seed", "7", "--signal", "TERM"),
        timeout=240,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "soak: 2 rounds x 4 processes (8 in all)" in result.stdout
    assert "auth.json" in result.stdout and "torn files: 0" in result.stdout
    assert "pi's own writes: 6, lost: 0" in result.stdout
