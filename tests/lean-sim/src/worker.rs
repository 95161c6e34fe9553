//! One document's worker: elaborates each version command by command and reports like Lean's
//! file worker.
//!
//! Invariants: nothing is published for a version older than the newest one the server received
//! (`latest`); commands before the first changed byte are reused with their messages; the header
//! is loaded once per worker unless its text changes; reports come in Lean's order (a version
//! that finished inside `reportDelayMs` says done first and then publishes once; one that
//! blocked publishes as it goes and then says done), and only after both is the version marked
//! done, so `waitForDiagnostics` is answered after every publish of it.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::syntax::{CommandKind, LineIndex};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::elab::{self, CommandResult, Context, Diagnostic};
use crate::shared::Shared;

/// Where a document's elaboration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A version is being elaborated.
    Working,
    /// `version` is fully elaborated and reported.
    Done,
    /// The worker crashed; it restarts on the next `didChange`.
    Crashed,
    /// The document was closed.
    Closed,
}

/// What requests see of a document.
#[derive(Debug, Clone)]
pub struct DocState {
    /// The version of `text`.
    pub version: i64,
    /// Whether that version is done.
    pub phase: Phase,
    /// How many times the worker crashed (requests pending across a crash fail with -32902).
    pub crashes: u64,
    /// The text of `version`.
    pub text: Arc<String>,
    /// The results of `text`'s commands (complete once `phase` is `Done`).
    pub results: Arc<Vec<CommandResult>>,
}

/// A version of a document's text.
pub type TextVersion = (i64, Arc<String>);

enum Outcome {
    Done,
    Superseded,
    Stopped,
}

/// The worker task of one document.
pub struct Worker {
    shared: Arc<Shared>,
    uri: String,
    texts: watch::Receiver<TextVersion>,
    state: Arc<watch::Sender<DocState>>,
    latest: Arc<AtomicI64>,
    loaded_header: Option<String>,
    /// The imports could not be set up (out of date, not built): every version fails.
    header_failed: bool,
    /// `dependencyBuildMode` of the didOpen.
    build_mode: BuildMode,
    /// This worker was restarted (a header change): `once` no longer builds.
    restarted: bool,
    previous: Option<(Arc<String>, Vec<CommandResult>)>,
}

/// How long a worker waits before exiting for a header change (Lean's `setupImports`).
const HEADER_RESTART_MS: u64 = 200;

/// The `dependencyBuildMode` of a didOpen (protocol §3); absent means `always`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildMode {
    /// Lake builds stale imports on every worker start.
    Always,
    /// Only the first worker start builds.
    Once,
    /// `lake setup-file --no-build`: stale imports are a header error.
    Never,
}

impl BuildMode {
    /// Reads the didOpen field.
    pub fn parse(field: Option<&str>) -> Self {
        match field {
            Some("never") => BuildMode::Never,
            Some("once") => BuildMode::Once,
            _ => BuildMode::Always,
        }
    }
}

/// Lean's header error when `lake setup-file --no-build` finds stale imports.
fn imports_out_of_date(index: &LineIndex, header_end: usize) -> Diagnostic {
    let _ = index;
    Diagnostic {
        range: 0..header_end,
        severity: 1,
        message: "Imports are out of date and must be rebuilt; use the \"Restart File\" command in your editor.".to_owned(),
        code: None,
        lean_tag: None,
        silent: false,
        keep_full_range: false,
    }
}

impl Worker {
    /// A worker for `uri`, reading versions from `texts` and reporting through `state`.
    pub fn new(
        shared: Arc<Shared>,
        uri: String,
        texts: watch::Receiver<TextVersion>,
        state: Arc<watch::Sender<DocState>>,
        latest: Arc<AtomicI64>,
        build_mode: BuildMode,
    ) -> Self {
        Worker {
            shared,
            uri,
            texts,
            state,
            latest,
            loaded_header: None,
            header_failed: false,
            build_mode,
            restarted: false,
            previous: None,
        }
    }

