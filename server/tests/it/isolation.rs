//! Isolation of candidate checks, through the real `sorryfill serve` binary in front of
//! lean-sim: checks run on a Lean server of their own that the user's server never hears about,
//! and (where Landlock is available) that server cannot write outside `.lake/sorryfill/`, run a
//! program or open a TCP connection. Each lean-sim logs to `.lake/sorryfill/lean-<pid>.log`, so
//! the two servers that one command line starts are told apart by what they elaborated.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

use sorryfill::editor::FILL_TITLE;

use crate::support::{fresh_dir, lean_sim_bin, skip_line, sorryfill_bin};

const WAIT: Duration = Duration::from_secs(60);

const ORACLE: &str = r#"
[[theorem]]
statement = "(x : Nat) : x + 0 = x"
accept = ["omega"]
"#;

const TEXT: &str = "theorem t (x : Nat) : x + 0 = x := by\n  sorry\n";

/// `sorryfill serve` in `dir` with the editor's side of its pipes.
struct Served {
    child: Child,
    stdin: ChildStdin,
    frames: mpsc::UnboundedReceiver<Value>,
    next_id: i64,
    seen: Vec<Value>,
}

impl Served {
    /// Starts `sorryfill serve -- lean-sim --oracle … --log LOG EXTRA…` in `dir` (LOG defaults
    /// to `.lake/sorryfill/lean-{pid}.log`) and opens `Main.lean`; returns it and the URI.
    async fn start(dir: &Path, log: Option<&Path>, extra: &[String]) -> (Served, String) {
        let oracle = dir.join("oracle.toml");
        std::fs::write(&oracle, ORACLE).expect("the temp dir is writable");
        let logs = dir.join(".lake/sorryfill");
        std::fs::create_dir_all(&logs).expect("the temp dir is writable");
        let mut child = tokio::process::Command::new(sorryfill_bin())
            .arg("serve")
            .arg("--log-file")
            .arg(dir.join("proxy.log"))
            .arg("--")
            .arg(lean_sim_bin())
            .arg("--oracle")
            .arg(&oracle)
            .arg("--log")
            .arg(log.map_or_else(|| logs.join("lean-{pid}.log"), Path::to_path_buf))
            .args(extra)
            .current_dir(dir)
            .env("XDG_CONFIG_HOME", dir)
            .env("HOME", dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("sorryfill starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (to_test, frames) = mpsc::unbounded_channel();
        tokio::spawn(read_frames(stdout, to_test));
        let mut served = Served {
            child,
            stdin,
            frames,
            next_id: 0,
            seen: Vec::new(),
        };
        let root = dir.canonicalize().expect("the temp dir exists");
        let uri = sorryfill::documents::file_uri(&root.join("Main.lean"));
        served
            .request(
                "initialize",
                json!({"processId": null, "rootUri": sorryfill::documents::file_uri(&root), "capabilities": {}}),
            )
            .await;
        served.notify("initialized", json!({})).await;
        served
            .notify(
                "textDocument/didOpen",
                json!({"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": TEXT}}),
            )
            .await;
        (served, uri)
    }

    async fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).expect("JSON serialises");
        let frame = [
            format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(),
            body,
        ]
        .concat();
        self.stdin.write_all(&frame).await.expect("the proxy reads");
    }

    async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.frames.recv()).await {
                Ok(Some(frame)) if frame["id"] == id && frame.get("method").is_none() => {
                    return frame;
                }
                Ok(Some(frame)) => self.seen.push(frame),
                Ok(None) | Err(_) => panic!("no answer to {method}; seen: {:?}", self.seen),
            }
        }
    }

    /// Asks for code actions at the hole until sorryfill offers a fill (a check verified).
    async fn wait_for_fill(&mut self, uri: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = self
                .request(
                    "textDocument/codeAction",
                    json!({
                        "textDocument": {"uri": uri},
                        "range": {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 2}},
                        "context": {"diagnostics": []},
                    }),
                )
                .await;
            let actions = answer["result"].as_array().cloned().unwrap_or_default();
            if let Some(fill) = actions.iter().find(|a| a["title"] == FILL_TITLE) {
                return fill.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no fill action: {actions:?}; seen: {:?}",
                self.seen
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The status line (VS Code's status bar, Neovim's statusline) says proving is off, not
    /// "idle", and the user's server still answers about the user's document.
    async fn assert_proving_off_and_lean_answers(&mut self, uri: &str) {
        let status = self
            .wait_for_notification("$/sorryfill/status", "state", "off")
            .await;
        assert_eq!(status, "off");
        self.assert_lean_answers(uri).await;
    }

    /// The user's server answers a request about the user's document.
    async fn assert_lean_answers(&mut self, uri: &str) {
        let symbols = self
            .request(
                "textDocument/documentSymbol",
                json!({"textDocument": {"uri": uri}}),
            )
            .await;
        assert!(symbols.get("error").is_none(), "{symbols}");
    }

    /// Waits for a `window/showMessage` whose text contains `needle`.
    async fn wait_for_message(&mut self, needle: &str) -> String {
        self.wait_for_notification("window/showMessage", "message", needle)
            .await
    }

    /// Waits for a `method` notification whose string `field` in its params contains `needle`.
    async fn wait_for_notification(&mut self, method: &str, field: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(text) = self.seen.iter().find_map(|frame| {
                (frame["method"] == method)
                    .then(|| frame["params"][field].as_str().unwrap_or("").to_owned())
                    .filter(|text| text.contains(needle))
            }) {
                return text;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.frames.recv()).await {
                Ok(Some(frame)) => self.seen.push(frame),
                Ok(None) | Err(_) => panic!("no {method} with {needle:?}; seen: {:?}", self.seen),
            }
        }
    }

    async fn stop(mut self) {
        self.request("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("sorryfill exits after `exit`")
            .expect("waitable");
        assert!(status.success(), "{status}");
    }
}

