"""pi-tui's own state file: remembers per (credential file, provider), never a token, 0600."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from app.state import StateFile, state_dir


def test_update_merges_and_none_forgets(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "state" / "state.json")
    store = tmp_path / "agent" / "auth.json"
    state.update(store, "anthropic", account="a@example.com", last_failure={"at": 1, "message": "x"})
    state.update(store, "anthropic", last_failure=None)
    assert state.get(store, "anthropic") == {"account": "a@example.com"}
    assert state.get(store, "github-copilot") == {}
    assert state.get(tmp_path / "other" / "auth.json", "anthropic") == {}


def test_file_is_private_and_keyed_by_real_path(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "state" / "state.json")
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    state.update(link, "xai", account="grok")
    assert state.get(real, "xai") == {"account": "grok"}
    assert stat.S_IMODE(state.path.stat().st_mode) == 0o600
    assert str(real) in json.loads(state.path.read_text())["stores"]


def test_forget_and_damaged_file(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "state.json")
    state.path.write_text("{not json")
    assert state.get(tmp_path / "auth.json", "meta") == {}
    state.update(tmp_path / "auth.json", "meta", account="m")
    state.forget(tmp_path / "auth.json", "meta")
    assert state.get(tmp_path / "auth.json", "meta") == {}


def test_records_of_credential_files_that_are_gone_are_dropped_on_the_next_write(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "state.json")
    kept, gone = tmp_path / "kept" / "auth.json", tmp_path / "gone" / "auth.json"
    for store in (kept, gone):
        store.parent.mkdir()
        store.write_text("{}")
        state.update(store, "anthropic", account=store.parent.name)
    gone.unlink()
    assert state.get(gone, "anthropic") == {"account": "gone"}  # reading changes nothing
    state.update(kept, "xai", account="grok")
    assert json.loads(state.path.read_text())["stores"].keys() == {str(kept.resolve())}
    assert state.get(kept, "anthropic") == {"account": "kept"}


def test_state_dir_env_override(tmp_path: Path) -> None:
    assert state_dir({"PI_TUI_STATE_DIR": str(tmp_path)}) == tmp_path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fast path is Linux's")
@pytest.mark.parametrize("xdg", [None, "xdg"])
def test_state_dir_on_linux_is_platformdirs_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    import platformdirs

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / xdg))
    env = {k: v for k, v in os.environ.items() if k != "PI_TUI_STATE_DIR"}
    assert state_dir(env) == Path(platformdirs.user_state_dir("pi-tui", appauthor=False))
