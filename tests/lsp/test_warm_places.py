"""Warm places: going back to where the cursor just was finds its prompt still in the KV cache,
and what the model writes there is what a fresh evaluation of the same prompt gives."""

from __future__ import annotations

import pytest

from lsp_server.backend.local import BackendOptions, LocalBackend, affordable_warm_places, kv_bytes_per_token
from lsp_server.backend.places import WarmPlaces

PLACE_A = "".join(f"def alpha_{i}(value):\n    return value * {i}\n\n" for i in range(12)) + "def alpha_end(x):\n    return"
PLACE_B = "".join(f"class Beta{i}:\n    size = {i}\n\n" for i in range(14)) + "class BetaEnd:\n    name ="
PLACE_C = "".join(f"GAMMA_{i} = [{i}, {i + 1}]\n" for i in range(30)) + "GAMMA_END ="


@pytest.fixture
def warm(tiny_gguf):
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2, warm_places=2))
    yield backend
    backend.close()


def fresh_tokens(tiny_gguf, prompt: list[int], max_tokens: int) -> list[int]:
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2, reuse_prefix=False))
    try:
        return backend.generate(prompt, max_tokens=max_tokens).token_ids
    finally:
        backend.close()


def test_going_back_to_a_place_reuses_its_cache_and_writes_the_same_tokens(warm, tiny_gguf):
    a, b = warm.tokenize(PLACE_A), warm.tokenize(PLACE_B)
    assert len(a) > 150 and len(b) > 150
    warm.generate(a, max_tokens=6)
    moved = warm.generate(b, max_tokens=6)
    assert moved.stats.reused_tokens == 0  # a new place is cold

    a_typed = a + warm.tokenize(" value")
    back = warm.generate(a_typed, max_tokens=8)
    assert back.stats.reused_tokens >= len(a) - 1
    assert back.stats.evaluated_tokens <= len(a_typed) - len(a) + 1
    assert back.token_ids == fresh_tokens(tiny_gguf, a_typed, 8)

    again_b = warm.generate(b, max_tokens=6)  # and B was parked on the way back to A
    assert again_b.stats.reused_tokens == len(b) - 1
    assert again_b.token_ids == fresh_tokens(tiny_gguf, b, 6)


def test_the_least_recently_used_place_is_the_one_forgotten(warm):
    a, b, c = (warm.tokenize(text) for text in (PLACE_A, PLACE_B, PLACE_C))
    for prompt in (a, b, c, a):  # two spare sequences: A and B parked, then C takes B's
        warm.generate(prompt, max_tokens=2)
    assert warm.generate(c, max_tokens=2).stats.reused_tokens == len(c) - 1
    assert warm.generate(b, max_tokens=2).stats.reused_tokens == 0


def test_typing_at_one_place_parks_nothing(warm):
    prompt = warm.tokenize(PLACE_A)
    for word in (" value", " *", " 2"):
        generation = warm.generate(prompt, max_tokens=4)
        prompt = prompt + warm.tokenize(word)
    assert generation.stats.reused_tokens > 150
    assert warm._places.parked == []


def test_without_warm_places_going_back_is_cold(tiny_gguf):
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2))
    try:
        a, b = backend.tokenize(PLACE_A), backend.tokenize(PLACE_B)
        backend.generate(a, max_tokens=2)
        backend.generate(b, max_tokens=2)
        assert backend.generate(a, max_tokens=2).stats.reused_tokens == 0
    finally:
        backend.close()


def test_warm_places_fit_the_kv_budget(tiny_gguf):
    per_token = kv_bytes_per_token(tiny_gguf)
    assert per_token is not None and per_token > 0
    assert affordable_warm_places(tiny_gguf, BackendOptions(context_size=512, warm_places=3)) == 3
    # a window so large that one more copy of its KV would pass the budget gets none
    huge = 2**40 // per_token
    assert affordable_warm_places(tiny_gguf, BackendOptions(context_size=huge, warm_places=3)) == 0
    assert affordable_warm_places(tiny_gguf, BackendOptions(context_size=512, warm_places=3, reuse_prefix=False)) == 0


def test_the_books_choose_the_longest_shared_prefix_and_evict_the_oldest():
    places = WarmPlaces(2)
    places.park(places.slot_for([1, 2, 3]), [1, 2, 3] + list(range(100, 130)))
    places.park(places.slot_for([7, 8, 9]), [7, 8, 9] + list(range(200, 230)))
    best = places.best_for([7, 8, 9] + list(range(200, 230)) + [5], active=[])
    assert best is not None and best.tokens[:3] == [7, 8, 9]
    assert places.best_for([7, 8, 9, 1], active=[]) is None  # saves too little to switch
    oldest = places.parked[0].sequence
    assert places.slot_for([4, 4, 4]) == oldest
