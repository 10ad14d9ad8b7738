"""Turn what yt-dlp and ffmpeg say into a sentence a person can act on.

Their messages are precise but written for developers ("HTTP Error 403: Forbidden",
"[Errno -3] Temporary failure in name resolution", "Error marking filters as
finished"). ``/api/status`` and the web client show these sentences instead; the raw
message still goes to the log.

The rules are matched against the tool's whole message (for ffmpeg, its last lines on
stderr), so a specific cause named early beats a generic line at the end. The
ffmpeg lines they expect are pinned down in ``tests/core/test_diagnose.py``, each
taken from the real ffmpeg against a loopback server that misbehaves that way.
"""

from __future__ import annotations

import re

#: (pattern in the tool's message, sentence for a person). First match wins; a
#: sentence may take a group of the match (``\g<1>``).
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), sentence)
    for pattern, sentence in (
        (
            # The egress proxy's refusal (tuner.egress_proxy), as yt-dlp quotes its reason
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
        (r"connection reset by peer", "the server cut the connection (reset)"),
        (r"timed out|timeout", "no network: the server did not answer in time"),
        (
            # ffmpeg's TLS layer (GnuTLS or OpenSSL) failing, e.g. https to a plain port.
            r"\[tls @|tls packet|tls connection|ssl routines",
            "the secure connection (TLS) to the server failed",
        ),
        (
            r"http error 403|403 forbidden|server returned 403",
            "the site refused the stream (HTTP 403): its link may have expired",
        ),
        (
            r"http error 404|404 not found|server returned 404",
            "not found (HTTP 404): the link is wrong or has expired",
        ),
        (
            r"http error 401|401 unauthorized|server returned 401",
            "the site wants a login for this stream (HTTP 401)",
        ),
        (r"http error 400|server returned 400", "the server refused the request (HTTP 400)"),
        (r"http error 429|too many requests", "the site is rate-limiting us (HTTP 429): wait"),
        (
            # ffmpeg names only 400, 401, 403 and 404; any other 4xx is this.
            r"server returned 4xx",
            "the server refused the stream (an HTTP 4xx error, such as 410 gone or 429 "
            "too many requests)",
        ),
        (
            r"http error 5\d\d|server returned 5(\d\d|xx)",
            "the site has a server error: try later",
        ),
        (
            # A playlist naming a file: (or other) URL, refused by the whitelist.
            r"not on whitelist|segment '(?!https?:)[a-z][a-z0-9+.-]*:|"
            # ffmpeg's HLS demuxer, for a file: URL without a media extension.
            r"url (?!https?:)[a-z][a-z0-9+.-]*:\S* is not in allowed_segment_extensions",
            "the stream points to something tuner does not fetch (only http/https)",
        ),
        (
            # An MP4 whose index (moov) is at its end, from a server that ignores Range:
            # ffmpeg read it all to find the index and cannot go back to the data.
            r"partial file[\s\S]*cannot determine format of input stream",
            "the server ignores Range requests, and this file needs them (its index is at "
            "its end): use a server that supports Range, or remux the file with ffmpeg "
            "-movflags +faststart",
        ),
        (
            r"stream ends prematurely",
            "the server closed the connection before the end of the file",
        ),
        (r"partial file", "the file is incomplete: it ends before its data does"),
        (
            r"decoder \(codec none\) not found",
            "the stream's codec is unknown to this ffmpeg",
        ),
        (
            r"decoder \(codec ([\w-]+)\) not found",
            r"this ffmpeg cannot decode the stream's codec (\g<1>): install a full ffmpeg build",
        ),
        (
            r"invalid data found|could not find codec|unknown format|moov atom not found",
            "not a playable video or audio stream",
        ),
    )
)


#: ffmpeg's lines that only say that it gave up: a fallback names the line before.
_GENERIC = re.compile(
    r"error marking filters as finished|conversion failed!|"
    r"cannot determine format of input stream|last message repeated",
    re.IGNORECASE,
)
#: What starts a line without saying anything: a level, ffmpeg's ``[component @
#: 0x...]``, the URL it was reading (which may hold a signed token).
_PREFIX = re.compile(
    r"^(ERROR:\s*|WARNING:\s*|\[[^\]]* @ 0x[0-9a-f]+\]\s*|[a-z][a-z0-9+.-]*://\S*:\s)+"
)


def explain(message: str, fallback: str) -> str:
    """The sentence for ``message``, or ``fallback: <its last telling line>`` if none
    fits."""
    for pattern, sentence in _RULES:
        found = pattern.search(message)
        if found:
            return found.expand(sentence)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    telling = [line for line in lines if not _GENERIC.search(line)] or lines
    last = _PREFIX.sub("", telling[-1]) if telling else ""
    return f"{fallback}: {last}" if last else fallback
