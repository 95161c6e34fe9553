//! Command-line flags of `lean-sim`: timing, Lean-version switches and fault injection.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// A simulated Lean 4 language server (`lake serve`) speaking LSP on stdio.
///
/// Positional arguments and `-D` options are accepted so that the simulator can be started with
/// the same command line as `lean --server` or `lake serve -- <args>`.
#[derive(Debug, Clone, Parser)]
#[command(name = "lean-sim", about, disable_version_flag = true)]
pub struct Config {
    /// Oracle file (TOML) with the proofs Lean accepts; see README.md.
    #[arg(long, env = "LEAN_SIM_ORACLE")]
    pub oracle: Option<PathBuf>,
    /// Accept every proof that contains no `sorry` (as if the oracle listed it).
    #[arg(long)]
    pub accept_all: bool,
    /// Lean version whose message texts to reproduce (e.g. 4.23.0 for `declaration uses 'sorry'`).
    #[arg(long, env = "LEAN_SIM_LEAN_VERSION", default_value = "4.34.0")]
    pub lean_version: String,
    /// Spelling of the sorry warning, overriding the one of `--lean-version`: `quote`
    /// (`declaration uses 'sorry'`, ≤ 4.23), `backtick` (``declaration uses `sorry` ``, 4.24+) or
    /// `named` (``declaration `NAME` uses `sorry` ``, Lean's newest test suite).
    #[arg(long, value_enum)]
    pub sorry_style: Option<SorryStyle>,
    /// Milliseconds a worker spends loading the imports of its document (once per worker).
    #[arg(long, default_value_t = 0)]
    pub import_ms: u64,
    /// Milliseconds spent elaborating each declaration.
    #[arg(long, env = "LEAN_SIM_DECL_MS", default_value_t = 0)]
    pub decl_ms: u64,
    /// When Lean's reporter first looks at a version (`server.reportDelayMs`, Lean's default
    /// 200): a version finished by then says done before its one publish.
    #[arg(long, default_value_t = 200)]
    pub report_delay_ms: u64,
    /// Append a line per header load and per elaborated declaration to this file. `{pid}` in
    /// the path is replaced by the process id, so that servers started with one command line
    /// (sorryfill's user and checking servers) keep separate logs. Missing folders are created.
    #[arg(long, env = "LEAN_SIM_LOG")]
    pub log: Option<PathBuf>,
    /// Fault (isolation tests): at every header load, try to create a file `escape-<pid>` in
    /// this folder, to run `/bin/true`, and (with `--fault-escape-connect`) to open a TCP
    /// connection, and log each outcome as a `fault-escape …` line. Real Lean code can do all
    /// three (`IO.FS.writeFile`, `IO.Process.spawn`, sockets) when something makes it run.
    #[arg(long)]
    pub fault_escape_dir: Option<PathBuf>,
    /// Fault (isolation tests): the `HOST:PORT` that `--fault-escape-dir` tries to connect to.
    #[arg(long, requires = "fault_escape_dir")]
    pub fault_escape_connect: Option<String>,
    /// Fault: the whole server exits with code 1 after reading this many client messages.
    #[arg(long)]
    pub crash_after: Option<u64>,
    /// Fault: the whole server exits with code 1 when a document whose URI contains this text
    /// is opened (as the kernel's out-of-memory killer ends a server in the middle of a check).
    #[arg(long)]
    pub crash_on_open: Option<String>,
    /// Fault: a worker whose document contains this text crashes (-32902, fileProgress kind 2).
    #[arg(long)]
    pub crash_marker: Option<String>,
    /// Fault: a worker stops making progress at a command containing this text until the next edit.
    #[arg(long)]
    pub hang_marker: Option<String>,
    /// Fault: delay every message the server writes by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub slow_ms: u64,
    /// Fault: write a line of noise to stderr for every message received.
    #[arg(long)]
    pub stderr_noise: bool,
    /// Fault: after this many written messages, write one malformed frame (then carry on).
    #[arg(long)]
    pub malformed_frame_after: Option<u64>,
    /// Send `workspace/semanticTokens/refresh` requests (numeric ids from 0) while processing.
    #[arg(long)]
    pub refresh_requests: bool,
    /// Say a version is done twice (`processing: []`), as a real Lean 4 server's wire capture
    /// shows (protocol §4.2, §15).
    #[arg(long)]
    pub done_twice: bool,
    /// The project's imports are out of date: a worker allowed to build (`dependencyBuildMode`
    /// `always`, absent, or `once` at first start) shows Lake's progress lines and then
    /// works; one that may not gets Lean's "Imports are out of date" header error.
    #[arg(long)]
    pub imports_out_of_date: bool,
    /// Model the v4.2x releases that refuse `#print axioms` in a file with a `module` header.
    #[arg(long)]
    pub print_axioms_refused_in_module: bool,
    /// Lean `-D` options; `-Dserver.reportDelayMs=N` overrides `--report-delay-ms`.
    #[arg(short = 'D', value_name = "OPTION=VALUE")]
    pub defines: Vec<String>,
    /// Accepted for command-line compatibility with `lean --server` / `lake serve`; ignored.
    #[arg(long)]
    pub server: bool,
    /// Print the version and exit. Started through a link named `lake` or `lean` (as elan's
    /// proxies are), it answers as that tool does, which editors check before starting a server.
    #[arg(long)]
    pub version: bool,
    /// Ignored positional arguments (`serve`, the project folder, …).
    #[arg(allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// How the sorry warning is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SorryStyle {
    /// `declaration uses 'sorry'`.
    Quote,
    /// ``declaration uses `sorry` ``.
    Backtick,
    /// ``declaration `NAME` uses `sorry` ``.
    Named,
}

