//! Checking candidates with Lean itself, in shadow documents on the user's own Lean server.
//!
//! [`ShadowChecker`] runs the static gate, splices the candidate, elaborates the shadow text in
//! the [`ShadowPool`] and judges Lean's report of exactly that version. [`LeanChecker`]
//! implements the pipeline's [`Checker`] on top, and [`SourceDocuments`] tracks the editor's
//! documents it checks against.
//!
//! Invariants:
//! - a candidate reaches Lean only after [`scan_candidate`] and [`splice`] accepted it;
//! - a verdict is judged on the final diagnostics of exactly the version that was sent (the
//!   pool guarantees it);
//! - a verdict is `Stale` unless the hole's source version is still current when it is ready.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use lean_syntax::{Lexer, LineIndex, TokenKind, lex};
use tokio::sync::watch;

use super::gate::{
    GatePolicy, GateRejection, GateVerdict, RejectReason, scan_candidate, scan_focused_candidate,
    scan_self_reference,
};
pub use super::judgement::GateMode;
use super::judgement::{Judged, judge, judge_messages};
pub use super::shadow::CheckerStats;
use super::shadow::{Elaborated, PoolLimits, ShadowPool};
use super::splice::{Shadow, SourceText, fresh_nonce, shadow_text, splice_in, splice_together_in};
use crate::config::VerifyConfig;
use crate::holes::{DocumentSnapshot, HoleId, HolePosition, parse_goal};
use crate::lean::{DocumentEvent, LeanDiagnostic, LeanError, LeanHandle};
use crate::pipeline::{self, CheckMode, Checker, GoalSpec, RejectKind, Target};

/// Answers "which version of this editor document is current?" (`None` when it is closed).
pub type CurrentVersion = Arc<dyn Fn(&str) -> Option<i32> + Send + Sync>;

/// How a [`ShadowChecker`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckerSettings {
    /// Shadow documents checked at once (at least one).
    pub workers: usize,
    /// Wall-clock limit of one check, from the `didChange` to the verdict.
    pub timeout: Duration,
    /// Wall-clock limit of loading the imports of a new shadow document, before its checks.
    pub import_timeout: Duration,
    /// What the user allows beyond the strict default.
    pub policy: GatePolicy,
}

impl CheckerSettings {
    /// The settings of the `[verify]` section.
    pub fn from_config(config: &VerifyConfig) -> Self {
        Self {
            workers: config.workers.max(1),
            timeout: Duration::from_secs(config.timeout_s.max(1)),
            import_timeout: Duration::from_secs(config.import_timeout_s.max(1)),
            policy: GatePolicy {
                allow_native_decide: config.allow_native_decide,
                allowed_axioms: config.allowed_axioms.clone(),
            },
        }
    }
}

impl Default for CheckerSettings {
    fn default() -> Self {
        Self::from_config(&VerifyConfig::default())
    }
}

/// One candidate to check: where the hole is and what goes into it.
#[derive(Debug, Clone)]
pub struct CheckRequest<'a> {
    /// The editor's URI of the source document.
    pub source_uri: &'a str,
    /// The source at `hole_version`, read once (see [`SourceText`]).
    pub source: &'a SourceText<'a>,
    /// The version of the source the hole was found in.
    pub hole_version: i32,
    /// Byte range of the `sorry` token in `source_text`.
    pub hole_span: Range<usize>,
    /// Tactic or term hole.
    pub hole_position: HolePosition,
    /// Byte range of the declaration around the hole in `source_text`.
    pub declaration: Range<usize>,
    /// The proof body to splice in place of the hole.
    pub proof: &'a str,
    /// How strictly to judge.
    pub mode: GateMode,
}

/// A verdict with what Lean said about the proof beyond accepting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// The gate's verdict.
    pub verdict: GateVerdict,
    /// Lean's own `Try this:` suggestion inside the proof (from `exact?` and friends).
    pub suggestion: Option<String>,
}

/// Checks candidates in a pool of shadow documents on the user's Lean server. Cheap to clone;
/// clones share the pool. Make ONE per proxy session (see [`ShadowPool`]).
#[derive(Clone)]
pub struct ShadowChecker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ShadowChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowChecker")
            .field("pool", &self.inner.pool)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

