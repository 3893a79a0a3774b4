"""When the model writes exactly what the file holds, post-processing must give exactly
the masked text back: no filter may damage a correct suggestion.

Real files (Python's own textwrap/shlex, this repository's engine, the Go/JS/Rust/TS
cases) are masked at many positions: the rest of a line (single-line mode), or the body
of a block after its opener line (multi-line mode). The "raw output" is the masked text
followed by the lines that come after it, as a model that runs on into the suffix writes.
The streaming stop must give the same suggestion from the text it lets through.
"""

from __future__ import annotations

import random
import re
import sysconfig
from pathlib import Path

import pytest

from lsp_server.engine.postprocess import Context, Mode, StreamingStop, postprocess
from lsp_server.engine.postprocess.base import indent_width, opens_block

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
CASES = Path(__file__).resolve().parent / "cases"
LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust", ".java": "java"}
# Files that spell special tokens or Markdown fences as text are left out: a masked
# spelling that appears nowhere else is indistinguishable from a leaked token.
SPECIAL_SPELLINGS = re.compile(r"<\||<｜|<fim_|<eos>|<EOT>|```")
SOURCES = [
    path
    for path in [
        STDLIB / "textwrap.py",
        STDLIB / "shlex.py",
        *sorted((ROOT / "lsp_server" / "engine").rglob("*.py")),
        *sorted(path for path in CASES.iterdir() if path.suffix in LANGUAGES),
    ]
    if not SPECIAL_SPELLINGS.search(path.read_text(encoding="utf-8"))
]


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").replace("║", "").split("\n")


def single_line_cases(path: Path, rng: random.Random):
    lines = read_lines(path)
    for index in range(1, len(lines) - 1):
        line = lines[index]
        indent = len(line) - len(line.lstrip())
        word_ends = [match.end() for match in re.finditer(r"\w+\W*", line[indent:])][:-1]
        cut = indent + rng.choice([0, *word_ends])
        if not line[cut:].strip():
            continue
        prefix = "\n".join(lines[:index]) + "\n" + line[:cut]
        suffix = "\n" + "\n".join(lines[index + 1 :])
        raw = line[cut:] + "\n" + "\n".join(lines[index + 1 : index + 6])
        yield prefix, suffix, raw, line[cut:].rstrip()


def block_cases(path: Path, language: str):
    lines = read_lines(path)
    for index, line in enumerate(lines[:-1]):
        if not opens_block(line, language) or indent_width(lines[index + 1]) <= indent_width(line):
            continue
        end = index + 1
        while end < len(lines) and (not lines[end].strip() or indent_width(lines[end]) > indent_width(line)):
            end += 1
        body = lines[index + 1 : end]
        while body and not body[-1].strip():
            body.pop()
        if not body or len(body) > 12:
            continue
        after = index + 1 + len(body)
        prefix = "\n".join(lines[: index + 1])
        suffix = "\n" + "\n".join(lines[after:])
        raw = "\n" + "\n".join(body) + "\n" + "\n".join(lines[after : after + 5])
        yield prefix, suffix, raw, "\n" + "\n".join(part.rstrip() for part in body)


def test_enough_sources() -> None:
    assert len(SOURCES) >= 30


@pytest.mark.parametrize("path", SOURCES, ids=[path.name for path in SOURCES])
def test_correct_suggestions_come_through_unchanged(path: Path) -> None:
    language = LANGUAGES[path.suffix]
    rng = random.Random(path.name)
    checked = 0
    cases = [*single_line_cases(path, rng), *list(block_cases(path, language))[:40]]
    for prefix, suffix, raw, expected in cases:
        context = Context.create(prefix, suffix, language)
        if (context.mode is Mode.MULTI_LINE) != expected.startswith("\n"):
            continue  # the mode decides otherwise at this position: not the case being built
        assert postprocess(raw, context) == expected, (prefix[-80:], raw[:120])
        stop = StreamingStop(context)
        for start in range(0, len(raw), 3):
            if stop.feed(raw[start : start + 3]):
                break
        assert postprocess(stop.text, context) == expected, ("streaming", prefix[-80:], stop.text)
        checked += 1
    assert checked > 0
