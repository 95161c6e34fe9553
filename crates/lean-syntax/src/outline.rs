//! Splitting a Lean file into its header and top-level commands.
//!
//! Invariants: command spans are sorted, disjoint, and tile the text from the first command to
//! the end (trailing comments and whitespace belong to the command before them); the header
//! covers the leading `import`/`module`/`prelude` commands.
//!
//! Simplification (documented): Lean splits commands by its grammar; here a command starts at a
//! command keyword that is the first token on its line, outside any comment or string. This is
//! how Mathlib-style files are written. `open`, `set_option`, `attribute`, `omit`, `include`,
//! Batteries' and Mathlib's commands (`alias`, `irreducible_def`, …) and `#…` commands (any `#`
//! word) must start in column 0, because the same words are also tactics or could stand on a
//! line of an indented proof. A command we do not know (a project's own syntax) joins the command
//! before it; Lean's own bounds in the judgement then refuse every check of that declaration.
//! Declarations begin at their doc comment, `@[attributes]` or modifiers. A command ending in
//! `in` (`open Foo in`, `set_option … in`, `#guard_msgs in`) joins the command after it.

use crate::lexer::{Token, TokenKind, lex};
use std::ops::Range;

/// A file's header and top-level commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// Byte range of the leading `import`/`module`/`prelude` commands (empty if none).
    pub header: Range<usize>,
    /// Every command, header commands included, in source order.
    pub commands: Vec<Command>,
}

/// One top-level command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Byte range, from its first token (doc comment, attribute, modifier, or keyword) up to the
    /// next command.
    pub span: Range<usize>,
    /// The command keyword (`theorem`, `def`, `open`, `namespace`, `#print`, …). For a command
    /// joined by `… in`, the keyword of the inner command.
    pub keyword: String,
    /// What kind of command this is.
    pub kind: CommandKind,
    /// Declared or opened name and its byte range (`theorem foo`, `namespace Foo`,
    /// `section Bar`, `end Foo`), if any.
    pub name: Option<(String, Range<usize>)>,
}

/// The kind of a [`Command`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    /// `theorem lemma def abbrev example instance structure class inductive axiom opaque`.
    Declaration,
    /// `namespace`.
    Namespace,
    /// `section` (also `noncomputable section`).
    Section,
    /// `end`.
    End,
    /// `open`.
    Open,
    /// `variable`.
    Variable,
    /// `universe`.
    Universe,
    /// `set_option` (without `in`).
    SetOption,
    /// `import`, `module`, `prelude`.
    Import,
    /// Any other command (`#check`, `macro`, `attribute`, `notation`, …).
    Other,
}

/// Keywords that begin a declaration.
pub const DECLARATION_KEYWORDS: &[&str] = &[
    "theorem",
    "lemma",
    "def",
    "abbrev",
    "example",
    "instance",
    "structure",
    "class",
    "inductive",
    "axiom",
    "opaque",
];

/// Modifiers that may precede a declaration keyword.
pub const MODIFIERS: &[&str] = &[
    "private",
    "protected",
    "noncomputable",
    "partial",
    "unsafe",
    "nonrec",
    "scoped",
    "local",
    "public",
];

/// Other command keywords recognised at the start of a line.
pub const COMMAND_KEYWORDS: &[&str] = &[
    "open",
    "namespace",
    "section",
    "end",
    "variable",
    "universe",
    "set_option",
    "attribute",
    "#check",
    "#eval",
    "#print",
    "#exit",
    "#guard_msgs",
    "#reduce",
    "#synth",
    "#help",
    "#lint",
    "#align",
    "macro",
    "macro_rules",
    "syntax",
    "elab",
    "elab_rules",
    "notation",
    "infix",
    "infixl",
    "infixr",
    "prefix",
    "postfix",
    "mutual",
    "deriving",
    "initialize",
    "builtin_initialize",
    "run_cmd",
    "declare_syntax_cat",
    "import",
    "module",
    "prelude",
];

/// Keywords that only start a command in column 0, because they are also tactics.
const COLUMN_ZERO_ONLY: &[&str] = &["open", "set_option", "attribute"];

