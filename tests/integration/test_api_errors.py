"""Bad input gets a clear JSON error, and the daemon keeps serving."""

from __future__ import annotations

import pytest

from tests.integration.conftest import RunningDaemon


@pytest.mark.parametrize(
    ("body", "status", "detail_has"),
    [
        (b"not json", 400, "JSON object"),
        (b'"testcard"', 400, "JSON object"),
        (b"{}", 400, "'query' is required"),
        (b'{"query": ""}', 400, "'query' is required"),
        (b'{"query": 42}', 400, "must be a string"),
        (b'{"query": "testcard", "preset": "huge"}', 400, "unknown preset 'huge'"),
        (b'{"query": "testcard", "mode": "sepia"}', 400, "unknown mode 'sepia'"),
        (b'{"query": "testcard", "mode": 3}', 400, "'mode' must be a string"),
        (b'{"query": "file:///etc/passwd"}', 400, "only http and https"),
        (b'{"query": "ftp://example.com/v.mp4"}', 400, "only http and https"),
        (b'{"query": "/etc/passwd"}', 400, "local files are not played"),
        (b'{"query": "~/videos/a.mp4"}', 400, "local files are not played"),
        (b'{"query": "http:///nohost"}', 400, "has no host"),
        (b'{"query": "   "}', 400, "'query' is required"),
        (b'{"query": "a\\u0000b"}', 400, "control characters"),
    ],
)
async def test_bad_play_requests(
    daemon: RunningDaemon, body: bytes, status: int, detail_has: str
) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        response = await client.post("/api/play", content=body)
        assert response.status_code == status
        error = response.json()
        assert set(error) == {"error", "detail"}
        assert detail_has in error["detail"]
        # Nothing was started, and the daemon still answers.
        assert (await client.get("/api/status")).json()["state"] == "idle"


async def test_unknown_route_and_method_are_json_errors(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        response = await client.get("/api/nope")
        assert response.status_code == 404
        assert response.json()["error"] == "not found"
        response = await client.get("/api/login")
        assert response.status_code == 405
        assert "POST" in response.headers["allow"]


async def test_oversized_body_is_413(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        response = await client.post("/api/login", content=b"{" + b" " * 100_000 + b"}")
        assert response.status_code == 413
        await daemon.login(client)


async def test_presets_lists_every_preset_and_mode(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        body = (await client.get("/api/presets")).json()
    assert [(p["name"], p["cols"], p["rows"], p["fps"]) for p in body["presets"]] == [
        ("low", 120, 50, 24),
        ("med", 160, 68, 30),
        ("high", 200, 84, 30),
        ("ultra", 240, 100, 30),
    ]
    assert body["modes"] == ["mono", "color", "blocks", "braille"]
    assert body["default_preset"] == "low"
    assert body["default_mode"] == "mono"
    assert body["adaptive_quality"] is True


@pytest.mark.parametrize(
    ("body", "detail_has"),
    [
        (b"[]", "JSON object"),
        (b"{}", "send 'preset' and/or 'mode'"),
        (b'{"mode": "sepia"}', "unknown mode 'sepia'"),
        (b'{"preset": "huge"}', "unknown preset 'huge'"),
        (b'{"preset": 2}', "'preset' must be a string"),
        (b'{"mode": "color", "query": "x"}', "unknown keys ['query']"),
    ],
)
async def test_bad_tune_requests(daemon: RunningDaemon, body: bytes, detail_has: str) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        response = await client.post("/api/tune", content=body)
        assert response.status_code == 400
        assert detail_has in response.json()["detail"]


async def test_tuning_with_nothing_playing_is_a_conflict(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        response = await client.post("/api/tune", json={"mode": "color"})
        assert response.status_code == 409
        assert response.json()["error"] == "nothing is playing"
        assert (await client.get("/api/status")).json()["state"] == "idle"
