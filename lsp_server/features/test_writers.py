"""The model behind generated tests: an instruct model through its chat template, a base
model by continuing the test file.

    test_writer_for(backend, family=None, layout=None, settings=Settings()) -> TestWriter
"""

from __future__ import annotations

import ast
import re
import textwrap
import threading

from lsp_server.engine.families import Family, Layout, detect_family
from lsp_server.engine.prompt import PromptBuilder
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
                f"Write 4 to 8 short tests. {_pin_behaviour(plan)} Cover typical inputs and edge cases "
                "(empty, zero, negative, boundaries) and the errors it raises. "
                "Do not repeat the imports shown. Reply with one code block and nothing else."
            ),
        },
    ]


def _pin_behaviour(plan: TestsPlan) -> str:
    """Ask for concrete input -> output checks: they pin behaviour (and --run can repair a wrong value)."""
    name = plan.symbol.name
    if plan.language == "python" and plan.symbol.kind == "function":
        check = f"self.assertEqual({name}(...), expected)" if plan.framework == "unittest" else f"assert {name}(...) == expected"
        return f"Each test calls `{name}` with concrete literal arguments and checks its exact result: `{check}`."
    return f"Each test calls `{name}` with concrete literal arguments and asserts its exact result."


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
    """The first line(s) of a test, typed for a base model; for a Python function it ends in an
    assertion on a call, so the test pins a value (a wrong one is repaired under --run)."""
    name = plan.symbol.name
    if plan.language == "python":
        function = plan.symbol.kind == "function"
        if plan.framework == "unittest":
            call = f"self.assertEqual({name}(" if function else ""
            return f"class Test{name[:1].upper()}{name[1:]}(unittest.TestCase):\n    def test_{name}(self):\n        {call}"
        return f"def test_{name}():\n    " + (f"assert {name}(" if function else "")
    if plan.language == "go":
        return f"func Test{name[:1].upper()}{name[1:]}(t *testing.T) {{\n\t"
    if plan.language == "rust":
        return f"#[test]\nfn test_{name}() {{\n    "
    if plan.language == "java":
        return f"class {plan.path.stem}Test {{\n    @Test\n    void {name}Works() {{\n        "
    return f"test('{name}', () => {{\n  "


def complete_first_test(plan: TestsPlan, starter: str, generated: str) -> str:
    """The starter plus generated text, cut after the first complete test (Python: its longest
    run of lines that parses)."""
    text = starter + generated
    if plan.language == "python":
        lines = text.split("\n")
        header_lines = starter.count("\n") + 1
        kept = lines[:header_lines]
        for line in lines[header_lines:]:
            if line.strip() and not line.startswith((" ", "\t")):
                break
            kept.append(line)
        for end in range(len(kept), header_lines - 1, -1):
            candidate = "\n".join(kept[:end]).rstrip() + "\n"
            try:
                ast.parse(candidate)
            except SyntaxError:
                continue
            return candidate
        return text
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
        if plan.language == "python" and plan.symbol.kind == "function" and plan.framework in ("pytest", "unittest"):
            return self._write_calls(plan, abort, error)
        starter = _starter(plan)
        key = f"base:{error}"
        written = self.resume.get(key, "")
        prompt = self.builder.build(self._prefix(plan) + starter + written, "", language=plan.language)
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

    def _prefix(self, plan: TestsPlan) -> str:
        comment = "#" if plan.language == "python" else "//"
        source = re.sub(r"\n{3,}", "\n\n", _source_excerpt(plan))
        existing = plan.existing if plan.existing is not None else plan.header + "\n\n"
        return f"{comment} {plan.path.name}\n{source}\n\n{comment} {plan.test_path.name}\n{existing.rstrip()}\n\n\n"

    def _write_calls(self, plan: TestsPlan, abort: threading.Event, error: str | None) -> str:
        """Up to CALL_TESTS tests, each one assertion on one call with literal arguments, the
        model choosing arguments and expected value under a grammar. Inputs are what a small
        model can propose; the value is pinned (and, under --run, repaired) from the code."""
        name = plan.symbol.name
        unittest = plan.framework == "unittest"
        grammar = call_grammar(plan, unittest)
        key = f"base:{error}"
        written = self.resume.get(key, "")
        # A preempted test is written again from its first line (a grammar cannot resume mid-way).
        done = written[: written.rfind("\n") + 1] if written.count("\n") else ""
        calls = _CALL_LINE.findall(done)
        for attempt in range(CALL_TESTS + 3):  # a few more samples than tests: duplicates are skipped
            if len(calls) >= CALL_TESTS:
                break
            number = len(calls)
            opening = _test_opening(name, number, unittest)
            prompt = self.builder.build(self._prefix(plan) + _calls_text(name, calls, unittest) + opening, "",
                                        language=plan.language)
            generation = self.backend.generate(
                prompt.tokens, max_tokens=CALL_MAX_TOKENS, stop_ids=prompt.stop_ids, grammar=grammar, abort=abort,
                temperature=0.0 if attempt == 0 and error is None else 0.8, on_text=lambda piece: "\n" in piece,
            )
            if abort.is_set():
                self.resume[key] = _calls_text(name, calls, unittest) + opening + generation.text
                return ""
            line = generation.text.split("\n", 1)[0]
            if generation.text.endswith("\n") and _complete_call(name, line, unittest) \
                    and _call_part(line, unittest) not in {_call_part(call, unittest) for call in calls}:
                calls.append(line)
        self.resume.pop(key, None)
        return _calls_text(name, calls, unittest)


