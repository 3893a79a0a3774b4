-- Defaults and the merged options of `require("seekcode").setup()`.
local M = {}

M.defaults = {
  -- The server command. Settings reach it as initializationOptions, not flags.
  cmd = { 'seekcode-lsp' },
  -- Server log (`--log-file`); `:SeekcodeLog` opens it. false: no log file.
  log_file = vim.fn.stdpath('log') .. '/seekcode-lsp.log',
  filetypes = {
    'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact',
    'go', 'rust', 'java', 'c', 'cpp', 'lua', 'sh',
  },
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' },
  -- Server settings (section "seekcode"): model, threads, contextSize, fimLayout,
  -- maxTokens, ["review.trigger"], ["tests.run"], ... (see :help seekcode-settings).
  settings = {},
  -- 'auto': vim.lsp.inline_completion on 0.12+, the plugin's own extmarks on 0.11.
  -- 'builtin' or 'extmark' force one.
  ghost_text = 'auto',
  debounce_ms = 150, -- extmark renderer only; the built-in one has its own
  -- Where the cursor rests this long in Normal mode, the server evaluates the prompt while you
  -- read (seekcode/cursor); false: never.
  cursor_rest_ms = 300,
  keymaps = {
    accept = '<Tab>', -- falls back to a plain <Tab> when no suggestion shows
    accept_word = '<M-w>',
    accept_line = '<M-l>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
  },
}

M.options = vim.deepcopy(M.defaults)

function M.merge(user)
  vim.validate('opts', user, 'table', true)
  local options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), user or {})
  -- Lists replace, they do not merge index by index.
  for _, key in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if user and user[key] then
      options[key] = user[key]
    end
  end
  if type(options.cmd) == 'string' then
    options.cmd = { options.cmd }
  end
  vim.validate('cmd', options.cmd, 'table')
  vim.validate('ghost_text', options.ghost_text, function(v)
    return v == 'auto' or v == 'builtin' or v == 'extmark'
  end, "'auto', 'builtin' or 'extmark'")
  vim.validate('cursor_rest_ms', options.cursor_rest_ms, function(v)
    return v == false or (type(v) == 'number' and v >= 0)
  end, 'milliseconds or false')
  M.options = options
  return options
end

--- The server command line as started: cmd plus the log file flag.
function M.server_cmd()
  local cmd = vim.deepcopy(M.options.cmd)
  if M.options.log_file then
    vim.list_extend(cmd, { '--log-file', M.options.log_file })
  end
  return cmd
end

return M
