//! `$/sorryfill/status`: what sorryfill is doing, for the editor's status line.
//!
//! Invariants: the status is computed from [`EditorState`] alone, so the notification and
//! `sorryfill.getStatus` always agree; the reporter sends one right after the editor's
//! `initialized` (the router drops the proxy's messages before it) and then only when the
//! status changed, at most one per [`MIN_INTERVAL`], always the latest.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::state::EditorState;
use crate::config::Config;
use crate::holes::HoleKind;
use crate::pipeline::JobState;
use crate::router::EditorHandle;

/// The notification's method.
pub const STATUS_METHOD: &str = "$/sorryfill/status";

/// Shortest time between two status notifications.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// How long to wait between two looks at a model endpoint that could not be reached.
const PROBE_RETRY: Duration = Duration::from_secs(15);

/// The overall state, most important first: `off` hides everything else, then
/// `unreachable`, `proving`, `ready`, `idle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    /// Nothing running and no proof waiting.
    Idle,
    /// At least one hole is being proved.
    Proving,
    /// At least one verified proof waits to be applied.
    Ready,
    /// A configured model endpoint cannot be reached.
    Unreachable,
    /// sorryfill is off for this session (a configuration it cannot use).
    Off,
}

/// The params of `$/sorryfill/status` and the result of `sorryfill.getStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The overall state.
    pub state: StatusState,
    /// Holes sorryfill may fill in the open documents.
    pub holes: usize,
    /// Of those, how many are being proved (queued included).
    pub proving: usize,
    /// How many have a verified proof for the document's current version.
    pub ready: usize,
    /// How many ended without a proof.
    pub failed: usize,
    /// One human line.
    pub message: String,
    /// The log file of `sorryfill serve`, when it has one.
    pub log: Option<String>,
}

impl EditorState {
    /// The current status.
    pub fn status(&self) -> Status {
        let inner = self.read();
        let (mut holes, mut proving, mut ready, mut failed) = (0, 0, 0, 0);
        for (uri, doc) in &inner.documents {
            for hole in doc.index().holes() {
                if hole.kind != HoleKind::Sorry || doc.index().role(hole).reason().is_some() {
                    continue;
                }
                holes += 1;
                if inner
                    .blocked
                    .get(uri)
                    .is_some_and(|blocked| blocked.contains_key(&hole.id))
                {
                    failed += 1;
                    continue;
                }
                let job = inner
                    .jobs
                    .values()
                    .find(|slot| &slot.uri == uri && slot.hole == hole.id);
                match job.map(|slot| &slot.state) {
                    Some(JobState::Verified { version, .. }) if *version == doc.version() => {
                        ready += 1;
                    }
                    Some(JobState::Failed { .. }) => failed += 1,
                    Some(state) if !state.is_final() => proving += 1,
                    _ => {}
                }
            }
        }
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let (state, message) = if let Some(reason) = &inner.off {
            (StatusState::Off, format!("off: {reason}"))
        } else if let Some(endpoint) = &inner.unreachable {
            (StatusState::Unreachable, endpoint.clone())
        } else if proving > 0 {
            let mut message = format!("proving {proving}/{}", plural(holes, "hole", "holes"));
            if ready > 0 {
                message.push_str(&format!(", {ready} ready"));
            }
            (StatusState::Proving, message)
        } else if ready > 0 {
            let message = format!("{} ready", plural(ready, "proof", "proofs"));
            (StatusState::Ready, message)
        } else if holes == 0 {
            (StatusState::Idle, "no holes".to_owned())
        } else {
            let mut message = plural(holes, "hole", "holes");
            if failed > 0 {
                message.push_str(&format!(", {failed} not proved"));
            }
            (StatusState::Idle, message)
        };
        Status {
            state,
            holes,
            proving,
            ready,
            failed,
            message,
            log: inner.log.clone(),
        }
    }

    /// Turns sorryfill off for the session, saying why.
    pub fn set_off(&self, reason: String) {
        self.lock().off = Some(reason);
    }

    /// Names the log file in the status.
    pub fn set_log(&self, log: Option<String>) {
        self.lock().log = log;
    }

    fn set_unreachable(&self, endpoint: Option<String>) {
        if self.read().unreachable != endpoint {
            self.lock().unreachable = endpoint;
        }
    }
}

/// Sends `$/sorryfill/status` to the editor: once now, then on every change of `state`
/// (coalesced). Runs until the router stops.
pub async fn report_status(state: EditorState, editor: EditorHandle) {
    let mut changes = state.changes();
    let mut last: Option<Value> = None;
    loop {
        changes.mark_unchanged();
        let status = state.status();
        match serde_json::to_value(&status) {
            Ok(params) if last.as_ref() != Some(&params) => {
                if !editor.notify(STATUS_METHOD, params.clone()) {
                    return;
                }
                last = Some(params);
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "could not serialise the status"),
        }
        tokio::time::sleep(MIN_INTERVAL).await;
        if !changes.has_changed().unwrap_or(false) && changes.changed().await.is_err() {
            return;
        }
    }
}

