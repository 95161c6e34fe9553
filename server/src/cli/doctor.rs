//! `sorryfill doctor`: what is installed and reachable, and how to fix what is not.
//!
//! Checks, in order: the Lean server command (`lake`, or the program of `--lean-cmd`), `lean`,
//! the project (toolchain, Mathlib revision), the configuration (effective values, secrets
//! masked), each model endpoint (one `GET {base_url}/models`, with latency), and the cache.
//!
//! Invariants: every check that is not `ok` carries a fix the user can act on; secrets never
//! appear in the output (API keys are only reported as set or not set, passwords and key-like
//! query parameters in URLs are masked); every external command and request has a timeout, so
//! doctor always finishes. Everything it looks at (PATH, environment, config files, project
//! root) comes from [`DoctorOptions`], so tests can make things missing or unreachable.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::report::ExitStatus;
use crate::config::{Config, LoadedConfig, ModelConfig};
use crate::launch::{ELAN_URL, find_program, missing_program_fix, missing_tool_fix};
use crate::store::{ProjectFingerprint, database_path};

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigLocation {
    /// The first existing file of these (normally [`Config::candidate_paths`]).
    Search(Vec<PathBuf>),
    /// A file given with `--config`; it must exist.
    Explicit(PathBuf),
}

/// Everything doctor looks at.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The Lake project (where `lean-toolchain` and `lake-manifest.json` are).
    pub project_root: PathBuf,
    /// The `PATH` searched for `lake` and `lean`.
    pub path_var: Option<OsString>,
    /// Environment variables, for API keys (only whether they are set is reported).
    pub env: HashMap<String, String>,
    /// The configuration to load.
    pub config: ConfigLocation,
    /// `--lean-cmd`, already split as a shell would; replaces `lake serve`.
    pub lean_cmd: Option<Vec<String>>,
    /// Longest wait for `lake --version` / `lean --version`.
    pub command_timeout: Duration,
    /// Longest wait for a model endpoint's answer.
    pub http_timeout: Duration,
}

impl DoctorOptions {
    /// Options from the process environment, for the project at `project_root`.
    pub fn from_process(
        project_root: &Path,
        config_file: Option<PathBuf>,
        lean_cmd: Option<Vec<String>>,
    ) -> Self {
        Self {
            project_root: project_root.to_path_buf(),
            path_var: std::env::var_os("PATH"),
            env: std::env::vars().collect(),
            config: match config_file {
                Some(file) => ConfigLocation::Explicit(file),
                None => ConfigLocation::Search(Config::candidate_paths(project_root)),
            },
            lean_cmd,
            command_timeout: Duration::from_secs(20),
            http_timeout: Duration::from_secs(10),
        }
    }
}

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Works.
    Ok,
    /// Works, but something is likely wrong or missing; does not fail doctor.
    Warning,
    /// Broken: sorryfill cannot work as configured. Doctor exits non-zero.
    Error,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`lake`, `lean`, `project`, `config`, `prover endpoint`, …).
    pub name: String,
    /// How it went.
    pub status: CheckStatus,
    /// What was found (a version, a path, a latency).
    pub detail: String,
    /// What to do about it, for warnings and errors.
    pub fix: Option<String>,
    /// Round-trip time, for endpoints and commands.
    pub latency_ms: Option<u64>,
}

impl Check {
    fn ok(name: &str, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
            latency_ms: None,
        }
    }

    fn problem(
        name: &str,
        status: CheckStatus,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
            latency_ms: None,
        }
    }

    fn with_latency(mut self, latency: Duration) -> Self {
        self.latency_ms = Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
        self
    }
}

/// The effective configuration, as shown by doctor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigView {
    /// The file it was read from, `None` for built-in defaults.
    pub source: Option<PathBuf>,
    /// One line: what runs.
    pub summary: String,
    /// Every effective value, secrets masked.
    pub values: serde_json::Value,
    /// The same values as TOML, for the text output.
    #[serde(skip)]
    pub toml: String,
}

