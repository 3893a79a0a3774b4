"""Code review: findings on lines of a function, a selection, a file, or a diff.

Two signals:
1. surprise: one forward pass of any model; lines with tokens far more surprising than
   the file's usual token become candidate findings (`engine.surprise`);
2. written: an instruct model's review through its chat template, constrained by a
   grammar to a JSON list of findings (`engine.findings`), so it always parses. The
   surprising lines are named in the prompt, steering where it looks.

Findings outside the reviewed lines, duplicates, and (reviewing a diff) findings that
touch no changed line are dropped. Plain data in and out; no LSP types.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from lsp_server.engine.prose import prose_ranges
from lsp_server.engine.findings import FINDINGS_GBNF, RawFinding, parse_findings
from lsp_server.engine.surprise import (
    LineSurprise, SurpriseScorer, fix_gain, line_scores, score_tokens, surprising_lines,
)

logger = logging.getLogger(__name__)

SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}
SIGNALS = ("surprise", "written", "both")
RULE_SURPRISE = "seekcode.surprise"
RULE_REVIEW = "seekcode.review"
# A written review sees at most this many numbered lines at once (a prompt of ~2k tokens).
REVIEW_WINDOW_LINES = 120


class WrittenReviewUnavailable(RuntimeError):
    """The model cannot write a review (no chat template); surprise still works."""


@dataclass(frozen=True)
class Finding:
    start_line: int  # 1-based, inclusive
    end_line: int
    severity: str  # "error" | "warning" | "info"
    message: str
    rule: str
    start: int  # character offsets of the exact range in the reviewed text
    end: int
    suggestion: str | None = None  # replacement text for lines start_line..end_line
    score: float | None = None  # the surprise score, for surprise findings

    def to_json(self, path: str = "") -> dict:
        data = {"path": path, "start_line": self.start_line, "end_line": self.end_line,
                "severity": self.severity, "message": self.message}
        if self.suggestion is not None:
            data["suggestion"] = self.suggestion
        data["rule"] = self.rule
        return data


@dataclass(frozen=True)
class ReviewRequest:
    text: str
    path: str = ""
    language: str = ""
    first_line: int = 1  # the reviewed lines, 1-based, inclusive
    last_line: int | None = None  # None: to the end of the text
    changed_lines: frozenset[int] | None = None  # diff mode: only findings touching these lines
    signals: str = "both"


@dataclass(frozen=True)
class ReviewOptions:
    # Chosen on the review benchmark's tuning half (bench/assist/review.py --tune), Qwen2.5-Coder-0.5B:
    # "gap" ranked the mutated line first as often as "surprise" and with fewer false alarms at
    # equal recall. Scores are robust z-scores: most tokens are the model's first choice, so the
    # file's spread is small and the scores of real outliers are large.
    surprise_metric: str = "gap"  # engine.surprise.METRICS
    surprise_threshold: float = 15.0  # a line becomes a candidate (named to the written review, info)
    surprise_warning: float = 40.0  # ... and a surprise finding is a warning
    max_surprise_findings: int = 3
    hint_lines: int = 5  # surprising lines named in the written review's prompt
    max_tokens: int = 512
    # With both signals, whether surprise lines the written review looked at and did not flag become info
    # (off: on the tuning half, Qwen2.5-Coder-0.5B answered [] for nearly every function, hinted or not).
    demote_unconfirmed: bool = False
    # Focused verification (both signals): each surprising line is put to the model as "is line N
    # correct?"; a line whose log P(no) - log P(yes) reaches this is a warning, the others are info.
    # None: no verification (a surprise finding's severity comes from its score alone). Set by the
    # model's calibration (features/review_calibration.py).
    verify_threshold: float | None = None
    # When set (by the calibration), a surprise finding is a warning only when the model's own first
    # choice there is a same-shaped one-token fix (an operator for an operator, a number for a number:
    # the quick fix) and the line scores at least this; other surprising lines are info. None: a
    # surprise finding is a warning from `surprise_warning` on.
    fix_warning: float | None = None
    # When set (by the calibration), a same-shaped fix is kept (as the quick fix, and so for a warning)
    # only when the fixed text is more likely than the original as a whole, over the rest of the line
    # and the tokens after it (engine.surprise.fix_gain), by at least this many nats. None: no check.
    fix_margin: float | None = None


@dataclass
class ReviewResult:
    findings: list[Finding]
    aborted: bool = False
    signals: tuple[str, ...] = ()  # the signals that actually ran
    notes: list[str] = field(default_factory=list)  # e.g. why the written review did not run
    surprise_ms: float = 0.0
    written_ms: float = 0.0
    verify_ms: float = 0.0


class ReviewModel(Protocol):
    """What a review needs from a model (LocalReviewModel, RemoteReviewModel; scripted fakes in tests).

    A model may say why it has no surprise signal in `surprise_unavailable` (a note, once)."""

    def surprise_scorer(self) -> SurpriseScorer | None: ...

    def write(self, messages: list[dict], grammar: str, max_tokens: int, abort: threading.Event | None) -> str | None:
        """The model's answer constrained by `grammar`; None if aborted; WrittenReviewUnavailable."""

    def yes_no(self, messages: list[dict], abort: threading.Event | None) -> float | None:
        """log P(no) - log P(yes) for the answer's first word; None if aborted; WrittenReviewUnavailable."""


