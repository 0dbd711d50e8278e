"""tests/conftest.py's tables of slow tests and of tests started first name only tests that
exist (a renamed slow test would otherwise drop back into the fast loop unnoticed)."""

from __future__ import annotations

import re

from tests.conftest import FIRST, SLOW, TESTS


def exists(entry: str) -> bool:
    where, _, name = entry.partition("::")
    path = TESTS / where
    if not path.is_file():
        return False
    defined = re.compile(rf"^\s*(async )?def {re.escape(name)}\(", re.M)
    return not name or defined.search(path.read_text()) is not None


def test_every_slow_entry_names_a_test_file_and_a_test_in_it() -> None:
    assert [entry for entry in sorted(SLOW) if not exists(entry)] == []


def test_every_first_entry_names_a_test_in_the_fast_loop() -> None:
    assert [entry for entry in sorted(FIRST) if not exists(entry) or "::" not in entry] == []
    assert [entry for entry in sorted(FIRST) if entry in SLOW or entry.partition("::")[0] in SLOW] == []
