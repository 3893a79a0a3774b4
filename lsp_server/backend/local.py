"""In-process inference with llama-cpp-python, keeping the KV cache across requests.

`LocalBackend` owns one `llama_cpp.Llama` and must be used from one thread (the
scheduler's worker). Each `generate()` call compares the new prompt with the tokens
already in the KV cache (sequence 0), keeps the longest common prefix, removes the rest
with `llama_memory_seq_rm` and evaluates only the new tail;
`GenerationStats.evaluated_tokens` says how many that were.

Warm places (`BackendOptions.warm_places`): the KV cache holds spare sequences, each in its
own stream. A place the cursor leaves is copied to one, and a prompt that reuses more from a
parked place than from the active one brings that place back, so jumping back to where the
user just was evaluates only what changed there.

Shifted reuse (`BackendOptions.shift_reuse`, off by default; places.shift_plan): past the
common prefix, runs of cached tokens that the new prompt repeats further on are shifted into
place instead of evaluated again, as llama-server's `--cache-reuse` does. It is approximate:
a run's keys and values were computed after the text that preceded it then. A model whose
cache cannot shift positions never uses it.

Prompt evaluation runs in whole batches (`batch_size`), generation one token at a time. An
abort takes effect in the middle of a batch: llama.cpp's abort callback asks between the
graph's operations (a few milliseconds apart), and the aborted batch's cells are dropped.
Whatever was evaluated before it stays in the cache and is reused next time.
"""

from __future__ import annotations

import bisect
import codecs
import ctypes
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsp_server.backend.gguf_header import GgufHeaderError, read_metadata, read_metadata_text
from lsp_server.backend.llama_params import llama_defaults
from lsp_server.backend.places import ACTIVE_SEQUENCE, Move, WarmPlaces, reused_by, shift_plan
from lsp_server.backend.base import (
    Generation,
    common_prefix_length,
    GenerationStats,
    ModelLoadError,
    PromptTooLongError,
    StopReason,
)

logger = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
SCORING_BATCH = 64  # tokens per forward pass when every position's logits are read

# llama.cpp's CPU backend synchronises its threads with OpenMP barriers. OpenMP's default
# is to spin while waiting; when other processes compete for the cores (an editor, a
# build, tests), a spinning thread waits for one that is descheduled and a 20 ms
# completion takes seconds (measured: 2 threads on 2 busy cores, 43 ms passive vs 4.1 s
# spinning). Sleeping waiters cost a little at idle and save everything under load.
# The variable is read when libgomp loads, i.e. at the first `import llama_cpp`.
OPENMP_WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")

# Warm places multiply the KV cache; they are kept only while the extra memory stays under this.
WARM_PLACES_KV_BUDGET = 256 * 2**20
# A prompt that keeps all but this many of the cached tokens is the same place, typed further.
PARK_AFTER_DROPPING = 96
# llama_decode's return code when the abort callback stopped it (the batch's cells are dropped).
DECODE_ABORTED = 2
# Prefill is idle work that a keystroke aborts in the middle of a batch, losing that batch: small
# batches keep most of what a short pause evaluated, at some cost in throughput (64-token
# batches take 1.24 x the time of 256-token ones, bench/prompt_chunks.py).
PREFILL_BATCH = 64


def import_llama_cpp():
    """`import llama_cpp`, with OpenMP waiting passively unless the user chose otherwise."""
    os.environ.setdefault(*OPENMP_WAIT_POLICY)
    import llama_cpp

    return llama_cpp


@dataclass(frozen=True)
class BackendOptions:
    context_size: int = 4096
    threads: int | None = None
    batch_size: int = 256
    reuse_prefix: bool = True  # False gives the naive engine: full prompt evaluation per call
    seed: int = 0
    extra_buffer_types: bool = True  # False on machines where llama.cpp's repacking kernels crash (probe.py)
    # Cursor places kept evaluated in spare KV sequences (places.py), within WARM_PLACES_KV_BUDGET.
    warm_places: int = 0
    # Shift cached runs of tokens that a new prompt repeats further on into place (places.shift_plan).
    # Off by default: a shifted run's keys and values were computed after other text, so the
    # answer differs from a fresh evaluation's, and it saved little in bench/latency/places.py.
    shift_reuse: bool = False


