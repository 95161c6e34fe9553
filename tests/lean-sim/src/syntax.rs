//! lean-sim's own reading of Lean's syntax: tokens, commands, declaration signatures.
//!
//! It is written from Lean's grammar (`Lean/Parser/Basic.lean` for tokens, `Command.lean`,
//! `Term.lean` and `Tactic.lean` for where commands and tactic blocks end), NOT shared with the
//! product's `lean-syntax` crate, so that a misreading in either one shows up as a disagreement
//! in tests instead of both agreeing on the same bug. It is deliberately small; README.md lists
//! where it simplifies.
//!
//! Invariants: `lex` never panics and its tokens are contiguous and cover every byte; every
//! span is on `char` boundaries; commands are sorted and disjoint.

use std::ops::Range;

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Its bytes.
    pub span: Range<usize>,
    /// Inside a syntax quotation `` `(…) `` (the quotation's own brackets included).
    pub in_quotation: bool,
}

impl Token {
    /// The token's text.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.span.clone()).unwrap_or("")
    }

    /// Whitespace and non-doc comments: what Lean's `whitespace` function skips.
    pub fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// Any comment, doc comments included.
    pub fn is_comment(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::LineComment
                | TokenKind::BlockComment
                | TokenKind::DocComment
                | TokenKind::ModuleDoc
        )
    }

    /// Code that elaborates in this file: an identifier, number or symbol outside quotations.
    pub fn is_code(&self) -> bool {
        !self.in_quotation
            && matches!(
                self.kind,
                TokenKind::Ident | TokenKind::Number | TokenKind::Symbol
            )
    }
}

/// The kind of a [`Token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Spaces, tabs, newlines.
    Whitespace,
    /// `-- …` to the end of the line.
    LineComment,
    /// `/- … -/`, nested.
    BlockComment,
    /// `/-- … -/`.
    DocComment,
    /// `/-! … -/`.
    ModuleDoc,
    /// `"…"`, `r#"…"#`, and an interpolated string `"… {e} …"` after `s!`/`m!`/`f!`.
    String,
    /// `'a'`, `'\n'`.
    Char,
    /// `` `name `` and ``` ``name ```.
    NameLiteral,
    /// An identifier or keyword, dotted, `«escaped»` parts allowed; `#print` is one token.
    Ident,
    /// `42`, `0x1F`, `1.5`, `2e3`.
    Number,
    /// Anything else: `:=`, `⟨`, `//`, `\/`, …
    Symbol,
}

/// Lean's `isLetterLike` (Init/Meta): Greek (not λ, Π, Σ), Coptic, polytonic Greek, the
/// letterlike block (ℕ, ℝ), mathematical alphanumerics, Latin-1 and Latin Extended-A letters.
fn is_letter_like(c: char) -> bool {
    let v = c as u32;
    ((0x3b1..=0x3c9).contains(&v) && v != 0x3bb)
        || ((0x391..=0x3a9).contains(&v) && v != 0x3a0 && v != 0x3a3)
        || (0x3ca..=0x3fb).contains(&v)
        || (0x1f00..=0x1ffe).contains(&v)
        || (0x2100..=0x214f).contains(&v)
        || (0x1d49c..=0x1d59f).contains(&v)
        || ((0xc0..=0xff).contains(&v) && v != 0xd7 && v != 0xf7)
        || (0x100..=0x17f).contains(&v)
}

/// Lean's `isSubScriptAlnum`: ₀-₉, ₐ-ₜ, ᵢ-ᵪ, ⱼ.
fn is_subscript(c: char) -> bool {
    let v = c as u32;
    (0x2080..=0x2089).contains(&v)
        || (0x2090..=0x209c).contains(&v)
        || (0x1d62..=0x1d6a).contains(&v)
        || v == 0x2c7c
}

/// Lean's `isIdFirst` (`Char.isAlpha` is ASCII only in Lean).
fn is_id_first(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || is_letter_like(c)
}

/// Lean's `isIdRest`.
fn is_id_rest(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '\'' | '!' | '?')
        || is_letter_like(c)
        || is_subscript(c)
}

/// Symbols of more than one character, longest first. Lean's real tokenizer takes the longest
/// match in the token table of the grammar in scope; this fixed list covers core and Mathlib's
/// common ones.
const SYMBOLS: &[&str] = &[
    "<;>", "<|>", "...", "|>.", "<$>", "<*>", ">>=", "↑'", ":=", "=>", "->", "<-", "<|", "|>",
    "::", "..", "++", "&&", "||", "==", "!=", "<=", ">=", "@[", "%[", "#[", "{{", "}}", "//",
    "\\/", "/\\", "^^", "`(", "!%",
];