async fn read_frames(stdout: tokio::process::ChildStdout, frames: mpsc::UnboundedSender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
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
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if let Ok(frame) = serde_json::from_slice(&body)
            && frames.send(frame).is_err()
        {
            return;
        }
    }
}

/// The logs of the lean-sims of one run: `(path, text)` of each `.lake/sorryfill/lean-*.log`.
fn lean_logs(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir.join(".lake/sorryfill")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("lean-"))
        })
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            (path, text)
        })
        .collect()
}

/// The user's server's log (it loaded the editor's `uri`) and the checking server's (it
/// loaded shadow documents).
fn user_and_checking_logs(dir: &Path, uri: &str) -> (String, String) {
    let logs = lean_logs(dir);
    let opened = |text: &str, needle: &str| {
        text.lines()
            .any(|line| line.starts_with("header-load") && line.contains(needle))
    };
    let user: Vec<_> = logs
        .iter()
        .filter(|(_, text)| opened(text, &format!("uri={uri} ")))
        .collect();
    let checking: Vec<_> = logs
        .iter()
        .filter(|(_, text)| opened(text, "/.lake/sorryfill/shadow"))
        .collect();
    assert_eq!(
        user.len(),
        1,
        "one server has the user's document: {logs:?}"
    );
    assert_eq!(checking.len(), 1, "one server has the shadows: {logs:?}");
    (user[0].1.clone(), checking[0].1.clone())
}

/// Whether checks run confined on this machine; prints the one skip line when they cannot.
fn confined_here() -> bool {
    let support = sorryfill::isolation::support();
    if !support.is_confined() {
        skip_line(format_args!(
            "skipped: checks cannot be confined here ({})",
            support.describe()
        ));
    }
    support.is_confined()
}

/// What lean-sim's escape attempt (`--fault-escape-dir`) aims at: a folder outside
/// `.lake/sorryfill/` and a listening local port.
struct Escape {
    _listener: std::net::TcpListener,
    dir: PathBuf,
    /// lean-sim's flags for the attempt.
    flags: [String; 4],
}

impl Escape {
    fn new(project: &Path) -> Escape {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let address = listener.local_addr().expect("bound");
        let dir = project.join("outside");
        std::fs::create_dir_all(&dir).expect("the temp dir is writable");
        let flags = [
            "--fault-escape-dir".to_owned(),
            dir.display().to_string(),
            "--fault-escape-connect".to_owned(),
            address.to_string(),
        ];
        Escape {
            _listener: listener,
            dir,
            flags,
        }
    }
}

