//! The proxy core end to end: the real `sorryfill serve` binary between a scripted client
//! and `lsp-recorder` (a recording stand-in for Lean), over real pipes.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{fresh_dir, lsp_recorder_bin, sorryfill_bin};

const WAIT: Duration = Duration::from_secs(20);

/// A running `sorryfill serve` with a scripted editor on its stdin/stdout.
struct Session {
    proxy: Child,
    stdin: Option<ChildStdin>,
    frames: mpsc::Receiver<Vec<u8>>,
    stderr: mpsc::Receiver<Vec<u8>>,
    /// The proxy's `$/sorryfill/status` notifications, set aside by [`Session::receive`].
    statuses: std::cell::RefCell<Vec<Value>>,
}

fn start(dir: &Path, proxy_args: &[&str], recorder_args: &[&str]) -> Session {
    let mut proxy = Command::new(sorryfill_bin())
        // `serve` keeps its store in the project (the working folder): never the repository.
        .current_dir(dir)
        .arg("serve")
        .arg("--log-file")
        .arg(dir.join("proxy.log"))
        .args(proxy_args)
        .arg("--")
        .arg(lsp_recorder_bin())
        .arg("--record")
        .arg(dir.join("record"))
        .args(recorder_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sorryfill starts");
    let stdout = proxy.stdout.take().expect("stdout is piped");
    let mut stderr = proxy.stderr.take().expect("stderr is piped");
    let (frame_tx, frames) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        while let Some(body) = read_frame(&mut reader) {
            if frame_tx.send(body).is_err() {
                break;
            }
        }
    });
    let (stderr_tx, stderr_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        let _ = stderr_tx.send(all);
    });
    Session {
        stdin: proxy.stdin.take(),
        proxy,
        frames,
        stderr: stderr_rx,
        statuses: std::cell::RefCell::default(),
    }
}

/// The status notification the proxy adds to a plain editor's traffic: the one frame of its
/// own that every session sends (see `docs/editor-protocol.md`).
fn as_status(frame: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(frame).ok()?;
    (value["method"] == "$/sorryfill/status").then_some(value)
}

impl Session {
    fn send(&mut self, body: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).expect("the proxy reads");
        stdin.write_all(body).expect("the proxy reads");
        stdin.flush().expect("the proxy reads");
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).expect("the proxy reads");
        stdin.flush().expect("the proxy reads");
    }

    /// The next frame that is not the proxy's status notification.
    fn receive(&self) -> Vec<u8> {
        loop {
            let frame = self
                .frames
                .recv_timeout(WAIT)
                .expect("the proxy forwards a frame in time");
            match as_status(&frame) {
                Some(status) => self.statuses.borrow_mut().push(status),
                None => return frame,
            }
        }
    }

    /// Waits for a status notification that satisfies `wanted` (statuses are coalesced and
    /// may come after other frames); no other frame may arrive meanwhile.
    fn status_until(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(status) = self.statuses.borrow().iter().find(|s| wanted(s)) {
            return status.clone();
        }
        loop {
            let frame = self
                .frames
                .recv_timeout(WAIT)
                .expect("the proxy sends a status in time");
            let status = as_status(&frame).unwrap_or_else(|| {
                panic!(
                    "only statuses were expected: {}",
                    String::from_utf8_lossy(&frame)
                )
            });
            self.statuses.borrow_mut().push(status.clone());
            if wanted(&status) {
                return status;
            }
        }
    }

    /// Every frame still to come after the proxy exited: all must be status notifications.
    fn only_statuses_left(&self) -> Vec<Value> {
        for frame in self.frames.try_iter() {
            match as_status(&frame) {
                Some(status) => self.statuses.borrow_mut().push(status),
                None => panic!(
                    "an unexpected frame: {}",
                    String::from_utf8_lossy(&frame[..frame.len().min(200)])
                ),
            }
        }
        self.statuses.borrow().clone()
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.proxy.try_wait().expect("waitable") {
                return status.code().expect("the proxy exits normally");
            }
            assert!(Instant::now() < deadline, "the proxy did not exit in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> Vec<u8> {
        self.stderr.recv_timeout(WAIT).expect("stderr closes")
    }
}

