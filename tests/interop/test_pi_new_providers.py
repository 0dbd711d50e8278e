"""Every provider issue 10 added, logged in by pi-tui, is a login the real pi 1.6.0 uses unchanged.

pi-tui logs in against the loopback fake (each method, as the contract suite completes it) into
the file pi reads (``auth.json``); then ``pi auth check --provider ID --json --credentials
--no-refresh`` must call it ready and hand out the very token pi-tui stored. pi never touches the
network here (``--no-refresh``, and the real_pi fixture's tripwire fails the test if it tried).
The entry must be exactly what pi stores for that provider: no key pi-tui added.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.service import AuthService
from tests.contract.cases import CALLBACK, CASES
from tests.contract.test_contract import log_in
from tests.fakes.server import FakeProviders
from tests.interop.real_pi import RealPi, leftovers, pi_tui_store, read_json
from tests.processes import run_cli

NEW_PROVIDERS = ("openai-codex", "xai", "kimi-coding", "openrouter", "meta")
# What pi 1.6.0 stores per provider (PROVIDERS.md, "Stored"), and nothing else.
PI_FIELDS = {
    "openai-codex": {"type", "access", "refresh", "expires", "accountId"},
    "xai": {"type", "access", "refresh", "expires"},
    "kimi-coding": {"type", "access", "refresh", "expires"},
    "openrouter": {"type", "access", "refresh", "expires"},
    "meta": {"type", "access", "refresh", "expires"},
}


def _logins() -> list[Any]:
    # A pasted redirect stands in for the loopback callback: the same entry, and no fixed port
    # (Codex's 1455) to collide with another run on this machine.
    params = []
    for provider_id in NEW_PROVIDERS:
        for method, how in dict.fromkeys(m for m in CASES[provider_id].logins if m[1] != CALLBACK):
            params.append(pytest.param(provider_id, method, how, id=f"{provider_id}-{method}-{how}"))
    return params


@pytest.mark.parametrize(("provider_id", "method", "how"), _logins())
async def test_a_login_made_in_pi_tui_is_ready_in_pi_with_the_same_token(
    real_pi: RealPi, fake: FakeProviders, provider_id: str, method: str, how: str
) -> None:
    agent = real_pi.agent_dir
    for provider in fake.providers.values():
        provider.min_poll_gap = 0.0  # pi-tui polls every few ms here
    service = AuthService(pi_tui_store(agent), env=fake.env(), poll_scale=0.01)
    result = await log_in(service, fake, provider_id, method, how)
    assert result.provider == provider_id

    doc = read_json(real_pi.auth_json)
    assert not (agent / "oauth.json").exists(), "pi-tui wrote oauth.json, which pi 1.6.0 never reads"
    entry = doc[provider_id]
    assert entry["type"] == "oauth"
    assert set(entry) == PI_FIELDS[provider_id], f"not the entry pi stores: {sorted(entry)}"

    check = real_pi.cli("auth", "check", "--provider", provider_id, "--json", "--credentials", "--no-refresh")
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout) == {
        "status": "ready",
        "provider": provider_id,
        "authType": "oauth",
        "credentials": entry["access"],
    }
    # pi only read the file; pi-tui still sees its login there.
    assert read_json(real_pi.auth_json) == doc
    out = run_cli("status", "--json", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["store"] == str(real_pi.auth_json)
    row = next(p for p in status["providers"] if p["provider"] == provider_id)
    assert (row["state"], row["kind"]) == ("logged_in", "oauth")
    assert leftovers(agent) == []
