//! A total, lossless Lean 4 lexer.
//!
//! Invariants: `lex` never panics, the tokens it returns are contiguous, non-empty, sorted, and
//! together cover every byte of the input; every span starts and ends on a `char` boundary.
//! Malformed input (an unterminated comment or string) yields one token running to the end.
//!
//! The rules follow Lean's own tokenizer (`src/Lean/Parser/Basic.lean`: `whitespace`,
//! `finishCommentBlock`, `tokenFnAux`, `identFnAux`, `strLitFnAux`, `charLitFnAux`,
//! `rawStrLitFnAux`, `numberFnAux`, `fieldIdxFn`; `src/Lean/Parser/StrInterpolation.lean`;
//! `isIdFirst`/`isIdRest`/`isLetterLike` in `src/Init/Meta/Defs.lean`). Lean reads comments only
//! where it reads whitespace, that is between tokens, and a token is the longest match in the
//! grammar's token table, so `//-` is the subtype token `//` and then `-`, never a comment.
//!
//! Where the lexer cannot know what Lean knows (the token table of the imports in scope, which
//! user syntax interpolates a string), it errs towards reading *code*: [`SYMBOLS`] is a superset
//! of the ASCII tokens of Lean core and Mathlib, and [`lex_interpolating_every_string`] reads
//! every string's `{…}` as code for callers (the soundness gate) that must never miss code.

use std::ops::Range;

/// One lexical token of Lean source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Byte range in the source.
    pub span: Range<usize>,
    /// True when the token lies inside a syntax quotation such as `` `(tactic| simp) ``
    /// (including the opening `` `( `` and the closing paren).
    pub in_quotation: bool,
}

impl Token {
    /// The token's source text.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.span.clone()).unwrap_or("")
    }

    /// True for whitespace and comments that carry no documentation (`--`, `/- -/`).
    pub fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// True for any kind of comment, documentation included.
    pub fn is_comment(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::LineComment
                | TokenKind::BlockComment
                | TokenKind::DocComment
                | TokenKind::ModuleDoc
        )
    }

    /// True when this token is Lean code that elaborates in the file itself: an identifier,
    /// number or symbol outside any syntax quotation.
    pub fn is_code(&self) -> bool {
        !self.in_quotation
            && matches!(
                self.kind,
                TokenKind::Ident | TokenKind::Number | TokenKind::Symbol
            )
    }
}

/// The kind of a [`Token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A run of whitespace (including newlines).
    Whitespace,
    /// `-- …` up to (not including) the end of the line.
    LineComment,
    /// `/- … -/`, nesting honoured.
    BlockComment,
    /// `/-- … -/`.
    DocComment,
    /// `/-! … -/`.
    ModuleDoc,
    /// A string literal, a raw string, or a text part of an interpolated string.
    String,
    /// A character literal such as `'a'` or `'\n'`.
    Char,
    /// A name literal such as `` `foo `` or ``` ``Foo.bar ```.
    NameLiteral,
    /// An identifier or keyword, possibly dotted (`Nat.succ`) or with `«guillemets»`; hash
    /// commands such as `#check` are one token.
    Ident,
    /// A numeric literal (`42`, `0x1F`, `1.5`, `2e3`).
    Number,
    /// Punctuation or an operator (`:=`, `⟨`, `<;>`, `·`, …).
    Symbol,
}

/// The multi-character tokens of Lean core and Mathlib that the lexer must read whole, because
/// reading them in pieces would start a comment, a char literal or a string where Lean reads a
/// token (`//-` is `//` then `-`; `\/-` is `\/` then `-`; `f '' s`; `∑' i`; `f ⁻¹' s`), plus the
/// common operators. A token missing here can only split an operator, unless it ends in `/` or
/// contains `'`; a token here that a file does not have in scope makes the lexer read code where
/// Lean might read a comment, never the reverse. Matched longest first.
pub const SYMBOLS: &[&str] = &[
    // Core: `Init/Prelude.lean`, `Init/Notation.lean`, `Init/Core.lean`, `Lean/Parser/Term.lean`,
    // `Lean/Parser/Do.lean`, `Init/Control/*` (functor and monad operators).
    ":=", "::", "=>", "->", "<-", "<->", "<;>", "<|>", "<|", "|>", "|>.", "<$>", "<$", "$>", "<*>",
    "<*", "*>", ">>=", ">>", "=<<", ">=>", "<=<", "<&>", "&&", "||", "^^", "==", "!=", "~=", "<=",
    ">=", "++", "..", "...", "%[", "@[", "#[", "//", "\\/", "/\\", "<<<", ">>>", "^^^", "|||",
    "&&&", "-[", "+1]", ".(", "{{", "}}",
    // Mathlib: list relations, vectors and matrices, iterates, images, sums.
    "<+:", "<:+", "<:+:", "<+~", "<+", "![", "!![", "^[", "''", "⁻¹'", "∑'", "∏'",
];

