//! The data set export: attempts as JSON Lines, for supervised fine-tuning or RL.
//!
//! Rows are streamed from SQLite to the writer one at a time, on a connection of their own, so an
//! export neither holds the whole table in memory nor blocks a running editor session.
//!
//! ## `sft`: one line per distinct verified pair
//! Attempts that passed the gate, excluding re-checks of cache hits (they repeat an earlier
//! attempt) and duplicates of the same goal, context and proof:
//! ```json
//! {"prompt": [{"role": "user", "content": "Complete the following Lean 4 code:\n\n```lean4\n…```"}],
//!  "completion": "```lean4\n<header>\n\ntheorem … := by\n  <proof>\n```",
//!  "goal": "x : ℕ\n⊢ x + 0 = x", "source": "prover", "model": "DeepSeek-Prover-V2-7B",
//!  "prompt_format": "deepseek-prover-v2"}
//! ```
//! ## `rl`: one line per attempt, in the order they were made
//! ```json
//! {"prompt": [...], "candidate": "<proof text spliced at the hole>", "reward": 1, "reason": null,
//!  "goal": "…", "source": "tactic", "model": null, "prompt_format": "deepseek-prover-v2",
//!  "elapsed_ms": 41, "created_at": 1700000000000}
//! ```
//! `reward` is 1 when Lean accepted the candidate under the full gate and 0 otherwise, with
//! `reason` saying why. `created_at` is in milliseconds since the Unix epoch.
//!
//! ## Prompts
//! `prompt` is the chat the prover is trained on, in the prover's own format (see
//! `research/anchors.md` §1.2 and §2 of the project notes): the Lean shown is the file header
//! (imports, `open`s, …) and the hole as a standalone theorem ending in `:= by\n  sorry`.
//! `prompt_format` names the format used: the attempt's own (`deepseek-prover-v2`,
//! `deepseek-prover-v2-cot`, `goedel-prover-v2`, `kimina`), or `deepseek-prover-v2` for proofs found
//! without a model and for user-defined `chat` templates, which cannot be reproduced here.
//! `completion` is the answer as DeepSeek-Prover-V2 writes it in non-CoT mode: one ```` ```lean4 ````
//! block with the whole file, header and theorem included.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use super::key::rename_inaccessible;
use super::{Store, StoreError, connect};
use crate::models::{ChatMessage, PromptFormat, ProofTask};

/// Which data set to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Verified prompt/completion pairs (cold-start supervised data).
    Sft,
    /// Every attempt with its binary Lean reward.
    Rl,
}

/// The prompt format a recorded attempt is exported in: its own prover format when it was one
/// (`deepseek-prover-v2`, `deepseek-prover-v2-cot`, `goedel-prover-v2`, `kimina`), else
/// DeepSeek-Prover-V2's non-CoT format, because model-free proofs have no format and user
/// `chat` templates are not recorded. The messages themselves come from [`models::prompt`], the
/// one place that renders prover prompts, so the data set shows models exactly what they are
/// sent.
///
/// [`models::prompt`]: crate::models::prompt
fn format_of_recorded(name: Option<&str>) -> PromptFormat {
    match name.map(str::trim) {
        Some("deepseek-prover-v2-cot") => PromptFormat::DeepSeekProverV2Cot,
        Some("goedel-prover-v2") => PromptFormat::GoedelProverV2,
        Some("kimina") => PromptFormat::Kimina,
        _ => PromptFormat::DeepSeekProverV2,
    }
}

/// The chat messages asking `format` for a proof of `statement` under `header`.
fn prompt_messages(format: &PromptFormat, header: &str, statement: &str) -> Vec<ChatMessage> {
    format.messages(&ProofTask {
        header: header.to_owned(),
        theorem: format!("{statement} := by\n  sorry"),
        informal: None,
        feedback: None,
    })
}

#[derive(Serialize)]
struct SftRecord<'a> {
    prompt: Vec<ChatMessage>,
    completion: String,
    goal: &'a str,
    source: &'a str,
    model: Option<&'a str>,
    prompt_format: &'static str,
}

