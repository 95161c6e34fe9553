//! The soundness gate: the checks every candidate proof must pass before it is offered.
//!
//! Two checks live here, each a pure function so it can be tested without Lean:
//! - [`scan_candidate`] rejects a proof body that uses any construct that could make Lean
//!   accept an unsound proof or run code on the user's machine;
//! - [`check_axioms`] judges the `#print axioms` report parsed by [`parse_print_axioms`].
//!
//! What Lean said about a shadow document is judged in `super::judgement`.
//!
//! Invariants: the static scan is conservative (when in doubt it rejects: a false rejection
//! costs one candidate, a false acceptance costs the user's trust); every rejection carries a
//! [`RejectReason`] that says exactly what and where, in words a Lean user can read.

use std::fmt;
use std::time::Duration;

use lean_syntax::{Token, TokenKind, lex};

use crate::config::STANDARD_AXIOMS;
use lsp_types::Range;
use serde::{Deserialize, Serialize};

/// The prefix of every name a shadow adds; a candidate that mentions it is rejected.
pub const SHADOW_NAME_PREFIX: &str = "_sorryfill_";

/// Axioms that reject a proof whatever the allow-list says: `sorryAx` is `sorry` itself, and
/// the other two trust the compiler instead of the kernel.
pub const ALWAYS_REJECTED_AXIOMS: [&str; 3] =
    ["sorryAx", "Lean.ofReduceBool", "Lean.trustCompiler"];

/// What the user allows beyond the strict default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatePolicy {
    /// Accept `native_decide`, `decide +native` and `bv_decide`, whose proofs trust the
    /// compiler (`Lean.ofReduceBool`) rather than the kernel. Off by default.
    pub allow_native_decide: bool,
    /// The axioms a verified proof may depend on.
    pub allowed_axioms: Vec<String>,
}

impl Default for GatePolicy {
    fn default() -> Self {
        Self {
            allow_native_decide: false,
            allowed_axioms: STANDARD_AXIOMS.map(str::to_owned).to_vec(),
        }
    }
}

/// The outcome of checking one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum GateVerdict {
    /// Lean accepted the proof and every gate check passed.
    Verified {
        /// The proof body exactly as it will be inserted.
        proof: String,
        /// The axioms the declaration depends on, as Lean reported them.
        axioms: Vec<String>,
        /// Wall-clock time of the check.
        #[serde(with = "duration_millis", rename = "elapsed_ms")]
        elapsed: Duration,
    },
    /// The candidate was not accepted.
    Rejected {
        /// Exactly why.
        reason: RejectReason,
    },
}

impl GateVerdict {
    /// True for [`GateVerdict::Verified`].
    pub fn is_verified(&self) -> bool {
        matches!(self, GateVerdict::Verified { .. })
    }
}

/// Why a candidate was rejected. The `Display` text is meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RejectReason {
    /// Lean reported an error in the target declaration.
    #[error("Lean reported an error: {message}")]
    LeanError {
        /// Lean's message text.
        message: String,
        /// Where, in the checked (shadow) document.
        range: Range,
    },
    /// Lean warned that the declaration still uses `sorry`.
    #[error("Lean reports that the declaration still uses `sorry`")]
    SorryWarning,
    /// The candidate uses a construct the gate never accepts.
    #[error(
        "the proof uses {construct} (at byte {offset} of the proof), which sorryfill never accepts"
    )]
    Banned {
        /// The construct, quoted as it appears (for example `` `native_decide` ``).
        construct: String,
        /// Byte offset in the candidate proof.
        offset: usize,
    },
    /// The proof depends on an axiom outside the allow-list.
    #[error("the proof depends on the axiom `{name}`")]
    Axiom {
        /// The axiom's full name.
        name: String,
    },
    /// Lean's `#print axioms` report for the declaration was missing.
    #[error("Lean did not report the axioms of the declaration, so its soundness is unknown")]
    AxiomsUnknown,
    /// The check did not finish in time.
    #[error("Lean did not finish checking within {:.1} s", after.as_secs_f64())]
    Timeout {
        /// The limit that was reached.
        #[serde(with = "duration_millis", rename = "after_ms")]
        after: Duration,
    },
    /// The user's document changed while the candidate was being checked.
    #[error(
        "the document changed while the proof was being checked (version {hole_version} is now {current_version})"
    )]
    Stale {
        /// The version the hole was found in.
        hole_version: i32,
        /// The document's version when the verdict was ready.
        current_version: i32,
    },
    /// Lean's diagnostics belong to another version of the shadow document than the one checked.
    #[error(
        "Lean's report is for version {reported_version:?} of the check, not version {checked_version}"
    )]
    DiagnosticsVersionMismatch {
        /// The shadow version that was checked.
        checked_version: i32,
        /// The version Lean's diagnostics carried.
        reported_version: Option<i32>,
    },
    /// The candidate changes the theorem statement.
    #[error("the proof changes the theorem statement")]
    StatementChanged,
    /// Splicing the candidate changes the command structure of the file.
    #[error("the proof changes the structure of the file: {detail}")]
    StructureChanged {
        /// What changed.
        detail: String,
    },
    /// Lean's worker crashed during the check.
    #[error("Lean's worker crashed while checking the proof")]
    WorkerCrashed,
    /// Lean could not load the file's header (imports) in a shadow document, so no proof for
    /// this file can be checked until its header or the imported files change.
    #[error("this file cannot be checked now: {message}")]
    HeaderFailed {
        /// Lean's error about the header, or why the import did not finish.
        message: String,
    },
    /// The model's output was cut off before the proof ended.
    #[error("the model's output was cut off before the proof ended")]
    Truncated,
    /// The candidate is empty.
    #[error("the proof is empty")]
    Empty,
}

