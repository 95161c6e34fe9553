//! `sorryfill prove`, `audit` and `dataset` from the shell: the real binary, with lean-sim
//! standing in for `lake serve` in a fresh project folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{fresh_dir, lean_sim_bin, sorryfill, sorryfill_bin};

const ONE_PROVABLE_ONE_NOT: &str = "theorem add_zero' (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by
  sorry

theorem hard (a b : Nat) : a * b = b * a := by
  sorry
";

const ORACLE: &str = r#"
[[theorem]]
statement = "(x : Nat) (h₀ : x ≠ 0) : x + 0 = x"
accept = ["omega"]
"#;

/// A fresh project with `Foo.lean` and an oracle; returns the folder and the `--lean-cmd`.
fn project(text: &str, extra_sim_flags: &str) -> (tempfile::TempDir, String) {
    project_with_oracle(text, ORACLE, extra_sim_flags)
}

/// [`project`] with its own oracle.
fn project_with_oracle(
    text: &str,
    oracle_text: &str,
    extra_sim_flags: &str,
) -> (tempfile::TempDir, String) {
    let dir = fresh_dir();
    std::fs::write(dir.path().join("Foo.lean"), text).expect("write Foo.lean");
    let oracle = dir.path().join("oracle.toml");
    std::fs::write(&oracle, oracle_text).expect("write the oracle");
    let lean_cmd = format!(
        "{} --oracle {} {extra_sim_flags}",
        lean_sim_bin().display(),
        oracle.display()
    );
    (dir, lean_cmd)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn prove_prints_a_diff_with_the_verified_proof_and_exits_1_for_the_hole_left() {
    let (dir, lean_cmd) = project(ONE_PROVABLE_ONE_NOT, "");
    let output = sorryfill(dir.path(), &["prove", "Foo.lean", "--lean-cmd", &lean_cmd]);
    let diff = stdout(&output);
    assert!(
        diff.contains("--- a/Foo.lean") && diff.contains("+++ b/Foo.lean"),
        "{diff}"
    );
    assert!(
        diff.contains("-  sorry\n+  omega\n"),
        "the provable hole gets omega:\n{diff}"
    );
    assert_eq!(output.status.code(), Some(1), "one hole is left");
    let untouched = std::fs::read_to_string(dir.path().join("Foo.lean")).expect("read");
    assert_eq!(
        untouched, ONE_PROVABLE_ONE_NOT,
        "without --write the file is not changed"
    );
}

#[test]
fn prove_write_applies_the_proof_and_a_second_check_finds_only_the_hard_hole() {
    let (dir, lean_cmd) = project(ONE_PROVABLE_ONE_NOT, "");
    let output = sorryfill(
        dir.path(),
        &["prove", "--write", ".", "--lean-cmd", &lean_cmd],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout(&output).is_empty(), "--write prints no diff");
    let written = std::fs::read_to_string(dir.path().join("Foo.lean")).expect("read");
    assert_eq!(
        written,
        ONE_PROVABLE_ONE_NOT.replacen("  sorry", "  omega", 1)
    );

    let check = sorryfill(dir.path(), &["prove", "--check", "--json", "r.json"]);
    assert_eq!(check.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).expect("report"))
            .expect("the report is JSON");
    let holes = report["files"][0]["holes"].as_array().expect("holes");
    assert_eq!(holes.len(), 1, "only the hard hole is left: {report}");
    assert_eq!(holes[0]["declaration"], "hard");
    assert_eq!(holes[0]["status"], "skipped");
}

