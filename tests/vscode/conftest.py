"""Fixtures for the VS Code end-to-end tests: code-server with the built .vsix, driven by Playwright
in Debian's Chromium, talking to the real seekcode-lsp with the bundled model.

Screenshots of every page and the logs are saved under build/vscode-e2e/ when a test fails.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from tests.vscode.code_server import CHROMIUM, INSTALL_HINT, REPO, CodeServer, build_vsix, missing_tools
from tests.vscode.workbench import open_workbench

ARTIFACTS = REPO / "build" / "vscode-e2e"
WORKSPACE_TEMPLATE = Path(__file__).parent / "workspace"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def vsix() -> Path:
    missing = missing_tools()
    if missing:
        message = f"VS Code e2e tools missing ({', '.join(missing)}); {INSTALL_HINT}"
        if os.environ.get("SEEKCODE_E2E_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)
    return build_vsix()


@pytest.fixture(scope="session")
def browser(vsix):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield browser
        browser.close()


class Session:
    """One code-server with its own profile and a copy of the test workspace, and one page on it."""

    def __init__(self, root: Path, browser, vsix: Path, settings: dict, path_prefix: list[str],
                 prepare=None, machine_settings: dict | None = None) -> None:
        self.workspace = root / "workspace"
        shutil.copytree(WORKSPACE_TEMPLATE, self.workspace)
        if prepare is not None:
            prepare(self.workspace)
        self.server = CodeServer(root=root, workspace=self.workspace)
        self.server.install(vsix, settings, machine_settings)
        self.server.start(path_prefix)
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        open_workbench(self.page, self.server.url)

    def save_artifacts(self, name: str) -> Path:
        target = ARTIFACTS / name
        target.mkdir(parents=True, exist_ok=True)
        try:
            self.page.screenshot(path=str(target / "page.png"))
        except Exception as error:  # a crashed page still leaves the logs
            (target / "screenshot-error.txt").write_text(str(error))
        shutil.copy(self.server.log_path, target / "code-server.log")
        (target / "seekcode-output.log").write_text(self.server.server_logs())
        return target

    def close(self) -> None:
        self.context.close()
        self.server.stop()


def _save_on_failure(request, session: Session) -> None:
    failed = any(
        getattr(request.node, f"report_{when}", None) is not None and getattr(request.node, f"report_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        where = session.save_artifacts(request.node.name)
        print(f"\nscreenshot and logs: {where}", file=sys.stderr)


def workspace_server(workspace: Path) -> Path:
    """workspace/.venv/bin/seekcode-lsp: this environment's server running this checkout's code.

    The extension finds it as it finds a project's virtual environment. code-server replaces the
    extension host's PATH with the login shell's, so PATH cannot carry it.
    """
    real = Path(sys.executable).parent / "seekcode-lsp"
    launcher = workspace / ".venv" / "bin" / "seekcode-lsp"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(str(REPO))} OMP_WAIT_POLICY=PASSIVE exec {shlex.quote(str(real))} \"$@\"\n"
    )
    launcher.chmod(0o755)
    return launcher


@pytest.fixture(scope="module")
def vscode(tmp_path_factory, browser, vsix):
    """The main session: seekcode-lsp found in the workspace's .venv."""
    root = tmp_path_factory.mktemp("vscode")
    server_log = root / "seekcode-lsp.log"
    session = Session(root, browser, vsix, settings={}, path_prefix=[], prepare=workspace_server,
                      machine_settings={"seekcode.server.args": ["--log-file", str(server_log)]})
    session.server_log = server_log  # the server's own log (its INFO lines), for tests that read it
    yield session
    session.close()


@pytest.fixture(autouse=True)
def _screenshots_on_failure(request):
    yield
    # The module's shared session is still open here; function-scoped ones save their own.
    if "vscode" in request.fixturenames:
        _save_on_failure(request, request.getfixturevalue("vscode"))


@pytest.fixture
def vscode_without_server(request, tmp_path, browser, vsix):
    """A session whose PATH and workspace hold no seekcode-lsp."""
    session = Session(tmp_path, browser, vsix, settings={}, path_prefix=[])
    yield session
    _save_on_failure(request, session)
    session.close()


@pytest.fixture
def vscode_with_broken_server(request, tmp_path, browser, vsix):
    """seekcode.server.command names a program that writes an error to stderr and exits 1."""
    broken = tmp_path / "bin" / "broken-seekcode-lsp"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named pygls' >&2\nexit 1\n")
    broken.chmod(0o755)
    session = Session(tmp_path, browser, vsix, settings={}, path_prefix=[],
                      machine_settings={"seekcode.server.command": str(broken)})
    yield session
    _save_on_failure(request, session)
    session.close()