/// Splits `src` into tokens covering every byte.
pub fn lex(src: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut at = 0;
    // Bracket depth inside each open syntax quotation.
    let mut quotations: Vec<i32> = Vec::new();
    while at < src.len() {
        // `s!"…{e}…"`: a string right after an identifier ending in `!` is interpolated.
        let interpolated = tokens.last().is_some_and(|t: &Token| {
            t.kind == TokenKind::Ident && t.span.end == at && src[t.span.clone()].ends_with('!')
        });
        let (kind, end) = next_token(src, at, interpolated);
        let end = end.max(at + src[at..].chars().next().map_or(1, char::len_utf8));
        let text = &src[at..end];
        let mut in_quotation = !quotations.is_empty();
        if kind == TokenKind::Symbol {
            match text {
                "`(" => {
                    quotations.push(1);
                    in_quotation = true;
                }
                "(" | "[" | "{" | "⟨" | "⦃" => {
                    if let Some(depth) = quotations.last_mut() {
                        *depth += 1;
                    }
                }
                ")" | "]" | "}" | "⟩" | "⦄" => {
                    if let Some(depth) = quotations.last_mut() {
                        *depth -= 1;
                        if *depth == 0 {
                            quotations.pop();
                        }
                    }
                }
                _ => {}
            }
        }
        tokens.push(Token {
            kind,
            span: at..end,
            in_quotation,
        });
        at = end;
    }
    tokens
}

fn next_token(src: &str, at: usize, interpolated: bool) -> (TokenKind, usize) {
    let rest = &src[at..];
    let Some(c) = rest.chars().next() else {
        return (TokenKind::Whitespace, at);
    };
    if c.is_whitespace() {
        let len = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        return (TokenKind::Whitespace, at + len);
    }
    if rest.starts_with("--") {
        return (
            TokenKind::LineComment,
            at + rest.find('\n').unwrap_or(rest.len()),
        );
    }
    if rest.starts_with("/-") {
        let kind = if rest.starts_with("/--") && !rest.starts_with("/--/") {
            TokenKind::DocComment
        } else if rest.starts_with("/-!") {
            TokenKind::ModuleDoc
        } else {
            TokenKind::BlockComment
        };
        return (kind, at + block_comment_len(rest));
    }
    if c == '"' {
        return (TokenKind::String, at + string_len(rest, interpolated));
    }
    if let Some(raw) = raw_string_len(rest) {
        return (TokenKind::String, at + raw);
    }
    if c == '\'' {
        if let Some(len) = char_literal_len(rest) {
            return (TokenKind::Char, at + len);
        }
        return (TokenKind::Symbol, at + 1);
    }
    if c == '`' {
        if rest.starts_with("`(") {
            return (TokenKind::Symbol, at + 2);
        }
        let ticks = if rest.starts_with("``") { 2 } else { 1 };
        let name = ident_len(&rest[ticks..]);
        if name > 0 {
            return (TokenKind::NameLiteral, at + ticks + name);
        }
        return (TokenKind::Symbol, at + 1);
    }
    if c == '#' {
        let word = ident_len(&rest[1..]);
        if word > 0 {
            return (TokenKind::Ident, at + 1 + word);
        }
    }
    if is_id_first(c) || c == '«' {
        return (TokenKind::Ident, at + ident_len(rest).max(c.len_utf8()));
    }
    if c.is_ascii_digit() {
        let len = rest
            .char_indices()
            .find(|&(i, ch)| {
                !(ch.is_ascii_alphanumeric()
                    || (ch == '.'
                        && rest[i + 1..]
                            .chars()
                            .next()
                            .is_some_and(|d| d.is_ascii_digit())))
            })
            .map_or(rest.len(), |(i, _)| i);
        return (TokenKind::Number, at + len);
    }
    for symbol in SYMBOLS {
        if rest.starts_with(symbol) {
            return (TokenKind::Symbol, at + symbol.len());
        }
    }
    (TokenKind::Symbol, at + c.len_utf8())
}

/// `/- … -/` with nesting; unterminated runs to the end.
fn block_comment_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'-' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'-' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    rest.len()
}

