"""Lines changed since a git revision, from `git diff -U0` (the review's diff mode)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


class GitDiffError(ValueError):
    """git is missing, the path is not in a repository, or the revision is unknown."""


def changed_lines_from_diff(diff_text: str) -> frozenset[int]:
    """1-based line numbers in the new file that a unified diff adds or changes."""
    lines: set[int] = set()
    for match in HUNK_HEADER.finditer(diff_text):
        start = int(match.group(1))
        count = 1 if match.group(2) is None else int(match.group(2))
        lines.update(range(start, start + count))
    return frozenset(lines)


def changed_lines(path: Path, rev: str) -> frozenset[int]:
    """Lines of the working-tree `path` that differ from `rev`; every line if git does not track it."""
    path = Path(path).resolve()
    if rev.startswith("-"):
        raise GitDiffError(f"'{rev}' is not a revision; give a commit, branch or tag such as HEAD~1.")
    top = _git(path.parent, "rev-parse", "--show-toplevel").strip()
    relative = path.relative_to(Path(top).resolve()).as_posix()
    _git(path.parent, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", what=f"revision '{rev}'")
    tracked = _git(Path(top), "ls-tree", "--name-only", rev, "--", relative).strip()
    if not tracked:
        count = len(path.read_text(encoding="utf-8").splitlines())
        return frozenset(range(1, count + 1))
    diff = _git(Path(top), "diff", "--no-color", "--no-ext-diff", "-U0", rev, "--", relative)
    return changed_lines_from_diff(diff)


def _git(cwd: Path, *args: str, what: str = "") -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise GitDiffError("git is not installed; install it or review without --diff.") from None
    except subprocess.TimeoutExpired:
        raise GitDiffError("git took longer than 30 s; review without --diff or try again.") from None
    if result.returncode != 0:
        if what:
            raise GitDiffError(f"git does not know {what}; check it with `git log`.")
        first = (result.stderr.strip().splitlines() or ["git failed"])[0]
        raise GitDiffError(f"{cwd} is not usable with git ({first}); review without --diff.")
    return result.stdout
