"""The llama.cpp probe: a child that dies by a signal turns llama.cpp's extra buffer types off,
the outcome is cached per machine and build, and the user hears about it once."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from lsp_server import default_model
from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.backend.probe import ProbeOutcome, cache_path, decide, extra_buffer_types, probe_command
from lsp_server.features.runtime import ModelState, Runtime
from lsp_server.settings import Settings

DIES_BY_SIGILL = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
MUST_NOT_RUN = [sys.executable, "-c", "raise SystemExit('the probe ran although its outcome was cached')"]
URI = "file:///work/probe.py"


def test_a_child_killed_by_sigill_turns_extra_buffer_types_off_and_is_cached(tmp_path):
    cache = tmp_path / "probe.json"
    outcome = decide("auto", None, command=DIES_BY_SIGILL, cache_file=cache)

    assert outcome == ProbeOutcome(False, "probe", "died by SIGILL")
    assert "SIGILL" in outcome.notice and "extraBufferTypes" in outcome.notice
    assert json.loads(cache.read_text())["extra_buffer_types"] is False

    again = decide("auto", None, command=MUST_NOT_RUN, cache_file=cache)
    assert again == ProbeOutcome(False, "cache", "died by SIGILL")


def test_other_signals_count_too(tmp_path):
    segfault = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    assert decide("auto", None, command=segfault, cache_file=tmp_path / "p.json").detail == "died by SIGSEGV"


def test_a_child_that_fails_without_a_signal_is_inconclusive_and_not_cached(tmp_path):
    cache = tmp_path / "probe.json"
    failing = [sys.executable, "-c", "import sys; sys.exit('cannot open model')"]
    outcome = decide("auto", None, command=failing, cache_file=cache)

    assert outcome.extra_buffer_types and outcome.source == "inconclusive"
    assert "cannot open model" in outcome.detail and outcome.notice is None
    assert not cache.exists()


def test_the_setting_forces_either_path_without_a_probe(tmp_path):
    cache = tmp_path / "probe.json"
    assert decide("off", None, command=MUST_NOT_RUN, cache_file=cache) == ProbeOutcome(
        False, "setting", "forced off by the extraBufferTypes setting")
    assert decide("on", None, command=DIES_BY_SIGILL, cache_file=cache).extra_buffer_types
    assert not cache.exists()
    with pytest.raises(ValueError, match="extraBufferTypes"):
        decide("sometimes", None)


def test_the_cache_key_follows_the_machine_and_the_llama_cpp_build():
    assert cache_path("cpu A", "build 1") != cache_path("cpu B", "build 1")
    assert cache_path("cpu A", "build 1") != cache_path("cpu A", "build 2")
    assert cache_path("cpu A", "build 1") == cache_path("cpu A", "build 1")


def test_the_real_probe_decodes_with_the_bundled_model(tmp_path):
    outcome = decide("auto", default_model.bundled_model_path(), cache_file=tmp_path / "probe.json")
    # This project's own build (scripts/install-llama-cpp.sh) leaves AMX out, so the child survives.
    assert outcome == ProbeOutcome(True, "probe", outcome.detail)
    assert outcome.detail.startswith("decoded 4 tokens")
    assert probe_command(Path("m.gguf"))[-3:] == ["-m", "lsp_server.backend.probe", "m.gguf"]


def test_loading_with_extra_buffer_types_off_reaches_llama_cpp(tiny_gguf):
    import llama_cpp

    with extra_buffer_types(False):
        llm = llama_cpp.Llama(str(tiny_gguf), n_ctx=64, verbose=False)
    assert llm.model_params.use_extra_bufts is False
    assert llama_cpp.llama_model_default_params().use_extra_bufts is True  # restored after the load
    llm.eval(llm.tokenize(b"def f():", add_bos=True))
    assert len(llm.tokenize(b"x")) > 0


def test_the_runtime_loads_without_extra_buffer_types_and_says_so_once(tiny_gguf, tmp_path):
    cache = tmp_path / "probe.json"
    seen_options: list[BackendOptions] = []

    def backend(path: Path, options: BackendOptions) -> LocalBackend:
        seen_options.append(options)
        return LocalBackend(path, options)

    runtime = Runtime(
        backend_factory=backend,
        environ={},
        probe=lambda settings, choice: decide(settings.extra_buffer_types, None, command=DIES_BY_SIGILL,
                                              cache_file=cache),
    )
    try:
        first = runtime.load(Settings(model=str(tiny_gguf), threads=1)).result(timeout=120)
        second = runtime.load(Settings(model=str(tiny_gguf), threads=1, max_tokens=8)).result(timeout=120)
    finally:
        runtime.close()

    assert first.state is ModelState.READY and second.state is ModelState.READY
    assert [options.extra_buffer_types for options in seen_options] == [False, False]
    assert "SIGILL" in first.notice
    assert second.notice is None  # once


def test_the_server_warns_once_and_still_completes(start_server, tiny_gguf, tmp_path):
    """A machine whose probe already died: the cached outcome is applied by a real server."""
    cache_root = tmp_path / "cache"
    recorded = cache_path().relative_to(cache_path().parents[1])  # probe/<key>.json for this machine
    (cache_root / recorded).parent.mkdir(parents=True)
    (cache_root / recorded).write_text(json.dumps({"extra_buffer_types": False, "detail": "died by SIGILL"}))

    client = start_server(["--model", str(tiny_gguf), "--threads", "1", "--max-tokens", "8"],
                          env={"SEEKCODE_CACHE_DIR": str(cache_root)})
    client.initialize()
    client.wait_model_ready()
    message = client.wait_notification("window/showMessage")
    assert message["params"]["type"] == 2  # Warning
    assert "died by SIGILL" in message["params"]["message"]

    client.open(URI, "def add(a, b):\n    return ")
    result = client.inline(URI, 1, 11)
    assert "items" in result
    assert len(client.messages("window/showMessage")) == 1
    assert "extra buffer types off" in Path(client.log_path).read_text()


def test_signal_names_are_reported():
    from lsp_server.backend.probe import describe_exit

    assert describe_exit(-signal.SIGILL) == "died by SIGILL"
    assert describe_exit(3) == "exited with status 3"
