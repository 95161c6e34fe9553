//! A new user's first hour, through the real binary: clear failures (no Lean, no API key, a
//! server that is not Lean, an unreachable model), bounded waits, and what `prove` says
//! about what it did. lean-sim stands in for Lean; wiremock for a model endpoint.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fresh_dir, lean_sim_bin, sorryfill_bin};

const TWO_HOLES: &str = "theorem add_zero' (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by
  sorry

theorem hard (a b : Nat) : a * b = b * a := by
  sorry
";

const ORACLE: &str = r#"
[[theorem]]
statement = "(x : Nat) (h₀ : x ≠ 0) : x + 0 = x"
accept = ["omega"]
"#;

/// A variable no test environment sets.
const UNSET_KEY: &str = "SORRYFILL_FIRST_RUN_TEST_UNSET_KEY";

/// A project with `Foo.lean` (`text`), an oracle and `sorryfill.toml` (`config`, if any);
/// returns the folder and the `--lean-cmd` that runs lean-sim on the oracle.
fn project(text: &str, config: Option<&str>) -> (tempfile::TempDir, String) {
    let dir = fresh_dir();
    std::fs::write(dir.path().join("Foo.lean"), text).expect("write Foo.lean");
    let oracle = dir.path().join("oracle.toml");
    std::fs::write(&oracle, ORACLE).expect("write the oracle");
    if let Some(config) = config {
        std::fs::write(dir.path().join("sorryfill.toml"), config).expect("write the config");
    }
    let lean_cmd = format!("{} --oracle {}", lean_sim_bin().display(), oracle.display());
    (dir, lean_cmd)
}

/// Runs `sorryfill ARGS` in `dir` (its own home, so no user configuration is read) with
/// `env` added, and fails the test if it is still running after `limit`.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut command = Command::new(sorryfill_bin());
    command
        .current_dir(dir)
        .args(args)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .env_remove(UNSET_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("sorryfill starts");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("waitable").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sorryfill {args:?} was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("sorryfill's output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn a_missing_api_key_leaves_the_tactics_running_with_one_clear_warning() {
    let config = format!(
        "[prover]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\napi_key_env = \"{UNSET_KEY}\"\n"
    );
    let (dir, lean_cmd) = project(TWO_HOLES, Some(&config));
    let output = run(
        dir.path(),
        &["prove", "Foo.lean", "--lean-cmd", &lean_cmd],
        &[],
        MINUTE,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "one hole is left: {stderr}");
    assert!(
        text(&output.stdout).contains("+  omega"),
        "the portfolio still proves the easy hole: {stderr}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(UNSET_KEY))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning: {stderr}");
    assert!(warnings[0].contains("warning"), "{stderr}");
    assert!(
        warnings[0].contains("export"),
        "says how to set it: {stderr}"
    );
    assert!(warnings[0].contains("--no-model"), "{stderr}");
    assert!(!stderr.contains("could not start Lean"), "{stderr}");

    let quiet = run(
        dir.path(),
        &["prove", "Foo.lean", "--lean-cmd", &lean_cmd, "--no-model"],
        &[],
        MINUTE,
    );
    assert!(
        !text(&quiet.stderr).contains(UNSET_KEY),
        "--no-model silences it: {}",
        text(&quiet.stderr)
    );
}

#[test]
fn without_lake_prove_gives_the_os_error_and_doctors_fix() {
    let (dir, _) = project(TWO_HOLES, None);
    let empty_path = dir.path().join("no-tools");
    std::fs::create_dir(&empty_path).expect("mkdir");
    let path_var = empty_path.display().to_string();
    let output = run(
        dir.path(),
        &["prove", "Foo.lean"],
        &[("PATH", &path_var)],
        MINUTE,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("could not start the Lean server `lake`"),
        "{stderr}"
    );
    assert!(stderr.contains("os error"), "the OS error: {stderr}");
    assert!(stderr.contains("install elan"), "doctor's fix: {stderr}");
    assert_eq!(
        stderr.matches("could not start").count(),
        1,
        "said once: {stderr}"
    );
}

#[test]
fn prove_with_nothing_to_do_exits_0_even_without_lean() {
    let empty = fresh_dir();
    let no_lean = [("PATH", "/nonexistent")];
    let output = run(empty.path(), &["prove"], &no_lean, MINUTE);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let done = fresh_dir();
    std::fs::write(
        done.path().join("Done.lean"),
        "theorem t : True := trivial\n",
    )
    .expect("write");
    let output = run(done.path(), &["prove"], &no_lean, MINUTE);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_server_that_is_not_lean_or_never_answers_is_given_up_with_a_message() {
    let (dir, _) = project(TWO_HOLES, None);
    // `cat` echoes every request back: no language server's answer.
    let output = run(
        dir.path(),
        &["prove", "Foo.lean", "--lean-cmd", "cat"],
        &[],
        MINUTE,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`initialize`"), "{stderr}");
    assert!(stderr.contains("--lean-cmd"), "{stderr}");

    // A server that reads nothing and says nothing is given up after the limit.
    let output = run(
        dir.path(),
        &["prove", "Foo.lean", "--lean-cmd", "sleep 120"],
        &[("SORRYFILL_INITIALIZE_TIMEOUT_S", "2")],
        MINUTE,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("within 2 s"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_server_that_lingers_after_exit_is_stopped_with_a_message() {
    let (dir, lean_cmd) = project(TWO_HOLES, None);
    // After lean-sim exits, the shell lives on with Lean's pipes open. `sleep` is short so
    // the orphan it leaves behind does not outlive the test run for long.
    let lingering = format!("sh -c '{lean_cmd}; sleep 20 2>/dev/null'");
    // A Lean started through a script cannot run confined (the checking server may execute
    // only the toolchain), so this user turns confinement off, as `doctor` tells them to.
    let output = run(
        dir.path(),
        &["prove", "Foo.lean", "--lean-cmd", &lingering],
        &[("SORRYFILL_CONFINE", "off")],
        MINUTE,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("after `exit`"), "{stderr}");
    assert!(text(&output.stdout).contains("+  omega"), "{stderr}");
}

/// A chat completion without any plan, so the decomposer offers nothing.
fn no_plan() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "choices": [{"index": 0, "message": {"content": "I cannot help."}, "finish_reason": "stop"}]
    }))
}

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_prover_fails_fast_and_the_hole_goes_on_to_the_decomposer() {
    let decomposer = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(no_plan())
        .mount(&decomposer)
        .await;
    let port = closed_port();
    let config = format!(
        "[prover]\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmodel = \"p\"\nsamples = 8\n\n\
         [decomposer]\nbase_url = \"{}/v1\"\nmodel = \"d\"\nstream = false\n",
        decomposer.uri()
    );
    let (dir, lean_cmd) = project(TWO_HOLES, Some(&config));
    let root = dir.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        run(
            &root,
            &[
                "prove",
                "Foo.lean",
                "--lean-cmd",
                &lean_cmd,
                "--json",
                "r.json",
            ],
            &[],
            MINUTE,
        )
    })
    .await
    .expect("the run ends");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let unreachable: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("could not be reached"))
        .collect();
    assert_eq!(unreachable.len(), 1, "one message: {stderr}");
    assert!(unreachable[0].contains(&port.to_string()), "{stderr}");
    let asked = decomposer
        .received_requests()
        .await
        .expect("recording")
        .len();
    assert_eq!(asked, 1, "the hole went on to the decomposer");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("r.json")).expect("the report"),
    )
    .expect("JSON");
    let reason = report["files"][0]["holes"][1]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains(&format!("127.0.0.1:{port}")),
        "the reason names the endpoint that failed, not only the last one tried: {reason}"
    );
    assert!(reason.contains("decomposer"), "{reason}");
}

