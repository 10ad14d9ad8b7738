"""``page``: configured web pages scanned for ``.m3u8`` links.

Each site may have its own regular expression (group 1 if it has one, else the whole
match). Links are found in HTML and in JSON embedded in it (``\\/`` and ``\\u002F`` are
unescaped first), and relative ones are resolved against the page.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Sequence
from urllib.parse import urljoin, urlsplit

from tuner.config import PageSite
from tuner.extract._base import Health, gather_each
from tuner.extract._http import HttpClient
from tuner.extract._records import (
    StreamKind,
    StreamRecord,
)

#: Any absolute http(s) URL whose path ends in ``.m3u8``.
DEFAULT_PATTERN = r"""https?://[^\s"'<>\\]+?\.m3u8(?:\?[^\s"'<>\\]*)?"""
#: Links kept per page: a page that lists more is listing recordings, not live streams.
MAX_LINKS_PER_PAGE = 20
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def find_links(text: str, base_url: str, pattern: str | None = None) -> list[str]:
    """The distinct playlist links in a page, in order, as absolute URLs."""
    text = text.replace("\\/", "/").replace("\\u002F", "/").replace("\\u002f", "/")
    links: list[str] = []
    for match in re.finditer(pattern or DEFAULT_PATTERN, text):
        found = match.group(1) if match.re.groups else match.group(0)
        if not found:
            continue
        link = urljoin(base_url, html.unescape(found.strip()))
        if urlsplit(link).scheme in ("http", "https") and link not in links:
            links.append(link)
        if len(links) == MAX_LINKS_PER_PAGE:
            break
    return links


def page_title(text: str) -> str | None:
    """The page's ``<title>``, if it has a non-empty one."""
    match = _TITLE.search(text)
    if not match:
        return None
    title = " ".join(html.unescape(match.group(1)).split())
    return title or None


class PageExtractor:
    """Scans each configured page for playlist links."""

    key = "page"
    name = "Web pages"

    def __init__(
        self,
        sites: Sequence[PageSite],
        http: HttpClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sites = tuple(sites)
        self._http = http
        self._clock = clock

    async def scan(self, site: PageSite) -> list[StreamRecord]:
        """The streams linked from one page.

        Raises:
            ExtractorError: the page cannot be fetched.
        """
        fetched = await self._http.get_text(site.url)
        links = find_links(fetched.text, fetched.url, site.pattern)
        title = site.title or page_title(fetched.text) or urlsplit(site.url).hostname or site.url
        now = self._clock()
        return [
            StreamRecord(
                title if n == 0 else f"{title} ({n + 1})",
                link,
                StreamKind.HLS,
                self.key,
                now,
                # A page lists what it streams now; the check tells a recording apart.
                is_live=True,
            )
            for n, link in enumerate(links)
        ]

    async def extract(self) -> list[StreamRecord]:
        """Scan every page at once.

        Raises:
            ExtractorError: every page failed.
            PartialResultsError: some pages failed.
        """
        return await gather_each(self._sites, self.scan)

    async def health_check(self) -> Health:
        """Unhealthy only when no page is configured."""
        if not self._sites:
            return Health(False, "no pages configured ([[extract.page.sites]])")
        return Health(True)
