---@brief [[
--- sorryfill for lean.nvim: runs `sorryfill serve` in front of the Lean server lean.nvim
--- starts, and adds `:Sorryfill` commands, a statusline and an on-save mode.
--- The protocol it speaks is docs/editor-protocol.md in the sorryfill repository.
---@brief ]]

local M = {}

--- Neovim passes the resolved config to a `cmd` function only from 0.11.3 on; the wrapper
--- needs it for lean.nvim's working folder and environment.
M.MIN_NVIM = '0.11.3'

--- The options `setup` understands itself; every other key goes to the proxy as
--- `initializationOptions.sorryfill` (shaped like sorryfill.toml).
local PLUGIN_KEYS = { binary = true, on_save = true, server = true }

local state = {
  --- The options of the last `setup`.
  options = nil,
  --- The latest `$/sorryfill/status` params per client id.
  statuses = {},
  --- The Lean server command found before sorryfill wrapped it (a list or a function).
  inner_cmd = nil,
  --- Why `setup` did nothing, if it did nothing.
  refused = nil,
}

local function notify(message, level)
  vim.notify('sorryfill: ' .. message, level or vim.log.levels.INFO)
end

--- Whether this Neovim can run the wrapper.
function M.supported()
  return vim.fn.has('nvim-' .. M.MIN_NVIM) == 1
end

--- The `sorryfill` executable: `opts.binary`, else `$SORRYFILL`, else `sorryfill` on PATH.
function M.binary()
  local options = state.options or {}
  return options.binary or vim.env.SORRYFILL or 'sorryfill'
end

--- What lean.nvim itself would run in `root` (lean.nvim's rule, for when its own command
--- cannot be found): `lake serve` with a lakefile, else `lean --server`.
local function lean_nvim_rule(root)
  local has_lakefile = vim.uv.fs_stat(vim.fs.joinpath(root, 'lakefile.lean'))
    or vim.uv.fs_stat(vim.fs.joinpath(root, 'lakefile.toml'))
  if has_lakefile then
    return { 'lake', 'serve', '--', root }
  end
  return { 'lean', '--server', root }
end

--- lean.nvim's own `cmd`: what its runtime `lsp/leanls.lua` returns (the last one on the
--- runtimepath, as Neovim merges them).
local function runtime_cmd()
  local found
  for _, file in ipairs(vim.api.nvim_get_runtime_file('lsp/leanls.lua', true)) do
    local ok, config = pcall(dofile, file)
    if ok and type(config) == 'table' and config.cmd then
      found = config.cmd
    end
  end
  return found
end

local function wrapped(cmd)
  local full = { M.binary(), 'serve', '--' }
  vim.list_extend(full, cmd)
  return full
end

--- The `cmd` function sorryfill installs: runs whatever lean.nvim would start behind
--- `sorryfill serve`, with lean.nvim's own working folder, environment and options.
local function serve_cmd(dispatchers, config)
  local inner = state.inner_cmd or runtime_cmd()
  if type(inner) == 'function' then
    -- lean.nvim's function decides the command, folder and environment and starts it with
    -- `vim.lsp.rpc.start`; only the command it passes there is put behind sorryfill.
    local rpc = vim.lsp.rpc
    local start = rpc.start
    rpc.start = function(cmd, ...)
      rpc.start = start
      return start(type(cmd) == 'table' and wrapped(cmd) or cmd, ...)
    end
    local ok, client = pcall(inner, dispatchers, config)
    rpc.start = start
    if not ok then
      error(client, 0)
    end
    return client
  end
  local root = config.root_dir or vim.fn.getcwd()
  local cmd = type(inner) == 'table' and inner or lean_nvim_rule(root)
  return vim.lsp.rpc.start(wrapped(cmd), dispatchers, {
    cwd = config.cmd_cwd or root,
    env = config.cmd_env,
    detached = config.detached,
  })
end

local function proxy_settings(options)
  local settings = {}
  for key, value in pairs(options) do
    if not PLUGIN_KEYS[key] then
      settings[key] = value
    end
  end
  if options.on_save == 'server' then
    settings.editor = vim.tbl_extend('force', settings.editor or {}, { apply_on_save = true })
  end
  return settings
