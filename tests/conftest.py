"""Fixtures shared by every test: the fake providers, a store, a fixed clock, the app factory."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.opener import Opened
from app.store import CredentialStore
from tests.fakes.fixtures import fake, fake_env

__all__ = ["fake", "fake_env"]

# 2026-11-27 12:00:00 UTC
FIXED_NOW = 1_795_780_800.0


class FakeClock:
    """A clock that moves only when told to; call it like ``time.time``."""

    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

    def ms(self) -> int:
        """Now in epoch milliseconds."""
        return int(self.now * 1000)


@dataclass
class FakeClipboard:
    """Records what was copied; ``available=False`` behaves like a machine without a clipboard."""

    available: bool = True
    copied: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> None:
        from app.clipboard import ClipboardUnavailable

        if not self.available:
            raise ClipboardUnavailable("no clipboard mechanism")
        self.copied.append(text)


@dataclass
class FakeOpener:
    """Records the links it was asked to open; never starts a browser."""

    opens: bool = True
    opened: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> Opened:
        self.opened.append(url)
        if self.opens:
            return Opened(True, "Opened the link in your browser.")
        return Opened(False, "Not opening a browser over SSH; open the link on your own computer.")


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
    """An empty store at a fixed path, for screens that show the path (snapshots)."""
    root = Path("/tmp/pi-tui-tests")
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
