-- sorryfill: the `:Sorryfill` command. Nothing else runs until `require('sorryfill').setup()`.
if vim.g.loaded_sorryfill then
  return
end
vim.g.loaded_sorryfill = true

local subcommands = {
  prove = function()
    require('sorryfill').prove()
  end,
  ['prove-file'] = function()
    require('sorryfill').prove_file()
  end,
  cancel = function(argument)
    require('sorryfill').cancel(argument == 'all')
  end,
  status = function()
    require('sorryfill').show_status()
  end,
  log = function()
    require('sorryfill').open_log()
  end,
}

vim.api.nvim_create_user_command('Sorryfill', function(command)
  local name = command.fargs[1] or 'status'
  local run = subcommands[name]
  if not run then
    vim.notify('sorryfill: unknown subcommand ' .. name, vim.log.levels.ERROR)
    return
  end
  run(command.fargs[2])
end, {
  nargs = '*',
  desc = 'sorryfill: prove | prove-file | cancel [all] | status | log',
  complete = function(lead)
    return vim.tbl_filter(function(name)
      return vim.startswith(name, lead)
    end, vim.tbl_keys(subcommands))
  end,
})