/// Commands that start a command only in column 0: `omit`, `include` and `export` (before a
/// declaration they end in `in`), and Batteries' and Mathlib's commands that follow
/// declarations in Mathlib-style files. Words a proof could hold on a line of its own.
const COLUMN_ZERO_COMMANDS: &[&str] = &[
    "omit",
    "include",
    "export",
    "alias",
    "irreducible_def",
    "proof_wanted",
    "suppress_compilation",
    "unsuppress_compilation",
    "assert_not_exists",
    "assert_not_imported",
    "library_note",
    "add_decl_doc",
    "initialize_simps_projections",
    "register_option",
    "seal",
    "unseal",
    "recall",
    "grind_pattern",
    "unif_hint",
    "notation3",
    "simproc",
    "dsimproc",
    "simproc_decl",
    "dsimproc_decl",
    "register_simp_attr",
    "run_meta",
    "run_elab",
    "compile_inductive",
    "compile_def",
    "add_aesop_rules",
    "erase_aesop_rules",
    "declare_aesop_rule_sets",
    "mk_iff_of_inductive_prop",
    "count_heartbeats",
    "whatsnew",
    "recommended_spelling",
    "register_label_attr",
    "norm_cast_add_elim",
    "name_poly_vars",
    "extend_docs",
    "deprecated_module",
    "register_linter_set",
    "register_builtin_option",
    "declare_simp_like_tactic",
    "register_tactic_tag",
    "tactic_extension",
    "register_error_explanation",
    "unlock_limits",
    // compfiles' commands: `snip begin`/`snip end` around helper lemmas, `determine` for an
    // answer and `problem` for the statement (see [`COLUMN_ZERO_DECLARATIONS`]).
    "snip",
    "determine",
    "problem",
];

/// Declarations of a syntax of their own that start a command only in column 0, being
/// ordinary words elsewhere: compfiles' `problem`, "a synonym for `theorem`", and its
/// `determine`, the answer a problem's statement names (an `abbrev`).
const COLUMN_ZERO_DECLARATIONS: &[&str] = &["problem", "determine"];

/// Splits `src` into header and commands.
pub fn outline(src: &str) -> Outline {
    outline_tokens(src, &lex(src))
}

/// Like [`outline`], reusing tokens already produced by [`lex`] for `src`.
pub fn outline_tokens(src: &str, tokens: &[Token]) -> Outline {
    Outline::from_commands(split_commands(src, tokens).commands)
}

impl Outline {
    /// The outline of a file's commands, in source order: the header is the leading run of
    /// `import`-like commands.
    pub fn from_commands(commands: Vec<Command>) -> Self {
        let header_end = commands
            .iter()
            .take_while(|c| c.kind == CommandKind::Import)
            .last()
            .map_or(0, |c| c.span.end);
        Outline {
            header: 0..header_end,
            commands,
        }
    }
}

/// The scopes open while walking a file's commands in order, to name declarations as Lean
/// does (`namespace A` … `theorem b` is `A.b`).
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    open: Vec<Scope>,
}

/// One open scope.
#[derive(Debug, Clone)]
enum Scope {
    /// `namespace A.B` (no name when our reader found none).
    Namespace(Option<String>),
    /// `section`, named or not: it adds nothing to names.
    Section,
    /// `mutual … end`: adds nothing to names either, but Lean elaborates its declarations
    /// together.
    Mutual,
}

impl Scopes {
    /// Enters or leaves the scope that `command` opens or closes.
    pub fn step(&mut self, command: &Command) {
        match command.kind {
            CommandKind::Namespace => self.open.push(Scope::Namespace(
                command.name.as_ref().map(|(name, _)| name.clone()),
            )),
            CommandKind::Section => self.open.push(Scope::Section),
            _ if command.keyword == "mutual" => self.open.push(Scope::Mutual),
            CommandKind::End => {
                self.open.pop();
            }
            _ => {}
        }
    }

    /// `name`, declared here, qualified by the open namespaces (`_root_.x` is just `x`).
    pub fn qualify(&self, name: &str) -> String {
        if let Some(root) = name.strip_prefix("_root_.") {
            return root.to_owned();
        }
        let mut qualified = String::new();
        for scope in &self.open {
            if let Scope::Namespace(Some(namespace)) = scope {
                qualified.push_str(namespace);
                qualified.push('.');
            }
        }
        qualified.push_str(name);
        qualified
    }

