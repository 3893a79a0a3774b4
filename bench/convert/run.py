"""Benchmark: seekcode-convert vs llama.cpp's own path, checkpoint -> q4_k_m GGUF.

    python bench/convert/run.py [--repeat N] [--threads T]

1. Makes (once, cached in bench/work/) a DeepSeek-Coder-1.3B-shaped checkpoint with random
   weights: hidden 2048, 24 layers, 16 heads, ffn 5504, vocab 32256, linear rope x4, bf16
   safetensors (~2.7 GB), with the real DeepSeek-Coder tokenizer.
2. ours:      ``python -m convert CKPT -o ours.gguf --outtype q4_k_m``  (one process)
3. llama.cpp: ``convert_hf_to_gguf.py CKPT --outtype f16`` from the llama-cpp-python sdist's
   vendor/llama.cpp, then llama.cpp's quantizer to Q4_K_M. The quantizer runs as
   ``llama_cpp.llama_model_quantize`` in a fresh Python process: the same C++ function
   (``llama_model_quantize`` in src/llama-quant.cpp) the ``llama-quantize`` tool calls, with
   its default parameters.

Each step runs as its own child process; wall time is measured around it and peak RSS is
that child's ``ru_maxrss`` from ``os.wait4`` (which covers its own children too). This
process stays small (no torch: the checkpoint is made by a child of its own), because a
forked child starts with its parent's resident pages counted in its ``ru_maxrss``. A
pipeline's peak is the largest of its steps' peaks. Prints a table and writes bench/results/convert.json. With --repeat N every figure is
the median of N runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "bench" / "work" / "convert"
RESULTS = REPO / "bench" / "results"
SDIST = Path(os.environ.get("LLAMA_CPP_SDIST", "/tmp/llsdist/llama_cpp_python-0.3.36.tar.gz"))

DEEPSEEK_CODER_1_3B = {
    "arch": "llama", "vocab_size": 32256, "hidden_size": 2048, "intermediate_size": 5504, "num_layers": 24,
    "num_heads": 16, "num_kv_heads": 16, "rms_norm_eps": 1e-6, "rope_theta": 100000.0,
    "rope_scaling_factor": 4.0, "max_position_embeddings": 16384, "attention_bias": False,
    "tie_word_embeddings": False, "bos_token_id": 32013, "eos_token_id": 32014, "torch_dtype": "bfloat16",
}

QUANTIZE_WITH_LLAMA_CPP = """
import ctypes, sys, llama_cpp
params = llama_cpp.llama_model_quantize_default_params()
params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
params.nthread = int(sys.argv[3])
sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(params)))
"""


def make_checkpoint(directory: Path) -> Path:
    """Write the random bf16 checkpoint tensor by tensor (never the whole model in memory)."""
    if (directory / "model.safetensors").is_file():
        return directory
    import torch

    from model.layout import expected_shapes
    from model.config import ModelConfig
    from model.assets import default_vocab_path
    from model.vocab import read_gguf_vocab, write_vocab_files

    config = ModelConfig(**DEEPSEEK_CODER_1_3B)
    tmp = directory.with_name(directory.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    shapes = expected_shapes(config)
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        nbytes = 2 * int(torch.Size(shape).numel())
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header_bytes = json.dumps(header).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    generator = torch.Generator().manual_seed(0)
    with open(tmp / "model.safetensors", "wb") as f:
        f.write(len(header_bytes).to_bytes(8, "little"))
        f.write(header_bytes)
        for name, shape in shapes.items():
            if "norm" in name:
                tensor = torch.ones(shape, dtype=torch.bfloat16)
            else:
                tensor = (torch.randn(shape, generator=generator) * 0.02).to(torch.bfloat16)
            f.write(tensor.view(torch.int16).numpy().tobytes())
    config.save(tmp)
    write_vocab_files(read_gguf_vocab(default_vocab_path()), tmp)
    tmp.rename(directory)
    return directory


def llama_cpp_tree() -> Path:
    """vendor/llama.cpp from the llama-cpp-python sdist (for convert_hf_to_gguf.py and its gguf-py)."""
    target = WORK / "llama.cpp"
    if (target / "convert_hf_to_gguf.py").is_file():
        return target
    prefix = "llama_cpp_python-0.3.36/vendor/llama.cpp/"
    with tarfile.open(SDIST) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)
                   and m.name[len(prefix):].split("/")[0] in ("convert_hf_to_gguf.py", "conversion", "gguf-py")]
        for member in members:
            member.name = member.name[len(prefix):]
        archive.extractall(target, members=members, filter="data")
    return target


def run_step(label: str, command: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``command`` as a child; its wall time and peak RSS (MiB)."""
    print(f"  {label}: {' '.join(command[:4])} ...", flush=True)
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"{label} failed (exit {process.returncode}):\n{stderr.decode(errors='replace')[-3000:]}")
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024}


