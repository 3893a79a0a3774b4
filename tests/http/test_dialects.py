"""Pure parts of the remote backend: which dialect a URL speaks, the client-side vocabulary for
text-prompt servers, event parsing, and the backend.* settings."""

from __future__ import annotations

import pytest

from lsp_server.backend.base import StopReason
from lsp_server.backend.dialects import (
    Dialect,
    dialect_for,
    family_from_model_name,
    model_ids,
    native_piece,
    openai_piece,
)
from lsp_server.backend.text_vocab import TextVocabulary
from lsp_server.engine.families import FAMILY_NAMES, detect_family, family_token_texts
from lsp_server.features.runtime import http_options
from lsp_server.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("url", "dialect", "plain"),
    [
        ("http://gpu-box:8080", Dialect.LLAMA_SERVER, "http://gpu-box:8080"),
        ("http://gpu-box:8080/", Dialect.LLAMA_SERVER, "http://gpu-box:8080/"),
        ("https://llm.example/v1", Dialect.OPENAI, "https://llm.example/v1"),
        ("https://llm.example/v1/", Dialect.OPENAI, "https://llm.example/v1/"),
        ("http://localhost:11434/v1", Dialect.OPENAI, "http://localhost:11434/v1"),
        ("openai+https://proxy.example/ai", Dialect.OPENAI, "https://proxy.example/ai"),
        ("llama-server+http://box/v1", Dialect.LLAMA_SERVER, "http://box/v1"),
    ],
)
def test_the_url_chooses_the_dialect(url, dialect, plain):
    assert dialect_for(url) == (dialect, plain)


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("Qwen/Qwen2.5-Coder-7B", "qwen2.5-coder"),
        ("qwen2.5-coder:1.5b-base", "qwen2.5-coder"),
        ("deepseek-ai/deepseek-coder-6.7b-base", "deepseek-coder"),
        ("bigcode/starcoder2-15b", "starcoder"),
        ("codellama/CodeLlama-13b-hf", "codellama"),
        ("google/codegemma-7b", "codegemma"),
        ("/models/tiny-q8_0.gguf", None),
    ],
)
def test_family_from_the_served_name(name, family):
    assert family_from_model_name(name) == family


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_the_client_vocabulary_carries_the_named_family(family):
    vocab = TextVocabulary(family_token_texts(family))
    detected = detect_family(vocab.token_id, {})
    assert detected.name == family and detected.has_fim
    marker_text = vocab.detokenize([detected.prefix_id, detected.suffix_id, detected.middle_id])
    assert marker_text == "".join(family_token_texts(family)[:3])


def test_the_client_vocabulary_round_trips_text_and_keeps_special_spellings_plain():
    vocab = TextVocabulary(family_token_texts("qwen2.5-coder"))
    text = "def área(x_1):\n\treturn 12345 + x_1  # <|fim_prefix|> stays text\r\n"
    tokens = vocab.tokenize(text)
    assert vocab.detokenize(tokens) == text
    assert vocab.token_id("<|fim_prefix|>") not in tokens
    assert len(tokens) < len(text) / 2  # chunks, not characters: budgets stay near BPE counts
    assert vocab.tokenize("def área") == tokens[:2]  # typing appends: a prefix keeps its ids


def test_events_are_read_per_dialect():
    native = native_piece({"content": "ab", "tokens": [5], "stop": False, "tokens_predicted": 3,
                           "timings": {"prompt_n": 4, "cache_n": 96, "prompt_ms": 1.5, "predicted_ms": 2.0}})
    assert (native.text, native.token_ids, native.stop, native.evaluated_tokens, native.reused_tokens,
            native.generated_tokens) == ("ab", [5], None, 4, 96, 3)
    assert native_piece({"content": "", "stop": True, "stop_type": "limit"}).stop is StopReason.MAX_TOKENS
    progress = native_piece({"content": "", "tokens": [0], "prompt_progress": {"processed": 10}})
    assert progress.token_ids is None
    assert openai_piece({"choices": [{"text": "x", "finish_reason": None}]}).text == "x"
    assert openai_piece({"choices": [{"text": "", "finish_reason": "length"}]}).stop is StopReason.MAX_TOKENS
    chat = openai_piece({"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]}, chat=True)
    assert (chat.text, chat.stop) == ("hi", StopReason.END_OF_GENERATION)
    with pytest.raises(ValueError):
        openai_piece({"oops": 1})
    assert model_ids({"data": [{"id": "a"}, {"id": "b"}]}) == ["a", "b"]
    assert model_ids({"models": [{"name": "qwen2.5-coder:7b"}]}) == ["qwen2.5-coder:7b"]


def test_backend_settings_nested_or_flat_and_the_key_from_the_environment():
    nested = Settings().merged({"backend": {"url": "http://box:8080", "apiKeyEnv": "TEAM_KEY", "timeout": 5}})
    flat = Settings().merged({"backend.url": "http://box:8080", "backend.apiKeyEnv": "TEAM_KEY", "backend.timeout": 5})
    assert nested == flat
    assert (nested.backend_url, nested.backend_api_key_env, nested.backend_timeout) == ("http://box:8080", "TEAM_KEY", 5.0)
    options = http_options(nested, environ={"TEAM_KEY": "k-from-env"})
    assert options.api_key == "k-from-env" and "k-from-env" not in repr(options)
    from_settings = Settings().merged({"backend": {"url": "http://box:8080", "apiKey": "k-setting"}})
    assert http_options(from_settings, environ={}).api_key == "k-setting"
    assert "k-setting" not in repr(from_settings)


def test_bad_backend_settings_are_named_and_a_key_is_never_echoed():
    with pytest.raises(SettingsError, match="backend.family"):
        Settings().merged({"backend": {"family": "gpt"}})
    with pytest.raises(SettingsError) as caught:
        Settings().merged({"backend": {"apiKey": 123456789}})
    assert "123456789" not in str(caught.value)
