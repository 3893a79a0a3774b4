"""Each post-processing filter on hand-made cases (the cursor is ║)."""

from __future__ import annotations

import pytest

from lsp_server.engine.postprocess import Context, Mode, Suggestion, postprocess
from lsp_server.engine.postprocess.block_indentation import stop_at_block_end
from lsp_server.engine.postprocess.block_syntax import grammar, stop_at_syntax_block_end
from lsp_server.engine.postprocess.bracket_balance import balance_brackets
from lsp_server.engine.postprocess.drop_empty import drop_empty
from lsp_server.engine.postprocess.held_back import drop_held_back
from lsp_server.engine.postprocess.indentation_style import keep_indentation_style
from lsp_server.engine.postprocess.repetition import cut_repetition
from lsp_server.engine.postprocess.single_line import keep_single_line
from lsp_server.engine.postprocess.strip_special_tokens import strip_special_tokens
from lsp_server.engine.postprocess.suffix_overlap import drop_suffix_overlap
from lsp_server.engine.postprocess.trailing_whitespace import trim_trailing_whitespace
from lsp_server.engine.postprocess.truncation import drop_unfinished_line

from tests.lsp_engine.cursor import split_at_cursor


def context(document: str, language: str = "python", special_texts: tuple[str, ...] = ()) -> Context:
    prefix, suffix = split_at_cursor(document)
    return Context.create(prefix, suffix, language, special_texts)


def run(step, document: str, text: str, language: str = "python") -> str:
    return step(Suggestion(text), context(document, language)).text


@pytest.mark.parametrize(
    ("document", "mode"),
    [
        ("def f(x):\n    ║\n", Mode.MULTI_LINE),  # empty line after an opener
        ("def f(x):║\n", Mode.MULTI_LINE),  # end of an opener line
        ("if (x) {║\n", Mode.MULTI_LINE),
        ("x = compute(║)\n", Mode.SINGLE_LINE),  # text follows the cursor
        ("total = a + ║\n", Mode.SINGLE_LINE),
        ("x = 1\n║\n", Mode.SINGLE_LINE),  # empty line, no opener above
        ("║", Mode.MULTI_LINE),  # empty document
        ("if x:  # check║\n", Mode.MULTI_LINE),  # comment after the opener
    ],
)
def test_mode_follows_the_cursor_context(document: str, mode: Mode) -> None:
    assert context(document).mode is mode


def test_multiline_false_forces_single_line() -> None:
    prefix, suffix = split_at_cursor("def f(x):║\n")
    assert Context.create(prefix, suffix, "python", multiline=False).mode is Mode.SINGLE_LINE


def test_strip_special_tokens_cuts_at_the_first_leak() -> None:
    ctx = context("x = ║\n", special_texts=("<|file_sep|>", "<|endoftext|>"))
    assert strip_special_tokens(Suggestion("1 + 2<|file_sep|>other.py\nimport os"), ctx).text == "1 + 2"
    assert strip_special_tokens(Suggestion("value<|endoftext|>"), ctx).text == "value"


@pytest.mark.parametrize(
    "leak", ["<|fim_middle|>", "<｜fim▁hole｜>", "<fim_prefix>", "<EOT>", "<|EOT|>", "<eos>", "<|file_separator|>"]
)
def test_strip_special_tokens_knows_other_families_spellings(leak: str) -> None:
    assert run(strip_special_tokens, "x = ║\n", f"foo(){leak}bar") == "foo()"


def test_strip_special_tokens_leaves_spellings_the_document_has() -> None:
    document = 'STOP = "<|endoftext|>"\nif token == ║\n'
    assert run(strip_special_tokens, document, '"<|endoftext|>":') == '"<|endoftext|>":'


def test_strip_special_tokens_leaves_code_with_angle_brackets() -> None:
    text = "List<String> names = new ArrayList<>();"
    assert run(strip_special_tokens, "║\n", text, "java") == text


def test_single_line_keeps_the_rest_of_the_line_only() -> None:
    assert run(keep_single_line, "x = compute(║)\n", "a, b)\ny = 2") == "a, b)"
    assert run(keep_single_line, "def f(x):║\n", "\n    return x") == "\n    return x"  # multi-line mode


def test_block_end_by_indentation_stops_at_dedent() -> None:
    raw = "    return a + b\n\n\ndef sub(a, b):\n    return a - b"
    assert run(stop_at_block_end, "def add(a, b):\n║", raw) == "    return a + b"


