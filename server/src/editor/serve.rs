//! `sorryfill serve`: configuration, pipeline, editor session and proxy wired together.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use super::{EditorState, HoleActions, Session};
use crate::config::Config;
use crate::pipeline::{
    CheckMode, Checker, HoleBudget, NoDecomposer, NoProver, NoStore, Pipeline, Portfolio,
    RejectKind, Target, Verdict, WorkspaceLimits,
};
use crate::router::{Proxy, ProxyConfig};
use crate::transport::stdio;

/// What `sorryfill serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The Lean server command and its arguments (e.g. `lake serve`).
    pub server_command: Vec<String>,
    /// The project whose `sorryfill.toml` applies.
    pub project_root: PathBuf,
    /// Settings of the proxy core.
    pub proxy: ProxyConfig,
}

/// The checker of a build without Lean verification: it refuses every candidate, so
/// nothing unverified can ever be offered.
#[derive(Debug, Clone, Copy, Default)]
pub struct UncheckedChecker;

impl Checker for UncheckedChecker {
    async fn check(&self, _target: &Target, _proof: &str, _mode: CheckMode) -> Verdict {
        Verdict::rejected(RejectKind::Gate, "no Lean checker is wired into this build")
    }
}

/// The per-hole budget and workspace limits a configuration asks for.
pub fn budgets(config: &Config) -> (HoleBudget, WorkspaceLimits) {
    let budget = HoleBudget {
        use_models: !config.is_model_free(),
        samples: config.budget.samples_per_hole as usize,
        decomposition_depth: config.budget.decomposition_depth as usize,
        wall_time: Duration::from_secs(config.budget.wall_time_per_hole_s.max(1)),
        ..HoleBudget::default()
    };
    let limits = WorkspaceLimits {
        concurrent_holes: config.budget.concurrent_holes,
        concurrent_model_requests: config.budget.concurrent_model_requests,
    };
    (budget, limits)
}

/// Runs the proxy with the editor session on stdin/stdout in front of the Lean server, and
/// returns Lean's exit status.
pub async fn run_serve(options: ServeOptions) -> anyhow::Result<ExitStatus> {
    let loaded = Config::load(&options.project_root).context("could not load sorryfill.toml")?;
    let config = loaded.config;
    match &loaded.source {
        Some(path) => tracing::info!(path = %path.display(), "configuration loaded"),
        None => tracing::info!("no sorryfill.toml: defaults"),
    }
    if config.is_model_free() {
        tracing::info!("model-free: {}", config.summary());
    } else {
        tracing::info!("{}", config.summary());
    }
    let (program, arguments) = options
        .server_command
        .split_first()
        .context("the Lean server command is empty")?;
    let mut server = tokio::process::Command::new(program);
    server.args(arguments);

    let mut proxy = Proxy::new(options.proxy);
    let lean = proxy.lean_handle();
    let editor = proxy.editor_handle();
    let documents = proxy.observe_documents();
    let state = EditorState::new();
    proxy.set_code_action_provider(HoleActions::new(state.clone()));
    // The checker waits on this while the user's own documents elaborate.
    let (busy, _busy_for_checker) = watch::channel(false);
    let (budget, limits) = budgets(&config);
    let pipeline = Arc::new(Pipeline::new(
        UncheckedChecker,
        NoProver,
        NoDecomposer,
        NoStore,
        Portfolio::new(config.tactics.list.clone()),
        budget,
        limits,
    ));
    let session =
        Session::new(pipeline, lean, state, busy).with_editor(editor, config.editor.clone());
    let session = tokio::spawn(session.run(documents));
    let status = proxy.serve(stdio::stdin(), stdio::stdout(), server).await?;
    session.abort();
    Ok(status)
}
