"""Several accounts per provider: pi-tui's vault beside pi's credential file, and the switch.

pi keeps one credential per provider (the *active* account, in ``auth.json``/``oauth.json``);
the others live in ``pi-tui-accounts.json`` in the same agent directory, each entry exactly as
pi would store it, with its account name and an optional label::

    {"version": 1, "providers": {"<provider id>": [
        {"account": "ada@example.com", "label": "work", "entry": {...pi's entry...}}]},
     "labels": {"<provider id>": {"bob@example.com": "home"}}}

(``labels`` holds the active accounts' labels: pi's entries have no room for one.)

The vault gets the store's checks (a regular file of ours, 0600; our own links followed) and
its atomic writes, and its own lock: an flock on ``pi-tui-accounts.json.lock``, always taken
*inside* the store's lock, never the other way round (refreshing a vault account takes the
vault's lock alone).

Moving an account between the two files is two atomic writes of two files, so a process killed
between them leaves an account in both. Every move therefore goes in three steps, and the first
one says what is under way (``pending``)::

    1. vault: the active entry (re-read under pi's lock) added, ``pending`` = {from, to, …}
    2. pi's file: the new entry
    3. vault: the new account's old record dropped, ``pending`` cleared

Whoever reads the two files next settles a move left half done (:func:`settle`): a vault record
holding the same credential as pi's file is the active account's stale copy and goes; a
``pending`` move is finished or undone by what pi's file holds. A rotated refresh token is never
thrown away: when pi's file no longer holds either side's credential and was not replaced since
step 1, pi refreshed the old account in place (step 2 never happened); when it cannot be told,
both records are kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from app import providers
from app.credentials import State, account_status, fingerprint, remembered_account, state_file
from app.errors import ConfigError, NotLoggedIn, RefreshError, StoreCorrupt, StoreError
from app.expiry import current_ms, is_due, never_expires
from app.http import make_client
from app.mask import mask
from app.providers import ACCOUNT_KEYS
from app.state import StateFile
from app.store import OAUTH, CredentialStore, StoreTransaction
from app.store.document import (
    check_storable,
    ensure_dir,
    entry_problem,
    read_document,
    real_path,
    remove_stale_temps,
    replace_file,
    write_error,
)
from app.store.locks import acquire_flock

if TYPE_CHECKING:
    from types import TracebackType

    import httpx

log = logging.getLogger("pi_tui.accounts")

VAULT_NAME = "pi-tui-accounts.json"
VERSION = 1
LOCK_SUFFIX = ".lock"
VAULT_LOCK_TIMEOUT = 40.0  # longer than the store's: a refresh of a vault account may be under way
UNNAMED = "unnamed"
# What the vault's writes report to ``on_step`` (the store's WRITE_STEPS, prefixed).
VAULT_STEP_PREFIX = "vault:"

ClientFactory = Callable[[], "httpx.AsyncClient"]


class AccountRow(NamedTuple):
    """One account in ``pi-tui accounts`` and on the panel. Holds no secret."""

    provider: str
    name: str  # the provider's display name
    account: str
    label: str | None
    active: bool
    state: State
    expires_ms: int | None = None
    masked_token: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``pi-tui accounts --json`` form (``state`` is the stable word of ``status --json``)."""
        return {
            "provider": self.provider,
            "account": self.account,
            "label": self.label,
            "active": self.active,
            "state": self.state.word,
            "state_text": self.state.value,
            "expires": self.expires_ms,
        }


# --- the vault file ------------------------------------------------------------------------------


def _empty() -> dict[str, Any]:
    return {"version": VERSION, "providers": {}, "labels": {}}


