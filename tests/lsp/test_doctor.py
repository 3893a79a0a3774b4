"""`seekcode-lsp doctor`: a report a bug needs, exit 1 with the fix named when something is broken."""

from __future__ import annotations

import json

from lsp_server.backend.probe import cache_path
from tests.lsp.test_cli import run_cli


def test_doctor_reports_a_working_machine(tiny_gguf):
    done = run_cli("doctor", "--model", str(tiny_gguf), "--threads", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("seekcode ") and "Python " in out
    assert "CPU features: CPU : " in out  # llama.cpp's own system info line
    assert "probe: extra buffer types on" in out
    assert f"model: {tiny_gguf} (set by --model" in out
    assert "family deepseek-coder, FIM layout psm-anchored (the family's)" in out
    assert "context window" in out
    assert "completion: " in out and " ms for " in out
    assert out.rstrip().endswith("ok: seekcode can serve completions on this machine.")


def test_doctor_names_the_bundled_model_and_its_layout():
    done = run_cli("doctor", "--threads", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(the bundled default model: no --model setting and no $SEEKCODE_MODEL)" in done.stdout
    assert "FIM layout spm-tail (the bundled model's)" in done.stdout
    assert "context window 512 tokens" in done.stdout


def test_doctor_says_which_environment_variable_chose_the_model(tiny_gguf):
    done = run_cli("doctor", "--threads", "1", env={"SEEKCODE_MODEL": str(tiny_gguf)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"model: {tiny_gguf} (set by $SEEKCODE_MODEL)" in done.stdout


def test_doctor_fails_with_the_fix_for_a_missing_model(tmp_path):
    missing = tmp_path / "nowhere.gguf"
    done = run_cli("doctor", "--model", str(missing))
    assert done.returncode == 1
    assert "PROBLEM: Model file" in done.stdout and "does not exist" in done.stdout
    assert "fix: point --model" in done.stdout
    assert "1 problem(s) found." in done.stdout


def test_doctor_fails_for_a_corrupt_model(tmp_path):
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 64)
    done = run_cli("doctor", "--model", str(corrupt))
    assert done.returncode == 1
    assert "llama.cpp could not load" in done.stdout


def test_doctor_shows_a_cached_fallback(tiny_gguf, tmp_path):
    record = tmp_path / cache_path().relative_to(cache_path().parents[1])
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"extra_buffer_types": False, "detail": "died by SIGILL"}))
    done = run_cli("doctor", "--model", str(tiny_gguf), "--threads", "1", env={"SEEKCODE_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "probe: extra buffer types OFF (cache: died by SIGILL" in done.stdout
    assert "note: llama.cpp's optimised CPU kernels crashed" in done.stdout
