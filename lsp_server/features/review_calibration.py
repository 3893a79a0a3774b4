"""Calibrate a model's review thresholds once, on held-out clean code, and cache them.

    calibration_for(model, model_path, ...) -> Calibration | None   # cached, or computed now
    options_for(calibration, base) -> ReviewOptions

The thresholds (engine/calibration.py) come from the model's own scores on the corpus:
1. surprise: each corpus function's worst line score; the info and warning thresholds are
   the levels that at most P_INFO / P_WARNING of these functions reach; the fix-warning
   threshold likewise from each function's worst line that has a same-shaped quick fix;
   the fix margin first: each fixable line's fix is scored in context (the fixed text against the
   original as a whole, engine/surprise.py `fix_gain`); the margin is the gain that at most P_INFO of
   the functions' best fixes reach, and never below 0 (a kept fix is always more likely as a whole);
   fixes below it are dropped; the fix-warning threshold is still read off every line with a fix;
2. focused verification (models that can be asked): each function's lines at or above the
   info threshold are put to the model ("is line N correct?"); the verification threshold is
   the log-odds that at most P_WARNING of the functions' worst-judged lines reach.
A `Calibrator` keeps what it has scored, so a run stopped by `abort` (a keystroke's completion
preempting the review) resumes where it was. The cache file is keyed by the GGUF's SHA-256.
"""

from __future__ import annotations

import logging
import math
import platform
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lsp_server.engine import calibration as cal
from lsp_server.features.review import (
    LineTable, ReviewModel, ReviewOptions, ReviewRequest, WrittenReviewUnavailable, same_shaped_fix, scored_lines,
    verify_messages,
)
from lsp_server.engine.surprise import fix_gain

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, what)


class Calibrator:
    def __init__(self, model: ReviewModel, model_sha256: str, options: ReviewOptions = ReviewOptions(),
                 functions: list[cal.CorpusFunction] | None = None, verify: bool = True) -> None:
        self.model = model
        self.model_sha256 = model_sha256
        self.options = options
        self.functions = functions if functions is not None else cal.corpus()
        self.verify = verify
        self._lines: dict[str, list] = {}  # label -> the function's scored lines
        self._verdicts: dict[str, float] = {}  # label -> its candidates' worst log P(no) - log P(yes)
        self._gains: dict[str, dict[int, float]] = {}  # label -> line -> its fix's gain in context

    def run(self, abort: threading.Event | None = None, progress: Progress | None = None) -> cal.Calibration | None:
        """The calibration; None if aborted (what was scored is kept for the next run)."""
        if not self.functions:
            raise ValueError("the calibration corpus is empty: none of its standard-library modules could be read.")
        scorer = self.model.surprise_scorer()
        if scorer is None:
            return None
        total = len(self.functions) * (3 if self.verify else 2)
        for index, function in enumerate(self.functions):
            if function.label in self._lines:
                continue
            if progress:
                progress(index, total, f"scoring {function.label}")
            lines = scored_lines(function.source, "python", scorer, None, self.options.surprise_metric, abort)
            if lines is None:
                return None
            self._lines[function.label] = lines
        for index, function in enumerate(self.functions):
            if function.label in self._gains:
                continue
            if progress:
                progress(len(self.functions) + index, total, f"fixes of {function.label} in context")
            gains = self._fix_gains(function, scorer, abort)
            if gains is None:
                return None
            self._gains[function.label] = gains
        worst = [max((line.score for line in lines if math.isfinite(line.score)), default=-math.inf)
                 for lines in self._lines.values()]
        info = cal.threshold(worst, cal.P_INFO)
        warning = max(cal.threshold(worst, cal.P_WARNING), info)  # monotone: a warning is at least info
        best_gain = [max(self._gains[function.label].values(), default=-math.inf) for function in self.functions]
        fix_margin = max(0.0, cal.threshold(best_gain, cal.P_INFO))
        # The fix-warning level is read off every same-shaped fix, kept in context or not: the margin is a
        # further test, not a reason to lower it (read off the few kept fixes only, it would rest on a
        # handful of values; with v4, that lowered it and added false alarms on held-out functions).
        worst_fixable = [max((line.score for line in self._lines[function.label] if line.line in self._gains[function.label]),
                             default=-math.inf) for function in self.functions]
        fix_warning = cal.threshold(worst_fixable, cal.P_WARNING)
        verify = None
        if self.verify:
            verify = self._verify_threshold(info, abort, progress, total)
            if verify is False:
                return None
        return cal.Calibration(self.model_sha256, self.options.surprise_metric, info, warning, verify,
                               len(self.functions), fix_warning=fix_warning, fix_margin=fix_margin,
                               python=platform.python_version())

    def _fix_gains(self, function: cal.CorpusFunction, scorer, abort) -> dict[int, float] | None:
        """Each line with a same-shaped fix: how much more likely the fixed text is as a whole (any score:
        the review checks the fixes of lines at either level, and the levels are not known yet)."""
        table = LineTable(function.source)
        gains = {}
        for line in self._lines[function.label]:
            fix = same_shaped_fix(line, table) if math.isfinite(line.score) else None
            if fix is None:
                continue
            gain = fix_gain(function.source, line.start, line.end, fix, scorer, abort)
            if gain is None:
                return None
            gains[line.line] = gain
        return gains

    def _verify_threshold(self, info: float, abort, progress, total) -> float | None | bool:
        for index, function in enumerate(self.functions):
            if function.label in self._verdicts:
                continue
            if progress:
                progress(2 * len(self.functions) + index, total, f"asking about {function.label}")
            candidates = sorted((line for line in self._lines[function.label] if line.score >= info),
                                key=lambda line: -line.score)[: self.options.max_surprise_findings]
            request = ReviewRequest(function.source, language="python")
            table = LineTable(function.source)
            answers = []
            for line in candidates:
                try:
                    answer = self.model.yes_no(verify_messages(request, table, 1, table.count, line.line), abort)
                except WrittenReviewUnavailable as error:  # e.g. too long for a small context: not asked
                    logger.info("%s not asked about: %s", function.label, error)
                    break
                if answer is None:
                    return False
                answers.append(answer)
            self._verdicts[function.label] = max(answers, default=-math.inf)
        verdicts = list(self._verdicts.values())
        if not any(math.isfinite(value) for value in verdicts):
            return None  # the model could be asked about no line: no verification for it
        return cal.threshold(verdicts, cal.P_WARNING)