    /// True inside a `mutual … end` block.
    pub fn in_mutual_block(&self) -> bool {
        self.open.iter().any(|scope| matches!(scope, Scope::Mutual))
    }
}

/// Commands found in a run of tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitCommands {
    /// The commands; the last one ends where the tokens end.
    pub commands: Vec<Command>,
    /// True when the tokens end in a way that may bind to what follows: an unfinished doc
    /// comment / attribute / modifier prefix, or a command ending in `in`.
    pub open_end: bool,
}

/// Splits a contiguous run of tokens of `src` that starts at a command start (or the start of
/// the file) into commands. Used by [`outline`] and by incremental re-scans of a region.
pub fn split_commands(src: &str, tokens: &[Token]) -> SplitCommands {
    let (starts, pending_prefix) = command_starts(src, tokens);
    let tokens_end = tokens.last().map_or(0, |t| t.span.end);
    let mut commands: Vec<Command> = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let end = starts
            .get(i + 1)
            .map_or(tokens_end, |next| tokens[next.first_token].span.start);
        let span = tokens[start.first_token].span.start..end;
        commands.push(describe(src, tokens, start, span));
    }
    let (commands, carried_in) = join_in_commands(src, tokens, commands, tokens_end);
    SplitCommands {
        commands,
        open_end: pending_prefix || carried_in,
    }
}

/// Where a command starts: its first token and the index of its keyword token.
struct Start {
    first_token: usize,
    keyword_token: usize,
}

/// Finds every command start by the line-start rule; also says whether the tokens end inside
/// an unfinished declaration prefix.
fn command_starts(src: &str, tokens: &[Token]) -> (Vec<Start>, bool) {
    let mut starts = Vec::new();
    // The first token of a pending doc comment / attribute / modifier prefix.
    let mut pending: Option<usize> = None;
    let mut at_line_start = true;
    let mut column_zero = true;
    let mut bracket_depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let text = token.text(src);
        match token.kind {
            TokenKind::Whitespace => {
                if text.contains('\n') {
                    at_line_start = true;
                    column_zero = text.ends_with('\n');
                } else if i == 0 {
                    column_zero = false;
                }
                i += 1;
                continue;
            }
            TokenKind::LineComment | TokenKind::BlockComment | TokenKind::ModuleDoc => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let line_start = at_line_start;
        let col0 = column_zero && line_start;
        at_line_start = false;
        column_zero = false;
        if token.in_quotation {
            i += 1;
            continue;
        }
        // Inside `@[ … ]` nothing starts a command.
        if bracket_depth > 0 {
            match text {
                "[" | "@[" => bracket_depth += 1,
                "]" => bracket_depth -= 1,
                _ => {}
            }
            i += 1;
            continue;
        }
        let continues_prefix = pending.is_some();
        if token.kind == TokenKind::DocComment && (line_start || continues_prefix) {
            pending.get_or_insert(i);
        } else if text == "@[" && (line_start || continues_prefix) {
            pending.get_or_insert(i);
            bracket_depth = 1;
        } else if token.kind == TokenKind::Ident
            && MODIFIERS.contains(&text)
            && (line_start || continues_prefix)
        {
            pending.get_or_insert(i);
        } else if text == "[" && continues_prefix && tokens[i - 1].text(src) == "scoped" {
            // Mathlib's `scoped[NS] notation …`: the namespace belongs to the modifier.
            bracket_depth = 1;
        } else if token.kind == TokenKind::Ident
            && (line_start || continues_prefix)
            && is_command_keyword(src, tokens, i, col0 || continues_prefix)
        {
            starts.push(Start {
                first_token: pending.take().unwrap_or(i),
                keyword_token: i,
            });
        } else {
            pending = None;
        }
        i += 1;
    }
    (starts, pending.is_some() || bracket_depth > 0)
}

fn is_command_keyword(src: &str, tokens: &[Token], i: usize, col0: bool) -> bool {
    let text = tokens[i].text(src);
    if DECLARATION_KEYWORDS.contains(&text) {
        return true;
    }
    // `#adaptation_note`, `#guard_expr`, a project's own `#…` command: in column 0 a `#` word
    // is a command, whichever it is.
    let hash_command = text.len() > 1 && text.starts_with('#');
    if col0 && (hash_command || COLUMN_ZERO_COMMANDS.contains(&text)) {
        return true;
    }
    if !COMMAND_KEYWORDS.contains(&text) {
        return false;
    }
    if COLUMN_ZERO_ONLY.contains(&text) || text.starts_with('#') {
        return col0;
    }
    if text == "deriving" {
        return next_significant(tokens, i).is_some_and(|j| tokens[j].text(src) == "instance");
    }
    true
}

