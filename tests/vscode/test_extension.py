"""The extension end to end: the built .vsix in code-server, in headless Chromium, talking to the
real seekcode-lsp with the bundled model. Waits are on conditions; nothing here asserts a time.

Run alone: PYTHONPATH=$PWD python -m pytest tests/vscode -x  (scripts/install-vscode-e2e.sh first).
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from tests.vscode.conftest import ARTIFACTS
from tests.vscode.workbench import (
    MODEL_TIMEOUT_MS, UI_TIMEOUT_MS, clear_notifications, go_to_line, notification, open_file, pick, run_command, save,
    shown_ghost_text, status_item, wait_file, wait_for_paths, wait_problems_of, wait_ghost_text, watch_ghost_text,
)

pytestmark = pytest.mark.slow

BUNDLED_MODEL_LABEL = "seekcode-coder-q8_0"
GHOST_FILE = "ghost.py"
# Typed after the last line; no brackets or quotes, so auto-closing leaves it as typed. The bundled
# model suggests "(b):" here (seekcode-lsp complete gives the same); the test checks whatever it shows.
GHOST_TYPED = "def div"
MANUAL_FILE = "manual.py"
WORDS_FILE = "words.py"
WORDS_TYPED = "def mul"  # the bundled model suggests "(b, b):"
DOCSTRING_FILE = "docstring.py"
REVIEW_FILE = "review.py"
TESTS_FILE = "stats.py"
CHANGES_FILE = "changes.py"


def record_latency(milliseconds: float, ghost: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "ghost-latency.jsonl").open("a") as out:
        out.write(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "keystroke_to_ghost_ms": round(milliseconds, 1), "ghost": ghost}) + "\n")
    print(f"\nkeystroke -> ghost text: {milliseconds:.0f} ms ({ghost!r})")


def not_offered(page, command: str):
    """The notification the extension shows when the server does not advertise `command`."""
    return notification(page, f"does not offer {re.escape(command)}")


def skip_unless_offered(page, command: str) -> None:
    """A server without the command (its branch not merged yet) is a skip, with the reason."""
    if not_offered(page, command).is_visible():
        pytest.skip(f"this seekcode-lsp does not advertise {command} in executeCommandProvider")


def wait_model_loaded(page) -> None:
    # The status bar names the model once the server has loaded it (its "loaded ..." log line).
    status_item(page, BUNDLED_MODEL_LABEL).wait_for(timeout=MODEL_TIMEOUT_MS)


def test_ghost_text_from_the_bundled_model_and_tab_accepts(vscode):
    page = vscode.page
    open_file(page, GHOST_FILE)
    wait_model_loaded(page)
    before = (vscode.workspace / GHOST_FILE).read_text()
    page.keyboard.press("Control+End")
    watch_ghost_text(page)
    page.keyboard.type(GHOST_TYPED, delay=40)
    ghost, latency_ms = wait_ghost_text(page)
    record_latency(latency_ms, ghost)
    assert ghost.strip(), "ghost text was shown empty"
    page.screenshot(path=str(ARTIFACTS / "ghost-text.png"))  # the README's picture

    ghost = shown_ghost_text(page) or ghost  # what Tab takes, should it have changed meanwhile
    page.keyboard.press("Tab")
    save(page)
    after = (vscode.workspace / GHOST_FILE).read_text()
    typed_up_to_cursor = before + GHOST_TYPED
    # The buffer holds what was there, what was typed, then the suggestion that was shown.
    assert after.startswith(typed_up_to_cursor), after
    accepted = after[len(typed_up_to_cursor):]
    assert accepted.strip(), f"Tab inserted nothing; file:\n{after}"
    first_ghost_line = ghost.splitlines()[0].rstrip()
    assert accepted.startswith(first_ghost_line), (accepted, ghost)


def test_a_resting_cursor_is_prefilled_by_the_server(vscode):
    """The extension tells the server where the cursor rests (seekcode/cursor); the server then
    evaluates the prompt at exactly that place, before anything is typed."""
    page = vscode.page
    open_file(page, REVIEW_FILE)
    wait_model_loaded(page)
    lines = (vscode.workspace / REVIEW_FILE).read_text().split("\n")
    line = 12
    offset = sum(len(text) + 1 for text in lines[: line - 1])
    go_to_line(page, line)
    prefilled = re.compile(rf"prefill at offset {offset} of \S*{re.escape(REVIEW_FILE)}: \d+ tokens evaluated")
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while not prefilled.search(vscode.server_log.read_text(errors="replace") if vscode.server_log.exists() else ""):
        assert time.monotonic() < deadline, f"no prefill at offset {offset}; server log:\n" + (
            vscode.server_log.read_text(errors="replace")[-3000:] if vscode.server_log.exists() else "(none)")
        time.sleep(0.1)


def test_accept_next_word_takes_the_first_word_only(vscode):
    page = vscode.page
    path = vscode.workspace / WORDS_FILE
    open_file(page, WORDS_FILE)
    wait_model_loaded(page)
    before = path.read_text()
    page.keyboard.press("Control+End")
    watch_ghost_text(page)
    page.keyboard.type(WORDS_TYPED, delay=40)
    ghost, _ = wait_ghost_text(page)
    ghost = shown_ghost_text(page) or ghost
    page.keyboard.press("Control+ArrowRight")  # VS Code's "Accept Next Word" of an inline suggestion
    save(page)
    accepted = path.read_text()[len(before + WORDS_TYPED):]
    print(f"\naccept next word: {accepted!r} of {ghost!r}")
    assert accepted and ghost.startswith(accepted), (accepted, ghost)
    if len(re.findall(r"\w+", ghost)) > 1:
        assert len(accepted) < len(ghost), (accepted, ghost)


def test_toggle_and_snooze_show_in_the_status_bar_and_the_manual_trigger_still_asks(vscode):
    page = vscode.page
    open_file(page, MANUAL_FILE)
    wait_model_loaded(page)
    seekcode_item = status_item(page, BUNDLED_MODEL_LABEL)
    run_command(page, "seekcode: Toggle Suggestions")
    seekcode_item.locator(".codicon-circle-slash").wait_for(timeout=UI_TIMEOUT_MS)
    run_command(page, "seekcode: Toggle Suggestions")
    seekcode_item.locator(".codicon-circle-slash").wait_for(state="detached", timeout=UI_TIMEOUT_MS)

    run_command(page, "seekcode: Snooze Suggestions…", closes=False)
    pick(page, "5 minutes", "5 minutes")
    seekcode_item.locator(".codicon-clock").wait_for(timeout=UI_TIMEOUT_MS)
    page.keyboard.press("Control+End")
    page.keyboard.type(GHOST_TYPED, delay=40)
    # Snoozed: typing asks for nothing; the manual trigger (Ctrl+Alt+Space) still does.
    watch_ghost_text(page)
    page.keyboard.press("Control+Alt+Space")
    ghost, latency_ms = wait_ghost_text(page)
    print(f"\nmanual trigger -> ghost text: {latency_ms:.0f} ms ({ghost!r})")
    assert ghost.strip()
    page.keyboard.press("Escape")
    run_command(page, "seekcode: Snooze Suggestions…", closes=False)
    pick(page, "Resume now", "Resume now")
    seekcode_item.locator(".codicon-clock").wait_for(state="detached", timeout=UI_TIMEOUT_MS)


def test_generate_docstring_inserts_it_under_the_def(vscode):
    page = vscode.page
    path = vscode.workspace / DOCSTRING_FILE
    before = path.read_text()
    open_file(page, DOCSTRING_FILE)
    wait_model_loaded(page)
    def_line = before.splitlines().index("def moving_average(values, window):") + 1
    go_to_line(page, def_line + 2, 9)  # inside the body
    clear_notifications(page)
    run_command(page, "seekcode: Generate Docstring")
    dirty = page.locator(".tabs-container .tab.active.dirty")
    dirty.or_(not_offered(page, "seekcode.generateDocstring")).first.wait_for(timeout=MODEL_TIMEOUT_MS)
    skip_unless_offered(page, "seekcode.generateDocstring")
    save(page)
    after = wait_file(path, lambda text: text != before)
    lines = after.splitlines()
    def_index = lines.index("def moving_average(values, window):")
    docstring_line = lines[def_index + 1]
    print("\ndocstring:\n" + "\n".join(lines[def_index : def_index + 6]))
    assert re.match(r'^    [rbuRBU]?("""|\'\'\')', docstring_line), after
    # Everything else is where it was: the docstring was inserted, nothing replaced.
    original = before.splitlines()
    body_start = lines.index(original[def_index + 1], def_index + 1)
    assert lines[: def_index + 1] == original[: def_index + 1]
    assert lines[body_start:] == original[def_index + 1 :]
    assert all(line.startswith("    ") or not line.strip() for line in lines[def_index + 1 : body_start])


