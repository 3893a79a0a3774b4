"""Model hyper-parameters, read from and written to a Hugging Face ``config.json``.

Two families are supported: ``LlamaForCausalLM`` as DeepSeek-Coder ships it and
``Qwen2ForCausalLM`` (attention bias on q/k/v, usually tied embeddings). Anything
that would change the computation and that the reference model does not implement
(other rope types, sliding windows, other activations, MLP bias, quantization)
is rejected with a ``ConfigError`` naming the key and its value.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"
TORCH_DTYPES = ("float32", "float16", "bfloat16")
_HF_NAMES = {  # arch -> (model_type, architecture class)
    "llama": ("llama", "LlamaForCausalLM"),
    "qwen2": ("qwen2", "Qwen2ForCausalLM"),
}
_ARCH_BY_MODEL_TYPE = {model_type: arch for arch, (model_type, _) in _HF_NAMES.items()}
_ARCH_BY_CLASS = {cls: arch for arch, (_, cls) in _HF_NAMES.items()}


class ConfigError(ValueError):
    """A config.json that the reference model cannot represent faithfully."""


TokenIds = int | tuple[int, ...] | None


@dataclass(frozen=True)
class ModelConfig:
    arch: str  # "llama" | "qwen2"
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int = 0  # 0: hidden_size // num_heads
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling_factor: float | None = None  # linear rope scaling: positions are divided by it
    max_position_embeddings: int = 2048
    attention_bias: bool = False
    tie_word_embeddings: bool = False
    bos_token_id: TokenIds = None
    eos_token_id: TokenIds = None  # an int, or a tuple when several tokens end a sequence
    torch_dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.head_dim == 0 and self.num_heads > 0:
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_heads)
        if self.rope_scaling_factor == 1.0:  # linear scaling by 1 is no scaling
            object.__setattr__(self, "rope_scaling_factor", None)
        for key in ("bos_token_id", "eos_token_id"):
            if isinstance(getattr(self, key), list):
                object.__setattr__(self, key, tuple(getattr(self, key)))
        self._validate()

    def _validate(self) -> None:
        if self.arch not in _HF_NAMES:
            raise ConfigError(f"arch={self.arch!r} is not supported; use one of {sorted(_HF_NAMES)}.")
        for key in ("vocab_size", "hidden_size", "intermediate_size", "num_layers",
                    "num_heads", "num_kv_heads", "head_dim", "max_position_embeddings"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{key}={value!r} must be a positive integer.")
        if self.num_heads % self.num_kv_heads != 0:
            raise ConfigError(
                f"num_kv_heads={self.num_kv_heads} must divide num_heads={self.num_heads}."
            )
        if self.head_dim % 2 != 0:
            raise ConfigError(f"head_dim={self.head_dim} must be even for rotary embeddings.")
        if not self.rms_norm_eps > 0:
            raise ConfigError(f"rms_norm_eps={self.rms_norm_eps!r} must be positive.")
        if not self.rope_theta > 0:
            raise ConfigError(f"rope_theta={self.rope_theta!r} must be positive.")
        if self.rope_scaling_factor is not None and not self.rope_scaling_factor > 0:
            raise ConfigError(f"rope_scaling factor={self.rope_scaling_factor!r} must be positive.")
        if self.arch == "qwen2" and not self.attention_bias:
            raise ConfigError("attention_bias=False is not expressible for arch 'qwen2' (Qwen2 always has q/k/v bias).")
        if self.torch_dtype not in TORCH_DTYPES:
            raise ConfigError(f"torch_dtype={self.torch_dtype!r} is not supported; use one of {TORCH_DTYPES}.")

    # ---- derived values -------------------------------------------------------------

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        """All tokens that end a sequence (empty when the config names none)."""
        if self.eos_token_id is None:
            return ()
        return self.eos_token_id if isinstance(self.eos_token_id, tuple) else (self.eos_token_id,)

    @property
    def output_proj_bias(self) -> bool:
        """Llama's ``attention_bias`` also adds a bias to o_proj; Qwen2's bias is q/k/v only."""
        return self.arch == "llama" and self.attention_bias

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    # ---- Hugging Face config.json -----------------------------------------------------

    @classmethod
    def from_hf(cls, hf: dict[str, Any]) -> ModelConfig:
        arch = _arch_of(hf)
        _reject_unsupported(hf, arch)
        num_heads = _required(hf, "num_attention_heads")
        rope_theta, rope_scaling_factor = _rope(hf)
        attention_bias = True if arch == "qwen2" else bool(hf.get("attention_bias", False))
        return cls(
            arch=arch,
            vocab_size=_required(hf, "vocab_size"),
            hidden_size=_required(hf, "hidden_size"),
            intermediate_size=_required(hf, "intermediate_size"),
            num_layers=_required(hf, "num_hidden_layers"),
            num_heads=num_heads,
            num_kv_heads=hf.get("num_key_value_heads") or num_heads,
            head_dim=hf.get("head_dim") or 0,
            rms_norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
            rope_theta=rope_theta,
            rope_scaling_factor=rope_scaling_factor,
            max_position_embeddings=hf.get("max_position_embeddings", 2048),
            attention_bias=attention_bias,
            tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
            bos_token_id=hf.get("bos_token_id"),
            eos_token_id=hf.get("eos_token_id"),
            torch_dtype=_dtype_name(hf),
        )

    def to_hf(self) -> dict[str, Any]:
        """A config.json dict that transformers (v4 and v5) and llama.cpp's converter read."""
        model_type, architecture = _HF_NAMES[self.arch]
        rope_scaling = (
            None if self.rope_scaling_factor is None
            else {"type": "linear", "rope_type": "linear", "factor": self.rope_scaling_factor}
        )
        hf: dict[str, Any] = {
            "architectures": [architecture],
            "model_type": model_type,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": rope_scaling,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bos_token_id": _json_ids(self.bos_token_id),
            "eos_token_id": _json_ids(self.eos_token_id),
            "torch_dtype": self.torch_dtype,
        }
        if self.arch == "llama":
            hf.update(attention_bias=self.attention_bias, mlp_bias=False, pretraining_tp=1)
        else:
            hf.update(use_sliding_window=False)
        return hf

    @classmethod
    def load(cls, directory: str | Path) -> ModelConfig:
        path = Path(directory) / CONFIG_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path} does not exist; a model directory needs a config.json.") from None
        try:
            hf = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path} is not valid JSON ({err}).") from None
        if not isinstance(hf, dict):
            raise ConfigError(f"{path} must hold a JSON object, not {type(hf).__name__}.")
        return cls.from_hf(hf)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIG_FILE
        path.write_text(json.dumps(self.to_hf(), indent=2) + "\n", encoding="utf-8")
        return path


