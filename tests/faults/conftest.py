"""Fault, fuzz and leak tests: the loopback fake, Hypothesis profiles, and shared checks.

Fuzz sizes come from a profile chosen by ``PI_TUI_FUZZ``: ``ci`` (the default), ``quick`` (1/10)
or ``soak`` (10×); each test asks for a share of the profile's examples, so the parser gets the
most. The profile is applied per test, never loaded globally: other suites keep their own
Hypothesis settings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from app.store import CredentialStore
from tests.fakes.fixtures import fake, fake_env

__all__ = ["fake", "fake_env"]

HOUR_MS = 3_600_000

settings.register_profile(
    "pi-tui-ci",
    max_examples=2000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("pi-tui-quick", settings.get_profile("pi-tui-ci"), max_examples=200)
settings.register_profile("pi-tui-soak", settings.get_profile("pi-tui-ci"), max_examples=20_000)
FUZZ_PROFILE = settings.get_profile(f"pi-tui-{os.environ.get('PI_TUI_FUZZ', 'ci')}")


def fuzz_settings(share: float) -> settings:
    """The profile's settings with ``share`` of its examples (slow targets take less)."""
    return settings(FUZZ_PROFILE, max_examples=max(10, int(FUZZ_PROFILE.max_examples * share)))


def now_ms() -> int:
    return int(time.time() * 1000)


def make_store(tmp_path: Path) -> CredentialStore:
    """A store in ``tmp_path/agent`` (created on first write)."""
    return CredentialStore(tmp_path / "agent" / "oauth.json", lock_timeout=10.0)


def seed_entry(store: CredentialStore, provider: str, **entry: Any) -> dict[str, Any]:
    """Store ``{"type": "oauth", **entry}`` as ``provider``'s login and return it."""
    full = {"type": "oauth", **entry}
    store.put(provider, full)
    return full


def assert_sentence(text: str, *secrets: str) -> None:
    """``text`` is one printable line a person can read: capitalised, ends with a full stop,
    no traceback, no terminal escapes, none of ``secrets``."""
    assert text, "empty message"
    assert text == text.strip() and "\n" not in text, repr(text)
    assert text.isprintable(), f"unprintable characters in {text!r}"
    assert "Traceback" not in text and 'File "' not in text, text
    assert text[0].isupper() and text.endswith("."), repr(text)
    for secret in secrets:
        assert secret not in text, f"a secret appears in {text!r}"
