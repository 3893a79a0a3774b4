"""The GGUF model bundled with the server, used when no model is configured.

The training engineer adds the file (`seekcode-coder-q8_0.gguf`) and its
`MODEL_CARD.md` here; the resolver globs `*.gguf` so a renamed file still works.
"""

from __future__ import annotations

from pathlib import Path

BUNDLED_MODEL_DIR = Path(__file__).resolve().parent

# The bundled model was trained on PSM and SPM samples alike, and being small it fills a line
# far better when the prefix ends right before the answer (SPM: `<begin><hole>suffix<end>prefix`)
# than when the suffix stands between them (PSM): see the evaluation in MODEL_CARD.md.
BUNDLED_LAYOUT = "spm-tail"


def bundled_model_path(directory: Path = BUNDLED_MODEL_DIR) -> Path | None:
    """The bundled GGUF (first by name), or None when none is installed."""
    candidates = sorted(path for path in directory.glob("*.gguf") if path.is_file())
    return candidates[0] if candidates else None
