"""Per-model calibration of the review thresholds, and the focused yes/no verification.

Real tiny GGUF (model.tiny + our converter): thresholds computed from a real pass over
held-out functions, monotone, cached by the GGUF's hash, used by the review and the CLI;
the yes/no answer's probabilities read from the random model are probabilities. Scripted
model: exactly which candidates verification confirms.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.assist import review_cases, stdlib_cases
from lsp_server.engine import calibration as cal
from lsp_server.engine.surprise import fix_gain
from lsp_server.features.review import (
    LineTable, ReviewOptions, ReviewRequest, review, same_shaped_fix, scored_lines, verify_messages,
)
from lsp_server.features.review_calibration import Calibrator, calibration_for, options_for
from lsp_server.features.review_model import LocalReviewModel
from tests.review.fakes import ScriptedModel

REPO_ROOT = Path(__file__).resolve().parents[2]
CODE = '''def mean(values):
    total = 0
    for value in values:
        total += value
    return total / (len(values) + 1)
'''



@pytest.fixture(scope="module")
def small_corpus():
    return cal.corpus(limit=12)


# -- the arithmetic ------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, 0.02, 0.1, 0.25, 0.5])
def test_at_most_the_rate_of_values_reach_the_threshold(rate):
    values = [float(value % 17) + value / 100 for value in range(100)]
    threshold = cal.threshold(values, rate)
    assert sum(value >= threshold for value in values) <= math.floor(rate * len(values))
    # ... and it is the smallest such: one step lower lets one more through.
    assert sum(value >= math.nextafter(threshold, -math.inf) for value in values) > math.floor(rate * len(values))


def test_threshold_is_monotone_in_the_rate_and_ignores_unscored_functions():
    values = [3.0, -math.inf, 1.0, 7.0, 5.0, -math.inf, 2.0, 9.0]
    thresholds = [cal.threshold(values, rate) for rate in (0.0, 0.125, 0.25, 0.5)]
    assert thresholds == sorted(thresholds, reverse=True)
    assert cal.threshold(values, 0.0) > 9.0
    assert cal.threshold([-math.inf] * 4, 0.02) == math.inf


def test_calibration_corpus_is_disjoint_from_the_benchmark():
    """No benchmark function (docstring/tests or review) can tune a threshold: modules differ
    (none equal, inside or holding another), and so do labels and source texts."""
    benchmark_modules = set(stdlib_cases.MODULES) | set(review_cases.MODULES)
    for corpus_module in cal.CORPUS_MODULES:
        for module in benchmark_modules:
            assert not (corpus_module == module or corpus_module.startswith(module + ".")
                        or module.startswith(corpus_module + ".")), (corpus_module, module)
    corpus = cal.corpus()
    assert len(corpus) >= 100  # CORPUS_SIZE (120) here; a newer Python lacks a few of the modules
    labels = {function.label for function in corpus}
    sources = {function.source for function in corpus}
    # Every listed function with a mutation site (a superset of the review cases; their mutants are not run here).
    for name, source in review_cases.stdlib_functions(200):
        assert name not in labels and source not in sources
    for function in stdlib_cases.stdlib_functions(50):
        assert function.label not in labels and function.source not in sources


# -- a real pass on the tiny GGUF ------------------------------------------------


def test_thresholds_come_from_the_models_scores_on_clean_code(backend, tiny_gguf, small_corpus):
    model = LocalReviewModel(backend)
    calibration = Calibrator(model, "sha", functions=small_corpus).run()
    assert calibration.functions == len(small_corpus) and calibration.metric == ReviewOptions().surprise_metric
    assert math.isfinite(calibration.info) and calibration.info <= calibration.warning
    # The thresholds hold on the corpus they came from: rescoring it, at most floor(p * n)
    # functions reach a warning and floor(p_info * n) an info finding.
    scorer = model.surprise_scorer()
    worst = [max(line.score for line in scored_lines(function.source, "python", scorer, None, calibration.metric))
             for function in small_corpus]
    assert sum(score >= calibration.warning for score in worst) <= math.floor(cal.P_WARNING * len(worst))
    assert sum(score >= calibration.info for score in worst) <= math.floor(cal.P_INFO * len(worst))
    assert sum(score >= math.nextafter(calibration.info, -math.inf) for score in worst) > math.floor(cal.P_INFO * len(worst))
    assert calibration.verify is not None and math.isfinite(calibration.verify)
    # The fix margin: each fixable line's fix scored in context; at most floor(p_info * n) functions' best
    # fix reaches the margin, unless it is 0 (a kept fix is always more likely as a whole).
    best_gain, worst_fixable = [], []
    for function in small_corpus:
        table = LineTable(function.source)
        lines = scored_lines(function.source, "python", scorer, None, calibration.metric)
        fixes = {line.line: same_shaped_fix(line, table) for line in lines}
        gains = {line.line: fix_gain(function.source, line.start, line.end, fixes[line.line], scorer)
                 for line in lines if fixes[line.line] is not None}
        best_gain.append(max(gains.values(), default=-math.inf))
        # The fix-warning level: at most floor(p * n) functions' worst line with a same-shaped fix reaches it
        # (whether the fix clears the margin is a further test).
        worst_fixable.append(max((line.score for line in lines if line.line in gains), default=-math.inf))
    assert calibration.fix_margin >= 0.0
    if calibration.fix_margin > 0.0:
        assert sum(gain >= calibration.fix_margin for gain in best_gain) <= math.floor(cal.P_INFO * len(best_gain))
    assert calibration.fix_margin == pytest.approx(max(0.0, cal.threshold(best_gain, cal.P_INFO)), abs=1e-3)
    assert calibration.fix_warning == cal.threshold(worst_fixable, cal.P_WARNING)
    assert sum(score >= calibration.fix_warning for score in worst_fixable) <= math.floor(cal.P_WARNING * len(worst_fixable))
    assert options_for(calibration).fix_margin == calibration.fix_margin
    assert options_for(calibration).fix_warning == calibration.fix_warning


def test_an_aborted_calibration_resumes_where_it_stopped(backend, small_corpus):
    import threading

    model = LocalReviewModel(backend)
    calibrator = Calibrator(model, "sha", functions=small_corpus)
    abort = threading.Event()
    seen = []

    def progress(done, total, what):
        seen.append(done)
        if done == 5:
            abort.set()  # a completion preempts the review after 5 functions

    assert calibrator.run(abort, progress) is None
    resumed = []
    calibration = calibrator.run(None, lambda done, total, what: resumed.append(done))
    assert calibration is not None
    assert min(resumed) >= 5  # the first functions were not scored again
    fresh = Calibrator(model, "sha", functions=small_corpus).run()
    for name in ("info", "warning", "verify"):
        assert getattr(calibration, name) == pytest.approx(getattr(fresh, name), abs=1e-3)


def test_calibration_is_cached_by_the_gguf_hash_and_used_from_the_cache(backend, tiny_gguf, small_corpus, tmp_path):
    model = LocalReviewModel(backend)
    calls = []
    first = calibration_for(model, tiny_gguf, tmp_path, functions=small_corpus,
                            progress=lambda *args: calls.append(args), calibrators={})
    assert calls, "the first call calibrates"
    path = cal.cache_file(tmp_path, cal.file_sha256(tiny_gguf), first.metric)
    assert json.loads(path.read_text())["model_sha256"] == cal.file_sha256(tiny_gguf)
    calls.clear()
    assert calibration_for(model, tiny_gguf, tmp_path, functions=small_corpus,
                           progress=lambda *args: calls.append(args), calibrators={}) == first
    assert not calls, "the second call reads the cache"
    # Another model (another file) gets its own calibration.
    other = tmp_path / "other.gguf"
    other.write_bytes(tiny_gguf.read_bytes() + b"\0")
    assert cal.cache_file(tmp_path, cal.file_sha256(other), first.metric) != path


def test_the_review_uses_the_calibrated_thresholds(backend):
    model = LocalReviewModel(backend)
    request = ReviewRequest(CODE, path="stats.py", language="python", signals="surprise")
    base = cal.Calibration("sha", "gap", info=-1e9, warning=-1e9, verify=None, functions=1)
    everything = review(request, model, options_for(base))
    assert everything.findings and all(f.severity == "warning" for f in everything.findings)
    nothing = review(request, model, options_for(cal.Calibration("sha", "gap", 1e9, 1e9, None, 1)))
    assert nothing.findings == []
    infos = review(request, model, options_for(cal.Calibration("sha", "gap", -1e9, 1e9, None, 1)))
    assert infos.findings and all(f.severity == "info" for f in infos.findings)


def test_the_cli_reviews_with_the_cached_calibration(tiny_gguf, tmp_path):
    source = tmp_path / "stats.py"
    source.write_text(CODE, encoding="utf-8")
    sha = cal.file_sha256(tiny_gguf)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SEEKCODE_MODEL": "", "SEEKCODE_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "lsp_server", "review", str(source), "--model", str(tiny_gguf), "--threads", "2",
               "--signals", "surprise", "--fail-on", "warning", "--format", "json"]
    statuses = {}
    for name, level in (("low", -1e9), ("high", 1e9)):
        cal.save(cal.cache_file(tmp_path / "cache", sha, "gap"), cal.Calibration(sha, "gap", level, level, None, 1))
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        statuses[name] = (done.returncode, json.loads(done.stdout))
        assert "calibrating" not in done.stderr
    assert statuses["low"][0] == 1 and statuses["low"][1]
    assert statuses["high"] == (0, [])


# -- focused verification ----------------------------------------------------------


def test_yes_no_from_the_random_model_are_probabilities(backend):
    model = LocalReviewModel(backend)
    table = LineTable(CODE)
    messages = verify_messages(ReviewRequest(CODE, language="python"), table, 1, table.count, 5)
    assert "Is line 5 correct" in messages[-1]["content"] and "return total" in messages[-1]["content"]
    answer = model.yes_no(messages, None)
    assert math.isfinite(answer)
    assert model.yes_no(messages, None) == pytest.approx(answer, abs=1e-4)  # reused prefix: same answer
    # The two log-probabilities it compares are those of real tokens: each below 0, together at most 1.
    from lsp_server.engine import chat

    prompt = chat.chat_prompt(backend, messages) if backend.chat_template else model._plain_prompt(messages, "Answer (yes or no):")
    total = 0.0
    for word in ("yes", "no"):
        for token in model._answer_tokens(word):
            logprob = backend.token_scores([*prompt, token])[0][-1]
            assert logprob < 0
            total += math.exp(logprob)
    assert total <= 1.0 + 1e-6


def test_next_token_distribution_is_the_scored_one(backend):
    """next_logprobs (read by bench/assist/review_point.py) is a distribution over the vocabulary,
    and its entry for a token is that token's score from token_scores."""
    tokens = backend.tokenize(CODE)
    distribution = backend.next_logprobs(tokens)
    assert distribution.shape == (backend.vocab_size,)
    assert math.exp(distribution.max()) <= 1.0 and float(np.exp(distribution).sum()) == pytest.approx(1.0, abs=1e-6)
    for token in (int(distribution.argmax()), 7, backend.vocab_size - 1):
        assert backend.token_scores([*tokens, token])[0][-1] == pytest.approx(distribution[token], abs=1e-4)
    assert backend.next_logprobs(tokens[:3]) is not None  # a shorter prompt (prefix reuse) still answers
    index = backend.piece_index()
    digits = index.ids_where(lambda piece: piece[:1].isdigit())
    assert digits and all(backend.token_piece(token)[:1].isdigit() for token in digits)


