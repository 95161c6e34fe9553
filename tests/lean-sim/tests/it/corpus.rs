//! Every hole of the shared corpus gets the sorry warning on its declaration's name.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{Sim, shared_or_skip};

const DECLARATION_KEYWORDS: [&str; 8] = [
    "theorem", "lemma", "problem", "def", "example", "instance", "abbrev", "opaque",
];

/// Checks the warnings of one document against its expected hole lines (1-based).
fn check(
    name: &str,
    text: &str,
    diagnostics: &[Value],
    hole_lines: &[u64],
    admit_lines: &[u64],
    expected_name: Option<&str>,
) {
    let lines: Vec<&str> = text.lines().collect();
    let mut warnings: Vec<(u64, String)> = diagnostics
        .iter()
        .filter(|d| d["message"] == json!("declaration uses `sorry`"))
        .map(|d| {
            let line = d
                .pointer("/range/start/line")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let start = d
                .pointer("/range/start/character")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let end = d
                .pointer("/range/end/character")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let utf16: Vec<u16> = lines
                .get(line as usize)
                .copied()
                .unwrap_or("")
                .encode_utf16()
                .collect();
            let named = String::from_utf16_lossy(utf16.get(start..end).unwrap_or(&[]));
            (line + 1, named)
        })
        .collect();
    warnings.sort();
    for (line, named) in &warnings {
        let source_line = lines.get(*line as usize - 1).copied().unwrap_or("");
        let names_a_declaration = DECLARATION_KEYWORDS
            .iter()
            .any(|keyword| source_line.contains(&format!("{keyword} {named}")) || named == keyword);
        assert!(
            names_a_declaration,
            "{name}:{line}: warning on `{named}` is not a declaration name: {source_line}"
        );
        if let Some(expected_name) = expected_name {
            assert_eq!(
                named, expected_name,
                "{name}: warning on the wrong declaration"
            );
        }
    }
    for hole in hole_lines {
        let owner = warnings.iter().rev().find(|(line, _)| line <= hole);
        assert!(
            owner.is_some(),
            "{name}:{hole}: no sorry warning on or above this hole"
        );
    }
    for (index, (line, named)) in warnings.iter().enumerate() {
        let next = warnings.get(index + 1).map_or(u64::MAX, |(next, _)| *next);
        // `admit` is a hole to Lean (it is `sorry`), though the corpus lists it apart.
        let covers_a_hole = hole_lines
            .iter()
            .chain(admit_lines)
            .any(|hole| hole >= line && *hole < next);
        assert!(
            covers_a_hole,
            "{name}:{line}: warning on `{named}` but no hole in that declaration"
        );
    }
}

#[test]
fn every_corpus_hole_is_reported_on_its_declaration() {
    let Some(dir) = shared_or_skip("the corpus") else {
        return;
    };
    let expected: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("corpus/expected.json"))
            .expect("expected.json is readable"),
    )
    .expect("expected.json is JSON");
    let mut sim = Sim::start(&[], json!({}));
    let mut checked = 0;
    let mut silenced_files = 0;
    for (key, facts) in &expected {
        let holes: Vec<u64> = serde_json::from_value(facts["lines"].clone()).unwrap_or_default();
        let (text, expected_name) = match key.split_once('#') {
            Some((file, row_name)) => {
                let rows = std::fs::read_to_string(dir.join("corpus").join(file))
                    .expect("the jsonl file is readable");
                let row: Value = rows
                    .lines()
                    .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                    .find(|row| row["name"] == json!(row_name))
                    .expect("the row exists");
                let field = facts["field"].as_str().unwrap_or("lean4_code");
                (
                    row[field].as_str().unwrap_or("").to_owned(),
                    Some(row_name.to_owned()),
                )
            }
            None => (
                std::fs::read_to_string(dir.join("corpus").join(key))
                    .expect("corpus file is readable"),
                None,
            ),
        };
        // `set_option warn.sorry false` silences the warning in Lean too; blank it out (same
        // length, so lines and columns stay) to check the holes it covers.
        let silenced = text.contains("set_option warn.sorry false");
        let blank = |text: String, option: &str| text.replace(option, &" ".repeat(option.len()));
        let text = blank(
            blank(text, "set_option warn.sorry false in"),
            "set_option warn.sorry false",
        );
        let uri = format!("file:///corpus/{}.lean", checked);
        sim.open(&uri, &text);
        let diagnostics = sim.diagnostics(&uri, 1);
        sim.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
        let admits: Vec<u64> =
            serde_json::from_value(facts["admit_lines"].clone()).unwrap_or_default();
        check(
            key,
            &text,
            &diagnostics,
            &holes,
            &admits,
            expected_name.as_deref(),
        );
        silenced_files += usize::from(silenced);
        checked += 1;
    }
    assert!(
        checked > 250,
        "all corpus files and miniF2F rows were checked"
    );
    assert!(
        silenced_files > 0,
        "the corpus exercises `warn.sorry false`"
    );
}

#[test]
fn named_sorry_warnings_match_leans_own_test() {
    let Some(dir) = shared_or_skip("the corpus") else {
        return;
    };
    let path = dir.join("corpus/lean/lean4_test_sorryWarningDeclName.lean");
    let text = std::fs::read_to_string(path).expect("the Lean test file is readable");
    // The file's `#guard_msgs` doc comments hold the warnings Lean produced.
    let expected: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("warning: "))
        .filter(|message| message.starts_with("declaration `"))
        .collect();
    // Every sorry-free value here elaborates in Lean (`groupB := groupC + 1`): accept them.
    let mut sim = Sim::start(&["--sorry-style", "named", "--accept-all"], json!({}));
    sim.open("file:///named.lean", &text);
    let got: Vec<String> = sim
        .diagnostics("file:///named.lean", 1)
        .iter()
        .filter_map(|d| d["message"].as_str().map(str::to_owned))
        .collect();
    // `where` helpers and `let rec`s are declarations of their own, named `parent.helper`, and
    // each declaration of a `mutual` block warns for itself.
    for message in &expected {
        assert!(
            got.iter().any(|g| g == message),
            "missing `{message}` in {got:?}"
        );
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "one warning per declaration that Lean warns about"
    );
}

#[test]
fn warn_sorry_false_silences_the_warning() {
    let mut sim = Sim::start(&[], json!({}));
    let text = "set_option warn.sorry false in\ntheorem quiet : True := by\n  sorry\n\ntheorem loud : True := by\n  sorry\n";
    sim.open("file:///quiet.lean", text);
    let diagnostics = sim.diagnostics("file:///quiet.lean", 1);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].pointer("/range/start/line"), Some(&json!(4)));
}
