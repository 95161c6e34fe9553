//! Verification through shadow documents against lean-sim: a proxy session with an in-process
//! "editor" on a duplex pipe, lean-sim as the Lean server, and the [`LeanChecker`] the pipeline
//! uses, fed by the router's document events exactly as the editor session feeds it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sorryfill::config::VerifyConfig;
use sorryfill::holes::HolePosition;
use sorryfill::lean::{DocumentEvent, LeanHandle};
use sorryfill::pipeline::{CheckMode, Checker, JobKey, PipelineVerdict, RejectKind, Target};
use sorryfill::router::{Proxy, ProxyConfig};
use sorryfill::verify::{
    CheckRequest, CheckerSettings, GateMode, GateVerdict, LeanChecker, RejectReason, ShadowChecker,
    SourceDocuments, SourceText,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::support::{fresh_dir, lean_sim_bin};
use super::verify::{ADVERSARIAL, document_for};

pub(crate) const WAIT: Duration = Duration::from_secs(30);
const ROOT: &str = "file:///work/project";
const SOURCE_URI: &str = "file:///work/project/Demo/Basic.lean";

/// A small file with one tactic hole in the last declaration.
pub(crate) const SOURCE: &str = "import Demo.Prelude

theorem helper (a : ℕ) : a ≤ a + 1 := Nat.le_succ a

theorem target (a b : ℕ) (h : a ≤ b) : a ≤ b + 1 := by
  sorry
";

const ORACLE: &str = r#"
[[theorem]]
statement = "(a b : ℕ) (h : a ≤ b) : a ≤ b + 1"
accept = ["omega", "exact Nat.le_succ_of_le h", "simp_arith [h]", "exact HANG_ME", "exact CRASH_ME",
  "have h2 : b ≤ b + 1 := by sorry\nomega"]
axioms = { "simp_arith [h]" = ["propext", "Demo.magic"] }

[[theorem]]
statement = "(a : ℕ) : a ≤ a + 1"
accept = ["Nat.le_succ a"]
"#;

/// One proxy session: lean-sim behind the proxy, an editor on a duplex pipe that records every
/// frame it receives, and a checker wired to the router.
pub(crate) struct Session {
    root_uri: String,
    source_uri: String,
    editor: DuplexStream,
    received: Arc<Mutex<Vec<String>>>,
    reader: JoinHandle<()>,
    session: JoinHandle<()>,
    lean: LeanHandle,
    documents: SourceDocuments,
    busy: watch::Receiver<bool>,
    _dir: Option<tempfile::TempDir>,
}

fn frame(body: &Value) -> Vec<u8> {
    let body = body.to_string();
    [
        format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(),
        body.into_bytes(),
    ]
    .concat()
}

/// Splits `Content-Length` frames off the editor's end of the pipe.
async fn record_frames(mut from_proxy: DuplexStream, received: Arc<Mutex<Vec<String>>>) {
    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let header = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = header
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|n| n.trim().parse().ok())
                .expect("the proxy writes Content-Length headers");
            if buffer.len() < end + 4 + length {
                break;
            }
            let body = String::from_utf8(buffer[end + 4..end + 4 + length].to_vec())
                .expect("frames are UTF-8");
            received.lock().expect("test lock").push(body);
            buffer.drain(..end + 4 + length);
        }
        match from_proxy.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

impl Session {
    /// Starts lean-sim with `flags` (and the test oracle) behind a proxy, and the editor's
    /// `initialize`/`initialized`.
    pub(crate) async fn start(flags: &[&str]) -> Self {
        let dir = fresh_dir();
        let oracle = dir.path().join("oracle.toml");
        std::fs::write(&oracle, ORACLE).expect("the oracle can be written");
        let mut server = tokio::process::Command::new(lean_sim_bin());
        server.arg("--oracle").arg(&oracle).args(flags);
        let mut session = Self::start_with(server, ROOT, SOURCE_URI).await;
        session._dir = Some(dir);
        session
    }