#[test]
fn prove_check_exits_0_without_holes_and_never_starts_lean() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("Done.lean"),
        "theorem t : True := trivial\n",
    )
    .expect("write");
    // A Lean command that cannot start: --check must not need it.
    let output = sorryfill(
        dir.path(),
        &["prove", "--check", "--lean-cmd", "/nonexistent/lean"],
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn prove_json_report_follows_the_documented_schema() {
    let (dir, lean_cmd) = project(ONE_PROVABLE_ONE_NOT, "");
    let output = sorryfill(
        dir.path(),
        &[
            "prove",
            "Foo.lean",
            "--lean-cmd",
            &lean_cmd,
            "--json",
            "report.json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = std::fs::read_to_string(dir.path().join("report.json")).expect("report written");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let holes = report["files"][0]["holes"].as_array().expect("holes array");
    assert_eq!(holes.len(), 2);
    let proved = &holes[0];
    assert_eq!(
        proved["range"]["start"],
        serde_json::json!({"line": 1, "character": 2})
    );
    assert_eq!(proved["kind"], "sorry");
    assert_eq!(proved["declaration"], "add_zero'");
    assert_eq!(proved["goal"], "x : Nat\nh₀ : x ≠ 0\n⊢ x + 0 = x");
    assert_eq!(proved["status"], "verified");
    assert_eq!(proved["proof"], "omega");
    assert_eq!(proved["source"], "tactic", "the portfolio found it");
    assert!(
        proved["attempts"].as_u64().is_some_and(|n| n >= 1),
        "{proved}"
    );
    assert!(
        holes[1]["attempts"].as_u64().is_some_and(|n| n >= 5),
        "every tactic was tried"
    );
    for key in ["source", "reason", "attempts", "elapsed_ms"] {
        assert!(proved.get(key).is_some(), "{key} is always present");
    }
    assert_eq!(holes[1]["status"], "failed");
    assert!(holes[1]["reason"].is_string());
}

#[cfg(unix)]
#[test]
fn prove_refuses_to_write_a_file_changed_during_the_run() {
    // lean-sim takes five seconds to load the imports: time enough to edit the file.
    let (dir, lean_cmd) = project(ONE_PROVABLE_ONE_NOT, "--import-ms 5000");
    let child = Command::new(sorryfill_bin())
        .current_dir(dir.path())
        .args(["prove", "--write", "Foo.lean", "--lean-cmd", &lean_cmd])
        .env("HOME", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sorryfill starts");
    // Once Lean runs, sorryfill has read the file and opens it right after `initialize`.
    wait_for_children(child.id());
    std::thread::sleep(Duration::from_millis(500));
    let edited = format!("{ONE_PROVABLE_ONE_NOT}\n-- the user's edit\n");
    std::fs::write(dir.path().join("Foo.lean"), &edited).expect("edit");
    let output = child.wait_with_output().expect("sorryfill ends");
    assert_eq!(output.status.code(), Some(2), "a refused write is an error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Foo.lean"),
        "the error names the file: {stderr}"
    );
    let now = std::fs::read_to_string(dir.path().join("Foo.lean")).expect("read");
    assert_eq!(now, edited, "the user's text is kept");
    // The proof found is still reported, and cached for the next run.
    assert!(
        stderr.contains("add_zero': verified") && stderr.contains("2 holes in 1 file"),
        "{stderr}"
    );
    let again = sorryfill(
        dir.path(),
        &[
            "prove",
            "Foo.lean",
            "--lean-cmd",
            &lean_cmd,
            "--json",
            "r.json",
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).expect("report"))
            .expect("JSON");
    assert_eq!(
        report["files"][0]["holes"][0]["source"], "cache",
        "{report}"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_mid_run_leaves_files_untouched_and_no_process_behind() {
    let (dir, lean_cmd) = project(ONE_PROVABLE_ONE_NOT, "--import-ms 30000");
    let child = Command::new(sorryfill_bin())
        .current_dir(dir.path())
        .args(["prove", "--write", "Foo.lean", "--lean-cmd", &lean_cmd])
        .env("HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sorryfill starts");
    let pid = child.id();
    let lean_sim = wait_for_children(pid);
    std::thread::sleep(Duration::from_millis(300));
    let signal = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(signal.success());
    let started = Instant::now();
    let output = child.wait_with_output().expect("sorryfill ends");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "Ctrl-C stops promptly"
    );
    assert_eq!(output.status.code(), Some(2));
    let now = std::fs::read_to_string(dir.path().join("Foo.lean")).expect("read");
    assert_eq!(now, ONE_PROVABLE_ONE_NOT);
    std::thread::sleep(Duration::from_millis(300));
    for pid in lean_sim {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid),
            "lean-sim {pid} is still running"
        );
    }
}

/// The children of `pid` once there is one (at most ten seconds: a loaded machine is slow).
#[cfg(unix)]
fn wait_for_children(pid: u32) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children = children_of(pid);
        if !children.is_empty() {
            return children;
        }
        assert!(
            Instant::now() < deadline,
            "sorryfill started no Lean server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids whose parent is `pid` (Linux `/proc`).
#[cfg(unix)]
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| {
            std::fs::read_to_string(format!("/proc/{candidate}/stat"))
                .ok()
                .and_then(|stat| parent_of(&stat))
                == Some(pid)
        })
        .collect()
}

#[cfg(unix)]
fn parent_of(stat: &str) -> Option<u32> {
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(unix)]
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(true)
}