def apply_tests_preview(vscode, test_file: str, function: str) -> None:
    """Generated tests wait in VS Code's refactor preview, unticked; tick them, Apply, check the file."""
    page = vscode.page
    # The edit waits in VS Code's refactor preview, unticked, until the user ticks it and applies it.
    panel = page.locator(".part.panel")
    apply_button = panel.get_by_role("button", name="Apply")
    refused = notification(page, "seekcode: ")
    apply_button.or_(not_offered(page, "seekcode.generateTests")).or_(refused).first.wait_for(timeout=MODEL_TIMEOUT_MS)
    skip_unless_offered(page, "seekcode.generateTests")
    if refused.is_visible() and "did not parse" in refused.inner_text():
        # The 13 MB bundled model often writes a test file that does not parse; the server says
        # so and the user sees it. Not the extension's failure; a real code model gets the preview.
        pytest.skip(f"the bundled model's tests did not parse: {refused.inner_text().splitlines()[0]}")
    entry = panel.locator(".monaco-list-row", has_text=test_file).first
    entry.wait_for(timeout=UI_TIMEOUT_MS)
    assert not list(vscode.workspace.rglob(test_file)), "the tests were written before Apply"
    page.screenshot(path=str(ARTIFACTS / "tests-preview.png"))
    entry.get_by_role("checkbox").click()
    apply_button.click()
    entry.wait_for(state="detached", timeout=UI_TIMEOUT_MS)
    run_command(page, "File: Save All")
    test_files = wait_for_paths(vscode.workspace, test_file)
    written = test_files[0].read_text()
    print(f"\ngenerated {test_files[0].relative_to(vscode.workspace)}:\n{written}")
    assert "def test_" in written and function in written, written


