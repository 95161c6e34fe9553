//! The engine-independent CLI parts against real folders, files and sockets: discovery with a
//! `.gitignore`, `--write`-style atomic writes (and refusal when the file changed meanwhile),
//! the JSON report schema, and `doctor` with a missing `lake` and an unreachable endpoint.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sorryfill::cli::doctor::{self, CheckStatus, ConfigLocation, DoctorOptions};
use sorryfill::cli::edits::{
    EditError, Replacement, SourceFile, apply_replacements, unified_diff, write_atomically,
};
use sorryfill::cli::files::discover;
use sorryfill::cli::report::{
    ExitStatus, FileReport, HoleReport, HoleStatus, Report, ReportHoleKind, ReportSource,
};
use sorryfill::holes;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::fresh_dir;

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("the test folder is writable");
    }
    fs::write(path, text).expect("the test file is writable");
}

const LEAN_FILE: &str = "import Mathlib\n\ntheorem two : 1 + 1 = 2 := by\n  sorry\n\nexample (n : ℕ) : n + 0 = n := sorry\n";

#[test]
fn discovery_honours_gitignore_outside_git_and_skips_lake() {
    let dir = fresh_dir();
    let root = dir.path();
    write(&root.join(".gitignore"), "build/\nScratch*.lean\n");
    write(&root.join("Project/Basic.lean"), LEAN_FILE);
    write(&root.join("Project/Deep/Nested.lean"), LEAN_FILE);
    write(&root.join("Project/Scratch1.lean"), LEAN_FILE);
    write(&root.join("build/Generated.lean"), LEAN_FILE);
    write(
        &root.join(".lake/packages/mathlib/Mathlib/Init.lean"),
        LEAN_FILE,
    );
    write(&root.join("Main.lean"), LEAN_FILE);
    write(&root.join("lakefile.toml"), "name = \"project\"\n");

    let files = discover(&[root.to_path_buf()]).expect("the folder can be walked");
    assert_eq!(
        files,
        vec![
            root.join("Main.lean"),
            root.join("Project/Basic.lean"),
            root.join("Project/Deep/Nested.lean"),
        ]
    );

    // A file the user names is taken even though .gitignore matches it.
    let named = root.join("Project/Scratch1.lean");
    let files = discover(&[named.clone(), root.join("Project")]).expect("discover");
    assert_eq!(
        files,
        vec![
            root.join("Project/Basic.lean"),
            root.join("Project/Deep/Nested.lean"),
            named,
        ]
    );
}

/// Replaces every hole of `file` with `rfl`, as `prove --write` would with verified proofs.
fn fill_holes(file: &SourceFile) -> String {
    let replacements: Vec<Replacement> = holes::scan(&file.text)
        .into_iter()
        .map(|hole| Replacement {
            range: hole.span,
            text: "rfl".to_owned(),
        })
        .collect();
    apply_replacements(&file.text, &replacements).expect("hole spans are valid replacements")
}

