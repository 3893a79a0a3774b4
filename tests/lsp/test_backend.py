"""LocalBackend on a converter-made GGUF: KV prefix reuse, abort, stops, load errors."""

from __future__ import annotations

import threading

import pytest

from lsp_server.backend.base import ModelLoadError, StopReason, common_prefix_length
from lsp_server.backend.local import BackendOptions, LocalBackend
from tests.lsp.aborts import AbortInsideBatch


@pytest.fixture(scope="module")
def backend(tiny_gguf):
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2, batch_size=32))
    yield backend
    backend.close()


def prompt_of(backend: LocalBackend, text: str) -> list[int]:
    return backend.tokenize(text)


def common_prefix_length(left: list[int], right: list[int]) -> int:
    count = 0
    while count < min(len(left), len(right)) and left[count] == right[count]:
        count += 1
    return count


def test_second_call_evaluates_only_the_new_tail(backend):
    backend.reset()
    base = prompt_of(backend, "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return")
    first = backend.generate(base, max_tokens=4)
    assert (first.stats.reused_tokens, first.stats.evaluated_tokens) == (0, len(base))
    cached_before = backend.cached_tokens  # base plus the generated tokens fed back
    extended = base + prompt_of(backend, " a - b\n")
    second = backend.generate(extended, max_tokens=4)
    common = common_prefix_length(cached_before, extended)
    assert common >= len(base)
    assert second.stats.reused_tokens == common
    assert second.stats.evaluated_tokens == len(extended) - common


def test_identical_prompt_re_evaluates_one_token_and_gives_same_text(backend):
    prompt = prompt_of(backend, "import os\nimport sys\n\nprint(")
    first = backend.generate(prompt, max_tokens=6)
    again = backend.generate(prompt, max_tokens=6)
    assert again.stats.evaluated_tokens == 1
    assert again.text == first.text
    assert again.token_ids == first.token_ids


def test_reuse_matches_a_fresh_evaluation(backend, tiny_gguf):
    prompt = prompt_of(backend, "class Stack:\n    def push(self, item):\n        self.items.append(")
    backend.generate(prompt[:-5], max_tokens=3)  # warm the cache with a shorter, diverging prompt
    reused = backend.generate(prompt, max_tokens=8)
    assert reused.stats.reused_tokens > 0
    fresh_backend = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2, reuse_prefix=False))
    try:
        fresh = fresh_backend.generate(prompt, max_tokens=8)
    finally:
        fresh_backend.close()
    assert fresh.stats.evaluated_tokens == len(prompt)
    assert fresh.token_ids == reused.token_ids


def test_cached_tokens_follow_the_last_call(backend):
    prompt = prompt_of(backend, "x = 1\ny = 2\nz =")
    generation = backend.generate(prompt, max_tokens=3)
    cached = backend.cached_tokens
    assert cached[: len(prompt)] == prompt
    # every generated token except the last was fed back through the model
    assert cached[len(prompt) :] == generation.token_ids[: len(cached) - len(prompt)]


def test_abort_before_generation_returns_empty_and_keeps_evaluated_prefix(backend):
    abort = threading.Event()
    abort.set()
    prompt = prompt_of(backend, "while True:\n    pass\n")
    generation = backend.generate(prompt, max_tokens=8, abort=abort)
    assert generation.stop_reason is StopReason.ABORTED
    assert generation.text == ""


def test_abort_mid_generation_stops_within_a_token(backend):
    abort = threading.Event()
    seen: list[str] = []

    def on_text(piece: str) -> bool:
        seen.append(piece)
        if len(seen) == 2:
            abort.set()
        return False

    prompt = prompt_of(backend, "for i in range(10):\n")
    generation = backend.generate(prompt, max_tokens=30, abort=abort, on_text=on_text)
    assert generation.stop_reason in (StopReason.ABORTED, StopReason.END_OF_GENERATION)
    assert len(generation.token_ids) <= 2


def test_early_stop_callback_ends_generation(backend):
    prompt = prompt_of(backend, "numbers = [1, 2, 3")
    generation = backend.generate(prompt, max_tokens=30, on_text=lambda piece: True)
    if generation.stop_reason is not StopReason.END_OF_GENERATION:
        assert generation.stop_reason is StopReason.EARLY_STOP
        assert len(generation.token_ids) == 1


