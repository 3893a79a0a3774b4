"""A scripted docstring writer: the fake model of the placement tests (fills are fixed)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from lsp_server.features.docstring import DocstringPlan, DocstringWriter, Hole


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
