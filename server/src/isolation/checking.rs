//! The checking Lean server of `serve`, `prove` and `bench`: a second Lean server, started with
//! the user's command at the first check, confined where the machine allows, behind an
//! in-process proxy ([`crate::launch::lean_process`]). [`IsolatedChecker`] is the pipeline's
//! checker on top of it.
//!
//! Invariants: the user's Lean server never receives a shadow document (goals at the user's
//! own holes are still asked of it: they concern the user's document, not a candidate); a
//! checking server that exits (a crash, the kernel's out-of-memory killer) is started again at
//! the next check, at most [`MAX_RESTARTS`] times within [`RESTART_WINDOW`]; a failure to start
//! it, or one restart too many, turns proving off for the session with one message, never
//! touching the user's server.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{Confinement, Support};
use crate::config::VerifyConfig;
use crate::documents::file_uri;
use crate::holes::HoleId;
use crate::launch::lean_process::{LeanProcess, start_lean_command};
use crate::lean::LeanHandle;
use crate::pipeline::{CheckMode, Checker, GoalSpec, PipelineVerdict, RejectKind, Target};
use crate::verify::checker::{LeanChecker, SourceDocuments};

/// How long a checking server gets to shut down when the session ends.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How many times a checking server that exited is started again within [`RESTART_WINDOW`]: one
/// that keeps dying (out of memory at every check) would otherwise be restarted for ever, while a
/// long session should survive a rare death.
pub const MAX_RESTARTS: usize = 3;

/// The window in which [`MAX_RESTARTS`] restarts are allowed.
pub const RESTART_WINDOW: Duration = Duration::from_secs(10 * 60);

/// A Lean server for candidate checks only, started on first use and again when it exits.
pub struct CheckingServer {
    command_line: Vec<String>,
    root: PathBuf,
    state: tokio::sync::Mutex<ServerState>,
    process: Mutex<Option<LeanProcess>>,
}

/// Whether a restart at `now` is within the limit, given the `restarts` before it; if so it is
/// recorded. Restarts older than [`RESTART_WINDOW`] are forgotten.
fn may_restart(
    restarts: &mut std::collections::VecDeque<std::time::Instant>,
    now: std::time::Instant,
) -> bool {
    restarts.retain(|at| now.duration_since(*at) < RESTART_WINDOW);
    if restarts.len() >= MAX_RESTARTS {
        return false;
    }
    restarts.push_back(now);
    true
}

/// Which server runs, and whether one may still be started.
#[derive(Default)]
struct ServerState {
    /// The running server: its handle and how many starts it took (1 for the first).
    running: Option<(u32, LeanHandle)>,
    /// How many servers were started.
    starts: u32,
    /// When each restart within the last [`RESTART_WINDOW`] happened.
    restarts: std::collections::VecDeque<std::time::Instant>,
    /// Why no server is started any more; every later call gets this answer.
    off: Option<String>,
}

