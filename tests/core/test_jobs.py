"""The preparation job's life cycle and the cache's eviction plan (sans-IO)."""

from __future__ import annotations

import pytest

from tuner.core import jobs
from tuner.core.jobs import (
    CacheEntry,
    CacheFullError,
    Job,
    JobState,
    Progress,
    ProgressGate,
    TransitionError,
    plan_eviction,
)


def test_a_job_resolves_downloads_and_is_ready() -> None:
    job = jobs.resolving(Job())
    assert job.state is JobState.RESOLVING
    job = jobs.downloading(job, Progress(500, 1000, 250.0))
    assert job.to_json()["progress"] == {
        "percent": 50.0,
        "bytes": 500,
        "total_bytes": 1000,
        "speed": 250,
    }
    job = jobs.ready(job, cached=True)
    assert (job.state, job.cached, job.progress) == (JobState.READY, True, None)
    # Resolved again before its URLs expire.
    assert jobs.resolving(jobs.ready(jobs.resolving(Job()), cached=False)).state is (
        JobState.RESOLVING
    )


@pytest.mark.parametrize(
    "worker_step",
    [
        jobs.resolving,
        lambda job: jobs.downloading(job, Progress(1, 2)),
        lambda job: jobs.ready(job, cached=True),
        lambda job: jobs.failed(job, "video unavailable"),
    ],
)
@pytest.mark.parametrize("cancelled_while", [JobState.PENDING, JobState.DOWNLOADING])
def test_a_cancel_sticks_whatever_the_worker_writes_next(
    worker_step: object, cancelled_while: JobState
) -> None:
    job = (
        Job()
        if cancelled_while is JobState.PENDING
        else jobs.downloading(jobs.resolving(Job()), Progress(1))
    )
    cancelled = jobs.cancel(job)
    assert worker_step(cancelled) == Job(JobState.CANCELLED)  # type: ignore[operator]


def test_only_a_person_leaves_cancelled_or_failed() -> None:
    cancelled = jobs.cancel(jobs.ready(jobs.resolving(Job()), cached=False))
    assert jobs.retry(cancelled) == Job()
    failed = jobs.failed(jobs.resolving(Job()), "video unavailable")
    assert failed.to_json()["error"] == "video unavailable"
    assert jobs.retry(failed) == Job()
    with pytest.raises(TransitionError, match="nothing to cancel"):
        jobs.cancel(failed)
    with pytest.raises(TransitionError, match="only failed or cancelled"):
        jobs.retry(Job())


def test_a_worker_step_out_of_order_is_a_bug() -> None:
    with pytest.raises(TransitionError):
        jobs.downloading(Job(), Progress())
    with pytest.raises(TransitionError):
        jobs.failed(jobs.ready(Job(), cached=True), "late")


def test_a_restart_resumes_work_in_flight_and_keeps_what_a_person_said() -> None:
    downloading = jobs.downloading(jobs.resolving(Job()), Progress(5))
    assert jobs.restored(downloading, cached=False) == Job()
    assert jobs.restored(Job(JobState.READY), cached=False) == Job()
    assert jobs.restored(Job(JobState.READY), cached=True) == Job(JobState.READY, cached=True)
    assert jobs.restored(Job(JobState.FAILED, error="gone"), cached=True).error == "gone"
    assert jobs.restored(Job(JobState.CANCELLED), cached=True).state is JobState.CANCELLED


def test_progress_goes_out_a_few_times_a_second_and_state_changes_always() -> None:
    gate = ProgressGate(per_second=4)
    sent = [t for t in (0.0, 0.1, 0.2, 0.25, 0.3, 0.6) if gate.admit("a", t, state_changed=False)]
    assert sent == [0.0, 0.25, 0.6]
    assert gate.admit("a", 0.61, state_changed=True)
    assert gate.admit("b", 0.61, state_changed=False), "each job has its own pace"


def test_eviction_takes_the_least_recently_used_first_and_never_a_playing_file() -> None:
    entries = [CacheEntry("old", 40, 1.0), CacheEntry("playing", 30, 0.5), CacheEntry("new", 20, 3)]
    assert plan_eviction(entries, 10, limit=100) == []
    assert plan_eviction(entries, 20, limit=100, protected={"playing"}) == ["old"]
    assert plan_eviction(entries, 60, limit=100, protected={"playing"}) == ["old", "new"]
    assert plan_eviction(entries, 60, limit=100) == ["playing", "old"]


def test_a_file_that_cannot_fit_is_said_in_words() -> None:
    entries = [CacheEntry("playing", 90, 1.0)]
    with pytest.raises(CacheFullError, match="larger than the whole cache"):
        plan_eviction([], 200_000_000, limit=100_000_000)
    with pytest.raises(CacheFullError, match="full of files that are playing"):
        plan_eviction(entries, 20, limit=100, protected={"playing"})