struct Inner {
    pool: ShadowPool,
    settings: CheckerSettings,
    current_version: CurrentVersion,
}

impl ShadowChecker {
    /// A checker whose shadow documents live below `root_uri` (the project root as a `file://`
    /// URI, e.g. from [`crate::documents::file_uri`]). Registers every slot's URI prefix as
    /// private at once. Checks wait while `user_busy` is `true`; `current_version` decides
    /// staleness.
    pub fn new(
        lean: LeanHandle,
        root_uri: &str,
        settings: CheckerSettings,
        user_busy: watch::Receiver<bool>,
        current_version: CurrentVersion,
    ) -> Result<Self, LeanError> {
        let limits = PoolLimits {
            workers: settings.workers,
            check_timeout: settings.timeout,
            import_timeout: settings.import_timeout,
        };
        let pool = ShadowPool::new(lean, root_uri, limits, user_busy)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                settings,
                current_version,
            }),
        })
    }

    /// The URI prefix under which every shadow document lives.
    pub fn shadow_prefix(&self) -> String {
        self.inner.pool.shadow_prefix()
    }

    /// What has been sent to Lean so far.
    pub fn stats(&self) -> CheckerStats {
        self.inner.pool.stats()
    }

    /// The settings in force.
    pub fn settings(&self) -> &CheckerSettings {
        &self.inner.settings
    }

    /// Checks one candidate and returns the gate's verdict.
    pub async fn check(&self, request: &CheckRequest<'_>) -> GateVerdict {
        self.check_with_suggestion(request).await.verdict
    }

    /// Checks one candidate; also returns Lean's `Try this:` suggestion inside the proof.
    pub async fn check_with_suggestion(&self, request: &CheckRequest<'_>) -> CheckOutcome {
        match self.run(request).await {
            Ok((verdict, suggestion)) => match self.stale(request) {
                Some(stale) => rejected(stale),
                None => CheckOutcome {
                    verdict,
                    suggestion,
                },
            },
            Err(rejection) => rejected(rejection),
        }
    }

    fn stale(&self, request: &CheckRequest<'_>) -> Option<GateRejection> {
        let current = (self.inner.current_version)(request.source_uri);
        (current != Some(request.hole_version)).then(|| {
            GateRejection::new(RejectReason::Stale {
                hole_version: request.hole_version,
                current_version: current.unwrap_or(-1),
            })
        })
    }

    async fn run(
        &self,
        request: &CheckRequest<'_>,
    ) -> Result<(GateVerdict, Option<String>), GateRejection> {
        if let Some(stale) = self.stale(request) {
            return Err(stale);
        }
        let policy = &self.inner.settings.policy;
        match request.mode {
            GateMode::Full => scan_candidate(request.proof, policy)?,
            GateMode::Sketch => scan_candidate(&mask_sorries(request.proof), policy)?,
        }
        let spliced = splice_in(
            request.source,
            request.hole_span.clone(),
            request.hole_position,
            request.proof,
        )?;
        if spliced.focused && request.mode == GateMode::Full {
            scan_focused_candidate(request.proof)?;
        }
        let shadow = shadow_text(
            request.source.text(),
            request.declaration.clone(),
            &spliced,
            &fresh_nonce(),
        )?;
        scan_self_reference(request.proof, &shadow.full_name)?;

        let elaborated = self
            .inner
            .pool
            .elaborate(request.source_uri, &shadow.text)
            .await?;
        let (judged, elapsed) = self
            .judge_report(request.source_uri, &shadow, elaborated, request.mode)
            .await?;
        Ok((
            GateVerdict::Verified {
                proof: spliced.inserted().to_owned(),
                axioms: judged.axioms,
                elapsed,
            },
            judged.suggestion,
        ))
    }

    /// Judges Lean's report of `shadow`; returns the judgement and the time Lean took. In a
    /// `module` whose Lean refuses `#print axioms`, the module's own messages give Lean's
    /// verdict and a companion shadow without the `module` keyword gives the axioms (see
    /// [`axioms_companion`]); both must pass.
    async fn judge_report(
        &self,
        source_uri: &str,
        shadow: &Shadow,
        elaborated: Elaborated,
        mode: GateMode,
    ) -> Result<(Judged, Duration), GateRejection> {
        let policy = &self.inner.settings.policy;
        if !refuses_print_axioms_in_module(shadow, &elaborated.diagnostics) {
            let judged = judge(
                shadow,
                &elaborated.diagnostics,
                &elaborated.symbols,
                mode,
                policy,
            )?;
            return Ok((judged, elaborated.elapsed));
        }
        let diagnostics: Vec<LeanDiagnostic> = elaborated
            .diagnostics
            .iter()
            .filter(|d| !is_module_refusal(d))
            .cloned()
            .collect();
        judge_messages(shadow, &diagnostics, &elaborated.symbols, mode)?;
        let companion = axioms_companion(shadow)
            .ok_or_else(|| GateRejection::new(RejectReason::AxiomsUnknown))?;
        let report = self
            .inner
            .pool
            .elaborate(&companion_source_uri(source_uri), &companion.text)
            .await?;
        let judged = judge(
            &companion,
            &report.diagnostics,
            &report.symbols,
            mode,
            policy,
        )?;
        Ok((judged, elaborated.elapsed + report.elapsed))
    }

    /// Checks several proofs for holes of ONE declaration together, as the exact text that
    /// would be written (each laid out as [`splice`] lays it out alone), with the whole gate:
    /// each proved alone beside the others' holes, but only the combination is what the user
    /// gets. `fills` are (hole span, kind, proof) in `source` at `hole_version`.
    pub async fn check_together(
        &self,
        source_uri: &str,
        source: &SourceText<'_>,
        hole_version: i32,
        declaration: Range<usize>,
        fills: &[(Range<usize>, HolePosition, &str)],
    ) -> GateVerdict {
        let current = (self.inner.current_version)(source_uri);
        let stale = || {
            GateRejection::new(RejectReason::Stale {
                hole_version,
                current_version: current.unwrap_or(-1),
            })
        };
        let checked = async {
            if current != Some(hole_version) {
                return Err(stale());
            }
            let policy = &self.inner.settings.policy;
            for (_, _, proof) in fills {
                scan_candidate(proof, policy)?;
            }
            let spliced = splice_together_in(source, fills)?;
            let shadow = shadow_text(source.text(), declaration, &spliced, &fresh_nonce())?;
            for (_, _, proof) in fills {
                if spliced.focused {
                    scan_focused_candidate(proof)?;
                }
                scan_self_reference(proof, &shadow.full_name)?;
            }
            let elaborated = self.inner.pool.elaborate(source_uri, &shadow.text).await?;
            let (judged, elapsed) = self
                .judge_report(source_uri, &shadow, elaborated, GateMode::Full)
                .await?;
            if (self.inner.current_version)(source_uri) != Some(hole_version) {
                return Err(stale());
            }
            Ok(GateVerdict::Verified {
                proof: spliced.text[spliced.proof_span.clone()].to_owned(),
                axioms: judged.axioms,
                elapsed,
            })
        };
        checked
            .await
            .unwrap_or_else(|rejection| GateVerdict::Rejected {
                reason: rejection.reason,
            })
    }
}

