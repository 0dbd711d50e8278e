"""mask, sanitize, expiry and durations."""

from __future__ import annotations

import re

import pytest

from app.expiry import BUFFER_MS, expires_at_ms, is_due
from app.mask import mask
from app.sanitize import _CONTROLS, _ESCAPES, _INVISIBLE, for_display, strip_escapes
from app.timefmt import duration, expiry

NOW = 1_800_000_000_000


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("sk-ant-oat01-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAa1b2", "sk-ant-oat01-…a1b2"),
        ("sk-ant-ort01-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBzz99", "sk-ant-ort01-…zz99"),
        ("ghu_0123456789abcdefghijklmnopqrstuvwxyz", "ghu_…wxyz"),
        ("tid=0123456789abcdef;exp=1;proxy-ep=proxy.x;8kp=1:ff00", "tid=…ff00"),
        ("short", "…"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_keeps_prefix_and_last_four(secret: str | None, shown: str) -> None:
    assert mask(secret) == shown


def test_mask_never_reveals_the_middle() -> None:
    secret = "sk-ant-oat01-" + "SECRETMIDDLE" * 5 + "a1b2"
    assert "SECRETMIDDLE" not in mask(secret)


def test_strip_escapes_removes_csi_osc_and_controls() -> None:
    text = "a\x1b[31mb\x1b]52;c;ZXZpbA==\x07c\x1b]8;;http://x\x1b\\d\x07\x00e\u202ef\x9b1m"
    assert strip_escapes(text) == "abcdef"


def test_strip_escapes_has_nothing_to_remove_from_printable_text() -> None:
    """Its shortcut (printable text is returned as it is) drops nothing its patterns would."""
    printable = "".join(ch for ch in map(chr, range(0x110000)) if ch.isprintable())
    assert len(printable) > 100_000
    for pattern in (_ESCAPES, _CONTROLS, _INVISIBLE):
        assert re.search(pattern, printable) is None, pattern


def test_for_display_is_one_bounded_line() -> None:
    shown = for_display("line one\nline two\r\n" + "x" * 1000, limit=50)
    assert "\n" not in shown and len(shown) == 50 and shown.endswith("…")


def test_expiry_bakes_in_five_minute_buffer() -> None:
    assert expires_at_ms(3600, now_ms=NOW) == NOW + 3_600_000 - BUFFER_MS


@pytest.mark.parametrize("value", [None, "soon", float("nan"), True, [1]])
def test_expiry_of_garbage_is_one_hour(value: object) -> None:
    assert expires_at_ms(value, now_ms=NOW) == NOW + 3_600_000 - BUFFER_MS


def test_expiry_of_zero_or_negative_is_due_now() -> None:
    assert expires_at_ms(0, now_ms=NOW) == NOW
    assert expires_at_ms(-50, now_ms=NOW) == NOW


def test_expiry_of_short_lifetime_keeps_half_of_it() -> None:
    assert expires_at_ms(120, now_ms=NOW) == NOW + 60_000


def test_expiry_of_huge_lifetime_is_capped_at_a_year() -> None:
    assert expires_at_ms(10**15, now_ms=NOW) == NOW + 366 * 86_400_000 - BUFFER_MS


def test_is_due_five_minutes_before_expires_as_pi_1x() -> None:
    assert not is_due({"expires": NOW + BUFFER_MS + 1}, now_ms=NOW)
    assert is_due({"expires": NOW + BUFFER_MS}, now_ms=NOW)
    assert is_due({"expires": NOW}, now_ms=NOW)
    assert is_due({"expires": "tomorrow"}, now_ms=NOW)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (42_000, "42s"),
        (723_000, "12m 03s"),
        (28_440_000, "7h 54m"),
        (2 * 86_400_000 + 3_600_000, "2d 1h"),
    ],
)
def test_duration(ms: int, text: str) -> None:
    assert duration(ms) == text


def test_expiry_text() -> None:
    assert expiry(NOW + 90_000, NOW) == "expires in 1m 30s"
    assert expiry(NOW - 5_000, NOW) == "expired 5s ago"
    assert expiry(None, NOW) == "no expiry"
