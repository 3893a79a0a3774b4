"""Each bad input gives one clear line on stderr, a non-zero exit, no output file and an untouched old OUT."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from convert.cli import main
from convert_support import no_debris

REPO = Path(__file__).resolve().parents[2]
PREVIOUS = b"previous GGUF, must survive a failed conversion"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


def assert_failed_cleanly(code: int, err: str, expected: str, out: Path) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("seekcode-convert: error: ")
    assert expected in lines[0], lines[0]
    assert out.read_bytes() == PREVIOUS
    assert no_debris(out.parent, {out.name}) == []


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An existing OUT in a directory of its own."""
    directory = tmp_path / "out"
    directory.mkdir()
    path = directory / "model.gguf"
    path.write_bytes(PREVIOUS)
    return path


def edit_config(ckpt: Path, **changes: object) -> None:
    config = json.loads((ckpt / "config.json").read_text())
    config.update(changes)
    (ckpt / "config.json").write_text(json.dumps(config))


def edit_weights(ckpt: Path, edit: Callable[[dict], None]) -> None:
    tensors = load_file(ckpt / "model.safetensors")
    edit(tensors)
    save_file(tensors, ckpt / "model.safetensors")


def test_missing_config(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    (ckpt / "config.json").unlink()
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "has no config.json", out)


def test_missing_tokenizer(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    (ckpt / "tokenizer.json").unlink()
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "tokenizer.json does not exist", out)


def test_missing_weights(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    (ckpt / "model.safetensors").unlink()
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "holds no weights", out)


def test_unsupported_architecture(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    edit_config(ckpt, model_type="mistral", architectures=["MistralForCausalLM"])
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "model_type='mistral' is not supported", out)


def test_unsupported_rope_scaling(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    edit_config(ckpt, rope_scaling={"type": "yarn", "factor": 4.0})
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "type='yarn' is not supported", out)


def test_missing_tensor(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    edit_weights(ckpt, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "missing model.layers.1.mlp.up_proj.weight", out)


def test_extra_tensor(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    edit_weights(ckpt, lambda t: t.__setitem__("model.layers.0.mlp.extra_proj.weight", t["model.norm.weight"].clone()))
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "unexpected model.layers.0.mlp.extra_proj.weight", out)


def test_misshaped_tensor(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    edit_weights(ckpt, lambda t: t.__setitem__("model.layers.0.self_attn.k_proj.weight",
                                               t["model.layers.0.self_attn.k_proj.weight"][:32].clone()))
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "model.layers.0.self_attn.k_proj.weight has shape (32, 64), expected (64, 64)", out)


def test_corrupt_safetensors(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    weights = ckpt / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[8:40] = b"\x00not json at all, just damage!!\x00"
    weights.write_bytes(bytes(data))
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "not a readable safetensors file", out)


def test_truncated_safetensors(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    weights = ckpt / "model.safetensors"
    with open(weights, "r+b") as f:
        f.truncate(weights.stat().st_size - 1000)
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "model.safetensors", out)
    assert "truncated" in err


def test_unknown_pre_tokenizer(checkpoint_copy, out, capsys):
    ckpt = checkpoint_copy()
    tokenizer = json.loads((ckpt / "tokenizer.json").read_text())
    tokenizer["pre_tokenizer"] = {"type": "Whitespace"}
    (ckpt / "tokenizer.json").write_text(json.dumps(tokenizer))
    code, err = run_cli([str(ckpt), "-o", str(out), "--outtype", "f16"], capsys)
    assert_failed_cleanly(code, err, "pre-tokenizer seekcode-convert does not know", out)


def test_no_room_on_disk_is_found_before_writing(checkpoints, tmp_path, capsys):
    """A real 1 MiB tmpfs (needs root to mount; skipped elsewhere)."""
    mount_point = tmp_path / "tiny-fs"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        out = mount_point / "model.gguf"
        out.write_bytes(PREVIOUS)
        code, err = run_cli([str(checkpoints("mha_linear_rope_untied")), "-o", str(out), "--outtype", "f32"], capsys)
        assert_failed_cleanly(code, err, f"no room on disk in {mount_point}", out)
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_file_system_refusing_a_write_midway(checkpoints, out):
    """RLIMIT_FSIZE makes the kernel fail the write that crosses 2 MiB (EFBIG), like a full disk mid-file."""
    limit = 2 * 1024 * 1024

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "convert", str(checkpoints("mha_linear_rope_untied")), "-o", str(out), "--outtype", "f32"],
        cwd=REPO, capture_output=True, text=True, preexec_fn=limit_file_size, timeout=300,
    )
    assert_failed_cleanly(result.returncode, result.stderr, "the output file grew past the size this system allows", out)


def test_unknown_outtype_is_refused_by_the_parser(checkpoints, out):
    result = subprocess.run(
        [sys.executable, "-m", "convert", str(checkpoints("mha_linear_rope_untied")), "-o", str(out), "--outtype", "q3_k"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0 and "invalid choice: 'q3_k'" in result.stderr
    assert out.read_bytes() == PREVIOUS


def test_to_hf_rejects_a_file_that_is_not_gguf(tmp_path, capsys):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"GGUF but not really" * 10)
    code, err = run_cli([str(bogus), "-o", str(tmp_path / "ckpt"), "--to", "hf"], capsys)
    assert code != 0 and "is not a readable GGUF file" in err
    assert not (tmp_path / "ckpt").exists()
    assert no_debris(tmp_path, {"model.gguf"}) == []


def test_success_replaces_an_existing_output(checkpoints, out, capsys):
    code = main([str(checkpoints("mha_linear_rope_untied")), "-o", str(out), "--outtype", "f16"])
    assert code == 0
    assert out.read_bytes()[:4] == b"GGUF"
    assert no_debris(out.parent, {out.name}) == []
    assert oct(os.stat(out).st_mode & 0o777) != oct(0o600)  # a normal file, not mkstemp's private mode
