"""With a calibrated `fix_warning`, a surprise finding is a warning only when the model's first choice
there is a same-shaped one-token fix (the quick fix) and the line reaches that level."""

from __future__ import annotations

from lsp_server.features.review import ReviewOptions, ReviewRequest, review

from tests.review.fakes import ScriptedModel

CODE = """def f(a, b, c, d):
    x = a * b
    y = c % d
    z = a ^ c
    w = b & d
    return x + y + z + w
"""
# "*", "%", "^" and "&" surprise the model more than "+", but only for "+" does it expect another operator.
SURPRISING = {"*": 60.0, "%": 55.0, "^": 50.0, "&": 45.0, "+": 25.0}


def _review(fix_warning, signals="surprise", verdicts=None, max_findings=3):
    model = ScriptedModel(surprising=SURPRISING, expected={"+": " -"})
    model.verdicts = verdicts or {}
    options = ReviewOptions(surprise_threshold=5.0, surprise_warning=8.0, fix_warning=fix_warning,
                            max_surprise_findings=max_findings, verify_threshold=1.0 if verdicts is not None else None)
    return {f.start_line: f for f in review(ReviewRequest(CODE, language="python", signals=signals), model, options).findings}


def test_only_the_line_with_a_same_shaped_fix_is_a_warning():
    findings = _review(fix_warning=20.0)
    assert findings[6].severity == "warning" and findings[6].suggestion == "    return x - y + z + w"
    assert {line: f.severity for line, f in findings.items() if line != 6} == {2: "info", 3: "info", 4: "info"}
    # Without fix_warning the old rule holds: the most surprising lines are warnings, fix or not.
    old = _review(fix_warning=None)
    assert old[2].severity == "warning" and 6 not in old  # line 6 is not among the top 3


def test_below_the_fix_level_nothing_is_a_warning():
    findings = _review(fix_warning=1e6)
    assert sorted(findings) == [2, 3, 4] and all(f.severity == "info" for f in findings.values())
    # Among the top lines, a fixable one below the level is info too.
    assert _review(fix_warning=1e6, max_findings=5)[6].severity == "info"


def test_the_fixable_line_is_found_even_when_three_lines_score_higher():
    findings = _review(fix_warning=20.0, max_findings=3)
    assert 6 in findings and len(findings) == 4  # the top 3 (info) and the fixable line (warning)


def test_with_both_signals_a_fix_warning_stays_and_a_confirmed_line_needs_a_fix_to_be_a_warning():
    # Line 6 is judged correct but keeps its fix warning; lines 2 and 3 are judged wrong, but the model
    # offers no same-shaped fix for them, so they stay info.
    findings = _review(fix_warning=20.0, signals="both", verdicts={2: 5.0, 3: 5.0, 6: -5.0})
    assert findings[6].severity == "warning"
    assert findings[2].severity == findings[3].severity == "info" and "judged it wrong" not in findings[2].message
    # A fixable line below the fix-warning level that the question confirms is a warning.
    findings = _review(fix_warning=1e6, signals="both", verdicts={6: 5.0}, max_findings=5)
    assert findings[6].severity == "warning" and "judged it wrong" in findings[6].message
    # Uncalibrated (no fix_warning), a confirmed line is a warning with or without a fix, as before.
    assert _review(fix_warning=None, signals="both", verdicts={2: 5.0})[2].severity == "warning"
