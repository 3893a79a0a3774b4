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

Idle jobs (`submit(..., idle=True)`: prefilling the next prompt, speculating the next
completion) have the lowest priority. They run only when nothing else is queued, any
newer job aborts a running one at once, and an aborted idle job is dropped, never rerun.
There is at most one: a newer idle job replaces a queued one. The exception: an idle job
for the same `place` as the running one (the user typing on at one cursor, an edit after
each keystroke) queues behind it instead of aborting it, since it would redo the same work;
aborting at every keystroke would drop the batch in flight each time, so prefilling a new
place would never get far while the user types.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[threading.Event], T]


@dataclass(eq=False)
class _Task(Generic[T]):
    key: Hashable | None
    job: Job[T]
    future: Future[T | None] = field(default_factory=Future)
    abort: threading.Event = field(default_factory=threading.Event)
    background: bool = False
    idle: bool = False
    preempted: bool = False  # aborted to let a foreground job run; it runs again afterwards
    runs: int = 0
    place: Hashable | None = None  # idle jobs: where the cursor is (same place, same work)


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
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(
        self, key: Hashable | None, job: Job[T], *, background: bool = False, idle: bool = False,
        place: Hashable | None = None,
    ) -> Future[T | None]:
        """Queue `job`; a non-None `key` supersedes earlier jobs with the same key.

        A foreground job preempts a running background job, and every job a running idle
        one, except an idle job for the same non-None `place` (see the module docstring).
        """
        task: _Task[T] = _Task(key, job, background=background or idle, idle=idle, place=place)
        with self._condition:
            if self._closed:
                raise RuntimeError("the scheduler is closed; no more jobs can run.")
            goes_on = self._same_idle_work(task)
            if key is not None:
                self._supersede(key, abort_running=not goes_on)
            if idle:
                self._drop_idle()
            self._pending.append(task)
            running = self._running
            if running is not None and not running.abort.is_set() and not goes_on:
                if running.idle:
                    running.abort.set()
                elif not background and not idle and running.background:
                    running.preempted = True
                    running.abort.set()
            self._condition.notify()
        return task.future

    def _same_idle_work(self, task: _Task[Any]) -> bool:
        """True when `task` is an idle job for the place the running idle job works on."""
        running = self._running
        return (task.idle and task.place is not None and running is not None and running.idle
                and running.place == task.place)

    def _drop_idle(self) -> None:
        for task in [task for task in self._pending if task.idle]:
            self._pending.remove(task)
            _resolve(task.future, None)

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

    def _supersede(self, key: Hashable, abort_running: bool = True) -> None:
        for task in [task for task in self._pending if task.key == key]:
            self._pending.remove(task)
            _resolve(task.future, None)
        if abort_running and self._running is not None and self._running.key == key:
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
            task = next((task for task in self._pending if not task.background), None)
            task = task or next((task for task in self._pending if not task.idle), self._pending[0])
            self._pending.remove(task)
            self._running = task
            return task

    def _requeue_if_preempted(self, task: _Task[Any]) -> bool:
        """Put a preempted background job back in the queue to run again; True if it was."""
        with self._condition:
            if not task.preempted or self._closed or task.future.done():
                return False
            task.preempted = False
            task.abort = threading.Event()
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
