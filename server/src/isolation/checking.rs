//! The checking Lean server of `serve`: a second Lean server, started with the user's command
//! at the first check, confined where the machine allows, behind an in-process proxy
//! ([`crate::launch::lean_process`]). [`IsolatedChecker`] is the pipeline's checker on top of it.
//!
//! Invariants: the user's Lean server never receives a shadow document (goals at the user's
//! own holes are still asked of it: they concern the user's document, not a candidate); the
//! checking server is started at most once per session, and a failure to start it turns proving
//! off for the session with one message, never touching the user's server.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OnceCell, watch};

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

/// A Lean server for candidate checks only, started on first use.
pub struct CheckingServer {
    command_line: Vec<String>,
    root: PathBuf,
    started: OnceCell<Result<LeanHandle, String>>,
    process: Mutex<Option<LeanProcess>>,
}

impl CheckingServer {
    /// A checking server for the project at `root`, to be started as `command_line` (the same
    /// command as the user's Lean server).
    pub fn new(command_line: Vec<String>, root: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            command_line,
            root,
            started: OnceCell::new(),
            process: Mutex::new(None),
        })
    }

    /// The project folder the server runs in.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The handle of the running server; the first call starts it. `Err` says why it could not
    /// start (the same answer for every later call).
    pub async fn lean(&self) -> Result<LeanHandle, String> {
        self.started.get_or_init(|| self.start()).await.clone()
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

    /// Shuts the server down (if it was started) and waits a little for it to end.
    pub async fn stop(&self) {
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
    checker: OnceCell<Result<LeanChecker, String>>,
    proving_off: Box<dyn Fn(&str) + Send + Sync>,
}

impl IsolatedChecker {
    /// A checker on `server` configured by `config`; `user_lean` is the user's own server (for
    /// goals only), `user_busy` and `sources` as for [`LeanChecker::from_config`], and
    /// `proving_off` tells the user, once, that the server could not start.
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
            checker: OnceCell::new(),
            proving_off: Box::new(proving_off),
        }
    }

    async fn checker(&self) -> Result<&LeanChecker, &str> {
        self.checker
            .get_or_init(|| async {
                let parts = &self.parts;
                let built = match self.server.lean().await {
                    Ok(lean) => LeanChecker::from_config(
                        lean,
                        &file_uri(&self.server.root),
                        &parts.config,
                        parts.user_busy.clone(),
                        parts.sources.clone(),
                    )
                    .map(|checker| checker.asking_goals_of(parts.user_lean.clone()))
                    .map_err(|error| format!("the checking Lean server is gone: {error}")),
                    Err(why) => Err(why),
                };
                if let Err(why) = &built {
                    tracing::error!("proving is off for this session: {why}");
                    (self.proving_off)(why);
                }
                built
            })
            .await
            .as_ref()
            .map_err(String::as_str)
    }
}

impl Checker for IsolatedChecker {
    async fn check(&self, target: &Target, proof: &str, mode: CheckMode) -> PipelineVerdict {
        match self.checker().await {
            Ok(checker) => checker.check(target, proof, mode).await,
            // Nothing can be checked in this session: the job ends with why.
            Err(why) => {
                PipelineVerdict::rejected(RejectKind::Unavailable, format!("proving is off: {why}"))
            }
        }
    }

    async fn check_together(
        &self,
        doc: &str,
        version: i32,
        fills: &[(HoleId, String)],
    ) -> PipelineVerdict {
        match self.checker().await {
            Ok(checker) => checker.check_together(doc, version, fills).await,
            Err(why) => {
                PipelineVerdict::rejected(RejectKind::Unavailable, format!("proving is off: {why}"))
            }
        }
    }

    async fn goal_at(&self, target: &Target) -> Option<GoalSpec> {
        self.checker().await.ok()?.goal_at(target).await
    }
}
