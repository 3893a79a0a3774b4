"""`seekcode-lsp review`: formats, exit codes, --diff; the review model scripted (placement is
exact) or the real tiny GGUF (the output is well-formed whatever a random model says)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
CODE = '''def mean(values):
    total = 0
    for value in values:
        total += value
    return total / (len(values) + 1)
'''


def finding(line: int, severity: str, message: str = "m", **extra) -> dict:
    return {"start_line": line, "end_line": line, "severity": severity, "message": message, **extra}


def run(args: list[str], answer: list[dict] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI in a subprocess; with `answer`, its review model is scripted."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SEEKCODE_MODEL": ""}
    if answer is not None:
        env["SEEKCODE_TEST_REVIEW"] = json.dumps({"answer": json.dumps(answer)})
        command = [sys.executable, "-m", "tests.review.scripted_server", "review", *args]
    else:
        command = [sys.executable, "-m", "lsp_server", "review", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd or REPO_ROOT, env=env, timeout=600)


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "stats.py"
    path.write_text(CODE, encoding="utf-8")
    return path


def model_args(tiny_gguf) -> list[str]:
    return ["--model", str(tiny_gguf), "--threads", "2"]


def test_text_format_prints_compiler_style_lines(source, tiny_gguf):
    result = run([str(source), *model_args(tiny_gguf), "--signals", "written"],
                 [finding(5, "error", "divides by one more than the count"), finding(9, "error", "past the end")])
    assert result.returncode == 1, result.stderr
    assert result.stdout == f"{source}:5:5: error: divides by one more than the count\n"


def test_json_format(source, tiny_gguf):
    result = run([str(source), *model_args(tiny_gguf), "--format", "json", "--signals", "written"],
                 [finding(5, "warning", "off by one", suggestion="    return total / len(values)")])
    assert result.returncode == 0, result.stderr  # --fail-on error, and the finding is a warning
    [item] = json.loads(result.stdout)
    assert item == {"path": str(source), "start_line": 5, "end_line": 5, "severity": "warning",
                    "message": "off by one", "suggestion": "    return total / len(values)", "rule": "seekcode.review"}


@pytest.mark.parametrize("fail_on, severity, status", [
    ("error", "error", 1), ("error", "warning", 0), ("warning", "warning", 1), ("warning", "info", 0),
    ("info", "info", 1), ("never", "error", 0),
])
def test_exit_status_follows_fail_on(source, tiny_gguf, fail_on, severity, status):
    result = run([str(source), *model_args(tiny_gguf), "--signals", "written", "--fail-on", fail_on],
                 [finding(2, severity)])
    assert result.returncode == status, result.stderr


@pytest.mark.parametrize("args, words", [
    (["missing.py"], "does not exist"),
    (["stats.py", "--format", "xml"], "invalid choice"),
    (["stats.py", "--fail-on", "critical"], "invalid choice"),
    (["stats.py", "--diff", "no-such-rev"], "does not know revision"),
])
def test_bad_usage_exits_2_with_one_sentence(source, tiny_gguf, args, words):
    subprocess.run(["git", "init", "-q"], cwd=source.parent, check=True)
    result = run([*args, *model_args(tiny_gguf)], [], cwd=source.parent)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_diff_keeps_only_findings_on_changed_lines(source, tiny_gguf):
    folder = source.parent
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    subprocess.run([*git, "add", "stats.py"], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=folder, check=True)
    source.write_text(CODE.replace("total = 0", "total = 1"), encoding="utf-8")
    answer = [finding(2, "error", "starts at one"), finding(5, "error", "unchanged line")]
    result = run(["stats.py", *model_args(tiny_gguf), "--diff", "HEAD", "--format", "json", "--signals", "written"],
                 answer, cwd=folder)
    assert [item["message"] for item in json.loads(result.stdout)] == ["starts at one"], result.stderr
    assert result.returncode == 1


def test_sarif_from_the_real_tiny_model_validates(source, tiny_gguf):
    result = run([str(source), *model_args(tiny_gguf), "--format", "sarif", "--fail-on", "never"])
    assert result.returncode == 0, result.stderr
    log = json.loads(result.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    for item in log["runs"][0]["results"]:
        region = item["locations"][0]["physicalLocation"]["region"]
        assert 1 <= region["startLine"] <= region["endLine"] <= CODE.count("\n")


def test_text_from_the_real_tiny_model_is_well_formed(source, tiny_gguf):
    result = run([str(source), *model_args(tiny_gguf), "--fail-on", "info"])
    lines = result.stdout.splitlines()
    assert result.returncode == (1 if lines else 0), result.stderr
    for line in lines:
        assert re.fullmatch(r".+:\d+:\d+: (error|warning|info): .+", line)