/// A rejection with the context a user needs to see it: the reason and, when there is one,
/// the line of the candidate it points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct GateRejection {
    /// Exactly why.
    pub reason: RejectReason,
    /// The line of the candidate the reason points at, when it points into the candidate.
    pub excerpt: Option<String>,
}

impl GateRejection {
    /// A rejection without an excerpt.
    pub fn new(reason: RejectReason) -> Self {
        Self {
            reason,
            excerpt: None,
        }
    }

    fn banned(proof: &str, construct: impl Into<String>, offset: usize) -> Self {
        Self {
            reason: RejectReason::Banned {
                construct: construct.into(),
                offset,
            },
            excerpt: Some(line_at(proof, offset).to_owned()),
        }
    }
}

impl From<RejectReason> for GateRejection {
    fn from(reason: RejectReason) -> Self {
        Self::new(reason)
    }
}

impl fmt::Display for GateRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if let Some(excerpt) = &self.excerpt {
            write!(f, "\n  in: {}", excerpt.trim())?;
        }
        Ok(())
    }
}

/// The line of `text` that contains byte `offset`.
fn line_at(text: &str, offset: usize) -> &str {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    &text[start..end]
}

/// Words that are never acceptable in a proof body, wherever they appear as a name component.
///
/// They fall in four groups: holes (`sorry`, `admit`, `stop` which is `repeat sorry`), trust in
/// the compiler or new axioms, code execution and metaprogramming, and command keywords (a
/// proof body never needs a command; one would end the declaration and start another).
const BANNED_WORDS: &[&str] = &[
    // Holes and the axiom behind them, and tactics that close a goal with `sorry` without an
    // error (`apply?` when it only finds partial suggestions, Mathlib's `hint` when none of
    // its tactics closes the goal): under the sketch gate, which ignores the sorry warning and
    // `sorryAx` for the user's other holes, this scan is all that catches them.
    "sorry",
    "admit",
    "stop",
    "sorryAx",
    "apply?",
    "hint",
    // New axioms, or trust in compiled code instead of the kernel.
    "axiom",
    "opaque",
    "implemented_by",
    "extern",
    "csimp",
    "ofReduceBool",
    "ofReduceNat",
    "reduceBool",
    "reduceNat",
    "trustCompiler",
    // Running code and metaprogramming.
    "IO",
    "EIO",
    "BaseIO",
    "dbg_trace",
    "dbgTrace",
    "dbgTraceIfShared",
    "run_cmd",
    "run_tac",
    "run_elab",
    "run_meta",
    "by_elab",
    "elab",
    "elab_rules",
    "macro",
    "macro_rules",
    "syntax",
    "declare_syntax_cat",
    "notation",
    "infix",
    "infixl",
    "infixr",
    "prefix",
    "postfix",
    "binder_predicate",
    "simproc",
    "simproc_decl",
    "dsimproc",
    "initialize",
    "builtin_initialize",
    "declare_config_elab",
    "declare_command_config_elab",
    // Tactics that compile and run the goal (`plausible` also closes it with `sorry` when
    // testing finds no counterexample), or that run other programs or reach the network
    // (`polyrith` runs `curl`; the rest ask a language model).
    "plausible",
    "slim_check",
    "polyrith",
    "llmstep",
    "suggest_tactics",
    "search_proof",
    "select_premises",
    // Commands and command modifiers.
    "import",
    "theorem",
    "lemma",
    "def",
    "abbrev",
    "example",
    "instance",
    "structure",
    "class",
    "inductive",
    "coinductive",
    "variable",
    "universe",
    "omit",
    "include",
    "export",
    "attribute",
    "deriving",
    "mutual",
    "namespace",
    "section",
    "end",
    "noncomputable",
    "partial",
    "private",
    "protected",
    "local",
    "scoped",
    "alias",
    "irreducible_def",
    "add_decl_doc",
    "register_option",
    "register_simp_attr",
    // Commands of Lean, Batteries and Mathlib that are no tactic: Lean ends a tactic block at
    // the first line that is not a tactic, so any of them on a line of the proof would start
    // a new command in the user's file even when indented (the outline only sees column 0).
    "nonrec",
    "prelude",
    "unif_hint",
    "gen_injective_theorems",
    "register_builtin_option",
    "variable?",
    "notation3",
    "proof_wanted",
    "recall",
    "seal",
    "unseal",
    "grind_pattern",
    "init_quot",
    "recommended_spelling",
    "library_note",
    "assert_not_exists",
    "assert_not_imported",
    "count_heartbeats",
    "whatsnew",
    "suppress_compilation",
    "unsuppress_compilation",
    "compile_inductive",
    "compile_def",
    "initialize_simps_projections",
    "add_aesop_rules",
    "erase_aesop_rules",
    "declare_aesop_rule_sets",
    "register_label_attr",
    "register_error_explanation",
    "declare_simp_like_tactic",
    "register_tactic_tag",
    "tactic_extension",
    "set_premise_selector",
    // Newer commands of Lean core and Mathlib (module system, limits, linters, grind,
    // documentation): each would start a command, and several change what later code may do.
    "unlock_limits",
    "unset_option",
    "with_weak_namespace",
    "register_linter_set",
    "public",
    "meta",
    "module",
    "deprecated_module",
    "docs_to_verso",
    "stop_at_first_error",
    "guard_min_heartbeats",
    "simproc_pattern",
    "register_grind_attr",
    "reset_grind_attrs",
    "init_grind_norm",
    "grind_propagator",
    "set_library_suggestions",
    "show_panel_widgets",
    "register_hint",
    "mk_iff_of_inductive_prop",
    "norm_cast_add_elim",
    "name_poly_vars",
    "extend_docs",
    // Reading files and writing the environment from meta code.
    "include_str",
    "addDecl",
    "addDeclWithoutChecking",
    "addAndCompile",
    "modifyEnv",
    "setEnv",
    "evalExpr",
    "evalDecl",
    "ofExcept",
];