impl CheckingServer {
    /// A checking server for the project at `root`, to be started as `command_line` (the same
    /// command as the user's Lean server).
    pub fn new(command_line: Vec<String>, root: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            command_line,
            root,
            state: tokio::sync::Mutex::new(ServerState::default()),
            process: Mutex::new(None),
        })
    }

    /// The project folder the server runs in.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The handle of the running server and its generation (which start it is); the first
    /// call starts it, and the first call after it exited starts another. `Err` says why no
    /// server runs (the same answer for every later call).
    pub async fn lean(&self) -> Result<(u32, LeanHandle), String> {
        let mut state = self.state.lock().await;
        if let Some(why) = &state.off {
            return Err(why.clone());
        }
        if let Some((generation, lean)) = &state.running {
            // The handle closes when the server's proxy session ends, whatever ended it.
            if !lean.is_closed() {
                return Ok((*generation, lean.clone()));
            }
            state.running = None;
            if let Ok(mut slot) = self.process.lock() {
                slot.take();
            }
            if !may_restart(&mut state.restarts, std::time::Instant::now()) {
                let why = format!(
                    "the checking Lean server exited {} times within {} minutes (out of memory?)",
                    MAX_RESTARTS + 1,
                    RESTART_WINDOW.as_secs() / 60
                );
                state.off = Some(why.clone());
                return Err(why);
            }
            tracing::warn!("the checking Lean server exited; starting a new one");
        }
        match self.start().await {
            Ok(lean) => {
                state.starts += 1;
                state.running = Some((state.starts, lean.clone()));
                Ok((state.starts, lean))
            }
            Err(why) => {
                state.off = Some(why.clone());
                Err(why)
            }
        }
    }

    async fn start(&self) -> Result<LeanHandle, String> {
        let Some((program, arguments)) = self.command_line.split_first() else {
            return Err("the Lean server command is empty".to_owned());
        };
        let support = super::support();
        let command = if support.is_confined() {
            let wrapper = std::env::current_exe()
                .map_err(|error| format!("cannot find the sorryfill executable: {error}"))?;
            let confinement = Confinement::for_checking_server(&self.root, program);
            let mut command = tokio::process::Command::new(wrapper);
            command.args(confinement.wrapper_arguments(&self.command_line));
            command
        } else {
            let mut command = tokio::process::Command::new(program);
            command.args(arguments);
            command
        };
        match &support {
            Support::Landlock { .. } => {
                tracing::info!("checking Lean server: {}", support.describe());
            }
            _ => tracing::warn!("checking Lean server: {}", support.describe()),
        }
        let mut process = start_lean_command(
            &self.root,
            command,
            &self.command_line,
            false,
            crate::router::ProxyConfig::default(),
        )
        .await
        .map_err(|error| {
            let hint = if support.is_confined() {
                format!(
                    " (it runs confined; a Lean started through a script, or a Lake that must \
                     write outside .lake/sorryfill/, needs {}=off)",
                    super::CONFINE_ENV
                )
            } else {
                String::new()
            };
            format!("the checking Lean server did not start: {}{hint}", error.0)
        })?;
        // The checking server has no editor documents; its events concern nobody.
        let mut events = std::mem::replace(
            &mut process.documents,
            tokio::sync::mpsc::unbounded_channel().1,
        );
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        let lean = process.lean.clone();
        if let Ok(mut slot) = self.process.lock() {
            *slot = Some(process);
        }
        tracing::info!("checking Lean server started");
        Ok(lean)
    }

    /// Shuts the server down (if it was started) and waits a little for it to end; no server is
    /// started after this.
    pub async fn stop(&self) {
        {
            let mut state = self.state.lock().await;
            state.off = Some("the session is over".to_owned());
            state.running = None;
        }
        let process = self.process.lock().ok().and_then(|mut slot| slot.take());
        if let Some(process) = process
            && tokio::time::timeout(STOP_GRACE, process.stop())
                .await
                .is_err()
        {
            tracing::warn!("the checking Lean server did not stop in time");
        }
    }
}

/// What an [`IsolatedChecker`] builds its [`LeanChecker`] from once the server runs.
struct CheckerParts {
    config: VerifyConfig,
    user_busy: watch::Receiver<bool>,
    sources: SourceDocuments,
    user_lean: LeanHandle,
}

/// The pipeline's checker in `serve`, `prove` and `bench`: shadow documents live on the
/// [`CheckingServer`], goals at the user's holes come from the user's server.
pub struct IsolatedChecker {
    server: Arc<CheckingServer>,
    parts: CheckerParts,
    /// The checker on the server's current generation.
    checker: tokio::sync::Mutex<Option<(u32, OnServer)>>,
    /// Why proving is off, once it is: told to `proving_off` once, answered ever after.
    off: std::sync::OnceLock<String>,
    proving_off: Box<dyn Fn(&str) + Send + Sync>,
}

impl IsolatedChecker {
    /// A checker on `server` configured by `config`; `user_lean` is the user's own server (for
    /// goals only), `user_busy` and `sources` as for [`LeanChecker::from_config`], and
    /// `proving_off` tells the user, once, that no checking server runs any more.
    pub fn new(
        server: Arc<CheckingServer>,
        config: &VerifyConfig,
        user_lean: LeanHandle,
        user_busy: watch::Receiver<bool>,
        sources: SourceDocuments,
        proving_off: impl Fn(&str) + Send + Sync + 'static,
    ) -> Self {
        Self {
            server,
            parts: CheckerParts {
                config: config.clone(),
                user_busy,
                sources,
                user_lean,
            },
            checker: tokio::sync::Mutex::new(None),
            off: std::sync::OnceLock::new(),
            proving_off: Box::new(proving_off),
        }
    }