def test_docstring_code_action(vscode):
    """The server's "Generate docstring" code action, resolved lazily, from VS Code's action menu."""
    page = vscode.page
    path = vscode.workspace / WORDS_FILE
    open_file(page, WORDS_FILE)
    wait_model_loaded(page)
    before = path.read_text()
    go_to_line(page, 2, 9)  # inside add
    clear_notifications(page)
    page.keyboard.press("Control+.")
    action = page.locator(".action-widget .monaco-list-row", has_text="Generate docstring").first
    action.wait_for(timeout=UI_TIMEOUT_MS)
    action.click()
    page.locator(".tabs-container .tab.active.dirty").wait_for(timeout=MODEL_TIMEOUT_MS)
    save(page)
    lines = path.read_text().splitlines()
    assert lines[0] == "def add(a, b):"
    assert re.match(r'^    [rbuRBU]?("""|\'\'\')', lines[1]), lines[:6]
    assert lines[-len(before.splitlines()) + 1 :] == before.splitlines()[1:]


def test_tests_code_action_opens_the_preview(vscode):
    page = vscode.page
    open_file(page, "bounds.py")
    wait_model_loaded(page)
    go_to_line(page, 2, 9)
    clear_notifications(page)
    page.keyboard.press("Control+.")
    action = page.locator(".action-widget .monaco-list-row", has_text="Generate tests").first
    action.wait_for(timeout=UI_TIMEOUT_MS)
    action.click()
    apply_tests_preview(vscode, "test_bounds.py", "within")


def test_generate_tests_shows_a_preview_then_applies(vscode):
    page = vscode.page
    open_file(page, TESTS_FILE)
    wait_model_loaded(page)
    go_to_line(page, 2, 9)  # inside clamp
    clear_notifications(page)
    run_command(page, "seekcode: Generate Tests")
    apply_tests_preview(vscode, "test_stats.py", "clamp")


