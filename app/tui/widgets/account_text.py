"""How the status panel words one provider's status: its line in the list and its details.

Only fields of :class:`AccountStatus` are read, never a provider id: a new provider shows up
with no change here. Fields the data layer may not provide yet are read with ``getattr``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from app.credentials import AccountStatus, State
from app.expiry import never_expires
from app.sanitize import for_display
from app.timefmt import duration, expiry
from app.usage_text import bar, facts_lines, percent_text, reset_text, status_text

if TYPE_CHECKING:
    from app.accounts import AccountRow
    from app.usage import UsageReport

API_KEY = "api_key"

# The state's component class (app.tcss gives each its colour).
STATE_STYLES = {
    State.LOGGED_IN: "ok",
    State.DUE: "due",
    State.REFRESH_FAILED: "failed",
    State.NOT_LOGGED_IN: "none",
    State.UNREADABLE: "failed",
}


class Row(NamedTuple):
    """One label/value line of the details; ``style`` is a short style name or None."""

    label: str
    value: str
    style: str | None = None


def kind_of(status: AccountStatus) -> str | None:
    """``oauth`` or ``api_key`` (None: no credential)."""
    kind = getattr(status, "kind", None)
    return str(kind) if kind else ("oauth" if status.source else None)


def is_api_key(status: AccountStatus) -> bool:
    """True when the winning credential is an API key, not a login."""
    return kind_of(status) == API_KEY


def state_text(status: AccountStatus, *, short: bool = False, dot: str = "●") -> str:
    """``● logged in``, ``● API key``… — what the credential is, not only whether there is one.

    ``short`` words a due login ``refresh due`` for the list's narrow column.
    """
    if status.source is not None and not status.stored:
        return f"{dot} API key" if is_api_key(status) else f"{dot} OAuth token"
    if short and status.state is State.DUE:
        return f"{dot} refresh due"
    return f"{dot} {status.state.value}"


def state_style(status: AccountStatus) -> str:
    """The style name of the state text."""
    return STATE_STYLES[status.state]


def source_text(status: AccountStatus) -> str | None:
    """Where the credential comes from and what it is."""
    if status.source is None:
        return None
    if is_api_key(status):
        what = "an API key" if status.stored else "an API key (not a login)"
    else:
        what = "an OAuth login" if status.stored else "an OAuth token"
    where = status.source if status.stored else f"${status.source}"
    text = f"{where}, {what}"
    if status.shadowed:
        text += f"; also set, not used: {', '.join(status.shadowed)}"
    return text


def expiry_short(status: AccountStatus, now_ms: int) -> str:
    """The list's expiry column: ``7h 55m``, ``3m 10s ago``, ``never`` or blank."""
    if status.source is None:
        return ""
    if status.expires_ms is None:
        return "never" if status.stored else ""
    return _left(status.expires_ms, now_ms)


def _left(expires_ms: int, now_ms: int) -> str:
    if never_expires(expires_ms):
        return "never"
    left = expires_ms - now_ms
    return duration(left) if left > 0 else f"{duration(-left)} ago"


def expiry_text(status: AccountStatus, now_ms: int) -> str:
    """The details' expiry line."""
    if status.expires_ms is None:
        # A stored credential without an expiry never expires; a variable's token may, unseen.
        return "does not expire" if status.stored else "not known (set in the environment)"
    return expiry(status.expires_ms, now_ms)


def ago(at_ms: int, now_ms: int) -> str:
    """``12m 03s ago`` (``just now`` under a second)."""
    return "just now" if now_ms - at_ms < 1000 else f"{duration(now_ms - at_ms)} ago"


def provider_rows(status: AccountStatus) -> list[Row]:
    """The provider's own label/value rows (e.g. Enterprise host, API base), from its module."""
    return [Row(str(label), str(value)) for label, value in status.rows if value]


def life_rows(status: AccountStatus, now_ms: int) -> list[Row]:
    """A stored login's life: when it was made, last refreshed and by whom, when next due."""
    if not status.stored:
        return []
    rows: list[Row] = []
    logged_in_at = getattr(status, "logged_in_at_ms", None)
    if logged_in_at:
        rows.append(Row("Logged in", ago(logged_in_at, now_ms)))
    refreshed_at = getattr(status, "refreshed_at_ms", None)
    if refreshed_at:
        by = getattr(status, "refreshed_by", None)
        rows.append(Row("Refreshed", ago(refreshed_at, now_ms) + (f" by {by}" if by else "")))
    due = getattr(status, "next_refresh_ms", None)
    if due is not None and status.state is not State.REFRESH_FAILED:
        when = "on the next use"
        if due > now_ms:
            when = f"in {duration(due - now_ms)}, on the next use after that"
        rows.append(Row("Next refresh", when))
    return rows


