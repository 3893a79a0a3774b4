"""Prefill and small-first on the converter-made tiny GGUF (real llama.cpp, greedy).

Idle work evaluates the next prompt ahead of its request: the request then evaluates only
what the prefill left, and writes the same tokens as a fresh evaluation of its prompt.
Everything here is asserted in token counts and token ids, never in time.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest

from lsp_server.backend.base import Prefilling
from lsp_server.backend.local import BackendOptions, LocalBackend
from tests.lsp.aborts import AbortInsideBatch
from lsp_server.engine.postprocess import TIME_LIMIT, Context, StreamingStop, complete_lines
from lsp_server.features.completion import (
    FULL_FIRST_WITHIN,
    QUICK_SAVES_AT_LEAST,
    CompletionEngine,
    CompletionRequest,
    after_accepting,
)
from lsp_server.settings import Settings

PLACE_A = "".join(f"def alpha_{i}(value):\n    return value * {i}\n\n" for i in range(12)) + "def alpha_end(x):\n    return"
PLACE_B = "".join(f"class Beta{i}:\n    size = {i}\n\n" for i in range(14)) + "class BetaEnd:\n    name ="

# A document whose cursor has more than the full windows on both sides, so the short window
# (48/16 tokens) is much cheaper than the full one (200/64) at a cold place.
HEAD = "".join(f"def alpha_{i}(value):\n    return value * {i}\n\n" for i in range(12)) + "def alpha_end(x):\n    return "
TAIL = "".join(f"\n\nclass Beta{i}:\n    size = {i}\n" for i in range(10))
DOCUMENT = HEAD + TAIL

# Small budgets for the tiny model's 512-token context; no generation time limit, so what
# the model writes does not depend on the machine's speed.
SETTINGS = Settings(
    threads=2, max_tokens=12, max_generation_ms=0, prefix_tokens=200, suffix_tokens=64, context_tokens=0,
    quick_prefix_tokens=48, quick_suffix_tokens=16,
)
NO_QUICK = dataclasses.replace(SETTINGS, quick_prefix_tokens=0)


def make_backend(tiny_gguf, **options) -> LocalBackend:
    return LocalBackend(tiny_gguf, BackendOptions(**{"context_size": 512, "threads": 2, **options}))


@pytest.fixture
def backend(tiny_gguf):
    backend = make_backend(tiny_gguf)
    yield backend
    backend.close()


@pytest.fixture
def warm_backend(tiny_gguf):
    backend = make_backend(tiny_gguf, warm_places=2)
    yield backend
    backend.close()


def fresh_generation(tiny_gguf, prompt: list[int], max_tokens: int):
    """The naive engine: a new backend that evaluates the whole prompt."""
    backend = make_backend(tiny_gguf, reuse_prefix=False)
    try:
        return backend.generate(prompt, max_tokens=max_tokens)
    finally:
        backend.close()


# -- backend --------------------------------------------------------------------


def test_the_local_backend_is_a_prefilling_backend(backend):
    assert isinstance(backend, Prefilling)


def test_pending_tokens_is_the_whole_prompt_when_cold_and_one_after_a_generate(backend):
    prompt = backend.tokenize(PLACE_A)
    assert backend.pending_tokens(prompt) == len(prompt)
    backend.generate(prompt, max_tokens=4)
    assert backend.pending_tokens(prompt) == 1  # the last token again, for its logits
    assert backend.pending_tokens([]) == 0


def test_pending_tokens_is_what_the_next_generate_evaluates(backend):
    prompt = backend.tokenize(PLACE_A)
    backend.generate(prompt, max_tokens=4)  # the cache holds the prompt and what was generated
    typed = prompt + backend.tokenize(" value * 7 + 1")
    pending = backend.pending_tokens(typed)
    assert 1 <= pending <= len(typed) - len(prompt) + 1
    assert backend.generate(typed, max_tokens=2).stats.evaluated_tokens == pending
    moved = backend.tokenize(PLACE_B)
    pending = backend.pending_tokens(moved)
    assert pending == len(moved)  # nothing in common with PLACE_A's tokens
    assert backend.generate(moved, max_tokens=2).stats.evaluated_tokens == pending


def test_prefill_then_generate_evaluates_one_token_and_writes_what_a_fresh_evaluation_writes(backend, tiny_gguf):
    prompt = backend.tokenize(PLACE_A)
    assert backend.prefill(prompt, threading.Event()) == len(prompt)
    assert backend.pending_tokens(prompt) == 1
    generation = backend.generate(prompt, max_tokens=8)
    assert generation.stats.evaluated_tokens == 1
    assert generation.stats.reused_tokens == len(prompt) - 1
    fresh = fresh_generation(tiny_gguf, prompt, 8)
    assert fresh.stats.evaluated_tokens == len(prompt)
    assert generation.token_ids == fresh.token_ids
    assert generation.text == fresh.text


def test_prefill_of_a_typed_prompt_evaluates_only_what_is_new(backend):
    prompt = backend.tokenize(PLACE_A)
    backend.generate(prompt, max_tokens=2)
    typed = prompt + backend.tokenize(" value * 7 + 1")
    pending = backend.pending_tokens(typed)
    assert pending <= len(typed) - len(prompt) + 1
    assert backend.prefill(typed, threading.Event()) == pending
    assert backend.pending_tokens(typed) == 1
    assert backend.generate(typed, max_tokens=2).stats.evaluated_tokens == 1


@pytest.mark.parametrize("batches", [0, 1, 3])
def test_an_aborted_prefill_keeps_the_batches_before_the_abort_for_the_next_generate(tiny_gguf, batches):
    backend = make_backend(tiny_gguf, batch_size=32)
    try:
        prompt = backend.tokenize(PLACE_A)
        assert len(prompt) > 4 * 32
        abort = AbortInsideBatch(backend, at=batches * 32)
        evaluated = backend.prefill(prompt, abort)
        assert abort.looked_inside  # the abort landed in the middle of a batch, which was dropped
        assert evaluated == batches * 32
        assert backend.pending_tokens(prompt) == len(prompt) - evaluated
        generation = backend.generate(prompt, max_tokens=6)
        assert generation.stats.evaluated_tokens == len(prompt) - evaluated
        assert generation.token_ids == fresh_generation(tiny_gguf, prompt, 6).token_ids
    finally:
        backend.close()


def test_a_prefill_aborted_before_it_starts_evaluates_nothing(backend):
    prompt = backend.tokenize(PLACE_A)
    abort = threading.Event()
    abort.set()
    assert backend.prefill(prompt, abort) == 0
    assert backend.pending_tokens(prompt) == len(prompt)


def test_prefilling_a_prefix_of_the_prompt_leaves_the_rest_to_the_request(backend):
    prompt = backend.tokenize(PLACE_A)
    part = prompt[: len(prompt) // 2]
    assert backend.prefill(part, threading.Event()) == len(part)
    assert backend.pending_tokens(prompt) == len(prompt) - len(part)
    assert backend.generate(prompt, max_tokens=2).stats.evaluated_tokens == len(prompt) - len(part)


def test_prefill_at_a_new_place_keeps_the_old_one_warm(warm_backend):
    a, b = warm_backend.tokenize(PLACE_A), warm_backend.tokenize(PLACE_B)
    warm_backend.generate(a, max_tokens=2)
    assert warm_backend.prefill(b, threading.Event()) == len(b)
    assert warm_backend.pending_tokens(b) == 1
    assert warm_backend.pending_tokens(a) == 1  # parked, not dropped
    assert warm_backend.generate(a, max_tokens=2).stats.evaluated_tokens == 1


@pytest.mark.parametrize("fixture", ["backend", "warm_backend"])
def test_a_prefill_aborted_at_once_leaves_the_cache_as_it_was(request, fixture):
    backend = request.getfixturevalue(fixture)  # with and without warm places to park in
    a, b = backend.tokenize(PLACE_A), backend.tokenize(PLACE_B)
    backend.generate(a, max_tokens=2)
    abort = threading.Event()
    abort.set()
    assert backend.prefill(b, abort) == 0
    assert backend.pending_tokens(a) == 1


# -- engine: small first, widen, speculate ----------------------------------------------


def request(settings: Settings = SETTINGS, text: str = DOCUMENT, offset: int = len(HEAD)) -> CompletionRequest:
    return CompletionRequest(text, offset, "python", settings=settings, uri="file:///work/places.py")


@pytest.fixture
def engine(warm_backend):
    return CompletionEngine(warm_backend)


def full_tokens(engine: CompletionEngine, req: CompletionRequest) -> list[int]:
    return engine.heal(engine.build_prompt(req))[0]


def test_a_cold_request_is_answered_from_the_short_window(engine):
    full = full_tokens(engine, request())
    prompt, quick = engine.choose_prompt(request())
    assert quick and len(prompt.tokens) < len(full)
    result = engine.complete(request())
    assert result.source == "model" and result.quick
    assert result.stats.prompt_tokens == len(engine.heal(prompt)[0])
    assert result.stats.evaluated_tokens + QUICK_SAVES_AT_LEAST <= len(full)


def test_widening_after_a_short_answer_makes_the_next_request_at_the_cursor_warm(engine, tiny_gguf):
    first = engine.complete(request())
    assert first.quick
    widen = engine.follow_up(request(), first)
    assert widen is not None
    assert widen(threading.Event()) > 0
    full = full_tokens(engine, request())
    assert engine.backend.pending_tokens(full) == 1

    engine.clear_cache()  # else the same cursor is answered from the completion cache
    again = engine.complete(request())
    assert again.source == "model" and not again.quick
    assert again.stats.prompt_tokens == len(full) and again.stats.evaluated_tokens == 1

    # The prefilled cache changes nothing in what the model writes: a fresh backend with
    # the full window from the start writes the same.
    fresh_backend = make_backend(tiny_gguf, reuse_prefix=False)
    try:
        fresh = CompletionEngine(fresh_backend).complete(request(NO_QUICK))
    finally:
        fresh_backend.close()
    assert not fresh.quick and fresh.stats.evaluated_tokens == len(full)
    assert again.raw_text == fresh.raw_text
    assert [s.text for s in again.suggestions] == [s.text for s in fresh.suggestions]


def test_a_request_one_character_further_after_widening_evaluates_only_a_few_tokens(engine):
    first = engine.complete(request())
    engine.follow_up(request(), first)(threading.Event())
    text = HEAD + "x" + TAIL
    further = engine.complete(request(text=text, offset=len(HEAD) + 1))
    assert further.source == "model" and not further.quick
    assert further.stats.evaluated_tokens <= 4
    assert further.stats.evaluated_tokens < further.stats.prompt_tokens - QUICK_SAVES_AT_LEAST


def test_engine_prefill_before_the_request_makes_it_warm_and_full(engine):
    evaluated = engine.prefill(request(), threading.Event())
    full = full_tokens(engine, request())
    assert evaluated >= len(full) - 1
    result = engine.complete(request())
    assert result.source == "model" and not result.quick
    assert result.stats.evaluated_tokens == 1


def test_an_aborted_engine_prefill_evaluates_nothing_and_the_request_stays_quick(engine):
    abort = threading.Event()
    abort.set()
    assert engine.prefill(request(), abort) == 0
    assert engine.complete(request()).quick


# A short window large enough that the full one can be "within twice the short one" and still
# worth skipping (QUICK_SAVES_AT_LEAST more).
WIDE_QUICK = dataclasses.replace(SETTINGS, quick_prefix_tokens=96, quick_suffix_tokens=24)


def recorded_prefills(monkeypatch, backend: LocalBackend) -> list[list[int]]:
    """The real backend's prefill, with each call's tokens written down in order."""
    calls: list[list[int]] = []
    real = backend.prefill

    def prefill(tokens, abort):
        calls.append(list(tokens))
        return real(tokens, abort)

    monkeypatch.setattr(backend, "prefill", prefill)
    return calls


def test_far_from_the_cache_idle_work_evaluates_the_short_window_first(engine, monkeypatch):
    req = request()
    full = full_tokens(engine, req)
    quick_prompt, quick = engine.choose_prompt(req)
    quick_tokens = engine.heal(quick_prompt)[0]
    assert quick and len(full) > FULL_FIRST_WITHIN * len(quick_tokens)
    calls = recorded_prefills(monkeypatch, engine.backend)
    engine.prefill(req, threading.Event())
    assert calls == [quick_tokens, full]


def test_near_the_cache_idle_work_evaluates_the_full_window_alone(engine, monkeypatch):
    req = request(WIDE_QUICK)
    full = full_tokens(engine, req)
    quick_tokens = engine.heal(engine.choose_prompt(req)[0])[0]
    # what a nearby place left in the cache: all of the full prompt but `left` tokens
    left = len(quick_tokens) + QUICK_SAVES_AT_LEAST + 2
    assert left <= FULL_FIRST_WITHIN * len(quick_tokens) and left < len(full)
    engine.backend.prefill(full[: len(full) - left], threading.Event())
    assert engine.choose_prompt(req)[1]  # a request now would still be answered from the short window
    calls = recorded_prefills(monkeypatch, engine.backend)
    assert engine.prefill(req, threading.Event()) == left
    assert calls == [full]
    result = engine.complete(req)
    assert result.source == "model" and not result.quick and result.stats.evaluated_tokens == 1


def test_after_a_full_answer_the_follow_up_speculates_the_completion_after_accepting(engine, tiny_gguf):
    engine.prefill(request(), threading.Event())
    answer = engine.complete(request())
    assert not answer.quick and answer.suggestions and answer.suggestions[0].text
    accepted = after_accepting(request(), answer.suggestions[0].text)
    assert engine.from_cache(accepted) is None

    speculate = engine.follow_up(request(), answer)
    assert speculate is not None
    speculation = speculate(threading.Event())
    assert speculation is not None and speculation.source == "model"
    cached = engine.from_cache(accepted)
    assert cached is not None and cached.source == "cache"
    assert [s.text for s in cached.suggestions] == [s.text for s in speculation.suggestions]
    assert speculate(threading.Event()) is None  # already cached: no second run

    # What the speculation stored is what asking there on demand gives.
    fresh_backend = make_backend(tiny_gguf, reuse_prefix=False)
    try:
        on_demand = CompletionEngine(fresh_backend).complete(after_accepting(request(NO_QUICK), answer.suggestions[0].text))
    finally:
        fresh_backend.close()
    assert [s.text for s in cached.suggestions] == [s.text for s in on_demand.suggestions]


def test_an_aborted_speculation_caches_nothing(engine):
    engine.prefill(request(), threading.Event())
    answer = engine.complete(request())
    speculate = engine.follow_up(request(), answer)
    abort = threading.Event()
    abort.set()
    speculate(abort)
    assert engine.from_cache(after_accepting(request(), answer.suggestions[0].text)) is None


def test_no_follow_up_when_prefill_is_off_or_the_answer_came_from_the_cache(engine):
    off = dataclasses.replace(SETTINGS, prefill=False)
    assert engine.follow_up(request(off), engine.complete(request(off))) is None
    cached = engine.complete(request(off))
    assert cached.source == "cache"
    assert engine.follow_up(request(), cached) is None


def test_the_no_cache_engine_never_answers_from_the_short_window(tiny_gguf):
    backend = make_backend(tiny_gguf, reuse_prefix=False)
    try:
        engine = CompletionEngine(backend, use_cache=False)
        assert not engine.choose_prompt(request())[1]
        result = engine.complete(request())
        assert not result.quick and engine.follow_up(request(), result) is None
    finally:
        backend.close()


# -- generation time limit --------------------------------------------------------------


def mid_line_context() -> Context:
    return Context.create("def f(values):\n    total = ", "\n    return total\n", "python")


def block_context() -> Context:
    return Context.create("def f(values):\n    ", "\n", "python")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_past_the_limit_generation_stops_once_a_first_line_with_text_is_complete():
    clock = Clock()
    stop = StreamingStop(block_context(), time_limit=0.5, clock=clock)
    assert not stop.feed("\n")
    clock.now += 0.8  # past the limit, below twice the limit
    for piece in ("   ", " total", " = 0"):  # a blank line, then a line still being written
        assert not stop.feed(piece)
    assert stop.reason is None
    assert stop.feed("\n")
    assert stop.reason == TIME_LIMIT and stop.text == "\n    total = 0\n"
    assert stop.feed("    return")  # stopped stays stopped, and keeps its text
    assert stop.text == "\n    total = 0\n"


def test_one_line_running_on_stops_at_twice_the_limit():
    clock = Clock()
    stop = StreamingStop(mid_line_context(), time_limit=0.5, clock=clock)
    assert not stop.feed("'\\t")
    clock.now += 0.9
    assert not stop.feed("\\n")
    clock.now += 0.2  # 1.1 s > 2 × 0.5 s with text and no line break
    assert stop.feed("\\r")
    assert stop.reason == TIME_LIMIT


def test_counted_from_the_request_a_slow_prompt_leaves_time_for_the_first_line_only():
    clock = Clock()
    stop = StreamingStop(block_context(), time_limit=0.5, clock=clock, started=clock.now)
    clock.now += 1.5  # the prompt took 1.5 s: the answer is already due at its first text
    for piece in ("total", " = 0"):
        assert not stop.feed(piece)
    assert stop.feed("\n")
    assert stop.reason == TIME_LIMIT and stop.text == "total = 0\n"


def test_counted_from_the_request_a_fast_prompt_leaves_time_for_more_lines():
    clock = Clock()
    stop = StreamingStop(block_context(), time_limit=0.5, clock=clock, started=clock.now)
    clock.now += 0.1
    for piece in ("total = 0\n", "    for value in values:\n"):
        assert not stop.feed(piece)
        clock.now += 0.1
    assert not stop.feed("        total")
    clock.now += 0.25  # past due (0.5 s after the request)
    assert stop.feed(" += value")
    assert stop.reason == TIME_LIMIT
    assert complete_lines(stop.text) == "total = 0\n    for value in values:\n"


def test_counted_from_the_request_one_line_is_cut_half_a_limit_past_due_or_a_limit_after_it_began():
    for prompt_seconds, cut_after_first_text in ((0.1, 0.65), (1.5, 0.5)):
        clock = Clock()
        stop = StreamingStop(mid_line_context(), time_limit=0.5, clock=clock, started=clock.now)
        clock.now += prompt_seconds
        assert not stop.feed("'\\t")
        clock.now += cut_after_first_text - 0.02
        assert not stop.feed("\\n"), prompt_seconds
        clock.now += 0.04
        assert stop.feed("\\r"), prompt_seconds
        assert stop.reason == TIME_LIMIT


def test_a_generation_stopped_for_time_keeps_its_complete_lines():
    assert complete_lines("total = 0\n    return tot") == "total = 0\n"
    assert complete_lines("total = 0\n") == "total = 0\n"
    assert complete_lines("total = 0") == ""


def test_no_time_limit_never_stops_for_time():
    for limit in (None, 3600.0):
        stop = StreamingStop(mid_line_context(), time_limit=limit)
        for piece in ("sum", "(v", "al", "ues", ")"):
            assert not stop.feed(piece)
        assert stop.reason is None and stop.text == "sum(values)"


def test_only_a_line_cut_by_the_clock_counts_as_cut_mid_line():
    clock = Clock()
    cut = StreamingStop(mid_line_context(), time_limit=0.5, clock=clock, started=clock.now)
    assert not cut.feed("'\\t")
    clock.now += 2.0
    assert cut.feed("\\n") and cut.reason == TIME_LIMIT and cut.cut_mid_line

    clock = Clock()
    lines = StreamingStop(block_context(), time_limit=0.5, clock=clock, started=clock.now)
    clock.now += 1.5
    assert not lines.feed("total = 0")
    assert lines.feed("\n") and lines.reason == TIME_LIMIT and not lines.cut_mid_line

    unlimited = StreamingStop(mid_line_context(), time_limit=None)
    unlimited.feed("'\\t")
    assert unlimited.reason is None and not unlimited.cut_mid_line


class RunningClock:
    """Every reading is a second later than the last: any time limit has passed at the first text."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_suggestion_cut_mid_line_by_the_clock_is_shown_but_not_cached(warm_backend):
    engine = CompletionEngine(warm_backend, clock=RunningClock())
    limited = request(settings=dataclasses.replace(NO_QUICK, max_generation_ms=100))
    result = engine.complete(limited)
    assert result.source == "model" and result.suggestions
    assert "\n" not in result.raw_text  # the tiny model's first piece: one line, cut at once
    assert engine.from_cache(limited) is None
    again = engine.complete(limited)
    assert again.source == "model"


def test_without_a_time_limit_the_same_suggestion_is_cached(warm_backend):
    engine = CompletionEngine(warm_backend, clock=RunningClock())
    result = engine.complete(request(settings=NO_QUICK))
    assert result.source == "model" and result.suggestions
    assert engine.from_cache(request(settings=NO_QUICK)) is not None
