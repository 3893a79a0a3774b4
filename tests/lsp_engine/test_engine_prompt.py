"""Prompt layouts on real vocabularies: markers, budgets, context, and that typing only
changes the end of the prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.backend.base import common_prefix_length
from lsp_server.engine.context import Snippet
from lsp_server.engine.families import Layout, detect_family
from lsp_server.engine.prompt import PromptBudget, PromptBuilder, model_suffix

from tests.lsp_engine.cursor import split_at_cursor

CASES = Path(__file__).resolve().parent / "cases"


def builder_for(vocab, budget: PromptBudget = PromptBudget(), layout: Layout | None = None) -> PromptBuilder:
    return PromptBuilder(detect_family(vocab.token_id, vocab.metadata), vocab.tokenize, budget, layout)



def python_file(lines: int) -> str:
    body = []
    for index in range(lines):
        body.append(f"def function_{index}(value):" if index % 4 == 0 else f"    value = value * {index} + {index % 7}")
    return "\n".join(body) + "\n"


SMALL_PREFIX = "import os\n\ndef size(path):\n    return os.path."
SMALL_SUFFIX = "\n\nprint(size('x'))\n"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (Layout.PSM, "<｜begin▁of▁sentence｜><｜fim▁begin｜>{p}<｜fim▁hole｜>{s}<｜fim▁end｜>"),
        (Layout.SPM, "<｜begin▁of▁sentence｜><｜fim▁hole｜>{s}<｜fim▁begin｜>{p}<｜fim▁end｜>"),
        (Layout.SPM_TAIL, "<｜begin▁of▁sentence｜><｜fim▁begin｜><｜fim▁hole｜>{s}<｜fim▁end｜>{p}"),
    ],
)
def test_layouts_with_the_deepseek_vocab(load_vocab, layout: Layout, expected: str) -> None:
    vocab = load_vocab("deepseek-coder")
    prompt = builder_for(vocab, layout=layout).build(SMALL_PREFIX, SMALL_SUFFIX)
    assert vocab.detokenize(prompt.tokens) == expected.format(p=SMALL_PREFIX, s=SMALL_SUFFIX)


def test_psm_anchored_puts_the_recent_lines_after_the_middle_marker(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    prefix = python_file(10) + "    return val"  # cursor on line 10; anchor step 8 -> tail from line 8
    prompt = builder_for(vocab).build(prefix, SMALL_SUFFIX)
    lines = prefix.split("\n")
    head, tail = "\n".join(lines[:8]) + "\n", "\n".join(lines[8:])
    assert prompt.tokens[:2] == [32013, 32016]
    assert vocab.detokenize(prompt.tokens) == (
        f"<｜begin▁of▁sentence｜><｜fim▁begin｜>{head}<｜fim▁hole｜>{SMALL_SUFFIX}<｜fim▁end｜>{tail}"
    )
    assert prompt.stable_length == prompt.span("prefix_tail").start
    assert prompt.tokens[prompt.stable_length - 1] == 32017


def test_starcoder_default_is_suffix_first_with_the_prefix_last(load_vocab) -> None:
    vocab = load_vocab("starcoder")
    prompt = builder_for(vocab).build(SMALL_PREFIX, SMALL_SUFFIX)
    assert prompt.layout is Layout.SPM_TAIL
    assert prompt.tokens[:2] == [1, 3]
    assert prompt.span_tokens("middle_marker") == [2]
    assert vocab.detokenize(prompt.span_tokens("prefix")) == SMALL_PREFIX
    assert prompt.span("prefix").end == len(prompt.tokens)


def test_whitespace_before_the_cursor_is_held_back(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    prompt = builder_for(vocab).build("def f():\n    ", "\n")
    assert prompt.held_back == "    "
    assert vocab.detokenize(prompt.span_tokens("prefix_tail")) == "def f():\n"
    assert builder_for(vocab).build("x = ", "\n").held_back == " "
    assert builder_for(vocab).build("x =", "\n").held_back == ""


def test_qwen_coder_default_layout(qwen_coder_vocab) -> None:
    prompt = builder_for(qwen_coder_vocab).build(SMALL_PREFIX, SMALL_SUFFIX)
    assert prompt.family == "qwen2.5-coder" and prompt.layout is Layout.PSM_ANCHORED
    assert prompt.tokens[0] == 151659
    assert qwen_coder_vocab.detokenize(prompt.tokens) == (
        f"<|fim_prefix|><|fim_suffix|>{SMALL_SUFFIX}<|fim_middle|>{SMALL_PREFIX}"
    )


def test_plain_family_is_just_the_prefix(load_vocab) -> None:
    vocab = load_vocab("qwen2")
    prompt = builder_for(vocab).build(SMALL_PREFIX, SMALL_SUFFIX)
    assert prompt.layout is Layout.PLAIN
    assert prompt.tokens == vocab.tokenize(SMALL_PREFIX)
    with pytest.raises(ValueError, match="needs FIM tokens"):
        builder_for(vocab, layout=Layout.PSM)


def test_special_spellings_in_the_document_stay_text(load_vocab) -> None:
    vocab = load_vocab("starcoder")
    prompt = builder_for(vocab).build("s = '<fim_middle><file_sep>'", "\n")
    assert prompt.tokens.count(2) == 1 and 6 not in prompt.tokens


def test_prefix_budget_cuts_at_a_window_step_line(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    budget = PromptBudget(prefix_tokens=200, suffix_tokens=50, window_step_lines=16)
    prefix = python_file(300) + "    return va"
    prompt = builder_for(vocab, budget).build(prefix, "\n" + python_file(100))
    assert len(vocab.tokenize(prompt.prefix_text)) <= 200
    lines = prefix.split("\n")
    first_line = len(lines) - len(prompt.prefix_text.split("\n"))
    assert first_line % 16 == 0 and first_line > 0
    one_step_more = "\n".join(lines[first_line - 16 :])
    assert len(vocab.tokenize(one_step_more)) > 200  # the window is as large as the step allows
    assert prefix.endswith(prompt.prefix_text)
    assert len(prompt.span_tokens("suffix")) <= 50
    assert prompt.suffix_text.endswith("\n") and ("\n" + python_file(100)).startswith(prompt.suffix_text)


@pytest.mark.parametrize("prefix_tokens", [60, 120, 237, 400])
def test_a_small_prefix_budget_still_fills_at_least_half(load_vocab, prefix_tokens: int) -> None:
    # A 512-token model's budget reaches back fewer lines than one 32-line step: rounding the
    # window start up to the step used to drop every line before the cursor.
    vocab = load_vocab("deepseek-coder")
    for lines in range(40, 140, 7):
        builder = builder_for(vocab, PromptBudget(prefix_tokens=prefix_tokens, window_step_lines=32))
        prefix = python_file(lines) + "    "
        window = builder.build(prefix, "\n").prefix_text
        everything = prefix.rstrip(" ").split("\n")
        fitting = 0
        while fitting < len(everything) - 1 and \
                len(vocab.tokenize("\n".join(everything[-(fitting + 2):]))) <= prefix_tokens:
            fitting += 1
        assert window.count("\n") >= fitting // 2, (lines, fitting, window.count("\n"))
        assert len(vocab.tokenize(window)) <= prefix_tokens


def test_a_giant_line_is_cut_from_the_left(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    prefix = "data = [" + ", ".join(str(n) for n in range(3000))
    prompt = builder_for(vocab, PromptBudget(prefix_tokens=300)).build(prefix, "]\n")
    assert len(vocab.tokenize(prompt.prefix_text)) <= 300
    assert prefix.endswith(prompt.prefix_text) and len(prompt.prefix_text) > 100


def test_zero_suffix_budget(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    prompt = builder_for(vocab, PromptBudget(suffix_tokens=0)).build(SMALL_PREFIX, SMALL_SUFFIX)
    assert prompt.suffix_text == "" and prompt.span("suffix") is None


def test_bad_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix_tokens"):
        PromptBudget(prefix_tokens=0)


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        (")\nnext()", "\nnext()"),  # auto-closed bracket: left out
        ('")]\n', "\n"),
        (", b)\nnext()", ", b)\nnext()"),  # real text after the cursor stays
        ("\nnext()", "\nnext()"),
        ("", ""),
    ],
)
def test_model_suffix(suffix: str, expected: str) -> None:
    assert model_suffix(suffix) == expected


def test_auto_closed_bracket_does_not_change_the_prompt(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    builder = builder_for(vocab)
    plain = builder.build("total = sum(", "\nprint(total)\n")
    auto_closed = builder.build("total = sum(", ")\nprint(total)\n")
    assert plain.tokens == auto_closed.tokens


def simulate_typing(builder: PromptBuilder, document: str, line_text: str) -> list:
    """Prompts for each keystroke of `line_text` typed at the cursor of `document`."""
    prefix, suffix = split_at_cursor(document)
    return [builder.build(prefix + line_text[:count], suffix) for count in range(len(line_text) + 1)]


TYPED_LINE = "result = compute_total(items, discount=0.25)"


@pytest.mark.parametrize("vocab_name", ["deepseek-coder", "starcoder"])
def test_typing_a_line_only_rewrites_the_end_of_the_prompt(load_vocab, vocab_name: str) -> None:
    vocab = load_vocab(vocab_name)
    document = python_file(60) + "    ║\n" + python_file(60)  # the prefix fits its budget
    prompts = simulate_typing(builder_for(vocab), document, TYPED_LINE)
    for before, after in zip(prompts, prompts[1:]):
        shared = common_prefix_length(before.tokens, after.tokens)
        assert shared >= after.stable_length  # context, head, suffix and markers all kept
        # Only the re-tokenized last word and the new character differ (+ a trailing marker in SPM).
        assert len(after.tokens) - shared <= 4, vocab.detokenize(after.tokens[shared:])
        assert after.stable_length == before.stable_length


def test_typing_with_the_real_qwen_coder_vocab(qwen_coder_vocab) -> None:
    document = (CASES / "py_statement_line.py").read_text(encoding="utf-8")
    prompts = simulate_typing(builder_for(qwen_coder_vocab), document, "sum(v for v in values)")
    for before, after in zip(prompts, prompts[1:]):
        assert len(after.tokens) - common_prefix_length(before.tokens, after.tokens) <= 4


def test_a_full_prefix_window_moves_in_steps_not_per_keystroke(load_vocab) -> None:
    vocab = load_vocab("starcoder")
    budget = PromptBudget(prefix_tokens=300, window_step_lines=16)
    document = python_file(200) + "    ║\n" + python_file(20)
    prompts = simulate_typing(builder_for(vocab, budget), document, TYPED_LINE * 3)
    starts = [prompt.prefix_text.split("\n")[0] for prompt in prompts]
    assert len(set(starts)) <= 2  # at most one jump while typing 130 characters
    # A start that stays may hold the budget plus a quarter (sticky_window_start).
    assert all(len(vocab.tokenize(prompt.prefix_text)) <= 300 * 5 // 4 for prompt in prompts)


def test_naive_psm_re_evaluates_the_suffix_on_every_keystroke(load_vocab) -> None:
    """What the anchored layout avoids: PSM changes tokens before the whole suffix."""
    vocab = load_vocab("deepseek-coder")
    document = python_file(120) + "    ║\n" + python_file(60)
    prompts = simulate_typing(builder_for(vocab, layout=Layout.PSM), document, TYPED_LINE)
    suffix_tokens = len(prompts[-1].span_tokens("suffix"))
    assert suffix_tokens > 100
    for before, after in zip(prompts, prompts[1:]):
        if after.tokens != before.tokens:  # a typed space is held back: same prompt
            assert len(after.tokens) - common_prefix_length(before.tokens, after.tokens) > suffix_tokens


def test_typing_several_lines_moves_the_anchor_rarely(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    builder = builder_for(vocab, PromptBudget(anchor_step_lines=8))
    prefix, suffix = split_at_cursor(python_file(40) + "║\n" + python_file(40))
    typed = "".join(f"    total_{n} = total_{n - 1} + {n}\n" for n in range(1, 25))
    prompts = [builder.build(prefix + typed[:count], suffix) for count in range(0, len(typed) + 1, 3)]
    big_changes = sum(
        common_prefix_length(before.tokens, after.tokens) < before.stable_length for before, after in zip(prompts, prompts[1:])
    )
    assert big_changes <= len(typed.split("\n")) // 8 + 1


def test_repo_level_context_for_qwen_coder(qwen_coder_vocab) -> None:
    builder = builder_for(qwen_coder_vocab)
    snippets = [
        Snippet("src/geometry.py", 0, "def circle_area(r):\n    return 3.14 * r * r", 0.5),
        Snippet("main.py", 0, "same file: skipped", 0.9),
    ]
    prompt = builder.build("from src.geometry import circle_area\nx = ", "\n", path="main.py", snippets=snippets)
    text = qwen_coder_vocab.detokenize(prompt.tokens)
    assert text.startswith(
        "<|file_sep|>src/geometry.py\ndef circle_area(r):\n    return 3.14 * r * r\n<|file_sep|>main.py\n<|fim_prefix|>"
    )
    assert [s.path for s in prompt.snippets] == ["src/geometry.py"]
    assert prompt.span("context").start == 0


def test_comment_context_for_deepseek_sits_at_the_start_of_the_prefix(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    snippets = [Snippet("lib/util.js", 20, "export function clamp(x, lo, hi) {\n  return Math.min(hi, Math.max(lo, x));\n}")]
    prompt = builder_for(vocab).build("const y = ", ";\n", path="app.js", language="javascript", snippets=snippets)
    text = vocab.detokenize(prompt.tokens)
    assert text.startswith(
        "<｜begin▁of▁sentence｜><｜fim▁begin｜>// Path: lib/util.js\n// export function clamp(x, lo, hi) {\n"
    )
    assert prompt.span("context").end <= prompt.stable_length


def test_context_budget_drops_snippets_that_do_not_fit(load_vocab) -> None:
    vocab = load_vocab("deepseek-coder")
    big = Snippet("big.py", 0, "\n".join(f"x_{n} = {n}" for n in range(200)))
    small = Snippet("small.py", 0, "def helper():\n    pass")
    prompt = builder_for(vocab, PromptBudget(context_tokens=60)).build("x = ", "\n", language="python", snippets=[big, small])
    assert [s.path for s in prompt.snippets] == ["small.py"]
    assert len(prompt.span_tokens("context")) <= 60


def test_the_window_start_stays_while_typing_fills_the_budget(load_vocab) -> None:
    # Typing grows the prefix; a start that moved one step on would make every token after it
    # new to the KV cache. It stays while the window fits the budget plus a quarter.
    vocab = load_vocab("deepseek-coder")
    budget = PromptBudget(prefix_tokens=200, suffix_tokens=20, window_step_lines=2)
    builder = builder_for(vocab, budget)
    document = python_file(60)
    typed = "    value = "
    start = builder.build(document + typed, "\n", path="a.py").prefix_text.split("\n", 1)[0]
    kept_over_budget = 0
    for step in range(12):
        typed += "value + 1\n    value = "
        prompt = builder.build(document + typed, "\n", path="a.py")
        fresh = builder_for(vocab, budget).build(document + typed, "\n", path="a.py")
        assert len(vocab.tokenize(fresh.prefix_text)) <= budget.prefix_tokens
        assert len(vocab.tokenize(prompt.prefix_text)) <= budget.prefix_tokens * 5 // 4
        other = builder.build(document + typed, "\n", path=f"other-{step}.py")
        assert other.prefix_text == fresh.prefix_text  # another file has its own start
        if prompt.prefix_text.split("\n", 1)[0] != start:
            break  # past the budget plus a quarter: the start moved on
        kept_over_budget += fresh.prefix_text != prompt.prefix_text  # a fresh builder had moved it
    else:
        raise AssertionError("the window start never moved on")
    assert kept_over_budget > 0
