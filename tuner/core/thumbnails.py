"""Thumbnails served from the daemon's own origin: tokens for URLs it recorded, and a
bounded cache of the images' bytes.

The car's browser talks only to the daemon, and the page's Content-Security-Policy
allows images from ``'self'`` only; so a search result's or the playing source's
thumbnail is shown as ``/api/thumbnail/<token>``, and the daemon fetches the image.
A token is issued only for a URL the daemon itself took from yt-dlp's answer
(:meth:`ThumbnailTokens.issue`): the route is never a proxy for a URL a client names.
Tokens are an HMAC of the URL under a key made at start, so the same URL keeps its
token (and the browser's cache) for the daemon's lifetime, and a token cannot be
guessed.

Sans-IO: :mod:`tuner.thumbnail_fetcher` fetches.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import secrets

import attrs

#: The path prefix of the route.
PATH_PREFIX = "/api/thumbnail/"
#: URLs remembered (the oldest issued is forgotten first): many searches' worth.
MAX_TOKENS = 4096
#: Images kept in memory, and their total size.
MAX_IMAGES = 256
MAX_CACHE_BYTES = 16 * 1024 * 1024


class ThumbnailTokens:
    """Tokens for thumbnail URLs the daemon recorded, at most ``max_tokens`` of them."""

    def __init__(self, key: bytes | None = None, max_tokens: int = MAX_TOKENS) -> None:
        self._key = key or secrets.token_bytes(32)
        self._max = max_tokens
        self._urls: collections.OrderedDict[str, str] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._urls)

    def issue(self, url: str) -> str:
        """The token for ``url`` (the same one each time), remembered as recent."""
        digest = hmac.new(self._key, url.encode(), hashlib.sha256).digest()[:18]
        token = base64.urlsafe_b64encode(digest).decode()
        self._urls[token] = url
        self._urls.move_to_end(token)
        while len(self._urls) > self._max:
            self._urls.popitem(last=False)
        return token

    def path(self, url: str | None) -> str | None:
        """The same-origin path that serves ``url`` (``None`` for ``None``)."""
        return None if url is None else PATH_PREFIX + self.issue(url)

    def url(self, token: str) -> str | None:
        """The URL a token was issued for, or ``None`` (never issued, or forgotten)."""
        return self._urls.get(token)


@attrs.frozen
class Image:
    """A fetched thumbnail."""

    content_type: str
    data: bytes


class ImageCache:
    """The most recently used images, bounded in count and in total bytes."""

    def __init__(self, max_images: int = MAX_IMAGES, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.max_images = max_images
        self.max_bytes = max_bytes
        self._images: collections.OrderedDict[str, Image] = collections.OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._images)

    @property
    def size(self) -> int:
        """The bytes held."""
        return self._bytes

    def get(self, token: str) -> Image | None:
        """The image for ``token``, now the most recently used, or ``None``."""
        image = self._images.get(token)
        if image is not None:
            self._images.move_to_end(token)
        return image

    def put(self, token: str, image: Image) -> None:
        """Keep ``image``, forgetting the least recently used beyond the bounds (an
        image larger than the whole cache is not kept)."""
        old = self._images.pop(token, None)
        if old is not None:
            self._bytes -= len(old.data)
        if len(image.data) > self.max_bytes:
            return
        self._images[token] = image
        self._bytes += len(image.data)
        while len(self._images) > self.max_images or self._bytes > self.max_bytes:
            _, dropped = self._images.popitem(last=False)
            self._bytes -= len(dropped.data)
