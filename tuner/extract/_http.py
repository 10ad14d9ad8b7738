"""The one HTTP client of the extractors: timeouts, size limits, and per-source manners.

Every request names a *source* (by default its host): at most ``limit`` requests run at
once per source, and their starts are at least ``min_delay`` seconds apart, so a run
of many extractors never hammers one site. The same limits serve the yt-dlp probes
(source ``youtube``), which do not go through this client.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from urllib.parse import urlsplit

import attrs
import httpx
import trio

from tuner import __version__
from tuner.extract._records import ExtractorError

#: Pages and playlists are small; anything larger is not what we are looking for.
MAX_BODY_BYTES = 2 * 1024 * 1024
USER_AGENT = f"tuner/{__version__} (live stream finder)"


class FetchError(ExtractorError):
    """A request that failed; the message names the host and what went wrong."""


class SourceLimits:
    """Per-source concurrency limits and a minimum delay between request starts.

    ``overrides`` gives some sources their own ``(limit, min_delay)`` (the queue's
    downloads from YouTube wait longer between starts than other sites').
    """

    def __init__(
        self,
        limit: int = 2,
        min_delay: float = 1.0,
        overrides: Mapping[str, tuple[int, float]] | None = None,
    ) -> None:
        self._overrides = dict(overrides or {})
        for at_most, delay in [(limit, min_delay), *self._overrides.values()]:
            if at_most < 1 or delay < 0:
                raise ValueError("the limit must be at least 1 and the delay not negative")
        self.limit = limit
        self.min_delay = min_delay
        self._limiters: dict[str, trio.CapacityLimiter] = {}
        self._next_start: dict[str, float] = {}

    def rule(self, source: str) -> tuple[int, float]:
        """``(limit, min_delay)`` for ``source``."""
        return self._overrides.get(source, (self.limit, self.min_delay))

    @asynccontextmanager
    async def slot(self, source: str) -> AsyncIterator[None]:
        """Wait for a turn at ``source``, and hold it for the ``async with`` block."""
        limit, min_delay = self.rule(source)
        limiter = self._limiters.get(source)
        if limiter is None:
            limiter = self._limiters[source] = trio.CapacityLimiter(limit)
        async with limiter:
            # Book the start time before sleeping, so that concurrent waiters queue
            # one delay apart instead of all waking at the same instant.
            now = trio.current_time()
            start = max(now, self._next_start.get(source, -math.inf))
            self._next_start[source] = start + min_delay
            if start > now:
                await trio.sleep_until(start)
            yield


@attrs.frozen
class Fetched:
    """A successful answer."""

    url: str
    status: int
    text: str
    content_type: str


def source_of(url: str) -> str:
    """The source a URL counts against: its host (and port, when not the default)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _status_text(code: int) -> str:
    """``404 Not Found`` (servers often send no reason phrase)."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


class HttpClient:
    """``httpx`` under trio, with a whole-request timeout and per-source limits."""

    def __init__(
        self,
        timeout: float = 10.0,
        limits: SourceLimits | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        proxy: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.limits = limits or SourceLimits()
        self.requests = 0
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            # Through the egress proxy (tuner.egress_proxy) when given, redirects included;
            # never through a proxy, or around one, that the environment names.
            proxy=proxy,
            trust_env=False,
        )

    async def get_text(self, url: str, *, max_bytes: int = MAX_BODY_BYTES) -> Fetched:
        """GET ``url`` and decode its body as text.

        Raises:
            FetchError: no answer within the timeout, a connection or protocol error,
                an HTTP error status, or a body larger than ``max_bytes``.
        """
        source = source_of(url)
        async with self.limits.slot(source):
            self.requests += 1
            try:
                with trio.fail_after(self.timeout):
                    return await self._get(url, max_bytes)
            except trio.TooSlowError:
                raise FetchError(
                    f"{source} did not answer within {self.timeout:g} s ({url})"
                ) from None
            except httpx.TimeoutException:
                raise FetchError(
                    f"{source} did not answer within {self.timeout:g} s ({url})"
                ) from None
            except httpx.ConnectError as exc:
                reason = str(exc) or "refused"
                raise FetchError(f"cannot connect to {source}: {reason} ({url})") from None
            except httpx.ProxyError as exc:
                # The egress proxy's answer to CONNECT: "403 refused: ...".
                reason = str(exc).partition(" ")[2] or str(exc)
                raise FetchError(f"cannot fetch {url}: {reason}") from None
            except httpx.TooManyRedirects:
                raise FetchError(f"{url} redirects too many times") from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise FetchError(f"cannot fetch {url!r}: {exc}") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from None

    async def _get(self, url: str, max_bytes: int) -> Fetched:
        async with self._client.stream("GET", url) as response:
            if "tuner-egress" in response.headers:
                # The egress proxy answered, not the site: its reason says why.
                raise FetchError(f"cannot fetch {response.url}: {response.reason_phrase}")
            if response.status_code >= 400:
                raise FetchError(
                    f"{source_of(url)} answered HTTP {_status_text(response.status_code)} for {url}"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"{url} answered with more than {max_bytes} bytes")
            encoding = response.charset_encoding or "utf-8"
            try:
                text = body.decode(encoding, errors="replace")
            except LookupError:
                text = body.decode("utf-8", errors="replace")
            return Fetched(
                str(response.url),
                response.status_code,
                text,
                response.headers.get("content-type", ""),
            )

    async def aclose(self) -> None:
        """Close the connection pool (idempotent)."""
        await self._client.aclose()
