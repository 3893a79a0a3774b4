"""`seekcode-lsp docstring` and `seekcode-lsp tests`: the assist features from the shell.

    seekcode-lsp docstring FILE:LINE:COLUMN [--model M] [--style auto|google|numpy|rest] [--replace] [--apply]
    seekcode-lsp tests FILE:LINE:COLUMN [--model M] [--framework auto|...] [--run] [--apply]

Without --apply they print a unified diff (paths relative to the project root); with it
they write the files atomically. Exit status: 0 done, 1 nothing could be generated (the
reason on stderr), 2 bad usage (cli.main turns CliError into 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lsp_server.settings import Settings

logger = logging.getLogger("lsp_server")

PROJECT_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg", "package.json", "go.mod", "Cargo.toml",
                   "pom.xml", "build.gradle", "build.gradle.kts")


def add_docstring_arguments(parser: argparse.ArgumentParser) -> None:
    from lsp_server.features.docstring import STYLE_CHOICES

    parser.add_argument("location", metavar="FILE:LINE:COLUMN")
    parser.add_argument("--style", choices=STYLE_CHOICES, default="auto",
                        help="docstring style (default auto: the file's own, else Google)")
    parser.add_argument("--replace", action="store_true", help="replace an existing docstring")
    parser.add_argument("--apply", action="store_true", help="write the file instead of printing a diff")


def add_tests_arguments(parser: argparse.ArgumentParser) -> None:
    from lsp_server.features.tests import FRAMEWORK_CHOICES

    parser.add_argument("location", metavar="FILE:LINE:COLUMN")
    parser.add_argument("--framework", default="auto", choices=FRAMEWORK_CHOICES,
                        help="test framework (default auto: the project's)")
    parser.add_argument("--run", action="store_true",
                        help="run the new tests (executes code, in a subprocess) and keep only those that pass 3 times")
    parser.add_argument("--timeout", type=float, dest="tests_timeout", metavar="SECONDS",
                        help="with --run: stop a run of the tests after this long (default 60)")
    parser.add_argument("--apply", action="store_true", help="write the files instead of printing a diff")


def say(text: object) -> None:
    """One line on stderr; model output and model-file text in it are shown escaped."""
    from lsp_server.display import for_display

    print(for_display(f"seekcode-lsp: {text}", keep_newlines=False), file=sys.stderr)


def project_root(path: Path) -> Path:
    """The nearest directory above `path` holding a project marker (.git, pyproject.toml, ...)."""
    resolved = path.resolve()
    for directory in resolved.parents:
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            return directory
    return resolved.parent


def read_source(location: str) -> tuple[Path, str, int, str]:
    from lsp_server.cli import LANGUAGE_BY_SUFFIX, CliError, cursor_offset, parse_location

    path, line, column = parse_location(location)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CliError(f"{path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path} cannot be read as UTF-8 text ({error}).") from None
    offset = cursor_offset(text, line, column)
    language = LANGUAGE_BY_SUFFIX.get(path.suffix.lower(), path.suffix.lstrip("."))
    return path, text, offset, language


class _Progress:
    """A tqdm bar over the holes (or tests) being written, on stderr; silent if tqdm is missing."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.description, unit="part", file=sys.stderr, leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def load_backend(settings: Settings):
    """(backend, choice) or a one-line error on stderr and None: the server at `--url`, else
    the local GGUF."""
    from lsp_server.backend.base import ModelLoadError
    from lsp_server.cli import CliError
    from lsp_server.features.runtime import open_backend

    try:
        return open_backend(settings)
    except LookupError:
        raise CliError("no model is configured; pass --model FILE.gguf or set SEEKCODE_MODEL.") from None
    except ModelLoadError as error:
        logger.info("model load failed: %s", error.reason)
        say(error)
        return None, None


def emit(file_edits, root: Path, apply: bool) -> int:
    from lsp_server.features.edits import EditError, unified_diff, write_atomic

    try:
        if apply:
            for written in write_atomic(file_edits, root):
                say(f"wrote {written}")
        else:
            sys.stdout.write(unified_diff(file_edits, root))
            sys.stdout.flush()
    except EditError as error:
        say(error)
        return 1
    return 0


def run_docstring(args: argparse.Namespace, settings: Settings) -> int:
    from lsp_server.backend.base import BackendError
    from lsp_server.engine.chat import ChatTemplateError
    from lsp_server.features.docstring import DocstringError, docstring_for_file
    from lsp_server.features.runtime import engine_layout
    from lsp_server.features.writers import writer_for

    path, text, offset, language = read_source(args.location)
    try:
        from lsp_server.features.docstring import plan_docstring

        plan_docstring(text, offset, language, style=args.style, replace=args.replace)  # fail before loading
    except DocstringError as error:
        say(error)
        return 1
    backend, choice = load_backend(settings)
    if backend is None:
        return 1
    progress = _Progress("docstring")
    try:
        writer = writer_for(backend, layout=engine_layout(settings, choice), settings=settings)
        file_edit, _ = docstring_for_file(
            path, text, offset, language, writer, style=args.style, replace=args.replace, on_hole=progress
        )
    except (DocstringError, BackendError, ChatTemplateError) as error:
        progress.close()  # before the message, so it does not land on the bar's line
        say(error)
        return 1
    finally:
        progress.close()
        backend.close()
    return emit([file_edit], project_root(path), args.apply)


def run_tests(args: argparse.Namespace, settings: Settings) -> int:
    from lsp_server.backend.base import BackendError
    from lsp_server.engine.chat import ChatTemplateError
    from lsp_server.features.runtime import engine_layout
    from lsp_server.features.test_writers import test_writer_for
    from lsp_server.features.tests import TestsError, generate_tests, plan_tests, run_and_filter

    path, text, offset, language = read_source(args.location)
    root = project_root(path)
    try:
        plan = plan_tests(path, text, offset, language, root, args.framework)
    except TestsError as error:
        say(error)
        return 1
    backend, choice = load_backend(settings)
    if backend is None:
        return 1
    try:
        writer = test_writer_for(backend, layout=engine_layout(settings, choice), settings=settings)
        result = generate_tests(plan, writer)
    except (TestsError, BackendError, ChatTemplateError) as error:
        say(error)
        return 1
    finally:
        backend.close()
    if args.run:
        progress = _Progress("running tests")
        try:
            result = run_and_filter(plan, result, timeout=settings.tests_timeout, on_run=progress)
        except TestsError as error:
            progress.close()  # before the message, so it does not land on the bar's line
            say(error)
            return 1
        finally:
            progress.close()
    for note in result.notes:
        say(note)
    return emit([result.file_edit], root, args.apply)