#[test]
fn a_setting_capped_by_another_is_warned_about() {
    let config = "[prover]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\nsamples = 31\n";
    let (dir, lean_cmd) = project(
        "theorem add_zero' (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by\n  sorry\n",
        Some(config),
    );
    let output = run(
        dir.path(),
        &["prove", "Foo.lean", "--lean-cmd", &lean_cmd],
        &[],
        MINUTE,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("[prover] samples = 31 is capped by [budget] samples_per_hole = 16"),
        "{stderr}"
    );
}

#[test]
fn write_says_what_it_wrote() {
    let (dir, lean_cmd) = project(TWO_HOLES, None);
    let output = run(
        dir.path(),
        &["prove", "--write", "Foo.lean", "--lean-cmd", &lean_cmd],
        &[],
        MINUTE,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("wrote Foo.lean: 1 hole filled"), "{stderr}");
}

#[test]
fn plain_progress_says_what_happens_before_the_first_hole() {
    let (dir, lean_cmd) = project(TWO_HOLES, None);
    let output = run(
        dir.path(),
        &["prove", "Foo.lean", "--lean-cmd", &lean_cmd],
        &[],
        MINUTE,
    );
    let stderr = text(&output.stderr);
    let starting = stderr.find("starting Lean").expect(&stderr);
    let elaborated = stderr.find("Foo.lean: elaborated in").expect(&stderr);
    let first_hole = stderr.find("add_zero'").expect(&stderr);
    assert!(starting < elaborated && elaborated < first_hole, "{stderr}");
}

#[test]
fn a_closed_pipe_ends_the_export_quietly() {
    let (dir, lean_cmd) = project(TWO_HOLES, None);
    let proved = run(
        dir.path(),
        &["prove", "Foo.lean", "--lean-cmd", &lean_cmd],
        &[],
        MINUTE,
    );
    assert_eq!(proved.status.code(), Some(1));
    let (reader, writer) = std::io::pipe().expect("a pipe");
    // The reader is gone before anything is written, as with `| head -0`.
    drop(reader);
    let output = Command::new(sorryfill_bin())
        .current_dir(dir.path())
        .args(["dataset", "export", "--format", "rl"])
        .env("HOME", dir.path())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("sorryfill runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("pipe"),
        "{stderr}"
    );
}

