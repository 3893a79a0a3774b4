"""The n-gram baseline: counts, backoff, greedy line completion."""

from __future__ import annotations

import pytest

from model.ngram import BACKOFF, NgramModel


def test_predicts_the_most_frequent_continuation_of_the_longest_context() -> None:
    docs = [[1, 2, 3, 4], [1, 2, 3, 4], [9, 2, 3, 5], [7, 3, 6], [7, 3, 6], [7, 3, 6]]
    model = NgramModel(order=4).fit(docs)
    assert model.next_token([1, 2, 3]) == 4  # trigram context seen: 4 both times
    assert model.next_token([9, 2, 3]) == 5
    assert model.next_token([8, 8, 3]) == 6  # unseen longer contexts back off to "3 -> 6" (3 of 5)
    scores = model.scores([1, 2, 3])
    assert scores[4] == pytest.approx(1.0)
    assert model.next_token([]) == 3  # unigram argmax: 3 is the most frequent token


def test_backoff_scores_are_discounted() -> None:
    model = NgramModel(order=2).fit([[1, 2], [1, 2], [3, 4], [3, 4], [3, 4]])
    scores = model.scores([5])  # unseen context: unigram scores times BACKOFF
    assert scores[3] == pytest.approx(BACKOFF * 3 / 10)
    assert model.scores([1])[2] == pytest.approx(1.0)


def test_ngrams_do_not_cross_documents() -> None:
    model = NgramModel(order=2).fit([[1, 2], [3, 4]])
    # "2 -> 3" would exist if the documents were concatenated; here [2] has no bigram, only unigrams.
    assert model.scores([2])[3] == pytest.approx(BACKOFF * 1 / 4)


def test_complete_line_stops_at_the_newline() -> None:
    vocab = {1: "a", 2: "b", 3: "\n", 4: "c"}
    model = NgramModel(order=3).fit([[1, 2, 4, 3, 1, 2, 4, 3]])
    line = model.complete_line([1, 2], lambda ids: "".join(vocab[i] for i in ids))
    assert line == "c"


def test_unfitted_model_and_bad_order_are_errors() -> None:
    with pytest.raises(ValueError, match="order"):
        NgramModel(order=0)
    with pytest.raises(ValueError, match="not fitted"):
        NgramModel().scores([1])
