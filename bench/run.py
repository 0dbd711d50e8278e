"""pi-tui's performance benchmark: every figure against a baseline measured in the same run.

Run it with the project's interpreter, from anywhere::

    .venv/bin/python bench/run.py                 # all figures, 9 runs each
    .venv/bin/python bench/run.py --quick         # 5 runs, shorter idle
    .venv/bin/python bench/run.py --only token,status --runs 15 --json results.json
    .venv/bin/python bench/run.py --check         # exit 1 when a target is missed

Each figure and its baseline are run alternately (candidate, baseline, candidate, …) after a
warm-up, and the table reports the medians. The commands are the installed console script
(``.venv/bin/pi-tui``, what users run) and ``python -c pass``, both on ``sys.executable``.
The exit status is 0 whatever the numbers (this is a report) unless ``--check`` is given.

Groups (``--only``): ``token``, ``status`` (each on oauth.json and on auth.json), ``frame``
(first frame and peak memory, in a pseudo-terminal; the first frame also with the five providers
that read usage logged in, their usage not cached and cached), ``paste`` (16 KB bracketed paste,
in-process with Textual's Pilot), ``refresh`` (32 concurrent ``pi-tui token`` while due,
against the fake server) and ``usage`` (``pi-tui usage --short`` from a cache of two providers,
the tmux status-line case).

The notes under the table say where a gap comes from: CPU time next to wall time (less
sensitive to other load on the machine), Textual's own cost for the status screen
(``bench/floor_app.py``), and the CPU floor of 32 processes on this many cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
GROUPS = ("token", "status", "frame", "paste", "refresh", "usage")
HOUR_MS = 3_600_000
FRAME_TIMEOUT_S = 30.0
CONCURRENCY = 32
FAKE_LATENCY_S = 0.1
# pi-tui's status panel draws each provider's display name; the bare app draws its Label.
APP_MARKER = "GitHub Copilot"
BARE_MARKER = "bench: bare app ready"
_ANSI = re.compile(
    rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[@-Z\\-_])"
)
# Point every provider URL at a closed loopback port: the app must not reach the internet.
_OFFLINE = "http://127.0.0.1:9"
_OFFLINE_ENV = {
    "PI_TUI_ANTHROPIC_AUTHORIZE_URL": f"{_OFFLINE}/oauth/authorize",
    "PI_TUI_ANTHROPIC_TOKEN_URL": f"{_OFFLINE}/v1/oauth/token",
    "PI_TUI_ANTHROPIC_API_URL": _OFFLINE,
    "PI_TUI_GITHUB_URL": _OFFLINE,
    "PI_TUI_GITHUB_API_URL": _OFFLINE,
    "PI_TUI_COPILOT_API_URL": _OFFLINE,
    "PI_TUI_CALLBACK_PORT": "off",
}


class BenchError(RuntimeError):
    """A measurement could not be taken (a command failed, a marker never appeared)."""


@dataclass
class Row:
    """One line of the table. ``value``/``baseline`` are medians in ``unit``."""

    figure: str
    value: float | None
    baseline: float | None
    unit: str
    target: str
    met: bool | None
    ratio: float | None = None
    note: str = ""
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    """What the command line asked for."""

    runs: int
    warmup: int
    idle_s: float
    concurrency: int


# --- commands and environment -------------------------------------------------------------------


def pi_tui_command() -> tuple[list[str], str]:
    """The installed console script next to this interpreter, or ``-m app.cli`` without one."""
    script = Path(sys.executable).parent / "pi-tui"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], str(script)
    return [sys.executable, "-m", "app.cli"], f"{sys.executable} -m app.cli (no pi-tui script found)"


def baseline_command() -> list[str]:
    """``python -c pass`` with the same interpreter."""
    return [sys.executable, "-c", "pass"]


# pi-tui's state directory for this run, set by workdir(): without it every run's agent
# directories would add records to the user's own state file, which every pi-tui start reads.
_STATE_DIR: list[str] = []


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without pi-tui/Anthropic overrides (the stored login must win).

    ``PYTHONDONTWRITEBYTECODE`` goes too: a user's install has its ``.pyc`` files (pip writes
    them, an editable install writes ``app/__pycache__`` on first run, the warm-up does here);
    without them every run would recompile ``app`` and measure the compiler.
    """
    dropped = ("PI_TUI_", "ANTHROPIC_", "TEXTUAL", "PI_CODING_AGENT_DIR", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    # The checkout this bench is in, even when the console script's install is another one's
    # (a git worktree sharing the main checkout's venv would otherwise measure the main code).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if _STATE_DIR:
        env["PI_TUI_STATE_DIR"] = _STATE_DIR[0]  # the run's own (see workdir)
    env.update(extra or {})
    return env


def now_ms() -> int:
    """Wall-clock epoch milliseconds (the store's clock)."""
    return int(time.time() * 1000)


def write_store(agent_dir: Path, doc: dict[str, Any], name: str = "oauth.json") -> Path:
    """Write ``doc`` as pi's ``name`` (dir 0700, file 0600), replacing any old one."""
    agent_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    agent_dir.chmod(0o700)
    path = agent_dir / name
    temp = agent_dir / f".{name}.bench.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(doc, indent=2) + "\n")
    temp.chmod(0o600)
    os.replace(temp, path)
    return path


def anthropic_entry(access: str, refresh: str, expires: int) -> dict[str, Any]:
    """An Anthropic login in pi's format."""
    return {"type": "oauth", "refresh": refresh, "access": access, "expires": expires}


def both_providers_doc() -> dict[str, Any]:
    """A store where both providers hold a valid login for another hour."""
    expires = now_ms() + HOUR_MS
    copilot_access = f"tid=bench;exp={expires // 1000};sku=free;proxy-ep=proxy.individual.githubcopilot.com;"
    return {
        "anthropic": {
            **anthropic_entry("sk-ant-oat01-" + "a" * 86 + "AA", "sk-ant-ort01-" + "r" * 86, expires),
            "email": "bench@example.com",
        },
        "github-copilot": {
            "type": "oauth",
            "refresh": "gho_" + "g" * 36,
            "access": copilot_access,
            "expires": expires,
            "login": "octocat",
        },
    }


# The providers with a usage hook: the panel reads each one's usage after its first frame.
USAGE_PROVIDERS = ("anthropic", "github-copilot", "openai-codex", "kimi-coding", "openrouter")


def five_providers_doc() -> dict[str, Any]:
    """A store where the five providers that read usage hold a login good for a day (no refresh
    falls due during a run), as pi writes them: no account keys, so pi-tui knows no account."""
    expires = now_ms() + 24 * HOUR_MS
    copilot_access = f"tid=bench;exp={expires // 1000};sku=free;proxy-ep=proxy.individual.githubcopilot.com;"
    return {
        "anthropic": anthropic_entry("sk-ant-oat01-" + "a" * 86 + "AA", "sk-ant-ort01-" + "r" * 86, expires),
        "github-copilot": {
            "type": "oauth",
            "refresh": "gho_" + "g" * 36,
            "access": copilot_access,
            "expires": expires,
        },
        "openai-codex": {
            "type": "oauth",
            "access": "eyJhbGciOiJSUzI1NiJ9." + "c" * 120 + ".sig",
            "refresh": "rt_" + "c" * 40,
            "expires": expires,
            "accountId": "acct_bench",
        },
        "kimi-coding": {
            "type": "oauth",
            "access": "kimi-" + "k" * 60,
            "refresh": "kimi-r-" + "k" * 60,
            "expires": expires,
        },
        "openrouter": {
            "type": "oauth",
            "access": "sk-or-v1-" + "o" * 64,
            "refresh": "sk-or-v1-" + "o" * 64,
            "expires": expires,
        },
    }


def usage_env(url: str) -> dict[str, str]:
    """Every usage request of the five providers to ``url``; their logins elsewhere offline."""
    return {
        **_OFFLINE_ENV,
        "PI_TUI_ANTHROPIC_API_URL": url,
        "PI_TUI_GITHUB_API_URL": url,
        "PI_TUI_OPENAI_AUTH_URL": _OFFLINE,
        "PI_TUI_OPENAI_CODEX_API_URL": url,
        "PI_TUI_KIMI_AUTH_URL": _OFFLINE,
        "PI_TUI_KIMI_API_URL": url,
        "PI_TUI_OPENROUTER_URL": url,
    }


class SilentServer:
    """A loopback listener that takes connections and never answers: a usage request to it
    hangs until the app is killed, so a first frame that waited for usage would never come."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name="bench-silent", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    @property
    def connections(self) -> int:
        """How many connections it has taken."""
        return len(self._held)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        """Stop listening and drop every connection."""
        self._socket.close()
        for conn in self._held:
            conn.close()


def cache_usage(store_path: Path, env: dict[str, str], doc: dict[str, Any]) -> Callable[[], None]:
    """Write a fresh usage answer for each login of ``doc`` into the run's usage cache, for an
    hour (the key the panel looks for: the login's, with pi-tui's remembered account); return
    what removes them again (a panel whose usage is not cached)."""
    sys.path.insert(0, str(ROOT))
    try:
        from app.credentials import remembered_account, state_file
        from app.providers.base import Usage, UsageWindow
        from app.store import CredentialStore
        from app.usage import Record, UsageCache, login_key
    finally:
        sys.path.remove(str(ROOT))
    cache = UsageCache(Path(_STATE_DIR[0]) / "usage", store_path)
    store, state = CredentialStore(store_path), state_file(env)
    now = now_ms()
    usage = Usage(
        (UsageWindow("5h", 61.0, now + HOUR_MS), UsageWindow("7d", 22.0, now + 80 * HOUR_MS)), plan="max"
    )
    for provider_id, entry in doc.items():
        login = login_key(remembered_account(store, provider_id, state), entry)
        cache.write(provider_id, Record(usage, now, fresh_until=now + HOUR_MS, login=login))

    def forget() -> None:
        for provider_id in doc:
            cache.forget(provider_id)

    return forget


# --- timing helpers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """One finished command: wall seconds, CPU seconds (user + system) and its stdout."""

    wall: float
    cpu: float
    stdout: str


def run_timed(argv: Sequence[str], env: dict[str, str]) -> Timed:
    """Run ``argv`` to completion and time it. BenchError if it fails."""
    cpu_before = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-800:]}"
        )
    return Timed(elapsed, children_cpu() - cpu_before, proc.stdout.decode(errors="replace"))


def children_cpu() -> float:
    """User + system seconds used so far by this process's waited-for children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def alternate(
    candidate: Callable[[], float], baseline: Callable[[], float], settings: Settings
) -> tuple[list[float], list[float]]:
    """Warm up, then run candidate and baseline alternately ``settings.runs`` times each."""
    cand, base = rotate([candidate, baseline], settings)
    return cand, base