/// Words that run code, read files or skip the kernel. Besides the token scan, the raw text is
/// searched for them with no lexer at all (a word is a run of ASCII letters, digits, `_` and
/// `'`; anything else, any non-ASCII letter included, separates words), so a comment or string
/// our lexer misreads cannot hide them. A proof may use `set_option` and `eval` as code (the
/// token scan judges those), so for these the raw count must not exceed the code count.
const RAW_BANNED_WORDS: &[&str] = &[
    "IO",
    "EIO",
    "BaseIO",
    "run_cmd",
    "run_tac",
    "run_elab",
    "run_meta",
    "by_elab",
    "elab",
    "elab_rules",
    "macro",
    "macro_rules",
    "syntax",
    "initialize",
    "builtin_initialize",
    "dbg_trace",
    "dbgTrace",
    "dbgTraceIfShared",
    "implemented_by",
    "extern",
    "include_str",
    "addDecl",
    "addDeclWithoutChecking",
    "addAndCompile",
    "evalExpr",
    "evalDecl",
    "unlock_limits",
    "polyrith",
    "plausible",
    "sorryAx",
    "ofReduceBool",
    "trustCompiler",
];

/// Words a proof may use as code that the raw scan must not find anywhere else.
const RAW_COUNTED_WORDS: &[&str] = &["set_option", "eval", "config"];

/// Words banned unless the policy allows native evaluation: each makes the proof trust the
/// compiler (`Lean.ofReduceBool` or an auxiliary axiom) instead of the kernel.
const NATIVE_WORDS: &[&str] = &["native_decide", "native", "bv_decide"];

/// Options a proof may set with `set_option … in`. Everything else is rejected: `debug.*`
/// (for example `debug.skipKernelTC`) skips the kernel, `warn.sorry false` hides the sorry
/// warning, and the rest is not needed to prove anything.
const ALLOWED_OPTIONS: &[&str] = &[
    "maxHeartbeats",
    "maxRecDepth",
    "synthInstance.maxHeartbeats",
    "synthInstance.maxSize",
];

/// Options whose value `0` means "no limit"; a proof may raise a limit, never remove it (the
/// shadow check has a wall-clock limit, but the user's own file would not).
const LIMIT_OPTIONS: &[&str] = &[
    "maxHeartbeats",
    "maxRecDepth",
    "synthInstance.maxHeartbeats",
];

/// Tactics that reach goals other than the main one. In a focused block (a hole whose
/// declaration keeps the user's other holes) Lean's focus already hides those goals; refusing
/// these as well means no check of such a hole rests on one mechanism alone.
const OTHER_GOAL_TACTICS: &[&str] = &[
    "swap",
    "pick_goal",
    "on_goal",
    "rotate_left",
    "rotate_right",
    "case",
    "case'",
    "all_goals",
    "any_goals",
    "repeat",
    "repeat'",
    "iterate",
    "fail_if_no_progress",
    "focus",
];

/// The extra scan of a candidate that goes into a focused block: besides [`scan_candidate`],
/// no tactic that addresses other goals (see [`OTHER_GOAL_TACTICS`]).
pub fn scan_focused_candidate(proof: &str) -> Result<(), GateRejection> {
    for token in lex(proof).iter().filter(|t| t.kind == TokenKind::Ident) {
        let text = token.text(proof);
        if OTHER_GOAL_TACTICS.contains(&text) {
            return Err(GateRejection::banned(
                proof,
                format!("`{text}` beside the user's other holes"),
                token.span.start,
            ));
        }
    }
    Ok(())
}

/// Rejects a candidate that names the declaration it proves (`name` is its full name): a
/// proof never needs recursion through its own theorem, and only Lean's termination checker
/// would otherwise stand in the way.
pub fn scan_self_reference(proof: &str, full_name: &str) -> Result<(), GateRejection> {
    let short = full_name.rsplit('.').next().unwrap_or(full_name);
    for token in lex(proof).iter().filter(|t| t.kind == TokenKind::Ident) {
        let text = token.text(proof);
        let text = text.strip_prefix('@').unwrap_or(text);
        let text = text.strip_prefix("_root_.").unwrap_or(text);
        let suffix_of_name = full_name
            .strip_suffix(text)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'));
        if text == short || suffix_of_name {
            return Err(GateRejection::banned(
                proof,
                format!("`{text}`, the declaration being proved"),
                token.span.start,
            ));
        }
    }
    Ok(())
}

