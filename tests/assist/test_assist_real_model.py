"""Docstrings and tests end to end on real GGUFs through llama.cpp: the bundled base model
(FIM between the quotes), a converted tiny model with a chat template (the instruct path,
grammar-constrained), and the CLI."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import threading
import sys

import pytest

from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.engine.chat import ChatTemplateError, chat_prompt, one_line_grammar, render_chat
from lsp_server.engine.symbols import code_tokens
from lsp_server.features.docstring import generate_docstring, plan_docstring
from lsp_server.features.writers import ChatDocstringWriter, FimDocstringWriter, writer_for
from tests.assist.conftest import CHATML_TEMPLATE
from tests.lsp.lsp_client import REPO_ROOT
from tests.lsp.aborts import AbortAfterLooks

SOURCE = (
    "import os\n\n\n"
    "def ensure_dir(path, mode=0o755):\n"
    "    if os.path.isfile(path):\n"
    "        raise NotADirectoryError(path)\n"
    "    os.makedirs(path, mode=mode, exist_ok=True)\n"
    "    return os.path.abspath(path)\n"
)
GO_SOURCE = "package fs\n\nfunc Exists(path string) bool {\n\treturn path != \"\"\n}\n"


def strip_docstrings(text: str) -> str:
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node, False) is not None:
            node.body = node.body[1:]
    return ast.dump(tree)


@pytest.fixture(scope="module")
def bundled_backend(bundled_gguf):
    backend = LocalBackend(bundled_gguf, BackendOptions(context_size=1024, threads=2))
    yield backend
    backend.close()


def test_bundled_base_model_fills_the_docstring_by_fim(bundled_backend):
    assert bundled_backend.chat_template is None
    writer = writer_for(bundled_backend)
    assert isinstance(writer, FimDocstringWriter)
    plan = plan_docstring(SOURCE, SOURCE.index("os.makedirs"), "python")
    result = generate_docstring(plan, writer)
    tree = ast.parse(result.new_text)
    docstring = ast.get_docstring(tree.body[1])
    assert docstring is not None and docstring.splitlines()[0] == result.fills["summary"]
    for name in ("path", "mode", "NotADirectoryError"):
        assert re.search(rf"^\s*{name}:", result.new_text, re.M), name  # named by the template, always
    assert strip_docstrings(result.new_text) == strip_docstrings(SOURCE)
    assert all("\n" not in value and '"""' not in value for value in result.fills.values())


def test_bundled_model_writes_a_go_doc_comment(bundled_backend):
    plan = plan_docstring(GO_SOURCE, GO_SOURCE.index("return"), "go")
    result = generate_docstring(plan, writer_for(bundled_backend))
    assert result.new_text.startswith("package fs\n\n// Exists ")
    assert code_tokens(result.new_text, "go") == code_tokens(GO_SOURCE, "go")


def test_grammar_constrains_generation_and_a_bad_grammar_is_refused(bundled_backend):
    prompt = bundled_backend.tokenize("The answer is")
    generation = bundled_backend.generate(prompt, max_tokens=8, grammar='root ::= " yes" | " no"')
    assert generation.text in (" yes", " no")
    line = bundled_backend.generate(prompt, max_tokens=200, grammar=one_line_grammar(max_chars=40))
    assert line.text.endswith("\n") and "\n" not in line.text[:-1] and len(line.text) <= 42
    with pytest.raises(ValueError, match="grammar does not parse"):
        bundled_backend.generate(prompt, max_tokens=4, grammar="root ::= (")
    with pytest.raises(ChatTemplateError, match="no chat template"):
        chat_prompt(bundled_backend, [{"role": "user", "content": "hi"}])


def test_chat_template_renders_like_the_model_expects():
    text = render_chat(CHATML_TEMPLATE, [{"role": "user", "content": "Hi"}])
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    with pytest.raises(ChatTemplateError, match="does not parse"):
        render_chat("{% for %}", [])


def test_instruct_path_uses_the_gguf_chat_template_and_the_grammar(chat_gguf):
    backend = LocalBackend(chat_gguf, BackendOptions(context_size=2048, threads=2))
    try:
        assert backend.chat_template == CHATML_TEMPLATE
        writer = writer_for(backend)
        assert isinstance(writer, ChatDocstringWriter)
        plan = plan_docstring(SOURCE, SOURCE.index("os.makedirs"), "python", style="numpy")
        # A random tiny model writes junk, but the grammar keeps every hole one plain line.
        result = generate_docstring(plan, writer)
    finally:
        backend.close()
    assert set(result.fills) == {hole.key for hole in plan.holes}
    assert all(value and "\n" not in value and '"' not in value for value in result.fills.values())
    assert "    Parameters\n    ----------\n    path\n        " in result.new_text
    assert strip_docstrings(result.new_text) == strip_docstrings(SOURCE)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp_server", *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
        env={**os.environ, "SEEKCODE_MODEL": ""},
    )