fn next_significant(tokens: &[Token], i: usize) -> Option<usize> {
    (i + 1..tokens.len()).find(|&j| !tokens[j].is_trivia())
}

fn describe(src: &str, tokens: &[Token], start: &Start, span: Range<usize>) -> Command {
    let keyword = tokens[start.keyword_token].text(src).to_owned();
    let kind = match keyword.as_str() {
        k if DECLARATION_KEYWORDS.contains(&k) || COLUMN_ZERO_DECLARATIONS.contains(&k) => {
            CommandKind::Declaration
        }
        "namespace" => CommandKind::Namespace,
        "section" => CommandKind::Section,
        "end" => CommandKind::End,
        "open" => CommandKind::Open,
        "variable" => CommandKind::Variable,
        "universe" => CommandKind::Universe,
        "set_option" => CommandKind::SetOption,
        "import" | "module" | "prelude" => CommandKind::Import,
        _ => CommandKind::Other,
    };
    let name = match kind {
        CommandKind::Declaration => declaration_name(src, tokens, start.keyword_token, &span),
        CommandKind::Namespace | CommandKind::Section | CommandKind::End => {
            next_significant(tokens, start.keyword_token)
                .filter(|&j| {
                    tokens[j].kind == TokenKind::Ident
                        && tokens[j].span.end <= span.end
                        && same_line(
                            src,
                            tokens[start.keyword_token].span.end,
                            tokens[j].span.start,
                        )
                })
                .map(|j| (tokens[j].text(src).to_owned(), tokens[j].span.clone()))
        }
        _ => None,
    };
    Command {
        span,
        keyword,
        kind,
        name,
    }
}

fn same_line(src: &str, from: usize, to: usize) -> bool {
    !src[from..to].contains('\n')
}

/// The declared name: the identifier right after the keyword (after `(priority := …)` for an
/// instance). `example` and anonymous instances have none.
fn declaration_name(
    src: &str,
    tokens: &[Token],
    keyword_token: usize,
    span: &Range<usize>,
) -> Option<(String, Range<usize>)> {
    let keyword = tokens[keyword_token].text(src);
    if keyword == "example" {
        return None;
    }
    let mut j = next_significant(tokens, keyword_token)?;
    if keyword == "instance" && tokens[j].text(src) == "(" {
        // Skip `(priority := low)`.
        let mut depth = 0usize;
        loop {
            match tokens[j].text(src) {
                "(" => depth += 1,
                ")" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            j = next_significant(tokens, j)?;
        }
        j = next_significant(tokens, j)?;
    }
    let token = &tokens[j];
    let text = token.text(src);
    let is_name = token.kind == TokenKind::Ident
        && token.span.end <= span.end
        && !matches!(text, "where" | "extends");
    is_name.then(|| (text.to_owned(), token.span.clone()))
}

/// Joins each command whose last significant token is `in` with the command after it.
/// Also returns whether the last command ended in `in` with nothing to join.
fn join_in_commands(
    src: &str,
    tokens: &[Token],
    commands: Vec<Command>,
    tokens_end: usize,
) -> (Vec<Command>, bool) {
    let mut joined: Vec<Command> = Vec::with_capacity(commands.len());
    // The pending `… in` command whose span the next command absorbs.
    let mut carry: Option<Command> = None;
    for command in commands {
        let start = carry.take().map_or(command.span.start, |c| c.span.start);
        let ends_in_in = last_significant_text(src, tokens, &command.span) == Some("in");
        let command = Command {
            span: start..command.span.end,
            ..command
        };
        if ends_in_in {
            carry = Some(command);
        } else {
            joined.push(command);
        }
    }
    let carried = carry.is_some();
    if let Some(mut command) = carry {
        // A trailing `… in` with nothing after it stays its own command.
        command.span.end = tokens_end;
        joined.push(command);
    }
    (joined, carried)
}

/// One `… in` part before a command: in `open Foo in theorem t …` the part is `open Foo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InPrefix {
    /// The part's command keyword (`open`, `set_option`, `#guard_msgs`, …).
    pub keyword: String,
    /// The part's command, from its first token to the end of its last token before `in`.
    pub command: Range<usize>,
}

