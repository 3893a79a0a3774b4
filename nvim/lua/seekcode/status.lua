-- Server state for the statusline: model loading progress ($/progress through LspProgress),
-- requests in flight, on/off.
local M = {}

---@type {title?: string, message?: string, percentage?: integer}|nil
M.progress = nil

function M.changed()
  vim.schedule(function()
    vim.cmd('redrawstatus')
  end)
end

function M.setup()
  local group = vim.api.nvim_create_augroup('seekcode.status', { clear = true })
  vim.api.nvim_create_autocmd('LspProgress', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if not client or client.name ~= require('seekcode.lsp').name then
        return
      end
      local value = args.data.params.value
      if value.kind == 'end' then
        M.progress = nil
      else
        M.progress = {
          title = value.title or (M.progress and M.progress.title),
          message = value.message,
          percentage = value.percentage,
        }
      end
      M.changed()
    end,
  })
  vim.api.nvim_create_autocmd({ 'LspAttach', 'LspDetach' }, { group = group, callback = M.changed })
end

--- One word for the state of seekcode in the current buffer.
---@return 'off'|'inactive'|'starting'|'busy'|'ready'
function M.state()
  if not require('seekcode').enabled then
    return 'off'
  end
  local client = require('seekcode.lsp').client()
  if not client then
    return 'inactive'
  end
  if not client.initialized then
    return 'starting'
  end
  if M.progress or require('seekcode.lsp').inline_requests.pending > 0 then
    return 'busy'
  end
  return 'ready'
end

--- A statusline component: "seekcode: loading model 40%", "seekcode" when ready, "" when not attached.
function M.statusline()
  local state = M.state()
  if state == 'inactive' then
    return ''
  end
  if M.progress then
    local parts = { M.progress.title or 'seekcode: working' }
    if M.progress.percentage then
      table.insert(parts, M.progress.percentage .. '%')
    end
    return table.concat(parts, ' ')
  end
  if state == 'ready' then
    return 'seekcode'
  end
  return 'seekcode: ' .. state
end

return M
