"""The contract suite's one table: how each provider differs, as far as the suite cares.

A new provider is covered by adding its :class:`Case` to :data:`CASES` (and its fake config to
``tests/fakes/providers``); ``test_registry_fake_and_cases_agree`` fails until both exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.providers import github_copilot
from tests.fakes.server import FakeProviders

# How a login is completed against the fake:
CALLBACK = "callback"  # the "browser" follows the authorize redirect to pi-tui's loopback listener
PASTE_URL = "paste"  # the user pastes the redirect URL the browser ended on
PASTE_CODE = "code"  # the user pastes ``code#state`` from the provider's page (no listener)
DEVICE = "device"  # the device code is approved in the fake while pi-tui polls

# What a refresh does:
RENEW = "renew"  # a new access token from the refresh token
NOTHING = "nothing"  # the credential never expires: nothing to refresh, no request
REMINT = "remint"  # a new key minted with the stored identity token, which is kept

# A refresh answer without a refresh token (rotating providers):
KEEP = "keep"  # the old refresh token is kept and stays usable
REQUIRE = "require"  # refused with a sentence; the stored login is left as it was

Revoke = Callable[[FakeProviders, dict[str, Any]], None]
# Puts a credential another client saved under ``home``; returns the environment that finds it.
Offer = Callable[[FakeProviders, Path], dict[str, str]]


def revoke_refresh(provider_id: str) -> Revoke:
    """The provider's fake stops accepting the stored refresh token (and its access token)."""

    def revoke(fake: FakeProviders, entry: dict[str, Any]) -> None:
        fake.provider(provider_id).revoke(entry["refresh"])

    return revoke


def copilot_apps_json(fake: FakeProviders, home: Path) -> dict[str, str]:
    """A Copilot client's ``~/.config/github-copilot/apps.json`` with a live GitHub token of pi's app."""
    token = fake.github.seed_login("octocat")
    directory = home / ".config" / "github-copilot"
    directory.mkdir(parents=True)
    app = github_copilot.CLIENT_ID
    doc = {f"github.com:{app}": {"user": "octocat", "oauth_token": token, "githubAppId": app}}
    (directory / "apps.json").write_text(json.dumps(doc))
    return {"HOME": str(home)}


@dataclass(frozen=True)
class Case:
    """One provider's contract configuration.

    ``logins``: (method id, how it is completed) pairs, every method at least once.
    ``refresh``/``refresh_endpoint``: what a refresh does and the fake endpoint it calls.
    ``rotates``: the refresh token changes on refresh (the old one is refused from then on).
    ``revoke``: makes the stored login's renewal refused (None: nothing can be refused).
    ``fields``: what the stored entry must hold beyond ``type``/``access``/``refresh``/``expires``.
    ``secrets``: entry fields whose values must never be shown unmasked.
    ``token_field``: the field of the provider's token answer that carries the credential.
    ``missing_refresh``: what a rotating provider's refresh answer without a refresh token does.
    ``offer``: sets up a credential another client saved, which the login offers to reuse.
    ``usage_windows``: the windows the fake's usage answer gives (None: "usage not available");
    ``usage_endpoint``: the fake endpoint a usage fetch calls (counted by the cache tests).
    ``device_errors``: the HTTP status of a device poll's error answer in RFC 8628's form
    (``{"error": "slow_down", "interval": …}``); None: the device API answers otherwise.
    ``clamps_interval``: an advertised poll interval that is not a positive number means 5 s,
    one over 60 s means 60 s; False: the provider has its own rule (tested with the provider).
    """

    provider: str
    logins: tuple[tuple[str, str], ...]
    refresh: str = RENEW
    refresh_endpoint: str | None = None
    rotates: bool = True
    revoke: Revoke | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ("access", "refresh")
    token_field: str = "access_token"
    missing_refresh: str = KEEP
    offer: Offer | None = None
    usage_windows: tuple[str, ...] | None = None
    usage_endpoint: str | None = None
    device_errors: int | None = 400
    clamps_interval: bool = True


CASES: dict[str, Case] = {
    case.provider: case
    for case in (
        Case(
            "anthropic",
            (("browser", CALLBACK), ("browser", PASTE_URL), ("copy_code", PASTE_CODE)),
            refresh_endpoint="anthropic.refresh",
            revoke=revoke_refresh("anthropic"),
            usage_windows=("5h", "7d"),
            usage_endpoint="anthropic.usage",
        ),
        Case(
            "github-copilot",
            (("device", DEVICE),),
            # "refresh" trades the GitHub token (kept, never rotated) for a new Copilot token.
            refresh_endpoint="github.copilot_token",
            rotates=False,
            revoke=revoke_refresh("github-copilot"),
            answers={"host": ""},
            offer=copilot_apps_json,
            usage_windows=("premium",),
            usage_endpoint="github.usage",
            device_errors=200,  # GitHub answers a poll's error with 200
        ),
        Case(
            "openai-codex",
            (("browser", CALLBACK), ("browser", PASTE_URL), ("device_code", DEVICE)),
            refresh_endpoint="codex.refresh",
            missing_refresh=REQUIRE,
            revoke=revoke_refresh("openai-codex"),
            fields=("accountId",),
            usage_windows=("5h", "7d"),
            usage_endpoint="codex.usage",
            # Its device API: errors as {"error": {"code": …}}; an interval that is not a number
            # is refused (pi's rule).
            device_errors=None,
            clamps_interval=False,
        ),
        Case(
            "xai",
            (("device", DEVICE),),
            refresh_endpoint="xai.refresh",
            revoke=revoke_refresh("xai"),
        ),
        Case(
            "kimi-coding",
            (("device", DEVICE),),
            refresh_endpoint="kimi.refresh",
            missing_refresh=REQUIRE,
            revoke=revoke_refresh("kimi-coding"),
            usage_windows=("5h", "week"),
            usage_endpoint="kimi.usage",
        ),
        Case(
            # A key that never expires: no refresh token, nothing to refresh or revoke.
            "openrouter",
            (("browser", CALLBACK), ("browser", PASTE_URL)),
            refresh=NOTHING,
            rotates=False,
            secrets=("access",),
            token_field="key",
            usage_windows=(),
            usage_endpoint="openrouter.credits",
        ),
        Case(
            # "refresh" mints a new key with the stored identity token, which is kept.
            "meta",
            (("device", DEVICE),),
            refresh=REMINT,
            refresh_endpoint="meta.mint",
            rotates=False,
            revoke=revoke_refresh("meta"),
        ),
        Case(
            # Sign in with ChatGPT: the client registered for the login is stored and refreshes.
            "openai",
            (("browser", CALLBACK), ("browser", PASTE_URL)),
            refresh_endpoint="chatgpt.refresh",
            missing_refresh=REQUIRE,
            revoke=revoke_refresh("openai"),
            fields=("clientId", "scopes"),
        ),
        Case(
            "radius",
            (("browser", CALLBACK), ("browser", PASTE_URL), ("device_code", DEVICE)),
            refresh_endpoint="radius.refresh",
            missing_refresh=REQUIRE,
            revoke=revoke_refresh("radius"),
            fields=("scope",),
        ),
    )
}
