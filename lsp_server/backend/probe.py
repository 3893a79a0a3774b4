"""Is it safe to load models with llama.cpp's extra buffer types on this machine?

llama.cpp repacks weights into "extra buffer types" for CPU-specific kernels (AMX on Intel
Sapphire Rapids, interleaved layouts elsewhere). On some machines such a kernel dies with
SIGILL although the CPU flags promise the instructions (AMX in some VMs), which would kill
the server, the converter's verification or an evaluation. So before the first model load
on a machine, a child process loads a small model and decodes a few tokens with the
defaults. If the child dies by a signal, models are loaded with the extra buffer types off
(`use_extra_bufts = False`). The outcome is cached per machine and llama.cpp build under
the user cache directory, so the probe costs about a second once.

`policy` ("auto" | "on" | "off", the `extraBufferTypes` setting) forces either path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

POLICIES = ("auto", "on", "off")
PROBE_TIMEOUT_S = 120.0
PROBE_TOKENS = 4
CACHE_ENV = "SEEKCODE_CACHE_DIR"
POLICY_ENV = "SEEKCODE_EXTRA_BUFFER_TYPES"  # for the converter and evaluation, which have no settings


@dataclass(frozen=True)
class ProbeOutcome:
    extra_buffer_types: bool  # True: load with llama.cpp's defaults
    source: str  # "probe", "cache", "setting" or "inconclusive"
    detail: str  # what the child did, e.g. "decoded 4 tokens" or "died by SIGILL"

    @property
    def notice(self) -> str | None:
        """The one sentence to tell the user when models load without extra buffer types."""
        if self.extra_buffer_types or self.source == "setting":
            return None
        return (
            f"llama.cpp's optimised CPU kernels crashed on this machine ({self.detail}), so seekcode loads "
            "models without them (extra buffer types off); this is safe but some quantizations run slower. "
            "Set 'seekcode.extraBufferTypes' to 'on' to force them."
        )


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seekcode"


def machine_fingerprint() -> str:
    """The CPU (model name, flags, architecture): what decides which instructions run."""
    wanted = ("model name", "flags", "Features", "CPU implementer", "CPU part")
    lines: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            name = line.split(":", 1)[0].strip()
            if name in wanted and line not in lines:
                lines.append(line)
    return "\n".join([platform.machine(), platform.processor(), *lines])


def llama_build_fingerprint() -> str:
    """llama-cpp-python's version and its native libraries' sizes and times (a rebuild changes them)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return "llama_cpp missing"
    package = Path(next(iter(spec.submodule_search_locations)))
    parts = [str(package)]
    for lib in sorted((package / "lib").glob("*.so*")) + sorted((package / "lib").glob("*.dylib")):
        stat = lib.stat()
        parts.append(f"{lib.name}:{stat.st_size}:{int(stat.st_mtime)}")
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        parts.append(version("llama-cpp-python"))
    return "\n".join(parts)


def cache_path(machine: str | None = None, build: str | None = None) -> Path:
    key = hashlib.sha256(
        f"{machine_fingerprint() if machine is None else machine}\n--\n"
        f"{llama_build_fingerprint() if build is None else build}".encode()
    ).hexdigest()[:16]
    return cache_dir() / "probe" / f"{key}.json"


def probe_command(model_path: Path) -> list[str]:
    return [sys.executable, "-m", "lsp_server.backend.probe", str(model_path)]


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"died by {signal.Signals(-returncode).name}"
        return f"died by signal {-returncode}"
    return f"exited with status {returncode}"


