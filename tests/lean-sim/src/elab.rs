//! The elaboration model: what Lean would report for each command of a document.
//!
//! Everything here is a pure function of the text, the oracle and the dialect, so the worker can
//! reuse a command's result whenever the command and everything before it are unchanged.
//! Byte ranges are kept until publishing, where they become UTF-16 LSP positions.
//!
//! Rules (see README.md, "Elaboration model"): a theorem-like declaration is judged by the
//! oracle (whole-body match, then `have` steps compositionally); a body containing `sorry` and
//! not rejected gets the sorry warning on the declaration's name; a sorry-free body the oracle
//! does not accept gets `unsolved goals`. Definitions are accepted unless they contain `sorry`.

use std::ops::Range;

use crate::syntax::{BinderKind, Command, CommandKind, Token, TokenKind};

use crate::config::{Dialect, SorryStyle};
use crate::oracle::{Oracle, STANDARD_AXIOMS};

/// One diagnostic in byte coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The full extent (`fullRange`).
    pub range: Range<usize>,
    /// 1 error, 2 warning, 3 information.
    pub severity: u8,
    /// Lean's plain message text.
    pub message: String,
    /// `code`, for named errors.
    pub code: Option<&'static str>,
    /// `leanTags`: 1 unsolved goals, 2 goals accomplished.
    pub lean_tag: Option<u8>,
    /// `isSilent` ("Goals accomplished!").
    pub silent: bool,
    /// Parse errors keep their full range in `range` too.
    pub keep_full_range: bool,
}

/// What elaborating one command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// The command's byte range in the version it was elaborated in.
    pub span: Range<usize>,
    /// The command's text, to decide whether it can be reused.
    pub text: String,
    /// Whether this command is a declaration (it costs `--decl-ms`).
    pub is_declaration: bool,
    /// The declared name, if any.
    pub name: Option<String>,
    /// The declared name with its namespace (`Foo.bar` inside `namespace Foo`).
    pub full_name: Option<String>,
    /// Axioms the declaration depends on (for `#print axioms`), if it was added.
    pub axioms: Option<Vec<String>>,
    /// For `axiom x : ∀ {α : Sort u}, α` (a stand-in for `sorry`): it closes any goal.
    pub universal_axiom: bool,
    /// Messages, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// The context every command is elaborated in.
pub struct Context<'a> {
    /// The verdicts.
    pub oracle: &'a Oracle,
    /// Message spellings.
    pub dialect: Dialect,
    /// Whether to emit silent "Goals accomplished!" diagnostics.
    pub silent_diagnostics: bool,
    /// Whether `#print axioms` is refused in a file with a `module` header.
    pub print_axioms_refused_in_module: bool,
}

/// Keywords whose declarations get "Goals accomplished!" (their type is a proposition).
const PROOF_KEYWORDS: [&str; 4] = ["theorem", "lemma", "problem", "example"];

/// Keywords that declare a type (fields and constructors, no value to judge).
const TYPE_KEYWORDS: [&str; 3] = ["structure", "class", "inductive"];

/// Tactic names that are no constant Lean knows, so a term starting with one is an unknown
/// identifier. (`decide`, `trivial`, `rfl`, `funext`, `congr` are constants too and are not
/// listed.)
const TACTIC_ONLY_NAMES: [&str; 48] = [
    "omega",
    "simp",
    "simp_all",
    "simp_arith",
    "simpa",
    "norm_num",
    "linarith",
    "nlinarith",
    "positivity",
    "ring",
    "ring_nf",
    "field_simp",
    "aesop",
    "tauto",
    "polyrith",
    "gcongr",
    "exact",
    "apply",
    "refine",
    "intro",
    "intros",
    "rw",
    "rwa",
    "rewrite",
    "constructor",
    "cases",
    "rcases",
    "obtain",
    "induction",
    "use",
    "contradiction",
    "assumption",
    "exfalso",
    "by_contra",
    "push_neg",
    "unfold",
    "split",
    "specialize",
    "subst",
    "ext",
    "native_decide",
    "norm_cast",
    "push_cast",
    "try",
    "repeat",
    "all_goals",
    "any_goals",
    "infer_instance",
];

/// A declaration's parts, as needed for judging and goals.
#[derive(Debug, Clone)]
pub struct DeclView {
    /// `theorem`, `def`, …
    pub keyword: String,
    /// The declared name.
    pub name: Option<String>,
    /// The range the sorry warning is reported on: the name, or the keyword of an anonymous
    /// declaration.
    pub name_range: Range<usize>,
    /// Binders text before the top-level colon, trimmed.
    pub binders_text: String,
    /// The type after the top-level colon, trimmed.
    pub type_text: String,
    /// Rendered hypotheses (`x y : ℕ`).
    pub hypotheses: Vec<String>,
    /// The value's byte range.
    pub value: Option<Range<usize>>,
    /// The `by` token when the value is a tactic block.
    pub by_token: Option<Range<usize>>,
    /// Where the declaration syntax starts (its doc comment, attributes or keyword).
    pub start: usize,
    /// The end of the command's last code token.
    pub code_end: usize,
}

impl DeclView {
    /// The statement as the oracle keys it: binders and type.
    pub fn statement(&self) -> String {
        format!("{} : {}", self.binders_text, self.type_text)
    }
}

/// A top-level step of a tactic block.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step's byte range (trailing whitespace excluded).
    pub range: Range<usize>,
    /// Set for `have name : T := proof` steps.
    pub have: Option<HaveStep>,
}

/// A `have` step of a tactic block.
#[derive(Debug, Clone)]
pub struct HaveStep {
    /// The hypothesis name (`this` when anonymous).
    pub name: String,
    /// The claimed type, whitespace collapsed.
    pub ty: String,
    /// The proof after `:=`.
    pub proof: Range<usize>,
}

/// Code tokens (no whitespace or comments) of `src` inside `range`, with absolute spans.
fn code_tokens(tokens: &[Token], range: &Range<usize>) -> Vec<Token> {
    tokens
        .iter()
        .filter(|t| t.span.start >= range.start && t.span.end <= range.end)
        .filter(|t| !t.is_trivia() && !t.is_comment())
        .cloned()
        .collect()
}

