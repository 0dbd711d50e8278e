"""What pi, the other program that shares ``oauth.json``, does to it: its own refresh, its own write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.server import ANTHROPIC_CLIENT_ID, FakeProviders


def refresh_like_pi(fake: FakeProviders, refresh_token: str, *, expires: int) -> dict[str, Any]:
    """Spend ``refresh_token`` at the fake as pi does; return the entry pi stores for the answer."""
    answer = httpx.post(
        fake.env()["PI_TUI_ANTHROPIC_TOKEN_URL"],
        json={
            "grant_type": "refresh_token",
            "client_id": ANTHROPIC_CLIENT_ID,
            "refresh_token": refresh_token,
        },
    ).json()
    return {
        "type": "oauth",
        "refresh": answer["refresh_token"],
        "access": answer["access_token"],
        "expires": expires,
    }


def write_like_pi(path: Path, doc: dict[str, Any]) -> None:
    """Replace the whole file as pi does (temp file, 0600, rename; parent 0700), without pi-tui's lock."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name("pi-write.tmp")
    temp.write_text(json.dumps(doc, indent=2))
    temp.chmod(0o600)
    temp.replace(path)
