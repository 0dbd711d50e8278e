"""Test doubles for the app's outside effects: a clock, a clipboard, a browser opener.

No Textual here: the root conftest imports these for every test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.opener import Opened

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