class AccountVault:
    """``pi-tui-accounts.json``: the inactive accounts of one agent directory."""

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = VAULT_LOCK_TIMEOUT,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._on_step = on_step

    def __repr__(self) -> str:
        return f"AccountVault({str(self.path)!r})"

    @classmethod
    def beside(cls, store: CredentialStore, **kwargs: Any) -> AccountVault:
        """The vault of ``store``'s agent directory (beside the link, when the store is one)."""
        return cls(store.path.with_name(VAULT_NAME), **kwargs)

    @property
    def real_path(self) -> Path:
        """The file read, locked and written (our own link followed, as the store does)."""
        return real_path(self.path)

    def load(self) -> dict[str, Any]:
        """The whole vault document, checked; an empty one when the file does not exist. No lock."""
        return _parse_vault(self.path, read_document(self.real_path, look_again=False))

    def records(self, provider_id: str) -> list[dict[str, Any]]:
        """``provider_id``'s vault records as stored (not settled against pi's file)."""
        return list(self.load()["providers"].get(provider_id, []))

    def transaction(self) -> VaultTransaction:
        """The vault's lock, held for a ``with`` block (take the store's lock first, if at all)."""
        return VaultTransaction(self)

    def _step(self, name: str) -> None:
        if self._on_step is not None:
            self._on_step(VAULT_STEP_PREFIX + name)


class VaultTransaction:
    """The vault's flock, held from entering until leaving the block; reads re-read the file."""

    def __init__(self, vault: AccountVault) -> None:
        self._vault = vault
        self._held: Any = None
        self._target = vault.path

    def __enter__(self) -> VaultTransaction:
        self._target = self._vault.real_path
        lock = self._target.with_name(self._target.name + LOCK_SUFFIX)
        self._held = acquire_flock(lock, self._vault.lock_timeout)
        self._vault._step("lock-acquired")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.release()

    def load(self) -> dict[str, Any]:
        """Re-read the vault under its lock."""
        return _parse_vault(self._vault.path, read_document(self._target, look_again=False))

    def check_writable(self) -> None:
        """StoreWriteError now when a write would fail (read-only or full disk): a refresh
        token is never spent unless its answer can be saved."""
        probe = self._target.with_name(f".{self._target.name}.{os.urandom(8).hex()}.tmp")
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, b" " * 4096)  # room for the answer, too
            finally:
                os.close(fd)
        except OSError as error:
            raise write_error(self._vault.path, error) from error
        finally:
            with contextlib.suppress(OSError):
                os.unlink(probe)

    def write(self, doc: dict[str, Any]) -> None:
        """Replace the vault with ``doc`` atomically (temp file, fsync, rename, fsync dir), 0600."""
        if self._held is None:
            raise RuntimeError("Use the vault transaction inside its `with` block.")
        doc = {"version": VERSION, **{k: v for k, v in doc.items() if k != "version"}}
        doc["providers"] = {p: r for p, r in doc.get("providers", {}).items() if r}
        doc["labels"] = {p: named for p, named in doc.get("labels", {}).items() if named}
        if doc.get("pending") is None:
            doc.pop("pending", None)
        for records in doc["providers"].values():
            for record in records:
                check_storable("vault", record["entry"])
        data = (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode("ascii")
        ensure_dir(self._target.parent)
        replace_file(self._target, data, self._vault._step)
        remove_stale_temps(self._target)


def _parse_vault(path: Path, doc: dict[str, Any] | None) -> dict[str, Any]:
    """The vault document, or StoreCorrupt naming what is wrong (it is never silently replaced)."""
    if doc is None:
        return _empty()
    fix = "It is kept as it is: fix it by hand, or move it away (the accounts in it are then lost to pi-tui)."
    found = doc.get("providers", {})
    if doc.get("version", VERSION) != VERSION or not isinstance(found, dict):
        raise StoreCorrupt(f"{path} is not a pi-tui accounts file of version {VERSION}. {fix}")
    for provider_id, records in found.items():
        if not isinstance(records, list):
            raise StoreCorrupt(f"{path}: the accounts of {provider_id!r} are not a list. {fix}")
        for record in records:
            if not isinstance(record, dict) or not isinstance(record.get("account"), str):
                raise StoreCorrupt(f"{path}: an account of {provider_id!r} has no name. {fix}")
            if record.get("label") is not None and not isinstance(record["label"], str):
                raise StoreCorrupt(f"{path}: the label of {record['account']!r} is not text. {fix}")
            problem = entry_problem(record.get("entry"))
            if problem is not None:
                raise StoreCorrupt(
                    f"{path}: the {provider_id} account {record['account']!r} is not in pi's format "
                    f"({problem}). {fix}"
                )
    pending = doc.get("pending")
    if pending is not None and not isinstance(pending, dict):
        raise StoreCorrupt(f"{path}: its pending switch is not an object. {fix}")
    labels = doc.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, dict) for v in labels.values()):
        raise StoreCorrupt(f"{path}: its labels are not objects keyed by provider. {fix}")
    parsed = {"version": VERSION, "providers": found, "labels": labels}
    return parsed | ({"pending": pending} if pending else {})


