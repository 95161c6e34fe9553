//! Router unit tests: events in, frames out, without pipes or processes.

use super::*;
use crate::lean::LeanHandle;
use crate::transport::{MalformedKind, SniffedEnvelope};

struct Harness {
    router: Router,
    client: mpsc::UnboundedReceiver<Bytes>,
    server: mpsc::UnboundedReceiver<Bytes>,
    documents: mpsc::UnboundedReceiver<DocumentEvent>,
    events: mpsc::UnboundedReceiver<Event>,
    lean: LeanHandle,
}

impl Harness {
    fn new() -> Self {
        Self::with_provider(Box::new(NoCodeActions))
    }

    fn with_provider(code_actions: Box<dyn CodeActionProvider>) -> Self {
        let (to_client, client) = mpsc::unbounded_channel();
        let (to_server, server) = mpsc::unbounded_channel();
        let (observer, documents) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let router = Router::new(RouterOutputs {
            to_client,
            to_server,
            documents: Some(observer),
            code_actions,
        });
        Self {
            router,
            client,
            server,
            documents,
            events,
            lean: LeanHandle::new(events_tx),
        }
    }

    fn client(&mut self, body: &str) {
        let frame = Frame::new(Bytes::copy_from_slice(body.as_bytes()));
        assert!(
            self.router
                .handle(Event::Client(Incoming::Frame(frame)))
                .is_none()
        );
    }

    fn server(&mut self, body: &str) {
        let frame = Frame::new(Bytes::copy_from_slice(body.as_bytes()));
        assert!(
            self.router
                .handle(Event::Server(Incoming::Frame(frame)))
                .is_none()
        );
    }