def rotate(measures: Sequence[Callable[[], float]], settings: Settings) -> list[list[float]]:
    """Warm up, then run every measure in turn (A B C A B C …) ``settings.runs`` times each."""
    for _ in range(settings.warmup):
        for measure in measures:
            measure()
    samples: list[list[float]] = [[] for _ in measures]
    for _ in range(settings.runs):
        for measure, into in zip(measures, samples, strict=True):
            into.append(measure())
    return samples


def ratio_row(
    figure: str,
    cand: list[float],
    base: list[float],
    *,
    unit: str,
    limit: float,
    scale: float = 1.0,
    note: str = "",
) -> Row:
    """A row comparing medians: met when median(cand) ≤ limit × median(base)."""
    value, baseline = statistics.median(cand) * scale, statistics.median(base) * scale
    ratio = value / baseline if baseline else None
    return Row(
        figure,
        value,
        baseline,
        unit,
        f"≤ {limit:.2f}×",
        ratio is not None and ratio <= limit,
        ratio,
        note,
        [x * scale for x in cand],
        [x * scale for x in base],
    )


def failed_row(figure: str, target: str, error: BaseException) -> Row:
    """A row for a figure that could not be measured."""
    return Row(figure, None, None, "", target, False, note=f"not measured: {error}")


# --- 1. and 2.: token and status ---------------------------------------------------------------


