"""Security checks from SECURITY.md: no network without the http backend, no unpickling
of arbitrary objects, untrusted text made safe before it reaches the log or the editor."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lsp.lsp_client import LspClient

REPO = Path(__file__).resolve().parents[2]
URI = "file:///work/secure.py"
INET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6")


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def inet_sockets(pid: int) -> list[str]:
    """The process' IPv4/IPv6 sockets (any state: listening, connected, bound UDP), as table rows."""
    mine = socket_inodes(pid)
    rows = []
    for table in INET_TABLES:
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[9] in mine:
                rows.append(f"{table}: {line.strip()}")
    return rows


@pytest.mark.parametrize("model", ["none", "bundled"])
def test_the_server_opens_no_network_socket_without_the_http_backend(model, bundled_model, tmp_path):
    args = ["--model", str(bundled_model if model == "bundled" else tmp_path / "absent.gguf"), "--threads", "1",
            "--max-tokens", "8"]
    client = LspClient(args, env={"SEEKCODE_MODEL": "", "SEEKCODE_CACHE_DIR": str(tmp_path / "cache")},
                       log_path=tmp_path / "server.log")
    try:
        client.initialize()
        if model == "bundled":
            client.wait_model_ready()
        client.open(URI, "def add(a, b):\n    return ")
        client.inline(URI, 1, 11)
        client.request("workspace/executeCommand", {"command": "seekcode.review", "arguments": [{"uri": URI}]}, 120)
        assert socket_inodes(client.process.pid) is not None
        assert inet_sockets(client.process.pid) == []
    finally:
        client.shutdown()


def remote_endpoints(rows: list[str]) -> set[str]:
    """`ip:port` of each socket's remote end (the kernel writes them in hex, little-endian IPv4)."""
    endpoints = set()
    for row in rows:
        remote = row.split(": ", 1)[1].split()[2]
        address, port = remote.split(":")
        if len(address) == 8:
            octets = [str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)]
            endpoints.add(f"{'.'.join(octets)}:{int(port, 16)}")
        else:
            endpoints.add(f"[{address}]:{int(port, 16)}")
    return endpoints


def test_with_the_http_backend_the_only_socket_goes_to_the_configured_address(tmp_path):
    """A real server on loopback that holds the reply open, so the connection can be seen."""
    from tests.http.scripted_server import ScriptedServer

    remote = ScriptedServer(text="return x + 1\n")
    remote.mode = "hang"
    client = LspClient(["--model", str(tmp_path / "absent.gguf")], env={"SEEKCODE_MODEL": ""},
                       log_path=tmp_path / "server.log")
    try:
        client.initialize(initialization_options={"backend": {"url": remote.url, "timeout": 30}})
        client.wait_notification("window/logMessage", 60, lambda m: "connected to" in m["params"]["message"])
        client.open(URI, "def add(x):\n    ")
        pending = client.inline_async(URI, 1, 4)
        deadline = time.monotonic() + 60
        while not remote.completion_requests() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert remote.completion_requests(), "the completion never reached the remote server"
        rows = [row for row in inet_sockets(client.process.pid) if row.split(": ", 1)[1].split()[3] == "01"]  # ESTABLISHED
        port = remote.url.split(":")[2].split("/")[0]
        assert remote_endpoints(rows) == {f"127.0.0.1:{port}"}
        client.notify("$/cancelRequest", {"id": pending})
    finally:
        client.shutdown()
        remote.close()


class _Payload:
    """Unpickling this touches `marker`: the proof that a loader ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def malicious_checkpoint(directory: Path, marker: Path, legacy: bool) -> Path:
    import torch

    from model.tiny import tiny_config

    directory.mkdir()
    tiny_config().save(directory)
    weights = {"model.embed_tokens.weight": torch.zeros(2, 2), "evil": _Payload(marker)}
    if legacy:
        with open(directory / "pytorch_model.bin", "wb") as handle:
            pickle.dump(weights, handle)
    else:
        torch.save(weights, directory / "pytorch_model.bin")
    return directory


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_checkpoint_loading_refuses_a_pickle_that_runs_code(tmp_path, legacy):
    from model.checkpoint import CheckpointError, open_checkpoint

    marker = tmp_path / "pwned"
    checkpoint = malicious_checkpoint(tmp_path / "checkpoint", marker, legacy)
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        open_checkpoint(checkpoint).names()
    assert not marker.exists()

    result = subprocess.run([sys.executable, "-m", "convert", str(checkpoint), "-o", str(tmp_path / "out.gguf")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "pytorch_model.bin" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists() and not (tmp_path / "out.gguf").exists()


HOSTILE = "\x1b[2J\x1b]0;owned\x07\x00\r\x9b31m" + "A" * 100_000


def test_untrusted_text_reaches_editor_and_log_escaped_and_bounded(tmp_path):
    """A model path carrying escapes and 100,000 characters, echoed by the load error."""
    hostile_path = f"/nowhere/{HOSTILE.replace(chr(0), '')}.gguf"  # argv cannot hold NUL
    client = LspClient(["--model", hostile_path], env={"SEEKCODE_MODEL": ""},
                       log_path=tmp_path / "server.log")
    try:
        client.initialize()
        message = client.wait_notification("window/showMessage")["params"]["message"]
    finally:
        client.shutdown()
    from lsp_server.display import MESSAGE_LIMIT, contains_unsafe

    assert message.startswith("seekcode: Model file /nowhere/")
    assert not contains_unsafe(message) and "\r" not in message
    assert "\\x1b[2J" in message and "more characters" in message
    assert len(message) < MESSAGE_LIMIT + 100
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert "\x1b" not in log and "\x07" not in log and "\x9b" not in log
    assert "\\x1b[2J" in log


def test_gguf_metadata_that_names_the_family_is_escaped_in_the_log_line():
    from lsp_server.display import for_display
    from lsp_server.engine.families import detect_family

    family = detect_family(lambda spelling: None, {"tokenizer.ggml.pre": HOSTILE})
    shown = for_display(f"seekcode: loaded model.gguf (setting; family {family.name}, layout plain)")
    assert "\x1b" not in shown and "\x07" not in shown and len(shown) < 2_100


def test_a_suggestion_is_cut_at_the_first_control_character():
    from lsp_server.engine.postprocess import Context, postprocess

    context = Context.create("def add(a, b):\n    return ", "\n", language="python")
    assert postprocess("a + b\x1b[31m # red", context) == "a + b"
    assert postprocess("a\x00 + b", context) == "a"
    copying = Context.create("sep = '\x1b'\nx = ", "\n", language="python")
    assert postprocess("'\x1b'", copying) == "'\x1b'"  # the document has it: copying, not garbage
