"""Several accounts per provider: the vault, adding, switching, logging out, handing out a token."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from app.accounts import VAULT_NAME, Accounts, AccountVault, add_account, settle
from app.errors import ConfigError, StoreCorrupt, StoreUnsafe, StoreWriteError
from app.service import AuthService
from app.store import CredentialStore
from tests.accounts.helpers import ADA, BOB, HOUR_MS, login_entry, now_ms, read, vault_records
from tests.fakes.server import FakeProviders
from tests.processes import run_cli, run_python


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    return tmp_path / "agent"


@pytest.fixture
def pi_store(agent: Path) -> CredentialStore:
    return CredentialStore(agent / "auth.json", lock_timeout=5.0)


def two_accounts(store: CredentialStore, fake: FakeProviders, **kwargs: Any) -> tuple[dict[str, Any], ...]:
    ada, bob = login_entry(fake, ADA), login_entry(fake, BOB)
    add_account(store, "anthropic", ada, ADA, "work", env=fake.env())
    add_account(store, "anthropic", bob, BOB, None, env=fake.env())
    return ada, bob


def test_adding_a_second_account_moves_the_first_to_the_vault(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada, bob = two_accounts(pi_store, fake)

    assert read(agent / "auth.json")["anthropic"] == bob
    assert vault_records(agent) == [{"account": ADA, "label": "work", "entry": ada}]
    vault = agent / VAULT_NAME
    assert stat.S_IMODE(os.lstat(vault).st_mode) == 0o600
    assert "pending" not in read(vault)
    rows = Accounts(pi_store, env=fake.env()).rows(["anthropic"])
    assert [(r.account, r.label, r.active, r.state.word) for r in rows] == [
        (BOB, None, True, "logged_in"),
        (ADA, "work", False, "logged_in"),
    ]


def test_same_account_logged_in_twice_is_one_account(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    first = login_entry(fake, ADA)
    add_account(pi_store, "anthropic", first, ADA, "work", env=fake.env())
    again = login_entry(fake, ADA)
    assert add_account(pi_store, "anthropic", again, ADA, env=fake.env()) is None
    assert read(agent / "auth.json")["anthropic"] == again
    assert vault_records(agent) == []
    assert [(r.account, r.label) for r in Accounts(pi_store).rows(["anthropic"])] == [(ADA, "work")]

    # And an account in the vault logged in again replaces its record, not adds a copy.
    add_account(pi_store, "anthropic", login_entry(fake, BOB), BOB, env=fake.env())
    third = login_entry(fake, ADA)
    assert add_account(pi_store, "anthropic", third, ADA, env=fake.env()) == BOB
    assert read(agent / "auth.json")["anthropic"] == third
    assert [r["account"] for r in vault_records(agent)] == [BOB]
    rows = Accounts(pi_store, env=fake.env()).rows(["anthropic"])
    assert sorted(r.account for r in rows) == [ADA, BOB]


def test_a_login_entry_goes_in_as_pi_writes_it(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    entry = login_entry(fake, ADA) | {"email": ADA}
    add_account(pi_store, "anthropic", entry, None, env=fake.env())  # named by the provider's hook
    add_account(pi_store, "anthropic", login_entry(fake, BOB), BOB, env=fake.env())
    assert vault_records(agent)[0]["account"] == ADA
    assert "email" not in vault_records(agent)[0]["entry"]


async def test_switch_puts_the_chosen_account_in_pi_file_and_keeps_the_other(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada, bob = two_accounts(pi_store, fake)
    accounts = Accounts(pi_store, env=fake.env())

    chosen, before = await accounts.switch("anthropic", "work")  # by label

    assert (chosen.account, before) == (ADA, BOB)
    assert read(agent / "auth.json")["anthropic"] == ada
    assert vault_records(agent) == [{"account": BOB, "label": None, "entry": bob}]
    rows = accounts.rows(["anthropic"])
    assert [(r.account, r.label, r.active) for r in rows] == [(ADA, "work", True), (BOB, None, False)]
    assert fake.count("anthropic.refresh") == 0

    await accounts.switch("anthropic", "bo")  # a unique prefix
    assert read(agent / "auth.json")["anthropic"] == bob
    assert vault_records(agent) == [{"account": ADA, "label": "work", "entry": ada}]


async def test_switch_to_a_due_vault_account_refreshes_it_first(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada = login_entry(fake, ADA, expires=now_ms() - 1)
    add_account(pi_store, "anthropic", ada, ADA, env=fake.env())
    add_account(pi_store, "anthropic", login_entry(fake, BOB), BOB, env=fake.env())

    await Accounts(pi_store, env=fake.env()).switch("anthropic", ADA)

    active = read(agent / "auth.json")["anthropic"]
    assert fake.count("anthropic.refresh") == 1
    assert active["refresh"] != ada["refresh"] and fake.anthropic.is_refresh_valid(active["refresh"])
    assert fake.anthropic.is_access_valid(active["access"]) and active["expires"] > now_ms() + HOUR_MS
    assert set(active) == {"type", "refresh", "access", "expires"}, "stored exactly as pi stores it"


async def test_switch_reads_the_active_entry_again_under_the_lock(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    """pi rotates the active login after the switch's first look (while it refreshes the due
    account it switches to): the rotated login is the one kept in the vault."""
    add_account(pi_store, "anthropic", login_entry(fake, ADA, expires=now_ms() - 1), ADA, env=fake.env())
    add_account(pi_store, "anthropic", login_entry(fake, BOB), BOB, env=fake.env())
    rotated = login_entry(fake, BOB)  # pi's refresh answer
    pi_wrote = []

    def pi_refreshes_now(step: str) -> None:
        if step == "vault:lock-acquired" and not pi_wrote:  # the first vault lock: pi's lock is free
            pi_wrote.append(True)
            pi_store.put("anthropic", rotated)

    vault = AccountVault.beside(pi_store, on_step=pi_refreshes_now)
    await Accounts(pi_store, env=fake.env(), vault=vault).switch("anthropic", ADA)

    assert pi_wrote
    assert [r["entry"] for r in vault_records(agent) if r["account"] == BOB] == [rotated]


def test_ambiguous_or_unknown_account_is_one_sentence(pi_store: CredentialStore, fake: FakeProviders) -> None:
    add_account(pi_store, "anthropic", login_entry(fake, "ada@a.example"), "ada@a.example", env=fake.env())
    add_account(pi_store, "anthropic", login_entry(fake, "ada@b.example"), "ada@b.example", env=fake.env())
    accounts = Accounts(pi_store, env=fake.env())
    with pytest.raises(ConfigError) as ambiguous:
        accounts.find("anthropic", "ada")
    assert str(ambiguous.value) == (
        "'ada' matches several Anthropic (Claude Pro/Max) accounts (ada@b.example, ada@a.example); "
        "give more of the name."
    )
    with pytest.raises(ConfigError, match=r"No Anthropic .* account matches 'zed'"):
        accounts.find("anthropic", "zed")


def test_logging_out_of_a_vault_account_leaves_pi_file_untouched(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    two_accounts(pi_store, fake)
    before = (agent / "auth.json").read_bytes()

    out = run_cli("logout", "anthropic", "--account", "ada", "--yes", "--agent-dir", str(agent))

    assert out.returncode == 0, out.stderr
    assert (agent / "auth.json").read_bytes() == before
    assert vault_records(agent) == []
    assert "Logged out of ada@example.com (work)" in out.stdout


def test_logging_out_of_the_active_account_makes_none_active_unless_asked(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada, _bob = two_accounts(pi_store, fake)

    out = run_cli("logout", "anthropic", "--account", BOB, "--yes", "--agent-dir", str(agent))

    assert out.returncode == 0, out.stderr
    assert "anthropic" not in read(agent / "auth.json")
    assert [r["entry"] for r in vault_records(agent)] == [ada]
    assert "No Anthropic (Claude Pro/Max) account is active now" in out.stdout


def test_logout_with_switch_to_makes_that_account_active(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada, _bob = two_accounts(pi_store, fake)

    out = run_cli("logout", "anthropic", "--switch-to", "work", "--yes", "--agent-dir", str(agent))

    assert out.returncode == 0, out.stderr
    assert read(agent / "auth.json")["anthropic"] == ada
    assert vault_records(agent) == []
    assert "ada@example.com (work) is now the active" in out.stdout


async def test_entry_of_a_vault_account_without_switching(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada = login_entry(fake, ADA, expires=now_ms() - 1)
    add_account(pi_store, "anthropic", ada, ADA, env=fake.env())
    bob = login_entry(fake, BOB)
    add_account(pi_store, "anthropic", bob, BOB, env=fake.env())
    before = (agent / "auth.json").read_bytes()

    entry = await Accounts(pi_store, env=fake.env()).entry_for("anthropic", "ada")

    assert fake.anthropic.is_access_valid(entry["access"]) and entry["access"] != ada["access"]
    assert vault_records(agent)[0]["entry"] == entry, "the refreshed login is kept in the vault"
    assert (agent / "auth.json").read_bytes() == before
    service = AuthService(pi_store, env=fake.env())  # the one token path, with account=
    assert service.token_sync("anthropic", account="ada").token == entry["access"]  # not refreshed again
    assert service.token_sync("anthropic", account=BOB).token == bob["access"]
    assert fake.count("anthropic.refresh") == 1


def test_accounts_command_lists_both_and_marks_the_active_one(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada, bob = two_accounts(pi_store, fake)

    out = run_cli("accounts", "--json", "--agent-dir", str(agent))
    text = run_cli("accounts", "anthropic", "--agent-dir", str(agent))

    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["accounts"] == [
        {
            "provider": "anthropic",
            "account": BOB,
            "label": None,
            "active": True,
            "state": "logged_in",
            "state_text": "logged in",
            "expires": bob["expires"],
        },
        {
            "provider": "anthropic",
            "account": ADA,
            "label": "work",
            "active": False,
            "state": "logged_in",
            "state_text": "logged in",
            "expires": ada["expires"],
        },
    ]
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "Anthropic (Claude Pro/Max)"
    assert lines[1].startswith("  * bob@example.com: logged in, expires in 7h")
    assert lines[2].startswith("    ada@example.com (work): logged in, expires in 7h")
    for entry in (ada, bob):
        assert entry["access"] not in out.stdout + text.stdout
        assert entry["refresh"] not in out.stdout + text.stdout


def test_switch_command(pi_store: CredentialStore, agent: Path, fake: FakeProviders) -> None:
    ada, _ = two_accounts(pi_store, fake)

    out = run_cli("switch", "anthropic", "ada", "--agent-dir", str(agent), env=fake.env())
    again = run_cli("switch", "anthropic", "ada", "--agent-dir", str(agent), env=fake.env())
    nobody = run_cli("switch", "anthropic", "carol", "--agent-dir", str(agent), env=fake.env())

    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "Switched Anthropic (Claude Pro/Max) to ada@example.com (work) (bob@example.com is kept by "
        "pi-tui). pi uses it from its next request.\n"
    )
    assert read(agent / "auth.json")["anthropic"] == ada
    assert again.returncode == 0 and "already the active" in again.stdout
    assert nobody.returncode == 2 and "Traceback" not in nobody.stderr
    assert nobody.stderr.startswith("pi-tui: No Anthropic (Claude Pro/Max) account matches 'carol'")


def test_the_vault_gets_the_store_checks(pi_store: CredentialStore, agent: Path, fake: FakeProviders) -> None:
    two_accounts(pi_store, fake)
    vault = agent / VAULT_NAME
    os.chmod(vault, 0o644)
    with pytest.raises(StoreUnsafe, match="chmod 600"):
        AccountVault.beside(pi_store).load()
    out = run_cli("accounts", "--agent-dir", str(agent))
    assert out.returncode == 3 and "chmod 600" in out.stderr and "Traceback" not in out.stderr
    os.chmod(vault, 0o600)

    elsewhere = agent.parent / "elsewhere.json"
    os.rename(vault, elsewhere)
    os.symlink(elsewhere, vault)  # our own link, to our own file: followed, as the store does
    assert [r["account"] for r in AccountVault.beside(pi_store).records("anthropic")] == [ADA]

    os.unlink(vault)
    vault.write_text('{"version": 1, "providers": {"anthropic": [{"account": "x", "entry": {}}]}}')
    os.chmod(vault, 0o600)
    with pytest.raises(StoreCorrupt, match="not in pi's format"):
        AccountVault.beside(pi_store).load()
    with pytest.raises(StoreCorrupt):
        add_account(pi_store, "anthropic", login_entry(fake, "carol@example.com"), "carol@example.com")
    assert "carol" not in vault.read_text(), "a damaged vault is never silently replaced"


def test_settle_keeps_a_login_pi_refreshed_in_place_after_an_interrupted_switch() -> None:
    """Killed between the vault's first write and pi's: pi then rotated the old account in place."""
    old = {"type": "oauth", "refresh": "r-ada-1", "access": "a1", "expires": 1}
    rotated = {"type": "oauth", "refresh": "r-ada-2", "access": "a2", "expires": 2}
    bob = {"type": "oauth", "refresh": "r-bob", "access": "b", "expires": 1}
    doc: dict[str, Any] = {
        "providers": {
            "anthropic": [{"account": BOB, "entry": bob}, {"account": ADA, "label": None, "entry": old}]
        },
        "pending": {
            "provider": "anthropic",
            "from": ADA,
            "from_refresh": "r-ada-1",
            "to": BOB,
            "to_refresh": "r-bob",
            "file": [1, 2],
        },
    }
    assert settle(doc, "anthropic", rotated, [1, 2]).changed  # same file: pi wrote in place
    assert doc == {"providers": {"anthropic": [{"account": BOB, "entry": bob}]}}


def test_token_of_a_fresh_stored_account_loads_neither_textual_nor_httpx_nor_asyncio(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada, _ = two_accounts(pi_store, fake)
    probe = (
        "import sys, json\n"
        "from app.service import AuthService\n"
        "from app.store import CredentialStore\n"
        f"service = AuthService(CredentialStore({str(agent / 'auth.json')!r}))\n"
        "token = service.token_sync('anthropic', account='work').token\n"
        "print(json.dumps([token, [m for m in ('textual', 'httpx', 'asyncio') if m in sys.modules]]))"
    )
    out = run_python("-c", probe)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [ada["access"], []]


async def test_entry_for_refreshes_a_stored_account_with_less_left_than_asked(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    ada, _ = two_accounts(pi_store, fake)  # Ada has 8 hours left
    accounts = Accounts(pi_store, env=fake.env())
    assert await accounts.entry_for("anthropic", ADA, min_valid_ms=HOUR_MS) == ada
    fresh = await accounts.entry_for("anthropic", ADA, min_valid_ms=9 * HOUR_MS)
    assert fresh["access"] != ada["access"] and fake.count("anthropic.refresh") == 1
    assert vault_records(agent)[0]["entry"] == fresh


async def test_no_refresh_token_is_spent_when_the_vault_cannot_take_the_answer(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = login_entry(fake, ADA, expires=now_ms() - 1)
    add_account(pi_store, "anthropic", ada, ADA, env=fake.env())
    add_account(pi_store, "anthropic", login_entry(fake, BOB), BOB, env=fake.env())
    real_open = os.open

    def read_only_vault_dir(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if VAULT_NAME in str(path) and str(path).endswith(".tmp"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only_vault_dir)
    with pytest.raises(StoreWriteError, match="the file system is read-only"):
        await Accounts(pi_store, env=fake.env()).switch("anthropic", ADA)

    assert fake.count("anthropic.refresh") == 0
    assert fake.anthropic.is_refresh_valid(ada["refresh"])
    assert vault_records(agent)[0]["entry"] == ada


def test_logins_no_provider_names_are_kept_apart(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    entries = [login_entry(fake, f"user{i}@example.com") for i in range(3)]
    for entry in entries:  # pi's format: nothing in the entry names the account
        add_account(pi_store, "anthropic", entry, None, env=fake.env())

    assert read(agent / "auth.json")["anthropic"] == entries[2]
    assert [(r["account"], r["entry"]) for r in vault_records(agent)] == [
        ("unnamed", entries[0]),
        ("unnamed-2", entries[1]),
    ]


async def test_a_plain_login_of_a_stored_account_is_not_kept_twice(
    pi_store: CredentialStore, agent: Path, fake: FakeProviders
) -> None:
    """`pi-tui login --replace` put a new login of Ada, whom the vault holds, in pi's file."""
    from app.service import AuthService

    two_accounts(pi_store, fake)  # Bob active, Ada stored
    newer = login_entry(fake, ADA)
    await AuthService(pi_store, env=fake.env()).save_login("anthropic", newer | {"email": ADA})

    rows = Accounts(pi_store, env=fake.env()).rows(["anthropic"])
    assert [(r.account, r.active) for r in rows] == [(ADA, True)]
    carol = login_entry(fake, "carol@example.com")
    add_account(pi_store, "anthropic", carol, "carol@example.com", env=fake.env())

    assert read(agent / "auth.json")["anthropic"] == carol
    assert vault_records(agent) == [{"account": ADA, "label": "work", "entry": newer}]
