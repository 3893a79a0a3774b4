"""The written review's output format: a JSON list of findings, its llama.cpp grammar
(GBNF) and JSON schema, and a parser that never fails on what the grammar allows.

The grammar bounds every string and the number of findings, so generation always ends;
a generation cut short by `max_tokens` still parses: the findings completed before the
cut are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")
MAX_FINDINGS = 6
MAX_MESSAGE_CHARS = 120
MAX_SUGGESTION_CHARS = 300

FINDINGS_GBNF = rf"""
root ::= "[" ws ( finding ( "," ws finding ){{0,{MAX_FINDINGS - 1}}} )? ws "]"
finding ::= "{{" ws "\"start_line\"" ws ":" ws line "," ws "\"end_line\"" ws ":" ws line "," ws "\"severity\"" ws ":" ws severity "," ws "\"message\"" ws ":" ws message ( "," ws "\"suggestion\"" ws ":" ws suggestion )? ws "}}"
line ::= [1-9] [0-9]{{0,5}}
severity ::= "\"error\"" | "\"warning\"" | "\"info\""
message ::= "\"" char{{1,{MAX_MESSAGE_CHARS}}} "\""
suggestion ::= "\"" char{{0,{MAX_SUGGESTION_CHARS}}} "\""
char ::= [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{{4}} )
ws ::= [ \t\n]{{0,3}}
""".strip() + "\n"

FINDINGS_SCHEMA: dict = {
    "type": "array",
    "maxItems": MAX_FINDINGS,
    "items": {
        "type": "object",
        "properties": {
            "start_line": {"type": "integer", "minimum": 1},
            "end_line": {"type": "integer", "minimum": 1},
            "severity": {"enum": list(SEVERITIES)},
            "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_CHARS},
            "suggestion": {"type": "string", "maxLength": MAX_SUGGESTION_CHARS},
        },
        "required": ["start_line", "end_line", "severity", "message"],
        "additionalProperties": False,
    },
}


@dataclass(frozen=True)
class RawFinding:
    """One finding as the model wrote it: 1-based lines, not yet checked against the code."""

    start_line: int
    end_line: int
    severity: str
    message: str
    suggestion: str | None = None


def parse_findings(text: str) -> list[RawFinding]:
    """Findings in `text`; malformed entries are skipped, a cut-off list keeps its complete items."""
    items = _load_list(text)
    findings = []
    for item in items:
        finding = _finding_from(item)
        if finding is not None:
            findings.append(finding)
    return findings


def _load_list(text: str) -> list:
    start = text.find("[")
    if start < 0:
        return []
    decoder = json.JSONDecoder()
    try:
        value, _ = decoder.raw_decode(text[start:])
        return value if isinstance(value, list) else []
    except json.JSONDecodeError:
        pass
    # Cut off (max_tokens): decode the objects one by one until one is incomplete.
    items = []
    position = start + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] != "{":
            return items
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return items
        items.append(value)


def _finding_from(item: object) -> RawFinding | None:
    if not isinstance(item, dict):
        return None
    start, end = item.get("start_line"), item.get("end_line", item.get("start_line"))
    severity = str(item.get("severity", "warning")).lower()
    message = item.get("message")
    suggestion = item.get("suggestion")
    if not _is_line(start) or not _is_line(end) or not isinstance(message, str) or not message.strip():
        return None
    if severity not in SEVERITIES:
        severity = "warning"
    if end < start:
        start, end = end, start
    return RawFinding(start, end, severity, message.strip(), suggestion if isinstance(suggestion, str) else None)


def _is_line(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