fn text_of<'a>(src: &'a str, range: &Range<usize>) -> &'a str {
    src.get(range.clone()).unwrap_or("")
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The end of the last code token in `range` (the range's start if there is none).
pub fn code_end(tokens: &[Token], range: &Range<usize>) -> usize {
    code_tokens(tokens, range)
        .last()
        .map_or(range.start, |t| t.span.end)
}

/// Analyses a declaration command.
pub fn view_declaration(src: &str, tokens: &[Token], command: &Command) -> Option<DeclView> {
    let declaration = crate::syntax::parse_declaration(src, tokens, command)?;
    let code = code_tokens(tokens, &command.span);
    let keyword_token = code
        .iter()
        .find(|t| t.kind == TokenKind::Ident && t.text(src) == command.keyword)?;
    let name_range = command
        .name
        .as_ref()
        .map_or(keyword_token.span.clone(), |(_, range)| range.clone());
    let statement_start = name_range.end.max(keyword_token.span.end);
    let statement = text_of(
        src,
        &(statement_start..declaration.header.end.max(statement_start)),
    );
    let type_text = declaration.type_text.clone().unwrap_or_default();
    let binders_text = match statement.trim().strip_suffix(type_text.as_str()) {
        Some(rest) => rest.trim_end().trim_end_matches(':').trim().to_owned(),
        None => statement.trim().to_owned(),
    };
    let hypotheses = render_hypotheses(&declaration.binders);
    let by_token = declaration.value.as_ref().and_then(|value| {
        code_tokens(tokens, value)
            .first()
            .filter(|t| t.text(src) == "by")
            .map(|t| t.span.clone())
    });
    Some(DeclView {
        keyword: command.keyword.clone(),
        name: declaration.name.clone(),
        name_range,
        binders_text: collapse_whitespace(&binders_text),
        type_text: collapse_whitespace(&type_text),
        hypotheses,
        value: declaration.value,
        by_token,
        start: command.span.start,
        code_end: code_end(tokens, &command.span),
    })
}

/// Renders binders as goal hypotheses, merging neighbours of the same type as Lean does.
fn render_hypotheses(binders: &[crate::syntax::Binder]) -> Vec<String> {
    let mut groups: Vec<(Vec<String>, String)> = Vec::new();
    for binder in binders {
        let ty = binder
            .ty
            .as_deref()
            .map_or_else(|| "?_".to_owned(), collapse_whitespace);
        let names = if binder.names.is_empty() && binder.kind == BinderKind::Instance {
            vec!["inst✝".to_owned()]
        } else {
            binder.names.clone()
        };
        match groups.last_mut() {
            Some((previous, previous_ty)) if *previous_ty == ty => previous.extend(names),
            _ => groups.push((names, ty)),
        }
    }
    groups
        .into_iter()
        .map(|(names, ty)| format!("{} : {ty}", names.join(" ")))
        .collect()
}

/// Renders a goal: hypotheses, then `⊢ target`.
pub fn render_goal(hypotheses: &[String], target: &str) -> String {
    let mut lines: Vec<String> = hypotheses.to_vec();
    lines.push(format!("⊢ {target}"));
    lines.join("\n")
}

/// Splits a tactic block (the text after `by`) into top-level steps by indentation.
pub fn tactic_steps(src: &str, tokens: &[Token], by_token: &Range<usize>, end: usize) -> Vec<Step> {
    let body = by_token.end..end;
    let code = code_tokens(tokens, &body);
    let Some(first) = code.first() else {
        return Vec::new();
    };
    let column_of = |byte: usize| {
        let line_start = src[..byte].rfind('\n').map_or(0, |i| i + 1);
        src[line_start..byte].chars().count()
    };
    let starts_line = |byte: usize| {
        let line_start = src[..byte].rfind('\n').map_or(0, |i| i + 1);
        src[line_start..byte].trim().is_empty()
    };
    let base_column = column_of(first.span.start);
    let mut step_starts: Vec<usize> = vec![0];
    for (index, token) in code.iter().enumerate().skip(1) {
        if starts_line(token.span.start) && column_of(token.span.start) <= base_column {
            step_starts.push(index);
        }
    }
    let mut steps = Vec::new();
    for (position, &start_index) in step_starts.iter().enumerate() {
        let end_index = step_starts.get(position + 1).copied().unwrap_or(code.len());
        let step_tokens = &code[start_index..end_index];
        let (Some(first), Some(last)) = (step_tokens.first(), step_tokens.last()) else {
            continue;
        };
        let range = first.span.start..last.span.end;
        let have = parse_have(src, step_tokens);
        steps.push(Step { range, have });
    }
    steps
}

fn parse_have(src: &str, step: &[Token]) -> Option<HaveStep> {
    if step.first()?.text(src) != "have" {
        return None;
    }
    let mut depth = 0i32;
    let mut colon = None;
    let mut assign = None;
    for (index, token) in step.iter().enumerate().skip(1) {
        match token.text(src) {
            "(" | "[" | "{" | "⦃" | "⟨" => depth += 1,
            ")" | "]" | "}" | "⦄" | "⟩" => depth -= 1,
            ":" if depth == 0 && colon.is_none() => colon = Some(index),
            ":=" if depth == 0 => {
                assign = Some(index);
                break;
            }
            _ => {}
        }
    }
    let colon = colon?;
    let assign = assign?;
    if colon > assign {
        return None;
    }
    let name = if colon == 1 {
        "this".to_owned()
    } else {
        step.get(1)?.text(src).to_owned()
    };
    let ty = text_of(src, &(step[colon].span.end..step[assign].span.start));
    let proof_start = step.get(assign + 1)?.span.start;
    let proof_end = step.last()?.span.end;
    Some(HaveStep {
        name,
        ty: collapse_whitespace(ty),
        proof: proof_start..proof_end,
    })
}

/// The "Try this" suggestions of a declaration's tactic steps (top level and inside `have`
/// proofs): the step's range and the suggested replacement.
pub fn suggestions(
    src: &str,
    tokens: &[Token],
    view: &DeclView,
    oracle: &Oracle,
) -> Vec<(Range<usize>, String)> {
    let (Some(by_token), Some(value)) = (&view.by_token, &view.value) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut blocks = vec![(by_token.clone(), value.end)];
    while let Some((by_token, end)) = blocks.pop() {
        for step in tactic_steps(src, tokens, &by_token, end) {
            if let Some(suggestion) = oracle.suggestion(text_of(src, &step.range)) {
                found.push((step.range.clone(), suggestion.to_owned()));
            }
            if let Some(have) = &step.have
                && let Some(first) = code_tokens(tokens, &have.proof).first()
                && first.text(src) == "by"
            {
                blocks.push((first.span.clone(), have.proof.end));
            }
        }
    }
    found.sort_by_key(|(range, _)| range.start);
    found
}

/// The outcome of checking one proof against one statement.
#[derive(Debug, Clone, Default)]
struct Verdict {
    errors: Vec<Diagnostic>,
    uses_sorry: bool,
    axioms: Vec<String>,
}

impl Verdict {
    fn absorb(&mut self, other: Verdict) {
        self.errors.extend(other.errors);
        self.uses_sorry |= other.uses_sorry;
        for axiom in other.axioms {
            if !self.axioms.contains(&axiom) {
                self.axioms.push(axiom);
            }
        }
    }
}

fn standard_axioms() -> Vec<String> {
    STANDARD_AXIOMS
        .iter()
        .map(|axiom| (*axiom).to_owned())
        .collect()
}

/// Whether the code tokens of `range` contain a `sorry` outside syntax quotations.
///
/// `admit` (the tactic synonym), a direct `sorryAx` and `apply?` (which closes the goal with a
/// non-synthetic `sorry`) count too: Lean's check looks for the `sorryAx` constant in the
/// declaration, however it got there.
fn contains_sorry(src: &str, tokens: &[Token], range: &Range<usize>) -> bool {
    code_tokens(tokens, range)
        .iter()
        .any(|t| t.is_code() && matches!(t.text(src), "sorry" | "admit" | "sorryAx" | "apply?"))
}

struct Judge<'a> {
    src: &'a str,
    tokens: &'a [Token],
    context: &'a Context<'a>,
    /// Whether a token names an earlier universal axiom of the file (it closes any goal).
    stand_in: &'a dyn Fn(&str) -> bool,
}