#[derive(Serialize)]
struct RlRecord<'a> {
    prompt: Vec<ChatMessage>,
    candidate: &'a str,
    reward: u8,
    reason: Option<&'a str>,
    goal: &'a str,
    source: &'a str,
    model: Option<&'a str>,
    prompt_format: &'static str,
    elapsed_ms: i64,
    created_at: i64,
}

/// One attempt as read back from the database.
struct AttemptRow {
    goal: String,
    context: String,
    statement: Option<String>,
    candidate: String,
    verified: bool,
    reason: Option<String>,
    source: String,
    model: Option<String>,
    prompt_format: Option<String>,
    elapsed_ms: i64,
    created_at: i64,
}

impl AttemptRow {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AttemptRow> {
        Ok(AttemptRow {
            goal: row.get(0)?,
            context: row.get(1)?,
            statement: row.get(2)?,
            candidate: row.get(3)?,
            verified: row.get(4)?,
            reason: row.get(5)?,
            source: row.get(6)?,
            model: row.get(7)?,
            prompt_format: row.get(8)?,
            elapsed_ms: row.get(9)?,
            created_at: row.get(10)?,
        })
    }

    fn statement(&self) -> String {
        match &self.statement {
            Some(statement) if !statement.trim().is_empty() => statement.trim().to_owned(),
            _ => statement_from_goal(&self.goal),
        }
    }

    /// The Lean file the model completes: header, a blank line, then the theorem and `body`.
    fn lean_with_body(&self, body: &str) -> String {
        let header = self.context.trim();
        let theorem = format!("{} := {body}", self.statement());
        if header.is_empty() {
            theorem
        } else {
            format!("{header}\n\n{theorem}")
        }
    }

    fn write_json_line(&self, kind: ExportKind, writer: &mut dyn Write) -> io::Result<()> {
        let format = format_of_recorded(self.prompt_format.as_deref());
        let prompt = prompt_messages(&format, &self.context, &self.statement());
        match kind {
            ExportKind::Sft => {
                let completion = format!(
                    "```lean4\n{}\n```",
                    self.lean_with_body(&proof_body(&self.candidate))
                );
                let record = SftRecord {
                    prompt,
                    completion,
                    goal: &self.goal,
                    source: &self.source,
                    model: self.model.as_deref(),
                    prompt_format: format.name(),
                };
                serde_json::to_writer(&mut *writer, &record)?;
            }
            ExportKind::Rl => {
                let record = RlRecord {
                    prompt,
                    candidate: &self.candidate,
                    reward: u8::from(self.verified),
                    reason: self.reason.as_deref(),
                    goal: &self.goal,
                    source: &self.source,
                    model: self.model.as_deref(),
                    prompt_format: format.name(),
                    elapsed_ms: self.elapsed_ms,
                    created_at: self.created_at,
                };
                serde_json::to_writer(&mut *writer, &record)?;
            }
        }
        writer.write_all(b"\n")
    }
}

/// What follows `:=` in the completion: a candidate that is already a `by` block stays as it is;
/// a tactic sequence goes under `by`, re-indented by two spaces.
fn proof_body(candidate: &str) -> String {
    let trimmed = candidate.trim();
    let is_by_block = trimmed
        .strip_prefix("by")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
    if is_by_block {
        return trimmed.to_owned();
    }
    let lines: Vec<&str> = trimmed.lines().collect();
    // The first line was trimmed; later lines keep the indentation they had relative to the
    // least indented of them, which is how a spliced block looks.
    let common = lines
        .iter()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut body = String::from("by");
    for (index, line) in lines.iter().enumerate() {
        body.push_str("\n  ");
        if index == 0 {
            body.push_str(line);
        } else {
            body.push_str(line.get(common..).unwrap_or_else(|| line.trim_start()));
        }
    }
    body
}