def command_against_python(
    settings: Settings,
    figure: str,
    limit: float,
    argv: Sequence[str],
    env: dict[str, str],
    check: Callable[[str], None],
) -> list[Row]:
    """``argv`` against ``python -c pass``, alternating: the wall-clock ratio, with the CPU ratio
    in the note. ``check(stdout)`` raises BenchError when the command printed the wrong thing."""
    cpu: dict[str, list[float]] = {"candidate": [], "baseline": []}

    def candidate() -> float:
        timed = run_timed(argv, env)
        check(timed.stdout)
        cpu["candidate"].append(timed.cpu)
        return timed.wall

    def baseline() -> float:
        timed = run_timed(baseline_command(), env)
        cpu["baseline"].append(timed.cpu)
        return timed.wall

    try:
        cand, base = alternate(candidate, baseline, settings)
    except BenchError as exc:
        return [failed_row(figure, f"≤ {limit:.2f}×", exc)]
    cpu_cand = statistics.median(cpu["candidate"][-settings.runs :]) * 1000
    cpu_base = statistics.median(cpu["baseline"][-settings.runs :]) * 1000
    note = f"CPU (user+sys) {cpu_cand:.1f} ms vs {cpu_base:.1f} ms = {cpu_cand / cpu_base:.2f}×"
    return [ratio_row(figure, cand, base, unit="ms", limit=limit, scale=1000.0, note=note)]