end

local function on_status(_, params, ctx)
  if type(params) ~= 'table' then
    return
  end
  state.statuses[ctx.client_id] = params
  vim.api.nvim_exec_autocmds('User', { pattern = 'SorryfillStatus', modeline = false, data = params })
  pcall(vim.cmd, 'redrawstatus!')
end

--- The sorryfill client of `bufnr` (the current buffer by default): the `leanls` client.
function M.client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return vim.lsp.get_clients({ bufnr = bufnr, name = 'leanls' })[1]
end

--- The latest status of `bufnr`'s server, or nil before the first one.
function M.status(bufnr)
  local client = M.client(bufnr)
  return client and state.statuses[client.id] or nil
end

--- The latest status the client `client_id` received, or nil.
function M.status_of(client_id)
  return state.statuses[client_id]
end

--- A statusline component: `sorryfill: proving 1/3 holes`, or '' outside sorryfill.
function M.statusline()
  local status = M.status()
  if not status then
    return ''
  end
  return 'sorryfill: ' .. status.message
end

--- Sends one of sorryfill's commands to `bufnr`'s server; `on_result(result)` on success,
--- a notification on error.
local function execute(bufnr, command, arguments, on_result)
  local client = M.client(bufnr)
  if not client then
    notify('no Lean server for this buffer', vim.log.levels.WARN)
    return
  end
  client:request('workspace/executeCommand', { command = command, arguments = arguments }, function(err, result)
    if err then
      notify(err.message or vim.inspect(err), vim.log.levels.WARN)
    elseif on_result then
      on_result(result)
    end
  end, bufnr)
end

local function document(bufnr)
  return { uri = vim.uri_from_bufnr(bufnr) }
end

local function holes(n)
  return n == 1 and '1 hole' or (n .. ' holes')
end

--- `:Sorryfill prove`: the hole at the cursor, ahead of the others. The proof arrives as a
--- code action on the hole's line.
function M.prove()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  local encoding = client and client.offset_encoding or 'utf-16'
  local position = vim.lsp.util.make_position_params(0, encoding).position
  execute(bufnr, 'sorryfill.prove', { { textDocument = document(bufnr), position = position } }, function(result)
    notify('proving ' .. holes(result.holes) .. '; the proof will be a code action on its line')
  end)
end

--- `:Sorryfill prove-file`: every hole of the buffer, now.
function M.prove_file()
  local bufnr = vim.api.nvim_get_current_buf()
  execute(bufnr, 'sorryfill.proveFile', { { textDocument = document(bufnr) } }, function(result)
    notify('proving ' .. holes(result.holes))
  end)
end

--- `:Sorryfill cancel`: stops the buffer's running jobs (`cancel all`: every buffer's).
function M.cancel(all)
  local bufnr = vim.api.nvim_get_current_buf()
  local arguments = all and {} or { { textDocument = document(bufnr) } }
  execute(bufnr, 'sorryfill.cancel', arguments, function(result)
    notify('cancelled ' .. result.cancelled .. ' running job' .. (result.cancelled == 1 and '' or 's'))
  end)
end

--- `:Sorryfill status`: the server's status now.
function M.show_status()
  local bufnr = vim.api.nvim_get_current_buf()
  execute(bufnr, 'sorryfill.getStatus', {}, function(status)
    local client = M.client(bufnr)
    if client then
      state.statuses[client.id] = status
    end
    notify(
      ('%s (%d holes: %d proving, %d ready, %d failed)'):format(
        status.message,
        status.holes,
        status.proving,
        status.ready,
        status.failed
      )
    )
  end)
end

--- `:Sorryfill log`: opens the server's log file.
function M.open_log()
  local status = M.status()
  if not status or status.log == vim.NIL or not status.log then
    notify('no log file known yet (the server names it in its first status)', vim.log.levels.WARN)
    return
  end
  vim.cmd.split(vim.fn.fnameescape(status.log))
end

