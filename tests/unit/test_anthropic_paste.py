"""Every accepted and every rejected form of a pasted Anthropic authorization code."""

from __future__ import annotations

import pytest

from app.errors import LoginInputError
from app.flows.auth_code import parse_pasted

STATE = "s7aTe_-0123456789abcdefghijklmnopqrstuvwxyzABC"
CODE = "AbC123_-xyz.~789"


@pytest.mark.parametrize(
    "pasted",
    [
        f"{CODE}#{STATE}",
        f"  {CODE}#{STATE}\n",
        f"\x1b[200~{CODE}#{STATE}\x1b[201~",
        f"[200~{CODE}#{STATE}[201~",
        f"{CODE[:6]}\n{CODE[6:]}#{STATE}",
        f"http://localhost:53692/callback?code={CODE}&state={STATE}",
        f"https://console.anthropic.com/oauth/code/callback?code={CODE}&state={STATE}",
        f"code={CODE}&state={STATE}",
        f"?code={CODE}&state={STATE}",
        f"http://localhost:53692/callback?code={CODE}%23{STATE}",
        CODE,
        f"\u200b{CODE}\u200d",
    ],
)
def test_accepted_paste_forms_yield_the_code(pasted: str) -> None:
    assert parse_pasted(pasted, STATE, provider="Anthropic") == CODE


@pytest.mark.parametrize(
    ("pasted", "phrase"),
    [
        ("", "Nothing was pasted"),
        ("   \n\t ", "Nothing was pasted"),
        ("\x1b[200~\x1b[201~", "Nothing was pasted"),
        (f"{CODE}#wrong-state", "different login attempt"),
        (f"http://localhost:53692/callback?code={CODE}&state=other", "different login attempt"),
        (
            f"http://localhost:53692/callback?error=access_denied&error_description=User+denied&state={STATE}",
            "did not authorize",
        ),
        ("error=access_denied", "access_denied"),
        (f"http://localhost:53692/callback?state={STATE}", "No authorization code"),
        (f"#{STATE}", "No authorization code"),
        ("not a code!", "doesn't look like an authorization code"),
        ("<html>oops</html>", "doesn't look like an authorization code"),
        ("x" * 5000, "doesn't look like an authorization code"),
    ],
)
def test_rejected_paste_forms_explain_what_to_do(pasted: str, phrase: str) -> None:
    with pytest.raises(LoginInputError) as caught:
        parse_pasted(pasted, STATE, provider="Anthropic")
    assert phrase in str(caught.value)


def test_error_description_from_provider_is_shown_without_escapes() -> None:
    url = (
        f"http://localhost/callback?error=access_denied&error_description=%1B%5B31mNope%1B%5B0m&state={STATE}"
    )
    with pytest.raises(LoginInputError) as caught:
        parse_pasted(url, STATE, provider="Anthropic")
    message = str(caught.value)
    assert "Nope" in message
    assert "\x1b" not in message