def bench_cli(settings: Settings, workdir: Path, which: str, store: str = "oauth.json") -> list[Row]:
    """``pi-tui token anthropic`` or ``pi-tui status --json`` against ``python -c pass``.

    ``store``: the file the login is in, ``oauth.json`` (older pi) or ``auth.json`` (pi 0.27+,
    pi's lock, api_key entries); the figure names it unless it is oauth.json (the first figures).
    """
    agent = workdir / f"agent-{which}-{store}"
    doc = both_providers_doc()
    write_store(agent, doc, store)
    env = clean_env(_OFFLINE_ENV)
    command, _ = pi_tui_command()
    on = "" if store == "oauth.json" else f", {store}"
    if which == "token":
        argv = [*command, "token", "anthropic", "--agent-dir", str(agent)]
        figure, limit = f"1{'b' if on else ''}. token anthropic (valid{on})", 1.75
    else:
        argv = [*command, "status", "--json", "--agent-dir", str(agent)]
        figure, limit = f"2{'b' if on else ''}. status --json (both stored{on})", 2.5
    expected = doc["anthropic"]["access"]

    def check(stdout: str) -> None:
        if which == "token" and stdout.strip() != expected:
            raise BenchError("pi-tui token printed something other than the stored token")
        if which == "status" and len(json.loads(stdout)["providers"]) < 2:
            raise BenchError("pi-tui status --json did not list both providers")

    return command_against_python(settings, figure, limit, argv, env, check)


# --- 3. and 4.: first frame and peak memory in a pseudo-terminal -------------------------------


@dataclass(frozen=True)
class FrameSample:
    """One run in a pseudo-terminal: seconds to the marker, peak RSS in KiB."""

    first_frame_s: float
    max_rss_kib: int


def run_in_pty(
    argv: Sequence[str], env: dict[str, str], marker: str, idle_s: float, cols: int = 80, rows: int = 24
) -> FrameSample:
    """Start ``argv`` in an 80×24 pty, time it until ``marker`` is drawn, idle, read peak RSS, kill."""
    import fcntl
    import pty
    import struct
    import termios

    wanted = marker.encode()
    winsize = struct.pack("HHHH", rows, cols, 0, 0)
    start = time.perf_counter()
    pid, master = pty.fork()
    if pid == 0:  # the child: size the terminal before the app asks for it
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, winsize)
            os.execve(argv[0], list(argv), env)
        finally:
            os._exit(127)
    output = bytearray()
    found_at: float | None = None
    try:
        deadline = start + FRAME_TIMEOUT_S
        while found_at is None:
            chunk = _read_pty(master, deadline)
            if chunk is None:
                tail = _ANSI.sub(b"", bytes(output[-3000:])).decode(errors="replace")
                raise BenchError(f"{marker!r} never appeared from {argv[-1]}; last output: {tail[-600:]!r}")
            output += chunk
            if wanted in output or wanted in _ANSI.sub(b"", bytes(output)):
                found_at = time.perf_counter()
        idle_until = time.monotonic() + idle_s
        while time.monotonic() < idle_until:  # keep draining so the app never blocks on output
            if _read_pty(master, time.perf_counter() + max(0.0, idle_until - time.monotonic())) is None:
                break
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, _, usage = os.wait4(pid, 0)
        os.close(master)
    rss = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
    return FrameSample(found_at - start, rss)