/// The `fault-escape …` line of a lean-sim log.
fn escape_line(log: &str) -> String {
    log.lines()
        .find(|line| line.starts_with("fault-escape"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no escape attempt logged:\n{log}"))
}

/// The acceptance test of the second server: the fill is offered (Lean verified it), the checks
/// ran on a server that never had the user's document, and the user's server never had a
/// shadow document (nor was told anything about one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_lean_server_never_sees_a_shadow_document() {
    let dir = fresh_dir();
    let (mut served, uri) = Served::start(dir.path(), None, &[]).await;
    served.wait_for_fill(&uri).await;
    served.stop().await;

    let (user, checking) = user_and_checking_logs(dir.path(), &uri);
    assert!(
        !user.contains(".lake/sorryfill"),
        "user's server saw a shadow:\n{user}"
    );
    assert!(
        !checking.contains(&format!("uri={uri} ")),
        "the checking server had the user's document:\n{checking}"
    );
    let proxy_log = std::fs::read_to_string(dir.path().join("proxy.log")).unwrap_or_default();
    assert!(proxy_log.contains("checking Lean server"), "{proxy_log}");
}

/// A check's Lean code cannot create a file outside `.lake/sorryfill/`, run a program or open a
/// TCP connection: lean-sim tries all three (`--fault-escape-dir`) in both servers; the user's
/// (unconfined, the control) succeeds, the checking server is denied each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_check_cannot_write_outside_run_a_program_or_connect() {
    if !confined_here() {
        return;
    }
    let dir = fresh_dir();
    let escape = Escape::new(dir.path());
    let (mut served, uri) = Served::start(dir.path(), None, &escape.flags).await;
    served.wait_for_fill(&uri).await;
    served.stop().await;

    let (user, checking) = user_and_checking_logs(dir.path(), &uri);
    let control = escape_line(&user);
    assert!(
        control.contains("write=ok")
            && control.contains("exec=ok")
            && control.contains("connect=ok"),
        "the unconfined user's server can do it all: {control}"
    );
    let confined = escape_line(&checking);
    for denied in ["write=denied", "exec=denied", "connect=denied"] {
        assert!(confined.contains(denied), "{denied} expected: {confined}");
    }
    let pid = confined
        .split_whitespace()
        .find_map(|word| word.strip_prefix("pid="))
        .expect("the line names its process");
    assert!(
        !escape.dir.join(format!("escape-{pid}")).exists(),
        "the checking server wrote outside .lake/sorryfill/"
    );
}

/// Fail closed: a checking server that cannot start (here, its log lies outside the folder it
/// may write) turns proving off with one message, and the user's Lean keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checking_server_that_cannot_start_turns_proving_off_and_leaves_lean_alone() {
    if !confined_here() {
        return;
    }
    let dir = fresh_dir();
    let outside_log = dir.path().join("outside-{pid}.log");
    let (mut served, uri) = Served::start(dir.path(), Some(&outside_log), &[]).await;
    let message = served.wait_for_message("proving is off").await;
    assert!(message.contains("checking Lean server"), "{message}");
    served.assert_proving_off_and_lean_answers(&uri).await;
    served.stop().await;
}

// ---- `sorryfill prove` ------------------------------------------------------------------------

/// `sorryfill prove --no-model Foo.lean` in `dir` (holding [`TEXT`]) in front of lean-sim, which
/// logs to `.lake/sorryfill/lean-{pid}.log` unless `log` says otherwise; `extra` are lean-sim's
/// further flags. Returns the process output and the report.
fn prove(dir: &Path, log: Option<&Path>, extra: &[String]) -> (std::process::Output, Value) {
    let oracle = dir.join("oracle.toml");
    std::fs::write(&oracle, ORACLE).expect("the temp dir is writable");
    std::fs::write(dir.join("Foo.lean"), TEXT).expect("the temp dir is writable");
    let log = log.map_or_else(
        || dir.join(".lake/sorryfill/lean-{pid}.log"),
        Path::to_path_buf,
    );
    let lean_cmd = [
        lean_sim_bin().display().to_string(),
        "--oracle".to_owned(),
        oracle.display().to_string(),
        "--log".to_owned(),
        log.display().to_string(),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    .collect::<Vec<_>>()
    .join(" ");
    let output = std::process::Command::new(sorryfill_bin())
        .args(["prove", "Foo.lean", "--no-model", "--json", "report.json"])
        .args(["--lean-cmd", &lean_cmd])
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("HOME", dir)
        .output()
        .expect("sorryfill runs");
    let report = std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    (output, report)
}

/// `prove` checks model output on a confined server of its own too: the user's server
/// (the control) may write, run and connect, the checking server may not, and the hole is
/// still proved.
#[test]
fn prove_checks_candidates_on_a_confined_server_of_their_own() {
    if !confined_here() {
        return;
    }
    let dir = fresh_dir();
    let escape = Escape::new(dir.path());
    let (output, report) = prove(dir.path(), None, &escape.flags);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        report["files"][0]["holes"][0]["status"], "verified",
        "{report}\n{stderr}"
    );

    let root = dir.path().canonicalize().expect("the temp dir exists");
    let uri = sorryfill::documents::file_uri(&root.join("Foo.lean"));
    let (user, checking) = user_and_checking_logs(dir.path(), &uri);
    assert!(
        escape_line(&user).contains("write=ok"),
        "the user's server is not confined"
    );
    let confined = escape_line(&checking);
    for denied in ["write=denied", "exec=denied", "connect=denied"] {
        assert!(confined.contains(denied), "{denied} expected: {confined}");
    }
    assert!(
        !checking.contains(&format!("uri={uri} ")),
        "the checking server had the user's document:\n{checking}"
    );
}