# -- the review -------------------------------------------------------------


def review(
    request: ReviewRequest, model: ReviewModel, options: ReviewOptions = ReviewOptions(),
    abort: threading.Event | None = None,
) -> ReviewResult:
    if request.signals not in SIGNALS:
        raise ValueError(f"signals must be one of {', '.join(SIGNALS)}, got {request.signals!r}.")
    lines = LineTable(request.text)
    first = max(1, request.first_line)
    last = min(lines.count, request.last_line or lines.count)
    result = ReviewResult([])
    if last < first:
        return result

    surprising: list[LineSurprise] = []
    unavailable = getattr(model, "surprise_unavailable", None)
    if request.signals in ("surprise", "both") and unavailable:
        result.notes.append(unavailable)  # e.g. a remote server: the written review only
    elif request.signals in ("surprise", "both"):
        started = time.perf_counter()
        surprising = _surprising_lines(request, model, lines, first, last, options, abort)
        result.surprise_ms = (time.perf_counter() - started) * 1000
        if surprising is None:
            return ReviewResult([], aborted=True)
        result.signals += ("surprise",)

    written: list[Finding] | None = None
    if request.signals in ("written", "both"):
        started = time.perf_counter()
        try:
            answer = model.write(review_messages(request, lines, first, last, surprising[: options.hint_lines]),
                                 FINDINGS_GBNF, options.max_tokens, abort)
        except WrittenReviewUnavailable as error:
            result.notes.append(str(error))
            answer = ""
        else:
            if answer is None:
                return ReviewResult([], aborted=True)
            result.signals += ("written",)
        result.written_ms = (time.perf_counter() - started) * 1000
        written = [_from_raw(raw, lines) for raw in parse_findings(answer)] if "written" in result.signals else None

    verdicts: dict[int, float] = {}
    if request.signals == "both" and options.verify_threshold is not None and surprising:
        started = time.perf_counter()
        verdicts = _verify(request, model, lines, first, last, surprising[: options.max_surprise_findings], abort, result)
        result.verify_ms = (time.perf_counter() - started) * 1000
        if verdicts is None:
            return ReviewResult([], aborted=True)

    findings = list(written or [])
    for line in _with_fixable(surprising, lines, options):
        finding = _surprise_finding(line, lines, options)
        if line.line in verdicts and not (options.fix_warning is not None and finding.severity == "warning"):
            # Calibrated, a warning always carries the model's own same-shaped fix: the answer to the
            # focused question lowers the evidence needed, not that requirement.
            confirmed = (verdicts[line.line] >= options.verify_threshold
                         and (options.fix_warning is None or finding.suggestion is not None))
            finding = replace(finding, severity="warning" if confirmed else "info",
                              message=finding.message + (" Asked about this line alone, the model judged it wrong."
                                                         if confirmed else ""))
        elif written is not None and options.demote_unconfirmed:
            finding = replace(finding, severity="info")
        findings.append(finding)
    result.findings = keep_relevant(findings, first, last, request.changed_lines)
    return result


