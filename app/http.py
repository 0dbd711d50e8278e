"""The one place HTTP requests are made: client factory, deadlines, and error sentences.

Every provider module calls :func:`request_json`, so a timeout, a 5xx, a 429, an HTML page
or an empty body turns into the same kind of :class:`NetworkError` sentence everywhere.
httpx is imported on first use, so a provider module that imports this one stays light
(``pi-tui status`` reads provider rows without the HTTP stack).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from app.errors import AuthError, NetworkError
from app.sanitize import for_display

# asyncio and httpx are imported where used: provider modules import this one, and
# `pi-tui status` (which reads their status rows) must load neither.
from app.version import __version__

if TYPE_CHECKING:
    import logging
    import ssl

    import httpx

# A server that drips bytes never trips the read timeout; this caps the whole request.
DEADLINE_SECONDS = 60.0
# The most of an answer that is read (after decompression). Every answer pi-tui expects is a
# few kilobytes of JSON; an endless body or a gzip bomb stops here, not at the memory's end.
MAX_BODY_BYTES = 1 << 20
# Only what the standard library can decompress a piece at a time (zlib, with a bound).
ACCEPT_ENCODING = "gzip, deflate"
USER_AGENT = f"pi-tui/{__version__}"


def _log() -> logging.Logger:
    import logging  # only when something failed: `pi-tui status` loads this module

    return logging.getLogger("pi_tui.http")


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The process's one SSL context: loading the CA bundle takes tens of milliseconds.

    Built the way httpx builds it for ``trust_env=True``: ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``
    when set (read on the first call), else certifi's bundle.
    """
    import httpx  # `pi-tui status` loads this module: httpx only when a client is made

    return httpx.create_ssl_context(trust_env=True)


async def warm_up() -> None:
    """Build the SSL context in a thread, so the first client does not stall the event loop."""
    import asyncio  # `pi-tui status` loads this module: asyncio only for a request

    await asyncio.to_thread(ssl_context)


def make_client(*, timeout: httpx.Timeout | None = None) -> httpx.AsyncClient:
    """An AsyncClient with explicit timeouts; proxies come from the usual environment variables."""
    import httpx  # `pi-tui status` loads this module: httpx only when a client is made

    if timeout is None:
        timeout = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=10.0)
    return httpx.AsyncClient(
        timeout=timeout, headers={"User-Agent": USER_AGENT}, verify=ssl_context(), trust_env=True
    )


class JsonResponse(NamedTuple):
    """A response whose body parsed as JSON (any status). ``data`` may hold tokens: not in repr."""

    status: int
    data: Any
    headers: Mapping[str, str]

    def __repr__(self) -> str:
        return f"JsonResponse(status={self.status})"


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    deadline: float = DEADLINE_SECONDS,
    limit: int = MAX_BODY_BYTES,
    **kwargs: Any,
) -> JsonResponse:
    """Send one request and parse a JSON body, or raise NetworkError with a sentence.

    ``what`` names the server in messages. 4xx answers with a JSON
    body are returned, not raised: the caller knows what an OAuth error means. 5xx, 429,
    bodies that are not JSON and bodies over ``limit`` bytes (decompressed) are raised here.
    """
    import asyncio  # `pi-tui status` loads this module: asyncio and httpx only for a request

    import httpx

    headers = {"Accept-Encoding": ACCEPT_ENCODING, **dict(kwargs.pop("headers", None) or {})}
    try:
        async with asyncio.timeout(deadline):
            async with client.stream(method, url, headers=headers, **kwargs) as response:
                body = await read_body(response, what=what, limit=limit)
    except TimeoutError:
        raise NetworkError(
            f"{what} did not answer within {deadline:.0f} s. Check your connection and try again."
        ) from None
    except httpx.TimeoutException:
        raise NetworkError(
            f"{what} timed out ({url_host(url)}). Check your connection and try again."
        ) from None
    except httpx.HTTPError as exc:
        # The sentence names only the exception's type; the log keeps what it said.
        _log().info("%s %s: %s: %s", method, url_host(url), type(exc).__name__, exc)
        raise NetworkError(
            f"Could not reach {what} at {url_host(url)} ({type(exc).__name__}). "
            "Check your connection or proxy settings and try again.",
            dropped=isinstance(exc, httpx.TransportError),
        ) from None
    return parse_json_response(response, what=what, body=body)