def test_stop_ids_end_generation_without_the_stop_token(backend):
    prompt = prompt_of(backend, "def f():\n    return")
    free = backend.generate(prompt, max_tokens=6)
    assert free.token_ids, "the tiny model should generate something"
    stopped = backend.generate(prompt, max_tokens=6, stop_ids={free.token_ids[0]})
    assert stopped.stop_reason is StopReason.END_OF_GENERATION
    assert stopped.token_ids == []


def test_max_tokens_is_respected(backend):
    prompt = prompt_of(backend, "a = ")
    generation = backend.generate(prompt, max_tokens=3)
    assert len(generation.token_ids) <= 3
    assert generation.stats.generated_tokens == len(generation.token_ids)


def test_special_token_spellings_in_text_stay_plain(backend):
    spelled = "<｜fim▁begin｜>"
    assert backend.token_id(spelled) is not None
    assert backend.token_id(spelled) not in backend.tokenize(spelled)


def test_missing_file_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        LocalBackend(tmp_path / "absent.gguf")


def test_non_gguf_file_is_a_model_load_error(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        LocalBackend(bogus)


def test_truncated_gguf_is_a_model_load_error(tmp_path, tiny_gguf):
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(tiny_gguf.read_bytes()[:4096])
    with pytest.raises(ModelLoadError, match="could not load") as raised:
        LocalBackend(truncated)
    assert raised.value.reason


def test_token_healing_respells_the_dropped_text(backend):
    prompt = prompt_of(backend, "def area(radius):\n    return radius * radius")
    dropped = backend.token_piece(prompt[-1]).decode()
    healed = backend.generate(prompt[:-1], max_tokens=6, heal_text=dropped)
    spelled = b"".join(backend.token_piece(token) for token in healed.token_ids).decode("utf-8", "replace")
    assert spelled.startswith(dropped)
    assert healed.text == spelled[len(dropped) :]


def test_token_healing_over_several_tokens(backend):
    prompt = prompt_of(backend, "values = [")
    healed = backend.generate(prompt, max_tokens=8, heal_text="    ")
    spelled = b"".join(backend.token_piece(token) for token in healed.token_ids).decode("utf-8", "replace")
    assert spelled.startswith("    ") or len(healed.token_ids) == 8
    assert healed.text == spelled[4:]


@pytest.mark.parametrize("indent", ["    ", ""])
def test_healing_an_indentation_then_nonblank_stays_at_its_column(backend, indent):
    prompt = prompt_of(backend, "def f(x):\n    if x:\n        return 1\n")
    for seed_text in ("", "        "):  # with and without the deeper indentation the model would go on at
        healed = backend.generate(prompt + (prompt_of(backend, seed_text) if seed_text else []), max_tokens=8,
                                  heal_text=indent, heal_then_nonblank=True)
        spelled = b"".join(backend.token_piece(token) for token in healed.token_ids).decode("utf-8", "replace")
        assert spelled.startswith(indent)
        assert healed.text[:1] not in (" ", "\t")
        assert healed.text == spelled[len(indent) :]


def test_an_abort_takes_effect_in_the_middle_of_a_prompt_batch(tiny_gguf):
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2, batch_size=128))
    try:
        prompt = prompt_of(backend, "values = [\n" + "".join(f"    {i},\n" for i in range(90)))
        assert 330 < len(prompt) <= 500
        abort = AbortInsideBatch(backend, at=128)
        generation = backend.generate(prompt, max_tokens=4, abort=abort)
        assert generation.stop_reason is StopReason.ABORTED
        assert abort.looked_inside  # llama.cpp's callback saw it during the second batch
        # the first batch stays, the aborted one is dropped whole and nothing after it ran
        assert generation.stats.evaluated_tokens == 128
        assert backend.cached_tokens == prompt[:128]
        resumed = backend.generate(prompt, max_tokens=4)
        assert resumed.stats.reused_tokens == 128  # nothing evaluated twice
        fresh = LocalBackend(tiny_gguf, BackendOptions(context_size=512, threads=2, batch_size=128, reuse_prefix=False))
        try:
            assert resumed.token_ids == fresh.generate(prompt, max_tokens=4).token_ids  # the abort left no trace
        finally:
            fresh.close()
    finally:
        backend.close()
