"""PKCE values, the authorize URL, and endpoint overrides."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from app.endpoints import check_overrides
from app.errors import ConfigError
from app.flows.pkce import Pkce, challenge_for
from app.providers import anthropic, github_copilot


def test_pkce_verifier_is_32_random_bytes_base64url_and_challenge_is_s256() -> None:
    pkce = Pkce.generate()
    raw = base64.urlsafe_b64decode(pkce.verifier + "=")
    assert len(raw) == 32 and "=" not in pkce.verifier
    expected = base64.urlsafe_b64encode(hashlib.sha256(pkce.verifier.encode()).digest()).rstrip(b"=")
    assert pkce.challenge == expected.decode()
    assert pkce.state != pkce.verifier
    assert len(base64.urlsafe_b64decode(pkce.state + "=")) == 32


def test_pkce_repr_hides_verifier_and_state() -> None:
    pkce = Pkce.generate()
    assert pkce.verifier not in repr(pkce) and pkce.state not in repr(pkce)


def test_challenge_matches_rfc7636_appendix_b() -> None:
    assert challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_authorize_url_has_every_parameter() -> None:
    endpoints = anthropic.endpoints({})
    url = anthropic.authorize_url(
        endpoints, redirect_uri="http://localhost:53692/callback", challenge="CH", state="ST"
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://claude.ai/oauth/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "code": "true",
        "client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        "response_type": "code",
        "redirect_uri": "http://localhost:53692/callback",
        "scope": anthropic.SCOPES,
        "code_challenge": "CH",
        "code_challenge_method": "S256",
        "state": "ST",
    }


def test_defaults_point_at_the_real_providers() -> None:
    endpoints = anthropic.endpoints({})
    assert endpoints.token == "https://platform.claude.com/v1/oauth/token"
    assert endpoints.api == "https://api.anthropic.com"
    assert endpoints.callback_port == anthropic.CALLBACK_PORT == 53692
    github = github_copilot.endpoints({})
    assert github.github_base("ghe.example.com") == "https://ghe.example.com"
    assert github.github_api_base("github.com") == "https://api.github.com"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://localhost:1/",
        "http://[::1]:9/",
        "http://127.1.2.3",
        "https://proxy.corp",
    ],
)
def test_override_accepts_https_and_loopback_http(url: str) -> None:
    endpoints = anthropic.endpoints({"PI_TUI_ANTHROPIC_TOKEN_URL": url})
    assert endpoints.token == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://example.com/token", "http://10.0.0.1/", "ftp://127.0.0.1/", "not a url", "https://"]
)
def test_override_rejects_plain_http_elsewhere_and_names_the_variable(url: str) -> None:
    for check in (github_copilot.endpoints, check_overrides):
        with pytest.raises(ConfigError) as caught:
            check({"PI_TUI_GITHUB_API_URL": url})
        assert "PI_TUI_GITHUB_API_URL" in str(caught.value)


def test_override_wins_over_derived_github_hosts() -> None:
    endpoints = github_copilot.endpoints({"PI_TUI_GITHUB_URL": "http://127.0.0.1:1/gh"})
    assert endpoints.github_base("ghe.example.com") == "http://127.0.0.1:1/gh"


@pytest.mark.parametrize(
    ("raw", "port"), [("0", 0), ("off", None), ("OFF", None), ("8123", 8123), ("", 53692)]
)
def test_callback_port_values(raw: str, port: int | None) -> None:
    assert anthropic.endpoints({"PI_TUI_CALLBACK_PORT": raw}).callback_port == port


@pytest.mark.parametrize("raw", ["-1", "70000", "abc"])
def test_callback_port_rejects_garbage(raw: str) -> None:
    for check in (anthropic.endpoints, check_overrides):
        with pytest.raises(ConfigError, match="PI_TUI_CALLBACK_PORT"):
            check({"PI_TUI_CALLBACK_PORT": raw})
