//! Starting Lean for sorryfill's own use: finding the program, starting it behind an
//! in-process proxy ([`lean_process`]), and the in-process editor that talks to that proxy
//! ([`virtual_editor`]). The shell commands (`prove`, `audit`, `bench`), `doctor` and the
//! checking server of `serve` (`isolation`) all start Lean this one way.

pub mod lean_process;
pub mod virtual_editor;

use std::path::{Path, PathBuf};

/// Where Lean's toolchain manager, which provides `lake` and `lean`, is explained.
pub const ELAN_URL: &str = "https://github.com/leanprover/elan";

/// The executable `program` names: a path as given, or the first match in `path_var`.
pub fn find_program(program: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let as_path = Path::new(program);
    if as_path.components().count() > 1 {
        return is_executable(as_path).then(|| as_path.to_path_buf());
    }
    let path_var = path_var?;
    std::env::split_paths(path_var).find_map(|dir| {
        let candidate = dir.join(format!("{program}{}", std::env::consts::EXE_SUFFIX));
        is_executable(&candidate).then_some(candidate)
    })
}

fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        metadata.is_file()
    }
}

/// What to do when the program that starts Lean's server is not found: `from_lean_cmd` when
/// the user named it with `--lean-cmd`, otherwise it is `lake` (of `lake serve`).
pub fn missing_program_fix(program: &str, from_lean_cmd: bool) -> String {
    if from_lean_cmd {
        format!(
            "install {program} or give its full path in --lean-cmd; Lean itself comes with elan ({ELAN_URL})"
        )
    } else {
        missing_tool_fix("the Lean server (lake serve)")
    }
}

/// What to do when `lake` or `lean` is not on `PATH`; `what` is what it would start.
pub fn missing_tool_fix(what: &str) -> String {
    format!(
        "install elan ({ELAN_URL}), which provides lake and lean, and open a new shell; or pass --lean-cmd to start {what} another way"
    )
}
