"""Fill-in-the-middle (FIM) prompt layouts of the code model families.

Layouts, with P/S/M the family's prefix/suffix/middle marker tokens:

- PSM (all families): ``P {prefix} S {suffix} M`` and the model writes the middle.
- SPM: ``P S {suffix} M {prefix}`` and the model continues with the middle. This is the SPM
  variant of Bavarian et al. 2022 that StarCoder's training (bigcode Megatron-LM ``permute``)
  and CodeLlama's ``suffix_first`` infilling use: prefix and middle stay contiguous, so the
  middle reads as a plain continuation of the prefix.

Family markers:

- deepseek-coder: ``<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>``; BOS first; EOS ends
  the middle.
- qwen2.5-coder: ``<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>``; no BOS;
  ``<|endoftext|>`` ends the middle; repo-level context with ``<|repo_name|>``/``<|file_sep|>``.
- starcoder: ``<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>``; no BOS; ``<|endoftext|>``
  ends the middle; StarCoder2 repo-level context with ``<repo_name>``/``<file_sep>``.
- codellama: ``<PRE> {prefix} <SUF>{suffix} <MID>`` (the spaces are those CodeLlama's
  reference ``infilling_prompt_tokens`` produces through SentencePiece: a word-start space before
  the prefix and before ``<SUF>``/``<MID>``); BOS first; ``<EOT>`` ends the middle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

FimMode = Literal["psm", "spm"]


class FimError(ValueError):
    """A FIM request the format cannot express."""


class HasTokenIds(Protocol):
    def token_id(self, text: str) -> int | None: ...


@dataclass(frozen=True)
class FimFormat:
    """How one model family marks prefix, suffix and middle (see the module docstring)."""

    family: str
    prefix_token: str
    suffix_token: str
    middle_token: str
    end_token: str
    """The token the model emits after the middle (its training target ends with it)."""
    uses_bos: bool
    """Whether the family's reference prompts start with the BOS token."""
    stop_tokens: tuple[str, ...]
    """Tokens that end a FIM completion (``end_token`` and markers that must never be emitted)."""
    repo_name_token: str | None = None
    file_sep_token: str | None = None
    # CodeLlama spells its markers with the SentencePiece word-start spaces around them.
    space_before_prefix: bool = False
    space_before_markers: bool = False

    @property
    def marker_tokens(self) -> tuple[str, str, str]:
        return (self.prefix_token, self.suffix_token, self.middle_token)


DEEPSEEK_CODER = FimFormat(
    family="deepseek-coder",
    prefix_token="<｜fim▁begin｜>",
    suffix_token="<｜fim▁hole｜>",
    middle_token="<｜fim▁end｜>",
    end_token="<｜end▁of▁sentence｜>",
    uses_bos=True,
    stop_tokens=("<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<|EOT|>"),
)
QWEN25_CODER = FimFormat(
    family="qwen2.5-coder",
    prefix_token="<|fim_prefix|>",
    suffix_token="<|fim_suffix|>",
    middle_token="<|fim_middle|>",
    end_token="<|endoftext|>",
    uses_bos=False,
    stop_tokens=(
        "<|endoftext|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<|fim_pad|>",
        "<|repo_name|>",
        "<|file_sep|>",
        "<|im_start|>",
        "<|im_end|>",
    ),
    repo_name_token="<|repo_name|>",
    file_sep_token="<|file_sep|>",
)
STARCODER = FimFormat(
    family="starcoder",
    prefix_token="<fim_prefix>",
    suffix_token="<fim_suffix>",
    middle_token="<fim_middle>",
    end_token="<|endoftext|>",
    uses_bos=False,
    stop_tokens=("<|endoftext|>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>", "<file_sep>"),
    repo_name_token="<repo_name>",
    file_sep_token="<file_sep>",
)
CODELLAMA = FimFormat(
    family="codellama",
    prefix_token="<PRE>",
    suffix_token="<SUF>",
    middle_token="<MID>",
    end_token="<EOT>",
    uses_bos=True,
    stop_tokens=("<EOT>", "</s>"),
    space_before_prefix=True,
    space_before_markers=True,
)

FIM_FORMATS: dict[str, FimFormat] = {f.family: f for f in (DEEPSEEK_CODER, QWEN25_CODER, STARCODER, CODELLAMA)}


def fim_format(family: str) -> FimFormat:
    """The FimFormat of a family name (``deepseek-coder``, ``qwen2.5-coder``, ``starcoder``, ``codellama``)."""
    try:
        return FIM_FORMATS[family]
    except KeyError:
        raise FimError(f"unknown FIM family {family!r}; use one of {', '.join(FIM_FORMATS)}.") from None


def fim_prompt(fmt: FimFormat, prefix: str, suffix: str, mode: FimMode = "psm") -> str:
    """The text the model completes with the middle (no BOS: add it at encode time when ``fmt.uses_bos``)."""
    pad = " " if fmt.space_before_markers else ""
    lead = " " if fmt.space_before_prefix else ""
    if mode == "psm":
        return f"{fmt.prefix_token}{lead}{prefix}{pad}{fmt.suffix_token}{suffix}{pad}{fmt.middle_token}"
    if mode == "spm":
        return f"{fmt.prefix_token}{pad}{fmt.suffix_token}{suffix}{pad}{fmt.middle_token}{lead}{prefix}"
    raise FimError(f"unknown FIM mode {mode!r}; use 'psm' or 'spm'.")


def fim_training_text(fmt: FimFormat, prefix: str, middle: str, suffix: str, mode: FimMode = "psm") -> str:
    """A whole FIM training sample: the prompt, the middle, then the family's end token."""
    return f"{fim_prompt(fmt, prefix, suffix, mode)}{middle}{fmt.end_token}"


def repo_context(fmt: FimFormat, repo_name: str, files: Sequence[tuple[str, str]], current_path: str) -> str:
    """Repo-level context before a FIM prompt: the repo name, other files, then the current path.

    Qwen2.5-Coder's layout: ``<|repo_name|>{name}\\n<|file_sep|>{path}\\n{content}\\n ...
    <|file_sep|>{current_path}\\n`` and then the FIM prompt. StarCoder2 uses the same shape with
    its own markers and no newline after the repo name. A file's content gets a final newline only
    when it lacks one.
    """
    if fmt.repo_name_token is None or fmt.file_sep_token is None:
        raise FimError(f"{fmt.family} has no repo-level tokens; build its context without repo_context.")
    name_end = "\n" if fmt.family == "qwen2.5-coder" else ""
    parts = [f"{fmt.repo_name_token}{repo_name}{name_end}"]
    for path, content in files:
        ending = "" if content.endswith("\n") else "\n"
        parts.append(f"{fmt.file_sep_token}{path}\n{content}{ending}")
    parts.append(f"{fmt.file_sep_token}{current_path}\n")
    return "".join(parts)


def repo_fim_prompt(
    fmt: FimFormat,
    repo_name: str,
    files: Sequence[tuple[str, str]],
    current_path: str,
    prefix: str,
    suffix: str,
    mode: FimMode = "psm",
) -> str:
    """Repo-level context (see ``repo_context``) followed by the FIM prompt for the current file."""
    return repo_context(fmt, repo_name, files, current_path) + fim_prompt(fmt, prefix, suffix, mode)


def detect_fim_format(tokenizer: HasTokenIds) -> FimFormat | None:
    """The family whose three FIM marker tokens are all single tokens of ``tokenizer``, or None."""
    for fmt in FIM_FORMATS.values():
        if all(tokenizer.token_id(marker) is not None for marker in fmt.marker_tokens):
            return fmt
    return None
