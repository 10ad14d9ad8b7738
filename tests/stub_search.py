"""A search site for tests: a loopback server, and the yt-dlp plugin that searches it.

``tests/stub_plugins`` holds a yt-dlp plugin (``tunerstub<N>:<words>``, see its
module); :func:`stub_site` serves its pages on a loopback port and points the worker
processes started meanwhile at them (``PYTHONPATH`` and ``TUNERSTUB_URL`` in this
process's environment, which the workers inherit). Real yt-dlp does the search: only
the site is a stub.
"""

from __future__ import annotations

import json
import os
import struct
import urllib.parse
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import LoopbackServer, serve_loopback

PLUGINS = Path(__file__).parent / "stub_plugins"
PREFIX = "tunerstub"


def png(width: int = 2, height: int = 1) -> bytes:
    """A real (tiny, grey) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def search_path(words: str) -> str:
    """The path the plugin fetches for ``words`` (as the server sees it, decoded)."""
    return "/search/" + words


def entry(site: LoopbackServer, video_id: str, **fields: Any) -> dict[str, Any]:
    """A flat search entry like YouTube's, for a video of the stub site."""
    return {
        "id": video_id,
        "url": site.url(f"/stubvideo/{video_id}"),
        "title": f"Title {video_id}",
        "channel": f"Channel {video_id}",
        "duration": 61.0,
        "live_status": None,
        "thumbnails": [
            {"url": site.url(f"/thumb/{video_id}.png"), "width": 360, "height": 202},
            {"url": site.url(f"/thumb/{video_id}-big.png"), "width": 1280, "height": 720},
        ],
        **fields,
    }


def add_search(site: LoopbackServer, words: str, entries: list[dict[str, Any]]) -> str:
    """Answer a search for ``words`` with ``entries``; returns the path hit."""
    path = search_path(words)
    site.add(path, json.dumps(entries), content_type="application/json")
    return path


@asynccontextmanager
async def stub_site(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LoopbackServer]:
    """The stub site, and this process's environment set so that workers started
    meanwhile load the plugin and search it."""
    async with serve_loopback() as site:
        path = os.environ.get("PYTHONPATH")
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(PLUGINS), path) if p))
        monkeypatch.setenv("TUNERSTUB_URL", site.base)
        yield site


def quoted(words: str) -> str:
    """``words`` as a query-string value."""
    return urllib.parse.quote(words)