def test_cli_docstring_prints_a_diff_then_applies_atomically(tmp_path, bundled_gguf):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    source = tmp_path / "fsutil.py"
    source.write_text(SOURCE, encoding="utf-8")
    diff = run_cli("docstring", f"{source}:5:9", "--threads", "2")
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.startswith("--- a/fsutil.py\n+++ b/fsutil.py\n")
    assert '+    """' in diff.stdout and source.read_text(encoding="utf-8") == SOURCE
    applied = run_cli("docstring", f"{source}:5:9", "--threads", "2", "--apply")
    assert applied.returncode == 0, applied.stderr
    new_text = source.read_text(encoding="utf-8")
    assert ast.get_docstring(ast.parse(new_text).body[1]) is not None
    assert strip_docstrings(new_text) == strip_docstrings(SOURCE)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fsutil.py", "pyproject.toml"]  # no temp files left
    again = run_cli("docstring", f"{source}:5:9", "--threads", "2")
    assert again.returncode == 1 and "already has a docstring" in again.stderr and "--replace" in again.stderr
    replaced = run_cli("docstring", f"{source}:5:9", "--threads", "2", "--replace", "--style", "rest")
    assert replaced.returncode == 0 and "+    :param path:" in replaced.stdout


def test_cli_exit_codes(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("x = 1\n", encoding="utf-8")
    nothing = run_cli("docstring", f"{source}:1:1")
    assert nothing.returncode == 1 and "no function, method or class" in nothing.stderr
    assert run_cli("docstring", f"{source}:9:1").returncode == 2
    assert run_cli("docstring", f"{source}:x").returncode == 2
    assert run_cli("docstring", f"{tmp_path}/missing.py:1:1").returncode == 2
    bad_style = run_cli("docstring", f"{source}:1:1", "--style", "epytext")
    assert bad_style.returncode == 2
    assert run_cli("tests", f"{source}:1:1", "--framework", "nose").returncode == 2
    no_symbol = run_cli("tests", f"{source}:1:1")
    assert no_symbol.returncode == 1 and "no function, method or class" in no_symbol.stderr


def test_cli_tests_writes_a_parsing_test_file_or_says_why_not(tmp_path, bundled_gguf):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    source = tmp_path / "fsutil.py"
    source.write_text(SOURCE, encoding="utf-8")
    result = run_cli("tests", f"{source}:5:9", "--threads", "2", "--apply")
    # The tiny bundled model may fail to write parsing tests twice: then exit 1 with the reason.
    assert result.returncode in (0, 1), result.stderr
    if result.returncode == 1:
        assert "did not parse twice" in result.stderr or "no test functions" in result.stderr
        assert not (tmp_path / "tests").exists()
    else:
        test_file = tmp_path / "tests" / "test_fsutil.py"
        text = test_file.read_text(encoding="utf-8")
        assert text.startswith("import pytest\n\nfrom fsutil import ensure_dir\n\n\ndef test_")
        ast.parse(text)


@pytest.mark.parametrize("which", ["chat", "base"])
def test_preempted_test_writing_continues_where_it_stopped(which, chat_gguf, bundled_gguf, tmp_path):
    from lsp_server.features.test_writers import test_writer_for
    from lsp_server.features.tests import plan_tests

    (tmp_path / "setup.py").write_text("", encoding="utf-8")
    source = tmp_path / "fsutil.py"
    source.write_text(SOURCE, encoding="utf-8")
    plan = plan_tests(source, SOURCE, SOURCE.index("os.makedirs"), "python", tmp_path)
    backend = LocalBackend(chat_gguf if which == "chat" else bundled_gguf, BackendOptions(context_size=2048, threads=2))
    try:
        resume: dict[str, str] = {}
        writer = test_writer_for(backend, resume=resume)
        assert writer.name == ("chat" if which == "chat" else "fim")
        writer.max_tokens = 40
        assert writer.write(plan, AbortAfterLooks(backend, 12)) == ""  # preempted after a few tokens
        [partial] = resume.values()
        assert partial
        finished = test_writer_for(backend, resume=resume)
        finished.max_tokens = 40
        text = finished.write(plan, threading.Event())
    finally:
        backend.close()
    assert resume == {}
    if which == "chat":
        assert text.startswith(partial.split("```", 1)[0])
    else:
        assert text.startswith("def test_ensure_dir():\n")
        assert partial.strip().splitlines()[0] in text  # the continuation kept what was written
