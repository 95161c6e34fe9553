//! Lean's diagnostics, accumulated per URI and version as Lean publishes them.
//!
//! Lean publishes many times per version while it elaborates. Since v4.31, with the
//! client capability `incrementalDiagnosticSupport`, a publish with `isIncremental: true`
//! holds only NEW diagnostics to append; `false` or absent means the full set, replacing
//! what came before. `$/lean/fileProgress` with `processing: []` says elaboration of a
//! version is over (it may say so twice; [`DiagnosticsStore::progress`] reports it once), but
//! it is NOT a diagnostics barrier: a version that finished inside `reportDelayMs` gets its
//! only publish right AFTER the done notification. The set is final only when Lean answers
//! `textDocument/waitForDiagnostics` for the version, which it writes after every publish.
//! Invariant: a publish for a version older than the one stored is stale and ignored.

use std::collections::HashMap;

use crate::holes::{HoleId, HoleIndex};

use lsp_types::{DiagnosticSeverity, Range};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One diagnostic as Lean sends it, with Lean's extensions typed and every other field
/// kept in `extra` so a diagnostic re-serialises without loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeanDiagnostic {
    /// The range shown in the editor; cut to one line for multi-line messages.
    pub range: Range,
    /// The real extent of the diagnostic (Lean extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_range: Option<Range>,
    /// 1 error, 2 warning, 3 information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<DiagnosticSeverity>,
    /// The message text.
    pub message: String,
    /// `true` for "Goals accomplished!"-style messages that are not problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_silent: Option<bool>,
    /// 1 = unsolved goals, 2 = goals accomplished (Lean extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lean_tags: Option<Vec<u32>>,
    /// Every other field (`source`, `code`, `tags`, `data`, `relatedInformation`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LeanDiagnostic {
    /// The diagnostic's real extent: `fullRange` when Lean sent it, else `range`.
    pub fn full_range(&self) -> Range {
        self.full_range.unwrap_or(self.range)
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Some(DiagnosticSeverity::ERROR)
    }
}

/// The params of `textDocument/publishDiagnostics` as Lean sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishDiagnosticsParams {
    /// The document.
    pub uri: String,
    /// The document version the diagnostics belong to (Lean always sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// `true`: append to this version's set; `false`/absent: replace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_incremental: Option<bool>,
    /// The diagnostics of this publish.
    pub diagnostics: Vec<LeanDiagnostic>,
}

/// One range still being processed in `$/lean/fileProgress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingRange {
    /// The region.
    pub range: Range,
    /// 1 = processing (also when absent), 2 = fatal error: the version will never finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<u32>,
}

impl ProcessingRange {
    /// True for `kind: 2`: elaboration stopped for good (worker crash, failed header).
    pub fn is_fatal(&self) -> bool {
        self.kind == Some(2)
    }
}

/// The params of `$/lean/fileProgress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileProgressParams {
    /// `{uri, version}` of the document.
    pub text_document: VersionedUri,
    /// Regions still being elaborated; empty means done.
    pub processing: Vec<ProcessingRange>,
}

/// `{uri, version}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionedUri {
    /// The document.
    pub uri: String,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
}

/// The diagnostics known for one document version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionDiagnostics {
    /// The version they belong to (`None` when Lean sent none).
    pub version: Option<i32>,
    /// The full set so far.
    pub diagnostics: Vec<LeanDiagnostic>,
    /// The version last reported fully elaborated, so a repeated "done" is reported once.
    elaborated: Option<Option<i32>>,
}

impl VersionDiagnostics {
    /// True when the done notification of this version has already been reported: a publish
    /// now is the version's late final set (real Lean sends it after `processing: []`).
    pub fn reported_done(&self) -> bool {
        self.elaborated == Some(self.version)
    }
}

/// Diagnostics per URI (exact URI text).
#[derive(Debug, Default)]
pub struct DiagnosticsStore {
    by_uri: HashMap<String, VersionDiagnostics>,
}

/// What a `fileProgress` notification means for its version.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressOutcome {
    /// Still running (or a repeated "done" already reported).
    Running,
    /// Finished just now; the full diagnostics of the version.
    Elaborated(Vec<LeanDiagnostic>),
    /// Stopped for good (`kind: 2`).
    Failed,
}

