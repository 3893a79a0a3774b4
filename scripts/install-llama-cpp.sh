#!/usr/bin/env bash
# Build llama-cpp-python from source for this machine and install it into a Python environment.
#
#   scripts/install-llama-cpp.sh [PYTHON]      (default: .venv/bin/python)
#
# Native build with llama.cpp's AMX kernels left out: on some x86 machines (Sapphire Rapids VMs) the
# CPU flags list AMX but tile instructions die with SIGILL. Everything else stays -march=native.
# pip caches a wheel it built from an sdist and reuses it whatever CMAKE_ARGS say, so we build with
# --no-cache-dir into our own cache, keyed by the version, the flags, the compiler and the CPU, and we
# check the built library for AMX instructions before installing it.
set -euo pipefail

PY="${1:-.venv/bin/python}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
ARCH="$(uname -m)"

CMAKE_ARGS_EXTRA=""
if [ "$ARCH" = "x86_64" ]; then
  NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  CMAKE_ARGS_EXTRA="-DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'"
fi
export CMAKE_ARGS="${CMAKE_ARGS_EXTRA}${CMAKE_ARGS:+ $CMAKE_ARGS}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"

cpu_flags="$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null || true)"
compiler="$(${CC:-cc} --version 2>/dev/null | head -n1 || true)"
py_tag="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
key="$(printf '%s\n' "$VERSION" "$ARCH" "$CMAKE_ARGS" "$compiler" "$cpu_flags" "$py_tag" | sha256sum | cut -c1-16)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/seekcode/wheels/llama-cpp-python-$VERSION-$key"

count_amx() {  # tile instructions in the wheel's libraries (0 expected)
  local wheel="$1" tmp n=0 lib
  tmp="$(mktemp -d)"
  "$PY" -m zipfile -e "$wheel" "$tmp" >/dev/null
  for lib in $(find "$tmp" -name 'libggml*.so*' -type f); do
    n=$((n + $(objdump -d "$lib" | grep -c -E '\b(tilezero|tileloadd|tdpbusd|tdpbf16ps)\b' || true)))
  done
  rm -rf "$tmp"
  echo "$n"
}

wheel="$(ls "$cache"/llama_cpp_python-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
  echo "Building llama-cpp-python $VERSION for this machine (CMAKE_ARGS=$CMAKE_ARGS); about 8 minutes on 2 cores..."
  build="$(mktemp -d)"
  "$PY" -m pip wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
    -w "$build" "llama-cpp-python==$VERSION"
  wheel="$(ls "$build"/llama_cpp_python-*.whl)"
  if [ "$ARCH" = "x86_64" ] && command -v objdump >/dev/null; then
    n="$(count_amx "$wheel")"
    if [ "$n" != "0" ]; then
      echo "error: the llama.cpp build still contains $n AMX tile instructions; CMAKE_ARGS did not take effect" >&2
      exit 1
    fi
    echo "checked: no AMX tile instructions in the built libraries"
  fi
  mkdir -p "$cache"
  mv "$wheel" "$cache/"
  rm -rf "$build"
  wheel="$(ls "$cache"/llama_cpp_python-*.whl | head -n1)"
fi
"$PY" -m pip install --quiet --no-deps --force-reinstall "$wheel"
# its own dependencies (numpy, typing-extensions, diskcache, jinja2) from the registry as usual
"$PY" -m pip install --quiet "$wheel"
echo "llama-cpp-python $VERSION installed from $wheel"
