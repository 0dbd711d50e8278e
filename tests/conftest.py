"""Fixtures shared by every test: the fake providers, a store, a fixed clock, the app factory."""

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def process_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The HOME (and XDG_CONFIG_HOME under it) of every process the test starts through
    tests.processes.clean_env: the user's real dotfiles never reach a test's pi-tui. The same
    directory as the ``home`` fixture's, so the two agree when a test uses both."""
    from tests.processes import PROCESS_HOME

    path = tmp_path / "home"
    monkeypatch.setenv(PROCESS_HOME, str(path))
    return path


@pytest.fixture(autouse=True)
def pi_tui_logger() -> Iterator[None]:
    """pi-tui's logger as each test found it: a test that sets up logging (to a file, without
    propagation) must not take the log away from the next test in the same worker."""
    import logging

    logger = logging.getLogger("pi_tui")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    for handler in logger.handlers:
        if handler not in saved[0]:
            handler.close()
    logger.handlers[:] = saved[0]
    logger.propagate, logger.level = saved[1], saved[2]


@pytest.fixture
def clock() -> FakeClock:
    """2026-11-27 12:00:00 UTC until a test moves it."""
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    """An empty store in a temporary agent directory."""
    return CredentialStore(tmp_path / "agent" / "oauth.json", lock_timeout=5.0)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory of the test's own (``$HOME``): screens show paths under it as ``~/…``."""
    path = tmp_path / "home"
    path.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def fixed_store(home: Path) -> CredentialStore:
    """An empty store at ``~/.pi/agent/oauth.json`` under the test's own home, for screens that
    show the path (snapshots): it reads the same in every run, and two runs never share it."""
    return CredentialStore(home / ".pi" / "agent" / "oauth.json", lock_timeout=5.0)


@pytest.fixture
def clipboard() -> FakeClipboard:
    """A clipboard that records copies."""
    return FakeClipboard()


@pytest.fixture
def opener() -> FakeOpener:
    """A browser opener that records links."""
    return FakeOpener()


@pytest.fixture
def make_app(clipboard: FakeClipboard, opener: FakeOpener, home: Path) -> Callable[..., Any]:
    """Build a PiTuiApp over a service with the fake clipboard and opener and no cursor blink."""
    from app.tui.app import PiTuiApp

    def build(
        service: Any, *, start: str = "status", provider: str | None = None, usage: bool = False
    ) -> PiTuiApp:
        # usage=False: panels built over fake tokens and real endpoints ask no provider for usage.
        return PiTuiApp(
            service,
            start=start,  # type: ignore[arg-type]
            provider=provider,
            clipboard=clipboard,
            opener=opener,
            log_path=home / "logs" / "pi-tui.log",  # shown as ~/logs/pi-tui.log
            cursor_blink=False,
            usage=usage,
        )

    return build
