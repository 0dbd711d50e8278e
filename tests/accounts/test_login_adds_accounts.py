"""The login sequence's "replace, or add as another account?": `login --no-tui --add/--replace/--name`
as real processes against the fake, then `accounts`, `token --account` and the library."""

from __future__ import annotations

import json
from pathlib import Path

from app.accounts import VAULT_NAME
from app.api import get_api_key
from tests.accounts.helpers import ADA, BOB, read, vault_records
from tests.fakes.server import FakeProviders
from tests.integration.test_cli_status_keys_no_tui import read_until, start_plain_login
from tests.processes import run_cli


def log_in(agent: Path, fake: FakeProviders, email: str, *flags: str) -> str:
    """A whole Anthropic copy-code login as ``email``; pi-tui's stderr."""
    fake.anthropic.email = email
    proc = start_plain_login(agent, fake, "anthropic", *flags)
    url = read_until(proc, lambda line: line.startswith("http"))
    code, state = fake.anthropic.authorize(url)
    _out, err = proc.communicate(f"{code}#{state}\n", timeout=60)
    assert proc.returncode == 0, err
    return err


def accounts(agent: Path) -> list[dict[str, object]]:
    out = run_cli("accounts", "anthropic", "--json", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["accounts"]
    assert isinstance(rows, list)
    return rows


def test_add_keeps_the_first_account_and_makes_the_new_one_active(
    tmp_path: Path, fake: FakeProviders
) -> None:
    agent = tmp_path / "agent"
    log_in(agent, fake, ADA)
    ada = read(agent / "auth.json")["anthropic"]
    err = log_in(agent, fake, BOB, "--add", "--name", "work")
    assert f"as {BOB}" in err
    rows = accounts(agent)
    print("ROWS", rows, read(agent / VAULT_NAME))
    assert {(r["account"], r["active"], r["label"]) for r in rows} == {
        (BOB, True, "work"),
        (ADA, False, None),
    }
    # pi's file holds Bob; Ada's login, untouched, is in the vault, and usable without switching.
    assert fake.anthropic.is_access_valid(read(agent / "auth.json")["anthropic"]["access"])
    assert [r["entry"] for r in vault_records(agent)] == [ada]
    out = run_cli("token", "anthropic", "--account", "ada", "--agent-dir", str(agent), env=fake.env())
    assert (out.returncode, out.stdout) == (0, ada["access"] + "\n")
    assert get_api_key("anthropic", agent_dir=agent, env=fake.env(), account="ada@") == ada["access"]


def test_replace_drops_the_stored_login_and_the_same_account_is_never_kept_twice(
    tmp_path: Path, fake: FakeProviders
) -> None:
    agent = tmp_path / "agent"
    log_in(agent, fake, ADA)
    log_in(agent, fake, BOB, "--add")
    log_in(agent, fake, ADA, "--add")  # Ada again: her vault record becomes the active login
    assert sorted((r["account"], r["active"]) for r in accounts(agent)) == [(ADA, True), (BOB, False)]
    log_in(agent, fake, ADA, "--replace")
    assert sorted((r["account"], r["active"]) for r in accounts(agent)) == [(ADA, True), (BOB, False)]


def test_without_a_terminal_the_question_names_the_options(tmp_path: Path, fake: FakeProviders) -> None:
    agent = tmp_path / "agent"
    log_in(agent, fake, ADA)
    before = (agent / "auth.json").read_bytes()
    out = run_cli("login", "anthropic", "--no-tui", "--agent-dir", str(agent), env=fake.env())
    assert out.returncode == 2
    assert "Replace that login, or add the new one as another account? Add --replace or --add" in out.stderr
    assert (agent / "auth.json").read_bytes() == before and not (agent / VAULT_NAME).exists()


def test_a_single_account_user_gets_no_vault_file(tmp_path: Path, fake: FakeProviders) -> None:
    agent = tmp_path / "agent"
    log_in(agent, fake, ADA)
    log_in(agent, fake, ADA, "--replace")
    assert not (agent / VAULT_NAME).exists()
