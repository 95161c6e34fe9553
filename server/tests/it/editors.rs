//! The editor glue in `editors/`: the VS Code `lake`/`lean` wrapper, run as the extension
//! would run it, with stand-ins for the real `lake` and for `sorryfill` that record their argv.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::fresh_dir;

fn wrapper_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/vscode/bin")
}

/// A script at `dir/name` that appends `name` and its arguments to `log`.
fn recording_tool(dir: &Path, name: &str, log: &Path) {
    let script = format!("#!/bin/sh\necho \"{name} $*\" >> '{}'\n", log.display());
    let path = dir.join(name);
    std::fs::write(&path, script).expect("write the stand-in");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn run_wrapper(tool: &str, args: &[&str], fake: &Path) -> std::process::Output {
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        wrapper_dir().display(),
        fake.display()
    );
    Command::new(wrapper_dir().join(tool))
        .args(args)
        .env("PATH", path)
        .env("HOME", fake)
        .env_remove("SORRYFILL")
        .output()
        .expect("the wrapper runs")
}

#[test]
fn lake_serve_runs_behind_sorryfill_and_other_lake_commands_run_unchanged() {
    let dir = fresh_dir();
    let fake = dir.path().join("bin");
    std::fs::create_dir(&fake).expect("mkdir");
    let log = dir.path().join("calls.log");
    recording_tool(&fake, "lake", &log);
    recording_tool(&fake, "sorryfill", &log);
    recording_tool(&fake, "lean", &log);

    for args in [
        vec!["serve", "--", "/project"],
        vec!["+leanprover/lean4:v4.22.0", "serve", "--", "/project"],
        vec!["--version"],
        vec!["build", "Foo"],
    ] {
        let output = run_wrapper("lake", &args, &fake);
        assert!(output.status.success(), "{args:?}");
        assert!(output.stderr.is_empty(), "the wrapper is silent on stderr");
    }
    let output = run_wrapper("lean", &["--server", "/project"], &fake);
    assert!(output.status.success());

    let real_lake = std::fs::canonicalize(fake.join("lake")).expect("path");
    let real_lean = std::fs::canonicalize(fake.join("lean")).expect("path");
    let calls = std::fs::read_to_string(&log).expect("the stand-ins were called");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(
        calls,
        [
            format!(
                "sorryfill serve -- {} serve -- /project",
                real_lake.display()
            ),
            format!(
                "sorryfill serve -- {} +leanprover/lean4:v4.22.0 serve -- /project",
                real_lake.display()
            ),
            "lake --version".to_owned(),
            "lake build Foo".to_owned(),
            format!(
                "sorryfill serve -- {} --server /project",
                real_lean.display()
            ),
        ]
    );
}

#[test]
fn without_a_real_lake_the_wrapper_says_so_and_fails() {
    let dir = fresh_dir();
    let empty = dir.path().join("bin");
    std::fs::create_dir(&empty).expect("mkdir");
    let output = run_wrapper("lake", &["serve"], &empty);
    assert_eq!(output.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no real lake"));
}