def check_gguf_file(path: Path) -> None:
    """Raise ModelLoadError with an actionable sentence if `path` is not a readable GGUF."""
    try:
        exists = path.exists()
    except OSError as error:  # a folder on the way we may not search
        raise ModelLoadError(
            f"Model file {path} cannot be reached ({error.strerror}); check the permissions of its folders.",
            str(error),
        ) from None
    if not exists:
        raise ModelLoadError(
            f"Model file {path} does not exist; set 'seekcode.model' or SEEKCODE_MODEL to a GGUF file.",
        )
    if not path.is_file():
        raise ModelLoadError(f"Model path {path} is not a file; point 'seekcode.model' at a .gguf file.")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise ModelLoadError(f"Model file {path} cannot be read ({error.strerror}); check its permissions.", str(error))
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"Model file {path} is not a GGUF file; convert the model with seekcode-convert first.",
            f"first bytes {magic!r}, expected {GGUF_MAGIC!r}",
        )


def architecture_metadata(path: Path, names: Sequence[str]) -> dict[str, object]:
    """`<architecture>.<name>` values from the GGUF header, keyed by `name` ({} if unreadable)."""
    try:
        architecture = read_metadata(path, {"general.architecture"}).get("general.architecture")
        if not isinstance(architecture, str):
            return {}
        values = read_metadata(path, {f"{architecture}.{name}" for name in names})
    except (GgufHeaderError, OSError) as error:
        logger.info("no architecture metadata in %s: %s", path, error)
        return {}
    return {name: values[f"{architecture}.{name}"] for name in names if f"{architecture}.{name}" in values}


def training_context_length(path: Path) -> int | None:
    """`<architecture>.context_length` from the GGUF header, or None if it is not there."""
    value = architecture_metadata(path, ["context_length"]).get("context_length")
    return int(value) if isinstance(value, int) and value > 0 else None


def _recovered_metadata(path: Path) -> dict[str, str]:
    """The header's values as text, when llama-cpp-python dropped them all: it does that
    when one string is not UTF-8, which would silently lose the chat template and tokens."""
    try:
        values = read_metadata_text(path)
    except (GgufHeaderError, OSError) as error:
        logger.warning("the metadata of %s cannot be read (%s); using none", path, error)
        return {}
    if values:
        logger.warning("%s holds metadata text that is not UTF-8; read it with replacement characters", path)
    return values