    /// Starts `server` behind a proxy for a project at `root_uri` whose source file is
    /// `source_uri`, and sends the editor's `initialize`/`initialized`.
    pub(crate) async fn start_with(
        server: tokio::process::Command,
        root_uri: &str,
        source_uri: &str,
    ) -> Self {
        let (mut editor, proxy_in) = tokio::io::duplex(1 << 20);
        let (proxy_out, editor_reads) = tokio::io::duplex(1 << 20);
        let mut proxy = Proxy::new(ProxyConfig::default());
        let lean = proxy.lean_handle();
        let mut events = proxy.observe_documents();
        let documents = SourceDocuments::new();
        let (busy_tx, busy) = watch::channel(false);
        // What the editor session does: track texts, and mark the user's documents busy from
        // a change until Lean finished that version.
        tokio::spawn({
            let documents = documents.clone();
            async move {
                while let Some(event) = events.recv().await {
                    match &event {
                        DocumentEvent::Opened { .. } | DocumentEvent::Changed { .. } => {
                            let _ = busy_tx.send(true);
                            documents.apply(&event);
                        }
                        DocumentEvent::Elaborated { uri, version, .. }
                        | DocumentEvent::Failed { uri, version } => {
                            if documents.current_version(uri) == Some(*version) {
                                let _ = busy_tx.send(false);
                            }
                        }
                        DocumentEvent::Closed { .. } | DocumentEvent::Saved { .. } => {
                            documents.apply(&event);
                        }
                        DocumentEvent::EditorReady { .. } => {}
                    }
                }
            }
        });
        let session = tokio::spawn(async move {
            let _ = proxy.serve(proxy_in, proxy_out, server).await;
        });
        let received = Arc::new(Mutex::new(Vec::new()));
        let reader = tokio::spawn(record_frames(editor_reads, Arc::clone(&received)));
        editor
            .write_all(&frame(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"processId": null, "rootUri": root_uri, "capabilities": {}}}),
            ))
            .await
            .expect("the proxy reads");
        editor
            .write_all(&frame(
                &json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
            ))
            .await
            .expect("the proxy reads");
        Self {
            root_uri: root_uri.to_owned(),
            source_uri: source_uri.to_owned(),
            editor,
            received,
            reader,
            session,
            lean,
            documents,
            busy,
            _dir: None,
        }
    }

    /// The proxy's own channel to Lean.
    pub(crate) fn lean(&self) -> &LeanHandle {
        &self.lean
    }

    /// Opens `text` as version 1 of the source and waits until Lean finished it.
    pub(crate) async fn open(&mut self, text: &str) {
        let uri = self.source_uri.clone();
        self.send(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text}}}),
        )
        .await;
        self.settle(1).await;
    }

    /// Opens `text` as VS Code does by default, with `dependencyBuildMode: never`.
    pub(crate) async fn open_without_building(&mut self, text: &str) {
        let uri = self.source_uri.clone();
        self.send(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text},
            "dependencyBuildMode": "never"}}),
        )
        .await;
        self.settle(1).await;
    }

    /// Replaces the whole source with `text` as `version`, without waiting.
    pub(crate) async fn change(&mut self, version: i32, text: &str) {
        let uri = self.source_uri.clone();
        self.send(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": text}]}}),
        )
        .await;
    }

    /// VS Code's "Restart File": `didClose`, then `didOpen` with `dependencyBuildMode: once`.
    pub(crate) async fn restart_file(&mut self, text: &str) {
        let before = self.documents.rebuilds();
        let uri = self.source_uri.clone();
        self.send(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {
            "textDocument": {"uri": uri}}}),
        )
        .await;
        self.send(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text},
            "dependencyBuildMode": "once"}}),
        )
        .await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.documents.rebuilds() == before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the reopen was not seen"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.settle(1).await;
    }

    /// Saves the source, and waits until the checker's document map saw it.
    pub(crate) async fn save(&mut self) {
        let before = self.documents.rebuilds();
        let uri = self.source_uri.clone();
        self.send(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": {
            "textDocument": {"uri": uri}}}),
        )
        .await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.documents.rebuilds() == before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the save was not seen"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until the source is at `version` and Lean finished it.
    pub(crate) async fn settle(&self, version: i32) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.documents.current_version(&self.source_uri) != Some(version)
            || *self.busy.borrow()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "Lean did not finish the source"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn send(&mut self, message: &Value) {
        self.editor
            .write_all(&frame(message))
            .await
            .expect("the proxy reads");
    }

    /// A checker with `settings` on this session.
    pub(crate) fn checker(&self, settings: CheckerSettings) -> LeanChecker {
        let shadow = ShadowChecker::new(
            self.lean.clone(),
            &self.root_uri,
            settings,
            self.busy.clone(),
            self.documents.version_source(),
        )
        .expect("the router runs");
        LeanChecker::new(shadow, self.documents.clone())
    }

    /// The target of the `ordinal`-th hole of the current source version.
    pub(crate) fn target(&self, ordinal: usize) -> Target {
        let snapshot = self
            .documents
            .snapshot(&self.source_uri)
            .expect("the source is open");
        let version = snapshot.version();
        let hole = snapshot
            .index()
            .holes()
            .get(ordinal)
            .expect("the source has that hole")
            .id
            .clone();
        Target::hole(&JobKey {
            doc: self.source_uri.clone(),
            hole,
            version,
        })
    }

    /// lean-sim's counters for one URI.
    /// The URI of slot `slot`'s shadow of the source.
    pub(crate) fn shadow_uri(&self, slot: usize) -> String {
        let relative = self
            .source_uri
            .strip_prefix(&format!("{}/", self.root_uri))
            .expect("the source is inside the project");
        format!("{}/.lake/sorryfill/shadow-{slot}/{relative}", self.root_uri)
    }

    pub(crate) async fn stats_of(&self, uri: &str) -> Value {
        let stats = self
            .lean
            .request("$/leanSim/stats", json!({}))
            .await
            .expect("lean-sim answers its stats request");
        stats["files"][uri].clone()
    }

    /// Shuts the session down and returns every frame the editor received.
    pub(crate) async fn finish(mut self) -> Vec<String> {
        self.send(&json!({"jsonrpc": "2.0", "id": 99, "method": "shutdown", "params": null}))
            .await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self
            .received
            .lock()
            .expect("test lock")
            .iter()
            .any(|f| f.contains(r#""id":99"#))
        {
            assert!(tokio::time::Instant::now() < deadline, "no shutdown answer");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.send(&json!({"jsonrpc": "2.0", "method": "exit"}))
            .await;
        tokio::time::timeout(WAIT, self.session)
            .await
            .expect("the session ends")
            .expect("no panic");
        drop(self.editor);
        let _ = tokio::time::timeout(WAIT, self.reader).await;
        self.received.lock().expect("test lock").clone()
    }
}

pub(crate) fn settings(workers: usize, timeout: Duration) -> CheckerSettings {
    CheckerSettings {
        workers,
        timeout,
        ..CheckerSettings::default()
    }
}

pub(crate) async fn check(checker: &LeanChecker, target: &Target, proof: &str) -> PipelineVerdict {
    tokio::time::timeout(WAIT, checker.check(target, proof, CheckMode::Full))
        .await
        .expect("a check ends within its own limit")
}

pub(crate) fn rejected_with(verdict: &PipelineVerdict, kind: RejectKind, words: &str) -> bool {
    matches!(verdict, PipelineVerdict::Rejected(r) if r.kind == kind && r.message.contains(words))
}

/// Lean verifies `good` at `target` and refuses `bad` with an error containing `error`.
pub(crate) async fn assert_verifies_and_refuses(
    checker: &LeanChecker,
    target: &Target,
    good: &str,
    (bad, error): (&str, &str),
) {
    assert_eq!(
        check(checker, target, good).await,
        PipelineVerdict::verified(),
        "{good}"
    );
    let verdict = check(checker, target, bad).await;
    assert!(
        rejected_with(&verdict, RejectKind::Lean, error),
        "{bad}: {verdict:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_lean_accepts_is_verified_and_a_wrong_one_is_rejected_with_leans_error() {
    let mut session = Session::start(&[]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);

    let verdict = check(&checker, &target, "omega").await;
    assert_eq!(verdict, PipelineVerdict::verified());
    let verdict = check(&checker, &target, "exact Nat.le_succ_of_le h").await;
    assert_eq!(verdict, PipelineVerdict::verified());
    let verdict = check(&checker, &target, "simp").await;
    assert!(
        rejected_with(&verdict, RejectKind::Lean, "unsolved goals"),
        "{verdict:?}"
    );
    // The rejection did not spoil the shadow document.
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_done_notification_sent_twice_changes_no_verdict() {
    // A real server may say a version is done twice (protocol §4.2): the second must neither
    // end the next check early nor hide its diagnostics.
    let mut session = Session::start(&["--done-twice"]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);
    for _ in 0..3 {
        assert_verifies_and_refuses(&checker, &target, "omega", ("simp", "unsolved goals")).await;
    }
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mathlib_lemma_is_verified_although_lean_lists_no_symbol_for_it() {
    // Lean's documentSymbol lists only `declaration` syntax, and Mathlib's `lemma` is a
    // syntax of its own (lean4#10190): the shadow checks it as the `theorem` it expands to.
    let source = SOURCE.replace("theorem target", "lemma target");
    let mut session = Session::start(&[]).await;
    session.open(&source).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);
    assert_verifies_and_refuses(&checker, &target, "omega", ("simp", "unsolved goals")).await;
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sorry_warning_rejects_in_every_spelling() {
    // A theorem proved by `sorry` elsewhere in the file: the candidate's declaration depends
    // on it, so Lean warns (in its version's spelling) and prints `sorryAx`.
    let source = "theorem helper_sorry (p : Prop) : p := sorry\n\ntheorem pair (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨sorry, hq⟩\n";
    let hole = source.rfind("sorry").expect("a hole");
    let declaration = source.find("theorem pair").expect("the target")..source.len();
    for style in ["quote", "backtick", "named"] {
        let mut session = Session::start(&["--accept-all", "--sorry-style", style]).await;
        session.open(source).await;
        let checker = session.checker(settings(1, WAIT));
        let source = SourceText::read(source);
        let request = CheckRequest {
            source_uri: SOURCE_URI,
            source: &source,
            hole_version: 1,
            hole_span: hole..hole + "sorry".len(),
            hole_position: HolePosition::Term,
            declaration: declaration.clone(),
            proof: "exact helper_sorry p",
            mode: GateMode::Full,
        };
        let verdict = checker.shadow().check(&request).await;
        assert!(
            matches!(
                &verdict,
                GateVerdict::Rejected {
                    reason: RejectReason::SorryWarning | RejectReason::Axiom { .. }
                }
            ),
            "{style}: {verdict:?}"
        );
        session.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_sharing_its_declaration_with_another_users_hole_can_be_verified() {
    // The other `sorry` is the user's own: in the shadow it becomes a nonce axiom allowed for
    // this check alone, and the candidate is a focused block that cannot reach it.
    let source = "theorem pair (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨sorry, sorry⟩\n";
    let mut session = Session::start(&["--accept-all"]).await;
    session.open(source).await;
    let checker = session.checker(settings(1, WAIT));
    assert_eq!(
        check(&checker, &session.target(0), "exact hp").await,
        PipelineVerdict::verified()
    );
    let banned = check(&checker, &session.target(0), "sorryAx _").await;
    assert!(
        rejected_with(&banned, RejectKind::Gate, "sorryAx"),
        "{banned:?}"
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_check_times_out_and_the_next_one_works() {
    let mut session = Session::start(&["--hang-marker", "HANG_ME"]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, Duration::from_millis(800)));
    let target = session.target(0);
    let verdict = check(&checker, &target, "exact HANG_ME").await;
    assert!(
        rejected_with(&verdict, RejectKind::Timeout, "did not finish"),
        "{verdict:?}"
    );
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_shadow_worker_rejects_and_the_next_check_works() {
    let mut session = Session::start(&["--crash-marker", "CRASH_ME"]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    let verdict = check(&checker, &target, "exact CRASH_ME").await;
    assert!(
        rejected_with(&verdict, RejectKind::Timeout, "crashed"),
        "{verdict:?}"
    );
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_during_the_check_makes_the_verdict_stale() {
    let mut session = Session::start(&["--decl-ms", "300"]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);
    let running = tokio::spawn({
        let checker = checker.clone();
        let target = target.clone();
        async move { check(&checker, &target, "omega").await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    session
        .change(2, &SOURCE.replace("helper", "helper'"))
        .await;
    let verdict = running.await.expect("no panic");
    assert!(
        rejected_with(&verdict, RejectKind::Stale, "version 1 is now 2"),
        "{verdict:?}"
    );
    // A check for the old version after the edit is stale at once.
    session.settle(2).await;
    let verdict = check(&checker, &target, "omega").await;
    assert!(
        rejected_with(&verdict, RejectKind::Stale, ""),
        "{verdict:?}"
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banned_constructs_and_bad_axioms_are_rejected_and_banned_ones_never_reach_lean() {
    let mut session = Session::start(&[]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);
    let shadow_uri = session.shadow_uri(0);

    let verdict = check(&checker, &target, "native_decide").await;
    assert!(
        rejected_with(&verdict, RejectKind::Gate, "`native_decide`"),
        "{verdict:?}"
    );
    assert_eq!(
        session.stats_of(&shadow_uri).await,
        Value::Null,
        "Lean saw a banned candidate"
    );
    // The oracle says this proof depends on an axiom of its own.
    let verdict = check(&checker, &target, "simp_arith [h]").await;
    assert!(
        rejected_with(&verdict, RejectKind::Gate, "axiom `Demo.magic`"),
        "{verdict:?}"
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adversarial_suite_through_the_whole_path_verifies_nothing() {
    for kind in [HolePosition::Tactic, HolePosition::Term] {
        let mut session = Session::start(&["--accept-all"]).await;
        session.open(document_for(kind)).await;
        let checker = session.checker(settings(2, WAIT));
        let target = session.target(0);
        // The oracle accepts everything: an honest proof verifies, so a rejection below is
        // sorryfill's own gate at work.
        let honest = match kind {
            HolePosition::Tactic => "omega",
            HolePosition::Term => "exact hp",
        };
        assert_eq!(
            check(&checker, &target, honest).await,
            PipelineVerdict::verified()
        );
        for case in ADVERSARIAL.iter().filter(|c| c.kind == kind) {
            let verdict = check(&checker, &target, case.proof).await;
            assert!(
                !verdict.is_verified(),
                "{} was verified: {:?}",
                case.name,
                case.proof
            );
        }
        session.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adversarial_suite_verifies_nothing_beside_the_users_other_hole_either() {
    // The user's second `sorry` becomes a nonce axiom in the shadow; a cheat that admits its
    // own goal still brings `sorryAx`, which is never allowed.
    let source = "theorem target (a b : ℕ) (h : a ≤ b) (h' : b < b + 1) : a ≤ b + 1 := by
  have h2 : b ≤ b + 1 := by
    sorry
  sorry
";
    let mut session = Session::start(&["--accept-all"]).await;
    session.open(source).await;
    let checker = session.checker(settings(2, WAIT));
    let target = session.target(0);
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    for case in ADVERSARIAL
        .iter()
        .filter(|c| c.kind == HolePosition::Tactic)
    {
        let verdict = check(&checker, &target, case.proof).await;
        assert!(
            !verdict.is_verified(),
            "{} was verified: {:?}",
            case.name,
            case.proof
        );
    }
    session.finish().await;
}

/// Runs the same editor script with or without checks and returns what the editor received.
/// The user edits the file while the checks run.
async fn transcript(with_checks: bool) -> Vec<String> {
    let mut session = Session::start(&["--decl-ms", "5"]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(2, WAIT));
    let mut checks = Vec::new();
    if with_checks {
        let target = session.target(0);
        for proof in ["omega", "simp", "exact CRASH_ME", "native_decide", "omega "] {
            let checker = checker.clone();
            let target = target.clone();
            checks.push(tokio::spawn(async move {
                check(&checker, &target, proof).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    session
        .change(2, &SOURCE.replace("helper", "helper'"))
        .await;
    for check in checks {
        check.await.expect("no panic");
    }
    session.settle(2).await;
    if with_checks {
        // A goal request goes through a private id too.
        assert!(checker.goal_at(&session.target(0)).await.is_some());
        assert_eq!(
            check(&checker, &session.target(0), "omega").await,
            PipelineVerdict::verified()
        );
    }
    session.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_sees_nothing_of_the_checks() {
    let with = transcript(true).await;
    let without = transcript(false).await;
    for frame in &with {
        assert!(
            !frame.contains(".lake/sorryfill") && !frame.contains("sorryfill:"),
            "a private frame reached the editor: {frame}"
        );
    }
    assert_eq!(with, without);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_come_from_lean_at_the_hole() {
    let mut session = Session::start(&[]).await;
    session.open(SOURCE).await;
    // As the editor session builds it: from the `[verify]` section.
    let checker = LeanChecker::from_config(
        session.lean.clone(),
        ROOT,
        &VerifyConfig::default(),
        session.busy.clone(),
        session.documents.clone(),
    )
    .expect("the router runs");
    assert_eq!(checker.shadow().settings().workers, 2);
    let goal = checker
        .goal_at(&session.target(0))
        .await
        .expect("Lean reports a goal at a tactic hole");
    assert_eq!(goal.binders, ["(a b : ℕ)", "(h : a ≤ b)"]);
    assert_eq!(goal.target, "a ≤ b + 1");
    assert!(goal.header.contains("import Demo.Prelude"));
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_inside_a_have_step_after_it_and_at_a_term_hole_carry_their_context() {
    let source = "import Demo.Prelude\nopen Nat\n\n\
theorem with_have (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x := by
  have h₁ : 0 < x := by
    sorry
  sorry

theorem term_hole (a b : ℕ) (h : a ≤ b) : a ≤ b + 1 := sorry
";
    let mut session = Session::start(&[]).await;
    session.open(source).await;
    let checker = session.checker(settings(1, WAIT));

    let inside = checker
        .goal_at(&session.target(0))
        .await
        .expect("a goal in the have");
    assert_eq!(inside.binders, ["(x : ℕ)", "(h₀ : x ≠ 0)"]);
    assert_eq!(inside.target, "0 < x");
    assert_eq!(inside.header, "import Demo.Prelude\nopen Nat\n");

    let after = checker
        .goal_at(&session.target(1))
        .await
        .expect("a goal after the have");
    assert_eq!(after.binders, ["(x : ℕ)", "(h₀ : x ≠ 0)", "(h₁ : 0 < x)"]);
    assert_eq!(after.target, "x + 0 = x");

    let term = checker
        .goal_at(&session.target(2))
        .await
        .expect("a term goal");
    assert_eq!(term.binders, ["(a b : ℕ)", "(h : a ≤ b)"]);
    assert_eq!(term.target, "a ≤ b + 1");
    assert_eq!(term.name, "term_hole_hole_0");
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checking_many_candidates_elaborates_the_header_once_and_only_the_target_each_time() {
    let mut source = String::from("import Demo.Prelude\n\n");
    for k in 0..299 {
        source.push_str(&format!(
            "theorem helper{k} (a : ℕ) : a ≤ a + 1 := Nat.le_succ a\n\n"
        ));
    }
    source.push_str("theorem target (a b : ℕ) (h : a ≤ b) : a ≤ b + 1 := by\n  sorry\n");
    let mut session = Session::start(&["--accept-all"]).await;
    session.open(&source).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);
    for k in 0..20 {
        let proof = format!("exact Nat.le_succ_of_le (le_trans h (le_refl {k}))");
        assert_eq!(
            check(&checker, &target, &proof).await,
            PipelineVerdict::verified()
        );
    }
    let stats = session.stats_of(&session.shadow_uri(0)).await;
    assert_eq!(stats["headerLoads"], 1, "{stats}");
    // The first check elaborates all 300 declarations; each later one only the target.
    assert_eq!(stats["declarationsElaborated"], 300 + 19, "{stats}");
    // One open of the header alone, one change that adds the rest, then one small ranged
    // change per later check.
    let sent = checker.shadow().stats();
    assert_eq!((sent.opened, sent.changes), (1, 1 + 19));
    let per_change = sent.bytes_sent.saturating_sub(source.len() as u64) / 19;
    assert!(per_change < 100, "{per_change} bytes per check");
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_checks_wait_while_the_users_document_is_elaborated() {
    let mut session = Session::start(&[]).await;
    session.open(SOURCE).await;
    // The editor session says the user's documents are busy.
    let (busy, user_busy) = watch::channel(true);
    let shadow = ShadowChecker::new(
        session.lean.clone(),
        ROOT,
        settings(1, WAIT),
        user_busy,
        session.documents.version_source(),
    )
    .expect("the router runs");
    let checker = LeanChecker::new(shadow, session.documents.clone());
    let target = session.target(0);
    let mut running = tokio::spawn({
        let checker = checker.clone();
        let target = target.clone();
        async move { check(&checker, &target, "omega").await }
    });
    let waited = tokio::time::timeout(Duration::from_millis(300), &mut running).await;
    assert!(
        waited.is_err(),
        "the check ran while the user's file was busy"
    );
    assert_eq!(
        session.stats_of(&session.shadow_uri(0)).await,
        Value::Null,
        "Lean saw the shadow document while the user's file was busy"
    );
    busy.send(false).expect("the checker listens");
    assert_eq!(
        running.await.expect("no panic"),
        PipelineVerdict::verified()
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sketch_check_tolerates_its_own_sorries_but_not_errors() {
    let mut session = Session::start(&[]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let text = SOURCE.to_owned();
    let hole = text.find("sorry").expect("a hole");
    let declaration = text.find("theorem target").expect("the target")..text.len();
    let source = SourceText::read(SOURCE);
    let request = |proof| CheckRequest {
        source_uri: SOURCE_URI,
        source: &source,
        hole_version: 1,
        hole_span: hole..hole + 5,
        hole_position: HolePosition::Tactic,
        declaration: declaration.clone(),
        proof,
        mode: GateMode::Sketch,
    };
    let verdict = checker
        .shadow()
        .check(&request("have h2 : b ≤ b + 1 := by sorry\nomega"))
        .await;
    assert!(verdict.is_verified(), "{verdict:?}");
    let verdict = checker
        .shadow()
        .check(&request("have h2 : b ≤ b + 1 := by sorry\nsimp"))
        .await;
    assert!(
        matches!(
            &verdict,
            GateVerdict::Rejected {
                reason: RejectReason::LeanError { .. }
            }
        ),
        "{verdict:?}"
    );
    let verdict = checker
        .shadow()
        .check(&request("have h2 : b ≤ b + 1 := by native_decide\nsorry"))
        .await;
    assert!(
        matches!(
            &verdict,
            GateVerdict::Rejected {
                reason: RejectReason::Banned { .. }
            }
        ),
        "{verdict:?}"
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_slower_than_the_check_timeout_still_gets_its_checks() {
    // Loading the header takes 2.5 s, each check may take 1.5 s: the import has its own limit.
    let mut session = Session::start(&["--import-ms", "2500"]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, Duration::from_millis(1500)));
    let target = session.target(0);
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    let verdict = check(&checker, &target, "exact wrong").await;
    assert!(rejected_with(&verdict, RejectKind::Lean, ""), "{verdict:?}");
    assert_eq!(
        check(&checker, &target, "exact Nat.le_succ_of_le h").await,
        PipelineVerdict::verified()
    );
    let stats = session.stats_of(&session.shadow_uri(0)).await;
    assert_eq!(
        stats["headerLoads"], 1,
        "the imports are loaded once: {stats}"
    );
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_slower_than_their_own_limit_make_the_file_uncheckable_once() {
    let mut session = Session::start(&["--import-ms", "1500"]).await;
    session.open(SOURCE).await;
    let checker = session.checker(CheckerSettings {
        import_timeout: Duration::from_millis(400),
        ..settings(1, WAIT)
    });
    let target = session.target(0);
    let verdict = check(&checker, &target, "omega").await;
    assert!(
        rejected_with(&verdict, RejectKind::Unavailable, "cannot be checked now"),
        "{verdict:?}"
    );
    // Every later candidate gets the same answer at once, without reopening the shadow.
    let started = std::time::Instant::now();
    let again = check(&checker, &target, "exact Nat.le_succ_of_le h").await;
    assert_eq!(again, verdict);
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(checker.shadow().stats().opened, 1);
    // Saving a file (imports may have been rebuilt) lets the next check try Lean again.
    session.save().await;
    let retried = check(&checker, &target, "omega").await;
    assert!(
        rejected_with(
            &retried,
            RejectKind::Unavailable,
            "did not load the imports"
        ),
        "{retried:?}"
    );
    assert_eq!(checker.shadow().stats().opened, 2);
    session.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_never_builds_stale_imports_and_says_so_once() {
    // With `always` (Lean's default) the shadow would build the stale imports and check.
    let mut session = Session::start(&["--imports-out-of-date"]).await;
    session.open_without_building(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let target = session.target(0);
    let verdict = check(&checker, &target, "omega").await;
    assert!(
        rejected_with(&verdict, RejectKind::Unavailable, "Imports are out of date"),
        "{verdict:?}"
    );
    assert_eq!(
        check(&checker, &target, "exact Nat.le_succ_of_le h").await,
        verdict
    );
    assert_eq!(checker.shadow().stats().opened, 1, "no reopening");
    // The user restarts the file, which builds the imports: checks work again.
    session.restart_file(SOURCE).await;
    let target = session.target(0);
    assert_eq!(
        check(&checker, &target, "omega").await,
        PipelineVerdict::verified()
    );
    let frames = session.finish().await;
    assert!(
        frames.iter().all(|f| !f.contains(".lake/sorryfill")),
        "a shadow's header error reached the editor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_lean_reads_as_leaving_its_declaration_is_rejected_without_any_error() {
    // The first tactic is pushed right by a comment, so Lean ends the tactic block at the next
    // line at the hole's column: `open Nat` becomes a command of its own, which Lean accepts
    // without a word. Only Lean's bounds of the declaration show it.
    let mut session = Session::start(&["--accept-all"]).await;
    session.open(SOURCE).await;
    let checker = session.checker(settings(1, WAIT));
    let verdict = check(&checker, &session.target(0), "/- pad -/   omega\nopen Nat").await;
    assert!(
        rejected_with(&verdict, RejectKind::Gate, "Lean ends the declaration"),
        "{verdict:?}"
    );
    assert_eq!(
        check(&checker, &session.target(0), "/- pad -/   omega").await,
        PipelineVerdict::verified(),
        "the same proof without the escape verifies"
    );
    session.finish().await;
}
