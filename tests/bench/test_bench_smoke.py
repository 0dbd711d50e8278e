"""``bench/run.py`` still runs and prints its table. No timing is asserted: machines are noisy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_quick_token_prints_a_well_formed_row(tmp_path: Path) -> None:
    saved = tmp_path / "bench.json"
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "token", "--json", str(saved)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("machine: nproc=")
    header = [c.strip() for c in lines[1].strip("|").split("|")]
    assert header == ["figure", "value", "baseline", "ratio", "target", "met"]
    rows = [line for line in lines if line.startswith("| 1. token anthropic")]
    assert len(rows) == 1, out.stdout
    _, value, baseline, ratio, target, met = (c.strip() for c in rows[0].strip("|").split("|"))
    assert re.fullmatch(r"\d+\.\d ms", value), value
    assert re.fullmatch(r"\d+\.\d ms", baseline), baseline
    assert re.fullmatch(r"\d+\.\d\d×", ratio), ratio
    assert target == "≤ 1.75×"
    assert met in ("yes", "NO")
    assert len([line for line in lines if line.startswith("| 1b. token anthropic (valid, auth.json)")]) == 1
    doc = json.loads(saved.read_text())
    assert len(doc["rows"]) == 2  # oauth.json, then auth.json
    for row in doc["rows"]:
        assert len(row["samples"]) == len(row["baseline_samples"]) == 5


def test_bench_paste_probe_reaches_the_login_screen_and_measures() -> None:
    # The probe drives the real app to Anthropic's login; when the screens change, it must follow
    # (it once stopped at the method choice, and the figure read "not measured").
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "paste"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| 5")]
    assert len(rows) == 2, out.stdout
    for row in rows:
        value = row.strip("|").split("|")[1].strip()
        assert re.fullmatch(r"\d+\.\d ms", value), out.stdout


def test_bench_frame_measures_five_logins_with_usage_not_cached_and_cached() -> None:
    """Figures 3b and 3c: five logins whose usage requests hang; the cached panel asks no one."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "frame"],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for figure in (
        "3b. first frame, 5 logged in, usage not cached",
        "3c. first frame, 5 logged in, usage cached",
    ):
        (row,) = [line for line in lines if line.startswith(f"| {figure} ")]
        value = row.strip("|").split("|")[1].strip()
        assert re.fullmatch(r"\d+\.\d ms", value), out.stdout
    (note,) = [line for line in lines if line.startswith("  3c. first frame")]
    assert note.endswith("usage connections: 0 (must be 0)"), note
