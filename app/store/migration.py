"""``pi-tui migrate``: the logins of an older pi's ``oauth.json`` copied into ``auth.json``.

pi 0.27 and later read ``oauth.json`` only when ``auth.json`` does not exist, so logins left
there are invisible to pi. Both files are locked while the logins are copied and the old file
is renamed (as pi's own migration does) to ``oauth.json.migrated``.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.errors import StoreError, StoreWriteError
from app.records import NamedTuple
from app.store.document import entry_problem
from app.store.locks import remove_lock_file

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from typing import Any

    from app.store import CredentialStore

OAUTH_JSON = "oauth.json"
MIGRATED_SUFFIX = ".migrated"


class Migration(NamedTuple):
    """What ``pi-tui migrate`` would do (or did): the logins to copy, from where, to where."""

    source: Path
    target: Path
    providers: tuple[str, ...]


def _old_store(store: CredentialStore) -> CredentialStore:
    """The older format's store beside ``store``, waiting for its lock as long as ``store`` does."""
    return type(store)(store.path.with_name(OAUTH_JSON), kind=OAUTH_JSON, lock_timeout=store.lock_timeout)


def pending_migration(store: CredentialStore) -> Migration | None:
    """The logins in an ``oauth.json`` beside the ``auth.json`` in use that ``auth.json`` lacks.

    pi (0.27 and later) reads that file only when ``auth.json`` does not exist, so these logins
    are invisible to it. None when there is nothing to migrate or a file cannot be read (its
    own problem is reported where it is used).
    """
    if not store.uses_pi_lock:
        return None
    old = _old_store(store)
    if not os.path.lexists(old.path):
        return None
    try:
        missing = _missing_logins(old.load(), store.load())
    except StoreError:
        return None
    return Migration(old.path, store.path, tuple(missing)) if missing else None


def migration_note(pending: Migration) -> str:
    """The sentence the status panel and ``pi-tui status`` show for :func:`pending_migration`."""
    names = ", ".join(pending.providers)
    return (
        f"{pending.source} holds logins that {pending.target.name} lacks ({names}); pi ignores that "
        f"file. Run `pi-tui migrate` to copy them into {pending.target.name}."
    )


def _missing_logins(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        provider: entry
        for provider, entry in old.items()
        if provider not in new and entry_problem(entry) is None
    }


def migrate(store: CredentialStore) -> tuple[Migration, Path | None]:
    """Copy the logins ``auth.json`` lacks from ``oauth.json`` beside it, then rename that file.

    Both files are locked (pi's lock directory, then the flock), as pi's own migration does the
    rename: ``oauth.json`` becomes ``oauth.json.migrated``. Returns what was copied and the new
    name (None when there was nothing to do: no oauth.json, or no login missing from auth.json).
    """
    old = _old_store(store)
    if not store.uses_pi_lock or not os.path.lexists(old.path):
        return Migration(old.path, store.path, ()), None
    with store.transaction() as tx, old.transaction() as old_tx:
        missing = _missing_logins(old_tx.load(), tx.load())
        if not missing:
            return Migration(old.path, store.path, ()), None
        tx.put_many(missing)
        lock = old.lock_path
        renamed = _free_name(old.real_path.with_name(old.real_path.name + MIGRATED_SUFFIX))
        try:
            os.rename(old.real_path, renamed)
        except OSError as error:
            raise StoreWriteError(
                f"The logins were copied into {store.path}, but {old.path} could not be renamed "
                f"({error.strerror}); rename it yourself (mv {old.path} {renamed})."
            ) from error
    # Its lock went with it (pi never made one: old pi-tui versions did).
    remove_lock_file(lock)
    return Migration(old.path, store.path, tuple(missing)), renamed


def _free_name(path: Path) -> Path:
    if not os.path.lexists(path):
        return path
    n = 2
    while os.path.lexists(path.with_name(f"{path.name}-{n}")):
        n += 1
    return path.with_name(f"{path.name}-{n}")
