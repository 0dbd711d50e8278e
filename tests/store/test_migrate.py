"""``pi-tui migrate``: oauth.json's logins that auth.json lacks, copied over as pi would."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from app.store import CredentialStore, migrate, pending_migration
from tests.processes import run_cli


def login(tag: str) -> dict[str, Any]:
    return {"type": "oauth", "refresh": f"refresh-{tag}", "access": f"access-{tag}", "expires": 1}


def write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
    path.chmod(0o600)


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    return tmp_path / "agent"


def test_status_says_pi_ignores_oauth_json_and_names_the_command(agent: Path) -> None:
    write(agent / "auth.json", {"anthropic": login("new")})
    write(agent / "oauth.json", {"anthropic": login("old"), "github-copilot": login("gh")})

    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    assert f"{agent / 'oauth.json'} holds logins that auth.json lacks (github-copilot)" in out.stdout
    assert "pi ignores that file" in out.stdout and "`pi-tui migrate`" in out.stdout

    out = run_cli("status", "--json", "--agent-dir", str(agent))
    assert json.loads(out.stdout)["migrate"] == {
        "from": str(agent / "oauth.json"),
        "to": str(agent / "auth.json"),
        "providers": ["github-copilot"],
        "command": "pi-tui migrate",
    }


def test_migrate_copies_the_missing_logins_and_renames_the_old_file(agent: Path) -> None:
    write(agent / "auth.json", {"anthropic": login("new"), "pi-key": {"type": "api_key", "key": "k"}})
    write(agent / "oauth.json", {"anthropic": login("old"), "github-copilot": login("gh")})

    out = run_cli("migrate", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    assert "Copied github-copilot into" in out.stdout and "oauth.json.migrated" in out.stdout
    assert json.loads((agent / "auth.json").read_text()) == {
        "anthropic": login("new"),  # auth.json's own login wins
        "pi-key": {"type": "api_key", "key": "k"},
        "github-copilot": login("gh"),
    }
    assert not (agent / "oauth.json").exists()
    assert json.loads((agent / "oauth.json.migrated").read_text())["anthropic"] == login("old")
    assert sorted(os.listdir(agent)) == ["auth.json", "oauth.json.migrated"]  # no lock left behind

    again = run_cli("migrate", "--agent-dir", str(agent))
    assert again.returncode == 0 and "nothing to migrate" in again.stdout
    status = run_cli("status", "--json", "--agent-dir", str(agent))
    assert json.loads(status.stdout)["migrate"] is None


def test_migrate_with_nothing_missing_says_so_and_changes_nothing(agent: Path) -> None:
    write(agent / "auth.json", {"anthropic": login("new")})
    write(agent / "oauth.json", {"anthropic": login("old")})
    before = {name: (agent / name).read_bytes() for name in ("auth.json", "oauth.json")}
    out = run_cli("migrate", "--agent-dir", str(agent))
    assert out.returncode == 0 and "nothing to do" in out.stdout
    assert {name: (agent / name).read_bytes() for name in before} == before
    assert pending_migration(CredentialStore(agent / "auth.json")) is None


def test_migrate_on_oauth_json_says_there_is_nothing_to_migrate(agent: Path) -> None:
    write(agent / "oauth.json", {"anthropic": login("old")})
    out = run_cli("migrate", "--agent-dir", str(agent))
    assert out.returncode == 0 and "nothing to migrate" in out.stdout
    assert not (agent / "auth.json").exists()


def test_migrate_skips_entries_pi_cannot_use_and_a_second_migrated_name_is_free(agent: Path) -> None:
    write(agent / "auth.json", {})
    write(agent / "oauth.json.migrated", {"earlier": login("e")})
    write(agent / "oauth.json", {"anthropic": login("a"), "broken": {"type": "oauth"}})
    done, renamed = migrate(CredentialStore(agent / "auth.json"))
    assert done.providers == ("anthropic",)
    assert renamed == agent / "oauth.json.migrated-2"
    assert json.loads((agent / "auth.json").read_text()) == {"anthropic": login("a")}
    assert json.loads((agent / "oauth.json.migrated").read_text()) == {"earlier": login("e")}


def test_migrate_waits_for_pi_s_lock_and_leaves_none(agent: Path) -> None:
    write(agent / "auth.json", {})
    write(agent / "oauth.json", {"anthropic": login("a")})
    (agent / "auth.json.lock").mkdir()
    store = CredentialStore(agent / "auth.json", lock_timeout=0.2)
    from app.errors import StoreLockTimeout

    with pytest.raises(StoreLockTimeout):
        migrate(store)
    assert (agent / "oauth.json").exists() and json.loads((agent / "auth.json").read_text()) == {}
    (agent / "auth.json.lock").rmdir()
    migrate(store)
    assert not os.path.lexists(agent / "auth.json.lock")
    assert json.loads((agent / "auth.json").read_text()) == {"anthropic": login("a")}


def test_a_damaged_oauth_json_is_a_sentence_not_a_migration(agent: Path) -> None:
    write(agent / "auth.json", {})
    (agent / "oauth.json").write_text("{nope")
    (agent / "oauth.json").chmod(0o600)
    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 0 and "migrate" not in out.stdout
    out = run_cli("migrate", "--agent-dir", str(agent))
    assert out.returncode == 3 and "is not valid JSON" in out.stderr and "Traceback" not in out.stderr
    assert (agent / "oauth.json").read_text() == "{nope"


async def test_the_status_panel_names_the_migration(agent: Path, make_app: Any, clock: Any) -> None:
    from app.service import AuthService
    from tests.tui.helpers import flat

    write(agent / "auth.json", {})
    write(agent / "oauth.json", {"anthropic": login("a")})
    app = make_app(AuthService(CredentialStore(agent / "auth.json"), env={}, clock=clock))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = " ".join(flat(app).split())
        assert "pi ignores that file" in shown and "pi-tui migrate" in shown
        # Not a passing message: it stays while true, and goes once the logins are migrated.
        app.screen.say("Something else.")
        await pilot.pause()
        assert "pi-tui migrate" in " ".join(flat(app).split())
        migrate(CredentialStore(agent / "auth.json"))
        app.screen.reload()
        await pilot.pause()
        assert "pi-tui migrate" not in " ".join(flat(app).split())
