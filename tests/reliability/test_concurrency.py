"""Many real ``pi-tui token`` processes, released at one instant on a login that is due.

The fake server rotates refresh tokens (a reused one is ``invalid_grant``), so a second refresh
request would not only waste a call: it would fail, and a process that stored its answer last
could overwrite a good token with a dead one. The lock plus the re-read under it must make
exactly one process talk to each provider while every other one reuses what it wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.server import FakeProviders
from tests.processes import start_together
from tests.reliability.helpers import (
    OTHERS,
    file_mode,
    now_ms,
    read_doc,
    temp_files,
    write_doc,
)

PROCESSES = 32


def seed_due_logins(path: Path, fake: FakeProviders) -> dict[str, Any]:
    """A store with due Anthropic and Copilot logins, between entries pi-tui must keep."""
    tokens = fake.anthropic.seed_login()
    doc: dict[str, Any] = {
        "google-gemini-cli": OTHERS["google-gemini-cli"],
        "anthropic": {
            "type": "oauth",
            "refresh": tokens["refresh"],
            "access": tokens["access"],
            "expires": now_ms() - 1,
            "accountUuid": "u-kept",  # a key pi-tui does not know, inside a refreshed entry
        },
        "x-unknown-tool": OTHERS["x-unknown-tool"],
    }
    doc["github-copilot"] = {
        "type": "oauth",
        "refresh": fake.github.seed_login(),
        "access": "tid=old;exp=1;proxy-ep=proxy.individual.githubcopilot.com",
        "expires": now_ms() - 1,
    }
    doc["zz-settings"] = OTHERS["zz-settings"]
    write_doc(path, doc)
    return doc


def run_together(path: Path, fake: FakeProviders, provider_ids: list[str]) -> dict[str, list[Any]]:
    """Release PROCESSES ``token`` processes per provider at once; their (stdout, stderr, code)."""
    commands = [
        ["token", provider_id, "--agent-dir", str(path.parent)]
        for _ in range(PROCESSES)
        for provider_id in provider_ids
    ]
    procs = start_together(commands, fake.env())
    results: dict[str, list[Any]] = {provider_id: [] for provider_id in provider_ids}
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        results[args[1]].append((out, err, proc.returncode))
    return results


def assert_one_refresh_and_agreement(results: list[Any], path: Path, provider_id: str, refreshes: int) -> str:
    failures = [(code, err) for _, err, code in results if code != 0]
    assert failures == [], f"{len(failures)} of {len(results)} {provider_id} processes failed: {failures[:3]}"
    printed = {out.strip() for out, _, _ in results}
    assert len(printed) == 1, f"{provider_id}: {len(printed)} different tokens printed"
    token = printed.pop()
    assert refreshes == 1, f"{provider_id}: {refreshes} refresh requests for {len(results)} processes"
    assert read_doc(path)[provider_id]["access"] == token
    return token


def assert_store_intact(path: Path, before: dict[str, Any]) -> dict[str, Any]:
    raw = path.read_bytes()
    doc = json.loads(raw)  # a torn file would not parse
    assert raw.endswith(b"}\n")
    assert file_mode(path) == 0o600
    assert temp_files(path.parent) == []
    assert list(doc) == list(before), "providers were added, lost or reordered"
    for key in OTHERS:
        assert json.dumps(doc[key]) == json.dumps(before[key]), f"{key} changed"
    return doc


@pytest.mark.parametrize("name", ["oauth.json", "auth.json"])
def test_32_processes_per_provider_refresh_each_once_and_keep_each_other(
    tmp_path: Path, fake: FakeProviders, name: str
) -> None:
    path = tmp_path / "agent" / name
    before = seed_due_logins(path, fake)
    # Each winner holds the lock for a second while the others queue behind it.
    fake.set_latency("anthropic.refresh", 1.0)
    fake.set_latency("github.copilot_token", 1.0)

    results = run_together(path, fake, ["anthropic", "github-copilot"])

    anthropic_token = assert_one_refresh_and_agreement(
        results["anthropic"], path, "anthropic", fake.count("anthropic.refresh")
    )
    copilot_token = assert_one_refresh_and_agreement(
        results["github-copilot"], path, "github-copilot", fake.count("github.copilot_token")
    )
    assert fake.anthropic.is_access_valid(anthropic_token)
    assert fake.copilot.is_token_valid(copilot_token)
    doc = assert_store_intact(path, before)
    assert doc["github-copilot"]["refresh"] == before["github-copilot"]["refresh"]
    stored = doc["anthropic"]
    assert fake.anthropic.is_refresh_valid(stored["refresh"])
    assert stored["accountUuid"] == "u-kept" and stored["expires"] > now_ms()
    # oauth.json's flock file is permanent; pi's lock directory is gone once nobody holds it.
    assert sorted(os.listdir(path.parent)) == sorted(
        {name, "oauth.json.lock"} if name == "oauth.json" else {name}
    )
