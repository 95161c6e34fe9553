//! The fault matrix (docs/reliability.md): the real `sorryfill` binary when something around it
//! breaks. Lean's faults come from lean-sim's fault flags, the model's from a misbehaving mock
//! server on 127.0.0.1, the editor's from a scripted editor writing whatever it likes. Each
//! test asserts what a user would notice: the editor keeps working, nothing is lost, the
//! process ends, and the status says why.

use std::io::{BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::pipeline_e2e::{MockModel, Project, Reply};
use crate::proxy::{process_is_gone, read_frame};
use crate::support::{fresh_dir, lean_sim_bin, sorryfill_bin};

const WAIT: Duration = Duration::from_secs(30);

/// What every shadow document's URI holds; the editor must never see it.
const SHADOW_MARK: &[u8] = b"/.lake/sorryfill/shadow";

// ---- `sorryfill serve` in front of lean-sim, driven by a scripted editor ---------------------

/// A running `sorryfill serve -- lean-sim FLAGS` in a fresh project, with a scripted editor.
struct Serve {
    dir: tempfile::TempDir,
    proxy: Child,
    stdin: Option<ChildStdin>,
    frames: mpsc::Receiver<Value>,
    next_id: i64,
    /// Set when a frame to the editor names a shadow document.
    shadow_seen: Arc<AtomicBool>,
}

impl Serve {
    /// Starts the proxy; lean-sim logs into the project folder, so its command line names
    /// the folder and the test can look for orphans (the user's server and the checking one).
    fn start(sim_flags: &[&str], config: &str) -> Self {
        let dir = fresh_dir();
        std::fs::write(dir.path().join("sorryfill.toml"), config).expect("sorryfill.toml");
        std::fs::write(dir.path().join("lakefile.toml"), "name = \"p\"\n").expect("lakefile");
        std::fs::create_dir_all(dir.path().join(".lake/sorryfill")).expect("mkdir");
        let mut proxy = Command::new(sorryfill_bin())
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join(".config"))
            .arg("serve")
            .arg("--log-file")
            .arg(dir.path().join("serve.log"))
            .arg("--")
            .arg(lean_sim_bin())
            .arg("--accept-all")
            // Under `.lake/sorryfill/`, the one folder the confined checking server may write.
            .arg("--log")
            .arg(dir.path().join(".lake/sorryfill/lean-{pid}.log"))
            .args(sim_flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sorryfill starts");
        let stdout = proxy.stdout.take().expect("stdout is piped");
        let (tx, frames) = mpsc::channel();
        let shadow_seen = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&shadow_seen);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(body) = read_frame(&mut reader) {
                if body
                    .windows(SHADOW_MARK.len())
                    .any(|window| window == SHADOW_MARK)
                {
                    seen.store(true, Ordering::SeqCst);
                }
                let value = serde_json::from_slice(&body).expect("the proxy sends JSON");
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut serve = Serve {
            dir,
            stdin: proxy.stdin.take(),
            proxy,
            frames,
            next_id: 100,
            shadow_seen,
        };
        let id = serve.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        serve.response(id);
        serve.notify("initialized", json!({}));
        serve
    }

    /// Whether any frame so far named a shadow document.
    fn leaked(&self) -> bool {
        self.shadow_seen.load(Ordering::SeqCst)
    }

    fn uri(&self, name: &str) -> String {
        sorryfill::documents::file_uri(&self.dir.path().join(name))
    }

    fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.send_raw(frame.as_bytes()).expect("the proxy reads");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    fn open(&mut self, name: &str, text: &str) -> String {
        let uri = self.uri(name);
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "lean4", "version": 1, "text": text}}),
        );
        uri
    }

    /// The next frame the proxy sends that satisfies `wanted`; earlier ones are dropped.
    fn until(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.frames.recv_timeout(left) {
                Ok(frame) if wanted(&frame) => return frame,
                Ok(_) => {}
                Err(_) => panic!("the editor never received {what}"),
            }
        }
    }

    fn response(&self, id: i64) -> Value {
        self.until(&format!("the response to {id}"), |frame| {
            frame["id"] == id && frame.get("method").is_none()
        })
    }

    /// `waitForDiagnostics` for `uri` at `version`: Lean's barrier, answered through the proxy.
    fn settle(&mut self, uri: &str, version: i32) -> Value {
        let id = self.request(
            "textDocument/waitForDiagnostics",
            json!({"uri": uri, "version": version}),
        );
        self.response(id)
    }

    fn hover(&mut self, uri: &str, line: u32) -> Value {
        let id = self.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 0}}),
        );
        self.response(id)
    }

    /// Waits for the proxy to exit and returns its status code.
    fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.proxy.try_wait().expect("waitable") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the proxy did not exit in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every lean-sim process started for this project (the user's and any checking server),
    /// found by the project folder on their command line.
    fn lean_processes(&self) -> Vec<String> {
        let marker = self.dir.path().to_string_lossy().into_owned();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let pid = entry.file_name().to_string_lossy().into_owned();
                pid.chars().all(|c| c.is_ascii_digit()).then_some(pid)
            })
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                cmdline.contains("lean-sim") && cmdline.contains(&marker)
            })
            .filter(|pid| !process_is_gone(pid))
            .collect()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.proxy.kill();
        let _ = self.proxy.wait();
    }
}