def _surprising_lines(request, model, lines, first, last, options, abort) -> list[LineSurprise] | None:
    scorer = model.surprise_scorer()
    if scorer is None:
        return []
    region = (lines.start_of(first), lines.end_of(last))
    scored = scored_lines(request.text, request.language or request.path, scorer, region, options.surprise_metric, abort)
    if scored is None:
        return None
    # Diff mode: candidates only on changed lines (the rest are context, not under review).
    candidates = [line for line in scored if request.changed_lines is None or line.line in request.changed_lines]
    if options.fix_margin is not None:
        candidates = fixes_in_context(request.text, candidates, lines, scorer, options, first, last, abort)
        if candidates is None:
            return None
    top = surprising_lines(candidates, first, last, options.surprise_threshold, max(options.hint_lines, options.max_surprise_findings))
    if options.fix_warning is None:
        return top
    # Lines with a same-shaped fix that reach the warning level are candidates too, even when
    # lines without one score higher (after the top ones, so hints and verification are unchanged).
    fixable = [line for line in surprising_lines(candidates, first, last, options.fix_warning, len(candidates))
               if same_shaped_fix(line, lines) is not None][: options.max_surprise_findings]
    return top + [line for line in fixable if line not in top]


def fixes_in_context(text: str, candidates: list[LineSurprise], lines: "LineTable", scorer: SurpriseScorer,
                     options: ReviewOptions, first: int, last: int,
                     abort: threading.Event | None = None) -> list[LineSurprise] | None:
    """The candidates, each line that could be reported keeping its same-shaped fix only when the fixed
    text is more likely as a whole by `options.fix_margin` (otherwise it loses the fix: `expected` None);
    None if aborted. One short forward pass per such line (the shared prefix is reused)."""
    levels = [options.surprise_threshold] + ([options.fix_warning] if options.fix_warning is not None else [])
    floor = min(levels)
    checked = []
    for line in candidates:
        fix = same_shaped_fix(line, lines) if first <= line.line <= last and line.score >= floor else None
        if fix is not None:
            gain = fix_gain(text, line.start, line.end, fix, scorer, abort)
            if gain is None:
                return None
            if gain < options.fix_margin:
                line = replace(line, expected=None)
        checked.append(line)
    return checked


def _with_fixable(surprising: list[LineSurprise], lines: "LineTable", options: ReviewOptions) -> list[LineSurprise]:
    """The top candidates, then any further line with a same-shaped fix at the warning level."""
    chosen = surprising[: options.max_surprise_findings]
    if options.fix_warning is None:
        return chosen

    def fix_warned(line: LineSurprise) -> bool:
        return line.score >= options.fix_warning and same_shaped_fix(line, lines) is not None

    room = options.max_surprise_findings - sum(fix_warned(line) for line in chosen)  # at most that many fix warnings
    return chosen + [line for line in surprising[options.max_surprise_findings:] if fix_warned(line) and line not in chosen][:room]


def _verify(request, model, lines, first, last, candidates, abort, result) -> dict[int, float] | None:
    """Each candidate line's log P(no) - log P(yes) when the model is asked whether it is correct."""
    verdicts: dict[int, float] = {}
    for line in candidates:
        try:
            answer = model.yes_no(verify_messages(request, lines, first, last, line.line), abort)
        except WrittenReviewUnavailable as error:
            if str(error) not in result.notes:
                result.notes.append(str(error))
            return verdicts
        if answer is None:
            return None
        verdicts[line.line] = answer
    return verdicts


