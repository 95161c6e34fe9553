//! `sorryfill audit` with Lean's `#print axioms` and `sorryfill bench minif2f`: the real
//! binary, with lean-sim standing in for `lake serve` in a fresh project folder.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{corpus_dir, fresh_dir, lean_sim_bin, sorryfill, sorryfill_bin};

const MIXED: &str = "theorem with_sorry : 1 + 1 = 2 := by
  sorry

theorem with_native : 2 ^ 10 = 1024 := by
  native_decide

theorem clean (x : Nat) : x + 0 = x := by
  simp
";

const MIXED_ORACLE: &str = r#"
[[theorem]]
statement = ": 2 ^ 10 = 1024"
accept = ["native_decide"]

[[theorem]]
statement = "(x : Nat) : x + 0 = x"
accept = ["simp"]
"#;

fn json_stdout(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is JSON ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A lean-sim command line with `oracle` written into `dir`.
fn lean_cmd(dir: &Path, oracle: &str) -> String {
    let path = dir.join("oracle.toml");
    std::fs::write(&path, oracle).expect("write the oracle");
    format!("{} --oracle {}", lean_sim_bin().display(), path.display())
}

/// `(kind, declaration, axioms)` of every finding of the first file.
fn findings(report: &Value) -> Vec<(String, String, Vec<String>)> {
    report["files"][0]["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|finding| {
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            let axioms = finding["axioms"]
                .as_array()
                .expect("axioms array")
                .iter()
                .map(text)
                .collect();
            (
                text(&finding["kind"]),
                text(&finding["declaration"]),
                axioms,
            )
        })
        .collect()
}

#[test]
fn audit_asks_lean_and_reports_sorry_ax_and_of_reduce_bool_on_the_right_declarations() {
    let dir = fresh_dir();
    std::fs::write(dir.path().join("Mixed.lean"), MIXED).expect("write");
    let lean = lean_cmd(dir.path(), MIXED_ORACLE);
    let output = sorryfill(
        dir.path(),
        &["audit", "--json", "Mixed.lean", "--lean-cmd", &lean],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stdout.ends_with(b"}\n"),
        "the JSON ends with a newline"
    );
    let found = findings(&json_stdout(&output));
    let from_lean: Vec<&(String, String, Vec<String>)> = found
        .iter()
        .filter(|(kind, _, _)| kind == "depends_on_sorry" || kind == "trusts_compiler")
        .collect();
    assert_eq!(
        from_lean,
        vec![&(
            "trusts_compiler".to_owned(),
            "with_native".to_owned(),
            vec!["Lean.ofReduceBool".to_owned()]
        )],
        "all findings: {found:?}"
    );
    let on_with_sorry: Vec<&str> = found
        .iter()
        .filter(|(_, declaration, _)| declaration == "with_sorry")
        .map(|(kind, _, _)| kind.as_str())
        .collect();
    assert_eq!(
        on_with_sorry,
        ["sorry"],
        "one finding per hole: Lean's sorryAx repeats the hole the source shows"
    );
    assert!(
        found
            .iter()
            .all(|(_, declaration, _)| declaration != "clean"),
        "the clean proof has no finding: {found:?}"
    );
    let on_disk = std::fs::read_to_string(dir.path().join("Mixed.lean")).expect("read");
    assert_eq!(
        on_disk, MIXED,
        "the #print axioms lines never reach the file"
    );
}

#[test]
fn audit_says_value_for_a_definitions_hole() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("Def.lean"),
        "def answer : Nat := sorry\n\ntheorem t : True := by\n  sorry\n",
    )
    .expect("write");
    let lean = lean_cmd(dir.path(), "");
    let output = sorryfill(dir.path(), &["audit", "Def.lean", "--lean-cmd", &lean]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("in answer: `sorry` leaves this value undefined"),
        "{text}"
    );
    assert!(
        text.contains("in t: `sorry` leaves this proof unfinished"),
        "{text}"
    );
    assert!(text.contains("2 findings in 1 file"), "{text}");
}

#[test]
fn audit_of_a_clean_file_with_lean_exits_0() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("Clean.lean"),
        "theorem clean (x : Nat) : x + 0 = x := by\n  simp\n",
    )
    .expect("write");
    let lean = lean_cmd(dir.path(), MIXED_ORACLE);
    let output = sorryfill(dir.path(), &["audit", "Clean.lean", "--lean-cmd", &lean]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("0 findings in 1 file"));
}