/// The `… in` parts that [`split_commands`] joined into `command` (a command of `src`), outermost
/// first, and where the innermost command starts. Empty parts and the command's own start when
/// nothing was joined.
pub fn in_prefixes(src: &str, command: &Command) -> (Vec<InPrefix>, usize) {
    let Some(text) = src.get(command.span.clone()) else {
        return (Vec::new(), command.span.start);
    };
    // A command starts outside any comment or string, so its text lexes as it does in place.
    let base = command.span.start;
    let tokens = lex(text);
    let (starts, _) = command_starts(text, &tokens);
    let mut prefixes = Vec::new();
    let mut inner_start = base;
    for (i, start) in starts.iter().enumerate() {
        let part_start = tokens[start.first_token].span.start;
        let Some(next) = starts.get(i + 1) else {
            inner_start = base + part_start;
            break;
        };
        let part_end = tokens[next.first_token].span.start;
        let significant: Vec<&Token> = tokens
            .iter()
            .filter(|t| t.span.start >= part_start && t.span.end <= part_end && !t.is_trivia())
            .collect();
        let [.., before_in, last] = significant.as_slice() else {
            return (Vec::new(), command.span.start);
        };
        if last.text(text) != "in" {
            // Not a joined command after all: nothing here is an `… in` part.
            return (Vec::new(), command.span.start);
        }
        prefixes.push(InPrefix {
            keyword: tokens[start.keyword_token].text(text).to_owned(),
            command: base + part_start..base + before_in.span.end,
        });
    }
    (prefixes, inner_start)
}

