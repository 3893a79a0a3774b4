-- User commands; nothing starts until require("seekcode").setup() is called.
if vim.g.loaded_seekcode or vim.fn.has('nvim-0.11') == 0 then
  return
end
vim.g.loaded_seekcode = true

local function needs_setup(fn)
  return function(opts)
    local seekcode = require('seekcode')
    if not seekcode.did_setup then
      vim.notify('seekcode: call require("seekcode").setup() first (:help seekcode-setup).', vim.log.levels.WARN)
      return
    end
    fn(opts)
  end
end

local command = vim.api.nvim_create_user_command

command('SeekcodeDocstring', needs_setup(function(opts)
  require('seekcode.commands').docstring(opts)
end), { bang = true, desc = 'seekcode: docstring for the function at the cursor (! replaces one)' })

command('SeekcodeTests', needs_setup(function(opts)
  require('seekcode.commands').tests(opts)
end), { nargs = '?', desc = 'seekcode: unit tests for the function at the cursor [FRAMEWORK]' })

command('SeekcodeReview', needs_setup(function(opts)
  require('seekcode.commands').review(opts)
end), {
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
  require('seekcode.lsp').restart()
end), { desc = 'seekcode: restart the server' })

command('SeekcodeLog', function()
  require('seekcode.commands').log()
end, { desc = 'seekcode: open the server log' })
