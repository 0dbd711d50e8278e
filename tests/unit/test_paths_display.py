"""display_path: paths under the home directory read as ~/…, others as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.paths import display_path


def test_a_path_under_home_reads_with_a_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert display_path(tmp_path / "me" / ".pi" / "agent" / "oauth.json") == "~/.pi/agent/oauth.json"
    assert display_path(tmp_path / "me") == "~"


def test_other_paths_are_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert display_path(tmp_path / "meow" / "oauth.json") == str(tmp_path / "meow" / "oauth.json")
    assert display_path("/etc/passwd") == "/etc/passwd"