def _read_pty(master: int, deadline: float) -> bytes | None:
    """The next chunk from the pty; None at EOF or when ``deadline`` (perf_counter) passes."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([master], [], [], remaining)
        if not ready:
            return None
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return None
        if chunk:
            return chunk
        return None


def bench_frame(settings: Settings, workdir: Path) -> list[Row]:
    """Time to first frame and peak memory: ``pi-tui`` on its status panel vs the bare app.

    ``bench/floor_app.py`` (the same screen in plain Textual) runs in the same rotation, with the
    same idle: the note under figure 3 says how much of the gap Textual itself needs.

    Figures 3b and 3c, in the same rotation: the five providers that read usage logged in
    (``agent-five-*``), every usage request going to a :class:`SilentServer` that never answers.
    3b with nothing cached (removed before each run: the panel asks all five after its first
    frame), 3c with a fresh answer cached for each (the panel asks no one).
    """
    agent = workdir / "agent-frame"
    write_store(agent, both_providers_doc())
    logs = workdir / "logs"
    env = clean_env({**_OFFLINE_ENV, "TERM": "xterm-256color", "PI_TUI_LOG_DIR": str(logs)})
    env.pop("NO_COLOR", None)
    command, _ = pi_tui_command()
    app_argv = [*command, "--agent-dir", str(agent)]
    bare_argv = [sys.executable, str(BENCH / "bare_app.py")]
    floor_argv = [sys.executable, str(BENCH / "floor_app.py")]
    rss: dict[str, list[float]] = {"app": [], "bare": []}
    silent = {"cold": SilentServer(), "cached": SilentServer()}
    five: dict[str, tuple[list[str], dict[str, str]]] = {}
    doc = five_providers_doc()
    for which, server in silent.items():
        five_agent = workdir / f"agent-five-{which}"
        store_path = write_store(five_agent, doc, "auth.json")
        five_env = {**env, **usage_env(server.url)}
        five[which] = ([*command, "--agent-dir", str(five_agent)], five_env)
        forget = cache_usage(store_path, five_env, doc)
        if which == "cold":
            forget_cold = forget

    def measure(
        which: str, argv: list[str], marker: str, idle_s: float, run_env: dict[str, str] = env
    ) -> Callable[[], float]:
        def run() -> float:
            if which == "five-cold":
                forget_cold()  # the last run's panel may have cached an answer (or a failure)
            sample = run_in_pty(argv, run_env, marker, idle_s)
            rss.setdefault(which, []).append(sample.max_rss_kib / 1024)
            return sample.first_frame_s

        return run

    try:
        cand, base, floor, cold, cached = rotate(
            [
                measure("app", app_argv, APP_MARKER, settings.idle_s),
                measure("bare", bare_argv, BARE_MARKER, settings.idle_s),
                # The same idle as the others: run at once after a run that idled, a program
                # started measurably slower here (floor 1.48× bare with no idle, 1.03× with it).
                measure("floor", floor_argv, APP_MARKER, settings.idle_s),
                measure("five-cold", *five["cold"][:1], APP_MARKER, settings.idle_s, five["cold"][1]),
                measure("five-cached", *five["cached"][:1], APP_MARKER, settings.idle_s, five["cached"][1]),
            ],
            settings,
        )
    except BenchError as exc:
        return [
            failed_row("3. first frame of pi-tui (pty 80×24)", "≤ 1.15×", exc),
            failed_row("3b. first frame, 5 logged in, usage not cached", "≤ 1.15×", exc),
            failed_row("3c. first frame, 5 logged in, usage cached", "≤ 1.15×", exc),
            failed_row("4. peak memory, idle on status", "≤ 1.20×", exc),
        ]
    finally:
        asked = {which: server.connections for which, server in silent.items()}
        for server in silent.values():
            server.close()
    total_runs = settings.runs + settings.warmup
    five_rows = _five_rows(cand, base, cold, cached, asked, total_runs)
    value, bare, textual = (statistics.median(x) * 1000 for x in (cand, base, floor))
    note = (
        f"marker {APP_MARKER!r}; plain Textual with the same widgets (bench/floor_app.py): "
        f"{textual:.1f} ms = {textual / bare:.2f}× bare, so pi-tui's own share is {value - textual:.1f} ms; "
        # Other load only ever adds time: the fastest runs show each program's own cost.
        f"fastest runs: {min(cand) * 1000:.1f} vs {min(base) * 1000:.1f} ms = {min(cand) / min(base):.2f}×"
    )
    measured = settings.runs
    return [
        ratio_row(
            "3. first frame of pi-tui (pty 80×24)", cand, base, unit="ms", limit=1.15, scale=1000.0, note=note
        ),
        *five_rows,
        ratio_row(
            "4. peak memory, idle on status",
            rss["app"][-measured:],
            rss["bare"][-measured:],
            unit="MiB",
            limit=1.2,
            note=f"max RSS after {settings.idle_s:g} s idle",
        ),
    ]


def _five_rows(
    two: list[float],
    bare: list[float],
    cold: list[float],
    cached: list[float],
    asked: dict[str, int],
    total_runs: int,
) -> list[Row]:
    """Figures 3b and 3c against the bare app, with their ratios to figure 3 and to each other.

    A cached run must ask no one; a run with nothing cached should have asked (its requests hang
    on the silent server while the first frame is timed): the notes count the connections.
    """
    median = {name: statistics.median(x) for name, x in (("two", two), ("cold", cold), ("cached", cached))}
    fastest = min(cold) / min(cached)
    cold_note = (
        f"five providers, nothing cached, every usage request hanging; vs figure 3 (two logged in, "
        f"same rotation): {median['cold'] / median['two']:.2f}×; vs 3c (cached): "
        f"{median['cold'] / median['cached']:.2f}× (fastest runs {fastest:.2f}×); usage "
        f"connections during the runs: {asked['cold']} in {total_runs} (5 a run, after the first frame)"
    )
    cached_note = (
        f"five providers, a fresh answer cached for each; vs figure 3: "
        f"{median['cached'] / median['two']:.2f}×; usage connections: {asked['cached']} (must be 0)"
    )
    rows = [
        ratio_row(
            "3b. first frame, 5 logged in, usage not cached",
            cold,
            bare,
            unit="ms",
            limit=1.15,
            scale=1000.0,
            note=cold_note,
        ),
        ratio_row(
            "3c. first frame, 5 logged in, usage cached",
            cached,
            bare,
            unit="ms",
            limit=1.15,
            scale=1000.0,
            note=cached_note,
        ),
    ]
    if asked["cached"]:
        rows[1].met = False  # the cache was not used: 3c measured something else
    return rows


# --- 5.: 16 KB paste ---------------------------------------------------------------------------


PASTE_FIGURES = {
    "valid": "5a. 16 KB paste, valid → Exchanging…",
    "junk": "5b. 16 KB paste, junk → error shown",
}


def bench_paste(settings: Settings, workdir: Path) -> list[Row]:
    """Run ``bench/paste_probe.py`` (Pilot, in-process) and turn its samples into rows."""
    target = "≤ 50 ms, key handled"
    env = clean_env({"PI_TUI_LOG_DIR": str(workdir / "logs"), "NO_PROXY": "127.0.0.1,localhost"})
    argv = [
        sys.executable,
        str(BENCH / "paste_probe.py"),
        "--runs",
        str(settings.runs),
        "--warmup",
        str(settings.warmup),
        "--agent-dir",
        str(workdir / "agent-paste"),
    ]
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if proc.returncode == 0 and lines else {}
    if not result or result.get("error"):
        error = BenchError(result.get("error") or (proc.stderr or proc.stdout).strip()[-600:])
        return [failed_row(figure, target, error) for figure in PASTE_FIGURES.values()]
    rows = []
    for kind, figure in PASTE_FIGURES.items():
        data = result["kinds"][kind]
        samples = [float(x) for x in data["samples_ms"]]
        handled = data["key_handled"]
        value = statistics.median(samples)
        note = (
            f"shown {statistics.median(data['shown_ms']):.1f} ms, validated "
            f"{statistics.median(data['validated_ms']):.1f} ms (medians); Esc right after: handled "
            f"{sum(handled)}/{len(handled)}, median {statistics.median(data['key_ms']):.0f} ms; "
            f"verdict: {' / '.join(v[:48] for v in data['verdicts'])}"
        )
        met = value <= 50.0 and all(handled)
        rows.append(Row(figure, value, None, "ms", target, met, note=note, samples=samples))
    return rows


# --- 6.: 32 processes refreshing at once -------------------------------------------------------


class FakeServer:
    """``python -m tests.fakes`` in a subprocess, driven over its ``/_control`` endpoints."""

    def __init__(self, latency: float) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes", "--latency", str(latency)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self.close()
            raise BenchError(f"the fake server did not start: {self._proc.stderr.read()[-600:]}")  # type: ignore[union-attr]
        info = json.loads(line)
        self.base: str = info["base"]
        self.env: dict[str, str] = info["env"]
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def control(self, action: str, args: dict[str, Any] | None = None) -> Any:
        """POST ``/_control/<action>`` and return its JSON answer."""
        request = urllib.request.Request(
            f"{self.base}/_control/{action}",
            data=json.dumps(args or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with self._opener.open(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def close(self) -> None:
        """Stop the server."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def bench_refresh(settings: Settings, workdir: Path) -> list[Row]:
    """32 ``pi-tui token anthropic`` at once while due vs one process doing one refresh."""
    figure = f"6. {settings.concurrency}× token while due (100 ms)"
    count_figure = f"6. refresh requests per {settings.concurrency}× round"
    try:
        server = FakeServer(FAKE_LATENCY_S)
    except (BenchError, OSError, ValueError) as exc:
        return [failed_row(figure, "≤ 1.50×", exc), failed_row(count_figure, "= 1", exc)]
    agent = workdir / "agent-refresh"
    env = clean_env({**server.env, "PI_TUI_CALLBACK_PORT": "off", "NO_PROXY": "127.0.0.1,localhost"})
    command, _ = pi_tui_command()
    argv = [*command, "token", "anthropic", "--agent-dir", str(agent)]
    counts: list[int] = []
    cpu: list[float] = []

    def seed_due() -> None:
        tokens = server.control("seed_anthropic")
        write_store(
            agent, {"anthropic": anthropic_entry(tokens["access"], tokens["refresh"], now_ms() - 60_000)}
        )
        server.control("clear")

    def refreshes() -> int:
        return int(server.control("counts")["anthropic.refresh"])

    def single() -> float:
        seed_due()
        timed = run_timed(argv, env)
        if refreshes() != 1:
            raise BenchError("one due `pi-tui token` did not make exactly one refresh request")
        return timed.wall

    def crowd() -> float:
        seed_due()
        cpu_before = children_cpu()
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(settings.concurrency)
        ]
        results = [p.communicate() for p in procs]
        elapsed = time.perf_counter() - start
        cpu.append((children_cpu() - cpu_before) / len(procs))
        failures = [
            err.decode(errors="replace") for p, (_, err) in zip(procs, results, strict=True) if p.returncode
        ]
        if failures:
            raise BenchError(f"{len(failures)} of {len(procs)} processes failed: {failures[0][-400:]}")
        if len({out for out, _ in results}) != 1:
            raise BenchError("the concurrent processes printed different tokens")
        counts.append(refreshes())
        return elapsed

    try:
        cand, base = alternate(crowd, single, settings)
    except (BenchError, OSError) as exc:
        return [failed_row(figure, "≤ 1.50×", exc), failed_row(count_figure, "= 1", exc)]
    finally:
        server.close()
    per_process = statistics.median(cpu[-settings.runs :])
    floor = settings.concurrency * per_process / (os.cpu_count() or 1)
    note = (
        f"baseline: 1 process, 1 refresh; CPU per process in the crowd {per_process * 1000:.0f} ms, "
        f"so {settings.concurrency} processes need ≥ {floor * 1000:.0f} ms on {os.cpu_count()} CPUs"
    )
    wall = ratio_row(figure, cand, base, unit="ms", limit=1.5, scale=1000.0, note=note)
    measured = counts[-settings.runs :]
    exact = all(c == 1 for c in measured)
    count_row = Row(
        count_figure,
        float(max(measured)),
        None,
        "",
        "= 1",
        exact,
        note=f"counts per round: {measured}",
        samples=[float(c) for c in measured],
    )
    return [wall, count_row]


