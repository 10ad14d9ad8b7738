"""Many plays in a row, as fast as the API takes them: superseding never leaks."""

from __future__ import annotations

import os

import trio

from tests.conftest import Media
from tests.integration.conftest import RunningDaemon
from tests.integration.helpers import live_ffmpegs, wait_for_ffmpegs, wait_for_state

PLAYS = 200


def count_tasks() -> int:
    """Every task of this trio run (the test's and the daemon's, which share it)."""

    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            walk(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return walk(trio.lowlevel.current_root_task())


async def settle() -> tuple[int, int]:
    """Open descriptors and tasks once the daemon is idle again."""
    await wait_for_ffmpegs(0)
    await trio.sleep(0.3)  # let the resolver's spare be replaced, the readers finish
    return len(os.listdir("/dev/fd")), count_tasks()


async def test_200_plays_leave_one_ffmpeg_and_no_leaks(daemon: RunningDaemon, media: Media) -> None:
    clip = media.url_of("clip720.mp4")
    async with daemon.client() as client:
        await daemon.login(client)
        await client.post("/api/play", json={"query": clip})
        await wait_for_state(client, "playing", timeout=20)
        await client.post("/api/stop")
        fds_before, tasks_before = await settle()

        for n in range(PLAYS):
            # Alternate a source that resolves (cached after the first play) and one
            # that needs no resolving, so supersedes hit every stage of a session.
            query = "testcard" if n % 2 else clip
            response = await client.post("/api/play", json={"query": query})
            assert response.status_code == 202
        status = await wait_for_state(client, "playing", timeout=20)
        assert status["title"] == "Test card"
        assert len(live_ffmpegs()) == 1
        assert len(await wait_for_ffmpegs(1)) == 1

        await client.post("/api/stop")
        fds_after, tasks_after = await settle()
        metrics = (await client.get("/metrics")).text

    assert abs(fds_after - fds_before) <= 4, (fds_before, fds_after)
    assert abs(tasks_after - tasks_before) <= 3, (tasks_before, tasks_after)
    assert f"tuner_sessions_started_total {PLAYS + 1}.0" in metrics
