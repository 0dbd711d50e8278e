"""tests/conftest.py's table of slow tests names only tests that exist (a renamed test would
otherwise drop back into the fast loop unnoticed)."""

from __future__ import annotations

import re

from tests.conftest import SLOW, TESTS


def test_every_slow_entry_names_a_test_file_and_a_test_in_it() -> None:
    def exists(entry: str) -> bool:
        where, _, name = entry.partition("::")
        path = TESTS / where
        if not path.is_file():
            return False
        defined = re.compile(rf"^\s*(async )?def {re.escape(name)}\(", re.M)
        return not name or defined.search(path.read_text()) is not None

    assert [entry for entry in sorted(SLOW) if not exists(entry)] == []