/// The largest value a proof may give an allowed option: far above any honest limit (Lean's
/// default `maxHeartbeats` is 200000), far below where `value * 1000` overflows a `UInt64`.
const MAX_OPTION_VALUE: u64 = 1_000_000_000;

/// Rejects a candidate proof body that uses, outside comments and strings, a construct that
/// could make Lean accept an unsound proof or run code (see [`BANNED_WORDS`], [`NATIVE_WORDS`]
/// and [`ALLOWED_OPTIONS`]; also `#`-commands, `@[…]` attributes, doc comments and unterminated
/// comments or strings).
///
/// Decisions worth knowing:
/// - `open Foo in tac` is accepted: it only changes name resolution inside `tac`.
/// - `«sorry»` is an identifier, not the `sorry` term, and Lean would report it as unknown; it is
///   rejected all the same because no honest proof needs it, and a declaration named `sorry`
///   could only come from a command, which is banned.
/// - `set_option maxRecDepth N in` is accepted for `N > 0`: it bounds elaboration, not the kernel.
/// - `#s` (Mathlib's `Finset.card` notation) is accepted: a `#` before a one-letter name (with
///   subscripts or primes) is a term; `#` before a longer name is a command such as `#eval`.
/// - Names inside syntax quotations and name literals are scanned like code: a proof never needs
///   them, and scanning them costs nothing.
pub fn scan_candidate(proof: &str, policy: &GatePolicy) -> Result<(), GateRejection> {
    let tokens = lex(proof);
    if tokens
        .iter()
        .all(|t| t.kind == TokenKind::Whitespace || t.is_comment())
    {
        return Err(GateRejection::new(RejectReason::Empty));
    }
    for token in &tokens {
        check_unterminated(proof, token)?;
        // Lean interpolates `{…}` in strings after `s!`, `m!`, `f!`, `throwError` and more,
        // written with or without a space: a brace in what we read as a string may be code.
        // The lexer splits the strings it knows are interpolated at their `{`.
        if token.kind == TokenKind::String
            && (token.text(proof).contains('{') || proof[token.span.end..].starts_with('{'))
        {
            return Err(GateRejection::banned(
                proof,
                "a string with `{` (Lean may read it as interpolated code)",
                token.span.start,
            ));
        }
    }
    let code: Vec<&Token> = tokens
        .iter()
        .filter(|t| {
            matches!(
                t.kind,
                TokenKind::Ident | TokenKind::Symbol | TokenKind::Number | TokenKind::NameLiteral
            )
        })
        .collect();
    for (index, token) in code.iter().enumerate() {
        let text = token.text(proof);
        let offset = token.span.start;
        match token.kind {
            TokenKind::Ident => {
                if let Some(word) = text.strip_prefix('#') {
                    // Should the lexer ever keep `#eval` as one token, it is still a command.
                    check_hash_word(proof, word, offset)?;
                    continue;
                }
                if text == "set_option" {
                    check_set_option(proof, &code[index + 1..], offset)?;
                    continue;
                }
                if text == "config" {
                    check_config(proof, &code[index + 1..], offset)?;
                    continue;
                }
                // Mathlib's `eval% t` (one token for Lean) runs `t` in the interpreter.
                if text == "eval"
                    && code.get(index + 1).is_some_and(|next| {
                        next.span.start == token.span.end && next.text(proof) == "%"
                    })
                {
                    return Err(GateRejection::banned(
                        proof,
                        "`eval%` (runs code while elaborating)",
                        offset,
                    ));
                }
                check_name(proof, text, offset, policy)?;
            }
            TokenKind::NameLiteral => {
                check_name(proof, text.trim_start_matches('`'), offset, policy)?;
            }
            TokenKind::Symbol => match text {
                "@[" => return Err(GateRejection::banned(proof, "an attribute `@[…]`", offset)),
                "#" => check_hash(proof, token, code.get(index + 1).copied())?,
                _ => {}
            },
            _ => {}
        }
    }
    scan_raw(proof, &code)
}

/// The scan of the raw text, with no lexer: what a comment or string could hide from the token
/// scan if our lexer read it differently from Lean. It can only add rejections.
fn scan_raw(proof: &str, code: &[&Token]) -> Result<(), GateRejection> {
    let is_word_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'\'';
    let bytes = proof.as_bytes();
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (at, byte) in bytes.iter().enumerate().chain([(bytes.len(), &b' ')]) {
        match (start, is_word_byte(*byte)) {
            (None, true) => start = Some(at),
            (Some(from), false) => {
                words.push((from, &proof[from..at]));
                start = None;
            }
            _ => {}
        }
    }
    for &(at, word) in &words {
        if RAW_BANNED_WORDS.contains(&word) {
            return Err(GateRejection::banned(proof, format!("`{word}`"), at));
        }
        if word.to_ascii_lowercase().contains("unsafe")
            || word.starts_with("dbg")
            || word.starts_with(SHADOW_NAME_PREFIX)
        {
            return Err(GateRejection::banned(proof, format!("`{word}`"), at));
        }
        // `#eval`, `#exit`, …: a `#` right before a word of two letters or more.
        let letters = word.bytes().filter(u8::is_ascii_alphabetic).count();
        if at > 0 && bytes[at - 1] == b'#' && letters > 1 {
            return Err(GateRejection::banned(
                proof,
                format!("the command `#{word}`"),
                at - 1,
            ));
        }
    }
    if let Some(at) = proof.find("@[") {
        return Err(GateRejection::banned(proof, "an attribute `@[…]`", at));
    }
    for counted in RAW_COUNTED_WORDS {
        let raw: Vec<usize> = words
            .iter()
            .filter(|(_, word)| word == counted)
            .map(|(at, _)| *at)
            .collect();
        let as_code = code
            .iter()
            .filter(|t| t.kind == TokenKind::Ident)
            .flat_map(|t| name_components(t.text(proof)))
            .filter(|component| component == counted)
            .count();
        if raw.len() > as_code {
            return Err(GateRejection::banned(
                proof,
                format!("`{counted}` inside a comment or string"),
                raw[0],
            ));
        }
    }
    Ok(())
}

