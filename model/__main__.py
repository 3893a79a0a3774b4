"""``python -m model SUBCOMMAND ...``.

To add a subcommand, add one line to ``SUBCOMMANDS``: the module must define
``add_arguments(parser: argparse.ArgumentParser) -> None`` and
``run(args: argparse.Namespace) -> int``. Only the chosen subcommand's module is imported,
so one subcommand's import problem never breaks the others.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from model.termination import terminate_as_interrupt

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("model.generate", "generate a continuation of a prompt with a checkpoint"),
    "tiny": ("model.tiny", "write a tiny random DeepSeek-Coder-shaped checkpoint"),
    "eval": ("model.eval.cli", "next-line exact match and perplexity of models on held-out lines"),
    "train": ("model.train.cli", "train a small DeepSeek-Coder-shaped model on source trees (default: the stdlib)"),
    "vocab": ("model.vocab", "rebuild tokenizer.json and tokenizer_config.json from a GGUF vocabulary"),
}

log = logging.getLogger("model")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model", description="seekcode reference model tools")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    terminate_as_interrupt()  # SIGTERM cleans up a half-saved checkpoint like Ctrl-C
    try:
        return module.run(args)
    except KeyboardInterrupt:
        print(f"{args.command}: interrupted; existing outputs were left as they were.", file=sys.stderr)
        return 130
    except (ValueError, OSError, KeyError, RuntimeError) as err:  # ConfigError, CheckpointError, bad files
        log.debug("%s failed", args.command, exc_info=True)
        message = str(err).strip() or type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