class LocalBackend:
    """One llama.cpp model and context, with KV-prefix reuse between calls."""

    supports_token_healing = True

    def __init__(self, model_path: str | Path, options: BackendOptions = BackendOptions()) -> None:
        self.model_path = Path(model_path)
        self.options = options
        check_gguf_file(self.model_path)
        trained = training_context_length(self.model_path)
        if trained is not None and trained < options.context_size:
            # Positions past the trained length give garbage; a smaller window costs nothing.
            logger.info("context %d -> %d, the model's trained length", options.context_size, trained)
            options = dataclasses.replace(options, context_size=trained)
            self.options = options
        places = affordable_warm_places(self.model_path, options)
        self._places = WarmPlaces(places) if places else None
        self._llama = _load_llama(self.model_path, options, places)
        if not self._llama.metadata:
            self._llama.metadata = _recovered_metadata(self.model_path)
        self._is_eog = import_llama_cpp().llama_vocab_is_eog
        self._can_shift = bool(options.shift_reuse and options.reuse_prefix and _memory_can_shift(self._llama))
        self._vocab = self._llama._model.vocab
        self._piece_cache: dict[int, bytes] = {}
        self._piece_index: PieceIndex | None = None
        self._healing_cache: dict[tuple[bytes, frozenset[int], bool], np.ndarray] = {}
        self._nonblank_cache: dict[frozenset[int], np.ndarray] = {}  # by stop ids: one or two entries
        self._grammar_cache: dict[str, object] = {}
        self._rng = np.random.default_rng(options.seed)
        self._abort: threading.Event | None = None  # what the running evaluation stops at
        self._abort_callback = _abort_callback(self._llama, lambda: self._abort is not None and self._abort.is_set())
        self.context_size = self._llama.n_ctx() // (places + 1)  # each place has a whole window
        self._scored_tokens: list[int] = []  # what token_logprobs last scored, and the scores
        self._scored_logprobs: list[float] = []
        self._scored_best: list[float] = []
        self._scored_best_ids: list[int] = []

    # -- vocabulary ---------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self._llama.n_vocab()

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._llama.metadata)

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        """Tokens of plain text; special-token spellings in the text stay plain text
        unless `special` (a rendered chat template, whose markers must be tokens).

        Unpaired surrogates (JSON lets an editor send "\\ud800") cannot be UTF-8; they
        become "?" rather than an error.
        """
        if not text:
            return []
        return self._llama.tokenize(text.encode("utf-8", "replace"), add_bos=False, special=special)

    @property
    def chat_template(self) -> str | None:
        """The GGUF's Jinja chat template (`tokenizer.chat_template`), None for base models."""
        template = self._llama.metadata.get("tokenizer.chat_template")
        return template or None

    @property
    def can_chat(self) -> bool:
        return self.chat_template is not None

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
        """The answer to `messages` through the GGUF's chat template (see `Backend.chat`); the
        grammar is llama.cpp's own, so `json_schema` is not needed here."""
        from lsp_server.engine.chat import chat_prompt

        tokens = chat_prompt(self, messages, answer_prefix)
        return self.generate(
            tokens, max_tokens=max_tokens, temperature=temperature, abort=abort, on_text=on_text, grammar=grammar
        )

    def special_text(self, which: str) -> str:
        """The spelling of the "bos" or "eos" token, for chat templates ("" if none)."""
        token = self._llama.token_bos() if which == "bos" else self._llama.token_eos()
        return self.token_text(token) if token is not None and token >= 0 else ""

    def token_text(self, token_id: int) -> str:
        """The vocabulary entry of a token as stored in the GGUF (special tokens included)."""
        return self._llama._model.token_get_text(token_id)

    def token_piece(self, token_id: int) -> bytes:
        """The bytes a token contributes to generated text (special tokens render too)."""
        piece = self._piece_cache.get(token_id)
        if piece is None:
            piece = _token_to_piece(self._vocab, token_id)
            self._piece_cache[token_id] = piece
        return piece

    def is_end_of_generation(self, token_id: int) -> bool:
        return bool(self._is_eog(self._vocab, token_id))

    def token_id(self, text: str) -> int | None:
        """The id of a token whose vocabulary entry is exactly `text` (special tokens too)."""
        ids = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(ids) == 1 and self.token_text(ids[0]) == text:
            return ids[0]
        return None

    # -- KV cache -----------------------------------------------------------

    @property
    def cached_tokens(self) -> list[int]:
        """Tokens whose keys and values are in the cache right now, in order."""
        return [int(token) for token in self._llama._input_ids]

    def reset(self) -> None:
        """Forget the cache and the warm places; the next call evaluates its whole prompt."""
        self._llama.reset()
        self._llama._ctx.kv_cache_clear()
        if self._places is not None:
            self._places.forget()

    def _reuse_prefix(self, prompt: Sequence[int]) -> int:
        """Trim the cache to the longest prefix it shares with `prompt`; return its length.

        With warm places, a parked place that shares more with `prompt` is brought back first,
        and a place about to lose much of its cache is parked before it does.
        """
        llama = self._llama
        if not self.options.reuse_prefix:
            self._truncate(0)
            return 0
        self._switch_place(prompt)
        active = llama._input_ids.tolist()
        # The last prompt token must be evaluated again to get fresh logits to sample from.
        common = min(common_prefix_length(active, prompt), len(prompt) - 1)
        if len(active) - common >= PARK_AFTER_DROPPING:
            self._park(active)
        moves = shift_plan(active, prompt, common) if self._can_shift else []
        if moves and self._shift(moves):
            return reused_by(moves, common)
        if not self._truncate(common):
            logger.info("this model's memory cannot drop a suffix; evaluating the whole prompt")
            self._truncate(0)
            common = 0
        return common

    def _shift(self, moves: Sequence[Move]) -> bool:
        """Apply a shift plan to the active sequence: drop what lies between the runs, move each
        run left into place, drop the rest. False (cache emptied) if the memory refused."""
        llama = self._llama
        context = llama._ctx
        cached = llama.input_ids.copy()
        for move in moves:
            if not context.kv_cache_seq_rm(ACTIVE_SEQUENCE, move.prompt_start, move.cache_start):
                self._truncate(0)
                return False
            context.kv_cache_seq_shift(
                ACTIVE_SEQUENCE, move.cache_start, move.cache_start + move.length, move.prompt_start - move.cache_start
            )
            llama.input_ids[move.prompt_start : move.prompt_start + move.length] = cached[
                move.cache_start : move.cache_start + move.length
            ]
        last = moves[-1]
        end = last.prompt_start + last.length
        context.kv_cache_seq_rm(ACTIVE_SEQUENCE, end, -1)
        llama.n_tokens = end
        logger.info("shifted %d cached tokens into place in %d runs", sum(move.length for move in moves), len(moves))
        return True

    def pending_tokens(self, prompt_tokens: Sequence[int]) -> int:
        """How many of `prompt_tokens` `generate` would evaluate now: the active sequence or a
        warm place holds the rest (the last token is always evaluated again, for its logits)."""
        prompt = [int(token) for token in prompt_tokens]
        if not prompt:
            return 0
        if not self.options.reuse_prefix:
            return len(prompt)
        active = self._llama._input_ids.tolist()
        kept = self._reusable(active, prompt)
        if self._places is not None:
            best = self._places.best_for(prompt, active, lambda tokens: self._reusable(tokens, prompt))
            if best is not None:
                kept = max(kept, self._reusable(best.tokens, prompt))
        return len(prompt) - min(kept, len(prompt) - 1)

    def _reusable(self, cached: Sequence[int], prompt: Sequence[int]) -> int:
        """Prompt tokens a cache holding `cached` spares: the common prefix, plus shifted runs."""
        common = min(common_prefix_length(list(cached), prompt), len(prompt) - 1)
        if not self._can_shift:
            return common
        return reused_by(shift_plan(cached, prompt, common), common)

    def prefill(self, prompt_tokens: Sequence[int], abort: threading.Event) -> int:
        """Evaluate `prompt_tokens` into the cache ahead of a request, in PREFILL_BATCH-token
        batches that `abort` stops at once; return how many were evaluated and kept (not the
        batch it stopped). A later `generate` whose prompt starts with them evaluates only the rest."""
        prompt = [int(token) for token in prompt_tokens][: self.context_size - 1]
        if len(prompt) < 2 or not self.options.reuse_prefix or abort.is_set():
            return 0  # aborted before it began: the cache stays as the last request left it
        start = self._reuse_prefix(prompt)
        evaluated = 0
        step = min(PREFILL_BATCH, self.options.batch_size)
        for chunk_start in range(start, len(prompt), step):
            chunk = prompt[chunk_start : chunk_start + step]
            if abort.is_set() or not self._decode(chunk, abort):
                break
            evaluated += len(chunk)
        return evaluated

    def _truncate(self, length: int) -> bool:
        """Keep the active sequence's first `length` tokens; False if the memory cannot drop a suffix."""
        llama = self._llama
        if length < llama.n_tokens and not llama._ctx.kv_cache_seq_rm(ACTIVE_SEQUENCE, length, -1):
            if length:
                return False
            llama._ctx.kv_cache_seq_rm(ACTIVE_SEQUENCE, -1, -1)
        llama.n_tokens = length
        return True

    def _park(self, active: list[int], keep: int | None = None) -> None:
        """Tag the active sequence's cells with a spare sequence too (shared cells, nothing copied)."""
        slot = self._places.slot_for(active, keep=keep) if self._places is not None and active else None
        if slot is not None:
            self._llama._ctx.kv_cache_seq_rm(slot, -1, -1)
            self._llama._ctx.kv_cache_seq_cp(ACTIVE_SEQUENCE, slot, -1, -1)
            self._places.park(slot, active)

    def _switch_place(self, prompt: Sequence[int]) -> None:
        """Bring back a warm place that shares more with `prompt` than the active one (parking that)."""
        if self._places is None:
            return
        llama = self._llama
        active = llama._input_ids.tolist()
        best = self._places.best_for(prompt, active, lambda tokens: self._reusable(tokens, prompt))
        if best is None:
            return
        self._park(active, keep=best.sequence)
        llama._ctx.kv_cache_seq_rm(ACTIVE_SEQUENCE, -1, -1)
        llama._ctx.kv_cache_seq_cp(best.sequence, ACTIVE_SEQUENCE, -1, -1)
        llama.input_ids[: len(best.tokens)] = best.tokens
        llama.n_tokens = len(best.tokens)
        self._places.touch(best.sequence)
        logger.info("back to a warm place: %d tokens already evaluated", len(best.tokens))

    def _decode(self, tokens: Sequence[int], abort: threading.Event | None = None) -> bool:
        """Evaluate `tokens` after the active sequence's cache; False (nothing kept) if `abort`
        was set while they were being evaluated.

        Not `Llama.eval`: it drops every sequence's cells past its position, warm places included.
        """
        llama = self._llama
        start = llama.n_tokens
        llama._ctx.kv_cache_seq_rm(ACTIVE_SEQUENCE, start, -1)
        llama._batch.set_batch(batch=tokens, n_past=start, logits_all=False)
        self._abort = abort
        try:
            llama._ctx.decode(llama._batch)
        except RuntimeError as error:
            if abort is not None and abort.is_set() and f"returned {DECODE_ABORTED}" in str(error):
                return False  # llama.cpp dropped the batch's cells; the cache ends where it did
            raise
        finally:
            self._abort = None
        llama.input_ids[start : start + len(tokens)] = tokens
        llama.n_tokens = start + len(tokens)
        return True

    def _evaluate(self, tokens: Sequence[int], abort: threading.Event) -> bool:
        """Evaluate `tokens` after the cache in whole batches; False if `abort` stopped it, in the
        middle of a batch if need be (the batches before it stay in the cache)."""
        for start in range(0, len(tokens), self.options.batch_size):
            if abort.is_set() or not self._decode(tokens[start : start + self.options.batch_size], abort):
                return False
        return True

    # -- generation ---------------------------------------------------------

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
        """Continue `prompt_tokens`, streaming decoded text to `on_text`.

        `on_text(piece)` returns True when the text so far is a complete suggestion;
        generation then stops at once. Generation also stops at an end-of-generation
        token, a token in `stop_ids` (neither is part of the result), `max_tokens`, or
        when `abort` is set.

        `heal_text` (token healing): the caller left the prompt's last token(s) out and
        passes their text here; the first generated tokens are constrained to spell it,
        so the model may choose a token that merges it with what follows (" " + "ie" as
        " ie") instead of continuing after an unnatural token boundary. The healed text
        is not part of the result. With `heal_then_nonblank`, what follows the healed text
        must not start with a space or tab: healing a line's indentation keeps the model at
        that column instead of indenting further.

        `grammar` (GBNF text, llama.cpp's grammar format) constrains every sampled token;
        an end-of-generation token is only possible where the grammar is complete. Token
        healing is not combined with a grammar. A grammar that does not parse raises
        ValueError before anything is evaluated.
        """
        abort = abort or threading.Event()
        compiled = self._grammar(grammar) if grammar is not None else None
        prompt = [int(token) for token in prompt_tokens]
        if not prompt:
            raise ValueError("the prompt is empty; a completion prompt needs at least one token.")
        room = self.context_size - len(prompt)
        if room < 1:
            raise PromptTooLongError(
                f"the prompt has {len(prompt)} tokens but the context holds {self.context_size}; lower the prompt budgets."
            )
        max_tokens = min(max_tokens, room)
        stats = GenerationStats(prompt_tokens=len(prompt))

        started = time.perf_counter()
        stats.reused_tokens = self._reuse_prefix(prompt)
        tail = prompt[stats.reused_tokens :]
        completed = self._evaluate(tail, abort)
        stats.evaluated_tokens = self._llama.n_tokens - stats.reused_tokens
        stats.prompt_ms = (time.perf_counter() - started) * 1000
        if not completed:
            return Generation("", [], StopReason.ABORTED, stats)

        started = time.perf_counter()
        generation = self._sample_loop(
            max_tokens, set(stop_ids), temperature, top_k, top_p, abort, on_text,
            b"" if compiled is not None else heal_text.encode("utf-8"), compiled,
            heal_then_nonblank and compiled is None,
        )
        stats.generate_ms = (time.perf_counter() - started) * 1000
        stats.generated_tokens = len(generation.token_ids)
        generation.stats = stats
        return generation

    def _sample_loop(
        self,
        max_tokens: int,
        stop_ids: set[int],
        temperature: float,
        top_k: int,
        top_p: float,
        abort: threading.Event,
        on_text: Callable[[str], bool] | None,
        heal: bytes = b"",
        grammar=None,
        then_nonblank: bool = False,
    ) -> Generation:
        llama = self._llama
        sampler = llama._init_sampler(temp=temperature, top_k=top_k, top_p=top_p, min_p=0.0, grammar=grammar)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces: list[str] = []
        token_ids: list[int] = []
        try:
            while True:
                if abort.is_set():
                    return Generation("".join(pieces), token_ids, StopReason.ABORTED)
                if heal:
                    token = self._healing_token(heal, stop_ids, temperature, then_nonblank)
                    piece_bytes = self.token_piece(token)
                    if piece_bytes.startswith(heal):
                        new_bytes, heal = piece_bytes[len(heal) :], b""
                        then_nonblank = then_nonblank and not new_bytes
                    else:  # the piece spells only the start of what is left
                        new_bytes, heal = b"", heal[len(piece_bytes) :]
                elif then_nonblank:  # the healed text was spelled exactly: no blank may follow it
                    token = self._best_of(self._nonblank_starts(frozenset(stop_ids)), temperature)
                    new_bytes, then_nonblank = self.token_piece(token), False
                else:
                    token = sampler.sample(llama._ctx, -1)
                    if token in stop_ids or self.is_end_of_generation(token):
                        return Generation("".join(pieces), token_ids, StopReason.END_OF_GENERATION)
                    new_bytes = self.token_piece(token)
                token_ids.append(token)
                piece = decoder.decode(new_bytes)
                pieces.append(piece)
                if piece and on_text is not None and on_text(piece):
                    return Generation("".join(pieces), token_ids, StopReason.EARLY_STOP)
                if len(token_ids) >= max_tokens:
                    return Generation("".join(pieces), token_ids, StopReason.MAX_TOKENS)
                self._decode([token])
        finally:
            sampler.close()

    def _grammar(self, text: str):
        """A checked `LlamaGrammar` for GBNF `text` (llama.cpp would crash on a bad one)."""
        compiled = self._grammar_cache.get(text)
        if compiled is not None:
            return compiled
        llama_cpp = import_llama_cpp()
        probe = llama_cpp.llama_sampler_init_grammar(self._vocab, text.encode("utf-8"), b"root")
        if not probe:
            raise ValueError("the grammar does not parse (see llama.cpp's GBNF format); nothing was generated.")
        llama_cpp.llama_sampler_free(probe)
        compiled = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
        if len(self._grammar_cache) >= 32:
            self._grammar_cache.pop(next(iter(self._grammar_cache)))
        self._grammar_cache[text] = compiled
        return compiled

    # -- token healing --------------------------------------------------------

    def _healing_token(self, heal: bytes, stop_ids: set[int], temperature: float, then_nonblank: bool = False) -> int:
        """The most likely (or a sampled) token that agrees with the text still to spell."""
        candidates = self._healing_candidates(heal, frozenset(stop_ids), then_nonblank)
        if len(candidates) == 0:
            raise ValueError(f"no token spells {heal!r}; cannot heal the prompt's end.")
        return self._best_of(candidates, temperature)

    def _best_of(self, candidates: np.ndarray, temperature: float) -> int:
        """The most likely (or a sampled) token among `candidates`, from the last evaluated logits."""
        llama_cpp = import_llama_cpp()
        logits = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(self._llama._ctx.ctx, -1), shape=(self.vocab_size,)
        )[candidates]
        if temperature <= 0:
            return int(candidates[int(np.argmax(logits))])
        weights = np.exp((logits - logits.max()) / temperature)
        return int(self._rng.choice(candidates, p=weights / weights.sum()))

    def _healing_candidates(self, heal: bytes, stop_ids: frozenset[int], then_nonblank: bool = False) -> np.ndarray:
        """Tokens that spell `heal`'s start (a prefix of it) or all of it and more (with
        `then_nonblank`, more that does not start with a space or tab)."""
        key = (heal, stop_ids, then_nonblank)
        cached = self._healing_cache.get(key)
        if cached is not None:
            return cached
        index = self.piece_index()
        longer = [token_id for token_id in index.ids_starting_with(heal)
                  if not (then_nonblank and self.token_piece(token_id)[len(heal) : len(heal) + 1] in (b" ", b"\t"))]
        shorter = [token_id for end in range(1, len(heal)) for token_id in index.ids_of(heal[:end])]
        candidates = self._usable(dict.fromkeys([*longer, *shorter]), stop_ids)
        if len(self._healing_cache) >= 256:
            self._healing_cache.pop(next(iter(self._healing_cache)))
        self._healing_cache[key] = candidates
        return candidates

    def _nonblank_starts(self, stop_ids: frozenset[int]) -> np.ndarray:
        """Tokens whose text starts with something other than a space or tab."""
        cached = self._nonblank_cache.get(stop_ids)
        if cached is None:
            ids = self.piece_index().ids_where(lambda piece: piece[:1] not in (b"", b" ", b"\t"))
            cached = self._nonblank_cache[stop_ids] = self._usable(ids, stop_ids)
        return cached

    def _usable(self, token_ids, stop_ids: frozenset[int]) -> np.ndarray:
        return np.array(
            [token_id for token_id in token_ids if token_id not in stop_ids and not self.is_end_of_generation(token_id)],
            dtype=np.int64,
        )

    def piece_index(self) -> "PieceIndex":
        """Every token's bytes, searchable by prefix (built once, ~1 s for 150k tokens)."""
        if self._piece_index is None:
            self._piece_index = PieceIndex([self.token_piece(token_id) for token_id in range(self.vocab_size)])
        return self._piece_index

    # -- token log-probabilities (review's surprise signal) ------------------

    def token_logprobs(
        self, tokens: Sequence[int], *, abort: threading.Event | None = None
    ) -> list[float] | None:
        """Each token's log-probability given the tokens before it, from one forward pass.

        Entry 0 is 0.0 (nothing predicts the first token). The KV cache's common prefix
        is kept, and so are the scores the last call computed for it: a second review of
        an edited file evaluates only from the first changed token. None if aborted.
        """
        scored = self.token_scores(tokens, abort=abort)
        return None if scored is None else scored[0]

    def token_scores(
        self, tokens: Sequence[int], *, abort: threading.Event | None = None
    ) -> tuple[list[float], list[float], list[int]] | None:
        """(log P(token), log P(the most likely token), that token's id) at each position, as
        `token_logprobs` (entry 0: 0.0, 0.0, -1)."""
        abort = abort or threading.Event()
        tokens = [int(token) for token in tokens]
        if len(tokens) > self.context_size:
            raise PromptTooLongError(
                f"the text has {len(tokens)} tokens but the context holds {self.context_size}; review a smaller part."
            )
        if not tokens:
            return [], [], []
        llama = self._llama
        scores = [0.0] * len(tokens)
        best = [0.0] * len(tokens)
        best_ids = [-1] * len(tokens)
        known = 0
        if self.options.reuse_prefix:
            known = min(
                common_prefix_length(self._scored_tokens, tokens),
                common_prefix_length(llama._input_ids.tolist(), tokens),
            )
            scores[:known] = self._scored_logprobs[:known]
            best[:known] = self._scored_best[:known]
            best_ids[:known] = self._scored_best_ids[:known]
        # Scoring token `known` needs the logits of position known - 1: evaluate from there.
        start = max(known - 1, 0)
        if not self._truncate(start):
            start = 0
            self._truncate(0)
        vocab_size = self.vocab_size
        # Every row of logits is kept (vocab floats each): a smaller step bounds the memory.
        step = min(self.options.batch_size, SCORING_BATCH)
        for chunk_start in range(start, len(tokens), step):
            if abort.is_set():
                self._remember_scores(tokens[:chunk_start], scores[:chunk_start], best[:chunk_start], best_ids[:chunk_start])
                return None
            chunk = tokens[chunk_start : chunk_start + step]
            llama._batch.set_batch(batch=chunk, n_past=chunk_start, logits_all=True)
            llama._ctx.decode(llama._batch)
            llama.input_ids[chunk_start : chunk_start + len(chunk)] = chunk
            llama.n_tokens = chunk_start + len(chunk)
            logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(len(chunk), vocab_size))
            _score_next_tokens(logits, tokens, chunk_start, scores, best, best_ids)
        self._remember_scores(tokens, scores, best, best_ids)
        return scores, best, best_ids

    def next_logprobs(self, tokens: Sequence[int], *, abort: threading.Event | None = None) -> np.ndarray | None:
        """log P(each vocabulary token | `tokens`): the distribution of the token after them, from the
        same cached pass as `token_scores` (a common prefix with the last call is not evaluated again)."""
        if not tokens:
            raise ValueError("next_logprobs needs at least one token.")
        if self.token_scores(tokens, abort=abort) is None:
            return None
        llama_cpp = import_llama_cpp()
        logits = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(self._llama._ctx.ctx, -1), shape=(self.vocab_size,)
        ).astype(np.float64)
        peak = logits.max()
        return logits - (peak + np.log(np.exp(logits - peak).sum()))

    def _remember_scores(self, tokens: list[int], scores: list[float], best: list[float], best_ids: list[int]) -> None:
        self._scored_tokens = tokens
        self._scored_logprobs = scores
        self._scored_best = best
        self._scored_best_ids = best_ids

    def close(self) -> None:
        self._llama.close()


