"""The two HTTP dialects: llama-server's native API and the OpenAI-compatible one.

    dialect, url = dialect_for("http://gpu-box:8080")        # llama-server native
    dialect, url = dialect_for("https://vllm.example/v1")    # OpenAI-compatible (path ends in /v1)
    dialect, url = dialect_for("openai+http://host/api")     # forced by the scheme prefix

Native: `/completion` with our prompt as token ids, `cache_prompt`, `return_tokens` (stop
ids checked here) and `timings_per_token` (evaluated vs reused prompt tokens per event);
`/tokenize`, `/detokenize`, `/props`. OpenAI: `/completions` with the prompt as text,
`/chat/completions`, `/models`. Each function here builds a request body or reads one
streamed event into a `StreamPiece`; no I/O.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lsp_server.backend.base import StopReason


class Dialect(str, enum.Enum):
    LLAMA_SERVER = "llama-server"
    OPENAI = "openai"


_FORCED = {"openai+": Dialect.OPENAI, "llama-server+": Dialect.LLAMA_SERVER}


def dialect_for(url: str) -> tuple[Dialect, str]:
    """The dialect a URL names, and the plain http(s) URL to call."""
    url = url.strip()
    for prefix, dialect in _FORCED.items():
        if url.lower().startswith(prefix):
            return dialect, url[len(prefix) :]
    path = re.sub(r"^[a-z+]+://[^/]*", "", url, flags=re.IGNORECASE).split("?", 1)[0].rstrip("/")
    if path.endswith("/v1"):
        return Dialect.OPENAI, url
    return Dialect.LLAMA_SERVER, url


@dataclass
class StreamPiece:
    text: str
    token_ids: list[int] | None = None  # native only (return_tokens)
    stop: StopReason | None = None  # the server ended the generation with this event
    evaluated_tokens: int | None = None  # prompt tokens the server ran (native timings)
    reused_tokens: int | None = None  # prompt tokens it kept from its cache
    prompt_ms: float | None = None
    generate_ms: float | None = None
    generated_tokens: int | None = None  # so far (native: a token that ends half a UTF-8
    # character is sent with the next one, and only the last one's id is in `token_ids`)


_NATIVE_STOPS = {"eos": StopReason.END_OF_GENERATION, "word": StopReason.END_OF_GENERATION,
                 "limit": StopReason.MAX_TOKENS}
_OPENAI_STOPS = {"stop": StopReason.END_OF_GENERATION, "eos": StopReason.END_OF_GENERATION,
                 "length": StopReason.MAX_TOKENS}


# -- llama-server native -----------------------------------------------------------


def native_completion_body(
    prompt_tokens: Sequence[int], max_tokens: int, temperature: float, top_k: int, top_p: float,
    grammar: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": list(prompt_tokens),
        "n_predict": max_tokens,
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "stream": True,
        "cache_prompt": True,  # the server keeps the slot's KV cache; our layout appends
        "return_tokens": True,
        "timings_per_token": True,
        "return_progress": True,  # events while a long prompt is evaluated: silence means trouble
    }
    if grammar is not None:
        body["grammar"] = grammar
    return body


def native_infill_body(
    prefix: str, suffix: str, extra: Sequence[tuple[str, str]], max_tokens: int, temperature: float, top_k: int,
    top_p: float,
) -> dict[str, Any]:
    return {
        "input_prefix": prefix,
        "input_suffix": suffix,
        "input_extra": [{"filename": name, "text": text} for name, text in extra],
        "prompt": "",
        "n_predict": max_tokens,
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "stream": True,
        "cache_prompt": True,
        "return_tokens": True,
        "timings_per_token": True,
        "return_progress": True,
    }


def native_piece(event: Mapping[str, Any]) -> StreamPiece:
    content = event.get("content", "")
    if not isinstance(content, str):
        raise ValueError(f"'content' is {type(content).__name__}, not text")
    tokens = event.get("tokens")
    if "prompt_progress" in event:  # a progress event carries no generated token (its `tokens` is [0])
        content, tokens = "", None
    piece = StreamPiece(content, [int(token) for token in tokens] if isinstance(tokens, list) else None)
    piece.generated_tokens = _int_or_none(event.get("tokens_predicted"))
    if event.get("stop"):
        piece.stop = _NATIVE_STOPS.get(str(event.get("stop_type", "eos")), StopReason.END_OF_GENERATION)
    timings = event.get("timings")
    if isinstance(timings, Mapping):
        piece.evaluated_tokens = _int_or_none(timings.get("prompt_n"))
        piece.reused_tokens = _int_or_none(timings.get("cache_n"))
        piece.prompt_ms = _float_or_none(timings.get("prompt_ms"))
        piece.generate_ms = _float_or_none(timings.get("predicted_ms"))
    return piece


# -- OpenAI-compatible -----------------------------------------------------------------


def openai_completion_body(
    model: str, prompt: str, max_tokens: int, temperature: float, top_p: float, stop: Sequence[str],
    grammar: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "stream": True,
        # llama.cpp-based servers (llama-cpp-python, llama-server's /v1) default to a repeat
        # penalty of 1.1, which steers a code model away from the identifiers it must repeat;
        # 1.0 is off, as in-process. Servers that do not know the field ignore it.
        "repeat_penalty": 1.0,
    }
    if stop:
        body["stop"] = list(stop)[:4]  # OpenAI's own limit; other servers stop at EOS anyway
    if grammar is not None:
        body["grammar"] = grammar
    return body


def openai_chat_body(
    model: str, messages: Sequence[Mapping[str, str]], max_tokens: int, temperature: float,
    grammar: str | None = None, json_schema: Mapping[str, Any] | None = None, answer_prefix: str = "",
) -> dict[str, Any]:
    """A chat request. `grammar` (GBNF) goes to llama.cpp servers, which take it as is;
    `json_schema` becomes `response_format` for the others. Without a grammar to force it,
    `answer_prefix` is sent as the start of the assistant's turn (`continue_final_message`,
    vLLM's way to pre-fill an answer)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [dict(message) for message in messages],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": True,
        "repeat_penalty": 1.0,  # as for completions: llama.cpp servers default to 1.1
    }
    if grammar is not None:
        body["grammar"] = grammar
    elif json_schema is not None:
        body["response_format"] = {
            "type": "json_schema", "json_schema": {"name": "answer", "schema": dict(json_schema), "strict": True},
        }
    if answer_prefix and grammar is None:
        body["messages"].append({"role": "assistant", "content": answer_prefix})
        body["continue_final_message"] = True
        body["add_generation_prompt"] = False
    return body


