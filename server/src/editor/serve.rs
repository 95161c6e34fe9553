//! `sorryfill serve`: configuration, pipeline, editor session and proxy wired together.
//!
//! Settings apply in this order, each over the one before: `sorryfill.toml` (project, then
//! user), the `SORRYFILL_SETTINGS` environment variable (for editors whose extension owns the
//! initialization options), then `initializationOptions.sorryfill`.
//!
//! Invariant: a sorryfill problem never costs the user their Lean server. When the
//! configuration or the engine cannot be set up, Lean still runs behind a transparent proxy
//! and the editor is told once, after its `initialized`, why sorryfill is off (a message, not
//! a stderr line, so both VS Code and Neovim show it the same way), and the status says
//! `off` with the reason.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::status::{report_status, watch_endpoints};
use super::{EditorState, HoleActions, Session, SessionCommand};
use crate::config::{Config, ConfigError};
use crate::engine::{Engine, EngineError};
use crate::isolation::{CheckingServer, IsolatedChecker};
use crate::lean::DocumentEvent;
use crate::router::{Proxy, ProxyConfig};
use crate::transport::lsp;
use crate::transport::stdio;
use crate::verify::checker::SourceDocuments;

/// What `sorryfill serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The Lean server command and its arguments (e.g. `lake serve`).
    pub server_command: Vec<String>,
    /// The project whose `sorryfill.toml` applies.
    pub project_root: PathBuf,
    /// Settings of the proxy core.
    pub proxy: ProxyConfig,
    /// The log file, named in the status so plugins can open it.
    pub log_file: Option<PathBuf>,
}

/// Why `sorryfill serve` could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunServeError {
    /// No Lean server command was given.
    #[error("the Lean server command is empty")]
    EmptyCommand,
    /// The proxy session failed (the server could not be started or waited for).
    #[error(transparent)]
    Proxy(#[from] crate::router::ServeError),
}

/// Why sorryfill is off for a session: Lean runs on behind a transparent proxy.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    /// `sorryfill.toml` or the editor's settings cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// [`SETTINGS_VARIABLE`] holds no JSON.
    #[error("{SETTINGS_VARIABLE} is not valid JSON: {0}")]
    SettingsJson(serde_json::Error),
    /// The engine cannot be built from the configuration.
    #[error("the configuration needs fixing: {0}")]
    Engine(#[from] EngineError),
    /// Building the engine on the blocking pool stopped before it finished.
    #[error("building the session stopped: {0}")]
    Building(tokio::task::JoinError),
}

/// The environment variable holding settings over `sorryfill.toml` (a JSON object shaped
/// like `initializationOptions.sorryfill`).
pub const SETTINGS_VARIABLE: &str = "SORRYFILL_SETTINGS";

/// Runs the proxy with the editor session on stdin/stdout in front of the Lean server, and
/// returns Lean's exit status.
///
/// The engine is built once the editor's `initialize` has gone through, so its
/// `initializationOptions.sorryfill` settings apply over `sorryfill.toml`. A configuration that
/// cannot be used never stops Lean: the editor is told once, and Lean runs as if sorryfill were
/// not there.
pub async fn run_serve(options: ServeOptions) -> Result<ExitStatus, RunServeError> {
    let file_config = Config::load(&options.project_root).map(|loaded| {
        match &loaded.source {
            Some(path) => tracing::info!(path = %path.display(), "configuration loaded"),
            None => tracing::info!("no sorryfill.toml: defaults"),
        }
        loaded.config
    });
    let (program, arguments) = options
        .server_command
        .split_first()
        .ok_or(RunServeError::EmptyCommand)?;
    let mut server = tokio::process::Command::new(program);
    server.args(arguments);

    let mut proxy = Proxy::new(options.proxy);
    let lean = proxy.lean_handle();
    let editor = proxy.editor_handle();
    let documents = proxy.observe_documents();
    let state = EditorState::new();
    state.set_log(
        options
            .log_file
            .as_ref()
            .map(|path| path.display().to_string()),
    );
    let (commands_tx, commands) = mpsc::unbounded_channel();
    proxy.set_code_action_provider(
        HoleActions::new(state.clone())
            .with_editor(editor.clone())
            .with_session(commands_tx),
    );
    // Candidates are checked on a Lean server of their own, started at the first check.
    let checking =
        CheckingServer::new(options.server_command.clone(), options.project_root.clone());
    let parts = SessionParts {
        lean,
        editor,
        state,
        checking: checking.clone(),
    };
    let session = tokio::spawn(start_session(file_config, parts, documents, commands));
    let status = proxy
        .serve_on_own_thread(|| (stdio::stdin(), stdio::stdout()), server)
        .await;
    session.abort();
    checking.stop().await;
    Ok(status?)
}

/// What the editor session is built from once the editor is ready.
#[derive(Clone)]
struct SessionParts {
    lean: crate::lean::LeanHandle,
    editor: crate::router::EditorHandle,
    state: EditorState,
    checking: Arc<CheckingServer>,
}

