//! A minimal LSP client that drives the real `lean-sim` binary over pipes.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One frame written by the simulator.
pub struct Frame {
    /// The body bytes.
    pub raw: Vec<u8>,
    /// The body parsed as JSON, if it is JSON.
    pub json: Option<Value>,
}

/// A running simulator.
pub struct Sim {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<Frame>,
    /// Every JSON message received so far, in order.
    pub seen: Vec<Value>,
    next_id: i64,
}

/// Where the shared reference material lives (`../shared` next to the project root), if present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    dir.is_dir().then_some(dir)
}

/// Returns the shared directory, or prints one skip line.
pub fn shared_or_skip(what: &str) -> Option<PathBuf> {
    let dir = shared_dir();
    if dir.is_none() {
        skip_line(format_args!(
            "skipped: ../shared is absent ({what} needs it)"
        ));
    }
    dir
}

impl Sim {
    /// Starts the simulator with `args` and no `initialize` yet.
    pub fn spawn_raw(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lean-sim"))
            .args(args)
            .env_remove("LEAN_SIM_ORACLE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the lean-sim binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, frames) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = value.parse::<usize>().ok();
                    }
                }
                let Some(length) = length else { return };
                let mut raw = vec![0; length];
                if reader.read_exact(&mut raw).is_err() {
                    return;
                }
                let json = serde_json::from_slice(&raw).ok();
                if sender.send(Frame { raw, json }).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Sim {
            child,
            stdin,
            frames,
            seen: Vec::new(),
            next_id: 100,
        }
    }

    /// Starts the simulator and completes the `initialize` handshake with these Lean
    /// capabilities.
    pub fn start(args: &[&str], lean_capabilities: Value) -> Sim {
        let mut sim = Sim::spawn_raw(args);
        sim.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"capabilities": {"lean": lean_capabilities}, "initializationOptions": {"hasWidgets": true}}}));
        sim.wait_for(|m| m.get("id") == Some(&json!(0)));
        sim.notify("initialized", json!({}));
        sim.wait_for(|m| m.get("id") == Some(&json!("register_lean_watcher")));
        sim
    }

    /// Writes one message.
    pub fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).expect("a JSON value serialises");
        if let Some(stdin) = self.stdin.as_mut() {
            // A crashed simulator closes its stdin; the test then sees the missing answers.
            let _ = stdin.write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            let _ = stdin.write_all(&body);
            let _ = stdin.flush();
        }
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its id.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = json!(self.next_id);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// The next frame, raw.
    pub fn next_frame(&mut self, timeout: Duration) -> Option<Frame> {
        let frame = self.frames.recv_timeout(timeout).ok()?;
        if let Some(json) = &frame.json {
            self.seen.push(json.clone());
        }
        Some(frame)
    }

    /// Waits (up to 10 s) for a message matching `predicate`.
    pub fn wait_for(&mut self, predicate: impl Fn(&Value) -> bool) -> Value {
        self.try_wait_for(Duration::from_secs(10), predicate)
            .expect("the expected message arrives within 10 s")
    }

    /// Waits up to `timeout` for a message matching `predicate`.
    pub fn try_wait_for(
        &mut self,
        timeout: Duration,
        predicate: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.frames.recv_timeout(left) {
                Ok(frame) => {
                    if let Some(json) = frame.json {
                        self.seen.push(json.clone());
                        if predicate(&json) {
                            return Some(json);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Waits for the response to `id`.
    pub fn response(&mut self, id: &Value) -> Value {
        let id = id.clone();
        self.wait_for(move |m| m.get("id") == Some(&id) && m.get("method").is_none())
    }

    /// Opens a document (version 1).
    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "lean4",
            "version": 1, "text": text}, "dependencyBuildMode": "never"}),
        );
    }

    /// Waits until `version` of `uri` is done and returns the diagnostics of its last publish
    /// (the full set, when incremental diagnostics are off).
    pub fn diagnostics(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let id = self.request(
            "textDocument/waitForDiagnostics",
            json!({"uri": uri, "version": version}),
        );
        self.response(&id);
        self.seen
            .iter()
            .rev()
            .find(|m| {
                m.get("method") == Some(&json!("textDocument/publishDiagnostics"))
                    && m.pointer("/params/uri") == Some(&json!(uri))
                    && m.pointer("/params/version") == Some(&json!(version))
            })
            .and_then(|m| m.pointer("/params/diagnostics"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The simulator's elaboration counters.
    pub fn stats(&mut self) -> Value {
        let id = self.request("$/leanSim/stats", json!({}));
        self.response(&id)
            .get("result")
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Closes stdin and returns the exit code and everything written to stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        self.stdin = None;
        let status = self.child.wait().ok().and_then(|status| status.code());
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status, stderr)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // The simulator was started by this test; make sure it does not outlive it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes an oracle file into `dir` and returns its path as a string.
pub fn oracle_file(dir: &tempfile::TempDir, toml: &str) -> String {
    let path = dir.path().join("oracle.toml");
    std::fs::write(&path, toml).expect("the temporary oracle is writable");
    path.display().to_string()
}

/// Parses a Lean test `.expected.out` file into its JSON records (non-JSON lines are skipped).
pub fn expected_records(text: &str) -> Vec<Value> {
    let mut records = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['{', '[']).or_else(|| rest.find("null")) {
        let candidate = &rest[start..];
        let mut stream = serde_json::Deserializer::from_str(candidate).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                records.push(value);
                rest = &candidate[stream.byte_offset()..];
            }
            _ => rest = &candidate[1..],
        }
    }
    records
}

/// Prints a skip notice straight to stderr: the test harness captures `eprintln!`, and a skip
/// must be seen in the test log, never silent.
fn skip_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