/// Whether a token opens a bracket that a later `)`, `]`, `}`, `⟩`, `⦄` or `}}` closes: the
/// plain brackets and every symbol that ends in `[` (`@[`, `%[`, `#[`, `^[`, `![`, `!![`, …),
/// since its `]` closes it. Depth counting must agree with the longest-match tokens.
pub fn opens_bracket(token: &str) -> bool {
    matches!(token, "(" | "{" | "⟨" | "⦃" | "{{") || token.ends_with('[')
}

/// Whether a token closes a bracket (see [`opens_bracket`]).
pub fn closes_bracket(token: &str) -> bool {
    matches!(token, ")" | "]" | "}" | "⟩" | "⦄" | "}}")
}

/// The longest token of [`SYMBOLS`] at the start of `rest`.
fn symbol_len(rest: &str) -> Option<usize> {
    let first = *rest.as_bytes().first()?;
    SYMBOLS
        .iter()
        .filter(|s| s.as_bytes()[0] == first && rest.starts_with(*s))
        .map(|s| s.len())
        .max()
}

/// Words after which Lean's core grammar reads a string as an interpolated string
/// (`interpolatedStr(term)`), besides every identifier ending in `!` (`s!`, `m!`, `f!`,
/// `println!`, `panic!`, …). The number is how many terms may stand between the word and the
/// string (`throwErrorAt ref "…{e}"`).
const INTERPOLATING_WORDS: &[(&str, u8)] =
    &[("throwError", 1), ("throwErrorAt", 2), ("dbg_trace", 1)];

/// Lexes `src` into tokens covering every byte. Never panics.
pub fn lex(src: &str) -> Vec<Token> {
    Lexer::new(src, 0).collect()
}

/// Lexes `src` reading every string literal as an interpolated string, so the code inside any
/// `{…}` of any string is lexed as code. Lean interpolates the strings of any syntax declared with
/// `interpolatedStr(term)` (user macros included), which a lexer cannot know. This reading is not
/// a superset of [`lex`] (a `"{"` that is plain text shifts what follows), so a caller that must
/// never miss code (the soundness gate) scans the code of both readings.
pub fn lex_interpolating_every_string(src: &str) -> Vec<Token> {
    let mut lexer = Lexer::new(src, 0);
    lexer.interpolate_every_string = true;
    lexer.collect()
}

/// Byte ranges of `word` (a keyword such as `sorry` or `have`) where it is the first component
/// of an identifier token of `tokens` (lexed from `src`): `sorry`, and also `sorry.elim` and
/// `«sorry»`, which Lean reads as other names, so that a caller looking for a keyword errs
/// towards finding one. Never a later component (`h.sorry`), a longer word (`sorryAx`), or
/// text in a comment, string or name literal.
pub fn word_spans(src: &str, tokens: &[Token], word: &str) -> Vec<Range<usize>> {
    tokens
        .iter()
        .filter(|token| token.kind == TokenKind::Ident)
        .filter_map(|token| {
            let text = token.text(src);
            let (inner, offset) = match text.strip_prefix('«') {
                Some(quoted) => (quoted.split('»').next().unwrap_or(quoted), '«'.len_utf8()),
                None => (text.split('.').next().unwrap_or(text), 0),
            };
            let start = token.span.start + offset;
            (inner == word).then(|| start..start + word.len())
        })
        .collect()
}