def run_probe(command: Sequence[str], timeout: float = PROBE_TIMEOUT_S) -> ProbeOutcome:
    """Run the child; a death by signal means the extra buffer types are not safe here."""
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    started = time.monotonic()
    try:
        child = subprocess.run(
            list(command), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return ProbeOutcome(True, "inconclusive", f"the probe took longer than {timeout:.0f} s")
    except OSError as error:
        return ProbeOutcome(True, "inconclusive", f"the probe could not start ({error.strerror})")
    elapsed = time.monotonic() - started
    logger.info("llama.cpp probe %s in %.1f s: %s", describe_exit(child.returncode), elapsed,
                child.stdout.decode(errors="replace").strip()[-200:])
    if child.returncode < 0:
        return ProbeOutcome(False, "probe", describe_exit(child.returncode))
    if child.returncode != 0:
        # A load error, not a crash: the real load will report it to the user.
        reason = child.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return ProbeOutcome(True, "inconclusive", f"{describe_exit(child.returncode)}: {reason[0][:200]}")
    return ProbeOutcome(True, "probe", child.stdout.decode(errors="replace").strip()[:200] or "ok")


def read_cached(path: Path) -> ProbeOutcome | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ProbeOutcome(bool(data["extra_buffer_types"]), "cache", str(data["detail"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cached(path: Path, outcome: ProbeOutcome) -> None:
    """Atomically, so a concurrent server never reads half a file; a read-only cache is fine."""
    record = {"extra_buffer_types": outcome.extra_buffer_types, "detail": outcome.detail,
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        logger.warning("could not cache the llama.cpp probe outcome in %s: %s", path, error)


_probe_lock = threading.Lock()


def decide(
    policy: str,
    model_path: Path | None,
    *,
    command: Sequence[str] | None = None,
    cache_file: Path | None = None,
) -> ProbeOutcome:
    """Whether to load with extra buffer types: the setting, else the cached probe, else a fresh probe.

    `model_path` is the small model the child loads; `command` replaces the child (tests).
    """
    if policy not in POLICIES:
        raise ValueError(f"extraBufferTypes must be one of {', '.join(POLICIES)}, got {policy!r}")
    if policy != "auto":
        return ProbeOutcome(policy == "on", "setting", f"forced {policy} by the extraBufferTypes setting")
    if command is None and model_path is None:
        return ProbeOutcome(True, "inconclusive", "no model to probe with")
    path = cache_file or cache_path()
    with _probe_lock:
        cached = read_cached(path)
        if cached is not None:
            return cached
        outcome = run_probe(command or probe_command(model_path))  # type: ignore[arg-type]
        if outcome.source == "probe":
            write_cached(path, outcome)
        return outcome


# -- loading with the extra buffer types off -----------------------------------------------

def extra_buffer_types(enabled: bool) -> contextlib.AbstractContextManager[None]:
    """Within the block, `llama_cpp.Llama(...)` loads with `use_extra_bufts = enabled`."""
    from lsp_server.backend.llama_params import llama_defaults

    return llama_defaults(model=None if enabled else {"use_extra_bufts": False})


def guarded_llama(model_path: str | Path, policy: str | None = None, **kwargs):
    """`llama_cpp.Llama(model_path, **kwargs)` behind the probe: for the converter's verification and evaluation.

    `policy` defaults to $SEEKCODE_EXTRA_BUFFER_TYPES, else "auto".
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp

    from lsp_server import default_model

    policy = policy or os.environ.get(POLICY_ENV, "auto")
    outcome = decide(policy, default_model.bundled_model_path() or Path(model_path))
    if outcome.notice:
        logger.warning(outcome.notice)
    with extra_buffer_types(outcome.extra_buffer_types):
        return llama_cpp.Llama(model_path=str(model_path), **kwargs)


# -- the child --------------------------------------------------------------------------------

def _child(model_path: str) -> int:
    """Load `model_path` with llama.cpp's defaults and decode a few tokens; a crash kills us, not the caller."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, n_ctx=64, n_batch=64, n_threads=1, verbose=False)
    tokens = llm.tokenize(b"def main():\n    return", add_bos=True)
    llm.eval(tokens)
    generated = 0
    for _ in range(PROBE_TOKENS):
        token = llm.sample(temp=0.0)
        llm.eval([token])
        generated += 1
    print(f"decoded {generated} tokens after a {len(tokens)}-token prompt")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m lsp_server.backend.probe MODEL.gguf", file=sys.stderr)
        sys.exit(2)
    sys.exit(_child(sys.argv[1]))
