"""The native dialect against llama.cpp's own `llama-server` on loopback, serving the tiny GGUF.

llama-server is a C++ binary built from the llama.cpp that llama-cpp-python vendors
(`bench/latency/README.md`); building it takes longer than the whole test suite, so these
tests run when it is there (`bench/work/build-server/bin/llama-server`, or the path in
$SEEKCODE_LLAMA_SERVER) and are reported as skipped, with that reason, when it is not.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from lsp_server.backend.base import StopReason
from lsp_server.backend.http import HttpBackend, HttpOptions
from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.engine.context import SourceDocument
from lsp_server.features.completion import CompletionEngine, CompletionRequest
from lsp_server.settings import Settings
from tests.http.processes import free_port, wait_until_serving

REPO_ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("SEEKCODE_LLAMA_SERVER") or REPO_ROOT / "bench/work/build-server/bin/llama-server")
SETTINGS = Settings(max_tokens=16, threads=1)
SOURCE = "def greet(name):\n    message = 'hello ' + name\n    return message\n\n\ndef main():\n    "


@pytest.fixture(scope="module")
def llama_server(tiny_gguf, tiny_context, tmp_path_factory):
    if not BINARY.is_file():
        pytest.skip(f"llama-server is not built at {BINARY} (bench/latency/README.md builds it; "
                    "or set SEEKCODE_LLAMA_SERVER)")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(BINARY), "-m", str(tiny_gguf), "--host", "127.0.0.1", "--port", str(port), "-c", str(tiny_context),
             "-np", "1", "-t", "1", "-tb", "1", "-b", "256", "-ub", "256", "--no-webui"],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, url + "/health", log)
        yield url
    finally:
        process.terminate()
        process.wait(20)


@pytest.fixture(scope="module")
def remote(llama_server, tiny_context):
    backend = HttpBackend(HttpOptions(url=llama_server, context_size=tiny_context))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def local(tiny_gguf, tiny_context):
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=tiny_context, threads=1, batch_size=256))
    yield backend
    backend.close()


def test_tokens_family_and_context_come_from_the_server(remote, local, tiny_context):
    assert remote.context_size == tiny_context
    text = "def greet(name):\n    return 'hé' + name"
    assert remote.tokenize(text) == local.tokenize(text)
    assert remote.token_id("<｜fim▁begin｜>") == local.token_id("<｜fim▁begin｜>")
    assert remote.token_id("no such token spelled like this") is None
    engine = CompletionEngine(remote)
    local_engine = CompletionEngine(local, token_healing=False)
    assert engine.family == local_engine.family  # the same FIM ids, stops and BOS, found by spelling


def test_remote_completion_equals_the_in_process_one(remote, local):
    """Same prompt tokens, same greedy picks; the text differs only where the model emits a
    control token (llama-server leaves those out of `content`, in-process renders them)."""
    request = CompletionRequest(SOURCE, len(SOURCE), "python", settings=SETTINGS, uri="file:///w/greet.py")
    remote_engine = CompletionEngine(remote, use_cache=False)
    local_engine = CompletionEngine(local, use_cache=False, token_healing=False)
    prompt = remote_engine.build_prompt(request)
    assert prompt.tokens == local_engine.build_prompt(request).tokens
    remote_generation = remote.generate(prompt.tokens, max_tokens=24, stop_ids=prompt.stop_ids)
    local.reset()
    local_generation = local.generate(prompt.tokens, max_tokens=24, stop_ids=prompt.stop_ids)
    assert remote_generation.stop_reason == local_generation.stop_reason
    assert remote_generation.stats.generated_tokens == len(local_generation.token_ids)
    # llama-server reports the id of a token that completes a UTF-8 character, not of the
    # byte tokens before it: the remote ids are the local ones with those left out
    remaining = iter(local_generation.token_ids)
    assert all(any(token == other for other in remaining) for token in remote_generation.token_ids)
    control = re.compile(r"^<[^<>\s]+>$")
    visible = b"".join(
        local.token_piece(token) for token in local_generation.token_ids if not control.match(local.token_text(token))
    )
    assert remote_generation.text == visible.decode("utf-8", "replace")
    assert remote_engine.complete(request).source == "model"


def test_typing_appends_to_the_prompt_the_server_keeps(remote):
    """cache_prompt: the second request re-evaluates only what typing added."""
    first = remote.tokenize(SOURCE)
    remote.generate(first, max_tokens=2)
    typed = first + remote.tokenize("print")
    generation = remote.generate(typed, max_tokens=2)
    assert generation.stats.reused_tokens >= len(first) - 1
    assert generation.stats.evaluated_tokens <= len(typed) - len(first) + 1


def test_early_stop_and_cancel_close_the_stream(remote):
    prompt = remote.tokenize(SOURCE)
    stopped = remote.generate(prompt, max_tokens=64, on_text=lambda piece: True)
    assert stopped.stop_reason is StopReason.EARLY_STOP and len(stopped.token_ids) <= 2
    abort = threading.Event()
    seen: list[str] = []

    def on_text(piece: str) -> bool:
        seen.append(piece)
        if len(seen) == 2:
            threading.Timer(0.0, abort.set).start()
        return False

    cancelled = remote.generate(prompt, max_tokens=300, abort=abort, on_text=on_text)
    assert cancelled.stop_reason is StopReason.ABORTED and cancelled.stats.generated_tokens < 300
    after = remote.generate(prompt, max_tokens=3)
    assert after.stop_reason in (StopReason.MAX_TOKENS, StopReason.END_OF_GENERATION)


def test_chat_on_llama_server(remote):
    generation = remote.chat([{"role": "user", "content": "Say hi."}], max_tokens=6)
    assert generation.stop_reason in (StopReason.MAX_TOKENS, StopReason.END_OF_GENERATION)
    assert isinstance(generation.text, str)


def test_infill_lets_the_server_lay_out_fim_for_models_we_cannot(remote, local):
    """/infill is the path for a model whose FIM tokens only the server knows; the tiny model's we
    know by spelling, so it is not chosen on its own, and here it is chosen by hand."""
    assert remote.serves_infill is False and remote._infill_works() is True
    other = "def farewell(name):\n    return 'bye ' + name\n"
    request = CompletionRequest(SOURCE, len(SOURCE), "python", settings=SETTINGS, uri="file:///w/greet.py",
                                other_docs=(SourceDocument("file:///w/bye.py", other, "python"),))
    remote.serves_infill = True
    try:
        result = CompletionEngine(remote, use_cache=False).complete(request)
    finally:
        remote.serves_infill = False
    assert result.source == "model" and result.stats.generated_tokens > 0
    assert result.stop_reason in (StopReason.MAX_TOKENS, StopReason.END_OF_GENERATION, StopReason.EARLY_STOP)
