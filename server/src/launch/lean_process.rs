//! Lean behind an in-process proxy, for the shell commands (`prove`, `audit`, `bench`): one
//! function starts the Lean server in the project, puts the same [`Proxy`] the editor uses in
//! front of it and connects a [`VirtualEditor`]; [`LeanProcess::stop`] shuts it down.
//!
//! Invariants: the server runs in the project folder (so `lake serve` finds the toolchain and
//! Mathlib); a [`LeanProcess`] is returned only after Lean answered `initialize`; dropping it
//! without `stop` still ends Lean, because the proxy task owns the child and kills it on drop.
//! No wait is unbounded: a server that never answers `initialize`
//! ([`initialize_limit`]) or does not exit after `exit` ([`EXIT_LIMIT`]) is given up on with
//! a message.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::documents::file_uri;
use crate::launch::virtual_editor::{EditorError, VirtualEditor};
use crate::lean::{DocumentEvent, LeanDiagnostic, LeanHandle};
use crate::router::{Proxy, ProxyConfig, ServeError};

/// Why Lean could not be started or did not initialise, as a whole sentence with what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// How long a Lean server may take to answer `initialize` by default. `lake serve` answers at
/// once (imports are loaded later, per file), so a server silent this long is not Lean's.
pub const INITIALIZE_LIMIT: Duration = Duration::from_secs(60);

/// The environment variable that replaces [`INITIALIZE_LIMIT`], in seconds.
pub const INITIALIZE_LIMIT_VAR: &str = "SORRYFILL_INITIALIZE_TIMEOUT_S";

/// How long Lean may take to exit after `shutdown` and `exit` before it is killed.
pub const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// The `initialize` limit: [`INITIALIZE_LIMIT_VAR`] when it holds a number of seconds.
pub fn initialize_limit() -> Duration {
    std::env::var(INITIALIZE_LIMIT_VAR)
        .ok()
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(INITIALIZE_LIMIT, |seconds| {
            Duration::from_secs(seconds.max(1))
        })
}

/// A running Lean server behind an in-process proxy.
pub struct LeanProcess {
    /// The in-process editor in front of the proxy.
    pub editor: VirtualEditor,
    /// Editor-document events from the router (open, change, elaborated, failed).
    pub documents: mpsc::UnboundedReceiver<DocumentEvent>,
    /// The proxy's own channel to Lean (private requests and shadow documents).
    pub lean: LeanHandle,
    /// The project folder, absolute.
    pub root: PathBuf,
    /// The project folder as a `file://` URI.
    pub root_uri: String,
    /// The command Lean was started with (a checking server is started with the same).
    pub command_line: Vec<String>,
    session: JoinHandle<Result<ExitStatus, ServeError>>,
}

/// Starts `command_line` (default `lake serve`) in `project_root` behind a proxy and waits
/// until Lean has answered `initialize`.
pub async fn start_lean(
    project_root: &Path,
    command_line: Option<&[String]>,
) -> Result<LeanProcess, StartError> {
    start_lean_with(project_root, command_line, ProxyConfig::default()).await
}

/// [`start_lean`] with the proxy's settings (`prove --capture` records the session).
pub async fn start_lean_with(
    project_root: &Path,
    command_line: Option<&[String]>,
    proxy_config: ProxyConfig,
) -> Result<LeanProcess, StartError> {
    let default_command = ["lake".to_owned(), "serve".to_owned()];
    let from_lean_cmd = command_line.is_some();
    let command_line = command_line.unwrap_or(&default_command);
    let Some((program, args)) = command_line.split_first() else {
        return Err(StartError("the Lean command is empty".to_owned()));
    };
    let mut server = tokio::process::Command::new(program);
    server.args(args);
    start_lean_command(
        project_root,
        server,
        command_line,
        from_lean_cmd,
        proxy_config,
    )
    .await
}

