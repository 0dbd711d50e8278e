"""scripts/soak.py keeps working: two short rounds, run as the script it is."""

from __future__ import annotations

from tests.processes import ROOT, run_python


def test_soak_script_runs_two_rounds_and_reports() -> None:
    result = run_python(
        str(ROOT / "scripts" / "soak.py"), "--rounds", "2", "--procs", "4", "--seed", "7", timeout=120
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "soak: 2 rounds x 4 processes (8 in all)" in result.stdout
    assert "torn files: 0" in result.stdout
