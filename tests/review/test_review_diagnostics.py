"""Published findings follow edits: moved by edits above, cleared by edits on their lines."""

from lsp_server.protocol.review_diagnostics import ReviewDiagnostics, TrackedFinding, line_breaks

URI = "file:///x.py"


def finding(line: int, last: int | None = None) -> TrackedFinding:
    last = line if last is None else last
    return TrackedFinding((line, 4), (last, 10), "warning", "m", "seekcode.review", line, last, None)


def tracker(*findings: TrackedFinding) -> ReviewDiagnostics:
    diagnostics = ReviewDiagnostics()
    diagnostics.set(URI, list(findings))
    return diagnostics


def test_lines_inserted_above_move_the_finding_down():
    diagnostics = tracker(finding(5))
    assert diagnostics.edited(URI, 2, 2, "a\nb\n")  # two line breaks typed on line 2
    [moved] = diagnostics.get(URI)
    assert (moved.start, moved.end, moved.first_line, moved.last_line) == ((7, 4), (7, 10), 7, 7)


def test_lines_deleted_above_move_the_finding_up():
    diagnostics = tracker(finding(5))
    assert diagnostics.edited(URI, 1, 3, "")  # lines 1-3 joined into line 1
    assert diagnostics.get(URI)[0].start == (3, 4)


def test_an_edit_on_the_findings_lines_clears_it_and_others_stay():
    diagnostics = tracker(finding(5, 6), finding(9))
    assert diagnostics.edited(URI, 6, 6, "x")
    assert [item.first_line for item in diagnostics.get(URI)] == [9]


def test_edits_below_or_within_one_line_above_change_nothing():
    diagnostics = tracker(finding(5))
    assert not diagnostics.edited(URI, 8, 9, "y")
    assert not diagnostics.edited(URI, 1, 1, "same line")
    assert diagnostics.get(URI)[0].start == (5, 4)


def test_clear_reports_whether_there_was_anything():
    diagnostics = tracker(finding(1))
    assert diagnostics.clear(URI)
    assert not diagnostics.clear(URI)


def test_line_breaks_count_crlf_once():
    assert line_breaks("a\r\nb\rc\nd") == 3
    assert line_breaks("") == 0
