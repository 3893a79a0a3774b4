"""Per-model calibration of the review's surprise signal: thresholds from clean code.

A surprise score is a robust z-score against the file's own tokens, but how far a model's
worst line on correct code reaches depends on the model (a sharp model's spread is tiny,
so its scores run into the tens; a weak model's stay small). So each model's thresholds
are read off its own scores on a held-out corpus of correct code: the warning threshold
is the score that the worst line of at most `P_WARNING` of clean functions reaches, the
info threshold the one at most `P_INFO` reach; the fix margin the gain in likelihood of the whole
text (engine/surprise.py `fix_gain`) that the best same-shaped quick fix (features/review.py
`same_shaped_fix`) of at most `P_INFO` of the functions reaches (at least 0); the fix-warning threshold
the one that the worst line with a same-shaped quick fix of at most `P_WARNING` reach (the review then
warns only about such lines whose fix clears the margin); the focused verification's threshold
likewise (of clean functions, at most `P_WARNING` get a candidate the model judges wrong).

The corpus is standard-library functions of the running Python, read with `inspect`
(nothing copied into this project), from modules that the review benchmark
(bench/assist) never uses: `CORPUS_MODULES`. tests/review checks that the two are
disjoint, so no benchmark function ever tunes a threshold.

Plain data and arithmetic here; features/review_calibration.py runs a model over the corpus.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import math
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

# Bump when the corpus, the scores or the rule change: older cached calibrations are then ignored.
VERSION = 5  # 2: fix_warning; 3: a fix swaps only operators of a fixed list (features/review.py `_same_shape`);
# 4: fix_margin, a fix is kept only when the fixed text is more likely as a whole (engine/surprise.py `fix_gain`),
# fix_warning read off the kept fixes; 5: fix_warning read off every same-shaped fix again, the margin a further test
P_WARNING = 0.02  # a clean function gets a warning with at most this probability (on the corpus)
P_INFO = 0.25  # ... an info finding (also: the lines that focused verification looks at)

# Standard-library modules whose functions calibrate; none is (or is inside, or holds) a module of
# the review benchmark's lists (bench/assist/stdlib_cases.py and review_cases.py).
CORPUS_MODULES = (
    "argparse", "configparser", "gzip", "queue", "sched", "shutil", "tempfile", "dataclasses", "enum",
    "contextlib", "plistlib", "smtplib", "ftplib", "imaplib", "poplib", "optparse", "getopt", "cmd",
    "filecmp", "graphlib", "subprocess", "threading", "logging", "http.client", "http.cookiejar",
    "email.header", "email.message", "collections", "traceback", "linecache", "codecs", "runpy",
    "pkgutil", "pyclbr", "compileall", "tabnanny", "timeit", "trace", "bdb", "doctest", "unittest.case",
    "xml.dom.minidom", "mailbox", "hmac", "uuid", "_pydecimal", "urllib.request", "http.server",
    "socketserver", "selectors", "zipapp", "shelve", "wsgiref.util", "chunk", "aifc", "sunau",
)
MIN_LINES, MAX_LINES = 5, 40  # as the benchmark's functions
PER_MODULE = 3  # spread over many modules
CORPUS_SIZE = 120


@dataclass(frozen=True)
class CorpusFunction:
    label: str  # module.qualname
    source: str  # dedented, docstring included (reviews see docstrings too)


def corpus(limit: int = CORPUS_SIZE, modules: Sequence[str] = CORPUS_MODULES,
           per_module: int = PER_MODULE) -> list[CorpusFunction]:
    """Functions and methods of MIN_LINES..MAX_LINES lines from `modules`, in a fixed order."""
    found: list[CorpusFunction] = []
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 (a module missing from this Python, or one that fails to import)
            continue
        taken = 0
        for label, function in _functions_of(module):
            try:
                source = textwrap.dedent(inspect.getsource(function))
                tree = ast.parse(source)
            except (OSError, TypeError, SyntaxError, IndentationError):
                continue
            if not MIN_LINES <= source.count("\n") <= MAX_LINES or not isinstance(tree.body[0], ast.FunctionDef):
                continue
            found.append(CorpusFunction(label, source))
            taken += 1
            if len(found) >= limit:
                return found
            if taken >= per_module:
                break
    return found


def _functions_of(module) -> list[tuple[str, object]]:
    """(module.qualname, function) of the module's own functions and its classes' methods, by name."""
    items = []
    for name, value in sorted(vars(module).items()):
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            items.append((f"{module.__name__}.{name}", value))
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for method_name, method in sorted(vars(value).items()):
                if inspect.isfunction(method) and not method_name.startswith("__"):
                    items.append((f"{module.__name__}.{name}.{method_name}", method))
    return items


@dataclass(frozen=True)
class Calibration:
    model_sha256: str
    metric: str
    info: float  # surprise score thresholds (robust z-scores, engine/surprise.py)
    warning: float
    verify: float | None  # log P(no) - log P(yes) threshold; None: the model was not asked
    functions: int  # corpus functions scored
    # The surprise score that, among lines whose surprising token the model would swap for a
    # same-shaped one (the quick fix), at most P_WARNING of the functions' worst such lines reach.
    fix_warning: float | None = None
    # log P(fixed) - log P(original) as a whole that a fix needs to be kept: the level at most P_INFO of
    # the functions' best fixes reach, at least 0 (a further test; fix_warning is read off every fix).
    fix_margin: float | None = None
    p_warning: float = P_WARNING
    p_info: float = P_INFO
    version: int = VERSION
    python: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Calibration":
        data = json.loads(text)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def threshold(values: Sequence[float], rate: float) -> float:
    """The smallest threshold that at most `rate` of `values` reach (value >= threshold).

    With n values, floor(rate * n) of them may reach it: the threshold sits just above the
    next largest. Infinite values (nothing scored) never reach any threshold.
    """
    ordered = sorted((value for value in values if math.isfinite(value)), reverse=True)
    if not ordered:
        return math.inf
    allowed = math.floor(rate * len(values))
    if allowed >= len(ordered):
        return -math.inf if len(ordered) == len(values) else min(ordered)
    return math.nextafter(ordered[allowed], math.inf)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cache_file(cache_dir: Path, model_sha256: str, metric: str) -> Path:
    return cache_dir / "review-calibration" / f"{model_sha256[:32]}-{metric}-v{VERSION}.json"


def load_cached(path: Path, model_sha256: str, metric: str) -> Calibration | None:
    """A cached calibration for this model, or None (missing, unreadable, or made differently)."""
    try:
        calibration = Calibration.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if (calibration.model_sha256, calibration.metric, calibration.version) != (model_sha256, metric, VERSION):
        return None
    return calibration


def save(path: Path, calibration: Calibration) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(calibration.to_json(), encoding="utf-8")
    temporary.replace(path)
