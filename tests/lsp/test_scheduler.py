"""The worker scheduler: order, supersede, cancel, errors (jobs here are plain callables)."""

import threading

import pytest

from lsp_server.engine.scheduler import Scheduler


@pytest.fixture
def scheduler():
    scheduler = Scheduler()
    yield scheduler
    scheduler.close()


def blocking_job(started: threading.Event, release: threading.Event, result="done"):
    def job(abort: threading.Event):
        started.set()
        while not abort.is_set() and not release.is_set():
            abort.wait(0.005)
        return result

    return job


def test_runs_jobs_in_order(scheduler):
    seen = []
    futures = [scheduler.submit(None, lambda abort, i=i: seen.append(i) or i) for i in range(5)]
    assert [future.result(5) for future in futures] == list(range(5))
    assert seen == list(range(5))


def test_newer_job_for_same_key_aborts_running_and_drops_queued(scheduler):
    started, release = threading.Event(), threading.Event()
    running = scheduler.submit("doc-a", blocking_job(started, release, "old"))
    assert started.wait(5)
    queued = scheduler.submit("doc-a", lambda abort: "queued")
    other = scheduler.submit("doc-b", lambda abort: "other doc")
    newest = scheduler.submit("doc-a", lambda abort: "newest")
    assert running.result(5) is None  # aborted mid-run, resolved empty, not an error
    assert queued.result(5) is None  # dropped without running
    assert other.result(5) == "other doc"
    assert newest.result(5) == "newest"


def test_cancel_running_job(scheduler):
    started, release = threading.Event(), threading.Event()
    running = scheduler.submit("doc", blocking_job(started, release))
    assert started.wait(5)
    scheduler.cancel(running)
    assert running.result(5) is None
    assert scheduler.submit("doc", lambda abort: 1).result(5) == 1


def test_failing_job_reports_error_and_worker_survives(scheduler):
    def broken(abort):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        scheduler.submit(None, broken).result(5)
    assert scheduler.submit(None, lambda abort: "alive").result(5) == "alive"


def test_cancelled_future_is_not_run(scheduler):
    started, release = threading.Event(), threading.Event()
    scheduler.submit("a", blocking_job(started, release))
    assert started.wait(5)
    ran = threading.Event()
    queued = scheduler.submit("b", lambda abort: ran.set())
    assert queued.cancel()
    release.set()
    assert scheduler.submit("c", lambda abort: "after").result(5) == "after"
    assert not ran.is_set()
