"""The standard OAuth requests (RFC 6749): the token request, the refresh grant, and what an
error answer means. Knows no provider; a provider configures a :class:`TokenEndpoint` and
passes its quirks as hooks (how to send, how to read the answer), not as copies.

Light at import like the provider modules: httpx is reached only through :mod:`app.http`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from app.errors import AuthError, LoginInputError, NetworkError, RefreshError
from app.http import JsonResponse, oauth_error, request_json
from app.sanitize import for_display
from app.tokens import entry_from_token_response

if TYPE_CHECKING:
    import httpx

Entry = dict[str, Any]
# How to send one token request (default: one POST); a provider that retries passes its own.
Send = Callable[["httpx.AsyncClient", "TokenEndpoint", dict[str, str]], Awaitable[JsonResponse]]
# How an answer becomes the entry to store (default: a standard token response, RFC 6749 §5.1).
ToEntry = Callable[[Any, Entry | None, int], Entry]

ACCEPT_JSON = {"Accept": "application/json"}
REVOKED = "{what} no longer accepts this login (it was revoked or replaced). Log in again to continue."


class TokenEndpoint(NamedTuple):
    """A provider's token endpoint, configured by data.

    ``what`` names the server in sentences; ``client_id`` is sent with every grant (None: the
    caller puts it in the body); ``json_body`` sends JSON instead of a form. ``dead`` are the
    error codes and ``dead_status`` the statuses that mean the refresh token is no longer
    accepted; ``revoked`` is that sentence.
    """

    what: str
    url: str
    client_id: str | None = None
    json_body: bool = False
    dead: frozenset[str] = frozenset({"invalid_grant"})
    dead_status: frozenset[int] = frozenset({401})
    revoked: str = (
        "{what} no longer accepts this login (it was revoked or replaced). Log in again to continue."
    )


class TokenAnswer(NamedTuple):
    """A token endpoint's answer: its body, its error code ("" on success, ``HTTP n`` when the
    server named none) and a printable detail for sentences."""

    data: Any
    error: str
    detail: str
    status: int


async def post(client: httpx.AsyncClient, endpoint: TokenEndpoint, body: dict[str, str]) -> JsonResponse:
    """One POST of ``body`` to the endpoint, as a form or as JSON."""
    payload: dict[str, Any] = {"json": body} if endpoint.json_body else {"data": body}
    return await request_json(
        client, "POST", endpoint.url, what=endpoint.what, headers=ACCEPT_JSON, **payload
    )


async def token_request(
    client: httpx.AsyncClient, endpoint: TokenEndpoint, body: Mapping[str, str], *, send: Send = post
) -> TokenAnswer:
    """POST one grant (``client_id`` added when the endpoint has one) and read the error, if any."""
    full = {**({"client_id": endpoint.client_id} if endpoint.client_id else {}), **body}
    response = await send(client, endpoint, full)
    error, description = oauth_error(response.data)
    if response.status >= 400 and not error:
        error = f"HTTP {response.status}"
    return TokenAnswer(response.data, error, for_display(description or error, limit=200), response.status)


def standard_entry(what: str, **options: Any) -> ToEntry:
    """The default :data:`ToEntry`: a standard token response as pi's entry (``options`` go to
    :func:`app.tokens.entry_from_token_response`: ``keep_refresh``, ``buffer_ms``)."""

    def to_entry(data: Any, previous: Entry | None, now_ms: int) -> Entry:
        return entry_from_token_response(data, what=what, now_ms=now_ms, previous=previous, **options)

    return to_entry


async def refresh_grant(
    client: httpx.AsyncClient,
    endpoint: TokenEndpoint,
    entry: Entry,
    *,
    now_ms: int,
    to_entry: ToEntry | None = None,
    extra: Mapping[str, str] | None = None,
    send: Send = post,
) -> Entry:
    """The refresh grant (RFC 6749 §6): the renewed entry, built over ``entry``.

    RefreshError(revoked=True) when the server no longer accepts the refresh token (the
    endpoint's ``dead`` codes or statuses); RefreshError "… refused the refresh (…)" for any
    other refusal; NetworkError (from :mod:`app.http`) when it could not be asked.
    """
    body = {"grant_type": "refresh_token", "refresh_token": str(entry["refresh"]), **(extra or {})}
    answer = await token_request(client, endpoint, body, send=send)
    if answer.error in endpoint.dead or answer.status in endpoint.dead_status:
        raise RefreshError(endpoint.revoked.format(what=endpoint.what), revoked=True)
    if answer.error:
        raise RefreshError(f"{endpoint.what} refused the refresh ({answer.detail}); try again later.")
    build = to_entry or standard_entry(endpoint.what)
    try:
        return build(answer.data, entry, now_ms)
    except NetworkError:
        raise  # a garbled answer is passing trouble: asking again may work
    except AuthError as exc:  # the answer was refused by the provider's own checks
        raise RefreshError(str(exc)) from None


async def code_grant(
    client: httpx.AsyncClient,
    endpoint: TokenEndpoint,
    body: Mapping[str, str],
    *,
    rejected: str = "{what} rejected that code: it has expired or was already used. "
    "Open the link again and authorize.",
    send: Send = post,
) -> Any:
    """The authorization code grant (RFC 6749 §4.1.3): the answer's body, for the provider to
    make its entry of. Never retried: a code is single-use.

    LoginInputError ``rejected`` on invalid_grant (the same link may still work), AuthError
    "… refused the login (…)" on any other refusal.
    """
    answer = await token_request(client, endpoint, {"grant_type": "authorization_code", **body}, send=send)
    if answer.error == "invalid_grant":
        raise LoginInputError(rejected.format(what=endpoint.what, detail=answer.detail))
    if answer.error:
        raise AuthError(f"{endpoint.what} refused the login ({answer.detail}). Start the login again.")
    return answer.data
