-- Ghost text drawn by the plugin (Neovim 0.11, or ghost_text = 'extmark'): requests
-- textDocument/inlineCompletion after typing, shows the item as inline virtual text + virtual lines.
local text = require('seekcode.text')

local M = {}

M.namespace = vim.api.nvim_create_namespace('seekcode.ghost')
local AUTOMATIC = 2 -- InlineCompletionTriggerKind.Automatic
local INVOKED = 1

---@class seekcode.GhostState
---@field items table[] items of the last answer, with range already dropped when empty
---@field index integer shown item
---@field tick integer b:changedtick the items belong to
---@field cursor integer[] cursor the items belong to
---@field timer? uv.uv_timer_t
---@field request? {client: vim.lsp.Client, id: integer}

---@type table<integer, seekcode.GhostState>
local states = {}

local function state(bufnr)
  states[bufnr] = states[bufnr] or { items = {}, index = 1, tick = -1, cursor = { 0, 0 } }
  return states[bufnr]
end

local function cursor()
  return vim.api.nvim_win_get_cursor(0)
end

local function same_place(s, bufnr)
  local row, col = unpack(cursor())
  return s.tick == vim.b[bufnr].changedtick and s.cursor[1] == row and s.cursor[2] == col
end

local function cancel_request(s)
  if s.request then
    pcall(s.request.client.cancel_request, s.request.client, s.request.id)
    s.request = nil
  end
end

local function stop_timer(s)
  if s.timer then
    s.timer:stop()
    if not s.timer:is_closing() then
      s.timer:close()
    end
    s.timer = nil
  end
end

function M.hide(bufnr)
  vim.api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
end

--- The text the shown item inserts at the cursor.
local function shown_text(bufnr)
  local s = states[bufnr]
  local item = s and s.items[s.index]
  if not item or not same_place(s, bufnr) then
    return nil
  end
  local insert = type(item.insertText) == 'string' and item.insertText or item.insertText.value
  local range = item.range
  if range then -- a replacing range: skip what is already typed between its start and the cursor
    local row, col = unpack(cursor())
    if range.start.line == row - 1 then
      local client = vim.lsp.get_client_by_id(item.client_id)
      local line = vim.api.nvim_get_current_line()
      local start_col = vim.str_byteindex(line, client and client.offset_encoding or 'utf-16', range.start.character, false)
      local typed = line:sub(start_col + 1, col)
      if insert:sub(1, #typed) == typed then
        insert = insert:sub(#typed + 1)
      end
    end
  end
  return insert ~= '' and insert or nil
end

local function render(bufnr)
  M.hide(bufnr)
  local shown = shown_text(bufnr)
  if not shown or vim.fn.pumvisible() == 1 or vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  local s = states[bufnr]
  local lines = vim.split(shown, '\n', { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    table.insert(virt_lines, { { lines[i], 'SeekcodeSuggestion' } })
  end
  local first = { { lines[1], 'SeekcodeSuggestion' } }
  if #s.items > 1 then
    local hint = (' (%d/%d)'):format(s.index, #s.items)
    table.insert(#virt_lines > 0 and virt_lines[#virt_lines] or first, { hint, 'SeekcodeSuggestionCount' })
  end
  local row, col = unpack(cursor())
  vim.api.nvim_buf_set_extmark(bufnr, M.namespace, row - 1, col, {
    virt_text = first,
    virt_text_pos = 'inline',
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = 'combine',
    right_gravity = false,
  })
end

local function request(bufnr, kind)
  local s = state(bufnr)
  cancel_request(s)
  local client = require('seekcode.lsp').client(bufnr)
  if not client or not require('seekcode').enabled or vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  if not vim.api.nvim_get_mode().mode:match('^i') then
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = kind }
  local tick, at = vim.b[bufnr].changedtick, cursor()
  local ok, id = client:request('textDocument/inlineCompletion', params, function(err, result)
    if s.request and s.request.id == id then
      s.request = nil
    end
    if err or not result or vim.b[bufnr].changedtick ~= tick then
      return
    end
    local now = cursor()
    if now[1] ~= at[1] or now[2] ~= at[2] then
      return
    end
    local items = {}
    for _, item in ipairs(result.items or result) do
      item.client_id = client.id
      table.insert(items, item)
    end
    s.items, s.index, s.tick, s.cursor = items, 1, tick, at
    render(bufnr)
  end, bufnr)
  if ok then
    s.request = { client = client, id = id }
  end
end

local function schedule_request(bufnr)
  local s = state(bufnr)
  M.hide(bufnr)
  stop_timer(s)
  cancel_request(s)
  s.items = {}
  s.timer = vim.defer_fn(function()
    s.timer = nil
    if vim.api.nvim_buf_is_valid(bufnr) then
      request(bufnr, AUTOMATIC)
    end
  end, require('seekcode.config').options.debounce_ms)
end

function M.available()
  return true
end

function M.attach(bufnr)
  local group = vim.api.nvim_create_augroup('seekcode.ghost.' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      if same_place(state(bufnr), bufnr) and #state(bufnr).items > 0 then
        return -- the cursor is where the shown items belong (e.g. CursorMovedI after an accept's redraw)
      end
      schedule_request(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd('TextChangedP', {
    group = group,
    buffer = bufnr,
    callback = function()
      M.hide(bufnr) -- the completion menu owns the screen and <Tab> while it shows
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
    end,
  })
end

function M.detach(bufnr)
  pcall(vim.api.nvim_del_augroup_by_name, 'seekcode.ghost.' .. bufnr)
  M.dismiss(bufnr)
  states[bufnr] = nil
end

function M.set_enabled(enabled)
  if not enabled then
    for bufnr in pairs(states) do
      M.dismiss(bufnr)
    end
  end
end

function M.visible(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return #vim.api.nvim_buf_get_extmarks(bufnr, M.namespace, 0, -1, { limit = 1 }) > 0
end

---@param kind 'all'|'word'|'line'
function M.accept(kind)
  local bufnr = vim.api.nvim_get_current_buf()
  local shown = M.visible(bufnr) and shown_text(bufnr)
  if not shown then
    return false
  end
  local s = states[bufnr]
  local item = s.items[s.index]
  -- Scheduled: accept is usually called from an <expr> mapping, where the buffer is locked.
  vim.schedule(function()
    if not same_place(s, bufnr) then
      return
    end
    M.dismiss(bufnr)
    text.insert_at_cursor(text.part(shown, kind))
    if kind == 'all' and item.command then
      local client = vim.lsp.get_client_by_id(item.client_id)
      if client then
        client:exec_cmd(item.command, { bufnr = bufnr })
      end
    end
  end)
  return true
end

function M.select(count)
  local bufnr = vim.api.nvim_get_current_buf()
  local s = states[bufnr]
  if not s or #s.items == 0 or not same_place(s, bufnr) then
    request(bufnr, INVOKED) -- nothing shown: ask now
    return
  end
  s.index = (s.index - 1 + count) % #s.items + 1
  render(bufnr)
end

function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = states[bufnr]
  local was_visible = M.visible(bufnr)
  if s then
    stop_timer(s)
    cancel_request(s)
    s.items = {}
  end
  M.hide(bufnr)
  return was_visible
end

function M.current_text(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.visible(bufnr) and shown_text(bufnr) or nil
end

return M
