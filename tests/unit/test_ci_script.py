"""`.ci/run` cites only files the repository has (it once cited a STYLE.md that was not there)."""

from __future__ import annotations

import re

from tests.processes import ROOT


def test_ci_script_cites_only_files_in_the_repository() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    cited = set(re.findall(r"\b[\w./-]+\.(?:md|toml|cfg|ini)\b", script))
    missing = sorted(name for name in cited if not (ROOT / name).exists())
    assert missing == []
