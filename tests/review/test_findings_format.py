"""The written review's JSON: parsing is total, cut-off lists keep complete findings."""

from __future__ import annotations

import json

from lsp_server.engine.findings import FINDINGS_GBNF, FINDINGS_SCHEMA, RawFinding, parse_findings
from lsp_server.engine.gitdiff import changed_lines_from_diff


def test_parses_a_complete_list():
    text = json.dumps([{"start_line": 3, "end_line": 4, "severity": "error", "message": "bad", "suggestion": "x = 1"}])
    assert parse_findings(text) == [RawFinding(3, 4, "error", "bad", "x = 1")]


def test_cut_off_list_keeps_complete_items():
    text = '[{"start_line": 2, "end_line": 2, "severity": "info", "message": "a"}, {"start_line": 5, "end_l'
    assert parse_findings(text) == [RawFinding(2, 2, "info", "a")]


def test_malformed_items_are_skipped_and_junk_is_empty():
    text = json.dumps([
        {"start_line": 0, "end_line": 1, "severity": "error", "message": "line 0"},
        {"start_line": 2, "end_line": 2, "severity": "error", "message": ""},
        {"start_line": True, "end_line": 2, "severity": "error", "message": "bool"},
        {"start_line": 7, "end_line": 6, "severity": "fatal", "message": "reversed"},
        "text",
    ])
    assert parse_findings(text) == [RawFinding(6, 7, "warning", "reversed")]
    assert parse_findings("no json here") == []
    assert parse_findings("") == []


def test_grammar_and_schema_name_the_same_fields():
    for name in ("start_line", "end_line", "severity", "message", "suggestion"):
        assert f'\\"{name}\\"' in FINDINGS_GBNF
        assert name in FINDINGS_SCHEMA["items"]["properties"]


def test_changed_lines_from_a_zero_context_diff():
    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
        "@@ -3 +3 @@ def f():\n-    a\n+    b\n"
        "@@ -10,0 +11,2 @@\n+new\n+new\n"
        "@@ -20,3 +22,0 @@\n-gone\n-gone\n-gone\n"
    )
    assert changed_lines_from_diff(diff) == {3, 11, 12}