/// A comment or string that runs to the end of the candidate would swallow the rest of the
/// file once spliced; a doc comment belongs to a command, and a module doc is one.
fn check_unterminated(proof: &str, token: &Token) -> Result<(), GateRejection> {
    let text = token.text(proof);
    let at = token.span.start;
    match token.kind {
        TokenKind::DocComment => Err(GateRejection::banned(proof, "a doc comment `/-- … -/`", at)),
        TokenKind::ModuleDoc => Err(GateRejection::banned(proof, "a module doc `/-! … -/`", at)),
        TokenKind::BlockComment if !block_comment_is_closed(text) => Err(GateRejection::banned(
            proof,
            "an unterminated block comment `/-`",
            at,
        )),
        TokenKind::String if token.span.end == proof.len() && !string_is_closed(text) => {
            Err(GateRejection::banned(proof, "an unterminated string", at))
        }
        _ => Ok(()),
    }
}

/// The lexer runs an unterminated comment to the end of the input; a closed one ends in `-/`
/// that is not part of its own opening `/-`.
fn block_comment_is_closed(text: &str) -> bool {
    text.len() >= 4 && text.ends_with("-/")
}

fn string_is_closed(text: &str) -> bool {
    let raw = text.starts_with('r');
    let closed = if raw {
        text.ends_with('"') || text.ends_with('#')
    } else {
        text.ends_with('"') && !text.ends_with("\\\"")
    };
    text.len() >= 2 && closed
}

/// Checks every component of a (possibly dotted, possibly `«quoted»`) name.
fn check_name(
    proof: &str,
    name: &str,
    offset: usize,
    policy: &GatePolicy,
) -> Result<(), GateRejection> {
    for component in name_components(name) {
        let bare = component.trim_start_matches('«').trim_end_matches('»');
        // `builtin_simproc`, `builtin_grind_propagator`, …: commands of Lean's own sources.
        if BANNED_WORDS.contains(&bare)
            || bare.starts_with("builtin_")
            || bare.starts_with("dbg")
            || bare.starts_with(SHADOW_NAME_PREFIX)
        {
            return Err(GateRejection::banned(proof, format!("`{bare}`"), offset));
        }
        if !policy.allow_native_decide && NATIVE_WORDS.contains(&bare) {
            return Err(GateRejection::banned(
                proof,
                format!("`{bare}` (native evaluation)"),
                offset,
            ));
        }
        // `unsafeCast`, `unsafeIO`, `unsafeBaseIO`, `ptrAddrUnsafe`: every unsafe primitive says so.
        if bare.to_lowercase().contains("unsafe") {
            return Err(GateRejection::banned(
                proof,
                format!("`{bare}` (unsafe code)"),
                offset,
            ));
        }
    }
    Ok(())
}

