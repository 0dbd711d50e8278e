"""The command-line side of several accounts: ``pi-tui accounts``, ``switch``, ``logout --account``.

Kept out of :mod:`app.cli` so that module stays the argument parser and the fast paths; this
one is imported only by these commands. Names and labels come from files: every one is cleaned
(:func:`app.sanitize.for_display`) before it reaches the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from types import SimpleNamespace

from app.accounts import AccountRow, Accounts, choose
from app.errors import Cancelled, ConfigError
from app.expiry import current_ms
from app.sanitize import for_display
from app.store import CredentialStore
from app.timefmt import expiry


def _name(row: AccountRow) -> str:
    account = for_display(row.account, limit=120)
    return f"{account} ({for_display(row.label, limit=60)})" if row.label else account


def list_command(
    args: argparse.Namespace | SimpleNamespace,
    env: Mapping[str, str],
    store: CredentialStore,
    provider_ids: list[str] | None,
) -> int:
    """``pi-tui accounts [PROVIDER] [--json]``: every account, the active one marked."""
    rows = Accounts(store, env=env).rows(provider_ids)
    if args.json:
        print(json.dumps({"store": str(store.path), "accounts": [r.to_json() for r in rows]}, indent=2))
        return 0
    if not rows:
        which = provider_ids[0] if provider_ids else "PROVIDER"
        print(f"No accounts in {store.path}; run `pi-tui login {which}`.")
        return 0
    now = current_ms()
    shown: str | None = None
    for row in rows:
        if row.provider != shown:
            shown = row.provider
            print(row.name)
        mark = "*" if row.active else " "
        when = f", {expiry(row.expires_ms, now)}" if row.expires_ms is not None else ""
        where = "active, in pi's file" if row.active else "stored by pi-tui"
        print(f"  {mark} {_name(row)}: {row.state.value}{when} ({where})")
    return 0


def switch_command(
    args: argparse.Namespace | SimpleNamespace,
    env: Mapping[str, str],
    store: CredentialStore,
    provider_id: str,
) -> int:
    """``pi-tui switch PROVIDER ACCOUNT``: make a stored account the one pi uses."""
    accounts = Accounts(store, env=env)
    chosen, before = asyncio.run(accounts.switch(provider_id, args.account))
    if chosen.active:
        print(f"{_name(chosen)} is already the active {chosen.name} account; nothing changed.")
        return 0
    was = f" ({for_display(before, limit=120)} is kept by pi-tui)" if before else ""
    print(f"Switched {chosen.name} to {_name(chosen)}{was}. pi uses it from its next request.")
    return 0


def logout_account(
    args: argparse.Namespace | SimpleNamespace,
    env: Mapping[str, str],
    store: CredentialStore,
    provider_id: str,
    confirm: Callable[[str], bool],
) -> int:
    """``pi-tui logout PROVIDER --account A [--switch-to B]``: remove one account."""
    accounts = Accounts(store, env=env)
    rows = accounts.rows([provider_id])
    if args.account:
        gone = choose(rows, args.account, provider_id)
    else:
        active = [r for r in rows if r.active]
        if not active:
            raise ConfigError(f"No active {provider_id} account to log out of; name one with --account.")
        gone = active[0]
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"Add --yes to log out of {_name(gone)} without a prompt.")
        if not confirm(f"Log out of {_name(gone)} and delete its stored tokens? [y/N] "):
            raise Cancelled("Cancelled; nothing was changed.")
    accounts.remove(provider_id, gone.account, switch_to=args.switch_to)
    where = "pi's file" if gone.active else str(accounts.vault.path)
    print(f"Logged out of {_name(gone)} ({gone.name}); removed it from {where}.")
    if args.switch_to:
        now = choose([r for r in accounts.rows([provider_id]) if r.active], args.switch_to, provider_id)
        print(f"{_name(now)} is now the active {gone.name} account.")
    elif gone.active:
        print(
            f"No {gone.name} account is active now; `pi-tui switch {provider_id} ACCOUNT` makes one active."
        )
    return 0
