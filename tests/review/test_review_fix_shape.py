"""The fix-shape rule: a surprise warning needs the model's own one-token fix, and that fix must
swap one operator (or number) for another and leave the rest of the line's structure alone."""

from __future__ import annotations

import pytest

from lsp_server.engine.surprise import LineSurprise
from lsp_server.features.review import LineTable, same_shaped_fix


def _fix(line_text: str, token: str, expected: str) -> str | None:
    """The quick fix for `token` (its first occurrence in `line_text`) when the model expected `expected`."""
    lines = LineTable("def f(a, b):\n" + line_text + "\n")
    start = lines.start_of(2) + line_text.index(token)
    return same_shaped_fix(LineSurprise(2, 40.0, 9.0, start, start + len(token), expected), lines)


@pytest.mark.parametrize(("line", "token", "expected", "fixed"), [
    ("    return a + b", " +", " -", " -"),  # Python
    ("    return a < b", " <", " <=", " <="),
    ("    total += a", " +=", " -=", " -="),
    ("    return f(a)*b", ")*", ")//", ")//"),  # a delimiter merged into the token, the same on both sides
    ("    return -b", " -b", " +b", " +b"),
    ("    return a[1]", "1", "0", "0"),
    ("  return a && b;", " &&", " ||", " ||"),  # TypeScript
    ("  if (a === b) {", " ===", " !==", " !=="),
    ("\tx := a &^ b", " &^", " &", " &"),  # Go
    ("\ti++", "++", "--", "--"),
])
def test_an_operator_for_an_operator_is_a_fix(line, token, expected, fixed):
    assert _fix(line, token, expected) == fixed


@pytest.mark.parametrize(("line", "token", "expected"), [
    ("    if (d := a - b) > 0:", " :=", " -"),  # an assignment is never "fixed" into a non-assignment
    ("    x = a", " =", " =="),
    ("    y = a == b", " ==", " ="),  # nor the other way round
    ("    if ((isinstance(a, str)", " ((", " '"),  # a quote for brackets: breaks the line
    ("    return f(a)", "(", "[", ),  # a bracket for another bracket
    ("    return f(a) + b", ")", ") +"),  # an operator added after a bracket
    ("    return a.b", ".", "->"),  # not an operator of the list
    ("    return (m", "(m", "ow"),  # splits a word differently
    ("    return a + b", " +", " +c"),  # the word after the operator differs
])
def test_anything_else_is_not_a_fix(line, token, expected):
    assert _fix(line, token, expected) is None


def test_an_operator_inside_a_string_literal_is_not_fixed():
    assert _fix('    warn("glob.glob/2", a)', "/", "-") is None
    assert _fix("    warn('it is a/b', a)", "/", "-") is None
    assert _fix('    warn("a \\" b", a) + b', " +", " -") == " -"  # an escaped quote does not end the string
    assert _fix("    return `${a}` + b", " +", " -") == " -"  # the template literal is closed