/// Starts the Lean server `server` (a prepared command, e.g. a confined one, that runs
/// `command_line`, which messages name) in `project_root` behind a proxy and waits until Lean
/// has answered `initialize`. `from_lean_cmd`: the user chose the command (`--lean-cmd`).
pub async fn start_lean_command(
    project_root: &Path,
    mut server: tokio::process::Command,
    command_line: &[String],
    from_lean_cmd: bool,
    proxy_config: ProxyConfig,
) -> Result<LeanProcess, StartError> {
    let program = command_line.first().map_or("", String::as_str);
    let root = std::path::absolute(project_root)
        .map_err(|error| StartError(format!("no project folder: {error}")))?;
    server.current_dir(&root);

    let mut proxy = Proxy::new(proxy_config);
    let lean = proxy.lean_handle();
    let documents = proxy.observe_documents();
    let (editor, mut session) = VirtualEditor::connect(proxy, server);
    let root_uri = file_uri(&root);
    let shown = command_line.join(" ");
    let limit = initialize_limit();
    // The proxy may end (a missing program, Lean exiting at once) before the editor's request
    // is even registered; waiting on both never leaves the request waiting for its time limit.
    let outcome = tokio::select! {
        answer = editor.initialize(&root_uri, limit) => match answer {
            // A language server's answer always has its capabilities; anything else (`cat`
            // echoing requests back) would leave every later wait to its time limit.
            Ok(result) if result.get("capabilities").is_some_and(serde_json::Value::is_object) => {
                Initialize::Answered
            }
            Ok(_) | Err(EditorError::Timeout(_)) => Initialize::NoLanguageServer,
            Err(error) => Initialize::Failed(error),
        },
        ended = &mut session => Initialize::Ended(ended),
    };
    let detail = match outcome {
        Initialize::Answered => {
            return Ok(LeanProcess {
                editor,
                documents,
                lean,
                root,
                root_uri,
                command_line: command_line.to_vec(),
                session,
            });
        }
        Initialize::Ended(ended) => session_failure(ended, program, from_lean_cmd),
        Initialize::NoLanguageServer => {
            // Ending the session task kills the child with it.
            session.abort();
            format!(
                "the Lean server `{shown}` gave no language server's answer to `initialize` within {} s. Is it a Lean language server? sorryfill needs `lake serve` (or `lean --server`); pass another one with --lean-cmd, or raise the limit with {INITIALIZE_LIMIT_VAR}=SECONDS",
                limit.as_secs()
            )
        }
        Initialize::Failed(editor_error) => {
            drop(editor);
            // The proxy's own error (the program is missing, Lean exited) says more than the
            // editor's "no answer".
            match tokio::time::timeout(EXIT_LIMIT, &mut session).await {
                Ok(ended @ Ok(Err(_))) => session_failure(ended, program, from_lean_cmd),
                _ => {
                    session.abort();
                    format!("the Lean server `{shown}` failed to start: {editor_error}")
                }
            }
        }
    };
    Err(StartError(detail))
}

/// How the `initialize` exchange with a new server ended.
enum Initialize {
    /// A language server's answer: Lean is ready.
    Answered,
    /// No answer within the limit, or one without capabilities.
    NoLanguageServer,
    /// The in-process editor could not get an answer (the pipe closed, an error).
    Failed(EditorError),
    /// The proxy session ended first.
    Ended(Result<Result<ExitStatus, ServeError>, tokio::task::JoinError>),
}

/// Why the proxy session ended before Lean initialised, in words, with what to do.
fn session_failure(
    ended: Result<Result<ExitStatus, ServeError>, tokio::task::JoinError>,
    program: &str,
    from_lean_cmd: bool,
) -> String {
    match ended {
        Ok(Err(ServeError::Spawn { source, .. })) => {
            let fix = if source.kind() == std::io::ErrorKind::NotFound {
                crate::launch::missing_program_fix(program, from_lean_cmd)
            } else {
                format!("check that `{program}` is a program you may run")
            };
            format!("could not start the Lean server `{program}`: {source}. To fix: {fix}")
        }
        Ok(Err(serve_error)) => serve_error.to_string(),
        Ok(Ok(status)) => {
            format!("the Lean server `{program}` exited ({status}) before answering `initialize`")
        }
        Err(join_error) => format!("the proxy stopped: {join_error}"),
    }
}

/// How long Lean may take to elaborate one file before it is given up.
pub const ELABORATION_LIMIT: Duration = Duration::from_secs(600);

