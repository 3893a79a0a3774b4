"""The training loop: AdamW, warmup + cosine decay, gradient accumulation and clipping,
bf16 autocast, checkpoints with exact resume.

A run directory holds::

    run.json                  what the run is (model config, settings, data, command)
    log.jsonl                 one line per optimizer step (loss, lr, tokens, seconds)
    checkpoints/step-NNNNNNNN/ a Hugging Face checkpoint (save_checkpoint) + trainer_state.pt

``trainer_state.pt`` has the optimizer, the LR scheduler, the RNG states and the data position
(how many sequences were consumed). The data order is a pure function of (seed, position): each
epoch is a permutation drawn from ``numpy.random.default_rng([seed, epoch])``. So training k
steps, or j steps and then resuming to k, gives bit-identical weights on the same machine.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import signal
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from model.checkpoint import load_model, save_checkpoint
from model.config import ModelConfig
from model.train.data import PackedData
from model.train.schedule import lr_factor
from model.transformer import Transformer

TRAINER_STATE = "trainer_state.pt"
CHECKPOINTS = "checkpoints"
STEP_PREFIX = "step-"


class TrainError(ValueError):
    """Training cannot start or resume as asked."""


@dataclass(frozen=True)
class TrainSettings:
    steps: int
    batch_size: int = 4  # sequences per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 20
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    precision: str = "auto"  # auto | fp32 | bf16
    device: str = "auto"  # auto | cpu | cuda
    compile: bool = False

    def __post_init__(self) -> None:
        for key in ("steps", "batch_size", "grad_accum", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, key) <= 0:
                raise TrainError(f"{key}={getattr(self, key)} must be positive.")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise TrainError(f"precision={self.precision!r} is not one of auto, fp32, bf16.")
        if self.device not in ("auto", "cpu", "cuda"):
            raise TrainError(f"device={self.device!r} is not one of auto, cpu, cuda.")


@dataclass
class TrainResult:
    steps: int
    tokens_seen: int
    final_loss: float
    checkpoint: Path
    losses: list[float] = field(default_factory=list)


def pick_device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise TrainError("device=cuda but torch sees no CUDA device; use --device cpu.")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 dot products (AVX512-BF16 or AMX), where autocast can pay off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in (" avx512_bf16", " amx_bf16"))


def pick_precision(choice: str, device: torch.device) -> str:
    """``auto``: bf16 autocast on CUDA with bf16 and on CPUs with native bf16 dot products, else fp32.

    On this machine's AVX512-BF16 EPYC, quiet, 2 threads, 8 x 512 tokens per micro-batch
    (bench/train_throughput.py --batch-size 8), bf16 autocast ran the 128-wide shape at 1.13x and the
    shipped 256-wide one at 1.35x the fp32 tokens/s.
    """
    if choice == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        raise TrainError("precision=bf16 needs a CPU with AVX512-BF16 or AMX; use --precision fp32.")
    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


def init_model(config: ModelConfig, seed: int) -> Transformer:
    model = Transformer(config)
    model.init_weights(std=0.02, generator=torch.Generator().manual_seed(seed))
    return model


def make_optimizer(model: Transformer, settings: TrainSettings, device: torch.device) -> torch.optim.AdamW:
    """AdamW; matrices decay, norm weights do not."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=settings.lr, betas=(settings.beta1, settings.beta2), fused=True)


def make_scheduler(optimizer: torch.optim.Optimizer, settings: TrainSettings) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, settings.warmup_steps, settings.steps, settings.min_lr_ratio))


class DataOrder:
    """Which training sequence is the k-th one drawn: epoch permutations from (seed, epoch)."""

    def __init__(self, num_sequences: int, seed: int) -> None:
        if num_sequences <= 0:
            raise TrainError("the training data holds no complete sequence; add sources or lower --seq-len.")
        self.num_sequences = num_sequences
        self.seed = seed
        self._epoch = -1
        self._perm = np.zeros(0, dtype=np.int64)

    def __getitem__(self, k: int) -> int:
        epoch, offset = divmod(k, self.num_sequences)
        if epoch != self._epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.num_sequences)
            self._epoch = epoch
        return int(self._perm[offset])


