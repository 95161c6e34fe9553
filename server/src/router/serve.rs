//! Wiring a proxy session: the Lean child process, one reader and one writer task per
//! pipe, and the router task between them; then a clean exit. `serve` runs all of them on
//! a thread of its own ([`Proxy::serve_on_own_thread`]), so a frame crosses no thread.
//!
//! Invariants: the child is always waited for or killed before [`Proxy::serve`] returns
//! (no orphans); when Lean exits, everything it wrote before exiting is forwarded first and
//! the proxy reports Lean's exit status; when the editor goes away, Lean gets `exit` and a
//! grace period, then is killed.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::{CodeActionProvider, Event, NoCodeActions, Router, RouterExit, RouterOutputs};
use crate::lean::{DocumentEvent, LeanHandle};
use crate::transport::capture::{Capture, Direction};
use crate::transport::{DEFAULT_MAX_FRAME_BYTES, Incoming, read_frames, write_frames_captured};

/// Settings of one proxy session.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Frames with a larger body are skipped (and answered with an error if they are
    /// requests from the editor).
    pub max_frame_bytes: usize,
    /// How long Lean gets to exit after `exit` (or after closing its stdout) before it is
    /// killed.
    pub exit_grace: Duration,
    /// Where to record every frame, both ways (`--capture DIR`); `None` records nothing.
    pub capture_dir: Option<PathBuf>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            exit_grace: Duration::from_secs(2),
            capture_dir: None,
        }
    }
}

/// Why a session could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The server command could not be started.
    #[error("could not start the Lean server `{program}`")]
    Spawn {
        /// The program that failed to start.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Waiting for the child failed.
    #[error("could not wait for the Lean server: {0}")]
    Wait(std::io::Error),
    /// The proxy's own thread or runtime could not be started.
    #[error("could not start the proxy's thread: {0}")]
    Runtime(std::io::Error),
}

/// One proxy session, set up before it runs: take a [`LeanHandle`], subscribe to
/// [`DocumentEvent`]s and install a [`CodeActionProvider`], then call [`Proxy::serve`].
pub struct Proxy {
    config: ProxyConfig,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    lean: LeanHandle,
    observer: Option<mpsc::UnboundedSender<DocumentEvent>>,
    code_actions: Box<dyn CodeActionProvider>,
}

impl Proxy {
    /// A session with `config`, no observer and no code actions of its own.
    pub fn new(config: ProxyConfig) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Self {
            config,
            lean: LeanHandle::new(events_tx.clone()),
            events_tx,
            events_rx,
            observer: None,
            code_actions: Box::new(NoCodeActions),
        }
    }

    /// The handle through which tasks send their own traffic to Lean.
    pub fn lean_handle(&self) -> LeanHandle {
        self.lean.clone()
    }

    /// The handle through which tasks send their own messages to the editor.
    pub fn editor_handle(&self) -> super::EditorHandle {
        super::EditorHandle::new(self.events_tx.clone())
    }

    /// Subscribes to the editor documents' events (one subscriber; a second call
    /// replaces the first).
    pub fn observe_documents(&mut self) -> mpsc::UnboundedReceiver<DocumentEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.observer = Some(tx);
        rx
    }

    /// Installs the supplier of the proxy's own code actions.
    pub fn set_code_action_provider(&mut self, provider: impl CodeActionProvider + 'static) {
        self.code_actions = Box::new(provider);
    }

    /// Runs the session: spawns `server` (its stderr is inherited, so Lean's stderr reaches
    /// ours unchanged), proxies between the editor's `client_in`/`client_out` and Lean until
    /// one side ends, and returns Lean's exit status.
    pub async fn serve<R, W>(
        self,
        client_in: R,
        client_out: W,
        mut server: Command,
    ) -> Result<ExitStatus, ServeError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let program = server.as_std().get_program().to_string_lossy().into_owned();
        let mut child = server
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ServeError::Spawn { program, source })?;
        let (Some(server_in), Some(server_out)) = (child.stdin.take(), child.stdout.take()) else {
            unreachable!("stdin and stdout were configured as pipes just above");
        };
        tracing::info!(pid = child.id(), "Lean server started");
        #[cfg(unix)]
        {
            crate::transport::stdio::enlarge_pipe_buffer(&server_in);
            crate::transport::stdio::enlarge_pipe_buffer(&server_out);
        }

        let cap = self.config.max_frame_bytes;
        let capture = self.config.capture_dir.as_deref().and_then(|dir| {
            Capture::create(dir)
                .inspect_err(|error| {
                    tracing::error!(%error, dir = %dir.display(), "could not start the capture; going on without it");
                })
                .ok()
        });
        let tap = |direction| capture.clone().map(|capture| (capture, direction));
        let (to_client, client_queue) = mpsc::unbounded_channel::<Bytes>();
        let (to_server, server_queue) = mpsc::unbounded_channel::<Bytes>();
        let client_writer = tokio::spawn(write_frames_captured(
            client_out,
            client_queue,
            tap(Direction::ToEditor),
        ));
        let server_writer = tokio::spawn(write_frames_captured(
            server_in,
            server_queue,
            tap(Direction::ToLean),
        ));
        let client_reader = spawn_reader(
            client_in,
            cap,
            self.events_tx.clone(),
            (Event::Client, Event::ClientClosed),
            tap(Direction::FromEditor),
        );
        let server_reader = spawn_reader(
            server_out,
            cap,
            self.events_tx.clone(),
            (Event::Server, Event::ServerClosed),
            tap(Direction::FromLean),
        );
        // The router must stop when both readers are done, even if handles live on.
        drop(self.events_tx);
        drop(self.lean);

        let router = Router::new(RouterOutputs {
            to_client,
            to_server,
            documents: self.observer,
            code_actions: self.code_actions,
        });
        let mut router = tokio::spawn(router.run(self.events_rx));
        let grace = self.config.exit_grace;

        let status = tokio::select! {
            exit = &mut router => {
                match exit {
                    Ok(RouterExit::ClientClosed) => tracing::info!("the editor closed the connection"),
                    Ok(RouterExit::ServerClosed) => tracing::info!("Lean closed its output"),
                    Err(error) => tracing::error!(%error, "the router task failed"),
                }
                wait_or_kill(&mut child, grace).await?
            }
            status = child.wait() => {
                let status = status.map_err(ServeError::Wait)?;
                tracing::info!(%status, "Lean exited");
                // Lean's last frames are still in the pipe: let the router forward them.
                if tokio::time::timeout(grace, &mut router).await.is_err() {
                    router.abort();
                }
                status
            }
        };
        client_reader.abort();
        server_reader.abort();
        server_writer.abort();
        // The router dropped its sender, so the editor's writer flushes what is queued and ends.
        if tokio::time::timeout(grace, client_writer).await.is_err() {
            tracing::warn!("the editor did not read our last frames in time");
        }
        // The process exits after this: the capture's last frames must be on disk first.
        if let Some(capture) = capture
            && !capture.flushed(grace).await
        {
            tracing::warn!(path = %capture.path().display(), "the capture's last frames may be missing");
        }
        Ok(status)
    }
}