const HOLE_FILE: &str = "theorem t (n : Nat) : n + 0 = n := by\n  sorry\n";

#[test]
fn a_crashed_file_worker_passes_leans_error_through_and_the_next_edit_recovers() {
    // The worker crashes once its imports are loaded. Lean queues a request that arrives
    // after a crash until the next edit, so the hover must be pending before: loading the
    // imports takes long enough for it to arrive even on a stalled machine.
    let mut serve = Serve::start(&["--crash-marker", "CRASH_HERE", "--import-ms", "2000"], "");
    let uri = serve.open("Crash.lean", "-- CRASH_HERE\ntheorem t : True := trivial\n");
    let id = serve.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}}),
    );
    // Lean sends both, in an order of its own: the crash answer and the fatal progress.
    let (mut answer, mut fatal) = (None, None);
    while answer.is_none() || fatal.is_none() {
        let frame = serve.until("the crash answer and the fatal progress", |frame| {
            (frame["id"] == id && frame.get("method").is_none())
                || (frame["method"] == "$/lean/fileProgress"
                    && frame["params"]["processing"][0]["kind"] == 2)
        });
        if frame["id"] == id {
            answer = Some(frame);
        } else {
            fatal = Some(frame);
        }
    }
    let (answer, fatal) = (answer.unwrap_or_default(), fatal.unwrap_or_default());
    assert_eq!(
        answer["error"]["code"], -32902,
        "Lean's crash code reaches the editor: {answer}"
    );
    assert_eq!(fatal["params"]["textDocument"]["uri"], uri.as_str());

    // The user removes the offending text: the worker restarts and answers again.
    serve.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"text": "theorem t : True := trivial\n"}]}),
    );
    serve.settle(&uri, 2);
    let hover = serve.hover(&uri, 0);
    assert!(
        hover.get("error").is_none(),
        "the restarted worker answers: {hover}"
    );
}