#[test]
fn audit_static_needs_no_lean_and_a_missing_lean_falls_back_with_one_line() {
    let dir = fresh_dir();
    std::fs::write(dir.path().join("Mixed.lean"), MIXED).expect("write");
    // No `lake` can be found: `--static` must not look for it.
    let output = Command::new(sorryfill_bin())
        .current_dir(dir.path())
        .args(["audit", "--static", "--json"])
        .env("HOME", dir.path())
        .env("PATH", "")
        .output()
        .expect("sorryfill runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let kinds: Vec<String> = findings(&json_stdout(&output))
        .into_iter()
        .map(|(kind, _, _)| kind)
        .collect();
    assert_eq!(kinds, vec!["sorry", "native_decide"]);

    let fallback = sorryfill(
        dir.path(),
        &["audit", "--json", "--lean-cmd", "/nonexistent/lean"],
    );
    assert_eq!(fallback.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&fallback.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("audited the sources only"), "{stderr}");
    assert_eq!(
        json_stdout(&fallback),
        json_stdout(&output),
        "the fallback reports the static findings"
    );
}

/// The first `count` miniF2F rows of the shared corpus, or `None` (with one line) without it.
fn minif2f_rows(count: usize) -> Option<Vec<Value>> {
    let corpus = corpus_dir()?;
    let text = std::fs::read_to_string(corpus.join("minif2f/minif2f_test.jsonl"))
        .expect("the corpus has the miniF2F rows");
    Some(
        text.lines()
            .take(count)
            .map(|line| serde_json::from_str(line).expect("each row is JSON"))
            .collect(),
    )
}

/// The oracle statement of a Goedel-Prover-V2 row: the theorem without `:= by`.
fn statement_of(row: &Value) -> String {
    let formal = row["formal_statement"].as_str().expect("formal_statement");
    let start = formal.find("theorem ").expect("a theorem");
    formal[start..]
        .trim_end()
        .strip_suffix(":= by")
        .expect("Goedel statements end in `:= by`")
        .to_owned()
}

#[test]
fn bench_minif2f_measures_pass_rate_and_how_each_proof_was_found() {
    let Some(rows) = minif2f_rows(6) else {
        return;
    };
    let dir = fresh_dir();
    let data: String = rows.iter().map(|row| format!("{row}\n")).collect();
    std::fs::write(dir.path().join("minif2f.jsonl"), data).expect("write the data set");
    // `norm_num` proves the first and the third statement; nothing proves the others.
    let oracle: String = [&rows[0], &rows[2]]
        .iter()
        .map(|row| {
            format!(
                "[[theorem]]\nstatement = {}\naccept = [\"norm_num\"]\n\n",
                Value::String(statement_of(row))
            )
        })
        .collect();
    let lean = lean_cmd(dir.path(), &oracle);
    let bench_args = [
        "bench",
        "minif2f",
        "--data",
        "minif2f.jsonl",
        "--limit",
        "4",
        "--samples",
        "3",
        "--json",
        "bench.json",
        "--lean-cmd",
        &lean,
    ];
    let output = sorryfill(dir.path(), &bench_args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("bench.json")).expect("report written"),
    )
    .expect("the report is JSON");

    assert_eq!(report["problems"], 4, "--limit 4: {report}");
    assert_eq!(report["proved"], 2);
    assert_eq!(report["pass_rate"], 0.5);
    assert_eq!(
        report["samples_per_problem"], 0,
        "no model is configured, so no samples were spent"
    );
    assert_eq!(report["tokens"], Value::Null);
    assert_eq!(report["by_source"]["tactic"], 2);
    let results = report["results"].as_array().expect("results");
    let names: Vec<&str> = results
        .iter()
        .map(|result| result["name"].as_str().unwrap_or_default())
        .collect();
    let expected: Vec<&str> = rows[..4]
        .iter()
        .map(|row| row["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, expected, "results keep the data set's order");
    for (index, result) in results.iter().enumerate() {
        let proved = index == 0 || index == 2;
        assert_eq!(
            result["status"],
            if proved { "verified" } else { "failed" },
            "{result}"
        );
        if proved {
            assert_eq!(result["source"], "tactic");
            assert_eq!(result["proof"], "norm_num");
        } else {
            assert_eq!(result["source"], Value::Null);
            assert!(result["reason"].is_string(), "{result}");
        }
        assert!(
            result["attempts"].as_u64().is_some_and(|n| n >= 1),
            "Lean checked candidates: {result}"
        );
        assert!(result["elapsed_ms"].is_u64());
    }
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("tactics only (no model configured): 2/4 (50.0%)"),
        "without a model the table says so instead of pass@0: {table}"
    );
    assert!(!table.contains("pass@0"), "{table}");
    assert!(table.contains("2 by tactic"), "{table}");

    // A second run starts from an empty cache: the proofs are found again, not remembered.
    let again = sorryfill(dir.path(), &bench_args);
    assert_eq!(again.status.code(), Some(0));
    let again: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("bench.json")).expect("report written"),
    )
    .expect("the report is JSON");
    assert_eq!(again["by_source"]["tactic"], 2, "{again}");
    assert_eq!(again["by_source"]["cache"], 0, "{again}");

    let scratch = dir.path().join(".lake/sorryfill/bench");
    let first = std::fs::read_to_string(scratch.join(format!("{}.lean", expected[0])))
        .expect("the scratch file of the first problem");
    assert!(
        first.ends_with(":= by\n  sorry\n"),
        "the statement gets one sorry: {first}"
    );
}

#[test]
fn prove_reports_how_each_proof_was_found_and_a_second_run_uses_the_cache() {
    let dir = fresh_dir();
    std::fs::write(
        dir.path().join("Foo.lean"),
        "theorem add_zero2 (x : Nat) (h : x ≠ 0) : x + 0 = x := by\n  sorry\n",
    )
    .expect("write");
    let lean = lean_cmd(
        dir.path(),
        "[[theorem]]\nstatement = \"(x : Nat) (h : x ≠ 0) : x + 0 = x\"\naccept = [\"omega\"]\n",
    );
    let hole_of = |report: &str| -> Value {
        let output = sorryfill(
            dir.path(),
            &["prove", "Foo.lean", "--json", report, "--lean-cmd", &lean],
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(dir.path().join(report)).expect("report written");
        let report: Value = serde_json::from_str(&text).expect("JSON");
        report["files"][0]["holes"][0].clone()
    };
    let first = hole_of("first.json");
    assert_eq!(first["source"], "tactic", "{first}");
    assert!(
        first["attempts"].as_u64().is_some_and(|n| n >= 1),
        "{first}"
    );
    // Without --write the hole is still there; its proof now comes from the cache, re-checked.
    let second = hole_of("second.json");
    assert_eq!(second["source"], "cache", "{second}");
    assert_eq!(second["proof"], "omega");
    assert_eq!(second["attempts"], 1, "one re-check of the cached proof");
}
