"""`seekcode-lsp review PATH… [--diff REV] [--format text|json|sarif] [--fail-on LEVEL]`.

Exit status: 1 when a finding at or above `--fail-on` exists, 0 otherwise, 2 on bad
usage or when the review cannot run (no model, unreadable file, unknown revision).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

logger = logging.getLogger("lsp_server")

FORMATS = ("text", "json", "sarif")
FAIL_ON = ("error", "warning", "info", "never")
SKIPPED_SUFFIXES = {".json", ".md", ".yaml", ".yml", ".toml", ".html", ".css"}


class ReviewUsageError(Exception):
    """Bad paths or options; one sentence, exit status 2."""


def add_review_parser(commands, flags: argparse.ArgumentParser) -> None:
    review = commands.add_parser(
        "review", parents=[flags],
        help="review files (or the lines changed since --diff REV); print findings; exit 1 at --fail-on",
    )
    review.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to review")
    review.add_argument("--diff", metavar="REV", help="only the lines changed since this git revision")
    review.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    review.add_argument("--fail-on", choices=FAIL_ON, default="error",
                        help="exit 1 when a finding at or above this severity exists (default error)")
    review.add_argument("--signals", choices=("surprise", "written", "both"), default="both",
                        help="model surprise, the written review, or both (default)")


def source_files(paths: Sequence[str]) -> list[Path]:
    from lsp_server.cli import LANGUAGE_BY_SUFFIX

    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(
                child for child in path.rglob("*")
                if child.is_file() and child.suffix.lower() in LANGUAGE_BY_SUFFIX
                and child.suffix.lower() not in SKIPPED_SUFFIXES
                and not any(part.startswith(".") for part in child.relative_to(path).parts)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise ReviewUsageError(f"{raw} does not exist; give files or folders to review.")
    return files


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ReviewUsageError(f"{path} cannot be read as UTF-8 text ({error}).") from None


def run_review(args: argparse.Namespace, settings) -> int:
    from lsp_server.backend.base import BackendError, ModelLoadError
    from lsp_server.cli import LANGUAGE_BY_SUFFIX
    from lsp_server.engine.gitdiff import GitDiffError, changed_lines
    from lsp_server.features.review import ReviewOptions, ReviewRequest, at_or_above, review_all
    from lsp_server.features.review_calibration import calibrated_options
    from lsp_server.features.review_model import review_model_for
    from lsp_server.features.runtime import open_backend
    from lsp_server.features.sarif import FileReview, artifact_uri

    try:
        files = source_files(args.paths)
        texts = {path: read_text(path) for path in files}
        changed = {path: changed_lines(path, args.diff) for path in files} if args.diff else {}
    except (ReviewUsageError, GitDiffError) as error:
        print(f"seekcode-lsp: {error}", file=sys.stderr)
        return 2
    try:
        backend, _ = open_backend(settings)
    except LookupError:
        print("seekcode-lsp: no model is configured; pass --model FILE.gguf or set SEEKCODE_MODEL.", file=sys.stderr)
        return 2
    except ModelLoadError as error:
        logger.info("model load failed: %s", error.reason)
        print(f"seekcode-lsp: {error}", file=sys.stderr)
        return 2
    model = review_model_for(backend)
    reviews: list[FileReview] = []
    notes: set[str] = set()
    try:
        options = calibrated_options(model, progress=_calibration_progress()) if args.signals != "written" else None
        options = options or ReviewOptions()
        for path in _progress(files):
            text = texts[path]
            lines = changed.get(path)
            request = ReviewRequest(
                text, path=str(path), language=LANGUAGE_BY_SUFFIX.get(path.suffix.lower(), ""),
                changed_lines=lines, signals=args.signals,
            )
            result = review_all(request, model, options)
            notes.update(result.notes)
            reviews.append(FileReview(artifact_uri(path, Path.cwd()), text, result.findings, path=str(path)))
    except BackendError as error:
        logger.info("remote review failed: %s", error.reason)
        print(f"seekcode-lsp: {error}", file=sys.stderr)
        return 2
    finally:
        backend.close()
    for note in sorted(notes):
        print(f"seekcode-lsp: note: {note}", file=sys.stderr)
    write_report(reviews, args.format, _version())
    every = [finding for item in reviews for finding in item.findings]
    return 1 if args.fail_on != "never" and at_or_above(every, args.fail_on) else 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seekcode")
    except PackageNotFoundError:
        return "0.1.0"


def _calibration_progress():
    """tqdm on stderr for the model's one-time calibration (only if it runs: a cached one is silent)."""
    state: dict = {}

    def report(done: int, total: int, what: str) -> None:
        if "bar" not in state:
            print("seekcode-lsp: calibrating the review for this model (once, then cached)...", file=sys.stderr)
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is optional: the line above is the progress report then
                state["bar"] = None
            else:
                state["bar"] = tqdm(total=total, unit="step", file=sys.stderr, leave=False)
        if state["bar"] is not None:
            state["bar"].update(done - state["bar"].n)

    return report


def _progress(files: list[Path]) -> Iterable[Path]:
    if len(files) < 2 or not sys.stderr.isatty():
        return files
    try:
        from tqdm import tqdm
    except ImportError:
        return files
    return tqdm(files, desc="seekcode: reviewing", unit="file", file=sys.stderr)


def write_report(reviews, output_format: str, version: str) -> None:
    from lsp_server.features.sarif import sarif_log

    if output_format == "sarif":
        json.dump(sarif_log(reviews, version), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output_format == "json":
        json.dump([finding.to_json(item.path or item.uri) for item in reviews for finding in item.findings], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for item in reviews:
            for finding in item.findings:
                line_start = item.text.rfind("\n", 0, finding.start) + 1
                column = finding.start - line_start + 1
                sys.stdout.write(f"{item.path or item.uri}:{finding.start_line}:{column}: {finding.severity}: {finding.message}\n")
    sys.stdout.flush()