def openai_piece(event: Mapping[str, Any], chat: bool = False) -> StreamPiece:
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise ValueError("no 'choices' list")
    if not choices:  # a usage-only event
        return StreamPiece("")
    choice = choices[0]
    if chat:
        delta = choice.get("delta") or {}
        text = delta.get("content") or ""
    else:
        text = choice.get("text") or ""
    if not isinstance(text, str):
        raise ValueError(f"the text is {type(text).__name__}, not text")
    piece = StreamPiece(text)
    finish = choice.get("finish_reason")
    if finish:
        piece.stop = _OPENAI_STOPS.get(str(finish), StopReason.END_OF_GENERATION)
    return piece


# `owned_by` in GET /models of the servers known to take a GBNF `grammar` field: llama-server's
# /v1 and llama-cpp-python's server (which answers "me"; read in llama_cpp/server/app.py).
GRAMMAR_OWNERS = ("llamacpp", "me")


def takes_grammar(reply: Any) -> bool:
    entries = reply.get("data") if isinstance(reply, Mapping) else None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], Mapping):
        return False
    return entries[0].get("owned_by") in GRAMMAR_OWNERS


def model_ids(reply: Any) -> list[str]:
    """Model names from GET /models (OpenAI's `data`, Ollama's `models`)."""
    if not isinstance(reply, Mapping):
        return []
    entries = reply.get("data") or reply.get("models") or []
    names = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping):
            name = entry.get("id") or entry.get("name") or entry.get("model")
            if isinstance(name, str) and name:
                names.append(name)
    return names


def context_length_from_models(reply: Any) -> int | None:
    """vLLM's `max_model_len`, llama-server's `meta.n_ctx`, when the server says it."""
    entries = reply.get("data") if isinstance(reply, Mapping) else None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], Mapping):
        return None
    entry = entries[0]
    meta = entry.get("meta") if isinstance(entry.get("meta"), Mapping) else {}
    return _int_or_none(entry.get("max_model_len") or meta.get("n_ctx"))


# Substrings of served model names, in the order they are tried.
_FAMILY_HINTS = (
    ("qwen2.5-coder", ("qwen2.5-coder", "qwen2.5coder", "qwen-2.5-coder", "qwen2_5-coder", "qwen3-coder")),
    ("deepseek-coder", ("deepseek-coder",)),
    ("starcoder", ("starcoder",)),
    ("codegemma", ("codegemma",)),
    ("codellama", ("codellama", "code-llama", "code_llama")),
)


def family_from_model_name(name: str) -> str | None:
    lowered = name.lower()
    for family, hints in _FAMILY_HINTS:
        if any(hint in lowered for hint in hints):
            return family
    return None


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