/// True when the shadow starts with a `module` header and Lean refused its appended
/// `#print axioms` for that reason, on our `#print` token. The refusal is an error, so the
/// judgement alone already rejects; this only decides whether to ask for the axioms another
/// way.
fn refuses_print_axioms_in_module(shadow: &Shadow, diagnostics: &[LeanDiagnostic]) -> bool {
    // Cheapest first: almost no check has such a refusal, and then no text is scanned.
    let refusals: Vec<&LeanDiagnostic> = diagnostics
        .iter()
        .filter(|d| is_module_refusal(d))
        .collect();
    if refusals.is_empty() || module_keyword(&shadow.text).is_none() {
        return false;
    }
    let print_at = LineIndex::new(&shadow.text).lsp_position(shadow.print_offset);
    refusals.iter().any(|d| d.range.start == print_at)
}

/// Lean's refusal of `#print axioms` in a `module` (some v4.2x releases; `Lean.Elab.Print`,
/// `elabPrintAxioms`).
fn is_module_refusal(diagnostic: &LeanDiagnostic) -> bool {
    diagnostic.is_error()
        && diagnostic
            .message
            .starts_with("cannot use `#print axioms` in a `module`")
}

/// Byte range of the `module` keyword that opens `text`, if it is a module.
fn module_keyword(text: &str) -> Option<Range<usize>> {
    // Lazily: only the leading trivia and the first token are lexed, not the whole shadow.
    let first = Lexer::new(text, 0).find(|token| !token.is_trivia())?;
    (first.text(text) == "module").then_some(first.span)
}