def scored_lines(text: str, language: str, scorer: SurpriseScorer, region: tuple[int, int] | None,
                 metric: str, abort: threading.Event | None = None) -> list[LineSurprise] | None:
    """Every line's surprise score (comments and docstrings left out); None if aborted.
    The calibration scores its corpus through this too, so thresholds and reviews agree."""
    tokens = score_tokens(text, scorer, region, abort, metric)
    if tokens is None:
        return None
    return line_scores(text, tokens, prose_ranges(text, language))


def _surprise_finding(line: LineSurprise, lines: "LineTable", options: ReviewOptions) -> Finding:
    token = lines.text[line.start : line.end].strip() or lines.text[line.start : line.end]
    expected = same_shaped_fix(line, lines)
    if options.fix_warning is None:
        severity = "warning" if line.score >= options.surprise_warning else "info"
    else:
        severity = "warning" if expected and line.score >= options.fix_warning else "info"
    hint = f"; it expected `{expected.strip()}`" if expected else ""
    message = (f"Unusual code: a code model did not expect `{token}` here{hint} "
               f"({line.score:.0f} spreads above this file's typical token); check this line.")
    suggestion = None
    if expected:
        start, end = lines.start_of(line.line), lines.end_of(line.line)
        suggestion = lines.text[start : line.start] + expected + lines.text[line.end : end]
    return Finding(line.line, line.line, severity, message, RULE_SURPRISE, line.start, line.end,
                   suggestion=suggestion, score=line.score)


def same_shaped_fix(line: LineSurprise, lines: "LineTable") -> str | None:
    """The model's first choice for the surprising token, when it is a usable one-line replacement
    of the same shape (see `_same_shape`) outside a string literal."""
    expected = line.expected
    if not expected or "\n" in expected or "\r" in expected or "\ufffd" in expected or not expected.strip():
        return None
    # The token's own leading space belongs to the text around it: keep the original's.
    original = lines.text[line.start : line.end]
    leading = original[: len(original) - len(original.lstrip())]
    if expected.strip() == original.strip() or not _same_shape(original.strip(), expected.strip()):
        return None
    if _inside_string(lines.text[lines.start_of(line.line) : line.start]):
        return None  # an operator character in a string is text, not an operator
    return leading + expected.lstrip()


# Operators of Python, TypeScript/JavaScript and Go (one list: the rule is the same in every language).
OPERATORS = frozenset({
    "+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "~", "<<", ">>", ">>>", "&^",
    "==", "!=", "===", "!==", "<", "<=", ">", ">=", "!", "&&", "||", "??", "++", "--",
    "=", ":=", "+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>=", ">>>=", "&^=",
    "&&=", "||=", "??=",
})
_COMPARISONS = frozenset({"==", "!=", "===", "!==", "<=", ">="})
_DELIMITERS = "()[]{},;"


def _same_shape(original: str, expected: str) -> bool:
    """Whether swapping the tokens is a sensible fix: both numbers, or one operator for another
    with everything else the same ("+m" / "-m", ")*" / ")//"), an assignment only for an
    assignment. Anything else (a bracket or quote added or dropped, "(m" / "ow", ":=" / "-")
    changes the line's structure rather than fixing a detail of it."""
    if original.isdigit() and expected.isdigit():
        return True
    original_operator, original_word = _split_operator(original)
    expected_operator, expected_word = _split_operator(expected)
    if original_word != expected_word:
        return False
    original_around, original_core = _operator_core(original_operator)
    expected_around, expected_core = _operator_core(expected_operator)
    return (original_around == expected_around and original_core in OPERATORS and expected_core in OPERATORS
            and _assigns(original_core) == _assigns(expected_core))


def _assigns(operator: str) -> bool:
    return operator in ("++", "--") or (operator.endswith("=") and operator not in _COMPARISONS)


def _operator_core(punctuation: str) -> tuple[tuple[str, str], str]:
    """((")", ""), "*") for ")*": the delimiters around an operator, and the operator."""
    core = punctuation.lstrip(_DELIMITERS)
    before = punctuation[: len(punctuation) - len(core)]
    stripped = core.rstrip(_DELIMITERS)
    return (before, core[len(stripped):]), stripped