--- The verified fills sorryfill offers for the whole of `bufnr`, as one list of text edits
--- for the buffer's current version; nil when there are none.
local function verified_edits(bufnr, client)
  local last = math.max(vim.api.nvim_buf_line_count(bufnr) - 1, 0)
  local params = {
    textDocument = document(bufnr),
    range = { start = { line = 0, character = 0 }, ['end'] = { line = last, character = 0 } },
    context = { diagnostics = {} },
  }
  local answer = client:request_sync('textDocument/codeAction', params, 2000, bufnr)
  if not answer or answer.err or type(answer.result) ~= 'table' then
    return nil
  end
  local version = vim.lsp.util.buf_versions[bufnr]
  local edits = {}
  for _, action in ipairs(answer.result) do
    local own = type(action.data) == 'table' and type(action.data.sorryfill) == 'table' and action.data.sorryfill.fill
    local changes = own and action.edit and action.edit.documentChanges
    for _, change in ipairs(changes or {}) do
      -- An edit for another version would be applied to the wrong text.
      if change.textDocument and change.textDocument.version == version then
        vim.list_extend(edits, change.edits)
      end
    end
  end
  return #edits > 0 and edits or nil
end

--- Puts every verified proof into `bufnr` (the on-save mode, before the write).
function M.fill_verified(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    return 0
  end
  local edits = verified_edits(bufnr, client)
  if not edits then
    return 0
  end
  vim.lsp.util.apply_text_edits(edits, bufnr, client.offset_encoding)
  return #edits
end

local function install_on_save(options)
  local group = vim.api.nvim_create_augroup('sorryfill_on_save', { clear = true })
  if options.on_save ~= true then
    return
  end
  vim.api.nvim_create_autocmd('BufWritePre', {
    group = group,
    pattern = '*.lean',
    desc = 'sorryfill: put verified proofs into the buffer before writing it',
    callback = function(event)
      local filled = M.fill_verified(event.buf)
      if filled > 0 then
        notify(('filled %s with verified proofs'):format(holes(filled)))
      end
    end,
  })
end

--- Sets sorryfill up in front of lean.nvim's Lean server.
---
--- `opts`: `binary` (the sorryfill executable; default `$SORRYFILL` or `sorryfill`),
--- `on_save` (`true`: put verified proofs into the buffer before each write; `'server'`: let
--- the server apply them after the save), `server` (extra `vim.lsp.config` for `leanls`);
--- every other key is a sorryfill.toml setting sent to the server as
--- `initializationOptions.sorryfill`, e.g. `tactics = { list = { 'omega' } }`.
function M.setup(opts)
  opts = opts or {}
  state.options = opts
  if not M.supported() then
    state.refused = ('Neovim %s or later is needed (this is %s)'):format(M.MIN_NVIM, tostring(vim.version()))
    notify(state.refused .. '; Lean runs without sorryfill', vim.log.levels.ERROR)
    return
  end
  state.refused = nil
  -- The command lean.nvim (or the user's own config) set before this call; when lean.nvim
  -- is not on the runtimepath yet, its runtime file is read when the server starts.
  if not state.installed then
    local ok, resolved = pcall(function()
      return vim.lsp.config.leanls
    end)
    local cmd = ok and resolved and resolved.cmd or nil
    if cmd ~= serve_cmd then
      state.inner_cmd = cmd
    end
  end
  local config = vim.tbl_deep_extend('force', opts.server or {}, {
    cmd = serve_cmd,
    handlers = { ['$/sorryfill/status'] = on_status },
  })
  local settings = proxy_settings(opts)
  -- An empty Lua table would be sent as `[]`, which is no configuration.
  if next(settings) ~= nil then
    config.init_options = { sorryfill = settings }
  end
  vim.lsp.config('leanls', config)
  state.installed = true
  install_on_save(opts)
end

--- What `:checkhealth sorryfill` and tests read about the set-up.
function M.info()
  return {
    installed = state.installed == true,
    refused = state.refused,
    options = state.options,
    wraps = type(state.inner_cmd or runtime_cmd()),
  }
end

return M