# --- settling a move left half done --------------------------------------------------------------


def same_credential(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """True when two entries are the same login as stored (its refresh token, or its key)."""
    if a is None or b is None or a.get("type") != b.get("type"):
        return False
    key = "refresh" if a.get("type") == OAUTH else "key"
    return a.get(key) is not None and a.get(key) == b.get(key)


def _file_id(store: CredentialStore) -> list[int] | None:
    """pi's file's identity: pi writes in place (same inode); pi-tui replaces it (a new one)."""
    try:
        st = os.stat(store.real_path)
    except (OSError, StoreError):
        return None
    return [st.st_dev, st.st_ino]


class Settled(NamedTuple):
    """What :func:`settle` found: whether the document changed; the active account's name when
    the vault shows it (a move's side, or the record of which pi's entry is a copy); ``unsure``
    when a move was cut short and pi's file changed since, so that neither side can be told."""

    changed: bool
    active_name: str | None = None
    unsure: bool = False


def settle(
    doc: dict[str, Any], provider_id: str, active: Mapping[str, Any] | None, file_id: list[int] | None
) -> Settled:
    """Finish or undo a move of ``provider_id`` left half done; drop stale copies of the active
    entry. Changes ``doc`` in place. See the module's docstring."""
    records: list[dict[str, Any]] = doc["providers"].get(provider_id, [])
    before = len(records)
    name: str | None = None
    changed = unsure = False
    pending = doc.get("pending")
    if isinstance(pending, dict) and pending.get("provider") == provider_id:
        secret = _secret_of(active) if active is not None else None
        went_in = secret is not None and pending.get("to_refresh") == secret
        still_old = secret is not None and pending.get("from_refresh") == secret
        untouched = file_id is not None and file_id == pending.get("file")
        if went_in:  # step 2 happened: the new account's old record goes
            records = [r for r in records if r["account"] != pending.get("to")]
            name = _text(pending.get("to"))
        elif still_old or untouched:  # step 2 never happened: the copy of the old active goes
            records = [
                r
                for r in records
                if not (
                    r["account"] == pending.get("from")
                    and _secret_of(r["entry"]) == pending.get("from_refresh")
                )
            ]
            name = _text(pending.get("from"))
        else:
            log.warning("a switch of %s was interrupted and pi's file changed since; kept both", provider_id)
            unsure = True
        doc.pop("pending", None)
        changed = True
    if active is not None:
        copies = [r for r in records if same_credential(r["entry"], active)]
        name = copies[0]["account"] if copies else name
        records = [r for r in records if not same_credential(r["entry"], active)]
    if changed or len(records) != before:
        doc["providers"][provider_id] = records
    return Settled(changed or len(records) != before, name, unsure)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _secret_of(entry: Mapping[str, Any]) -> str | None:
    value = entry.get("refresh") if entry.get("type") == OAUTH else entry.get("key")
    return value if isinstance(value, str) else None


# --- names -------------------------------------------------------------------------------------


def active_account_name(
    store: CredentialStore, provider_id: str, entry: Mapping[str, Any], state: StateFile
) -> str | None:
    """The active login's account: what the provider names in the entry, else pi-tui's memory."""
    named = providers.load(provider_id).account(entry)
    return named or remembered_account(store, provider_id, state)


def _free_name(records: Iterable[Mapping[str, Any]], wanted: str | None) -> str:
    """``wanted`` (or "unnamed"), with ``-2``, ``-3``… added when a record has that name."""
    taken = {r["account"] for r in records}
    base = wanted or UNNAMED
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def pi_format(entry: Mapping[str, Any]) -> dict[str, Any]:
    """``entry`` as pi stores it: without the account keys a login's entry carries at first."""
    return {key: value for key, value in entry.items() if key not in ACCOUNT_KEYS}


def choose(rows: list[AccountRow], wanted: str, what: str) -> AccountRow:
    """The account ``wanted`` names: its account name, its label, or a unique prefix of either.

    ConfigError, one sentence, when none or several match.
    """
    text = wanted.strip()
    lowered = text.lower()
    for exact in (
        [r for r in rows if r.account == text],
        [r for r in rows if r.label is not None and r.label == text],
        [r for r in rows if r.account.lower() == lowered or (r.label or "").lower() == lowered],
        [
            r
            for r in rows
            if r.account.lower().startswith(lowered) or (r.label or "").lower().startswith(lowered)
        ],
    ):
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            names = ", ".join(_shown(r) for r in exact)
            raise ConfigError(f"{text!r} matches several {what} accounts ({names}); give more of the name.")
    known = ", ".join(_shown(r) for r in rows) or "none"
    raise ConfigError(f"No {what} account matches {text!r}; the accounts are: {known}.")


def _shown(row: AccountRow) -> str:
    return f"{row.account} ({row.label})" if row.label else row.account


# --- listing -----------------------------------------------------------------------------------


def list_accounts(
    store: CredentialStore,
    provider_ids: Iterable[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    state: StateFile | None = None,
    now_ms: int | None = None,
    vault: AccountVault | None = None,
) -> list[AccountRow]:
    """Every account, the active one of each provider first. Reads only (no lock, no write):
    a move left half done is settled in memory, the files are left to the next change."""
    env = os.environ if env is None else env
    state = state or state_file(env)
    now_ms = current_ms() if now_ms is None else now_ms
    vault = vault or AccountVault.beside(store)
    doc = vault.load()
    rows: list[AccountRow] = []
    ids = list(providers.PROVIDERS) if provider_ids is None else list(provider_ids)
    for provider_id in ids:
        info = providers.provider(provider_id)
        active = store.entry(provider_id)
        settled = settle(doc, provider_id, active, _file_id(store))
        records = doc["providers"].get(provider_id, [])
        if active is not None:
            status = account_status(info, store, env, now_ms=now_ms, state=state)
            known = settled.active_name or active_account_name(store, provider_id, active, state)
            name = known or UNNAMED
            if known is not None and not settled.unsure:  # an older login of the active account
                records = [r for r in records if r["account"] != known]
            rows.append(
                AccountRow(
                    provider_id,
                    info.name,
                    name,
                    _active_label(doc, provider_id, name),
                    True,
                    status.state,
                    int(active["expires"]) if active.get("type") == OAUTH else None,
                    status.masked_token,
                )
            )
        for record in records:
            entry = record["entry"]
            oauth = entry.get("type") == OAUTH
            due = oauth and is_due(entry, now_ms=now_ms) and not never_expires(entry.get("expires"))
            rows.append(
                AccountRow(
                    provider_id,
                    info.name,
                    record["account"],
                    record.get("label"),
                    False,
                    State.DUE if due else State.LOGGED_IN,
                    int(entry["expires"]) if oauth else None,
                    mask(entry.get("access") if oauth else entry.get("key")),
                )
            )
    return rows


def _active_label(doc: Mapping[str, Any], provider_id: str, account: str) -> str | None:
    labels = doc.get("labels", {}).get(provider_id, {})
    label = labels.get(account) if isinstance(labels, dict) else None
    return label if isinstance(label, str) else None


# --- changing which account is active ----------------------------------------------------------


class Accounts:
    """The several accounts of one agent directory: add, switch, remove, hand out a vault entry."""

    def __init__(
        self,
        store: CredentialStore,
        *,
        env: Mapping[str, str] | None = None,
        state: StateFile | None = None,
        vault: AccountVault | None = None,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.env = os.environ if env is None else env
        self.state = state or state_file(self.env)
        self.vault = vault or AccountVault.beside(store)
        self._client_factory = client_factory
        self._clock = clock

    def now_ms(self) -> int:
        """The injected clock (or the wall clock), in epoch milliseconds."""
        return current_ms() if self._clock is None else int(self._clock() * 1000)

    def rows(self, provider_ids: Iterable[str] | None = None) -> list[AccountRow]:
        """:func:`list_accounts` for this directory."""
        return list_accounts(
            self.store, provider_ids, env=self.env, state=self.state, now_ms=self.now_ms(), vault=self.vault
        )

    def find(self, provider_id: str, wanted: str) -> AccountRow:
        """The account of ``provider_id`` that ``wanted`` names (see :func:`choose`)."""
        info = providers.provider(provider_id)
        return choose(self.rows([info.id]), wanted, info.name)

    # -- the one move ------------------------------------------------------------------------

    def _activate(
        self,
        tx: StoreTransaction,
        vtx: VaultTransaction,
        provider_id: str,
        new_entry: dict[str, Any] | None,
        new_name: str | None,
        new_label: str | None,
        *,
        keep_active: bool,
    ) -> str | None:
        """Under both locks: move the active entry to the vault (``keep_active``) and make
        ``new_entry`` the active one (None: leave pi's file without one). Returns the name the
        old active account has in the vault, None when none was moved there."""
        doc = vtx.load()
        active = tx.entry(provider_id)  # re-read under pi's lock: pi may have just rotated it
        settled = settle(doc, provider_id, active, _file_id(self.store))
        records = doc["providers"].setdefault(provider_id, [])
        if active is not None and settled.active_name is not None:
            self.state.update(self.store.path, provider_id, account=settled.active_name)
        old_name = active_account_name(self.store, provider_id, active, self.state) if active else None
        moving = active is not None and keep_active and not same_credential(active, new_entry)
        if moving and new_name is not None and old_name == new_name:
            moving = False  # the same account again: its new login replaces it
        if moving:
            assert active is not None
            label = _active_label(doc, provider_id, old_name or "")
            # A record of the same account (an older login) is replaced, unless a move cut short
            # left it unclear whose login pi's file holds; an unnamed one gets a name.
            old_name = _free_name(records, old_name) if settled.unsure or not old_name else old_name
            older = _record(doc, provider_id, old_name)
            label = label or (older or {}).get("label")
            records[:] = [r for r in records if r["account"] != old_name]
            records.append({"account": old_name, "label": label, "entry": dict(active)})
        doc["pending"] = {
            "provider": provider_id,
            "from": old_name if moving else None,
            "from_refresh": _secret_of(active) if moving and active else None,
            "to": new_name,
            "to_refresh": _secret_of(new_entry) if new_entry else None,
            "file": _file_id(self.store),
        }
        vtx.write(doc)  # step 1
        if new_entry is None:
            tx.delete(provider_id)
        else:
            tx.put(provider_id, new_entry)  # step 2
        labels = doc.setdefault("labels", {}).setdefault(provider_id, {})
        if old_name != new_name:  # the old active's label went into its record, or with it
            labels.pop(old_name or "", None)
        if new_entry is not None:
            # The same account's vault record goes (never kept twice); its label stays with it.
            kept = next((r.get("label") for r in records if r["account"] == new_name), None)
            records[:] = [r for r in records if r["account"] != new_name]
            if new_label is not None or kept:
                labels[new_name or UNNAMED] = new_label or kept
            self.state.update(
                self.store.path,
                provider_id,
                account=new_name,
                seen=fingerprint(new_entry),
                last_refresh=None,
                last_failure=None,
            )
        else:
            self.state.forget(self.store.path, provider_id)
        doc.pop("pending", None)
        vtx.write(doc)  # step 3
        return old_name if moving else None

    # -- public operations ---------------------------------------------------------------------

    def add_account(
        self,
        provider_id: str,
        new_entry: dict[str, Any],
        account: str | None,
        label: str | None = None,
    ) -> str | None:
        """Store a new login as the active account; the one it replaces moves to the vault when it
        is another account (the same account is replaced, never kept twice). Returns the name of
        the account moved to the vault, None when none was."""
        provider_id = providers.provider(provider_id).id
        account = account or providers.load(provider_id).account(new_entry)
        entry = pi_format(new_entry)
        with self.store.transaction() as tx, self.vault.transaction() as vtx:
            moved = self._activate(tx, vtx, provider_id, entry, account, label, keep_active=True)
        self.state.update(self.store.path, provider_id, logged_in_at=self.now_ms())
        log.info("added a %s account (token %s)", provider_id, mask(entry.get("access")))
        return moved

    def replace_account(
        self,
        provider_id: str,
        new_entry: dict[str, Any],
        account: str | None,
        label: str | None = None,
    ) -> None:
        """Store a new login as the active account in place of the stored one (which is not
        kept); a vault record of the same account goes, so it is never kept twice."""
        provider_id = providers.provider(provider_id).id
        account = account or providers.load(provider_id).account(new_entry)
        entry = pi_format(new_entry)
        with self.store.transaction() as tx, self.vault.transaction() as vtx:
            self._activate(tx, vtx, provider_id, entry, account, label, keep_active=False)
        self.state.update(self.store.path, provider_id, logged_in_at=self.now_ms())
        log.info("replaced the %s login (token %s)", provider_id, mask(entry.get("access")))

    async def switch(self, provider_id: str, wanted: str) -> tuple[AccountRow, str | None]:
        """Make the vault account ``wanted`` names the active one (refreshed first if due).

        Returns the chosen account's row (as it was listed) and the name of the account that
        was active before (now in the vault), None if there was none.
        """
        info = providers.provider(provider_id)
        chosen = self.find(info.id, wanted)
        if chosen.active:
            return chosen, None
        entry = await self._ready_vault_entry(info.id, chosen.account)
        with self.store.transaction() as tx, self.vault.transaction() as vtx:
            record = _record(vtx.load(), info.id, chosen.account)
            if record is None:
                raise NotLoggedIn(f"The {info.name} account {chosen.account} was removed meanwhile.")
            entry = record["entry"]  # as the vault holds it now (refreshed above, or by another)
            old = self._activate(
                tx, vtx, info.id, entry, chosen.account, record.get("label"), keep_active=True
            )
        log.info("switched %s to another account (token %s)", info.id, mask(entry.get("access")))
        return chosen, old

    def remove(self, provider_id: str, wanted: str, *, switch_to: str | None = None) -> AccountRow:
        """Log out of one account: a vault account (pi's file untouched), or the active one (no
        other becomes active unless ``switch_to`` names one). Returns the removed account's row."""
        info = providers.provider(provider_id)
        rows = self.rows([info.id])
        gone = choose(rows, wanted, info.name)
        target = (
            choose([r for r in rows if r.account != gone.account], switch_to, info.name)
            if switch_to
            else None
        )
        if target is not None and target.active:
            raise ConfigError(f"{target.account} is already the active {info.name} account.")
        if not gone.active:
            with self.vault.transaction() as vtx:
                doc = vtx.load()
                records = doc["providers"].get(info.id, [])
                doc["providers"][info.id] = [r for r in records if r["account"] != gone.account]
                doc.get("labels", {}).get(info.id, {}).pop(gone.account, None)
                vtx.write(doc)
            return gone
        with self.store.transaction() as tx, self.vault.transaction() as vtx:
            if target is None:
                self._activate(tx, vtx, info.id, None, None, None, keep_active=False)
            else:
                record = _record(vtx.load(), info.id, target.account)
                if record is None:
                    raise NotLoggedIn(f"The {info.name} account {target.account} was removed meanwhile.")
                self._activate(
                    tx, vtx, info.id, record["entry"], target.account, record.get("label"), keep_active=False
                )
        return gone

    async def entry_for(self, provider_id: str, wanted: str, *, min_valid_ms: int = 0) -> dict[str, Any]:
        """The entry (refreshed if due) of the stored account ``wanted`` names, without switching
        pi: refreshed under the vault's lock, also when it has less than ``min_valid_ms`` left.
        The active account's token is :meth:`app.service.AuthService.token`'s job.
        """
        info = providers.provider(provider_id)
        chosen = self.find(info.id, wanted)
        if chosen.active:
            raise ConfigError(
                f"{chosen.account} is the active {info.name} account: its token comes from pi's file."
            )
        return await self._ready_vault_entry(info.id, chosen.account, min_valid_ms)

    def fresh_vault_entry(
        self, provider_id: str, account: str, min_valid_ms: int = 0
    ) -> dict[str, Any] | None:
        """The vault account's entry when it needs no refresh; None when it does (or is gone)."""
        record = _record(self.vault.load(), provider_id, account)
        if record is None or _due(record["entry"], self.now_ms() + min_valid_ms):
            return None
        return dict(record["entry"])

    async def _ready_vault_entry(
        self, provider_id: str, account: str, min_valid_ms: int = 0
    ) -> dict[str, Any]:
        """The vault account's entry, refreshed under the vault's lock (only) when due."""
        fresh = self.fresh_vault_entry(provider_id, account, min_valid_ms)
        if fresh is not None:
            return fresh
        with self.vault.transaction() as vtx:
            doc = vtx.load()
            record = _record(doc, provider_id, account)
            if record is None:
                name = providers.provider(provider_id).name
                raise NotLoggedIn(f"No {name} account {account} in {self.vault.path}.")
            entry: dict[str, Any] = record["entry"]
            if not _due(entry, self.now_ms() + min_valid_ms):
                return dict(entry)  # another process refreshed it while we waited
            return await self._refresh_in_vault(vtx, doc, record, provider_id)

    async def _refresh_in_vault(
        self, vtx: VaultTransaction, doc: dict[str, Any], record: dict[str, Any], provider_id: str
    ) -> dict[str, Any]:
        import asyncio  # only a refresh needs it: `token --account` of a fresh account does not

        module = providers.load(provider_id)
        entry = dict(record["entry"])
        now = self.now_ms()
        vtx.check_writable()
        log.info("refreshing a %s vault account (token %s)", provider_id, mask(entry.get("access")))

        async def exchange_and_store() -> dict[str, Any]:
            async with self._client() as client:
                new = await module.refresh(client, module.endpoints(self.env), entry, now_ms=now)
            new = pi_format(new)
            record["entry"] = new
            vtx.write(doc)
            return new

        exchange = asyncio.ensure_future(exchange_and_store())
        try:
            return await asyncio.shield(exchange)
        except asyncio.CancelledError:
            # The server may have spent the old refresh token: keep its answer before leaving.
            with contextlib.suppress(Exception):
                await exchange
            raise
        except RefreshError as exc:
            name = providers.provider(provider_id).name
            raise RefreshError(f"{name} account {record['account']}: {exc}", revoked=exc.revoked) from None

    def _client(self) -> httpx.AsyncClient:
        if self._client_factory is not None:
            return self._client_factory()
        return make_client()


def _record(doc: Mapping[str, Any], provider_id: str, account: str) -> dict[str, Any] | None:
    for record in doc["providers"].get(provider_id, []):
        if record["account"] == account:
            found: dict[str, Any] = record
            return found
    return None


def _due(entry: Mapping[str, Any], now_ms: int) -> bool:
    return (
        entry.get("type") == OAUTH
        and not never_expires(entry.get("expires"))
        and is_due(dict(entry), now_ms=now_ms)
    )


# --- for scripts and other modules -------------------------------------------------------------


def add_account(
    store: CredentialStore,
    provider_id: str,
    new_entry: dict[str, Any],
    account: str | None,
    label: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    state: StateFile | None = None,
) -> str | None:
    """:meth:`Accounts.add_account` (the login sequence's "add as another account")."""
    return Accounts(store, env=env, state=state).add_account(provider_id, new_entry, account, label)


__all__ = [
    "VAULT_NAME",
    "AccountRow",
    "AccountVault",
    "Accounts",
    "add_account",
    "choose",
    "list_accounts",
    "same_credential",
    "settle",
]
