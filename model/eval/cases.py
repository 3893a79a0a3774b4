"""The evaluation sample: held-out lines with the text before and after them.

A case masks one non-blank line of a held-out file. The prefix is the whole lines before it that
fit in ``prefix_chars`` (and the line's own indentation is part of the middle), the suffix the
whole lines after it that fit in ``suffix_chars``; every predictor gets the same windows.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from model.train.data import SourceFile


@dataclass(frozen=True)
class LineCase:
    path: str
    line_number: int  # 1-based
    prefix: str
    line: str  # the masked line, without its newline
    suffix: str  # starts after the masked line's newline

    @property
    def expected(self) -> str:
        return self.line.strip()


def _window_before(lines: Sequence[str], end: int, budget: int) -> str:
    start = end
    size = 0
    while start > 0 and size + len(lines[start - 1]) <= budget:
        start -= 1
        size += len(lines[start])
    return "".join(lines[start:end])


def _window_after(lines: Sequence[str], start: int, budget: int) -> str:
    end = start
    size = 0
    while end < len(lines) and size + len(lines[end]) <= budget:
        size += len(lines[end])
        end += 1
    return "".join(lines[start:end])


def sample_cases(files: Sequence[SourceFile], count: int, seed: int = 0, prefix_chars: int = 1000,
                 suffix_chars: int = 300, max_line_chars: int = 120) -> list[LineCase]:
    """``count`` cases drawn without replacement from the non-blank lines (shorter than ``max_line_chars``)."""
    candidates: list[tuple[int, int]] = []
    split = []
    for file_index, f in enumerate(sorted(files, key=lambda f: f.digest)):
        lines = f.text.splitlines(keepends=True)
        split.append((f, lines))
        candidates.extend((file_index, i) for i, line in enumerate(lines)
                          if line.strip() and len(line) <= max_line_chars and line.endswith("\n"))
    if len(candidates) < count:
        raise ValueError(f"the held-out files have {len(candidates)} usable lines, fewer than {count} cases; "
                         "ask for fewer cases or hold out more files.")
    chosen = sorted(random.Random(seed).sample(candidates, count))
    cases = []
    for file_index, i in chosen:
        f, lines = split[file_index]
        cases.append(LineCase(path=f.path, line_number=i + 1, prefix=_window_before(lines, i, prefix_chars),
                              line=lines[i].rstrip("\n"), suffix=_window_after(lines, i + 1, suffix_chars)))
    return cases


def case_set_id(cases: Sequence[LineCase]) -> str:
    """A short digest of the cases, so results of different runs are only compared on the same sample."""
    payload = json.dumps([asdict(c) for c in cases], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:12]


def exact_match(prediction: str, case: LineCase) -> bool:
    return prediction.strip() == case.expected
