//! `sorryfill serve`: configuration, pipeline, editor session and proxy wired together.
//!
//! Invariant: a sorryfill problem never costs the user their Lean server. When the
//! configuration or the engine cannot be set up, Lean still runs behind a plain proxy and
//! the editor is told once, after its `initialized`, why sorryfill is off (a message, not
//! a stderr line, so both VS Code and Neovim show it the same way).

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{EditorState, HoleActions, Session};
use crate::config::Config;
use crate::engine::Engine;
use crate::lean::DocumentEvent;
use crate::router::{EditorHandle, Proxy, ProxyConfig};
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
    let (program, arguments) = options
        .server_command
        .split_first()
        .context("the Lean server command is empty")?;
    let mut server = tokio::process::Command::new(program);
    server.args(arguments);

    let mut proxy = Proxy::new(options.proxy);
    let session = match start_session(&mut proxy, &options.project_root) {
        Ok(session) => session,
        Err(error) => {
            let reason = format!("{error:#}");
            tracing::error!(%reason, "sorryfill is off; Lean runs behind a plain proxy");
            let editor = proxy.editor_handle();
            tokio::spawn(tell_the_editor_it_is_off(
                editor,
                proxy.observe_documents(),
                reason,
            ))
        }
    };
    let status = proxy.serve(stdio::stdin(), stdio::stdout(), server).await?;
    session.abort();
    Ok(status)
}

/// Sets up the configuration, checker, engine and editor session, and installs them on
/// `proxy`. Everything that can fail happens before `proxy` is touched, so on an error the
/// proxy is still a plain one.
fn start_session(proxy: &mut Proxy, project_root: &Path) -> anyhow::Result<JoinHandle<()>> {
    let loaded = Config::load(project_root).context("could not load sorryfill.toml")?;
    let config = loaded.config;
    match &loaded.source {
        Some(path) => tracing::info!(path = %path.display(), "configuration loaded"),
        None => tracing::info!("no sorryfill.toml: defaults"),
    }
    let lean = proxy.lean_handle();
    // The checker waits on this while the user's own documents elaborate.
    let (busy, user_busy) = watch::channel(false);
    let sources = SourceDocuments::new();
    let checker = LeanChecker::from_config(
        lean.clone(),
        &file_uri(project_root),
        &config.verify,
        user_busy,
        sources.clone(),
    )
    .context("could not set up the Lean checker")?;
    let engine =
        Engine::build(&config, project_root, checker).context("sorryfill.toml needs fixing")?;

    let editor = proxy.editor_handle();
    let documents = proxy.observe_documents();
    let state = EditorState::new();
    proxy.set_code_action_provider(HoleActions::new(state.clone()).with_editor(editor.clone()));
    let pipeline = Arc::new(engine.pipeline);
    let session = Session::new(pipeline, lean, state, busy)
        .with_editor(editor, config.editor.clone())
        .with_source_documents(sources);
    Ok(tokio::spawn(session.run(documents)))
}

/// Waits for the editor's `initialized` (the proxy may not speak before it) and shows why
/// sorryfill is off.
async fn tell_the_editor_it_is_off(
    editor: EditorHandle,
    mut documents: mpsc::UnboundedReceiver<DocumentEvent>,
    reason: String,
) {
    while let Some(event) = documents.recv().await {
        if matches!(event, DocumentEvent::EditorReady { .. }) {
            let message = format!(
                "sorryfill is off for this session (Lean works as usual): {reason}. \
                 Fix it, then restart the Lean server."
            );
            // Error type: the user has something to fix.
            editor.notify(
                "window/showMessage",
                serde_json::json!({"type": 1, "message": message}),
            );
            return;
        }
    }
}