/// The shadow with its `module` keyword blanked (same length, so every offset and position
/// stays), for Lean releases that refuse `#print axioms` in a module.
///
/// Why this is the axioms check there: Lean refuses because a module sees only the exported
/// part of its imports, so `collectAxioms` could miss axioms behind imported proofs. The same
/// text as an ordinary file imports everything, so its `#print axioms` is complete. The
/// candidate must pass BOTH runs in full: the module run gives Lean's verdict in the user's
/// real context (errors, sorry), the companion gives the axioms, and it is judged by the
/// whole gate too (its own errors, sorry warning, the axiom report on its `#print` token).
/// What remains is that the two elaborations could pick different lemmas where visibility
/// differs; the static gate (no `sorry`, `admit`, `native_decide`, new axioms in the
/// candidate) still holds for both. A module whose text is not valid without `module`
/// (e.g. `public import`) fails the companion and is rejected, never passed.
fn axioms_companion(shadow: &Shadow) -> Option<Shadow> {
    let keyword = module_keyword(&shadow.text)?;
    let mut companion = shadow.clone();
    companion
        .text
        .replace_range(keyword.clone(), &" ".repeat(keyword.len()));
    Some(companion)
}

/// The source URI the companion shadow is filed under: next to the source, its own document.
fn companion_source_uri(source_uri: &str) -> String {
    match source_uri.strip_suffix(".lean") {
        Some(stem) => format!("{stem}.axioms.lean"),
        None => format!("{source_uri}.axioms.lean"),
    }
}

fn rejected(rejection: GateRejection) -> CheckOutcome {
    CheckOutcome {
        verdict: GateVerdict::Rejected {
            reason: rejection.reason,
        },
        suggestion: None,
    }
}

/// Replaces each `sorry` token with spaces of the same length, so a sketch's own holes pass
/// the static scan while every other construct is still scanned.
fn mask_sorries(proof: &str) -> String {
    let mut masked = proof.to_owned();
    for token in lex(proof) {
        if token.kind == TokenKind::Ident && token.text(proof) == "sorry" {
            masked.replace_range(token.span.clone(), "     ");
        }
    }
    masked
}

/// The editor's documents as the checker, the editor session and `prove` share them: the
/// snapshot of the latest version of each open document, built once per version (by
/// [`SourceDocuments::apply`]) and read without copying. Cheap to clone; clones share the map.
/// Feed it every [`DocumentEvent`].
#[derive(Debug, Clone, Default)]
pub struct SourceDocuments {
    documents: Arc<RwLock<HashMap<String, Arc<DocumentSnapshot>>>>,
    /// Counts saves and opens: after either, files a shadow imports may have been rebuilt.
    rebuilds: Arc<AtomicU64>,
}