def batch_tensor(data: PackedData, order: DataOrder, first: int, batch_size: int, device: torch.device) -> torch.Tensor:
    rows = [data.sequence(order[k]) for k in range(first, first + batch_size)]
    return torch.from_numpy(np.stack(rows).astype(np.int64)).to(device)


def step_dir(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINTS / f"{STEP_PREFIX}{step:08d}"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint (one with a trainer state) of a run, or None."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return None
    done = [p for p in root.iterdir() if p.name.startswith(STEP_PREFIX) and (p / TRAINER_STATE).is_file()]
    return max(done, key=lambda p: int(p.name[len(STEP_PREFIX):]), default=None)


def save_training_checkpoint(run_dir: Path, model: Transformer, optimizer: torch.optim.Optimizer,
                             scheduler: Any, state: dict[str, Any], tokenizer_dir: Path | None,
                             keep: int) -> Path:
    """Write weights + trainer state under a temporary name, then rename: a crash never leaves half a checkpoint."""
    final = step_dir(run_dir, state["step"])
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    weights = {name: t.detach().float() for name, t in model.state_dict().items()}
    save_checkpoint(partial, model.config, weights, tokenizer_src=tokenizer_dir)
    trainer_state = {
        **state,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    torch.save(trainer_state, partial / TRAINER_STATE)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    _prune(run_dir, keep)
    return final


def _prune(run_dir: Path, keep: int) -> None:
    root = run_dir / CHECKPOINTS
    done = sorted((p for p in root.iterdir() if p.name.startswith(STEP_PREFIX) and not p.name.endswith(".partial")),
                  key=lambda p: int(p.name[len(STEP_PREFIX):].split(".")[0]))
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


class _StopFlag:
    """Set by SIGTERM/SIGINT so the loop can save a checkpoint and exit at a step boundary."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no signal handling
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train(run_dir: str | Path, config: ModelConfig, data: PackedData, settings: TrainSettings,
          tokenizer_dir: Path | None = None, stop_after: int | None = None,
          run_info: dict[str, Any] | None = None,
          on_step: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train (or resume the newest checkpoint of ``run_dir``) up to ``settings.steps`` optimizer steps.

    ``stop_after`` ends the session early at that step with a checkpoint (the schedule still
    targets ``settings.steps``), which is what an interruption looks like.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with _RunLock(run_dir):
        return _train(run_dir, config, data, settings, tokenizer_dir, stop_after, run_info, on_step)


class _RunLock:
    """One training process per run directory: a second one would interleave checkpoints."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / ".lock"

    def __enter__(self) -> _RunLock:
        self.file = open(self.path, "w")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise TrainError(f"another training process is using {self.path.parent}; stop it or use another --run-dir.") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def _train(run_dir: Path, config: ModelConfig, data: PackedData, settings: TrainSettings,
           tokenizer_dir: Path | None, stop_after: int | None, run_info: dict[str, Any] | None,
           on_step: Callable[[int, float], None] | None) -> TrainResult:
    device = pick_device(settings.device)
    precision = pick_precision(settings.precision, device)
    torch.manual_seed(settings.seed)
    resume_from = latest_checkpoint(run_dir)
    if resume_from is not None:
        model = load_model(resume_from, dtype=torch.float32, device=device).train()
        model.requires_grad_(True)
        state = torch.load(resume_from / TRAINER_STATE, weights_only=False)
        if model.config != config:
            raise TrainError(f"{resume_from} was trained with a different model shape; use a new run directory.")
        _record_session(run_dir, state["step"], settings, run_info)
    else:
        model = init_model(config, settings.seed).to(device).train()
        state = {"step": 0, "samples_seen": 0, "tokens_seen": 0, "elapsed_s": 0.0}
        run_dir.mkdir(parents=True, exist_ok=True)
        info = {"model_config": config.to_hf(), "settings": asdict(settings), "precision": precision,
                "device": str(device), "threads": torch.get_num_threads(), **(run_info or {})}
        (run_dir / "run.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    optimizer = make_optimizer(model, settings, device)
    scheduler = make_scheduler(optimizer, settings)
    if resume_from is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
    forward = torch.compile(model) if settings.compile else model
    order = DataOrder(data.num_sequences("train"), settings.seed)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext())
    end_step = settings.steps if stop_after is None else min(stop_after, settings.steps)
    tokens_per_step = settings.batch_size * settings.grad_accum * data.seq_len
    losses: list[float] = []
    loss_value = math.nan
    session_start = time.perf_counter()
    session_tokens = 0
    log_file = open(run_dir / "log.jsonl", "a", encoding="utf-8")
    bar = tqdm(total=settings.steps, initial=state["step"], desc="training", unit="step", dynamic_ncols=True,
               disable=None)
    try:
        with _StopFlag() as stop:
            while state["step"] < end_step and not stop.raised:
                lr = scheduler.get_last_lr()[0]
                loss_value = _optimizer_step(forward, optimizer, scheduler, data, order, state, settings,
                                             autocast, device)
                state["tokens_seen"] += tokens_per_step
                session_tokens += tokens_per_step
                now = time.perf_counter()
                losses.append(loss_value)
                elapsed = state["elapsed_s"] + (now - session_start)
                tokens_per_s = session_tokens / max(now - session_start, 1e-9)
                log_file.write(json.dumps({"step": state["step"], "loss": round(loss_value, 5),
                                           "lr": lr, "tokens": state["tokens_seen"],
                                           "elapsed_s": round(elapsed, 2), "tok_s": round(tokens_per_s, 1)}) + "\n")
                log_file.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tokens_per_s:.0f}")
                if on_step is not None:
                    on_step(state["step"], loss_value)
                if state["step"] % settings.checkpoint_every == 0 or state["step"] == end_step or stop.raised:
                    state_to_save = {**state, "elapsed_s": elapsed}
                    last = save_training_checkpoint(run_dir, model, optimizer, scheduler, state_to_save,
                                                    tokenizer_dir, settings.keep_checkpoints)
    finally:
        bar.close()
        log_file.close()
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise TrainError(f"no checkpoint was written to {run_dir}.")
    return TrainResult(state["step"], state["tokens_seen"], loss_value, checkpoint, losses)


def _record_session(run_dir: Path, step: int, settings: TrainSettings, run_info: dict[str, Any] | None) -> None:
    """Note a resumed session in run.json (its settings may differ, e.g. a new total of steps)."""
    path = run_dir / "run.json"
    info = json.loads(path.read_text()) if path.is_file() else {}
    info.setdefault("resumed", []).append({"at_step": step, "settings": asdict(settings),
                                           "command": (run_info or {}).get("command")})
    path.write_text(json.dumps(info, indent=2, default=str) + "\n")


def _optimizer_step(forward: Callable[[torch.Tensor], torch.Tensor], optimizer: torch.optim.Optimizer,
                    scheduler: Any, data: PackedData, order: DataOrder, state: dict[str, Any],
                    settings: TrainSettings, autocast: Any, device: torch.device) -> float:
    """One optimizer step over ``grad_accum`` micro-batches; returns the mean loss."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for _ in range(settings.grad_accum):
        batch = batch_tensor(data, order, state["samples_seen"], settings.batch_size, device)
        state["samples_seen"] += settings.batch_size
        with autocast:
            logits = forward(batch[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        (loss / settings.grad_accum).backward()
        total += loss.item()
    torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"] + optimizer.param_groups[1]["params"],
                                   settings.grad_clip)
    optimizer.step()
    scheduler.step()
    state["step"] += 1
    return total / settings.grad_accum
