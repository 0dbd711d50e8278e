"""Steps several providers share word for word; this module names no provider.

Light at import like the provider modules: httpx is only reached through :mod:`app.http`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.errors import DeviceFlowError
from app.http import DEADLINE_SECONDS, oauth_error, request_json
from app.sanitize import for_display

if TYPE_CHECKING:
    import httpx


async def start_device_login(
    client: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    data: Mapping[str, str],
    deadline: float = DEADLINE_SECONDS,
) -> tuple[dict[str, Any], str]:
    """POST an RFC 8628 device authorization request: ``(the answer, its device code)``.

    DeviceFlowError "{what} refused to start the login (…)" on an OAuth error or an error
    status, "{what}'s answer had no device code" when the code is missing or unprintable.
    """
    response = await request_json(
        client,
        "POST",
        url,
        what=what,
        deadline=deadline,
        data=dict(data),
        headers={"Accept": "application/json"},
    )
    error, description = oauth_error(response.data)
    if error or response.status >= 400:
        detail = for_display(description or error or f"HTTP {response.status}", limit=200)
        raise DeviceFlowError(f"{what} refused to start the login ({detail}). Try again later.")
    answer = response.data if isinstance(response.data, dict) else {}
    device_code = answer.get("device_code")
    if not isinstance(device_code, str) or not device_code or not device_code.isprintable():
        raise DeviceFlowError(f"{what}'s answer had no device code; start again.")
    return answer, device_code