/// A string literal from its opening quote. In an interpolated string, `{…}` parts hold terms
/// that may contain strings of their own. Unterminated runs to the end.
fn string_len(rest: &str, interpolated: bool) -> usize {
    let bytes = rest.as_bytes();
    let mut i = 1;
    let mut braces = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' if braces == 0 => return i + 1,
            // A `"` byte is always a char boundary.
            b'"' => i += string_len(&rest[i..], false),
            b'{' if interpolated => {
                braces += 1;
                i += 1;
            }
            b'}' if interpolated => {
                braces = braces.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    rest.len()
}

/// `r"…"`, `r#"…"#`.
fn raw_string_len(rest: &str) -> Option<usize> {
    let after_r = rest.strip_prefix('r')?;
    let hashes = after_r.len() - after_r.trim_start_matches('#').len();
    let body = after_r[hashes..].strip_prefix('"')?;
    let closing = format!("\"{}", "#".repeat(hashes));
    let end = body
        .find(&closing)
        .map_or(body.len(), |i| i + closing.len());
    Some(1 + hashes + 1 + end)
}

/// `'a'` or `'\n'`; `None` when this `'` starts no character literal.
fn char_literal_len(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices().skip(1);
    let (_, c) = chars.next()?;
    if c == '\\' {
        // `\n`, `\'`, `\x41`, `\u{…}`: the escaped character, then up to the closing quote on
        // this line.
        let (escaped_at, escaped) = chars.next()?;
        let after = escaped_at + escaped.len_utf8();
        let close = after + rest[after..].find('\'')?;
        return (!rest[..close].contains('\n')).then_some(close + 1);
    }
    let (i, close) = chars.next()?;
    (close == '\'').then_some(i + 1)
}

/// A (dotted) identifier at the start of `rest`; 0 when there is none.
fn ident_len(rest: &str) -> usize {
    let mut end = 0;
    loop {
        let part = &rest[end..];
        let len = if part.starts_with('«') {
            part.find('»').map_or(part.len(), |i| i + '»'.len_utf8())
        } else if part.chars().next().is_some_and(is_id_first) {
            part.find(|c: char| !is_id_rest(c)).unwrap_or(part.len())
        } else {
            0
        };
        if len == 0 {
            return end;
        }
        end += len;
        let after = &rest[end..];
        let continues = after.starts_with('.')
            && after[1..]
                .chars()
                .next()
                .is_some_and(|c| is_id_first(c) || c == '«');
        if !continues {
            return end;
        }
        end += 1;
    }
}

/// A 0-based line and UTF-16 column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line.
    pub line: u32,
    /// UTF-16 code units into the line.
    pub character: u32,
}

impl Position {
    /// A position.
    pub fn new(line: u32, character: u32) -> Self {
        Position { line, character }
    }
}

/// Byte offsets ↔ LSP positions of one text.
#[derive(Debug, Clone)]
pub struct LineIndex {
    text: String,
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text: text.to_owned(),
            starts,
        }
    }

    /// The indexed text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The position of byte `byte` (clamped to the text).
    pub fn position(&self, byte: usize) -> Position {
        let byte = floor_char_boundary(&self.text, byte);
        let line = self.starts.partition_point(|&start| start <= byte) - 1;
        let character = self.text[self.starts[line]..byte].encode_utf16().count();
        Position::new(line as u32, character as u32)
    }

    /// The byte at `position` (clamped to its line and the text).
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let line_end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(self.text.len(), |next| next - 1);
        let mut units = 0;
        for (i, c) in self.text[start..line_end].char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        line_end
    }
}

/// The largest char boundary of `text` at or below `byte`.
pub fn floor_char_boundary(text: &str, byte: usize) -> usize {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

/// What kind of command a [`Command`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// `import`, `module`, `prelude` (the header).
    Import,
    /// `theorem`, `def`, `axiom`, …
    Declaration,
    /// `namespace X`.
    Namespace,
    /// `section`.
    Section,
    /// `end`.
    End,
    /// Anything else (`open`, `#print`, `set_option`, `mutual`, …), and text that is no
    /// command at all (after a tactic block ended where no command starts).
    Other,
}

/// One command of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// From its first token (doc comment, attribute, modifier or keyword) to the start of the
    /// next command.
    pub span: Range<usize>,
    /// The keyword (`theorem`, `#print`, …; for `set_option … in theorem`, `theorem`).
    pub keyword: String,
    /// The kind.
    pub kind: CommandKind,
    /// The declared name and its range.
    pub name: Option<(String, Range<usize>)>,
    /// The end of the command's syntax: its last code token (no trailing whitespace or
    /// comments).
    pub syntax_end: usize,
    /// Set when the text is no command: Lean's "expected command" parse error.
    pub not_a_command: bool,
}

