"""FIM model families: which special tokens a code model was trained with, and how its
prompts are laid out.

Interface (used by features/ and backend/):
    TokenLookup = Callable[[str], int | None]      # token text -> id, specials included
    detect_family(token_id: TokenLookup, metadata: Mapping[str, object]) -> Family
    Family.name: str                # "deepseek-coder" | "qwen2.5-coder" | "starcoder" |
                                    # "codellama" | "codegemma" | "plain"
    Family.layout: Layout           # how prompt.py orders the FIM parts (see below)
    Family.stop_ids: frozenset[int] # tokens that end a suggestion (eos, eot, file separators, FIM markers)
    Family.special_texts: tuple[str, ...]  # spellings of those tokens, for stripping leaks
    Family.bos_id: int | None       # prepended to every prompt when not None

`token_id` is e.g. `LocalBackend.token_id`; `metadata` is the GGUF key/value table
(`llama_cpp.Llama.metadata`, whose values are strings; ints are accepted too).

Layouts (prompt.py builds them; all but PSM keep what changes while typing at the end):
    PSM           <P> prefix <S> suffix <M>                      (trained order; the naive baseline)
    PSM_ANCHORED  <P> prefix-head <S> suffix <M> prefix-tail     (PSM-trained models: default)
    SPM           <S> suffix <P> prefix <M>                      (suffix first, markers kept)
    SPM_TAIL      <P> <S> suffix <M> prefix                      (StarCoder / CodeLlama SPM training)
    PLAIN         prefix                                         (no FIM tokens)
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TokenLookup = Callable[[str], "int | None"]


class Layout(str, enum.Enum):
    PSM = "psm"
    PSM_ANCHORED = "psm-anchored"
    SPM = "spm"
    SPM_TAIL = "spm-tail"
    PLAIN = "plain"


class ContextStyle(str, enum.Enum):
    FILE_SEPARATOR = "file-separator"  # <|file_sep|>path\ncontent, before the FIM prefix marker
    COMMENT = "comment"  # "# Path: path" + commented lines, at the start of the prefix


@dataclass(frozen=True)
class Family:
    name: str
    layout: Layout
    prefix_id: int | None = None
    suffix_id: int | None = None
    middle_id: int | None = None
    file_separator_id: int | None = None
    repo_name_id: int | None = None
    bos_id: int | None = None
    stop_ids: frozenset[int] = frozenset()
    special_texts: tuple[str, ...] = ()
    context_style: ContextStyle = ContextStyle.COMMENT

    @property
    def has_fim(self) -> bool:
        return self.layout is not Layout.PLAIN

    def fim_ids(self) -> tuple[int, int, int]:
        if self.prefix_id is None or self.suffix_id is None or self.middle_id is None:
            raise ValueError(f"model family {self.name} has no FIM tokens; use the plain layout.")
        return self.prefix_id, self.suffix_id, self.middle_id


@dataclass(frozen=True)
class _Spec:
    """Token spellings of one family, as they appear in GGUF vocabularies."""

    name: str
    prefix: str
    suffix: str
    middle: str
    layout: Layout
    file_separator: str | None = None
    repo_name: str | None = None
    stops: tuple[str, ...] = ()  # extra end tokens besides eos/eot
    needs: tuple[str, ...] = ()  # tokens that must also exist to claim this family
    bos_default: bool = False


# Order matters: Qwen2.5-Coder and CodeGemma share the <|fim_*|> spellings and differ in
# their file separator. PSM_ANCHORED is the default for models trained on PSM only;
# StarCoder and CodeLlama were trained on SPM too (the "prefix right before the middle"
# variant), whose whole prefix sits at the end of the prompt.
_SPECS: tuple[_Spec, ...] = (
    _Spec(
        "deepseek-coder", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", Layout.PSM_ANCHORED,
        stops=("<|EOT|>", "<｜end▁of▁sentence｜>"), bos_default=True,
    ),
    _Spec(
        "qwen2.5-coder", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", Layout.PSM_ANCHORED,
        file_separator="<|file_sep|>", repo_name="<|repo_name|>",
        stops=("<|endoftext|>", "<|fim_pad|>", "<|im_end|>", "<|im_start|>"), needs=("<|file_sep|>",),
    ),
    _Spec(
        "codegemma", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", Layout.PSM_ANCHORED,
        file_separator="<|file_separator|>", stops=("<eos>", "<end_of_turn>"), bos_default=True,
    ),
    _Spec(
        "starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", Layout.SPM_TAIL,
        file_separator="<file_sep>", repo_name="<repo_name>", stops=("<|endoftext|>", "<fim_pad>"),
    ),
    _Spec(
        "codellama", "▁<PRE>", "▁<SUF>", "▁<MID>", Layout.SPM_TAIL,
        stops=("▁<EOT>",), bos_default=True,
    ),
    _Spec(
        "codellama", "<PRE>", "<SUF>", "<MID>", Layout.SPM_TAIL, stops=("<EOT>",), bos_default=True,
    ),
)

FAMILY_NAMES = tuple(dict.fromkeys(spec.name for spec in _SPECS))


def family_token_texts(name: str) -> tuple[str, ...]:
    """Spellings of a named family's special tokens (for a vocabulary the client has to
    imitate, e.g. an OpenAI-compatible server that takes text prompts)."""
    specs = [spec for spec in _SPECS if spec.name == name]
    if not specs:
        raise ValueError(f"unknown model family {name!r}; choose one of {', '.join(FAMILY_NAMES)}.")
    spec = specs[-1] if name == "codellama" else specs[0]  # CodeLlama's "<PRE>" spelling, as servers render it
    texts = (spec.prefix, spec.suffix, spec.middle, spec.file_separator, spec.repo_name, *spec.needs, *spec.stops)
    return tuple(dict.fromkeys(text for text in texts if text))


_FIM_METADATA_KEYS = (
    ("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"),
    ("tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"),
    ("tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"),
)
_PLAIN_STOPS = ("<|endoftext|>", "<|EOT|>", "<|im_end|>", "<eos>")


def detect_family(token_id: TokenLookup, metadata: Mapping[str, object] | None = None) -> Family:
    """The family whose FIM tokens this vocabulary has; a plain family when it has none."""
    metadata = metadata or {}
    for spec in _SPECS:
        ids = [token_id(text) for text in (spec.prefix, spec.suffix, spec.middle, *spec.needs)]
        if all(found is not None for found in ids):
            return _family_from_spec(spec, token_id, metadata)
    from_metadata = _family_from_fim_metadata(token_id, metadata)
    if from_metadata is not None:
        return from_metadata
    return plain_family(token_id, metadata)


def plain_family(token_id: TokenLookup, metadata: Mapping[str, object] | None = None) -> Family:
    """Left-to-right completion of the prefix only, for models without FIM tokens."""
    metadata = metadata or {}
    stops, texts = _stop_tokens(token_id, metadata, _PLAIN_STOPS)
    return Family(
        name="plain", layout=Layout.PLAIN, bos_id=_bos_id(metadata, default=False),
        stop_ids=stops, special_texts=texts,
    )


def _family_from_spec(spec: _Spec, token_id: TokenLookup, metadata: Mapping[str, object]) -> Family:
    fim_texts = tuple(t for t in (spec.prefix, spec.suffix, spec.middle, spec.file_separator, spec.repo_name) if t)
    stops, texts = _stop_tokens(token_id, metadata, spec.stops + fim_texts)
    file_separator_id = token_id(spec.file_separator) if spec.file_separator else None
    return Family(
        name=spec.name,
        layout=spec.layout,
        prefix_id=token_id(spec.prefix),
        suffix_id=token_id(spec.suffix),
        middle_id=token_id(spec.middle),
        file_separator_id=file_separator_id,
        repo_name_id=token_id(spec.repo_name) if spec.repo_name else None,
        bos_id=_bos_id(metadata, default=spec.bos_default),
        stop_ids=stops,
        special_texts=texts,
        context_style=ContextStyle.FILE_SEPARATOR if file_separator_id is not None else ContextStyle.COMMENT,
    )


def _family_from_fim_metadata(token_id: TokenLookup, metadata: Mapping[str, object]) -> Family | None:
    """A family from the tokenizer.ggml.fim_*_token_id keys of a model whose spellings we don't know."""
    ids = [_first_int(metadata, keys) for keys in _FIM_METADATA_KEYS]
    if any(found is None for found in ids):
        return None
    prefix_id, suffix_id, middle_id = ids
    stops, texts = _stop_tokens(token_id, metadata, _PLAIN_STOPS)
    extra = {prefix_id, suffix_id, middle_id}
    for key in ("tokenizer.ggml.fim_pad_token_id", "tokenizer.ggml.fim_sep_token_id", "tokenizer.ggml.fim_rep_token_id"):
        found = _first_int(metadata, (key,))
        if found is not None:
            extra.add(found)
    return Family(
        name=str(metadata.get("tokenizer.ggml.pre") or metadata.get("general.architecture") or "fim"),
        layout=Layout.PSM_ANCHORED,
        prefix_id=prefix_id,
        suffix_id=suffix_id,
        middle_id=middle_id,
        file_separator_id=_first_int(metadata, ("tokenizer.ggml.fim_sep_token_id",)),
        repo_name_id=_first_int(metadata, ("tokenizer.ggml.fim_rep_token_id",)),
        bos_id=_bos_id(metadata, default=False),
        stop_ids=stops | frozenset(i for i in extra if i is not None),
        special_texts=texts,
    )


def _stop_tokens(
    token_id: TokenLookup, metadata: Mapping[str, object], texts: tuple[str, ...]
) -> tuple[frozenset[int], tuple[str, ...]]:
    ids: set[int] = set()
    found_texts: list[str] = []
    for text in texts:
        found = token_id(text)
        if found is not None:
            ids.add(found)
            found_texts.append(text.removeprefix("▁"))
    for key in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"):
        found = _first_int(metadata, (key,))
        if found is not None:
            ids.add(found)
    return frozenset(ids), tuple(dict.fromkeys(found_texts))


def _bos_id(metadata: Mapping[str, object], default: bool) -> int | None:
    add_bos = metadata.get("tokenizer.ggml.add_bos_token")
    wants_bos = default if add_bos is None else str(add_bos).lower() in ("true", "1")
    return _first_int(metadata, ("tokenizer.ggml.bos_token_id",)) if wants_bos else None


def _first_int(metadata: Mapping[str, object], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = metadata.get(key)
        if value is None:
            continue
        try:
            return int(str(value))
        except ValueError:
            continue
    return None