CALL_TESTS = 5
CALL_MAX_TOKENS = 64
_CALL_LINE = re.compile(r"^\s*(?:assert \w+\(|self\.assertEqual\(\w+\()(.*)$", re.M)
_VALUE_GRAMMAR = r"""
value ::= arg | "None" | "True" | "False"
arg ::= number | string | list
number ::= "-"? ("0" | [1-9] [0-9]{0,2}) ("." [0-9]{1,2})?
string ::= "'" [a-zA-Z0-9 ,.:;!?_/+*#@=<>()-]{0,24} "'"
list ::= "[" number (", " number){1,5} "]" | "[" string (", " string){1,5} "]"
"""


def _test_opening(name: str, number: int, unittest: bool) -> str:
    test = f"test_{name}" + (f"_{number + 1}" if number else "")
    if unittest:
        head = f"class Test{name[:1].upper()}{name[1:]}(unittest.TestCase):\n" if number == 0 else "\n"
        return f"{head}    def {test}(self):\n        self.assertEqual({name}("
    return ("" if number == 0 else "\n\n") + f"def {test}():\n    assert {name}("


def _calls_text(name: str, calls: list[str], unittest: bool) -> str:
    return "".join(_test_opening(name, number, unittest) + call + "\n" for number, call in enumerate(calls))


def _call_part(line: str, unittest: bool) -> str:
    """The arguments of a written call, without the expected value (a repeated call adds nothing)."""
    return line.rsplit("), ", 1)[0] if unittest else line.rsplit(" == ", 1)[0]


def _complete_call(name: str, line: str, unittest: bool) -> bool:
    """`line` (what follows `assert name(` or `self.assertEqual(name(`) completes a check that
    Python can parse (the grammar bounds its shape, not every literal's spelling)."""
    if not (line.endswith(")") if unittest else " == " in line):
        return False
    statement = f"self.assertEqual({name}({line}" if unittest else f"assert {name}({line}"
    try:
        ast.parse(statement)
    except SyntaxError:
        return False
    return True


def call_grammar(plan: TestsPlan, unittest: bool) -> str:
    """GBNF for the rest of `assert f(` (or `self.assertEqual(f(`): one literal per positional
    parameter, of the kind the code suggests for it (see parameter_kinds), the optional ones
    optional; then the expected value."""
    try:
        function = ast.parse(textwrap.dedent(plan.text[plan.symbol.start : plan.symbol.end])).body[0]
        kinds, required = parameter_kinds(function)
    except (SyntaxError, IndexError, AttributeError):
        kinds, required = ["arg", "arg", "arg"], 1
    arguments = '""'
    for index in range(len(kinds) - 1, -1, -1):  # nested from the last: a, (", " b (", " c)?)?
        tail = "" if arguments == '""' else f" {arguments}"
        head = kinds[index] if index == 0 else f'", " {kinds[index]}'
        arguments = f"{head}{tail}" if index < required else f"({head}{tail})?"
    closing = r'"), " value ")\n"' if unittest else r'") == " value "\n"'
    return f"root ::= {arguments} {closing}\n" + _VALUE_GRAMMAR


_STRING_METHODS = {"split", "strip", "lstrip", "rstrip", "lower", "upper", "startswith", "endswith", "replace",
                   "encode", "find", "rfind", "splitlines", "expandtabs", "isdigit", "isspace", "format", "partition"}
_NUMBER_NAMES = re.compile(r"^(n|k|i|j|width|count|num|number|size|length|index|lo|hi|start|stop|step|base|"
                           r"tabsize|level|year|month|day|r|g|b|h|s|v|l|y|q|amount|digits|precision|max_\w+|min_\w+)$")