/// Fail closed in `prove`: when the checking server cannot start, no hole is proved, each
/// says proving is off, and the run reports why as an error (exit code 2, as for a file that
/// cannot be checked).
#[test]
fn prove_with_a_checking_server_that_cannot_start_proves_nothing_and_says_why() {
    if !confined_here() {
        return;
    }
    let dir = fresh_dir();
    let outside_log = dir.path().join("outside-{pid}.log");
    let (output, report) = prove(dir.path(), Some(&outside_log), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let hole = &report["files"][0]["holes"][0];
    assert_eq!(hole["status"], "failed", "{report}");
    let reason = hole["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("proving is off"), "{report}");
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{report}");
    let message = errors[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("checking Lean server did not start")
            && message.contains("SORRYFILL_CONFINE=off"),
        "{message}"
    );
    assert!(
        stderr.contains("checking Lean server did not start"),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(dir.path().join("Foo.lean")).is_ok_and(|text| text == TEXT),
        "the file is unchanged"
    );
}

/// The process ids of the checking servers started so far: those whose log shows a shadow
/// document (each lean-sim logs to `lean-<pid>.log`).
fn checking_server_pids(dir: &Path) -> Vec<String> {
    lean_logs(dir)
        .into_iter()
        .filter(|(_, text)| text.contains("/.lake/sorryfill/shadow"))
        .filter_map(|(path, _)| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            Some(name.strip_prefix("lean-")?.strip_suffix(".log")?.to_owned())
        })
        .collect()
}

/// A checking server that dies (killed here, as the kernel's out-of-memory killer would) is
/// started again at the next check, and proving goes on; the user's server is not touched.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checking_server_that_dies_is_started_again_at_the_next_check() {
    let dir = fresh_dir();
    let (mut served, uri) = Served::start(dir.path(), None, &[]).await;
    served.wait_for_fill(&uri).await;
    let first = checking_server_pids(dir.path());
    assert_eq!(first.len(), 1, "one checking server: {first:?}");
    let killed = std::process::Command::new("kill")
        .args(["-9", &first[0]])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "the checking server was running");
    // Let the proxy of the checking server see its exit.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // An edit inside the declaration: a new job, whose checks need a checking server again.
    served
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [{"text": TEXT.replace("sorry", "sorry -- again")}],
            }),
        )
        .await;
    let fill = served.wait_for_fill(&uri).await;
    assert_eq!(
        fill["edit"]["documentChanges"][0]["textDocument"]["version"], 2,
        "{fill}"
    );
    let now = checking_server_pids(dir.path());
    assert_eq!(now.len(), 2, "a second checking server: {now:?}");
    let proxy_log = std::fs::read_to_string(dir.path().join("proxy.log")).unwrap_or_default();
    assert!(
        proxy_log.contains("the checking Lean server exited; starting a new one"),
        "{proxy_log}"
    );
    served.assert_lean_answers(&uri).await;
    served.stop().await;
}

/// A checking server that dies at every check is not restarted for ever: after
/// `MAX_RESTARTS` restarts within `RESTART_WINDOW` proving is off, with one message and the
/// status saying why, and the user's server keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checking_server_that_keeps_dying_turns_proving_off() {
    let dir = fresh_dir();
    let extra = [
        "--crash-on-open".to_owned(),
        "/.lake/sorryfill/shadow".to_owned(),
    ];
    let (mut served, uri) = Served::start(dir.path(), None, &extra).await;
    let message = served.wait_for_message("proving is off").await;
    let exits = sorryfill::isolation::MAX_RESTARTS + 1;
    assert!(
        message.contains(&format!("exited {exits} times within 10 minutes")),
        "{message}"
    );
    served.assert_proving_off_and_lean_answers(&uri).await;
    served.stop().await;
    let proxy_log = std::fs::read_to_string(dir.path().join("proxy.log")).unwrap_or_default();
    assert_eq!(
        proxy_log
            .matches("the checking Lean server exited; starting a new one")
            .count(),
        sorryfill::isolation::MAX_RESTARTS,
        "{proxy_log}"
    );
}
