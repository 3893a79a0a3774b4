-- Pieces of a suggestion (accept word / line) and inserting text at the cursor.
local M = {}

local WORD = '[%w_\128-\255]'

--- The part of {text} that "accept word" or "accept line" takes; all of it for 'all'.
---@param text string
---@param kind 'all'|'word'|'line'
function M.part(text, kind)
  if kind == 'all' or text == '' then
    return text
  end
  if kind == 'line' then
    local start = text:sub(1, 1) == '\n' and 2 or 1 -- at a line's end: the newline and the next line
    local newline = text:find('\n', start, true)
    return newline and text:sub(1, newline - 1) or text
  end
  return text:match('^\n[ \t]*')
    or text:match('^[ \t]*' .. WORD .. '+')
    or text:match('^[ \t]*[^%w_\128-\255%s]+')
    or text:match('^%s+')
    or text
end

--- Replaces rows/cols [row, col) .. [end_row, end_col) (0-based, bytes) of {bufnr} with {text} and
--- puts the cursor of the window showing it right after the inserted text.
function M.insert(bufnr, row, col, end_row, end_col, text)
  local lines = vim.split(text, '\n', { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, end_row, end_col, lines)
  local winid = vim.fn.bufwinid(bufnr)
  if winid ~= -1 then
    local last = #lines == 1 and col + #lines[1] or #lines[#lines]
    vim.api.nvim_win_set_cursor(winid, { row + #lines, last })
  end
end

--- Inserts {text} at the cursor of the current window.
function M.insert_at_cursor(text)
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  M.insert(vim.api.nvim_get_current_buf(), row - 1, col, row - 1, col, text)
end

return M