fn last_significant_text<'a>(
    src: &'a str,
    tokens: &[Token],
    span: &Range<usize>,
) -> Option<&'a str> {
    let end = tokens.partition_point(|t| t.span.start < span.end);
    tokens[..end]
        .iter()
        .rev()
        .take_while(|t| t.span.start >= span.start)
        .find(|t| !t.is_trivia())
        .map(|t| t.text(src))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(src: &str) -> Vec<(String, CommandKind, Option<String>, String)> {
        outline(src)
            .commands
            .into_iter()
            .map(|c| {
                (
                    c.keyword,
                    c.kind,
                    c.name.map(|n| n.0),
                    src[c.span].trim().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn splits_a_small_file() {
        let src = "import Mathlib\nimport Foo\n\nopen Nat Real\n\n/-- doc -/\n@[simp]\nprivate theorem foo (x : ℕ) : x = x := by\n  open Foo in\n  rfl\n\nexample : True := trivial\nnamespace Bar\nend Bar\n";
        let out = outline(src);
        assert_eq!(&src[out.header.clone()], "import Mathlib\nimport Foo\n\n");
        let s = summary(src);
        let keywords: Vec<_> = s.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            keywords,
            vec![
                "import",
                "import",
                "open",
                "theorem",
                "example",
                "namespace",
                "end"
            ]
        );
        assert!(s[3].3.starts_with("/-- doc -/"), "{:?}", s[3]);
        assert!(
            s[3].3.ends_with("rfl"),
            "tactic `open … in` stays inside the proof"
        );
        assert_eq!(s[3].2.as_deref(), Some("foo"));
        assert_eq!(s[4].2, None);
        assert_eq!(s[5].2.as_deref(), Some("Bar"));
    }

    #[test]
    fn open_in_joins_the_declaration() {
        let src = "open Real in\ntheorem t : 1 = 1 := rfl\nset_option maxHeartbeats 0 in\n/-- info: x -/\n#guard_msgs(warning) in\nexample : True := trivial\n";
        let s = summary(src);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].0, "theorem");
        assert!(s[0].3.starts_with("open Real in"));
        assert_eq!(s[1].0, "example");
        assert_eq!(s[1].1, CommandKind::Declaration);
        assert!(s[1].3.starts_with("set_option"));
    }

    #[test]
    fn in_prefixes_are_the_joined_parts_outermost_first() {
        let src = "def x := 1\nopen Real in\nset_option maxHeartbeats 0 in -- why\n/-- doc -/\ntheorem t : 1 = 1 := rfl\n";
        let outline = outline(src);
        let (prefixes, inner) = in_prefixes(src, &outline.commands[1]);
        let parts: Vec<(&str, &str)> = prefixes
            .iter()
            .map(|p| (p.keyword.as_str(), &src[p.command.clone()]))
            .collect();
        assert_eq!(
            parts,
            [
                ("open", "open Real"),
                ("set_option", "set_option maxHeartbeats 0")
            ]
        );
        assert!(src[inner..].starts_with("/-- doc -/\ntheorem t"));
        let (none, start) = in_prefixes(src, &outline.commands[0]);
        assert!(none.is_empty());
        assert_eq!(start, 0);
    }

    #[test]
    fn mathlib_commands_after_a_declaration_are_commands_of_their_own() {
        let src = "theorem a : True := by\n  trivial\n\nalias b := a\n\n#adaptation_note /-- x -/\n\nomit [Fintype α] in\ninclude h in\ntheorem c : True := by\n  sorry\n";
        let s = summary(src);
        let keywords: Vec<&str> = s.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            keywords,
            ["theorem", "alias", "#adaptation_note", "theorem"],
            "{s:?}"
        );
        assert!(
            s[3].3
                .starts_with("omit [Fintype α] in\ninclude h in\ntheorem c")
        );
        let outline = outline(src);
        let (prefixes, _) = in_prefixes(src, &outline.commands[3]);
        let keywords: Vec<&str> = prefixes.iter().map(|p| p.keyword.as_str()).collect();
        assert_eq!(keywords, ["omit", "include"]);
    }

    #[test]
    fn keywords_in_comments_and_strings_do_not_split() {
        let src = "def a := \"\ntheorem x\"\n/-\ntheorem y\n-/\n-- theorem z\ndef b := 1\n";
        let s = summary(src);
        assert_eq!(s.len(), 2, "{s:?}");
    }

    #[test]
    fn mathlib_commands_after_a_declaration_start_commands_of_their_own() {
        let src = "theorem a : True := by\n  trivial\nnotation3 \"∑' \"(...)\", \"r:67:(scoped f => tsum f) => r\nscoped[Foo] notation \"𝔼\" => 1\nlocal notation \"ℙ\" => 2\ncount_heartbeats in\ntheorem b : True := by\n  sorry\nsimproc reduceFoo (foo _) := fun _ => return .continue\n";
        let s = summary(src);
        let keywords: Vec<&str> = s.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            keywords,
            [
                "theorem",
                "notation3",
                "notation",
                "notation",
                "theorem",
                "simproc"
            ],
            "{s:?}"
        );
        let outline = outline(src);
        assert!(
            src[outline.commands[0].span.clone()]
                .trim_end()
                .ends_with("trivial")
        );
        assert!(src[outline.commands[2].span.clone()].starts_with("scoped[Foo] notation"));
        // `count_heartbeats in` prefixes the theorem, as `open … in` does.
        assert!(
            src[outline.commands[4].span.clone()].starts_with("count_heartbeats in\ntheorem b")
        );
        let (prefixes, _) = in_prefixes(src, &outline.commands[4]);
        assert_eq!(prefixes[0].keyword, "count_heartbeats");
    }

    #[test]
    fn compfiles_commands_after_a_lemma_start_commands_of_their_own() {
        let src = "snip begin\n\nlemma l : True := by\n  sorry\n\nsnip end\n\ndetermine answer : ℕ := 9\n\nproblem p : answer = 9 := by\n  sorry\n";
        let s = summary(src);
        let keywords: Vec<&str> = s.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            keywords,
            ["snip", "lemma", "snip", "determine", "problem"],
            "{s:?}"
        );
        assert!(
            s[1].3.ends_with("sorry"),
            "the lemma ends at its proof: {s:?}"
        );
        assert_eq!(
            (s[3].1, s[3].2.as_deref()),
            (CommandKind::Declaration, Some("answer"))
        );
        assert_eq!(
            (s[4].1, s[4].2.as_deref()),
            (CommandKind::Declaration, Some("p"))
        );
    }

    #[test]
    fn instance_names_and_priority() {
        let s = summary("instance (priority := low) foo : Bar := x\ninstance : Baz := y\n");
        assert_eq!(s[0].2.as_deref(), Some("foo"));
        assert_eq!(s[1].2, None);
    }
}