    /// The checker on the running checking server, built anew for each server started.
    async fn checker(&self) -> Result<OnServer, String> {
        if let Some(why) = self.off.get() {
            return Err(why.clone());
        }
        let built = match self.server.lean().await {
            Ok((generation, lean)) => {
                let mut slot = self.checker.lock().await;
                match &*slot {
                    Some((current, on_server)) if *current == generation => Ok(on_server.clone()),
                    _ => {
                        let parts = &self.parts;
                        let built = LeanChecker::from_config(
                            lean.clone(),
                            &file_uri(&self.server.root),
                            &parts.config,
                            parts.user_busy.clone(),
                            parts.sources.clone(),
                        )
                        .map(|checker| OnServer {
                            checker: Arc::new(checker.asking_goals_of(parts.user_lean.clone())),
                            lean,
                        })
                        .map_err(|error| format!("the checking Lean server is gone: {error}"));
                        if let Ok(on_server) = &built {
                            *slot = Some((generation, on_server.clone()));
                        }
                        built
                    }
                }
            }
            Err(why) => Err(why),
        };
        built.map_err(|why| {
            if self.off.set(why.clone()).is_ok() {
                tracing::error!("proving is off for this session: {why}");
                (self.proving_off)(&why);
            }
            self.off.get().cloned().unwrap_or(why)
        })
    }

    /// Why proving is off for this session, once it is.
    pub fn off_reason(&self) -> Option<&str> {
        self.off.get().map(String::as_str)
    }

    /// Runs `check` on the checking server. A check during which the server died (a crash,
    /// the out-of-memory killer) says nothing about the proof, so it runs once more, on the
    /// server started next.
    async fn on_server<F, Fut>(&self, check: F) -> PipelineVerdict
    where
        F: Fn(Arc<LeanChecker>) -> Fut,
        Fut: Future<Output = PipelineVerdict>,
    {
        let (verdict, died) = self.check_once(&check).await;
        if !died {
            return verdict;
        }
        tracing::warn!("the checking Lean server died during a check; checking again");
        self.check_once(&check).await.0
    }

    /// One run of `check` on the current checking server, and whether that server died
    /// without a verdict from Lean.
    async fn check_once<F, Fut>(&self, check: &F) -> (PipelineVerdict, bool)
    where
        F: Fn(Arc<LeanChecker>) -> Fut,
        Fut: Future<Output = PipelineVerdict>,
    {
        match self.checker().await {
            Ok(on_server) => {
                let verdict = check(on_server.checker).await;
                let died = !verdict.is_verified() && on_server.lean.is_closed();
                (verdict, died)
            }
            // Nothing can be checked in this session: the job ends with why.
            Err(why) => (
                PipelineVerdict::rejected(
                    RejectKind::Unavailable,
                    format!("proving is off: {why}"),
                ),
                false,
            ),
        }
    }
}

/// A checker and the handle of the checking server it runs on.
#[derive(Clone)]
struct OnServer {
    checker: Arc<LeanChecker>,
    lean: LeanHandle,
}

impl Checker for IsolatedChecker {
    async fn check(&self, target: &Target, proof: &str, mode: CheckMode) -> PipelineVerdict {
        self.on_server(|checker| async move { checker.check(target, proof, mode).await })
            .await
    }

    async fn check_together(
        &self,
        doc: &str,
        version: i32,
        fills: &[(HoleId, String)],
    ) -> PipelineVerdict {
        self.on_server(|checker| async move { checker.check_together(doc, version, fills).await })
            .await
    }

    async fn goal_at(&self, target: &Target) -> Option<GoalSpec> {
        self.checker().await.ok()?.checker.goal_at(target).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::{Duration, Instant};

    use super::{MAX_RESTARTS, RESTART_WINDOW, may_restart};

    #[test]
    fn restarts_are_limited_within_the_window_and_forgotten_after_it() {
        let start = Instant::now();
        let mut restarts = VecDeque::new();
        for i in 0..MAX_RESTARTS {
            assert!(may_restart(
                &mut restarts,
                start + Duration::from_secs(i as u64)
            ));
        }
        assert!(!may_restart(&mut restarts, start + Duration::from_secs(60)));
        // The first two restarts are older than the window now, the third is not: two more
        // are allowed, not three.
        let later = start + RESTART_WINDOW + Duration::from_millis(1500);
        assert!(may_restart(&mut restarts, later));
        assert!(may_restart(&mut restarts, later));
        assert!(!may_restart(&mut restarts, later));
    }
}