impl Judge<'_> {
    /// Checks `proof` (a value range) against the statement `binders : target`.
    fn judge(
        &self,
        binders: &str,
        hypotheses: &[String],
        target: &str,
        proof: &Range<usize>,
    ) -> Verdict {
        let src = self.src;
        let proof_text = text_of(src, proof);
        let statement = format!("{binders} : {target}");
        let entry = self.context.oracle.entry(&statement);
        let code = code_tokens(self.tokens, proof);
        let is_tactic = code.first().is_some_and(|t| t.text(src) == "by");
        let rejected = |errors: Vec<Diagnostic>| Verdict {
            errors,
            ..Verdict::default()
        };
        // A term whose head is a tactic's name: tactic names are not reserved words in Lean
        // (the tactic category reads leading identifiers both ways), so as a term it is an
        // identifier Lean does not know. This is how `:= omega` fails.
        if !is_tactic
            && let Some(head) = code.first()
            && TACTIC_ONLY_NAMES.contains(&head.text(src))
        {
            return rejected(vec![unknown_identifier(
                head.text(src),
                head.span.clone(),
                self.context.dialect,
            )]);
        }
        let key = crate::oracle::proof_key(proof_text);
        // A proof that is only a universal axiom depends on that axiom alone (added by the
        // reference walk of the declaration).
        let only = key.strip_prefix("by exact ").unwrap_or(&key);
        if (self.stand_in)(only) {
            return Verdict::default();
        }
        if matches!(key.as_str(), "sorry" | "by sorry") {
            return Verdict {
                uses_sorry: true,
                axioms: vec!["sorryAx".to_owned()],
                ..Verdict::default()
            };
        }
        let accept_all =
            self.context.oracle.accepts_everything() && !contains_sorry(src, self.tokens, proof);
        let standard = standard_axioms();
        let accepted = if accept_all {
            Some(standard.as_slice())
        } else {
            entry.and_then(|entry| entry.accepts(proof_text))
        };
        if let Some(axioms) = accepted {
            let mut verdict = Verdict {
                axioms: axioms.to_vec(),
                ..Verdict::default()
            };
            self.add_token_axioms(proof, &mut verdict);
            return verdict;
        }
        let goal = entry
            .and_then(|entry| entry.goal.clone())
            .unwrap_or_else(|| render_goal(hypotheses, target));
        let unsolved = || self.unsolved_goals(&code, proof, &goal, is_tactic);
        // `exact?` closes the goal when it finds a proof (the oracle's suggestion) and fails
        // the tactic when it does not: never a suggestion and unsolved goals together.
        if is_tactic && let Some(by_token) = code.first() {
            let steps = tactic_steps(src, self.tokens, &by_token.span, proof.end);
            if let Some(step) = steps
                .iter()
                .find(|step| text_of(src, &step.range).trim() == "exact?")
            {
                if self.context.oracle.suggestion("exact?").is_none() {
                    return rejected(vec![Diagnostic {
                        range: step.range.clone(),
                        severity: 1,
                        message: "`exact?` could not close the goal. Try `apply?` to see partial suggestions.".to_owned(),
                        code: None,
                        lean_tag: None,
                        silent: false,
                        keep_full_range: false,
                    }]);
                }
                if !contains_sorry(src, self.tokens, proof) {
                    let mut verdict = Verdict {
                        axioms: standard_axioms(),
                        ..Verdict::default()
                    };
                    self.add_token_axioms(proof, &mut verdict);
                    return verdict;
                }
            }
        }
        if is_tactic && let Some(by_token) = code.first() {
            let steps = tactic_steps(src, self.tokens, &by_token.span, proof.end);
            if steps.iter().any(|step| step.have.is_some()) {
                return self
                    .judge_compositionally(binders, hypotheses, target, proof, &steps, &goal);
            }
        }
        let has_sorry = contains_sorry(src, self.tokens, proof);
        if !has_sorry && code.iter().any(|t| (self.stand_in)(t.text(src))) {
            // Like `sorry`, a universal axiom is assumed to close what it is applied to.
            let mut verdict = Verdict {
                axioms: standard_axioms(),
                ..Verdict::default()
            };
            self.add_token_axioms(proof, &mut verdict);
            return verdict;
        }
        if has_sorry {
            let mut verdict = Verdict {
                uses_sorry: true,
                axioms: standard_axioms(),
                ..Verdict::default()
            };
            self.add_token_axioms(proof, &mut verdict);
            return verdict;
        }
        rejected(unsolved())
    }

    fn judge_compositionally(
        &self,
        binders: &str,
        hypotheses: &[String],
        target: &str,
        proof: &Range<usize>,
        steps: &[Step],
        goal: &str,
    ) -> Verdict {
        let src = self.src;
        let mut verdict = Verdict::default();
        let mut have_binders = binders.to_owned();
        let mut have_hypotheses = hypotheses.to_vec();
        let mut skeleton = String::new();
        let mut cursor = proof.start;
        let mut tail_has_sorry = false;
        for step in steps {
            if let Some(have) = &step.have {
                let part = self.judge(&have_binders, &have_hypotheses, &have.ty, &have.proof);
                verdict.absorb(part);
                skeleton.push_str(text_of(src, &(cursor..have.proof.start)));
                skeleton.push_str("sorry");
                cursor = have.proof.end;
                have_binders = format!("{have_binders} ({} : {})", have.name, have.ty)
                    .trim()
                    .to_owned();
                have_hypotheses.push(format!("{} : {}", have.name, have.ty));
            } else {
                tail_has_sorry |= contains_sorry(src, self.tokens, &step.range);
            }
        }
        skeleton.push_str(text_of(src, &(cursor..proof.end)));
        let statement = format!("{binders} : {target}");
        let listed = self
            .context
            .oracle
            .entry(&statement)
            .and_then(|entry| entry.accepts(&skeleton))
            .map(<[String]>::to_vec);
        // `accept_all` accepts every sorry-free body; the skeleton's own `sorry`s only stand
        // for the have proofs judged above, as Lean elaborates each have on its own.
        let skeleton_axioms = match listed {
            None if self.context.oracle.accepts_everything() && !tail_has_sorry => {
                Some(standard_axioms())
            }
            listed => listed,
        };
        match skeleton_axioms {
            Some(axioms) => verdict.absorb(Verdict {
                axioms,
                ..Verdict::default()
            }),
            None if tail_has_sorry => verdict.absorb(Verdict {
                uses_sorry: true,
                axioms: standard_axioms(),
                ..Verdict::default()
            }),
            None => {
                let code = code_tokens(self.tokens, proof);
                let remaining = render_goal(&have_hypotheses, target);
                let shown = if have_hypotheses.len() == hypotheses.len() {
                    goal.to_owned()
                } else {
                    remaining
                };
                verdict
                    .errors
                    .extend(self.unsolved_goals(&code, proof, &shown, true));
            }
        }
        if verdict.uses_sorry && !verdict.axioms.iter().any(|a| a == "sorryAx") {
            verdict.axioms.push("sorryAx".to_owned());
        }
        self.add_token_axioms(proof, &mut verdict);
        verdict
    }

    fn add_token_axioms(&self, proof: &Range<usize>, verdict: &mut Verdict) {
        let code = code_tokens(self.tokens, proof);
        let texts: Vec<&str> = code.iter().map(|t| t.text(self.src)).collect();
        // `native_decide`, `decide +native`, `decide (config := {native := true})` and a direct
        // use of the axiom all rely on the compiler.
        let uses_native_decide = texts
            .iter()
            .any(|t| matches!(*t, "native_decide" | "Lean.ofReduceBool"))
            || texts.windows(2).any(|pair| pair == ["+", "native"])
            || texts
                .windows(3)
                .any(|triple| triple == ["native", ":=", "true"]);
        if uses_native_decide && !verdict.axioms.iter().any(|a| a == "Lean.ofReduceBool") {
            verdict.axioms.push("Lean.ofReduceBool".to_owned());
        }
        if verdict.uses_sorry && !verdict.axioms.iter().any(|a| a == "sorryAx") {
            verdict.axioms.push("sorryAx".to_owned());
        }
    }

    /// The error Lean gives for a proof that does not close its goal.
    fn unsolved_goals(
        &self,
        code: &[Token],
        proof: &Range<usize>,
        goal: &str,
        is_tactic: bool,
    ) -> Vec<Diagnostic> {
        let end = code.last().map_or(proof.end, |t| t.span.end);
        let start = code.first().map_or(proof.start, |t| t.span.start);
        let message = if is_tactic {
            format!("unsolved goals\n{goal}")
        } else {
            let target = goal.rsplit("⊢ ").next().unwrap_or(goal);
            format!(
                "type mismatch\n  {}\nhas type\n  ?m\nbut is expected to have type\n  {target}",
                collapse_whitespace(text_of(self.src, &(start..end)))
            )
        };
        vec![Diagnostic {
            range: start..end,
            severity: 1,
            message,
            code: None,
            lean_tag: is_tactic.then_some(1),
            silent: false,
            keep_full_range: false,
        }]
    }
}