def _inside_string(prefix: str) -> bool:
    """Whether a line's text up to here ends inside a '…', "…" or `…` literal (backslash escapes;
    a Python triple quote opens and closes like three single ones on one line)."""
    quote = None
    index = 0
    while index < len(prefix):
        char = prefix[index]
        if quote and char == "\\":
            index += 2
            continue
        if char in "'\"`" and quote in (None, char):
            quote = None if quote else char
        index += 1
    return quote is not None


def _split_operator(token: str) -> tuple[str, str]:
    """("+", "m") for "+m": the leading operator characters and the rest."""
    index = 0
    while index < len(token) and not (token[index].isalnum() or token[index] == "_"):
        index += 1
    return token[:index], token[index:]


def _from_raw(raw: RawFinding, lines: "LineTable") -> Finding:
    start_line = min(raw.start_line, lines.count + 1)
    end_line = min(raw.end_line, lines.count + 1)
    start = lines.code_start_of(start_line) if start_line <= lines.count else len(lines.text)
    end = lines.end_of(end_line) if end_line <= lines.count else len(lines.text)
    suggestion = raw.suggestion
    if suggestion is not None and end_line <= lines.count:
        original = lines.text[lines.start_of(start_line) : lines.end_of(end_line)]
        if suggestion.strip() == original.strip():
            suggestion = None  # "replace with the same code" is no fix
    return Finding(raw.start_line, raw.end_line, raw.severity, raw.message, RULE_REVIEW, start, end, suggestion)


def keep_relevant(
    findings: Sequence[Finding], first: int, last: int, changed_lines: frozenset[int] | None
) -> list[Finding]:
    """Drop findings outside [first, last], off the changed lines, and duplicates (same lines)."""
    kept: dict[tuple[int, int], Finding] = {}
    for finding in findings:
        if finding.start_line < first or finding.end_line > last:
            continue
        if changed_lines is not None and not any(
            line in changed_lines for line in range(finding.start_line, finding.end_line + 1)
        ):
            continue
        key = (finding.start_line, finding.end_line)
        current = kept.get(key)
        if current is None or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[current.severity]:
            kept[key] = finding
    return sorted(kept.values(), key=lambda f: (f.start_line, f.end_line, -SEVERITY_RANK[f.severity]))


def review_windows(first: int, last: int, changed_lines: frozenset[int] | None = None,
                   window: int = REVIEW_WINDOW_LINES) -> list[tuple[int, int]]:
    """(first, last) line ranges of at most `window` lines covering [first, last].

    Reviewing a diff, only the ranges holding a changed line are kept.
    """
    window = max(1, window)
    ranges = [(start, min(start + window - 1, last)) for start in range(first, last + 1, window)]
    if changed_lines is not None:
        ranges = [(a, b) for a, b in ranges if any(a <= line <= b for line in changed_lines)]
    return ranges


def review_all(
    request: ReviewRequest, model: ReviewModel, options: ReviewOptions = ReviewOptions(),
    abort: threading.Event | None = None,
) -> ReviewResult:
    """`review` over the request's lines in windows the model's context holds, results combined."""
    last = request.last_line or LineTable(request.text).count
    window = getattr(model, "window_lines", REVIEW_WINDOW_LINES)
    combined = ReviewResult([])
    for first, window_last in review_windows(max(1, request.first_line), last, request.changed_lines, window):
        result = review(replace(request, first_line=first, last_line=window_last), model, options, abort)
        if result.aborted:
            return result
        combined.findings += result.findings
        combined.notes += [note for note in result.notes if note not in combined.notes]
        combined.signals = tuple(dict.fromkeys(combined.signals + result.signals))
        combined.surprise_ms += result.surprise_ms
        combined.written_ms += result.written_ms
        combined.verify_ms += result.verify_ms
    return combined


def function_lines(text: str, offset: int, language: str) -> tuple[int, int] | None:
    """1-based first and last line of the function (or class) around `offset`, if any."""
    from lsp_server.engine import symbols

    grammar = symbols.language_of(language)
    symbol = symbols.symbol_at(text, offset, grammar) if grammar else None
    if symbol is None:
        return None
    return symbol.start_line + 1, symbol.end_line + 1