const DECLARATION_KEYWORDS: &[&str] = &[
    "theorem",
    "lemma",
    "problem",
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

const MODIFIERS: &[&str] = &[
    "private",
    "protected",
    "noncomputable",
    "partial",
    "unsafe",
    "nonrec",
    "scoped",
    "local",
    "public",
    "meta",
];

/// Keywords that begin a command (besides declarations and `#…` commands).
const COMMAND_KEYWORDS: &[&str] = &[
    "import",
    "module",
    "prelude",
    "namespace",
    "section",
    "end",
    "open",
    "export",
    "variable",
    "universe",
    "set_option",
    "attribute",
    "mutual",
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
    "deriving",
    "initialize",
    "builtin_initialize",
    "declare_syntax_cat",
    "omit",
    "include",
];

/// Keywords that are also a tactic or term when followed by `in` (`open Foo in simp`): inside
/// a tactic block at its column they are tactics, not commands.
const ALSO_TACTIC: &[&str] = &["open", "set_option"];

/// Words that continue a declaration after its value's tactic block ended.
const CONTINUATIONS: &[&str] = &["where", "|", "termination_by", "decreasing_by", "deriving"];

fn is_declaration_keyword(word: &str) -> bool {
    DECLARATION_KEYWORDS.contains(&word)
}

/// Whether the code token at `i` begins a command (its modifiers and attributes included).
fn starts_command(src: &str, code: &[&Token], i: usize) -> bool {
    let text = code[i].text(src);
    if text == "deriving" {
        // `deriving Repr` continues a structure; `deriving instance` is a command.
        return code.get(i + 1).is_some_and(|t| t.text(src) == "instance");
    }
    if ALSO_TACTIC.contains(&text)
        && (!first_on_line(src, code[i].span.start)
            || i.checked_sub(1)
                .is_some_and(|p| matches!(code[p].text(src), ":=" | "by" | "=>" | "," | "·")))
    {
        // `open Foo in e` inside a term: a term is expected right there.
        return false;
    }
    if is_declaration_keyword(text) || COMMAND_KEYWORDS.contains(&text) {
        return true;
    }
    if text.starts_with('#') && code[i].kind == TokenKind::Ident {
        return true;
    }
    if text == "@[" || MODIFIERS.contains(&text) || code[i].kind == TokenKind::DocComment {
        // Only as the start of a declaration: look past attributes and modifiers.
        let mut j = i;
        let mut depth = 0i32;
        while j < code.len() {
            let word = code[j].text(src);
            match word {
                "@[" | "[" => depth += 1,
                "]" => depth -= 1,
                _ if depth > 0 => {}
                _ if code[j].kind == TokenKind::DocComment || MODIFIERS.contains(&word) => {}
                _ => {
                    return is_declaration_keyword(word)
                        || COMMAND_KEYWORDS.contains(&word)
                        || word.starts_with('#');
                }
            }
            j += 1;
        }
    }
    false
}

fn column(src: &str, byte: usize) -> usize {
    let line_start = src[..byte].rfind('\n').map_or(0, |i| i + 1);
    src[line_start..byte].chars().count()
}

fn first_on_line(src: &str, byte: usize) -> bool {
    let line_start = src[..byte].rfind('\n').map_or(0, |i| i + 1);
    src[line_start..byte].trim().is_empty()
}

/// An open indentation block (a tactic block after `by`, the fields after `where`): its
/// column, the bracket depth it was opened at, and whether it is the declaration's value.
struct Block {
    column: usize,
    depth: i32,
    is_value: bool,
}

/// Splits a file into commands as Lean's parser would end them.
///
/// A command keyword (`theorem`, `open`, `#eval`, …) at bracket depth 0 starts a new command;
/// a tactic block (after `by`) has the column of its first tactic, and a line starting left of
/// it ends the block (a `)` closing the bracket it was opened in ends it too). When the blocks
/// of a declaration's value end at a token that is neither a command nor a continuation of
/// the declaration (`where`, `|`, `termination_by`), that text is no command (Lean: "expected
/// command"). `open`/`set_option` inside a tactic block, at or right of its column, are
/// tactics (`open Foo in simp`); `X … in` prefixes join the command they prefix.
pub fn commands(src: &str, tokens: &[Token]) -> Vec<Command> {
    let code: Vec<&Token> = tokens
        .iter()
        .filter(|t| !t.is_trivia() && !t.in_quotation && t.kind != TokenKind::ModuleDoc)
        .collect();
    let mut starts: Vec<(usize, bool)> = Vec::new(); // (code index, not a command)
    let mut depth = 0i32;
    let mut blocks: Vec<Block> = Vec::new();
    // A block opens at the next token: `Some(is_value)`.
    let mut pending_block: Option<bool> = None;
    let mut prefix_in = false;
    let mut in_command = false;
    // The command's value marker (`:=` at depth 0) was the previous token.
    let mut after_value_marker = false;
    let mut seen_value_marker = false;
    for i in 0..code.len() {
        let token = code[i];
        let text = token.text(src);
        let line_start = first_on_line(src, token.span.start);
        let col = column(src, token.span.start);
        if let Some(is_value) = pending_block.take() {
            blocks.push(Block {
                column: col,
                depth,
                is_value,
            });
        }
        let mut value_block_ended = false;
        if line_start {
            while blocks.last().is_some_and(|b| col < b.column) {
                value_block_ended = blocks.pop().is_some_and(|b| b.is_value);
            }
        }
        let command_here = depth == 0
            && (blocks.is_empty() || !ALSO_TACTIC.contains(&text))
            && starts_command(src, &code, i)
            && !(i > 0 && is_part_of_previous(src, &code, i));
        let mut started = false;
        if command_here || !in_command {
            if prefix_in && command_here {
                // `set_option … in theorem …` is one command.
                prefix_in = false;
            } else {
                starts.push((i, !command_here));
                started = true;
            }
            in_command = true;
            blocks.clear();
            depth = 0;
        } else if value_block_ended && blocks.is_empty() && !CONTINUATIONS.contains(&text) {
            // The proof ended left of its column at something that is no command: Lean's
            // "unexpected …; expected command".
            starts.push((i, true));
            started = true;
        }
        if started {
            seen_value_marker = false;
        }
        let value_by = after_value_marker && text == "by";
        after_value_marker = false;
        match text {
            "(" | "[" | "{" | "⟨" | "⦃" | "@[" | "%[" | "#[" | "{{" => depth += 1,
            ")" | "]" | "}" | "⟩" | "⦄" | "}}" => {
                depth -= 1;
                while blocks.last().is_some_and(|b| b.depth > depth) {
                    blocks.pop();
                }
            }
            "by" => pending_block = Some(value_by),
            "where" if depth == 0 => pending_block = Some(false),
            ":=" if depth == 0 && !seen_value_marker => {
                seen_value_marker = true;
                after_value_marker = true;
            }
            "in" if depth == 0 && blocks.is_empty() => {
                let opener = starts.last().map_or("", |&(s, _)| code[s].text(src));
                prefix_in = matches!(
                    opener,
                    "set_option" | "open" | "attribute" | "omit" | "include"
                ) || opener.starts_with("#guard");
            }
            _ => {}
        }
    }
    let mut result = Vec::new();
    for (n, &(start, not_a_command)) in starts.iter().enumerate() {
        let end_index = starts.get(n + 1).map_or(code.len(), |&(next, _)| next);
        let span_start = code[start].span.start;
        let span_end = starts
            .get(n + 1)
            .map_or(src.len(), |&(next, _)| code[next].span.start);
        let own = &code[start..end_index];
        let syntax_end = own
            .iter()
            .rev()
            .find(|t| t.kind != TokenKind::DocComment)
            .map_or(span_start, |t| t.span.end);
        result.push(describe(
            src,
            own,
            span_start..span_end,
            syntax_end,
            not_a_command,
        ));
    }
    result
}

/// `@[simp] theorem`: the `theorem` is part of the command the attribute started.
fn is_part_of_previous(src: &str, code: &[&Token], i: usize) -> bool {
    let previous = code[i - 1].text(src);
    previous == "]" && {
        // Walk back to the attribute's `@[`; a declaration keyword right after it is its own.
        let mut depth = 0;
        let mut j = i;
        loop {
            if j == 0 {
                break false;
            }
            j -= 1;
            match code[j].text(src) {
                "]" => depth += 1,
                "[" | "@[" if depth == 1 => break code[j].text(src) == "@[",
                "[" | "@[" => depth -= 1,
                _ => {}
            }
        }
    } || MODIFIERS.contains(&previous)
        || code[i - 1].kind == TokenKind::DocComment
        || (previous == "deriving" && code[i].text(src) == "instance")
}

fn describe(
    src: &str,
    own: &[&Token],
    span: Range<usize>,
    syntax_end: usize,
    not_a_command: bool,
) -> Command {
    let words: Vec<&str> = own.iter().map(|t| t.text(src)).collect();
    // The command proper: past attributes, modifiers, doc comments and `… in` prefixes.
    let mut keyword_at = None;
    let mut depth = 0i32;
    for (i, word) in words.iter().enumerate() {
        match *word {
            "@[" | "[" if depth > 0 || *word == "@[" => depth += 1,
            "]" if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ if own[i].kind == TokenKind::DocComment || MODIFIERS.contains(word) => {}
            _ if is_declaration_keyword(word) => {
                keyword_at = Some(i);
                break;
            }
            _ if keyword_at.is_none() => {
                keyword_at = Some(i);
                // A prefix (`set_option … in`) hands over to the command after its `in`.
                let is_prefix = matches!(
                    *word,
                    "set_option" | "open" | "attribute" | "omit" | "include"
                ) || word.starts_with("#guard");
                if is_prefix
                    && let Some(after_in) = words.iter().position(|w| *w == "in")
                    && after_in + 1 < words.len()
                {
                    let rest = describe(src, &own[after_in + 1..], span.clone(), syntax_end, false);
                    if rest.kind == CommandKind::Declaration {
                        return rest;
                    }
                }
                break;
            }
            _ => {}
        }
    }
    let Some(k) = keyword_at else {
        return Command {
            span,
            keyword: String::new(),
            kind: CommandKind::Other,
            name: None,
            syntax_end,
            not_a_command,
        };
    };
    let keyword = words[k].to_owned();
    let kind = match keyword.as_str() {
        _ if not_a_command => CommandKind::Other,
        "import" | "module" | "prelude" => CommandKind::Import,
        "namespace" => CommandKind::Namespace,
        "section" => CommandKind::Section,
        "end" => CommandKind::End,
        word if is_declaration_keyword(word) => CommandKind::Declaration,
        _ => CommandKind::Other,
    };
    let name = match kind {
        CommandKind::Declaration if keyword != "example" => declared_name(src, &own[k + 1..]),
        CommandKind::Namespace | CommandKind::Section => own
            .get(k + 1)
            .filter(|t| t.kind == TokenKind::Ident && !first_on_line(src, t.span.start))
            .map(|t| (t.text(src).to_owned(), t.span.clone())),
        _ => None,
    };
    Command {
        span,
        keyword,
        kind,
        name,
        syntax_end,
        not_a_command,
    }
}

/// The name after a declaration keyword: an identifier (for `instance`, after an optional
/// `(priority := …)`), unless the signature starts right away.
fn declared_name(src: &str, after: &[&Token]) -> Option<(String, Range<usize>)> {
    let mut i = 0;
    if after.first().map(|t| t.text(src)) == Some("(")
        && after.get(1).map(|t| t.text(src)) == Some("priority")
    {
        i = after.iter().position(|t| t.text(src) == ")")? + 1;
    }
    let token = after.get(i)?;
    (token.kind == TokenKind::Ident && !matches!(token.text(src), "where" | "extends"))
        .then(|| (token.text(src).to_owned(), token.span.clone()))
}

/// A declaration's signature and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The declared name.
    pub name: Option<String>,
    /// The binders before the type's colon.
    pub binders: Vec<Binder>,
    /// The type after the top-level colon, trimmed.
    pub type_text: Option<String>,
    /// The value: after `:=`, or from `where` / the first `|`, to the end of the syntax.
    pub value: Option<Range<usize>>,
    /// From the command's start to the value marker, trailing whitespace excluded.
    pub header: Range<usize>,
}

