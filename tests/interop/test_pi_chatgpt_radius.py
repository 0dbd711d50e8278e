"""Sign in with ChatGPT, Radius and a custom Radius gateway, logged in by pi-tui, are logins pi 1.6.0 uses.

pi-tui logs in against the loopback fake into the agent directory pi reads; then ``pi auth check
--provider ID --json --credentials --no-refresh`` must call it ready with the very token pi-tui
stored. The entry is exactly what pi stores. The ChatGPT login names the installation by pi's
``deviceId``: the one pi-tui writes is the one pi's own SettingsManager then reads (and keeps),
and one pi made first is the one pi-tui sends.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from app.service import AuthService
from tests.contract.cases import CALLBACK, CASES
from tests.contract.test_contract import log_in
from tests.fakes.server import FakeProviders
from tests.interop.real_pi import HERE, RealPi, leftovers, pi_tui_store, read_json, write_json
from tests.processes import run_cli

PI_FIELDS = {
    "openai": {"type", "access", "refresh", "expires", "clientId", "scopes"},
    "radius": {"type", "access", "refresh", "expires", "scope"},
}
CUSTOM = "acme-gateway"
SETTINGS = {
    "theme": "dark",
    "defaultProvider": "anthropic",
    "packages": ["npm:pi-foo"],
    "compaction": {"on": True},
}


def _logins() -> list[Any]:
    # A pasted redirect stands in for the loopback callback (no fixed port to collide on).
    return [
        pytest.param(provider_id, method, how, id=f"{provider_id}-{method}-{how}")
        for provider_id in PI_FIELDS
        for method, how in dict.fromkeys(m for m in CASES[provider_id].logins if m[1] != CALLBACK)
    ]


def _service(real_pi: RealPi, fake: FakeProviders) -> AuthService:
    for provider in fake.providers.values():
        provider.min_poll_gap = 0.0  # pi-tui polls every few ms here
    return AuthService(pi_tui_store(real_pi.agent_dir), env=fake.env(), poll_scale=0.01)


def _check(real_pi: RealPi, provider_id: str) -> dict[str, Any]:
    check = real_pi.cli("auth", "check", "--provider", provider_id, "--json", "--credentials", "--no-refresh")
    assert check.returncode == 0, check.stdout + check.stderr
    return json.loads(check.stdout)  # type: ignore[no-any-return]


def _pi_device_id(real_pi: RealPi) -> dict[str, Any]:
    out = subprocess.run(
        [str(real_pi.install.node), str(HERE / "pi_settings.mjs"), str(real_pi.agent_dir)],
        capture_output=True,
        text=True,
        env=real_pi.env(),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("provider_id", "method", "how"), _logins())
async def test_a_login_made_in_pi_tui_is_ready_in_pi_with_the_same_token(
    real_pi: RealPi, fake: FakeProviders, provider_id: str, method: str, how: str
) -> None:
    result = await log_in(_service(real_pi, fake), fake, provider_id, method, how)
    assert result.provider == provider_id
    doc = read_json(real_pi.auth_json)
    entry = doc[provider_id]
    assert set(entry) == PI_FIELDS[provider_id], f"not the entry pi stores: {sorted(entry)}"
    assert _check(real_pi, provider_id) == {
        "status": "ready",
        "provider": provider_id,
        "authType": "oauth",
        "credentials": entry["access"],
    }
    assert read_json(real_pi.auth_json) == doc  # pi only read it
    assert [name for name in leftovers(real_pi.agent_dir) if name != "settings.json.lock"] == []
    assert not (real_pi.agent_dir / "settings.json.lock").exists()


async def test_a_custom_gateway_login_is_ready_in_pi_under_its_own_id(
    real_pi: RealPi, fake: FakeProviders
) -> None:
    agent = real_pi.agent_dir
    models = {
        "providers": {
            CUSTOM: {"name": "Acme Gateway", "oauth": "radius", "baseUrl": f"{fake.base}/radius/v1"}
        }
    }
    write_json(agent / "models.json", models)
    service = AuthService(pi_tui_store(agent), env={k: v for k, v in fake.env().items() if "RADIUS" not in k})
    assert CUSTOM in [p.id for p in service.providers()]
    login: Any = await service.start_login(CUSTOM, "browser")
    try:
        assert login.url.startswith(f"{fake.base}/radius/authorize?")
        result = await login.submit(fake.radius.redirect_for(login.url))
    finally:
        await login.aclose()
    assert result.name == "Acme Gateway"
    entry = read_json(real_pi.auth_json)[CUSTOM]
    assert set(entry) == PI_FIELDS["radius"]
    assert "radius" not in read_json(real_pi.auth_json)
    assert _check(real_pi, CUSTOM) == {
        "status": "ready",
        "provider": CUSTOM,
        "authType": "oauth",
        "credentials": entry["access"],
    }
    out = run_cli("status", "--json", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    row = next(p for p in json.loads(out.stdout)["providers"] if p["provider"] == CUSTOM)
    assert (row["name"], row["state"]) == ("Acme Gateway", "logged_in")
    assert row["details"] == {"Gateway": f"{fake.base}/radius"}
    token = run_cli("token", CUSTOM, "--agent-dir", str(agent))
    assert token.returncode == 0 and token.stdout.strip() == entry["access"], token.stderr


async def test_the_device_id_pi_tui_writes_is_the_one_pi_uses_and_every_other_setting_is_kept(
    real_pi: RealPi, fake: FakeProviders
) -> None:
    settings = real_pi.agent_dir / "settings.json"
    write_json(settings, SETTINGS)
    await log_in(_service(real_pi, fake), fake, "openai", "browser", "paste")
    written = read_json(settings)
    device_id = written.pop("deviceId")
    assert written == SETTINGS
    assert fake.chatgpt.host_ids == [f"urn:uuid:{device_id}"]
    before = settings.read_bytes()
    assert _pi_device_id(real_pi) == {"deviceId": device_id, "errors": []}
    assert settings.read_bytes() == before  # pi found its id: nothing to write


async def test_pi_tui_sends_the_device_id_pi_made(real_pi: RealPi, fake: FakeProviders) -> None:
    real_pi.agent_dir.mkdir(parents=True, exist_ok=True)
    made = _pi_device_id(real_pi)["deviceId"]
    await log_in(_service(real_pi, fake), fake, "openai", "browser", "paste")
    assert fake.chatgpt.host_ids == [f"urn:uuid:{made}"]
    assert read_json(real_pi.agent_dir / "settings.json")["deviceId"] == made
