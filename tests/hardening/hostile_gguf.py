"""A copy of a GGUF made by our converter, with hostile metadata strings, written with
gguf-py's writer (the same library the converter writes with).

    hostile_copy(source, target, strings) -> target   # strings: key -> str or raw bytes

A value given as bytes is written as the string's raw bytes, so text that is not valid
UTF-8 (which gguf-py's `str` path cannot produce) reaches the file as a hostile tool would
write it.
"""

from __future__ import annotations

from pathlib import Path

import gguf

ESC = "\x1b"
# Clears the screen, moves the cursor home, sets a window title, rings the bell, fakes a
# log line after a carriage return and a newline, and carries C1 and NUL-adjacent controls.
ANSI = f"{ESC}[2J{ESC}[H{ESC}]0;pwned\x07\r2026-01-01 lsp_server INFO all good\x08\x7f\x9b31m\x01"
MEGABYTE = 1 << 20


def hostile_text(size: int = MEGABYTE) -> str:
    """`size` characters: the escape sequences first, then filler, another escape at the end."""
    head = f"evil{ANSI}name"
    return head + "A" * (size - len(head) - len(ANSI)) + ANSI


def hostile_copy(source: Path, target: Path, strings: dict[str, str | bytes]) -> Path:
    reader = gguf.GGUFReader(source)
    architecture = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(target, architecture)
    pending = dict(strings)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        value_type = field.types[0]
        if field.name in pending:
            writer.add_key_value(field.name, pending.pop(field.name), gguf.GGUFValueType.STRING)
            continue
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    for key, value in pending.items():
        writer.add_key_value(key, value, gguf.GGUFValueType.STRING)
    for tensor in reader.tensors:
        writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()
    return target
