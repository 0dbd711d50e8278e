"""The command line, run as real processes against the fake server."""

from __future__ import annotations

import json
import time
from pathlib import Path

from app import __version__
from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, read_doc, seed_anthropic
from tests.processes import run_cli, start_cli, start_together


def test_version_and_help() -> None:
    assert run_cli("--version").stdout.strip() == f"pi-tui {__version__}"
    help_text = run_cli("--help").stdout
    for command in ("login", "logout", "status", "token", "--agent-dir"):
        assert command in help_text


def test_status_with_nothing_logged_in_exits_zero(tmp_path: Path) -> None:
    out = run_cli("status", "--agent-dir", str(tmp_path / "agent"))
    assert out.returncode == 0
    assert "Anthropic (Claude Pro/Max): not logged in — run `pi-tui login anthropic`" in out.stdout


def test_status_json_masks_tokens(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    tokens = fake.anthropic.seed_login()
    seed_anthropic(store, tokens, expires=now_ms() + HOUR_MS, email="me@example.com")
    out = run_cli(
        "status",
        "--json",
        "--agent-dir",
        str(store.path.parent),
        env={"ANTHROPIC_API_KEY": "sk-ant-api03-" + "k" * 40},
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    row = next(p for p in doc["providers"] if p["provider"] == "anthropic")
    assert (row["state"], row["state_text"]) == ("logged_in", "logged in")
    assert row["account"] == "me@example.com" and row["kind"] == "oauth"
    assert row["source"] == "oauth.json" and row["shadowed"] == ["ANTHROPIC_API_KEY"]
    assert row["token"] == f"sk-ant-oat01-…{tokens['access'][-4:]}"
    assert 3500 < row["expires_in_seconds"] <= 3600
    for secret in (tokens["access"], tokens["refresh"], "k" * 40):
        assert secret not in out.stdout


def test_token_prints_valid_token_without_request(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    tokens = fake.anthropic.seed_login()
    seed_anthropic(store, tokens, expires=now_ms() + HOUR_MS)
    out = run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    assert (out.returncode, out.stdout) == (0, tokens["access"] + "\n")
    assert fake.requests == []


def test_token_without_login_exits_1_with_reason(tmp_path: Path) -> None:
    out = run_cli("token", "anthropic", "--agent-dir", str(tmp_path))
    assert out.returncode == 1
    assert out.stdout == ""
    assert "Not logged in to Anthropic (Claude Pro/Max). Run `pi-tui login anthropic`" in out.stderr


def test_token_falls_back_to_env_api_key(tmp_path: Path) -> None:
    out = run_cli(
        "token", "anthropic", "--agent-dir", str(tmp_path), env={"ANTHROPIC_API_KEY": "sk-ant-api03-xyz"}
    )
    assert (out.returncode, out.stdout) == (0, "sk-ant-api03-xyz\n")


def test_token_refresh_failure_exits_nonzero_and_keeps_login(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    before = seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    fake.fail("anthropic.refresh", status=502, body="<html>bad gateway</html>", content_type="text/html")
    out = run_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    assert out.returncode == 4 and "server error (HTTP 502)" in out.stderr
    assert "Traceback" not in out.stderr
    assert store.get("anthropic") == before


def test_bad_override_is_a_startup_error_naming_the_variable(tmp_path: Path) -> None:
    out = run_cli(
        "status",
        "--agent-dir",
        str(tmp_path),
        env={"PI_TUI_ANTHROPIC_TOKEN_URL": "http://evil.example/token"},
    )
    assert out.returncode == 2
    assert "PI_TUI_ANTHROPIC_TOKEN_URL must use https://" in out.stderr


def test_unknown_provider_lists_known_ones(tmp_path: Path) -> None:
    out = run_cli("token", "mistral", "--agent-dir", str(tmp_path))
    assert out.returncode == 2 and "choose one of: anthropic, github-copilot" in out.stderr


def test_logout_yes_removes_entry(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    out = run_cli("logout", "anthropic", "--yes", "--agent-dir", str(store.path.parent))
    assert out.returncode == 0 and "Logged out of anthropic" in out.stdout
    assert read_doc(store) == {}


def test_logout_without_yes_and_without_terminal_asks_for_yes(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    out = run_cli("logout", "anthropic", "--agent-dir", str(store.path.parent))
    assert out.returncode == 2 and "--yes" in out.stderr
    assert store.get("anthropic") is not None


def test_agent_dir_env_variable_is_used(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    tokens = fake.anthropic.seed_login()
    seed_anthropic(store, tokens, expires=now_ms() + HOUR_MS)
    out = run_cli("token", "anthropic", env={"PI_CODING_AGENT_DIR": str(store.path.parent)})
    assert out.stdout.strip() == tokens["access"]


def test_full_screen_app_without_terminal_says_what_to_use(tmp_path: Path) -> None:
    out = run_cli("--agent-dir", str(tmp_path))
    assert out.returncode == 2 and "pi-tui status" in out.stderr


def test_eight_processes_refresh_once_and_agree(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    fake.set_latency("anthropic.refresh", 0.3)
    procs = start_together([["token", "anthropic", "--agent-dir", str(store.path.parent)]] * 8, fake.env())
    results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
    assert [r[2] for r in results] == [0] * 8, [r[1] for r in results]
    printed = {r[0].strip() for r in results}
    assert len(printed) == 1
    assert printed == {store.get("anthropic")["access"]}  # type: ignore[index]
    assert fake.count("anthropic.refresh") == 1
    assert fake.anthropic.is_access_valid(printed.pop())


def test_sigterm_during_refresh_still_saves_the_new_login(tmp_path: Path, fake: FakeProviders) -> None:
    store = make_store(tmp_path)
    old = seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() - 1)
    fake.set_latency("anthropic.refresh", 1.0)
    proc = start_cli("token", "anthropic", "--agent-dir", str(store.path.parent), env=fake.env())
    deadline = time.monotonic() + 20
    while fake.count("anthropic.refresh") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.terminate()
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "interrupted" in stderr
    saved = store.get("anthropic")
    assert saved is not None and saved["refresh"] != old["refresh"]
    assert fake.anthropic.is_refresh_valid(saved["refresh"])
