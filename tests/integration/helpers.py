"""Shared pieces for integration tests: a store in a temp agent dir, seeded logins."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from app.store import CredentialStore

HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def make_store(tmp_path: Path) -> CredentialStore:
    """A store in ``tmp_path/agent`` (created by the store on first write)."""
    return CredentialStore(tmp_path / "agent" / "oauth.json", lock_timeout=10.0)


def seed_anthropic(
    store: CredentialStore, tokens: dict[str, str], *, expires: int, **extra: Any
) -> dict[str, Any]:
    """Write an Anthropic login with the fake's live ``tokens`` into ``store``."""
    entry = {"type": "oauth", "refresh": tokens["refresh"], "access": tokens["access"], "expires": expires}
    entry.update(extra)
    store.put("anthropic", entry)
    return entry


def read_doc(store: CredentialStore) -> dict[str, Any]:
    return json.loads(store.path.read_text())


DEVICE_SCALE = 0.01  # every device-flow wait shrinks 100×: the advertised 5 s become 50 ms


def device_service(fake: Any, tmp_path: Path, store_name: str = "auth.json", **env: str) -> Any:
    """An AuthService over ``tmp_path/agent/<store_name>`` with fast device-flow waits."""
    from app.service import AuthService

    store = CredentialStore(tmp_path / "agent" / store_name)
    return AuthService(store, env={**fake.env(), **env}, poll_scale=DEVICE_SCALE)
