"""Review findings as SARIF 2.1.0, in the shape ruff and semgrep emit for GitHub code scanning:
one run, `tool.driver` with its rules, results with `ruleId`, `level`, `message` and a
`physicalLocation` with a `region`; a suggested replacement goes in `fixes[].artifactChanges`.

Columns are 1-based UTF-16 code units (SARIF's default `columnKind`, which GitHub reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lsp_server.features.review import RULE_REVIEW, RULE_SURPRISE, Finding, LineTable

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/seekcode/seekcode"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}

RULES = {
    RULE_REVIEW: (
        "WrittenReview",
        "A defect found by the model's written review of the code.",
        "warning",
    ),
    RULE_SURPRISE: (
        "UnusualCode",
        "Code a language model found far less likely than the rest of its file; often a typo-level bug.",
        "note",
    ),
}


@dataclass(frozen=True)
class FileReview:
    uri: str  # relative POSIX path (or file URI) as it should appear in the log
    text: str
    findings: Sequence[Finding]
    path: str = ""  # the path as the user gave it, for text and JSON output


def artifact_uri(path: Path, root: Path) -> str:
    """A path relative to `root` when inside it (what code scanning matches), else a file URI."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return resolved.as_uri()


def sarif_log(reviews: Sequence[FileReview], version: str) -> dict:
    rule_ids = list(RULES)
    results = [
        _result(review, finding, rule_ids.index(finding.rule))
        for review in reviews
        for finding in review.findings
    ]
    rules = [
        {
            "id": rule_id,
            "name": name,
            "shortDescription": {"text": description.split(":")[0].split(";")[0]},
            "fullDescription": {"text": description},
            "defaultConfiguration": {"level": level},
            "helpUri": INFORMATION_URI,
        }
        for rule_id, (name, description, level) in RULES.items()
    ]
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "seekcode",
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "utf16CodeUnits",
                "results": results,
            }
        ],
    }


def _result(review: FileReview, finding: Finding, rule_index: int) -> dict:
    lines = LineTable(review.text)
    location = {"uri": review.uri}
    result = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": {"artifactLocation": location, "region": region(lines, finding.start, finding.end)}}],
    }
    if finding.suggestion is not None and finding.end_line <= lines.count:
        replaced = region(lines, lines.start_of(finding.start_line), lines.end_of(finding.end_line))
        result["fixes"] = [
            {
                "description": {"text": f"Replace lines {finding.start_line}-{finding.end_line} with the suggestion"},
                "artifactChanges": [
                    {
                        "artifactLocation": location,
                        "replacements": [{"deletedRegion": replaced, "insertedContent": {"text": finding.suggestion}}],
                    }
                ],
            }
        ]
    return result


def region(lines: LineTable, start: int, end: int) -> dict:
    start_line, end_line = lines.line_of(start), lines.line_of(max(start, end))
    return {
        "startLine": start_line,
        "startColumn": utf16_column(lines, start_line, start),
        "endLine": end_line,
        "endColumn": utf16_column(lines, end_line, max(start, end)),
    }


def utf16_column(lines: LineTable, line: int, offset: int) -> int:
    before = lines.text[lines.start_of(line) : offset] if lines.count else ""
    return len(before.encode("utf-16-le", "surrogatepass")) // 2 + 1
