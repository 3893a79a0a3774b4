"""Driving VS Code's workbench in Chromium with Playwright: waits on conditions, never fixed sleeps."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Locator, Page

MOD = "Control"
# Generous: the machine that runs this may be a loaded 2-core VM.
UI_TIMEOUT_MS = 60_000
MODEL_TIMEOUT_MS = 240_000

GHOST_SELECTOR = ".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview"

# Records when ghost text first shows after the latest key press, in the page's own clock.
GHOST_WATCH_JS = """
() => {
  if (window.__seekcodeGhost) { return; }
  const state = { lastKey: 0, shownAt: null, text: null };
  window.__seekcodeGhost = state;
  const selector = %r;
  document.addEventListener('keydown', () => { state.lastKey = performance.now(); state.shownAt = null; state.text = null; }, true);
  new MutationObserver(() => {
    if (state.shownAt !== null || state.lastKey === 0) { return; }
    const nodes = [...document.querySelectorAll(selector)];
    const text = nodes.map((n) => n.textContent).join('');
    if (text.trim()) { state.shownAt = performance.now(); state.text = text; }
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}
""" % GHOST_SELECTOR


def open_workbench(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".monaco-workbench", timeout=UI_TIMEOUT_MS)
    page.wait_for_selector(".statusbar", timeout=UI_TIMEOUT_MS)


def quick_input(page: Page, key: str, text: str, row_label: str, closes: bool = True) -> None:
    """Open a quick input with `key`, type `text`, wait for the row named `row_label`, take it.

    closes=False: what was chosen opens another quick pick at once (it may never look hidden).
    """
    page.keyboard.press(key)
    box = page.locator(".quick-input-widget input")
    box.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    box.fill(text)
    row = page.locator(f".quick-input-list .monaco-list-row[aria-label*={row_label!r}]").first
    row.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    # A click, not Enter: the list may still be reordering (recent items, then search results).
    row.click()
    if closes:
        page.locator(".quick-input-widget").wait_for(state="hidden", timeout=UI_TIMEOUT_MS)


def pick(page: Page, text: str, row_label: str) -> None:
    """Choose `row_label` in a quick pick that an extension opened."""
    box = page.locator(".quick-input-widget input")
    box.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    row = page.locator(f".quick-input-list .monaco-list-row[aria-label*={row_label!r}]").first
    row.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    box.fill(text)
    row.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    row.click()
    page.locator(".quick-input-widget").wait_for(state="hidden", timeout=UI_TIMEOUT_MS)


def open_file(page: Page, name: str) -> Locator:
    quick_input(page, f"{MOD}+P", name, name)
    tab = page.locator(f".tabs-container .tab.active[aria-label*={name!r}]")
    tab.wait_for(timeout=UI_TIMEOUT_MS)
    editor = page.locator(".editor-instance .monaco-editor").first
    editor.wait_for(timeout=UI_TIMEOUT_MS)
    page.locator(".editor-instance .monaco-editor.focused").wait_for(timeout=UI_TIMEOUT_MS)
    return editor


def run_command(page: Page, title: str, closes: bool = True) -> None:
    """Run a command from the palette by its full title, e.g. 'seekcode: Generate Docstring'."""
    quick_input(page, "F1", f">{title}", title, closes)


def clear_notifications(page: Page) -> None:
    run_command(page, "Notifications: Clear All Notifications")
    page.locator(".notifications-toasts .notification-toast").first.wait_for(state="detached", timeout=UI_TIMEOUT_MS)


def go_to_line(page: Page, line: int, column: int = 1) -> None:
    page.keyboard.press(f"{MOD}+G")
    box = page.locator(".quick-input-widget input")
    box.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    box.fill(f":{line}:{column}")
    page.keyboard.press("Enter")
    page.locator(".quick-input-widget").wait_for(state="hidden", timeout=UI_TIMEOUT_MS)


def save(page: Page) -> None:
    page.keyboard.press(f"{MOD}+S")
    page.locator(".tabs-container .tab.active.dirty").wait_for(state="detached", timeout=UI_TIMEOUT_MS)


def status_item(page: Page, pattern: str) -> Locator:
    return page.locator(".statusbar-item", has_text=re.compile(pattern)).first


def notification(page: Page, pattern: str) -> Locator:
    return page.locator(".notifications-toasts .notification-toast", has_text=re.compile(pattern)).first


def watch_ghost_text(page: Page) -> None:
    page.evaluate(GHOST_WATCH_JS)


def wait_ghost_text(page: Page, timeout_ms: int = MODEL_TIMEOUT_MS) -> tuple[str, float]:
    """The ghost text shown after the last key press, and milliseconds from that key press."""
    handle = page.wait_for_function("() => window.__seekcodeGhost && window.__seekcodeGhost.shownAt !== null",
                                    timeout=timeout_ms, polling=100)
    handle.dispose()
    state = page.evaluate("() => window.__seekcodeGhost")
    return state["text"].replace("\u00a0", " "), state["shownAt"] - state["lastKey"]


def shown_ghost_text(page: Page) -> str:
    """The ghost text on screen now ("" when none)."""
    texts = page.locator(GHOST_SELECTOR).all_text_contents()
    return "".join(texts).replace("\u00a0", " ")


def wait_file(path, predicate, timeout_s: float = MODEL_TIMEOUT_MS / 1000) -> str:
    deadline = time.monotonic() + timeout_s
    text = path.read_text()
    while time.monotonic() < deadline:
        text = path.read_text()
        if predicate(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{path} never matched; last content:\n{text}")


def wait_for_paths(root, name: str, timeout_s: float = UI_TIMEOUT_MS / 1000) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [path for path in root.rglob(name) if path.read_text().strip()]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no non-empty {name} under {root}")
