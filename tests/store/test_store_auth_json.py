"""Modern pi's auth.json: which file, torn reads, BOM, bad shapes, api_key entries, links, state."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import app.keys
from app.api import get_credential
from app.credentials import all_statuses, resolve
from app.errors import ConfigError, StoreCorrupt, StoreUnsafe
from app.providers import provider
from app.service import AuthService
from app.state import StateFile
from app.store import CredentialStore, choose_store_path
from tests.processes import run_cli

ANTHROPIC = provider("anthropic")
KEY = "sk-ant-api03-a-literal-key-0123456789"
ENV_KEY = "sk-env-0123456789"


def login(tag: str = "1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "oauth",
        "refresh": f"refresh-{tag}",
        "access": f"sk-ant-oat01-access-{tag}-0123456789",
        "expires": 4_102_444_800_000,
        **extra,
    }


def write(path: Path, doc: Any, *, raw: bytes | None = None) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = raw if raw is not None else json.dumps(doc, indent=2).encode()
    path.write_bytes(data)
    path.chmod(0o600)
    return data


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    return tmp_path / "agent"


@pytest.fixture
def path(agent: Path) -> Path:
    return agent / "auth.json"


@pytest.fixture
def store(path: Path) -> CredentialStore:
    return CredentialStore(path, lock_timeout=2.0)


# --- which file ----------------------------------------------------------------------------------


def test_a_new_agent_directory_gets_auth_json(agent: Path) -> None:
    assert choose_store_path(agent, {}) == agent / "auth.json"


def test_auth_json_wins_when_both_exist(agent: Path) -> None:
    write(agent / "oauth.json", {})
    write(agent / "auth.json", {})
    assert choose_store_path(agent, {}) == agent / "auth.json"


def test_oauth_json_alone_is_used_as_before(agent: Path) -> None:
    write(agent / "oauth.json", {})
    assert choose_store_path(agent, {}) == agent / "oauth.json"
    store = CredentialStore(choose_store_path(agent, {}))
    assert store.kind == "oauth.json" and not store.uses_pi_lock


@pytest.mark.parametrize("forced", ["auth.json", "oauth.json"])
def test_pi_tui_store_forces_the_file(agent: Path, forced: str) -> None:
    write(agent / "oauth.json", {})
    write(agent / "auth.json", {})
    assert choose_store_path(agent, {"PI_TUI_STORE": forced}) == agent / forced


@pytest.mark.parametrize("bad", ["credentials.json", "../auth.json", "AUTH.JSON"])
def test_pi_tui_store_of_anything_else_is_a_config_error(agent: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="PI_TUI_STORE"):
        choose_store_path(agent, {"PI_TUI_STORE": bad})


def test_pi_tui_store_error_exits_2_with_a_sentence(agent: Path) -> None:
    out = run_cli("status", "--agent-dir", str(agent), env={"PI_TUI_STORE": "nope.json"})
    assert out.returncode == 2 and "PI_TUI_STORE" in out.stderr and "Traceback" not in out.stderr


def test_the_agent_dir_comes_from_the_flag_then_the_environment(tmp_path: Path) -> None:
    write(tmp_path / "flag" / "auth.json", {"anthropic": login("flag")})
    write(tmp_path / "env" / "oauth.json", {"anthropic": login("env")})
    env = {"PI_CODING_AGENT_DIR": str(tmp_path / "env")}
    assert CredentialStore.for_agent_dir(tmp_path / "flag", env).path == tmp_path / "flag" / "auth.json"
    assert CredentialStore.for_agent_dir(None, env).path == tmp_path / "env" / "oauth.json"


def test_status_json_names_the_file_its_format_and_each_kind(agent: Path, path: Path) -> None:
    write(path, {"anthropic": {"type": "api_key", "key": KEY}, "github-copilot": login("gh")})
    out = run_cli("status", "--json", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["store"] == str(path) and doc["format"] == "auth.json" and doc["migrate"] is None
    rows = {row["provider"]: row for row in doc["providers"]}
    assert rows["anthropic"]["source"] == "auth.json" and rows["anthropic"]["kind"] == "api_key"
    assert rows["github-copilot"]["kind"] == "oauth"
    assert KEY not in out.stdout  # masked


def test_pi_tui_never_writes_both_files(agent: Path) -> None:
    write(agent / "oauth.json", {"anthropic": login("old")})
    before = (agent / "oauth.json").read_bytes()
    write(agent / "auth.json", {})
    store = CredentialStore.for_agent_dir(agent, {})
    store.put("github-copilot", login("gh"))
    store.delete("github-copilot")
    assert (agent / "oauth.json").read_bytes() == before


def test_token_names_the_file_when_not_logged_in(agent: Path, path: Path) -> None:
    write(path, {})
    out = run_cli("token", "anthropic", "--agent-dir", str(agent))
    assert out.returncode == 1 and f"{path} has no anthropic entry" in out.stderr


# --- reads: torn, BOM, bad shapes ------------------------------------------------------------------


def test_a_torn_read_is_retried_under_the_lock(store: CredentialStore, path: Path) -> None:
    complete = write(path, {"anthropic": login()})
    path.write_bytes(complete[:25])  # pi truncates, then writes: caught half way…
    lock = path.with_name("auth.json.lock")
    lock.mkdir()  # …while pi holds its lock

    import threading

    def pi_finishes() -> None:
        path.write_bytes(complete)
        lock.rmdir()

    timer = threading.Timer(0.3, pi_finishes)
    timer.start()
    try:
        assert store.get("anthropic") == login()
    finally:
        timer.cancel()
    assert not list(path.parent.glob("*.corrupt-*"))  # not called corrupt, nothing copied


def test_a_file_that_fails_under_the_lock_is_corrupt_and_kept(store: CredentialStore, path: Path) -> None:
    data = write(path, None, raw=b'{"anthropic": {"type": "oa')
    with pytest.raises(StoreCorrupt, match="is not valid JSON"):
        store.load()
    assert path.read_bytes() == data and not list(path.parent.glob("*.corrupt-*"))
    assert not os.path.lexists(path.with_name("auth.json.lock"))
    store.put("anthropic", login())  # a deliberate login copies it aside first
    (backup,) = path.parent.glob("auth.json.corrupt-*")
    assert backup.read_bytes() == data


def test_a_leading_bom_is_accepted(store: CredentialStore, path: Path) -> None:
    write(path, None, raw=b"\xef\xbb\xbf" + json.dumps({"anthropic": login()}).encode())
    assert store.get("anthropic") == login()
    store.put("github-copilot", login("gh"))
    assert json.loads(path.read_text()) == {"anthropic": login(), "github-copilot": login("gh")}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"[]", "holds a JSON array"),
        (b"null", "holds a JSON literal"),
        (b"", "is not valid JSON"),
        (b'"text"', "holds a JSON string"),
    ],
)
def test_wrong_documents_are_a_sentence_and_nothing_is_overwritten(
    agent: Path, path: Path, raw: bytes, says: str
) -> None:
    write(path, None, raw=raw)
    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 3 and says in out.stdout and "Traceback" not in out.stdout + out.stderr
    out = run_cli("token", "anthropic", "--agent-dir", str(agent))
    assert out.returncode == 3 and says in out.stderr
    assert path.read_bytes() == raw


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "oauth", "access": 1, "refresh": "r", "expires": 1},
        {"type": "oauth", "access": "a", "refresh": "r", "expires": "soon"},
        {"type": "bearer", "token": "t"},
        {"type": "api_key", "key": ["k"]},
        "a bare string",
    ],
)
def test_an_entry_pi_cannot_use_is_a_sentence_and_kept(agent: Path, path: Path, entry: Any) -> None:
    data = write(path, {"anthropic": entry, "github-copilot": login("gh"), "x-unknown": {"k": [1]}})
    out = run_cli("status", "--json", "--agent-dir", str(agent))
    rows = {row["provider"]: row for row in json.loads(out.stdout)["providers"]}
    assert "not in pi's format" in rows["anthropic"]["error"]
    assert rows["github-copilot"]["state"] == "logged_in"
    out = run_cli("token", "anthropic", "--agent-dir", str(agent))
    assert out.returncode == 3 and "not in pi's format" in out.stderr and "Traceback" not in out.stderr
    assert path.read_bytes() == data


def test_unknown_providers_and_keys_are_kept_exactly(store: CredentialStore, path: Path) -> None:
    others = {"x-future": {"type": "oauth2", "nested": {"a": [1, 2.5, None]}}, "z": "text"}
    write(path, {"anthropic": login(piExtra={"k": 1}), **others})
    store.put("github-copilot", login("gh"))
    store.delete("anthropic")
    assert json.loads(path.read_text()) == {**others, "github-copilot": login("gh")}


# --- pi's api_key entries ----------------------------------------------------------------------------


def api_key(path: Path, key: str) -> None:
    write(path, {"anthropic": {"type": "api_key", "key": key}})


@pytest.mark.parametrize(
    ("key", "env", "expected"),
    [
        (KEY, {}, KEY),
        ("$MY_KEY", {"MY_KEY": KEY}, KEY),
        ("${MY_KEY}", {"MY_KEY": KEY}, KEY),
        ("MY_KEY", {"MY_KEY": KEY}, KEY),  # pi: a value naming a set variable is that variable
        ("pre-${MY_KEY}", {"MY_KEY": "x"}, "pre-x"),
    ],
)
def test_api_key_entries_resolve_as_pi_does(
    store: CredentialStore, path: Path, key: str, env: dict[str, str], expected: str
) -> None:
    api_key(path, key)
    found = resolve(ANTHROPIC, store, env, for_token=True)
    assert (found.token, found.kind, found.source) == (expected, "api_key", "auth.json")


def test_the_stored_key_wins_over_the_environment(store: CredentialStore, path: Path) -> None:
    api_key(path, KEY)
    credential = get_credential(
        "anthropic", agent_dir=path.parent, env={"ANTHROPIC_API_KEY": "sk-env-0123456789"}
    )
    assert credential.token == KEY and credential.kind == "api_key"
    assert credential.source == "auth.json" and credential.shadowed == ("ANTHROPIC_API_KEY",)


def test_environment_variables_come_after_an_empty_store(store: CredentialStore, path: Path) -> None:
    write(path, {})
    credential = get_credential(
        "anthropic", agent_dir=path.parent, env={"ANTHROPIC_API_KEY": "sk-env-0123456789"}
    )
    assert (credential.token, credential.source, credential.kind) == (
        ENV_KEY,
        "ANTHROPIC_API_KEY",
        "api_key",
    )


def test_a_missing_variable_is_a_sentence(store: CredentialStore, path: Path) -> None:
    api_key(path, "$NOT_SET_ANYWHERE")
    with pytest.raises(ConfigError, match=r"reads \$NOT_SET_ANYWHERE, which is not set"):
        get_credential("anthropic", agent_dir=path.parent, env={})


def test_a_command_key_runs_for_a_token(agent: Path, path: Path, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    api_key(path, f"!touch {ran}; echo {KEY}")
    out = run_cli("token", "anthropic", "--agent-dir", str(agent), env={"SHELL": "/bin/sh"})
    assert out.returncode == 0 and out.stdout.strip() == KEY, out.stderr
    assert ran.exists()


def test_status_never_runs_a_command_key(agent: Path, path: Path, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    api_key(path, f"!touch {ran}; echo {KEY}")
    for args in (["status"], ["status", "--json"]):
        out = run_cli(*args, "--agent-dir", str(agent), env={"SHELL": "/bin/sh"})
        assert out.returncode == 0, out.stderr
    assert not ran.exists()
    row = json.loads(out.stdout)["providers"][0]
    assert (row["source"], row["kind"], row["state"]) == ("auth.json", "api_key", "logged_in")
    statuses = all_statuses(CredentialStore(path), {"SHELL": "/bin/sh"})
    assert statuses[0].kind == "api_key" and not ran.exists()


def test_a_failing_command_is_a_sentence(agent: Path, path: Path) -> None:
    api_key(path, "!echo partial; exit 7")
    out = run_cli("token", "anthropic", "--agent-dir", str(agent), env={"SHELL": "/bin/sh"})
    assert out.returncode == 2 and "runs a command that failed (exit status 7)" in out.stderr
    assert "partial" not in out.stderr and "Traceback" not in out.stderr


def test_a_command_that_hangs_is_stopped_with_a_sentence(
    store: CredentialStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.keys, "COMMAND_TIMEOUT_SECONDS", 0.3)
    api_key(path, "!sleep 30")
    with pytest.raises(ConfigError, match=r"did not finish within 0\.3 s"):
        get_credential("anthropic", agent_dir=path.parent, env={"SHELL": "/bin/sh"})


@pytest.mark.parametrize(
    ("entry", "said"),
    [({"type": "api_key", "key": KEY}, "API key entry"), (login(), "OAuth login")],
    ids=["api_key", "oauth"],
)
def test_logout_removes_either_kind_and_says_which(
    agent: Path, path: Path, entry: dict[str, Any], said: str
) -> None:
    write(path, {"anthropic": entry, "other": {"type": "api_key", "key": "k"}})
    out = run_cli("logout", "anthropic", "--yes", "--agent-dir", str(agent))
    assert out.returncode == 0 and f"Removed its {said} from {path}" in out.stdout
    assert json.loads(path.read_text()) == {"other": {"type": "api_key", "key": "k"}}
    out = run_cli("logout", "anthropic", "--yes", "--agent-dir", str(agent))
    assert out.returncode == 0 and "nothing to do" in out.stdout


def test_logout_of_an_entry_pi_cannot_use_removes_it_and_keeps_a_copy(agent: Path, path: Path) -> None:
    data = write(path, {"anthropic": {"type": "mystery"}, "other": {"k": 1}})
    out = run_cli("logout", "anthropic", "--yes", "--agent-dir", str(agent))
    assert out.returncode == 0 and "Removed its damaged entry" in out.stdout, out.stderr
    assert json.loads(path.read_text()) == {"other": {"k": 1}}
    (copy,) = agent.glob("auth.json.corrupt-*")
    assert copy.read_bytes() == data


# --- symlinks ----------------------------------------------------------------------------------------


def test_a_link_of_ours_is_followed_locked_beside_the_target_and_written(
    tmp_path: Path, agent: Path, path: Path
) -> None:
    target = tmp_path / "dotfiles" / "pi-auth.json"
    write(target, {"anthropic": login()})
    agent.mkdir()
    path.symlink_to(target)
    store = CredentialStore.for_agent_dir(agent, {})
    assert store.path == path and store.uses_pi_lock
    assert store.lock_path == target.with_name("pi-auth.json.lock")
    with store.transaction() as tx:
        assert store.lock_path.is_dir() and not os.path.lexists(agent / "auth.json.lock")
        tx.put("github-copilot", login("gh"))
    assert path.is_symlink() and os.readlink(path) == str(target)
    assert json.loads(target.read_text()) == {"anthropic": login(), "github-copilot": login("gh")}
    assert not os.path.lexists(store.lock_path)


def test_a_link_to_a_file_readable_by_others_is_refused_with_the_fix(
    tmp_path: Path, agent: Path, path: Path
) -> None:
    target = tmp_path / "dotfiles" / "pi-auth.json"
    write(target, {"anthropic": login()})
    target.chmod(0o644)
    agent.mkdir()
    path.symlink_to(target)
    # The fix names the link the user has (chmod follows it to the file).
    with pytest.raises(StoreUnsafe, match=rf"^{path} \(a link to {target}\) .* chmod 600 {path}$"):
        CredentialStore(path).get("anthropic")


def test_a_link_to_another_users_file_is_refused(tmp_path: Path, agent: Path, path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a file of another user needs root to make")
    target = tmp_path / "pi-auth.json"
    data = write(target, {"anthropic": login()})
    os.chown(target, 65534, 65534)
    agent.mkdir()
    path.symlink_to(target)
    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 3 and "symbolic link" in out.stdout and "another user" in out.stdout
    with pytest.raises(StoreUnsafe):
        CredentialStore(path).put("anthropic", login("new"))
    assert target.read_bytes() == data


# --- pi-tui's own memory ----------------------------------------------------------------------------


async def test_a_login_is_stored_as_pi_writes_it_and_the_account_in_the_state_file(
    store: CredentialStore, path: Path, state_dir: Path
) -> None:
    service = AuthService(store, env={})
    result = await service.save_login("anthropic", login(email="me@example.com"))
    assert result.account == "me@example.com"
    assert json.loads(path.read_text()) == {"anthropic": login()}
    # One record per login: the account beside the token's life (issue 11), never a token.
    assert StateFile.default().get(path, "anthropic")["account"] == "me@example.com"
    assert service.status("anthropic").account == "me@example.com"
    state_text = (state_dir / "state.json").read_text()
    assert login()["access"] not in state_text and login()["refresh"] not in state_text
    service.logout("anthropic")
    assert StateFile.default().get(path, "anthropic") == {}


def test_an_old_entry_with_an_account_key_is_still_shown(store: CredentialStore, path: Path) -> None:
    write(path, {"github-copilot": login("gh", login="octocat")})
    assert AuthService(store, env={}).status("github-copilot").account == "@octocat"


def test_the_store_module_imports_no_fcntl_for_auth_json_reads() -> None:
    code = "import sys, app.store, app.credentials; print('fcntl' in sys.modules)"
    from tests.processes import run_python

    out = run_python("-c", code)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.timeout(60)  # waiting for our own lock would take 600 s and fail here
def test_a_damaged_file_read_while_we_hold_the_lock_is_corrupt_at_once(
    store: CredentialStore, path: Path
) -> None:
    store.put("anthropic", login())
    slow = CredentialStore(path, lock_timeout=600)
    with slow.transaction():
        path.write_bytes(b'{"anthropic": ')  # nobody else can be writing: we hold the lock
        with pytest.raises(StoreCorrupt):
            slow.get("anthropic")


# --- pi's api_key entries on the panel and in `t` (issue 11's API key handling, merged) -------------


@pytest.mark.parametrize("how", ["literal", "command"])
async def test_a_stored_api_key_is_tested_with_x_api_key(
    store: CredentialStore, path: Path, fake: Any, how: str
) -> None:
    fake.anthropic.api_keys.add(KEY)
    api_key(path, KEY if how == "literal" else f"!echo {KEY}")
    service = AuthService(store, env=fake.env() | {"SHELL": "/bin/sh"})
    assert await service.test("anthropic") == "OK: claude-haiku-4-5 answered the test call."
    (request,) = fake.requests_for("anthropic.messages")
    assert request.headers["x-api-key"] == KEY and "authorization" not in request.headers


async def test_r_on_a_stored_api_key_says_it_does_not_expire(
    store: CredentialStore, path: Path, make_app: Any, clock: Any
) -> None:
    from tests.tui.helpers import card, wait_for_text

    api_key(path, KEY)
    app = make_app(AuthService(store, env={}, clock=clock))
    async with app.run_test(size=(100, 30)) as pilot:
        assert "Source auth.json, an API key" in card(app, "anthropic")
        await pilot.press("r")
        await wait_for_text(pilot, "it uses an API key (auth.json), which has no expiry to renew")
        assert json.loads(path.read_text()) == {"anthropic": {"type": "api_key", "key": KEY}}
