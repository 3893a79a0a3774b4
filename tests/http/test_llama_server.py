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


def start_llama_server(gguf, context: int, log_dir):
    if not BINARY.is_file():
        pytest.skip(f"llama-server is not built at {BINARY} (bench/latency/README.md builds it; "
                    "or set SEEKCODE_LLAMA_SERVER)")
    port = free_port()
    log = log_dir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(BINARY), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port), "-c", str(context),
             "-np", "1", "-t", "1", "-tb", "1", "-b", "256", "-ub", "256", "--no-webui"],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, url + "/health", log)
    except BaseException:
        process.kill()
        raise
    return process, url


@pytest.fixture(scope="module")
def llama_server(tiny_gguf, tiny_context, tmp_path_factory):
    process, url = start_llama_server(tiny_gguf, tiny_context, tmp_path_factory.mktemp("llama-server"))
    try:
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


def test_a_base_model_on_llama_server_is_not_prompted_as_a_chat(remote, local):
    from lsp_server.engine.chat import ChatTemplateError

    # llama-server reports its ChatML fallback for a GGUF without a template; seekcode sees
    # through it (the vocabulary has no ChatML markers), as in-process, and the features use FIM.
    assert not remote.can_chat and not local.can_chat
    with pytest.raises(ChatTemplateError, match="no chat template"):
        remote.chat([{"role": "user", "content": "Say hi."}], max_tokens=6)


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


# -- the features: docstrings and review through llama-server -----------------------------

CHAT_CONTEXT = 2048
REVIEWED = "def average(values):\n    total = sum(values)\n    return total / (len(values) - 1)\n"


@pytest.fixture(scope="module")
def chat_pair(chat_gguf, tmp_path_factory):
    """The ChatML tiny model behind llama-server, and the same GGUF in-process."""
    process, url = start_llama_server(chat_gguf, CHAT_CONTEXT, tmp_path_factory.mktemp("llama-server-chat"))
    remote = HttpBackend(HttpOptions(url=url, context_size=CHAT_CONTEXT))
    local = LocalBackend(chat_gguf, BackendOptions(context_size=CHAT_CONTEXT, threads=1, batch_size=256))
    try:
        yield remote, local
    finally:
        remote.close()
        local.close()
        process.terminate()
        process.wait(20)


def test_docstring_through_llama_server_sends_the_in_process_prompt(chat_pair):
    from lsp_server.features.docstring import generate_docstring, plan_docstring
    from lsp_server.engine.chat import chat_prompt
    from lsp_server.features.writers import ChatDocstringWriter, docstring_messages, writer_for
    from tests.assist.conftest import CHATML_TEMPLATE
    from tests.assist.test_assist_real_model import SOURCE, strip_docstrings

    remote, local = chat_pair
    assert remote.can_chat and remote.chat_template == CHATML_TEMPLATE  # from /props, rendered here
    writer = writer_for(remote)
    assert isinstance(writer, ChatDocstringWriter)
    plan = plan_docstring(SOURCE, SOURCE.index("os.makedirs"), "python", style="google")
    messages = docstring_messages(plan)
    # The prompt is the in-process one, token for token (the template rendered here, its markers
    # parsed as special tokens by the server). The answers are not compared: the random tiny
    # model's near-ties flip with llama-server's batch sizes, unlike the completion tests' prompts.
    assert chat_prompt(remote, messages, "Create ") == chat_prompt(local, messages, "Create ")
    result = generate_docstring(plan, writer)
    assert set(result.fills) == {hole.key for hole in plan.holes}
    assert all(value and "\n" not in value and '"' not in value for value in result.fills.values())
    assert strip_docstrings(result.new_text) == strip_docstrings(SOURCE)


def test_written_review_through_llama_server_is_grammar_constrained(chat_pair):
    from lsp_server.features.review import ReviewRequest, review_all
    from lsp_server.engine.findings import FINDINGS_GBNF
    from lsp_server.features.review_model import REMOTE_SURPRISE_NOTE, LocalReviewModel, review_model_for

    remote, local = chat_pair
    request = ReviewRequest(REVIEWED, path="stats.py", language="python", signals="written")
    model = review_model_for(remote)
    assert not isinstance(model, LocalReviewModel)
    result = review_all(request, model)
    assert result.signals == ("written",) and result.notes == []
    assert all(1 <= finding.start_line <= finding.end_line <= 3 for finding in result.findings)
    answer = model.write([{"role": "user", "content": "Review:\n" + REVIEWED}], FINDINGS_GBNF, 64, None)
    assert answer.lstrip().startswith("[")  # the grammar reached the server's /completion
    both = review_all(ReviewRequest(REVIEWED, path="stats.py", language="python"), model)
    assert both.notes == [REMOTE_SURPRISE_NOTE] and both.signals == ("written",)


def test_a_base_model_behind_llama_server_writes_docstrings_by_fim(remote, local):
    from lsp_server.features.docstring import generate_docstring, plan_docstring
    from lsp_server.features.writers import FimDocstringWriter, writer_for
    from tests.assist.test_assist_real_model import SOURCE, strip_docstrings

    assert not remote.can_chat  # the tiny base GGUF has no chat template: FIM, as in-process
    writer = writer_for(remote)
    assert isinstance(writer, FimDocstringWriter)
    plan = plan_docstring(SOURCE, SOURCE.index("os.makedirs"), "python", style="google")
    result = generate_docstring(plan, writer)
    assert result.fills.keys() == {hole.key for hole in plan.holes}
    assert strip_docstrings(result.new_text) == strip_docstrings(SOURCE)
    # the first hole's FIM prompt is the in-process one, token for token
    document, offset = plan.document_with({}, plan.holes[0])
    local_writer = writer_for(local)
    assert writer.builder.build(document[:offset], document[offset:], language="python").tokens == \
        local_writer.builder.build(document[:offset], document[offset:], language="python").tokens
