"""The model behind generated tests: an instruct model through its chat template, a base
model by continuing the test file.

    test_writer_for(backend, family=None, layout=None, settings=Settings()) -> TestWriter
"""

from __future__ import annotations

import re
import threading

from lsp_server.engine.families import Family, Layout, detect_family
from lsp_server.engine.prompt import PromptBuilder
from lsp_server.engine.symbols import parse
from lsp_server.features.completion import budget_for
from lsp_server.features.tests import TestsPlan, TestWriter
from lsp_server.settings import Settings

CHAT_MAX_TOKENS = 768
BASE_MAX_TOKENS = 256
SOURCE_CHARS = 6000

_FRAMEWORK_NAMES = {
    "pytest": "pytest", "unittest": "unittest (a unittest.TestCase subclass)", "jest": "Jest", "vitest": "Vitest",
    "go": "Go `testing` (func TestXxx(t *testing.T))", "rust": "Rust #[test] functions",
    "junit5": "JUnit 5 (a test class with @Test methods)",
}


def _source_excerpt(plan: TestsPlan) -> str:
    if len(plan.text) <= SOURCE_CHARS:
        return plan.text
    return plan.text[plan.symbol.start : plan.symbol.end][:SOURCE_CHARS]


def test_messages(plan: TestsPlan) -> list[dict[str, str]]:
    relative = plan.path.resolve().relative_to(plan.root.resolve()).as_posix()
    where = "inside the module's `tests` submodule (use super::* is already there)" if plan.framework == "rust" else (
        f"in {plan.test_path.name}, which already starts with:\n```\n{plan.header}\n```"
    )
    return [
        {"role": "system", "content": "You are an expert programmer who writes small, correct, deterministic unit tests."},
        {
            "role": "user",
            "content": (
                f"Here is {relative}:\n```{plan.language}\n{_source_excerpt(plan)}\n```\n\n"
                f"Write {_FRAMEWORK_NAMES[plan.framework]} tests for `{plan.symbol.name}`. They go {where}. "
                "Test normal cases, edge cases and errors it raises; assert exact values you are sure of. "
                "Do not repeat the imports shown. Reply with one code block and nothing else."
            ),
        },
    ]


class FenceStop:
    """Stop when the code block closes."""

    def __init__(self) -> None:
        self.text = ""

    def feed(self, piece: str) -> bool:
        self.text += piece
        return "```" in self.text


class ChatTestWriter(TestWriter):
    name = "chat"

    def __init__(self, backend, max_tokens: int = CHAT_MAX_TOKENS, resume: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.max_tokens = max_tokens
        # Text written before a preemption, continued on the next run (the job keeps this dict).
        self.resume = resume if resume is not None else {}

    def write(self, plan: TestsPlan, abort: threading.Event, error: str | None = None) -> str:
        messages = test_messages(plan)
        if error is not None:
            messages[-1]["content"] += f"\n\nYour previous answer was rejected: {error} Write complete, valid code."
        key = f"chat:{error}"
        written = self.resume.get(key, "")
        stop = FenceStop()
        stop.text = written
        generation = self.backend.chat(
            messages, answer_prefix=f"```{plan.language}\n{written}", max_tokens=max(1, self.max_tokens - len(written) // 4),
            temperature=0.0 if error is None else 0.3, abort=abort, on_text=stop.feed,
        )
        text = written + generation.text
        if abort.is_set():
            self.resume[key] = text  # preempted: the next run continues from here
            return ""
        self.resume.pop(key, None)
        return text.split("```", 1)[0]


def _starter(plan: TestsPlan) -> str:
    name = plan.symbol.name
    if plan.language == "python":
        if plan.framework == "unittest":
            return f"class Test{name[:1].upper()}{name[1:]}(unittest.TestCase):\n    def test_{name}(self):\n        "
        return f"def test_{name}():\n    "
    if plan.language == "go":
        return f"func Test{name[:1].upper()}{name[1:]}(t *testing.T) {{\n\t"
    if plan.language == "rust":
        return f"#[test]\nfn test_{name}() {{\n    "
    if plan.language == "java":
        return f"class {plan.path.stem}Test {{\n    @Test\n    void {name}Works() {{\n        "
    return f"test('{name}', () => {{\n  "


def complete_first_test(plan: TestsPlan, starter: str, generated: str) -> str:
    """The starter plus generated text, cut after the first complete test."""
    text = starter + generated
    if plan.language == "python":
        lines = text.split("\n")
        kept = [lines[0]]
        for line in lines[1:]:
            if line.strip() and not line.startswith((" ", "\t")):
                break
            kept.append(line)
        candidate = "\n".join(kept).rstrip() + "\n"
        return candidate if not parse(candidate if plan.framework != "unittest" else "import unittest\n" + candidate,
                                      "python").root_node.has_error else text
    depth = 0
    for index, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[: index + 1] + "\n"
    return text


class BaseTestWriter(TestWriter):
    """A base model continues the test file after a test function's first line."""

    name = "fim"

    def __init__(self, backend, family: Family | None = None, layout: Layout | None = None,
                 settings: Settings = Settings(), max_tokens: int = BASE_MAX_TOKENS,
                 resume: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.resume = resume if resume is not None else {}
        self.family = family or detect_family(backend.token_id, backend.metadata)
        self.builder = PromptBuilder(self.family, backend.tokenize, budget_for(settings, backend.context_size), layout=layout)
        self.max_tokens = max_tokens

    def write(self, plan: TestsPlan, abort: threading.Event, error: str | None = None) -> str:
        starter = _starter(plan)
        comment = "#" if plan.language == "python" else "//"
        source = re.sub(r"\n{3,}", "\n\n", _source_excerpt(plan))
        existing = plan.existing if plan.existing is not None else plan.header + "\n\n"
        prefix = (
            f"{comment} {plan.path.name}\n{source}\n\n{comment} {plan.test_path.name}\n"
            f"{existing.rstrip()}\n\n\n{starter}"
        )
        key = f"base:{error}"
        written = self.resume.get(key, "")
        prompt = self.builder.build(prefix + written, "", language=plan.language)
        generation = self.backend.generate(
            prompt.tokens, max_tokens=max(1, self.max_tokens - len(written) // 4), stop_ids=prompt.stop_ids,
            temperature=0.0 if error is None else 0.5, abort=abort,
        )
        # The prompt held the trailing indentation back; the model writes it.
        typed = (starter + written)[: len(starter + written) - len(prompt.held_back)]
        if abort.is_set():  # preempted: the next run continues after what is written so far
            self.resume[key] = (typed + generation.text)[len(starter) :]
            return ""
        self.resume.pop(key, None)
        return complete_first_test(plan, typed, generation.text)


def test_writer_for(backend, family: Family | None = None, layout: Layout | None = None,
                    settings: Settings = Settings(), resume: dict[str, str] | None = None) -> TestWriter:
    """`resume`: a dict the caller keeps across preempted runs, so writing continues where it stopped."""
    if backend.can_chat:
        return ChatTestWriter(backend, resume=resume)
    return BaseTestWriter(backend, family, layout, settings, resume=resume)