/// The document's commands, as lean-sim's own reading of Lean's syntax splits them.
pub fn commands(src: &str, tokens: &[Token]) -> Vec<Command> {
    crate::syntax::commands(src, tokens)
}

/// Elaborates one command, given the results of the commands before it.
pub fn elaborate_command(
    src: &str,
    tokens: &[Token],
    command: &Command,
    earlier: &[CommandResult],
    context: &Context<'_>,
) -> CommandResult {
    let text = text_of(src, &command.span).to_owned();
    let namespace = current_namespace(earlier);
    let name = command.name.as_ref().map(|(name, _)| name.clone());
    let mut result = CommandResult {
        span: command.span.clone(),
        text,
        is_declaration: command.kind == CommandKind::Declaration,
        full_name: name.as_deref().map(|name| qualify(&namespace, name)),
        name,
        axioms: None,
        universal_axiom: false,
        diagnostics: Vec::new(),
    };
    if command.not_a_command {
        // Lean's parser skips to the next command and reports where it stopped reading.
        if let Some(first) = code_tokens(tokens, &command.span).first() {
            let what = match first.kind {
                TokenKind::Ident => "identifier".to_owned(),
                _ => format!("token '{}'", first.text(src)),
            };
            result.diagnostics.push(Diagnostic {
                range: first.span.clone(),
                severity: 1,
                message: format!("unexpected {what}; expected command"),
                code: None,
                lean_tag: None,
                silent: false,
                keep_full_range: true,
            });
        }
        return result;
    }
    if let Some(error) = parse_error(src, tokens, command) {
        result.diagnostics.push(error);
        return result;
    }
    if command.keyword == "#print" {
        result.diagnostics.extend(print_axioms(
            src, tokens, command, earlier, &namespace, context,
        ));
        return result;
    }
    if command.kind != CommandKind::Declaration {
        return result;
    }
    let Some(view) = view_declaration(src, tokens, command) else {
        return result;
    };
    // `set_option warn.sorry false` (v4.22+) silences the warning, for the command it prefixes
    // with `in`, or for the rest of the file (sections are not tracked).
    let silenced = |text: &str| collapse_whitespace(text).contains("set_option warn.sorry false");
    let warn_sorry = !silenced(&result.text)
        && !earlier
            .iter()
            .any(|r| r.name.is_none() && !r.is_declaration && silenced(&r.text));
    if view.keyword == "axiom" {
        // An axiom depends on itself; one whose type is its own type variable stands in for
        // `sorry` (the gate's nonce axiom in shadow files).
        result.axioms = result.full_name.clone().map(|name| vec![name]);
        result.universal_axiom = is_universal(&view);
        return result;
    }
    if let Some(value) = &view.value
        && context
            .oracle
            .entry(&view.statement())
            .is_some_and(|entry| entry.kernel_rejects(text_of(src, value)))
    {
        // The kernel's error; Lean then adds the constant as an axiom of its own type, so
        // `#print axioms` on it (or on what uses it) names it.
        result.diagnostics.push(Diagnostic {
            range: view.name_range.clone(),
            severity: 1,
            message: "(kernel) deep recursion detected".to_owned(),
            code: None,
            lean_tag: None,
            silent: false,
            keep_full_range: false,
        });
        result.axioms = result.full_name.clone().map(|name| vec![name]);
        return result;
    }
    let stand_in = |name: &str| {
        resolve(name, &namespace, earlier).is_some_and(|declared| declared.universal_axiom)
    };
    result.diagnostics = elaborate_declaration(
        src,
        tokens,
        &view,
        context,
        warn_sorry,
        &stand_in,
        &mut result.axioms,
    );
    // `#print axioms` collects through every constant used: the axioms of the file's earlier
    // declarations the statement or value names come along.
    if let Some(axioms) = &mut result.axioms {
        let referenced = code_tokens(tokens, &(view.name_range.end..view.code_end));
        for token in referenced.iter().filter(|t| t.kind == TokenKind::Ident) {
            let Some(declared) = resolve(token.text(src), &namespace, earlier) else {
                continue;
            };
            for axiom in declared.axioms.iter().flatten() {
                if !axioms.contains(axiom) {
                    axioms.push(axiom.clone());
                }
            }
        }
        sort_names(axioms);
    }
    result
}

/// The namespace open after `earlier` (`namespace A.B` … `end A.B`; `section` nests too).
fn current_namespace(earlier: &[CommandResult]) -> String {
    let mut scopes: Vec<Option<String>> = Vec::new();
    for result in earlier {
        let words = significant_words(&result.text);
        match words.first().map(String::as_str) {
            Some("namespace") => scopes.push(words.get(1).cloned()),
            Some("section") => scopes.push(None),
            Some("noncomputable") if words.get(1).map(String::as_str) == Some("section") => {
                scopes.push(None);
            }
            Some("end") => {
                scopes.pop();
            }
            _ => {}
        }
    }
    scopes.into_iter().flatten().collect::<Vec<_>>().join(".")
}

fn significant_words(text: &str) -> Vec<String> {
    crate::oracle::significant_tokens(text)
        .into_iter()
        .take(2)
        .map(str::to_owned)
        .collect()
}

/// `name` declared inside `namespace` (`_root_.x` escapes it).
fn qualify(namespace: &str, name: &str) -> String {
    match name.strip_prefix("_root_.") {
        Some(root) => root.to_owned(),
        None if namespace.is_empty() => name.to_owned(),
        None => format!("{namespace}.{name}"),
    }
}

/// The earlier declaration `name` refers to from inside `namespace`: the innermost namespace
/// first, as Lean resolves (open namespaces are not modelled).
fn resolve<'a>(
    name: &str,
    namespace: &str,
    earlier: &'a [CommandResult],
) -> Option<&'a CommandResult> {
    let name = name.trim_start_matches('@');
    let mut prefix = namespace.to_owned();
    loop {
        let candidate = qualify(&prefix, name);
        if let Some(found) = earlier
            .iter()
            .rev()
            .find(|r| r.full_name.as_deref() == Some(candidate.as_str()))
        {
            return Some(found);
        }
        if prefix.is_empty() {
            return None;
        }
        prefix = prefix
            .rsplit_once('.')
            .map_or(String::new(), |(outer, _)| outer.to_owned());
    }
}

/// Whether an axiom's type is one of its own type variables (`∀ {α : Sort u}, α`,
/// `{α : Sort u} : α`): such an axiom proves anything.
fn is_universal(view: &DeclView) -> bool {
    let statement = format!("{} : {}", view.binders_text, view.type_text);
    let words = crate::oracle::significant_tokens(&statement);
    let Some(last) = words.last() else {
        return false;
    };
    words
        .windows(3)
        .any(|w| w[0] == *last && w[1] == ":" && matches!(w[2], "Sort" | "Type" | "Prop"))
}

/// Sorts constant names by Lean's `Name.lt`: component by component from the root, a shorter
/// prefix first (`propext` < `sorryAx` < `Classical.choice` < `Quot.sound`).
fn sort_names(names: &mut [String]) {
    names.sort_by(|a, b| name_cmp(a, b));
}

fn name_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    // `Name.cmp` compares the prefixes first, then the last components; a name with fewer
    // components has a prefix that runs out first (anonymous < anything).
    let a_parts: Vec<&str> = a.split('.').collect();
    let b_parts: Vec<&str> = b.split('.').collect();
    fn cmp(a: &[&str], b: &[&str]) -> std::cmp::Ordering {
        match (a.split_last(), b.split_last()) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some((a_last, a_prefix)), Some((b_last, b_prefix))) => {
                cmp(a_prefix, b_prefix).then_with(|| a_last.cmp(b_last))
            }
        }
    }
    cmp(&a_parts, &b_parts)
}

