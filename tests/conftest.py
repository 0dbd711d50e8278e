"""Fixtures shared by every test: the fake providers, a store, a fixed clock, the app factory."""

from __future__ import annotations

import compileall
import gc
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.store import CredentialStore
from tests.fakes.fixtures import fake, fake_env
from tests.tui.doubles import FakeClipboard, FakeClock, FakeOpener

__all__ = ["fake", "fake_env"]

TESTS = Path(__file__).resolve().parent
# `-n auto`: workers a core. The whole suite on the 2-core CI machine: 2 workers 265 s, 6 workers
# 189 s (README, "Tests").
WORKERS_PER_CORE = 3
# Marked slow: more than about 2 s each on the 2-core CI machine (`--durations=50` on a run),
# a whole file or file::test (every parametrization of it).
SLOW = frozenset(
    {
        "bench/test_bench_smoke.py",
        "faults/test_fuzz.py",
        "faults/test_network_faults.py::test_invalid_grant_because_pi_won_the_race_uses_its_token",
        "interop/test_pi_concurrency.py",
        "interop/test_pi_lock.py::test_fresh_lock_of_a_killed_pi_is_waited_for_until_30s_old",
        "interop/test_pi_lock.py::test_no_lock_directory_is_left_after_any_pi_tui_command",
        "interop/test_pi_lock.py::test_pi_holding_its_lock_keeps_pi_tui_waiting_and_both_writes_land",
        "interop/test_pi_lock.py::test_pi_tui_holding_the_lock_keeps_pi_out_until_it_has_written",
        "interop/test_pi_lock.py::test_refresh_slower_than_pis_10s_staleness_keeps_pis_sync_path_out",
        "providers/test_copilot.py::test_eight_processes_exchange_once_and_print_the_same_token",
        "reliability/test_concurrency.py",
        "reliability/test_soak_smoke.py",
        "reliability/test_store_faults.py",  # one fixture runs the whole matrix (~20 s)
        "reliability/test_terminal_e2e.py",
        "reliability/test_terminal_providers.py",
        "store/test_pi_lock.py::test_heartbeat_keeps_the_lock_fresh_for_as_long_as_it_is_held",
        "store/test_pi_lock.py::test_racing_takers_of_one_abandoned_lock_exclude_each_other",
        "tui/test_anthropic_login.py::test_a_token_pasted_by_mistake_is_masked_in_the_field",
        "tui/test_anthropic_login.py::test_login_by_paste_saves_tokens_and_shows_success",
        "tui/test_auth_code_bind_notice.py::test_taken_port_is_said_on_the_login_screen_and_paste_completes",
        "tui/test_copilot_login.py::test_code_expiry_by_the_clock_ends_the_polling",
        "tui/test_copilot_login.py::test_denied_on_github_says_so_and_n_starts_again",
        "tui/test_copilot_login.py::test_device_login_shows_the_code_polls_and_saves",
        "tui/test_copilot_login.py::test_enterprise_host_is_checked_before_anything_is_sent",
        "tui/test_copilot_login.py::test_enterprise_host_reaches_the_login",
        "tui/test_copilot_login.py::test_escape_cancels_at_once_and_stops_polling",
        "tui/test_login_link.py::test_after_a_denial_copied_is_said_only_if_the_new_link_was",
        "tui/test_snapshots.py::test_after_an_invalid_paste",
        "tui/test_snapshots.py::test_link_alone",
        "tui/test_snapshots.py::test_slowed_down",
        "tui/test_status.py::test_a_login_is_shown_due_five_minutes_before_it_expires",
        "tui/test_status.py::test_countdown_moves_with_the_injected_clock",
        "tui/test_status_panel.py::test_a_message_goes_when_the_user_leaves_for_a_login_and_comes_back",
        "tui/test_status_panel.py::test_ctrl_c_is_listed_on_every_screen",
        "tui/test_terminal_keys.py::test_enters_typed_ahead_keep_the_login_and_the_logout_confirmation_open",
        "tui/test_type_ahead.py::test_logout_select_and_confirmation_survive_enters_typed_ahead",
    }
)

