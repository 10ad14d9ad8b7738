"""Fuzzing every JSON route's body, the search's query string and the websocket
client messages: the daemon answers 4xx to whatever it cannot use, never 5xx, and
keeps serving.

One daemon (a real ``tuner serve`` process) takes every example; after each test
it must still be healthy, and must log no unhandled error.
"""

from __future__ import annotations

import http.server
import json
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.daemon_process import DaemonProcess
from tests.loopback import serve_threaded
from tests.reliability.conftest import command_of, descendants
from tests.stub_search import PLUGINS, PREFIX
from tuner.client import LIMITS

PIN = "2468"

#: Every route that reads a JSON body, with the keys it knows (``{id}``: an item).
JSON_ROUTES = [
    ("POST", "/api/login", ["pin"]),
    ("POST", "/api/play", ["query", "preset", "mode", "item_id"]),
    ("POST", "/api/tune", ["preset", "mode"]),
    ("POST", "/api/queue", ["query", "position"]),
    ("POST", "/api/queue/{id}/move", ["position"]),
    ("POST", "/api/queue/{id}/play", ["preset", "mode"]),
    ("PUT", "/api/queue/autoplay", ["autoplay"]),
    ("POST", "/api/history/1/replay", ["preset", "mode"]),
]
#: Routes that take no body: whatever is sent is ignored or refused.
OTHER_ROUTES = [
    ("POST", "/api/stop"),
    ("POST", "/api/extract"),
    ("POST", "/api/queue/{id}/cancel"),
    ("POST", "/api/queue/{id}/retry"),
    ("DELETE", "/api/queue/{id}"),
    # Any token a client makes up: never issued, so 404 and nothing fetched.
    ("GET", "/api/thumbnail/{id}"),
]

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["testcard", "low", "ultra", "braille", "", "-o x", "file:///etc/passwd"])
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _bodies(keys: list[str]) -> st.SearchStrategy[bytes]:
    """Bodies a route might get: objects with its keys (any values), any JSON, any
    bytes, and JSON nested deeper than a parser's recursion limit."""
    objects = st.fixed_dictionaries({}, optional={key: json_values for key in keys})
    as_json = (objects | json_values).map(lambda value: json.dumps(value).encode())
    return st.one_of(
        as_json,
        st.binary(max_size=200),
        st.integers(1, 100_000).map(lambda depth: b"[" * depth + b"]" * depth),
    )


@contextmanager
def empty_search_site() -> Iterator[str]:
    """A loopback site for the test-only search plugin (tests/stub_search.py) that
    finds nothing for any words: searches then stay on this machine."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serve_threaded(Handler) as url:
        yield url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonProcess, str]]:
    """A daemon, and a logged-in cookie for it."""
    with DaemonProcess.start(tmp_path_factory.mktemp("fuzz"), pin=PIN) as daemon:
        with httpx.Client(base_url=daemon.base_url, limits=LIMITS) as client:
            assert client.post("/api/login", json={"pin": PIN}).status_code == 204
            cookie = client.cookies["tuner_session"]
        yield daemon, cookie
        with httpx.Client(base_url=daemon.base_url, limits=LIMITS) as client:
            assert client.get("/healthz").status_code == 200
        errors = [line for line in daemon.output if "Traceback" in line or " ERROR " in line]
        unexpected = [line for line in errors if "wrong PIN" not in line]
        assert not unexpected, "\n".join(daemon.output[-80:])


def _settle(daemon: DaemonProcess, cookie: str) -> None:
    """Stop playing, empty the queue, and see every ffmpeg of the daemon exit (the
    no-leak check runs after each test, while this daemon serves the next)."""
    with _client(daemon, cookie) as client:
        client.put("/api/queue/autoplay", json={"autoplay": False})
        client.delete("/api/queue")
        assert client.post("/api/stop").status_code == 204
        assert client.get("/healthz").status_code == 200
    deadline = time.monotonic() + 10
    while (left := _session_children(daemon)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"still running after stop: {left}"


def _session_children(daemon: DaemonProcess) -> list[list[str]]:
    """The daemon's ffmpegs and downloads (its warm yt-dlp worker stays, by design, and
    so does each child's guard, tuner.procs's)."""
    commands = [command_of(child) for child in descendants(daemon)]
    kept = ("tuner.ytdlp.resolve", "tuner-guard")
    return [c[:3] for c in commands if c and not any(k in c for k in kept)]


def _client(daemon: DaemonProcess, cookie: str) -> httpx.Client:
    return httpx.Client(
        base_url=daemon.base_url, cookies={"tuner_session": cookie}, timeout=30, limits=LIMITS
    )


def _item_id(client: httpx.Client) -> str:
    """A queued item's id, queuing one if the queue is empty."""
    items = client.get("/api/queue").json()["items"]
    if items:
        return str(items[0]["id"])
    response = client.post("/api/queue", json={"query": "testcard"})
    return str(response.json()["id"])


_FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "path", "keys"), JSON_ROUTES, ids=[r[1] for r in JSON_ROUTES])
def test_json_bodies_get_4xx_or_success_never_5xx(
    served: tuple[DaemonProcess, str], method: str, path: str, keys: list[str]
) -> None:
    daemon, cookie = served
    with httpx.Client(
        base_url=daemon.base_url, cookies={"tuner_session": cookie}, timeout=30, limits=LIMITS
    ) as client:
        item = _item_id(client)

        @_FUZZ
        @given(body=_bodies(keys), json_type=st.booleans())
        def example(body: bytes, json_type: bool) -> None:
            headers = {"Content-Type": "application/json"} if json_type else {}
            response = client.request(method, path.format(id=item), content=body, headers=headers)
            assert response.status_code < 500, (response.status_code, body[:200], response.text)
            if response.status_code >= 400:
                # Every refusal says why, as JSON.
                assert "error" in response.json()

        example()
    _settle(daemon, cookie)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("method", "path"), OTHER_ROUTES, ids=[r[1] for r in OTHER_ROUTES])
def test_routes_without_a_body_and_odd_ids(
    served: tuple[DaemonProcess, str], method: str, path: str
) -> None:
    daemon, cookie = served
    with httpx.Client(
        base_url=daemon.base_url, cookies={"tuner_session": cookie}, timeout=30, limits=LIMITS
    ) as client:

        @_FUZZ
        @given(item=st.text(min_size=1, max_size=40), body=st.binary(max_size=100))
        def example(item: str, body: bytes) -> None:
            url = path.format(id=urllib.parse.quote(item, safe=""))
            # A body the route does not read ends the connection after the answer, and
            # the answer says so (Connection: close): the client reuses none of them.
            response = client.request(method, url, content=body)
            assert response.status_code < 500, (response.status_code, url, response.text)

        example()
    _settle(daemon, cookie)


@pytest.mark.timeout(300)
def test_search_words_and_limits_get_results_or_4xx_never_5xx(tmp_path: Path) -> None:
    # A daemon of its own: each search uses up a yt-dlp worker and starts a new spare,
    # which the shared daemon's next tests would count as a process left behind.
    with (
        empty_search_site() as site,
        DaemonProcess.start(
            tmp_path,
            pin=PIN,
            env={"PYTHONPATH": str(PLUGINS), "TUNERSTUB_URL": site, "TUNER_SEARCH_PREFIX": PREFIX},
        ) as daemon,
        httpx.Client(base_url=daemon.base_url, timeout=30, limits=LIMITS) as client,
    ):
        assert client.post("/api/login", json={"pin": PIN}).status_code == 204

        @settings(_FUZZ, max_examples=40)
        @given(
            words=st.none() | st.text(max_size=60) | st.sampled_from(["-o x", "a" * 2001]),
            limit=st.none() | st.integers(-5, 50).map(str) | st.text(max_size=5),
        )
        def example(words: str | None, limit: str | None) -> None:
            params = {k: v for k, v in (("q", words), ("limit", limit)) if v is not None}
            response = client.get("/api/search", params=params)
            assert response.status_code in (200, 400), (response.status_code, params, response.text)
            body = response.json()
            if response.status_code == 400:
                assert body["error"] and body["detail"]
            else:
                assert isinstance(body["results"], list)

        example()
        assert client.get("/healthz").status_code == 200
    errors = [line for line in daemon.output if "Traceback" in line or " ERROR " in line]
    assert not errors, "\n".join(daemon.output[-80:])


_stats = st.fixed_dictionaries(
    {"type": st.just("stats")},
    optional={key: json_values for key in ("frames", "late", "render_ms")},
)
_client_messages = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.dictionaries(st.text(max_size=10), json_values, max_size=5).map(json.dumps),
    _stats.map(json.dumps),
    st.just('{"type": "keyframe"}'),
    st.just("x" * 5000),
)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", ["/ws/video", "/ws/events"])
def test_websocket_messages_are_ignored_or_used_never_fatal(
    served: tuple[DaemonProcess, str], path: str
) -> None:
    daemon, cookie = served
    with _client(daemon, cookie) as client:
        assert client.post("/api/play", json={"query": "testcard"}).status_code == 202
    url = "ws" + daemon.base_url.removeprefix("http") + path
    headers = [(b"Cookie", f"tuner_session={cookie}".encode())]

    @_FUZZ
    @given(messages=st.lists(_client_messages, min_size=1, max_size=8))
    def example(messages: list[Any]) -> None:
        async def talk() -> None:
            with trio.fail_after(20):
                async with open_websocket_url(url, extra_headers=headers) as ws:
                    for message in messages:
                        await ws.send_message(message)
                    # Still open and still sending: the garbage was ignored.
                    await ws.send_message('{"type": "keyframe"}')
                    try:
                        assert await ws.get_message()
                    except ConnectionClosed as closed:  # pragma: no cover
                        raise AssertionError(f"the server closed: {closed.reason}") from None

        trio.run(talk)

    example()
    _settle(daemon, cookie)
