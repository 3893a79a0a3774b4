"""Review findings as they stand in an open document: published diagnostics that follow edits.

An edit wholly above a finding moves it by the lines the edit added or removed; an edit
that touches any of its lines clears it (the code it was about changed); edits below
leave it alone. Positions here are LSP (line, character) pairs in the session's
encoding, recorded when the review's findings were published.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

LINE_BREAKS = ("\r\n", "\n", "\r")


@dataclass(frozen=True)
class TrackedFinding:
    start: tuple[int, int]  # (line, character), 0-based
    end: tuple[int, int]
    severity: str
    message: str
    rule: str
    first_line: int  # 0-based lines a quick fix replaces (whole lines)
    last_line: int
    suggestion: str | None = None

    def moved(self, lines: int) -> "TrackedFinding":
        return replace(
            self,
            start=(self.start[0] + lines, self.start[1]),
            end=(self.end[0] + lines, self.end[1]),
            first_line=self.first_line + lines,
            last_line=self.last_line + lines,
        )


def line_breaks(text: str) -> int:
    count, index = 0, 0
    while index < len(text):
        if text.startswith("\r\n", index):
            index += 2
        elif text[index] in "\r\n":
            index += 1
        else:
            index += 1
            continue
        count += 1
    return count


class ReviewDiagnostics:
    """Findings per document URI, with the version of the review that produced them."""

    def __init__(self) -> None:
        self._findings: dict[str, list[TrackedFinding]] = {}

    def set(self, uri: str, findings: list[TrackedFinding]) -> None:
        self._findings[uri] = list(findings)

    def get(self, uri: str) -> list[TrackedFinding]:
        return list(self._findings.get(uri, ()))

    def clear(self, uri: str) -> bool:
        """Forget a document's findings; True if it had any (they must be unpublished)."""
        return bool(self._findings.pop(uri, None))

    def edited(self, uri: str, start_line: int, end_line: int, new_text: str) -> bool:
        """Apply one edit of lines start_line..end_line (pre-edit numbering); True if anything changed."""
        findings = self._findings.get(uri)
        if not findings:
            return False
        delta = line_breaks(new_text) - (end_line - start_line)
        kept: list[TrackedFinding] = []
        changed = False
        for finding in findings:
            if end_line < finding.start[0] and end_line < finding.first_line:
                kept.append(finding.moved(delta) if delta else finding)
                changed |= bool(delta)
            elif start_line > max(finding.end[0], finding.last_line):
                kept.append(finding)
            else:
                changed = True  # the edit touches the finding's lines: the code it was about changed
        self._findings[uri] = kept
        return changed
