"""pi's installation id: ``deviceId`` in ``<agentDir>/settings.json`` (SettingsManager.getOrCreateDeviceId).

pi-tui uses pi's id when there is one and never makes a second: when there is none it adds one
under pi's settings lock (proper-lockfile's directory ``settings.json.lock``, the one pi's
synchronous writes take), re-reading the file under the lock and keeping every other key.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from app.errors import ConfigError, StoreError

SETTINGS = "settings.json"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
LOCK_TIMEOUT_S = 10.0
# pi's synchronous settings lock (proper-lockfile's lockSync) counts as abandoned after 10 s.
LOCK_STALE_S = 10.0
MAX_BYTES = 4 * 1024 * 1024


def _read(path: Path) -> dict[str, Any] | None:
    """The settings object; None when there is no file. ConfigError for one pi cannot read either."""
    from app.store.document import BOM, SAFE_OPEN

    try:
        fd = os.open(path, os.O_RDONLY | SAFE_OPEN)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f"pi-tui could not read {path} ({exc.strerror}); fix it, then log in again."
        ) from None
    with os.fdopen(fd, "rb") as file:
        data = file.read(MAX_BYTES + 1)
    data = data.removeprefix(BOM)
    try:
        doc = json.loads(data) if data.strip() else {}
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict) or len(data) > MAX_BYTES:
        raise ConfigError(
            f"{path} is not a JSON object pi can read; fix it (pi needs it too), then log in again."
        )
    return doc


def _valid(path: Path, doc: dict[str, Any] | None) -> str | None:
    value = (doc or {}).get("deviceId")
    if not value:
        return None
    if not isinstance(value, str) or not UUID_RE.fullmatch(value):
        raise ConfigError(
            f"The deviceId in {path} is not a UUID, so neither pi nor pi-tui can sign in with ChatGPT; "
            "remove that key (pi makes a new one), then log in again."
        )
    return value


def device_id(agent_dir: Path) -> str:
    """pi's ``deviceId``, made (and saved where pi keeps it) when there is none yet."""
    from app.store.document import real_path

    link = agent_dir / SETTINGS
    try:
        path = real_path(link)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
    found = _valid(path, _read(path))
    if found is not None:
        return found
    return _create(agent_dir, path)


def _create(agent_dir: Path, path: Path) -> str:
    import uuid

    from app.store.document import replace_file
    from app.store.locks import acquire_dir_lock

    # pi locks ``settings.json`` itself (realpath: false), so the lock is beside the link.
    held = acquire_dir_lock(agent_dir / f"{SETTINGS}.lock", LOCK_TIMEOUT_S, stale=LOCK_STALE_S)
    assert held is not None  # no stop condition: acquire returns or raises
    try:
        doc = _read(path)  # again, under the lock: pi may have written it a moment ago
        found = _valid(path, doc)
        if found is not None:
            return found
        doc = dict(doc or {})
        doc["deviceId"] = str(uuid.uuid4())
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = None
        held.check()
        replace_file(path, json.dumps(doc, indent=2, ensure_ascii=False).encode(), lambda step: None)
        if mode is not None:
            os.chmod(path, mode)  # the file keeps the permissions it had
        return str(doc["deviceId"])
    finally:
        held.release()