# Fast-loop tests that mostly wait out seconds of real time (a slow answer, a timeout, a held
# lock). Under xdist they start first, so their waits overlap the rest of the run; last in
# the run's order (tests/usage comes last), a worker waited them out alone at the end.
FIRST = frozenset(
    {
        "accounts/test_login_adds_accounts.py::test_replace_drops_the_stored_login_and_the_same_account_is_never_kept_twice",
        "flows/test_loopback_listener_under_load.py::test_a_silent_connection_is_dropped_after_a_few_seconds",
        "flows/test_loopback_listener_under_load.py::test_hundreds_of_silent_connections_neither_starve_nor_break_the_login",
        "tokens/test_token_path.py::test_waiting_for_a_held_lock_is_said_after_a_second_and_the_token_follows",
        "usage/test_panel.py::test_first_frame_does_not_wait_for_a_slow_usage_answer",
        "usage/test_panel.py::test_u_asks_again_now",
        "usage/test_usage_cli.py::test_a_slow_answer_is_waited_for",
        "usage/test_usage_cli.py::test_processes_started_together_ask_once",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    # A shell starts a background job (`pytest &` in a script) with Ctrl-C ignored, and every
    # process a test starts would inherit that: the tests that stop pi-tui with SIGINT or SIGTERM
    # (Ctrl-C inside) would see it carry on. A handler, unlike "ignored", is reset in a child at exec.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # Under pytest-xdist (-n N), tests go to workers one by one ("load"); "loadgroup" does the
    # same but keeps each xdist_group on one worker (the store-fault matrix: one module fixture
    # runs all its processes once, and would run them again on every worker).
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    keep_bytecode()


def keep_bytecode() -> None:
    """Bytecode caches (``__pycache__``, ignored by git) even where PYTHONDONTWRITEBYTECODE is set:
    without them every xdist worker rewrites and compiles every test module again (about 3 s of CPU
    each) and every pi-tui process the tests start compiles ``app`` again. Python still reads a
    cache it may not write, so ``app`` and the helpers are compiled here, once (what ``.ci/run``
    does for ``app``), and pytest may write its rewritten test modules' caches."""
    if not sys.dont_write_bytecode:
        return
    sys.dont_write_bytecode = False
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller, or the only process
        for folder in ("app", "tests"):
            compileall.compile_dir(TESTS.parent / folder, quiet=2)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The garbage collector spends less on a test run: what collection built (every module, every
    test item) is frozen out of its scans, and it runs a tenth as often (a Textual app makes
    objects by the ten thousand). About a sixth of the TUI and contract tests' CPU."""
    gc.freeze()
    gc.set_threshold(7000, 10, 10)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: WORKERS_PER_CORE workers a core. The suite mostly waits (for the processes it
    starts, sockets, timers), so more workers than cores finish sooner. An explicit
    $PYTEST_XDIST_AUTO_NUM_WORKERS still wins."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return WORKERS_PER_CORE * cores


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The markers by folder and fixture: ``interop`` (tests/interop, the real pi on Node),
    ``terminal`` (tmux: the ``terminal`` fixture), ``slow`` (see :data:`SLOW`). Under xdist,
    the tests of :data:`FIRST` go first."""
    first = set()
    for item in items:
        where = item.path.relative_to(TESTS).as_posix() if item.path.is_relative_to(TESTS) else ""
        if where.startswith("interop/"):
            item.add_marker(pytest.mark.interop)
        if "terminal" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.terminal)
        name = item.name.partition("[")[0]
        if where in SLOW or f"{where}::{name}" in SLOW:
            item.add_marker(pytest.mark.slow)
        if f"{where}::{name}" in FIRST:
            first.add(item)
    if hasattr(config, "workerinput"):  # an xdist worker: every worker sorts alike
        items.sort(key=lambda item: item not in first)


@pytest.fixture(autouse=True, scope="session")
def one_certificate_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``SSL_CERT_FILE``: the first certificate of certifi's bundle alone, for every pi-tui the
    tests run. The fakes speak plain HTTP, so no certificate is ever checked, but each process that
    makes a request builds its SSL context (app.http.ssl_context) from the bundle, and loading
    certifi's ~140 certificates takes ~16 ms of CPU each time. A test that sets its own wins."""
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        yield
        return
    import certifi

    bundle = Path(certifi.where()).read_text(encoding="ascii")
    end = "-----END CERTIFICATE-----"
    first = bundle[bundle.index("-----BEGIN CERTIFICATE-----") : bundle.index(end) + len(end)]
    path = tmp_path_factory.mktemp("tls") / "one-ca.pem"
    path.write_text(first + "\n", encoding="ascii")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(path))
        yield


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pi-tui's own state file lives under the test's tmp_path, never in the real home."""
    path = tmp_path / "pi-tui-state"
    monkeypatch.setenv("PI_TUI_STATE_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def process_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The HOME (and XDG_CONFIG_HOME under it) of every process the test starts through
    tests.processes.clean_env: the user's real dotfiles never reach a test's pi-tui. The same
    directory as the ``home`` fixture's, so the two agree when a test uses both."""
    from tests.processes import PROCESS_HOME

    path = tmp_path / "home"
    monkeypatch.setenv(PROCESS_HOME, str(path))
    return path


@pytest.fixture(autouse=True)
def pi_tui_logger() -> Iterator[None]:
    """pi-tui's logger as each test found it: a test that sets up logging (to a file, without
    propagation) must not take the log away from the next test in the same worker."""
    import logging

    logger = logging.getLogger("pi_tui")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    for handler in logger.handlers:
        if handler not in saved[0]:
            handler.close()
    logger.handlers[:] = saved[0]
    logger.propagate, logger.level = saved[1], saved[2]


@pytest.fixture
def clock() -> FakeClock:
    """2026-11-27 12:00:00 UTC until a test moves it."""
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    """An empty store in a temporary agent directory."""
    return CredentialStore(tmp_path / "agent" / "oauth.json", lock_timeout=5.0)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory of the test's own (``$HOME``): screens show paths under it as ``~/…``."""
    path = tmp_path / "home"
    path.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def fixed_store(home: Path) -> CredentialStore:
    """An empty store at ``~/.pi/agent/oauth.json`` under the test's own home, for screens that
    show the path (snapshots): it reads the same in every run, and two runs never share it."""
    return CredentialStore(home / ".pi" / "agent" / "oauth.json", lock_timeout=5.0)


@pytest.fixture
def clipboard() -> FakeClipboard:
    """A clipboard that records copies."""
    return FakeClipboard()


@pytest.fixture
def opener() -> FakeOpener:
    """A browser opener that records links."""
    return FakeOpener()


@pytest.fixture
def make_app(clipboard: FakeClipboard, opener: FakeOpener, home: Path) -> Callable[..., Any]:
    """Build a PiTuiApp over a service with the fake clipboard and opener and no cursor blink."""
    from app.tui.app import PiTuiApp

    def build(
        service: Any, *, start: str = "status", provider: str | None = None, usage: bool = False
    ) -> PiTuiApp:
        # usage=False: panels built over fake tokens and real endpoints ask no provider for usage.
        return PiTuiApp(
            service,
            start=start,  # type: ignore[arg-type]
            provider=provider,
            clipboard=clipboard,
            opener=opener,
            log_path=home / "logs" / "pi-tui.log",  # shown as ~/logs/pi-tui.log
            cursor_blink=False,
            usage=usage,
        )

    return build