fn elaborate_declaration(
    src: &str,
    tokens: &[Token],
    view: &DeclView,
    context: &Context<'_>,
    warn_sorry: bool,
    stand_in: &dyn Fn(&str) -> bool,
    axioms_out: &mut Option<Vec<String>>,
) -> Vec<Diagnostic> {
    // Unknown identifiers named by the oracle fail elaboration at the identifier.
    if let Some(value) = &view.value {
        let unknown: Vec<Diagnostic> = code_tokens(tokens, value)
            .iter()
            .filter(|t| {
                t.kind == TokenKind::Ident && context.oracle.is_unknown_identifier(t.text(src))
            })
            .map(|t| unknown_identifier(t.text(src), t.span.clone(), context.dialect))
            .collect();
        if !unknown.is_empty() {
            *axioms_out = Some(vec!["sorryAx".to_owned()]);
            return unknown;
        }
    }
    let statement_has_sorry = {
        let signature_end = view.value.as_ref().map_or(view.code_end, |v| v.start);
        contains_sorry(src, tokens, &(view.name_range.end..signature_end))
    };
    // `where` helpers and `let rec`s are declarations of their own (`parent.helper`), with
    // their own sorry warning; the parent is judged without them.
    let (main_end, auxiliaries) = auxiliaries(src, tokens, view);
    let main_tokens: Vec<Token> = tokens
        .iter()
        .filter(|t| {
            !auxiliaries
                .iter()
                .any(|aux| aux.extent.contains(&t.span.start))
        })
        .cloned()
        .collect();
    let mut verdict = match &view.value {
        // A type's fields and constructors are no value to judge; a sorry there still warns.
        Some(value) if TYPE_KEYWORDS.contains(&view.keyword.as_str()) => Verdict {
            uses_sorry: contains_sorry(src, tokens, value),
            axioms: Vec::new(),
            ..Verdict::default()
        },
        // Every value is judged, whatever the keyword: a `def` or `instance` whose value the
        // oracle does not accept fails like a theorem's proof.
        Some(value) => {
            let judge = Judge {
                src,
                tokens: &main_tokens,
                context,
                stand_in,
            };
            judge.judge(
                &view.binders_text,
                &view.hypotheses,
                &view.type_text,
                &(value.start..main_end.max(value.start)),
            )
        }
        None => Verdict::default(),
    };
    verdict.uses_sorry |= statement_has_sorry;
    let mut auxiliary_warnings: Vec<(Range<usize>, String)> = Vec::new();
    for aux in &auxiliaries {
        let judge = Judge {
            src,
            tokens,
            context,
            stand_in,
        };
        let mut part = judge.judge(&aux.binders, &[], &aux.ty, &aux.value);
        if part.uses_sorry {
            let parent = view.name.as_deref().unwrap_or(view.keyword.as_str());
            auxiliary_warnings.push((aux.name_range.clone(), format!("{parent}.{}", aux.name)));
            part.uses_sorry = false;
            part.axioms.push("sorryAx".to_owned());
        }
        verdict.absorb(part);
    }
    // "Try this" is logged while the tactic runs, before any error of the declaration.
    let try_this: Vec<Diagnostic> = suggestions(src, tokens, view, context.oracle)
        .into_iter()
        .map(|(range, suggestion)| Diagnostic {
            range,
            severity: 3,
            message: if context.dialect.apply_style_try_this {
                format!("Try this:\n  [apply] {suggestion}")
            } else {
                format!("Try this: {suggestion}")
            },
            code: None,
            lean_tag: None,
            silent: false,
            keep_full_range: false,
        })
        .collect();
    if verdict.uses_sorry && !verdict.axioms.iter().any(|a| a == "sorryAx") {
        verdict.axioms.push("sorryAx".to_owned());
    }
    if !verdict.errors.is_empty() {
        // Lean adds a failed declaration anyway, its proof replaced by `sorryAx`.
        *axioms_out = Some(vec!["sorryAx".to_owned()]);
        let mut all = try_this;
        all.extend(verdict.errors);
        all.sort_by_key(|d| d.range.start);
        return all;
    }
    *axioms_out = Some(verdict.axioms.clone());
    let mut diagnostics = try_this;
    let sorry_warning = |range: Range<usize>, name: &str| Diagnostic {
        range,
        severity: 2,
        message: match context.dialect.sorry_style {
            SorryStyle::Quote => "declaration uses 'sorry'".to_owned(),
            SorryStyle::Backtick => "declaration uses `sorry`".to_owned(),
            SorryStyle::Named => format!("declaration `{name}` uses `sorry`"),
        },
        code: None,
        lean_tag: None,
        silent: false,
        keep_full_range: false,
    };
    if warn_sorry {
        diagnostics.extend(
            auxiliary_warnings
                .iter()
                .map(|(range, name)| sorry_warning(range.clone(), name)),
        );
    }
    let any_sorry = verdict.uses_sorry || !auxiliary_warnings.is_empty();
    if any_sorry && !warn_sorry {
        // Silenced: neither the warning nor "Goals accomplished!".
    } else if verdict.uses_sorry {
        diagnostics.push(sorry_warning(
            view.name_range.clone(),
            view.name.as_deref().unwrap_or(view.keyword.as_str()),
        ));
    } else if any_sorry {
        // Only helpers use `sorry`: their warnings are out; no "Goals accomplished!".
    } else if context.silent_diagnostics && PROOF_KEYWORDS.contains(&view.keyword.as_str()) {
        diagnostics.push(Diagnostic {
            range: view.start..view.code_end,
            severity: 3,
            message: "Goals accomplished!".to_owned(),
            code: None,
            lean_tag: Some(2),
            silent: true,
            keep_full_range: false,
        });
    }
    diagnostics
}

/// A `where` helper or `let rec` of a declaration: Lean adds it as `parent.name`.
struct Auxiliary {
    name: String,
    name_range: Range<usize>,
    binders: String,
    ty: String,
    /// Its value (after `:=`, or its `|` alternatives).
    value: Range<usize>,
    /// Everything that belongs to it, to leave out of the parent's own value.
    extent: Range<usize>,
}

/// Where the parent's own value ends (before a `where`) and its auxiliary declarations.
fn auxiliaries(src: &str, tokens: &[Token], view: &DeclView) -> (usize, Vec<Auxiliary>) {
    let Some(value) = &view.value else {
        return (view.code_end, Vec::new());
    };
    let code = code_tokens(tokens, value);
    let column = |token: &Token| {
        let line_start = src[..token.span.start].rfind('\n').map_or(0, |i| i + 1);
        src[line_start..token.span.start].chars().count()
    };
    let starts_line = |token: &Token| {
        let line_start = src[..token.span.start].rfind('\n').map_or(0, |i| i + 1);
        src[line_start..token.span.start].trim().is_empty()
    };
    let mut found = Vec::new();
    let mut depth = 0i32;
    let mut main_end = value.end;
    for (i, token) in code.iter().enumerate() {
        match token.text(src) {
            "(" | "[" | "{" | "⟨" | "⦃" => depth += 1,
            ")" | "]" | "}" | "⟩" | "⦄" => depth -= 1,
            "where" if depth == 0 && i > 0 => {
                main_end = code[i - 1].span.end;
                let helpers = &code[i + 1..];
                let Some(first) = helpers.first() else { break };
                let helper_column = column(first);
                let mut starts: Vec<usize> = vec![0];
                starts.extend(
                    helpers
                        .iter()
                        .enumerate()
                        .skip(1)
                        .filter(|(_, t)| starts_line(t) && column(t) == helper_column)
                        .map(|(j, _)| j),
                );
                for (n, &start) in starts.iter().enumerate() {
                    let end = starts.get(n + 1).copied().unwrap_or(helpers.len());
                    if let Some(aux) = auxiliary(src, &helpers[start..end]) {
                        found.push(aux);
                    }
                }
                break;
            }
            "let" if code.get(i + 1).is_some_and(|t| t.text(src) == "rec") => {
                let let_column = column(token);
                let end = code[i + 2..]
                    .iter()
                    .position(|t| starts_line(t) && column(t) <= let_column)
                    .map_or(code.len(), |j| i + 2 + j);
                if let Some(aux) = auxiliary(src, &code[i + 2..end]) {
                    found.push(aux);
                }
            }
            _ => {}
        }
    }
    (main_end, found)
}

