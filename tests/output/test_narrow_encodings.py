"""`pi-tui status` on a terminal that is not UTF-8: ASCII stand-ins, never UnicodeEncodeError."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.server import FakeProviders
from tests.integration.helpers import HOUR_MS, make_store, now_ms, seed_anthropic
from tests.processes import ROOT, clean_env

NARROW = {
    "LC_ALL=C (PYTHONUTF8=0)": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"},
    "PYTHONIOENCODING=latin-1": {"PYTHONIOENCODING": "latin-1"},
}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    base = clean_env()
    for name in ("LC_ALL", "LANG", "LC_CTYPE", "PYTHONIOENCODING", "PYTHONUTF8"):
        base.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        env={**base, **env},
        cwd=ROOT,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("narrow", NARROW.values(), ids=list(NARROW))
def test_status_on_a_narrow_terminal_exits_0_with_ascii_stand_ins(
    tmp_path: Path, fake: FakeProviders, narrow: dict[str, str]
) -> None:
    store = make_store(tmp_path)
    seed_anthropic(store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS, email="me@example.com")
    out = _run(narrow, "status", "--agent-dir", str(store.path.parent))
    assert out.returncode == 0, out.stderr.decode("latin-1")
    assert out.stderr == b""
    text = out.stdout.decode("ascii")  # every byte is ASCII: readable on any terminal
    # "…" of the masked token and "—" of a line without a login, in ASCII.
    assert "me@example.com" in text and "token sk-ant-oat01-..." in text
    assert "GitHub Copilot: not logged in - run `pi-tui login github-copilot`" in text
    assert "?" not in text


@pytest.mark.parametrize("narrow", NARROW.values(), ids=list(NARROW))
def test_errors_on_a_narrow_terminal_are_a_sentence_not_a_traceback(
    tmp_path: Path, narrow: dict[str, str]
) -> None:
    out = _run(narrow, "token", "anthropic", "--agent-dir", str(tmp_path / "agent"))
    assert out.returncode == 1
    message = out.stderr.decode("ascii")
    assert message.startswith("pi-tui: Not logged in") and "Traceback" not in message


def test_a_stream_that_cannot_encode_the_symbols_writes_their_fallbacks() -> None:
    from app.sanitize import ASCII_FALLBACKS, FALLBACK_ERRORS, fit_output_streams

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="latin-1")
    saved = sys.stdout
    sys.stdout = stream
    try:
        fit_output_streams()
    finally:
        sys.stdout = saved
    assert stream.errors == FALLBACK_ERRORS
    stream.write("▸ Anthropic ✓ · a—b … \u2603 é\n")
    stream.flush()
    # "·" and "é" are latin-1 and stay; the snowman has no stand-in.
    assert raw.getvalue() == "> Anthropic * · a-b ... ? é\n".encode("latin-1")
    assert all(fallback.isascii() for fallback in ASCII_FALLBACKS.values())


def test_a_utf8_stream_is_left_alone() -> None:
    from app.sanitize import fit_output_streams

    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    saved = sys.stdout
    sys.stdout = stream
    try:
        fit_output_streams()
    finally:
        sys.stdout = saved
    assert stream.errors == "strict"
