//! What several benches share: finding the `lean-sim` binary.

use std::path::PathBuf;

/// The `lean-sim` binary next to this bench's profile (`cargo build -p lean-sim`), else the
/// debug one, or `LEAN_SIM`. `None` when it is not built: the bench then prints one
/// `skipped:` line.
pub fn lean_sim() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LEAN_SIM") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/<bench>-<hash> -> target/<profile>/lean-sim, else target/debug.
    let profile_dir = exe.parent()?.parent()?;
    let name = format!("lean-sim{}", std::env::consts::EXE_SUFFIX);
    [
        profile_dir.join(&name),
        profile_dir.parent()?.join("debug").join(&name),
    ]
    .into_iter()
    .find(|path| path.exists())
}
