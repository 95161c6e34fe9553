//! Isolation of candidate checks from the user's session and from the machine.
//!
//! Two layers (the trust model is in `docs/architecture.md`):
//! - **A Lean server of their own.** `serve`, `prove` and `bench` check candidates on a second
//!   Lean server started with the same command, lazily at the first check ([`CheckingServer`],
//!   [`IsolatedChecker`]); the user's `lake serve` never sees a shadow document.
//! - **Confinement** (Linux, Landlock). That checking server runs under [`Confinement`]: it may
//!   write only below `<project>/.lake/sorryfill/` (its `TMPDIR` is there too), execute only the
//!   Lean toolchain (the command's own folder, elan's toolchains, the ELF loader, and `git`, which
//!   Lake may call), open no TCP connection and bind no TCP port (Landlock ABI 4+), and signal
//!   no process outside itself (ABI 6+). Reading stays allowed: Lean reads the toolchain, the
//!   project and its packages.
//!
//! Landlock restricts a process and all its descendants, and only a process itself can apply
//! it, before `exec`. Since the workspace forbids `unsafe` (no `pre_exec`), the checking server
//! is started as `sorryfill confined-exec --write … --exec … -- <command>`: that child applies
//! the ruleset to itself ([`exec_confined`]) and then becomes the Lean command.
//!
//! Invariants: where confinement is unavailable (an older kernel, Landlock disabled, macOS,
//! Windows) [`support`] says why, the log and `doctor` say it once, and the static gate is the
//! only guard, as before. Where it is available, a checking server that cannot be confined
//! never starts (fail closed). `SORRYFILL_CONFINE=off` turns confinement off for a user whose
//! toolchain needs more than the rules allow; the separate server stays.

mod checking;
#[cfg(target_os = "linux")]
mod landlock_rules;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use checking::{CheckingServer, IsolatedChecker, MAX_RESTARTS, RESTART_WINDOW};

/// The folder below the project that a confined checking server may write to.
pub const WRITABLE_DIR: &str = ".lake/sorryfill";

/// The hidden subcommand that applies a [`Confinement`] and executes a command.
pub const CONFINE_SUBCOMMAND: &str = "confined-exec";

/// The environment variable that turns confinement off (`off`).
pub const CONFINE_ENV: &str = "SORRYFILL_CONFINE";

/// What a confined command may do besides reading.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Confinement {
    /// The one folder it may create, write, rename and remove files below.
    #[arg(long = "write")]
    pub writable: PathBuf,
    /// Executables, or folders of executables, it may run.
    #[arg(long = "exec")]
    pub executables: Vec<PathBuf>,
}

impl Confinement {
    /// The confinement of a checking server for `project_root` started as `program`: writes below
    /// `<project_root>/.lake/sorryfill/`, and the executables of the Lean toolchain.
    pub fn for_checking_server(project_root: &Path, program: &str) -> Confinement {
        let path_var = std::env::var_os("PATH");
        let mut executables = Vec::new();
        let mut add = |path: PathBuf| {
            if !executables.contains(&path) {
                executables.push(path);
            }
        };
        let found = crate::launch::find_program(program, path_var.as_deref())
            .map(|found| std::path::absolute(project_root.join(found)).unwrap_or_default());
        if let Some(found) = &found {
            // The folder as found (elan's proxies) and as resolved (the toolchain's `bin`, where
            // `lean`, `lake` and the bundled C compiler live).
            for path in [Some(found.clone()), std::fs::canonicalize(found).ok()]
                .into_iter()
                .flatten()
            {
                if let Some(folder) = path.parent() {
                    add(folder.to_path_buf());
                }
            }
            // An elan proxy runs whichever toolchain the project pins.
            if let Some(elan_home) = found.parent().and_then(Path::parent)
                && found.parent().is_some_and(|bin| bin.ends_with("bin"))
                && elan_home.join("toolchains").is_dir()
            {
                add(elan_home.join("toolchains"));
            }
        }
        if let Some(elan_home) = std::env::var_os("ELAN_HOME").map(PathBuf::from) {
            add(elan_home.join("bin"));
            add(elan_home.join("toolchains"));
        }
        // Lake may run `git` to look at a package; it is a file, not its folder.
        if let Some(git) = crate::launch::find_program("git", path_var.as_deref()) {
            add(std::fs::canonicalize(&git).unwrap_or(git));
        }
        for loader in elf_loaders() {
            add(loader);
        }
        Confinement {
            writable: project_root.join(WRITABLE_DIR),
            executables,
        }
    }