#[test]
fn a_check_that_hangs_times_out_while_the_users_requests_are_answered() {
    // Every shadow holding the candidate `decide` hangs; the user's own file never does.
    let mut serve = Serve::start(
        &["--hang-marker", "decide"],
        "[verify]\ntimeout_s = 2\n[tactics]\nlist = [\"decide\"]\n",
    );
    let uri = serve.open("Hole.lean", HOLE_FILE);
    serve.settle(&uri, 1);
    let started = Instant::now();
    // While the check hangs, the user's requests go on being answered promptly.
    while started.elapsed() < Duration::from_secs(3) {
        let hover = serve.hover(&uri, 0);
        assert!(hover.get("error").is_none(), "{hover}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The hole's status action then says the only candidate failed: a timeout is a failure.
    let deadline = Instant::now() + WAIT;
    loop {
        let id = serve.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri},
                   "range": {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 7}},
                   "context": {"diagnostics": []}}),
        );
        let titles: Vec<String> = serve.response(id)["result"]
            .as_array()
            .map(|actions| {
                actions
                    .iter()
                    .filter_map(|action| action["title"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            !titles.iter().any(|title| title.starts_with("Fill")),
            "a hung check is never offered as a proof: {titles:?}"
        );
        if titles.iter().any(|title| title.contains("failed")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hole never failed: {titles:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_slow_lean_still_delivers_every_answer() {
    let mut serve = Serve::start(&["--slow-ms", "15"], "");
    let uri = serve.open("Slow.lean", "theorem t : True := trivial\n");
    serve.settle(&uri, 1);
    let ids: Vec<i64> = (0..20)
        .map(|_| {
            serve.request(
                "textDocument/hover",
                json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 8}}),
            )
        })
        .collect();
    let mut answered: Vec<i64> = (0..ids.len())
        .map(|_| {
            serve.until("a hover answer", |frame| {
                frame.get("id").is_some() && frame.get("method").is_none()
            })["id"]
                .as_i64()
                .expect("numeric id")
        })
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, ids);
}

#[test]
fn unknown_documents_and_out_of_range_edits_get_leans_answers_and_break_nothing() {
    let mut serve = Serve::start(&[], "");
    // A change for a document nobody opened is ignored, as Lean ignores it.
    serve.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": serve.uri("Nowhere.lean"), "version": 3},
               "contentChanges": [{"range": {"start": {"line": 9, "character": 0}, "end": {"line": 9, "character": 0}}, "text": "x"}]}),
    );
    let nowhere = serve.uri("Nowhere.lean");
    let hover = serve.hover(&nowhere, 0);
    assert_eq!(
        hover["error"]["code"], -32801,
        "Lean's closed-file error: {hover}"
    );

    // An edit far past the end of a real document: the proxy keeps going, and the document
    // still answers at its next version.
    let uri = serve.open("Edit.lean", "theorem t : True := trivial\n");
    serve.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 500, "character": 90}, "end": {"line": 700, "character": 3}}, "text": "\n-- tail\n"}]}),
    );
    serve.settle(&uri, 2);
    let hover = serve.hover(&uri, 0);
    assert!(hover.get("error").is_none(), "{hover}");
    assert!(
        serve.proxy.try_wait().expect("waitable").is_none(),
        "the proxy is alive"
    );
}

#[test]
fn a_50_mib_did_change_reaches_lean_and_is_elaborated() {
    let mut serve = Serve::start(&[], "");
    let uri = serve.open("Big.lean", "theorem t : True := trivial\n");
    let filler = "-- a long comment line that pads the file out to fifty mebibytes\n";
    let text = format!(
        "theorem t : True := trivial\n{}theorem u : True := trivial\n",
        filler.repeat(50 * 1024 * 1024 / filler.len() + 1)
    );
    assert!(text.len() >= 50 * 1024 * 1024);
    serve.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text}]}),
    );
    let answer = serve.settle(&uri, 2);
    assert!(
        answer.get("error").is_none(),
        "Lean elaborated the big version: {answer}"
    );
    let last_line = u32::try_from(text.lines().count() - 1).expect("fits");
    let hover = serve.hover(&uri, last_line);
    assert!(hover.get("error").is_none(), "{hover}");
}

