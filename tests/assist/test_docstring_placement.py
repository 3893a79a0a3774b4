"""Docstring placement over real-shaped cases, with a scripted writer (the fills are fixed).

Each case asserts: the exact resulting text (golden file), that the code is unchanged
(Python: AST-equal apart from docstrings; others: tree-sitter code tokens equal, comments
aside), that the file still parses, and that the docstring now belongs to the symbol.
Set SEEKCODE_REGEN_GOLDEN=1 to rewrite the golden files (then read every diff).
"""

from __future__ import annotations

import ast
import inspect
import os
from pathlib import Path

import pytest

from lsp_server.engine.symbols import code_tokens, has_syntax_errors, language_of, symbol_at
from lsp_server.features.docstring import (
    DocstringError,
    fill_template,
    generate_docstring,
    plan_docstring,
)
from tests.assist.fakes import ScriptedWriter
from tests.assist.placement_cases import CASES, CURSOR

GOLDEN = Path(__file__).parent / "golden" / "docstring"
REGENERATE = os.environ.get("SEEKCODE_REGEN_GOLDEN") == "1"

FILLS = {"summary": "Do the thing.", "returns": "The result.", "yields": "Each item."}


def script(hole) -> str:
    if hole.key in FILLS:
        return FILLS[hole.key]
    kind, _, name = hole.key.partition(":")
    return f"The {name.lstrip('*')} value." if kind == "param" else f"When {name} happens."


def quoted_script(hole) -> str:
    return 'Return "s" with a \\ backslash, quoted "' if hole.key == "summary" else script(hole)


def load_case(name: str) -> tuple[str, str, int]:
    language, marked = CASES[name]
    if name.endswith("_crlf"):
        marked = marked.replace("\n", "\r\n")
    offset = marked.index(CURSOR)
    return language, marked.replace(CURSOR, ""), offset


def expected_text(name: str, actual: str) -> str:
    path = GOLDEN / f"{name}.expected"
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.replace("\r\n", "\n").encode("utf-8"))
    expected = path.read_bytes().decode("utf-8")
    return expected.replace("\n", "\r\n") if name.endswith("_crlf") else expected


def strip_docstrings(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and ast.get_docstring(node, False) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def python_definition(tree: ast.AST, name: str, line: int):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            if node.lineno - len(node.decorator_list) <= line + 1 <= (node.end_lineno or node.lineno):
                return node
    return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_placement(name: str) -> None:
    language, text, offset = load_case(name)
    plan = plan_docstring(text, offset, language, replace=name.endswith("_replace"))
    writer = ScriptedWriter(quoted_script if name == "py_quote_in_fill" else script)
    result = generate_docstring(plan, writer)
    new_text = result.new_text

    assert new_text == expected_text(name, new_text)
    assert writer.calls == [hole.key for hole in plan.holes]
    if name.endswith("_crlf"):
        assert "\n" not in new_text.replace("\r\n", "")
    assert new_text.endswith("\n") == text.endswith("\n")

    content = fill_template(plan.template, result.fills)
    grammar = language_of(language)
    if grammar == "python":
        old_tree, new_tree = ast.parse(text), ast.parse(new_text)
        target = python_definition(new_tree, plan.symbol.name, plan.symbol.start_line)
        assert target is not None
        raw = ast.get_docstring(target, clean=False)
        # The section indentation follows the file's (tabs, two spaces), so compare line by line.
        assert [line.strip() for line in inspect.cleandoc(raw).splitlines()] == [line.strip() for line in content.splitlines()]
        assert strip_docstrings(new_tree) == strip_docstrings(old_tree)
    elif grammar is not None:
        assert not has_syntax_errors(new_text, grammar)
        assert code_tokens(new_text, grammar) == code_tokens(text, grammar)
        shifted = offset + (len(new_text) - len(text) if result.edit.start <= offset else 0)
        symbol = symbol_at(new_text, shifted, grammar)
        assert symbol is not None and symbol.name == plan.symbol.name and symbol.doc is not None
        assert result.fills["summary"] in new_text[symbol.doc[0] : symbol.doc[1]]
    else:
        header_line = new_text.splitlines()[plan.symbol.start_line + content.count("\n") + 1]
        assert header_line == text.splitlines()[plan.symbol.start_line]
        assert new_text.replace(new_text[result.edit.start : result.edit.start + len(result.edit.new_text)], "", 1) == text


def test_case_count_covers_the_issue() -> None:
    assert len(CASES) >= 60
    for language in ("python", "javascript", "typescript", "go", "rust", "java"):
        assert any(lang == language for lang, _ in CASES.values()), language


def test_existing_docstring_is_kept_unless_replace_is_asked() -> None:
    language, text, offset = load_case("py_existing_replace")
    with pytest.raises(DocstringError, match="already has a docstring"):
        plan_docstring(text, offset, language)
    language, text, offset = load_case("go_existing_replace")
    with pytest.raises(DocstringError, match="--replace"):
        plan_docstring(text, offset, language)


def test_no_symbol_at_cursor_is_a_clear_error() -> None:
    with pytest.raises(DocstringError, match="no function, method or class"):
        plan_docstring("import os\nx = 1\n", 3, "python")


def test_style_is_settable_and_detected() -> None:
    text = "def f(a):\n    return a\n"
    numpy = generate_docstring(plan_docstring(text, 5, "python", style="numpy"), ScriptedWriter(script)).new_text
    assert "    Parameters\n    ----------\n    a\n        The a value.\n" in numpy
    rest = generate_docstring(plan_docstring(text, 5, "python", style="rest"), ScriptedWriter(script)).new_text
    assert "    :param a: The a value.\n    :returns: The result.\n" in rest
    _, numpy_file, offset = load_case("py_numpy_style")
    assert plan_docstring(numpy_file, offset, "python").style == "numpy"
    _, rest_file, offset = load_case("py_rest_style")
    assert plan_docstring(rest_file, offset, "python").style == "rest"
    with pytest.raises(DocstringError, match="not one of"):
        plan_docstring(text, 5, "python", style="epytext")


def test_empty_summary_gives_a_clear_error() -> None:
    plan = plan_docstring("def f():\n    pass\n", 3, "python")
    with pytest.raises(DocstringError, match="no summary"):
        generate_docstring(plan, ScriptedWriter({"summary": '   """  '}))
