"""Custom Radius gateways: each provider of pi's models.json with ``"oauth": "radius"`` is a login.

Listed on the panel, in ``status`` and in ``login`` under its own id and name, run by the radius
module against its own gateway (``baseUrl`` without ``/v1``); a damaged models.json is one
sentence in ``status`` and hides nothing else.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from app import providers
from app.errors import ConfigError
from app.service import AuthService
from app.store import CredentialStore
from tests.fakes.server import FakeProviders
from tests.processes import run_cli, start_cli

CUSTOM = "acme-gateway"


def write_models(agent: Path, doc: Any) -> None:
    agent.mkdir(parents=True, exist_ok=True)
    path = agent / "models.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    # A rewrite within the same clock tick must still be seen (the cache keys on mtime and size).
    stamp = path.stat().st_mtime_ns + 1_000_000
    os.utime(path, ns=(stamp, stamp))


def models(fake: FakeProviders, **extra: Any) -> dict[str, Any]:
    gateway = {"name": "Acme Gateway", "oauth": "radius", "baseUrl": f"{fake.base}/radius/v1/", "api": "x"}
    return {
        "providers": {
            CUSTOM: gateway,
            "plain": {"baseUrl": "https://example.com/v1", "apiKey": "$KEY"},  # no oauth: not a login
            **extra,
        }
    }


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    return tmp_path / "agent"


def radius_free_env(fake: FakeProviders) -> dict[str, str]:
    """The fake's overrides without the built-in gateway's, so only models.json points there."""
    return {k: v for k, v in fake.env().items() if k != "PI_TUI_RADIUS_URL"}


async def test_a_gateway_of_models_json_logs_in_under_its_own_id(fake: FakeProviders, agent: Path) -> None:
    write_models(agent, models(fake))
    service = AuthService(CredentialStore(agent / "auth.json"), env=radius_free_env(fake), poll_scale=0.01)
    listed = {p.id: p.name for p in service.providers()}
    assert listed[CUSTOM] == "Acme Gateway" and "plain" not in listed and "radius" in listed
    fake.radius.min_poll_gap = 0.0
    login: Any = await service.start_login(CUSTOM, "device_code")
    try:
        assert login.title == "Log in to Acme Gateway"
        async for event in login.poll():
            if event.kind == "waiting":
                fake.radius.approve(login.user_code)
            if event.kind == "done":
                assert event.result.name == "Acme Gateway"
                break
    finally:
        await login.aclose()
    assert service.store.get(CUSTOM) is not None and service.store.get("radius") is None
    status = service.status(CUSTOM)
    assert (status.name, dict(status.rows)) == ("Acme Gateway", {"Gateway": f"{fake.base}/radius"})
    assert await service.test(CUSTOM) == "OK: 3 models available."
    await service.refresh(CUSTOM)
    assert fake.count("radius.refresh") == 1


def test_status_and_token_list_and_find_the_gateway(fake: FakeProviders, agent: Path) -> None:
    write_models(agent, models(fake))
    tokens = fake.radius.seed_login()
    CredentialStore(agent / "auth.json").put(
        CUSTOM, {"type": "oauth", **tokens, "expires": 4_102_444_800_000}
    )
    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    assert "Acme Gateway: logged in" in out.stdout and f"Gateway: {fake.base}/radius" in out.stdout
    token = run_cli("token", CUSTOM, "--agent-dir", str(agent))
    assert token.stdout.strip() == tokens["access"], token.stderr
    env = {"PI_CODING_AGENT_DIR": str(agent)}
    assert run_cli("token", CUSTOM, env=env).stdout.strip() == tokens["access"]
    help_text = " ".join(run_cli("login", "--help").stdout.split())  # however argparse wraps it
    assert "radius: browser, device_code" in help_text


@pytest.mark.parametrize("damage", ["{not json", "[1, 2]", '{"providers": 7}'])
def test_a_damaged_models_json_is_one_sentence_and_hides_nothing_else(
    fake: FakeProviders, agent: Path, damage: str
) -> None:
    write_models(agent, damage)
    store = CredentialStore(agent / "auth.json")
    store.put(
        "xai",
        {"type": "oauth", "access": "xai-" + "a" * 40, "refresh": "r" * 40, "expires": 4_102_444_800_000},
    )
    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    assert "xAI (Grok/X subscription): logged in" in out.stdout
    assert sum(line.count(": ") >= 1 and "logged in" in line for line in out.stdout.splitlines()) == 9
    notes = [line for line in out.stdout.splitlines() if "models.json" in line]
    if damage.startswith('{"providers"'):
        assert notes == []  # pi ignores a "providers" that is no object; so does pi-tui
    else:
        assert len(notes) == 1 and notes[0].endswith(".") and "Traceback" not in out.stderr


def test_the_registry_follows_models_json_as_it_changes(fake: FakeProviders, agent: Path) -> None:
    assert CUSTOM not in providers.registry(agent)
    write_models(agent, models(fake))
    assert providers.registry(agent)[CUSTOM].env == (
        ("PI_TUI_RADIUS_URL", f"{fake.base}/radius"),
        ("PI_TUI_RADIUS_NAME", "Acme Gateway"),
    )
    write_models(agent, models(fake, other={"oauth": "radius", "baseUrl": "gw.example.com/v1"}))
    assert providers.registry(agent)["other"].name == "other"
    assert dict(providers.registry(agent)["other"].env)["PI_TUI_RADIUS_URL"] == "https://gw.example.com"
    (agent / "models.json").unlink()
    assert CUSTOM not in providers.registry(agent)
    with pytest.raises(ConfigError):
        providers.provider(CUSTOM, agent)


def test_a_built_in_login_is_not_replaced_by_a_gateway_but_radius_is(
    fake: FakeProviders, agent: Path
) -> None:
    own = {"oauth": "radius", "baseUrl": "https://own.example/v1", "name": "Own Radius"}
    write_models(
        agent, {"providers": {"anthropic": {"oauth": "radius", "baseUrl": "https://x/v1"}, "radius": own}}
    )
    known = providers.registry(agent)
    assert known["anthropic"].module == "app.providers.anthropic"
    assert (known["radius"].name, dict(known["radius"].env)["PI_TUI_RADIUS_URL"]) == (
        "Own Radius",
        "https://own.example",
    )


def test_a_gateway_that_is_not_https_is_one_sentence_and_the_others_are_listed(
    fake: FakeProviders, agent: Path
) -> None:
    write_models(agent, models(fake, plainhttp={"oauth": "radius", "baseUrl": "http://gw.example/v1"}))
    store = CredentialStore(agent / "auth.json")
    store.put("plainhttp", {"type": "oauth", "access": "p" * 40, "refresh": "r" * 40, "expires": 1})
    known = providers.registry(agent)
    assert CUSTOM in known and "plainhttp" not in known
    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    assert "Acme Gateway: not logged in" in out.stdout
    (note,) = [line for line in out.stdout.splitlines() if "plainhttp" in line]
    assert "https://" in note and note.endswith(".")


def test_login_no_tui_logs_in_to_a_gateway_by_its_id(fake: FakeProviders, agent: Path) -> None:
    write_models(agent, models(fake))
    fake.radius.min_poll_gap = 0.0
    fake.radius.interval = 1
    env = radius_free_env(fake)
    proc = start_cli(
        "login", CUSTOM, "--no-tui", "--method", "device_code", "--agent-dir", str(agent), env=env
    )
    try:
        deadline = time.monotonic() + 30
        while fake.radius.latest_user_code is None and time.monotonic() < deadline:
            time.sleep(0.05)
        fake.radius.approve(fake.radius.latest_user_code)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Logged in to Acme Gateway." in err
    assert CredentialStore(agent / "auth.json").get(CUSTOM) is not None