#[test]
fn thousands_of_requests_in_a_burst_are_each_answered_exactly_once() {
    let mut serve = Serve::start(&[], "");
    let uri = serve.open("Burst.lean", "theorem t : True := trivial\n");
    serve.settle(&uri, 1);
    let mut burst = Vec::new();
    let mut ids = Vec::new();
    for n in 0..3000 {
        let id = 10_000 + n;
        ids.push(id);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "textDocument/hover",
            "params": {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 8}}})
        .to_string();
        burst.extend_from_slice(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }
    serve.send_raw(&burst).expect("the proxy reads the burst");
    // Lean answers requests concurrently, so only the set is fixed: each id exactly once.
    let mut answered: Vec<i64> = ids
        .iter()
        .map(|_| {
            serve.until("a burst answer", |frame| {
                frame["id"].as_i64().is_some_and(|id| id >= 10_000) && frame.get("method").is_none()
            })["id"]
                .as_i64()
                .expect("numeric id")
        })
        .collect();
    answered.sort_unstable();
    assert!(answered == ids, "every request answered exactly once");
}

#[test]
fn exit_without_shutdown_ends_the_proxy_and_lean_with_no_orphan() {
    let mut serve = Serve::start(&[], "");
    let uri = serve.open("Exit.lean", HOLE_FILE);
    serve.settle(&uri, 1);
    assert!(!serve.lean_processes().is_empty(), "lean-sim runs");
    serve.notify("exit", json!(null));
    // The proxy ends with Lean's own status (LSP leaves it to the server).
    serve.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !serve.lean_processes().is_empty() {
        assert!(
            Instant::now() < deadline,
            "lean-sim outlived the proxy: {:?}",
            serve.lean_processes()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn closing_stdin_while_a_hole_is_being_proved_ends_every_process() {
    // The check hangs, so a job is running when the editor goes away.
    let mut serve = Serve::start(
        &["--hang-marker", "decide"],
        "[tactics]\nlist = [\"decide\"]\n",
    );
    let uri = serve.open("Job.lean", HOLE_FILE);
    serve.settle(&uri, 1);
    std::thread::sleep(Duration::from_millis(500));
    serve.stdin = None;
    serve.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !serve.lean_processes().is_empty() {
        assert!(
            Instant::now() < deadline,
            "a Lean server outlived the proxy: {:?}",
            serve.lean_processes()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- `sorryfill prove` with a broken cache, a full disk, a misbehaving endpoint -------------

const PROVE_FILE: &str = "theorem t (n : ℕ) : n + 0 = n := by\n  sorry\n";
const PROVE_ORACLE: &str =
    "[[theorem]]\nstatement = \"(n : ℕ) : n + 0 = n\"\naccept = [\"simp\"]\n";

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The number of lines of `text` that mention `needle`.
fn mentions(text: &str, needle: &str) -> usize {
    text.lines().filter(|line| line.contains(needle)).count()
}

fn cache_path(project: &Project) -> std::path::PathBuf {
    project
        .path()
        .join(".lake")
        .join("sorryfill")
        .join("sorryfill.db")
}

fn assert_proved_without_cache(project: &Project, what: &str) {
    let (output, report) = project.prove();
    let stderr = stderr_of(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what}: the hole is still proved\n{stderr}"
    );
    assert_eq!(
        report["files"][0]["holes"][0]["status"], "verified",
        "{report}"
    );
    assert_eq!(
        mentions(&stderr, "cache"),
        1,
        "{what}: one warning about the cache\n{stderr}"
    );
}

#[test]
fn a_corrupt_cache_database_means_proving_without_the_cache_and_one_warning() {
    let project = Project::new(PROVE_FILE, PROVE_ORACLE, "[tactics]\nlist = [\"simp\"]\n");
    let db = cache_path(&project);
    std::fs::create_dir_all(db.parent().expect("a parent")).expect("mkdir");
    std::fs::write(
        &db,
        b"this is not a SQLite database, not even close".repeat(200),
    )
    .expect("write");
    assert_proved_without_cache(&project, "a corrupt database");
}

#[test]
fn an_unopenable_cache_database_means_proving_without_the_cache_and_one_warning() {
    // A folder where the database file should be: it can be neither opened nor created, as
    // on a read-only disk (permission bits do not stop root, who runs CI).
    let project = Project::new(PROVE_FILE, PROVE_ORACLE, "[tactics]\nlist = [\"simp\"]\n");
    std::fs::create_dir_all(cache_path(&project)).expect("mkdir");
    assert_proved_without_cache(&project, "an unopenable database");
}

#[test]
fn a_locked_cache_database_means_proving_without_the_cache_and_one_warning() {
    let project = Project::new(PROVE_FILE, PROVE_ORACLE, "[tactics]\nlist = [\"simp\"]\n");
    let db = cache_path(&project);
    std::fs::create_dir_all(db.parent().expect("a parent")).expect("mkdir");
    // Another process holds an exclusive lock for the whole run.
    let holder = rusqlite::Connection::open(&db).expect("open");
    holder.execute_batch("PRAGMA journal_mode=DELETE; CREATE TABLE IF NOT EXISTS hold(x); BEGIN EXCLUSIVE; INSERT INTO hold VALUES (1);").expect("lock");
    let started = Instant::now();
    assert_proved_without_cache(&project, "a locked database");
    assert!(started.elapsed() < WAIT, "the lock did not stall the run");
    drop(holder);
}

#[cfg(unix)]
#[test]
fn a_full_disk_during_write_leaves_the_file_whole() {
    let project = Project::new(
        &format!(
            "{}{}",
            "-- padding line to make the file larger than the limit\n".repeat(200),
            PROVE_FILE
        ),
        PROVE_ORACLE,
        "[tactics]\nlist = [\"simp\"]\n",
    );
    let before = std::fs::read(project.path().join("Foo.lean")).expect("read");
    // `ulimit -f` caps the size of any file the process writes (in 1 KiB blocks here): the
    // new file cannot be written whole, as on a full disk.
    let args: Vec<String> = project
        .prove_args()
        .iter()
        .map(|arg| shlex::try_quote(arg).expect("quotable").into_owned())
        .collect();
    let script = format!(
        "trap '' XFSZ; ulimit -f 4; exec {} {} --write",
        sorryfill_bin().display(),
        args.join(" ")
    );
    let run = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(project.path())
        .env("HOME", project.path())
        .env("XDG_CONFIG_HOME", project.path().join(".config"))
        .output()
        .expect("bash runs");
    let after = std::fs::read(project.path().join("Foo.lean")).expect("read");
    assert_eq!(after, before, "the user's file is left exactly as it was");
    let stderr = stderr_of(&run);
    assert_eq!(
        run.status.code(),
        Some(2),
        "a failed write is an error\n{stderr}"
    );
    assert!(
        stderr.contains("cannot write"),
        "the error names the write\n{stderr}"
    );
    let stray: Vec<_> = std::fs::read_dir(project.path())
        .expect("list")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("Foo") && name != "Foo.lean")
        .collect();
    assert!(
        stray.is_empty(),
        "no partial file is left behind: {stray:?}"
    );
}

/// How a misbehaving endpoint answers every request.
#[derive(Clone, Copy, Debug)]
enum EndpointFault {
    Status(u16),
    NotJson,
    Hang,
    CloseMidStream,
    StreamsForever,
    Enormous,
}

fn fault_reply(fault: EndpointFault) -> Reply {
    match fault {
        EndpointFault::Status(code) => Reply::Status(code),
        EndpointFault::NotJson => Reply::Raw("<html>502 Bad Gateway</html>".into()),
        EndpointFault::Hang => Reply::Silent,
        EndpointFault::CloseMidStream => Reply::CloseMidStream,
        EndpointFault::StreamsForever => Reply::Forever,
        EndpointFault::Enormous => Reply::Answer {
            delay: Duration::ZERO,
            text: "lemma ".repeat(2_000_000),
        },
    }
}

/// `prove` against an endpoint that fails in one way: the run ends in bounded time with the
/// hole left (the portfolio cannot prove it), a clear reason, and no retry storm.
fn assert_endpoint_fault_is_bounded(fault: EndpointFault) {
    let model = MockModel::start(move |_| fault_reply(fault));
    let config = format!(
        "[prover]\nbase_url = \"{}\"\nmodel = \"mock\"\nsamples = 2\ntimeout_s = 3\n\
         [budget]\nwall_time_per_hole_s = 20\n[tactics]\nlist = [\"rfl\"]\n",
        model.url
    );
    let project = Project::new(PROVE_FILE, PROVE_ORACLE, &config);
    let started = Instant::now();
    let (output, report) = project.prove();
    let stderr = stderr_of(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{fault:?}: the hole is left\n{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{fault:?}: bounded"
    );
    assert!(
        model.requests() <= 8,
        "{fault:?}: no retry storm ({} requests)",
        model.requests()
    );
    let reason = report["files"][0]["holes"][0]["reason"].to_string();
    assert!(reason.len() > 2, "{fault:?}: the report says why: {report}");
}

#[test]
fn endpoint_faults_end_each_hole_in_bounded_time_with_a_reason() {
    for fault in [
        EndpointFault::Status(401),
        EndpointFault::Status(429),
        EndpointFault::Status(500),
        EndpointFault::NotJson,
        EndpointFault::Hang,
        EndpointFault::CloseMidStream,
        EndpointFault::StreamsForever,
        EndpointFault::Enormous,
    ] {
        assert_endpoint_fault_is_bounded(fault);
    }
}

#[test]
fn a_refused_connection_ends_the_hole_quickly_with_a_reason() {
    // A port nobody listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let config = format!(
        "[prover]\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmodel = \"mock\"\nsamples = 4\n\
         [tactics]\nlist = [\"rfl\"]\n"
    );
    let project = Project::new(PROVE_FILE, PROVE_ORACLE, &config);
    let (output, report) = project.prove();
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    let reason = report["files"][0]["holes"][0]["reason"].to_string();
    assert!(reason.len() > 2, "the report says why: {report}");
}

// ---- Secrets and reach ----------------------------------------------------------------------

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.to_owned());
            }
        }
    }
    found
}

