"""The real Qwen2.5-Coder-0.5B GGUF, back to a reference checkpoint and forward again.

    python bench/convert/real_model.py [GGUF] [--outtypes f16,q8_0,q4_k_m] [--threads T]

1. ``seekcode-convert MODEL.gguf -o DIR --to hf`` dequantizes the released Q4_K_M file into
   a float32 reference checkpoint (bench/work/convert/qwen2.5-coder-0.5b-ref).
2. The PyTorch reference model on that checkpoint vs llama.cpp on the original GGUF, over the
   code prompts of ``convert.verify``: how close the two engines are on identical weights
   (llama.cpp also quantizes activations to 8 bits in its K-quant matmuls).
3. The reference checkpoint converted again by our converter to each --outtypes and verified:
   the quantization error of each type on a trained model, which the tolerances in
   convert/verify.py were set against.

Prints a table and writes bench/results/convert_real_model.json. Needs ~6 GB of RAM.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from convert.pipeline import convert_checkpoint  # noqa: E402
from convert.to_hf import to_hf  # noqa: E402
from convert.verify import VerifyReport, verify  # noqa: E402

WORK = REPO / "bench" / "work" / "convert"
RESULTS = REPO / "bench" / "results"
DEFAULT_GGUF = Path.home() / ".cache" / "seekcode-dev" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def row(label: str, report: VerifyReport, seconds: float) -> dict[str, object]:
    print(f"{label:<34} {report.max_abs_diff:>9.4f} {report.max_relative_diff:>8.4f} {report.mean_kl:>10.2e} "
          f"{report.top1:>7.1%} {report.positions:>6}  {'-' if report.tolerance is None else 'pass' if report.passed else 'FAIL'}"
          f"  ({seconds:.0f} s)", flush=True)
    return {"label": label, "max_abs_diff": report.max_abs_diff, "logit_std": report.logit_std,
            "max_relative_diff": report.max_relative_diff, "mean_kl": report.mean_kl, "top1": report.top1,
            "positions": report.positions, "passed": report.passed if report.tolerance else None, "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gguf", nargs="?", type=Path, default=DEFAULT_GGUF)
    parser.add_argument("--outtypes", default="f16,q8_0,q4_k_m")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)

    reference = WORK / "qwen2.5-coder-0.5b-ref"
    start = time.perf_counter()
    to_hf(args.gguf, reference)
    to_hf_seconds = time.perf_counter() - start
    print(f"--to hf: {args.gguf.name} -> {reference} in {to_hf_seconds:.0f} s\n")

    print(f"{'comparison':<34} {'max|diff|':>9} {'rel':>8} {'mean KL':>10} {'top-1':>7} {'pos':>6}")
    rows = []
    start = time.perf_counter()
    report = verify(reference, args.gguf, outtype=None, threads=args.threads)
    rows.append(row("reference vs llama.cpp, released", report, time.perf_counter() - start))
    for outtype in args.outtypes.split(","):
        out = WORK / f"qwen2.5-coder-0.5b-requantized-{outtype}.gguf"
        start = time.perf_counter()
        convert_checkpoint(reference, out, outtype, threads=args.threads, log=lambda _message: None)
        converted = time.perf_counter()
        report = verify(reference, out, outtype=outtype, threads=args.threads)
        rows.append(row(f"reference vs ours {outtype}", report, time.perf_counter() - converted)
                    | {"convert_seconds": converted - start})
        out.unlink()
    (RESULTS / "convert_real_model.json").write_text(
        json.dumps({"gguf": str(args.gguf), "to_hf_seconds": to_hf_seconds, "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {RESULTS / 'convert_real_model.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
