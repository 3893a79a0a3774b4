"""Training data: source files -> deduplicated, split by file, FIM-transformed, tokenized, packed.

Pipeline (each step a function, so tests can check it alone):

1. ``discover_sources``: ``*.py`` files under the given roots (default: this interpreter's
   standard library, without ``site-packages`` and without test directories: the test suites
   are repetitive boilerplate and the library code alone is more than a CPU run can consume).
2. ``read_sources`` + ``dedupe``: UTF-8 text, one copy per distinct content (SHA-256).
3. ``split_by_file``: a file is held out when its content hash falls below ``heldout_fraction``;
   the split never cuts a file, and it does not depend on paths or on the order of the roots.
4. ``documents``: each file is cut at line boundaries into pieces of at most ``max_chars``
   characters, so that a whole FIM sample fits in a training sequence.
5. ``fim_transform``: document-level FIM as DeepSeek-Coder trains: with probability
   ``fim_rate`` a piece is split at two random character positions into prefix/middle/suffix and
   laid out in PSM or SPM (half each) with the real DeepSeek-Coder FIM tokens
   (``model.fim.fim_training_text``); otherwise it stays plain text ending with EOS.
6. ``pack``: every sample starts with BOS; all samples are concatenated into one token stream,
   and training sequence ``i`` is ``stream[i*T : i*T + T + 1]`` (inputs and shifted targets).

The packed streams are cached as ``.npy`` (uint16: the vocabulary has 32,256 ids) under a key
that covers the file contents, the tokenizer and every setting above.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sysconfig
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.fim import DEEPSEEK_CODER, FimFormat, fim_training_text
from model.tokenizer import Tokenizer

PIPELINE_VERSION = 1  # bump when the pipeline changes what it writes, so old caches are not reused
TEST_DIR_NAMES = frozenset({"test", "tests", "idle_test"})
SKIPPED_DIR_NAMES = frozenset({"site-packages", "__pycache__"})


class DataError(ValueError):
    """The training data cannot be built as asked."""


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str
    digest: str  # SHA-256 of the UTF-8 content


@dataclass(frozen=True)
class DataSettings:
    seq_len: int = 512
    heldout_fraction: float = 0.05
    fim_rate: float = 0.5
    spm_rate: float = 0.5  # share of FIM samples in SPM mode (the rest PSM)
    max_chars: int = 1536
    seed: int = 0
    include_tests: bool = False
    max_files: int | None = None  # the first files in path order (after dedupe), for smoke runs


def default_roots() -> list[Path]:
    """This interpreter's standard library sources (PSF licence)."""
    return [Path(sysconfig.get_paths()["stdlib"])]


def discover_sources(roots: Sequence[Path], include_tests: bool = False) -> list[Path]:
    """Every ``*.py`` file under ``roots`` (a root may itself be a file), sorted."""
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        if root.is_file():
            found.add(root)
            continue
        if not root.is_dir():
            raise DataError(f"source root {root} does not exist; pass directories of source files.")
        for dirpath, dirnames, filenames in os.walk(root):
            skipped = SKIPPED_DIR_NAMES | (frozenset() if include_tests else TEST_DIR_NAMES)
            dirnames[:] = sorted(d for d in dirnames if d not in skipped and not d.startswith("config-"))
            found.update(Path(dirpath) / name for name in filenames if name.endswith(".py"))
    return sorted(found)


def read_sources(paths: Iterable[Path]) -> list[SourceFile]:
    """UTF-8 sources with their digests; undecodable and empty files are skipped."""
    files = []
    for path in paths:
        raw = Path(path).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text.strip():
            files.append(SourceFile(str(path), text, hashlib.sha256(raw).hexdigest()))
    return files


def dedupe(files: Iterable[SourceFile]) -> list[SourceFile]:
    """One file per distinct content (the first seen), in digest order so roots' order does not matter."""
    unique: dict[str, SourceFile] = {}
    for f in files:
        unique.setdefault(f.digest, f)
    return [unique[d] for d in sorted(unique)]


def is_heldout(digest: str, heldout_fraction: float) -> bool:
    return int(digest[:12], 16) / 16**12 < heldout_fraction


def split_by_file(files: Sequence[SourceFile], heldout_fraction: float) -> tuple[list[SourceFile], list[SourceFile]]:
    """(train, held-out): whole files, chosen by content hash."""
    if not 0 <= heldout_fraction < 1:
        raise DataError(f"heldout_fraction={heldout_fraction} must be in [0, 1).")
    train = [f for f in files if not is_heldout(f.digest, heldout_fraction)]
    heldout = [f for f in files if is_heldout(f.digest, heldout_fraction)]
    return train, heldout


def documents(text: str, max_chars: int) -> Iterator[str]:
    """``text`` cut at line ends into pieces of at most ``max_chars`` (a longer line is cut inside)."""
    piece: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        while len(line) > max_chars:
            if piece:
                yield "".join(piece)
                piece, size = [], 0
            yield line[:max_chars]
            line = line[max_chars:]
        if size + len(line) > max_chars and piece:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(line)
        size += len(line)
    if piece:
        yield "".join(piece)