    /// The arguments after `sorryfill` that run `command_line` under this confinement.
    pub fn wrapper_arguments(&self, command_line: &[String]) -> Vec<OsString> {
        let mut arguments = vec![
            OsString::from(CONFINE_SUBCOMMAND),
            OsString::from("--write"),
            self.writable.clone().into_os_string(),
        ];
        for executable in &self.executables {
            arguments.push(OsString::from("--exec"));
            arguments.push(executable.clone().into_os_string());
        }
        arguments.push(OsString::from("--"));
        arguments.extend(command_line.iter().map(OsString::from));
        arguments
    }
}

/// The dynamic loaders an executable of the toolchain needs (`PT_INTERP`): the kernel opens the
/// loader for execution too, so it must be allowed by name (and only it, not its folder).
fn elf_loaders() -> Vec<PathBuf> {
    let folders = [
        "/lib64",
        "/lib",
        "/usr/lib64",
        "/usr/lib",
        "/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
    ];
    let mut loaders = Vec::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("ld-linux") || name.starts_with("ld-musl") {
                loaders.push(entry.path());
            }
        }
    }
    loaders
}

/// What this machine can enforce on a checking server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// Landlock is enforced: files and executables always, TCP and signals where the kernel's
    /// ABI has them.
    Landlock {
        /// The Landlock ABI the rules use.
        abi: i32,
        /// TCP connect and bind are denied (ABI 4+).
        network: bool,
        /// Signals and abstract Unix sockets outside the server are denied (ABI 6+).
        scoped: bool,
    },
    /// No confinement: why, in words.
    Unavailable(String),
    /// The user turned it off with `SORRYFILL_CONFINE=off`.
    TurnedOff,
}

impl Support {
    /// One line for the log and `doctor`.
    pub fn describe(&self) -> String {
        match self {
            Support::Landlock {
                abi,
                network,
                scoped,
            } => {
                let mut parts = vec![
                    "writes only below .lake/sorryfill/",
                    "runs only the Lean toolchain",
                ];
                if *network {
                    parts.push("no TCP connections");
                }
                if *scoped {
                    parts.push("no signals to other processes");
                }
                let mut line = format!("Landlock ABI {abi}: {}", parts.join(", "));
                if !*network {
                    line.push_str(
                        " (this kernel cannot deny network access: Landlock ABI 4+ needed)",
                    );
                }
                line
            }
            Support::Unavailable(why) => {
                format!("unconfined: {why}; candidates are guarded by the static gate only")
            }
            Support::TurnedOff => format!(
                "unconfined: {CONFINE_ENV}=off; candidates are guarded by the static gate only"
            ),
        }
    }

    /// Whether a checking server runs confined.
    pub fn is_confined(&self) -> bool {
        matches!(self, Support::Landlock { .. })
    }
}

/// What this machine can enforce, probed once per process (a throwaway thread applies the same
/// rules to itself; Landlock restricts only the calling thread).
pub fn support() -> Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    if std::env::var(CONFINE_ENV).is_ok_and(|value| value.eq_ignore_ascii_case("off")) {
        return Support::TurnedOff;
    }
    SUPPORT.get_or_init(probe).clone()
}

#[cfg(target_os = "linux")]
fn probe() -> Support {
    landlock_rules::probe()
}

#[cfg(not(target_os = "linux"))]
fn probe() -> Support {
    Support::Unavailable(format!(
        "confinement is implemented with Linux's Landlock, and this is {}",
        std::env::consts::OS
    ))
}

