"""Test doubles for the app's outside effects: a clock, a clipboard, a browser opener.

No Textual here: the root conftest imports these for every test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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


# The seven providers of DESIGN.md, for screens that must hold them all before they are built.
SEVEN = (
    ("anthropic", "Anthropic (Claude Pro/Max)"),
    ("github-copilot", "GitHub Copilot"),
    ("openai-codex", "ChatGPT Plus/Pro (Codex)"),
    ("xai", "xAI (SuperGrok)"),
    ("kimi-coding", "Kimi Code"),
    ("openrouter", "OpenRouter"),
    ("meta", "Meta (Muse)"),
)


def account(provider: str, **fields: object) -> Any:
    """An AccountStatus for one of SEVEN; fields the data layer does not have yet are left out."""
    from app.credentials import AccountStatus, State

    name = dict(SEVEN)[provider]
    known = {k: v for k, v in fields.items() if k in AccountStatus._fields}
    return AccountStatus(provider, name, State.NOT_LOGGED_IN)._replace(**known)


class FixedStatuses:
    """Stands in for AuthService on the status screen: reports the statuses it was given.

    Enough for what the panel reads (statuses, status, the clock, the store's path); no network.
    """

    def __init__(self, statuses: list[Any], *, clock: FakeClock, store_path: Path) -> None:
        self._statuses = statuses
        self.clock = clock
        self.env: dict[str, str] = {}
        self.store = SimpleNamespace(path=store_path)

    def now_ms(self) -> int:
        return self.clock.ms()

    def migration_note(self) -> str | None:
        return None

    def statuses(self) -> list[Any]:
        return list(self._statuses)

    def status(self, provider_id: str) -> Any:
        return next(s for s in self._statuses if s.provider == provider_id)