def test_block_end_after_opener_keeps_one_closing_line() -> None:
    raw = "\n  a();\n}\nb();"
    assert run(stop_at_block_end, "if (x) {║\n", raw, "javascript") == "\n  a();\n}"


def test_block_end_after_opener_stops_at_same_level_statement() -> None:
    raw = "\n    y = 1\nprint(y)"
    assert run(stop_at_block_end, "if x:║\n", raw) == "\n    y = 1"


def test_block_end_keeps_statements_of_the_same_block() -> None:
    raw = "x = 1\n    y = 2\n    return x + y\n\nclass B:"
    assert run(stop_at_block_end, "def f():\n    ║", raw) == "x = 1\n    y = 2\n    return x + y"


@pytest.mark.parametrize("language", ["python", "javascript", "typescript", "typescriptreact", "go", "rust", "java"])
def test_grammars_are_installed(language: str) -> None:
    assert grammar(language) is not None


def test_syntax_block_end_cuts_after_the_closing_brace() -> None:
    raw = "\n  return a;\n}\n\nfunction g() {}"
    assert run(stop_at_syntax_block_end, "function f(a) {║", raw, "javascript") == "\n  return a;\n}"


def test_syntax_block_end_cuts_after_a_multiline_call() -> None:
    raw = "\n    1,\n    2,\n)\nprint(values)"
    assert run(stop_at_syntax_block_end, "values = sum(║\n", raw) == "\n    1,\n    2,\n)"


def test_syntax_block_end_in_go_and_rust() -> None:
    go = "package m\n\nfunc f() int {║\n"
    assert run(stop_at_syntax_block_end, go, "\n\treturn 1\n}\n\nfunc g() {}", "go") == "\n\treturn 1\n}"
    rust = "fn f() -> i32 {║\n"
    assert run(stop_at_syntax_block_end, rust, "\n    1\n}\n\nfn g() {}", "rust") == "\n    1\n}"


def test_syntax_block_end_leaves_unknown_languages_alone() -> None:
    raw = "\n  x\nend\nfoo"
    assert run(stop_at_syntax_block_end, "def f║\n", raw, "ruby") == raw


def test_suffix_overlap_drops_the_retyped_rest_of_line() -> None:
    assert run(drop_suffix_overlap, "call(║, b)\n", "a, b)") == "a"


def test_suffix_overlap_stops_before_the_next_line() -> None:
    doc = "function f(a) {\n  ║\n}\n"
    assert run(drop_suffix_overlap, doc, "const b = a * 2;\n  return b;\n}", "javascript") == (
        "const b = a * 2;\n  return b;"
    )


def test_suffix_overlap_drops_a_copy_of_the_next_line() -> None:
    assert run(drop_suffix_overlap, "def f():\n    ║\n    return x\n", "return x") == ""


def test_suffix_overlap_keeps_same_text_at_other_indentation() -> None:
    doc = "if a {\n\tif b {\n\t\t║\n}\n"
    assert run(drop_suffix_overlap, doc, "x()\n\t}", "go") == "x()\n\t}"


@pytest.mark.parametrize(
    ("document", "raw", "expected"),
    [
        ("print(║)\n", "foo())", "foo()"),
        ("print(║)\n", "foo()", "foo()"),  # closes what it opened
        ("print(║)\n", "a, b);", "a, b"),
        ("xs = [║]\n", "1, 2]", "1, 2"),
        ("m = {'a': [1, ║]}\n", "2]}", "2"),
        ('s = "hel║"\n', 'lo")', "lo"),
        ("print(║)\n", "')'", "')'"),  # a bracket inside a string closes nothing
        ("x = ║\n", "f(a))", "f(a))"),  # nothing after the cursor: nothing to balance against
    ],
)
def test_balance_brackets_against_the_rest_of_the_line(document: str, raw: str, expected: str) -> None:
    assert run(balance_brackets, document, raw) == expected


def test_cut_repetition_keeps_one_copy_of_a_looping_line() -> None:
    raw = "total = 0\n    total += 1\n    total += 1\n    total += 1"
    assert run(cut_repetition, "def f():\n    ║\n", raw) == "total = 0\n    total += 1"


def test_cut_repetition_keeps_one_copy_of_a_looping_block() -> None:
    raw = "a()\nb()\na()\nb()\na()"
    assert run(cut_repetition, "║\n", raw) == "a()\nb()"


def test_cut_repetition_leaves_ordinary_code() -> None:
    raw = "if a:\n    pass\nif b:\n    pass\n}\n}"
    assert run(cut_repetition, "║\n", raw) == raw