impl SourceDocuments {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event of the router's document stream; returns the snapshot of the version
    /// an open or a change made current.
    pub fn apply(&self, event: &DocumentEvent) -> Option<Arc<DocumentSnapshot>> {
        match event {
            DocumentEvent::Opened { uri, version, text } => {
                // A reopened file is how editors restart a file after `lake build`.
                self.rebuilds.fetch_add(1, Ordering::Relaxed);
                // `prove` publishes the snapshot it read the holes from before it opens the
                // file: that one is kept, not scanned again.
                let published = self
                    .snapshot_at(uri, *version)
                    .filter(|snapshot| *text == snapshot.text());
                let snapshot = published.unwrap_or_else(|| {
                    Arc::new(DocumentSnapshot::new(*version, &text.to_string()))
                });
                self.publish(uri, Arc::clone(&snapshot));
                Some(snapshot)
            }
            DocumentEvent::Changed { uri, version, text } => {
                let text = text.to_string();
                let snapshot = Arc::new(match self.snapshot(uri) {
                    Some(previous) => previous.next(*version, &text),
                    None => DocumentSnapshot::new(*version, &text),
                });
                self.publish(uri, Arc::clone(&snapshot));
                Some(snapshot)
            }
            DocumentEvent::Closed { uri } => {
                self.close(uri);
                None
            }
            DocumentEvent::Saved { .. } => {
                self.rebuilds.fetch_add(1, Ordering::Relaxed);
                None
            }
            DocumentEvent::Elaborated { .. }
            | DocumentEvent::Failed { .. }
            | DocumentEvent::EditorReady { .. } => None,
        }
    }

    /// Makes `snapshot` the current version of `uri`.
    pub fn publish(&self, uri: &str, snapshot: Arc<DocumentSnapshot>) {
        if let Ok(mut documents) = self.documents.write() {
            documents.insert(uri.to_owned(), snapshot);
        }
    }

    /// Forgets a closed document.
    pub fn close(&self, uri: &str) {
        if let Ok(mut documents) = self.documents.write() {
            documents.remove(uri);
        }
    }

    /// The current version of `uri`, if it is open.
    pub fn current_version(&self, uri: &str) -> Option<i32> {
        self.documents
            .read()
            .ok()?
            .get(uri)
            .map(|snapshot| snapshot.version())
    }

    /// The snapshot of the current version of `uri`, if it is open.
    pub fn snapshot(&self, uri: &str) -> Option<Arc<DocumentSnapshot>> {
        self.documents.read().ok()?.get(uri).cloned()
    }

    /// The snapshot of `uri` if `version` is its current version.
    pub fn snapshot_at(&self, uri: &str, version: i32) -> Option<Arc<DocumentSnapshot>> {
        self.snapshot(uri)
            .filter(|snapshot| snapshot.version() == version)
    }

    /// How many saves and opens were seen: when it moves, imported files may have changed.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds.load(Ordering::Relaxed)
    }

    /// A [`CurrentVersion`] reading this map.
    pub fn version_source(&self) -> CurrentVersion {
        let documents = self.clone();
        Arc::new(move |uri: &str| documents.current_version(uri))
    }
}

/// The pipeline's [`Checker`] over a [`ShadowChecker`]: finds the hole of a [`Target`] in the
/// current text of its document and checks the rendered proof there.
#[derive(Debug, Clone)]
pub struct LeanChecker {
    shadow: ShadowChecker,
    documents: SourceDocuments,
    /// The server with the user's documents, when shadows live on another one (`serve`).
    goals: Option<LeanHandle>,
    /// [`SourceDocuments::rebuilds`] when header failures were last forgotten.
    rebuilds_seen: Arc<AtomicU64>,
}

/// A hole of a current document version, ready to check.
struct LocatedHole {
    snapshot: Arc<DocumentSnapshot>,
    span: Range<usize>,
    kind: HolePosition,
    declaration: Range<usize>,
}

impl LeanChecker {
    /// A checker of holes in `documents` (which should be the map behind the shadow
    /// checker's [`CurrentVersion`]).
    pub fn new(shadow: ShadowChecker, documents: SourceDocuments) -> Self {
        Self {
            shadow,
            documents,
            goals: None,
            rebuilds_seen: Arc::default(),
        }
    }

    /// Asks goals at the user's holes of `lean` (the server with the user's documents) instead
    /// of the shadow documents' server.
    pub fn asking_goals_of(mut self, lean: LeanHandle) -> Self {
        self.goals = Some(lean);
        self
    }

