"""Scripted writers: the fake models of the docstring and tests features (their answers are fixed)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from lsp_server.features.docstring import DocstringPlan, DocstringWriter, Hole
from lsp_server.features.tests import TestWriter


class ScriptedWriter(DocstringWriter):
    """Fills holes from a mapping (hole key -> text) or a function of the hole."""

    name = "scripted"

    def __init__(self, script: Mapping[str, str] | Callable[[Hole], str]) -> None:
        self.script = script
        self.calls: list[str] = []

    def fill(self, plan: DocstringPlan, hole: Hole, fills: Mapping[str, str], abort: threading.Event) -> str:
        self.calls.append(hole.key)
        if callable(self.script):
            return self.script(hole)
        return self.script.get(hole.key, "")


class ScriptedTestWriter(TestWriter):
    """Writes `answers` in order, the last one again for any later call; records the error
    each call was given (None on a first attempt)."""

    name = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.errors: list[str | None] = []

    def write(self, plan, abort: threading.Event, error: str | None = None) -> str:
        self.errors.append(error)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
