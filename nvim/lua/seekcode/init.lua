-- seekcode: local AI code completion (ghost text), docstrings, tests and review through seekcode-lsp.
-- :help seekcode
local M = {}

M.enabled = true
M.did_setup = false

local function ghost()
  local config = require('seekcode.config')
  local choice = config.options.ghost_text
  local builtin = require('seekcode.builtin')
  if choice == 'builtin' or (choice == 'auto' and builtin.available()) then
    return builtin
  end
  return require('seekcode.ghost')
end

--- The ghost text renderer in use: the module `seekcode.builtin` or `seekcode.ghost`.
M.renderer = ghost

function M.setup(opts)
  if vim.fn.has('nvim-0.11') == 0 then
    vim.notify('seekcode needs Neovim 0.11 or newer.', vim.log.levels.ERROR)
    return
  end
  local config = require('seekcode.config')
  local options = config.merge(opts)
  if options.ghost_text == 'builtin' and not require('seekcode.builtin').available() then
    vim.notify("seekcode: ghost_text = 'builtin' needs vim.lsp.inline_completion (Neovim 0.12+); using extmarks.",
      vim.log.levels.WARN)
    options.ghost_text = 'extmark'
  end
  vim.api.nvim_set_hl(0, 'SeekcodeSuggestion', { link = 'Comment', default = true })
  vim.api.nvim_set_hl(0, 'SeekcodeSuggestionCount', { link = 'NonText', default = true })

  local group = vim.api.nvim_create_augroup('seekcode', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == require('seekcode.lsp').name then
        ghost().attach(args.buf, client)
        if options.cursor_rest_ms then
          require('seekcode.cursor').attach(args.buf, options.cursor_rest_ms)
        end
      end
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == require('seekcode.lsp').name then
        ghost().detach(args.buf)
        require('seekcode.cursor').detach(args.buf)
      end
    end,
  })
  require('seekcode.commands').define()
  require('seekcode.status').setup()
  require('seekcode.keymaps').setup(options.keymaps or {})
  require('seekcode.lsp').setup(options)
  M.did_setup = true
end

--- True when a suggestion shows in the current buffer.
function M.visible()
  return M.did_setup and ghost().visible() or false
end

--- Accept the whole suggestion; false when none shows (use it as a fallback in your own mapping).
function M.accept()
  return M.did_setup and ghost().accept('all') or false
end

function M.accept_word()
  return M.did_setup and ghost().accept('word') or false
end

function M.accept_line()
  return M.did_setup and ghost().accept('line') or false
end

function M.next()
  if M.did_setup then
    ghost().select(1)
  end
end

function M.prev()
  if M.did_setup then
    ghost().select(-1)
  end
end

function M.dismiss()
  return M.did_setup and ghost().dismiss() or false
end

--- The suggestion text shown after the cursor, or nil.
function M.suggestion()
  return M.did_setup and ghost().current_text() or nil
end

--- Turn ghost text on or off everywhere; {enabled} nil toggles.
function M.toggle(enabled)
  if enabled == nil then
    enabled = not M.enabled
  end
  M.enabled = enabled
  if M.did_setup then
    ghost().set_enabled(enabled)
  end
  require('seekcode.status').changed()
  return enabled
end

function M.statusline()
  return require('seekcode.status').statusline()
end

return M