#[test]
fn an_api_key_reaches_no_file_and_nothing_is_written_outside_the_projects_own_folders() {
    const KEY: &str = "sk-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    let model = MockModel::start(|_| Reply::Status(500));
    let config = format!(
        "[prover]\nbase_url = \"{}\"\nmodel = \"mock\"\napi_key_env = \"FAULT_TEST_KEY\"\n\
         samples = 2\n[tactics]\nlist = [\"rfl\"]\n",
        model.url
    );
    let project = Project::new(PROVE_FILE, PROVE_ORACLE, &config);
    let inputs = files_under(project.path());
    let output = project
        .command(&project.prove_args())
        .env("FAULT_TEST_KEY", KEY)
        .env("RUST_LOG", "trace")
        .output()
        .expect("sorryfill runs");
    assert!(model.requests() > 0, "the model was asked");
    let export = project
        .command(&["dataset", "export", "--format", "rl", "--out", "rl.jsonl"])
        .env("FAULT_TEST_KEY", KEY)
        .output()
        .expect("sorryfill runs");
    for (what, bytes) in [
        ("prove's stdout", &output.stdout),
        ("prove's stderr", &output.stderr),
        ("export's stderr", &export.stderr),
    ] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(KEY),
            "the key is in {what}"
        );
    }
    // HOME is the project folder here, so this also covers the user's cache and config.
    for file in files_under(project.path()) {
        let bytes = std::fs::read(project.path().join(&file)).unwrap_or_default();
        assert!(
            !bytes
                .windows(KEY.len())
                .any(|window| window == KEY.as_bytes()),
            "the key is in {}",
            file.display()
        );
        let allowed = inputs.contains(&file)
            || file.starts_with(".lake/sorryfill")
            || file.starts_with(".cache")
            || file == std::path::Path::new("report.json")
            || file == std::path::Path::new("rl.jsonl");
        assert!(
            allowed,
            "a file outside the project's own folders: {}",
            file.display()
        );
    }
}