/// A standalone theorem for a goal, in DeepSeek-Prover-V2's lemma form: hypotheses become
/// binders in order, instance hypotheses become `[…]`, inaccessible names become fresh
/// accessible ones, and the target becomes the type. Used when the pipeline did not record the
/// statement it showed the model. Only the first goal of a multi-goal state is used.
pub fn statement_from_goal(goal: &str) -> String {
    let mut logical_lines: Vec<String> = Vec::new();
    for line in goal.lines() {
        if line.trim().is_empty() {
            // A blank line separates goals; the first complete one is the hole's.
            if logical_lines.iter().any(|line| line.starts_with('⊢')) {
                break;
            }
            continue;
        }
        let continues = line.starts_with([' ', '\t']) && !logical_lines.is_empty();
        match logical_lines.last_mut() {
            Some(previous) if continues => {
                previous.push(' ');
                previous.push_str(line.trim());
            }
            _ => logical_lines.push(line.trim().to_owned()),
        }
    }
    let mut binders = Vec::new();
    let mut target = None;
    for line in &logical_lines {
        if line.starts_with("case ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix('⊢') {
            target = Some(rest.trim().to_owned());
            break;
        }
        let Some((names, ty)) = line.split_once(" : ") else {
            continue;
        };
        let is_instance = names
            .split_whitespace()
            .all(|name| name.starts_with("inst✝"));
        if is_instance {
            binders.push(format!("[{ty}]"));
        } else {
            binders.push(format!("({names} : {ty})"));
        }
    }
    let target = target.unwrap_or_else(|| logical_lines.join(" "));
    let mut statement = String::from("theorem sorryfill_goal");
    for binder in binders {
        statement.push(' ');
        statement.push_str(&binder);
    }
    statement.push_str(" : ");
    statement.push_str(&target);
    // Proofs cannot name inaccessible hypotheses, so any fresh spelling is faithful.
    let statement = rename_inaccessible(&statement, |base, index| {
        let base = if base.is_empty() { "x" } else { base };
        format!("{base}_{}", index + 1)
    });
    replace_metavariables(&statement)
}