#[test]
fn budget_zero_is_refused_and_the_defaults_are_shown() {
    let dir = fresh_dir();
    let output = run(dir.path(), &["prove", "--budget", "0"], &[], MINUTE);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--budget"));
    let help = text(&run(dir.path(), &["prove", "--help"], &[], MINUTE).stdout);
    assert!(help.contains("which is 300"), "{help}");
    assert!(help.contains("which is 2"), "{help}");
    for command in [
        &["prove", "--help"][..],
        &["audit", "--help"],
        &["doctor", "--help"],
        &["bench", "minif2f", "--help"],
    ] {
        let help = text(&run(dir.path(), command, &[], MINUTE).stdout);
        assert!(help.contains("--lean-cmd <COMMAND>"), "{command:?}: {help}");
    }
}

#[test]
fn check_says_how_many_holes_are_left_in_plain_words() {
    let (dir, _) = project(TWO_HOLES, None);
    let output = run(dir.path(), &["prove", "--check", "Foo.lean"], &[], MINUTE);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Foo.lean:2:3: sorry in add_zero': not proved"),
        "{stderr}"
    );
    assert!(
        stderr.contains("check failed: 2 holes (sorry or admit) left to prove in 1 file"),
        "{stderr}"
    );
    std::fs::write(dir.path().join("Foo.lean"), "theorem t : True := trivial\n").expect("write");
    let output = run(dir.path(), &["prove", "--check", "Foo.lean"], &[], MINUTE);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        text(&output.stderr).contains("check passed"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn serve_logs_a_missing_lake_and_a_normal_end_of_input_is_no_error() {
    let dir = fresh_dir();
    let log = dir.path().join("serve.log");
    let log_arg = log.display().to_string();
    let output = run(
        dir.path(),
        &["serve", "--log-file", &log_arg],
        &[("PATH", "/nonexistent")],
        MINUTE,
    );
    assert_ne!(output.status.code(), Some(0));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("`lake`") && stderr.contains("install elan"),
        "{stderr}"
    );
    let logged = std::fs::read_to_string(&log).expect("the log is written");
    assert!(
        logged.contains("ERROR") && logged.contains("`lake`") && logged.contains("os error"),
        "{logged}"
    );

    // An editor that goes away at once (stdin at its end) is a normal end, not an error.
    std::fs::remove_file(&log).expect("remove the log");
    let lean_sim = lean_sim_bin().display().to_string();
    let output = run(
        dir.path(),
        &["serve", "--log-file", &log_arg, "--", &lean_sim],
        &[],
        MINUTE,
    );
    let logged = std::fs::read_to_string(&log).expect("the log is written");
    assert!(!logged.contains("ERROR"), "{logged}");
    assert!(
        !logged.contains("sorryfill::"),
        "no module path before each sentence: {logged}"
    );
    drop(output);
}

/// Removes ANSI escape sequences (`ESC [ … letter`) from terminal output.
fn strip_ansi(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// On a terminal (a pseudo-terminal made by `script`), the bar says what happens before the
/// first hole, with the time spent, and a hole's live line is shortened at a word boundary.
#[cfg(unix)]
#[test]
fn on_a_terminal_the_bar_names_each_phase_and_never_cuts_a_word() {
    let Some(script) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("script"))
            .find(|candidate| candidate.is_file())
    }) else {
        crate::support::skip_line(format_args!(
            "skipped: `script` (util-linux) is not on PATH, so no terminal can be simulated"
        ));
        return;
    };
    const NAME: &str = "a_rather_long_theorem_name_that_does_not_fit";
    let (dir, lean_cmd) = project(
        &format!("theorem {NAME} (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by\n  sorry\n"),
        None,
    );
    // Slow enough for the bar to be drawn in each phase.
    let lean_cmd = format!("{lean_cmd} --import-ms 1500 --decl-ms 300");
    let inner = format!(
        "stty cols 100; {} prove Foo.lean --lean-cmd '{lean_cmd}'",
        sorryfill_bin().display()
    );
    let output = Command::new(script)
        .args(["-qec", &inner, "/dev/null"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join(".config"))
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let screen = strip_ansi(&text(&output.stdout));
    let frames: Vec<&str> = screen.split(['\r', '\n']).collect();
    assert!(
        frames
            .iter()
            .any(|frame| frame.contains("] starting Lean") && frame.contains("[00:00:0")),
        "{screen}"
    );
    assert!(
        frames
            .iter()
            .any(|frame| frame.contains("] Foo.lean: Lean is elaborating the file")),
        "{screen}"
    );
    assert!(
        !frames.iter().any(|frame| frame.contains(" 0/0 holes")),
        "{screen}"
    );
    assert!(
        frames
            .iter()
            .any(|frame| frame.contains("/1 holes  Foo.lean:2:3…")),
        "the live hole line is cut after a whole word: {screen}"
    );
    for frame in frames.iter().filter(|frame| frame.contains("a_rather")) {
        assert!(frame.contains(NAME), "a word was cut: {frame:?}");
    }
    assert!(screen.contains("verified"), "{screen}");
}
