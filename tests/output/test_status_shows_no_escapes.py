"""`pi-tui status` never passes on escape sequences, controls or bidi overrides it read from
the credential file, pi-tui's state file, the environment or a server's remembered answer."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from app.credentials import fingerprint
from app.errors import ConfigError, StoreError
from app.keys import resolve_key
from app.state import StateFile
from tests.integration.helpers import HOUR_MS, now_ms
from tests.processes import run_cli

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"
BIDI = "\u202e\u2066"


def _forbidden(text: str) -> list[str]:
    """The characters of ``text`` a terminal would act on (line breaks of the output aside)."""
    return [
        repr(c)
        for c in text
        if c != "\n" and (unicodedata.category(c) in ("Cc", "Cf") or "\u202a" <= c <= "\u202e")
    ]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _hostile_agent_dir(tmp_path: Path) -> Path:
    agent = tmp_path / "agent"
    agent.mkdir(mode=0o700)
    expires = now_ms() + HOUR_MS
    xai = {
        "type": "oauth",
        "access": "xai-at-" + "x" * 40,
        "refresh": "xai-rt-" + "y" * 40,
        "expires": expires,
    }
    doc = {
        # A token and an account (older pi-tui's "email") with OSC 52, clear-screen and C1 CSI.
        "anthropic": {
            "type": "oauth",
            "access": "sk-ant-oat01-" + "a" * 40 + OSC52,
            "refresh": "sk-ant-ort01-" + "r" * 40,
            "expires": expires,
            "email": f"me{OSC52}@example.com{C1_CSI}{CLEAR}{BIDI}",
        },
        # A provider row (the Enterprise host) with escapes in it.
        "github-copilot": {
            "type": "oauth",
            "access": "tid=" + "t" * 40 + ";exp=1;proxy-ep=proxy.example.com" + CLEAR,
            "refresh": "ghu_" + "g" * 36,
            "expires": expires,
            "enterpriseUrl": f"ghe{CLEAR}.example.com{C1_CSI}",
        },
        "xai": xai,
        # pi's API key entry: a literal key ending in a clear-screen.
        "openrouter": {"type": "api_key", "key": "sk-or-v1-" + "b" * 40 + CLEAR},
    }
    path = agent / "auth.json"
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    # pi-tui's state file: a remembered failure and an account name with escapes.
    state = StateFile.default()
    state.update(
        path,
        "xai",
        seen=fingerprint(xai),
        account=f"grok{OSC52}user{BIDI}",
        last_failure={
            "at": now_ms(),
            "message": f"xAI said {CLEAR}no{C1_CSI}\x07",
            "entry": fingerprint(xai),
        },
        last_refresh={"at": now_ms(), "by": f"pi-tui{OSC52} token"},
    )
    return agent


def test_status_text_has_no_control_characters(tmp_path: Path) -> None:
    agent = _hostile_agent_dir(tmp_path)
    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    assert _forbidden(out.stdout) == [] and _forbidden(out.stderr) == []
    # What was around the escapes is still shown.
    assert "me@example.com" in out.stdout
    assert "grokuser" in out.stdout and "xAI said no" in out.stdout
    assert "ago by pi-tui token" in out.stdout
    assert "Enterprise: ghe.example.com" in out.stdout


def test_status_json_is_valid_and_its_values_have_no_control_characters(tmp_path: Path) -> None:
    agent = _hostile_agent_dir(tmp_path)
    out = run_cli("status", "--json", "--agent-dir", str(agent))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert _forbidden(out.stdout) == []
    # `jq -r .providers[].account` prints the decoded values: those must be clean too.
    assert [s for s in _strings(doc) if _forbidden(s)] == []
    rows = {row["provider"]: row for row in doc["providers"]}
    assert rows["anthropic"]["account"] == "me@example.com"
    assert rows["xai"]["error"] == "xAI said no"
    assert rows["xai"]["last_refresh_by"] == "pi-tui token"
    assert rows["github-copilot"]["details"]["Enterprise"] == "ghe.example.com"


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_status_of_a_variable_with_escapes_shows_none(tmp_path: Path, json_flag: list[str]) -> None:
    key = "sk-ant-api03-" + "k" * 40 + OSC52
    out = run_cli(
        "status", *json_flag, "--agent-dir", str(tmp_path / "agent"), env={"ANTHROPIC_API_KEY": key}
    )
    assert out.returncode == 0, out.stderr
    assert _forbidden(out.stdout) == []
    if json_flag:
        assert [s for s in _strings(json.loads(out.stdout)) if _forbidden(s)] == []
    else:
        assert "via ANTHROPIC_API_KEY, API key, token sk-ant-api03-…H4=)" in out.stdout


def test_display_text_keeps_printable_text_and_strips_what_a_terminal_acts_on() -> None:
    from app.sanitize import display_text

    assert display_text("Anthropic (Claude Pro/Max) — me@example.com …") == (
        "Anthropic (Claude Pro/Max) — me@example.com …"
    )
    assert display_text(f"a{OSC52}b{CLEAR}c{C1_CSI}d\x7fe{BIDI}f\x00g") == "abcdefg"
    assert display_text("two\nlines\tand\r\na tab") == "two lines and a tab"


def test_a_token_with_control_characters_is_refused_with_a_sentence() -> None:
    from app.sanitize import check_token_printable

    check_token_printable("sk-ant-oat01-" + "a" * 40, provider="anthropic")  # a normal token passes
    for bad in (OSC52, CLEAR, C1_CSI, "\x7f", "\u202e", "line\nbreak"):
        with pytest.raises(StoreError) as stored:
            check_token_printable("sk-ant-oat01-" + bad, provider="anthropic")
        assert str(stored.value) == (
            "The stored token for anthropic holds control characters; pi-tui will not print it. "
            "Log in again with `pi-tui login anthropic`."
        )
        with pytest.raises(StoreError, match=r"^The stored API key for openrouter holds control characters"):
            check_token_printable("sk-or-v1-" + bad, provider="openrouter", api_key=True)
        with pytest.raises(ConfigError, match=r"^\$ANTHROPIC_API_KEY holds control characters"):
            check_token_printable("sk-ant-api03-" + bad, provider="anthropic", variable="ANTHROPIC_API_KEY")


def test_a_key_command_that_prints_escapes_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "SHELL": "/bin/sh"}
    with pytest.raises(ConfigError, match="output holds control characters") as refused:
        resolve_key(r"!printf 'sk-or-v1-abc\033]52;c;eA==\007'", env, "openrouter", tmp_path / "auth.json")
    assert _forbidden(str(refused.value)) == []
    assert resolve_key("!printf sk-or-v1-abc", env, "openrouter", tmp_path / "auth.json") == "sk-or-v1-abc"