/// Replaces metavariables such as the universe `?u` in `Sort ?u` with `_`, which Lean elaborates
/// afresh in a theorem statement; `?u` itself does not parse there.
fn replace_metavariables(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let starts_name = chars
            .peek()
            .is_some_and(|next| next.is_alphabetic() || *next == '_');
        if c == '?' && starts_name {
            while chars
                .next_if(|next| next.is_alphanumeric() || matches!(next, '_' | '.'))
                .is_some()
            {}
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

impl Store {
    /// Writes the data set of `kind` to `writer` as JSON Lines (schema in the module docs) and
    /// returns the number of records written. Reads on a separate connection so writers in
    /// this and other processes keep going.
    pub fn export(&self, kind: ExportKind, writer: &mut dyn Write) -> Result<usize, StoreError> {
        self.export_with_destination(kind, writer, "the given writer")
    }

    fn export_with_destination(
        &self,
        kind: ExportKind,
        writer: &mut dyn Write,
        destination: &str,
    ) -> Result<usize, StoreError> {
        const COLUMNS: &str = "goal, context, statement, candidate, verified, reason, source, \
                               model, prompt_format, elapsed_ms, created_at";
        let query = match kind {
            ExportKind::Sft => format!(
                "SELECT {COLUMNS} FROM attempts WHERE id IN (
                    SELECT MIN(id) FROM attempts WHERE verified = 1 AND source <> 'cache'
                    GROUP BY goal, context, candidate)
                 ORDER BY id"
            ),
            ExportKind::Rl => format!("SELECT {COLUMNS} FROM attempts ORDER BY id"),
        };
        let sqlite_error = |source| StoreError::Sqlite {
            path: self.path.clone(),
            action: "exporting the data set",
            source,
        };
        let write_error = |source| StoreError::Write {
            path: self.path.clone(),
            destination: destination.to_owned(),
            source,
        };
        let conn = connect(&self.path, self.options.busy_timeout)?;
        let mut statement = conn.prepare(&query).map_err(sqlite_error)?;
        let mut rows = statement.query([]).map_err(sqlite_error)?;
        let mut written = 0;
        while let Some(row) = rows.next().map_err(sqlite_error)? {
            let attempt = AttemptRow::from_row(row).map_err(sqlite_error)?;
            attempt.write_json_line(kind, writer).map_err(write_error)?;
            written += 1;
        }
        writer.flush().map_err(write_error)?;
        Ok(written)
    }
}

/// The `sorryfill dataset export` edge: writes the data set of `kind` from the database at `db`
/// to `out` (created or truncated), or to standard output when `out` is `None`, and returns the
/// number of records. A missing database is an error rather than an empty export, so a wrong
/// project path is noticed.
pub fn export_to_path(
    db: &Path,
    kind: ExportKind,
    out: Option<&Path>,
) -> Result<usize, StoreError> {
    if !db.is_file() {
        return Err(StoreError::Missing {
            path: db.to_owned(),
        });
    }
    let store = Store::open(db)?;
    match out {
        Some(out) => {
            let destination = out.display().to_string();
            let file = File::create(out).map_err(|source| StoreError::Write {
                path: db.to_owned(),
                destination: destination.clone(),
                source,
            })?;
            let mut writer = BufWriter::new(file);
            store.export_with_destination(kind, &mut writer, &destination)
        }
        None => {
            // Explicit writes to the locked handle: the data set is this command's output.
            let stdout = io::stdout();
            let mut writer = BufWriter::new(stdout.lock());
            store.export_with_destination(kind, &mut writer, "standard output")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::attempt;
    use crate::store::{ProofSource, StoredVerdict};
    use serde_json::Value;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const GOAL: &str = "x y : ℕ\nh : x < y\n⊢ x + 1 ≤ y";

    /// A store with: a verified prover proof, a rejected prover sample, a verified tactic proof,
    /// a cache re-check of it, and a verified Kimina proof.
    fn populated_store(dir: &Path) -> Result<Store, Box<dyn std::error::Error>> {
        let store = Store::open(&dir.join("data.db"))?;
        store.record_attempt(&attempt(
            GOAL,
            "linarith",
            StoredVerdict::rejected("linarith failed"),
            ProofSource::Prover,
        ))?;
        store.record_attempt(&attempt(
            GOAL,
            "omega",
            StoredVerdict::verified(),
            ProofSource::Prover,
        ))?;
        let tactic_goal = "⊢ 2 + 2 = 4";
        store.record_attempt(&attempt(
            tactic_goal,
            "norm_num",
            StoredVerdict::verified(),
            ProofSource::Tactic,
        ))?;
        store.record_attempt(&attempt(
            tactic_goal,
            "norm_num",
            StoredVerdict::verified(),
            ProofSource::Cache,
        ))?;
        let mut kimina = attempt(
            "n : ℕ\n⊢ n + 0 = n",
            "by\n  simp",
            StoredVerdict::verified(),
            ProofSource::Prover,
        );
        kimina.prompt_format = Some("kimina".to_owned());
        kimina.statement = Some("theorem add_zero' (n : ℕ) : n + 0 = n".to_owned());
        store.record_attempt(&kimina)?;
        Ok(store)
    }

    fn export_lines(
        store: &Store,
        kind: ExportKind,
    ) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
        let mut out = Vec::new();
        let written = store.export(kind, &mut out)?;
        let text = String::from_utf8(out)?;
        let lines = text
            .lines()
            .map(serde_json::from_str::<Value>)
            .collect::<Result<Vec<_>, _>>()?;
        assert_eq!(written, lines.len());
        assert!(text.ends_with('\n'));
        Ok(lines)
    }

    #[test]
    fn rl_export_has_one_parsable_line_per_attempt_with_its_reward() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = populated_store(dir.path())?;
        let lines = export_lines(&store, ExportKind::Rl)?;
        assert_eq!(lines.len() as u64, store.stats()?.attempts);
        let rewards: Vec<_> = lines.iter().map(|line| line["reward"].as_u64()).collect();
        assert_eq!(rewards, [Some(0), Some(1), Some(1), Some(1), Some(1)]);
        assert_eq!(lines[0]["reason"], "linarith failed");
        assert_eq!(lines[0]["candidate"], "linarith");
        assert_eq!(lines[3]["source"], "cache");
        assert!(
            lines
                .iter()
                .all(|line| line["prompt"].is_array() && line["created_at"].is_i64())
        );
        Ok(())
    }

    #[test]
    fn sft_export_has_only_distinct_verified_pairs_in_the_provers_format() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = populated_store(dir.path())?;
        let lines = export_lines(&store, ExportKind::Sft)?;
        // The rejected sample and the cache re-check are not training pairs.
        let sources: Vec<_> = lines.iter().map(|line| line["source"].as_str()).collect();
        assert_eq!(sources, [Some("prover"), Some("tactic"), Some("prover")]);

        let deepseek = &lines[0];
        assert_eq!(deepseek["prompt_format"], "deepseek-prover-v2");
        assert_eq!(deepseek["prompt"].as_array().map(Vec::len), Some(1));
        assert_eq!(deepseek["prompt"][0]["role"], "user");
        assert_eq!(
            deepseek["prompt"][0]["content"],
            "Complete the following Lean 4 code:\n\n```lean4\nimport Mathlib\nopen Nat\n\n\
             theorem sorryfill_goal (x y : ℕ) (h : x < y) : x + 1 ≤ y := by\n  sorry\n```"
        );
        assert_eq!(
            deepseek["completion"],
            "```lean4\nimport Mathlib\nopen Nat\n\n\
             theorem sorryfill_goal (x y : ℕ) (h : x < y) : x + 1 ≤ y := by\n  omega\n```"
        );
        assert_eq!(deepseek["model"], "DeepSeek-Prover-V2-7B");

        // A model-free proof is exported in the default prover format.
        assert_eq!(lines[1]["prompt_format"], "deepseek-prover-v2");
        assert_eq!(lines[1]["model"], Value::Null);

        let kimina = &lines[2];
        assert_eq!(kimina["prompt"][0]["role"], "system");
        let user = kimina["prompt"][1]["content"]
            .as_str()
            .ok_or("no user message")?;
        assert!(user.starts_with(
            "Think about and solve the following problems step by step in Lean 4.\n\n"
        ));
        assert!(user.ends_with("theorem add_zero' (n : ℕ) : n + 0 = n := by\n  sorry"));
        let completion = kimina["completion"].as_str().ok_or("no completion")?;
        assert!(completion.ends_with("theorem add_zero' (n : ℕ) : n + 0 = n := by\n  simp\n```"));
        Ok(())
    }

    #[test]
    fn cot_formats_append_the_plan_instruction() {
        for name in ["deepseek-prover-v2-cot", "goedel-prover-v2"] {
            let messages = prompt_messages(&format_of_recorded(Some(name)), "", "theorem t : True");
            assert_eq!(messages.len(), 1);
            assert!(
                messages[0]
                    .content
                    .starts_with("Complete the following Lean 4 code:\n\n```lean4\n")
            );
            assert!(messages[0].content.ends_with(
                "```\n\nBefore producing the Lean 4 code to formally prove the given theorem, provide a \
                 detailed proof plan outlining the main proof steps and strategies.\nThe plan should \
                 highlight key ideas, intermediate lemmas, and proof structures that will guide the \
                 construction of the final formal proof."
            ));
        }
    }

    #[test]
    fn statements_from_goals_are_valid_binders() {
        assert_eq!(
            statement_from_goal(
                "case h\nα : Type u_1\ninst✝ : Group α\na✝¹ a✝ : α\n⊢ a✝¹ * a✝ =\n    a✝¹ * a✝"
            ),
            "theorem sorryfill_goal (α : Type u_1) [Group α] (a_1 a_2 : α) : a_1 * a_2 = a_1 * a_2"
        );
        // Only the first of several goals is used; a bare target has no binders.
        assert_eq!(
            statement_from_goal("⊢ True\n\nh : False\n⊢ False"),
            "theorem sorryfill_goal : True"
        );
    }

    /// Every goal Lean reported in the recorded `plainGoal` session, in order.
    fn recorded_goals() -> Option<Vec<String>> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/lean-protocol/samples/plainGoal.lean.expected.out"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            crate::test_support::skip_line(format_args!(
                "skipped: ../shared/lean-protocol is absent ({path})"
            ));
            return None;
        };
        let goals = serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .filter_map(Result::ok)
            .filter_map(|value| value.get("goals").and_then(Value::as_array).cloned())
            .flatten()
            .filter_map(|goal| goal.as_str().map(str::to_owned))
            .collect();
        Some(goals)
    }

    #[test]
    fn real_lean_goals_become_statements_without_inaccessible_names_or_metavariables() {
        let Some(goals) = recorded_goals() else {
            return;
        };
        assert!(
            goals.len() >= 10,
            "the sample should hold many goals, found {}",
            goals.len()
        );
        // Conversion goals (`| lhs`) are not holes a proof can fill; tactic goals have `⊢`.
        for goal in goals.iter().filter(|goal| goal.contains('⊢')) {
            let statement = statement_from_goal(goal);
            assert!(
                statement.starts_with("theorem sorryfill_goal "),
                "{statement}"
            );
            assert!(
                !statement.contains(['✝', '?', '\n']),
                "{goal:?} gave {statement:?}"
            );
            let target = goal
                .rsplit_once('⊢')
                .map(|(_, target)| target.trim())
                .unwrap_or_default();
            if !target.contains(['✝', '?']) {
                assert!(
                    statement.ends_with(&format!(" : {target}")),
                    "{goal:?} gave {statement:?}"
                );
            }
        }
        let induction_step = goals
            .iter()
            .find(|goal| goal.starts_with("case succ\nn✝ : Nat\na✝"))
            .map(|goal| statement_from_goal(goal));
        assert_eq!(
            induction_step.as_deref(),
            Some(
                "theorem sorryfill_goal (n_1 : Nat) (a_2 : 0 + n_1 = n_1) : 0 + (n_1 + 1) = n_1 + 1"
            )
        );
        assert!(
            goals
                .iter()
                .any(|goal| statement_from_goal(goal).contains("(α : Sort _)"))
        );
    }

    #[test]
    fn real_lean_goals_keep_their_cache_key_when_rewrapped() {
        let Some(goals) = recorded_goals() else {
            return;
        };
        for goal in &goals {
            let key = |goal: &str| {
                crate::store::CacheKey::new(goal, "", "", &crate::store::tests::fingerprint())
                    .hash()
            };
            // Lean wraps long types onto indented continuation lines; spacing can differ too.
            let rewrapped = goal.replace(" = ", "\n      =  ").replace(" : ", "  :  ");
            assert_eq!(key(goal), key(&rewrapped), "{goal:?}");
        }
    }

    #[test]
    fn tactic_candidates_are_reindented_under_by() {
        assert_eq!(
            proof_body("nlinarith [sq_nonneg x]"),
            "by\n  nlinarith [sq_nonneg x]"
        );
        assert_eq!(
            proof_body("constructor\n    · simp\n    · omega"),
            "by\n  constructor\n  · simp\n  · omega"
        );
        assert_eq!(proof_body("  by\n    simp"), "by\n    simp");
        assert_eq!(proof_body("bypass_tactic"), "by\n  bypass_tactic");
    }

    /// A writer whose disk fills up after `capacity` bytes.
    struct FullDisk {
        capacity: usize,
        written: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written + buf.len() > self.capacity {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device",
                ));
            }
            self.written += buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_writer_stops_the_export_with_an_error_naming_the_database() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = populated_store(dir.path())?;
        let mut full = FullDisk {
            capacity: 600,
            written: 0,
        };
        let error = store
            .export(ExportKind::Rl, &mut full)
            .err()
            .ok_or("the export reported success on a full disk")?;
        assert!(matches!(error, StoreError::Write { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains(&store.path().display().to_string()),
            "{error}"
        );
        assert!(error.to_string().contains("no space left"), "{error}");
        // Rows are written as they are read: the first ones reached the writer before it failed.
        assert!(full.written > 0);
        Ok(())
    }

    #[test]
    fn export_to_path_writes_a_file_and_refuses_a_missing_database() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = populated_store(dir.path())?;
        let out = dir.path().join("rl.jsonl");
        let written = export_to_path(store.path(), ExportKind::Rl, Some(&out))?;
        assert_eq!(written, 5);
        assert_eq!(std::fs::read_to_string(&out)?.lines().count(), 5);

        let missing = dir.path().join("nowhere.db");
        let error = export_to_path(&missing, ExportKind::Sft, Some(&out))
            .err()
            .ok_or("exporting a missing database succeeded")?;
        assert!(
            error.to_string().contains(&missing.display().to_string()),
            "{error}"
        );
        assert!(
            !missing.exists(),
            "the export created the database it was asked to read"
        );
        Ok(())
    }
}