// ---- Edit storms ----------------------------------------------------------------------------

/// One thing the scripted editor does in a storm.
#[derive(Clone, Debug)]
enum StormStep {
    /// Inserts a comment line before line `line` (modulo the line count).
    CommentLine { line: usize },
    /// Inserts or removes a space at the start of line `line`, which may break a proof.
    Indent { line: usize, remove: bool },
    /// Saves the document.
    Save,
    /// Asks for code actions at every hole and checks each offered fill; applies the first
    /// when `apply`.
    Actions { apply: bool },
    /// Lets the proxy and Lean work for a moment.
    Pause { millis: u64 },
}

fn storm_step() -> impl proptest::strategy::Strategy<Value = StormStep> {
    use proptest::prelude::*;
    prop_oneof![
        (0usize..40).prop_map(|line| StormStep::CommentLine { line }),
        (0usize..40, any::<bool>()).prop_map(|(line, remove)| StormStep::Indent { line, remove }),
        Just(StormStep::Save),
        any::<bool>().prop_map(|apply| StormStep::Actions { apply }),
        (5u64..120).prop_map(|millis| StormStep::Pause { millis }),
    ]
}

/// The byte offset of an LSP position (UTF-16 columns) in `text`.
fn offset_of(text: &str, position: &Value) -> Option<usize> {
    let line = usize::try_from(position["line"].as_u64()?).ok()?;
    let character = usize::try_from(position["character"].as_u64()?).ok()?;
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    let line_text = text.get(start..)?.split('\n').next()?;
    let mut units = 0;
    for (at, c) in line_text.char_indices() {
        if units == character {
            return Some(start + at);
        }
        units += c.len_utf16();
    }
    (units == character).then_some(start + line_text.len())
}