/// Keeps the `unreachable` part of the status true: looks at every configured model
/// endpoint now, again every [`PROBE_RETRY`] while one cannot be reached, and again when a
/// job fails (a model that went away makes jobs fail).
pub async fn watch_endpoints(state: EditorState, config: &Config) {
    let endpoints: Vec<(&str, String)> = [
        ("prover", &config.prover),
        ("decomposer", &config.decomposer),
    ]
    .into_iter()
    .filter_map(|(role, model)| model.as_ref().map(|m| (role, m.base_url.clone())))
    .collect();
    if endpoints.is_empty() {
        return;
    }
    let mut changes = state.changes();
    let mut failed = state.status().failed;
    loop {
        let mut down = None;
        for (role, url) in &endpoints {
            if let Err(why) = probe(url).await {
                let shown = crate::cli::doctor::mask_url(url);
                down = Some(format!("unreachable: {role} endpoint {shown}: {why}"));
                break;
            }
        }
        let is_down = down.is_some();
        state.set_unreachable(down);
        if is_down {
            tokio::time::sleep(PROBE_RETRY).await;
            continue;
        }
        // Reachable: look again only after a new failure, and not more often than the retry.
        loop {
            if changes.changed().await.is_err() {
                return;
            }
            let now = state.status().failed;
            let more = now > failed;
            failed = now;
            if more {
                break;
            }
        }
        tokio::time::sleep(PROBE_RETRY).await;
    }
}

/// Whether a TCP connection to the endpoint's host can be opened: a refused or timed-out
/// connection is what "unreachable" means; anything an HTTP server answers is not.
async fn probe(base_url: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(base_url).map_err(|error| error.to_string())?;
    let host = url.host_str().ok_or("the URL has no host")?.to_owned();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("cannot connect ({error})")),
        Err(_) => Err("no connection within 5 s".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editor::state::JobSlot;
    use crate::holes::DocumentSnapshot;
    use crate::router::{EditorCommand, Event};
    use std::sync::Arc;
    use tokio::sync::mpsc;

    const URI: &str = "file:///a.lean";
    const TEXT: &str = "theorem t : 1 = 1 := by\n  sorry\n\ntheorem u : 2 = 2 := by\n  sorry\n\ntheorem s : (sorry : Prop) := trivial\n";

    /// `TEXT` at version 3, with the jobs of `t` and `u` in these states.
    fn state_with(t: JobState, u: JobState) -> EditorState {
        let state = EditorState::new();
        let snapshot = DocumentSnapshot::new(3, TEXT);
        let ids: Vec<_> = snapshot
            .index()
            .holes()
            .iter()
            .map(|hole| hole.id.clone())
            .collect();
        let mut inner = state.lock();
        inner.documents.insert(URI.into(), Arc::new(snapshot));
        for (slot, (hole, job)) in ids.into_iter().zip([t, u]).enumerate() {
            let slot = u64::try_from(slot).unwrap_or_default();
            inner.jobs.insert(
                slot,
                JobSlot {
                    uri: URI.into(),
                    hole,
                    state: job,
                },
            );
        }
        drop(inner);
        state
    }

    fn verified_at(version: i32) -> JobState {
        JobState::Verified {
            proof: "rfl".into(),
            version,
        }
    }

    #[test]
    fn counts_cover_only_fillable_holes_and_the_state_follows_the_precedence() {
        let state = state_with(verified_at(3), JobState::Tactics);
        let status = state.status();
        assert_eq!(
            (status.holes, status.proving, status.ready, status.failed),
            (2, 1, 1, 0),
            "the statement's sorry is not counted"
        );
        assert_eq!(status.state, StatusState::Proving);
        assert_eq!(status.message, "proving 1/2 holes, 1 ready");

        let failed = JobState::Failed {
            reason: "no".into(),
        };
        let state = state_with(verified_at(3), failed.clone());
        assert_eq!(state.status().state, StatusState::Ready);
        assert_eq!(state.status().message, "1 proof ready");
        // A proof for another version is not ready.
        let state = state_with(verified_at(2), failed);
        assert_eq!(state.status().state, StatusState::Idle);
        assert_eq!(state.status().message, "2 holes, 1 not proved");

        state.set_unreachable(Some("unreachable: prover endpoint x".into()));
        assert_eq!(state.status().state, StatusState::Unreachable);
        state.set_off("bad key".into());
        let status = state.status();
        assert_eq!(status.state, StatusState::Off);
        assert_eq!(status.message, "off: bad key");
        assert_eq!(serde_json::to_value(&status).expect("JSON")["state"], "off");
    }

    /// Many changes in a burst make one notification with the latest status, not one each.
    #[tokio::test(start_paused = true)]
    async fn a_burst_of_changes_is_one_notification_with_the_latest_status() {
        let state = state_with(JobState::Queued, JobState::Queued);
        let (events, mut received) = mpsc::unbounded_channel();
        tokio::spawn(report_status(state.clone(), EditorHandle::new(events)));
        let mut statuses = Vec::new();
        let mut next = async || match received.recv().await {
            Some(Event::Editor(EditorCommand::Notify { method, params })) => {
                assert_eq!(method, STATUS_METHOD);
                params
            }
            other => panic!("not a status: {other:?}"),
        };
        statuses.push(next().await);
        // Each change differs from the one before, and the reporter gets to run in between.
        for round in 0..20 {
            let job = if round % 2 == 0 {
                verified_at(3)
            } else {
                JobState::Queued
            };
            if let Some(slot) = state.lock().jobs.get_mut(&0) {
                slot.state = job;
            }
            tokio::task::yield_now().await;
        }
        state.set_off("gone".into());
        statuses.push(next().await);
        tokio::time::sleep(MIN_INTERVAL * 5).await;
        assert!(received.try_recv().is_err(), "nothing more: {statuses:?}");
        assert_eq!(statuses[0]["state"], "proving");
        assert_eq!(statuses[1]["state"], "off");
    }
}
