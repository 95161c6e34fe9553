//! Every raw output in `../shared/corpus/model_outputs/` parsed and checked against the facts
//! of `expected_outputs.json`.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sorryfill::models::parse::{ParseRejection, parse_output};

use crate::support::corpus_dir;

/// The prompt record of each DeepSeek output: the theorem that was sent.
fn deepseek_prompts(dir: &Path) -> HashMap<String, String> {
    read_jsonl(&dir.join("model_outputs/deepseek_prover_v2_7b/outputs.jsonl"))
        .into_iter()
        .filter_map(|row| {
            Some((
                row["problem_name"].as_str()?.to_owned(),
                row["formal_statement_with_imports"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// Kimina's upstream-verified proof of each problem.
fn kimina_proofs(dir: &Path) -> HashMap<String, String> {
    read_jsonl(&dir.join("model_outputs/kimina_prover_preview/outputs.jsonl"))
        .into_iter()
        .filter_map(|row| {
            Some((
                row["name"].as_str()?.to_owned(),
                row["correct_proof"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("the corpus JSONL is readable");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("each corpus line is JSON"))
        .collect()
}

fn as_usize(value: &Value) -> usize {
    value.as_u64().expect("a count") as usize
}

fn lines_of(block: &str, offsets: impl Iterator<Item = usize>) -> Vec<usize> {
    offsets
        .map(|at| 1 + block[..at].matches('\n').count())
        .collect()
}

#[test]
fn every_raw_output_agrees_with_the_expected_facts() {
    let Some(dir) = corpus_dir() else { return };
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("model_outputs/expected_outputs.json"))
            .expect("expected_outputs.json is readable"),
    )
    .expect("expected_outputs.json is JSON");
    let prompts = deepseek_prompts(&dir);
    let kimina = kimina_proofs(&dir);
    let outputs = expected["outputs"].as_object().expect("an outputs object");
    assert_eq!(outputs.len(), 40, "the corpus holds 40 raw outputs");

    for (path, facts) in outputs {
        let raw = std::fs::read_to_string(dir.join(path.trim_start_matches("model_outputs/")))
            .or_else(|_| std::fs::read_to_string(dir.join(path)))
            .expect("the raw output is readable");
        let problem = facts["problem"].as_str().expect("a problem name");
        let is_deepseek = path.contains("deepseek");
        let original = if is_deepseek {
            prompts
                .get(problem)
                .expect("every DeepSeek output has its prompt")
                .clone()
        } else {
            String::new()
        };
        let parsed = parse_output(&raw, &original);
        let blocks = &parsed.blocks;

        assert_eq!(blocks.len(), as_usize(&facts["n_blocks"]), "{path}: blocks");
        let lean4: Vec<_> = blocks.iter().filter(|b| b.lang == "lean4").collect();
        assert_eq!(
            lean4.len(),
            as_usize(&facts["n_lean4_blocks"]),
            "{path}: lean4 blocks"
        );
        assert_eq!(
            lean4.iter().filter(|b| b.is_closed()).count(),
            as_usize(&facts["n_closed_lean4_blocks"]),
            "{path}: closed lean4 blocks"
        );
        assert_eq!(
            parsed.ends_inside_code_block, facts["ends_inside_code_block"],
            "{path}: truncation"
        );
        assert_eq!(parsed.has_think, facts["has_think"], "{path}: <think>");
        assert_eq!(
            parsed.has_think_close, facts["has_think_close"],
            "{path}: </think>"
        );
        assert_eq!(
            parsed.has_complete_proof_header, facts["has_complete_proof_header"],
            "{path}: complete proof header"
        );

        // The final block.
        let last = &facts["last_closed_lean4_block"];
        match parsed.last_closed_lean_block {
            None => assert!(last.is_null(), "{path}: expected a last closed block"),
            Some(index) => {
                assert!(
                    !last.is_null(),
                    "{path}: found a last block where none is expected"
                );
                let block = &blocks[index];
                assert_eq!(
                    block.start_line,
                    as_usize(&last["start_line"]),
                    "{path}: final start"
                );
                assert_eq!(
                    block.end_line,
                    Some(as_usize(&last["end_line"])),
                    "{path}: final end"
                );
                let text = parsed.block_text(&raw, index);
                let digest: String = Sha256::digest(text.trim_end_matches('\n').as_bytes())
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                assert_eq!(
                    digest,
                    last["sha256"].as_str().expect("a digest"),
                    "{path}: final block text"
                );
                let sorries = sorryfill::models::parse::sorry_tokens(text);
                assert_eq!(
                    sorries.len(),
                    as_usize(&last["sorries"]),
                    "{path}: sorries in final block"
                );
                let statement = sorryfill::models::parse::find_statement(text, None);
                assert_eq!(
                    statement.as_ref().map(|s| s.name.as_str()),
                    last["theorem_name"].as_str(),
                    "{path}: theorem name"
                );
                if let Some(matches) = last["statement_matches_input_ignoring_whitespace"].as_bool()
                {
                    let changed = sorryfill::models::parse::statement_differs(text, &original);
                    assert_eq!(changed, !matches, "{path}: statement match of final block");
                    if let Ok(proof) = &parsed.proof {
                        assert_eq!(proof.statement_changed, !matches, "{path}: proof statement");
                    }
                }
            }
        }

        // Sketches: every closed lean4 block with sorry, its have-subgoals and statement match.
        let sketches_expected = facts["lean4_blocks_with_sorry"].as_array().expect("a list");
        assert_eq!(
            parsed.sketches.len(),
            sketches_expected.len(),
            "{path}: sketch count"
        );
        for (sketch, want) in parsed.sketches.iter().zip(sketches_expected) {
            assert_eq!(
                sketch.start_line,
                as_usize(&want["start_line"]),
                "{path}: sketch start"
            );
            assert_eq!(
                sketch.sorries.len(),
                as_usize(&want["sorries"]),
                "{path}: sketch sorries"
            );
            let sorry_lines = lines_of(&sketch.block, sketch.sorries.iter().map(|r| r.start));
            let want_lines: Vec<usize> = want["sorry_lines_in_block"]
                .as_array()
                .expect("lines")
                .iter()
                .map(as_usize)
                .collect();
            assert_eq!(sorry_lines, want_lines, "{path}: sketch sorry lines");
            let steps: Vec<(String, usize, usize)> = sketch
                .steps
                .iter()
                .map(|s| (s.name.clone(), s.have_line, s.sorry_line))
                .collect();
            let want_steps: Vec<(String, usize, usize)> = want["have_sorry_subgoals"]
                .as_array()
                .expect("subgoals")
                .iter()
                .map(|g| {
                    (
                        g["name"].as_str().expect("a name").to_owned(),
                        as_usize(&g["have_line"]),
                        as_usize(&g["sorry_line"]),
                    )
                })
                .collect();
            assert_eq!(steps, want_steps, "{path}: have subgoals");
            for step in &sketch.steps {
                assert_eq!(&sketch.block[step.sorry.clone()], "sorry");
                assert!(sketch.block[step.span.clone()].starts_with("have"));
                assert!(
                    !step.statement.is_empty(),
                    "{path}: {} has a statement",
                    step.name
                );
            }
            if let Some(matches) = want["statement_matches_input_ignoring_whitespace"].as_bool() {
                assert_eq!(
                    sketch.statement_changed, !matches,
                    "{path}: sketch statement match"
                );
            }
        }

        // The verdict a user sees.
        if facts["ends_inside_code_block"] == true {
            assert!(
                matches!(
                    parsed.proof,
                    Err(ParseRejection::TruncatedInBlock { .. }
                        | ParseRejection::RepetitionLoop { .. })
                ),
                "{path}: a cut-off output is rejected, got {:?}",
                parsed.proof.as_ref().map(|p| &p.statement.name)
            );
        }
        if facts["upstream_verification_status"] == "success" || facts["upstream_verified"] == true
        {
            let proof = parsed
                .proof
                .as_ref()
                .unwrap_or_else(|e| panic!("{path}: a verified output yields a proof, got {e}"));
            assert!(
                !proof.statement_changed,
                "{path}: verified proofs keep the statement"
            );
            assert!(proof.body.tactics.is_some(), "{path}: a tactic proof body");
            assert!(
                parsed.repetition.is_none(),
                "{path}: no repetition in a verified output"
            );
        }
        if let Some(equal) =
            facts["final_block_after_think_equals_correct_proof_stripped"].as_bool()
        {
            let proof = parsed
                .proof
                .as_ref()
                .expect("Kimina outputs all have a final proof");
            let upstream = kimina.get(problem).expect("the upstream proof").trim();
            assert_eq!(
                proof.block.trim() == upstream,
                equal,
                "{path}: final block vs upstream proof"
            );
        }
    }
}

#[test]
fn loops_are_named_as_loops() {
    let Some(dir) = corpus_dir() else { return };
    for name in ["imo_1977_p6", "amc12a_2003_p5"] {
        let raw = std::fs::read_to_string(dir.join(format!(
            "model_outputs/deepseek_prover_v2_7b/raw/{name}.txt"
        )))
        .expect("readable");
        let parsed = parse_output(&raw, "");
        assert!(parsed.repetition.is_some(), "{name}: repetition detected");
        assert!(
            matches!(parsed.proof, Err(ParseRejection::RepetitionLoop { .. })),
            "{name}: rejected as a loop"
        );
    }
}

#[test]
fn a_changed_statement_is_recorded_but_its_body_kept() {
    let Some(dir) = corpus_dir() else { return };
    // mathd_numbertheory_314: the model proved a different theorem in a closed block.
    let raw = std::fs::read_to_string(
        dir.join("model_outputs/deepseek_prover_v2_7b/raw/mathd_numbertheory_314.txt"),
    )
    .expect("readable");
    let prompts = deepseek_prompts(&dir);
    let parsed = parse_output(&raw, &prompts["mathd_numbertheory_314"]);
    let proof = parsed.proof.expect("a closed block with a body");
    assert!(proof.statement_changed);
    assert!(
        proof
            .body
            .tactics
            .as_deref()
            .is_some_and(|t| t.starts_with("intro n"))
    );
}
