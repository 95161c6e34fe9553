-- `:checkhealth sorryfill`: Neovim, the set-up, lean.nvim, the sorryfill binary, then what
-- `sorryfill doctor --json` finds in the project (lake, lean, configuration, model
-- endpoints, cache), then the running server's status.
local M = {}

local health = vim.health

--- The project of the current buffer: its Lean server's root, else the Lake root above it.
local function project_root()
  local sorryfill = require 'sorryfill'
  local client = sorryfill.client()
  if client and client.root_dir then
    return client.root_dir
  end
  return vim.fs.root(0, { 'lakefile.toml', 'lakefile.lean', 'lean-toolchain' }) or vim.fn.getcwd()
end

local function check_neovim(sorryfill)
  local version = tostring(vim.version())
  if sorryfill.supported() then
    health.ok(('Neovim %s (needs %s or later)'):format(version, sorryfill.MIN_NVIM))
  else
    health.error(
      ('Neovim %s is too old: sorryfill needs %s or later'):format(version, sorryfill.MIN_NVIM),
      { 'upgrade Neovim (lean.nvim itself asks for 0.11.5 or later)' }
    )
  end
end

local function check_setup(sorryfill)
  local info = sorryfill.info()
  if info.refused then
    health.error('setup() did nothing: ' .. info.refused)
  elseif info.installed then
    local wraps = ({
      ['function'] = "lean.nvim's own server command",
      table = 'the configured server command',
    })[info.wraps] or "lean.nvim's rule (lake serve, or lean --server without a lakefile)"
    health.ok('setup() puts `sorryfill serve` in front of ' .. wraps)
  else
    health.warn('setup() was not called: Lean runs without sorryfill', {
      "call require('sorryfill').setup() in your config",
    })
  end
  if pcall(require, 'lean') then
    health.ok 'lean.nvim is installed'
  else
    health.warn('lean.nvim is not on the runtimepath', { 'install Julian/lean.nvim' })
  end
end

--- Checks the binary; returns its path when it runs.
local function check_binary(sorryfill)
  local binary = sorryfill.binary()
  local path = vim.fn.exepath(binary)
  if path == '' then
    health.error(('the sorryfill binary %q is not executable or not on PATH'):format(binary), {
      'cargo install --locked --path server (in the sorryfill repository)',
      "or pass its path: require('sorryfill').setup({ binary = '/path/to/sorryfill' })",
    })
    return nil
  end
  local result = vim.system({ path, '--version' }, { text = true }):wait(10000)
  if result.code ~= 0 then
    health.error(('%s --version failed: %s'):format(path, vim.trim(result.stderr or '')))
    return nil
  end
  health.ok(('%s (%s)'):format(vim.trim(result.stdout), path))
  return path
end

local REPORT = { ok = health.ok, warning = health.warn, error = health.error }

local function check_doctor(binary)
  local root = project_root()
  health.info('project: ' .. root)
  local result = vim.system({ binary, 'doctor', '--json' }, { cwd = root, text = true }):wait(90000)
  local ok, report = pcall(vim.json.decode, result.stdout or '')
  if not ok or type(report) ~= 'table' or type(report.checks) ~= 'table' then
    health.error('`sorryfill doctor --json` gave no report: ' .. vim.trim(result.stderr or ''))
    return
  end
  for _, check in ipairs(report.checks) do
    local report_as = REPORT[check.status] or health.info
    local line = ('%s: %s'):format(check.name, check.detail)
    if type(check.latency_ms) == 'number' then
      line = line .. (' (%d ms)'):format(check.latency_ms)
    end
    local fix = type(check.fix) == 'string' and { check.fix } or nil
    report_as(line, fix)
  end
end

local function check_status(sorryfill)
  local clients = vim.lsp.get_clients({ name = 'leanls' })
  if #clients == 0 then
    health.info 'no Lean server is running yet (open a .lean file)'
    return
  end
  for _, client in ipairs(clients) do
    local status = sorryfill.status_of(client.id)
    local root = client.root_dir or '?'
    if not status then
      health.warn(('%s: no $/sorryfill/status from this server'):format(root), {
        'the server is not `sorryfill serve`: check setup() and :Sorryfill log',
      })
    else
      local line = ('%s: %s (%s)'):format(root, status.state, status.message)
      if status.state == 'off' or status.state == 'unreachable' then
        health.warn(line)
      else
        health.ok(line)
      end
      if type(status.log) == 'string' then
        health.info('log: ' .. status.log)
      end
    end
  end
end

function M.check()
  local sorryfill = require 'sorryfill'
  health.start 'sorryfill: set-up'
  check_neovim(sorryfill)
  check_setup(sorryfill)
  local binary = check_binary(sorryfill)
  if binary then
    health.start 'sorryfill: sorryfill doctor'
    check_doctor(binary)
  end
  health.start 'sorryfill: server'
  check_status(sorryfill)
end

return M