/// One binder group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binder {
    /// The names bound (empty for an anonymous instance binder).
    pub names: Vec<String>,
    /// The type, trimmed.
    pub ty: Option<String>,
    /// The bracket.
    pub kind: BinderKind,
}

/// The bracket of a [`Binder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinderKind {
    /// `(x : α)` or bare `x`.
    Explicit,
    /// `{x : α}`.
    Implicit,
    /// `⦃x : α⦄`.
    StrictImplicit,
    /// `[C α]`.
    Instance,
}

/// Reads the signature of a declaration command.
pub fn parse_declaration(src: &str, tokens: &[Token], command: &Command) -> Option<Declaration> {
    if command.kind != CommandKind::Declaration {
        return None;
    }
    let code: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.span.start >= command.span.start && t.span.end <= command.syntax_end)
        .filter(|t| !t.is_trivia() && !t.is_comment())
        .collect();
    let keyword_index = code
        .iter()
        .position(|t| t.text(src) == command.keyword && is_declaration_keyword(&command.keyword))?;
    let mut i = keyword_index + 1;
    if let Some((_, range)) = &command.name {
        i = code.iter().position(|t| t.span == *range)? + 1;
    } else if code.get(i).map(|t| t.text(src)) == Some("(")
        && code.get(i + 1).map(|t| t.text(src)) == Some("priority")
    {
        i = code.iter().position(|t| t.text(src) == ")")? + 1;
    }
    let mut binders = Vec::new();
    let mut colon = None;
    let mut marker = None;
    let mut depth = 0i32;
    let mut group_start = None;
    let mut j = i;
    while j < code.len() {
        let text = code[j].text(src);
        match text {
            "(" | "{" | "[" | "⦃" | "⟨" | "{{" if depth == 0 && colon.is_none() => {
                depth += 1;
                group_start = Some(j);
            }
            "(" | "{" | "[" | "⦃" | "⟨" | "{{" | "@[" => depth += 1,
            ")" | "}" | "]" | "⦄" | "⟩" | "}}" => {
                depth -= 1;
                if depth == 0
                    && colon.is_none()
                    && let Some(start) = group_start.take()
                {
                    binders.push(binder(src, &code[start..=j]));
                }
            }
            ":" if depth == 0 && colon.is_none() => colon = Some(j),
            ":=" | "where" | "|" if depth == 0 => {
                marker = Some(j);
                break;
            }
            _ if depth == 0 && colon.is_none() && code[j].kind == TokenKind::Ident => {
                binders.push(Binder {
                    names: vec![text.to_owned()],
                    ty: None,
                    kind: BinderKind::Explicit,
                });
            }
            _ => {}
        }
        j += 1;
    }
    let header_end = marker
        .and_then(|m| m.checked_sub(1))
        .and_then(|m| code.get(m))
        .map_or(command.syntax_end, |t| t.span.end);
    let type_text = colon.map(|c| {
        let start = code[c].span.end;
        let end = marker.map_or(command.syntax_end, |m| code[m].span.start);
        src[start..end.max(start)].trim().to_owned()
    });
    let value = marker.map(|m| {
        let start = if code[m].text(src) == ":=" {
            code.get(m + 1).map_or(code[m].span.end, |t| t.span.start)
        } else {
            code[m].span.start
        };
        start..command.syntax_end.max(start)
    });
    Some(Declaration {
        name: command.name.as_ref().map(|(name, _)| name.clone()),
        binders,
        type_text,
        value,
        header: command.span.start..header_end,
    })
}