impl DiagnosticsStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current diagnostics for `uri`.
    pub fn get(&self, uri: &str) -> Option<&VersionDiagnostics> {
        self.by_uri.get(uri)
    }

    /// Records a publish; returns the full set now known for that version, or `None`
    /// when the publish was for an older version than the stored one (stale).
    pub fn publish(&mut self, params: PublishDiagnosticsParams) -> Option<&VersionDiagnostics> {
        let entry = self.by_uri.entry(params.uri).or_default();
        let stale = matches!((params.version, entry.version), (Some(new), Some(old)) if new < old);
        if stale {
            return None;
        }
        let same_version = entry.version == params.version;
        if params.is_incremental == Some(true) && same_version {
            entry.diagnostics.extend(params.diagnostics);
        } else {
            // `elaborated` stays: it names a version, and a done that came before this
            // version's first publish (Lean's order for a version that never blocked) counts.
            entry.version = params.version;
            entry.diagnostics = params.diagnostics;
        }
        Some(entry)
    }

    /// Records a `fileProgress`; reports the first "done" of each version with its
    /// diagnostics (empty when none were published for that version).
    pub fn progress(&mut self, params: &FileProgressParams) -> ProgressOutcome {
        let entry = self
            .by_uri
            .entry(params.text_document.uri.clone())
            .or_default();
        let version = params.text_document.version;
        if params.processing.iter().any(ProcessingRange::is_fatal) {
            entry.elaborated = None;
            return ProgressOutcome::Failed;
        }
        if !params.processing.is_empty() {
            // The version is being (re)processed, e.g. after a worker restart: the next
            // "done" is news again.
            if entry.elaborated == Some(version) {
                entry.elaborated = None;
            }
            return ProgressOutcome::Running;
        }
        if entry.elaborated == Some(version) {
            return ProgressOutcome::Running;
        }
        entry.elaborated = Some(version);
        if entry.version == version {
            ProgressOutcome::Elaborated(entry.diagnostics.clone())
        } else {
            ProgressOutcome::Elaborated(Vec::new())
        }
    }

    /// Forgets a document (on `didClose`).
    pub fn forget(&mut self, uri: &str) {
        self.by_uri.remove(uri);
    }
}

/// The holes no proof can fill until the user fixes an error, each with why: those of a
/// declaration that Lean reports an error in and whose sorry warning Lean dropped, as it does
/// for a declaration with errors. A proof there could not pass the gate: Lean's error stays,
/// and so does the `sorryAx` its recovery leaves in the declaration.
pub fn blocked_holes(index: &HoleIndex, diagnostics: &[LeanDiagnostic]) -> HashMap<HoleId, String> {
    let pairs: Vec<(Range, String)> = diagnostics
        .iter()
        .map(|d| (d.range, d.message.clone()))
        .collect();
    let warned = index.warned_commands(&pairs);
    let outline = index.outline();
    // The first error of each command, by position.
    let mut first_error: HashMap<usize, &LeanDiagnostic> = HashMap::new();
    for error in diagnostics.iter().filter(|d| d.is_error()) {
        let start = error.full_range().start;
        let byte = index.line_index().lsp_offset(start);
        let Some(command) = outline
            .commands
            .iter()
            .position(|c| c.span.start <= byte && byte < c.span.end)
        else {
            continue;
        };
        let earlier = first_error
            .get(&command)
            .is_some_and(|first| first.full_range().start <= start);
        if !earlier {
            first_error.insert(command, error);
        }
    }
    index
        .holes()
        .iter()
        .filter(|hole| !warned.contains(&hole.command))
        .filter_map(|hole| {
            let error = first_error.get(&hole.command)?;
            let message = error.message.lines().next().unwrap_or("").trim();
            let reason = format!(
                "Lean reports an error in this declaration (line {}: {}); no proof of this hole can pass until it is fixed",
                error.full_range().start.line + 1,
                shorten(message, 120)
            );
            Some((hole.id.clone(), reason))
        })
        .collect()
}

