"""``pi-tui login PROVIDER --api-key``: pi's ``{"type": "api_key", "key": …}`` entry, the key from stdin.

The key never travels in argv, and never appears in pi-tui's output or log; ``token`` then hands
it out and ``status`` names the kind ``api_key``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.store import CredentialStore
from tests.processes import ROOT, clean_env, run_cli

KEY = "sk-proj-" + "Zq7" * 20


def login_with_key(
    agent: Path, provider: str, stdin: str, *extra: str, log_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = clean_env({"PI_TUI_LOG_DIR": str(log_dir)} if log_dir else None)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "login", provider, "--api-key", "--agent-dir", str(agent), *extra],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize("provider", ["openai", "radius", "anthropic"])
def test_a_piped_key_is_stored_as_pi_stores_it_and_handed_out(tmp_path: Path, provider: str) -> None:
    agent, logs = tmp_path / "agent", tmp_path / "logs"
    out = login_with_key(agent, provider, KEY + "\n", log_dir=logs)
    assert out.returncode == 0, out.stderr
    assert KEY not in out.stdout + out.stderr and str(agent / "auth.json") in out.stderr
    doc = json.loads((agent / "auth.json").read_text())
    assert doc == {provider: {"type": "api_key", "key": KEY}}
    token = run_cli("token", provider, "--agent-dir", str(agent))
    assert (token.returncode, token.stdout) == (0, KEY + "\n")
    status = run_cli("status", "--json", "--agent-dir", str(agent))
    row = next(p for p in json.loads(status.stdout)["providers"] if p["provider"] == provider)
    assert (row["state"], row["kind"]) == ("logged_in", "api_key") and KEY not in status.stdout
    logged = "".join(path.read_text(errors="replace") for path in logs.rglob("*") if path.is_file())
    assert KEY[8:30] not in logged


def test_an_existing_login_is_replaced_only_with_yes(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    store = CredentialStore(agent / "auth.json")
    login = {"type": "oauth", "access": "a" * 40, "refresh": "r" * 40, "expires": 4_102_444_800_000}
    store.put("openai", login)
    refused = login_with_key(agent, "openai", KEY + "\n")
    assert refused.returncode == 2 and "--yes" in refused.stderr and KEY not in refused.stderr
    assert store.entry("openai") == login
    assert login_with_key(agent, "openai", KEY + "\n", "--yes").returncode == 0
    assert store.entry("openai") == {"type": "api_key", "key": KEY}


@pytest.mark.parametrize(
    ("provider", "stdin", "words"),
    [
        ("openai", "\n", "not an API key"),
        ("openai", "two words\n", "not an API key"),
        ("openai-codex", KEY + "\n", "takes no API key"),
    ],
    ids=["empty", "spaces", "no-api-key-provider"],
)
def test_what_cannot_be_stored_is_one_sentence_and_nothing_is_written(
    tmp_path: Path, provider: str, stdin: str, words: str
) -> None:
    agent = tmp_path / "agent"
    out = login_with_key(agent, provider, stdin)
    assert out.returncode == 2 and words in out.stderr and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr and KEY not in out.stderr
    assert not (agent / "auth.json").exists()


def test_older_pis_file_holds_no_api_keys(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    CredentialStore(agent / "oauth.json").put(
        "anthropic", {"type": "oauth", "access": "a" * 40, "refresh": "r" * 40, "expires": 1}
    )
    out = login_with_key(agent, "openai", KEY + "\n")
    assert out.returncode == 2 and "oauth.json" in out.stderr and "migrate" in out.stderr
    assert "openai" not in (agent / "oauth.json").read_text()
