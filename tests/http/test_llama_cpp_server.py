"""The HTTP backend against a real OpenAI-compatible server on loopback:
llama-cpp-python's `python -m llama_cpp.server` serving the tiny GGUF our converter made.

The tiny model has random weights; what is checked is that the remote path gives what
the in-process path gives on the same model (greedy), that streams stop early and on
abort, and that chat works for the assistant features.
"""

from __future__ import annotations

import threading

import pytest

from lsp_server.backend.base import StopReason
from lsp_server.backend.http import HttpBackend, HttpOptions
from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.features.completion import CompletionEngine, CompletionRequest
from lsp_server.settings import Settings

SETTINGS = Settings(max_tokens=16, threads=1)
URI = "file:///work/shapes.py"
SOURCE = '''import math


def circle_area(radius):
    """Area of a circle."""
    return math.pi * radius ** 2


def describe(shape, size):
    area = circle_area(size)
    return f"{shape} has area {area:.2f}"
'''


@pytest.fixture(scope="module")
def remote(llama_cpp_server, tiny_context):
    backend = HttpBackend(HttpOptions(url=llama_cpp_server, family="deepseek-coder", context_size=tiny_context))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def local(tiny_gguf, tiny_context):
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=tiny_context, threads=1))
    yield backend
    backend.close()


def request_at(offset: int) -> CompletionRequest:
    return CompletionRequest(SOURCE, offset, "python", settings=SETTINGS, uri=URI)


def test_family_comes_from_the_setting_when_the_served_name_says_nothing(llama_cpp_server, remote):
    assert remote.model_name == "tiny-seekcode"
    assert remote.family_name == "deepseek-coder"
    plain = HttpBackend(HttpOptions(url=llama_cpp_server))
    assert plain.family_name == "plain"  # no FIM markers rather than the wrong ones


@pytest.mark.parametrize("offset", [SOURCE.index("    area ="), SOURCE.index("return f") + len("return ")])
def test_remote_completion_equals_the_in_process_one(remote, local, offset):
    """Same GGUF, same greedy decoding, same prompt text: the same suggestion."""
    remote_engine = CompletionEngine(remote, use_cache=False)
    local_engine = CompletionEngine(local, use_cache=False, token_healing=False)
    assert remote_engine.family.name == local_engine.family.name == "deepseek-coder"
    remote_result = remote_engine.complete(request_at(offset))
    local.reset()
    local_result = local_engine.complete(request_at(offset))
    assert remote_result.source == "model"
    assert remote_result.prompt is not None and remote_result.stats.generated_tokens > 0
    assert remote_result.raw_text == local_result.raw_text
    assert [s.text for s in remote_result.suggestions] == [s.text for s in local_result.suggestions]


def test_completion_cache_and_type_through_work_over_http(remote):
    engine = CompletionEngine(remote)
    offset = SOURCE.index("    area =")
    first = engine.complete(request_at(offset))
    assert first.source == "model"
    again = engine.complete(request_at(offset))
    assert again.source == "cache" and [s.text for s in again.suggestions] == [s.text for s in first.suggestions]


def test_streaming_stops_early_when_the_suggestion_is_complete(remote):
    prompt = remote.tokenize("def circle_area(radius):\n    return")
    pieces: list[str] = []
    generation = remote.generate(prompt, max_tokens=64, on_text=lambda piece: pieces.append(piece) or True)
    assert generation.stop_reason is StopReason.EARLY_STOP
    assert len(pieces) == 1 and generation.text == pieces[0]
    # the server is free again at once: a full generation follows
    full = remote.generate(prompt, max_tokens=8)
    assert full.stop_reason in (StopReason.MAX_TOKENS, StopReason.END_OF_GENERATION)


def test_cancel_closes_the_stream_and_the_server_keeps_serving(remote):
    prompt = remote.tokenize("def describe(shape, size):\n")
    abort = threading.Event()
    seen: list[str] = []

    def on_text(piece: str) -> bool:
        seen.append(piece)
        if len(seen) == 2:
            threading.Timer(0.0, abort.set).start()  # set from another thread, as the scheduler does
        return False

    generation = remote.generate(prompt, max_tokens=400, abort=abort, on_text=on_text)
    assert generation.stop_reason is StopReason.ABORTED
    assert generation.stats.generated_tokens < 400
    after = remote.generate(prompt, max_tokens=4)
    assert after.stop_reason in (StopReason.MAX_TOKENS, StopReason.END_OF_GENERATION)


def test_chat_for_the_features_matches_the_in_process_chat(remote, local):
    messages = [
        {"role": "system", "content": "You write Python docstrings."},
        {"role": "user", "content": "Write a docstring for:\n" + SOURCE},
    ]
    streamed: list[str] = []
    generation = remote.chat(messages, max_tokens=12, on_text=lambda piece: streamed.append(piece) or False)
    assert generation.stop_reason in (StopReason.MAX_TOKENS, StopReason.END_OF_GENERATION)
    assert "".join(streamed) == generation.text
    local.reset()
    # greedy, and no repeat penalty (the request turns the server's default 1.1 off, as in-process)
    expected = local._llama.create_chat_completion(messages=messages, max_tokens=12, temperature=0.0, repeat_penalty=1.0)
    assert generation.text == expected["choices"][0]["message"]["content"]
