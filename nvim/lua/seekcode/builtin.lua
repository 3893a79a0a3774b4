-- Ghost text on Neovim 0.12+: vim.lsp.inline_completion renders, the plugin accepts and cycles.
local text = require('seekcode.text')

local M = {}

local ic = vim.lsp.inline_completion
local namespace = vim.api.nvim_create_namespace('nvim.lsp.inline_completion')

function M.available()
  return ic ~= nil and ic.get ~= nil and ic.select ~= nil
end

function M.attach(bufnr, client)
  ic.enable(true, { bufnr = bufnr })
  ic.enable(require('seekcode').enabled, { client_id = client.id })
end

function M.detach(bufnr) end

function M.set_enabled(enabled)
  for _, client in ipairs(require('seekcode.lsp').clients()) do
    ic.enable(enabled, { client_id = client.id })
  end
end

function M.visible(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return #vim.api.nvim_buf_get_extmarks(bufnr, namespace, 0, -1, { limit = 1 }) > 0
end

--- The text an item inserts at the cursor: what its range already covers before the cursor is left out.
local function text_after_cursor(item)
  local insert = type(item.insert_text) == 'string' and item.insert_text or item.insert_text.value
  local range = item.range
  if not range then
    return insert
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  if range.start.row ~= row - 1 then
    return insert
  end
  local typed = vim.api.nvim_get_current_line():sub(range.start.col + 1, col)
  return insert:sub(1, #typed) == typed and insert:sub(#typed + 1) or insert
end

---@param kind 'all'|'word'|'line'
function M.accept(kind)
  if not M.visible() then
    return false
  end
  return ic.get({
    on_accept = function(item)
      if kind == 'all' and item.range and type(item.insert_text) == 'string' then
        local r = item.range
        text.insert(vim.api.nvim_get_current_buf(), r.start.row, r.start.col, r.end_.row, r.end_.col, item.insert_text)
      else
        text.insert_at_cursor(text.part(text_after_cursor(item), kind))
      end
      if kind == 'all' and item.command then
        local client = vim.lsp.get_client_by_id(item.client_id)
        if client then
          client:exec_cmd(item.command, { bufnr = vim.api.nvim_get_current_buf() })
        end
      end
    end,
  })
end

function M.select(count)
  ic.select({ count = count })
end

--- The built-in has no public dismiss: detaching and attaching again drops the shown item.
function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not M.visible(bufnr) then
    return false
  end
  ic.enable(false, { bufnr = bufnr })
  ic.enable(true, { bufnr = bufnr })
  return true
end

--- The suggestion shown in {bufnr}, as the text after the cursor (tests and :SeekcodeStatus use it).
function M.current_text(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, namespace, 0, -1, { details = true, limit = 1 })
  if #marks == 0 then
    return nil
  end
  local details = marks[1][4]
  local function text_of(chunks) -- the item's text, without the " (1/2)" hint (ComplHintMore)
    local parts = {}
    for _, chunk in ipairs(chunks or {}) do
      if chunk[2] ~= 'ComplHintMore' then
        table.insert(parts, chunk[1])
      end
    end
    return table.concat(parts)
  end
  local lines = { text_of(details.virt_text) }
  for _, line in ipairs(details.virt_lines or {}) do
    table.insert(lines, text_of(line))
  end
  return table.concat(lines, '\n')
end

return M
