-- Insert-mode keymaps. Each acts only when a suggestion shows; otherwise the key does what it did
-- before setup(): the mapping it had (Neovim's own <Tab> snippet jump, a completion plugin's), or
-- the plain key, so <Tab> still indents and the completion menu keeps its keys.
local M = {}

local actions = {
  accept = function(s) return s.accept() end,
  accept_word = function(s) return s.accept_word() end,
  accept_line = function(s) return s.accept_line() end,
  next = function(s) return s.next() end,
  prev = function(s) return s.prev() end,
  dismiss = function(s) return s.dismiss() end,
}

local function termcodes(keys)
  return vim.api.nvim_replace_termcodes(keys, true, true, true)
end

--- What {lhs} did before: a function returning the keys to feed from an <expr> mapping.
local function previous(lhs)
  local old = vim.fn.maparg(lhs, 'i', false, true)
  if vim.tbl_isempty(old) or old.buffer == 1 then
    return function()
      return termcodes(lhs)
    end
  end
  if old.callback then
    return function()
      if old.expr == 1 then
        local keys = old.callback() or ''
        return old.replace_keycodes == 1 and termcodes(keys) or keys
      end
      vim.schedule(old.callback)
      return ''
    end
  end
  return function()
    local keys = old.expr == 1 and vim.api.nvim_eval(old.rhs) or old.rhs
    vim.api.nvim_feedkeys(termcodes(keys), old.noremap == 1 and 'in' or 'im', false)
    return ''
  end
end

local function mapping(name, action, fallback)
  return function()
    local seekcode = require('seekcode')
    if vim.fn.pumvisible() == 1 then
      return fallback()
    end
    if name:match('^accept') then
      -- accept() checks now and inserts later: the buffer is locked while an <expr> mapping runs.
      if seekcode.visible() and action(seekcode) then
        return ''
      end
      return fallback()
    end
    local asks = (name == 'next' or name == 'prev') and seekcode.enabled and require('seekcode.lsp').client()
    if seekcode.visible() or asks then -- next/prev with nothing shown asks for a suggestion
      vim.schedule(function()
        action(seekcode)
      end)
      return ''
    end
    return fallback()
  end
end

function M.setup(keymaps)
  for name, action in pairs(actions) do
    local lhs = keymaps[name]
    if lhs then
      vim.keymap.set('i', lhs, mapping(name, action, previous(lhs)), {
        expr = true,
        replace_keycodes = false,
        desc = 'seekcode: ' .. name:gsub('_', ' '),
      })
    end
  end
end

return M
