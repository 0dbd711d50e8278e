"""The one login sequence (app.login) behind its two Prompters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.errors import Cancelled, ConfigError
from app.login import LoginDone, LoginRequest, Outcome, run_login
from app.providers import Method, ProviderInfo, Question
from app.service import AuthService, LoginResult
from tests.integration.helpers import HOUR_MS, make_store, now_ms, seed_anthropic
from tests.tui.helpers import seed_fake_anthropic, wait_for_screen, wait_until


class ScriptedPrompter:
    """A Prompter that answers from a script and records every step it was asked."""

    def __init__(
        self, *, decide: str | None = "replace", answer: str = "", method: str | None = None
    ) -> None:
        self.steps: list[str] = []
        self._decide, self._answer, self._method = decide, answer, method

    async def decide(self, question: str, answers: tuple[tuple[str, str], ...]) -> str | None:
        self.steps.append(f"decide: {question} {[a for a, _ in answers]}")
        return self._decide

    async def answer(self, title: str, question: Question, check: Callable[[str], str]) -> str | None:
        self.steps.append(f"answer: {question.id}")
        return check(self._answer)

    async def choose(
        self, info: ProviderInfo, methods: tuple[Method, ...], default: Method, why: str
    ) -> str | None:
        self.steps.append(f"choose: {','.join(m.id for m in methods)} (default {default.id})")
        return self._method or default.id

    async def run_flow(self, request: LoginRequest, other: Method | None) -> Outcome:
        self.steps.append(f"flow: {request.method.id} {dict(request.answers)}")
        result = LoginResult(request.provider_id, "name", Path("auth.json"))
        return LoginDone(result)

    async def notice(self, text: str) -> None:
        self.steps.append(f"notice: {text}")


@pytest.fixture
def service(tmp_path: Path, fake: Any) -> AuthService:
    return AuthService(make_store(tmp_path), env={**fake.env(), "SSH_CONNECTION": "1 2 3 4"})


async def test_a_stored_login_is_asked_about_before_anything_else(service: AuthService, fake: Any) -> None:
    seed_anthropic(
        service.store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS, email="ada@example.com"
    )
    prompter = ScriptedPrompter()
    done = await run_login(service, prompter, "anthropic")
    assert done is not None
    assert prompter.steps == [
        "decide: You are logged in to Anthropic (Claude Pro/Max) as ada@example.com. "
        "Replace that login, or add the new one as another account? ['replace', 'add']",
        "choose: browser,copy_code (default copy_code)",
        "flow: copy_code {}",
    ]


async def test_saying_no_to_replace_keeps_the_login_and_asks_nothing_more(
    service: AuthService, fake: Any
) -> None:
    entry = seed_anthropic(service.store, fake.anthropic.seed_login(), expires=now_ms() + HOUR_MS)
    prompter = ScriptedPrompter(decide=None)
    with pytest.raises(Cancelled, match="existing login was kept"):
        await run_login(service, prompter, "anthropic")
    assert len(prompter.steps) == 1 and service.store.get("anthropic") == entry


async def test_replace_given_asks_nothing_and_questions_come_before_the_method(service: AuthService) -> None:
    prompter = ScriptedPrompter(answer="https://Company.GHE.com/")
    await run_login(service, prompter, "github-copilot", mode="replace")
    assert prompter.steps == ["answer: host", "flow: device {'host': 'company.ghe.com'}"]


async def test_an_unknown_method_is_one_sentence(service: AuthService) -> None:
    with pytest.raises(ConfigError, match="has no login method 'pigeon'; choose one of: browser, copy_code"):
        await run_login(service, ScriptedPrompter(), "anthropic", method_id="pigeon")


async def test_the_app_asks_before_replacing_a_login_and_esc_keeps_it(
    store: Any, service: Any, make_app: Any
) -> None:
    seed_fake_anthropic(store, expires=now_ms() + HOUR_MS)
    before = store.path.read_text()
    app = make_app(AuthService(store, env=service.env))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await wait_for_screen(pilot, "ProviderSelectScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, "ChoiceScreen")
        await pilot.press("escape")
        await wait_for_screen(pilot, "StatusScreen")
        await wait_until(
            pilot, lambda: any("existing login was kept" in str(n.message) for n in app._notifications)
        )
    assert store.path.read_text() == before
