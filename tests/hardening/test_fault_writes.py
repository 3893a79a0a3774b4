"""Disk full and SIGTERM while `seekcode-convert` writes a GGUF or a checkpoint.

The output is replaced by a rename only when complete, so it is never half-written; these
tests check that too, and that nothing else is left behind: no hidden temporary file or
folder beside the output, one sentence on stderr, no traceback. The checkpoint is big
enough (about 130 MB of float32) that the writes are still going when the signal lands.
"""

from __future__ import annotations

import hashlib
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PREVIOUS = b"GGUF previous output, must survive\n"
BIG_SHAPE = {"hidden_size": 384, "intermediate_size": 1024, "num_layers": 4, "num_heads": 6, "num_kv_heads": 6}


@pytest.fixture(scope="module")
def big_checkpoint(tmp_path_factory) -> Path:
    from model.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("big") / "checkpoint", seed=1, **BIG_SHAPE)


@pytest.fixture(scope="module")
def big_gguf(big_checkpoint, tmp_path_factory) -> Path:
    import convert

    return convert.convert_checkpoint(big_checkpoint, tmp_path_factory.mktemp("big-gguf") / "big-f32.gguf", "f32")


def tree_digest(directory: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


def debris(directory: Path, keep: set[str]) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name not in keep)


def convert_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "convert", *args]


def terminate_when(command: list[str], started: callable, timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run `command`; send SIGTERM as soon as `started()` (its temporary output exists)."""
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not started():
        assert process.poll() is None, f"finished before it could be interrupted: {process.communicate()}"
        assert time.monotonic() < deadline, "the temporary output never appeared"
        time.sleep(0.005)
    assert process.poll() is None, "finished before SIGTERM; make BIG_SHAPE bigger"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def assert_one_clean_sentence(stderr: str, *expected: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and "%|" not in line and "it/s" not in line]
    assert len(lines) == 1, f"expected one line, got: {stderr!r}"
    for text in expected:
        assert text in lines[0], lines[0]


def test_sigterm_while_converting_leaves_the_old_output_and_no_debris(big_checkpoint, tmp_path):
    out = tmp_path / "model.gguf"
    out.write_bytes(PREVIOUS)
    temporary = lambda: any(p.name.startswith(".model.gguf.") and p.stat().st_size > 0 for p in tmp_path.iterdir())  # noqa: E731
    result = terminate_when(convert_command(str(big_checkpoint), "-o", str(out), "--outtype", "f32"), temporary)
    assert result.returncode == 130
    assert out.read_bytes() == PREVIOUS
    assert debris(tmp_path, {"model.gguf"}) == []
    assert_one_clean_sentence(result.stderr, "interrupted", "nothing was written")


def test_sigterm_while_saving_a_checkpoint_leaves_the_old_one_and_no_debris(big_gguf, big_checkpoint, tmp_path):
    import shutil

    target = tmp_path / "checkpoint"
    shutil.copytree(big_checkpoint, target)
    before = tree_digest(target)
    temporary = lambda: any(p.name.startswith(".checkpoint.tmp-") and any(p.iterdir()) for p in tmp_path.iterdir())  # noqa: E731
    result = terminate_when(convert_command(str(big_gguf), "--to", "hf", "-o", str(target)), temporary)
    assert result.returncode == 130
    assert tree_digest(target) == before
    assert debris(tmp_path, {"checkpoint"}) == []
    assert_one_clean_sentence(result.stderr, "interrupted")


def test_disk_full_while_saving_a_checkpoint(big_gguf, big_checkpoint, tmp_path):
    """RLIMIT_FSIZE fails the write that crosses 8 MiB (EFBIG), as a full disk fails it (ENOSPC)."""
    import shutil

    target = tmp_path / "checkpoint"
    shutil.copytree(big_checkpoint, target)
    before = tree_digest(target)
    limit = 8 * 1024 * 1024

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(convert_command(str(big_gguf), "--to", "hf", "-o", str(target)), cwd=REPO,
                            capture_output=True, text=True, preexec_fn=limit_file_size, timeout=300)
    assert result.returncode != 0
    assert tree_digest(target) == before
    assert debris(tmp_path, {"checkpoint"}) == []
    assert_one_clean_sentence(result.stderr)
