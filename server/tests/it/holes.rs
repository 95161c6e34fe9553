//! Hole scanning against the shared corpus (every file and miniF2F row of `expected.json`),
//! goal parsing against Lean's real plainGoal outputs, and property tests for stability.

use crate::support;
use proptest::prelude::*;
use serde_json::Value;
use sorryfill::holes::{HoleIndex, HoleKind, parse_goal, parse_rendered_goals, scan};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `(line 1-based, col_utf16)` of every `sorry` hole and every `admit` line, as the corpus
/// records them.
fn found(text: &str) -> (Vec<(u64, u64)>, Vec<u64>) {
    let holes = scan(text);
    let sorries = holes
        .iter()
        .filter(|h| h.kind == HoleKind::Sorry)
        .map(|h| {
            (
                u64::from(h.range.start.line) + 1,
                u64::from(h.range.start.character),
            )
        })
        .collect();
    let admits = holes
        .iter()
        .filter(|h| h.kind == HoleKind::Admit)
        .map(|h| u64::from(h.range.start.line) + 1)
        .collect();
    (sorries, admits)
}

fn numbers(value: Option<&Value>) -> Vec<u64> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// The Lean text of every corpus entry: files by path, miniF2F rows by `path#name`.
fn corpus_texts(
    root: &std::path::Path,
    expected: &BTreeMap<String, Value>,
) -> BTreeMap<String, String> {
    let mut texts = BTreeMap::new();
    let mut rows_by_file: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (key, entry) in expected {
        match key.split_once('#') {
            None => {
                let text = std::fs::read_to_string(root.join(key))
                    .unwrap_or_else(|e| panic!("corpus file {key} is readable: {e}"));
                texts.insert(key.clone(), text);
            }
            Some((file, name)) => {
                let rows = rows_by_file.entry(file.to_owned()).or_insert_with(|| {
                    let jsonl = std::fs::read_to_string(root.join(file))
                        .unwrap_or_else(|e| panic!("corpus file {file} is readable: {e}"));
                    jsonl
                        .lines()
                        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                        .filter_map(|row| Some((row.get("name")?.as_str()?.to_owned(), row)))
                        .collect()
                });
                let field = entry
                    .get("field")
                    .and_then(Value::as_str)
                    .unwrap_or("formal_statement");
                let text = rows
                    .get(name)
                    .and_then(|row| row.get(field))
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{key}: row or field {field} missing"));
                texts.insert(key.clone(), text.to_owned());
            }
        }
    }
    texts
}

