"""xAI and Kimi Code on the command line (real processes, the loopback fake): status --json
masks the tokens and shows the rows, token refreshes a due login, a revoked refresh exits
non-zero with the sentence and keeps the login, logout removes only that entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, read_doc
from tests.processes import run_cli

PROVIDERS = [("xai", "xai"), ("kimi-coding", "kimi")]


def seed(fake: FakeProviders, store: Any, provider: str, fake_name: str, *, expires: int) -> dict[str, Any]:
    tokens = getattr(fake, fake_name).seed_login()
    entry = {"type": "oauth", "access": tokens["access"], "refresh": tokens["refresh"], "expires": expires}
    store.put(provider, entry)
    return entry


@pytest.mark.parametrize(("provider", "fake_name"), PROVIDERS)
def test_status_json_masks_tokens_and_shows_the_api_base(
    tmp_path: Path, fake: FakeProviders, provider: str, fake_name: str
) -> None:
    store = make_store(tmp_path)
    entry = seed(fake, store, provider, fake_name, expires=now_ms() + HOUR_MS)
    out = run_cli("status", "--json", "--agent-dir", str(store.path.parent), env=fake.env())
    assert out.returncode == 0, out.stderr
    row = next(p for p in json.loads(out.stdout)["providers"] if p["provider"] == provider)
    assert row["state"] == "logged_in"
    assert row["token"].endswith(entry["access"][-4:]) and "…" in row["token"]
    assert f"{fake.base}/{fake_name}-api" in json.dumps(row)
    assert entry["access"] not in out.stdout and entry["refresh"] not in out.stdout


@pytest.mark.parametrize(("provider", "fake_name"), PROVIDERS)
def test_token_refreshes_a_due_login(
    tmp_path: Path, fake: FakeProviders, provider: str, fake_name: str
) -> None:
    store = make_store(tmp_path)
    old = seed(fake, store, provider, fake_name, expires=now_ms() - 1)
    out = run_cli("token", provider, "--agent-dir", str(store.path.parent), env=fake.env())
    assert out.returncode == 0, out.stderr
    entry = store.get(provider)
    assert entry is not None and out.stdout == entry["access"] + "\n"
    assert entry["access"] != old["access"] and fake.count(f"{fake_name}.refresh") == 1


@pytest.mark.parametrize(
    ("provider", "fake_name", "sentence"),
    [
        ("xai", "xai", "xAI no longer accepts this login"),
        ("kimi-coding", "kimi", "Kimi Code refresh unauthorized"),
    ],
)
def test_revoked_refresh_exits_nonzero_and_keeps_the_login(
    tmp_path: Path, fake: FakeProviders, provider: str, fake_name: str, sentence: str
) -> None:
    store = make_store(tmp_path)
    before = seed(fake, store, provider, fake_name, expires=now_ms() - 1)
    getattr(fake, fake_name).revoke_all()
    out = run_cli("token", provider, "--agent-dir", str(store.path.parent), env=fake.env())
    assert out.returncode == 4 and sentence in out.stderr
    assert "Traceback" not in out.stderr and before["refresh"] not in out.stderr
    assert store.get(provider) == before


@pytest.mark.parametrize(("provider", "fake_name"), PROVIDERS)
def test_logout_removes_only_that_login(
    tmp_path: Path, fake: FakeProviders, provider: str, fake_name: str
) -> None:
    store = make_store(tmp_path)
    seed(fake, store, provider, fake_name, expires=now_ms() + HOUR_MS)
    other = seed(fake, store, "anthropic", "anthropic", expires=now_ms() + HOUR_MS)
    out = run_cli("logout", provider, "--yes", "--agent-dir", str(store.path.parent))
    assert out.returncode == 0 and f"Logged out of {provider}" in out.stdout
    assert read_doc(store) == {"anthropic": other}