/// Splits `Foo.«a.b».c` into `Foo`, `«a.b»`, `c`.
fn name_components(name: &str) -> Vec<&str> {
    let mut components = Vec::new();
    let mut start = 0;
    let mut in_guillemets = false;
    for (i, c) in name.char_indices() {
        match c {
            '«' => in_guillemets = true,
            '»' => in_guillemets = false,
            '.' if !in_guillemets => {
                components.push(&name[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    components.push(&name[start..]);
    components
}

/// `set_option NAME VALUE`: only a few limits may be changed, and never to "unlimited".
fn check_set_option(proof: &str, rest: &[&Token], offset: usize) -> Result<(), GateRejection> {
    let Some(name_token) = rest.first() else {
        return Ok(());
    };
    let name = name_token.text(proof);
    if !ALLOWED_OPTIONS.contains(&name) {
        return Err(GateRejection::banned(
            proof,
            format!("`set_option {name}`"),
            offset,
        ));
    }
    let value = rest.get(1).map(|t| t.text(proof)).unwrap_or("");
    // Lean reads the value as a `Nat` and multiplies heartbeats by 1000 into a `UInt64`: a
    // huge number wraps around (to 0, "no limit", among others), so only sane values pass.
    match parse_number(value) {
        Some(0) if LIMIT_OPTIONS.contains(&name) => Err(GateRejection::banned(
            proof,
            format!("`set_option {name} 0` (no limit)"),
            offset,
        )),
        Some(number) if number <= MAX_OPTION_VALUE => Ok(()),
        _ => Err(GateRejection::banned(
            proof,
            format!("`set_option {name} {value}` (not a number up to {MAX_OPTION_VALUE})"),
            offset,
        )),
    }
}

/// `(config := { field := value, … })`: Lean evaluates the term while elaborating the tactic,
/// so it may only be a structure of literals (names, numbers, `true`/`false`).
fn check_config(proof: &str, rest: &[&Token], offset: usize) -> Result<(), GateRejection> {
    if rest.first().map(|t| t.text(proof)) != Some(":=") {
        return Ok(());
    }
    let mut depth = 0usize;
    let values = &rest[1..];
    for (index, token) in values.iter().enumerate() {
        let text = token.text(proof);
        let next = values.get(index + 1).map(|t| t.text(proof));
        let after_dot = index > 0 && values[index - 1].text(proof) == ".";
        match text {
            "{" => depth += 1,
            "}" => depth = depth.saturating_sub(1),
            ")" if depth == 0 => return Ok(()),
            "," | ":=" | "." => {}
            "true" | "false" => {}
            _ if token.kind == TokenKind::Number => {}
            // A field name, or an enumeration constructor such as `.reducible`.
            _ if token.kind == TokenKind::Ident
                && (next == Some(":=") || text.starts_with('.') || after_dot) => {}
            _ => {
                return Err(GateRejection::banned(
                    proof,
                    format!("`{text}` in a tactic configuration (Lean evaluates it)"),
                    offset,
                ));
            }
        }
    }
    Ok(())
}

fn parse_number(text: &str) -> Option<u64> {
    let digits: String = text.chars().filter(|c| *c != '_').collect();
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        u64::from_str_radix(bin, 2).ok()
    } else if let Some(oct) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        u64::from_str_radix(oct, 8).ok()
    } else {
        digits.parse().ok()
    }
}

/// `#eval`, `#exit`, `#print`, … are commands; `#s` (Mathlib's `Finset.card`), `#[…]` and
/// `#(…)` are terms.
fn check_hash(proof: &str, hash: &Token, next: Option<&Token>) -> Result<(), GateRejection> {
    let Some(next) = next else {
        return Ok(());
    };
    if next.span.start != hash.span.end || next.kind != TokenKind::Ident {
        return Ok(());
    }
    check_hash_word(proof, next.text(proof), hash.span.start)
}

fn check_hash_word(proof: &str, word: &str, offset: usize) -> Result<(), GateRejection> {
    let letters = word
        .chars()
        .filter(|c| c.is_alphabetic() && !is_subscript(*c))
        .count();
    if letters > 1 {
        return Err(GateRejection::banned(
            proof,
            format!("the command `#{word}`"),
            offset,
        ));
    }
    Ok(())
}

fn is_subscript(c: char) -> bool {
    matches!(c as u32, 0x2080..=0x209c | 0x1d62..=0x1d6a | 0x2c7c)
}

/// Lean's "declaration uses sorry" warning, in every spelling (one matcher for the project).
pub use crate::holes::is_sorry_warning;

/// Rejects axioms outside `allowed`, and always [`ALWAYS_REJECTED_AXIOMS`]. A `sorryAx` is
/// reported before any other axiom because it is the most telling.
pub fn check_axioms(axioms: &[String], allowed: &[String]) -> Result<(), GateRejection> {
    let always = axioms
        .iter()
        .filter(|a| ALWAYS_REJECTED_AXIOMS.contains(&a.as_str()))
        .min_by_key(|a| ALWAYS_REJECTED_AXIOMS.iter().position(|r| r == a));
    let unknown = axioms.iter().find(|a| !allowed.contains(a));
    match always.or(unknown) {
        Some(name) => Err(GateRejection::new(RejectReason::Axiom {
            name: name.clone(),
        })),
        None => Ok(()),
    }
}

/// [`check_axioms`] under a policy: when the user allows native evaluation, the axioms it
/// introduces (`Lean.ofReduceBool`, `Lean.trustCompiler`, and the auxiliary
/// `NAME._native.native_decide.ax_…` of newer Lean versions) are accepted too; `sorryAx` never is.
pub fn check_axioms_with_policy(
    axioms: &[String],
    policy: &GatePolicy,
) -> Result<(), GateRejection> {
    if !policy.allow_native_decide {
        return check_axioms(axioms, &policy.allowed_axioms);
    }
    let remaining: Vec<String> = axioms
        .iter()
        .filter(|a| {
            !matches!(a.as_str(), "Lean.ofReduceBool" | "Lean.trustCompiler")
                && !a.contains("._native.")
        })
        .cloned()
        .collect();
    check_axioms(&remaining, &policy.allowed_axioms)
}

const DEPENDS_MARKER: &str = "' depends on axioms:";
const INDEPENDENT_MARKER: &str = "' does not depend on any axioms";

/// Parses Lean's answer to `#print axioms NAME`: `'NAME' depends on axioms: [a, b]` or
/// `'NAME' does not depend on any axioms`. Returns `None` for any other message, or when the
/// message is about another declaration. Lean prints the full name, so `NAME` also matches a
/// namespaced or private name ending in `.NAME`; long lists may wrap over lines.
pub fn parse_print_axioms(message: &str, name: &str) -> Option<Vec<String>> {
    let message = message.trim();
    let quoted = message.strip_prefix('\'')?;
    let (printed_name, rest) = if let Some(at) = quoted.find(DEPENDS_MARKER) {
        (&quoted[..at], Some(&quoted[at + DEPENDS_MARKER.len()..]))
    } else if let Some(at) = quoted.find(INDEPENDENT_MARKER) {
        (&quoted[..at], None)
    } else {
        return None;
    };
    if !same_declaration(printed_name, name) {
        return None;
    }
    let Some(list) = rest else {
        return Some(Vec::new());
    };
    let list = list.trim();
    let inner = list.strip_prefix('[')?.strip_suffix(']')?;
    Some(
        inner
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

fn same_declaration(printed: &str, asked: &str) -> bool {
    let asked = asked.strip_prefix("_root_.").unwrap_or(asked);
    printed == asked || printed.ends_with(&format!(".{asked}"))
}

/// Serialises a `Duration` as whole milliseconds, which is what a JSON report reader expects.
mod duration_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        serializer.serialize_u64(millis)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banned(proof: &str) -> Option<(String, usize)> {
        match scan_candidate(proof, &GatePolicy::default()) {
            Err(GateRejection {
                reason: RejectReason::Banned { construct, offset },
                ..
            }) => Some((construct, offset)),
            _ => None,
        }
    }

    #[test]
    fn sorry_is_rejected_with_its_position_but_not_in_comments_or_strings() {
        assert_eq!(banned("simp\nsorry"), Some(("`sorry`".to_owned(), 5)));
        assert_eq!(banned("simp -- no sorry here\nomega"), None);
        assert_eq!(banned("/- sorry /- nested sorry -/ -/ omega"), None);
        assert_eq!(banned("exact (\"sorry\" : String).length_pos"), None);
    }

    #[test]
    fn code_running_and_goal_admitting_tactics_are_rejected_but_their_look_alikes_are_not() {
        assert!(banned("exact (eval% 2 ^ 10 : ℕ) ▸ rfl").is_some());
        assert!(banned("plausible").is_some());
        assert!(banned("polyrith").is_some());
        assert!(banned("apply?").is_some());
        assert!(banned("constructor <;> hint").is_some());
        assert_eq!(banned("apply Nat.le_succ"), None);
        assert_eq!(banned("exact?"), None);
        assert_eq!(banned("simp [Polynomial.eval_add, Polynomial.eval]"), None);
        assert_eq!(banned("have : n%2 = 0 := h\nomega"), None);
    }

    #[test]
    fn commands_that_are_no_tactic_are_rejected_anywhere_in_the_proof() {
        for command in [
            "notation3 \"x\" => True",
            "proof_wanted evil : False",
            "unseal Nat.add",
            "unif_hint (n : ℕ) where |- n + 0 =?= n",
            "builtin_simproc [simp] evil (_) := fun _ => return .continue",
        ] {
            let proof = format!("omega\n{command}");
            assert!(banned(&proof).is_some(), "{command}");
        }
    }

    #[test]
    fn interpolated_code_is_scanned_but_its_text_is_not() {
        assert_eq!(banned("exact s!\"sorry\".length"), None);
        assert!(banned("exact s!\"{(sorry : Nat)}\".length").is_some());
    }

    #[test]
    fn native_evaluation_depends_on_the_policy() {
        let allow = GatePolicy {
            allow_native_decide: true,
            ..GatePolicy::default()
        };
        for proof in [
            "native_decide",
            "decide +native",
            "decide (config := {native := true})",
        ] {
            assert!(banned(proof).is_some(), "{proof}");
            assert_eq!(scan_candidate(proof, &allow), Ok(()), "{proof}");
        }
        assert!(scan_candidate("exact Lean.ofReduceBool _ _ rfl", &allow).is_err());
    }

    #[test]
    fn set_option_allows_raising_limits_only() {
        assert_eq!(
            banned("set_option maxHeartbeats 400000 in\nnlinarith"),
            None
        );
        assert_eq!(banned("set_option maxRecDepth 2000 in simp"), None);
        assert!(banned("set_option maxHeartbeats 0 in nlinarith").is_some());
        assert!(banned("set_option debug.skipKernelTC true in simp").is_some());
        assert!(banned("set_option warn.sorry false in simp").is_some());
    }

    #[test]
    fn hash_commands_are_rejected_but_card_notation_is_not() {
        assert!(banned("#eval 1").is_some());
        assert!(banned("simp\n#exit").is_some());
        assert_eq!(banned("simp [Finset.card_eq_three] at #s ⊢"), None);
        assert_eq!(banned("exact #[1, 2].size_pos"), None);
    }

    #[test]
    fn unterminated_comments_and_strings_are_rejected() {
        assert!(banned("simp /- the rest of the file").is_some());
        assert!(banned("exact \"open").is_some());
        assert!(banned("/-- doc -/ simp").is_some());
    }

    #[test]
    fn the_raw_text_is_scanned_for_code_a_misread_comment_or_string_could_hide() {
        for proof in [
            "omega //-\n#eval IO.Process.exit 0\n-/",
            "omega -- set_option debug.skipKernelTC true in",
            "omega /- dbgTrace -/",
            "exact (m! \"{h}\").length_pos",
            "have := include_str \"/etc/passwd\"\nomega",
            "omega\nдmacro_rules | _ => sorry",
            "simp (config := { maxSteps := dbgTraceVal 5 })",
            "simp (config := (fun _ => {}) ())",
            "set_option maxHeartbeats 18446744073709552 in\nomega",
            "unlock_limits\nomega",
            "exact _sorryfill_hole_0",
        ] {
            assert!(banned(proof).is_some(), "{proof}");
        }
        assert_eq!(
            banned("simp (config := { decide := true, zeta := false })"),
            None
        );
        assert_eq!(banned("intro x\n-- sorry, this was hard\nexact x.2"), None);
    }

    #[test]
    fn a_focused_block_refuses_tactics_that_reach_other_goals_and_nobody_may_name_itself() {
        for proof in [
            "swap\nexact h",
            "case right => exact h",
            "all_goals simp",
            "on_goal 2 => simp",
        ] {
            assert!(scan_focused_candidate(proof).is_err(), "{proof}");
        }
        assert!(scan_focused_candidate("constructor <;> simp").is_ok());
        assert!(scan_self_reference("exact Foo.t", "Foo.t").is_err());
        assert!(scan_self_reference("exact t", "Foo.t").is_err());
        assert!(scan_self_reference("exact Nat.t", "Foo.t").is_ok());
    }

    #[test]
    fn empty_proofs_are_rejected() {
        let reject = scan_candidate("  -- nothing\n", &GatePolicy::default());
        assert_eq!(reject.map_err(|r| r.reason), Err(RejectReason::Empty));
    }

    #[test]
    fn ordinary_proofs_pass() {
        for proof in [
            "simp [h]",
            "omega",
            "exact h.trans (le_of_lt h')",
            "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b)]",
            "open Classical in\nexact em p",
            "intro x\n-- sorry, this was hard\nexact x.2",
            "rcases h with ⟨x, rfl⟩ <;> simp_all",
            "exact?",
        ] {
            assert_eq!(
                scan_candidate(proof, &GatePolicy::default()),
                Ok(()),
                "{proof}"
            );
        }
    }

    #[test]
    fn rejection_display_names_the_construct_and_line() {
        let rejection = scan_candidate("simp\n  exact sorry", &GatePolicy::default())
            .expect_err("sorry is banned");
        let shown = rejection.to_string();
        assert!(
            shown.contains("`sorry`") && shown.contains("exact sorry"),
            "{shown}"
        );
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn axioms_outside_the_allow_list_reject() {
        let allowed = GatePolicy::default().allowed_axioms;
        assert_eq!(
            check_axioms(&strings(&["propext", "Quot.sound"]), &allowed),
            Ok(())
        );
        let reject = |axioms: &[&str], allowed: &[String]| {
            check_axioms(&strings(axioms), allowed).map_err(|r| r.reason)
        };
        assert_eq!(
            reject(&["propext", "sorryAx"], &allowed),
            Err(RejectReason::Axiom {
                name: "sorryAx".into()
            })
        );
        assert_eq!(
            reject(&["myAxiom", "sorryAx"], &allowed),
            Err(RejectReason::Axiom {
                name: "sorryAx".into()
            }),
            "sorryAx is named first"
        );
        assert_eq!(
            reject(&["false_theorem._native.native_decide.ax_1_1"], &allowed),
            Err(RejectReason::Axiom {
                name: "false_theorem._native.native_decide.ax_1_1".into()
            })
        );
        let everything = strings(&["sorryAx", "Lean.ofReduceBool"]);
        assert!(
            reject(&["Lean.ofReduceBool"], &everything).is_err(),
            "always rejected"
        );
    }

    #[test]
    fn native_policy_accepts_compiler_axioms_but_never_sorry() {
        let policy = GatePolicy {
            allow_native_decide: true,
            ..GatePolicy::default()
        };
        let native = strings(&[
            "propext",
            "Lean.ofReduceBool",
            "t._native.native_decide.ax_1_1",
        ]);
        assert_eq!(check_axioms_with_policy(&native, &policy), Ok(()));
        assert!(check_axioms_with_policy(&strings(&["sorryAx"]), &policy).is_err());
        assert!(check_axioms_with_policy(&native, &GatePolicy::default()).is_err());
    }

    #[test]
    fn print_axioms_messages_parse() {
        assert_eq!(
            parse_print_axioms("'flt' depends on axioms: [sorryAx]", "flt"),
            Some(strings(&["sorryAx"]))
        );
        assert_eq!(
            parse_print_axioms(
                "'Foo.bar'' depends on axioms: [propext,\n Classical.choice,\n Quot.sound]",
                "bar'"
            ),
            Some(strings(&["propext", "Classical.choice", "Quot.sound"]))
        );
        assert_eq!(
            parse_print_axioms("'t' does not depend on any axioms", "t"),
            Some(vec![])
        );
        assert_eq!(
            parse_print_axioms("'other' does not depend on any axioms", "t"),
            None
        );
        assert_eq!(parse_print_axioms("unknown constant 't'", "t"), None);
    }

    #[test]
    fn verdicts_serialise_for_the_json_report() {
        let verdict = GateVerdict::Rejected {
            reason: RejectReason::Timeout {
                after: Duration::from_secs(20),
            },
        };
        let json = serde_json::to_value(&verdict).expect("verdicts serialise");
        assert_eq!(
            json,
            serde_json::json!({"verdict": "rejected", "reason": {"kind": "timeout", "after_ms": 20000}})
        );
        let back: GateVerdict = serde_json::from_value(json).expect("and deserialise");
        assert_eq!(back, verdict);
        assert_eq!(
            RejectReason::Timeout {
                after: Duration::from_secs(20)
            }
            .to_string(),
            "Lean did not finish checking within 20.0 s"
        );
    }
}
