"""Remote inference: llama-server's native API or any OpenAI-compatible server.

    backend = HttpBackend(HttpOptions(url="http://gpu-box:8080", api_key=...))
    backend.generate(prompt_tokens, max_tokens=64, stop_ids=..., abort=..., on_text=...)
    backend.chat([{"role": "user", "content": "..."}], max_tokens=256, grammar=..., answer_prefix=...)

Only the forward passes move: prompts, context, cache and post-processing stay in the
engine, which sees the same `Backend` interface as the in-process `LocalBackend`.

- llama-server (any URL whose path does not end in /v1): the engine's prompt goes out as
  token ids to `/completion` with `cache_prompt`, so the server's slot keeps its KV cache
  and a keystroke costs the appended tail, as in-process. Tokens come from `/tokenize`,
  the FIM tokens are found by spelling (as `LocalBackend.token_id` does) and BOS/EOS and
  the context size from `/props`.
- OpenAI-compatible (path ends in /v1: vLLM, Ollama, TGI, LM Studio, llama-server's /v1):
  the prompt goes out as text to `/completions`, laid out for the model family named by
  `family` (or guessed from the served model's name); a client-side `TextVocabulary`
  stands in for the tokenizer the API does not expose, so budgets are approximate.

Streams are read event by event: `on_text` (the engine's `StreamingStop`) can end a
suggestion early, and early stop, abort and cancel all close the connection, which makes
the server stop generating. Failures raise `BackendError` with one sentence for the user.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lsp_server.backend.base import (
    BackendError,
    Generation,
    GenerationStats,
    ModelLoadError,
    PromptTooLongError,
    StopReason,
)
from lsp_server.backend.dialects import (
    Dialect,
    StreamPiece,
    context_length_from_models,
    dialect_for,
    family_from_model_name,
    model_ids,
    native_completion_body,
    native_infill_body,
    native_piece,
    openai_chat_body,
    openai_completion_body,
    openai_piece,
    takes_grammar,
)
from lsp_server.backend.text_vocab import TextVocabulary
from lsp_server.backend.transport import Endpoint, HttpClient
from lsp_server.engine.families import detect_family, family_token_texts

logger = logging.getLogger(__name__)

TOKENIZE_MEMO_SIZE = 8192
# What llama-server's /props says for a model without a chat template (CHATML_TEMPLATE_SRC in
# llama.cpp's common/chat.cpp); it does not say whether the template was the model's own.
LLAMA_SERVER_FALLBACK_TEMPLATE = (
    "{%- for message in messages -%}\n"
    "  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "  {{- '<|im_start|>assistant\n' -}}\n"
    "{%- endif -%}"
)


@dataclass(frozen=True)
class HttpOptions:
    url: str
    api_key: str | None = None
    family: str = "auto"  # FIM family for OpenAI-compatible servers ("auto": from the model's name)
    model: str | None = None  # the served model to ask for (default: the server's first)
    context_size: int = 4096  # upper bound; the server's own window when it reports a smaller one
    ca_bundle: str | None = None
    allow_insecure: bool = False  # send the API key over plain HTTP to a non-loopback host
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # longest wait for the next bytes of a reply
    retries: int = 2  # for idempotent calls (GET, tokenize)

    def __repr__(self) -> str:  # the key never reaches a log through a repr
        try:
            shown = Endpoint.parse(dialect_for(self.url)[1]).display
        except ModelLoadError:
            shown = "(invalid)"
        return f"HttpOptions(url={shown!r}, family={self.family!r}, key={'set' if self.api_key else 'none'})"


class HttpBackend:
    """A model behind HTTP; used from one thread at a time, like `LocalBackend`."""

    supports_token_healing = False

    def __init__(self, options: HttpOptions) -> None:
        self.options = options
        self.dialect, plain_url = dialect_for(options.url)
        self.endpoint = Endpoint.parse(plain_url)
        self.client = HttpClient(
            self.endpoint,
            api_key=options.api_key,
            ca_bundle=options.ca_bundle,
            allow_insecure=options.allow_insecure,
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            retries=options.retries,
        )
        self._metadata: dict[str, str] = {}
        self._piece_cache: dict[int, bytes] = {}
        self._tokenize_memo: OrderedDict[str, list[int]] = OrderedDict()
        self._token_ids: dict[str, int | None] = {}
        # llama-server serving a model whose FIM tokens seekcode does not know by spelling (it
        # has them from the GGUF metadata, which HTTP does not expose): /infill lays out the prompt
        self.serves_infill = False
        self.model_name: str | None = options.model
        self.family_name: str | None = None
        self.vocab: TextVocabulary | None = None
        self.context_size = options.context_size
        self._chat_template: str | None = None  # llama-server's /props: the GGUF's template
        self._special_texts: dict[str, str] = {}
        self.takes_grammar = self.dialect is Dialect.LLAMA_SERVER
        try:
            if self.dialect is Dialect.LLAMA_SERVER:
                self._probe_llama_server()
            else:
                self._probe_openai()
        except BackendError as error:
            self.client.close()
            raise ModelLoadError(str(error), error.reason) from error

    @property
    def description(self) -> str:
        what = f"{self.dialect.value} at {self.endpoint.display}"
        if self.model_name:
            what += f", model {self.model_name}"
        return what

    # -- discovery ------------------------------------------------------------

    def _probe_llama_server(self) -> None:
        props = self.client.get_json("/props")
        settings = props.get("default_generation_settings") if isinstance(props, Mapping) else None
        n_ctx = settings.get("n_ctx") if isinstance(settings, Mapping) else None
        if isinstance(n_ctx, int) and n_ctx > 0:
            self.context_size = min(self.context_size, n_ctx)
        if isinstance(props, Mapping):
            self.model_name = self.model_name or str(props.get("model_alias") or props.get("model_path") or "") or None
            self._metadata.update(self._special_token_metadata(props))
            template = props.get("chat_template")
            self._chat_template = template if isinstance(template, str) and template.strip() else None
            if self._chat_template == LLAMA_SERVER_FALLBACK_TEMPLATE:
                # llama-server reports this ChatML fallback for a GGUF without a template: a base
                # model, which the features prompt by FIM (as in-process).
                self._chat_template = None
            self._special_texts = {
                name: str(props.get(f"{name}_token") or "") for name in ("bos", "eos")
            }
        if not detect_family(self.token_id, self._metadata).has_fim:
            self.serves_infill = self._infill_works()

    def _infill_works(self) -> bool:
        try:
            self.client.post_json("/infill", {"input_prefix": "x = ", "input_suffix": "\n", "n_predict": 1})
        except BackendError as error:  # llama-server answers 4xx/501 for a model without FIM tokens
            logger.info("no /infill on %s: %s", self.endpoint.display, error.reason)
            return False
        return True

    def _special_token_metadata(self, props: Mapping[str, Any]) -> dict[str, str]:
        """BOS/EOS ids and whether the model wants BOS, as the GGUF keys `detect_family` reads."""
        metadata: dict[str, str] = {}
        for key, name in (("bos_token", "bos"), ("eos_token", "eos")):
            text = props.get(key)
            if isinstance(text, str) and text:
                token = self.token_id(text)
                if token is not None:
                    metadata[f"tokenizer.ggml.{name}_token_id"] = str(token)
        bos = metadata.get("tokenizer.ggml.bos_token_id")
        if bos is not None:
            with_special = self.client.post_json("/tokenize", {"content": "a", "add_special": True}, retry=True)
            tokens = with_special.get("tokens", []) if isinstance(with_special, Mapping) else []
            metadata["tokenizer.ggml.add_bos_token"] = str(bool(tokens) and str(tokens[0]) == bos).lower()
        return metadata

    def _probe_openai(self) -> None:
        reply = self.client.get_json("/models")
        names = model_ids(reply)
        if self.model_name is None:
            if not names:
                raise BackendError(
                    f"The server at {self.endpoint.display} lists no models; set 'seekcode.backend.model'.",
                    f"/models: {str(reply)[:200]}",
                )
            self.model_name = names[0]
        served = context_length_from_models(reply)
        if served:
            self.context_size = min(self.context_size, served)
        family = self.options.family
        if family == "auto":
            family = family_from_model_name(self.model_name) or "plain"
        self.family_name = family
        self.takes_grammar = takes_grammar(reply)
        self.vocab = TextVocabulary(() if family == "plain" else family_token_texts(family))
        logger.info("OpenAI-compatible server %s: model %s, family %s", self.endpoint.display, self.model_name, family)

    # -- vocabulary -------------------------------------------------------------

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        """Tokens of plain text (special spellings stay text unless `special`: a rendered chat
        template), remembered per text."""
        if not text:
            return []
        if self.vocab is not None:
            return self.vocab.tokenize(text)
        key = ("\x00special\x00" if special else "") + text
        cached = self._tokenize_memo.get(key)
        if cached is not None:
            self._tokenize_memo.move_to_end(key)
            return list(cached)
        reply = self.client.post_json(
            "/tokenize", {"content": text, "add_special": False, "parse_special": special}, retry=True
        )
        tokens = self._token_list(reply, "/tokenize")
        self._tokenize_memo[key] = tokens
        if len(self._tokenize_memo) > TOKENIZE_MEMO_SIZE:
            self._tokenize_memo.popitem(last=False)
        return list(tokens)

    def token_id(self, text: str) -> int | None:
        """The id of a token spelled exactly `text` (special tokens too), or None."""
        if self.vocab is not None:
            return self.vocab.token_id(text)
        if text not in self._token_ids:
            self._token_ids[text] = self._look_up_token(text)
        return self._token_ids[text]

    def _look_up_token(self, text: str) -> int | None:
        reply = self.client.post_json(
            "/tokenize", {"content": text, "add_special": False, "parse_special": True, "with_pieces": True}, retry=True
        )
        entries = reply.get("tokens") if isinstance(reply, Mapping) else None
        if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], Mapping):
            return None
        piece = entries[0].get("piece")
        # A special token renders as its spelling; a plain text that happens to be one token
        # of the same spelling is found too, which is what the local lookup does as well.
        if piece != text:
            return None
        return int(entries[0]["id"])

    def token_piece(self, token_id: int) -> bytes:
        if self.vocab is not None:
            return self.vocab.token_piece(token_id)
        piece = self._piece_cache.get(token_id)
        if piece is None:
            reply = self.client.post_json("/detokenize", {"tokens": [token_id]}, retry=True)
            content = reply.get("content", "") if isinstance(reply, Mapping) else ""
            piece = str(content).encode("utf-8")
            self._piece_cache[token_id] = piece
        return piece

    @property
    def chat_template(self) -> str | None:
        """The model's chat template as llama-server reports it (None on OpenAI-compatible servers,
        which apply their own)."""
        return self._chat_template

    def special_text(self, which: str) -> str:
        return self._special_texts.get(which, "")

    @property
    def can_chat(self) -> bool:
        """llama-server: when the GGUF has a chat template (a base model is prompted by FIM);
        an OpenAI-compatible server: always (its chat API is what the dialect is)."""
        return self.dialect is Dialect.OPENAI or self._chat_template is not None

    def piece_index(self) -> object:
        raise NotImplementedError("token healing needs the local backend; the HTTP backend does not heal.")

    def _token_list(self, reply: Any, path: str) -> list[int]:
        tokens = reply.get("tokens") if isinstance(reply, Mapping) else None
        if not isinstance(tokens, list) or not all(isinstance(token, int) for token in tokens):
            raise BackendError(
                f"The inference server at {self.endpoint.display} sent a reply seekcode cannot read; "
                "check that 'seekcode.backend.url' points at llama-server or an OpenAI-compatible API.",
                f"{path}: no list of token ids in {str(reply)[:200]}",
            )
        return tokens

    # -- generation ---------------------------------------------------------------

    def generate(
        self,
        prompt_tokens: Sequence[int],
        *,
        max_tokens: int,
        stop_ids: Collection[int] = (),
        temperature: float = 0.0,
        top_k: int = 40,
        top_p: float = 0.95,
        abort: threading.Event | None = None,
        on_text: Callable[[str], bool] | None = None,
        heal_text: str = "",
        heal_then_nonblank: bool = False,
        grammar: str | None = None,
    ) -> Generation:
        """Continue `prompt_tokens` on the server, streaming text to `on_text` (see LocalBackend).
        `grammar` (GBNF) is sent to servers that take one and ignored by others."""
        if heal_text or heal_then_nonblank:
            raise ValueError("the HTTP backend cannot heal tokens; build the engine with token_healing=False.")
        abort = abort or threading.Event()
        prompt = [int(token) for token in prompt_tokens]
        if not prompt:
            raise ValueError("the prompt is empty; a completion prompt needs at least one token.")
        room = self.context_size - len(prompt)
        if room < 1:
            raise PromptTooLongError(
                f"the prompt has {len(prompt)} tokens but the server's context holds {self.context_size}; "
                "lower the prompt budgets."
            )
        max_tokens = min(max_tokens, room)
        stop_set = {int(token) for token in stop_ids}
        if self.vocab is None:
            path = "/completion"
            body = native_completion_body(prompt, max_tokens, temperature, top_k, top_p, grammar)
            parse: Callable[[Mapping[str, Any]], StreamPiece] = native_piece
        else:
            path = "/completions"
            stop_texts = [self.vocab.detokenize([token]) for token in sorted(stop_set)]
            body = openai_completion_body(
                self.model_name or "", self.vocab.detokenize(prompt), max_tokens, temperature, top_p, stop_texts,
                grammar if self.takes_grammar else None,
            )
            parse = openai_piece
        stats = GenerationStats(prompt_tokens=len(prompt), evaluated_tokens=len(prompt))
        return self._run_stream(path, body, parse, stats, max_tokens, stop_set, abort, on_text)

    def infill(
        self,
        prefix: str,
        suffix: str,
        extra: Sequence[tuple[str, str]] = (),
        *,
        max_tokens: int,
        temperature: float = 0.0,
        top_k: int = 40,
        top_p: float = 0.95,
        abort: threading.Event | None = None,
        on_text: Callable[[str], bool] | None = None,
    ) -> Generation:
        """llama-server's /infill: the server writes the FIM prompt; `extra` is (file name, text)
        of other files' snippets (`input_extra`). For models whose FIM tokens only the server knows."""
        abort = abort or threading.Event()
        body = native_infill_body(prefix, suffix, extra, max_tokens, temperature, top_k, top_p)
        return self._run_stream("/infill", body, native_piece, GenerationStats(), max_tokens, set(), abort, on_text)

    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int,
        grammar: str | None = None,
        json_schema: Mapping[str, object] | None = None,
        answer_prefix: str = "",
        temperature: float = 0.0,
        abort: threading.Event | None = None,
        on_text: Callable[[str], bool] | None = None,
    ) -> Generation:
        """The assistant's answer (see `Backend.chat`).

        llama-server: the GGUF's template from /props is rendered here, as in-process, and
        the tokens go to /completion with the grammar: the same prompt, the same answer and
        the slot's KV cache. OpenAI-compatible: /chat/completions; the server applies the
        template, and a pre-filled answer is forced through the grammar where the server
        takes one (llama.cpp servers), else sent as the assistant's unfinished turn."""
        abort = abort or threading.Event()
        if self.dialect is Dialect.LLAMA_SERVER:
            from lsp_server.engine.chat import chat_prompt

            tokens = chat_prompt(self, messages, answer_prefix)
            return self.generate(tokens, max_tokens=max_tokens, temperature=temperature, abort=abort,
                                 on_text=on_text, grammar=grammar)
        return self._openai_chat(messages, max_tokens, grammar, json_schema, answer_prefix, temperature, abort, on_text)

    def _openai_chat(self, messages, max_tokens, grammar, json_schema, answer_prefix, temperature, abort, on_text):
        from lsp_server.engine.chat import prefixed_grammar

        forced = None
        if self.takes_grammar and (grammar is not None or answer_prefix):
            forced = prefixed_grammar(grammar, answer_prefix) if answer_prefix else grammar
        body = openai_chat_body(
            self.model_name or "", messages, max_tokens + len(answer_prefix) if forced else max_tokens,
            temperature, grammar=forced, json_schema=None if forced else json_schema, answer_prefix=answer_prefix,
        )
        # With a forced prefix the server writes it first (room: at most a token per character);
        # its text is held back from `on_text`.
        prefix_left = len(answer_prefix) if forced else 0

        def feed(piece: str) -> bool:
            nonlocal prefix_left
            if prefix_left:
                skipped = min(prefix_left, len(piece))
                prefix_left -= skipped
                piece = piece[skipped:]
            return bool(piece) and on_text is not None and on_text(piece)

        generation = self._run_stream(
            "/chat/completions", body, lambda event: openai_piece(event, chat=True), GenerationStats(),
            body["max_tokens"], set(), abort, feed,
        )
        if forced and answer_prefix:
            text = generation.text
            generation.text = text[len(answer_prefix):] if text.startswith(answer_prefix) else text
        return generation

    def _run_stream(
        self,
        path: str,
        body: Mapping[str, Any],
        parse: Callable[[Mapping[str, Any]], StreamPiece],
        stats: GenerationStats,
        max_tokens: int,
        stop_ids: set[int],
        abort: threading.Event,
        on_text: Callable[[str], bool] | None,
    ) -> Generation:
        started = time.perf_counter()
        first_piece_at: float | None = None
        pieces: list[str] = []
        token_ids: list[int] = []
        events = 0
        reason = StopReason.ABORTED
        stream = self.client.stream(path, body, abort)
        try:
            for event in stream:
                try:
                    piece = parse(event)
                except (ValueError, TypeError, AttributeError, KeyError) as error:
                    raise BackendError(
                        f"The inference server at {self.endpoint.display} sent a reply seekcode cannot read; "
                        "check that 'seekcode.backend.url' points at llama-server or an OpenAI-compatible API.",
                        f"{path}: {error}: {str(event)[:200]}",
                    ) from None
                _merge_timings(stats, piece)
                if first_piece_at is None and (piece.text or piece.token_ids):
                    first_piece_at = time.perf_counter()
                if piece.token_ids and stop_ids.intersection(piece.token_ids):
                    # llama-server sends one event per token (a token that ends half a UTF-8
                    # character waits for the next), so a stop token's event holds nothing to keep.
                    reason = StopReason.END_OF_GENERATION
                    break
                if piece.text or piece.token_ids:
                    events += 1
                    token_ids.extend(piece.token_ids or ())
                    pieces.append(piece.text)
                if piece.text and on_text is not None and on_text(piece.text):
                    reason = StopReason.EARLY_STOP
                    break
                if piece.stop is not None:
                    reason = piece.stop
                    break
                if max(stats.generated_tokens, len(token_ids), events) >= max_tokens:
                    reason = StopReason.MAX_TOKENS
                    break
            else:  # the stream ended without an event saying the generation is over
                if not abort.is_set():
                    raise BackendError(
                        f"The inference server at {self.endpoint.display} closed the connection in the middle "
                        "of a reply; check that it is still running.",
                        f"{path}: the stream ended after {events} events without a stop",
                    )
        finally:
            stream.close()  # closes the connection: the server stops generating
        if abort.is_set():
            reason = StopReason.ABORTED
        finished = time.perf_counter()
        if stats.prompt_ms == 0.0 and first_piece_at is not None:
            stats.prompt_ms = (first_piece_at - started) * 1000
            stats.generate_ms = (finished - first_piece_at) * 1000
        elif stats.prompt_ms == 0.0:
            stats.prompt_ms = (finished - started) * 1000
        stats.generated_tokens = max(stats.generated_tokens, len(token_ids) or events)
        return Generation("".join(pieces), token_ids, reason, stats)

    def close(self) -> None:
        self.client.close()


def _merge_timings(stats: GenerationStats, piece: StreamPiece) -> None:
    """llama-server's per-event timings: prompt tokens run vs kept from its cache."""
    if piece.evaluated_tokens is not None:
        stats.evaluated_tokens = piece.evaluated_tokens
    if piece.reused_tokens is not None:
        stats.reused_tokens = piece.reused_tokens
    if piece.prompt_ms is not None:
        stats.prompt_ms = piece.prompt_ms
    if piece.generate_ms is not None:
        stats.generate_ms = piece.generate_ms
    if piece.generated_tokens is not None:
        stats.generated_tokens = piece.generated_tokens
