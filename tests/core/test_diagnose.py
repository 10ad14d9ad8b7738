"""ffmpeg's failures as sentences a person can act on (sans-IO).

:data:`FFMPEG_FAILURES` is what ffmpeg 5.1 writes on stderr (``-loglevel error``, the
session's own command line) for a source that misbehaves in one way, copied from real
runs against the loopback server of ``tests/misbehaving.py``;
``tests/play/test_ffmpeg_failures.py`` runs the real ffmpeg against that server and
checks that it still comes to the same sentence.
"""

from __future__ import annotations

import pytest

from tuner.core.diagnose import explain

RANGE = (
    "the server ignores Range requests, and this file needs them (its index is at its "
    "end): use a server that supports Range, or remux the file with ffmpeg -movflags "
    "+faststart"
)

#: The misbehaving server's path (or ``closed`` port, ``tls`` to a plain HTTP port):
#: ffmpeg's stderr, with ``{url}`` for the URL it read, and the sentence it becomes.
FFMPEG_FAILURES: dict[str, tuple[str, str]] = {
    "/ignores-range.mp4": (
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x556b29426e40] stream 1, offset 0x30: partial file\n"
        "[http @ 0x556b29427680] Stream ends prematurely at 48, should be 194580\n"
        "    Last message repeated 1 times\n"
        "{url}: Input/output error\n"
        "Cannot determine format of input stream 0:0 after EOF\n"
        "Error marking filters as finished\n",
        RANGE,
    ),
    "/missing.mp4": (
        "{url}: Server returned 404 Not Found\n",
        "not found (HTTP 404): the link is wrong or has expired",
    ),
    "/forbidden.mp4": (
        "{url}: Server returned 403 Forbidden (access denied)\n",
        "the site refused the stream (HTTP 403): its link may have expired",
    ),
    "/login.mp4": (
        "{url}: Server returned 401 Unauthorized (authorization failed)\n",
        "the site wants a login for this stream (HTTP 401)",
    ),
    "/gone.mp4": (
        "{url}: Server returned 4XX Client Error, but not one of 40{{0,1,3,4}}\n",
        "the server refused the stream (an HTTP 4xx error, such as 410 gone or 429 too many "
        "requests)",
    ),
    "/broken.mp4": (
        "{url}: Server returned 5XX Server Error reply\n",
        "the site has a server error: try later",
    ),
    "/notes": (
        "{url}: Invalid data found when processing input\n",
        "not a playable video or audio stream",
    ),
    "/cut.mp4": (
        "[http @ 0x562fed417680] Stream ends prematurely at 97290, should be 194580\n"
        "    Last message repeated 1 times\n"
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x562fed416e40] moov atom not found\n"
        "{url}: Invalid data found when processing input\n",
        "the server closed the connection before the end of the file",
    ),
    "/truncated.mp4": (
        "[NULL @ 0x55fe8b548400] Invalid NAL unit size (3040 > 2229).\n"
        "[NULL @ 0x55fe8b548400] missing picture in access unit with size 2233\n"
        "[h264 @ 0x55fe8b5d9680] Invalid NAL unit size (3040 > 2229).\n"
        "[h264 @ 0x55fe8b5d9680] Error splitting the input into NAL units.\n"
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55fe8b543e40] stream 1, offset 0x17f35: partial file\n"
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55fe8b543e40] stream 0, offset 0x1801e: partial file\n"
        "Error while decoding stream #0:0: Invalid data found when processing input\n"
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55fe8b543e40] stream 1, offset 0x18f63: partial file\n",
        "the file is incomplete: it ends before its data does",
    ),
    "/unknown-codec.mkv": (
        "Decoder (codec none) not found for input stream #0:0\n",
        "the stream's codec is unknown to this ffmpeg",
    ),
    "/reset.mp4": (
        "{url}: Connection reset by peer\n",
        "the server cut the connection (reset)",
    ),
    "closed": (
        "[tcp @ 0x556187c806c0] Connection to tcp://127.0.0.1:53471 failed: Connection refused\n"
        "{url}: Connection refused\n",
        "the server refused the connection",
    ),
    "tls": (
        "[tls @ 0x55c23c5066c0] An unexpected TLS packet was received.\n"
        "{url}: Input/output error\n",
        "the secure connection (TLS) to the server failed",
    ),
}


@pytest.mark.parametrize("case", sorted(FFMPEG_FAILURES))
def test_ffmpeg_failures_become_sentences(case: str) -> None:
    stderr, sentence = FFMPEG_FAILURES[case]
    url = "http://127.0.0.1:43191" + (case if case.startswith("/") else "/v.mp4")
    assert explain(stderr.format(url=url), "ffmpeg failed") == sentence


@pytest.mark.parametrize(
    ("stderr", "sentence"),
    [
        pytest.param(
            "http://cdn.example/v.mp4?sig=SECRET: Input/output error\n"
            "Error marking filters as finished\nConversion failed!\n",
            "ffmpeg failed: Input/output error",
            id="the last line that says something, without the URL (it may be signed)",
        ),
        pytest.param(
            "[hls @ 0x55d0] Some new complaint\n",
            "ffmpeg failed: Some new complaint",
            id="without ffmpeg's component prefix",
        ),
        pytest.param(
            "Error marking filters as finished\n",
            "ffmpeg failed: Error marking filters as finished",
            id="a generic line alone is still said",
        ),
        pytest.param("", "ffmpeg failed", id="nothing at all"),
    ],
)
def test_a_failure_no_rule_knows_keeps_its_telling_line(stderr: str, sentence: str) -> None:
    assert explain(stderr, "ffmpeg failed") == sentence