class PieceIndex:
    """Token ids by the bytes they spell, for prefix queries."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        order = sorted((piece, token_id) for token_id, piece in enumerate(pieces) if piece)
        self._pieces = [piece for piece, _ in order]
        self._ids = [token_id for _, token_id in order]

    def ids_of(self, piece: bytes) -> list[int]:
        start = bisect.bisect_left(self._pieces, piece)
        end = bisect.bisect_right(self._pieces, piece)
        return self._ids[start:end]

    def ids_where(self, predicate) -> list[int]:
        """Ids of the tokens whose bytes satisfy `predicate`."""
        return [token_id for piece, token_id in zip(self._pieces, self._ids) if predicate(piece)]

    def ids_starting_with(self, prefix: bytes) -> list[int]:
        start = bisect.bisect_left(self._pieces, prefix)
        end = start
        while end < len(self._pieces) and self._pieces[end].startswith(prefix):
            end += 1
        return self._ids[start:end]


def _score_next_tokens(
    logits: np.ndarray, tokens: Sequence[int], first: int, scores: list[float], best: list[float],
    best_ids: list[int],
) -> None:
    """For each row p - first of `logits`: scores[p + 1] = log P(tokens[p + 1] | tokens[:p + 1]),
    best[p + 1] = the log-probability of the most likely token there, best_ids[p + 1] its id."""
    for row in range(logits.shape[0]):
        position = first + row
        if position + 1 >= len(tokens):
            break
        values = logits[row]
        best_id = int(values.argmax())
        peak = float(values[best_id])
        log_norm = peak + float(np.log(np.exp(values - peak, dtype=np.float64).sum()))
        scores[position + 1] = float(values[tokens[position + 1]]) - log_norm
        best[position + 1] = peak - log_norm
        best_ids[position + 1] = best_id


def _memory_can_shift(llama) -> bool:
    memory = getattr(llama._ctx, "memory", None)
    return memory is not None and bool(import_llama_cpp().llama_memory_can_shift(memory))


def _token_to_piece(vocab: ctypes.c_void_p, token_id: int) -> bytes:
    llama_cpp = import_llama_cpp()
    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        written = llama_cpp.llama_token_to_piece(vocab, token_id, buffer, size, 0, True)
        if written >= 0:
            return buffer.raw[:written]
        size = -written


def affordable_warm_places(model_path: Path, options: BackendOptions) -> int:
    """How many of `options.warm_places` fit WARM_PLACES_KV_BUDGET for this model's KV cache size."""
    if options.warm_places <= 0 or not options.reuse_prefix:
        return 0
    per_token = kv_bytes_per_token(model_path)
    if per_token is None:
        return 0
    return max(0, min(options.warm_places, WARM_PLACES_KV_BUDGET // (per_token * options.context_size)))


def kv_bytes_per_token(model_path: Path) -> int | None:
    """f16 keys and values of every layer for one token, from the GGUF header (None if unknown)."""
    values = architecture_metadata(model_path, [
        "block_count", "embedding_length", "attention.head_count", "attention.head_count_kv",
        "attention.key_length", "attention.value_length"])
    layers, width, heads = (values.get(name) for name in ("block_count", "embedding_length", "attention.head_count"))
    if not all(isinstance(value, int) and value > 0 for value in (layers, width, heads)):
        return None
    kv_heads = values.get("attention.head_count_kv") or heads
    key_length = values.get("attention.key_length") or width // heads
    value_length = values.get("attention.value_length") or width // heads
    return 2 * layers * kv_heads * (key_length + value_length)


def _abort_callback(llama, should_abort: Callable[[], bool]):
    """Install llama.cpp's abort callback on `llama`'s context; keep the returned object alive.

    llama.cpp calls it between the compute graph's operations, so a decode stops within a few
    milliseconds of `should_abort()` turning true, however large its batch."""
    llama_cpp = import_llama_cpp()
    callback = llama_cpp.ggml_abort_callback(lambda _data: bool(should_abort()))
    llama_cpp.llama_set_abort_callback(llama._ctx.ctx, callback, None)
    return callback


def _load_llama(model_path: Path, options: BackendOptions, warm_places: int = 0):
    try:
        llama_cpp = import_llama_cpp()
    except ImportError as error:
        raise ModelLoadError(
            "llama-cpp-python is not installed; run `pip install llama-cpp-python==0.3.36`.", str(error)
        ) from error
    threads = options.threads
    try:
        model_fields = None if options.extra_buffer_types else {"use_extra_bufts": False}
        # One stream per sequence: parking copies the cells, so shifting the active sequence's
        # positions never moves a parked place's.
        context_fields = {"n_seq_max": warm_places + 1, "kv_unified": False} if warm_places else None
        with llama_defaults(model=model_fields, context=context_fields):
            return llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=options.context_size * (warm_places + 1),
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=options.batch_size,
                n_ubatch=options.batch_size,
                seed=options.seed,
                logits_all=False,
                # Read, not mapped: a model file truncated in place while serving (`cp` or
                # `curl -o` over it) would otherwise kill the server with SIGBUS. The CPU
                # backend repacks the weights into its own buffers anyway, so the resident
                # size is the same (Qwen2.5-Coder-0.5B Q4_K_M: 570 vs 596 MB).
                use_mmap=False,
                verbose=False,
            )
    except Exception as error:  # llama.cpp reports every load failure as a bare ValueError
        raise ModelLoadError(
            f"llama.cpp could not load {model_path}; check that it is a complete GGUF of a supported "
            "architecture (re-download or re-convert it).",
            f"{type(error).__name__}: {error}",
        ) from error