def fim_transform(text: str, rng: random.Random, fim_rate: float, spm_rate: float,
                  fmt: FimFormat = DEEPSEEK_CODER) -> str:
    """One training sample's text (without BOS): FIM with probability ``fim_rate``, else plain + EOS."""
    if rng.random() >= fim_rate:
        return text + fmt.end_token
    lo, hi = sorted(rng.randint(0, len(text)) for _ in range(2))
    prefix, middle, suffix = text[:lo], text[lo:hi], text[hi:]
    mode = "spm" if rng.random() < spm_rate else "psm"
    return fim_training_text(fmt, prefix, middle, suffix, mode)


def sample_texts(files: Sequence[SourceFile], settings: DataSettings, fim: bool) -> Iterator[str]:
    """Training sample texts of ``files``, FIM-transformed (deterministic from the seed) when ``fim``."""
    rng = random.Random(settings.seed)
    for f in files:
        for piece in documents(f.text, settings.max_chars):
            if fim:
                yield fim_transform(piece, rng, settings.fim_rate, settings.spm_rate)
            else:
                yield piece + DEEPSEEK_CODER.end_token


def tokenize_samples(texts: Iterable[str], tokenizer: Tokenizer, total: int | None = None,
                     desc: str = "tokenizing") -> np.ndarray:
    """One uint16 stream: BOS + sample ids for each sample."""
    if tokenizer.bos_id is None:
        raise DataError("the tokenizer has no BOS token; use the DeepSeek-Coder tokenizer.")
    if tokenizer.vocab_size > np.iinfo(np.uint16).max + 1:
        raise DataError(f"vocabulary of {tokenizer.vocab_size} ids does not fit the uint16 token stream.")
    chunks = [np.asarray([tokenizer.bos_id, *tokenizer.encode(t)], dtype=np.uint16)
              for t in tqdm(texts, total=total, desc=desc, unit="doc", leave=False, disable=None)]
    if not chunks:
        raise DataError("no training samples: the source roots hold no non-empty *.py files.")
    return np.concatenate(chunks)


@dataclass(frozen=True)
class PackedData:
    """Token streams of the training and held-out splits plus what built them."""

    train: np.ndarray  # uint16 stream, FIM-transformed
    heldout: np.ndarray  # uint16 stream, plain next-token text (for perplexity)
    train_files: tuple[str, ...]
    heldout_files: tuple[str, ...]
    seq_len: int
    settings: DataSettings

    def num_sequences(self, split: str = "train") -> int:
        stream = self.train if split == "train" else self.heldout
        return max(0, (len(stream) - 1) // self.seq_len)

    def sequence(self, index: int, split: str = "train") -> np.ndarray:
        """Sequence ``index``: seq_len + 1 tokens (inputs are [:-1], targets [1:])."""
        stream = self.train if split == "train" else self.heldout
        start = index * self.seq_len
        return stream[start:start + self.seq_len + 1]


def cache_key(files: Sequence[SourceFile], tokenizer_path: Path, settings: DataSettings) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": PIPELINE_VERSION, **asdict(settings)}, sort_keys=True).encode())
    h.update(Path(tokenizer_path).read_bytes())
    for f in files:
        h.update(f.digest.encode())
    return h.hexdigest()[:16]


def source_files(roots: Sequence[Path] | None, settings: DataSettings) -> list[SourceFile]:
    """The deduplicated files the settings select (``max_files`` of them when set)."""
    roots = list(roots) if roots else default_roots()
    files = dedupe(read_sources(discover_sources(roots, settings.include_tests)))
    if settings.max_files is None:
        return files
    # Slice in path order: digest order would pick the files that all fall in the held-out split.
    chosen = {f.digest for f in sorted(files, key=lambda f: f.path)[:settings.max_files]}
    return [f for f in files if f.digest in chosen]


def build_data(roots: Sequence[Path] | None, tokenizer_path: Path, settings: DataSettings,
               cache_dir: Path | None) -> PackedData:
    """Discover, dedupe, split, transform, tokenize and pack; reuse ``cache_dir`` when it has the result."""
    roots = list(roots) if roots else default_roots()
    files = source_files(roots, settings)
    if not files:
        raise DataError(f"no non-empty *.py files under {', '.join(map(str, roots))}; pass source directories.")
    train_files, heldout_files = split_by_file(files, settings.heldout_fraction)
    if not train_files:
        raise DataError("every file was held out; lower heldout_fraction or add sources.")
    key = cache_key(files, tokenizer_path, settings)
    train_names = tuple(f.path for f in train_files)
    heldout_names = tuple(f.path for f in heldout_files)
    cached = cache_dir / f"data-{key}.npz" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        with np.load(cached) as z:
            return PackedData(z["train"], z["heldout"], train_names, heldout_names, settings.seq_len, settings)
    tokenizer = Tokenizer.from_file(tokenizer_path)
    train = tokenize_samples(sample_texts(train_files, settings, fim=True), tokenizer, desc="tokenizing train")
    heldout = (tokenize_samples(sample_texts(heldout_files, settings, fim=False), tokenizer, desc="tokenizing held-out")
               if heldout_files else np.zeros(0, dtype=np.uint16))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(cached.name + ".tmp.npz")
        np.savez(tmp, train=train, heldout=heldout)
        os.replace(tmp, cached)
    return PackedData(train, heldout, train_names, heldout_names, settings.seq_len, settings)


def split_sources(roots: Sequence[Path] | None, settings: DataSettings) -> tuple[list[SourceFile], list[SourceFile]]:
    """(train, held-out) files, found exactly as ``build_data`` finds them (for evaluation and baselines)."""
    return split_by_file(source_files(roots, settings), settings.heldout_fraction)
