"""SARIF 2.1.0 output: valid against the OASIS schema (vendored), in the shape code scanning reads."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from lsp_server.features.review import RULE_REVIEW, RULE_SURPRISE, Finding, LineTable
from lsp_server.features.sarif import FileReview, artifact_uri, sarif_log

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
TEXT = "def f(x):\n    label = 'é😀'; return x - 1\n"


def validate(log: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def findings() -> list[Finding]:
    lines = LineTable(TEXT)
    minus = TEXT.index("x - 1")
    return [
        Finding(2, 2, "error", "off by one", RULE_REVIEW, lines.code_start_of(2), lines.end_of(2),
                suggestion="    label = 'é😀'; return x"),
        Finding(2, 2, "info", "unusual", RULE_SURPRISE, minus, minus + 5, score=4.5),
    ]


def test_log_validates_and_has_the_code_scanning_shape():
    log = sarif_log([FileReview("src/f.py", TEXT, findings())], "0.1.0")
    validate(log)
    json.dumps(log)  # plain JSON
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "seekcode"
    assert [rule["id"] for rule in driver["rules"]] == [RULE_REVIEW, RULE_SURPRISE]
    review, surprise = run["results"]
    assert (review["ruleId"], review["level"], review["message"]["text"]) == (RULE_REVIEW, "error", "off by one")
    assert surprise["level"] == "note"
    location = review["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "src/f.py"
    line_end_column = len(TEXT.splitlines()[1].encode("utf-16-le")) // 2 + 1  # 32: the emoji is two units
    assert line_end_column == 32
    assert location["region"] == {"startLine": 2, "startColumn": 5, "endLine": 2, "endColumn": line_end_column}
    # UTF-16 columns: 'é' is one code unit, '😀' two.
    assert surprise["locations"][0]["physicalLocation"]["region"]["startColumn"] == len("    label = 'é😀'; return ".encode("utf-16-le")) // 2 + 1
    [fix] = review["fixes"]
    [change] = fix["artifactChanges"]
    [replacement] = change["replacements"]
    assert replacement["deletedRegion"] == {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": line_end_column}
    assert replacement["insertedContent"]["text"] == "    label = 'é😀'; return x"
    assert "fixes" not in surprise


def test_empty_review_is_a_valid_log():
    log = sarif_log([FileReview("a.py", "", [])], "0.1.0")
    validate(log)
    assert log["runs"][0]["results"] == []


def test_a_broken_log_fails_validation():
    # The schema check itself must be able to fail: a result without a message is invalid.
    log = sarif_log([FileReview("src/f.py", TEXT, findings())], "0.1.0")
    del log["runs"][0]["results"][0]["message"]
    try:
        validate(log)
    except jsonschema.ValidationError:
        return
    raise AssertionError("a result without a message validated")


def test_artifact_uri_is_relative_inside_the_root(tmp_path):
    inside = tmp_path / "pkg" / "m.py"
    inside.parent.mkdir()
    inside.write_text("x = 1\n")
    assert artifact_uri(inside, tmp_path) == "pkg/m.py"
    assert artifact_uri(inside, tmp_path / "other").startswith("file:///")
