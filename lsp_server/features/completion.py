"""Ghost-text completion, as plain data: text and cursor in, suggestions out.

    CompletionRequest(doc_text, cursor_offset, language, other_docs, settings, uri)
    CompletionEngine(backend).complete(request, abort) -> CompletionResult

The order of work for one request: the completion cache (type-through: the user typed
the start of the suggestion on screen, so the rest comes back without the model), then
the prompt (token list laid out so typing appends at the end), then the backend, which
reuses its KV cache and streams text through the post-processing early stop, then the
post-processing pipeline, then the cache. A model without FIM tokens gets a plain
prefix prompt (the family says so). No LSP types here: the CLI, tests and benchmarks
call this directly.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lsp_server.backend.base import Backend, GenerationStats, Prefilling, StopReason
from lsp_server.engine.cache import CompletionCache
from lsp_server.engine.context import ContextSelector, SourceDocument
from lsp_server.engine.families import Family, Layout, detect_family
from lsp_server.engine.postprocess import TIME_LIMIT, Context, StreamingStop, complete_lines, postprocess
from lsp_server.engine.postprocess.base import indent_width
from lsp_server.engine.prompt import Prompt, PromptBudget, PromptBuilder
from lsp_server.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompletionRequest:
    doc_text: str
    cursor_offset: int
    language: str
    other_docs: Sequence[SourceDocument] = ()
    settings: Settings = field(default_factory=Settings)
    uri: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.cursor_offset <= len(self.doc_text):
            raise ValueError(
                f"cursor offset {self.cursor_offset} is outside the document (length {len(self.doc_text)})."
            )

    @property
    def prefix(self) -> str:
        return self.doc_text[: self.cursor_offset]

    @property
    def suffix(self) -> str:
        return self.doc_text[self.cursor_offset :]


@dataclass(frozen=True)
class CompletionSuggestion:
    """Insert `text` in place of doc_text[replace_start:replace_end] (an empty range at the cursor)."""

    text: str
    replace_start: int
    replace_end: int


@dataclass
class CompletionResult:
    suggestions: list[CompletionSuggestion]
    source: str  # "model", "cache", "aborted", "no-model", "disabled"
    stats: GenerationStats | None = None
    raw_text: str = ""  # what the model generated, before post-processing
    stop_reason: StopReason | None = None
    prompt: Prompt | None = None
    quick: bool = False  # answered from the short window (the full one was not evaluated yet)

    @classmethod
    def empty(cls, source: str) -> "CompletionResult":
        return cls([], source)


PROMPT_OVERHEAD_TOKENS = 32  # FIM markers, file separators, a re-tokenized tail
# The short window answers only when it saves at least this many tokens of evaluation.
QUICK_SAVES_AT_LEAST = 64
# Idle work at a cursor (a resting cursor, an edit) evaluates the full window first, and not the
# short one, when the full one needs at most this many times the short one's tokens: near a
# place the cache holds, a rest of the cursor brings it within reach, and the first request there
# and every one after it are answered from the full window, not from the short one while the
# full one is evaluated in the pauses (bench/latency/places.py, README "issue 16").
FULL_FIRST_WITHIN = 2.0


def budget_for(settings: Settings, context_size: int | None = None) -> PromptBudget:
    """The prompt budgets from the settings, scaled down to fit the context window with
    room for `max_tokens` (a small model's window can be smaller than the defaults)."""
    prefix, suffix, context = settings.prefix_tokens, settings.suffix_tokens, settings.context_tokens
    if context_size is not None:
        room = max(64, context_size - settings.max_tokens - PROMPT_OVERHEAD_TOKENS)
        # the prefix window may run a quarter over its budget while its start stays (prompt.py)
        wanted = prefix + prefix // 4 + suffix + context
        if wanted > room:
            scale = room / wanted
            prefix, suffix, context = max(16, int(prefix * scale)), int(suffix * scale), int(context * scale)
    return PromptBudget(
        prefix_tokens=prefix,
        suffix_tokens=suffix,
        context_tokens=context,
        anchor_step_lines=settings.anchor_step_lines,
    )


def quick_settings(settings: Settings) -> Settings | None:
    """The settings of the short first window (no other files' snippets), or None when it is off
    or would be no shorter than the full one."""
    prefix = min(settings.quick_prefix_tokens, settings.prefix_tokens)
    suffix = min(settings.quick_suffix_tokens, settings.suffix_tokens)
    if settings.quick_prefix_tokens <= 0 or (prefix, suffix, 0) == (
        settings.prefix_tokens, settings.suffix_tokens, settings.context_tokens
    ):
        return None
    return dataclasses.replace(settings, prefix_tokens=prefix, suffix_tokens=suffix, context_tokens=0)


def user_dedented(prefix: str) -> bool:
    """Whether the cursor sits on a blank line left of the last code line's indentation: the user
    (or the editor) dedented, so the suggestion's line starts at the cursor's column. Small models
    otherwise go on at the last line's indentation (`else:` wanted, the block's next statement written)."""
    start = prefix.rfind("\n") + 1
    cursor_line = prefix[start:]
    if cursor_line.strip(" \t"):
        return False
    end = start - 1  # the newline that ends the line above; walked back without splitting the document
    while end >= 0:
        line_start = prefix.rfind("\n", 0, end) + 1
        line = prefix[line_start:end]
        if line.strip():
            return indent_width(cursor_line) < indent_width(line)
        end = line_start - 1
    return False


def after_accepting(request: CompletionRequest, text: str) -> CompletionRequest:
    """The request the editor sends once the user accepts `text` at the cursor."""
    return dataclasses.replace(
        request,
        doc_text=request.prefix + text + request.suffix,
        cursor_offset=request.cursor_offset + len(text),
    )


class CompletionEngine:
    """Completion over one loaded backend; `complete` runs on the backend's thread."""

    full_first_within = FULL_FIRST_WITHIN  # 0: idle work always evaluates the short window first

    def __init__(
        self,
        backend: Backend,
        family: Family | None = None,
        layout: Layout | None = None,
        use_cache: bool = True,
        token_healing: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.backend = backend
        self._clock = clock
        self.family = family or detect_family(backend.token_id, backend.metadata)
        self.layout = layout
        self.use_cache = use_cache
        # A remote backend cannot constrain the first token; it gets the whole prompt.
        self.token_healing = token_healing and getattr(backend, "supports_token_healing", True)
        if self.token_healing:
            backend.piece_index()  # built now, on the loading thread, not on the first keystroke
        self.cache = CompletionCache()
        self._cache_lock = threading.Lock()
        self._selector = ContextSelector()
        self._builders: dict[PromptBudget, PromptBuilder] = {}

    # -- cache --------------------------------------------------------------

    def from_cache(self, request: CompletionRequest) -> CompletionResult | None:
        """The cached (or typed-through) suggestion for this cursor; safe from any thread."""
        if not self.use_cache:
            return None
        with self._cache_lock:
            text = self.cache.get(request.prefix, request.suffix)
        if text is None:
            return None
        return CompletionResult(self._suggestions(request, text), "cache")

    def clear_cache(self) -> None:
        with self._cache_lock:
            self.cache.clear()

    def _store(self, request: CompletionRequest, text: str) -> None:
        with self._cache_lock:
            self.cache.put(request.prefix, request.suffix, text)

    # -- prompt -------------------------------------------------------------

    def builder(self, settings: Settings) -> PromptBuilder:
        budget = budget_for(settings, self.backend.context_size)
        builder = self._builders.get(budget)
        if builder is None:
            builder = PromptBuilder(self.family, self.backend.tokenize, budget, layout=self.layout)
            self._builders[budget] = builder
        return builder

    def build_prompt(self, request: CompletionRequest) -> Prompt:
        builder = self.builder(request.settings)
        snippets = ()
        if request.other_docs and builder.budget.context_tokens > 0 and self.family.has_fim:
            snippets = self._selector.snippets_for(
                request.uri,
                request.prefix,
                request.suffix,
                list(request.other_docs),
                builder.budget.context_tokens,
                builder.count_tokens,
            )
        return builder.build(
            request.prefix, request.suffix, path=_display_path(request.uri), language=request.language, snippets=snippets
        )

    # -- generation ---------------------------------------------------------

    def complete(self, request: CompletionRequest, abort: threading.Event | None = None) -> CompletionResult:
        cached = self.from_cache(request)
        if cached is not None:
            return cached
        started = self._clock()
        abort = abort or threading.Event()
        prompt, quick = self.choose_prompt(request)
        context = self.postprocess_context(request, prompt)
        stop = StreamingStop(context, request.settings.max_generation_ms / 1000 or None, clock=self._clock,
                             started=started)
        if getattr(self.backend, "serves_infill", False):
            generation = self._infill(request, prompt, stop.feed, abort)
        else:
            tokens, heal_text = self.heal(prompt)
            dedented = self.token_healing and not heal_text and user_dedented(request.prefix)
            generation = self.backend.generate(
                tokens,
                max_tokens=request.settings.max_tokens,
                stop_ids=prompt.stop_ids,
                temperature=request.settings.temperature,
                abort=abort,
                on_text=stop.feed,
                heal_text=prompt.held_back if dedented else heal_text,
                heal_then_nonblank=dedented,
            )
        stats = generation.stats
        if generation.stop_reason is StopReason.ABORTED:
            logger.info(
                "completion for %s aborted after %d generated tokens (%d of %d prompt tokens evaluated)",
                request.uri, stats.generated_tokens, stats.evaluated_tokens, stats.prompt_tokens,
            )
            return CompletionResult([], "aborted", stats, generation.text, generation.stop_reason, prompt, quick)
        if stop.reason == TIME_LIMIT:  # a line cut off by the clock is dropped, unless it is the only one
            generation.text = complete_lines(generation.text) or generation.text
        text = postprocess(generation.text, context)
        logger.info(
            "completion from the model for %s: %d prompt tokens%s, %d evaluated, %d generated, %.0f+%.0f ms, %s",
            request.uri, stats.prompt_tokens, " (short window)" if quick else "", stats.evaluated_tokens,
            stats.generated_tokens, stats.prompt_ms, stats.generate_ms, generation.stop_reason.value,
        )
        if self.use_cache and not stop.cut_mid_line:
            self._store(request, text)
        return CompletionResult(
            self._suggestions(request, text), "model", generation.stats, generation.text, generation.stop_reason,
            prompt, quick,
        )

    # -- small first, and idle work ------------------------------------------

    def choose_prompt(self, request: CompletionRequest) -> tuple[Prompt, bool]:
        """The full prompt, or the short window's when the cache holds little of the full one
        (the cursor moved) and the short one costs at least QUICK_SAVES_AT_LEAST tokens less.
        True with the short one."""
        full = self.build_prompt(request)
        quick_request = self._quick(request)
        if quick_request is None:
            return full, False
        quick = self._short_window(self._candidate(full), quick_request)
        return (full, False) if quick is None else (quick.prompt, True)

    def _short_window(self, full: "_Candidate", quick_request: CompletionRequest) -> "_Candidate | None":
        """The short window's prompt, when answering from it saves at least QUICK_SAVES_AT_LEAST tokens."""
        if full.pending <= QUICK_SAVES_AT_LEAST:
            return None
        quick = self._candidate(self.build_prompt(quick_request))
        return quick if quick.pending + QUICK_SAVES_AT_LEAST <= full.pending else None

    def _candidate(self, prompt: Prompt) -> "_Candidate":
        tokens = self.heal(prompt)[0]
        return _Candidate(prompt, tokens, self.backend.pending_tokens(tokens))

    def _quick(self, request: CompletionRequest) -> CompletionRequest | None:
        if not isinstance(self.backend, Prefilling) or not self.use_cache:
            return None
        settings = quick_settings(request.settings)
        return None if settings is None else dataclasses.replace(request, settings=settings)

    def prefill(self, request: CompletionRequest, abort: threading.Event) -> int:
        """Evaluate the prompt a completion at this cursor would use, then the full window if
        that was the short one (the full one alone when it is within FULL_FIRST_WITHIN of the
        short one); return the tokens evaluated. Idle work: stops at `abort`."""
        if not isinstance(self.backend, Prefilling) or not self.use_cache:
            return 0
        full = self._candidate(self.build_prompt(request))
        quick_request = self._quick(request)
        quick = None if quick_request is None else self._short_window(full, quick_request)
        done = 0
        if quick is not None and full.pending > self.full_first_within * quick.pending:
            done += self.backend.prefill(quick.tokens, abort)
        if not abort.is_set():
            done += self.backend.prefill(full.tokens, abort)
        return done

    def follow_up(self, request: CompletionRequest, result: CompletionResult):
        """Idle work after an answer, as a `job(abort)`, or None: widen a short window's prompt to
        the full one, or speculate the completion that follows accepting the suggestion (its
        answer lands in the cache, so accepting and typing on is served at once)."""
        if result.source != "model" or not isinstance(self.backend, Prefilling) or not self.use_cache:
            return None
        if not request.settings.prefill:
            return None
        if result.quick:
            return lambda abort: self.prefill(request, abort)
        if not result.suggestions:
            return None
        accepted = after_accepting(request, result.suggestions[0].text)
        return lambda abort: self.speculate(accepted, abort)

    def speculate(self, request: CompletionRequest, abort: threading.Event) -> CompletionResult | None:
        """A completion computed ahead, for the cache only; nothing if one is cached already."""
        if self.from_cache(request) is not None:
            return None
        return self.complete(request, abort)

    def _infill(self, request: CompletionRequest, prompt: Prompt, on_text, abort: threading.Event):
        """A remote server that knows the model's FIM tokens when seekcode does not (llama-server's
        /infill) lays the prompt out itself: our budgeted prefix/suffix windows and other files' snippets."""
        builder = self.builder(request.settings)
        snippets = ()
        if request.other_docs and builder.budget.context_tokens > 0:
            snippets = self._selector.snippets_for(
                request.uri, request.prefix, request.suffix, list(request.other_docs),
                builder.budget.context_tokens, builder.count_tokens,
            )
        return self.backend.infill(
            prompt.prefix_text,
            prompt.suffix_text,
            [(_display_path(snippet.path), snippet.text) for snippet in snippets],
            max_tokens=request.settings.max_tokens,
            temperature=request.settings.temperature,
            abort=abort,
            on_text=on_text,
        )

    def heal(self, prompt: Prompt) -> tuple[list[int], str]:
        """Token healing inside a word: leave out the last typed token, let generation re-spell it.

        When the cursor is in the middle of an identifier ("self.wor|"), the prompt's last
        token ends where the cursor is, not where the tokenizer would split the finished
        word ("wor" + "ld" instead of " world"); models continue such splits poorly.
        Dropping that token and requiring the first generated token to start with its
        text lets the model pick the natural token. At word boundaries it changed
        nothing in the latency bench (15/36 first-line matches either way), and trailing
        whitespace is already held back by the prompt builder, so it only runs mid-word.
        """
        last_span = prompt.spans[-1] if prompt.spans else None
        typed_end = last_span is not None and last_span.name in ("prefix_tail", "prefix")
        if not self.token_healing or not typed_end or prompt.held_back or len(prompt.tokens) < 2:
            return prompt.tokens, ""
        try:
            text = self.backend.token_piece(prompt.tokens[-1]).decode("utf-8")
        except UnicodeDecodeError:  # half of a multi-byte character: leave it alone
            return prompt.tokens, ""
        if not text or not (text[-1].isalnum() or text[-1] == "_"):
            return prompt.tokens, ""
        return prompt.tokens[:-1], text

    def postprocess_context(self, request: CompletionRequest, prompt: Prompt) -> Context:
        return Context.create(
            request.prefix,
            request.suffix,
            language=request.language,
            special_texts=self.family.special_texts,
            multiline=request.settings.multiline,
            held_back=prompt.held_back,
        )

    @staticmethod
    def _suggestions(request: CompletionRequest, text: str) -> list[CompletionSuggestion]:
        if not text.strip():
            return []
        return [CompletionSuggestion(text, request.cursor_offset, request.cursor_offset)]


@dataclass(frozen=True)
class _Candidate:
    prompt: Prompt
    tokens: list[int]  # after token healing: what the backend evaluates
    pending: int  # of those, what the backend would evaluate now


def _display_path(uri: str) -> str:
    return uri.removeprefix("file://") if uri else ""
