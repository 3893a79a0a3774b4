-- User commands; nothing starts until require("seekcode").setup() is called (which also defines
-- them, for plugin managers that add nvim/ to 'runtimepath' after startup).
if vim.g.loaded_seekcode or vim.fn.has('nvim-0.11') == 0 then
  return
end
vim.g.loaded_seekcode = true
require('seekcode.commands').define()
