"""A number a float cannot hold (``1e400``, an integer of thousands of digits) is kept as written.

pi's file may hold entries pi-tui knows nothing about; whatever their numbers look like, a
refresh, a logout, a login or a migration writes them back as they were, and never spends a
refresh token it then cannot save.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.store import CredentialStore, migrate
from tests.processes import run_cli
from tests.store.helpers import agent_dir, due_login, now_ms, write_private

HOUR_MS = 3_600_000
HUGE_INT = "9" * 5000  # more digits than Python turns into an int by default
OTHER_ENTRY = (
    '"other-tool": {"type": "oauth", "access": "a", "refresh": "r", "expires": 1700000000000, '
    f'"limit": 1e400, "floor": -1E+999, "count": {HUGE_INT}, "ratio": 0.5}}'
)
OTHER_NUMBERS = ["1e400", "-1E+999", HUGE_INT, "0.5"]


def numbers_of_other_entry(text: str) -> list[str]:
    """The numbers in the other tool's entry, as the file spells them."""
    start = text.index('"other-tool"')
    body = text[start : text.index("}", start)]
    return [m.group(1) for m in re.finditer(r'"(?:limit|floor|count|ratio)": ([^,\s}]+)', body)]


def test_a_refresh_keeps_another_entrys_unusual_numbers(tmp_path: Path, fake: Any) -> None:
    agent = agent_dir(tmp_path)
    tokens = fake.anthropic.seed_login()
    login = json.dumps(due_login(tokens))
    path = write_private(agent / "auth.json", f'{{{OTHER_ENTRY}, "anthropic": {login}}}')

    out = run_cli("token", "anthropic", "--agent-dir", str(agent), env=fake.env())

    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert fake.count("anthropic.refresh") == 1
    text = path.read_text()
    assert numbers_of_other_entry(text) == OTHER_NUMBERS
    saved = CredentialStore(path).get("anthropic")
    assert saved is not None and saved["access"] == out.stdout.strip() != tokens["access"]


def test_a_refresh_keeps_unusual_numbers_of_the_refreshed_entry(tmp_path: Path, fake: Any) -> None:
    agent = agent_dir(tmp_path)
    tokens = fake.anthropic.seed_login()
    login = json.dumps(due_login(tokens))[:-1] + ', "quota": 1e400}'
    path = write_private(agent / "auth.json", f'{{"anthropic": {login}}}')

    out = run_cli("token", "anthropic", "--agent-dir", str(agent), env=fake.env())

    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert '"quota": 1e400' in path.read_text()


def test_a_logout_keeps_another_entrys_unusual_numbers(tmp_path: Path) -> None:
    agent = agent_dir(tmp_path)
    login = {"type": "oauth", "access": "a", "refresh": "r", "expires": now_ms() + HOUR_MS}
    path = write_private(agent / "auth.json", f'{{{OTHER_ENTRY}, "xai": {json.dumps(login)}}}')

    out = run_cli("logout", "xai", "--yes", "--agent-dir", str(agent))

    assert out.returncode == 0, out.stderr
    assert "xai" not in CredentialStore(path).load()
    assert numbers_of_other_entry(path.read_text()) == OTHER_NUMBERS


def test_a_migration_copies_unusual_numbers_as_written(tmp_path: Path) -> None:
    agent = agent_dir(tmp_path)
    write_private(agent / "oauth.json", f"{{{OTHER_ENTRY}}}")
    write_private(agent / "auth.json", "{}")

    out = run_cli("migrate", "--agent-dir", str(agent))

    assert out.returncode == 0, out.stderr
    assert numbers_of_other_entry((agent / "auth.json").read_text()) == OTHER_NUMBERS


def test_a_new_login_keeps_another_entrys_unusual_numbers(tmp_path: Path) -> None:
    from app.service import AuthService

    agent = agent_dir(tmp_path)
    path = write_private(agent / "auth.json", f"{{{OTHER_ENTRY}}}")
    login = {"type": "oauth", "access": "new-a", "refresh": "new-r", "expires": now_ms() + HOUR_MS}

    asyncio.run(AuthService(CredentialStore(path), env={}).save_login("xai", login))

    assert numbers_of_other_entry(path.read_text()) == OTHER_NUMBERS
    assert CredentialStore(path).get("xai") == login


def test_an_unusual_number_reads_as_the_float_nearest_to_it(tmp_path: Path) -> None:
    path = write_private(agent_dir(tmp_path) / "auth.json", f"{{{OTHER_ENTRY}}}")
    entry = CredentialStore(path).load()["other-tool"]
    assert entry["limit"] == float("inf") and entry["floor"] == float("-inf")
    assert entry["ratio"] == 0.5 and type(entry["ratio"]) is float
    assert entry["expires"] == 1700000000000 and type(entry["expires"]) is int


@pytest.mark.parametrize("expires", ["1e400", HUGE_INT], ids=["1e400", "5000-digits"])
def test_an_expiry_no_float_can_hold_is_a_damaged_login(tmp_path: Path, expires: str) -> None:
    from app.errors import StoreCorrupt

    path = write_private(
        agent_dir(tmp_path) / "auth.json",
        f'{{"xai": {{"type": "oauth", "access": "a", "refresh": "r", "expires": {expires}}}}}',
    )
    with pytest.raises(StoreCorrupt, match='"expires" is missing or not a finite number'):
        CredentialStore(path).get("xai")


def test_migrate_function_keeps_them_too(tmp_path: Path) -> None:
    agent = agent_dir(tmp_path)
    write_private(agent / "oauth.json", f"{{{OTHER_ENTRY}}}")
    store = CredentialStore(write_private(agent / "auth.json", "{}"))
    done, renamed = migrate(store)
    assert done.providers == ("other-tool",) and renamed is not None
    assert numbers_of_other_entry(store.path.read_text()) == OTHER_NUMBERS


def test_a_file_in_pi_tuis_own_layout_is_written_back_byte_for_byte(tmp_path: Path) -> None:
    from app.store.document import read_document, serialise

    doc_text = (
        '{\n  "other-tool": {\n    "limits": [\n      1e400,\n      -1E+999,\n      '
        f'{HUGE_INT},\n      0.5\n    ],\n    "note": "\\u0000:0 looks like nothing special"\n  }}\n}}\n'
    )
    path = write_private(agent_dir(tmp_path) / "auth.json", doc_text)
    doc = read_document(path)
    assert doc is not None
    assert serialise(doc) == doc_text.encode()
