"""`seekcode-lsp`: serve LSP over stdio (no arguments), or one-shot commands.

    seekcode-lsp [--model M] [--ctx-size N] [--threads N] ...      serve on stdin/stdout
    seekcode-lsp complete FILE:LINE:COLUMN [--model M] ...          print a suggestion
    seekcode-lsp doctor [--model M]                                 check this machine, for bug reports
    seekcode-lsp docstring FILE:LINE:COLUMN [--style S] [--replace] [--apply]   add a docstring (diff)
    seekcode-lsp tests FILE:LINE:COLUMN [--framework F] [--run] [--apply]         write unit tests (diff)
    seekcode-lsp review PATH... [--diff REV] [--format text|json|sarif] [--fail-on LEVEL]

LINE and COLUMN are 1-based, as editors and compilers print them; COLUMN counts
characters (code points). Errors are one sentence on stderr; `--verbose` adds the log.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lsp_server.cli_review import add_review_parser, run_review
from lsp_server.display import SafeFormatter, for_display
from lsp_server.settings import EXTRA_BUFFER_TYPES, FIM_LAYOUTS, Settings, SettingsError

logger = logging.getLogger("lsp_server")

LANGUAGE_BY_SUFFIX = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascriptreact", ".ts": "typescript", ".tsx": "typescriptreact", ".go": "go", ".rs": "rust",
    ".java": "java", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".lua": "lua", ".sh": "shellscript", ".bash": "shellscript",
    ".kt": "kotlin", ".swift": "swift", ".scala": "scala", ".sql": "sql", ".md": "markdown",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".html": "html", ".css": "css",
}


class CliError(Exception):
    """A user mistake on the command line; printed as one sentence, exit status 2."""


def _settings_flags() -> argparse.ArgumentParser:
    # SUPPRESS: a flag absent from the command line leaves no attribute, so the
    # subcommand's copy of the flags does not reset what was given before it.
    flags = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = flags.add_argument_group("model and engine settings")
    group.add_argument("--model", help="GGUF model file (default: $SEEKCODE_MODEL, then the bundled model)")
    group.add_argument("--ctx-size", type=int, dest="context_size", help="context window in tokens (default 4096)")
    group.add_argument("--threads", type=int, help="CPU threads for llama.cpp (default: llama.cpp's choice)")
    group.add_argument("--batch-size", type=int, dest="batch_size", help="prompt evaluation batch (default 256)")
    group.add_argument("--max-tokens", type=int, dest="max_tokens", help="longest suggestion in tokens (default 64)")
    group.add_argument("--temperature", type=float, help="sampling temperature, 0 = greedy (default 0)")
    group.add_argument("--prefix-tokens", type=int, dest="prefix_tokens", help="prompt budget before the cursor")
    group.add_argument("--suffix-tokens", type=int, dest="suffix_tokens", help="prompt budget after the cursor")
    group.add_argument("--context-tokens", type=int, dest="context_tokens", help="prompt budget for other files")
    group.add_argument("--fim-layout", dest="fim_layout", choices=FIM_LAYOUTS,
                       help="FIM prompt layout (default auto: the model family's; spm-tail for the bundled model)")
    group.add_argument("--warm-places", type=int, dest="warm_places",
                       help="cursor places kept evaluated in the KV cache, so jumping back is fast (default 2, 0: off)")
    group.add_argument("--extra-buffer-types", dest="extra_buffer_types", choices=EXTRA_BUFFER_TYPES,
                       help="llama.cpp's extra buffer types (repacked weights, AMX): auto probes this machine "
                            "once in a child process; on/off force either path (default auto)")
    remote = flags.add_argument_group("remote inference (instead of the local model)")
    remote.add_argument("--url", dest="backend_url",
                        help="inference server: llama-server (http://host:8080) or OpenAI-compatible (.../v1)")
    remote.add_argument("--api-key-env", dest="backend_api_key_env",
                        help="environment variable holding the server's API key (default SEEKCODE_API_KEY)")
    remote.add_argument("--family", dest="backend_family",
                        help="FIM family of the served model when the server cannot tell (e.g. qwen2.5-coder)")
    remote.add_argument("--served-model", dest="backend_model", help="model name to request (OpenAI-compatible servers)")
    group.add_argument("--verbose", action="store_true", help="log to stderr")
    return flags


def build_parser() -> argparse.ArgumentParser:
    flags = _settings_flags()
    parser = argparse.ArgumentParser(
        prog="seekcode-lsp",
        description="Local AI code completion over LSP (stdio). Without a command, serves LSP on stdin/stdout.",
        parents=[flags],
    )
    parser.add_argument("--log-file", help="append the server log to this file")
    parser.add_argument("--stdio", action="store_true", help="serve over stdio (the default; for editor configs)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    complete = commands.add_parser(
        "complete", parents=[flags], help="print the suggestion at FILE:LINE:COLUMN (1-based) on stdout"
    )
    complete.add_argument("location", metavar="FILE:LINE:COLUMN")
    commands.add_parser(
        "doctor", parents=[flags],
        help="print versions, llama.cpp's CPU features, the probe, the model and a timed completion; "
             "exit 1 when something is broken",
    )
    add_review_parser(commands, flags)
    from lsp_server import cli_assist

    cli_assist.add_docstring_arguments(commands.add_parser(
        "docstring", parents=[flags], help="add a docstring to the symbol at FILE:LINE:COLUMN (prints a diff)"
    ))
    cli_assist.add_tests_arguments(commands.add_parser(
        "tests", parents=[flags], help="write unit tests for the symbol at FILE:LINE:COLUMN (prints a diff)"
    ))
    return parser


_SETTING_FLAGS = (
    "model", "context_size", "threads", "batch_size", "max_tokens", "temperature",
    "prefix_tokens", "suffix_tokens", "context_tokens", "fim_layout", "extra_buffer_types", "warm_places",
    "backend_url", "backend_api_key_env", "backend_family", "backend_model", "tests_timeout",
)


def settings_from_args(args: argparse.Namespace) -> Settings:
    given = {name: getattr(args, name) for name in _SETTING_FLAGS if getattr(args, name, None) is not None}
    return Settings().merged(given)


def parse_location(location: str) -> tuple[Path, int, int]:
    parts = location.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise CliError(f"'{location}' is not FILE:LINE:COLUMN; write e.g. src/app.py:12:5 (1-based).")
    line, column = int(parts[1]), int(parts[2])
    if line < 1 or column < 1:
        raise CliError(f"line and column in '{location}' start at 1, as editors print them.")
    return Path(parts[0]), line, column


def cursor_offset(text: str, line: int, column: int) -> int:
    """Offset of a 1-based line and 1-based character column; past-end positions are errors."""
    from lsp_server.protocol.positions import LineIndex, Position, PositionEncoding

    index = LineIndex(text)
    if line > index.line_count:
        raise CliError(f"line {line} is past the end of the file, which has {index.line_count} lines.")
    length = len(index.line_text(line - 1))
    if column > length + 1:
        raise CliError(f"column {column} is past the end of line {line}, which has {length} characters.")
    return index.offset_at(Position(line - 1, column - 1), PositionEncoding.UTF32)


def run_complete(args: argparse.Namespace, settings: Settings) -> int:
    from lsp_server.backend.base import BackendError, ModelLoadError
    from lsp_server.features.completion import CompletionEngine, CompletionRequest
    from lsp_server.features.runtime import (
        backend_options, engine_layout, http_options, open_http_backend, probe_machine, remote_choice,
    )
    from lsp_server.backend.local import LocalBackend
    from lsp_server.settings import resolve_model

    path, line, column = parse_location(args.location)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path} cannot be read as UTF-8 text ({error}).") from None
    offset = cursor_offset(text, line, column)
    choice = remote_choice(settings) if settings.backend_url else resolve_model(settings)
    if choice.path is None and not settings.backend_url:
        raise CliError("no model is configured; pass --model FILE.gguf or set SEEKCODE_MODEL.")
    try:
        if settings.backend_url:
            backend = open_http_backend(http_options(settings))
        else:
            probe = probe_machine(settings, choice)
            if probe.notice:
                print(for_display(f"seekcode-lsp: {probe.notice}", keep_newlines=False), file=sys.stderr)
            backend = LocalBackend(choice.path, backend_options(settings, probe))
    except ModelLoadError as error:
        logger.info("model load failed: %s", error.reason)
        print(for_display(f"seekcode-lsp: {error}", keep_newlines=False), file=sys.stderr)
        return 1
    try:
        engine = CompletionEngine(backend, layout=engine_layout(settings, choice))
        request = CompletionRequest(
            doc_text=text,
            cursor_offset=offset,
            language=LANGUAGE_BY_SUFFIX.get(path.suffix.lower(), path.suffix.lstrip(".")),
            settings=settings,
            uri=path.resolve().as_uri(),
        )
        result = engine.complete(request)
    except BackendError as error:
        logger.info("remote completion failed: %s", error.reason)
        print(for_display(f"seekcode-lsp: {error}", keep_newlines=False), file=sys.stderr)
        return 1
    finally:
        backend.close()
    suggestion = result.suggestions[0].text if result.suggestions else ""
    sys.stdout.write(suggestion + ("\n" if suggestion and not suggestion.endswith("\n") else ""))
    sys.stdout.flush()
    return 0


def protect_stdout() -> tuple[object, object]:
    """Give the LSP stream its own copy of stdout and point fd 1 at stderr.

    llama.cpp and other native code may print to fd 1, and llama-cpp-python silences
    loads by redirecting fd 1 for a moment; either would corrupt or swallow protocol
    messages written concurrently. The protocol writes to the duplicate instead.
    """
    sys.stdout.flush()
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return sys.stdin.buffer, protocol_out


def run_server(args: argparse.Namespace, settings: Settings) -> int:
    from lsp_server.protocol.server import build_server

    protocol_in, protocol_out = protect_stdout()
    server = build_server(settings)
    logger.info("serving LSP on stdio")
    server.start_io(protocol_in, protocol_out)
    server.runtime.close()
    return 0


def configure_logging(args: argparse.Namespace) -> None:
    handlers: list[logging.Handler] = []
    if getattr(args, "log_file", None):
        handlers.append(logging.FileHandler(args.log_file, encoding="utf-8"))
    verbose = getattr(args, "verbose", False)
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    if not handlers:
        handlers.append(logging.StreamHandler(sys.stderr))
        level = logging.WARNING if args.command is None else logging.CRITICAL
    else:
        level = logging.DEBUG if verbose else logging.INFO
    formatter = SafeFormatter("%(asctime)s %(name)s %(levelname)s %(message)s")  # no raw escapes from models
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=handlers)
    logging.getLogger("pygls").setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args)
    try:
        settings = settings_from_args(args)
        if args.command is not None:
            # A one-shot command never moves its cursor and has no next keystroke: no warm places,
            # no short first window, no idle work, and no time limit on its one answer.
            one_shot = {"quick_prefix_tokens": 0, "prefill": False, "max_generation_ms": 0}
            if getattr(args, "warm_places", None) is None:
                one_shot["warm_places"] = 0
            settings = settings.merged(one_shot)
        if args.command == "complete":
            return run_complete(args, settings)
        if args.command == "doctor":
            from lsp_server.doctor import run_doctor

            return run_doctor(settings)
        if args.command in ("docstring", "tests"):
            from lsp_server import cli_assist

            run = cli_assist.run_docstring if args.command == "docstring" else cli_assist.run_tests
            return run(args, settings)
        if args.command == "review":
            return run_review(args, settings)
        return run_server(args, settings)
    except (CliError, SettingsError) as error:
        print(for_display(f"seekcode-lsp: {error}", keep_newlines=False), file=sys.stderr)
        return 2