    /// `lake setup-file` for the imports: with `--imports-out-of-date`, a start that builds
    /// shows Lake's progress lines as transient information diagnostics (then an empty
    /// publish clears them) and the imports are fresh from then on; one that may not build
    /// fails. Returns whether the imports are usable.
    fn set_up_imports(
        &self,
        version: i64,
        index: &LineIndex,
        commands: &[crate::syntax::Command],
        tokens: &[crate::syntax::Token],
    ) -> bool {
        let modules: Vec<String> = commands
            .iter()
            .take_while(|command| command.kind == CommandKind::Import)
            .filter(|command| command.keyword == "import")
            .filter_map(|command| {
                tokens
                    .iter()
                    .filter(|t| {
                        t.span.start >= command.span.start && t.span.end <= command.syntax_end
                    })
                    .filter(|t| t.is_code())
                    .nth(1)
                    .map(|t| t.text(index.text()).to_owned())
            })
            .collect();
        if modules.is_empty() || !self.shared.imports_out_of_date() {
            return true;
        }
        let builds = match self.build_mode {
            BuildMode::Always => true,
            BuildMode::Once => !self.restarted,
            BuildMode::Never => false,
        };
        if !builds {
            return false;
        }
        let whole = 0..index.text().len();
        let line_one = index.offset(crate::syntax::Position::new(1, 0));
        let mut lines = Vec::new();
        for (n, module) in modules.iter().enumerate() {
            lines.push(Diagnostic {
                range: 0..line_one.min(whole.end),
                severity: 3,
                message: format!("✔ [{}/{}] Built {module}", n + 1, modules.len()),
                code: None,
                lean_tag: None,
                silent: false,
                keep_full_range: false,
            });
            let shown: Vec<&Diagnostic> = lines.iter().collect();
            self.publish_lake(version, index, &shown);
        }
        self.publish_lake(version, index, &[]);
        self.shared.mark_imports_built();
        true
    }

