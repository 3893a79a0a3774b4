"""One worker thread that owns the model and runs jobs one at a time.

A job is a callable `job(abort: threading.Event) -> result`, run on the worker thread;
long jobs check `abort` between tokens. `submit(key, job)` returns a
`concurrent.futures.Future`. A newer job with the same key (a document URI)
supersedes the older ones: a queued one is dropped, a running one is aborted
mid-generation. Superseded and cancelled jobs resolve to `None`, never to an error, so
an editor typing fast sees empty results instead of an error storm.

Background jobs (`submit(..., background=True)`: reviews, docstrings, tests) yield to
every other job: a foreground job (a completion) queued while one runs aborts it and
runs first; the background job then starts again from the beginning (its KV prefix is
mostly still cached). Queued foreground jobs always run before queued background ones.

Under a continuous storm of foreground jobs (typing at 100 characters a second) that
alone would starve background work forever: each restart re-evaluates its prompt and is
preempted before it gets anywhere, and with a model slower than typing the worker is never
idle, so it would not even start. So a background job preempted `SHIELD_AFTER` times, or
queued for `SHIELD_GAP_SECONDS`, runs its next turn first and shielded: foreground jobs
queue behind it for `SHIELD_SECONDS` (doubling with each of its shielded turns, up to
`SHIELD_MAX_SECONDS`, as a slow model's prompt may take that long to evaluate), then preempt
it as usual. After a shielded turn the next one waits `SHIELD_GAP_FACTOR` times its length,
which caps background work at about a quarter of a busy worker's time. A job that needs
little finishes in its first turn; a keystroke waits at most one turn.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

SHIELD_AFTER = 2  # preemptions of one background job before its turns are shielded
SHIELD_SECONDS = 0.5  # a job's first shielded turn; each next one is twice as long, up to
SHIELD_MAX_SECONDS = 8.0  # (a slow model's prompt alone can take seconds to evaluate)
SHIELD_GAP_SECONDS = 1.5  # queued this long, a background job is starved; and the pause
SHIELD_GAP_FACTOR = 3  # after a shielded turn is this many times the turn's length
Job = Callable[[threading.Event], T]


@dataclass(eq=False)
class _Task(Generic[T]):
    key: Hashable | None
    job: Job[T]
    future: Future[T | None] = field(default_factory=Future)
    abort: threading.Event = field(default_factory=threading.Event)
    background: bool = False
    preempted: bool = False  # aborted to let a foreground job run; it runs again afterwards
    runs: int = 0
    preemptions: int = 0
    shielded_until: float = 0.0  # monotonic time until which this run is not preempted
    shielded_turns: int = 0
    timer_run: int = 0  # the run a delayed preemption is armed for
    queued_at: float = field(default_factory=time.monotonic)


def _resolve(future: Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Settle a future unless the caller already cancelled it."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


class Scheduler:
    def __init__(self, name: str = "seekcode-worker") -> None:
        self._pending: collections.deque[_Task[Any]] = collections.deque()
        self._running: _Task[Any] | None = None
        self._condition = threading.Condition()
        self._closed = False
        self._next_shield = 0.0  # monotonic time before which no turn is shielded
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: Hashable | None, job: Job[T], *, background: bool = False) -> Future[T | None]:
        """Queue `job`; a non-None `key` supersedes earlier jobs with the same key.

        A foreground job preempts a running background job (see the module docstring).
        """
        task: _Task[T] = _Task(key, job, background=background)
        with self._condition:
            if self._closed:
                raise RuntimeError("the scheduler is closed; no more jobs can run.")
            if key is not None:
                self._supersede(key)
            self._pending.append(task)
            running = self._running
            if not background and running is not None and running.background and not running.abort.is_set():
                shield_left = running.shielded_until - time.monotonic()
                if shield_left > 0:
                    self._preempt_later(running, running.runs, shield_left)
                else:
                    self._preempt(running)
            self._condition.notify()
        return task.future

    def _preempt(self, task: _Task[Any]) -> None:
        task.preempted = True
        task.preemptions += 1
        task.abort.set()

    def _preempt_later(self, task: _Task[Any], run: int, delay: float) -> None:
        def preempt() -> None:
            with self._condition:
                waiting = any(not queued.background for queued in self._pending)
                if self._running is task and task.runs == run and waiting and not task.abort.is_set():
                    self._preempt(task)

        if task.timer_run != run:  # one timer per shielded turn
            task.timer_run = run
            timer = threading.Timer(delay, preempt)
            timer.daemon = True
            timer.start()

    def cancel(self, future: Future[Any]) -> None:
        """Drop the job behind `future` if queued, abort it if running."""
        with self._condition:
            for task in self._pending:
                if task.future is future:
                    self._pending.remove(task)
                    _resolve(task.future, None)
                    return
            if self._running is not None and self._running.future is future:
                self._running.preempted = False
                self._running.abort.set()

    def supersede(self, key: Hashable) -> None:
        """Drop queued jobs for `key` and abort its running one, without queueing another."""
        with self._condition:
            self._supersede(key)

    def _supersede(self, key: Hashable) -> None:
        for task in [task for task in self._pending if task.key == key]:
            self._pending.remove(task)
            _resolve(task.future, None)
        if self._running is not None and self._running.key == key:
            self._running.preempted = False
            self._running.abort.set()

    @property
    def queued(self) -> int:
        with self._condition:
            return len(self._pending)

    def close(self, timeout: float | None = 10.0) -> None:
        """Abort the running job, drop queued ones and stop the worker."""
        with self._condition:
            self._closed = True
            while self._pending:
                _resolve(self._pending.popleft().future, None)
            if self._running is not None:
                self._running.abort.set()
            self._condition.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _next_task(self) -> _Task[Any] | None:
        with self._condition:
            while not self._pending and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            now = time.monotonic()
            task = self._starved(now) or next((task for task in self._pending if not task.background), self._pending[0])
            self._pending.remove(task)
            self._running = task
            if task.background and self._is_starved(task, now) and now >= self._next_shield:
                length = min(SHIELD_SECONDS * 2 ** task.shielded_turns, SHIELD_MAX_SECONDS)
                task.shielded_turns += 1
                task.shielded_until = now + length
                self._next_shield = task.shielded_until + SHIELD_GAP_FACTOR * length
                logger.info("background job for %s runs shielded for %.1f s after %d preemptions",
                            task.key, length, task.preemptions)
            else:
                task.shielded_until = 0.0
            return task

    @staticmethod
    def _is_starved(task: _Task[Any], now: float) -> bool:
        return task.preemptions >= SHIELD_AFTER or now - task.queued_at >= SHIELD_GAP_SECONDS

    def _starved(self, now: float) -> _Task[Any] | None:
        """A background job whose shielded turn is due: preempted again and again, or
        waiting behind a worker that foreground jobs keep busy (a model slower than typing)."""
        if now < self._next_shield:
            return None
        return next((task for task in self._pending if task.background and self._is_starved(task, now)), None)

    def _requeue_if_preempted(self, task: _Task[Any]) -> bool:
        """Put a preempted background job back in the queue to run again; True if it was."""
        with self._condition:
            if not task.preempted or self._closed or task.future.done():
                return False
            task.preempted = False
            task.abort = threading.Event()
            task.queued_at = time.monotonic()
            self._pending.append(task)
            return True

    def _work(self) -> None:
        while (task := self._next_task()) is not None:
            try:
                task.runs += 1
                if task.runs == 1 and not task.future.set_running_or_notify_cancel():
                    continue
                try:
                    result = task.job(task.abort)
                except BaseException as error:  # delivered to the waiter, never kills the worker
                    if self._requeue_if_preempted(task):
                        continue
                    if task.abort.is_set():
                        _resolve(task.future, None)
                    else:
                        logger.exception("job for %s failed", task.key)
                        _resolve(task.future, error=error)
                else:
                    if self._requeue_if_preempted(task):
                        continue
                    _resolve(task.future, None if task.abort.is_set() else result)
            finally:
                with self._condition:
                    self._running = None
