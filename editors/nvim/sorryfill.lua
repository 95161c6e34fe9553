-- sorryfill for lean.nvim (Neovim 0.11+): start Lean's server behind `sorryfill serve`.
-- Put this in your config after lean.nvim is set up, or `require` it from there.
-- It keeps lean.nvim's own choice of command (`lake serve` in a Lake project, else
-- `lean --server`) and working folder, and only puts sorryfill in front of it.
local sorryfill = vim.env.SORRYFILL or 'sorryfill'

vim.lsp.config('leanls', {
  cmd = function(dispatchers, config)
    local root = config.root_dir or vim.fn.getcwd()
    local has_lakefile = vim.uv.fs_stat(root .. '/lakefile.lean') or vim.uv.fs_stat(root .. '/lakefile.toml')
    local server = has_lakefile and { 'lake', 'serve', '--', root } or { 'lean', '--server', root }
    local cmd = { sorryfill, 'serve', '--' }
    vim.list_extend(cmd, server)
    return vim.lsp.rpc.start(cmd, dispatchers, { cwd = config.cmd_cwd or root, env = config.cmd_env })
  end,
})
