"""``pi-tui usage`` as a real process against the fakes: its text, its JSON, its cache, its failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.fakes.server import FakeProviders
from tests.processes import run_cli, run_python
from tests.usage.helpers import WITH_USAGE, seed, seed_all, store_in, usage_requests

EXPECTED_TEXT = """\
Anthropic         5h      ██████████░░░░░░  61% · resets in 1h 12m
                  7d      ████░░░░░░░░░░░░  22% · resets in 3d 4h
                  Extra usage: on · $12.34 of $50.00 used this month (25%)
GitHub Copilot    premium ███░░░░░░░░░░░░░  20% · resets in 12d 0h
                  plan individual_pro · unlimited: chat, completions
OpenAI            5h      ██░░░░░░░░░░░░░░  12% · resets in 1h 00m
                  7d      ██████░░░░░░░░░░  40% · resets in 2d 5h
                  plan plus
xAI               usage not available
Kimi Code         5h      █████░░░░░░░░░░░  30% · resets in 2h 00m
                  week    █████████░░░░░░░  55% · resets in 4d 0h
                  plan intermediate
OpenRouter OAuth  Credits: $12.34 left of $20.00
"""


def _copilot_reset_in_12_days(fake: FakeProviders) -> None:
    """The real answer's reset is a date; a whole time keeps "resets in 12d 0h" steady in a test."""
    from tests.fakes.providers.github_copilot import default_copilot_user

    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 12 * 86400 + 30))
    fake.github.usage_body = default_copilot_user() | {"quota_reset_date": reset}


