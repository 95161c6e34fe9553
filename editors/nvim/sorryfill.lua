-- The single-file form of sorryfill for lean.nvim, kept for configs that `dofile` it: it puts
-- this folder on the runtimepath and calls the plugin's setup. New configs install the plugin
-- (this folder) with a plugin manager instead; see editors/README.md.
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
if not vim.tbl_contains(vim.opt.runtimepath:get(), here) then
  vim.opt.runtimepath:append(here)
  vim.cmd.runtime 'plugin/sorryfill.lua'
end
require('sorryfill').setup()
