-- :SeekcodeDocstring, :SeekcodeTests, :SeekcodeReview through the server's workspace/executeCommand;
-- :SeekcodeLog. The server applies edits with workspace/applyEdit (Neovim answers it itself) and
-- publishes review findings as diagnostics with source "seekcode" (vim.diagnostic shows them).
local lsp = require('seekcode.lsp')

local M = {}

--- The last answer of each command (`:lua =require('seekcode.commands').last`).
M.last = {}

local function notify(message, level)
  vim.notify('seekcode: ' .. message, level or vim.log.levels.INFO)
end

--- The seekcode client of the current buffer if it offers {command}, else nil and a message.
local function client_for(command)
  local client = lsp.client()
  if not client then
    notify('no seekcode server is attached to this buffer (:checkhealth seekcode).', vim.log.levels.WARN)
    return nil
  end
  local provider = client.server_capabilities.executeCommandProvider
  if not (provider and vim.tbl_contains(provider.commands or {}, command)) then
    notify(('this seekcode-lsp does not offer %s; update it.'):format(command), vim.log.levels.WARN)
    return nil
  end
  return client
end

--- Runs {command} with {argument} and calls {done}(result) on success.
function M.execute(command, argument, done)
  local client = client_for(command)
  if not client then
    return false
  end
  local bufnr = vim.api.nvim_get_current_buf()
  M.last[command] = nil
  client:request('workspace/executeCommand', { command = command, arguments = { argument } }, function(err, result)
    if err then
      M.last[command] = { error = err.message or tostring(err) }
      notify(('%s failed: %s'):format(command, err.message or tostring(err)), vim.log.levels.ERROR)
      return
    end
    M.last[command] = result or {}
    if done then
      done(result or {})
    end
  end, bufnr)
  return true
end

local function here(client)
  local params = vim.lsp.util.make_position_params(0, client and client.offset_encoding or 'utf-16')
  return params.textDocument.uri, params.position
end

local function report_edit(what)
  return function(result)
    if result.applied then
      notify(what .. ' inserted.')
    else
      notify(result.message or (what .. ' not inserted.'), vim.log.levels.WARN)
    end
  end
end

function M.docstring(opts)
  local uri, position = here(lsp.client())
  local argument = { uri = uri, position = position }
  if opts and opts.bang then
    argument.replace = true
  end
  return M.execute('seekcode.generateDocstring', argument, report_edit('docstring'))
end

function M.tests(opts)
  local uri, position = here(lsp.client())
  local argument = { uri = uri, position = position }
  if opts and opts.args and opts.args ~= '' then
    argument.framework = opts.args
  end
  return M.execute('seekcode.generateTests', argument, report_edit('tests'))
end

--- :SeekcodeReview [function|file|diff [REV]]; with a range (:'<,'>SeekcodeReview) reviews those lines.
function M.review(opts)
  local client = lsp.client()
  local uri = vim.uri_from_bufnr(0)
  local argument = { uri = uri }
  local words = vim.split(opts and opts.args or '', '%s+', { trimempty = true })
  if words[1] then
    argument.scope = words[1]
    argument.rev = words[2]
  end
  if opts and opts.range and opts.range > 0 then
    local last = vim.api.nvim_buf_get_lines(0, opts.line2 - 1, opts.line2, true)[1]
    argument.range = {
      start = { line = opts.line1 - 1, character = 0 },
      ['end'] = { line = opts.line2 - 1, character = vim.str_utfindex(last, client and client.offset_encoding or 'utf-16') },
    }
  elseif not argument.scope then
    argument.scope = 'function'
    local _, position = here(client)
    argument.range = { start = position, ['end'] = position }
  end
  return M.execute('seekcode.review', argument, function(result)
    local findings = result.findings or 0
    notify(findings == 1 and '1 finding (see vim.diagnostic).' or (findings .. ' findings.'))
  end)
end

function M.log()
  local file = require('seekcode.config').options.log_file
  if not file or vim.fn.filereadable(file) == 0 then
    notify('no server log yet; opening the LSP client log.', vim.log.levels.INFO)
    file = vim.lsp.log.get_filename()
  end
  vim.cmd.split(vim.fn.fnameescape(file))
  vim.cmd('normal! G')
end

local function needs_setup(fn)
  return function(opts)
    if not require('seekcode').did_setup then
      vim.notify('seekcode: call require("seekcode").setup() first (:help seekcode-setup).', vim.log.levels.WARN)
      return
    end
    fn(opts)
  end
end

--- Defines the :Seekcode* user commands (plugin/seekcode.lua and setup() both call it).
function M.define()
  local command = vim.api.nvim_create_user_command
  command('SeekcodeDocstring', needs_setup(M.docstring),
    { bang = true, desc = 'seekcode: docstring for the function at the cursor (! replaces one)' })
  command('SeekcodeTests', needs_setup(M.tests),
    { nargs = '?', desc = 'seekcode: unit tests for the function at the cursor [FRAMEWORK]' })
  command('SeekcodeReview', needs_setup(M.review), {
    nargs = '*',
    range = true,
    complete = function()
      return { 'function', 'file', 'diff' }
    end,
    desc = 'seekcode: review the function, file, diff or lines; findings go to vim.diagnostic',
  })
  command('SeekcodeToggle', needs_setup(function()
    local on = require('seekcode').toggle()
    vim.notify('seekcode: ghost text ' .. (on and 'on' or 'off'))
  end), { desc = 'seekcode: turn ghost text on or off' })
  command('SeekcodeRestart', needs_setup(function()
    lsp.restart()
  end), { desc = 'seekcode: restart the server' })
  command('SeekcodeLog', M.log, { desc = 'seekcode: open the server log' })
end

return M