/// `text` cut to at most `limit` characters, with `…` when cut.
fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn publish(
        version: i32,
        incremental: Option<bool>,
        messages: &[&str],
    ) -> PublishDiagnosticsParams {
        let diagnostics: Vec<Value> = messages
            .iter()
            .map(|m| {
                json!({"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
                       "fullRange": {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 1}},
                       "severity": 2, "source": "Lean 4", "message": m, "leanTags": [1]})
            })
            .collect();
        let mut params =
            json!({"uri": "file:///A.lean", "version": version, "diagnostics": diagnostics});
        if let Some(flag) = incremental {
            params["isIncremental"] = json!(flag);
        }
        serde_json::from_value(params).expect("valid publish params")
    }

    fn done(version: i32) -> FileProgressParams {
        serde_json::from_value(json!({"textDocument": {"uri": "file:///A.lean", "version": version}, "processing": []}))
            .expect("valid progress")
    }

    fn diagnostic(line: u32, severity: u64, message: &str) -> LeanDiagnostic {
        serde_json::from_value(json!({
            "range": {"start": {"line": line, "character": 2}, "end": {"line": line, "character": 5}},
            "severity": severity, "message": message,
        }))
        .expect("a valid diagnostic")
    }

    #[test]
    fn holes_beside_an_error_are_blocked_by_its_first_error_unless_lean_warned() {
        let text = "theorem a : True := by\n  sorry\n  bad\n  worse\n\ntheorem b : True := by\n  sorry\n  bad\n\ntheorem c : True := by\n  sorry\n";
        let index = HoleIndex::new(text);
        let diagnostics = [
            diagnostic(3, 1, "second error"),
            diagnostic(2, 1, "unknown tactic\nmore lines"),
            // `b` has an error but Lean still warned of its `sorry`: not blocked.
            diagnostic(7, 1, "an error"),
            diagnostic(5, 2, "declaration uses `sorry`"),
            diagnostic(9, 2, "declaration uses `sorry`"),
        ];
        let blocked = blocked_holes(&index, &diagnostics);
        let ids: Vec<String> = blocked.keys().map(ToString::to_string).collect();
        assert_eq!(ids, ["a#0"]);
        assert_eq!(
            blocked.values().next().map(String::as_str),
            Some(
                "Lean reports an error in this declaration (line 3: unknown tactic); no proof of this hole can pass until it is fixed"
            )
        );
    }

    fn messages(store: &DiagnosticsStore) -> Vec<String> {
        store
            .get("file:///A.lean")
            .map(|d| d.diagnostics.iter().map(|d| d.message.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn incremental_publishes_append_and_full_ones_replace() {
        let mut store = DiagnosticsStore::new();
        store.publish(publish(1, Some(false), &["a"]));
        store.publish(publish(1, Some(true), &["b"]));
        assert_eq!(messages(&store), ["a", "b"]);
        store.publish(publish(1, None, &["c"]));
        assert_eq!(messages(&store), ["c"]);
        store.publish(publish(2, Some(true), &["d"]));
        assert_eq!(messages(&store), ["d"]);
        assert!(store.publish(publish(1, Some(false), &["old"])).is_none());
        assert_eq!(messages(&store), ["d"]);
    }

    #[test]
    fn done_is_reported_once_per_version_with_the_full_set() {
        let mut store = DiagnosticsStore::new();
        store.publish(publish(3, Some(false), &["sorry"]));
        store.publish(publish(3, Some(true), &["unused"]));
        let ProgressOutcome::Elaborated(diagnostics) = store.progress(&done(3)) else {
            panic!("the first done must be reported")
        };
        assert_eq!(diagnostics.len(), 2);
        assert_eq!(diagnostics[0].lean_tags, Some(vec![1]));
        assert!(diagnostics[0].full_range.is_some());
        assert_eq!(diagnostics[0].extra.get("source"), Some(&json!("Lean 4")));
        assert_eq!(store.progress(&done(3)), ProgressOutcome::Running);
    }

    #[test]
    fn a_publish_after_done_is_marked_as_the_late_final_set() {
        let mut store = DiagnosticsStore::new();
        store.publish(publish(1, Some(false), &["early"]));
        assert!(
            !store
                .get("file:///A.lean")
                .is_some_and(VersionDiagnostics::reported_done)
        );
        // Real Lean's order for a version that never blocked: done first, then the publish.
        assert_eq!(
            store.progress(&done(2)),
            ProgressOutcome::Elaborated(Vec::new()),
            "at done nothing of version 2 is known yet"
        );
        let late = store
            .publish(publish(2, Some(false), &["final"]))
            .expect("not stale");
        assert!(late.reported_done());
        assert_eq!(messages(&store), ["final"]);
    }

    #[test]
    fn extra_fields_survive_a_round_trip() {
        let raw = json!({"range": {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 3}},
                         "message": "x", "isSilent": true, "code": "lean.unknownIdentifier", "data": {"k": 1}});
        let parsed: LeanDiagnostic = serde_json::from_value(raw.clone()).expect("valid");
        assert_eq!(serde_json::to_value(&parsed).expect("serialisable"), raw);
    }
}