/// Why a command could not be run confined.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// The command line is empty.
    #[error("no command to run")]
    NoCommand,
    /// The writable folder could not be made.
    #[error("could not create {path}: {source}")]
    Writable {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The kernel refused or lacks the rules.
    #[error("could not confine the Lean server: {0}")]
    Rules(String),
    /// `exec` failed.
    #[error("could not run {program}: {source}")]
    Exec {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The arguments of `sorryfill confined-exec`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfinedExecArgs {
    /// What the command may do.
    #[command(flatten)]
    pub confinement: Confinement,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
}

/// Runs in the `confined-exec` child: applies `args.confinement` to this process, points
/// `TMPDIR` into the writable folder, and replaces this process with the command. Returns only
/// on failure, and then nothing was run (fail closed).
pub fn exec_confined(args: ConfinedExecArgs) -> ConfineError {
    let Some((program, arguments)) = args.command.split_first() else {
        return ConfineError::NoCommand;
    };
    let temp = args.confinement.writable.join("tmp");
    if let Err(source) = std::fs::create_dir_all(&temp) {
        return ConfineError::Writable { path: temp, source };
    }
    let mut command = std::process::Command::new(program);
    command.args(arguments).env("TMPDIR", &temp);
    // Whoever asked for this wrapper wants the rules: without them nothing runs.
    if let Err(error) = apply(&args.confinement) {
        return error;
    }
    send_stderr_to_log(&args.confinement.writable);
    exec(command, program)
}

/// The checking server's stderr goes to `<writable>/checking-server.log`: the editor shows every
/// stderr line of `serve` (the user's Lean's included), and a second server's lines are not the
/// user's business. Best effort: without the log, stderr stays as it was.
#[cfg(target_os = "linux")]
fn send_stderr_to_log(writable: &Path) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(writable.join("checking-server.log"));
    if let Ok(log) = log {
        let _ = rustix::stdio::dup2_stderr(&log);
    }
}

#[cfg(not(target_os = "linux"))]
fn send_stderr_to_log(_: &Path) {}

#[cfg(target_os = "linux")]
fn apply(confinement: &Confinement) -> Result<(), ConfineError> {
    landlock_rules::restrict_self(confinement).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn apply(_: &Confinement) -> Result<(), ConfineError> {
    Err(ConfineError::Rules(format!(
        "confinement is implemented with Linux's Landlock, and this is {}",
        std::env::consts::OS
    )))
}

#[cfg(unix)]
fn exec(mut command: std::process::Command, program: &OsString) -> ConfineError {
    use std::os::unix::process::CommandExt as _;
    let source = command.exec();
    ConfineError::Exec {
        program: program.to_string_lossy().into_owned(),
        source,
    }
}

#[cfg(not(unix))]
fn exec(_: std::process::Command, program: &OsString) -> ConfineError {
    // Unreachable in practice: confinement exists only on Linux, and `apply` fails elsewhere.
    ConfineError::Exec {
        program: program.to_string_lossy().into_owned(),
        source: std::io::Error::new(std::io::ErrorKind::Unsupported, "no exec on this system"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        #[command(name = "confined-exec")]
        ConfinedExec(ConfinedExecArgs),
    }

    #[test]
    fn the_wrapper_arguments_parse_back_to_the_same_confinement_and_command() {
        let confinement = Confinement {
            writable: PathBuf::from("/p/.lake/sorryfill"),
            executables: vec![PathBuf::from("/t/bin"), PathBuf::from("/usr/bin/git")],
        };
        let command = vec![
            "lake".to_owned(),
            "serve".to_owned(),
            "--".to_owned(),
            "-Dx=1".to_owned(),
        ];
        let arguments = confinement.wrapper_arguments(&command);
        let parsed =
            Cli::try_parse_from(std::iter::once(OsString::from("sorryfill")).chain(arguments))
                .expect("the wrapper's own arguments parse");
        let Sub::ConfinedExec(args) = parsed.command;
        assert_eq!(args.confinement, confinement);
        assert_eq!(
            args.command,
            command.iter().map(OsString::from).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_checking_server_writes_below_lake_sorryfill_and_runs_its_own_folder() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let bin = dir.path().join("toolchain/bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        let lake = bin.join("lake");
        std::fs::write(&lake, "").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&lake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let confinement = Confinement::for_checking_server(dir.path(), &lake.display().to_string());
        assert_eq!(confinement.writable, dir.path().join(".lake/sorryfill"));
        assert!(confinement.executables.contains(&bin), "{confinement:?}");
        // The project itself is not executable: a file written there could not be run.
        assert!(
            !confinement
                .executables
                .iter()
                .any(|path| path == dir.path())
        );
        assert!(!confinement.executables.contains(&confinement.writable));
    }
}