/// `name binders : type := value` or `name binders : type | alternatives`.
fn auxiliary(src: &str, tokens: &[Token]) -> Option<Auxiliary> {
    let name = tokens.first().filter(|t| t.kind == TokenKind::Ident)?;
    let mut depth = 0i32;
    let mut colon = None;
    for (i, token) in tokens.iter().enumerate().skip(1) {
        match token.text(src) {
            "(" | "[" | "{" | "⟨" | "⦃" => depth += 1,
            ")" | "]" | "}" | "⟩" | "⦄" => depth -= 1,
            ":" if depth == 0 && colon.is_none() => colon = Some(i),
            marker @ (":=" | "|") if depth == 0 => {
                let after = if marker == ":=" { i + 1 } else { i };
                let value = tokens.get(after)?.span.start..tokens.last()?.span.end;
                let binders_end = colon.unwrap_or(i);
                let binders = text_of(src, &(name.span.end..tokens[binders_end].span.start));
                let ty = colon.map_or("", |c| {
                    text_of(src, &(tokens[c].span.end..token.span.start))
                });
                return Some(Auxiliary {
                    name: name.text(src).to_owned(),
                    name_range: name.span.clone(),
                    binders: collapse_whitespace(binders),
                    ty: collapse_whitespace(ty),
                    value,
                    extent: name.span.start..tokens.last()?.span.end,
                });
            }
            _ => {}
        }
    }
    None
}

fn unknown_identifier(name: &str, range: Range<usize>, dialect: Dialect) -> Diagnostic {
    let (message, code) = if dialect.capitalised_unknown_identifier {
        (
            format!("Unknown identifier `{name}`"),
            Some("lean.unknownIdentifier"),
        )
    } else {
        (format!("unknown identifier '{name}'"), None)
    };
    Diagnostic {
        range,
        severity: 1,
        message,
        code,
        lean_tag: None,
        silent: false,
        keep_full_range: false,
    }
}

/// A parse error for a command whose brackets are not closed when the next command starts.
fn parse_error(src: &str, tokens: &[Token], command: &Command) -> Option<Diagnostic> {
    let code = code_tokens(tokens, &command.span);
    let mut depth = 0i32;
    for token in &code {
        if token.in_quotation {
            continue;
        }
        match token.text(src) {
            "(" | "[" | "{" | "⦃" | "⟨" => depth += 1,
            ")" | "]" | "}" | "⦄" | "⟩" => depth -= 1,
            _ => {}
        }
    }
    if depth <= 0 {
        return None;
    }
    let start = code.last()?.span.end;
    // The unexpected token is the next one Lean's parser sees: the next command's first token
    // (a module doc counts; whitespace and ordinary comments do not).
    let next = tokens
        .iter()
        .find(|t| t.span.start >= start && !t.is_trivia());
    let (end, message) = match next {
        Some(token) => {
            let text = token.text(src);
            let shown: String = if token.is_comment() {
                text.chars().take(3).collect()
            } else {
                text.to_owned()
            };
            (
                token.span.start + shown.len(),
                format!("unexpected token '{shown}'; expected term"),
            )
        }
        None => (src.len(), "unexpected end of input".to_owned()),
    };
    Some(Diagnostic {
        range: start..end,
        severity: 1,
        message,
        code: None,
        lean_tag: None,
        silent: false,
        keep_full_range: true,
    })
}

/// `#print axioms NAME`, as Lean's `elabPrintAxioms` prints it: the constant's full name, the
/// axioms sorted by `Name.lt`, on the `#print` token. Behind `--print-axioms-refused-in-module`
/// a file with a `module` header gets the error some v4.2x releases give.
fn print_axioms(
    src: &str,
    tokens: &[Token],
    command: &Command,
    earlier: &[CommandResult],
    namespace: &str,
    context: &Context<'_>,
) -> Option<Diagnostic> {
    let code = code_tokens(tokens, &command.span);
    if code.get(1).map(|t| t.text(src)) != Some("axioms") {
        return None;
    }
    let name = code.get(2)?.text(src);
    let range = code.first()?.span.clone();
    let diagnostic = |severity: u8, message: String| Diagnostic {
        range: range.clone(),
        severity,
        message,
        code: None,
        lean_tag: None,
        silent: false,
        keep_full_range: false,
    };
    if context.print_axioms_refused_in_module && has_module_header(src, tokens) {
        return Some(diagnostic(
            1,
            "cannot use `#print axioms` in a `module`; consider temporarily removing the `module` header or placing the command in a separate file".to_owned(),
        ));
    }
    let found = resolve(name, namespace, earlier);
    Some(match found.map(|result| (result, result.axioms.as_ref())) {
        Some((result, Some(axioms))) => {
            let full = result.full_name.as_deref().unwrap_or(name);
            if axioms.is_empty() {
                diagnostic(3, format!("'{full}' does not depend on any axioms"))
            } else {
                diagnostic(
                    3,
                    format!("'{full}' depends on axioms: [{}]", axioms.join(", ")),
                )
            }
        }
        _ => diagnostic(1, format!("unknown constant '{name}'")),
    })
}

/// Whether the file starts with a `module` header (Lean's module system).
fn has_module_header(src: &str, tokens: &[Token]) -> bool {
    tokens
        .iter()
        .find(|t| !t.is_trivia() && !t.is_comment())
        .is_some_and(|t| t.text(src) == "module")
}

/// The goals Lean would show at `byte` (`$/lean/plainGoal`): `None` outside a tactic block,
/// an empty list once the proof is complete.
pub fn goals_at(
    src: &str,
    tokens: &[Token],
    view: &DeclView,
    oracle: &Oracle,
    proof_failed: bool,
    byte: usize,
) -> Option<Vec<String>> {
    let by_token = view.by_token.as_ref()?;
    let value = view.value.as_ref()?;
    if byte < by_token.start || byte > value.end {
        return None;
    }
    let steps = tactic_steps(src, tokens, by_token, value.end);
    let mut hypotheses = view.hypotheses.clone();
    for step in &steps {
        if let Some(have) = &step.have {
            let inside_proof = byte >= have.proof.start && byte <= have.proof.end;
            if inside_proof {
                let starts_with_by = code_tokens(tokens, &have.proof)
                    .first()
                    .is_some_and(|t| t.text(src) == "by");
                if !starts_with_by {
                    // A term proof is not a tactic block: the goal is the one the `have`
                    // tactic itself runs on.
                    return Some(vec![render_goal(&hypotheses, &view.type_text)]);
                }
                let statement = format!("{} : {}", view.binders_text, have.ty);
                let goal = oracle
                    .entry(&statement)
                    .and_then(|entry| entry.goal.clone())
                    .unwrap_or_else(|| render_goal(&hypotheses, &have.ty));
                return Some(vec![goal]);
            }
            if byte > step.range.end {
                hypotheses.push(format!("{} : {}", have.name, have.ty));
            }
        }
    }
    let finished = steps.last().is_some_and(|last| byte >= last.range.end);
    if finished && !proof_failed {
        return Some(Vec::new());
    }
    let own_goal = (hypotheses.len() == view.hypotheses.len())
        .then(|| {
            oracle
                .entry(&view.statement())
                .and_then(|entry| entry.goal.clone())
        })
        .flatten();
    Some(vec![own_goal.unwrap_or_else(|| {
        render_goal(&hypotheses, &view.type_text)
    })])
}

