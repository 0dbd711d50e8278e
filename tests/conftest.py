"""Fixtures shared by every test: the fake providers, a store, a fixed clock, the app factory."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.store import CredentialStore
from tests.fakes.fixtures import fake, fake_env
from tests.tui.doubles import FakeClipboard, FakeClock, FakeOpener

__all__ = ["fake", "fake_env"]


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pi-tui's own state file lives under the test's tmp_path, never in the real home."""
    path = tmp_path / "pi-tui-state"
    monkeypatch.setenv("PI_TUI_STATE_DIR", str(path))
    return path


@pytest.fixture
def clock() -> FakeClock:
    """2026-11-27 12:00:00 UTC until a test moves it."""
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    """An empty store in a temporary agent directory."""
    return CredentialStore(tmp_path / "agent" / "oauth.json", lock_timeout=5.0)


@pytest.fixture
def fixed_store() -> Iterator[CredentialStore]:
    """An empty store at a fixed path, for screens that show the path (snapshots).

    The path is the same for every run on the machine, so a test holds a lock on it for its
    whole length: two suites running at once take turns instead of deleting each other's file.
    """
    import fcntl

    root = Path("/tmp/pi-tui-tests")
    with open("/tmp/pi-tui-tests.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(root, ignore_errors=True)
        yield CredentialStore(root / "agent" / "oauth.json", lock_timeout=5.0)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def clipboard() -> FakeClipboard:
    """A clipboard that records copies."""
    return FakeClipboard()


@pytest.fixture
def opener() -> FakeOpener:
    """A browser opener that records links."""
    return FakeOpener()


@pytest.fixture
def make_app(clipboard: FakeClipboard, opener: FakeOpener) -> Callable[..., Any]:
    """Build a PiTuiApp over a service with the fake clipboard and opener and no cursor blink."""
    from app.tui.app import PiTuiApp

    def build(service: Any, *, start: str = "status", provider: str | None = None) -> PiTuiApp:
        return PiTuiApp(
            service,
            start=start,  # type: ignore[arg-type]
            provider=provider,
            clipboard=clipboard,
            opener=opener,
            log_path=Path("/tmp/pi-tui-tests/logs/pi-tui.log"),
            cursor_blink=False,
        )

    return build