/// Runs one storm against a fresh `serve` and checks the invariants after every step; returns
/// how many offered edits were checked.
fn run_storm(steps: &[StormStep]) -> usize {
    let mut checked = 0;
    let mut serve = Serve::start(&[], "[tactics]\nlist = [\"rfl\", \"omega\"]\n");
    let mut text = String::from(
        "theorem a (n : Nat) : n + 0 = n := by\n  sorry\n\n\
         theorem b (n : Nat) : 0 + n = n := by\n  sorry\n\n\
         theorem c (p : Prop) (hp : p) : p ∧ p := ⟨sorry, hp⟩\n",
    )
    .replace('∧', "/\\");
    let uri = serve.open("Storm.lean", &text);
    let mut version = 1;
    let change = |serve: &mut Serve, version: &mut i32, text: &mut String, new_text: String| {
        *version += 1;
        *text = new_text;
        serve.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": *version}, "contentChanges": [{"text": text.as_str()}]}),
        );
    };
    for step in steps {
        match step {
            StormStep::CommentLine { line } => {
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                let at = line % (lines.len() + 1);
                let new_text =
                    format!("{}-- storm\n{}", lines[..at].concat(), lines[at..].concat());
                change(&mut serve, &mut version, &mut text, new_text);
            }
            StormStep::Indent { line, remove } => {
                let mut lines: Vec<String> =
                    text.split_inclusive('\n').map(str::to_owned).collect();
                if lines.is_empty() {
                    continue;
                }
                let at = line % lines.len();
                if *remove {
                    if let Some(rest) = lines[at].strip_prefix(' ') {
                        lines[at] = rest.to_owned();
                    }
                } else {
                    lines[at].insert(0, ' ');
                }
                change(&mut serve, &mut version, &mut text, lines.concat());
            }
            StormStep::Save => serve.notify(
                "textDocument/didSave",
                json!({"textDocument": {"uri": uri}}),
            ),
            StormStep::Pause { millis } => std::thread::sleep(Duration::from_millis(*millis)),
            StormStep::Actions { apply } => {
                let holes: Vec<usize> = text.match_indices("sorry").map(|(at, _)| at).collect();
                for at in holes {
                    let line = text[..at].matches('\n').count();
                    let id = serve.request(
                        "textDocument/codeAction",
                        json!({"textDocument": {"uri": uri},
                               "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}},
                               "context": {"diagnostics": []}}),
                    );
                    let answer = serve.response(id);
                    for action in answer["result"].as_array().into_iter().flatten() {
                        let Some(changes) = action["edit"]["documentChanges"].as_array() else {
                            continue;
                        };
                        for document in changes {
                            assert_eq!(
                                document["textDocument"]["version"], version,
                                "an edit is offered for another version than the editor's: {action}"
                            );
                            checked += 1;
                            for edit in document["edits"].as_array().into_iter().flatten() {
                                let start = offset_of(&text, &edit["range"]["start"]);
                                let end = offset_of(&text, &edit["range"]["end"]);
                                let covered = start.zip(end).and_then(|(s, e)| text.get(s..e));
                                assert!(
                                    covered.is_some_and(|c| c.contains("sorry") || c.contains("admit")),
                                    "the edit's range is not a hole in the editor's text \
                                     (the proxy's copy differs?): {covered:?} in {action}"
                                );
                            }
                        }
                        if *apply
                            && action["title"]
                                .as_str()
                                .is_some_and(|t| t.starts_with("Fill"))
                        {
                            let document = &changes[0];
                            let mut edits: Vec<(usize, usize, String)> = document["edits"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|edit| {
                                    let start = offset_of(&text, &edit["range"]["start"])?;
                                    let end = offset_of(&text, &edit["range"]["end"])?;
                                    Some((start, end, edit["newText"].as_str()?.to_owned()))
                                })
                                .collect();
                            edits.sort_by_key(|edit| std::cmp::Reverse(edit.0));
                            let mut new_text = text.clone();
                            for (start, end, replacement) in edits {
                                new_text.replace_range(start..end, &replacement);
                            }
                            change(&mut serve, &mut version, &mut text, new_text);
                            break;
                        }
                    }
                }
            }
        }
    }
    // The proxy is still there and answers for the last version.
    serve.settle(&uri, version);
    assert!(
        serve.proxy.try_wait().expect("waitable").is_none(),
        "the proxy is alive"
    );
    assert!(!serve.leaked(), "a shadow document reached the editor");
    checked
}

#[test]
fn a_storm_that_waits_for_proofs_checks_and_applies_offered_edits() {
    // A fixed storm that gives the portfolio time, so the checks above really run.
    let steps = [
        StormStep::Pause { millis: 1500 },
        StormStep::Actions { apply: false },
        StormStep::CommentLine { line: 0 },
        StormStep::Pause { millis: 1500 },
        StormStep::Actions { apply: true },
        StormStep::Indent {
            line: 3,
            remove: false,
        },
        StormStep::Save,
        StormStep::Pause { millis: 1500 },
        StormStep::Actions { apply: true },
    ];
    assert!(
        run_storm(&steps) > 0,
        "no edit was offered, so nothing was checked"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 6, failure_persistence: None, ..Default::default() })]

    /// Random interleavings of edits, saves, code-action requests and job completions: no
    /// edit for an old version is ever offered, every offered edit lands on a hole of the
    /// editor's own text (so the proxy's copy equals it), and nothing of a shadow document
    /// reaches the editor.
    #[test]
    fn edit_storms_keep_versions_texts_and_shadows_straight(
        steps in proptest::collection::vec(storm_step(), 15..40)
    ) {
        run_storm(&steps);
    }
}
