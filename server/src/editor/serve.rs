//! `sorryfill serve`: configuration, pipeline, editor session and proxy wired together.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use super::{EditorState, HoleActions, Session};
use crate::config::Config;
use crate::engine::Engine;
use crate::router::{Proxy, ProxyConfig};
use crate::transport::stdio;
use crate::verify::checker::{LeanChecker, SourceDocuments, file_uri};

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

/// Runs the proxy with the editor session on stdin/stdout in front of the Lean server, and
/// returns Lean's exit status.
pub async fn run_serve(options: ServeOptions) -> anyhow::Result<ExitStatus> {
    let loaded = Config::load(&options.project_root).context("could not load sorryfill.toml")?;
    let config = loaded.config;
    match &loaded.source {
        Some(path) => tracing::info!(path = %path.display(), "configuration loaded"),
        None => tracing::info!("no sorryfill.toml: defaults"),
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
    proxy.set_code_action_provider(HoleActions::new(state.clone()).with_editor(editor.clone()));
    // The checker waits on this while the user's own documents elaborate.
    let (busy, user_busy) = watch::channel(false);
    let sources = SourceDocuments::new();
    let checker = LeanChecker::from_config(
        lean.clone(),
        &file_uri(&options.project_root),
        &config.verify,
        user_busy,
        sources.clone(),
    )
    .context("could not set up the Lean checker")?;
    let engine = Engine::build(&config, &options.project_root, checker)
        .context("sorryfill.toml needs fixing")?;
    let pipeline = Arc::new(engine.pipeline);
    let session = Session::new(pipeline, lean, state, busy)
        .with_editor(editor, config.editor.clone())
        .with_source_documents(sources);
    let session = tokio::spawn(session.run(documents));
    let status = proxy.serve(stdio::stdin(), stdio::stdout(), server).await?;
    session.abort();
    Ok(status)
}