def usage(fake: FakeProviders, tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    result = run_cli("usage", *args, "--agent-dir", str(tmp_path / "agent"), env=fake.env() | env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


def test_human_output_one_line_per_window_with_bar_percent_and_reset(
    fake: FakeProviders, tmp_path: Path
) -> None:
    seed_all(fake, store_in(tmp_path), "xai")
    _copilot_reset_in_12_days(fake)
    code, out, err = usage(fake, tmp_path)
    assert code == 0, err
    assert out == EXPECTED_TEXT


def test_ascii_fallback_when_stdout_cannot_encode_the_bar(fake: FakeProviders, tmp_path: Path) -> None:
    seed(fake, store_in(tmp_path), "anthropic")
    code, out, err = usage(fake, tmp_path, PYTHONIOENCODING="ascii")
    assert code == 0, err
    assert out.splitlines()[0] == "Anthropic  5h ##########------  61% - resets in 1h 12m"
    out.encode("ascii")


def test_json_shape(fake: FakeProviders, tmp_path: Path) -> None:
    entries = seed_all(fake, store_in(tmp_path), "xai")
    code, out, err = usage(fake, tmp_path, "--json")
    assert code == 0, err
    rows = {row["provider"]: row for row in json.loads(out)["providers"]}
    assert set(rows) == {*WITH_USAGE, "xai"}  # logged-in ones only
    for row in rows.values():
        assert {"provider", "available", "windows", "plan", "credits", "fetched_at", "error"} <= set(row)
    claude = rows["anthropic"]
    assert claude["available"] is True and claude["error"] is None
    assert [(w["name"], w["used_percent"]) for w in claude["windows"]] == [("5h", 61.0), ("7d", 22.0)]
    assert all(isinstance(w["resets_at"], int) for w in claude["windows"])
    assert claude["extra"] == {"Extra usage": "on · $12.34 of $50.00 used this month (25%)"}
    assert abs(claude["fetched_at"] - time.time() * 1000) < 60_000
    assert rows["xai"]["available"] is False and rows["xai"]["windows"] == []
    assert rows["openrouter"]["credits"]["balance"] == pytest.approx(12.34)
    assert not any(
        secret in out for entry in entries.values() for secret in (entry["access"], entry["refresh"])
    )


def test_two_runs_within_the_period_make_one_request_per_provider_and_refresh_one_more(
    fake: FakeProviders, tmp_path: Path
) -> None:
    seed_all(fake, store_in(tmp_path))
    assert usage(fake, tmp_path)[0] == 0
    assert usage(fake, tmp_path, "--json")[0] == 0
    once = {"anthropic": 1, "github-copilot": 1, "openai-codex": 1, "kimi-coding": 1, "openrouter": 2}
    assert usage_requests(fake) == once
    assert usage(fake, tmp_path, "--refresh")[0] == 0
    assert usage_requests(fake) == {p: n * 2 for p, n in once.items()}


def test_processes_started_together_ask_once(fake: FakeProviders, tmp_path: Path) -> None:
    """The lock and the re-check under it: the second process finds the first one's answer."""
    from tests.processes import start_cli

    seed(fake, store_in(tmp_path), "anthropic")
    fake.set_latency("anthropic.usage", 1.0)
    args = ("usage", "anthropic", "--json", "--agent-dir", str(tmp_path / "agent"))
    runs = [start_cli(*args, env=fake.env()) for _ in range(3)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert fake.count("anthropic.usage") == 1
    for out, _err in outputs:
        assert json.loads(out)["providers"][0]["windows"][0]["used_percent"] == 61.0


@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_a_failed_fetch_exits_0_with_a_sentence_and_keeps_the_login(
    fake: FakeProviders, tmp_path: Path, status: int
) -> None:
    store = store_in(tmp_path)
    entry = seed(fake, store, "anthropic")
    before = store.path.read_bytes()
    fake.fail(
        "anthropic.usage", status=status, body={"type": "error", "error": {"type": "x", "message": "no"}}
    )
    code, out, err = usage(fake, tmp_path)
    assert code == 0, err
    (line,) = out.splitlines()
    assert line.startswith("Anthropic  Could not read usage: Anthropic ") and line.endswith(".")
    assert f"HTTP {status}" in line
    assert store.path.read_bytes() == before and store.get("anthropic") == entry
    status_out = run_cli("status", "--json", "--agent-dir", str(tmp_path / "agent"), env=fake.env())
    row = {r["provider"]: r for r in json.loads(status_out.stdout)["providers"]}["anthropic"]
    assert row["state"] == "logged_in" and row["error"] is None


def test_the_last_good_answer_is_shown_with_its_age_when_a_fetch_fails(
    fake: FakeProviders, tmp_path: Path
) -> None:
    seed(fake, store_in(tmp_path), "anthropic")
    assert usage(fake, tmp_path)[0] == 0
    fake.fail("anthropic.usage", status=500)
    code, out, _ = usage(fake, tmp_path, "--refresh")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Anthropic  5h ") and "61%" in lines[0]
    assert (
        lines[-1].startswith("           as of ")
        and "the last check failed: Anthropic had a server error" in lines[-1]
    )
    code, out, _ = usage(fake, tmp_path, "--json")
    (row,) = json.loads(out)["providers"]
    assert row["available"] and row["error"] and row["windows"][0]["used_percent"] == 61.0


def test_a_slow_answer_is_waited_for(fake: FakeProviders, tmp_path: Path) -> None:
    seed(fake, store_in(tmp_path), "kimi-coding")
    fake.set_latency("kimi.usage", 2.0)
    code, out, err = usage(fake, tmp_path, "kimi-coding")
    assert code == 0, err
    assert out.startswith("Kimi Code  5h ") and "30%" in out


def test_named_provider_without_a_login_exits_1(fake: FakeProviders, tmp_path: Path) -> None:
    seed(fake, store_in(tmp_path), "anthropic")
    code, _out, err = usage(fake, tmp_path, "kimi-coding")
    assert code == 1 and "pi-tui login kimi-coding" in err
    assert usage_requests(fake)["kimi-coding"] == 0


def test_api_key_is_not_asked(fake: FakeProviders, tmp_path: Path) -> None:
    store_in(tmp_path).put("anthropic", {"type": "api_key", "key": "sk-ant-api03-notarealkey0123456789"})
    code, out, _ = usage(fake, tmp_path)
    assert code == 0 and out == "Anthropic  usage not available for API keys\n"
    assert fake.requests == []


def test_short_reads_the_cache_only(fake: FakeProviders, tmp_path: Path) -> None:
    seed_all(fake, store_in(tmp_path))
    code, out, _ = usage(fake, tmp_path, "--short")
    assert code == 0 and out == "\n"  # nothing cached yet, nothing asked
    assert fake.requests == []
    usage(fake, tmp_path)
    fake.clear_requests()
    code, out, _ = usage(fake, tmp_path, "--short")
    assert code == 0 and out == "claude 61%/22% · copilot 20% · codex 12%/40% · kimi 30%/55%\n"
    assert fake.requests == []


def test_short_imports_neither_httpx_nor_asyncio_nor_textual(fake: FakeProviders, tmp_path: Path) -> None:
    """Nor what costs more than the rest of it: argparse, typing, threading (a tmux status line)."""
    seed(fake, store_in(tmp_path), "anthropic")
    usage(fake, tmp_path)
    heavy = ("httpx", "asyncio", "textual", "argparse", "typing", "threading")
    probe = (
        "import sys; from app.cli import main; code = main(['usage', '--short', '--agent-dir', sys.argv[1]]);"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules)); sys.exit(code)"
    )
    result = run_python("-c", probe, str(tmp_path / "agent"), env=fake.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["claude 61%/22%", "[]"]


def test_a_store_that_cannot_be_read_is_said_not_taken_for_no_login(
    fake: FakeProviders, tmp_path: Path
) -> None:
    store = store_in(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    store.path.chmod(0o600)
    code, out, err = usage(fake, tmp_path)
    assert code == 3 and out == ""
    assert err.startswith("pi-tui: ") and len(err.strip().splitlines()) == 1
    assert store.path.read_text() == "{not json"
