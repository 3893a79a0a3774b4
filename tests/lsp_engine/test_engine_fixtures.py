"""Post-processing on recorded outputs of the real Qwen2.5-Coder 0.5B model.

fixtures/NAME.json holds the model's raw output for cases/NAME.* (cursor marked ║) and the
suggestion a user should see, reviewed by hand. Re-record with record_fixtures.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from lsp_server.engine.postprocess import PIPELINE, Context, Mode, StreamingStop, Suggestion, postprocess
from lsp_server.engine.postprocess.base import leading_whitespace
from lsp_server.engine.postprocess.block_indentation import find_block_end
from lsp_server.engine.postprocess.repetition import loop_start
from lsp_server.engine.postprocess.truncation import drop_unfinished_line

from tests.lsp_engine.cursor import split_at_cursor

HERE = Path(__file__).resolve().parent
FIXTURES = sorted((HERE / "fixtures").glob("*.json"))
QWEN_SPECIALS = (
    "<|endoftext|>", "<|fim_pad|>", "<|im_end|>", "<|im_start|>", "<|fim_prefix|>", "<|fim_suffix|>",
    "<|fim_middle|>", "<|file_sep|>", "<|repo_name|>",
)


@dataclass(frozen=True)
class Fixture:
    name: str
    raw: str
    expected: str
    truncated: bool  # generation hit the token limit
    context: Context


def load(path: Path) -> Fixture:
    data = json.loads(path.read_text(encoding="utf-8"))
    prefix, suffix = split_at_cursor((HERE / data["case"]).read_text(encoding="utf-8"))
    context = Context.create(prefix, suffix, data["language"], QWEN_SPECIALS, held_back=data["held_back"])
    assert context.mode.value == data["mode"], f"{path.name}: recorded in {data['mode']} mode"
    return Fixture(path.stem, data["raw"], data["expected"], data["truncated"], context)


def by_name(paths: list[Path]) -> dict:
    return {"argvalues": paths, "ids": [path.stem for path in paths]}


def test_there_are_enough_fixtures_in_each_language() -> None:
    assert len(FIXTURES) >= 25
    languages = {json.loads(path.read_text())["language"] for path in FIXTURES}
    assert {"python", "javascript", "go", "rust"} <= languages


@pytest.mark.parametrize("path", **by_name(FIXTURES))
def test_pipeline_gives_the_reviewed_suggestion(path: Path) -> None:
    fixture = load(path)
    assert postprocess(fixture.raw, fixture.context, truncated=fixture.truncated) == fixture.expected


@pytest.mark.parametrize("path", **by_name(FIXTURES))
def test_pipeline_is_idempotent(path: Path) -> None:
    fixture = load(path)
    context = replace(fixture.context, held_back="")  # the expected text has no held-back whitespace
    assert postprocess(fixture.expected, context) == fixture.expected


@pytest.mark.parametrize("path", **by_name(FIXTURES))
def test_streaming_stop_gives_the_same_suggestion_earlier(path: Path) -> None:
    fixture = load(path)
    stop = StreamingStop(fixture.context)
    for start in range(0, len(fixture.raw), 3):  # pieces about the size of tokens
        if stop.feed(fixture.raw[start : start + 3]):
            break
    assert fixture.raw.startswith(stop.text)
    truncated = stop.reason is None and fixture.truncated
    assert postprocess(stop.text, fixture.context, truncated=truncated) == fixture.expected


@pytest.mark.parametrize("path", **by_name(FIXTURES))
def test_reviewed_suggestions_have_the_filters_properties(path: Path) -> None:
    fixture = load(path)
    context, expected = fixture.context, fixture.expected
    assert not any(special in expected for special in QWEN_SPECIALS)  # strip_special_tokens
    if context.mode is Mode.SINGLE_LINE:
        assert "\n" not in expected  # keep_single_line
    lines = (context.line_prefix + expected).split("\n")
    cut = find_block_end(context.line_prefix, expected, context.language)
    assert cut is None or (cut.keep_line and cut.line == len(lines) - 1)  # stop_at_block_end
    assert loop_start(expected.split("\n")) is None  # cut_repetition
    next_line = next((line.rstrip() for line in context.next_lines if line.strip()), None)
    if "\n" in expected:
        assert expected.split("\n")[-1].rstrip() != next_line  # drop_suffix_overlap
    assert all(line == line.rstrip() for line in expected.split("\n")[:-1])  # trim_trailing_whitespace
    if context.indent_unit == "\t":  # keep_indentation_style
        assert all(" " not in leading_whitespace(line) for line in expected.split("\n")[1:])
    elif context.indent_unit is not None:
        assert all("\t" not in leading_whitespace(line) for line in expected.split("\n")[1:])


def changed_by(fixture: Fixture) -> set[str]:
    """Names of the filters that changed this fixture's raw output."""
    names = set()
    raw = drop_unfinished_line(fixture.raw, fixture.context) if fixture.truncated else fixture.raw
    suggestion = Suggestion(raw)
    for step in PIPELINE:
        after = step(suggestion, fixture.context)
        if after != suggestion:
            names.add(step.__name__)
        suggestion = after
    return names


# Filters that real model output exercises in these fixtures (strip_special_tokens: the
# instruct model's ``` fences); the rest (brackets, repetition, indentation style,
# trailing whitespace, empties) have hand-made cases in test_engine_postprocess.py.
EXERCISED_BY_REAL_OUTPUT = {
    "drop_held_back",
    "strip_special_tokens",
    "keep_single_line",
    "stop_at_block_end",
    "stop_at_syntax_block_end",
    "drop_suffix_overlap",
}


def test_real_outputs_exercise_the_filters() -> None:
    exercised = set().union(*(changed_by(load(path)) for path in FIXTURES))
    assert EXERCISED_BY_REAL_OUTPUT <= exercised, sorted(exercised)