/// What doctor found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    /// Each check, in the order run.
    pub checks: Vec<Check>,
    /// The effective configuration, when it could be loaded.
    pub config: Option<ConfigView>,
}

impl DoctorReport {
    /// 0 when nothing required is broken (warnings allowed), 1 otherwise.
    pub fn exit_status(&self) -> ExitStatus {
        if self
            .checks
            .iter()
            .any(|check| check.status == CheckStatus::Error)
        {
            ExitStatus::HolesLeft
        } else {
            ExitStatus::Success
        }
    }

    /// The check named `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }

    /// Pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self)
            .expect("the doctor report holds only strings, numbers and JSON values");
        json.push('\n');
        json
    }

    /// The text shown on a terminal: one line per check, its fix under it, then the
    /// effective configuration.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            let mark = match check.status {
                CheckStatus::Ok => "ok     ",
                CheckStatus::Warning => "warning",
                CheckStatus::Error => "error  ",
            };
            let _ = write!(out, "{mark} {}: {}", check.name, check.detail);
            if let Some(ms) = check.latency_ms {
                let _ = write!(out, " ({ms} ms)");
            }
            out.push('\n');
            if let Some(fix) = &check.fix {
                let _ = writeln!(out, "        fix: {fix}");
            }
        }
        if let Some(config) = &self.config {
            out.push('\n');
            match &config.source {
                Some(path) => {
                    let _ = writeln!(out, "configuration from {}:", path.display());
                }
                None => out.push_str("configuration (built-in defaults):\n"),
            }
            for line in config.toml.lines() {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        let errors = self
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Error)
            .count();
        let warnings = self
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Warning)
            .count();
        out.push('\n');
        if errors == 0 && warnings == 0 {
            out.push_str("everything sorryfill needs is in place\n");
        } else {
            let _ = writeln!(
                out,
                "{errors} error{}, {warnings} warning{}",
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" }
            );
        }
        out
    }
}

/// Runs every check.
pub async fn run(options: &DoctorOptions) -> DoctorReport {
    let mut checks = Vec::new();
    let fingerprint = ProjectFingerprint::read(&options.project_root);

    checks.push(check_server_command(options).await);
    let (lean_check, lean_version) = check_lean(options).await;
    checks.push(lean_check);
    checks.push(check_project(
        options,
        &fingerprint,
        lean_version.as_deref(),
    ));

    let (config_check, loaded) = load_config(options);
    checks.push(config_check);
    let mut config_view = None;
    if let Some(loaded) = loaded {
        let origin = loaded
            .source
            .as_ref()
            .map_or_else(|| "sorryfill.toml".to_owned(), |p| p.display().to_string());
        for (role, model) in [
            ("prover", &loaded.config.prover),
            ("decomposer", &loaded.config.decomposer),
        ] {
            if let Some(model) = model {
                checks.push(check_endpoint(options, role, model, &origin).await);
            }
        }
        let masked = masked(&loaded.config);
        config_view = Some(ConfigView {
            source: loaded.source.clone(),
            summary: masked.summary(),
            values: serde_json::to_value(&masked).unwrap_or(serde_json::Value::Null),
            toml: toml::to_string(&masked).unwrap_or_default(),
        });
    }
    checks.push(check_cache(&options.project_root));
    checks.push(check_isolation());
    DoctorReport {
        checks,
        config: config_view,
    }
}

async fn check_server_command(options: &DoctorOptions) -> Check {
    if let Some(command) = &options.lean_cmd {
        let name = "lean server command";
        let Some(program) = command.first() else {
            return Check::problem(
                name,
                CheckStatus::Error,
                "--lean-cmd is empty",
                "pass the command that starts Lean's server, e.g. --lean-cmd 'lake serve'",
            );
        };
        return match find_program(program, options.path_var.as_deref()) {
            Some(path) => Check::ok(
                name,
                format!("{} (found at {})", command.join(" "), path.display()),
            ),
            None => Check::problem(
                name,
                CheckStatus::Error,
                format!("{program} (from --lean-cmd) not found on PATH"),
                missing_program_fix(program, true),
            ),
        };
    }
    version_check(
        options,
        "lake",
        CheckStatus::Error,
        "the Lean server (lake serve)",
    )
    .await
    .0
}