impl Proxy {
    /// Runs the session like [`Proxy::serve`], but on a thread of its own with a
    /// single-threaded runtime: a frame then goes from its reader to the router to the
    /// other side's writer without waking another thread (the only wake-up is the pipe's
    /// readiness), while the caller's runtime keeps the background work. `client` makes
    /// the editor's streams on that thread, so their readiness is delivered there too.
    pub async fn serve_on_own_thread<C, R, W>(
        self,
        client: C,
        server: Command,
    ) -> Result<ExitStatus, ServeError>
    where
        C: FnOnce() -> (R, W) + Send + 'static,
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("sorryfill-proxy".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = done_tx.send(Err(ServeError::Runtime(error)));
                        return;
                    }
                };
                let outcome = runtime.block_on(async move {
                    let (client_in, client_out) = client();
                    self.serve(client_in, client_out, server).await
                });
                // A blocking read of a terminal may still hold a thread: do not wait for it.
                runtime.shutdown_background();
                let _ = done_tx.send(outcome);
            })
            .map_err(ServeError::Runtime)?;
        done_rx.await.unwrap_or_else(|_| {
            Err(ServeError::Runtime(std::io::Error::other(
                "the proxy thread ended without a result",
            )))
        })
    }
}

/// Starts the reader of one pipe: each item becomes `wrap(item)` on the router's events,
/// and `closed` follows the last one.
fn spawn_reader<R>(
    reader: R,
    cap: usize,
    events: mpsc::UnboundedSender<Event>,
    (wrap, closed): (fn(Incoming) -> Event, Event),
    capture: Option<(Capture, Direction)>,
) -> tokio::task::JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let result = read_frames(reader, cap, |item| {
            if let (Some((capture, direction)), Incoming::Frame(frame)) = (&capture, &item) {
                capture.record(*direction, frame.bytes());
            }
            events.send(wrap(item)).is_ok()
        })
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "read error; treating it as end of input");
        }
        let _ = events.send(closed);
    })
}

async fn wait_or_kill(child: &mut Child, grace: Duration) -> Result<ExitStatus, ServeError> {
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status.map_err(ServeError::Wait),
        Err(_) => {
            tracing::warn!("Lean did not exit in time; killing it");
            child.kill().await.map_err(ServeError::Wait)?;
            child.wait().await.map_err(ServeError::Wait)
        }
    }
}

/// The exit code a proxy should exit with for Lean's `status`: Lean's code, or 128 plus
/// the signal number when Lean was killed by a signal (the shell convention).
pub fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}