    /// Feeds the commands the handle has queued so far to the router.
    fn pump_commands(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            assert!(self.router.handle(event).is_none());
        }
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<Bytes>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(body) = rx.try_recv() {
            out.push(String::from_utf8(body.to_vec()).expect("test frames are UTF-8"));
        }
        out
    }

    fn sent_to_client(&mut self) -> Vec<String> {
        Self::drain(&mut self.client)
    }

    fn sent_to_server(&mut self) -> Vec<String> {
        Self::drain(&mut self.server)
    }

    fn start(&mut self) {
        self.client(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#);
        self.server(r#"{"id":0,"jsonrpc":"2.0","result":{"capabilities":{}}}"#);
        self.client(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
        self.sent_to_client();
        self.sent_to_server();
    }
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).expect("the router writes JSON")
}

const PRIVATE_PREFIX: &str = "file:///p/.lake/sorryfill/";

#[tokio::test]
async fn private_requests_wait_for_initialized_and_their_answers_never_reach_the_editor() {
    let mut h = Harness::new();
    h.client(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#);
    let lean = h.lean.clone();
    let request = tokio::spawn(async move {
        lean.request(
            "$/lean/plainGoal",
            json!({"position": {"line": 1, "character": 2}}),
        )
        .await
    });
    tokio::task::yield_now().await;
    h.pump_commands();
    assert_eq!(
        h.sent_to_server().len(),
        1,
        "only initialize went to Lean before initialized"
    );

    h.server(r#"{"id":0,"jsonrpc":"2.0","result":{"capabilities":{}}}"#);
    h.client(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
    let sent = h.sent_to_server();
    assert_eq!(sent.len(), 2);
    assert_eq!(json_of(&sent[0])["method"], "initialized");
    let private = json_of(&sent[1]);
    assert_eq!(private["method"], "$/lean/plainGoal");
    let id = private["id"]
        .as_str()
        .expect("private ids are strings")
        .to_owned();
    assert!(id.starts_with("sorryfill:"));

    h.server(&format!(
        r#"{{"id":"{id}","jsonrpc":"2.0","result":{{"goals":["⊢ True"]}}}}"#
    ));
    let answer = request.await.expect("no panic").expect("Lean answered");
    assert_eq!(answer["goals"][0], "⊢ True");
    assert_eq!(
        h.sent_to_client().len(),
        1,
        "only the initialize result reached the editor"
    );
}

#[tokio::test]
async fn dropping_a_private_request_cancels_it_and_lean_errors_come_back_typed() {
    let mut h = Harness::new();
    h.start();
    let lean = h.lean.clone();
    let slow = tokio::spawn(async move { lean.request("textDocument/hover", json!({})).await });
    tokio::task::yield_now().await;
    h.pump_commands();
    let id = json_of(&h.sent_to_server()[0])["id"].clone();
    slow.abort();
    let _ = slow.await;
    h.pump_commands();
    let cancel = json_of(&h.sent_to_server()[0]);
    assert_eq!(cancel["method"], "$/cancelRequest");
    assert_eq!(cancel["params"]["id"], id);
    // Lean's late answer to the cancelled request is still swallowed.
    h.server(&format!(
        r#"{{"error":{{"code":-32800,"message":""}},"id":{id},"jsonrpc":"2.0"}}"#
    ));
    assert!(h.sent_to_client().is_empty());

    let lean = h.lean.clone();
    let failing = tokio::spawn(async move { lean.request("textDocument/hover", json!({})).await });
    tokio::task::yield_now().await;
    h.pump_commands();
    let id = json_of(&h.sent_to_server()[0])["id"].clone();
    h.server(&format!(
        r#"{{"error":{{"code":-32801,"message":"File changed."}},"id":{id},"jsonrpc":"2.0"}}"#
    ));
    let error = failing
        .await
        .expect("no panic")
        .expect_err("Lean failed it");
    assert_eq!(error.code(), Some(-32801));
}

#[tokio::test]
async fn nothing_of_the_proxy_is_sent_after_shutdown() {
    let mut h = Harness::new();
    h.start();
    h.client(r#"{"jsonrpc":"2.0","id":9,"method":"shutdown"}"#);
    h.lean
        .notify("textDocument/didClose", json!({}))
        .expect("router alive");
    let lean = h.lean.clone();
    let refused = tokio::spawn(async move { lean.request("textDocument/hover", json!({})).await });
    tokio::task::yield_now().await;
    h.pump_commands();
    assert_eq!(
        h.sent_to_server().len(),
        1,
        "only the editor's shutdown went out"
    );
    assert_eq!(
        refused.await.expect("no panic"),
        Err(LeanError::ShuttingDown)
    );
}

#[test]
fn private_uris_are_filtered_and_reported_to_their_subscriber() {
    let mut h = Harness::new();
    h.start();
    let mut private = h
        .lean
        .register_private(PRIVATE_PREFIX)
        .expect("router alive");
    h.pump_commands();
    let uri = format!("{PRIVATE_PREFIX}Shadow.lean");
    let diag = r#"{"range":{"start":{"line":0,"character":0},"end":{"line":0,"character":1}},"fullRange":{"start":{"line":0,"character":0},"end":{"line":2,"character":1}},"message":"declaration uses 'sorry'","severity":2,"source":"Lean 4"}"#;
    h.server(&format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{{"diagnostics":[{diag}],"isIncremental":false,"uri":"{uri}","version":4}}}}"#
    ));
    h.server(&format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{{"diagnostics":[{diag}],"isIncremental":true,"uri":"{uri}","version":4}}}}"#
    ));
    h.server(&format!(
        r#"{{"jsonrpc":"2.0","method":"$/lean/fileProgress","params":{{"processing":[],"textDocument":{{"uri":"{uri}","version":4}}}}}}"#
    ));
    assert!(
        h.sent_to_client().is_empty(),
        "nothing about a private document reaches the editor"
    );
    let mut got = Vec::new();
    while let Ok(event) = private.try_recv() {
        got.push(event);
    }
    assert_eq!(got.len(), 4);
    let PrivateEvent::Elaborated {
        version,
        diagnostics,
        ..
    } = &got[3]
    else {
        panic!("the last event must be Elaborated, got {:?}", got[3])
    };
    assert_eq!(*version, Some(4));
    assert_eq!(diagnostics.len(), 2, "the incremental publish was appended");
    assert!(diagnostics[0].full_range.is_some());

    // The same notifications for an editor document pass through byte for byte.
    let public = r#"{"jsonrpc":"2.0","method":"$/lean/fileProgress","params":{"processing":[],"textDocument":{"uri":"file:///p/A.lean","version":1}}}"#;
    h.server(public);
    assert_eq!(h.sent_to_client(), vec![public.to_owned()]);
}