def test_review_file_shows_a_diagnostic_in_the_problems_panel(vscode):
    page = vscode.page
    open_file(page, REVIEW_FILE)
    wait_model_loaded(page)
    clear_notifications(page)
    run_command(page, "seekcode: Review File")
    problems = page.locator(".markers-panel .monaco-list-row", has_text=re.compile("seekcode"))
    nothing = notification(page, "review found nothing")
    problems.or_(not_offered(page, "seekcode.review")).or_(nothing).first.wait_for(timeout=MODEL_TIMEOUT_MS)
    skip_unless_offered(page, "seekcode.review")
    assert not nothing.is_visible(), "the review of review.py reported no finding"
    # review.py's typo `a %% b` on line 18 is the line the bundled model finds most surprising
    # (seekcode-lsp review tests/vscode/workspace/review.py lists it too).
    typo_row = problems.filter(has_text=re.compile(r"Ln 18\b"))
    typo_row.first.wait_for(timeout=UI_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "review-diagnostic.png"))  # the README's picture


def test_review_changes_since_head_reports_only_the_changed_line(vscode):
    page = vscode.page
    path = vscode.workspace / CHANGES_FILE
    git = ["git", "-C", str(vscode.workspace), "-c", "user.name=e2e", "-c", "user.email=e2e@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", CHANGES_FILE], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "clean"], check=True)
    path.write_text(path.read_text().replace("return a % b", "return a %% b"))  # line 18, since HEAD
    open_file(page, CHANGES_FILE)
    wait_model_loaded(page)
    clear_notifications(page)
    run_command(page, "seekcode: Review Changes Since HEAD")
    problems = page.locator(".markers-panel")
    problems.wait_for(timeout=MODEL_TIMEOUT_MS)
    # Only this file's findings: the other files were reviewed on save by earlier tests.
    problems_filter = page.locator(".part.panel .viewpane-filter input").first
    problems_filter.fill(f"**/{CHANGES_FILE}")
    findings = wait_problems_of(page, CHANGES_FILE)
    assert all(re.search(r"\[Ln 18\b", text) for text in findings), findings
    problems_filter.fill("")


def test_pick_model_reaches_the_running_server_live(vscode):
    """Pick Model sets seekcode.model; the running server reloads it and says what is wrong."""
    page = vscode.page
    broken = vscode.workspace / "broken.gguf"
    broken.write_bytes(b"not a GGUF file\n")
    clear_notifications(page)
    run_command(page, "seekcode: Pick Model…", closes=False)
    pick(page, "broken.gguf", "broken.gguf")
    toast = notification(page, re.escape(str(broken)))
    toast.wait_for(timeout=MODEL_TIMEOUT_MS)
    assert "is not a GGUF file" in toast.inner_text()
    error_item = page.locator(".statusbar-item.error-kind", has_text="seekcode")
    error_item.wait_for(timeout=UI_TIMEOUT_MS)
    # Back to the bundled model: loaded again, and the error leaves the status bar.
    clear_notifications(page)
    run_command(page, "seekcode: Pick Model…", closes=False)
    pick(page, "Bundled model", "Bundled model")
    wait_model_loaded(page)
    error_item.wait_for(state="detached", timeout=UI_TIMEOUT_MS)


def test_missing_server_names_the_fix(vscode_without_server):
    page = vscode_without_server.page
    toast = notification(page, "seekcode-lsp was not found")
    toast.wait_for(timeout=UI_TIMEOUT_MS)
    text = toast.inner_text()
    assert "pip install seekcode" in text and "seekcode.server.command" in text
    error_item = page.locator(".statusbar-item.error-kind", has_text="seekcode")
    error_item.wait_for(timeout=UI_TIMEOUT_MS)
    error_item.click()  # opens the log, which says where it looked
    page.locator(".part.panel .monaco-editor .view-lines", has_text="Tried:").first.wait_for(timeout=UI_TIMEOUT_MS)


def test_server_that_dies_shows_its_stderr(vscode_with_broken_server):
    page = vscode_with_broken_server.page
    error_item = page.locator(".statusbar-item.error-kind", has_text="seekcode")
    error_item.wait_for(timeout=UI_TIMEOUT_MS)
    toast = notification(page, "seekcode: the server .*broken-seekcode-lsp did not start")
    toast.wait_for(timeout=UI_TIMEOUT_MS)
    assert "pip install seekcode" in toast.inner_text() and "seekcode.server.command" in toast.inner_text()
    error_item.click()  # the log holds what the server wrote to stderr
    log = page.locator(".part.panel .monaco-editor .view-lines", has_text="No module named pygls").first
    log.wait_for(timeout=UI_TIMEOUT_MS)