def test_cut_repetition_leaves_deep_indentation_alone() -> None:
    raw = "try:\n                    deeply.nested(call)\n                except ValueError:\n                    pass"
    assert run(cut_repetition, "def f():\n    ║\n", raw) == raw


def test_cut_repetition_inside_a_line() -> None:
    assert run(cut_repetition, "x = ║\n", "f(a, a, a, a, a, a, a, a, a") == "f(a,"
    assert run(cut_repetition, "║\n", "# =================") == "# ================="


def test_indentation_style_converts_spaces_to_tabs() -> None:
    doc = "func f() {\n\tif x {\n\t\ty()\n\t}\n\t║\n}\n"
    assert run(keep_indentation_style, doc, "for {\n        z()\n    }", "go") == "for {\n\t\tz()\n\t}"


def test_indentation_style_rescales_to_two_spaces() -> None:
    doc = "function f() {\n  if (x) {\n    y();\n  }\n  ║\n}\n"
    raw = "for (;;) {\n      z();\n  }"  # base 2, step 4 -> step 2
    assert run(keep_indentation_style, doc, raw, "javascript") == "for (;;) {\n    z();\n  }"


def test_indentation_style_without_evidence_changes_nothing() -> None:
    assert run(keep_indentation_style, "if (x) {║\n", "\n  a();\n}", "javascript") == "\n  a();\n}"


def test_trim_trailing_whitespace() -> None:
    assert run(trim_trailing_whitespace, "def f():\n    ║\n", "x = 1   \n    y = 2\t\n\n\n") == "x = 1\n    y = 2"


def test_trim_keeps_the_space_before_text_after_the_cursor() -> None:
    assert run(trim_trailing_whitespace, "return ║x\n", "not ") == "not "


def test_drop_empty() -> None:
    assert run(drop_empty, "x = ║\n", " \n\t ") == ""
    assert run(drop_empty, "x = ║\n", "1") == "1"


def test_pipeline_end_to_end() -> None:
    ctx = context("def add(a, b):║\n\n\nprint(add(1, 2))\n", special_texts=("<|endoftext|>",))
    raw = "\n    return a + b\n\n\ndef sub(a, b):\n    return a - b<|endoftext|>"
    assert postprocess(raw, ctx) == "\n    return a + b"


@pytest.mark.parametrize(
    ("document", "language", "mode"),
    [
        ('config = {\n    "port": ║\n', "python", Mode.SINGLE_LINE),  # a dict value, not a block
        ("const user = {\n  createdAt: ║\n", "javascript", Mode.SINGLE_LINE),
        ("    else:║\n", "python", Mode.MULTI_LINE),
        ("total = a // 2  # halve:║\n", "python", Mode.SINGLE_LINE),  # "//" is floor division in Python
    ],
)
def test_colon_opens_a_block_only_after_python_compound_statements(document: str, language: str, mode: Mode) -> None:
    assert context(document, language).mode is mode


def test_compound_statement_written_on_an_empty_line_keeps_its_siblings() -> None:
    raw = "if n <= 1:\n        return n\n    else:\n        return f(n - 1)\n\nprint(f(3))"
    assert run(stop_at_block_end, "def f(n):\n    ║\n", raw) == (
        "if n <= 1:\n        return n\n    else:\n        return f(n - 1)"
    )


def test_held_back_whitespace_is_removed_by_width() -> None:
    prefix, suffix = split_at_cursor("def f():\n    ║\n")
    ctx = Context.create(prefix, suffix, "python", held_back="    ")
    assert drop_held_back(Suggestion("    return 1"), ctx).text == "return 1"
    assert drop_held_back(Suggestion("        deeper()"), ctx).text == "    deeper()"
    assert drop_held_back(Suggestion("\treturn 1"), ctx).text == "return 1"  # a tab is 4 wide
    assert drop_held_back(Suggestion("\nnext"), ctx).text == "\nnext"
    assert drop_held_back(Suggestion("  x"), Context.create("x =", "", held_back=" ")).text == " x"


def test_unfinished_last_line_and_bodiless_openers_are_dropped_when_truncated() -> None:
    ctx = context("def f(xs):║\n")
    raw = "\n    total = 0\n    for x in xs:\n        if x > 0:\n            total +"
    assert drop_unfinished_line(raw, ctx) == "\n    total = 0"
    assert postprocess(raw, ctx, truncated=True) == "\n    total = 0"
    assert postprocess("1 + 2", context("x = ║\n"), truncated=True) == "1 + 2"  # single-line: kept


