"""Figure 5 of ``bench/run.py``: a 16 KB bracketed paste into the Anthropic code input.

Runs the real ``PiTuiApp`` in-process with Textual's Pilot (80×24), at the Anthropic login
screen, over an ``AuthService`` that points at the loopback fake providers (no callback
listener). Each run starts a fresh app, waits until the code input takes text, then posts one
16 KB ``events.Paste`` to the app, as the terminal driver would, and times, from that moment:

* shown: the code input renders the start or the end of the pasted code;
* validated: the feedback line renders its verdict ("Exchanging the code…" or an error sentence).

The figure is the later of the two. Renders are seen by wrapping the two widgets'
``render_lines`` (what the compositor calls for every frame, headless too). Then an Escape
key event is posted at once, as the terminal driver would, and must be handled: the app is
back on the status screen within 2 s (its latency is reported too).

Two kinds of paste alternate: ``valid`` (the login's ``code#state`` wrapped over lines of
whitespace up to 16 KB: shown, then "Exchanging the code…"; the fake holds the exchange for
30 s, so Escape arrives while the exchange is running) and ``junk`` (16 KB of code characters
``#state``: shown, then rejected with a sentence).

Prints one JSON line: ``{"kinds": {"valid": {"samples_ms": [...], "key_handled": [...], …},
"junk": {…}}}``, or ``{"error": "…"}`` when the app cannot be driven.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASTE_BYTES = 16 * 1024
WAIT_S = 5.0
KEY_WAIT_S = 2.0
EXCHANGE_HOLD_S = 30.0
KINDS = ("valid", "junk")


def write_store(agent_dir: Path) -> Path:
    """An empty agent dir (0700); the login screen needs no stored login."""
    agent_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    agent_dir.chmod(0o700)
    return agent_dir / "oauth.json"


def make_paste(kind: str, state: str) -> tuple[str, tuple[str, str]]:
    """(the 16 KB pasted text, its cleaned first and last 16 characters) for valid or junk."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    if kind == "valid":
        code = "".join(secrets.choice(alphabet) for _ in range(64))
        lines = [code[i : i + 16] for i in range(0, len(code), 16)] + ["#" + state]
        body = "\n".join(lines)
        text = body + " " * (PASTE_BYTES - len(body) - 1) + "\n"
        return text, (code[:16], state[-16:])
    suffix = "#" + state
    code = "".join(secrets.choice(alphabet) for _ in range(PASTE_BYTES - len(suffix)))
    return code + suffix, (code[:16], state[-16:])


def watch_renders(widget: Any, seen: Callable[[str], bool], marks: dict[str, float], name: str) -> None:
    """Record in ``marks[name]`` when ``widget`` first renders lines that ``seen`` accepts."""
    original = widget.render_lines

    def render_lines(crop: Any) -> Any:
        lines = original(crop)
        if name not in marks and seen("".join(strip.text for strip in lines)):
            marks[name] = time.perf_counter()
        return lines

    widget.render_lines = render_lines


async def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` every millisecond (the app runs meanwhile); False on timeout."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True


async def one_run(service: Any, kind: str) -> dict[str, Any]:
    """One fresh app, one paste, one key; the timings of this run."""
    from textual import events

    from app.opener import Opened
    from app.tui.app import PiTuiApp
    from app.tui.screens.method_choice import MethodChoiceScreen
    from app.tui.screens.status import StatusScreen
    from app.tui.widgets.code_input import CodeInput

    app = PiTuiApp(
        service,
        start="login",
        provider="anthropic",
        clipboard=lambda _text: None,
        opener=lambda _url: Opened(False, "bench: no browser"),
        cursor_blink=False,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        # Anthropic has two methods: the login opens on their choice; Enter takes the default.
        if not await wait_until(lambda: isinstance(app.screen, MethodChoiceScreen), WAIT_S):
            raise RuntimeError("the login did not open on Anthropic's method choice")
        await pilot.pause()
        await pilot.press("enter")

        def ready() -> bool:
            code = app.screen.query(CodeInput)
            return bool(code) and not code.first().disabled and app.focused is code.first()

        if not await wait_until(ready, WAIT_S):
            raise RuntimeError("the code input never became ready on the Anthropic login screen")
        await pilot.pause()
        screen = app.screen
        code = screen.query_one("#code", CodeInput)
        feedback = screen.query_one("#feedback")
        text, (head, tail) = make_paste(kind, screen.login.pkce.state)  # type: ignore[attr-defined]
        marks: dict[str, float] = {}
        # The field shows one window of the value: its start or (scrolled to the cursor) its end.
        watch_renders(code, lambda line: head in line or tail in line, marks, "shown")
        watch_renders(feedback, lambda line: bool(line.strip()), marks, "validated")
        start = time.perf_counter()
        app.post_message(events.Paste(text))
        if not await wait_until(lambda: len(marks) == 2, WAIT_S):
            missing = {"shown", "validated"} - set(marks)
            raise RuntimeError(f"after a {kind} paste, never {' and '.join(sorted(missing))}")
        verdict = str(feedback.render()).strip()
        pressed = time.perf_counter()
        app.post_message(events.Key("escape", "\x1b"))  # as the driver delivers it, no Pilot waits
        handled = await wait_until(lambda: isinstance(app.screen, StatusScreen), KEY_WAIT_S)
        key_ms = (time.perf_counter() - pressed) * 1000
        return {
            "kind": kind,
            "ms": (max(marks.values()) - start) * 1000,
            "shown_ms": (marks["shown"] - start) * 1000,
            "validated_ms": (marks["validated"] - start) * 1000,
            "verdict": verdict[:80],
            "key_handled": handled,
            "key_ms": key_ms,
        }


async def measure(runs: int, warmup: int, agent_dir: Path) -> dict[str, Any]:
    """Warm up, then alternate valid and junk pastes, ``runs`` of each."""
    from app.service import AuthService
    from app.store import CredentialStore
    from tests.fakes.server import FakeProviders

    with FakeProviders() as fake:
        fake.set_latency("anthropic.exchange", EXCHANGE_HOLD_S)
        env = {**os.environ, **fake.env(), "PI_TUI_CALLBACK_PORT": "off"}
        service = AuthService(CredentialStore(write_store(agent_dir)), env=env)
        for _ in range(warmup):
            for kind in KINDS:
                await one_run(service, kind)
        results = [await one_run(service, kind) for _ in range(runs) for kind in KINDS]
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        mine = [r for r in results if r["kind"] == kind]
        kinds[kind] = {
            "samples_ms": [round(r["ms"], 3) for r in mine],
            "shown_ms": [round(r["shown_ms"], 3) for r in mine],
            "validated_ms": [round(r["validated_ms"], 3) for r in mine],
            "key_handled": [r["key_handled"] for r in mine],
            "key_ms": [round(r["key_ms"], 3) for r in mine],
            "verdicts": sorted({r["verdict"] for r in mine}),
        }
    return {"kinds": kinds}


def main(argv: list[str] | None = None) -> int:
    """Measure and print one JSON line (an ``error`` key if the app could not be driven)."""
    parser = argparse.ArgumentParser(prog="bench/paste_probe.py")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--agent-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # tests.fakes (app itself is installed)
    try:
        result = asyncio.run(measure(args.runs, args.warmup, args.agent_dir))
    except ImportError as exc:
        result = {"error": f"the full-screen app cannot be imported yet ({exc})"}
    except RuntimeError as exc:
        result = {"error": str(exc)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