/// The Lean message spellings that changed between releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// The sorry warning's spelling.
    pub sorry_style: SorryStyle,
    /// Newer releases: ``Unknown identifier `x` `` with code `lean.unknownIdentifier`.
    pub capitalised_unknown_identifier: bool,
    /// v4.31+: `isIncremental` publishes when the client asks for them.
    pub incremental_diagnostics: bool,
    /// v4.19+: silent "Goals accomplished!" diagnostics when the client asks for them.
    pub silent_diagnostics: bool,
    /// v4.25+: "Try this" messages read `Try this:\n  [apply] <tactic>`.
    pub apply_style_try_this: bool,
}

impl Config {
    /// The report delay after applying `-Dserver.reportDelayMs`.
    pub fn effective_report_delay_ms(&self) -> u64 {
        // After `--`, clap leaves `-D` options among the positional arguments.
        let positional_defines = self.rest.iter().filter_map(|arg| arg.strip_prefix("-D"));
        self.defines
            .iter()
            .map(String::as_str)
            .chain(positional_defines)
            .filter_map(|define| define.strip_prefix("server.reportDelayMs="))
            .filter_map(|value| value.parse().ok())
            .next_back()
            .unwrap_or(self.report_delay_ms)
    }

    /// The message dialect of the configured Lean version (unparsable versions mean "newest").
    pub fn dialect(&self) -> Dialect {
        let minor = parse_minor(&self.lean_version).unwrap_or(u32::MAX);
        Dialect {
            sorry_style: self.sorry_style.unwrap_or(if minor >= 24 {
                SorryStyle::Backtick
            } else {
                SorryStyle::Quote
            }),
            capitalised_unknown_identifier: minor >= 21,
            incremental_diagnostics: minor >= 31,
            silent_diagnostics: minor >= 19,
            apply_style_try_this: minor >= 25,
        }
    }
}

/// The minor number of `4.M.P`, `v4.M.P` or `4.M.P-rc1`.
fn parse_minor(version: &str) -> Option<u32> {
    let version = version.trim().trim_start_matches('v');
    let mut parts = version.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor_text = parts.next()?;
    let digits: String = minor_text
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let minor: u32 = digits.parse().ok()?;
    if major > 4 {
        Some(u32::MAX)
    } else {
        Some(minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut all = vec!["lean-sim"];
        all.extend_from_slice(args);
        Config::try_parse_from(all).expect("test arguments are valid")
    }

    #[test]
    fn version_switches_the_sorry_spelling() {
        let style = |args: &[&str]| config(args).dialect().sorry_style;
        assert_eq!(style(&["--lean-version", "4.23.0"]), SorryStyle::Quote);
        assert_eq!(
            style(&["--lean-version", "v4.24.0-rc1"]),
            SorryStyle::Backtick
        );
        assert_eq!(style(&[]), SorryStyle::Backtick);
        assert_eq!(style(&["--sorry-style", "named"]), SorryStyle::Named);
    }

    #[test]
    fn accepts_a_lake_serve_command_line() {
        let parsed = config(&["serve", "--", "-Dserver.reportDelayMs=3", "/project"]);
        assert_eq!(parsed.effective_report_delay_ms(), 3);
        let parsed = config(&["-Dserver.reportDelayMs=7", "--server", "/project"]);
        assert_eq!(parsed.effective_report_delay_ms(), 7);
    }
}
