"""A yt-dlp plugin for tests only: a search site on a loopback server.

yt-dlp loads plugins from ``yt_dlp_plugins/extractor/*.py`` in any directory on
``sys.path``: the tests put ``tests/stub_plugins`` on the ``PYTHONPATH`` of the
daemon's worker processes, and set ``TUNERSTUB_URL`` to their loopback server. Then:

- ``tunerstub<N>:<words>`` (:class:`TunerStubSearchIE`, a real
  ``SearchInfoExtractor``) fetches ``<server>/search/<words>``: a JSON list of entries
  shaped like yt-dlp's flat YouTube search entries (``id``, ``title``, ``url``,
  ``channel``, ``duration``, ``live_status``, ``thumbnails``), and yields them as
  ``url`` results, as YouTube's search does;
- ``<server>/stubvideo/<id>`` (:class:`TunerStubVideoIE`) fetches that JSON (a title,
  a channel, a thumbnail and the media URL) and answers a playable info dict.

Every request goes through yt-dlp's own networking, so through the daemon's egress
proxy, as a real site's would.
"""

from __future__ import annotations

import os
import urllib.parse

from yt_dlp.extractor.common import InfoExtractor, SearchInfoExtractor


class TunerStubSearchIE(SearchInfoExtractor):
    IE_NAME = "tunerstub:search"
    _SEARCH_KEY = "tunerstub"

    def _search_results(self, query):
        server = os.environ["TUNERSTUB_URL"]
        url = f"{server}/search/{urllib.parse.quote(query, safe='')}"
        for entry in self._download_json(url, query, note="Searching the stub"):
            yield {"_type": "url", **entry}


class TunerStubVideoIE(InfoExtractor):
    IE_NAME = "tunerstub:video"
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/stubvideo/(?P<id>[\w-]+)"

    def _real_extract(self, url):
        video_id = self._match_id(url)
        data = self._download_json(url, video_id)
        return {
            "id": video_id,
            "title": data["title"],
            "channel": data.get("channel"),
            "thumbnail": data.get("thumbnail"),
            "url": data["media"],
            "ext": "mp4",
        }
