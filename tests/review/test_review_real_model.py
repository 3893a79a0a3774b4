"""The review's model parts on a real GGUF (tiny, random weights, made by our converter)."""

from __future__ import annotations

import json
import threading

import jsonschema
import pytest

from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.engine.findings import FINDINGS_GBNF, FINDINGS_SCHEMA, parse_findings
from lsp_server.features.review import ReviewRequest, review, review_messages, LineTable
from lsp_server.features.review_model import LocalReviewModel

CODE = '''def mean(values):
    total = 0
    for value in values:
        total += value
    return total / (len(values) + 1)
'''



def test_token_logprobs_are_log_probabilities_and_reuse_gives_the_same_scores(backend, tiny_gguf):
    tokens = backend.tokenize(CODE)
    first = backend.token_logprobs(tokens)
    assert len(first) == len(tokens) and first[0] == 0.0
    assert all(value < 0 for value in first[1:])
    # Scored again after an edit near the end: the prefix is reused, the values do not change.
    edited = backend.tokenize(CODE.replace("+ 1", "- 1"))
    reused = backend.token_logprobs(edited)
    fresh_backend = LocalBackend(tiny_gguf, BackendOptions(context_size=1024, threads=2, batch_size=64, reuse_prefix=False))
    try:
        fresh = fresh_backend.token_logprobs(edited)
    finally:
        fresh_backend.close()
    assert reused == pytest.approx(fresh, abs=1e-3)


def test_the_greedy_token_is_the_most_likely_one(backend):
    prompt = backend.tokenize("def add(a, b):\n    return")
    greedy = backend.generate(prompt, max_tokens=1).token_ids[0]
    best = backend.token_logprobs([*prompt, greedy])[-1]
    for other in ((greedy + 1) % backend.vocab_size, (greedy + 7) % backend.vocab_size, 13):
        assert backend.token_logprobs([*prompt, other])[-1] <= best + 1e-4


def test_aborted_scoring_returns_none(backend):
    abort = threading.Event()
    abort.set()
    backend.reset()
    assert backend.token_logprobs(backend.tokenize(CODE * 3), abort=abort) is None


def test_constrained_output_parses_even_from_a_random_model(backend):
    model = LocalReviewModel(backend)
    request = ReviewRequest(CODE, path="stats.py", language="python")
    messages = review_messages(request, LineTable(CODE), 1, 5, [])
    answer = model.write(messages, FINDINGS_GBNF, max_tokens=400, abort=None)
    assert answer.lstrip().startswith("[")
    try:
        value = json.loads(answer)
    except json.JSONDecodeError:
        # Cut off by max_tokens inside the list: the complete findings still parse.
        assert answer.count("{") > len(parse_findings(answer)) or answer.count("{") == 0
    else:
        jsonschema.validate(value, FINDINGS_SCHEMA)
        assert len(parse_findings(answer)) == len(value)


def test_review_end_to_end_on_the_tiny_model(backend):
    result = review(ReviewRequest(CODE, path="stats.py", language="python", first_line=2, last_line=5),
                    LocalReviewModel(backend))
    assert result.signals == ("surprise", "written")
    for finding in result.findings:
        assert 2 <= finding.start_line <= finding.end_line <= 5
        assert finding.severity in ("error", "warning", "info")
        assert CODE[finding.start : finding.end].strip()


@pytest.mark.parametrize("language", ["python", "typescript", "go"])
def test_real_tokens_map_to_the_right_lines_in_each_language(backend, language):
    from lsp_server.features.review import ReviewOptions
    from tests.review.test_review_placement import CASES

    text = CASES[language][0] + {"python": 'label = "naïve ☕ café"\n', "typescript": 'const label = "naïve ☕ café";\n',
                                 "go": 'var label = "naïve ☕ café"\n'}[language]
    # Thresholds at zero: every line's worst token becomes a finding, so every line is checked.
    options = ReviewOptions(surprise_threshold=-1e9, surprise_warning=1e9, max_surprise_findings=1000)
    lines = LineTable(text)
    result = review(ReviewRequest(text, language=language, signals="surprise"), LocalReviewModel(backend), options)
    code_lines = {number for number in range(1, lines.count + 1) if lines.line_text(number).strip()}
    assert len(result.findings) >= len(code_lines) // 2
    for finding in result.findings:
        assert finding.start_line == finding.end_line
        assert lines.start_of(finding.start_line) <= finding.start < finding.end <= lines.end_of(finding.start_line)
        token = text[finding.start : finding.end]
        assert token.strip() and token in lines.line_text(finding.start_line)
        assert f"`{token.strip()}`" in finding.message