#[test]
fn static_audit_reports_native_decide_and_sorry_with_exit_1() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("A.lean"),
        "theorem a : 2 + 2 = 4 := by native_decide\n\ntheorem b : True := by\n  sorry\n",
    )
    .expect("write");
    let output = sorryfill(dir.path(), &["audit", "--static", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let text = report.to_string();
    assert!(text.contains("native_decide"), "{text}");
    assert!(text.contains("sorry"), "{text}");

    let clean = fresh_dir();
    std::fs::write(clean.path().join("B.lean"), "theorem b : True := trivial\n").expect("write");
    assert_eq!(
        sorryfill(clean.path(), &["audit", "--static"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn dataset_export_after_a_run_has_one_line_per_attempt() {
    let (dir, lean_cmd) = project(ONE_PROVABLE_ONE_NOT, "");
    let output = sorryfill(
        dir.path(),
        &[
            "prove",
            "Foo.lean",
            "--lean-cmd",
            &lean_cmd,
            "--json",
            "r.json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).expect("report"))
            .expect("JSON");
    let attempts: u64 = report["files"][0]["holes"]
        .as_array()
        .expect("holes")
        .iter()
        .map(|hole| hole["attempts"].as_u64().expect("a count"))
        .sum();
    let out: PathBuf = dir.path().join("rl.jsonl");
    let export = sorryfill(
        dir.path(),
        &["dataset", "export", "--format", "rl", "--out", "rl.jsonl"],
    );
    assert_eq!(
        export.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(out)
        .expect("export written")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    assert!(
        lines.iter().any(|line| line["reward"] == 1),
        "the verified omega attempt is there: {lines:?}"
    );
    assert!(lines.iter().any(|line| line["reward"] == 0));
    assert_eq!(
        lines.len() as u64,
        attempts,
        "one record per check the report counted"
    );
}

#[test]
fn holes_in_statements_and_definitions_are_never_filled() {
    // lean-sim accepts every sorry-free proof here: only sorryfill's own rule keeps these
    // holes as they are, since filling them would change the theorem or choose the user's data.
    let text = "\
theorem answer_pinned (n : Nat) : n = sorry ↔ n = n := by
  sorry

def answer : Nat := sorry
";
    let dir = fresh_dir();
    std::fs::write(dir.path().join("Foo.lean"), text).expect("write Foo.lean");
    let lean_cmd = format!("{} --accept-all", lean_sim_bin().display());
    let output = sorryfill(
        dir.path(),
        &[
            "prove",
            "--write",
            "Foo.lean",
            "--lean-cmd",
            &lean_cmd,
            "--json",
            "r.json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).expect("report"))
            .expect("JSON");
    let holes = report["files"][0]["holes"].as_array().expect("holes");
    let statuses: Vec<(&str, &str)> = holes
        .iter()
        .map(|hole| {
            (
                hole["status"].as_str().unwrap_or(""),
                hole["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(statuses[0].0, "skipped");
    assert!(statuses[0].1.contains("statement"), "{statuses:?}");
    assert_eq!(
        statuses[1].0, "verified",
        "the proof hole is proved: {statuses:?}"
    );
    assert_eq!(statuses[2].0, "skipped");
    assert!(statuses[2].1.contains("definition"), "{statuses:?}");
    let written = std::fs::read_to_string(dir.path().join("Foo.lean")).expect("read");
    assert!(
        written.contains("n = sorry ↔"),
        "the statement is untouched:\n{written}"
    );
    assert!(written.contains("def answer : Nat := sorry"), "{written}");
}

#[test]
fn an_example_hole_is_filled() {
    let text = "example (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by\n  sorry\n";
    let (dir, lean_cmd) = project(text, "");
    let output = sorryfill(dir.path(), &["prove", "Foo.lean", "--lean-cmd", &lean_cmd]);
    let diff = stdout(&output);
    assert!(diff.contains("-  sorry\n+  omega\n"), "{diff}");
    assert_eq!(output.status.code(), Some(0), "no hole is left");
}

#[test]
fn a_mathlib_lemma_and_a_compfiles_problem_are_proved_and_keep_their_keywords() {
    // Lean lists neither as a symbol (each is `theorem` under a syntax of its own), and a
    // `determine` or `notation3` line after a lemma starts a command of its own.
    let text = "lemma add_zero' (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by\n  sorry\n\nnotation3 \"𝟙\" => 1\n\ndetermine answer : Nat := 9\n\nproblem p (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by\n  sorry\n";
    let (dir, lean_cmd) = project(text, "");
    let output = sorryfill(
        dir.path(),
        &[
            "prove",
            "Foo.lean",
            "--no-model",
            "--write",
            "--lean-cmd",
            &lean_cmd,
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("Foo.lean")).expect("read");
    assert_eq!(written, text.replace("  sorry", "  omega"));
}

#[test]
fn imports_slower_than_the_check_timeout_still_get_their_checks() {
    // Each shadow document takes 3 s to import, a check may take 1 s: the import is timed on
    // its own, so the check still runs.
    let (dir, lean_cmd) = project(ONE_PROVABLE_ONE_NOT, "--import-ms 3000");
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        "[verify]\ntimeout_s = 1\n",
    )
    .expect("write the configuration");
    let output = sorryfill(
        dir.path(),
        &["prove", "Foo.lean", "--no-model", "--lean-cmd", &lean_cmd],
    );
    let diff = stdout(&output);
    assert!(
        diff.contains("-  sorry\n+  omega\n"),
        "{diff}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn imports_lean_cannot_load_give_each_hole_one_clear_reason() {
    // The project's imports are out of date and `prove` may not build them: Lean refuses the
    // header, and every hole says so once instead of trying candidate after candidate.
    let text = format!("import Foo.Helpers\n\n{ONE_PROVABLE_ONE_NOT}");
    let (dir, lean_cmd) = project(&text, "--imports-out-of-date");
    let holes = prove_report(dir.path(), &lean_cmd);
    assert_eq!(holes.len(), 2);
    for hole in &holes {
        assert_eq!(hole["status"], "skipped", "{hole}");
        assert_eq!(
            hole["reason"], holes[0]["reason"],
            "one reason for the file"
        );
        assert_eq!(hole["attempts"], 0, "{hole}");
    }
    let untouched = std::fs::read_to_string(dir.path().join("Foo.lean")).expect("read");
    assert_eq!(untouched, text);
}

#[test]
fn a_shadow_whose_imports_do_not_load_gives_each_hole_one_clear_reason() {
    // The user's file loads its imports (3 s), but a check's shadow may only take 1 s for
    // them: the checks cannot run, and each hole says why once, after at most one check.
    let (dir, lean_cmd) = project(ONE_PROVABLE_ONE_NOT, "--import-ms 3000");
    std::fs::write(
        dir.path().join("sorryfill.toml"),
        "[verify]\nimport_timeout_s = 1\n",
    )
    .expect("write the configuration");
    let holes = prove_report(dir.path(), &lean_cmd);
    assert_eq!(holes.len(), 2);
    for hole in &holes {
        assert_eq!(hole["status"], "failed", "{hole}");
        let reason = hole["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("cannot be checked now") && reason.contains("import_timeout_s"),
            "{hole}"
        );
        assert!(
            // The checks already running when the first refusal came (two at a time).
            hole["attempts"].as_u64().is_some_and(|n| n <= 2),
            "the job ends at the first refusal: {hole}"
        );
    }
}

/// Runs `prove --json` on `Foo.lean` and returns the report's holes.
fn prove_report(dir: &Path, lean_cmd: &str) -> Vec<serde_json::Value> {
    let output = sorryfill(
        dir,
        &[
            "prove",
            "Foo.lean",
            "--lean-cmd",
            lean_cmd,
            "--json",
            "r.json",
        ],
    );
    assert_ne!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).expect("report"))
            .expect("JSON");
    report["files"][0]["holes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const MODULE_FILE: &str = "module

theorem add_zero' (x : Nat) (h₀ : x ≠ 0) : x + 0 = x := by
  sorry
";

#[test]
fn a_module_file_hole_is_filled_whether_or_not_lean_prints_axioms_there() {
    for flags in ["", "--print-axioms-refused-in-module"] {
        let (dir, lean_cmd) = project(MODULE_FILE, flags);
        let output = sorryfill(dir.path(), &["prove", "Foo.lean", "--lean-cmd", &lean_cmd]);
        let diff = stdout(&output);
        assert!(
            diff.contains("-  sorry\n+  omega\n"),
            "with `{flags}`: {diff}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn a_module_files_refused_axiom_report_is_never_a_pass() {
    // In a module Lean refuses `#print axioms`; the proof Lean accepts depends on an axiom
    // the gate refuses, which only the companion check without `module` can show.
    let oracle = r#"
[[theorem]]
statement = "(x : Nat) (h₀ : x ≠ 0) : x + 0 = x"
accept = ["omega"]
axioms = { omega = ["propext", "Foo.magic"] }
"#;
    let (dir, lean_cmd) =
        project_with_oracle(MODULE_FILE, oracle, "--print-axioms-refused-in-module");
    let holes = prove_report(dir.path(), &lean_cmd);
    assert_eq!(holes.len(), 1);
    assert_ne!(holes[0]["status"], "verified", "{}", holes[0]);
    let untouched = std::fs::read_to_string(dir.path().join("Foo.lean")).expect("read");
    assert_eq!(untouched, MODULE_FILE);
}
