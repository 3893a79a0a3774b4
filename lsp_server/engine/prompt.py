"""Token-list FIM prompts whose front stays fixed while the user types.

Interface (used by features/completion.py, the CLI and bench/):
    PromptBudget(prefix_tokens=1024, suffix_tokens=256, context_tokens=512,
                 window_step_lines=32, anchor_step_lines=8, tail_tokens=256)
    PromptBuilder(family: Family, tokenize: Callable[[str], list[int]],
                  budget: PromptBudget = PromptBudget(), layout: Layout | None = None)
        .build(prefix: str, suffix: str, *, path: str = "", language: str = "",
               snippets: Sequence[Snippet] = (), repo_name: str = "") -> Prompt
        .count_tokens(text) -> int
    Prompt.tokens: list[int]; Prompt.stop_ids: frozenset[int]; Prompt.spans: tuple[Span, ...]
    Prompt.stable_length: int   # tokens before the part that typing rewrites
    Prompt.prefix_text / suffix_text: the document text the prompt holds around the cursor
    Prompt.held_back: str       # whitespace before the cursor left for the model to write

`tokenize` turns plain text into ids without parsing special-token spellings (e.g.
`LocalBackend.tokenize`); special tokens come from the family as ids, so no text a user
typed can turn into a control token.

Why this layout. llama.cpp's server (/infill with llama.vim's requests) appends the typed
part of the current line to the FIM prefix, before the suffix, so every keystroke changes
the prompt in the middle and the whole suffix is evaluated again. Here everything that typing
changes sits at the end:

    [bos] [context snippets] <P> prefix-head <S> suffix <M> prefix-tail     (PSM_ANCHORED)

* prefix-head is the prefix window from a start line that moves in steps of
  `window_step_lines` (the smallest multiple that fits `prefix_tokens`) up to an anchor
  line that moves in steps of `anchor_step_lines`; neither moves while typing on a line.
* prefix-tail is the text from the anchor line to the cursor. A PSM-trained model reads
  it as the start of the middle it has already "written", which is exactly what it sees
  while generating, so the trained format is kept. Typing appends to it.
* suffix is the text after the cursor, which typing does not change. When the rest of
  the cursor's line is only closing brackets/quotes (what editors auto-insert), it is
  left out of the prompt: auto-closing would otherwise change the suffix on every
  bracket typed; post-processing drops closers the model repeats (bracket balance).
  Other text after the cursor (editing inside a line) stays at the start of the suffix:
  typing before it inserts at the cursor, so it does not change either.
* context snippets come first and are re-chosen only when the cursor changes region
  (context.ContextSelector).
* Spaces and tabs right before the cursor (indentation on an empty line, the space after
  `return `) are held back (`Prompt.held_back`): a prompt ending in a whitespace token
  is rare in training, and models then write one space too many (measured: " sync.Mutex"
  after "mu "). The model writes the whitespace itself; post-processing removes it again
  (`Context.create(..., held_back=prompt.held_back)`).

Measured with bench/fim_layouts.py on Qwen2.5-Coder-0.5B (Q4_K_M), 50 masked lines
from 12 real Python/Go/TypeScript files (prefix 320 / suffix 80 tokens), exact first line:
PSM (trained order) 8/50, PSM_ANCHORED with the tail = the cursor's line 13/50, with
anchor_step_lines=8 15/50 (7 cases right that PSM got wrong, none the other way round),
SPM `<S>suffix<P>prefix<M>` 2/50 (10 empty answers): Qwen was not trained on SPM, and
suffix-first ordering ruins it, so PSM-trained families default to PSM_ANCHORED.

So a keystroke costs the re-tokenized end of the tail (one or two tokens before the new
text, BPE may merge them) plus the new text. The head/anchor moves once every
`anchor_step_lines` lines, costing one evaluation of suffix + tail. bench/prompt_reuse.py
(typing 80 lines of textwrap.py, a request after every word, Qwen vocabulary, default
budgets): tokens to evaluate per request 3 median / 9 p95 / 23 mean, against 246 / 250 /
255 in llama-server's order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lsp_server.engine.context import Snippet
from lsp_server.engine.families import ContextStyle, Family, Layout

Tokenize = Callable[[str], list[int]]

_CLOSERS = frozenset(")]}>\"'`;,")
_LINE_COMMENTS = {
    "python": "#", "ruby": "#", "shellscript": "#", "bash": "#", "sh": "#", "perl": "#", "r": "#",
    "yaml": "#", "toml": "#", "dockerfile": "#", "makefile": "#", "cmake": "#", "elixir": "#",
    "lua": "--", "sql": "--", "haskell": "--", "elm": "--",
    "clojure": ";;", "lisp": ";;", "scheme": ";;",
    "vim": '"', "erlang": "%", "latex": "%", "tex": "%", "matlab": "%",
}


@dataclass(frozen=True)
class PromptBudget:
    prefix_tokens: int = 1024
    suffix_tokens: int = 256
    context_tokens: int = 512
    window_step_lines: int = 32  # the prefix window's first line moves by this many lines at a time
    anchor_step_lines: int = 8  # PSM_ANCHORED: the head/tail split moves by this many lines
    tail_tokens: int = 256  # a longer tail re-anchors at the cursor's line

    def __post_init__(self) -> None:
        for name in ("prefix_tokens", "window_step_lines", "anchor_step_lines", "tail_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"prompt budget '{name}' must be at least 1, got {getattr(self, name)}.")
        for name in ("suffix_tokens", "context_tokens"):
            if getattr(self, name) < 0:
                raise ValueError(f"prompt budget '{name}' must not be negative, got {getattr(self, name)}.")


@dataclass(frozen=True)
class Span:
    name: str  # bos, context, prefix_marker, prefix_head, suffix_marker, suffix, middle_marker, prefix_tail, prefix
    start: int
    end: int


@dataclass(frozen=True)
class Prompt:
    tokens: list[int]
    stop_ids: frozenset[int]
    spans: tuple[Span, ...]
    family: str
    layout: Layout
    prefix_text: str  # the document text before the cursor that the prompt holds
    suffix_text: str  # the document text after the cursor that the prompt holds
    snippets: tuple[Snippet, ...] = ()
    stable_length: int = 0  # tokens[:stable_length] do not change while typing at the cursor
    held_back: str = ""  # spaces/tabs before the cursor left out of the prompt; the model writes them

    def span(self, name: str) -> Span | None:
        return next((span for span in self.spans if span.name == name), None)

    def span_tokens(self, name: str) -> list[int]:
        span = self.span(name)
        return [] if span is None else self.tokens[span.start : span.end]


@dataclass
class _Assembly:
    tokens: list[int] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def add(self, name: str, tokens: Sequence[int]) -> None:
        if not tokens:
            return
        start = len(self.tokens)
        self.tokens.extend(tokens)
        self.spans.append(Span(name, start, len(self.tokens)))


class PromptBuilder:
    """Lays out FIM prompts for one model family; remembers recent tokenizations."""

    def __init__(
        self,
        family: Family,
        tokenize: Tokenize,
        budget: PromptBudget = PromptBudget(),
        layout: Layout | None = None,
        memo_size: int = 4096,
    ) -> None:
        self.family = family
        self.budget = budget
        self.layout = layout or family.layout
        if self.layout is not Layout.PLAIN and not family.has_fim:
            raise ValueError(f"layout {self.layout.value} needs FIM tokens, which the {family.name} model lacks.")
        self._tokenize = tokenize
        self._memo: OrderedDict[str, list[int]] = OrderedDict()
        self._memo_size = memo_size
        self._window_starts: dict[str, int] = {}  # by path: where the last prefix window began

    # -- tokens -------------------------------------------------------------

    def tokens(self, text: str) -> list[int]:
        """Tokens of plain text, remembered (prompt pieces repeat from keystroke to keystroke)."""
        if not text:
            return []
        cached = self._memo.get(text)
        if cached is not None:
            self._memo.move_to_end(text)
            return cached
        tokens = list(self._tokenize(text))
        self._memo[text] = tokens
        if len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self.tokens(text))

    # -- windows ------------------------------------------------------------

    def prefix_window_start(self, lines: list[str]) -> int:
        """First line of the prefix window: the smallest multiple of the step that fits (the step
        halved while it would drop more than half of the lines that fit).

        Walks back from the cursor only as far as the budget reaches, so long files cost
        no more than short ones.
        """
        cursor_line = len(lines) - 1
        total = self.count_tokens(lines[-1])
        first_fitting = cursor_line
        while first_fitting > 0:
            total += self.count_tokens(lines[first_fitting - 1] + "\n")
            if total > self.budget.prefix_tokens:
                break
            first_fitting -= 1
        # Rounding up to the step drops lines that would fit; with a small budget (a small model's
        # window) a whole step can be all of them, so the step halves until it drops at most half.
        reach = cursor_line - first_fitting
        step = self.budget.window_step_lines
        while step > 1 and step > reach // 2:
            step //= 2
        return min(cursor_line, -(-first_fitting // step) * step)

    def sticky_window_start(self, lines: list[str], path: str) -> int:
        """`prefix_window_start`, except that the last window's start for `path` stays while the
        window from it fits the budget plus a quarter: typing fills a line and would push the
        start one step on, and every token after a moved start is evaluated again."""
        start = self.prefix_window_start(lines)
        previous = self._window_starts.get(path)
        if previous is not None and previous < start <= len(lines) - 1:
            cost = sum(self.count_tokens(line + "\n") for line in lines[previous:-1]) + self.count_tokens(lines[-1])
            if cost <= self._window_limit():
                start = previous
        self._window_starts[path] = start
        if len(self._window_starts) > 64:
            self._window_starts.pop(next(iter(self._window_starts)))
        return start

    def _window_limit(self) -> int:
        return self.budget.prefix_tokens + self.budget.prefix_tokens // 4

    def suffix_window(self, suffix: str) -> str:
        """Whole lines from the start of `suffix` that fit the suffix budget."""
        budget = self.budget.suffix_tokens
        if budget == 0 or not suffix:
            return ""
        kept: list[str] = []
        used = 0
        for line in suffix.splitlines(keepends=True):
            cost = self.count_tokens(line)
            if used + cost > budget:
                break
            kept.append(line)
            used += cost
        return "".join(kept)

    def anchor_line(self, lines: list[str], window_start: int) -> int:
        """PSM_ANCHORED: first line of the tail, moving in steps so typing keeps the head."""
        cursor_line = len(lines) - 1
        step = self.budget.anchor_step_lines
        anchor = max(window_start, cursor_line - cursor_line % step)
        tail = "\n".join(lines[anchor:])
        if anchor < cursor_line and self.count_tokens(tail) > self.budget.tail_tokens:
            anchor = cursor_line
        return anchor

    # -- layout -------------------------------------------------------------

    def build(
        self,
        prefix: str,
        suffix: str,
        *,
        path: str = "",
        language: str = "",
        snippets: Sequence[Snippet] = (),
        repo_name: str = "",
    ) -> Prompt:
        """The prompt for a cursor between `prefix` and `suffix` (the document's text)."""
        held_back = trailing_blanks(prefix)
        prefix = prefix[: len(prefix) - len(held_back)]
        lines = prefix.split("\n")
        window_start = self.sticky_window_start(lines, path)
        prefix_window = self._fit_prefix("\n".join(lines[window_start:]))
        suffix_window = self.suffix_window(model_suffix(suffix))

        assembly = _Assembly()
        if self.family.bos_id is not None:
            assembly.add("bos", [self.family.bos_id])
        context_in_prefix, used_snippets = self._add_context(assembly, snippets, path, language, repo_name)
        head_text, tail_text = self._split_prefix(prefix_window, lines, window_start)
        stable_length = self._add_fim(assembly, context_in_prefix, head_text, tail_text, suffix_window)
        return Prompt(
            tokens=assembly.tokens,
            stop_ids=self.family.stop_ids,
            spans=tuple(assembly.spans),
            family=self.family.name,
            layout=self.layout,
            prefix_text=prefix_window,
            suffix_text=suffix_window,
            snippets=used_snippets,
            stable_length=stable_length,
            held_back=held_back,
        )

    def _fit_prefix(self, window: str) -> str:
        """The window, or its last `prefix_tokens` tokens' worth of text for giant lines."""
        if self.count_tokens(window) <= self._window_limit():
            return window
        # One line longer than the whole budget: keep its end, character-wise.
        keep = max(1, len(window) * self.budget.prefix_tokens // max(1, self.count_tokens(window)))
        while keep > 1 and self.count_tokens(window[-keep:]) > self.budget.prefix_tokens:
            keep = keep * 9 // 10
        return window[-keep:]

    def _split_prefix(self, prefix_window: str, lines: list[str], window_start: int) -> tuple[str, str]:
        """(head, tail) of the prefix window; only PSM_ANCHORED has a tail."""
        if self.layout is not Layout.PSM_ANCHORED:
            return prefix_window, ""
        tail = "\n".join(lines[self.anchor_line(lines, window_start) :])
        if not prefix_window.endswith(tail):  # the window was cut inside one giant line
            return "", prefix_window
        return prefix_window[: len(prefix_window) - len(tail)], tail

    def _add_fim(self, assembly: _Assembly, context_text: str, head: str, tail: str, suffix: str) -> int:
        layout = self.layout
        if layout is Layout.PLAIN:
            stable = len(assembly.tokens)
            assembly.add("context", self.tokens(context_text))
            assembly.add("prefix", self.tokens(head))
            return stable + len(self.tokens(context_text))
        prefix_id, suffix_id, middle_id = self.family.fim_ids()
        if layout is Layout.PSM_ANCHORED:
            assembly.add("prefix_marker", [prefix_id])
            assembly.add("context", self.tokens(context_text))
            assembly.add("prefix_head", self.tokens(head))
            assembly.add("suffix_marker", [suffix_id])
            assembly.add("suffix", self.tokens(suffix))
            assembly.add("middle_marker", [middle_id])
            stable = len(assembly.tokens)
            assembly.add("prefix_tail", self.tokens(tail))
            return stable
        if layout is Layout.PSM:
            assembly.add("prefix_marker", [prefix_id])
            assembly.add("context", self.tokens(context_text))
            stable = len(assembly.tokens)
            assembly.add("prefix", self.tokens(head))
            assembly.add("suffix_marker", [suffix_id])
            assembly.add("suffix", self.tokens(suffix))
            assembly.add("middle_marker", [middle_id])
            return stable
        if layout is Layout.SPM:
            assembly.add("suffix_marker", [suffix_id])
            assembly.add("suffix", self.tokens(suffix))
            assembly.add("prefix_marker", [prefix_id])
            assembly.add("context", self.tokens(context_text))
            stable = len(assembly.tokens)
            assembly.add("prefix", self.tokens(head))
            assembly.add("middle_marker", [middle_id])
            return stable
        # SPM_TAIL: <P><S> suffix <M> prefix; the model continues the prefix directly.
        assembly.add("prefix_marker", [prefix_id])
        assembly.add("suffix_marker", [suffix_id])
        assembly.add("suffix", self.tokens(suffix))
        assembly.add("middle_marker", [middle_id])
        assembly.add("context", self.tokens(context_text))
        stable = len(assembly.tokens)
        assembly.add("prefix", self.tokens(head))
        return stable

    def _add_context(
        self, assembly: _Assembly, snippets: Sequence[Snippet], path: str, language: str, repo_name: str
    ) -> tuple[str, tuple[Snippet, ...]]:
        """Snippets as repo-level file sections (token ids) or as a comment block (text)."""
        fitted = self._fit_snippets(snippets, path, language)
        if not fitted:
            return "", ()
        family = self.family
        if family.context_style is ContextStyle.FILE_SEPARATOR and family.file_separator_id is not None:
            tokens: list[int] = []
            if repo_name and family.repo_name_id is not None:
                tokens += [family.repo_name_id, *self.tokens(repo_name + "\n")]
            for snippet in fitted:
                tokens += [family.file_separator_id, *self.tokens(f"{snippet.path}\n{snippet.text}\n")]
            tokens += [family.file_separator_id, *self.tokens(f"{path or 'current'}\n")]
            assembly.add("context", tokens)
            return "", fitted
        return "".join(_comment_block(snippet, language) for snippet in fitted), fitted

    def _fit_snippets(self, snippets: Sequence[Snippet], path: str, language: str) -> tuple[Snippet, ...]:
        kept: list[Snippet] = []
        used = 0
        for snippet in snippets:
            if snippet.path == path:
                continue
            cost = self.count_tokens(_comment_block(snippet, language))
            if used + cost > self.budget.context_tokens:
                continue
            kept.append(snippet)
            used += cost
        return tuple(kept)


def trailing_blanks(prefix: str) -> str:
    """Spaces and tabs at the end of the cursor's line."""
    return prefix[len(prefix.rstrip(" \t")) :]


def model_suffix(suffix: str) -> str:
    """The suffix as the model sees it: without a rest-of-line made only of closing characters."""
    line_end = suffix.find("\n")
    rest_of_line = suffix if line_end < 0 else suffix[:line_end]
    if rest_of_line.strip() and set(rest_of_line.strip()) <= _CLOSERS:
        return suffix[len(rest_of_line) :]
    return suffix


def line_comment(language: str) -> str:
    return _LINE_COMMENTS.get(language.lower(), "//")


def _comment_block(snippet: Snippet, language: str) -> str:
    marker = line_comment(language)
    body = "".join(f"{marker} {line}".rstrip() + "\n" for line in snippet.text.split("\n"))
    return f"{marker} Path: {snippet.path}\n{body}"
