"""`seekcode-lsp doctor`: what a bug report needs, and whether this machine can serve completions.

Each check prints one line (or a few indented ones) and says what to do when it fails; the
command exits 1 when anything is broken, so scripts and editor health checks can use it.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from lsp_server import __version__
from lsp_server.display import for_display
from lsp_server.settings import ModelChoice, Settings, resolve_layout, resolve_model

SAMPLE_PREFIX = "def add(a, b):\n    "
NAME_LIMIT = 120  # characters of the GGUF's general.name shown
SAMPLE_SUFFIX = "\n\n\nprint(add(1, 2))\n"
SAMPLE_MAX_TOKENS = 16

MODEL_SOURCES = {
    "setting": "set by --model or the editor's 'seekcode.model' setting",
    "environment": "set by $SEEKCODE_MODEL",
    "bundled": "the bundled default model: no --model setting and no $SEEKCODE_MODEL",
    "none": "no setting, no $SEEKCODE_MODEL and no bundled model",
}


@dataclass
class Report:
    out: TextIO
    problems: list[str] = field(default_factory=list)

    def line(self, text: str) -> None:
        # Model names, paths and llama.cpp's errors come from files the user may not have made.
        print(for_display(text, keep_newlines=False), file=self.out)

    def problem(self, what: str, fix: str) -> None:
        self.problems.append(what)
        self.line(f"  PROBLEM: {what}")
        self.line(f"  fix: {fix}")


def check_versions(report: Report) -> None:
    report.line(f"seekcode {__version__}, Python {platform.python_version()} ({sys.executable})")
    report.line(f"platform: {platform.platform()}, {platform.machine()}")


def check_llama_cpp(report: Report) -> bool:
    try:
        from lsp_server.backend.local import import_llama_cpp

        llama_cpp = import_llama_cpp()
    except Exception as error:  # ImportError, or a native library that fails to load
        report.line("llama.cpp: not importable")
        report.problem(f"llama-cpp-python cannot be imported ({error})",
                       "run `make setup`, or `scripts/install-llama-cpp.sh .venv/bin/python`")
        return False
    system_info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    report.line(f"llama.cpp: llama-cpp-python {getattr(llama_cpp, '__version__', '?')} "
                f"({getattr(llama_cpp, '__file__', '?')})")
    report.line(f"  CPU features: {system_info}")
    return True


def check_probe(report: Report, settings: Settings, choice: ModelChoice):
    from lsp_server.backend.probe import cache_path
    from lsp_server.features.runtime import probe_machine

    outcome = probe_machine(settings, choice)
    state = "on" if outcome.extra_buffer_types else "OFF"
    where = f", cached in {cache_path()}" if outcome.source in ("probe", "cache") else ""
    report.line(f"probe: extra buffer types {state} ({outcome.source}: {outcome.detail}{where})")
    if outcome.notice:
        report.line(f"  note: {outcome.notice}")
    return outcome


def check_model(report: Report, settings: Settings, choice: ModelChoice, probe) -> object | None:
    from lsp_server.backend.base import ModelLoadError
    from lsp_server.backend.local import LocalBackend, training_context_length
    from lsp_server.features.completion import CompletionEngine
    from lsp_server.features.runtime import backend_options, engine_layout

    report.line(f"model: {choice.path or '(none)'} ({MODEL_SOURCES.get(choice.source, choice.source)})")
    if choice.path is None:
        report.problem("no model to load", "pass --model FILE.gguf or set SEEKCODE_MODEL to a GGUF file")
        return None
    started = time.perf_counter()
    try:
        backend = LocalBackend(choice.path, backend_options(settings, probe))
    except ModelLoadError as error:
        report.problem(str(error), "point --model / SEEKCODE_MODEL at a complete GGUF file")
        return None
    load_ms = (time.perf_counter() - started) * 1000
    engine = CompletionEngine(backend, layout=engine_layout(settings, choice))
    layout = (engine.layout or engine.family.layout).value
    forced = resolve_layout(settings, choice)
    why = "the setting" if settings.fim_layout != "auto" else ("the bundled model's" if forced else "the family's")
    trained = training_context_length(choice.path)
    name = backend.metadata.get("general.name")
    if name:
        report.line(f"  name: {for_display(name, NAME_LIMIT, keep_newlines=False)}")
    report.line(f"  family {engine.family.name}, FIM layout {layout} ({why}), loaded in {load_ms:.0f} ms")
    report.line(f"  context window {backend.context_size} tokens (asked {settings.context_size}, "
                f"trained {trained if trained else 'unknown'})")
    return engine


def check_completion(report: Report, engine, settings: Settings) -> None:
    from lsp_server.features.completion import CompletionRequest

    request = CompletionRequest(
        doc_text=SAMPLE_PREFIX + SAMPLE_SUFFIX,
        cursor_offset=len(SAMPLE_PREFIX),
        language="python",
        settings=settings.merged({"max_tokens": SAMPLE_MAX_TOKENS}),
    )
    started = time.perf_counter()
    try:
        result = engine.complete(request)
    except Exception as error:  # a doctor reports; it does not crash
        from lsp_server.backend.base import BackendError

        if isinstance(error, BackendError):  # the server failed: its sentence says what to do
            report.problem(*split_fix(str(error)))
            return
        report.problem(f"a short completion failed ({type(error).__name__}: {error})",
                       "rerun with --verbose and attach the output to a bug report")
        return
    elapsed_ms = (time.perf_counter() - started) * 1000
    stats = result.stats
    text = result.suggestions[0].text if result.suggestions else ""
    shown = text.splitlines()[0][:40] if text else "(empty suggestion)"
    tokens = f"{stats.evaluated_tokens} prompt + {stats.generated_tokens} generated tokens" if stats else ""
    report.line(f"completion: {elapsed_ms:.0f} ms for {tokens}: {shown!r}")


def split_fix(message: str) -> tuple[str, str]:
    """A backend error's sentence is "what went wrong; what to do": the two halves."""
    what, _, fix = message.rstrip(".").partition("; ")
    return what, fix or "rerun with --verbose and see the server's log"