/// A resumable lexer: an iterator over the tokens of `src` from a byte offset.
///
/// Starting at an offset where a whole-file lex would be between tokens and outside any
/// interpolated string or quotation (for example a command start) yields exactly the tokens a
/// whole-file lex yields from there; that is what makes incremental re-scanning sound.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Tokens produced by the last step but not yet returned.
    pending: std::collections::VecDeque<Token>,
    /// For each open `s!"…{` code part, the brace depth inside it.
    interpolations: Vec<usize>,
    /// The paren depth at which each open syntax quotation closes.
    quotations: Vec<usize>,
    paren_depth: usize,
    /// How many more terms may come before a string that Lean reads as interpolated (after
    /// `s!`, `throwError`, …); 0 when none.
    interpolating: u8,
    /// The last token was a `.` glued to the token before it, so digits are a field index.
    after_projection_dot: bool,
    /// End of the last token that was not whitespace or a comment.
    last_significant_end: usize,
    interpolate_every_string: bool,
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        if self.pending.is_empty() && self.pos < self.src.len() {
            let before = self.pos;
            self.lex_one();
            if self.pos == before {
                // Defensive: guarantee progress so the lexer is total even on a logic slip.
                self.bump();
                self.push(TokenKind::Symbol, before);
            }
        }
        self.pending.pop_front()
    }
}

impl<'a> Lexer<'a> {
    /// A lexer over `src` starting at byte `start` (clamped down to a char boundary) in a fresh
    /// state: outside any comment, string, interpolation or quotation.
    pub fn new(src: &'a str, start: usize) -> Self {
        let pos = crate::line_index::floor_char_boundary(src, start);
        Lexer {
            src,
            pos,
            pending: std::collections::VecDeque::new(),
            interpolations: Vec::new(),
            quotations: Vec::new(),
            paren_depth: 0,
            interpolating: 0,
            after_projection_dot: false,
            last_significant_end: usize::MAX,
            interpolate_every_string: false,
        }
    }

    /// Byte offset where the next token starts.
    pub fn offset(&self) -> usize {
        self.pending.front().map_or(self.pos, |t| t.span.start)
    }

