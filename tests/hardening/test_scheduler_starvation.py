"""Background work is not starved by a continuous typing storm, and still yields.

The storm: a completion-sized foreground job every 10 ms, each superseding the last (one
key, as one document being typed in). The background job needs 0.3 s without being
preempted (a docstring hole's prompt and generation). Before the shield it was preempted
by every keystroke and never finished; now it gets shielded turns. The waits are bounds on
a hang, not speed assertions.
"""

from __future__ import annotations

import threading
import time

from lsp_server.engine import scheduler as scheduler_module
from lsp_server.engine.scheduler import Scheduler

WAIT = 30  # seconds; only starvation or a deadlock reaches it
assert scheduler_module.SHIELD_SECONDS > 0.3


def storm(scheduler: Scheduler, stop: threading.Event, answered: list[str], job_seconds: float = 0.002,
          started: list[int] | None = None) -> None:
    started = started if started is not None else []
    number = 0
    while not stop.is_set():
        number += 1
        future = scheduler.submit(
            "typed.py", lambda abort, n=number: (started.append(n), time.sleep(job_seconds), f"suggestion {n}")[2])
        future.add_done_callback(lambda done: done.result() and answered.append(done.result()))
        stop.wait(0.01)


def test_a_background_job_finishes_during_a_continuous_storm():
    scheduler = Scheduler()
    stop = threading.Event()
    answered: list[str] = []
    runs: list[str] = []

    def docstring(abort: threading.Event) -> str | None:
        runs.append("run")
        return None if abort.wait(0.3) else "docstring"

    typist = threading.Thread(target=storm, args=(scheduler, stop, answered))
    typist.start()
    try:
        time.sleep(0.1)
        future = scheduler.submit(("docstring", "other.py"), docstring, background=True)
        assert future.result(WAIT) == "docstring"  # raised TimeoutError before the shield
        assert len(runs) > scheduler_module.SHIELD_AFTER  # it was preempted first, as before
        during = len(answered)
        time.sleep(0.2)
        assert len(answered) > during  # and the storm is still being served
    finally:
        stop.set()
        typist.join()
        scheduler.close()


def test_a_shielded_job_still_yields_to_a_keystroke_after_its_turn():
    scheduler = Scheduler()
    stop = threading.Event()
    answered: list[str] = []
    aborted = threading.Event()

    def endless(abort: threading.Event) -> None:
        if abort.wait(WAIT):
            aborted.set()

    typist = threading.Thread(target=storm, args=(scheduler, stop, answered))
    typist.start()
    try:
        future = scheduler.submit(("review", "other.py"), endless, background=True)
        deadline = time.monotonic() + WAIT
        while len(answered) < 200 and time.monotonic() < deadline:  # ~2 s of typing: several shielded turns
            time.sleep(0.05)
        assert len(answered) >= 200, "keystrokes stopped being answered behind a shielded job"
        assert aborted.is_set()
        assert not future.done()  # preempted, so it runs again later; never dropped
    finally:
        stop.set()
        typist.join()
        scheduler.close()


def test_a_background_job_starts_even_when_the_model_is_slower_than_typing():
    """Each completion takes 20 ms, a keystroke comes every 10 ms: the worker is never idle
    (and each completion is superseded by the next keystroke), so a queued background job
    never got picked before."""
    scheduler = Scheduler()
    stop = threading.Event()
    answered: list[str] = []
    started: list[int] = []
    typist = threading.Thread(target=storm, args=(scheduler, stop, answered, 0.02, started))
    typist.start()
    try:
        time.sleep(0.1)
        future = scheduler.submit(("review", "other.py"), lambda abort: None if abort.wait(0.1) else "findings",
                                  background=True)
        assert future.result(WAIT) == "findings"
        during = len(started)
        time.sleep(0.3)
        assert len(started) > during  # completions still run
    finally:
        stop.set()
        typist.join()
        scheduler.close()