async fn check_lean(options: &DoctorOptions) -> (Check, Option<String>) {
    // With --lean-cmd the user's command may bring its own Lean: a missing `lean` is suspicious
    // but not fatal.
    let severity = if options.lean_cmd.is_some() {
        CheckStatus::Warning
    } else {
        CheckStatus::Error
    };
    version_check(options, "lean", severity, "Lean").await
}

/// Finds `program` on PATH and runs `program --version` in the project root.
async fn version_check(
    options: &DoctorOptions,
    program: &str,
    missing: CheckStatus,
    what: &str,
) -> (Check, Option<String>) {
    let Some(path) = find_program(program, options.path_var.as_deref()) else {
        let check = Check::problem(
            program,
            missing,
            format!("{program} not found on PATH"),
            missing_tool_fix(what),
        );
        return (check, None);
    };
    let mut command = tokio::process::Command::new(&path);
    command
        .arg("--version")
        .current_dir(&options.project_root)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(path_var) = &options.path_var {
        command.env("PATH", path_var);
    }
    let started = Instant::now();
    let outcome = tokio::time::timeout(options.command_timeout, command.output()).await;
    let elapsed = started.elapsed();
    let check = match outcome {
        Err(_) => Check::problem(
            program,
            missing,
            format!(
                "`{program} --version` did not answer within {} s",
                options.command_timeout.as_secs()
            ),
            format!(
                "run `{program} --version` in {} once: elan may be downloading the project's toolchain",
                options.project_root.display()
            ),
        ),
        Ok(Err(error)) => Check::problem(
            program,
            missing,
            format!("cannot run {}: {error}", path.display()),
            format!(
                "check that {} is an executable, or reinstall elan ({ELAN_URL})",
                path.display()
            ),
        ),
        Ok(Ok(output)) if !output.status.success() => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().next().unwrap_or("").trim().to_owned();
            Check::problem(
                program,
                missing,
                format!("`{program} --version` failed ({}): {first}", output.status),
                format!(
                    "run `{program} --version` in {} to see the full error (often a toolchain elan cannot install)",
                    options.project_root.display()
                ),
            )
        }
        Ok(Ok(output)) => {
            let version = String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            let check = Check::ok(program, format!("{version} ({})", path.display()));
            return (check.with_latency(elapsed), Some(version));
        }
    };
    (check.with_latency(elapsed), None)
}

fn check_project(
    options: &DoctorOptions,
    fingerprint: &ProjectFingerprint,
    lean_version: Option<&str>,
) -> Check {
    let root = options.project_root.display();
    if fingerprint.toolchain.is_empty() {
        return Check::problem(
            "project",
            CheckStatus::Warning,
            format!("no lean-toolchain in {root}"),
            "run sorryfill in the root of a Lake project (the folder with lakefile.lean or lakefile.toml and lean-toolchain)",
        );
    }
    let mathlib = match &fingerprint.mathlib_rev {
        Some(rev) => format!("Mathlib {rev}"),
        None => "no Mathlib in lake-manifest.json".to_owned(),
    };
    let detail = format!("toolchain {}, {mathlib}", fingerprint.toolchain);
    // `leanprover/lean4:v4.21.0` pins Lean 4.21.0; `lean --version` prints
    // `Lean (version 4.21.0, …)`. elan makes them agree; a system Lean may not.
    let pinned = fingerprint
        .toolchain
        .rsplit(':')
        .next()
        .unwrap_or("")
        .trim_start_matches('v');
    if let Some(version) = lean_version
        && !pinned.is_empty()
        && pinned.chars().next().is_some_and(|c| c.is_ascii_digit())
        && !version.contains(&format!("version {pinned}"))
    {
        return Check::problem(
            "project",
            CheckStatus::Warning,
            format!("{detail}; but `lean --version` says {version}"),
            "use elan so the project's lean-toolchain picks the Lean version, or install the pinned version",
        );
    }
    Check::ok("project", detail)
}

