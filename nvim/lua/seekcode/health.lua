-- :checkhealth seekcode: the server command, its Python environment, the model, and whether it loads.
local M = {}

local health = vim.health

local function run(cmd, timeout_ms)
  local ok, process = pcall(vim.system, cmd, { text = true, env = { OMP_WAIT_POLICY = 'PASSIVE' } })
  if not ok then
    return { code = -1, stdout = '', stderr = tostring(process) }
  end
  local result = process:wait(timeout_ms)
  if result.signal ~= 0 and result.code == 0 then
    result.code = 124
  end
  return result
end

--- The Python interpreter behind the command: cmd[1] itself, or a console script's shebang.
local function interpreter(cmd)
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    return nil
  end
  if vim.fs.basename(exe):match('^python') then
    return exe
  end
  local first = (vim.fn.readfile(exe, '', 1)[1] or '')
  local shebang = first:match('^#!%s*(%S+)')
  if shebang and vim.fs.basename(shebang):match('^python') then
    return shebang
  end
  return nil
end

--- What `seekcode-lsp doctor` needs: the command plus settings given as flags.
local function doctor_cmd(cmd, settings)
  local full = vim.deepcopy(cmd)
  table.insert(full, 'doctor')
  if settings.model then
    vim.list_extend(full, { '--model', vim.fn.expand(settings.model) })
  end
  if settings.threads then
    vim.list_extend(full, { '--threads', tostring(settings.threads) })
  end
  -- Remote inference: doctor checks the server instead of a local model (the key stays in the env).
  local backend = type(settings.backend) == 'table' and settings.backend or {}
  for key, flag in pairs({ url = '--url', apiKeyEnv = '--api-key-env', family = '--family', model = '--served-model' }) do
    local value = backend[key] or settings['backend.' .. key]
    if type(value) == 'string' and value ~= '' then
      vim.list_extend(full, { flag, value })
    end
  end
  return full
end

local PROBE = [[
import sys
print(sys.executable)
print(sys.version.split()[0])
import lsp_server
from lsp_server.settings import Settings, resolve_model
settings = Settings().merged(%s)
choice = resolve_model(settings)
print(choice.path or "")
print(choice.source)
import llama_cpp
print(getattr(llama_cpp, "__version__", "?"))
]]

local LOAD = [[
import sys
from lsp_server.settings import Settings, resolve_model
from lsp_server.backend.local import LocalBackend, BackendOptions
settings = Settings().merged(%s)
choice = resolve_model(settings)
backend = LocalBackend(choice.path, BackendOptions(context_size=256, threads=settings.threads or 1))
print(len(backend.tokenize("def add(a, b):")), "tokens")
]]

local function python_literal(settings)
  -- JSON is valid Python for the values settings hold, except true/false/null.
  local json = vim.json.encode(vim.tbl_isempty(settings) and vim.empty_dict() or settings)
  return ('__import__("json").loads(%q)'):format(json)
end

function M.check()
  local config = require('seekcode.config')
  local options = config.options
  health.start('seekcode')
  if vim.fn.has('nvim-0.11') == 1 then
    local builtin = require('seekcode.builtin').available()
    health.ok(('Neovim %s; ghost text by %s'):format(tostring(vim.version()),
      require('seekcode').did_setup and (require('seekcode').renderer() == require('seekcode.builtin')
        and 'vim.lsp.inline_completion' or 'seekcode extmarks') or (builtin and 'vim.lsp.inline_completion' or 'seekcode extmarks')))
  else
    health.error('Neovim 0.11 or newer is needed.')
    return
  end
  if not require('seekcode').did_setup then
    health.warn('require("seekcode").setup() has not been called; checking the defaults.')
  end

  local cmd = options.cmd
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    health.error(('server command not found: %s'):format(cmd[1]), {
      'pip install seekcode (it provides seekcode-lsp), or set cmd in setup(), e.g. { "/path/to/.venv/bin/seekcode-lsp" }',
    })
    return
  end
  health.ok(('server command: %s (%s)'):format(table.concat(cmd, ' '), exe))

  local python = interpreter(cmd)
  local settings = options.settings or {}
  if python then
    local probe = run({ python, '-c', PROBE:format(python_literal(settings)) }, 30000)
    local lines = vim.split(probe.stdout or '', '\n', { trimempty = true })
    if probe.code ~= 0 then
      health.error(('Python environment %s cannot import the server: %s'):format(python,
        vim.trim(probe.stderr or ''):match('[^\n]*$')), { 'install seekcode into that environment (make setup)' })
      return
    end
    health.ok(('Python environment: %s (Python %s, llama-cpp-python %s)'):format(lines[1], lines[2], lines[5]))
    if lines[3] == '' then
      health.error('no model: no "model" setting, no $SEEKCODE_MODEL and no bundled model')
      return
    end
    local exists = vim.fn.filereadable(lines[3]) == 1
    local report = exists and health.ok or health.error
    report(('model: %s (%s)'):format(lines[3], lines[4]))
  else
    health.info(('server command is not a Python interpreter or script; environment not inspected'))
  end

  -- Whether the model loads: `seekcode-lsp doctor` where this server has it, else a direct load.
  local doctor = run(doctor_cmd(python and { python, '-m', 'lsp_server' } or cmd, settings), 120000)
  local output = vim.trim((doctor.stdout or '') .. '\n' .. (doctor.stderr or ''))
  local no_doctor = doctor.code == 2 and output:match('invalid choice')
  if not no_doctor then
    if doctor.code == 0 then
      health.ok('seekcode-lsp doctor: ' .. (output:match('[^\n]*$') or 'ok'))
    else
      health.error('seekcode-lsp doctor found problems:\n' .. output)
    end
    return
  end
  if not python then
    health.warn('this seekcode-lsp has no doctor command and no Python to check the model with')
    return
  end
  local load = run({ python, '-c', LOAD:format(python_literal(settings)) }, 120000)
  if load.code == 0 then
    health.ok('model loads (llama.cpp)')
  else
    health.error('model does not load: ' .. (vim.trim(load.stderr or ''):match('[^\n]*$') or '?'))
  end
end

return M
