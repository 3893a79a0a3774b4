"""Stream tensors into a GGUF file: all tensor infos first, then each tensor's data as it is made.

``GGUFWriter.add_tensor`` would keep every tensor until the file is written; declaring
tensor infos up front (``add_tensor_info``) and then writing one tensor at a time keeps
only the tensor being converted in memory.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType
from tqdm import tqdm

from convert.errors import ConvertError
from convert.tensors import tensor_nbytes


@dataclass(frozen=True)
class PlannedTensor:
    """One tensor of the output: its GGUF name, numpy-order shape and type, and how to make its bytes.

    ``make`` yields the tensor's data as consecutive chunks (whole rows), so that a large
    tensor never has to be in memory at once.
    """

    name: str
    shape: tuple[int, ...]
    ggml_type: GGMLQuantizationType
    make: Callable[[], Iterator[np.ndarray]]

    @property
    def nbytes(self) -> int:
        return tensor_nbytes(self.shape, self.ggml_type)


def write_gguf(
    path: Path,
    arch: str,
    add_metadata: Callable[[gguf.GGUFWriter], None],
    tensors: Sequence[PlannedTensor],
    progress_label: str = "converting",
    durable: bool = True,
) -> None:
    """Write ``path`` (which should be a temporary name: a failure leaves it half-written).

    ``durable`` syncs the file to disk before returning; a temporary input that is deleted
    right after being read does not need that.
    """
    writer = gguf.GGUFWriter(path, arch)
    add_metadata(writer)
    for tensor in tensors:
        writer.add_tensor_info(tensor.name, tensor.shape, np.dtype(np.float32), tensor.nbytes, raw_dtype=tensor.ggml_type)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        assert writer.fout is not None and len(writer.fout) == 1
        fout = writer.fout[0]
        with tqdm(total=sum(t.nbytes for t in tensors), unit="B", unit_scale=True, disable=None,
                  desc=progress_label, leave=False) as bar:
            for index, tensor in enumerate(tensors, start=1):
                bar.set_postfix_str(f"tensor {index}/{len(tensors)} {tensor.name}", refresh=False)
                # not write_tensor_data: numpy's tofile reports a short write without errno,
                # a file write raises ENOSPC/EFBIG as such
                writer.write_padding(fout, fout.tell())
                written = 0
                for chunk in tensor.make():
                    fout.write(np.ascontiguousarray(chunk).reshape(-1).view(np.uint8).data)
                    written += chunk.nbytes
                    bar.update(chunk.nbytes)
                    del chunk
                if written != tensor.nbytes:
                    raise AssertionError(f"{tensor.name}: made {written} bytes, planned {tensor.nbytes}")
                writer.write_padding(fout, written)
        fout.flush()
        if durable:
            os.fsync(fout.fileno())
    finally:
        writer.close()


# ---- atomic output ----------------------------------------------------------------------------


@contextmanager
def atomic_output(out_path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``out_path``; it replaces ``out_path`` only if the block succeeds.

    On any failure the temporary file is removed and an existing ``out_path`` is untouched.
    Disk-full errors become a ConvertError that says so.
    """
    if out_path.is_dir():
        raise ConvertError(f"{out_path} is a directory; give -o the path of the .gguf file to write.")
    directory = out_path.parent if str(out_path.parent) else Path(".")
    if not directory.is_dir():
        raise ConvertError(f"{directory} does not exist; create the output directory first.")
    tmp = temporary_path(directory, out_path.name, ".tmp")
    try:
        with disk_errors(directory):
            yield tmp
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


def temporary_path(directory: Path, stem: str, suffix: str) -> Path:
    """A new empty file beside the output, with the permissions a plain ``open`` would give it."""
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=suffix, dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def disk_errors(directory: Path) -> Iterator[None]:
    try:
        yield
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise ConvertError(f"no room on disk in {directory}; free some space and run again.") from None
        if err.errno in (errno.EFBIG, errno.EDQUOT):
            raise ConvertError(
                f"the output file grew past the size this system allows in {directory} (file size limit or quota); "
                "raise the limit or write elsewhere."
            ) from None
        raise


def sync_to_disk(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def check_free_space(directory: Path, needed_bytes: int) -> None:
    """Fail before any work when the file system clearly cannot hold the output."""
    stats = os.statvfs(directory)
    free = stats.f_bavail * stats.f_frsize
    if free < needed_bytes:
        raise ConvertError(
            f"no room on disk in {directory}: the conversion needs about {_size(needed_bytes)} "
            f"and {_size(free)} is free; free some space or write elsewhere."
        )


def _size(nbytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")