fn load_config(options: &DoctorOptions) -> (Check, Option<LoadedConfig>) {
    let result = match &options.config {
        ConfigLocation::Explicit(path) if !path.is_file() => {
            return (
                Check::problem(
                    "config",
                    CheckStatus::Error,
                    format!("{} (given with --config) does not exist", path.display()),
                    "fix the path, or leave out --config to use the project's sorryfill.toml",
                ),
                None,
            );
        }
        ConfigLocation::Explicit(path) => Config::load_first(std::slice::from_ref(path)),
        ConfigLocation::Search(paths) => Config::load_first(paths),
    };
    match result {
        Ok(loaded) => {
            let check = match &loaded.source {
                Some(path) => Check::ok(
                    "config",
                    format!("{}: {}", path.display(), masked(&loaded.config).summary()),
                ),
                None => {
                    let looked = match &options.config {
                        ConfigLocation::Search(paths) => paths
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        ConfigLocation::Explicit(path) => path.display().to_string(),
                    };
                    Check::ok(
                        "config",
                        format!(
                            "no sorryfill.toml (looked at {looked}): {}",
                            masked(&loaded.config).summary()
                        ),
                    )
                }
            };
            (check, Some(loaded))
        }
        Err(error) => (
            Check::problem(
                "config",
                CheckStatus::Error,
                error.to_string(),
                "correct the key the message names (see the README for every setting)",
            ),
            None,
        ),
    }
}

async fn check_endpoint(
    options: &DoctorOptions,
    role: &str,
    model: &ModelConfig,
    origin: &str,
) -> Check {
    let name = format!("{role} endpoint");
    let shown_url = mask_url(&model.base_url);
    let key = match &model.api_key_env {
        Some(var) => match options.env.get(var) {
            Some(value) if !value.is_empty() => Some(value.clone()),
            _ => {
                return Check::problem(
                    &name,
                    CheckStatus::Error,
                    format!("{shown_url}: the API key variable {var} is not set"),
                    format!(
                        "export {var}=… in the shell (or the editor's environment) that starts sorryfill"
                    ),
                );
            }
        },
        None => None,
    };
    let url = format!("{}/models", model.base_url.trim_end_matches('/'));
    let client = match reqwest::Client::builder()
        .timeout(options.http_timeout)
        .connect_timeout(options.http_timeout)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            return Check::problem(
                &name,
                CheckStatus::Error,
                format!("cannot set up an HTTP client: {}", error.without_url()),
                "this is a bug in sorryfill; please report it",
            );
        }
    };
    let mut request = client.get(&url);
    if let Some(key) = &key {
        request = request.bearer_auth(key);
    }
    let started = Instant::now();
    let response = request.send().await;
    let elapsed = started.elapsed();
    let fix_url = format!("start the model server, or correct base_url in [{role}] of {origin}");
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            let what = if error.is_timeout() {
                format!(
                    "{shown_url}: no answer within {} s",
                    options.http_timeout.as_secs()
                )
            } else if error.is_connect() {
                format!("{shown_url}: cannot connect ({})", root_cause(&error))
            } else {
                format!("{shown_url}: request failed ({})", root_cause(&error))
            };
            return Check::problem(&name, CheckStatus::Error, what, fix_url).with_latency(elapsed);
        }
    };
    let status = response.status();
    let check = if status == reqwest::StatusCode::UNAUTHORIZED
        || status == reqwest::StatusCode::FORBIDDEN
    {
        let fix = match &model.api_key_env {
            Some(var) => format!("check the key in {var}"),
            None => format!(
                "set api_key_env in [{role}] of {origin} to the NAME of the variable holding the key"
            ),
        };
        Check::problem(
            &name,
            CheckStatus::Error,
            format!("{shown_url}: the server refused the request ({status})"),
            fix,
        )
    } else if status == reqwest::StatusCode::NOT_FOUND {
        Check::problem(
            &name,
            CheckStatus::Warning,
            format!("{shown_url}: reachable, but GET /models answered 404"),
            format!(
                "OpenAI-compatible servers usually want base_url ending in /v1 (e.g. http://127.0.0.1:8000/v1); check [{role}] of {origin}"
            ),
        )
    } else if !status.is_success() {
        Check::problem(
            &name,
            CheckStatus::Error,
            format!("{shown_url}: the server answered {status}"),
            fix_url,
        )
    } else {
        let listed = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|body| listed_models(&body));
        match listed {
            Some(models) if !models.iter().any(|m| m == &model.model) => Check::problem(
                &name,
                CheckStatus::Warning,
                format!(
                    "{shown_url}: reachable, but does not list model {:?} (it lists: {})",
                    model.model,
                    models.join(", ")
                ),
                format!("set model in [{role}] of {origin} to one of the listed names"),
            ),
            Some(_) => Check::ok(
                &name,
                format!("{shown_url}: reachable, serves {}", model.model),
            ),
            None => Check::ok(&name, format!("{shown_url}: reachable")),
        }
    };
    check.with_latency(elapsed)
}

