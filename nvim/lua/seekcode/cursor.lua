-- Tells seekcode-lsp where the cursor comes to rest in Normal mode (`seekcode/cursor`), so the
-- server evaluates the prompt there while you read and the first suggestion after you start
-- typing is quick. Edits need nothing: the server prefills at each didChange. Insert mode sends
-- nothing, so the server's idle work after a suggestion (speculating the next one) runs on.
local M = {}

M.NOTIFICATION = 'seekcode/cursor'
--- Notifications sent, for the statusline and tests.
M.sent = 0

local timers = {}
local last_line = {}

local function send(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or bufnr ~= vim.api.nvim_get_current_buf()
      or vim.api.nvim_get_mode().mode ~= 'n' then
    return
  end
  local client = require('seekcode.lsp').client(bufnr)
  if not client then
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  if last_line[bufnr] == params.position.line then
    return -- the server holds this line's place already; moving along it changes little
  end
  last_line[bufnr] = params.position.line
  client:notify(M.NOTIFICATION, params)
  M.sent = M.sent + 1
end

--- Start telling the server about {bufnr}'s cursor once it rests {rest_ms} milliseconds.
function M.attach(bufnr, rest_ms)
  local group = vim.api.nvim_create_augroup('seekcode_cursor_' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'CursorMoved', 'BufEnter' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      local timer = timers[bufnr] or vim.uv.new_timer()
      timers[bufnr] = timer
      timer:stop()
      timer:start(rest_ms, 0, vim.schedule_wrap(function()
        send(bufnr)
      end))
    end,
  })
end

function M.detach(bufnr)
  pcall(vim.api.nvim_del_augroup_by_name, 'seekcode_cursor_' .. bufnr)
  local timer = timers[bufnr]
  if timer then
    timer:stop()
    timer:close()
  end
  timers[bufnr], last_line[bufnr] = nil, nil
end

return M
