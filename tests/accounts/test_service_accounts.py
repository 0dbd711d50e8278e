"""What AuthService offers the panel about several accounts: the accounts of its store (with
its environment, state, clock and HTTP client) and the usage the cache still holds for a
stored account."""

from __future__ import annotations

from pathlib import Path

from app.providers.base import Usage, UsageWindow
from app.service import AuthService
from app.store import CredentialStore
from app.usage import Record, UsageCache, login_key
from tests.accounts.helpers import ADA, BOB, login_entry
from tests.fakes.server import FakeProviders


def service_with_two_accounts(tmp_path: Path, fake: FakeProviders) -> tuple[AuthService, dict, dict]:
    store = CredentialStore(tmp_path / "agent" / "auth.json", lock_timeout=5.0)
    service = AuthService(store, env=fake.env(), clock=lambda: 1_795_780_800.0)
    ada, bob = login_entry(fake, ADA), login_entry(fake, BOB)
    service.accounts().add_account("anthropic", ada, ADA)
    service.accounts().add_account("anthropic", bob, BOB)  # Ada goes to the vault
    return service, ada, bob


def test_accounts_share_the_services_store_state_and_clock(tmp_path: Path, fake: FakeProviders) -> None:
    service, _, _ = service_with_two_accounts(tmp_path, fake)
    accounts = service.accounts()
    assert accounts.store is service.store and accounts.state is service.state
    assert accounts.env is service.env and accounts.now_ms() == 1_795_780_800_000
    assert [(r.account, r.active) for r in accounts.rows(["anthropic"])] == [(BOB, True), (ADA, False)]


def test_stored_usage_is_the_cached_answer_of_a_stored_account(tmp_path: Path, fake: FakeProviders) -> None:
    service, ada, bob = service_with_two_accounts(tmp_path, fake)
    cache = UsageCache(service.state.path.parent / "usage", service.store.path)
    usage = Usage((UsageWindow("5h", 61.0, None),))
    assert service.stored_usage("anthropic") == {}  # nothing cached

    cache.write("anthropic", Record(usage, 1, fresh_until=2, login=login_key(BOB, bob)))
    assert service.stored_usage("anthropic") == {}  # the active account's answer is not Ada's

    # Ada's answer from when she was in use (named then by what pi-tui remembered, or not at all).
    for name in (ADA, None):
        cache.write("anthropic", Record(usage, 1, fresh_until=2, login=login_key(name, ada)))
        found = service.stored_usage("anthropic")
        assert list(found) == [ADA]
        assert found[ADA].usage == usage and found[ADA].cached
