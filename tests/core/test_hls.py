"""Reading just enough of an HLS playlist: master or media, live or ended, quality."""

from __future__ import annotations

import pytest

from tuner.core.hls import NotAPlaylistError, parse_playlist

MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS="avc1.640028"
https://cdn.example/hd/index.m3u8
"""
LIVE = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nseg1.ts\n#EXTINF:6.0,\nseg2.ts\n"


def test_master_playlist_lists_variants_and_the_best_quality() -> None:
    playlist = parse_playlist(MASTER)
    assert playlist.is_master
    assert playlist.variants == ("low/index.m3u8", "https://cdn.example/hd/index.m3u8")
    assert playlist.quality == "1080p"


def test_media_playlist_is_live_until_it_ends() -> None:
    live = parse_playlist(LIVE)
    assert (live.is_master, live.ended, live.segments, live.quality) == (False, False, 2, None)
    assert parse_playlist(LIVE + "#EXT-X-ENDLIST\n").ended


@pytest.mark.parametrize("text", ["", "<html>", "#EXTINF:6\nx.ts", " #EXTM3U x"])
def test_anything_else_is_not_a_playlist(text: str) -> None:
    with pytest.raises(NotAPlaylistError, match="#EXTM3U"):
        parse_playlist(text)


def test_a_byte_order_mark_and_crlf_are_fine() -> None:
    assert not parse_playlist("\ufeff#EXTM3U\r\n#EXTINF:4,\r\na.ts\r\n").is_master


def test_a_media_playlist_says_its_sequence_its_segments_lengths_and_its_type() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:1041\n"
        "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:6.006,title\na.ts\n#EXTINF:5.5,\nb.ts\n"
    )
    playlist = parse_playlist(text)
    assert playlist.media_sequence == 1041
    assert playlist.durations == (6.006, 5.5)
    assert (playlist.target_duration, playlist.event, playlist.segments) == (6.0, True, 2)


def test_a_playlist_without_those_tags_starts_at_0_and_slides() -> None:
    playlist = parse_playlist(LIVE)
    assert (playlist.media_sequence, playlist.event, playlist.durations) == (0, False, (6.0, 6.0))
    # A tag with no number is read as absent, not as an error.
    odd = parse_playlist("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n#EXTINF:,\na.ts\n")
    assert (odd.media_sequence, odd.durations) == (0, (0.0,))