def test_markdown_fence_ends_the_suggestion_outside_markdown() -> None:
    raw = "return a + b\n```\n\nThis function adds"
    assert run(strip_special_tokens, "def f(a, b):\n    ║\n", raw) == "return a + b\n"
    assert run(strip_special_tokens, "Some text\n║\n", "```python\nx = 1", "markdown") == "```python\nx = 1"


@pytest.mark.parametrize(
    ("document", "raw", "expected"),
    [
        ('print(f"total: {║}")\n', 'total:.2f}")', "total:.2f"),
        ("print(║)\n", "foo()", "foo()"),  # what remains would not close its own bracket
        ("print(║)\n", "foo())", "foo()"),
        ("x = f(║))\n", "g(1))", "g(1))"),  # "g(1" would be open: left to balance_brackets
    ],
)
def test_suffix_overlap_takes_off_the_rest_of_the_line_when_brackets_allow(document: str, raw: str, expected: str) -> None:
    assert run(drop_suffix_overlap, document, raw) == expected


def test_pipeline_balances_what_the_overlap_filter_leaves() -> None:
    assert postprocess("a, b);", context("print(║)\n")) == "a, b"


@pytest.mark.parametrize(
    ("document", "raw", "expected", "language"),
    [
        # seen with Qwen: `print(` became `print( f"Lines in {name}: …")`
        ('name = "a"\nprint(║)\n', ' f"Lines in {name}"', 'f"Lines in {name}"', "python"),
        ("values = [║]\n", " 1, 2", "1, 2", "python"),
        # the file writes spaces inside parentheses: keep the model's space
        ("foo( $a );\nbar( $b );\nbaz(║);\n", " $c ", " $c ", "php"),
        # braces keep their space without evidence (Prettier's bracket spacing) ...
        ("const point = {║}\n", " x: 1 ", " x: 1 ", "javascript"),
        # ... and lose it where the file writes them tight
        ("const a = {x: 1};\nconst b = {y: 2};\nconst c = {║}\n", " z: 3", "z: 3", "javascript"),
        # only right after an opener; a multi-line start is untouched
        ("total = a +║\n", " b", " b", "python"),
        ("call(║\n", "\n    x,\n)", "\n    x,\n)", "python"),
    ],
)
def test_no_invented_space_after_an_opening_bracket(document: str, raw: str, expected: str, language: str) -> None:
    from lsp_server.engine.postprocess.bracket_space import drop_space_after_opener

    assert run(drop_space_after_opener, document, raw, language) == expected


@pytest.mark.parametrize(
    ("document", "raw", "expected", "language"),
    [
        # seen with Qwen on the standard library (bench/latency/window_quality.py)
        ("text = lines.║\n", " pop(0)[2:]", "pop(0)[2:]", "python"),
        ("if b and not isinstance(b[0]║\n", " , str):", ", str):", "python"),
        ("def expand_tabs(line)║\n", " :", ":", "python"),
        ("w = TextWrapper(initial_indent=║)\n", ' "",', '"",', "python"),
        ("for (i = 0; i < n║\n", " ; i++)", "; i++)", "c"),
        # a sentence's full stop in a comment keeps the space before the next word
        ("# Wrap the text.║\n", " Then fill it.", " Then fill it.", "python"),
        # inside a string the space is text
        ("_whitespace_only_re.sub('║\n", " ', text)", " ', text)", "python"),
        # spaced operators and a ternary colon outside Python keep theirs
        ("x =║\n", " 1", " 1", "python"),
        ("if a ==║\n", " b:", " b:", "python"),
        ("const y = ok ? a║\n", " : b;", " : b;", "javascript"),
        ("const p = { a║\n", " }", " }", "javascript"),
        ("def f(x)║\n", " -> int:", " -> int:", "python"),
        # prose is left alone
        ("See module.║\n", " pop", " pop", "markdown"),
    ],
)
def test_no_space_the_code_never_has(document: str, raw: str, expected: str, language: str) -> None:
    from lsp_server.engine.postprocess.invented_space import drop_invented_space

    assert run(drop_invented_space, document, raw, language) == expected


def test_the_pipeline_drops_a_space_before_a_colon() -> None:
    assert postprocess(" :", context("def f(x)║\n")) == ":"


def test_the_pipeline_drops_the_invented_space() -> None:
    assert postprocess(' f"x")', context('print(║)\n')) == 'f"x"'
