"""Findings land on exactly the right lines and characters, with a scripted model."""

from __future__ import annotations

import json

import pytest

from lsp_server.features.review import LineTable, ReviewOptions, ReviewRequest, review
from tests.review.fakes import ScriptedModel

PYTHON = '''import os


def clamp(value, low, high):
    """Keep value within [low, high]."""
    if value < low:
        return low
    if value >= high:
        return low
    return value
'''

TYPESCRIPT = '''export function lastIndex<T>(items: T[], wanted: T): number {
  for (let i = items.length; i >= 0; i--) {
    if (items[i] === wanted) {
      return i;
    }
  }
  return -1;
}
'''

GO = '''package mathx

// Sum adds the numbers.
func Sum(values []int) int {
\ttotal := 0
\tfor i := 1; i < len(values); i++ {
\t\ttotal += values[i]
\t}
\treturn total
}
'''

CASES = {
    # language: (text, the buggy line, its code, a suggested fix)
    "python": (PYTHON, 9, "return low", "        return high"),
    "typescript": (TYPESCRIPT, 2, "for (let i = items.length; i >= 0; i--) {", "  for (let i = items.length - 1; i >= 0; i--) {"),
    "go": (GO, 6, "for i := 1; i < len(values); i++ {", "\tfor i := 0; i < len(values); i++ {"),
}


def written_answer(line: int, suggestion: str) -> str:
    return json.dumps([{"start_line": line, "end_line": line, "severity": "error",
                        "message": "wrong value", "suggestion": suggestion}])


@pytest.mark.parametrize("language", sorted(CASES))
def test_written_finding_covers_exactly_the_line_it_names(language):
    text, line, code, fix = CASES[language]
    model = ScriptedModel(answer=written_answer(line, fix))
    result = review(ReviewRequest(text, path=f"x.{language}", language=language, signals="written"), model)
    [finding] = result.findings
    assert (finding.start_line, finding.end_line, finding.severity) == (line, line, "error")
    assert text[finding.start : finding.end] == code
    assert finding.suggestion == fix
    # The prompt showed the model the same line numbers it answered with.
    prompt = model.messages[0][-1]["content"]
    assert f"{line:>4} | {text.splitlines()[line - 1]}" in prompt


@pytest.mark.parametrize("language", sorted(CASES))
def test_surprising_token_becomes_a_finding_on_its_line(language):
    text, line, code, _ = CASES[language]
    token = {"python": "low", "typescript": ">=", "go": "1"}[language]
    # The token is surprising only where the bug is: other occurrences get ordinary scores.
    model = ScriptedModel(surprising={})
    scorer = model.surprise_scorer()
    tokens = model.tokenize(text)
    target_line_start = LineTable(text).start_of(line)
    offsets, position = [], 0
    for token_id in tokens:
        offsets.append(position)
        position += len(model.vocab[token_id])
    target_index = next(i for i, offset in enumerate(offsets)
                        if offset >= target_line_start and model.vocab[tokens[i]] == token)

    def logprobs(window, abort):
        values = ScriptedModel.logprobs(model, window, abort)
        values[target_index] = -60.0
        return values

    model.logprobs = logprobs
    result = review(ReviewRequest(text, language=language, signals="surprise"), model)
    [finding] = result.findings
    assert finding.start_line == finding.end_line == line
    assert text[finding.start : finding.end] == token
    assert finding.rule == "seekcode.surprise" and finding.severity == "warning"
    assert scorer.context_size == 4096


def test_findings_outside_the_reviewed_lines_are_dropped():
    answer = json.dumps([
        {"start_line": 1, "end_line": 1, "severity": "warning", "message": "unused import"},
        {"start_line": 9, "end_line": 9, "severity": "error", "message": "wrong bound"},
        {"start_line": 9, "end_line": 12, "severity": "error", "message": "runs past the function"},
        {"start_line": 40, "end_line": 41, "severity": "error", "message": "not in the file"},
    ])
    result = review(ReviewRequest(PYTHON, first_line=4, last_line=10, signals="written"), ScriptedModel(answer))
    assert [(f.start_line, f.end_line, f.message) for f in result.findings] == [(9, 9, "wrong bound")]