async def read_body(response: httpx.Response, *, what: str, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body of a streamed response, decompressed, or NetworkError once it passes ``limit``.

    Read a network chunk at a time and decompressed with a bound on each step, so neither a
    body that never ends nor a small gzip bomb (a megabyte that inflates to gigabytes) takes
    more than about ``limit`` bytes of memory.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        if response.is_stream_consumed:  # built with its body (a mock transport): read already
            if len(response.content) > limit:
                raise _TooLarge
            return response.content
        decoder = _Decoder(response.headers.get("content-encoding", ""), what=what, limit=limit)
        async for raw in response.aiter_raw():
            chunks.append(decoder.feed(raw))
            size += len(chunks[-1])
            if size > limit:
                raise _TooLarge
        chunks.append(decoder.finish())
        size += len(chunks[-1])
        if size > limit:
            raise _TooLarge
    except _TooLarge:
        raise NetworkError(
            f"{what}'s answer was larger than {_size(limit)}, far more than pi-tui expects, so it "
            "stopped reading; try again later.",
            status=response.status_code,
        ) from None
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n % (1 << 20) else f"{n >> 10} KiB"


class _TooLarge(Exception):
    """A body (or one decompression step of it) passed the limit."""


class _Stage:
    """One Content-Encoding being undone, and how many bytes it has put out."""

    def __init__(self, decompressor: Any, kind: str) -> None:
        self.decompressor = decompressor
        self.kind = kind
        self.out = 0


class _Decoder:
    """Undoes a Content-Encoding (gzip, deflate, or several in a row) with zlib, never letting a
    step put out more than ``limit`` + 1 bytes: a bomb is noticed before it is inflated."""

    def __init__(self, header: str, *, what: str, limit: int) -> None:
        import zlib  # only when a request is made: `pi-tui status` loads this module

        self._zlib = zlib
        self._what = what
        self._limit = limit
        self._stages: list[_Stage] = []  # the last coding applied is undone first
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        for coding in reversed([c for c in codings if c != "identity"]):
            if coding in ("gzip", "x-gzip"):
                self._stages.append(_Stage(zlib.decompressobj(16 + zlib.MAX_WBITS), "gzip"))
            elif coding == "deflate":
                self._stages.append(_Stage(zlib.decompressobj(), "deflate"))
            else:
                raise NetworkError(
                    f"{what} sent its answer in an encoding pi-tui did not ask for "
                    f"({for_display(coding, limit=40)}); try again later."
                )

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of the next piece of the body; _TooLarge past the limit."""
        for stage in self._stages:
            data = self._step(stage, data)
        return data

    def finish(self) -> bytes:
        """What the decompressors still hold at the end of the body."""
        data = b""
        for stage in self._stages:
            data = self._step(stage, data)
            tail = stage.decompressor.flush()
            stage.out += len(tail)
            if stage.out > self._limit:
                raise _TooLarge
            data += tail
        return data

    def _step(self, stage: _Stage, data: bytes) -> bytes:
        if not data:
            return b""
        zlib = self._zlib
        room = self._limit + 1 - stage.out
        try:
            out = stage.decompressor.decompress(data, room)
        except zlib.error:
            if stage.kind != "deflate" or stage.out:
                raise self._unreadable() from None
            # "deflate" is a zlib stream by the standard, a raw one from some servers.
            stage.decompressor, stage.kind = zlib.decompressobj(-zlib.MAX_WBITS), "raw deflate"
            try:
                out = stage.decompressor.decompress(data, room)
            except zlib.error:
                raise self._unreadable() from None
        stage.out += len(out)
        if stage.out > self._limit or stage.decompressor.unconsumed_tail:
            raise _TooLarge
        return bytes(out)

    def _unreadable(self) -> NetworkError:
        return NetworkError(f"{self._what} sent a compressed answer that cannot be read; try again later.")


def parse_json_response(response: httpx.Response, *, what: str, body: bytes | None = None) -> JsonResponse:
    """Turn an httpx response into a JsonResponse, raising NetworkError for unusable ones.

    ``body``: the response's body when it was streamed (:func:`read_body`).
    """
    status = response.status_code
    if status == 429:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        hint = f"try again in {wait} s" if wait is not None else "try again in a minute"
        raise NetworkError(f"{what} is rate limiting requests (HTTP 429); {hint}.", status=status)
    data: Any = None
    body = response.content if body is None else body
    if body.strip():
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: a hostile "[[[[…" body
            data = None
    if status >= 500:
        raise NetworkError(
            f"{what} had a server error (HTTP {status}); try again in a moment.", status=status
        )
    if data is None:
        kind = "an empty answer" if not body.strip() else _describe_body(response, body)
        raise NetworkError(
            f"{what} sent {kind} (HTTP {status}) instead of JSON; try again later.", status=status
        )
    return JsonResponse(status=status, data=data, headers=response.headers)


def _describe_body(response: httpx.Response, body: bytes) -> str:
    content_type = response.headers.get("content-type", "")
    if "html" in content_type or body.lstrip()[:1] == b"<":
        return "an HTML page"
    return "something unreadable"


def retry_after_seconds(value: str | None, *, now: float | None = None) -> int | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    # isascii: "²" and other Unicode digits pass isdigit() but not int(); a value too long
    # for int() (over 4300 digits) is a long wait all the same.
    if value.isascii() and value.isdigit():
        return min(int(value), 86_400) if len(value) <= 9 else 86_400
    import email.utils  # only a Retry-After date needs it

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a year like 9999999999
        return None
    if when is None or when.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(0, min(int(when.timestamp() - now), 86_400))


def url_host(url: str) -> str:
    """The host (and port) of ``url`` for messages; never the path or query."""
    try:
        return urlsplit(url).netloc.rpartition("@")[2] or url
    except ValueError:
        return url


def oauth_error(data: Any) -> tuple[str, str]:
    """``(error, description)`` from an OAuth error body; empty strings when absent."""
    if not isinstance(data, dict):
        return "", ""
    error = data.get("error")
    if isinstance(error, dict):  # API style: {"error": {"type", "message"}}
        return str(error.get("code") or error.get("type") or ""), str(error.get("message") or "")
    return str(error or ""), str(data.get("error_description") or "")


# The advice after "… rejected the token (HTTP 401)" when a refresh may still help.
REFRESH_ADVICE = ". Press r to refresh, or log in again."


async def authorized_answer(
    client: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str],
    key: str = "data",
    kind: type = list,
    failed: str = "",
    credential: str = "the token",
    advice: str = REFRESH_ADVICE,
    deadline: float = DEADLINE_SECONDS,
    expected: str = "",
) -> tuple[Any, Mapping[str, str]]:
    """GET with a stored credential: the ``key`` field (a ``kind``) of the JSON object, and the
    answer's headers (:func:`authorized_field` for the field alone).

    AuthError "{what} rejected {credential} (HTTP n){advice}" on 401/403; on another error
    status "{failed} (HTTP n)." (default failed: "{what} did not list its models"); a success
    without the field says so: "{what} answered, but not with {expected}; …" (default expected:
    "a model list" for a list, "the details pi-tui asked for" otherwise), never "failed (HTTP 200)".
    """
    response = await request_json(client, "GET", url, what=what, deadline=deadline, headers=dict(headers))
    if response.status in (401, 403):
        raise AuthError(f"{what} rejected {credential} (HTTP {response.status}){advice}")
    if response.status >= 400:
        raise AuthError(f"{failed or f'{what} did not list its models'} (HTTP {response.status}).")
    value = response.data.get(key) if isinstance(response.data, dict) else None
    if not isinstance(value, kind):
        wanted = expected or ("a model list" if kind is list else "the details pi-tui asked for")
        raise AuthError(
            f"{what} answered, but not with {wanted}; its API may have changed. Try again later, "
            "or update pi-tui if this goes on."
        )
    return value, response.headers


async def authorized_field(client: httpx.AsyncClient, url: str, **options: Any) -> Any:
    """The field of :func:`authorized_answer` alone (same options, same sentences)."""
    return (await authorized_answer(client, url, **options))[0]


async def models_sentence(
    client: httpx.AsyncClient, url: str, *, headers: Mapping[str, str], **options: Any
) -> str:
    """A test call that lists models (JSON, through :func:`authorized_field`): "OK: 12 models
    available."; the options are :func:`authorized_answer`'s."""
    models = await authorized_field(client, url, headers={"Accept": "application/json", **headers}, **options)
    return models_available(len(models))


def models_available(count: int, kind: str = "") -> str:
    """The test call's answer: "OK: 1 model available." / "OK: 2 {kind} models available."."""
    noun = "model" if count == 1 else "models"
    return f"OK: {count} {kind}{noun} available."
