"""Docstring and test generation as scheduler jobs on the model's worker thread.

    docstring_job(runtime, path, text, offset, language, settings, style, replace, on_hole) -> job(abort)

The job is resumable: the holes it filled live in its closure, so when a completion
preempts it (Scheduler background jobs run again from the start after a foreground job)
it continues at the first hole still missing. It returns a FileEdit, or None if aborted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import logging

from lsp_server.features.docstring import Aborted, DocstringError, docstring_for_file
from lsp_server.settings import Settings

logger = logging.getLogger(__name__)


def docstring_job(
    runtime, path: Path, text: str, offset: int, language: str, settings: Settings, *,
    style: str = "auto", replace: bool = False, on_hole: Callable[[int, int], None] | None = None,
):
    fills: dict[str, str] = {}

    def job(abort: threading.Event):
        from lsp_server.features.writers import writer_for

        engine = runtime.engine
        if engine is None:
            raise DocstringError("no model is loaded; see the earlier error message or check 'seekcode.model'.")
        writer = writer_for(engine.backend, engine.family, engine.layout, settings)
        if fills:
            logger.info("docstring generation for %s resumes after %d filled holes", path, len(fills))
        else:
            logger.info("docstring generation for %s starts (%s writer)", path, writer.name)
        try:
            file_edit, _ = docstring_for_file(
                path, text, offset, language, writer, style=style, replace=replace,
                abort=abort, fills=fills, on_hole=on_hole,
            )
        except Aborted:
            logger.info("docstring generation for %s stopped after %d filled holes", path, len(fills))
            return None
        return file_edit

    job.fills = fills  # for tests and progress: what is done so far
    return job


def tests_job(runtime, plan, settings: Settings):
    """Generate tests for `plan` on the worker; None if aborted. A preempted run continues
    where it stopped: the text written so far lives in `resume`, kept across runs."""
    resume: dict[str, str] = {}

    def job(abort: threading.Event):
        from lsp_server.features.test_writers import test_writer_for
        from lsp_server.features.tests import Aborted as TestsAborted, TestsError, generate_tests

        engine = runtime.engine
        if engine is None:
            raise TestsError("no model is loaded; see the earlier error message or check 'seekcode.model'.")
        writer = test_writer_for(engine.backend, engine.family, engine.layout, settings, resume=resume)
        if resume:
            logger.info("test generation for %s resumes after %d characters", plan.path, sum(map(len, resume.values())))
        try:
            return generate_tests(plan, writer, abort)
        except TestsAborted:
            logger.info("test generation for %s stopped", plan.path)
            return None

    return job