def ours(checkpoint: Path, threads: int) -> dict[str, dict[str, float]]:
    out = WORK / "ours-q4_k_m.gguf"
    step = run_step("ours", [sys.executable, "-m", "convert", str(checkpoint), "-o", str(out),
                             "--outtype", "q4_k_m", "--threads", str(threads)])
    return {"convert+quantize": step}


def llama_cpp_path(checkpoint: Path, threads: int) -> dict[str, dict[str, float]]:
    tree = llama_cpp_tree()
    f16 = WORK / "llama.cpp-f16.gguf"
    out = WORK / "llama.cpp-q4_k_m.gguf"
    env = {**os.environ, "PYTHONPATH": ""}
    convert = run_step("llama.cpp convert", [sys.executable, str(tree / "convert_hf_to_gguf.py"), str(checkpoint),
                                             "--outfile", str(f16), "--outtype", "f16"], env=env)
    quantize = run_step("llama.cpp quantize", [sys.executable, "-c", QUANTIZE_WITH_LLAMA_CPP, str(f16), str(out), str(threads)])
    f16.unlink()
    return {"convert_hf_to_gguf f16": convert, "quantize q4_k_m": quantize}


def total(steps: dict[str, dict[str, float]]) -> dict[str, float]:
    return {"wall_s": sum(s["wall_s"] for s in steps.values()),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in steps.values())}


def median_runs(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {step: {metric: statistics.median(run[step][metric] for run in runs) for metric in runs[0][step]}
            for step in runs[0]}


def same_tensor_types(a: Path, b: Path) -> bool:
    from gguf import GGUFReader

    def types(path: Path) -> dict[str, str]:
        return {t.name: t.tensor_type.name for t in GGUFReader(path).tensors}

    return types(a) == types(b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per pipeline; figures are medians")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--make-checkpoint", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_checkpoint:
        sys.path.insert(0, str(REPO))
        make_checkpoint(args.make_checkpoint)
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)

    print("checkpoint (DeepSeek-Coder-1.3B shape, random bf16):", flush=True)
    checkpoint = WORK / "deepseek-coder-1.3b-shaped"
    subprocess.run([sys.executable, __file__, "--make-checkpoint", str(checkpoint)], cwd=REPO, check=True)
    checkpoint_gib = sum(p.stat().st_size for p in checkpoint.iterdir()) / 2**30
    print(f"  {checkpoint} ({checkpoint_gib:.2f} GiB)")

    ours_runs, theirs_runs = [], []
    for run in range(args.repeat):
        print(f"run {run + 1}/{args.repeat}:", flush=True)
        ours_runs.append(ours(checkpoint, args.threads))
        theirs_runs.append(llama_cpp_path(checkpoint, args.threads))
    ours_steps, theirs_steps = median_runs(ours_runs), median_runs(theirs_runs)
    ours_total, theirs_total = total(ours_steps), total(theirs_steps)
    types_match = same_tensor_types(WORK / "ours-q4_k_m.gguf", WORK / "llama.cpp-q4_k_m.gguf")

    rows = [(f"ours: {k}", v) for k, v in ours_steps.items()] + [("ours total", ours_total)]
    rows += [(f"llama.cpp: {k}", v) for k, v in theirs_steps.items()] + [("llama.cpp total", theirs_total)]
    print(f"\n{'step':<40} {'wall s':>8} {'peak RSS MiB':>13}")
    for label, figures in rows:
        print(f"{label:<40} {figures['wall_s']:>8.1f} {figures['peak_rss_mib']:>13.0f}")
    speedup = theirs_total["wall_s"] / ours_total["wall_s"]
    memory_ratio = ours_total["peak_rss_mib"] / theirs_total["peak_rss_mib"]
    print(f"\nours is {speedup:.2f}x as fast end to end, with {memory_ratio:.2f}x the peak memory "
          f"(target: faster, <= 0.5x); same tensor types in both q4_k_m files: {types_match}")
    result = {
        "checkpoint": {"shape": DEEPSEEK_CODER_1_3B, "gib": checkpoint_gib}, "threads": args.threads,
        "repeat": args.repeat, "ours": {"steps": ours_steps, "total": ours_total},
        "llama_cpp": {"steps": theirs_steps, "total": theirs_total},
        "speedup": speedup, "memory_ratio": memory_ratio, "same_tensor_types": types_match,
    }
    (RESULTS / "convert.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / 'convert.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