fn binder(src: &str, group: &[&Token]) -> Binder {
    let (Some(open), Some(close)) = (group.first(), group.last()) else {
        return Binder {
            names: Vec::new(),
            ty: None,
            kind: BinderKind::Explicit,
        };
    };
    let kind = match open.text(src) {
        "{" => BinderKind::Implicit,
        "⦃" | "{{" => BinderKind::StrictImplicit,
        "[" => BinderKind::Instance,
        _ => BinderKind::Explicit,
    };
    let inner = &group[1..group.len() - 1];
    let colon = inner.iter().position(|t| t.text(src) == ":");
    let text = |from: usize, to: usize| src[from..to.max(from)].trim().to_owned();
    match colon {
        Some(c) => Binder {
            names: inner[..c]
                .iter()
                .filter(|t| t.kind == TokenKind::Ident)
                .map(|t| t.text(src).to_owned())
                .collect(),
            ty: Some(text(inner[c].span.end, close.span.start)),
            kind,
        },
        None if kind == BinderKind::Instance => Binder {
            names: Vec::new(),
            ty: Some(text(open.span.end, close.span.start)),
            kind,
        },
        None => Binder {
            names: inner
                .iter()
                .filter(|t| t.kind == TokenKind::Ident)
                .map(|t| t.text(src).to_owned())
                .collect(),
            ty: None,
            kind,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(TokenKind, &str)> {
        lex(src)
            .into_iter()
            .filter(|t| t.kind != TokenKind::Whitespace)
            .map(|t| (t.kind, &src[t.span]))
            .collect()
    }

    #[test]
    fn tokens_follow_leans_token_functions() {
        use TokenKind::*;
        assert_eq!(
            texts(
                "/- a /- nested -/ b -/ x₁ ℕ «my name».y h' exact? #print s!\"a {f \"}\"} b\" 'c' '\\n' // \\/ -- end"
            ),
            vec![
                (BlockComment, "/- a /- nested -/ b -/"),
                (Ident, "x₁"),
                (Ident, "ℕ"),
                (Ident, "«my name».y"),
                (Ident, "h'"),
                (Ident, "exact?"),
                (Ident, "#print"),
                (Ident, "s!"),
                (String, "\"a {f \"}\"} b\""),
                (Char, "'c'"),
                (Char, "'\\n'"),
                (Symbol, "//"),
                (Symbol, "\\/"),
                (LineComment, "-- end"),
            ]
        );
        assert_eq!(texts("λ"), vec![(Symbol, "λ")], "λ is no letter in Lean");
    }

    fn outline(src: &str) -> Vec<(String, &str, bool)> {
        commands(src, &lex(src))
            .into_iter()
            .map(|c| (c.keyword, &src[c.span.start..c.syntax_end], c.not_a_command))
            .collect()
    }

    #[test]
    fn a_line_left_of_the_tactic_column_ends_the_block() {
        // The candidate pushed its first tactic right, then wrote `open Foo` at the hole's
        // column: Lean ends the proof there and reads `open Foo` as a command.
        let src =
            "theorem t : True := by\n    trivial\n  open Foo\n  theorem u : True := trivial\n";
        assert_eq!(
            outline(src),
            vec![
                (
                    "theorem".to_owned(),
                    "theorem t : True := by\n    trivial",
                    false
                ),
                ("open".to_owned(), "open Foo", false),
                ("theorem".to_owned(), "theorem u : True := trivial", false),
            ]
        );
        // Where a term is expected, `open … in` is a term.
        let term = "theorem t : True :=\n  open Foo in\n  trivial\n";
        assert_eq!(outline(term).len(), 1);
        // At the block's own column `open … in` is a tactic.
        let inside = "theorem t : True := by\n  open Foo in\n  trivial\n";
        assert_eq!(outline(inside).len(), 1);
        // A non-command left of the block is no command.
        let stray = "theorem t : True := by\n    trivial\n  exact x\n";
        assert_eq!(
            outline(stray),
            vec![
                (
                    "theorem".to_owned(),
                    "theorem t : True := by\n    trivial",
                    false
                ),
                ("exact".to_owned(), "exact x", true),
            ]
        );
    }

    #[test]
    fn parenthesised_blocks_end_at_their_paren_and_where_continues() {
        let src = "theorem t : True ∧ True := ⟨(by trivial), by\n    trivial⟩\ndef f : ℕ := by\n    exact g\n  where g := 5\n#eval f\n";
        let found = outline(src);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[1].1, "def f : ℕ := by\n    exact g\n  where g := 5");
        assert_eq!(found[2].0, "#eval");
    }

    #[test]
    fn prefixes_and_attributes_join_their_command() {
        let src = "/-- doc -/\n@[simp] private theorem a : 1 = 1 := rfl\nset_option warn.sorry false in\ntheorem b : 1 = 1 := sorry\n";
        let found = commands(src, &lex(src));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].keyword, "theorem");
        assert_eq!(found[0].name.as_ref().map(|(n, _)| n.as_str()), Some("a"));
        assert_eq!(found[1].keyword, "theorem");
        assert!(src[found[1].span.clone()].starts_with("set_option"));
    }

    #[test]
    fn signatures_read_binders_type_and_value() {
        let src =
            "theorem t {α : Type} [Group α] (a b : α) (h : a = b) : b = a := by\n  simp [h]\n";
        let tokens = lex(src);
        let command = &commands(src, &tokens)[0];
        let declaration = parse_declaration(src, &tokens, command).expect("a declaration");
        assert_eq!(declaration.binders.len(), 4);
        assert_eq!(declaration.binders[2].names, ["a", "b"]);
        assert_eq!(declaration.binders[1].kind, BinderKind::Instance);
        assert_eq!(declaration.type_text.as_deref(), Some("b = a"));
        assert_eq!(declaration.value.map(|v| &src[v]), Some("by\n  simp [h]"));
    }

    proptest::proptest! {
        #[test]
        fn lexing_and_splitting_never_panic_and_cover_the_text(src in "(theorem t|def|by|open|\\(|\\)|:=|\\n|  |x|ℕ|:|--|/-|-/|\"|'|«|»|`\\(|#print|s!\"|\\{|\\}|where|in|set_option){0,40}") {
            let tokens = lex(&src);
            let mut at = 0;
            for token in &tokens {
                proptest::prop_assert_eq!(token.span.start, at);
                at = token.span.end;
            }
            proptest::prop_assert_eq!(at, src.len());
            let found = commands(&src, &tokens);
            for pair in found.windows(2) {
                proptest::prop_assert!(pair[0].span.end <= pair[1].span.start);
            }
            for command in &found {
                let _ = parse_declaration(&src, &tokens, command);
            }
        }
    }
}
