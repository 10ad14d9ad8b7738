"""Turn what yt-dlp and ffmpeg say into a sentence a person can act on.

Their messages are precise but written for developers ("HTTP Error 403: Forbidden",
"[Errno -3] Temporary failure in name resolution"). ``/api/status`` and the web client
show these sentences instead; the raw message still goes to the log.
"""

from __future__ import annotations

import re

#: (pattern in the tool's message, sentence for a person). First match wins; a
#: sentence may take a group of the match (``\g<1>``).
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), sentence)
    for pattern, sentence in (
        (
            # The egress proxy's refusal (tuner.egress), as yt-dlp quotes its reason
            # phrase: the proxy's sentence is the one to show.
            r"(refused: \S+ (\(\S+\) )?is a private address \([^)]*\): [^\"]*\"[^\"]*\" "
            r"to fetch_allow)",
            r"\g<1>",
        ),
        (r"private video", "video unavailable: it is private"),
        (r"sign in to confirm your age|age[- ]restricted", "video unavailable: age-restricted"),
        (r"members[- ]only|join this channel", "video unavailable: for channel members only"),
        (r"not available in your country|geo.?restrict", "video unavailable in this country"),
        (r"premieres in|is_upcoming|live event will begin", "this live stream has not started"),
        (
            r"video unavailable|has been removed|does not exist|no longer available",
            "video unavailable",
        ),
        (r"no (video )?results|no entries", "nothing found for this search"),
        (r"unsupported url", "this site or page is not supported: try the media URL"),
        (
            r"requested format is not available|no video formats",
            "no playable format: the site offers nothing ffmpeg can read",
        ),
        (
            r"name resolution|name or service not known|nodename nor servname|"
            r"failed to resolve|no address associated",
            "no network: the server's name cannot be resolved",
        ),
        (r"network is unreachable|no route to host", "no network: the server cannot be reached"),
        (r"connection refused", "the server refused the connection"),
        (r"timed out|timeout", "no network: the server did not answer in time"),
        (
            r"http error 403|403 forbidden|server returned 403",
            "the site refused the stream (HTTP 403): its link may have expired",
        ),
        (r"http error 404|404 not found|server returned 404", "not found (HTTP 404)"),
        (r"http error 429|too many requests", "the site is rate-limiting us (HTTP 429): wait"),
        (r"http error 5\d\d|server returned 5\d\d", "the site has a server error: try later"),
        (
            # A playlist naming a file: (or other) URL, refused by the whitelist.
            r"not on whitelist|segment '(?!https?:)[a-z][a-z0-9+.-]*:|"
            # ffmpeg's HLS demuxer, for a file: URL without a media extension.
            r"url (?!https?:)[a-z][a-z0-9+.-]*:\S* is not in allowed_segment_extensions",
            "the stream points to something tuner does not fetch (only http/https)",
        ),
        (
            r"invalid data found|could not find codec|unknown format|moov atom not found",
            "not a playable video or audio stream",
        ),
    )
)


def explain(message: str, fallback: str) -> str:
    """The sentence for ``message``, or ``fallback: <its last line>`` if none fits."""
    for pattern, sentence in _RULES:
        found = pattern.search(message)
        if found:
            return found.expand(sentence)
    last = message.strip().splitlines()[-1] if message.strip() else ""
    last = re.sub(r"^(ERROR|WARNING):\s*", "", last)
    return f"{fallback}: {last}" if last else fallback