/// The expected type at `byte` (`$/lean/plainTermGoal`): a `sorry` or other token inside a
/// tactic block shows the goal there; a term-mode value shows the declaration's type.
pub fn term_goal_at(
    src: &str,
    tokens: &[Token],
    view: &DeclView,
    oracle: &Oracle,
    byte: usize,
) -> Option<(String, Range<usize>)> {
    let value = view.value.as_ref()?;
    if byte < value.start || byte > value.end {
        return None;
    }
    if view.by_token.is_some() {
        let token = code_tokens(tokens, value)
            .into_iter()
            .find(|t| t.span.start <= byte && byte <= t.span.end && t.text(src) == "sorry")?;
        // A `sorry` that is a have's whole term proof has the have's type as expected type.
        if let Some(by_token) = &view.by_token {
            let mut hypotheses = view.hypotheses.clone();
            for step in tactic_steps(src, tokens, by_token, value.end) {
                let Some(have) = &step.have else { continue };
                if have.proof == token.span {
                    return Some((render_goal(&hypotheses, &have.ty), token.span));
                }
                hypotheses.push(format!("{} : {}", have.name, have.ty));
            }
        }
        let goals = goals_at(src, tokens, view, oracle, true, token.span.start)?;
        return goals.into_iter().next().map(|goal| (goal, token.span));
    }
    let code = code_tokens(tokens, value);
    let range = code.first()?.span.start..code.last()?.span.end;
    Some((render_goal(&view.hypotheses, &view.type_text), range))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Dialect, SorryStyle};

    const NEWEST: Dialect = Dialect {
        sorry_style: SorryStyle::Backtick,
        capitalised_unknown_identifier: true,
        incremental_diagnostics: true,
        silent_diagnostics: true,
        apply_style_try_this: true,
    };

    fn elaborate(src: &str, oracle: &str) -> Vec<CommandResult> {
        let oracle = Oracle::parse(oracle).expect("test oracle is valid");
        let context = Context {
            oracle: &oracle,
            dialect: NEWEST,
            silent_diagnostics: false,
            print_axioms_refused_in_module: false,
        };
        let tokens = crate::syntax::lex(src);
        let mut results: Vec<CommandResult> = Vec::new();
        for command in &commands(src, &tokens) {
            let result = elaborate_command(src, &tokens, command, &results, &context);
            results.push(result);
        }
        results
    }

    fn messages(results: &[CommandResult], src: &str) -> Vec<(String, String)> {
        results
            .iter()
            .flat_map(|r| r.diagnostics.iter())
            .map(|d| (d.message.clone(), src[d.range.clone()].to_owned()))
            .collect()
    }

    #[test]
    fn sorry_warns_on_the_name_and_unknown_proofs_fail() {
        let src = "import Mathlib\n\ntheorem a (x : ℕ) : x = x := by\n  sorry\n\ntheorem b (x : ℕ) : x = x := by\n  simp\n";
        let results = elaborate(src, "");
        assert_eq!(
            messages(&results, src),
            vec![
                ("declaration uses `sorry`".to_owned(), "a".to_owned()),
                (
                    "unsolved goals\nx : ℕ\n⊢ x = x".to_owned(),
                    "by\n  simp".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn haves_are_checked_against_their_own_entries() {
        let oracle = r#"
[[theorem]]
statement = "(x : ℕ) (h₀ : x = 2) : x * 2 = 4"
accept = ["have h : x * 2 = 2 * 2 := sorry\nsimpa using h"]
[[theorem]]
statement = "(x : ℕ) (h₀ : x = 2) : x * 2 = 2 * 2"
accept = ["rw [h₀]"]
"#;
        let good = "theorem t (x : ℕ) (h₀ : x = 2) : x * 2 = 4 := by\n  have h : x * 2 = 2 * 2 := by\n    rw [h₀]\n  simpa using h\n#print axioms t\n";
        let results = elaborate(good, oracle);
        assert_eq!(
            messages(&results, good),
            vec![(
                "'t' depends on axioms: [propext, Classical.choice, Quot.sound]".to_owned(),
                "#print".to_owned()
            )]
        );
        let bad = good.replace("rw [h₀]", "simp");
        let results = elaborate(&bad, oracle);
        let found = messages(&results, &bad);
        assert_eq!(
            found[0].0,
            "unsolved goals\nx : ℕ\nh₀ : x = 2\n⊢ x * 2 = 2 * 2"
        );
        assert_eq!(
            found[1].0, "'t' depends on axioms: [sorryAx]",
            "a failed proof is added with sorryAx"
        );
    }

    #[test]
    fn accept_all_accepts_a_sorry_free_skeleton_and_judges_each_have_on_its_own() {
        // As in Lean: the have's `sorry` warns, and the steps after it close the goal.
        let src = "theorem t (x : ℕ) : x + 0 = x := by\n  have h : x = x := by sorry\n  omega\n";
        let results = elaborate(src, "accept_all = true");
        assert_eq!(
            messages(&results, src),
            vec![("declaration uses `sorry`".to_owned(), "t".to_owned())]
        );
        // A `sorry` after the haves is no sorry-free skeleton: the warning, as before.
        let tail = src.replace("omega", "sorry");
        let results = elaborate(&tail, "accept_all = true");
        assert_eq!(
            messages(&results, &tail),
            vec![("declaration uses `sorry`".to_owned(), "t".to_owned())]
        );
        let proved = src.replace("by sorry", "rfl");
        let results = elaborate(&proved, "accept_all = true");
        assert!(messages(&results, &proved).is_empty());
    }

    #[test]
    fn print_axioms_reports_sorry_and_native_decide() {
        let src = "theorem s : 1 = 1 := by\n  sorry\n#print axioms s\n";
        let partial = "theorem p (x : ℕ) : x = x := by\n  intro\n  sorry\n#print axioms p\n";
        let results = elaborate(partial, "");
        assert_eq!(
            messages(&results, partial)[1].0,
            "'p' depends on axioms: [propext, sorryAx, Classical.choice, Quot.sound]",
            "sorted by Name.lt: a shorter prefix first"
        );
        let results = elaborate(src, "");
        assert_eq!(
            messages(&results, src)[1].0,
            "'s' depends on axioms: [sorryAx]",
            "a proof that is exactly `sorry` depends on nothing else"
        );
        let oracle = "[[theorem]]\nstatement = \": 2 + 2 = 4\"\naccept = [\"native_decide\"]\naxioms = { native_decide = [] }\n";
        let src = "theorem n : 2 + 2 = 4 := by native_decide\n#print axioms n\n";
        let results = elaborate(src, oracle);
        assert_eq!(
            messages(&results, src)[0].0,
            "'n' depends on axioms: [Lean.ofReduceBool]"
        );
    }

    #[test]
    fn print_axioms_names_the_full_constant_and_follows_file_axioms() {
        let src = "axiom sorryfill_n7 {α : Sort u} : α\n\
                   namespace Foo\n\
                   theorem helper : 1 = 2 := by\n  exact sorryfill_n7\n\
                   theorem main : 1 = 1 := by\n  have := helper\n  rfl\n\
                   end Foo\n\
                   #print axioms Foo.main\n\
                   namespace Foo\n#print axioms helper\nend Foo\n";
        let oracle = "[[theorem]]\nstatement = \": 1 = 1\"\naccept = [\"have := helper\\nrfl\"]\n";
        let results = elaborate(src, oracle);
        let found = messages(&results, src);
        assert_eq!(
            found,
            vec![
                (
                    "'Foo.main' depends on axioms: [propext, sorryfill_n7, Classical.choice, Quot.sound]"
                        .to_owned(),
                    "#print".to_owned()
                ),
                (
                    "'Foo.helper' depends on axioms: [sorryfill_n7]".to_owned(),
                    "#print".to_owned()
                ),
            ],
            "a universal axiom stands in for sorry without the warning and is named in the list"
        );
    }

    #[test]
    fn print_axioms_in_a_module_can_be_refused_as_some_releases_do() {
        let src = "module\n\ntheorem t : 1 = 1 := by\n  sorry\n#print axioms t\n";
        let oracle = Oracle::parse("").expect("valid");
        let context = Context {
            oracle: &oracle,
            dialect: NEWEST,
            silent_diagnostics: false,
            print_axioms_refused_in_module: true,
        };
        let tokens = crate::syntax::lex(src);
        let mut results: Vec<CommandResult> = Vec::new();
        for command in &commands(src, &tokens) {
            let result = elaborate_command(src, &tokens, command, &results, &context);
            results.push(result);
        }
        let found = messages(&results, src);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[1]
                .0
                .starts_with("cannot use `#print axioms` in a `module`;")
        );
        assert_eq!(found[1].1, "#print");
    }

    #[test]
    fn exact_search_closes_or_errors_and_apply_search_leaves_a_sorry() {
        let src = "theorem e (n : ℕ) : n ≤ n := by\n  exact?\n";
        let found = messages(&elaborate(src, ""), src);
        assert_eq!(
            found,
            vec![(
                "`exact?` could not close the goal. Try `apply?` to see partial suggestions."
                    .to_owned(),
                "exact?".to_owned()
            )],
            "an error, and no unsolved goals besides"
        );
        let suggesting = "[suggestions]\n\"exact?\" = \"exact Nat.le_refl n\"\n";
        let found = messages(&elaborate(src, suggesting), src);
        assert_eq!(
            found,
            vec![(
                "Try this:\n  [apply] exact Nat.le_refl n".to_owned(),
                "exact?".to_owned()
            )],
            "the suggestion closes the goal"
        );
        let apply = "theorem a (n : ℕ) : n ≤ n := by\n  apply?\n";
        let found = messages(&elaborate(apply, ""), apply);
        assert_eq!(
            found,
            vec![("declaration uses `sorry`".to_owned(), "a".to_owned())],
            "`apply?` closes the goal with a sorry: a warning, no error"
        );
    }

    #[test]
    fn a_kernel_rejected_declaration_is_its_own_axiom() {
        let src = "theorem k : 1 = 1 := by\n  decide\ntheorem user : 1 = 1 := k\n#print axioms k\n#print axioms user\n";
        let oracle = "[[theorem]]\nstatement = \": 1 = 1\"\naccept = [\"k\"]\nkernel_reject = [\"decide\"]\n";
        let found = messages(&elaborate(src, oracle), src);
        assert_eq!(found[0].0, "(kernel) deep recursion detected");
        assert_eq!(found[1].0, "'k' depends on axioms: [k]");
        assert_eq!(
            found[2].0,
            "'user' depends on axioms: [k, propext, Classical.choice, Quot.sound]"
        );
    }

    #[test]
    fn names_sort_like_lean() {
        let mut names: Vec<String> = [
            "Quot.sound",
            "sorryAx",
            "Lean.ofReduceBool",
            "propext",
            "Classical.choice",
        ]
        .map(str::to_owned)
        .to_vec();
        sort_names(&mut names);
        assert_eq!(
            names,
            [
                "propext",
                "sorryAx",
                "Classical.choice",
                "Lean.ofReduceBool",
                "Quot.sound"
            ]
        );
    }

    #[test]
    fn definitions_are_judged_and_by_is_never_dropped() {
        let src = "def five : ℕ := 5\ndef six : ℕ := 6\ntheorem t (x : ℕ) : x + 0 = x := omega\n";
        let oracle = "[[theorem]]\nstatement = \": ℕ\"\naccept = [\"5\"]\n[[theorem]]\nstatement = \"(x : ℕ) : x + 0 = x\"\naccept = [\"omega\"]\n";
        let results = elaborate(src, oracle);
        let found = messages(&results, src);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].0.starts_with("type mismatch"), "{found:?}");
        assert_eq!(found[0].1, "6", "a def the oracle does not accept fails");
        assert_eq!(
            found[1],
            ("Unknown identifier `omega`".to_owned(), "omega".to_owned()),
            "a tactic name as a term is no proof"
        );
        let tactic = src.replace(":= omega", ":= by omega");
        assert_eq!(messages(&elaborate(&tactic, oracle), &tactic).len(), 1);
    }

    #[test]
    fn goals_include_binders_and_earlier_haves() {
        let src = "theorem t (x : ℕ) (h₀ : x ≠ 0) : x + 0 = x := by\n  have h : x = x := by\n    rfl\n  sorry\n";
        let tokens = crate::syntax::lex(src);
        let outline = commands(src, &tokens);
        let view = view_declaration(src, &tokens, &outline[0]).expect("a declaration");
        let oracle = Oracle::default();
        let at_sorry = src.rfind("sorry").expect("the sorry is there");
        assert_eq!(
            goals_at(src, &tokens, &view, &oracle, false, at_sorry),
            Some(vec!["x : ℕ\nh₀ : x ≠ 0\nh : x = x\n⊢ x + 0 = x".to_owned()])
        );
        let in_have = src.find("rfl").expect("the rfl is there");
        assert_eq!(
            goals_at(src, &tokens, &view, &oracle, false, in_have),
            Some(vec!["x : ℕ\nh₀ : x ≠ 0\n⊢ x = x".to_owned()])
        );
        assert_eq!(
            goals_at(src, &tokens, &view, &oracle, false, src.len() - 1),
            Some(Vec::new())
        );
        assert_eq!(goals_at(src, &tokens, &view, &oracle, false, 3), None);

        let term = "theorem t (x : ℕ) : x = x := by\n  have h : 0 = 0 := sorry\n  sorry\n";
        let tokens = crate::syntax::lex(term);
        let view =
            view_declaration(term, &tokens, &commands(term, &tokens)[0]).expect("a declaration");
        let have_sorry = term.find(":= sorry").expect("the have is there") + 3;
        assert_eq!(
            goals_at(term, &tokens, &view, &oracle, false, have_sorry),
            Some(vec!["x : ℕ\n⊢ x = x".to_owned()])
        );
        assert_eq!(
            term_goal_at(term, &tokens, &view, &oracle, have_sorry),
            Some(("x : ℕ\n⊢ 0 = 0".to_owned(), have_sorry..have_sorry + 5))
        );
        let last_sorry = term.rfind("sorry").expect("the sorry is there");
        assert_eq!(
            term_goal_at(term, &tokens, &view, &oracle, last_sorry).map(|(goal, _)| goal),
            Some("x : ℕ\nh : 0 = 0\n⊢ x = x".to_owned())
        );
    }

    proptest::proptest! {
        #[test]
        fn elaboration_and_goals_never_panic(
            src in "(theorem t|lemma l|example|def d|#print axioms t|#guard_msgs in|have h : |import M| |\\(|\\)|:=|by|sorry|\\n|  |x|ℕ|:|--|/-|-/|\"|·|⟨|⟩){0,40}",
            probe in 0usize..200,
        ) {
            let oracle = Oracle::parse("accept_all = false").expect("a valid oracle");
            let context = Context { oracle: &oracle, dialect: NEWEST, silent_diagnostics: true, print_axioms_refused_in_module: false };
            let tokens = crate::syntax::lex(&src);
            let mut results: Vec<CommandResult> = Vec::new();
            for command in commands(&src, &tokens) {
                let result = elaborate_command(&src, &tokens, &command, &results, &context);
                for diagnostic in &result.diagnostics {
                    proptest::prop_assert!(diagnostic.range.start <= diagnostic.range.end);
                    proptest::prop_assert!(diagnostic.range.end <= src.len());
                }
                results.push(result);
                let byte = crate::syntax::floor_char_boundary(&src, probe);
                if let Some(view) = view_declaration(&src, &tokens, &command) {
                    let _ = goals_at(&src, &tokens, &view, &oracle, false, byte);
                    let _ = term_goal_at(&src, &tokens, &view, &oracle, byte);
                    let _ = suggestions(&src, &tokens, &view, &oracle);
                }
            }
        }
    }
}