#[test]
fn a_publish_after_done_reaches_the_editor_document_stream() {
    let mut h = Harness::new();
    h.start();
    let open = r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///A.lean","languageId":"lean4","version":1,"text":"theorem t : True := sorry"}}}"#;
    h.client(open);
    let diag = r#"{"range":{"start":{"line":0,"character":8},"end":{"line":0,"character":9}},"message":"declaration uses 'sorry'","severity":2,"source":"Lean 4"}"#;
    // Real Lean's order for a version that never blocked: done first, then its only publish.
    let done = r#"{"jsonrpc":"2.0","method":"$/lean/fileProgress","params":{"processing":[],"textDocument":{"uri":"file:///A.lean","version":1}}}"#;
    let publish = format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{{"diagnostics":[{diag}],"uri":"file:///A.lean","version":1}}}}"#
    );
    h.server(done);
    h.server(&publish);
    assert_eq!(
        h.sent_to_client(),
        vec![done.to_owned(), publish.clone()],
        "both pass through unchanged"
    );
    let mut sets = Vec::new();
    while let Ok(event) = h.documents.try_recv() {
        if let DocumentEvent::Elaborated {
            version,
            diagnostics,
            ..
        } = event
        {
            sets.push((version, diagnostics.len()));
        }
    }
    assert_eq!(
        sets,
        [(1, 0), (1, 1)],
        "done reports what was known, the late publish the final set"
    );
}

