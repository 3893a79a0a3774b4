"""A review (background job) never delays a completion: it yields, then runs again."""

from __future__ import annotations

import threading

from lsp_server.engine.scheduler import Scheduler

WAIT = 30  # seconds; only a deadlock would reach it


def test_foreground_job_preempts_a_running_background_job_which_then_reruns():
    scheduler = Scheduler()
    started = threading.Event()
    runs: list[str] = []
    order: list[str] = []

    def review(abort: threading.Event) -> str:
        runs.append("start")
        started.set()
        if len(runs) == 1:
            assert abort.wait(WAIT), "the first run was never preempted"
            runs.append("aborted")
            return "stale"
        order.append("review")
        return "findings"

    def completion(abort: threading.Event) -> str:
        order.append("completion")
        return "suggestion"

    try:
        review_future = scheduler.submit(("review", "a.py"), review, background=True)
        assert started.wait(WAIT)
        completion_future = scheduler.submit("a.py", completion)
        assert completion_future.result(WAIT) == "suggestion"
        assert review_future.result(WAIT) == "findings"
        assert runs == ["start", "aborted", "start"]
        assert order == ["completion", "review"]
    finally:
        scheduler.close()


def test_queued_foreground_jobs_run_before_queued_background_jobs():
    scheduler = Scheduler()
    gate = threading.Event()
    order: list[str] = []
    try:
        scheduler.submit("blocker", lambda abort: gate.wait(WAIT))
        background = scheduler.submit(("review", "a"), lambda abort: order.append("review"), background=True)
        foreground = scheduler.submit("b", lambda abort: order.append("completion"))
        gate.set()
        foreground.result(WAIT)
        background.result(WAIT)
        assert order == ["completion", "review"]
    finally:
        scheduler.close()


def test_a_newer_review_supersedes_a_preempted_one():
    scheduler = Scheduler()
    started = threading.Event()

    def old_review(abort: threading.Event) -> str:
        started.set()
        abort.wait(WAIT)
        return "old"

    try:
        old = scheduler.submit(("review", "a"), old_review, background=True)
        assert started.wait(WAIT)
        new = scheduler.submit(("review", "a"), lambda abort: "new", background=True)
        assert old.result(WAIT) is None
        assert new.result(WAIT) == "new"
    finally:
        scheduler.close()


def test_cancelling_a_running_background_job_does_not_rerun_it():
    scheduler = Scheduler()
    started = threading.Event()
    runs: list[int] = []

    def review(abort: threading.Event) -> str:
        runs.append(1)
        started.set()
        abort.wait(WAIT)
        return "done"

    try:
        future = scheduler.submit(("review", "a"), review, background=True)
        assert started.wait(WAIT)
        scheduler.cancel(future)
        assert future.result(WAIT) is None
        scheduler.submit("x", lambda abort: None).result(WAIT)
        assert runs == [1]
    finally:
        scheduler.close()