pub(crate) fn read_frame(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

fn recorded(dir: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(dir.join("record")).expect("the recorder wrote its record");
    let mut reader = BufReader::new(&bytes[..]);
    let mut frames = Vec::new();
    while let Some(body) = read_frame(&mut reader) {
        frames.push(body);
    }
    frames
}

fn emit(bodies: &[Vec<u8>]) -> Vec<u8> {
    let bodies: Vec<String> = bodies
        .iter()
        .map(|b| String::from_utf8(b.clone()).expect("test bodies are UTF-8"))
        .collect();
    json!({"jsonrpc": "2.0", "method": "$/recorder/emit", "params": {"bodies": bodies}})
        .to_string()
        .into_bytes()
}

fn big_text(bytes: usize) -> String {
    // Astral, accented and CRLF text, escaped in JSON where it must be.
    let unit = "theorem 𝔽_é : ∀ n, n = n := by\r\n  sorry -- \"quoted\" \\ back\n";
    unit.repeat(bytes / unit.len() + 1)
}

#[test]
fn a_long_mixed_session_is_forwarded_byte_for_byte_in_order() {
    let dir = fresh_dir();
    let mut session = start(dir.path(), &[], &[]);
    let text = big_text(1 << 20);
    let client_frames: Vec<Vec<u8>> = vec![
        br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"lean":{"incrementalDiagnosticSupport":true}}}}"#.to_vec(),
        br#"{ "jsonrpc" : "2.0",  "method":"initialized","params":{} }"#.to_vec(),
        json!({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///p/Ä 𝔽.lean","languageId":"lean4","version":1,"text":text},"dependencyBuildMode":"never"}}).to_string().into_bytes(),
        br#"{"jsonrpc":"2.0","id":"str\u00e9-id","method":"$/lean/plainGoal","params":{"textDocument":{"uri":"file:///p/\u00c4 \ud835\udd3d.lean"},"position":{"line":1,"character":4}}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":9007199254740993,"method":"unknown/method","params":[1,2.50,"x"]}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"str\u00e9-id"}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"$/lean/rpc/connect","params":{"uri":"file:///p/A.lean"}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"some/unknownNotification"}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":"register_lean_watcher","result":null}"#.to_vec(),
        json!({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///p/Ä 𝔽.lean","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":8},"end":{"line":0,"character":10}},"text":"𝔾"}]}}).to_string().into_bytes(),
    ];
    let server_frames: Vec<Vec<u8>> = vec![
        br#"{"id":1,"jsonrpc":"2.0","result":{"capabilities":{"experimental":{"rpcProvider":{}}},"serverInfo":{"name":"Lean 4 Server","version":"0.3.0"}}}"#.to_vec(),
        br#"{"id":"register_lean_watcher","jsonrpc":"2.0","method":"client/registerCapability","params":{"registrations":[]}}"#.to_vec(),
        br#"{"id":0,"jsonrpc":"2.0","method":"workspace/semanticTokens/refresh"}"#.to_vec(),
        "{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/publishDiagnostics\",\"params\":{\"diagnostics\":[{\"fullRange\":{\"end\":{\"character\":5,\"line\":1},\"start\":{\"character\":8,\"line\":0}},\"isSilent\":true,\"leanTags\":[2],\"message\":\"Goals accomplished 🎉\",\"range\":{\"end\":{\"character\":0,\"line\":1},\"start\":{\"character\":8,\"line\":0}},\"severity\":3}],\"isIncremental\":true,\"uri\":\"file:///p/Ä 𝔽.lean\",\"version\":2}}".as_bytes().to_vec(),
        br#"{"jsonrpc":"2.0","method":"$/lean/fileProgress","params":{"processing":[],"textDocument":{"uri":"file:///p/A.lean","version":2}}}"#.to_vec(),
        br#"{"error":{"code":-32800,"message":""},"id":"str\u00e9-id","jsonrpc":"2.0"}"#.to_vec(),
        json!({"jsonrpc":"2.0","method":"$/unknown/big","params":{"blob":big_text(1 << 20)}}).to_string().into_bytes(),
        br#"{"id":9007199254740993,"jsonrpc":"2.0","result":{"answer":"ok"}}"#.to_vec(),
    ];
    for frame in &client_frames {
        session.send(frame);
    }
    let emit_frame = emit(&server_frames);
    session.send(&emit_frame);
    // The initialize result is the one frame the proxy extends: it announces its status
    // command, and every other byte stays Lean's.
    let announced = format!(
        r#"{{"id":1,"jsonrpc":"2.0","result":{{"capabilities":{{"experimental":{{"rpcProvider":{{}}}},"executeCommandProvider":{{"commands":["sorryfill.status.{}"]}}}},"serverInfo":{{"name":"Lean 4 Server","version":"0.3.0"}}}}}}"#,
        session.proxy.id()
    );
    assert_eq!(
        String::from_utf8_lossy(&session.receive()),
        announced,
        "the initialize result"
    );
    for expected in &server_frames[1..] {
        let got = session.receive();
        assert!(
            got == *expected,
            "a server frame changed on its way: {}",
            String::from_utf8_lossy(&got[..got.len().min(200)])
        );
    }
    let shutdown = br#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#.to_vec();
    let exit = br#"{"jsonrpc":"2.0","method":"exit"}"#.to_vec();
    session.send(&shutdown);
    session.send(&exit);
    assert_eq!(session.wait(), 0);
    // Lean's frames came byte for byte; the proxy added only its status, at least once
    // (right after `initialized`).
    let statuses = session.only_statuses_left();
    assert!(!statuses.is_empty(), "the status after `initialized`");
    assert!(statuses.iter().all(|s| s["params"]["state"].is_string()));

    let mut expected_record = client_frames;
    expected_record.extend([emit_frame, shutdown, exit]);
    let record = recorded(dir.path());
    assert_eq!(
        record.len(),
        expected_record.len(),
        "every client frame reached Lean once"
    );
    for (got, sent) in record.iter().zip(&expected_record) {
        assert!(
            got == sent,
            "a client frame changed on its way: {}",
            String::from_utf8_lossy(&sent[..sent.len().min(200)])
        );
    }
    assert!(
        session.stderr().is_empty(),
        "the proxy itself writes nothing to stderr"
    );
}

#[test]
fn malformed_input_from_either_side_is_answered_or_dropped_and_the_session_goes_on() {
    let dir = fresh_dir();
    let mut session = start(dir.path(), &["--max-frame-bytes", "4096"], &[]);
    session.send(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
    session.send_raw(b"this is not a header\r\nContent-Type: nothing\r\n\r\n");
    session.send(br#"{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":{"#);
    let too_big = json!({"jsonrpc":"2.0","id":"big","method":"x","params":{"t":"y".repeat(5000)}})
        .to_string();
    session.send(too_big.as_bytes());
    let errors: Vec<Value> = (0..2)
        .map(|_| serde_json::from_slice(&session.receive()).expect("the proxy answers in JSON"))
        .collect();
    assert_eq!(errors[0]["id"], 7);
    assert_eq!(errors[0]["error"]["code"], -32700);
    assert_eq!(errors[1]["id"], "big");
    assert_eq!(errors[1]["error"]["code"], -32700);

    // Lean's side: broken framing and broken JSON are dropped, the good frame arrives.
    let good = br#"{"jsonrpc":"2.0","method":"$/lean/ileanInfoUpdate","params":{}}"#.to_vec();
    let raw = json!({"jsonrpc":"2.0","method":"$/recorder/raw","params":{"bytes":"garbage\r\nContent-Length: nope\r\n\r\nContent-Length: 3\r\n\r\n{{{"}});
    session.send(raw.to_string().as_bytes());
    session.send(&emit(std::slice::from_ref(&good)));
    assert_eq!(session.receive(), good);

    session.send(br#"{"jsonrpc":"2.0","method":"exit"}"#);
    assert_eq!(session.wait(), 0);
    let record = recorded(dir.path());
    assert!(
        record
            .iter()
            .all(|frame| !frame.starts_with(br#"{"jsonrpc":"2.0","id":7"#)),
        "a frame the proxy could not read is not forwarded"
    );
    assert!(session.stderr().is_empty());
}

#[test]
fn when_lean_crashes_the_proxy_exits_with_its_status_after_forwarding_its_last_words() {
    let dir = fresh_dir();
    let mut session = start(dir.path(), &[], &[]);
    let last_words = br#"{"jsonrpc":"2.0","method":"$/lean/fileProgress","params":{"processing":[{"kind":2,"range":{"end":{"character":0,"line":9},"start":{"character":0,"line":0}}}],"textDocument":{"uri":"file:///p/A.lean","version":1}}}"#.to_vec();
    session.send(&emit(std::slice::from_ref(&last_words)));
    session.send(br#"{"jsonrpc":"2.0","method":"$/recorder/exit","params":{"code":3}}"#);
    assert_eq!(session.receive(), last_words);
    assert_eq!(session.wait(), 3);
}

pub(crate) fn process_is_gone(pid: &str) -> bool {
    let stat = Path::new("/proc").join(pid).join("stat");
    match std::fs::read_to_string(stat) {
        Err(_) => true,
        // A zombie has exited; only its entry is left.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn editor_eof_sends_exit_to_lean() {
    let dir = fresh_dir();
    let mut session = start(dir.path(), &[], &[]);
    session.send(br#"{"jsonrpc":"2.0","method":"some/note"}"#);
    session.close_stdin();
    assert_eq!(session.wait(), 0);
    let record = recorded(dir.path());
    assert_eq!(
        record.last().map(Vec::as_slice),
        Some(&br#"{"jsonrpc":"2.0","method":"exit"}"#[..])
    );
}

#[test]
fn editor_eof_kills_a_stuck_lean_and_leaves_no_orphan() {
    let dir = fresh_dir();
    let pid_file = dir.path().join("pid");
    let pid_arg = pid_file.to_str().expect("temp paths are UTF-8");
    let mut session = start(dir.path(), &[], &["--pid-file", pid_arg]);
    session.send(br#"{"jsonrpc":"2.0","method":"$/recorder/hang"}"#);
    let deadline = Instant::now() + WAIT;
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "the recorder did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Make sure the hang notification went through before the editor leaves.
    let marker = br#"{"jsonrpc":"2.0","method":"x"}"#.to_vec();
    session.send(&emit(std::slice::from_ref(&marker)));
    assert_eq!(session.receive(), marker);
    let pid = std::fs::read_to_string(&pid_file).expect("pid written");
    let started = Instant::now();
    session.close_stdin();
    let code = session.wait();
    assert_ne!(code, 0, "a killed server is not a clean exit");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        process_is_gone(pid.trim()),
        "the stuck server {pid} was left behind"
    );
}

#[tokio::test]
async fn the_proxys_own_traffic_goes_through_lean_handle_and_never_reaches_the_editor() {
    use sorryfill::lean::PrivateEvent;
    use sorryfill::router::{Proxy, ProxyConfig};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = fresh_dir();
    let mut server = tokio::process::Command::new(lsp_recorder_bin());
    server
        .arg("--echo")
        .arg("--record")
        .arg(dir.path().join("record"));
    let (editor_side, proxy_in) = tokio::io::duplex(1 << 16);
    let (proxy_out, mut editor_reads) = tokio::io::duplex(1 << 16);
    let proxy = Proxy::new(ProxyConfig::default());
    let lean = proxy.lean_handle();
    let session = tokio::spawn(proxy.serve(proxy_in, proxy_out, server));
    let mut editor = editor_side;
    let frame = |body: &[u8]| {
        [
            format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(),
            body.to_vec(),
        ]
        .concat()
    };

    let mut private = lean
        .register_private("file:///p/.lake/sorryfill/")
        .expect("the router runs");
    let asked = tokio::spawn({
        let lean = lean.clone();
        async move { lean.request("$/test/echo", json!({"x": "𝔽"})).await }
    });
    editor
        .write_all(&frame(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
        ))
        .await
        .expect("writable");
    editor
        .write_all(&frame(
            br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
        ))
        .await
        .expect("writable");
    let answer = tokio::time::timeout(WAIT, asked)
        .await
        .expect("answered in time")
        .expect("no panic");
    assert_eq!(answer, Ok(json!({"x": "𝔽"})));

    let shadow = r#"{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"diagnostics":[],"uri":"file:///p/.lake/sorryfill/S.lean","version":1}}"#;
    lean.notify("$/recorder/emit", json!({"bodies": [shadow]}))
        .expect("the router runs");
    let event = tokio::time::timeout(WAIT, private.recv())
        .await
        .expect("in time")
        .expect("subscribed");
    assert!(matches!(
        event,
        PrivateEvent::Diagnostics {
            version: Some(1),
            ..
        }
    ));

    editor
        .write_all(&frame(br#"{"jsonrpc":"2.0","method":"exit"}"#))
        .await
        .expect("writable");
    let status = tokio::time::timeout(WAIT, session)
        .await
        .expect("in time")
        .expect("no panic")
        .expect("served");
    assert!(status.success());
    let mut seen = Vec::new();
    editor_reads.read_to_end(&mut seen).await.expect("readable");
    let seen = String::from_utf8(seen).expect("UTF-8");
    assert_eq!(
        seen.matches("Content-Length").count(),
        1,
        "only the initialize answer: {seen}"
    );
    assert!(seen.contains(r#""id":1"#));
    assert!(!seen.contains("sorryfill:") && !seen.contains("S.lean"));
}

/// Neovim (libuv) connects a server's stdio through a socket pair, not pipes.
#[cfg(unix)]
#[test]
fn a_socket_pair_as_stdio_works_like_pipes() {
    use std::os::unix::net::UnixStream;

    let dir = fresh_dir();
    let (editor, proxy_end) = UnixStream::pair().expect("a socket pair");
    let proxy_out = proxy_end.try_clone().expect("a socket can be duplicated");
    let mut proxy = Command::new(sorryfill_bin())
        .current_dir(dir.path())
        .arg("serve")
        .arg("--log-file")
        .arg(dir.path().join("proxy.log"))
        .arg("--")
        .arg(lsp_recorder_bin())
        .arg("--echo")
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(proxy_end)))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(proxy_out)))
        .spawn()
        .expect("sorryfill starts");
    editor
        .set_read_timeout(Some(WAIT))
        .expect("timeouts are supported");
    let mut writer = editor.try_clone().expect("a socket can be duplicated");
    let request =
        r#"{"jsonrpc":"2.0","id":"é","method":"$/lean/plainGoal","params":{"a":1}}"#.as_bytes();
    write!(writer, "Content-Length: {}\r\n\r\n", request.len()).expect("writable");
    writer.write_all(request).expect("writable");
    let answer = read_frame(&mut BufReader::new(&editor)).expect("the echo comes back");
    let answer: Value = serde_json::from_slice(&answer).expect("JSON");
    assert_eq!(answer["id"], "é");
    assert_eq!(answer["result"]["a"], 1);
    let exit = br#"{"jsonrpc":"2.0","method":"exit"}"#;
    write!(writer, "Content-Length: {}\r\n\r\n", exit.len()).expect("writable");
    writer.write_all(exit).expect("writable");
    let status = proxy.wait().expect("waitable");
    assert!(status.success());
}

/// Every `publishDiagnostics` params object in real Lean test outputs (the shared
/// protocol samples) parses into the proxy's types and serialises back without losing or
/// changing a field (`fullRange`, `isSilent`, `leanTags`, `code`, ...).
#[test]
fn real_lean_diagnostics_keep_every_field_through_the_proxys_types() {
    use sorryfill::lean::PublishDiagnosticsParams;

    let Some(dir) = crate::support::protocol_dir() else {
        return;
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("samples")).expect("the samples folder is readable") {
        let path = entry.expect("a directory entry").path();
        if !path.to_string_lossy().ends_with(".expected.out") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("samples are UTF-8");
        // The outputs mix pretty-printed JSON values with plain lines: parse from each
        // line that starts a JSON object, and skip what does not parse.
        let mut offset = 0;
        while offset < text.len() {
            let rest = &text[offset..];
            let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    offset += values.byte_offset();
                    if value.get("diagnostics").is_some() && value.get("uri").is_some() {
                        let params: PublishDiagnosticsParams =
                            serde_json::from_value(value.clone())
                                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                        let back = serde_json::to_value(&params).expect("serialisable");
                        assert_eq!(back, value, "{}", path.display());
                        checked += 1;
                    }
                }
                _ => offset += rest.find('\n').map_or(rest.len(), |n| n + 1),
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} diagnostics samples were found"
    );
}

/// A typo in `sorryfill.toml` must not cost the user their Lean server: Lean runs behind a
/// plain proxy, and the editor is told once, after `initialized`, why sorryfill is off.
#[test]
fn a_broken_sorryfill_toml_leaves_lean_working_and_says_why_once() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        "[prover]\nmodle = \"x\"\n",
    )
    .expect("the temp dir is writable");
    let mut session = start(dir.path(), &[], &["--echo"]);
    let initialize =
        br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}}"#;
    session.send(initialize);
    let answer: Value = serde_json::from_slice(&session.receive()).expect("JSON");
    assert_eq!(answer["id"], 0, "Lean answered initialize");
    session.send(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
    let hover = br#"{"jsonrpc":"2.0","id":1,"method":"textDocument/hover","params":{"n":1}}"#;
    session.send(hover);
    let mut frames: Vec<Value> = (0..2)
        .map(|_| serde_json::from_slice(&session.receive()).expect("JSON"))
        .collect();
    frames.sort_by_key(|frame| frame["id"].is_null());
    assert_eq!(frames[0]["id"], 1, "Lean still answers requests");
    assert_eq!(frames[1]["method"], "window/showMessage");
    let message = frames[1]["params"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("sorryfill.toml"), "{message}");
    assert!(
        message.contains("modle"),
        "the message names the bad key: {message}"
    );
    // The status says so too, for a plugin's status line.
    let off = session.status_until(|status| status["params"]["state"] == "off");
    session.close_stdin();
    assert_eq!(session.wait(), 0);
    let statuses = session.only_statuses_left();
    assert_eq!(
        statuses.last().map(|last| &last["params"]["state"]),
        Some(&json!("off")),
        "sorryfill stays off"
    );
    assert!(
        off["params"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("modle")),
        "{off}"
    );
    assert!(session.stderr().is_empty(), "nothing on stderr");
    let record = recorded(dir.path());
    assert_eq!(record[0], initialize.to_vec());
    assert_eq!(record[2], hover.to_vec());
}

/// Lean dies halfway through writing a frame: the complete frames before it still arrive,
/// the cut one is dropped, and the proxy exits promptly with Lean's status, silently.
#[test]
fn lean_crashing_mid_frame_ends_the_session_with_its_status() {
    let dir = fresh_dir();
    let mut session = start(dir.path(), &[], &[]);
    let whole = br#"{"jsonrpc":"2.0","method":"$/lean/ileanInfoFinal","params":{}}"#.to_vec();
    session.send(&emit(std::slice::from_ref(&whole)));
    let cut = json!({"jsonrpc":"2.0","method":"$/recorder/raw","params":{"bytes":"Content-Length: 500\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"half"}});
    session.send(cut.to_string().as_bytes());
    session.send(br#"{"jsonrpc":"2.0","method":"$/recorder/exit","params":{"code":134}}"#);
    assert_eq!(session.receive(), whole);
    assert_eq!(session.wait(), 134);
    assert!(
        session
            .frames
            .recv_timeout(Duration::from_millis(200))
            .is_err(),
        "nothing of the cut frame reached the editor"
    );
    assert!(session.stderr().is_empty());
}

/// Lean bursts far more than the pipes hold while the editor reads nothing for a while:
/// once the editor reads, every frame arrives whole and in order. (The proxy reads ahead
/// at a paced rate, at most 100 ms per large body once 4 MiB are unwritten, so it never
/// deadlocks a peer that writes before it reads.)
#[test]
fn a_burst_from_lean_to_a_stalled_editor_arrives_whole_and_in_order() {
    let dir = fresh_dir();
    let mut proxy = Command::new(sorryfill_bin())
        .current_dir(dir.path())
        .arg("serve")
        .arg("--log-file")
        .arg(dir.path().join("proxy.log"))
        .arg("--")
        .arg(lsp_recorder_bin())
        .arg("--record")
        .arg(dir.path().join("record"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sorryfill starts");
    let mut stdin = proxy.stdin.take().expect("stdin is piped");
    let stdout = proxy.stdout.take().expect("stdout is piped");
    let pad = "x".repeat(256 * 1024);
    let bodies: Vec<Vec<u8>> = (0..48)
        .map(|i| {
            json!({"jsonrpc": "2.0", "method": "$/burst", "params": {"i": i, "pad": pad}})
                .to_string()
                .into_bytes()
        })
        .collect();
    for body in &bodies {
        let control = emit(std::slice::from_ref(body));
        write!(stdin, "Content-Length: {}\r\n\r\n", control.len()).expect("the proxy reads");
        stdin.write_all(&control).expect("the proxy reads");
    }
    stdin.flush().expect("the proxy reads");
    // Nobody has read the proxy's stdout yet.
    std::thread::sleep(Duration::from_millis(500));
    let mut reader = BufReader::new(stdout);
    for (i, expected) in bodies.iter().enumerate() {
        let got = read_frame(&mut reader).expect("the proxy forwards the burst");
        assert!(got == *expected, "frame {i} changed or moved");
    }
    drop(stdin);
    let status = proxy.wait().expect("waitable");
    assert!(status.success(), "{status}");
}

/// The proxy's resident memory, from `/proc/<pid>/status` (`VmRSS` now, `VmHWM` its peak),
/// in KiB; `None` where there is no `/proc`.
fn resident_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The body `lsp-recorder` writes as frame `i` of a burst of `bytes`-byte frames.
fn burst_body(i: u64, bytes: usize) -> Vec<u8> {
    let head = format!(r#"{{"jsonrpc":"2.0","method":"$/burst","params":{{"i":{i},"pad":""#);
    let tail = "\"}}";
    let pad = bytes.saturating_sub(head.len() + tail.len());
    let mut body = head.into_bytes();
    body.extend((0..pad).map(|k| b'a' + ((k as u64 + i) % 26) as u8));
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Lean writes 200 MiB while the editor reads nothing for a while: the proxy stops reading
/// from Lean instead of buffering the burst, so its resident memory stays under a fixed
/// ceiling, and once the editor reads, every frame arrives whole and in order.
#[test]
fn a_200_mib_burst_to_a_stalled_editor_is_held_back_in_the_pipe_not_in_memory() {
    const FRAMES: u64 = 200;
    const FRAME_BYTES: usize = 1 << 20;
    // About 24 MiB for the binary at rest, then one read budget of 8 MiB, one frame being
    // read and slack. Pacing instead of backpressure held about 10 MiB more per second of
    // stall.
    const CEILING_KIB: u64 = 48 * 1024;
    let dir = fresh_dir();
    let mut proxy = Command::new(sorryfill_bin())
        .current_dir(dir.path())
        .arg("serve")
        .arg("--log-file")
        .arg(dir.path().join("proxy.log"))
        .arg("--")
        .arg(lsp_recorder_bin())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sorryfill starts");
    let Some((_, start_peak)) = resident_kib(proxy.id()) else {
        crate::support::skip_line(format_args!("skipped: no /proc to read memory from"));
        let _ = proxy.kill();
        let _ = proxy.wait();
        return;
    };
    let mut stdin = proxy.stdin.take().expect("stdin is piped");
    let stdout = proxy.stdout.take().expect("stdout is piped");
    let control = json!({"jsonrpc": "2.0", "method": "$/recorder/burst", "params": {"count": FRAMES, "bytes": FRAME_BYTES}})
        .to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{control}", control.len()).expect("the proxy reads");
    stdin.flush().expect("the proxy reads");

    // The editor stalls; Lean writes as fast as the proxy lets it.
    std::thread::sleep(Duration::from_secs(3));
    let (stalled, _) = resident_kib(proxy.id()).expect("the proxy is alive");

    let (checked_tx, checked) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 20, stdout);
        for i in 0..FRAMES {
            let intact =
                read_frame(&mut reader).is_some_and(|got| got == burst_body(i, FRAME_BYTES));
            if checked_tx.send(intact).is_err() {
                return;
            }
        }
    });
    for i in 0..FRAMES {
        let intact = checked
            .recv_timeout(WAIT)
            .expect("the proxy forwards the whole burst in time");
        assert!(intact, "frame {i} changed, moved or went missing");
    }
    let (_, peak) = resident_kib(proxy.id()).expect("the proxy is alive");
    drop(stdin);
    let status = proxy.wait().expect("waitable");
    assert!(status.success(), "{status}");
    assert!(
        stalled < CEILING_KIB && peak < CEILING_KIB,
        "resident memory {stalled} KiB while stalled, peak {peak} KiB (started at {start_peak} KiB), over the {CEILING_KIB} KiB ceiling for a 200 MiB burst"
    );
}

/// Stray bytes glued to a header used to desynchronise the editor's stream for good: every
/// later message was read as part of a header and dropped. The proxy starts again at the
/// next `Content-Length` header, answers a request whose header was lost with an error, and
/// forwards everything after it.
#[test]
fn stray_bytes_before_a_header_cost_only_themselves() {
    let dir = fresh_dir();
    let mut session = start(dir.path(), &[], &["--echo"]);
    session.send(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
    assert_eq!(
        serde_json::from_slice::<Value>(&session.receive()).expect("JSON")["id"],
        1
    );
    session.send_raw(b"junk\r\n\r\n{}");
    session.send(br#"{"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"n":2}}"#);
    session.send_raw(
        b"Content-Type: x\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"textDocument/hover\"}",
    );
    session.send(br#"{"jsonrpc":"2.0","id":4,"method":"textDocument/hover","params":{"n":4}}"#);
    // The proxy refuses the headless request itself, so its answer may overtake Lean's.
    let mut answers: Vec<Value> = (0..3)
        .map(|_| serde_json::from_slice(&session.receive()).expect("the proxy answers in JSON"))
        .collect();
    answers.sort_by_key(|answer| answer["id"].as_i64());
    assert_eq!(answers[0]["id"], 2);
    assert_eq!(
        answers[0]["result"]["n"], 2,
        "Lean answered the request after the junk"
    );
    assert_eq!(answers[1]["id"], 3);
    assert_eq!(
        answers[1]["error"]["code"], -32700,
        "the headless request is refused, not lost"
    );
    assert_eq!(answers[2]["id"], 4);
    assert_eq!(answers[2]["result"]["n"], 4);
    session.send(br#"{"jsonrpc":"2.0","method":"exit"}"#);
    assert_eq!(session.wait(), 0);
    assert!(session.stderr().is_empty());
}

/// `serve --capture DIR` records every frame both ways, byte for byte, in wire order per
/// direction, in a file the documented reader reads back.
#[test]
fn a_capture_records_every_frame_both_ways_byte_for_byte() {
    let dir = fresh_dir();
    let captures = dir.path().join("captures");
    let capture_arg = captures.to_str().expect("a UTF-8 temporary path");
    let mut session = start(dir.path(), &["--capture", capture_arg], &["--echo"]);
    let initialize =
        br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"t":"\u00e9 \n"}}"#;
    session.send(initialize);
    let answer = session.receive();
    session.send(br#"{"jsonrpc":"2.0","method":"exit"}"#);
    assert_eq!(session.wait(), 0);

    let files: Vec<_> = std::fs::read_dir(&captures)
        .expect("the capture folder was made")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    assert_eq!(files.len(), 1, "one file per session: {files:?}");
    let bytes = std::fs::read(&files[0]).expect("the capture is readable");
    let frames = sorryfill::transport::capture::read_capture(&bytes).expect("a whole capture");
    let bodies = |direction: &str| -> Vec<Vec<u8>> {
        frames
            .iter()
            .filter(|frame| frame.direction == direction)
            .map(|frame| frame.body.clone())
            .collect()
    };
    let exit = br#"{"jsonrpc":"2.0","method":"exit"}"#.to_vec();
    assert_eq!(
        bodies("from-editor"),
        vec![initialize.to_vec(), exit.clone()]
    );
    assert_eq!(bodies("to-lean"), vec![initialize.to_vec(), exit]);
    assert_eq!(bodies("from-lean"), vec![answer.clone()]);
    assert_eq!(bodies("to-editor"), vec![answer]);
    assert!(
        frames.windows(2).all(|w| w[0].micros <= w[1].micros),
        "records are in the order they were taken"
    );
    assert!(session.stderr().is_empty());
}