# --- 7.: usage --short, from the cache -----------------------------------------------------------


def bench_usage(settings: Settings, workdir: Path) -> list[Row]:
    """``pi-tui usage --short`` (two providers' answers cached) against ``python -c pass``."""
    figure, limit = "7. usage --short (2 cached)", 1.5
    agent = workdir / "agent-usage"
    store_path = write_store(agent, both_providers_doc(), "auth.json")
    sys.path.insert(0, str(ROOT))
    try:
        from app.providers.base import Usage, UsageWindow
        from app.usage import Record, UsageCache
    finally:
        sys.path.remove(str(ROOT))
    cache = UsageCache(Path(_STATE_DIR[0]) / "usage", store_path)
    now = now_ms()
    answers = {
        "anthropic": Usage(
            (UsageWindow("5h", 61.0, now + HOUR_MS), UsageWindow("7d", 22.0, now + 80 * HOUR_MS))
        ),
        "github-copilot": Usage((UsageWindow("premium", 20.0, now + 300 * HOUR_MS),)),
    }
    for provider_id, usage in answers.items():
        cache.write(provider_id, Record(usage, now, fresh_until=now + HOUR_MS))
    env = clean_env(_OFFLINE_ENV)
    command, _ = pi_tui_command()
    argv = [*command, "usage", "--short", "--agent-dir", str(agent)]

    def check(stdout: str) -> None:
        if "61%/22%" not in stdout or "20%" not in stdout:
            raise BenchError(f"pi-tui usage --short printed {stdout.strip()!r}, not the cached usage")

    return command_against_python(settings, figure, limit, argv, env, check)


