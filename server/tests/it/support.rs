//! Shared helpers for the integration tests: binaries, fresh folders, the shared corpus.

use std::path::{Path, PathBuf};

/// The `sorryfill` binary under test.
#[allow(dead_code)]
pub fn sorryfill_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sorryfill"))
}

/// The `lean-sim` binary, built by `cargo test --workspace` next to this test binary.
/// `LEAN_SIM` overrides the path.
#[allow(dead_code)]
pub fn lean_sim_bin() -> PathBuf {
    workspace_bin("lean-sim", "LEAN_SIM")
}

/// The `lsp-recorder` test server (tests/lsp-recorder), built by `cargo test --workspace`
/// next to this test binary. `LSP_RECORDER` overrides the path.
#[allow(dead_code)]
pub fn lsp_recorder_bin() -> PathBuf {
    workspace_bin("lsp-recorder", "LSP_RECORDER")
}

/// A binary of another workspace member: `target/<profile>/<name>`, next to this test
/// binary's `deps/` folder, unless `override_var` names another path.
fn workspace_bin(name: &str, override_var: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(override_var) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{name} is not built at {}: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// The shared corpus (`../shared/corpus` from the project root), or `None` with one clear
/// line on stderr when it is absent, as on a user's machine.
#[allow(dead_code)]
pub fn corpus_dir() -> Option<PathBuf> {
    shared_dir("corpus")
}

/// The Lean protocol reference (`../shared/lean-protocol`), or `None` with one clear line.
#[allow(dead_code)]
pub fn protocol_dir() -> Option<PathBuf> {
    shared_dir("lean-protocol")
}

/// A folder of the shared reference material: `../shared/<name>` from the project root, or
/// `$SORRYFILL_SHARED/<name>` (for a git worktree that is not next to `shared/`).
pub fn shared_dir(name: &str) -> Option<PathBuf> {
    let shared = match std::env::var_os("SORRYFILL_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    let dir = shared.join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        skip_line(format_args!(
            "skipped: ../shared/{name} is absent (it is only on the developers' machines)"
        ));
        None
    }
}

/// Runs `sorryfill ARGS` in `dir` to the end, with `dir` as its home so no user-level
/// configuration or cache is read.
#[allow(dead_code)]
pub fn sorryfill(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(sorryfill_bin())
        .current_dir(dir)
        .args(args)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .output()
        .expect("sorryfill runs")
}

/// A fresh temporary folder for one test, removed when dropped.
#[allow(dead_code)]
pub fn fresh_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sorryfill-test-")
        .tempdir()
        .expect("a temporary folder can be made")
}

/// Prints a skip notice straight to stderr, naming the test: the test harness captures
/// `eprintln!`, and a skip must be seen in the test log, never silent. `.ci/run` counts these
/// lines in its last line. A precondition known before the run is an `#[ignore = "reason"]`
/// instead, which the harness itself counts.
pub fn skip_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    // libtest runs each test on a thread named after it.
    let test = std::thread::current()
        .name()
        .map(|name| format!(" [{name}]"))
        .unwrap_or_default();
    let _ = writeln!(std::io::stderr(), "{line}{test}");
}
