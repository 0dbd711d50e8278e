"""The requests of a provider with an OpenAI-compatible API: one base, ``endpoints.api`` (where a
``PI_TUI_*`` override may move it), the token (or a stored API key) as Bearer, and the model list
at ``{api}/models`` as the test call. OpenAI's, xAI's and Kimi Code's take their request hooks
from one :class:`OpenAICompatibleApi`::

    API = OpenAICompatibleApi(WHAT, API_URL)
    auth_headers, api_base, status_rows, test = bearer, API.api_base, API.status_rows, API.test

Light at import, like the provider modules (``pi-tui status`` reads ``status_rows``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from app.http import models_sentence
from app.providers import bearer
from app.providers.base import CallResult

if TYPE_CHECKING:
    import httpx


class OpenAICompatibleApi(NamedTuple):
    """``what`` names the server in sentences; ``default`` is the API base without an override."""

    what: str
    default: str

    def api_base(self, endpoints: Any, entry: Mapping[str, Any]) -> str:
        """Where API requests go: ``endpoints.api``."""
        return str(endpoints.api)

    def status_rows(self, endpoints: Any, entry: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The API base, when an override moved it."""
        return [] if endpoints.api == self.default else [("API base", endpoints.api)]

    async def test(
        self, client: httpx.AsyncClient, endpoints: Any, entry: dict[str, Any], **options: Any
    ) -> CallResult:
        """One real request: ``GET {api}/models``; e.g. "OK: 12 models available.". ``options``
        are :func:`app.http.authorized_answer`'s (a module's own ``deadline``)."""
        url = f"{endpoints.api}/models"
        headers = bearer(endpoints, entry)
        return CallResult(await models_sentence(client, url, what=self.what, headers=headers, **options))