# --- output -------------------------------------------------------------------------------------


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every figure."""
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def machine_line(settings: Settings, command_note: str) -> str:
    """Where the numbers come from."""
    return (
        f"machine: nproc={os.cpu_count()}, load {load_average()}, Python {platform.python_version()} "
        f"({sys.executable}), {platform.platform()}; "
        f"runs={settings.runs} (median, alternating, warm-up {settings.warmup}); "
        f"pi-tui = {command_note} (app from {ROOT}); baseline = {sys.executable} -c pass; bytecode cache on"
    )


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:g}"


def format_table(rows: Sequence[Row]) -> str:
    """The results as a Markdown table: figure | value | baseline | ratio | target | met."""
    header = ("figure", "value", "baseline", "ratio", "target", "met")
    cells = [
        (
            row.figure,
            _fmt(row.value, row.unit),
            _fmt(row.baseline, row.unit),
            "—" if row.ratio is None else f"{row.ratio:.2f}×",
            row.target,
            {True: "yes", False: "NO", None: "—"}[row.met],
        )
        for row in rows
    ]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(c) for c in cells]
    notes = [f"  {row.figure}: {row.note}" for row in rows if row.note]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="measured runs per side (default 9; ≥ 5)")
    parser.add_argument("--quick", action="store_true", help="5 runs, 1 warm-up, 0.5 s idle")
    parser.add_argument(
        "--only", default=",".join(GROUPS), help=f"comma-separated groups: {', '.join(GROUPS)}"
    )
    parser.add_argument("--json", metavar="PATH", help="also save the results (with raw samples) here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 5:
        parser.error("--runs must be at least 5 (the median of fewer means little)")
    args.groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(args.groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    """Runs, warm-up and idle time from the command line."""
    runs = args.runs if args.runs is not None else (5 if args.quick else 9)
    return Settings(
        runs=runs,
        warmup=1 if args.quick else 2,
        idle_s=0.5 if args.quick else 1.0,
        concurrency=args.concurrency,
    )


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A private temporary directory for agent dirs and logs."""
    with tempfile.TemporaryDirectory(prefix="pi-tui-bench-") as name:
        path = Path(name)
        path.chmod(0o700)
        _STATE_DIR[:] = [str(path / "state")]
        try:
            yield path
        finally:
            _STATE_DIR.clear()


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table, optionally save JSON; 1 on a miss only with ``--check``."""
    args = parse_args(argv)
    settings = settings_from(args)
    groups = args.groups
    _, command_note = pi_tui_command()
    machine = machine_line(settings, command_note)
    print(machine, flush=True)
    rows: list[Row] = []
    with workdir() as work:
        for group in (g for g in GROUPS if g in groups):
            print(f"measuring {group} …", file=sys.stderr, flush=True)
            if group in ("token", "status"):
                rows += bench_cli(settings, work, group)
                rows += bench_cli(settings, work, group, "auth.json")
            elif group == "frame":
                rows += bench_frame(settings, work)
            elif group == "paste":
                rows += bench_paste(settings, work)
            elif group == "refresh":
                rows += bench_refresh(settings, work)
            elif group == "usage":
                rows += bench_usage(settings, work)
    print(format_table(rows))
    print(f"load average at the end: {load_average()}")
    if args.json:
        doc = {"machine": machine, "settings": asdict(settings), "rows": [asdict(r) for r in rows]}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    missed = [r.figure for r in rows if r.met is False]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