    /// The checker of a proxy session as the `[verify]` section configures it: shadow
    /// documents below `root_uri`, checks waiting while `user_busy` is `true`, and staleness
    /// and texts from `documents` (feed it every [`DocumentEvent`]).
    pub fn from_config(
        lean: LeanHandle,
        root_uri: &str,
        config: &VerifyConfig,
        user_busy: watch::Receiver<bool>,
        documents: SourceDocuments,
    ) -> Result<Self, LeanError> {
        let shadow = ShadowChecker::new(
            lean,
            root_uri,
            CheckerSettings::from_config(config),
            user_busy,
            documents.version_source(),
        )?;
        Ok(Self::new(shadow, documents))
    }

    /// The shadow checker underneath.
    pub fn shadow(&self) -> &ShadowChecker {
        &self.shadow
    }

    fn locate(&self, target: &Target) -> Result<LocatedHole, GateRejection> {
        let Some(snapshot) = self.documents.snapshot_at(&target.doc, target.version) else {
            return Err(GateRejection::new(RejectReason::Stale {
                hole_version: target.version,
                current_version: self.documents.current_version(&target.doc).unwrap_or(-1),
            }));
        };
        let index = snapshot.index();
        let hole = snapshot.hole(&target.hole).ok_or_else(|| {
            GateRejection::new(RejectReason::StructureChanged {
                detail: format!("the hole {} is not in the document", target.hole),
            })
        })?;
        // Defence in depth: the session and `prove` only submit proof holes, but a candidate
        // for a hole in a statement would change the theorem.
        match index.role(hole) {
            crate::holes::HoleRole::Proof => {}
            crate::holes::HoleRole::Statement => {
                return Err(GateRejection::new(RejectReason::StatementChanged));
            }
            role => {
                return Err(GateRejection::new(RejectReason::StructureChanged {
                    detail: role.reason().unwrap_or("not a proof").to_owned(),
                }));
            }
        }
        let declaration = hole
            .declaration
            .and_then(|at| index.command(at))
            .map(|command| command.span.clone())
            .ok_or_else(|| {
                GateRejection::new(RejectReason::StructureChanged {
                    detail: format!("the hole {} is not inside a declaration", target.hole),
                })
            })?;
        let kind = hole.position;
        let span = hole.span.clone();
        Ok(LocatedHole {
            snapshot,
            span,
            kind,
            declaration,
        })
    }
}

impl Checker for LeanChecker {
    async fn check(
        &self,
        target: &Target,
        proof: &str,
        mode: CheckMode,
    ) -> pipeline::PipelineVerdict {
        let rebuilds = self.documents.rebuilds();
        if self.rebuilds_seen.swap(rebuilds, Ordering::Relaxed) != rebuilds {
            // A file was saved or reopened: a header that failed may load now.
            self.shadow.inner.pool.forget_header_failures();
        }
        let located = match self.locate(target) {
            Ok(located) => located,
            Err(rejection) => return to_pipeline(&rejection.reason),
        };
        // Inside a decomposer's sketch the other steps keep their `sorry`: the proof itself gets
        // the full static scan (no `sorry` of its own), the declaration the sketch gate. The
        // user's other holes of the declaration are no reason for that: the splicer focuses
        // the candidate on its own goal and the shadow turns those holes into a nonce axiom.
        let inside_sketch = !target.frames.is_empty();
        if mode == CheckMode::Full
            && inside_sketch
            && let Err(rejection) = scan_candidate(proof, &self.shadow.settings().policy)
        {
            return to_pipeline(&rejection.reason);
        }
        let rendered = target.render(proof);
        let gate = if mode == CheckMode::Full && !inside_sketch {
            GateMode::Full
        } else {
            GateMode::Sketch
        };
        let snapshot = &located.snapshot;
        let source =
            SourceText::from_parts(snapshot.text(), snapshot.tokens(), snapshot.index().holes());
        let request = CheckRequest {
            source_uri: &target.doc,
            source: &source,
            hole_version: target.version,
            hole_span: located.span,
            hole_position: located.kind,
            declaration: located.declaration,
            proof: &rendered,
            mode: gate,
        };
        let outcome = self.shadow.check_with_suggestion(&request).await;
        match outcome.verdict {
            GateVerdict::Verified { .. } => pipeline::PipelineVerdict::Verified {
                replacement: outcome.suggestion.filter(|_| gate == GateMode::Full),
            },
            GateVerdict::Rejected { reason } => to_pipeline(&reason),
        }
    }

