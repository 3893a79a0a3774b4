"""Read a few metadata values from a GGUF header without loading the model.

gguf-py's reader maps every tensor (seconds for a 500 MB file); this walks only the
key/value section and stops as soon as the wanted keys are found.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GgufHeaderError(ValueError):
    """The file's key/value section is not readable GGUF."""


def read_metadata(path: Path, wanted: set[str]) -> dict[str, object]:
    """The values of `wanted` keys found in the header (string arrays are skipped)."""
    found: dict[str, object] = {}
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise GgufHeaderError(f"{path} is not a GGUF file.")
        version = _unpack(handle, "<I")
        if version < 2:
            raise GgufHeaderError(f"{path} is GGUF version {version}; versions 2 and later are supported.")
        _unpack(handle, "<Q")  # tensor count
        for _ in range(_unpack(handle, "<Q")):
            key = _read_string(handle)
            value = _read_value(handle, _unpack(handle, "<I"), keep=key in wanted)
            if key in wanted:
                found[key] = value
                if len(found) == len(wanted):
                    break
    return found


def read_metadata_text(path: Path) -> dict[str, str]:
    """Every scalar and string value, as text spelled the way llama.cpp's
    `llama_model_meta_val_str` spells it (arrays are left out); strings that are not UTF-8
    are decoded with replacement characters."""
    found: dict[str, str] = {}
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise GgufHeaderError(f"{path} is not a GGUF file.")
        if _unpack(handle, "<I") < 2:
            raise GgufHeaderError(f"{path} is GGUF version 1; versions 2 and later are supported.")
        _unpack(handle, "<Q")  # tensor count
        for _ in range(_unpack(handle, "<Q")):
            key = _read_string(handle)
            value = _read_value(handle, _unpack(handle, "<I"), keep=True)
            if isinstance(value, bool):
                found[key] = "true" if value else "false"
            elif isinstance(value, float):
                found[key] = f"{value:f}"
            elif value is not None:
                found[key] = str(value)
    return found


def _unpack(handle: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    data = handle.read(size)
    if len(data) != size:
        raise GgufHeaderError("the GGUF header ends early (truncated file).")
    return struct.unpack(fmt, data)[0]


def _read_string(handle: BinaryIO) -> str:
    length = _unpack(handle, "<Q")
    if length > _remaining(handle):  # a crafted length would otherwise be allocated up front
        raise GgufHeaderError("the GGUF header ends early (a string longer than the file).")
    data = handle.read(length)
    if len(data) != length:
        raise GgufHeaderError("the GGUF header ends early (truncated file).")
    return data.decode("utf-8", "replace")


def _remaining(handle: BinaryIO) -> int:
    return os.fstat(handle.fileno()).st_size - handle.tell()


def _read_value(handle: BinaryIO, value_type: int, keep: bool) -> object:
    if value_type in _SCALARS:
        return _unpack(handle, _SCALARS[value_type])
    if value_type == _STRING:
        return _read_string(handle)
    if value_type == _ARRAY:
        element_type = _unpack(handle, "<I")
        count = _unpack(handle, "<Q")
        if element_type in _SCALARS:
            size = struct.calcsize(_SCALARS[element_type])
            handle.seek(size * count, 1)
            return None
        for _ in range(count):
            _read_value(handle, element_type, keep=False)
        return None
    raise GgufHeaderError(f"unknown GGUF value type {value_type}.")
