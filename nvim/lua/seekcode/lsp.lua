-- Starts seekcode-lsp through vim.lsp.config / vim.lsp.enable and shapes what its client sends.
local config = require('seekcode.config')

local M = {}

M.name = 'seekcode'
local INLINE = 'textDocument/inlineCompletion'

--- Requests sent for inline completion, by buffer: the statusline and tests read it.
M.inline_requests = { sent = 0, skipped = 0, pending = 0 }

--- The server answers a pure insertion with an empty range at the cursor, which is exact LSP and
--- what VS Code needs (there a missing range means "replace the word at the cursor"). Neovim's
--- built-in renderer draws any ranged item as an overlay (it expects the range to cover what the
--- text replaces), hiding the text after the cursor. Without a range it inserts at the cursor and
--- draws inline, which is what an empty range means.
local function drop_empty_ranges(result)
  local items = result and (result.items or result)
  if type(items) ~= 'table' then
    return
  end
  for _, item in ipairs(items) do
    local range = item.range
    if range and range.start.line == range['end'].line and range.start.character == range['end'].character then
      item.range = nil
    end
  end
end

--- Wraps client:request for inline completion: empty ranges dropped, and requests for buffers other
--- than the current one skipped (some 0.12-dev builds ask once per open buffer at every trigger,
--- with the current window's cursor; fixed upstream, not relied on here).
local function shape_inline_requests(client)
  local request = client.request
  client.request = function(self, method, params, handler, bufnr)
    if method ~= INLINE then
      return request(self, method, params, handler, bufnr)
    end
    local uri = params and params.textDocument and params.textDocument.uri
    if uri and vim.uri_to_bufnr(uri) ~= vim.api.nvim_get_current_buf() then
      M.inline_requests.skipped = M.inline_requests.skipped + 1
      return false, nil
    end
    M.inline_requests.sent = M.inline_requests.sent + 1
    M.inline_requests.pending = M.inline_requests.pending + 1
    local done = false
    local function finish()
      if not done then
        done = true
        M.inline_requests.pending = M.inline_requests.pending - 1
        require('seekcode.status').changed()
      end
    end
    require('seekcode.status').changed()
    local ok, id = request(self, method, params, function(err, result, ctx, cfg)
      finish()
      if not err then
        drop_empty_ranges(result)
      end
      if handler then
        return handler(err, result, ctx, cfg)
      end
    end, bufnr)
    if not ok then
      finish()
    end
    return ok, id
  end
end

--- {settings} as a JSON object even when empty (vim.json encodes an empty table as []).
local function object(settings)
  return next(settings or {}) and settings or vim.empty_dict()
end

function M.setup(options)
  vim.lsp.config(M.name, {
    cmd = config.server_cmd(),
    filetypes = options.filetypes,
    root_markers = options.root_markers,
    init_options = object(options.settings),
    settings = { seekcode = object(options.settings) },
    on_init = function(client)
      shape_inline_requests(client)
    end,
  })
  vim.lsp.enable(M.name)
end

--- The seekcode client attached to {bufnr} (default: current buffer), or nil.
function M.client(bufnr)
  return vim.lsp.get_clients({ name = M.name, bufnr = bufnr or vim.api.nvim_get_current_buf() })[1]
end

function M.clients()
  return vim.lsp.get_clients({ name = M.name })
end

--- Stops the clients and starts them again for every buffer they served.
function M.restart()
  local clients = M.clients()
  vim.lsp.enable(M.name, false)
  vim.wait(5000, function()
    for _, client in ipairs(clients) do
      if not client:is_stopped() then
        return false
      end
    end
    return true
  end, 50)
  vim.lsp.enable(M.name, true)
end

return M