    async fn check_together(
        &self,
        doc: &str,
        version: i32,
        fills: &[(HoleId, String)],
    ) -> pipeline::PipelineVerdict {
        let Some(snapshot) = self.documents.snapshot_at(doc, version) else {
            return to_pipeline(&RejectReason::Stale {
                hole_version: version,
                current_version: self.documents.current_version(doc).unwrap_or(-1),
            });
        };
        let index = snapshot.index();
        let mut located = Vec::with_capacity(fills.len());
        let mut declarations = std::collections::BTreeSet::new();
        for (id, proof) in fills {
            let Some(hole) = index.holes().iter().find(|hole| hole.id == *id) else {
                return to_pipeline(&RejectReason::StructureChanged {
                    detail: format!("the hole {id} is not in the document"),
                });
            };
            if index.role(hole) != crate::holes::HoleRole::Proof {
                return to_pipeline(&RejectReason::StatementChanged);
            }
            declarations.insert(hole.declaration);
            located.push((hole.span.clone(), hole.position, proof.as_str()));
        }
        let declaration = match declarations.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(at)] => index.command(*at).map(|command| command.span.clone()),
            _ => None,
        };
        let Some(declaration) = declaration else {
            return to_pipeline(&RejectReason::StructureChanged {
                detail: "the proofs checked together are not in one declaration".to_owned(),
            });
        };
        match self
            .shadow
            .check_together(
                doc,
                &SourceText::from_parts(snapshot.text(), snapshot.tokens(), index.holes()),
                version,
                declaration,
                &located,
            )
            .await
        {
            GateVerdict::Verified { .. } => pipeline::PipelineVerdict::verified(),
            GateVerdict::Rejected { reason } => to_pipeline(&reason),
        }
    }

    async fn goal_at(&self, target: &Target) -> Option<GoalSpec> {
        if !target.frames.is_empty() {
            return None;
        }
        let located = self.locate(target).ok()?;
        let hole = located.snapshot.hole(&target.hole)?;
        let lean = self.goals.as_ref().unwrap_or(self.shadow.inner.pool.lean());
        let goal = crate::lean::goal_at(lean, &target.doc, hole).await.ok()??;
        let context = located.snapshot.index().context(hole);
        Some(GoalSpec::for_hole(
            &parse_goal(&goal),
            context.as_ref(),
            &target.hole,
        ))
    }
}

/// The pipeline's view of a rejection: whether a repair round is worth it, and why in words.
pub fn to_pipeline(reason: &RejectReason) -> pipeline::PipelineVerdict {
    let kind = match reason {
        RejectReason::LeanError { .. } | RejectReason::SorryWarning => RejectKind::Lean,
        RejectReason::Timeout { .. } | RejectReason::WorkerCrashed => RejectKind::Timeout,
        RejectReason::Stale { .. } => RejectKind::Stale,
        RejectReason::HeaderFailed { .. } => RejectKind::Unavailable,
        RejectReason::Banned { .. }
        | RejectReason::Axiom { .. }
        | RejectReason::AxiomsUnknown
        | RejectReason::DiagnosticsVersionMismatch { .. }
        | RejectReason::StatementChanged
        | RejectReason::StructureChanged { .. }
        | RejectReason::Truncated
        | RejectReason::Empty => RejectKind::Gate,
    };
    pipeline::PipelineVerdict::rejected(kind, reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sketchs_own_sorries_are_masked_but_nothing_else() {
        let masked = mask_sorries("have h : p := by sorry\nexact h -- sorry");
        assert!(!masked.contains(" sorry\n"));
        assert!(masked.ends_with("-- sorry"));
        assert!(scan_candidate(&masked, &GatePolicy::default()).is_ok());
        let masked = mask_sorries("have h : p := by native_decide\nsorry");
        assert!(scan_candidate(&masked, &GatePolicy::default()).is_err());
    }
}