def test_duplicates_keep_the_most_severe():
    answer = json.dumps([
        {"start_line": 9, "end_line": 9, "severity": "info", "message": "odd"},
        {"start_line": 9, "end_line": 9, "severity": "error", "message": "wrong bound"},
        {"start_line": 9, "end_line": 9, "severity": "warning", "message": "again"},
    ])
    [finding] = review(ReviewRequest(PYTHON, signals="written"), ScriptedModel(answer)).findings
    assert (finding.severity, finding.message) == ("error", "wrong bound")


def test_diff_mode_drops_findings_on_unchanged_lines():
    answer = json.dumps([
        {"start_line": 6, "end_line": 7, "severity": "warning", "message": "touches a changed line"},
        {"start_line": 9, "end_line": 9, "severity": "error", "message": "unchanged"},
    ])
    model = ScriptedModel(answer)
    result = review(ReviewRequest(PYTHON, changed_lines=frozenset({7}), signals="written"), model)
    assert [f.message for f in result.findings] == ["touches a changed line"]
    assert "report findings on them: 7." in model.messages[0][-1]["content"]


def test_both_signals_steer_the_written_review_and_keep_surprise_findings():
    text = PYTHON
    model = ScriptedModel(answer=written_answer(9, "        return high"), surprising={"<": 60.0})
    result = review(ReviewRequest(text, signals="both"), model)
    prompt = model.messages[0][-1]["content"]
    assert "6 (`<`)" in prompt  # the surprising line is named for the written review
    by_line = {f.start_line: f for f in result.findings}
    assert by_line[9].rule == "seekcode.review" and by_line[9].severity == "error"
    assert by_line[6].rule == "seekcode.surprise" and by_line[6].severity == "warning"
    assert result.signals == ("surprise", "written")
    # Demoting what the written review did not confirm is an option.
    demoted = review(ReviewRequest(text, signals="both"), model, ReviewOptions(demote_unconfirmed=True))
    assert {f.start_line: f.severity for f in demoted.findings}[6] == "info"


def test_a_model_without_a_chat_template_still_gives_surprise_findings():
    model = ScriptedModel(writes=False, surprising={"<": 60.0})
    result = review(ReviewRequest(PYTHON, signals="both"), model)
    assert result.signals == ("surprise",)
    assert [f.start_line for f in result.findings] == [6]
    assert result.findings[0].severity == "warning"  # nothing written to confirm against
    assert result.notes == ["this model has no chat template."]


def test_abort_returns_an_aborted_result():
    import threading

    abort = threading.Event()
    abort.set()
    result = review(ReviewRequest(PYTHON), ScriptedModel("[]"), abort=abort)
    assert result.aborted and result.findings == []


def test_crlf_and_no_trailing_newline():
    text = "def f(x):\r\n    y = x + 1\r\n    return x"
    answer = written_answer(3, "    return y")
    [finding] = review(ReviewRequest(text, signals="written"), ScriptedModel(answer)).findings
    assert text[finding.start : finding.end] == "return x"


def test_suggestion_equal_to_the_code_is_no_fix():
    answer = json.dumps([{"start_line": 9, "end_line": 9, "severity": "warning", "message": "m",
                          "suggestion": "return low"}])
    [finding] = review(ReviewRequest(PYTHON, signals="written"), ScriptedModel(answer)).findings
    assert finding.suggestion is None


def test_a_new_name_is_not_a_finding_however_surprising():
    # "clamp" occurs once: no model can predict a name it has never seen.
    model = ScriptedModel(surprising={"clamp": 60.0})
    assert review(ReviewRequest(PYTHON, language="python", signals="surprise"), model).findings == []
    # A later use of a known name that surprises the model is a finding.
    model = ScriptedModel(surprising={"value": 60.0})
    lines = {f.start_line for f in review(ReviewRequest(PYTHON, language="python", signals="surprise"), model).findings}
    assert lines and 4 not in lines  # line 4 is where `value` is introduced
