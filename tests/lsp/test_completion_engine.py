"""features.completion on the converter-made tiny GGUF, called directly (no LSP)."""

from __future__ import annotations

import threading

import pytest

from lsp_server.backend.local import LocalBackend
from lsp_server.engine.context import SourceDocument
from lsp_server.engine.families import Layout
from lsp_server.engine.postprocess import postprocess
from lsp_server.features.completion import CompletionEngine, CompletionRequest
from lsp_server.features.runtime import backend_options
from lsp_server.settings import Settings

SETTINGS = Settings(threads=2, max_tokens=12)
TEXT = "def greet(name):\n    message = 'hello ' + name\n    return "


@pytest.fixture(scope="module")
def backend(tiny_gguf):
    backend = LocalBackend(tiny_gguf, backend_options(SETTINGS))
    yield backend
    backend.close()


def request(text: str = TEXT, offset: int | None = None, **kwargs) -> CompletionRequest:
    return CompletionRequest(text, len(text) if offset is None else offset, "python", settings=SETTINGS, **kwargs)


def test_model_answer_is_the_postprocessed_generation(backend):
    engine = CompletionEngine(backend)
    result = engine.complete(request())
    assert result.source == "model" and result.prompt is not None
    context = engine.postprocess_context(request(), result.prompt)
    assert postprocess(result.raw_text, context) == (result.suggestions[0].text if result.suggestions else "")
    healed_tokens, _ = engine.heal(result.prompt)  # minus a token left for healing, if any
    assert result.stats.prompt_tokens == len(healed_tokens)


def test_same_cursor_again_comes_from_the_cache_without_the_model(backend):
    engine = CompletionEngine(backend)
    first = engine.complete(request())
    again = engine.complete(request())
    assert again.source == "cache" and again.stats is None
    assert [s.text for s in again.suggestions] == [s.text for s in first.suggestions]


def test_typing_the_suggestion_returns_its_rest(backend):
    engine = CompletionEngine(backend)
    engine.cache.put(TEXT, "", "name.upper()")  # what the screen shows at the cursor
    typed = TEXT + "name."
    result = engine.complete(request(typed))
    assert result.source == "cache"
    assert result.suggestions[0].text == "upper()"
    assert result.suggestions[0].replace_start == result.suggestions[0].replace_end == len(typed)


def test_no_cache_engine_always_runs_the_model(backend):
    engine = CompletionEngine(backend, use_cache=False)
    engine.complete(request())
    assert engine.complete(request()).source == "model"


def test_plain_prefix_fallback_prompt_is_just_the_prefix(backend):
    engine = CompletionEngine(backend, layout=Layout.PLAIN)
    prompt = engine.build_prompt(request())
    fim_ids = set(engine.family.fim_ids())
    assert not fim_ids & set(prompt.tokens)
    assert backend.token_piece(prompt.tokens[-1]).decode().strip() in TEXT
    result = engine.complete(request())
    assert result.source == "model"


def test_aborted_completion_is_empty_and_not_cached(backend):
    engine = CompletionEngine(backend)
    abort = threading.Event()
    abort.set()
    result = engine.complete(request(), abort)
    assert result.source == "aborted" and result.suggestions == []
    assert engine.from_cache(request()) is None


def test_similar_open_document_is_put_in_the_prompt(backend):
    engine = CompletionEngine(backend)
    helper = SourceDocument(
        path="file:///work/helpers.py",
        text="def greet_all(names):\n    for name in names:\n        message = 'hello ' + name\n        print(message)\n",
        language="python",
    )
    with_context = engine.build_prompt(request(other_docs=(helper,), uri="file:///work/main.py"))
    without = engine.build_prompt(request(uri="file:///work/main.py"))
    assert with_context.snippets and with_context.snippets[0].path == helper.path
    assert len(with_context.tokens) > len(without.tokens)


def test_cursor_outside_the_document_is_rejected():
    with pytest.raises(ValueError, match="outside the document"):
        CompletionRequest("abc", 4, "python")


def test_budgets_shrink_to_fit_a_small_context():
    from lsp_server.features.completion import PROMPT_OVERHEAD_TOKENS, budget_for

    settings = Settings(max_tokens=64)
    roomy = budget_for(settings, 4096)
    assert (roomy.prefix_tokens, roomy.suffix_tokens, roomy.context_tokens) == (1024, 256, 512)
    small = budget_for(settings, 512)
    total = small.prefix_tokens + small.suffix_tokens + small.context_tokens
    assert total <= 512 - 64 - PROMPT_OVERHEAD_TOKENS
    assert small.prefix_tokens > small.suffix_tokens > 0


def test_training_context_length_comes_from_the_gguf_header(tiny_gguf, tmp_path):
    from lsp_server.backend.gguf_header import read_metadata
    from lsp_server.backend.local import training_context_length

    import gguf

    reader = gguf.GGUFReader(tiny_gguf)
    field = reader.fields["llama.context_length"]
    expected = int(field.parts[field.data[0]][0])
    assert training_context_length(tiny_gguf) == expected
    assert read_metadata(tiny_gguf, {"general.architecture"}) == {"general.architecture": "llama"}
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(tiny_gguf.read_bytes()[:200])
    assert training_context_length(truncated) is None


@pytest.mark.parametrize(
    ("prefix", "dedented"),
    [
        ("if x:\n        y = 1\n    ", True),  # left of the last code line: the user dedented
        ("if x:\n    y = 1\n\n", True),  # column 0 after an indented line
        ("if x:\n    y = 1\n    ", False),  # the same column: the block may go on
        ("if x:\n    ", False),  # deeper than the last line
        ("    y = 1\n    z", False),  # text on the cursor's line
        ("", False),
    ],
)
def test_user_dedented_is_a_blank_line_left_of_the_last_code_line(prefix: str, dedented: bool):
    from lsp_server.features.completion import user_dedented

    assert user_dedented(prefix) is dedented


def test_a_dedented_cursor_gets_a_line_that_starts_at_its_column(backend):
    engine = CompletionEngine(backend, use_cache=False)
    for indent in ("    ", ""):  # the random tiny model would often go on at the block's indentation
        text = "def f(x):\n    if x:\n        y = x + 1\n        y = y * 2\n" + indent
        result = engine.complete(request(text))
        assert result.source == "model"
        assert not result.raw_text[:1].isspace()  # the cursor's indentation was spelled by the healing
        if result.suggestions:
            assert not result.suggestions[0].text[:1].isspace()