#[test]
fn write_applies_the_diffed_change_atomically() {
    let dir = fresh_dir();
    let path = dir.path().join("Two.lean");
    write(&path, LEAN_FILE);
    let file = SourceFile::read(&path).expect("read");
    let new_text = fill_holes(&file);

    let diff = unified_diff(Path::new("Two.lean"), &file.text, &new_text);
    let expected_diff = "\
--- a/Two.lean
+++ b/Two.lean
@@ -1,6 +1,6 @@
 import Mathlib
 \n theorem two : 1 + 1 = 2 := by
-  sorry
+  rfl
 \n-example (n : ℕ) : n + 0 = n := sorry
+example (n : ℕ) : n + 0 = n := rfl
";
    assert_eq!(diff, expected_diff.replace(" \\n", " \n"));

    write_atomically(&path, &file.fingerprint, &new_text).expect("the file is unchanged");
    assert_eq!(fs::read_to_string(&path).expect("read back"), new_text);
    let leftovers: Vec<PathBuf> = fs::read_dir(dir.path())
        .expect("list")
        .map(|entry| entry.expect("entry").path())
        .filter(|p| p != &path)
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn write_refuses_a_file_changed_since_it_was_read() {
    let dir = fresh_dir();
    let path = dir.path().join("Two.lean");
    write(&path, LEAN_FILE);
    let file = SourceFile::read(&path).expect("read");
    let new_text = fill_holes(&file);

    // The user saves an edit while sorryfill is proving.
    let users_version = LEAN_FILE.replace("1 + 1 = 2", "2 + 2 = 4");
    write(&path, &users_version);

    let error = write_atomically(&path, &file.fingerprint, &new_text).expect_err("must refuse");
    assert!(
        matches!(error, EditError::ChangedMeanwhile { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("Two.lean"), "{error}");
    assert_eq!(fs::read_to_string(&path).expect("read back"), users_version);
    assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
}

fn example_report() -> Report {
    let text = LEAN_FILE;
    let scanned = holes::scan(text);
    let proved = &scanned[0];
    let failed = &scanned[1];
    Report {
        files: vec![FileReport {
            path: PathBuf::from("Project/Two.lean"),
            holes: vec![
                HoleReport {
                    range: proved.range,
                    kind: proved.kind.into(),
                    declaration: proved.id.declaration.clone(),
                    goal: Some("⊢ 1 + 1 = 2".to_owned()),
                    status: HoleStatus::Verified,
                    source: Some(ReportSource::Tactic),
                    proof: Some("norm_num".to_owned()),
                    reason: None,
                    attempts: 2,
                    elapsed_ms: 840,
                },
                HoleReport {
                    range: failed.range,
                    kind: failed.kind.into(),
                    declaration: failed.id.declaration.clone(),
                    goal: None,
                    status: HoleStatus::Failed,
                    source: None,
                    proof: None,
                    reason: Some("budget of 8 samples exhausted".to_owned()),
                    attempts: 8,
                    elapsed_ms: 12_000,
                },
            ],
        }],
        ..Report::new()
    }
}

#[test]
fn report_json_has_the_documented_schema_field_by_field() {
    let report = example_report();
    let json: Value = serde_json::from_str(&report.to_json()).expect("the report is JSON");
    assert_eq!(json["schema_version"], json!(1));
    assert_eq!(json["errors"], json!([]));
    let file = &json["files"][0];
    assert_eq!(file["path"], json!("Project/Two.lean"));
    let proved = &file["holes"][0];
    // `sorry` sits on line 3 (0-based), columns 2..7.
    assert_eq!(
        proved["range"],
        json!({"start": {"line": 3, "character": 2}, "end": {"line": 3, "character": 7}})
    );
    assert_eq!(proved["kind"], json!("sorry"));
    assert_eq!(proved["declaration"], json!("two"));
    assert_eq!(proved["goal"], json!("⊢ 1 + 1 = 2"));
    assert_eq!(proved["status"], json!("verified"));
    assert_eq!(proved["source"], json!("tactic"));
    assert_eq!(proved["proof"], json!("norm_num"));
    assert_eq!(proved["reason"], Value::Null);
    assert_eq!(proved["attempts"], json!(2));
    assert_eq!(proved["elapsed_ms"], json!(840));
    let failed = &file["holes"][1];
    // The column after `ℕ` counts UTF-16 units: `ℕ` is one unit, three bytes.
    assert_eq!(
        failed["range"],
        json!({"start": {"line": 5, "character": 31}, "end": {"line": 5, "character": 36}})
    );
    assert_eq!(failed["declaration"], json!("example@0"));
    assert_eq!(failed["status"], json!("failed"));
    // Absent values are present as null, never omitted.
    for key in ["goal", "source", "proof"] {
        assert_eq!(failed.get(key), Some(&Value::Null), "{key}");
    }
    let keys: Vec<&str> = failed
        .as_object()
        .expect("a hole is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "range",
            "kind",
            "declaration",
            "goal",
            "status",
            "source",
            "proof",
            "reason",
            "attempts",
            "elapsed_ms"
        ]
    );
    assert_eq!(
        Report::from_json(&report.to_json()).expect("round trip"),
        report
    );
    assert_eq!(ExitStatus::for_report(&report).code(), 1);
}

#[test]
fn a_report_written_by_another_tool_is_read() {
    let text = r#"{
      "schema_version": 1,
      "files": [{"path": "A.lean", "holes": [{
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 5}},
        "kind": "admit", "declaration": "A.b", "goal": null, "status": "skipped",
        "source": null, "proof": null, "reason": "--check", "attempts": 0, "elapsed_ms": 0
      }]}],
      "errors": []
    }"#;
    let report = Report::from_json(text).expect("a valid report");
    let hole = &report.files[0].holes[0];
    assert_eq!(hole.kind, ReportHoleKind::Admit);
    assert_eq!(hole.status, HoleStatus::Skipped);
    assert_eq!(ExitStatus::for_report(&report), ExitStatus::HolesLeft);
}

