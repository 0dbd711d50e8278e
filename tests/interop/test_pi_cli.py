"""A login made in pi-tui is a login in the real pi 1.6.0, and pi's changes are pi-tui's.

pi-tui logs in against the loopback fake; pi's own CLI (``pi auth …``) then reads the file.
The other way, pi's CLI and pi's own store class change ``auth.json`` and ``pi-tui status`` and
``pi-tui token`` (real processes) see it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from app.service import AuthService
from tests.fakes.server import FakeProviders
from tests.interop.real_pi import RealPi, leftovers, pi_tui_store, read_json
from tests.processes import run_cli

HOUR_MS = 3_600_000


def status(agent_dir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = run_cli("status", "--json", "--agent-dir", str(agent_dir), env=env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert isinstance(doc, dict)
    return doc


def row(doc: dict[str, Any], provider: str) -> dict[str, Any]:
    return next(p for p in doc["providers"] if p["provider"] == provider)


async def login_both(agent_dir: Path, fake: FakeProviders) -> dict[str, Any]:
    """pi-tui's own logins (Anthropic by pasted code, Copilot by device flow) into the store the
    CLI picks for ``agent_dir``; returns the file as pi-tui left it."""
    fake.github.min_poll_gap = 0.0
    store = pi_tui_store(agent_dir)
    service = AuthService(store, env=fake.env(), poll_scale=0.01)
    login = await service.start_login("anthropic", "browser")
    try:
        code, state = fake.anthropic.authorize(login.url)
        await login.submit(f"{code}#{state}")
    finally:
        await login.aclose()
    copilot = await service.start_login("github-copilot")
    async for event in copilot.poll():
        if event.kind == "waiting":
            fake.github.approve()
    return read_json(agent_dir / "auth.json")


@pytest.mark.parametrize("pi_ran_before", [True, False], ids=["pi-made-auth.json", "empty-agent-dir"])
async def test_login_in_pi_tui_is_a_login_in_pi(
    real_pi: RealPi, fake: FakeProviders, pi_ran_before: bool
) -> None:
    agent = real_pi.agent_dir
    if pi_ran_before:
        # pi's first run leaves an empty auth.json: from then on pi reads nothing else.
        first = real_pi.cli("auth", "check", "--provider", "anthropic")
        assert first.stdout.strip() == "not_ready" and read_json(real_pi.auth_json) == {}
        real_pi.put("openrouter", {"type": "api_key", "key": "sk-or-kept"})

    doc = await login_both(agent, fake)

    assert not (agent / "oauth.json").exists(), "pi-tui wrote oauth.json, which pi 1.6.0 never reads"
    anthropic, copilot = doc["anthropic"], doc["github-copilot"]
    assert fake.anthropic.is_access_valid(anthropic["access"])
    assert fake.copilot.is_token_valid(copilot["access"])

    bearer = real_pi.cli("auth", "print-bearer-token", "--provider", "anthropic")
    assert (bearer.returncode, bearer.stdout) == (0, anthropic["access"] + "\n"), bearer.stderr

    check = real_pi.cli(
        "auth", "check", "--provider", "github-copilot", "--json", "--credentials", "--no-refresh"
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout) == {
        "status": "ready",
        "provider": "github-copilot",
        "authType": "oauth",
        "credentials": copilot["access"],
    }
    # pi read the file without refreshing, so nothing changed; pi's own entries are still there.
    after = read_json(real_pi.auth_json)
    assert after["anthropic"] == anthropic and after["github-copilot"] == copilot
    if pi_ran_before:
        assert after["openrouter"] == {"type": "api_key", "key": "sk-or-kept"}
    assert status(agent)["store"] == str(real_pi.auth_json)
    assert leftovers(agent) == []


async def test_pi_logout_is_seen_by_pi_tui(real_pi: RealPi, fake: FakeProviders) -> None:
    real_pi.cli("auth", "check", "--provider", "anthropic")  # pi has run: auth.json exists
    doc = await login_both(real_pi.agent_dir, fake)
    before = row(status(real_pi.agent_dir), "anthropic")
    assert before["state"] == "logged_in" and before["kind"] == "oauth"

    out = real_pi.cli("auth", "logout", "anthropic")
    assert (out.returncode, out.stdout.strip()) == (0, "Logged out of Anthropic."), out.stderr
    assert "anthropic" not in read_json(real_pi.auth_json)

    seen = status(real_pi.agent_dir)
    assert seen["store"] == str(real_pi.auth_json)
    assert row(seen, "anthropic")["state"] == "not_logged_in"
    assert row(seen, "github-copilot")["state"] == "logged_in"
    token = run_cli("token", "anthropic", "--agent-dir", str(real_pi.agent_dir), env=fake.env())
    assert token.returncode == 1 and token.stdout == ""
    assert "Not logged in to Anthropic" in token.stderr and "auth.json" in token.stderr
    assert doc["anthropic"]["access"] not in token.stderr
    still = run_cli("token", "github-copilot", "--agent-dir", str(real_pi.agent_dir), env=fake.env())
    assert (still.returncode, still.stdout) == (0, doc["github-copilot"]["access"] + "\n")
    assert fake.count("anthropic.refresh") == 0 and leftovers(real_pi.agent_dir) == []


KEY = "sk-ant-api03-" + "interop" * 6


@pytest.mark.parametrize(
    "stored",
    ["literal", "$INTEROP_KEY", "${INTEROP_KEY}", "!command"],
)
def test_api_key_entry_written_by_pi_is_shown_and_handed_out(
    real_pi: RealPi, tmp_path: Path, stored: str
) -> None:
    marker = tmp_path / "command-ran"
    key = {
        "literal": KEY,
        "!command": f"!touch {marker} && printf %s {KEY}",
    }.get(stored, stored)
    env = {"INTEROP_KEY": KEY}
    real_pi.put("anthropic", {"type": "api_key", "key": key})

    # What pi itself hands out for this entry.
    printed = real_pi.cli("auth", "print-api-key", "--provider", "anthropic", env=env)
    assert (printed.returncode, printed.stdout) == (0, KEY + "\n"), printed.stderr
    marker.unlink(missing_ok=True)

    # pi-tui shows it as a source of kind api_key, never runs the command for it, never prints it.
    out = run_cli("status", "--json", "--agent-dir", str(real_pi.agent_dir), env=env)
    assert out.returncode == 0, out.stderr
    shown = row(json.loads(out.stdout), "anthropic")
    assert shown["kind"] == "api_key", shown
    assert KEY not in out.stdout
    assert not marker.exists(), "pi-tui status ran the key's command"

    token = run_cli("token", "anthropic", "--agent-dir", str(real_pi.agent_dir), env=env)
    assert (token.returncode, token.stdout) == (0, KEY + "\n"), token.stderr
    assert marker.exists() == (stored == "!command")
    assert read_json(real_pi.auth_json)["anthropic"] == {"type": "api_key", "key": key}
    assert leftovers(real_pi.agent_dir) == []


def test_pi_tui_logout_removes_pi_api_key_entry_and_pi_agrees(real_pi: RealPi) -> None:
    real_pi.put("anthropic", {"type": "api_key", "key": KEY})
    real_pi.put("openrouter", {"type": "api_key", "key": "sk-or-kept"})
    out = run_cli("logout", "anthropic", "--yes", "--agent-dir", str(real_pi.agent_dir))
    assert out.returncode == 0, out.stderr
    assert "API key" in out.stdout or "api_key" in out.stdout, out.stdout
    assert read_json(real_pi.auth_json) == {"openrouter": {"type": "api_key", "key": "sk-or-kept"}}
    printed = real_pi.cli("auth", "print-api-key", "--provider", "anthropic")
    assert printed.returncode == 1 and printed.stdout == ""
    assert os.stat(real_pi.auth_json).st_mode & 0o777 == 0o600
    assert leftovers(real_pi.agent_dir) == []
