"""Fetching thumbnails for ``/api/thumbnail/<token>``: through the egress proxy, only
raster images (JPEG, PNG, WebP, GIF, AVIF), at most :data:`MAX_IMAGE_BYTES`, within
:data:`FETCH_TIMEOUT`, kept in a bounded in-memory cache. Concurrent requests for one
token fetch it once.

The tokens and the cache are sans-IO (:mod:`tuner.core.thumbnails`); this module is
the HTTP client, owned by a task of the root nursery (:meth:`Thumbnails.run`), which
closes its connections when the daemon stops.
"""

from __future__ import annotations

import logging
import time

import attrs
import httpx
import trio

from tuner import __version__
from tuner.core.thumbnails import Image, ImageCache, ThumbnailTokens

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 1024 * 1024
FETCH_TIMEOUT = 10.0
#: Fetches at once (a search's list asks for all its thumbnails together).
MAX_FETCHES = 4
USER_AGENT = f"tuner/{__version__} (thumbnails)"
#: Raster images only: an SVG is a document that could carry script to our origin.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif"})


class UnknownThumbnailError(LookupError):
    """A token the daemon never issued (or has forgotten)."""


class ThumbnailError(Exception):
    """The thumbnail could not be fetched; the message is for a person."""


@attrs.define
class _Flight:
    """A fetch in progress, which requests for the same token wait for."""

    done: trio.Event = attrs.field(factory=trio.Event)
    error: str | None = None


class Thumbnails:
    """Serves thumbnails by token; :meth:`run` must be running for fetches."""

    def __init__(
        self,
        tokens: ThumbnailTokens,
        *,
        proxy: str | None = None,
        cache: ImageCache | None = None,
        timeout: float = FETCH_TIMEOUT,
        max_bytes: int = MAX_IMAGE_BYTES,
    ) -> None:
        self.tokens = tokens
        self.cache = cache or ImageCache()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._proxy = proxy
        self._client: httpx.AsyncClient | None = None
        self._flights: dict[str, _Flight] = {}
        self._limiter = trio.CapacityLimiter(MAX_FETCHES)
        self.fetches = 0
        self.failures = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the HTTP client until cancelled."""
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=True,
            max_redirects=3,
            headers={"User-Agent": USER_AGENT, "Accept": "image/*"},
            # Through the egress proxy, redirects included; never one the environment
            # names.
            proxy=self._proxy,
            trust_env=False,
        )
        try:
            self._client = client
            task_status.started()
            await trio.sleep_forever()
        finally:
            self._client = None
            with trio.CancelScope(shield=True):
                await client.aclose()

    async def get(self, token: str) -> Image:
        """The image for ``token``: from the cache, from a fetch in progress, or
        fetched now.

        Raises:
            UnknownThumbnailError: the token was not issued (or is forgotten).
            ThumbnailError: the fetch failed (a sentence saying why).
        """
        url = self.tokens.url(token)
        if url is None:
            raise UnknownThumbnailError(token)
        while True:
            image = self.cache.get(token)
            if image is not None:
                return image
            flight = self._flights.get(token)
            if flight is None:
                break
            await flight.done.wait()
            if flight.error is not None:
                raise ThumbnailError(flight.error)
            # Fetched (now cached) or abandoned (its requester went away): look again.
        flight = self._flights[token] = _Flight()
        try:
            image = await self._fetch(url)
        except ThumbnailError as exc:
            flight.error = str(exc)
            raise
        finally:
            del self._flights[token]
            flight.done.set()
        self.cache.put(token, image)
        return image

    async def _fetch(self, url: str) -> Image:
        client = self._client
        if client is None:
            raise ThumbnailError("thumbnails are not available (the daemon is stopping)")
        async with self._limiter:
            self.fetches += 1
            started = time.monotonic()
            try:
                with trio.fail_after(self.timeout):
                    image = await self._get(client, url)
            except trio.TooSlowError:
                problem = f"the thumbnail did not arrive within {self.timeout:g} s"
            except httpx.ProxyError as exc:
                # The egress proxy's answer to CONNECT: "403 refused: ...".
                problem = f"cannot fetch the thumbnail: {str(exc).partition(' ')[2] or exc}"
            except httpx.HTTPError as exc:
                problem = f"cannot fetch the thumbnail: {type(exc).__name__}: {exc}"
            except ThumbnailError as exc:
                problem = str(exc)
            else:
                log.debug("thumbnail %s in %.3f s", url, time.monotonic() - started)
                return image
        self.failures += 1
        log.warning("thumbnail %s: %s", url, problem)
        raise ThumbnailError(problem)

    async def _get(self, client: httpx.AsyncClient, url: str) -> Image:
        async with client.stream("GET", url) as response:
            if "tuner-egress" in response.headers:
                # The egress proxy answered, not the site: its reason says why.
                raise ThumbnailError(f"cannot fetch the thumbnail: {response.reason_phrase}")
            if response.status_code >= 400:
                raise ThumbnailError(
                    f"the site answered HTTP {response.status_code} for the thumbnail"
                )
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in IMAGE_TYPES:
                raise ThumbnailError(
                    "the thumbnail is not a JPEG, PNG, WebP, GIF or AVIF image "
                    f"({content_type or 'no content type'})"
                )
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > self.max_bytes:
                    raise ThumbnailError(
                        f"the thumbnail is larger than {self.max_bytes // 1024} KiB"
                    )
            return Image(content_type, bytes(data))