/// Waits until Lean has elaborated `version` of `uri` and returns its final diagnostics.
/// The barrier is Lean's `waitForDiagnostics` answer, never the done notification: real Lean
/// publishes a version that never blocked AFTER saying it is done, and the router re-sends
/// `Elaborated` for such a late publish, so the last `Elaborated` queued before the answer
/// holds the final set. The document must have been opened (as `version`) through the
/// editor just before: its `Opened` event starts the wait. Every event received on the way
/// is passed to `seen` first (the
/// checker's view of the documents follows them). `Err` says why in words: a failed header
/// or worker, a stopped server, or [`ELABORATION_LIMIT`].
pub async fn wait_elaborated(
    lean: &LeanHandle,
    documents: &mut mpsc::UnboundedReceiver<DocumentEvent>,
    uri: &str,
    version: i32,
    mut seen: impl FnMut(&DocumentEvent),
) -> Result<Vec<LeanDiagnostic>, String> {
    let deadline = tokio::time::sleep(ELABORATION_LIMIT);
    tokio::pin!(deadline);
    let mut last = Vec::new();
    // The router forwards the editor's didOpen before it reports `Opened`, so a request sent
    // after seeing it reaches Lean after the open (and not as a request for a closed file).
    let mut opened = false;
    while !opened {
        tokio::select! {
            event = documents.recv() => match event {
                Some(event) => {
                    seen(&event);
                    opened = matches!(&event, DocumentEvent::Opened { uri: at, version: v, .. }
                        | DocumentEvent::Changed { uri: at, version: v, .. } if at == uri && *v >= version);
                    note_elaborated(event, uri, version, &mut last)?;
                }
                None => return Err("the Lean server stopped".to_owned()),
            },
            () = &mut deadline => return Err("Lean did not finish elaborating the file in time".to_owned()),
        }
    }
    let wait = lean.wait_for_diagnostics(uri, version);
    tokio::pin!(wait);
    loop {
        tokio::select! {
            answer = &mut wait => {
                answer.map_err(|error| format!("Lean could not elaborate the file: {error}"))?;
                break;
            }
            event = documents.recv() => match event {
                Some(event) => {
                    seen(&event);
                    note_elaborated(event, uri, version, &mut last)?;
                }
                None => return Err("the Lean server stopped".to_owned()),
            },
            () = &mut deadline => return Err("Lean did not finish elaborating the file in time".to_owned()),
        }
    }
    while let Ok(event) = documents.try_recv() {
        seen(&event);
        note_elaborated(event, uri, version, &mut last)?;
    }
    Ok(last)
}

/// Keeps `last` at the newest diagnostics of `version` of `uri`; a failure of `uri` ends the
/// wait.
fn note_elaborated(
    event: DocumentEvent,
    uri: &str,
    version: i32,
    last: &mut Vec<LeanDiagnostic>,
) -> Result<(), String> {
    match event {
        DocumentEvent::Elaborated {
            uri: done,
            version: at,
            diagnostics,
        } if done == uri && at == version => *last = diagnostics,
        DocumentEvent::Failed { uri: failed, .. } if failed == uri => {
            return Err("Lean could not elaborate the file (header or worker failure)".to_owned());
        }
        _ => {}
    }
    Ok(())
}

impl LeanProcess {
    /// `shutdown` and `exit`, then waits for the proxy (and so Lean) to end, at most
    /// [`EXIT_LIMIT`]: a server still running then is killed. `Some` says so in words.
    pub async fn stop(mut self) -> Option<String> {
        self.editor.shutdown().await;
        drop(self.editor);
        match tokio::time::timeout(EXIT_LIMIT, &mut self.session).await {
            Ok(Ok(Err(error))) => {
                tracing::warn!(%error, "the Lean session ended with an error");
                None
            }
            Ok(_) => None,
            Err(_) => {
                // The proxy task owns the child (`kill_on_drop`): ending the task kills it.
                self.session.abort();
                let _ = self.session.await;
                Some(format!(
                    "the Lean server was still running {} s after `exit`; sorryfill stopped it",
                    EXIT_LIMIT.as_secs()
                ))
            }
        }
    }
}
