"""What the accounts tests share: two Anthropic accounts at the fake, and reading both files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from app.accounts import VAULT_NAME
from tests.fakes.server import FakeProviders

ADA = "ada@example.com"
BOB = "bob@example.com"
HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def login_entry(fake: FakeProviders, email: str, *, expires: int | None = None) -> dict[str, Any]:
    """A live Anthropic login at the fake for ``email``, as pi stores it."""
    tokens = fake.anthropic.seed_login(email)
    return {
        "type": "oauth",
        "refresh": tokens["refresh"],
        "access": tokens["access"],
        "expires": now_ms() + 8 * HOUR_MS if expires is None else expires,
    }


def read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    doc = json.loads(path.read_bytes().decode("utf-8").removeprefix("\ufeff"))
    assert isinstance(doc, dict)
    return doc


def vault_records(agent_dir: Path, provider: str = "anthropic") -> list[dict[str, Any]]:
    records = read(agent_dir / VAULT_NAME).get("providers", {}).get(provider, [])
    assert isinstance(records, list)
    return records


def where_is(agent_dir: Path, store_name: str, refresh: str) -> list[str]:
    """In which files a login (by its refresh token) is stored: "pi", "vault", both or neither."""
    places = []
    if read(agent_dir / store_name).get("anthropic", {}).get("refresh") == refresh:
        places.append("pi")
    places += ["vault" for r in vault_records(agent_dir) if r["entry"]["refresh"] == refresh]
    return places