def _verified(verdicts, threshold=1.0):
    model = ScriptedModel(surprising={"+=": 12.0, "+": 11.0})
    model.verdicts = verdicts
    options = ReviewOptions(surprise_threshold=5.0, surprise_warning=8.0, verify_threshold=threshold)
    return model, review(ReviewRequest(CODE, path="stats.py", language="python", signals="both"), model, options)


def test_verification_confirms_a_candidate_the_model_judges_wrong_and_demotes_the_others():
    model, result = _verified({5: 3.0, 4: -2.0})
    by_line = {finding.start_line: finding for finding in result.findings}
    asked = sorted(int(m[-1]["content"].split("Is line ")[1].split()[0]) for m in model.questions)
    assert asked == sorted(by_line)  # every candidate was asked about, once
    assert by_line[5].severity == "warning" and "judged it wrong" in by_line[5].message
    assert by_line[4].severity == "info"  # surprising ("+="), but judged correct


def test_without_a_verification_threshold_nothing_is_asked():
    model = ScriptedModel(surprising={"+=": 12.0})
    result = review(ReviewRequest(CODE, language="python", signals="both"), model,
                    ReviewOptions(surprise_threshold=5.0, surprise_warning=8.0))
    assert not model.questions and any(f.severity == "warning" for f in result.findings)
