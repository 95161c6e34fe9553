//! The `--fault-escape-dir` fault: what Lean code could do to the machine if something made it
//! run (a file write, a process, a TCP connection), tried for real so that sorryfill's
//! isolation tests can see whether the checking server's confinement stops it.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `path` with `{pid}` replaced by this process's id.
pub fn with_pid(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    if text.contains("{pid}") {
        PathBuf::from(text.replace("{pid}", &std::process::id().to_string()))
    } else {
        path.to_path_buf()
    }
}

/// Tries the three escapes and returns the `fault-escape …` log line: each outcome is `ok` or
/// `denied:<error>`.
pub fn attempt(dir: &Path, connect: Option<&str>) -> String {
    let pid = std::process::id();
    let write = outcome(std::fs::write(
        dir.join(format!("escape-{pid}")),
        b"escaped\n",
    ));
    let exec = outcome(
        std::process::Command::new("/bin/true")
            .status()
            .and_then(|status| {
                if status.success() {
                    Ok(())
                } else {
                    Err(std::io::Error::other(format!("exited with {status}")))
                }
            }),
    );
    let mut line = format!("fault-escape pid={pid} write={write} exec={exec}");
    if let Some(address) = connect {
        let connected = address
            .parse()
            .map_err(std::io::Error::other)
            .and_then(|address| {
                std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))
            })
            .map(drop);
        line.push_str(&format!(" connect={}", outcome(connected)));
    }
    line
}

fn outcome(result: std::io::Result<()>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(error) => format!("denied:{}", error.kind()),
    }
}
