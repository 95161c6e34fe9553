//! What several benches share: finding the `lean-sim` binary, reading an LSP frame, a median time.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The `lean-sim` binary next to this bench's profile (`cargo build -p lean-sim`), else the
/// debug one, or `LEAN_SIM`. `None` when it is not built: the bench then prints one
/// `skipped:` line.
#[allow(dead_code)]
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

/// Reads one `Content-Length` frame's body; `None` at the end of input or on a broken frame.
#[allow(dead_code)]
pub fn read_frame(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// Median time of `runs` calls of `f`.
#[allow(dead_code)]
pub fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}