# ---- helpers for from_hf -------------------------------------------------------------


def _arch_of(hf: dict[str, Any]) -> str:
    model_type = hf.get("model_type")
    architectures = hf.get("architectures") or []
    if model_type is not None and model_type not in _ARCH_BY_MODEL_TYPE:
        raise ConfigError(f"model_type={model_type!r} is not supported; use 'llama' or 'qwen2'.")
    for architecture in architectures:
        if architecture not in _ARCH_BY_CLASS:
            raise ConfigError(
                f"architectures={architectures!r} is not supported; use LlamaForCausalLM or Qwen2ForCausalLM."
            )
    if model_type is not None:
        arch = _ARCH_BY_MODEL_TYPE[model_type]
        if architectures and any(_ARCH_BY_CLASS[a] != arch for a in architectures):
            raise ConfigError(f"architectures={architectures!r} contradicts model_type={model_type!r}.")
        return arch
    if architectures:
        return _ARCH_BY_CLASS[architectures[0]]
    raise ConfigError("config.json names neither model_type nor architectures; add model_type 'llama' or 'qwen2'.")


# (key, value the reference model implements); a present key with another value is rejected.
_MUST_EQUAL = (
    ("hidden_act", "silu"),
    ("mlp_bias", False),
    ("use_sliding_window", False),
    ("attn_logit_softcapping", None),
    ("final_logit_softcapping", None),
)


def _reject_unsupported(hf: dict[str, Any], arch: str) -> None:
    for key, supported in _MUST_EQUAL:
        if key in hf and hf[key] != supported and not (supported is False and hf[key] is None):
            raise ConfigError(f"{key}={hf[key]!r} is not supported; the reference model needs {supported!r}.")
    if hf.get("quantization_config"):
        method = hf["quantization_config"].get("quant_method", "?") if isinstance(hf["quantization_config"], dict) else "?"
        raise ConfigError(f"quantization_config (quant_method={method!r}) is not supported; use an unquantized checkpoint.")
    layer_types = hf.get("layer_types")
    if layer_types and any(t != "full_attention" for t in layer_types):
        raise ConfigError(f"layer_types={layer_types!r} is not supported; every layer must be 'full_attention'.")
    if arch == "llama" and hf.get("attention_bias") not in (None, True, False):
        raise ConfigError(f"attention_bias={hf['attention_bias']!r} must be true or false.")


def _required(hf: dict[str, Any], key: str) -> Any:
    if key not in hf:
        raise ConfigError(f"config.json lacks the required key {key!r}.")
    return hf[key]


def _rope(hf: dict[str, Any]) -> tuple[float, float | None]:
    """(rope_theta, linear scaling factor or None) from v4 ``rope_scaling`` or v5 ``rope_parameters``."""
    params = hf.get("rope_parameters")
    scaling = hf.get("rope_scaling")
    key = "rope_parameters" if params else "rope_scaling"
    spec = params or scaling
    theta = hf.get("rope_theta")
    if theta is None and isinstance(spec, dict):
        theta = spec.get("rope_theta")
    theta = float(theta if theta is not None else 10000.0)
    if spec is None:
        return theta, None
    if not isinstance(spec, dict):
        raise ConfigError(f"{key}={spec!r} must be an object or null.")
    rope_type = spec.get("rope_type", spec.get("type", "default"))
    if rope_type == "default":
        return theta, None
    if rope_type != "linear":
        raise ConfigError(f"{key} type={rope_type!r} is not supported; only 'linear' rope scaling is implemented.")
    factor = spec.get("factor")
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor <= 0:
        raise ConfigError(f"{key} factor={factor!r} must be a positive number.")
    return theta, float(factor)


def _dtype_name(hf: dict[str, Any]) -> str:
    name = hf.get("torch_dtype") or hf.get("dtype") or "float32"
    name = str(name).removeprefix("torch.")
    if name not in TORCH_DTYPES:
        raise ConfigError(f"torch_dtype={name!r} is not supported; use one of {TORCH_DTYPES}.")
    return name


def _json_ids(ids: TokenIds) -> int | list[int] | None:
    return list(ids) if isinstance(ids, tuple) else ids