#[test]
fn document_sync_is_applied_before_forwarding_and_reported_in_order() {
    let mut h = Harness::new();
    h.start();
    let open = r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///A.lean","languageId":"lean4","version":1,"text":"example : 𝔽 := sorry"},"dependencyBuildMode":"never"}}"#;
    let change = r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///A.lean","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":16},"end":{"line":0,"character":21}},"text":"rfl"}]}}"#;
    h.client(open);
    h.client(change);
    assert_eq!(h.sent_to_server(), vec![open.to_owned(), change.to_owned()]);
    let doc = h.router.documents().get("file:///A.lean").expect("open");
    assert_eq!(doc.text.to_string(), "example : 𝔽 := rfl");
    h.server(r#"{"jsonrpc":"2.0","method":"$/lean/fileProgress","params":{"processing":[],"textDocument":{"uri":"file:///A.lean","version":2}}}"#);
    h.client(r#"{"jsonrpc":"2.0","method":"textDocument/didClose","params":{"textDocument":{"uri":"file:///A.lean"}}}"#);
    let mut kinds = Vec::new();
    while let Ok(event) = h.documents.try_recv() {
        kinds.push(match event {
            DocumentEvent::Opened { version, .. } => format!("opened {version}"),
            DocumentEvent::Changed { version, text, .. } => format!("changed {version} {text}"),
            DocumentEvent::Elaborated { version, .. } => format!("elaborated {version}"),
            DocumentEvent::Failed { version, .. } => format!("failed {version}"),
            DocumentEvent::Closed { .. } => "closed".to_owned(),
            DocumentEvent::Saved { version, .. } => format!("saved {version}"),
            DocumentEvent::EditorReady { .. } => continue,
        });
    }
    assert_eq!(
        kinds,
        [
            "opened 1",
            "changed 2 example : 𝔽 := rfl",
            "elaborated 2",
            "closed"
        ]
    );
}

#[test]
fn the_server_position_encoding_is_honoured() {
    let mut h = Harness::new();
    h.client(r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{}}"#);
    h.server(
        r#"{"id":"init","jsonrpc":"2.0","result":{"capabilities":{"positionEncoding":"utf-32"}}}"#,
    );
    h.client(r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///A.lean","languageId":"lean4","version":1,"text":"𝔽x"}}}"#);
    h.client(r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///A.lean","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":1},"end":{"line":0,"character":2}},"text":"y"}]}}"#);
    let doc = h.router.documents().get("file:///A.lean").expect("open");
    assert_eq!(doc.text.to_string(), "𝔽y");
}

struct OneAction;

impl CodeActionProvider for OneAction {
    fn code_actions(&mut self, query: &CodeActionQuery<'_>) -> Vec<Value> {
        vec![json!({"title": format!("sorryfill: fill at line {}", query.range.start.line)})]
    }
}

#[test]
fn code_action_answers_pass_unchanged_without_actions_and_are_extended_with_them() {
    let request = r#"{"jsonrpc":"2.0","id":"ca","method":"textDocument/codeAction","params":{"textDocument":{"uri":"file:///A.lean"},"range":{"start":{"line":3,"character":0},"end":{"line":3,"character":0}},"context":{"diagnostics":[]}}}"#;
    let answer = r#"{"id":"ca","jsonrpc":"2.0","result":[{"title":"Lean's own"}]}"#;

    let mut plain = Harness::new();
    plain.start();
    plain.client(request);
    plain.server(answer);
    assert_eq!(plain.sent_to_client(), vec![answer.to_owned()]);

    let mut extended = Harness::with_provider(Box::new(OneAction));
    extended.start();
    extended.client(request);
    extended.server(answer);
    let merged = json_of(&extended.sent_to_client()[0]);
    assert_eq!(merged["id"], "ca");
    assert_eq!(merged["result"][0]["title"], "Lean's own");
    assert_eq!(merged["result"][1]["title"], "sorryfill: fill at line 3");

    // Lean's error answer passes through untouched even with a provider.
    extended.client(request);
    let error = r#"{"error":{"code":-32800,"message":""},"id":"ca","jsonrpc":"2.0"}"#;
    extended.server(error);
    assert_eq!(extended.sent_to_client(), vec![error.to_owned()]);
}

#[test]
fn unreadable_requests_from_the_editor_get_a_parse_error_with_their_id() {
    let mut h = Harness::new();
    h.start();
    h.client(r#"{"jsonrpc":"2.0","id":41,"method":"textDocument/hover","params":{"#);
    let too_large = Malformed {
        kind: MalformedKind::TooLarge { len: 1 << 30 },
        sniffed: SniffedEnvelope {
            id: Some(r#""big""#.into()),
            method: Some("x".into()),
        },
    };
    assert!(
        h.router
            .handle(Event::Client(Incoming::Malformed(too_large)))
            .is_none()
    );
    h.client(r#"{"jsonrpc":"2.0","method":"note","params":{"#);
    let replies: Vec<Value> = h.sent_to_client().iter().map(|b| json_of(b)).collect();
    assert_eq!(replies.len(), 2, "a broken notification is only logged");
    assert_eq!(replies[0]["id"], 41);
    assert_eq!(replies[0]["error"]["code"], -32700);
    assert_eq!(replies[1]["id"], "big");
    assert!(h.sent_to_server().is_empty());
}

#[tokio::test]
async fn editor_eof_sends_exit_and_fails_pending_requests() {
    let mut h = Harness::new();
    h.start();
    let lean = h.lean.clone();
    let pending = tokio::spawn(async move { lean.request("textDocument/hover", json!({})).await });
    tokio::task::yield_now().await;
    h.pump_commands();
    h.sent_to_server();
    assert_eq!(
        h.router.handle(Event::ClientClosed),
        Some(RouterExit::ClientClosed)
    );
    assert_eq!(json_of(&h.sent_to_server()[0])["method"], "exit");
    assert_eq!(pending.await.expect("no panic"), Err(LeanError::ServerGone));
}

#[test]
fn the_proxys_own_editor_messages_go_out_only_in_session_and_their_answers_stay_inside() {
    let mut h = Harness::new();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let editor = EditorHandle::new(events_tx);
    h.client(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{"window":{"workDoneProgress":true}}}}"#);
    editor.notify(
        "$/progress",
        json!({"token": "sorryfill:1", "value": {"kind": "begin"}}),
    );
    while let Ok(event) = events.try_recv() {
        assert!(h.router.handle(event).is_none());
    }
    h.server(r#"{"id":0,"jsonrpc":"2.0","result":{"capabilities":{}}}"#);
    assert_eq!(
        h.sent_to_client().len(),
        1,
        "only Lean's answer before `initialized`"
    );
    h.client(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
    let ready: Vec<bool> = std::iter::from_fn(|| h.documents.try_recv().ok())
        .filter_map(|event| match event {
            DocumentEvent::EditorReady {
                work_done_progress, ..
            } => Some(work_done_progress),
            _ => None,
        })
        .collect();
    assert_eq!(ready, [true]);
    editor.request("workspace/applyEdit", json!({"edit": {}}));
    while let Ok(event) = events.try_recv() {
        assert!(h.router.handle(event).is_none());
    }
    let sent = h.sent_to_client();
    assert_eq!(sent.len(), 1);
    let request: Value = serde_json::from_str(&sent[0]).expect("JSON");
    assert_eq!(request["method"], "workspace/applyEdit");
    let id = request["id"].as_str().expect("a private string id");
    assert!(id.starts_with(PRIVATE_ID_PREFIX));
    h.sent_to_server();
    h.client(&format!(
        r#"{{"jsonrpc":"2.0","id":"{id}","result":{{"applied":true}}}}"#
    ));
    assert!(h.sent_to_server().is_empty(), "Lean never sees the answer");
}

#[test]
fn did_save_reports_the_current_version() {
    let mut h = Harness::new();
    h.start();
    h.client(r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///A.lean","languageId":"lean4","version":3,"text":"x"}}}"#);
    h.client(r#"{"jsonrpc":"2.0","method":"textDocument/didSave","params":{"textDocument":{"uri":"file:///A.lean"}}}"#);
    let saved: Vec<i32> = std::iter::from_fn(|| h.documents.try_recv().ok())
        .filter_map(|event| match event {
            DocumentEvent::Saved { version, .. } => Some(version),
            _ => None,
        })
        .collect();
    assert_eq!(saved, [3]);
    assert_eq!(h.sent_to_server().len(), 2, "both frames were forwarded");
}

#[test]
fn a_reopened_private_document_starts_its_versions_afresh() {
    let mut h = Harness::new();
    h.start();
    let mut private = h
        .lean
        .register_private(PRIVATE_PREFIX)
        .expect("router alive");
    let uri = format!("{PRIVATE_PREFIX}S.lean");
    let publish = |version: i32| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{{"diagnostics":[],"uri":"{uri}","version":{version}}}}}"#
        )
    };
    h.pump_commands();
    h.server(&publish(5));
    h.lean
        .notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        )
        .expect("router alive");
    h.lean
        .notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": ""}}),
        )
        .expect("router alive");
    h.pump_commands();
    h.server(&publish(1));
    let mut versions = Vec::new();
    while let Ok(PrivateEvent::Diagnostics { version, .. }) = private.try_recv() {
        versions.push(version);
    }
    assert_eq!(versions, [Some(5), Some(1)]);
    assert_eq!(
        h.sent_to_server().len(),
        2,
        "both notifications went to Lean"
    );
}

#[test]
fn only_the_proxys_own_commands_are_answered_by_the_proxy() {
    struct Echo;
    impl CodeActionProvider for Echo {
        fn code_actions(&mut self, _query: &CodeActionQuery<'_>) -> Vec<Value> {
            Vec::new()
        }
        fn execute_command(
            &mut self,
            command: &str,
            arguments: &[Value],
        ) -> Option<Result<Value, CommandError>> {
            match command {
                "sorryfill.fail" => Some(Err(CommandError::invalid_params("nothing there"))),
                _ => Some(Ok(json!({"ran": command, "arguments": arguments.len()}))),
            }
        }
    }
    let mut h = Harness::with_provider(Box::new(Echo));
    h.start();
    h.sent_to_server();
    let own = r#"{"jsonrpc":"2.0","id":7,"method":"workspace/executeCommand","params":{"command":"sorryfill.status","arguments":[{}]}}"#;
    h.client(own);
    assert!(h.sent_to_server().is_empty());
    let answer: Value = serde_json::from_str(&h.sent_to_client()[0]).expect("JSON");
    assert_eq!(answer["id"], 7);
    assert_eq!(
        answer["result"],
        json!({"ran": "sorryfill.status", "arguments": 1})
    );
    let failing = r#"{"jsonrpc":"2.0","id":"f","method":"workspace/executeCommand","params":{"command":"sorryfill.fail"}}"#;
    h.client(failing);
    assert!(h.sent_to_server().is_empty());
    let answer: Value = serde_json::from_str(&h.sent_to_client()[0]).expect("JSON");
    assert_eq!(answer["id"], "f");
    assert_eq!(
        answer["error"],
        json!({"code": -32602, "message": "nothing there"})
    );
    assert!(answer.get("result").is_none());
    let lean = r#"{"jsonrpc":"2.0","id":8,"method":"workspace/executeCommand","params":{"command":"lean.restartFile","arguments":[]}}"#;
    h.client(lean);
    assert_eq!(h.sent_to_server(), [lean.to_owned()]);
}

/// The status action carries a command and no edit, so editors ask the server to resolve it
/// first; Lean routes a resolve by `data.params.textDocument.uri`, which the proxy's actions
/// do not have, so Lean must never see it.
#[test]
fn resolving_one_of_the_proxys_own_actions_is_answered_without_lean() {
    let mut h = Harness::with_provider(Box::new(OneAction));
    h.start();
    let own = r#"{"jsonrpc":"2.0","id":12,"method":"codeAction/resolve","params":{"title":"sorryfill: status of this hole: running","command":{"title":"s","command":"sorryfill.status","arguments":[]},"data":{"sorryfill":{"status":{"hole":"h#1"}}}}}"#;
    h.client(own);
    assert!(h.sent_to_server().is_empty(), "Lean never sees it");
    let answer = json_of(&h.sent_to_client()[0]);
    assert_eq!(answer["id"], 12);
    assert_eq!(answer["result"], json_of(own)["params"]);

    let leans = r#"{"jsonrpc":"2.0","id":13,"method":"codeAction/resolve","params":{"title":"Lean's","data":{"params":{"textDocument":{"uri":"file:///A.lean"}},"providerName":"p","providerResultIndex":0}}}"#;
    h.client(leans);
    assert_eq!(h.sent_to_server(), [leans.to_owned()]);
    assert!(h.sent_to_client().is_empty());
}

struct StatusCommand;

impl CodeActionProvider for StatusCommand {
    fn code_actions(&mut self, _query: &CodeActionQuery<'_>) -> Vec<Value> {
        Vec::new()
    }

    fn commands(&self) -> Vec<String> {
        vec!["sorryfill.status".to_owned()]
    }
}

/// Editors run a code action's command only when the server announced it
/// (`executeCommandProvider.commands`); Lean announces none, so the proxy adds its own.
#[test]
fn the_initialize_result_announces_the_proxys_commands_and_keeps_everything_else() {
    let lean_result = r#"{"id":0,"jsonrpc":"2.0","result":{"capabilities":{"codeActionProvider":{"resolveProvider":true},"experimental":{"rpcProvider":{"rpcWireFormat":"v1"}},"executeCommandProvider":{"commands":["lean.x"]}},"serverInfo":{"name":"Lean 4 Server","version":"0.3.0"}}}"#;
    let initialize = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#;

    let mut plain = Harness::new();
    plain.client(initialize);
    plain.server(lean_result);
    assert_eq!(plain.sent_to_client(), [lean_result.to_owned()]);

    let mut own = Harness::with_provider(Box::new(StatusCommand));
    own.client(initialize);
    own.server(lean_result);
    let got = json_of(&own.sent_to_client()[0]);
    let mut expected = json_of(lean_result);
    expected["result"]["capabilities"]["executeCommandProvider"]["commands"] =
        json!(["lean.x", "sorryfill.status"]);
    assert_eq!(got, expected);

    let mut bare = Harness::with_provider(Box::new(StatusCommand));
    bare.client(initialize);
    bare.server(r#"{"id":0,"jsonrpc":"2.0","result":{"capabilities":{"hoverProvider":true}}}"#);
    let got = json_of(&bare.sent_to_client()[0]);
    assert_eq!(
        got["result"]["capabilities"],
        json!({"hoverProvider": true, "executeCommandProvider": {"commands": ["sorryfill.status"]}})
    );
}

#[test]
fn a_merged_code_action_answer_keeps_leans_own_actions_byte_for_byte() {
    let request = r#"{"jsonrpc":"2.0","id":5,"method":"textDocument/codeAction","params":{"textDocument":{"uri":"file:///A.lean"},"range":{"start":{"line":1,"character":0},"end":{"line":1,"character":0}},"context":{"diagnostics":[]}}}"#;
    let leans_action = r#"{"title":"Try this: simp only [foo, \u2019bar\u2019]","kind":"quickfix","data":{"providerResultIndex":0,"weight":1.0e2,"z":"a\/b","a":[]}}"#;
    let answer = format!(r#"{{"id":5,"jsonrpc":"2.0","result":[{leans_action}, {leans_action}]}}"#);
    let mut h = Harness::with_provider(Box::new(OneAction));
    h.start();
    h.client(request);
    h.server(&answer);
    let merged = h.sent_to_client().remove(0);
    assert_eq!(
        merged.matches(leans_action).count(),
        2,
        "Lean's actions were rewritten: {merged}"
    );
    let merged = json_of(&merged);
    assert_eq!(merged["id"], 5);
    assert_eq!(merged["result"].as_array().map(Vec::len), Some(3));
    assert_eq!(merged["result"][2]["title"], "sorryfill: fill at line 1");
}

#[test]
fn unreadable_notifications_about_a_private_document_still_never_reach_the_editor() {
    let mut h = Harness::new();
    h.start();
    let _private = h
        .lean
        .register_private(PRIVATE_PREFIX)
        .expect("router alive");
    h.pump_commands();
    let uri = format!("{PRIVATE_PREFIX}S.lean");
    // LSP 3.18 allows a markup message; the proxy's types do not read it.
    h.server(&format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{{"uri":"{uri}","version":1,"diagnostics":[{{"range":{{"start":{{"line":0,"character":0}},"end":{{"line":0,"character":1}}}},"message":{{"kind":"markdown","value":"x"}}}}]}}}}"#
    ));
    h.server(&format!(
        r#"{{"jsonrpc":"2.0","method":"$/lean/fileProgress","params":{{"textDocument":{{"uri":"{uri}","version":1}},"processing":"soon"}}}}"#
    ));
    assert!(h.sent_to_client().is_empty());

    // The same unreadable publish about an editor document is still forwarded as it came.
    let public = r#"{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"file:///p/A.lean","version":1,"diagnostics":[{"message":{"kind":"markdown","value":"x"}}]}}"#;
    h.server(public);
    assert_eq!(h.sent_to_client(), [public.to_owned()]);
}

#[tokio::test]
async fn ids_that_only_look_private_are_forwarded_in_both_directions() {
    let mut h = Harness::new();
    h.start();
    // The editor happens to use an id of the proxy's form for its own request.
    let lean = h.lean.clone();
    let own = tokio::spawn(async move { lean.request("$/lean/plainGoal", json!({})).await });
    tokio::task::yield_now().await;
    h.pump_commands();
    let own_id = json_of(&h.sent_to_server()[0])["id"].clone();
    let editors =
        r#"{"jsonrpc":"2.0","id":"sorryfill:900","method":"textDocument/hover","params":{}}"#;
    h.client(editors);
    assert_eq!(h.sent_to_server(), [editors.to_owned()]);
    let answer = r#"{"id":"sorryfill:900","jsonrpc":"2.0","result":{"contents":"x"}}"#;
    h.server(answer);
    assert_eq!(h.sent_to_client(), [answer.to_owned()]);

    // Lean's server-to-client request with such an id gets the editor's answer.
    let leans =
        r#"{"id":"sorryfill:901","jsonrpc":"2.0","method":"workspace/semanticTokens/refresh"}"#;
    h.server(leans);
    assert_eq!(h.sent_to_client(), [leans.to_owned()]);
    let reply = r#"{"jsonrpc":"2.0","id":"sorryfill:901","result":null}"#;
    h.client(reply);
    assert_eq!(h.sent_to_server(), [reply.to_owned()]);

    // The proxy's own request is still answered from its own id.
    h.server(&format!(
        r#"{{"id":{own_id},"jsonrpc":"2.0","result":{{"goals":[]}}}}"#
    ));
    assert_eq!(own.await.expect("no panic"), Ok(json!({"goals": []})));
    assert!(h.sent_to_client().is_empty());
}

#[test]
fn nothing_of_the_proxy_is_sent_after_an_exit_without_shutdown() {
    let mut h = Harness::new();
    h.start();
    h.client(r#"{"jsonrpc":"2.0","method":"exit"}"#);
    h.lean
        .notify("textDocument/didClose", json!({}))
        .expect("router alive");
    h.pump_commands();
    assert_eq!(
        h.sent_to_server().len(),
        1,
        "only the editor's exit went out"
    );
}

#[test]
fn bodies_with_surrounding_whitespace_pass_unchanged_and_a_bom_is_answered_as_unreadable() {
    let mut h = Harness::new();
    h.start();
    let spaced = " \r\n{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"textDocument/hover\",\"params\":{}}\r\n\t ";
    h.client(spaced);
    assert_eq!(h.sent_to_server(), [spaced.to_owned()]);
    let leans = "{\"id\":3,\"jsonrpc\":\"2.0\",\"result\":null}\n";
    h.server(leans);
    assert_eq!(h.sent_to_client(), [leans.to_owned()]);

    // JSON has no byte order mark; Lean could not read it either, so the editor hears why.
    h.client(
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"textDocument/hover\",\"params\":{}}",
    );
    assert!(h.sent_to_server().is_empty());
    let replies: Vec<Value> = h.sent_to_client().iter().map(|b| json_of(b)).collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["id"], 4);
    assert_eq!(replies[0]["error"]["code"], -32700);
}

#[tokio::test]
async fn a_shutdown_with_private_requests_in_flight_sends_no_cancel_and_leaks_no_answer() {
    let mut h = Harness::new();
    h.start();
    let lean = h.lean.clone();
    let waiting = tokio::spawn(async move { lean.request("$/lean/plainGoal", json!({})).await });
    let lean = h.lean.clone();
    let dropped = tokio::spawn(async move { lean.request("$/lean/plainGoal", json!({})).await });
    tokio::task::yield_now().await;
    h.pump_commands();
    let ids: Vec<Value> = h
        .sent_to_server()
        .iter()
        .map(|body| json_of(body)["id"].clone())
        .collect();
    assert_eq!(ids.len(), 2);
    let shutdown = r#"{"jsonrpc":"2.0","id":50,"method":"shutdown"}"#;
    h.client(shutdown);
    dropped.abort();
    let _ = dropped.await;
    h.pump_commands();
    assert_eq!(
        h.sent_to_server(),
        [shutdown.to_owned()],
        "no $/cancelRequest after shutdown"
    );
    // Lean answers everything while it shuts down; only the editor's answer reaches it.
    for id in &ids {
        h.server(&format!(
            r#"{{"error":{{"code":-32801,"message":"terminated"}},"id":{id},"jsonrpc":"2.0"}}"#
        ));
    }
    let done = r#"{"id":50,"jsonrpc":"2.0","result":null}"#;
    h.server(done);
    assert_eq!(h.sent_to_client(), [done.to_owned()]);
    let error = waiting
        .await
        .expect("no panic")
        .expect_err("Lean failed it");
    assert_eq!(error.code(), Some(-32801));
}
