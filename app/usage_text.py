"""How usage is worded: bars, percentages, time to reset; ``pi-tui usage`` and the panel share it.

Light at import (standard library and :mod:`app.usage` only): ``pi-tui usage --short`` runs it
from a tmux status line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.timefmt import duration

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from app.providers.base import UsageWindow
    from app.usage import UsageReport

BAR_WIDTH = 16
FULL, EMPTY = "█", "░"
ASCII_FULL, ASCII_EMPTY = "#", "-"
# An answer older than this is shown with its age even when the last fetch did not fail.
OLD_MS = 15 * 60_000


def can_draw(encoding: str | None) -> bool:
    """True when text in ``encoding`` can carry the bar's block characters (and "·")."""
    try:
        (FULL + EMPTY + "·").encode(encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def bar(percent: float | None, width: int = BAR_WIDTH, *, ascii: bool = False) -> str:
    """``███░░░`` filled to ``percent`` (0–100); all empty when the percentage is not known."""
    full, empty = (ASCII_FULL, ASCII_EMPTY) if ascii else (FULL, EMPTY)
    filled = 0 if percent is None else round(max(0.0, min(100.0, percent)) * width / 100)
    return full * filled + empty * (width - filled)


def percent_text(percent: float | None) -> str:
    """``61%`` (``?`` when not known)."""
    return "?" if percent is None else f"{percent:.0f}%"


def reset_text(resets_at: int | None, now_ms: int) -> str:
    """``resets in 1h 12m`` / ``resets now`` / "" when not known."""
    if resets_at is None:
        return ""
    left = resets_at - now_ms
    return f"resets in {duration(left)}" if left >= 1000 else "resets now"


def age_text(at_ms: int, now_ms: int) -> str:
    """``as of 12m 03s ago`` (``just now`` under a second)."""
    return "as of just now" if now_ms - at_ms < 1000 else f"as of {duration(now_ms - at_ms)} ago"


def label(name: str) -> str:
    """A provider's name without its parenthesis: "Acme (Pro plan)" → "Acme"."""
    return name.split(" (", 1)[0]


def window_line(window: UsageWindow, now_ms: int, *, name_width: int = 0, ascii: bool = False) -> str:
    """``5h  ███░░░  61% · resets in 1h 12m``."""
    dot = "-" if ascii else "·"
    used = window.used_percent
    line = f"{window.name:<{name_width}} {bar(used, ascii=ascii)} {percent_text(used):>4}"
    reset = reset_text(window.resets_at, now_ms)
    return f"{line} {dot} {reset}" if reset else line


def facts_lines(report: UsageReport, *, ascii: bool = False) -> list[str]:
    """The lines beside the windows: extra usage (prominent), plan, credits, notes."""
    usage = report.usage
    if usage is None:
        return []
    dot = "-" if ascii else "·"
    lines = [f"{name}: {value}" for name, value in (usage.extra or {}).items()]
    facts = []
    if usage.plan:
        facts.append(f"plan {usage.plan}")
    if usage.credits and not usage.extra:
        shown = ", ".join(f"{key.replace('_', ' ')} {_value(value)}" for key, value in usage.credits.items())
        facts.append(f"credits: {shown}")
    facts += list(usage.notes)
    if facts:
        lines.append(f" {dot} ".join(facts))
    return [line if not ascii else line.replace("·", "-") for line in lines]


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def status_text(report: UsageReport, now_ms: int) -> str | None:
    """One line on the answer's standing: the failure and the age of what is shown, or None."""
    if report.error and report.fetched_at is not None:
        return f"{age_text(report.fetched_at, now_ms)}; the last check failed: {report.error}"
    if report.error:
        return f"Could not read usage: {report.error}"
    if report.fetched_at is not None and now_ms - report.fetched_at >= OLD_MS:
        return age_text(report.fetched_at, now_ms)
    if not report.available:
        return report.reason or "usage not available"
    return None


def report_lines(reports: Sequence[UsageReport], now_ms: int, *, ascii: bool = False) -> list[str]:
    """``pi-tui usage``'s human form: the provider's label, then one line per window, then facts."""
    labels = [label(r.name) for r in reports]
    width = max((len(text) for text in labels), default=0)
    name_width = max(
        (len(w.name) for r in reports if r.usage is not None for w in r.usage.windows),
        default=0,
    )
    lines: list[str] = []
    for report, text in zip(reports, labels, strict=True):
        body: list[str] = []
        if report.available and report.usage is not None:
            body += [window_line(w, now_ms, name_width=name_width, ascii=ascii) for w in report.usage.windows]
            body += facts_lines(report, ascii=ascii)
        note = status_text(report, now_ms)
        if note:
            body.append(note)
        for index, line in enumerate(body or [""]):
            lines.append(f"{text if index == 0 else '':<{width}}  {line}".rstrip())
    return lines


def short_line(reports: Iterable[tuple[str, UsageReport]], now_ms: int, *, ascii: bool = False) -> str:
    """``acme 61%/22% · other 20%``: each provider's used percent per window (``short``, report).

    An answer more than an hour old says so (``acme 61% (2h 05m old)``).
    """
    parts = []
    for short, report in reports:
        if not report.available or report.usage is None:
            continue
        shown = [percent_text(w.used_percent) for w in report.usage.windows if w.used_percent is not None]
        if not shown:
            continue
        part = f"{short} {'/'.join(shown)}"
        if report.fetched_at is not None and now_ms - report.fetched_at >= 3_600_000:
            part += f" ({duration(now_ms - report.fetched_at)} old)"
        parts.append(part)
    return (" - " if ascii else " · ").join(parts)