def detail_rows(
    status: AccountStatus, now_ms: int, usage: UsageReport | None = None, *, dot: str = "●"
) -> list[Row]:
    """Every line of the selected provider's details (``dot`` before the state; with its
    subscription usage, when known)."""
    rows = [Row("State", state_text(status, dot=dot), state_style(status))]
    if status.account:
        rows.append(Row("Account", status.account))
    source = source_text(status)
    if source:
        rows.append(Row("Source", source))
    if status.source is not None and (status.expires_ms is not None or not is_api_key(status)):
        rows.append(Row("Expiry", expiry_text(status, now_ms)))
    rows += provider_rows(status)
    if status.masked_token:
        rows.append(Row("Key" if is_api_key(status) else "Token", status.masked_token))
    rows += life_rows(status, now_ms)
    if status.last_error:
        failed_at = getattr(status, "failed_at_ms", None)
        when = f"{ago(failed_at, now_ms)}: " if failed_at else ""
        rows.append(Row("Last error", when + status.last_error, "error"))
    if usage is not None:
        rows += usage_rows(usage, now_ms)
    rows += [Row("", hint, "hint") for hint in hints(status)]
    return rows


USAGE_BAR = 10


def usage_rows(report: UsageReport, now_ms: int) -> list[Row]:
    """Every window as a bar with its reset countdown, then extra usage, plan, and the answer's
    standing (its age, or the failure in one line). Nothing here can hide the login's rows."""
    rows: list[Row] = []
    if report.available and report.usage is not None:
        width = max(len(w.name) for w in report.usage.windows) if report.usage.windows else 0
        for window in report.usage.windows:
            used = window.used_percent
            value = f"{window.name:<{width}} {bar(used, USAGE_BAR)} {percent_text(used):>4}"
            reset = reset_text(window.resets_at, now_ms)
            rows.append(Row("Usage" if not rows else "", f"{value} · {reset}" if reset else value))
        extra = report.usage.extra or {}
        rows += [Row(str(name), str(value), "due") for name, value in extra.items()]
        rows += [Row("" if rows else "Usage", line) for line in facts_lines(report)[len(extra) :]]
    note = status_text(report, now_ms)
    if note:
        rows.append(Row("" if rows else "Usage", note, "error" if report.error else "hint"))
    return rows


def usage_short(report: UsageReport | None) -> str:
    """The list's usage column: the tightest window's used percent (``61%``), ``?`` on a failure."""
    if report is None:
        return ""
    tightest = report.tightest()
    if tightest is not None:
        return f"{tightest.used_percent:.0f}%"
    return "?" if report.error else ""


def hints(status: AccountStatus) -> list[str]:
    """What the user can do next, when that is not obvious."""
    if status.state is State.NOT_LOGGED_IN:
        return ["Press l to log in."]
    if status.state is State.REFRESH_FAILED:
        return ["Press r to try again, or l to log in again."]
    return []


# -- a stored account: one of a provider's accounts that pi does not use now ------------------


def stored_name(row: AccountRow) -> str:
    """``bob@example.com (home)``: the account's name and label, cleaned (they come from a file)."""
    name = for_display(row.account, limit=120)
    return f"{name} ({for_display(row.label, limit=60)})" if row.label else name


def stored_state_text(row: AccountRow, *, short: bool = False, hollow: str = "○") -> str:
    """``○ logged in``: the hollow dot says pi does not use it (the long form says it in words);
    ``short`` as :func:`state_text`."""
    if row.state is State.DUE:
        return f"{hollow} refresh due" if short else f"{hollow} expired, refreshed when you switch to it"
    return f"{hollow} {row.state.value}" + ("" if short else ", not in use")


def stored_expiry_short(row: AccountRow, now_ms: int) -> str:
    """The list's expiry column for a stored account."""
    return "never" if row.expires_ms is None else _left(row.expires_ms, now_ms)


def stored_rows(
    row: AccountRow, now_ms: int, usage: UsageReport | None, *, where: str, hollow: str = "○"
) -> list[Row]:
    """Every line of a stored account's details: its name, state, where it is kept, its token."""
    rows = [Row("Account", for_display(row.account, limit=120))]
    if row.label:
        rows.append(Row("Label", for_display(row.label, limit=60)))
    rows.append(Row("State", stored_state_text(row, hollow=hollow), STATE_STYLES[row.state]))
    rows.append(Row("Stored in", where))
    if row.expires_ms is None:
        rows.append(Row("Expiry", "does not expire"))
    else:
        rows.append(Row("Expiry", expiry(row.expires_ms, now_ms)))
    if row.masked_token:
        rows.append(Row("Token" if row.expires_ms is not None else "Key", row.masked_token))
    if usage is not None:
        rows += usage_rows(usage, now_ms)
    rows.append(Row("", "Press s to make it the account pi uses, o to log out of it.", "hint"))
    return rows
