"""Docstrings, tests and review through a real OpenAI-compatible server on loopback
(llama-cpp-python's `python -m llama_cpp.server`) serving a converter-made tiny GGUF that
carries a ChatML template: through the features, the LSP server process (`--url`) and the CLI.

The oracle is llama-cpp-python in this process on the same GGUF (greedy): the server's
chat applies the same template and the same grammar, so what comes over HTTP must equal
`Llama.create_chat_completion` here with the request seekcode sends. The tiny model's
weights are random: the text is junk, but the grammar must hold and placement be exact.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lsp_server.backend.base import Generation, StopReason
from lsp_server.backend.http import HttpBackend, HttpOptions
from lsp_server.engine.chat import one_line_grammar, prefixed_grammar
from lsp_server.engine.findings import FINDINGS_GBNF, parse_findings
from lsp_server.features.docstring import generate_docstring, plan_docstring
from lsp_server.features.review import ReviewRequest, review_all
from lsp_server.features.review_model import REMOTE_SURPRISE_NOTE, RemoteReviewModel, review_model_for
from lsp_server.features import test_writers
from lsp_server.features.test_writers import ChatTestWriter
from lsp_server.features.tests import TestsError, generate_tests, plan_tests  # noqa: F401
from lsp_server.features.writers import ChatDocstringWriter, writer_for
from tests.assist.test_assist_real_model import SOURCE, strip_docstrings
from tests.assist.test_server_assist import apply_text_edits, document_edits
from tests.http.conftest import CHAT_CONTEXT
from tests.http.test_lsp_remote import connected
from tests.lsp.lsp_client import REPO_ROOT

REVIEWED = (
    "def average(values):\n"
    "    total = 0\n"
    "    for value in values:\n"
    "        total += value\n"
    "    return total / (len(values) - 1)\n"
)


class InProcessChat:
    """The oracle: llama-cpp-python's own chat in this process, asked what seekcode asks the
    server (the same messages; a pre-filled answer forced by the grammar; greedy; no repeat
    penalty; stopped where seekcode's `on_text` says)."""

    can_chat = True

    def __init__(self, gguf: Path) -> None:
        from llama_cpp import Llama

        self.llama = Llama(str(gguf), n_ctx=CHAT_CONTEXT, n_threads=1, n_threads_batch=1, seed=0, verbose=False)
        self.context_size = CHAT_CONTEXT

    def tokenize(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode(), add_bos=False)

    def chat(self, messages, *, max_tokens, grammar=None, json_schema=None, answer_prefix="", temperature=0.0,
             abort=None, on_text=None) -> Generation:
        from llama_cpp import LlamaGrammar

        forced = prefixed_grammar(grammar, answer_prefix) if answer_prefix else grammar
        stream = self.llama.create_chat_completion(
            messages=[dict(m) for m in messages], max_tokens=max_tokens + len(answer_prefix), temperature=temperature,
            repeat_penalty=1.0, stream=True, grammar=LlamaGrammar.from_string(forced, verbose=False) if forced else None,
        )
        text, reason = "", StopReason.MAX_TOKENS
        for chunk in stream:
            choice = chunk["choices"][0]
            piece = choice["delta"].get("content") or ""
            before = len(text)
            text += piece
            shown = text[max(before, len(answer_prefix)):] if len(text) > len(answer_prefix) else ""
            if shown and on_text is not None and on_text(shown):
                reason = StopReason.EARLY_STOP
                break
            if choice.get("finish_reason") == "stop":
                reason = StopReason.END_OF_GENERATION
        return Generation(text[len(answer_prefix):] if text.startswith(answer_prefix) else text, [], reason)


@pytest.fixture(scope="module")
def remote(chat_server):
    backend = HttpBackend(HttpOptions(url=chat_server, context_size=CHAT_CONTEXT))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def oracle(chat_gguf):
    return InProcessChat(chat_gguf)


def test_the_server_is_known_to_take_a_grammar_and_can_chat(remote):
    assert remote.takes_grammar and remote.can_chat  # llama-cpp-python answers owned_by "me"
    assert remote.model_name == "tiny-chat"


def test_chat_with_a_prefilled_answer_and_a_grammar_equals_the_in_process_chat(remote, oracle):
    messages = [{"role": "user", "content": "Describe `ensure_dir` in one line."}]
    grammar = one_line_grammar(max_chars=60)
    streamed: list[str] = []
    generation = remote.chat(messages, max_tokens=24, grammar=grammar, answer_prefix="Create the ",
                             on_text=lambda piece: streamed.append(piece) or False)
    expected = oracle.chat(messages, max_tokens=24, grammar=grammar, answer_prefix="Create the ")
    assert generation.text == expected.text
    assert "".join(streamed) == generation.text  # the forced prefix is not streamed to the caller
    # the grammar held: one line of at most 60 characters, no quotes, then the newline
    assert generation.text.endswith("\n") and "\n" not in generation.text[:-1]
    assert len(generation.text) <= 61 and '"' not in generation.text


def test_docstring_over_http_equals_the_in_process_one_and_is_placed_exactly(remote, oracle, tmp_path):
    writer = writer_for(remote)
    assert isinstance(writer, ChatDocstringWriter)
    offset = SOURCE.index("os.makedirs")
    plan = plan_docstring(SOURCE, offset, "python", style="numpy")
    result = generate_docstring(plan, writer)
    expected = generate_docstring(plan, ChatDocstringWriter(oracle))
    assert result.fills == expected.fills and result.new_text == expected.new_text
    assert set(result.fills) == {hole.key for hole in plan.holes}
    assert all(value and "\n" not in value and '"' not in value for value in result.fills.values())
    assert "    Parameters\n    ----------\n    path\n        " in result.new_text
    assert strip_docstrings(result.new_text) == strip_docstrings(SOURCE)  # only the docstring was added
    assert ast.get_docstring(ast.parse(result.new_text).body[1]) is not None


def test_tests_over_http_equal_the_in_process_ones(remote, oracle, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    path = tmp_path / "mathx.py"
    source = "def add(a, b):\n    return a + b\n"
    path.write_text(source, encoding="utf-8")
    plan = plan_tests(path, source, source.index("return"), "python", tmp_path)
    writer = test_writers.test_writer_for(remote)
    assert isinstance(writer, ChatTestWriter)
    written = writer.write(plan, threading.Event())
    assert written == ChatTestWriter(oracle).write(plan, threading.Event())
    assert "```" not in written  # the fence that closes the answer stopped the stream

    def outcome(writer):
        try:
            result = generate_tests(plan, writer)
        except TestsError as error:  # a random model may fail to write parsing tests twice: the same message
            return str(error)
        return result.code

    assert outcome(ChatTestWriter(remote)) == outcome(ChatTestWriter(oracle))


def test_review_over_http_is_the_written_review_with_one_note(remote, oracle):
    model = review_model_for(remote)
    assert isinstance(model, RemoteReviewModel)
    request = ReviewRequest(REVIEWED, path="stats.py", language="python")
    result = review_all(request, model)
    assert result.signals == ("written",)
    assert result.notes == [REMOTE_SURPRISE_NOTE]
    expected = review_all(request, RemoteReviewModel(oracle))
    assert result.findings == expected.findings
    assert all(1 <= finding.start_line <= finding.end_line <= 5 for finding in result.findings)
    # the grammar went to the server: the raw answer is a JSON list of findings
    answer = model.write([{"role": "user", "content": "Review:\n" + REVIEWED}], FINDINGS_GBNF, 96, None)
    assert answer.lstrip().startswith("[")
    assert parse_findings(answer) == parse_findings(RemoteReviewModel(oracle).write(
        [{"role": "user", "content": "Review:\n" + REVIEWED}], FINDINGS_GBNF, 96, None))


# -- the LSP server process and the CLI -----------------------------------------------


@pytest.fixture
def remote_lsp(start_assist_server, chat_server, tmp_path):
    client = start_assist_server(["--url", chat_server, "--ctx-size", str(CHAT_CONTEXT)])
    client.initialize_assist()
    connected(client)
    return client


def test_lsp_commands_over_http_give_what_the_features_give(remote_lsp, remote, tmp_path):
    client = remote_lsp
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    path = tmp_path / "fsutil.py"
    path.write_text(SOURCE, encoding="utf-8")
    uri = path.as_uri()
    client.open(uri, SOURCE)
    answer = client.request("workspace/executeCommand", {
        "command": "seekcode.generateDocstring",
        "arguments": [{"uri": uri, "position": {"line": 4, "character": 8}, "style": "numpy"}]}, timeout=300)
    assert answer["applied"], answer
    new_text = apply_text_edits(SOURCE, document_edits(client.applied_edits[-1], uri))
    plan = plan_docstring(SOURCE, SOURCE.index("os.makedirs"), "python", style="numpy")
    assert new_text == generate_docstring(plan, writer_for(remote)).new_text

    reviewed = tmp_path / "stats.py"
    reviewed.write_text(REVIEWED, encoding="utf-8")
    client.open(reviewed.as_uri(), REVIEWED)
    answer = client.request("workspace/executeCommand", {
        "command": "seekcode.review", "arguments": [{"uri": reviewed.as_uri(), "scope": "file"}]}, timeout=300)
    expected = review_all(ReviewRequest(REVIEWED, path=str(reviewed), language="python"), review_model_for(remote))
    assert answer["findings"] == len(expected.findings)
    assert answer["message"] == REMOTE_SURPRISE_NOTE

    source = "def add(a, b):\n    return a + b\n"
    (tmp_path / "mathx.py").write_text(source, encoding="utf-8")
    client.open((tmp_path / "mathx.py").as_uri(), source)
    answer = client.request("workspace/executeCommand", {
        "command": "seekcode.generateTests",
        "arguments": [{"uri": (tmp_path / "mathx.py").as_uri(), "position": {"line": 1, "character": 4}}]}, timeout=300)
    plan = plan_tests(tmp_path / "mathx.py", source, source.index("return"), "python", tmp_path)
    try:
        code = generate_tests(plan, test_writers.test_writer_for(remote)).code
    except TestsError as error:
        assert not answer["applied"] and answer["message"] == str(error)
    else:
        assert answer["applied"], answer
        assert code.strip() in client.applied_edits[-1]["documentChanges"][-1]["edits"][0]["newText"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp_server", *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
        env={**os.environ, "SEEKCODE_MODEL": "", "OMP_WAIT_POLICY": "PASSIVE"},
    )


def test_cli_docstring_review_and_tests_over_http(chat_server, remote, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    source = tmp_path / "fsutil.py"
    source.write_text(SOURCE, encoding="utf-8")
    url = ["--url", chat_server, "--ctx-size", str(CHAT_CONTEXT)]
    applied = run_cli("docstring", f"{source}:5:9", "--style", "numpy", "--apply", *url)
    assert applied.returncode == 0, applied.stderr
    plan = plan_docstring(SOURCE, SOURCE.index("os.makedirs"), "python", style="numpy")
    assert source.read_text(encoding="utf-8") == generate_docstring(plan, writer_for(remote)).new_text

    reviewed = tmp_path / "stats.py"
    reviewed.write_text(REVIEWED, encoding="utf-8")
    review = run_cli("review", str(reviewed), "--format", "json", "--fail-on", "never", *url)
    assert review.returncode == 0, review.stderr
    assert REMOTE_SURPRISE_NOTE in review.stderr
    expected = review_all(ReviewRequest(REVIEWED, path=str(reviewed), language="python"), review_model_for(remote))
    findings = json.loads(review.stdout)
    findings = findings.get("findings", findings) if isinstance(findings, dict) else findings
    assert [(f["start_line"], f["end_line"], f["message"]) for f in findings] == [
        (f.start_line, f.end_line, f.message) for f in expected.findings]

    maths = tmp_path / "mathx.py"
    maths.write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
    tests = run_cli("tests", f"{maths}:2:5", *url)
    plan = plan_tests(maths, maths.read_text(encoding="utf-8"), 20, "python", tmp_path)
    try:
        code = generate_tests(plan, test_writers.test_writer_for(remote)).code
    except TestsError as error:  # the random model's tests may not parse twice: the same sentence
        assert tests.returncode == 1 and tests.stderr.strip().endswith(str(error)), tests.stderr
    else:
        assert tests.returncode == 0, tests.stderr
        assert "+++ b/tests/test_mathx.py" in tests.stdout
        assert all(f"+{line}" in tests.stdout for line in code.strip().splitlines() if line)

    refused = run_cli("docstring", f"{source}:5:9", "--replace", "--url", "http://127.0.0.1:9/v1")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "127.0.0.1:9" in refused.stderr and "Traceback" not in refused.stderr
