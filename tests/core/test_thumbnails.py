"""Thumbnail tokens and the image cache: only recorded URLs, and bounded memory."""

from __future__ import annotations

from tuner.core.thumbnails import PATH_PREFIX, Image, ImageCache, ThumbnailTokens


def test_a_token_names_only_a_recorded_url_and_stays_the_same() -> None:
    tokens = ThumbnailTokens()
    token = tokens.issue("https://i.ytimg.com/a.jpg")
    assert tokens.url(token) == "https://i.ytimg.com/a.jpg"
    assert tokens.issue("https://i.ytimg.com/a.jpg") == token
    assert tokens.issue("https://i.ytimg.com/b.jpg") != token
    # A URL, or anything else a client makes up, is not a token.
    assert tokens.url("https://i.ytimg.com/a.jpg") is None
    assert tokens.url("x" * len(token)) is None
    assert tokens.path(None) is None
    assert tokens.path("https://i.ytimg.com/a.jpg") == PATH_PREFIX + token
    assert token.replace("-", "").replace("_", "").isalnum()


def test_tokens_differ_between_daemons() -> None:
    url = "https://i.ytimg.com/a.jpg"
    assert ThumbnailTokens().issue(url) != ThumbnailTokens().issue(url)
    assert ThumbnailTokens(b"k" * 32).issue(url) == ThumbnailTokens(b"k" * 32).issue(url)


def test_the_oldest_recorded_url_is_forgotten_first() -> None:
    tokens = ThumbnailTokens(max_tokens=3)
    a, b, c = (tokens.issue(f"https://x/{n}") for n in "abc")
    tokens.issue("https://x/a")  # used again: now the most recent
    tokens.issue("https://x/d")
    assert len(tokens) == 3
    assert tokens.url(b) is None
    assert tokens.url(a) == "https://x/a" and tokens.url(c) == "https://x/c"


def test_the_image_cache_is_bounded_by_count_and_bytes() -> None:
    cache = ImageCache(max_images=3, max_bytes=100)
    for name in "abc":
        cache.put(name, Image("image/png", b"x" * 10))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", Image("image/png", b"x" * 10))
    assert cache.get("b") is None
    assert len(cache) == 3 and cache.size == 30
    cache.put("e", Image("image/jpeg", b"y" * 90))
    # Over 100 bytes: the least recently used go until it fits.
    assert cache.size <= 100
    assert cache.get("e") == Image("image/jpeg", b"y" * 90)
    # Larger than the whole cache: not kept, nothing else dropped for it.
    before = len(cache)
    cache.put("huge", Image("image/png", b"z" * 101))
    assert cache.get("huge") is None and len(cache) == before
    # Replacing an image counts its bytes once.
    assert cache.size == 100  # d and e
    cache.put("e", Image("image/jpeg", b"y" * 50))
    assert cache.size == 60