    /// True when the lexer is between tokens outside any interpolated string or quotation, not
    /// right after a token (a glued `.` makes digits a field index) nor after a word that makes
    /// a coming string interpolated, so lexing from [`Lexer::offset`] afresh would give the same
    /// tokens. A command start after a line break is such a point.
    pub fn is_fresh(&self) -> bool {
        self.pending.is_empty()
            && self.pos != self.last_significant_end
            && self.interpolations.is_empty()
            && self.quotations.is_empty()
            && self.interpolating == 0
            && !self.after_projection_dot
    }
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, byte_offset: usize) -> Option<char> {
        self.src.get(self.pos + byte_offset..)?.chars().next()
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        if self.pos > start {
            self.pending.push_back(Token {
                kind,
                span: start..self.pos,
                in_quotation: !self.quotations.is_empty(),
            });
        }
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn lex_one(&mut self) {
        let start = self.pos;
        let Some(c) = self.peek() else { return };
        let glued = start == self.last_significant_end;
        let projection = std::mem::take(&mut self.after_projection_dot);
        let trivia = self.lex_trivia(c);
        if trivia {
            // Whitespace and comments keep the interpolation state (`s! /- -/ "…"`).
            return;
        }
        let interpolating = std::mem::take(&mut self.interpolating);
        let rest = self.rest();
        if c == '"' {
            self.bump();
            if interpolating > 0 || self.interpolate_every_string {
                self.lex_interpolated_text(start);
            } else {
                self.skip_string_body(false);
                self.push(TokenKind::String, start);
            }
        } else if c == '\'' && self.peek_at(1) != Some('\'') {
            self.lex_char_literal();
        } else if c.is_ascii_digit() {
            if projection {
                // `fieldIdxFn`: after `x.` only digits, so `h.1.2` is `h` `.` `1` `.` `2`.
                while self.peek().is_some_and(|d| d.is_ascii_digit()) {
                    self.bump();
                }
            } else {
                self.skip_number();
            }
            self.push(TokenKind::Number, start);
            self.interpolating = interpolating.saturating_sub(1);
        } else if c == '`' {
            self.lex_backtick();
        } else if c == 'r' && self.raw_string_len().is_some() {
            let len = self.raw_string_len().unwrap_or(1);
            self.pos += len;
            self.push(TokenKind::String, start);
        } else if is_id_start(c) || c == '«' {
            self.skip_ident();
            let word = &self.src[start..self.pos];
            self.interpolating = if word.ends_with('!') {
                1
            } else if let Some((_, terms)) = INTERPOLATING_WORDS.iter().find(|(w, _)| *w == word) {
                *terms
            } else {
                interpolating.saturating_sub(1)
            };
            self.push(TokenKind::Ident, start);
        } else if c == '#' && self.peek_at(1).is_some_and(|n| n.is_ascii_alphabetic()) {
            // Hash commands (`#check`, `#guard_msgs`) are single keyword tokens in Lean.
            self.bump();
            self.skip_ident();
            self.push(TokenKind::Ident, start);
        } else {
            let _ = rest;
            self.lex_symbol(c);
            let text = &self.src[start..self.pos];
            self.after_projection_dot = text == "." && glued;
            self.interpolating = interpolating.saturating_sub(1);
        }
        self.last_significant_end = self.pos;
    }

    /// Lean's `whitespace`: a run of whitespace, a `--` line comment or a `/- -/` block comment
    /// (`/--` and `/-!` are documentation, which Lean parses as tokens). Returns whether it lexed
    /// one.
    fn lex_trivia(&mut self, c: char) -> bool {
        let start = self.pos;
        let rest = self.rest();
        if c.is_whitespace() {
            while self.peek().is_some_and(char::is_whitespace) {
                self.bump();
            }
            self.push(TokenKind::Whitespace, start);
        } else if rest.starts_with("--") {
            let len = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
            self.pos += len;
            self.push(TokenKind::LineComment, start);
        } else if rest.starts_with("/-") {
            let kind = match rest.as_bytes().get(2) {
                Some(b'-') => TokenKind::DocComment,
                Some(b'!') => TokenKind::ModuleDoc,
                _ => TokenKind::BlockComment,
            };
            // Lean's `whitespace` skips the character after `/-` unseen (so `/-/` does not nest
            // and `/--/` opens a doc comment); documentation bodies start after `/--` and `/-!`.
            self.pos += 2;
            self.bump();
            self.skip_block_comment_body();
            self.push(kind, start);
        } else {
            return false;
        }
        true
    }

    /// Lean's `finishCommentBlock 1`: consumes a comment body up to the `-/` that closes it,
    /// honouring nesting.
    fn skip_block_comment_body(&mut self) {
        let mut depth = 1usize;
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() {
            if bytes[self.pos] == b'/' && bytes.get(self.pos + 1) == Some(&b'-') {
                depth += 1;
                self.pos += 2;
            } else if bytes[self.pos] == b'-' && bytes.get(self.pos + 1) == Some(&b'/') {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// Consumes a string body after the opening quote, up to and including the closing quote.
    /// With `stop_at_brace`, stops before an unescaped `{` and returns true. An escape (`\n`,
    /// `\x41`, `\u0041`, `\{`, a `\` line-break gap) never contains a quote after its first
    /// character, so skipping one character after `\` finds the same end as Lean's
    /// `quotedCharCoreFn`.
    fn skip_string_body(&mut self, stop_at_brace: bool) -> bool {
        while let Some(c) = self.peek() {
            match c {
                '\\' => {
                    self.bump();
                    self.bump();
                }
                '"' => {
                    self.bump();
                    return false;
                }
                '{' if stop_at_brace => return true,
                _ => self.bump(),
            }
        }
        false
    }

    /// Lexes the text part of an interpolated string starting at `start` (the quote or the `}`
    /// already consumed); on `{` it emits the text, the brace, and switches to code.
    fn lex_interpolated_text(&mut self, start: usize) {
        if self.skip_string_body(true) {
            self.push(TokenKind::String, start);
            let brace = self.pos;
            self.bump();
            self.push(TokenKind::Symbol, brace);
            self.interpolations.push(0);
        } else {
            self.push(TokenKind::String, start);
        }
    }

    /// Lean's `charLitFnAux`: `'`, one character or one escape (`\\`, `\"`, `\'`, `\r`, `\n`,
    /// `\t`, `\xHH`, `\uHHHH`), `'`. Anything else is a lone `'` symbol (a parse error in Lean).
    fn lex_char_literal(&mut self) {
        let start = self.pos;
        let body = &self.rest()[1..];
        let mut chars = body.chars();
        let body_len = match chars.next() {
            Some('\\') => {
                let hex_digits = |n: usize| {
                    body.get(2..2 + n)
                        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                        .then_some(2 + n)
                };
                match chars.next() {
                    Some('\\' | '"' | '\'' | 'r' | 'n' | 't') => Some(2),
                    Some('x') => hex_digits(2),
                    Some('u') => hex_digits(4),
                    _ => None,
                }
            }
            Some(c) => Some(c.len_utf8()),
            None => None,
        };
        match body_len.filter(|&len| body.as_bytes().get(len) == Some(&b'\'')) {
            Some(len) => {
                self.pos += 1 + len + 1;
                self.push(TokenKind::Char, start);
            }
            None => {
                self.bump();
                self.push(TokenKind::Symbol, start);
            }
        }
    }

    fn lex_backtick(&mut self) {
        let start = self.pos;
        let rest = self.rest();
        let ticks = if rest.starts_with("``") { 2 } else { 1 };
        match self.peek_at(ticks) {
            Some('(') => {
                // A syntax quotation: everything up to the matching paren is quoted syntax.
                self.quotations.push(self.paren_depth);
                self.paren_depth += 1;
                self.pos += ticks + 1;
                self.push(TokenKind::Symbol, start);
            }
            Some(c) if is_id_start(c) || c == '«' => {
                self.pos += ticks;
                self.skip_ident();
                self.push(TokenKind::NameLiteral, start);
            }
            _ => {
                self.pos += ticks;
                self.push(TokenKind::Symbol, start);
            }
        }
    }

    /// Length of a raw string literal `r"…"` / `r#"…"#` at the cursor, if one starts here.
    fn raw_string_len(&self) -> Option<usize> {
        let rest = self.rest();
        let after_r = rest.get(1..)?;
        let hashes = after_r.bytes().take_while(|&b| b == b'#').count();
        if after_r.as_bytes().get(hashes) != Some(&b'"') {
            return None;
        }
        // `r` must not continue an identifier: the caller only reaches here at a token start.
        let body_start = 1 + hashes + 1;
        let closing: String = std::iter::once('"')
            .chain(std::iter::repeat_n('#', hashes))
            .collect();
        match rest[body_start..].find(&closing) {
            Some(i) => Some(body_start + i + closing.len()),
            None => Some(rest.len()),
        }
    }

    /// Consumes an identifier: components separated by `.`, each plain or `«guillemeted»`.
    fn skip_ident(&mut self) {
        loop {
            if self.peek() == Some('«') {
                match self.rest().find('»') {
                    Some(i) => self.pos += i + '»'.len_utf8(),
                    None => self.pos = self.src.len(),
                }
            } else {
                while self.peek().is_some_and(is_id_rest) {
                    self.bump();
                }
            }
            let continues = self.peek() == Some('.')
                && self.peek_at(1).is_some_and(|c| is_id_start(c) || c == '«');
            if !continues {
                return;
            }
            self.bump();
        }
    }

    /// Lean's `numberFnAux`: `0b`, `0o` and `0x` literals, decimals with `_` separators, and
    /// scientific literals (`2.`, `1.5`, `2e3`, `1.5E-3`). A malformed literal (Lean's error)
    /// ends where Lean's reading stops.
    fn skip_number(&mut self) {
        let rest = self.rest().as_bytes();
        let radix_digit: Option<fn(u8) -> bool> = match (rest.first(), rest.get(1)) {
            (Some(b'0'), Some(b'b' | b'B')) => Some(|b| matches!(b, b'0' | b'1')),
            (Some(b'0'), Some(b'o' | b'O')) => Some(|b| matches!(b, b'0'..=b'7')),
            (Some(b'0'), Some(b'x' | b'X')) => Some(|b| b.is_ascii_hexdigit()),
            _ => None,
        };
        let take_digits = |lexer: &mut Self, digit: fn(u8) -> bool| {
            while lexer
                .src
                .as_bytes()
                .get(lexer.pos)
                .is_some_and(|&b| digit(b) || b == b'_')
            {
                lexer.pos += 1;
            }
        };
        if let Some(digit) = radix_digit {
            self.pos += 2;
            take_digits(self, digit);
            return;
        }
        take_digits(self, |b| b.is_ascii_digit());
        if self.peek() == Some('.') {
            self.bump();
            take_digits(self, |b| b.is_ascii_digit());
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1 + sign;
                take_digits(self, |b| b.is_ascii_digit());
            }
        }
    }

    fn lex_symbol(&mut self, c: char) {
        let start = self.pos;
        let rest = self.rest();
        // Inside an interpolated string's code, braces are counted one by one so `}}` can
        // close a nested brace and the code part.
        let single_brace = !self.interpolations.is_empty() && matches!(c, '{' | '}');
        let len = if single_brace {
            c.len_utf8()
        } else {
            symbol_len(rest).unwrap_or(c.len_utf8())
        };
        self.pos += len;
        let text = &self.src[start..self.pos];
        match text {
            "(" => self.paren_depth += 1,
            ")" => {
                self.paren_depth = self.paren_depth.saturating_sub(1);
                if self.quotations.last() == Some(&self.paren_depth) {
                    // The closing paren still belongs to the quotation.
                    self.push(TokenKind::Symbol, start);
                    self.quotations.pop();
                    return;
                }
            }
            "{" => {
                if let Some(depth) = self.interpolations.last_mut() {
                    *depth += 1;
                }
            }
            "}" => match self.interpolations.last_mut() {
                Some(0) => {
                    // End of an interpolated code part: back to the string's text.
                    self.push(TokenKind::Symbol, start);
                    self.interpolations.pop();
                    let text_start = self.pos;
                    self.lex_interpolated_text(text_start);
                    return;
                }
                Some(depth) => *depth -= 1,
                None => {}
            },
            _ => {}
        }
        self.push(TokenKind::Symbol, start);
    }
}

/// Lean's `isLetterLike` (`Init/Meta/Defs.lean`): Greek (except `λ`, `Π`, `Σ`), Coptic,
/// polytonic Greek, letter-like symbols such as `ℕ`, mathematical alphanumerics such as `𝔽`, and
/// the Latin-1 and Latin Extended-A letters (except `×` and `÷`).
fn is_letter_like(c: char) -> bool {
    let u = c as u32;
    ((0x3b1..=0x3c9).contains(&u) && u != 0x3bb)
        || ((0x391..=0x3A9).contains(&u) && u != 0x3A0 && u != 0x3A3)
        || (0x3ca..=0x3fb).contains(&u)
        || (0x1f00..=0x1ffe).contains(&u)
        || (0x2100..=0x214f).contains(&u)
        || (0x1d49c..=0x1d59f).contains(&u)
        || ((0xc0..=0xff).contains(&u) && u != 0xd7 && u != 0xf7)
        || (0x100..=0x17f).contains(&u)
}

/// Lean's `isSubScriptAlnum`: subscript digits and letters such as `₀`, `ᵢ` and `ⱼ`.
fn is_subscript_alnum(c: char) -> bool {
    let u = c as u32;
    (0x2080..=0x2089).contains(&u)
        || (0x2090..=0x209c).contains(&u)
        || (0x1d62..=0x1d6a).contains(&u)
        || u == 0x2c7c
}

/// Lean's `isIdFirst`: an ASCII letter (Lean's `Char.isAlpha` is ASCII only), `_`, or a
/// letter-like character. Cyrillic or CJK letters are not identifier characters in Lean.
pub fn is_id_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || is_letter_like(c)
}

/// Lean's `isIdRest`: [`is_id_start`], ASCII digits, `'`, `!`, `?` and subscripts.
pub fn is_id_rest(c: char) -> bool {
    is_id_start(c) || c.is_ascii_digit() || matches!(c, '\'' | '!' | '?') || is_subscript_alnum(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str, bool)> {
        lex(src)
            .into_iter()
            .filter(|t| t.kind != TokenKind::Whitespace)
            .map(|t| (t.kind, &src[t.span.clone()], t.in_quotation))
            .collect()
    }

    #[test]
    fn word_spans_find_a_keyword_as_the_first_component_of_a_name_only() {
        let src =
            "sorry h.sorry sorryAx sorry.elim «sorry» -- sorry\n\"sorry\" `sorry s!\"{sorry}\"";
        let spans = word_spans(src, &lex(src), "sorry");
        let starts: Vec<usize> = spans.iter().map(|span| span.start).collect();
        // `sorry`, `sorry.elim`, `«sorry»` and the one in the interpolated string.
        assert_eq!(starts, [0, 22, 35, 71]);
        assert!(spans.iter().all(|span| &src[span.clone()] == "sorry"));
    }

    fn idents(src: &str) -> Vec<&str> {
        kinds(src)
            .into_iter()
            .filter(|(k, _, q)| *k == TokenKind::Ident && !q)
            .map(|(_, s, _)| s)
            .collect()
    }

    #[test]
    fn nested_block_comments_hide_their_contents() {
        assert_eq!(idents("a /- x /- sorry -/ sorry -/ b"), vec!["a", "b"]);
        assert_eq!(kinds("/-- doc -/")[0].0, TokenKind::DocComment);
        assert_eq!(kinds("/-! mod -/")[0].0, TokenKind::ModuleDoc);
        assert_eq!(kinds("/- unterminated sorry").len(), 1);
    }

    #[test]
    fn strings_and_interpolation() {
        assert_eq!(idents(r#"f "sorry \" sorry" g"#), vec!["f", "g"]);
        assert_eq!(
            idents(r#"s!"sorry {x + y} and {z}" w"#),
            vec!["s!", "x", "y", "z", "w"]
        );
        assert_eq!(
            idents(r#"m!"a {f {b}} sorry" w"#),
            vec!["m!", "f", "b", "w"]
        );
        assert_eq!(
            idents(r##"r#"sorry "quoted" sorry"# after"##),
            vec!["after"]
        );
        assert_eq!(idents(r#"r"sorry" rr"#), vec!["rr"]);
    }

    #[test]
    fn chars_versus_primes() {
        assert_eq!(idents("h' f'' 'a' '\\n' x"), vec!["h'", "f''", "x"]);
        let toks = kinds("f '' s");
        assert!(
            toks.iter().all(|(k, _, _)| *k != TokenKind::Char),
            "{toks:?}"
        );
    }

    #[test]
    fn name_literals_and_quotations() {
        assert_eq!(idents("`sorry ``Lean.sorry `«a b» x"), vec!["x"]);
        let toks = kinds("`(tactic| (sorry)) sorry");
        let sorries: Vec<_> = toks.iter().filter(|(_, s, _)| *s == "sorry").collect();
        assert_eq!(sorries.len(), 2);
        assert!(sorries[0].2, "quoted sorry is in_quotation");
        assert!(!sorries[1].2, "sorry after the quotation is code");
    }

    #[test]
    fn identifiers_numbers_symbols() {
        assert_eq!(
            idents("Nat.succ h₀ α ℕ x.1 «weird name».b"),
            vec!["Nat.succ", "h₀", "α", "ℕ", "x", "«weird name».b"]
        );
        assert_eq!(
            idents("#guard_msgs(warning) in #[1]"),
            vec!["#guard_msgs", "warning", "in"]
        );
        let toks = kinds("0x1F 1.5 2e3 := <;> ⟨");
        let texts: Vec<_> = toks.iter().map(|(_, s, _)| *s).collect();
        assert_eq!(texts, vec!["0x1F", "1.5", "2e3", ":=", "<;>", "⟨"]);
        assert_eq!(toks[0].0, TokenKind::Number);
        assert_eq!(toks[3].0, TokenKind::Symbol);
    }

    #[test]
    fn tokens_tile_the_input() {
        let src = "theorem x : ℕ := by\n  simp -- sorry\n  \"unterminated";
        let toks = lex(src);
        let mut at = 0;
        for t in &toks {
            assert_eq!(t.span.start, at);
            at = t.span.end;
        }
        assert_eq!(at, src.len());
    }
}
