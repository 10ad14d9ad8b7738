"""What the daemon fetches (#7): nothing a logged-in person names may reach inside.

Each test runs the real daemon with ``fetch_allow`` naming one loopback server (the
allowed one, which also serves redirects and playlists) and keeps a *canary*: a
loopback listener that is not allowed and must never see a connection, whatever the
query, its redirects or its playlist name. Every refusal must reach the person as a
sentence: the ``/api/play`` answer when it is known before playing, else the
session's ``error``.

The guard is the egress proxy (:mod:`tuner.egress_proxy`): yt-dlp, ffmpeg (segments,
variants, redirects, https CONNECT) and the extractors' client all go through it.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import httpx
import pytest
import trio

from tests.conftest import Media
from tests.integration.conftest import (  # noqa: F401 (an autouse fixture)
    RunningDaemon,
    no_leaked_processes,
    settings_for,
    start_daemon,
)
from tests.integration.helpers import parse_metrics, wait_for_ffmpegs, wait_for_state
from tests.loopback import LoopbackServer, serve_loopback
from tuner.core.egress import Policy
from tuner.egress_proxy import EgressProxy
from tuner.extract import FetchError, HttpClient

M3U8 = "application/vnd.apple.mpegurl"


@attrs.define
class Canary:
    """A loopback listener the daemon must never connect to."""

    port: int
    connections: int = 0

    def url(self, path: str = "/", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


@asynccontextmanager
async def open_canary() -> AsyncIterator[Canary]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    canary = Canary(listeners[0].socket.getsockname()[1])

    async def count() -> None:
        async with listeners[0] as listener:
            while True:
                stream = await listener.accept()
                canary.connections += 1
                await stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(count)
        yield canary
        nursery.cancel_scope.cancel()


@attrs.frozen
class Guarded:
    """A daemon that may fetch from ``server`` only, a logged-in client, a canary."""

    daemon: RunningDaemon
    client: httpx.AsyncClient
    server: LoopbackServer
    canary: Canary

    async def play(self, query: str) -> httpx.Response:
        return await self.client.post("/api/play", json={"query": query})

    async def play_until_error(self, query: str) -> str:
        response = await self.play(query)
        assert response.status_code == 202, response.text
        status = await wait_for_state(self.client, "error", timeout=45)
        error = status["error"]
        assert isinstance(error, str)
        return error


def serve_traps(server: LoopbackServer, canary: Canary, media: Media, ffmpeg: str) -> None:
    """The allowed server's routes: a clip that plays, and ways to reach the canary
    (or local files)."""
    # A local file ffmpeg would play, if a playlist could make it read files.
    media_ts = media.directory / "guard-segment.ts"
    if not media_ts.exists():
        subprocess.run(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-y",
             "-i", str(media.directory / "clip720.mp4"),
             "-t", "2", "-c", "copy", "-f", "mpegts", str(media_ts)],
            check=True,
        )  # fmt: skip
    server.add(
        "/clip.mp4", (media.directory / "clip720.mp4").read_bytes(), content_type="video/mp4"
    )
    for name, target in (
        ("/hop", canary.url("/v.mp4")),
        ("/hop-https", canary.url("/v.mp4", scheme="https")),
        ("/hop-localhost", canary.url("/v.mp4", host="localhost")),
    ):
        server.add(name, "", status=302, headers={"Location": target})
    segment = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\n{}\n"
    server.add("/to-canary.m3u8", segment.format(canary.url("/s.ts")) + "#EXT-X-ENDLIST\n",
               content_type=M3U8)  # fmt: skip
    server.add("/to-canary-https.m3u8",
               segment.format(canary.url("/s.ts", scheme="https")) + "#EXT-X-ENDLIST\n",
               content_type=M3U8)  # fmt: skip
    for name, path in (("/to-file.m3u8", "/etc/passwd"), ("/to-file-ts.m3u8", media_ts)):
        server.add(name, segment.format(f"file://{path}") + "#EXT-X-ENDLIST\n",
                   content_type=M3U8)  # fmt: skip
    server.add(
        "/variants.m3u8",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=320x180\n"
        f"{canary.url('/variant.m3u8')}\n",
        content_type=M3U8,
    )


@pytest.fixture
async def guarded(tmp_path: Path, media: Media, ffmpeg: str) -> AsyncIterator[Guarded]:
    async with serve_loopback() as server, open_canary() as canary:
        serve_traps(server, canary, media, ffmpeg)
        allowed = server.base.removeprefix("http://")
        settings = settings_for(tmp_path, fetch_allow=(allowed,))
        async with trio.open_nursery() as nursery:
            daemon = await start_daemon(nursery, settings)
            async with daemon.client() as client:
                await daemon.login(client)
                yield Guarded(daemon, client, server, canary)
            daemon.shutdown.set()
            with trio.fail_after(10):
                await daemon.stopped.wait()
        # Late connections (a straggling ffmpeg) would count too.
        await trio.sleep(0.2)
        assert canary.connections == 0, "the guard let a fetch through to the canary"


async def test_the_allowed_server_plays(guarded: Guarded) -> None:
    # The control: with the same allowlist, what it names plays through the proxy.
    response = await guarded.play(guarded.server.url("/clip.mp4"))
    assert response.status_code == 202, response.text
    await wait_for_state(guarded.client, "playing", timeout=30)
    await guarded.client.post("/api/stop")
    await wait_for_ffmpegs(0)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("--exec touch /tmp/pwned", "cannot start with '-': tuner takes no yt-dlp options"),
        ("-o /tmp/pwned", "cannot start with '-': tuner takes no yt-dlp options"),
        ("file:///etc/passwd", "file: URLs are not played: only http and https"),
        ("http://169.254.169.254/latest/meta-data/",
         'refused: 169.254.169.254:80 is a private address (link-local): tuner fetches only '
         'public addresses; to allow it, add "169.254.169.254:80" to fetch_allow'),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", "is a private address (link-local)"),
        ("http://0x7f000001/", "is a private address (loopback)"),
        ("http://localhost/", "is a private address (loopback)"),
    ],
)  # fmt: skip
async def test_refused_before_playing_with_a_sentence(
    guarded: Guarded, query: str, says: str
) -> None:
    response = await guarded.play(query)
    assert response.status_code == 400, response.text
    assert says in response.json()["detail"]
    assert (await guarded.client.get("/api/status")).json()["state"] == "idle"
    metrics = parse_metrics((await guarded.client.get("/metrics")).text)
    assert metrics["tuner_resolutions_total"][""] == 0  # no yt-dlp ran


async def test_the_canary_itself_is_refused_before_playing(guarded: Guarded) -> None:
    canary = guarded.canary
    for url in (canary.url("/"), canary.url("/", scheme="https")):
        response = await guarded.play(url)
        assert response.status_code == 400, response.text
        detail = response.json()["detail"]
        assert f"refused: 127.0.0.1:{canary.port} is a private address (loopback)" in detail
        assert f'add "127.0.0.1:{canary.port}" to fetch_allow' in detail


async def test_a_private_address_is_refused_when_queued_too(guarded: Guarded) -> None:
    response = await guarded.client.post("/api/queue", json={"query": guarded.canary.url("/")})
    assert response.status_code == 400, response.text
    assert "is a private address (loopback)" in response.json()["detail"]
    assert (await guarded.client.get("/api/queue")).json()["items"] == []


@pytest.mark.parametrize(
    ("path", "host"),
    [("/hop", "127.0.0.1"), ("/hop-https", "127.0.0.1"), ("/hop-localhost", "localhost")],
)
async def test_a_redirect_to_a_private_address_is_refused(
    guarded: Guarded, path: str, host: str
) -> None:
    error = await guarded.play_until_error(guarded.server.url(path))
    assert f"refused: {host}:{guarded.canary.port}" in error, error
    assert "is a private address (loopback)" in error and "fetch_allow" in error, error
    await wait_for_ffmpegs(0)


@pytest.mark.parametrize("path", ["/to-canary.m3u8", "/to-canary-https.m3u8", "/variants.m3u8"])
async def test_a_playlist_naming_a_private_address_is_refused(guarded: Guarded, path: str) -> None:
    error = await guarded.play_until_error(guarded.server.url(path))
    assert f"refused: 127.0.0.1:{guarded.canary.port} is a private address (loopback)" in error
    assert guarded.server.hits[path] >= 1  # the allowed playlist itself was fetched
    await wait_for_ffmpegs(0)


@pytest.mark.parametrize("path", ["/to-file.m3u8", "/to-file-ts.m3u8"])
async def test_a_playlist_naming_a_local_file_is_refused(guarded: Guarded, path: str) -> None:
    error = await guarded.play_until_error(guarded.server.url(path))
    assert "only http/https" in error, error
    await wait_for_ffmpegs(0)


async def test_a_queued_item_is_prepared_through_the_guard_too(guarded: Guarded) -> None:
    # The queue resolves and downloads ahead, in workers of its own: same proxy.
    response = await guarded.client.post("/api/queue", json={"query": guarded.server.url("/hop")})
    assert response.status_code == 201, response.text
    item_id = response.json()["id"]
    with trio.fail_after(45):
        while True:
            items = (await guarded.client.get("/api/queue")).json()["items"]
            item = next(i for i in items if i["id"] == item_id)
            if item["state"] == "failed":
                break
            await trio.sleep(0.1)
    assert f"refused: 127.0.0.1:{guarded.canary.port} is a private address" in item["error"], item


# The proxy on its own, as the extractors' HTTP client meets it.


@asynccontextmanager
async def running_proxy(allow: tuple[str, ...]) -> AsyncIterator[EgressProxy]:
    proxy = EgressProxy(Policy.from_entries(allow))
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(proxy.run)
            yield proxy
            nursery.cancel_scope.cancel()
    finally:
        proxy.close()


async def test_the_extractors_client_is_refused_private_addresses_and_redirects() -> None:
    async with serve_loopback() as server, open_canary() as canary:
        # A server cannot pose as the proxy (whose answers carry Tuner-Egress).
        server.add("/page", "<html>ok</html>", headers={"Tuner-Egress": "refused"})
        server.add("/hop", "", status=302, headers={"Location": canary.url("/")})
        allowed = server.base.removeprefix("http://")
        async with running_proxy((allowed,)) as proxy:
            http = HttpClient(5.0, proxy=proxy.url("extract"))
            try:
                page = await http.get_text(server.url("/page?q=1"))
                assert page.text == "<html>ok</html>"
                for url in (server.url("/hop"), canary.url("/"), canary.url("/", "https")):
                    with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1:\d+ is a private"):
                        await http.get_text(url)
                assert proxy.problem("extract") is not None
            finally:
                await http.aclose()
        assert canary.connections == 0


async def _raw(port: int, request: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        data = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                data += chunk
    return data


async def test_the_proxy_wants_its_password_and_never_connects_to_itself() -> None:
    async with open_canary() as canary, running_proxy(("127.0.0.1",)) as proxy:
        target = f"127.0.0.1:{canary.port}"
        # No password, a wrong one: 407, and nothing connected.
        for auth in (b"", b"Proxy-Authorization: Basic " + base64.b64encode(b"x:wrong") + b"\r\n"):
            answer = await _raw(
                proxy.port, f"CONNECT {target} HTTP/1.1\r\n".encode() + auth + b"\r\n"
            )
            assert answer.startswith(b"HTTP/1.1 407 "), answer
        assert canary.connections == 0
        # With it, 127.0.0.1 allowed: the canary is reached, the proxy itself never.
        user, _, rest = proxy.url("t").removeprefix("http://").partition(":")
        password = rest.partition("@")[0]
        login = b"Proxy-Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode())
        answer = await _raw(
            proxy.port, f"CONNECT {target} HTTP/1.1\r\n".encode() + login + b"\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        for own in (f"127.0.0.1:{proxy.port}", f"[::ffff:127.0.0.1]:{proxy.port}"):
            request = f"CONNECT {own} HTTP/1.1\r\n".encode() + login + b"\r\n\r\n"
            answer = await _raw(proxy.port, request)
            assert answer.startswith(b"HTTP/1.1 403 "), answer
        await trio.sleep(0.1)
        assert canary.connections == 1
