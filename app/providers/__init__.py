"""The provider registry: ids (pi's), names, login methods, questions, and each one's module.

Light on purpose: ``pi-tui token`` and ``pi-tui status`` read it without importing any HTTP
code. Adding a provider is one module in this package plus one entry in :data:`PROVIDERS` (and
its name in :mod:`app.providers.checked`, where mypy holds it to the contract).
:func:`registry` adds the custom Radius gateways pi's ``models.json`` declares (each under its
own id, run by the radius module with its gateway in :attr:`ProviderInfo.env`).

A provider module (``app/providers/<id>.py``) offers:

- ``endpoints(env) -> Any``: its URLs with its ``PI_TUI_*`` overrides applied (ConfigError on a bad one);
- ``check_answer(question_id, text) -> str``: the cleaned answer, or LoginInputError (only with questions);
- ``login(method_id, endpoints, answers) -> AuthCodeSpec | DeviceSpec``: the flow to run;
- ``async refresh(client, endpoints, entry, *, now_ms) -> entry``: RefreshError(revoked=…) on refusal;
- ``async test(client, endpoints, entry) -> CallResult``: one real, minimal API call; a sentence
  and the answer's headers;
- optionally ``usage(...)`` and ``usage_from_headers(headers) -> Usage | None`` (subscription
  usage, the latter from a test answer's rate-limit headers); see :mod:`app.providers.base`;
- ``auth_headers(endpoints, entry) -> dict[str, str]``: the headers a request with this credential needs;
- ``api_base(endpoints, entry) -> str``: where its API requests go;
- optionally ``check_options(options) -> dict`` and ``request_headers(path, options) -> dict[str, str]``:
  per-request extras for :class:`app.auth.PiAuth` (e.g. chat headers).
- ``status_rows(endpoints, entry) -> list[tuple[str, str]]``: extra label/value rows for the panel.
- optionally ``offers(env, answers) -> list[tuple[str, str]]`` (``(id, label)``, reading only) and
  ``async use_offer(client, endpoints, offer_id, env, *, now_ms) -> (entry, details)``: logins
  found on this machine (a token another client saved), offered as methods of kind
  :data:`OFFER` and used only when chosen; ``use_offer`` checks it with the server first.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping

from app.errors import ConfigError
from app.records import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see app.records)
if TYPE_CHECKING:
    from typing import Any

    from app.providers.base import Provider

AUTH_CODE = "auth_code"
DEVICE = "device"
OFFER = "offer"  # a login found on this machine, used only when the user chooses it


# NamedTuples rather than dataclasses: importing dataclasses costs ~8 ms, and this module is
# on the `pi-tui token` path.
class Method(NamedTuple):
    """One way to log in: its id, its label in the method choice, its flow kind.

    ``headless``: the one to prefer over SSH or without a GUI browser.
    """

    id: str
    label: str
    kind: str
    headless: bool = False


class Question(NamedTuple):
    """Something a provider asks before its login (the module's ``check_answer`` judges the answer)."""

    id: str
    prompt: str
    placeholder: str = ""


class ProviderInfo(NamedTuple):
    """What the rest of the app needs to know about a provider without loading it."""

    id: str
    name: str
    module: str
    methods: tuple[Method, ...]
    # Environment variables that can stand in for a stored login, in resolution order.
    env_vars: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()
    # Those of env_vars that hold an API key rather than an OAuth token (sent differently);
    # a provider with one also takes pi's stored API key entry (`pi-tui login ID --api-key`).
    api_key_vars: tuple[str, ...] = ()
    # The environment its module runs with, over the user's (a custom gateway's address).
    env: tuple[tuple[str, str], ...] = ()
    # A word for one-line summaries (``pi-tui usage --short``); the id when empty.
    short: str = ""

    def method(self, method_id: str) -> Method:
        """The method with this id, or a ConfigError listing this provider's methods."""
        for method in self.methods:
            if method.id == method_id:
                return method
        known = ", ".join(m.id for m in self.methods)
        raise ConfigError(f"{self.name} has no login method {method_id!r}; choose one of: {known}.")


RADIUS_METHODS = (
    Method("browser", "Sign in with browser", AUTH_CODE),
    Method("device_code", "Device code (another device, SSH)", DEVICE, headless=True),
)
RADIUS_MODULE = "app.providers.radius"
RADIUS_KEY = ("RADIUS_API_KEY",)

PROVIDERS: dict[str, ProviderInfo] = {
    "anthropic": ProviderInfo(
        "anthropic",
        "Anthropic (Claude Pro/Max)",
        "app.providers.anthropic",
        (
            Method("browser", "Browser on this machine", AUTH_CODE),
            Method("copy_code", "Copy code (another machine, SSH)", AUTH_CODE, headless=True),
        ),
        env_vars=("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY"),
        api_key_vars=("ANTHROPIC_API_KEY",),
        short="claude",
    ),
    "github-copilot": ProviderInfo(
        "github-copilot",
        "GitHub Copilot",
        "app.providers.github_copilot",
        (Method("device", "Device code", DEVICE),),
        questions=(Question("host", "GitHub Enterprise URL/domain (blank for github.com):", "github.com"),),
        short="copilot",
    ),
    "openai": ProviderInfo(
        "openai",
        "OpenAI API (ChatGPT subscription)",
        "app.providers.openai",
        (Method("browser", "Sign in with ChatGPT (browser)", AUTH_CODE),),
        env_vars=("OPENAI_API_KEY",),
        api_key_vars=("OPENAI_API_KEY",),
    ),
    "openai-codex": ProviderInfo(
        "openai-codex",
        "OpenAI (ChatGPT Plus/Pro)",
        "app.providers.openai_codex",
        (
            Method("browser", "Browser", AUTH_CODE),
            Method("device_code", "Device code (another machine, SSH)", DEVICE, headless=True),
        ),
        short="codex",
    ),
    "xai": ProviderInfo(
        "xai",
        "xAI (Grok/X subscription)",
        "app.providers.xai",
        (Method("device", "Sign in with SuperGrok or X Premium", DEVICE),),
        short="grok",
    ),
    "kimi-coding": ProviderInfo(
        "kimi-coding",
        "Kimi Code (subscription)",
        "app.providers.kimi_coding",
        (Method("device", "Sign in with Kimi Code", DEVICE),),
        short="kimi",
    ),
    "openrouter": ProviderInfo(
        "openrouter",
        "OpenRouter OAuth",
        "app.providers.openrouter",
        (Method("browser", "Browser", AUTH_CODE),),
    ),
    "meta": ProviderInfo(
        "meta",
        "Meta (Muse subscription)",
        "app.providers.meta",
        (Method("device", "Sign in with Meta", DEVICE),),
    ),
    "radius": ProviderInfo(
        "radius", "Radius", RADIUS_MODULE, RADIUS_METHODS, env_vars=RADIUS_KEY, api_key_vars=RADIUS_KEY
    ),
}


# Keys older pi-tui wrote into pi's entries (pi's own entries never carry them), and that a
# login's entry carries until the service moves them to pi-tui's state file.
ACCOUNT_KEYS = ("email", "login")


def bearer(endpoints: object, entry: Mapping[str, Any]) -> dict[str, str]:
    """The ``auth_headers`` of a provider that takes its token, or a stored API key, as Bearer."""
    secret = entry["key"] if entry.get("type") == "api_key" else entry["access"]
    return {"Authorization": f"Bearer {secret}"}


def stored_account(entry: Mapping[str, Any]) -> str | None:
    """The account an entry names by pi-tui's account keys: its email, or ``@login``."""
    if isinstance(entry.get("email"), str):
        return str(entry["email"])
    return f"@{entry['login']}" if isinstance(entry.get("login"), str) else None


def provider(provider_id: str, agent_dir: str | os.PathLike[str] | None = None) -> ProviderInfo:
    """The provider with this id, or a ConfigError listing the known ones.

    Custom Radius gateways are those of ``agent_dir``'s ``models.json``. Without ``agent_dir``
    a built-in id is the built-in login, and another is looked up in the agent directories this
    process has read (:func:`registry`, the latest first), then in the default one.
    """
    if agent_dir is not None:
        known = registry(agent_dir)
    elif provider_id in PROVIDERS:
        return PROVIDERS[provider_id]
    else:
        for _, found, _ in reversed(list(_CUSTOM.values())):
            if provider_id in found:
                return found[provider_id]
        known = registry()
    try:
        return known[provider_id]
    except KeyError:
        raise ConfigError(f"Unknown provider {provider_id!r}; choose one of: {', '.join(known)}.") from None


def load(provider_id: str) -> Provider:
    """Import the provider's module (it satisfies :class:`app.providers.base.Provider`)."""
    from typing import cast  # the module about to load imports typing too

    return cast("Provider", importlib.import_module(provider(provider_id).module))


# models.json path -> (its stamp, the registry it gives, the sentence when it is damaged)
_CUSTOM: dict[str, tuple[tuple[int, int], dict[str, ProviderInfo], str | None]] = {}
MODELS_JSON = "models.json"


def registry(
    agent_dir: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, ProviderInfo]:
    """Every provider for this agent directory: :data:`PROVIDERS`, then its custom Radius gateways."""
    return _load_custom(agent_dir, env)[1]


def registry_problem(
    agent_dir: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> str | None:
    """The sentence for a damaged ``models.json`` (its gateways are then not listed), or None."""
    return _load_custom(agent_dir, env)[2]


def _load_custom(
    agent_dir: str | os.PathLike[str] | None, env: Mapping[str, str] | None
) -> tuple[tuple[int, int], dict[str, ProviderInfo], str | None]:
    from app.paths import agent_dir as default_dir

    path = os.path.join(default_dir(agent_dir, env), MODELS_JSON)
    try:
        st = os.stat(path)
    except OSError:
        _CUSTOM.pop(path, None)
        return (0, 0), PROVIDERS, None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _CUSTOM.get(path)
    if cached is None or cached[0] != stamp:
        found, problem = _read_custom(path)
        cached = (stamp, {**PROVIDERS, **found}, problem)
        _CUSTOM.pop(path, None)
        _CUSTOM[path] = cached  # the most recently read last: provider() looks there first
    return cached


def _read_custom(path: str) -> tuple[dict[str, ProviderInfo], str | None]:
    """The gateways ``models.json`` declares, as pi reads them: a ``baseUrl``, and an ``oauth`` that
    names the built-in login the radius module runs."""
    import json

    from app.sanitize import for_display

    damaged = f"{path} could not be read as pi's models.json, so its custom Radius gateways are not listed"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            doc = json.loads(file.read(4 * 1024 * 1024).removeprefix(b"\xef\xbb\xbf") or b"{}")
    except OSError as exc:
        return {}, f"{damaged} ({exc.strerror or type(exc).__name__})."
    except (ValueError, RecursionError):
        return {}, f"{damaged} (it is not valid JSON)."
    declared = doc.get("providers") if isinstance(doc, dict) else None
    if not isinstance(declared, dict):
        return {}, None if isinstance(doc, dict) else f"{damaged} (it is not a JSON object)."
    import re

    from app.endpoints import check_url

    found, problem = {}, None
    gateway_logins = [info.id for info in PROVIDERS.values() if info.module == RADIUS_MODULE]
    for provider_id, config in declared.items():
        if not isinstance(config, dict) or config.get("oauth") not in gateway_logins:
            continue
        base = config.get("baseUrl")
        if not isinstance(base, str) or not base or not provider_id.isprintable() or " " in provider_id:
            continue
        if provider_id in PROVIDERS and PROVIDERS[provider_id].module != RADIUS_MODULE:
            continue  # a built-in login keeps its own flow
        gateway = re.sub(r"/v1/?$", "", base.strip())
        gateway = (
            gateway if re.match(r"https?://", gateway, re.IGNORECASE) else f"https://{gateway}"
        ).rstrip("/")
        try:
            check_url("baseUrl", gateway)
        except ConfigError:
            shown = for_display(provider_id, limit=40)
            problem = problem or (
                f"{path}: the gateway of {shown} is not an https:// address (http:// only to this "
                "machine), so pi-tui does not list it."
            )
            continue
        raw_name = config.get("name")
        name = for_display(raw_name if isinstance(raw_name, str) and raw_name else provider_id, limit=80)
        found[provider_id] = ProviderInfo(
            provider_id,
            name,
            RADIUS_MODULE,
            RADIUS_METHODS,
            env_vars=RADIUS_KEY,
            api_key_vars=RADIUS_KEY,
            env=(("PI_TUI_RADIUS_URL", gateway), ("PI_TUI_RADIUS_NAME", name)),
        )
    return found, problem


def login_hint(info: ProviderInfo) -> str:
    """The sentence for "no credential": how to log in, and which variables would also do."""
    extra = f" (or set {' or '.join(info.env_vars)})" if info.env_vars else ""
    return f"Not logged in to {info.name}. Run `pi-tui login {info.id}`{extra}."


def headless(env: Mapping[str, str] | None = None) -> bool:
    """True over SSH, or with neither a GUI session nor a ``$BROWSER``: no browser will open here."""
    env = os.environ if env is None else env
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return True
    if env.get("BROWSER"):
        return False
    gui = sys.platform in ("darwin", "win32") or bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return not gui


def default_method(info: ProviderInfo, env: Mapping[str, str] | None = None) -> Method:
    """The method to pre-select: the headless one where no browser will open, else the first other."""
    want_headless = headless(env)
    for method in info.methods:
        if method.headless == want_headless:
            return method
    return info.methods[0]