    /// Lake's lines: `range` 0:0–1:0, `fullRange` the whole file.
    fn publish_lake(&self, version: i64, index: &LineIndex, lines: &[&Diagnostic]) {
        if !self.current(version) {
            return;
        }
        let end = lsp_position(index, index.text().len());
        let diagnostics: Vec<Value> = lines
            .iter()
            .map(|d| {
                let mut value = diagnostic_json(index, d);
                value["range"] = json!({"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}});
                value["fullRange"] = json!({"start": {"line": 0, "character": 0}, "end": end});
                value
            })
            .collect();
        self.shared.notify(
            "textDocument/publishDiagnostics",
            json!({"uri": self.uri, "version": version, "diagnostics": diagnostics}),
        );
    }

    /// Elaborates versions until the document is closed or the worker crashes.
    pub async fn run(mut self) {
        loop {
            let (version, text) = self.texts.borrow_and_update().clone();
            match self.elaborate(version, text).await {
                Outcome::Done => {
                    if self.texts.changed().await.is_err() {
                        return;
                    }
                }
                Outcome::Superseded => {
                    // A closed channel means the document was closed.
                    if self.texts.has_changed().is_err() {
                        return;
                    }
                }
                Outcome::Stopped => return,
            }
        }
    }

    fn current(&self, version: i64) -> bool {
        self.latest.load(Ordering::SeqCst) <= version
    }

    fn progress(&self, version: i64, index: &LineIndex, range: Option<Range<usize>>, kind: u8) {
        if !self.current(version) {
            return;
        }
        let processing = match range {
            Some(range) => json!([{"range": lsp_range(index, &range), "kind": kind}]),
            None => json!([]),
        };
        self.shared.notify(
            "$/lean/fileProgress",
            json!({"textDocument": {"uri": self.uri, "version": version}, "processing": processing}),
        );
    }

    fn publish(
        &self,
        version: i64,
        index: &LineIndex,
        diagnostics: &[&Diagnostic],
        incremental: bool,
    ) {
        if !self.current(version) {
            return;
        }
        let mut params = json!({
            "uri": self.uri,
            "version": version,
            "diagnostics": diagnostics.iter().map(|d| diagnostic_json(index, d)).collect::<Vec<_>>(),
        });
        if self.shared.incremental_diagnostics()
            && let Some(object) = params.as_object_mut()
        {
            object.insert("isIncremental".to_owned(), Value::Bool(incremental));
        }
        self.shared
            .notify("textDocument/publishDiagnostics", params);
    }

    async fn elaborate(&mut self, version: i64, text: Arc<String>) -> Outcome {
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        self.state.send_modify(|state| {
            state.version = version;
            state.phase = Phase::Working;
            state.text = Arc::clone(&text);
        });
        let tokens = crate::syntax::lex(&text);
        let commands = elab::commands(&text, &tokens);
        let header_end = commands
            .iter()
            .take_while(|command| command.kind == CommandKind::Import)
            .last()
            .map_or(0, |command| elab::code_end(&tokens, &command.span));
        let header = text[..header_end].to_owned();
        let index = LineIndex::new(&text);
        if let Some(loaded) = &self.loaded_header
            && *loaded != header
        {
            // A changed header restarts the worker in Lean: it exits (code 2) after 200 ms
            // unless a newer version comes first, and the watchdog starts a new one on the
            // current text, which imports again.
            tokio::time::sleep(Duration::from_millis(HEADER_RESTART_MS)).await;
            if self.texts.has_changed().unwrap_or(true) {
                return Outcome::Superseded;
            }
            self.restarted = true;
            self.loaded_header = None;
            self.header_failed = false;
            shared.count(&self.uri, |stats| stats.worker_restarts += 1);
            self.publish(version, &index, &[], false);
            self.progress(version, &index, Some(0..text.len()), 1);
        }
        // Lean's reporter starts with the version and first looks after `reportDelayMs`.
        let mut reporter = Reporter::new(config.effective_report_delay_ms());
        if self.loaded_header.is_none() {
            self.header_failed = !self.set_up_imports(version, &index, &commands, &tokens);
        }
        if self.header_failed {
            // A failed header is fatal for every version of this worker.
            let failure = imports_out_of_date(&index, header_end);
            self.publish(version, &index, &[&failure], false);
            self.progress(version, &index, Some(0..text.len()), 2);
            let finished = Arc::new(vec![CommandResult {
                span: 0..header_end,
                text: header.clone(),
                is_declaration: false,
                name: None,
                full_name: None,
                axioms: None,
                universal_axiom: false,
                diagnostics: vec![failure],
            }]);
            self.loaded_header = Some(header);
            self.state.send_modify(|state| {
                if state.version == version {
                    state.phase = Phase::Done;
                    state.results = finished;
                }
            });
            return Outcome::Done;
        }
        if self.loaded_header.as_deref() != Some(header.as_str()) {
            self.previous = None;
            self.elaboration_time(
                &mut reporter,
                version,
                &LineIndex::new(&text),
                &[],
                0,
                config.import_ms,
            )
            .await;
            shared.count(&self.uri, |stats| stats.header_loads += 1);
            shared.log(&format!("header-load uri={} version={version}", self.uri));
            if let Some(dir) = &config.fault_escape_dir {
                shared.log(&crate::escape::attempt(
                    dir,
                    config.fault_escape_connect.as_deref(),
                ));
            }
            self.loaded_header = Some(header);
        }
        // The crash happens after the imports are loaded, while elaborating the body.
        if config
            .crash_marker
            .as_ref()
            .is_some_and(|marker| text.contains(marker.as_str()))
        {
            eprintln!(
                "[{}] lean-sim: simulated worker crash (--crash-marker)",
                self.uri
            );
            self.progress(version, &index, Some(0..text.len()), 2);
            self.state.send_modify(|state| {
                state.phase = Phase::Crashed;
                state.crashes += 1;
            });
            return Outcome::Stopped;
        }
        let first_change = self
            .previous
            .as_ref()
            .map_or(0, |(old, _)| common_prefix(old, &text));
        let mut results: Vec<CommandResult> = Vec::with_capacity(commands.len());
        if let Some((old_text, old_results)) = &self.previous {
            let unchanged = old_text.as_str() == text.as_str();
            for (command, old) in commands.iter().zip(old_results) {
                let same = old.span == command.span
                    && text.get(command.span.clone()) == Some(old.text.as_str());
                if same && (unchanged || command.span.end < first_change) {
                    results.push(old.clone());
                } else {
                    break;
                }
            }
        }
        let reused = results.len() as u64;
        shared.count(&self.uri, |stats| stats.commands_reused += reused);
        let context = Context {
            oracle: &shared.oracle,
            dialect: shared.dialect,
            silent_diagnostics: shared.silent_diagnostics(),
            print_axioms_refused_in_module: config.print_axioms_refused_in_module,
        };
        for command in commands.iter().skip(results.len()) {
            if self.texts.has_changed().unwrap_or(true) {
                return Outcome::Superseded;
            }
            reporter.catch_up(self, version, &index, &results, Some(command.span.start));
            if shared.config.refresh_requests {
                shared.request("workspace/semanticTokens/refresh");
            }
            let command_text = text.get(command.span.clone()).unwrap_or("");
            if config
                .hang_marker
                .as_ref()
                .is_some_and(|marker| command_text.contains(marker.as_str()))
            {
                // A hung elaboration only ends when a newer version cancels it; the reporter
                // blocks on it and publishes what it has.
                if !reporter.blocked {
                    tokio::select! {
                        () = tokio::time::sleep_until(reporter.deadline) => {}
                        changed = self.texts.changed() => return match changed {
                            Ok(()) => Outcome::Superseded,
                            Err(_) => Outcome::Stopped,
                        },
                    }
                    reporter.catch_up(self, version, &index, &results, Some(command.span.start));
                }
                return match self.texts.changed().await {
                    Ok(()) => Outcome::Superseded,
                    Err(_) => Outcome::Stopped,
                };
            }
            if command.kind == CommandKind::Declaration {
                self.elaboration_time(
                    &mut reporter,
                    version,
                    &index,
                    &results,
                    command.span.start,
                    config.decl_ms,
                )
                .await;
                if self.texts.has_changed().unwrap_or(true) {
                    return Outcome::Superseded;
                }
                shared.count(&self.uri, |stats| stats.declarations_elaborated += 1);
                let name = command.name.as_ref().map_or("_", |(name, _)| name.as_str());
                shared.log(&format!(
                    "elaborate uri={} version={version} decl={name}",
                    self.uri
                ));
            }
            let result = elab::elaborate_command(&text, &tokens, command, &results, &context);
            results.push(result);
        }
        reporter.catch_up(self, version, &index, &results, None);
        let done = |worker: &Self| {
            worker.progress(version, &index, None, 1);
            if config.done_twice {
                worker.progress(version, &index, None, 1);
            }
        };
        if reporter.blocked {
            // A version that blocked has published as it went: done, and no final publish.
            done(self);
        } else {
            // Finished inside the report delay: the reporter wakes, says done first and only
            // then publishes the whole set once (Lean's `reportSnapshots`).
            tokio::time::sleep_until(reporter.deadline).await;
            if self.texts.has_changed().unwrap_or(true) {
                return Outcome::Superseded;
            }
            done(self);
            let all: Vec<&Diagnostic> = results.iter().flat_map(|r| r.diagnostics.iter()).collect();
            self.publish(version, &index, &all, false);
        }
        shared.count(&self.uri, |stats| stats.versions_finished += 1);
        let finished = Arc::new(results.clone());
        self.previous = Some((Arc::clone(&text), results));
        self.state.send_modify(|state| {
            if state.version == version {
                state.phase = Phase::Done;
                state.results = finished;
            }
        });
        Outcome::Done
    }
}

/// Lean's diagnostics reporter for one version (`reportSnapshots`): it wakes `reportDelayMs`
/// after the version started. If elaboration is still running then, it has "blocked": it
/// publishes everything found so far and from then on publishes each command's messages and
/// progress as they come, then says done. If elaboration finished first, the worker sends done
/// and then the one publish of the whole set.
struct Reporter {
    deadline: tokio::time::Instant,
    blocked: bool,
    /// How many command results have been published.
    published: usize,
}

impl Reporter {
    fn new(delay_ms: u64) -> Self {
        Reporter {
            deadline: tokio::time::Instant::now() + Duration::from_millis(delay_ms),
            blocked: false,
            published: 0,
        }
    }

    /// Publishes what the reporter has not yet seen, if it is awake: on its first wake the
    /// whole set so far (replacing), afterwards the new messages of each finished command.
    /// `next` is where elaboration stands (`None` once it is finished).
    fn catch_up(
        &mut self,
        worker: &Worker,
        version: i64,
        index: &LineIndex,
        results: &[CommandResult],
        next: Option<usize>,
    ) {
        if !self.blocked {
            if tokio::time::Instant::now() < self.deadline || next.is_none() {
                return;
            }
            self.blocked = true;
            let all: Vec<&Diagnostic> = results.iter().flat_map(|r| r.diagnostics.iter()).collect();
            worker.publish(version, index, &all, false);
            self.published = results.len();
        }
        let fresh = results.get(self.published..).unwrap_or_default();
        if fresh.iter().any(|r| !r.diagnostics.is_empty()) {
            if worker.shared.incremental_diagnostics() {
                let new: Vec<&Diagnostic> =
                    fresh.iter().flat_map(|r| r.diagnostics.iter()).collect();
                worker.publish(version, index, &new, true);
            } else {
                let all: Vec<&Diagnostic> =
                    results.iter().flat_map(|r| r.diagnostics.iter()).collect();
                worker.publish(version, index, &all, false);
            }
        }
        self.published = results.len();
        if let Some(next) = next {
            worker.progress(version, index, Some(next..index.text().len()), 1);
        }
    }
}

impl Worker {
    /// Spends `ms` of elaboration time, letting the reporter wake in the middle of it.
    async fn elaboration_time(
        &self,
        reporter: &mut Reporter,
        version: i64,
        index: &LineIndex,
        results: &[CommandResult],
        at: usize,
        ms: u64,
    ) {
        let until = tokio::time::Instant::now() + Duration::from_millis(ms);
        if !reporter.blocked && reporter.deadline < until {
            tokio::time::sleep_until(reporter.deadline).await;
            reporter.catch_up(self, version, index, results, Some(at));
        }
        tokio::time::sleep_until(until).await;
    }
}

fn common_prefix(old: &str, new: &str) -> usize {
    old.bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count()
}

/// An LSP range for a byte range.
pub fn lsp_range(index: &LineIndex, range: &Range<usize>) -> Value {
    json!({"start": lsp_position(index, range.start), "end": lsp_position(index, range.end)})
}

/// An LSP position for a byte offset.
pub fn lsp_position(index: &LineIndex, byte: usize) -> Value {
    let position = index.position(byte);
    json!({"line": position.line, "character": position.character})
}

/// A diagnostic as Lean sends it: `range` cut at the next line for multi-line messages unless
/// the message keeps its full range (parse errors).
pub fn diagnostic_json(index: &LineIndex, diagnostic: &Diagnostic) -> Value {
    let start = index.position(diagnostic.range.start);
    let end = index.position(diagnostic.range.end);
    let range = if end.line > start.line && !diagnostic.keep_full_range {
        json!({"start": {"line": start.line, "character": start.character},
               "end": {"line": start.line + 1, "character": 0}})
    } else {
        lsp_range(index, &diagnostic.range)
    };
    let mut value = json!({
        "range": range,
        "fullRange": lsp_range(index, &diagnostic.range),
        "severity": diagnostic.severity,
        "source": "Lean 4",
        "message": diagnostic.message,
    });
    if let Some(object) = value.as_object_mut() {
        if let Some(code) = diagnostic.code {
            object.insert("code".to_owned(), json!(code));
        }
        if let Some(tag) = diagnostic.lean_tag {
            object.insert("leanTags".to_owned(), json!([tag]));
        }
        if diagnostic.silent {
            object.insert("isSilent".to_owned(), json!(true));
        }
    }
    value
}
