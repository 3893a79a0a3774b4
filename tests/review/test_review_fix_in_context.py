"""A same-shaped fix is kept only when the fixed text is more likely than the original as a whole
(engine.surprise.fix_gain): a causal model picks its first choice at a token from what precedes it,
and what follows may only fit the original."""

from __future__ import annotations

import pytest

from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.engine.surprise import fix_gain
from lsp_server.features.review import ReviewOptions, ReviewRequest, review
from lsp_server.features.review_model import LocalReviewModel

from tests.review.fakes import ScriptedModel

CODE = """def f(a, b, c, d):
    x = a * b
    y = c % d
    z = a ^ c
    w = b & d
    return x + y + z + w
"""
SURPRISING = {"*": 60.0, "%": 55.0, "^": 50.0, "&": 45.0, "+": 25.0}


def _findings(after=None, fix_margin=0.0):
    model = ScriptedModel(surprising=SURPRISING, expected={"+": " -"}, after=after)
    options = ReviewOptions(surprise_threshold=5.0, surprise_warning=8.0, fix_warning=20.0, fix_margin=fix_margin)
    result = review(ReviewRequest(CODE, language="python", signals="surprise"), model, options)
    return {f.start_line: f for f in result.findings}, model


def test_a_fix_that_fits_what_follows_is_kept_as_a_warning():
    findings, _ = _findings()
    assert findings[6].severity == "warning" and findings[6].suggestion == "    return x - y + z + w"


def test_a_fix_that_only_the_token_alone_favours_is_dropped():
    # "-" is the model's choice at "+", but "y" after "-" is very unlikely: the fixed line as a whole is not.
    findings, _ = _findings(after={("-", "y"): 40.0})
    # Without its fix, line 6 is neither fix-warned nor among the 3 most surprising lines: not reported.
    assert 6 not in findings and all(f.severity == "info" for f in findings.values())


def test_the_margin_decides_a_fix_by_how_much_more_likely_it_makes_the_text():
    # "+" costs 25 nats and "-" about 1-2: the fixed text is some 23 nats more likely.
    assert _findings(fix_margin=20.0)[0][6].severity == "warning"
    assert 6 not in _findings(fix_margin=30.0)[0]


def test_without_a_margin_no_fix_is_scored_in_context():
    kept, model = _findings(after={("-", "y"): 40.0}, fix_margin=None)
    assert kept[6].severity == "warning"
    assert len(model.scored) == 1  # the surprise pass only


def test_the_gain_compares_both_texts_over_the_edited_line_from_the_first_differing_token():
    model = ScriptedModel(surprising={"+": 25.0}, after={("-", "y"): 4.0})
    text = "a = 1\nb = x + y\nc = b\nd = c\n"
    start = text.index("+")
    gain = fix_gain(text, start, start + 1, "-", model.surprise_scorer(), tail_tokens=0)
    tokens = model.tokenize(text)

    def ordinary(index):  # the scripted cost of a token no rule covers, at this position
        return 1.0 + (index % 5) * 0.25

    plus, y = tokens.index(model.ids["+"]), tokens.index(model.ids["y"])
    # "+" (25 nats) becomes "-" (an ordinary cost), and "y" costs 4 nats after "-" instead of its ordinary cost.
    assert gain == pytest.approx((25.0 + ordinary(y)) - (ordinary(plus) + 4.0))
    original, fixed = model.scored[-2], model.scored[-1]
    assert original[:plus] == fixed[:plus] and original[plus] != fixed[plus]
    # No tail: both windows end with the edited line's last token; nothing of "c = b" is scored.
    assert model.vocab[original[-1]] == "y" and model.vocab[fixed[-1]] == "y"


def test_a_tail_past_the_line_brings_in_what_follows():
    # The next line's "q" is very unlikely after "+": only a comparison reaching past the line sees it.
    model = ScriptedModel(surprising={"*": 25.0}, after={("+", "q"): 30.0})
    text = "b = x *\nq\n"
    start = text.index("*")
    scorer = model.surprise_scorer()
    line_only = fix_gain(text, start, start + 1, "+", scorer, tail_tokens=0)
    with_tail = fix_gain(text, start, start + 1, "+", scorer, tail_tokens=8)
    assert line_only > 20.0 and with_tail < line_only - 20.0


def test_with_a_real_gguf_the_gain_is_the_difference_of_whole_text_likelihoods_and_the_prefix_is_reused(tiny_gguf):
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=1024, threads=2, batch_size=64))
    fresh = LocalBackend(tiny_gguf, BackendOptions(context_size=1024, threads=2, batch_size=64, reuse_prefix=False))
    try:
        scorer = LocalReviewModel(backend).surprise_scorer()
        body = "".join(f"    total = total + values[{i}] * {i}\n" for i in range(12))
        text = "def weighted(values):\n    total = 0\n" + body + "    return total - 1\n"
        start = text.rindex("-")
        fixed = text[:start] + "+" + text[start + 1:]
        original_ids = [*scorer.prefix_tokens, *scorer.tokenize(text)]
        fixed_ids = [*scorer.prefix_tokens, *scorer.tokenize(fixed)]
        backend.token_scores(original_ids)  # the review's surprise pass: the original is cached

        decoded = []
        context = backend._llama._ctx
        real_decode = context.decode

        def counting_decode(batch):
            decoded.append(batch.n_tokens())
            return real_decode(batch)

        context.decode = counting_decode
        try:
            gain = fix_gain(text, start, start + 1, "+", scorer, tail_tokens=64)
        finally:
            context.decode = real_decode
        # The edit is on the last line and the tail reaches the end: the gain is the whole texts' difference,
        # as two uncached full passes give it.
        whole = sum(fresh.token_scores(fixed_ids)[0]) - sum(fresh.token_scores(original_ids)[0])
        assert gain == pytest.approx(whole, abs=1e-2)
        shared = next(i for i, (a, b) in enumerate(zip(original_ids, fixed_ids)) if a != b)
        # Only the tails were evaluated: the original's one cached token again, the fixed text from the edit.
        assert 0 < sum(decoded) <= 2 + (len(fixed_ids) - shared) + 1
        assert sum(decoded) < len(fixed_ids) // 2
    finally:
        backend.close()
        fresh.close()