def options_for(calibration: cal.Calibration | None, base: ReviewOptions = ReviewOptions()) -> ReviewOptions:
    if calibration is None:
        return base
    return replace(base, surprise_metric=calibration.metric, surprise_threshold=calibration.info,
                   surprise_warning=calibration.warning, verify_threshold=calibration.verify,
                   fix_warning=calibration.fix_warning, fix_margin=calibration.fix_margin)


_sha_memo: dict[tuple[str, int, int], str] = {}


def model_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _sha_memo:
        _sha_memo[key] = cal.file_sha256(path)
    return _sha_memo[key]


# Runs stopped by an abort, by cache file: the next review of the process resumes them.
_stopped_runs: dict[Path, Calibrator] = {}


def calibration_for(
    model: ReviewModel, model_path: Path, cache_dir: Path | None = None, options: ReviewOptions = ReviewOptions(),
    abort: threading.Event | None = None, progress: Progress | None = None,
    calibrators: dict | None = None, functions: list[cal.CorpusFunction] | None = None,
) -> cal.Calibration | None:
    """The model's calibration from the cache, or computed now (and cached); None if aborted.

    `calibrators` holds a stopped run so the next call resumes it (default: this process's).
    """
    from lsp_server.backend.probe import cache_dir as default_cache_dir

    sha = model_sha256(Path(model_path))
    path = cal.cache_file(cache_dir or default_cache_dir(), sha, options.surprise_metric)
    cached = cal.load_cached(path, sha, options.surprise_metric)
    if cached is not None:
        return cached
    calibrators = _stopped_runs if calibrators is None else calibrators
    calibrator = calibrators.get(path) or Calibrator(model, sha, options, functions)
    calibrators[path] = calibrator
    logger.info("calibrating the review for %s on %d held-out functions", model_path, len(calibrator.functions))
    result = calibrator.run(abort, progress)
    if result is None:
        return None
    cal.save(path, result)
    calibrators.pop(path, None)
    logger.info("review calibration: info %.2f, warning %.2f, verify %s", result.info, result.warning, result.verify)
    return result


def calibrated_options(model, abort: threading.Event | None = None,
                       progress: Progress | None = None) -> ReviewOptions | None:
    """The review options for `model`: calibrated when it can be (a model with a GGUF file:
    `model.calibration`), the fixed defaults otherwise (scripted test models); None if aborted."""
    calibrate = getattr(model, "calibration", None)
    if calibrate is None or getattr(getattr(model, "backend", None), "model_path", None) is None:
        return ReviewOptions()
    calibration = calibrate(abort, progress)
    return None if calibration is None else options_for(calibration)