/// The `id`s of an OpenAI-style `{"data": [{"id": …}]}` model list.
fn listed_models(body: &serde_json::Value) -> Option<Vec<String>> {
    let data = body.get("data")?.as_array()?;
    Some(
        data.iter()
            .filter_map(|entry| entry.get("id")?.as_str().map(str::to_owned))
            .collect(),
    )
}

/// The innermost cause of an HTTP error, without the URL (which may hold a secret).
fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// `url` with any password and key-like query values replaced by `****`.
pub fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("****"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !pairs.is_empty() {
        let secret = |key: &str| {
            let key = key.to_ascii_lowercase();
            ["key", "token", "secret", "password", "sig", "auth"]
                .iter()
                .any(|word| key.contains(word))
        };
        parsed.query_pairs_mut().clear().extend_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.as_str(), if secret(k) { "****" } else { v.as_str() })),
        );
    }
    parsed.to_string()
}

/// The configuration with every URL masked (keys are never in it, only variable names).
fn masked(config: &Config) -> Config {
    let mut config = config.clone();
    for model in [&mut config.prover, &mut config.decomposer]
        .into_iter()
        .flatten()
    {
        model.base_url = mask_url(&model.base_url);
    }
    config
}

/// Whether the checking Lean server (of `serve`, `prove` and `bench`) runs confined (see
/// `crate::isolation`).
fn check_isolation() -> Check {
    let support = crate::isolation::support();
    if support.is_confined() {
        Check::ok("isolation", support.describe())
    } else {
        Check::problem(
            "isolation",
            CheckStatus::Warning,
            support.describe(),
            "confinement needs Linux 5.13+ with Landlock enabled; checks still run on a Lean \
             server of their own",
        )
    }
}

fn check_cache(project_root: &Path) -> Check {
    let path = database_path(project_root);
    // The write-ahead log and shared-memory files are part of the database's size.
    let size: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut name = path.clone().into_os_string();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).ok()
        })
        .map(|metadata| metadata.len())
        .sum();
    if path.exists() {
        Check::ok(
            "cache",
            format!("{} ({})", path.display(), human_size(size)),
        )
    } else {
        Check::ok("cache", format!("{} (not created yet)", path.display()))
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_passwords_and_key_like_query_values() {
        assert_eq!(
            mask_url("https://user:hunter2@example.com/v1?api_key=sk-123&region=eu"),
            "https://user:****@example.com/v1?api_key=****&region=eu"
        );
        assert_eq!(
            mask_url("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
    }

    #[test]
    fn model_lists_are_read_from_openai_shape() {
        let body = serde_json::json!({"object": "list", "data": [{"id": "a"}, {"id": "b"}]});
        assert_eq!(
            listed_models(&body),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(listed_models(&serde_json::json!({"models": []})), None);
    }

    #[test]
    fn sizes_are_human_readable() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
