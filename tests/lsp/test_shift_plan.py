"""Shifted reuse: which cached runs a new prompt can take (pure), and that applying a plan on a
real GGUF leaves exactly the new prompt in the cache, at the right positions."""

import threading

import pytest

from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.backend.places import Move, reused_by, shift_plan


def test_a_window_that_starts_later_reuses_its_shared_run() -> None:
    cached = [1] + list(range(100, 200))  # marker, then lines 100..199 of a file
    prompt = [1] + list(range(140, 230))  # the window moved 40 tokens on and grew
    moves = shift_plan(cached, prompt, start=1, min_run=8)
    assert moves == [Move(cache_start=41, prompt_start=1, length=60)]
    assert reused_by(moves, 1) == 61


def test_runs_shorter_than_the_minimum_and_the_last_token_are_never_reused() -> None:
    cached = [1, 5, 6, 7, 8, 50, 51, 52]
    assert shift_plan(cached, [1, 6, 7, 8, 9], start=1, min_run=4) == []
    assert shift_plan(cached, [1, 6, 7, 8, 50, 99], start=1, min_run=4) == [Move(2, 1, 4)]
    # the whole prompt is cached further on: everything but its last token
    assert shift_plan([1, 9, 2, 3, 4, 5], [1, 2, 3, 4, 5], start=1, min_run=2) == [Move(2, 1, 3)]


def test_several_runs_in_order_skipping_what_lies_between() -> None:
    cached = [0, *range(10, 20), 77, 78, *range(30, 40), 99]
    prompt = [0, *range(12, 20), *range(30, 40), 5]
    assert shift_plan(cached, prompt, start=1, min_run=5) == [Move(3, 1, 8), Move(13, 9, 10)]


@pytest.fixture
def shifting_backend(tiny_gguf):
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2, warm_places=1, shift_reuse=True))
    yield backend
    backend.close()


def test_a_shifted_run_leaves_the_new_prompt_in_the_cache(shifting_backend) -> None:
    backend = shifting_backend
    if not backend._can_shift:
        pytest.skip("this model's cache cannot shift positions")
    text = "".join(f"line {n} of the file\n" for n in range(40))
    tokens = backend.tokenize(text)
    first, moved = tokens[:200], tokens[60:260]
    backend.generate(first, max_tokens=2)
    assert backend.pending_tokens(moved) < len(moved) - 100  # the shared run is reusable
    generation = backend.generate(moved, max_tokens=4)
    assert generation.stats.reused_tokens == 140  # tokens 60..199 shifted 60 places left
    assert generation.stats.evaluated_tokens == len(moved) - 140
    assert backend.cached_tokens[: len(moved)] == moved
    # Positions are consistent: the sequence continues at the prompt's end (llama.cpp checks
    # that a batch's first position follows the cache's last), so generating again works and
    # the prefix is still recognised.
    again = backend.generate(moved + generation.token_ids[:1], max_tokens=2)
    assert again.stats.reused_tokens == len(moved)


def test_shifting_is_off_by_default(tiny_gguf) -> None:
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2, warm_places=1))
    try:
        text = "".join(f"line {n} of the file\n" for n in range(40))
        tokens = backend.tokenize(text)
        backend.generate(tokens[:200], max_tokens=2)
        assert backend.pending_tokens(tokens[60:260]) == 200
    finally:
        backend.close()