/// Waits for the editor's `initialized` (and its settings), builds the engine and runs the
/// session over the rest of the document events.
async fn start_session(
    file_config: Result<Config, ConfigError>,
    parts: SessionParts,
    mut documents: mpsc::UnboundedReceiver<DocumentEvent>,
    commands: mpsc::UnboundedReceiver<SessionCommand>,
) {
    // The router sends `EditorReady` before any document event.
    let first = documents.recv().await;
    if first.is_none() {
        // The editor left before `initialized`: a normal end, nothing to set up.
        tracing::info!("the editor closed the connection before sorryfill started");
        return;
    }
    let settings = match &first {
        Some(DocumentEvent::EditorReady { settings, .. }) => settings.clone(),
        _ => None,
    };
    let environment = std::env::var(SETTINGS_VARIABLE).ok();
    let config = file_config
        .map_err(SetupError::from)
        .and_then(|config| with_environment_settings(config, environment.as_deref()))
        .and_then(|config| match &settings {
            Some(settings) => Ok(config.with_editor_settings(settings)?),
            None => Ok(config),
        });
    // Building opens (and may migrate) the project's database: file I/O, kept off the
    // runtime's threads like every other SQLite access.
    let building = parts.clone();
    let built = tokio::task::spawn_blocking(move || {
        config.and_then(|config| build_session(&config, &building).map(|session| (config, session)))
    })
    .await
    .unwrap_or_else(|error| Err(SetupError::Building(error)));
    let (config, session) = match built {
        Ok((config, (session, warnings))) => {
            // A model that is off (its key variable unset) or a capped setting does not stop
            // sorryfill: the editor is told once (a warning, already in the log).
            for warning in warnings {
                parts.editor.notify(
                    lsp::method::SHOW_MESSAGE,
                    json!({"type": lsp::MessageType::WARNING, "message": format!("sorryfill: {warning}")}),
                );
            }
            (config, session)
        }
        Err(error) => {
            tracing::error!("sorryfill is off for this session: {error}");
            parts.editor.notify(
                lsp::method::SHOW_MESSAGE,
                json!({"type": lsp::MessageType::ERROR, "message": format!("sorryfill is off: {error}. Lean runs as usual.")}),
            );
            parts.state.set_off(error.to_string());
            // Keep draining so the router never holds events for nobody.
            let drain = async { while documents.recv().await.is_some() {} };
            tokio::select! {
                () = drain => {}
                () = report_status(parts.state, parts.editor) => {}
            }
            return;
        }
    };
    let mut session = session.with_commands(commands);
    if let Some(first) = first {
        session.on_event(first);
    }
    // The status lives as long as the session: both end when the router stops.
    tokio::select! {
        () = session.run(documents) => {}
        () = report_status(parts.state.clone(), parts.editor) => {}
        () = async {
            watch_endpoints(parts.state, &config).await;
            std::future::pending::<()>().await
        } => {}
    }
}

/// `config` with the JSON object of [`SETTINGS_VARIABLE`] (when set) merged on top.
fn with_environment_settings(config: Config, variable: Option<&str>) -> Result<Config, SetupError> {
    let Some(text) = variable.filter(|text| !text.trim().is_empty()) else {
        return Ok(config);
    };
    let settings: serde_json::Value =
        serde_json::from_str(text).map_err(SetupError::SettingsJson)?;
    Ok(config.with_settings_from(&settings, SETTINGS_VARIABLE)?)
}

/// The session as `serve` wires it to the configured engine.
type ServeSession = Session<
    IsolatedChecker,
    crate::engine::ConfiguredProver,
    crate::engine::ConfiguredDecomposer,
    crate::engine::ConfiguredStore,
>;

/// The session for `config`, and the configuration's warnings for the editor.
fn build_session(
    config: &Config,
    parts: &SessionParts,
) -> Result<(ServeSession, Vec<crate::engine::EngineWarning>), SetupError> {
    // The checker waits on this while the user's own documents elaborate.
    let (busy, user_busy) = watch::channel(false);
    let sources = SourceDocuments::new();
    let editor = parts.editor.clone();
    let state = parts.state.clone();
    let checker = IsolatedChecker::new(
        parts.checking.clone(),
        &config.verify,
        parts.lean.clone(),
        user_busy,
        sources.clone(),
        move |why| {
            // The status line says it for as long as it holds; the message says it once.
            state.set_off(why.to_owned());
            editor.notify(
                lsp::method::SHOW_MESSAGE,
                json!({"type": lsp::MessageType::WARNING, "message": format!("sorryfill: proving is off: {why}. Lean runs as usual.")}),
            );
        },
    );
    let engine = Engine::build(config, parts.checking.root(), checker)?;
    let warnings = engine.warnings().to_vec();
    let pipeline = Arc::new(engine.pipeline);
    let session = Session::new(pipeline, parts.lean.clone(), parts.state.clone(), busy)
        .with_editor(parts.editor.clone(), config.editor.clone())
        .with_source_documents(sources);
    Ok((session, warnings))
}
