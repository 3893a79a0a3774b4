"""``seekcode-convert``: checkpoint -> GGUF (optionally verified), or GGUF -> reference checkpoint."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from convert.errors import ConvertError
from convert.tensors import OUTTYPES
from model.termination import terminate_as_interrupt

log = logging.getLogger("convert")

DESCRIPTION = """\
Convert a Hugging Face-layout checkpoint (config.json, tokenizer.json, safetensors or .bin
weights) of a DeepSeek-Coder (llama) or Qwen2 model to GGUF for llama.cpp, or with --to hf
turn a llama/qwen2 GGUF back into a reference checkpoint."""

EPILOG = """\
examples:
  seekcode-convert ckpt/ -o model.gguf --outtype q4_k_m --verify
  seekcode-convert model.gguf -o ckpt/ --to hf"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seekcode-convert", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path, help="checkpoint directory (or a .gguf file with --to hf)")
    parser.add_argument("-o", "--out", type=Path, required=True,
                        help="GGUF file to write (a checkpoint directory with --to hf); replaced only on success")
    parser.add_argument("--outtype", default=None, choices=list(OUTTYPES),
                        help="tensor type of the GGUF (default f16); with --to hf: f32 (default), f16 or bf16")
    parser.add_argument("--to", choices=("gguf", "hf"), default="gguf", help="output format (default gguf)")
    parser.add_argument("--verify", action="store_true",
                        help="compare llama.cpp on the new GGUF with the PyTorch reference; fail past the tolerances")
    parser.add_argument("--threads", type=int, default=None, help="threads for quantizing and verifying (default: all)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.threads is not None and args.threads < 1:
        raise ConvertError(f"--threads {args.threads} must be at least 1.")
    if args.to == "hf":
        if args.verify:
            raise ConvertError("--verify compares a GGUF with its source checkpoint; run it on the gguf direction.")
        from convert.to_hf import to_hf

        out = to_hf(args.src, args.out, dtype=args.outtype or "f32")
        print(f"wrote reference checkpoint {out}")
        return 0

    from convert.pipeline import convert_checkpoint

    outtype = args.outtype or "f16"
    out = convert_checkpoint(args.src, args.out, outtype, threads=args.threads)
    print(f"wrote {out} ({outtype}, {os.path.getsize(out) / 2**20:.1f} MiB)")
    if args.verify:
        from convert.verify import verify

        report = verify(args.src, out, outtype=outtype, threads=args.threads)
        print(report.summary())
        if not report.passed:
            raise ConvertError(f"{out} is outside the {outtype} tolerances ({'; '.join(report.failures)}).")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    terminate_as_interrupt()  # SIGTERM cleans up the temporary output like Ctrl-C
    try:
        return run(args)
    except ConvertError as err:
        print(f"seekcode-convert: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seekcode-convert: interrupted; nothing was written.", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: one line for the user, the traceback with --debug
        if args.debug:
            raise
        log.debug("unexpected failure", exc_info=True)
        print(f"seekcode-convert: internal error: {type(err).__name__}: {err} (rerun with --debug for details)",
              file=sys.stderr)
        return 2