#[test]
fn scanner_finds_exactly_the_corpus_holes() {
    let Some(root) = support::corpus_dir() else {
        return;
    };
    let expected: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("expected.json")).expect("expected.json is readable"),
    )
    .expect("expected.json is JSON");
    // Every Lean file of the corpus must be covered by expected.json.
    for file in std::fs::read_dir(root.join("lean"))
        .expect("corpus/lean is a folder")
        .flatten()
    {
        let key = format!("lean/{}", file.file_name().to_string_lossy());
        if key.ends_with(".lean") {
            assert!(
                expected.contains_key(&key),
                "{key} has no entry in expected.json"
            );
        }
    }
    let texts = corpus_texts(&root, &expected);
    let mut report = String::new();
    let mut rows = 0;
    for (key, entry) in &expected {
        let text = &texts[key];
        let (sorries, admits) = found(text);
        let want: Vec<(u64, u64)> = entry
            .get("positions")
            .and_then(Value::as_array)
            .map(|positions| {
                positions
                    .iter()
                    .filter_map(|p| Some((p.get("line")?.as_u64()?, p.get("col_utf16")?.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let want_lines = numbers(entry.get("lines"));
        let got_lines: Vec<u64> = sorries.iter().map(|p| p.0).collect();
        if sorries != want || got_lines != want_lines {
            let missing: Vec<_> = want.iter().filter(|p| !sorries.contains(p)).collect();
            let extra: Vec<_> = sorries.iter().filter(|p| !want.contains(p)).collect();
            let _ = writeln!(
                report,
                "{key}: missing (line, col_utf16) {missing:?}, spurious {extra:?}"
            );
        }
        let want_admits = numbers(entry.get("admit_lines"));
        if admits != want_admits {
            let _ = writeln!(
                report,
                "{key}: admit lines {admits:?}, expected {want_admits:?}"
            );
        }
        if let Some(mentions) = entry
            .get("non_hole_sorry_mentions")
            .and_then(Value::as_object)
        {
            for (category, lines) in mentions {
                for line in numbers(Some(lines)) {
                    let spurious: Vec<_> = sorries
                        .iter()
                        .filter(|p| p.0 == line && !want.contains(p))
                        .collect();
                    if !spurious.is_empty() {
                        let _ = writeln!(
                            report,
                            "{key}: {category} mention on line {line} taken as a hole"
                        );
                    }
                }
            }
        }
        rows += 1;
    }
    assert!(
        rows > 200,
        "the corpus has files and miniF2F rows ({rows} seen)"
    );
    assert!(
        report.is_empty(),
        "scanner disagrees with expected.json:\n{report}"
    );
}

/// Every request/response pair of a `.expected.out` sample (a sequence of JSON values).
fn sample_values(name: &str) -> Option<Vec<Value>> {
    let dir = support::protocol_dir()?;
    let text = std::fs::read_to_string(dir.join("samples").join(name)).ok()?;
    Some(
        serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .filter_map(Result::ok)
            .collect(),
    )
}

#[test]
fn real_plain_goal_outputs_parse_and_become_lemmas() {
    let Some(values) = sample_values("plainGoal.lean.expected.out") else {
        return;
    };
    let results: Vec<&Value> = values
        .iter()
        .filter(|v| v.get("rendered").is_some())
        .collect();
    assert!(results.len() > 10, "the sample holds plainGoal results");
    for result in results {
        let rendered = result["rendered"].as_str().expect("rendered is a string");
        let goals: Vec<&str> = result["goals"]
            .as_array()
            .expect("goals is an array")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let from_rendered = parse_rendered_goals(rendered);
        let from_goals: Vec<_> = goals.iter().map(|g| parse_goal(g)).collect();
        assert_eq!(
            from_rendered, from_goals,
            "rendered and goals agree for {rendered}"
        );
        for (goal, text) in from_goals.iter().zip(&goals) {
            let target = text
                .rsplit_once('⊢')
                .map(|(_, t)| t.trim())
                .unwrap_or_default();
            assert_eq!(goal.target, target);
            let hypothesis_lines = text.lines().filter(|l| l.contains(" : ")).count();
            assert_eq!(goal.hypotheses.len(), hypothesis_lines, "{text}");
            let lemma = goal.to_lemma("extracted");
            assert!(lemma.starts_with("theorem extracted"), "{lemma}");
            assert!(
                !lemma.contains('✝'),
                "inaccessible names are renamed: {lemma}"
            );
            assert!(
                !lemma.contains("?u"),
                "universe metavariables are parameters: {lemma}"
            );
        }
    }
    // The `case succ` goal with inaccessible names, as Lean printed it.
    let goal = parse_goal("case succ\nn✝ : Nat\na✝ : 0 + n✝ = n✝\n⊢ 0 + (n✝ + 1) = n✝ + 1");
    assert_eq!(goal.case_tag.as_deref(), Some("succ"));
    assert_eq!(
        goal.to_lemma("succ_case"),
        "theorem succ_case (n_1 : Nat) (a_1 : 0 + n_1 = n_1) :\n    0 + (n_1 + 1) = n_1 + 1"
    );
}

#[test]
fn real_plain_term_goal_outputs_parse() {
    let Some(values) = sample_values("plainTermGoal.lean.expected.out") else {
        return;
    };
    let goals: Vec<&str> = values
        .iter()
        .filter_map(|v| v.get("goal").and_then(Value::as_str))
        .collect();
    assert!(!goals.is_empty(), "the sample holds plainTermGoal results");
    for text in goals {
        let goal = parse_goal(text);
        assert!(!goal.target.is_empty(), "{text}");
        assert!(goal.to_lemma("t").contains(&goal.target.replace('✝', "")) || text.contains('✝'));
    }
}

const BASE: &str = "import Mathlib\n\nopen Nat\n\n/-- The first. -/\ntheorem first (n : ℕ) : n + 0 = n := by\n  induction n with\n  | zero => sorry\n  | succ n ih => simp\n\ntheorem second : True ∧ True := by\n  constructor\n  · sorry\n  · exact sorry\n\nexample : 1 = 1 := sorry\n\ndef third : ℕ := by admit\n";

/// Byte offsets strictly inside comments or string literals of `BASE`-like text.
fn inside_comment_or_string(text: &str) -> Vec<usize> {
    lean_syntax::lex(text)
        .into_iter()
        .filter(|t| t.is_comment() || t.kind == lean_syntax::TokenKind::String)
        .flat_map(|t| {
            let body = t.span.start + 3..t.span.end.saturating_sub(2);
            body.filter(|&i| text.is_char_boundary(i))
                .collect::<Vec<_>>()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_inserted_in_comments_or_strings_never_adds_holes(
        insert in "[a-z sorry\\-/{}`'()⟨⟩·]{0,24}",
        pick in any::<prop::sample::Index>(),
    ) {
        let base = format!("{BASE}-- a sorry-free comment here\n/- block /- nested -/ text -/\ndef s := \"some string text\"\n");
        let spots = inside_comment_or_string(&base);
        let at = spots[pick.index(spots.len())];
        let mut edited = base.clone();
        edited.insert_str(at, &insert);
        // Text that closes or opens a comment next to the insertion point is not "inside" it.
        let kinds = |text: &str| -> Vec<lean_syntax::TokenKind> {
            lean_syntax::lex(text).into_iter().map(|t| t.kind).collect()
        };
        prop_assume!(kinds(&edited) == kinds(&base));
        prop_assert_eq!(scan(&edited).len(), scan(&base).len());
    }

    #[test]
    fn edits_in_another_declaration_keep_hole_ids(
        insert in "[a-z0-9 +*()\\n]{0,30}|sorry|  sorry\\n",
    ) {
        // Edit inside `second`'s proof; every hole outside `second` keeps its id.
        let at = BASE.find("  constructor\n").expect("BASE has constructor") ;
        let mut edited = BASE.to_owned();
        edited.insert_str(at, &insert);
        let ids = |text: &str| -> Vec<String> {
            scan(text).into_iter().filter(|h| !h.id.declaration.contains("second")).map(|h| h.id.to_string()).collect()
        };
        prop_assert_eq!(ids(&edited), ids(BASE));
        // The incremental index agrees with a fresh scan after the edit.
        let mut index = HoleIndex::new(BASE);
        index.update(&edited);
        let fresh = scan(&edited);
        prop_assert_eq!(index.holes(), fresh.as_slice());
    }

    #[test]
    fn incremental_update_equals_fresh_scan_for_any_splice(
        start in 0usize..400, len in 0usize..40, insert in "(\\PC|\\n){0,20}|sorry|/-|-/|\"|`\\(|by|theorem x :=",
    ) {
        let start = lean_syntax::floor_char_boundary(BASE, start);
        let end = lean_syntax::floor_char_boundary(BASE, start + len);
        let edited = format!("{}{}{}", &BASE[..start], insert, &BASE[end..]);
        let mut index = HoleIndex::new(BASE);
        index.update(&edited);
        let fresh = HoleIndex::new(&edited);
        prop_assert_eq!(index.holes(), fresh.holes());
        prop_assert_eq!(index.outline(), fresh.outline());
    }
}