/// A Lake-shaped project with a pinned toolchain and Mathlib.
fn project() -> tempfile::TempDir {
    let dir = fresh_dir();
    write(
        &dir.path().join("lean-toolchain"),
        "leanprover/lean4:v4.21.0\n",
    );
    write(
        &dir.path().join("lake-manifest.json"),
        r#"{"version": "1.1.0", "packages": [{"type": "git", "name": "mathlib", "rev": "abc123"}]}"#,
    );
    dir
}

fn options(root: &Path, path_var: &Path, config: Option<PathBuf>) -> DoctorOptions {
    DoctorOptions {
        project_root: root.to_path_buf(),
        path_var: Some(path_var.as_os_str().to_owned()),
        env: HashMap::new(),
        config: match config {
            Some(file) => ConfigLocation::Explicit(file),
            // Never read the developer's own ~/.config/sorryfill.
            None => ConfigLocation::Search(vec![root.join("sorryfill.toml")]),
        },
        lean_cmd: None,
        command_timeout: Duration::from_secs(10),
        http_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn doctor_reports_a_missing_lake_with_the_fix() {
    let project = project();
    let empty_path = fresh_dir();
    let report = doctor::run(&options(project.path(), empty_path.path(), None)).await;

    let lake = report.check("lake").expect("lake is checked");
    assert_eq!(lake.status, CheckStatus::Error);
    assert!(lake.detail.contains("not found on PATH"), "{}", lake.detail);
    let fix = lake.fix.as_deref().expect("a problem comes with a fix");
    assert!(fix.contains("elan") && fix.contains("--lean-cmd"), "{fix}");
    assert_eq!(
        report.check("lean").map(|c| c.status),
        Some(CheckStatus::Error)
    );
    let project_check = report.check("project").expect("project is checked");
    assert!(
        project_check.detail.contains("v4.21.0") && project_check.detail.contains("abc123"),
        "{}",
        project_check.detail
    );
    assert_ne!(report.exit_status().code(), 0);
    let text = report.render_text();
    assert!(text.contains("fix: install elan"), "{text}");
    let json: Value = serde_json::from_str(&report.to_json()).expect("JSON");
    assert_eq!(json["checks"][0]["name"], json!("lake"));
    assert_eq!(json["checks"][0]["status"], json!("error"));
}

#[cfg(unix)]
fn fake_program(folder: &Path, name: &str, output: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = folder.join(name);
    write(&path, &format!("#!/bin/sh\necho '{output}'\n"));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[cfg(unix)]
#[tokio::test]
async fn doctor_reports_versions_and_a_toolchain_mismatch() {
    let project = project();
    let bin = fresh_dir();
    fake_program(
        bin.path(),
        "lake",
        "Lake version 5.0.0-abc (Lean version 4.21.0)",
    );
    fake_program(
        bin.path(),
        "lean",
        "Lean (version 4.19.0, x86_64-unknown-linux-gnu, Release)",
    );
    let report = doctor::run(&options(project.path(), bin.path(), None)).await;
    let lake = report.check("lake").expect("lake is checked");
    assert_eq!(lake.status, CheckStatus::Ok, "{lake:?}");
    assert!(
        lake.detail.starts_with("Lake version 5.0.0-abc"),
        "{}",
        lake.detail
    );
    let project_check = report.check("project").expect("project is checked");
    assert_eq!(
        project_check.status,
        CheckStatus::Warning,
        "{project_check:?}"
    );
    assert!(
        project_check.detail.contains("4.19.0"),
        "{}",
        project_check.detail
    );
    // Warnings alone do not fail doctor.
    assert_eq!(
        report.exit_status(),
        ExitStatus::Success,
        "{}",
        report.render_text()
    );
}

/// A 127.0.0.1 port nobody listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("bound address").port();
    drop(listener);
    port
}

#[tokio::test]
async fn doctor_reports_an_unreachable_endpoint_with_the_fix() {
    let project = project();
    let config = project.path().join("sorryfill.toml");
    write(
        &config,
        &format!(
            "[prover]\nbase_url = \"http://user:hunter2@127.0.0.1:{}/v1\"\nmodel = \"prover-7b\"\n",
            closed_port()
        ),
    );
    let empty_path = fresh_dir();
    let report = doctor::run(&options(project.path(), empty_path.path(), Some(config))).await;
    let endpoint = report
        .check("prover endpoint")
        .expect("the prover is checked");
    assert_eq!(endpoint.status, CheckStatus::Error, "{endpoint:?}");
    assert!(
        endpoint.detail.contains("cannot connect"),
        "{}",
        endpoint.detail
    );
    let fix = endpoint.fix.as_deref().expect("a fix");
    assert!(
        fix.contains("base_url") && fix.contains("sorryfill.toml"),
        "{fix}"
    );
    assert_ne!(report.exit_status().code(), 0);
    let text = report.render_text();
    let json = report.to_json();
    for output in [&text, &json] {
        assert!(!output.contains("hunter2"), "a password leaked: {output}");
    }
    assert!(text.contains("user:****@127.0.0.1"), "{text}");
    // The effective values are shown too.
    assert!(text.contains("model = \"prover-7b\""), "{text}");
}

#[tokio::test]
async fn doctor_reaches_an_endpoint_with_its_key_and_measures_latency() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", "Bearer sk-doctor-test"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "list", "data": [{"id": "prover-7b"}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/planner/v1/models"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "list", "data": [{"id": "planner-v2"}]})),
        )
        .mount(&server)
        .await;
    let project = project();
    let config = project.path().join("sorryfill.toml");
    write(
        &config,
        &format!(
            "[prover]\nbase_url = \"{}/v1\"\nmodel = \"prover-7b\"\napi_key_env = \"DOCTOR_KEY\"\n\n[decomposer]\nbase_url = \"{}/planner/v1\"\nmodel = \"planner\"\n",
            server.uri(),
            server.uri()
        ),
    );
    let empty_path = fresh_dir();
    let mut options = options(project.path(), empty_path.path(), None);

    let without_key = doctor::run(&options).await;
    let prover = without_key.check("prover endpoint").expect("checked");
    assert_eq!(prover.status, CheckStatus::Error);
    assert!(
        prover.detail.contains("DOCTOR_KEY is not set"),
        "{}",
        prover.detail
    );

    options
        .env
        .insert("DOCTOR_KEY".to_owned(), "sk-doctor-test".to_owned());
    let report = doctor::run(&options).await;
    let prover = report.check("prover endpoint").expect("checked");
    assert_eq!(prover.status, CheckStatus::Ok, "{prover:?}");
    assert!(prover.latency_ms.is_some());
    // The decomposer's model is not served there: a warning naming what is.
    let decomposer = report.check("decomposer endpoint").expect("checked");
    assert_eq!(decomposer.status, CheckStatus::Warning, "{decomposer:?}");
    assert!(
        decomposer.detail.contains("planner-v2"),
        "{}",
        decomposer.detail
    );
    let view = report.config.as_ref().expect("the config loaded");
    assert_eq!(view.values["prover"]["api_key_env"], json!("DOCTOR_KEY"));
    for output in [report.render_text(), report.to_json()] {
        assert!(
            !output.contains("sk-doctor-test"),
            "the key leaked: {output}"
        );
    }
}