def at_or_above(findings: Sequence[Finding], severity: str) -> bool:
    threshold = SEVERITY_RANK[severity]
    return any(SEVERITY_RANK[finding.severity] >= threshold for finding in findings)


# -- the written review's prompt ---------------------------------------------

SYSTEM_PROMPT = (
    "You are a careful code reviewer. Report only real defects: wrong results, crashes, wrong "
    "conditions, off-by-one errors, wrong operators or constants, resource leaks. Do not report style. "
    "Answer with a JSON list of findings, each {\"start_line\", \"end_line\", \"severity\" (error, "
    "warning or info), \"message\", and optionally \"suggestion\": the corrected code for those lines}. "
    "Use the line numbers shown. Answer [] when the code is correct."
)


def review_messages(
    request: ReviewRequest, lines: "LineTable", first: int, last: int, hints: Sequence[LineSurprise]
) -> list[dict]:
    numbered = "\n".join(f"{number:>4} | {lines.line_text(number)}" for number in range(first, last + 1))
    language = request.language or "code"
    parts = [f"Review this {language} code from {request.path or 'a file'} (lines {first}-{last}).", "",
             "```", numbered, "```"]
    if request.changed_lines is not None:
        changed = sorted(line for line in request.changed_lines if first <= line <= last)
        parts += ["", "Only these lines changed; report findings on them: " + _ranges(changed) + "."]
    if hints:
        listed = ", ".join(f"{hint.line} (`{lines.text[hint.start:hint.end].strip()}`)" for hint in hints)
        parts += ["", f"A code model found these lines unusual; look at them closely: {listed}."]
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(parts)}]


VERIFY_SYSTEM_PROMPT = "You are a careful code reviewer. Answer with one word: yes or no."


def verify_messages(request: ReviewRequest, lines: "LineTable", first: int, last: int, line: int) -> list[dict]:
    """The focused question about one line: the code first (shared by every question about it), then the line."""
    numbered = "\n".join(f"{number:>4} | {lines.line_text(number)}" for number in range(first, last + 1))
    language = request.language or "code"
    question = (f"```\n{numbered}\n```\n\nLine {line} of this {language} is:\n```\n{lines.line_text(line).strip()}\n```\n"
                f"Is line {line} correct (right operator, comparison, constant and condition)? Answer yes or no.")
    return [{"role": "system", "content": VERIFY_SYSTEM_PROMPT}, {"role": "user", "content": question}]


def _ranges(numbers: Sequence[int]) -> str:
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans) or "none"


# -- lines --------------------------------------------------------------------


class LineTable:
    """1-based lines of a text and their character offsets (\\n, \\r\\n and \\r end a line)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0]
        self._ends = []
        index = 0
        while index < len(text):
            char = text[index]
            if char in "\r\n":
                self._ends.append(index)
                index += 2 if text.startswith("\r\n", index) else 1
                self._starts.append(index)
            else:
                index += 1
        self._ends.append(len(text))
        if len(self._starts) > 1 and self._starts[-1] == len(text):
            self._starts.pop()  # a final line break does not open a line
            self._ends.pop()

    @property
    def count(self) -> int:
        return len(self._starts) if self.text else 0

    def start_of(self, line: int) -> int:
        return self._starts[line - 1]

    def end_of(self, line: int) -> int:
        """Offset of the end of the line's text (before its line break)."""
        return self._ends[line - 1]

    def code_start_of(self, line: int) -> int:
        """Offset of the line's first non-blank character (its end if it is blank)."""
        start, end = self.start_of(line), self.end_of(line)
        text = self.text[start:end]
        return start + (len(text) - len(text.lstrip())) if text.strip() else end

    def line_text(self, line: int) -> str:
        return self.text[self.start_of(line) : self.end_of(line)]

    def line_of(self, offset: int) -> int:
        low, high = 0, len(self._starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self._starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return low + 1