_STRING_NAMES = re.compile(r"(text|str|string|name|path|prefix|suffix|sep|char|word|line|pattern|fmt|url|host|"
                           r"encoding|mode|title|placeholder|header|addr|ext)s?$")
_LIST_NAMES = re.compile(r"^(data|xs|ys|x|y|a|items|seq|sequence|iterable|values|lst|list|args|elements|weights)$")


def parameter_kinds(function: ast.FunctionDef) -> tuple[list[str], int]:
    """The literal kind ("number" | "string" | "list" | "arg") of each positional parameter,
    from its annotation, its default, how the body uses it, then its name; and how many
    are required."""
    arguments = function.args
    names = [argument.arg for argument in (*arguments.posonlyargs, *arguments.args)]
    annotations = {argument.arg: argument.annotation for argument in (*arguments.posonlyargs, *arguments.args)}
    defaults = dict(zip(names[len(names) - len(arguments.defaults) :], arguments.defaults))
    uses: dict[str, set[str]] = {name: set() for name in names}
    compared: list[tuple[str, str]] = []  # parameters compared with each other are of one kind
    for node in ast.walk(function):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in uses:
            if node.attr in _STRING_METHODS:
                uses[node.value.id].add("string")
        elif isinstance(node, ast.BinOp):
            for side in (node.left, node.right):
                if isinstance(side, ast.Name) and side.id in uses and isinstance(
                        node.op, (ast.Sub, ast.Div, ast.FloorDiv, ast.Pow)):
                    uses[side.id].add("number")
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.iter, ast.Name) and node.iter.id in uses:
            uses[node.iter.id].add("list")
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in uses:
            uses[node.value.id].add("list")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1 \
                and node.func.id in ("sum", "sorted", "iter", "list", "tuple", "set", "len", "max", "min") \
                and isinstance(node.args[0], ast.Name) and node.args[0].id in uses:
            uses[node.args[0].id].add("list")
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and not isinstance(node.ops[0], (ast.In, ast.NotIn)):
            sides = (node.left, node.comparators[0])
            if all(isinstance(side, ast.Name) and side.id in uses for side in sides):
                compared.append((sides[0].id, sides[1].id))
            if any(isinstance(side, ast.Constant) and type(side.value) in (int, float) for side in sides):
                for side in sides:
                    if isinstance(side, ast.Name) and side.id in uses:
                        uses[side.id].add("number")
    known = {}
    for name in names:
        kind = _annotation_kind(annotations[name]) or _default_kind(defaults.get(name))
        if kind is None and uses[name]:
            kind = "string" if "string" in uses[name] else ("number" if "number" in uses[name] else "list")
        known[name] = kind
    for first, second in compared:
        if known[first] is None or known[second] is None:
            known[first] = known[second] = known[first] or known[second]
    kinds = []
    for name in names:
        kind = known[name]
        if kind is None:
            kind = ("list" if _LIST_NAMES.match(name) else "number" if _NUMBER_NAMES.match(name)
                    else "string" if _STRING_NAMES.search(name) else "arg")
        kinds.append(kind)
    if names and names[0] in ("self", "cls"):
        kinds, names = kinds[1:], names[1:]
    required = len(names) - len(arguments.defaults)
    if arguments.vararg is not None:
        kinds += ["arg", "arg"]
    return kinds[:6], max(0, min(required, 6))


def _annotation_kind(annotation: ast.AST | None) -> str | None:
    text = ast.unparse(annotation) if annotation is not None else ""
    if re.match(r"(int|float|complex|Real|Number|numbers\.\w+)\b", text):
        return "number"
    if re.match(r"(str|bytes)\b", text):
        return "string"
    if re.match(r"(list|tuple|Sequence|Iterable|typing\.\w+)\b", text, re.I):
        return "list"
    return None


def _default_kind(default: ast.AST | None) -> str | None:
    if isinstance(default, ast.Constant):
        if isinstance(default.value, bool) or default.value is None:
            return None
        if isinstance(default.value, (int, float)):
            return "number"
        if isinstance(default.value, str):
            return "string"
    if isinstance(default, (ast.List, ast.Tuple)):
        return "list"
    return None


def test_writer_for(backend, family: Family | None = None, layout: Layout | None = None,
                    settings: Settings = Settings(), resume: dict[str, str] | None = None) -> TestWriter:
    """`resume`: a dict the caller keeps across preempted runs, so writing continues where it stopped."""
    if backend.can_chat:
        return ChatTestWriter(backend, resume=resume)
    return BaseTestWriter(backend, family, layout, settings, resume=resume)