def check_remote(report: Report, settings: Settings, environ=None) -> object | None:
    """The inference server at `backend.url`: reachable, dialect, model, context, family and
    FIM layout, chat; the engine on it (for the timed completion), or None."""
    import os

    from lsp_server.backend.base import BackendError, ModelLoadError
    from lsp_server.backend.dialects import dialect_for
    from lsp_server.backend.transport import Endpoint
    from lsp_server.features.completion import CompletionEngine
    from lsp_server.features.runtime import engine_layout, http_options, open_http_backend, remote_choice

    environ = os.environ if environ is None else environ
    options = http_options(settings, environ)
    env_name = settings.backend_api_key_env
    key = f"from ${env_name}" if environ.get(env_name, "").strip() else (
        "from the 'backend.apiKey' setting" if settings.backend_api_key else f"none (${env_name} is not set)")
    try:
        dialect, plain_url = dialect_for(options.url)
        shown = Endpoint.parse(plain_url).display  # the URL without any user:password part
    except ModelLoadError as error:
        report.problem(*split_fix(str(error)))
        return None
    report.line(f"server: {shown} ({dialect.value} dialect), API key {key}")
    started = time.perf_counter()
    try:
        backend = open_http_backend(options)
        engine = CompletionEngine(backend, layout=engine_layout(settings, remote_choice(settings)))
    except (ModelLoadError, BackendError) as error:
        report.problem(*split_fix(str(error)))
        return None
    connect_ms = (time.perf_counter() - started) * 1000
    layout = (engine.layout or engine.family.layout).value
    family_source = "the setting" if settings.backend_family != "auto" else "found from the server"
    report.line(f"  model {backend.model_name or '(unnamed)'}, reached in {connect_ms:.0f} ms")
    report.line(f"  family {engine.family.name} ({family_source}), FIM layout {layout}, "
                f"context window {backend.context_size} tokens")
    if engine.family.name == "plain" and backend.dialect.value == "openai":
        report.line("  note: no FIM markers: set 'seekcode.backend.family' (--family) to the served model's family")
    chat = ("the server's chat API" if backend.dialect.value == "openai" else "the GGUF's template from /props") \
        if backend.can_chat else "none (a base model: docstrings and tests by FIM)"
    grammar = "GBNF grammar" if backend.takes_grammar else "JSON Schema (response_format)"
    report.line(f"  chat: {chat}; constrained answers by {grammar}; review: the written signal only")
    return engine


def run_doctor(settings: Settings, out: TextIO = sys.stdout,
               resolve: Callable[[Settings], ModelChoice] = resolve_model) -> int:
    report = Report(out)
    check_versions(report)
    if settings.backend_url:  # remote inference: the server is what must work, not a local model
        engine = check_remote(report, settings)
        if engine is not None:
            try:
                check_completion(report, engine, settings)
            finally:
                engine.backend.close()
    elif check_llama_cpp(report):
        choice = resolve(settings)
        probe = check_probe(report, settings, choice)
        engine = check_model(report, settings, choice, probe)
        if engine is not None:
            try:
                check_completion(report, engine, settings)
            finally:
                engine.backend.close()
    if report.problems:
        report.line(f"{len(report.problems)} problem(s) found.")
        return 1
    where = "from the server at " + settings.backend_url if settings.backend_url else "on this machine"
    report.line(f"ok: seekcode can serve completions {where}.")
    return 0
