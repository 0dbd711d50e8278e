"""When the credential file cannot be read, `pi-tui status` says why once, not once per provider."""

from __future__ import annotations

import json
from pathlib import Path

from app.providers import PROVIDERS
from tests.processes import run_cli


def _agent_with(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    agent = tmp_path / "agent"
    agent.mkdir(mode=0o700)
    (agent / "auth.json").write_text(text)
    (agent / "auth.json").chmod(mode)
    return agent


def test_a_corrupt_store_is_explained_once_at_the_top(tmp_path: Path) -> None:
    agent = _agent_with(tmp_path, '{"anthropic": {')
    out = run_cli("status", "--agent-dir", str(agent), env={"ANTHROPIC_API_KEY": "sk-ant-api03-" + "k" * 40})
    assert out.returncode == 3
    lines = out.stdout.splitlines()
    assert lines[0] == f"Store: {agent / 'auth.json'}"
    assert lines[1].startswith(f"  {agent / 'auth.json'} is not valid JSON")
    assert out.stdout.count("is not valid JSON") == 1
    # Then one short line per provider; the one a variable still serves points at the note.
    for info in PROVIDERS.values():
        if info.id != "anthropic":
            assert f"{info.name}: store unreadable" in lines
    assert "  see the note above" in lines
    assert len(lines) <= 3 + len(PROVIDERS) + 1


def test_a_store_others_can_read_is_explained_once(tmp_path: Path) -> None:
    agent = _agent_with(tmp_path, "{}", mode=0o644)
    out = run_cli("status", "--agent-dir", str(agent))
    assert out.returncode == 3
    assert out.stdout.count("chmod 600") == 1
    assert out.stdout.splitlines()[1].startswith("  ") and "chmod 600" in out.stdout.splitlines()[1]


def test_entries_with_different_problems_keep_their_own_sentence(tmp_path: Path) -> None:
    agent = _agent_with(tmp_path, json.dumps({"anthropic": 5, "xai": {"type": "oauth"}}))
    out = run_cli("status", "--agent-dir", str(agent))
    lines = out.stdout.splitlines()
    anthropic = lines.index("Anthropic (Claude Pro/Max): store unreadable")
    assert lines[anthropic + 1].startswith("  The anthropic login in ")
    xai = lines.index("xAI (Grok/X subscription): store unreadable")
    assert lines[xai + 1].startswith("  The xai login in ")
    assert "see the note above" not in out.stdout
