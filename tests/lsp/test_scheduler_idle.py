"""The scheduler's idle lane (prefill, speculation): it never delays a keystroke's job.

Jobs here are plain callables that write an ordered event log from inside the worker, so
every assertion is about order (which job ran, in what sequence, how often), never time.
"""

from __future__ import annotations

import threading

import pytest

from lsp_server.engine.scheduler import Scheduler
from lsp_server.features.runtime import IDLE_JOB_KEY

WAIT = 10  # seconds; only a bound for a broken scheduler, never asserted on


@pytest.fixture
def scheduler():
    scheduler = Scheduler()
    yield scheduler
    scheduler.close()


class Log:
    """Events appended by jobs on the worker thread, in the order they happened."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()

    def add(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def quick(self, name: str, result=None):
        """A job that only records that it ran."""

        def job(abort: threading.Event):
            self.add(name)
            return name if result is None else result

        return job

    def until_aborted(self, name: str, started: threading.Event | None = None):
        """A job that runs until aborted (as a long prefill would), logging its start and its end."""

        def job(abort: threading.Event):
            self.add(f"{name} start")
            if started is not None:
                started.set()
            assert abort.wait(WAIT), f"{name} was never aborted"
            self.add(f"{name} aborted")
            return name

        return job

    def until_released(self, name: str, started: threading.Event, release: threading.Event):
        """A job that holds the worker until `release`, noting whether something aborted it meanwhile."""

        def job(abort: threading.Event):
            self.add(f"{name} start")
            started.set()
            assert release.wait(WAIT), f"{name} was never released"
            self.add(f"{name} end{' (aborted)' if abort.is_set() else ''}")
            return name

        return job


def test_a_foreground_job_aborts_a_running_idle_job_and_runs_next(scheduler):
    log, started = Log(), threading.Event()
    idle = scheduler.submit(IDLE_JOB_KEY, log.until_aborted("idle", started), idle=True)
    assert started.wait(WAIT)
    keystroke = scheduler.submit("file:///a.py", log.quick("keystroke"))
    assert keystroke.result(WAIT) == "keystroke"
    assert idle.result(WAIT) is None  # dropped, not an error and not its return value
    after = scheduler.submit("file:///a.py", log.quick("next keystroke"))
    assert after.result(WAIT) == "next keystroke"
    assert log.events == ["idle start", "idle aborted", "keystroke", "next keystroke"]  # never rerun


@pytest.mark.parametrize("lane", ["foreground", "background", "idle"])
def test_any_newer_job_aborts_a_running_idle_job(scheduler, lane):
    log, started = Log(), threading.Event()
    idle = scheduler.submit(None, log.until_aborted("idle", started), idle=True)
    assert started.wait(WAIT)
    newer = scheduler.submit(None, log.quick("newer"), background=lane == "background", idle=lane == "idle")
    assert newer.result(WAIT) == "newer"
    assert idle.result(WAIT) is None
    assert log.events == ["idle start", "idle aborted", "newer"]


def test_an_idle_job_queued_behind_foreground_and_background_jobs_runs_last(scheduler):
    log, started, release = Log(), threading.Event(), threading.Event()
    blocker = scheduler.submit("file:///a.py", log.until_released("blocker", started, release))
    assert started.wait(WAIT)
    idle = scheduler.submit(IDLE_JOB_KEY, log.quick("idle"), idle=True)
    review = scheduler.submit("review", log.quick("review"), background=True)
    keystroke = scheduler.submit("file:///b.py", log.quick("keystroke"))
    release.set()
    assert [f.result(WAIT) for f in (blocker, keystroke, review, idle)] == ["blocker", "keystroke", "review", "idle"]
    assert log.events == ["blocker start", "blocker end", "keystroke", "review", "idle"]


@pytest.mark.parametrize("key", [None, IDLE_JOB_KEY], ids=["no key", "idle key"])
def test_a_newer_idle_job_replaces_a_queued_one(scheduler, key):
    log, started, release = Log(), threading.Event(), threading.Event()
    blocker = scheduler.submit("file:///a.py", log.until_released("blocker", started, release))
    assert started.wait(WAIT)
    older = scheduler.submit(key, log.quick("older idle"), idle=True)
    newer = scheduler.submit(key, log.quick("newer idle"), idle=True)
    assert older.result(WAIT) is None  # resolved at once, before the worker is free
    assert scheduler.queued == 1
    release.set()
    assert blocker.result(WAIT) == "blocker"
    assert newer.result(WAIT) == "newer idle"
    assert log.events == ["blocker start", "blocker end", "newer idle"]


@pytest.mark.parametrize("key", [None, IDLE_JOB_KEY], ids=["no key", "idle key"])
def test_a_newer_idle_job_aborts_a_running_one(scheduler, key):
    log, started = Log(), threading.Event()
    older = scheduler.submit(key, log.until_aborted("older idle", started), idle=True)
    assert started.wait(WAIT)
    newer = scheduler.submit(key, log.quick("newer idle"), idle=True)
    assert newer.result(WAIT) == "newer idle"
    assert older.result(WAIT) is None
    assert log.events == ["older idle start", "older idle aborted", "newer idle"]


@pytest.mark.parametrize("lane", ["foreground", "background"])
def test_an_idle_job_does_not_abort_a_running_job(scheduler, lane):
    log, started, release = Log(), threading.Event(), threading.Event()
    running = scheduler.submit("job", log.until_released(lane, started, release), background=lane == "background")
    assert started.wait(WAIT)
    idle = scheduler.submit(IDLE_JOB_KEY, log.quick("idle"), idle=True)
    release.set()
    assert running.result(WAIT) == lane  # its own result: it was not aborted
    assert idle.result(WAIT) == "idle"
    assert log.events == [f"{lane} start", f"{lane} end", "idle"]


def test_a_background_job_is_still_preempted_and_rerun_while_an_idle_job_waits(scheduler):
    log, started = Log(), threading.Event()
    runs = []

    def review(abort: threading.Event):
        runs.append(len(runs) + 1)
        log.add(f"review run {len(runs)}")
        if len(runs) == 1:
            started.set()
            assert abort.wait(WAIT), "the first run was never preempted"
            log.add("review preempted")
            return "partial"
        return "review"

    background = scheduler.submit("review", review, background=True)
    assert started.wait(WAIT)
    idle = scheduler.submit(IDLE_JOB_KEY, log.quick("idle"), idle=True)
    keystroke = scheduler.submit("file:///a.py", log.quick("keystroke"))
    assert keystroke.result(WAIT) == "keystroke"
    assert background.result(WAIT) == "review"  # the rerun's result, not the preempted run's
    assert idle.result(WAIT) == "idle"
    assert log.events == ["review run 1", "review preempted", "keystroke", "review run 2", "idle"]


def test_an_idle_job_submitted_while_a_keystroke_is_queued_still_runs_after_it(scheduler):
    """The runtime submits a follow-up right after an answer; a keystroke already queued goes first."""
    log, started, release = Log(), threading.Event(), threading.Event()
    blocker = scheduler.submit("file:///a.py", log.until_released("answer", started, release))
    assert started.wait(WAIT)
    keystroke = scheduler.submit("file:///b.py", log.quick("keystroke"))
    idle = scheduler.submit(IDLE_JOB_KEY, log.quick("follow-up"), idle=True)
    release.set()
    assert [f.result(WAIT) for f in (blocker, keystroke, idle)] == ["answer", "keystroke", "follow-up"]
    assert log.events == ["answer start", "answer end", "keystroke", "follow-up"]


def test_close_drops_a_queued_idle_job_without_running_it(scheduler):
    log, started = Log(), threading.Event()
    running = scheduler.submit("file:///a.py", log.until_aborted("keystroke", started))
    assert started.wait(WAIT)
    idle = scheduler.submit(IDLE_JOB_KEY, log.quick("idle"), idle=True)
    scheduler.close()
    assert idle.result(WAIT) is None and running.result(WAIT) is None
    assert log.events == ["keystroke start", "keystroke aborted"]


def test_an_idle_job_for_the_same_place_queues_behind_the_running_one(scheduler):
    """Typing on at one cursor sends an edit per keystroke; each asks for the prefill already running."""
    log, started, release = Log(), threading.Event(), threading.Event()
    running = scheduler.submit(IDLE_JOB_KEY, log.until_released("prefill", started, release), idle=True,
                               place=("file:///a.py", 3))
    assert started.wait(WAIT)
    dropped = scheduler.submit(IDLE_JOB_KEY, log.quick("edit 1"), idle=True, place=("file:///a.py", 3))
    newest = scheduler.submit(IDLE_JOB_KEY, log.quick("edit 2"), idle=True, place=("file:///a.py", 3))
    assert dropped.result(WAIT) is None  # the queued one is still replaced by the newer
    release.set()
    assert running.result(WAIT) == "prefill"  # finished, not aborted
    assert newest.result(WAIT) == "edit 2"
    assert log.events == ["prefill start", "prefill end", "edit 2"]


@pytest.mark.parametrize("place", [("file:///a.py", 4), ("file:///b.py", 3), None], ids=["other lines", "other file", "no place"])
def test_an_idle_job_for_another_place_aborts_the_running_one(scheduler, place):
    log, started = Log(), threading.Event()
    older = scheduler.submit(IDLE_JOB_KEY, log.until_aborted("prefill", started), idle=True, place=("file:///a.py", 3))
    assert started.wait(WAIT)
    newer = scheduler.submit(IDLE_JOB_KEY, log.quick("moved"), idle=True, place=place)
    assert newer.result(WAIT) == "moved"
    assert older.result(WAIT) is None
    assert log.events == ["prefill start", "prefill aborted", "moved"]


def test_a_keystroke_still_aborts_an_idle_job_that_same_place_edits_let_run(scheduler):
    log, started = Log(), threading.Event()
    idle = scheduler.submit(IDLE_JOB_KEY, log.until_aborted("prefill", started), idle=True, place=("file:///a.py", 3))
    assert started.wait(WAIT)
    edit = scheduler.submit(IDLE_JOB_KEY, log.quick("edit"), idle=True, place=("file:///a.py", 3))
    keystroke = scheduler.submit("file:///a.py", log.quick("keystroke"))
    assert keystroke.result(WAIT) == "keystroke"
    assert idle.result(WAIT) is None
    assert edit.result(WAIT) == "edit"
    assert log.events == ["prefill start", "prefill aborted", "keystroke", "edit"]


def test_the_idle_place_is_the_document_and_the_block_of_lines_of_the_prompt_tail():
    from lsp_server.features.completion import CompletionRequest
    from lsp_server.features.runtime import idle_place

    text = "".join(f"line {number}\n" for number in range(40))
    def at(line: int, column: int = 0, uri: str = "file:///a.py"):
        return idle_place(CompletionRequest(text, text.index(f"line {line}\n") + column, "python", uri=uri))

    assert at(17) == at(17, 4) == at(16) == at(23, 2)  # lines 16-23: one anchor block (8 lines)
    assert at(24) != at(23)
    assert at(17, uri="file:///b.py") != at(17)
