//! The lexer against Lean's own tokenizer, one test per function of Lean's
//! `src/Lean/Parser/Basic.lean` (and `StrInterpolation.lean`, `Init/Meta/Defs.lean`). Each case
//! states what Lean reads, derived from that function's source; a case is named after the
//! function whose behaviour it pins down.

use lean_syntax::{TokenKind, lex, lex_interpolating_every_string};

/// The non-whitespace tokens of `src` as `(kind, text)`.
fn tokens(src: &str) -> Vec<(TokenKind, &str)> {
    lex(src)
        .into_iter()
        .filter(|t| t.kind != TokenKind::Whitespace)
        .map(|t| (t.kind, &src[t.span.clone()]))
        .collect()
}

/// The code Lean elaborates: identifiers, numbers and symbols, as text.
fn code(src: &str) -> Vec<&str> {
    tokens(src)
        .into_iter()
        .filter(|(k, _)| matches!(k, TokenKind::Ident | TokenKind::Number | TokenKind::Symbol))
        .map(|(_, s)| s)
        .collect()
}

fn kind_of(src: &str) -> Vec<TokenKind> {
    tokens(src).into_iter().map(|(k, _)| k).collect()
}

// --- `whitespace` and `finishCommentBlock` -------------------------------------------------

/// `whitespace` runs only between tokens, and `tokenFn` reads the longest token of the table:
/// `//` (core's subtype `{ x // p x }`) is one token, so the `-` after it opens no comment.
#[test]
fn whitespace_runs_between_tokens_so_subtype_slash_slash_dash_is_no_comment() {
    assert_eq!(
        code("{ x // -x < 0 } /- hidden -/ sorry"),
        vec!["{", "x", "//", "-", "x", "<", "0", "}", "sorry"]
    );
    // What would hide an axiom from a lexer that splits `//`: Lean reads it all as code.
    assert_eq!(
        code("{ n : ℕ //- 0 < n } axiom bad : False -/"),
        vec![
            "{", "n", ":", "ℕ", "//", "-", "0", "<", "n", "}", "axiom", "bad", ":", "False", "-",
            "/"
        ]
    );
}

/// Core's `infixr:30 " \\/ " => Or` and `infixr:35 " /\\ " => And` (`Init/Core.lean`).
#[test]
fn token_table_has_cores_ascii_or_and_and() {
    assert_eq!(code("p \\/-q"), vec!["p", "\\/", "-", "q"]);
    assert_eq!(code("p /\\ q"), vec!["p", "/\\", "q"]);
    assert_eq!(
        code("a \\/- b -/ sorry"),
        vec!["a", "\\/", "-", "b", "-", "/", "sorry"]
    );
}

/// `whitespace`: after `/-` the next character is skipped unseen (`s.next input i`), so `/-/`
/// does not open a nested comment: `/-/- -/` is one whole comment and what follows is code.
#[test]
fn whitespace_skips_the_character_after_slash_dash() {
    assert_eq!(
        code("/-/- -/ axiom bad : False"),
        vec!["axiom", "bad", ":", "False"]
    );
    assert_eq!(kind_of("/-/- -/ x")[0], TokenKind::BlockComment);
    // Nesting does count a `/-` further in (`finishCommentBlock (nesting+1)`).
    assert_eq!(code("/- a /- b -/ sorry -/ c"), vec!["c"]);
}

/// `whitespace` stops before `/--` and `/-!`: they are tokens of `docComment` and `moduleDoc`,
/// whose bodies `finishCommentBlock` reads from after the third character, so `/--/` opens a doc
/// comment.
#[test]
fn whitespace_leaves_doc_comments_to_their_tokens() {
    assert_eq!(kind_of("/-- doc -/ x")[0], TokenKind::DocComment);
    assert_eq!(kind_of("/-! module -/ x")[0], TokenKind::ModuleDoc);
    assert_eq!(
        tokens("/--/ sorry -/ x"),
        vec![
            (TokenKind::DocComment, "/--/ sorry -/"),
            (TokenKind::Ident, "x")
        ]
    );
    assert_eq!(code("/-- a /- b -/ sorry -/ c"), vec!["c"]);
}

/// `whitespace`: `--` runs to the end of the line (`takeUntilFn (· = '\n')`).
#[test]
fn whitespace_line_comment_ends_at_newline() {
    assert_eq!(code("a -- sorry -/ b\nc"), vec!["a", "c"]);
    assert_eq!(tokens("x --")[1], (TokenKind::LineComment, "--"));
}

/// `finishCommentBlock` at the end of input: "unterminated comment"; the lexer covers the rest.
#[test]
fn finish_comment_block_unterminated_runs_to_the_end() {
    assert_eq!(
        tokens("/- a /- b -/ sorry"),
        vec![(TokenKind::BlockComment, "/- a /- b -/ sorry")]
    );
}

// --- `tokenFnAux`: the token table ----------------------------------------------------------

/// Mathlib's `''` (image), `∑'` (tsum) and `⁻¹'` (preimage) are tokens: no char literal starts
/// inside them (`tokenFnAux` reads a char literal only at `'` not followed by `'`).
#[test]
fn token_fn_reads_primed_tokens_whole() {
    assert_eq!(code("f '' s ∪ t"), vec!["f", "''", "s", "∪", "t"]);
    assert_eq!(code("∑'a' b"), vec!["∑'", "a'", "b"]);
    assert_eq!(code("f ⁻¹'x' y"), vec!["f", "⁻¹'", "x'", "y"]);
}

/// Longest match: `<;>`, `|>.`, `<|>`, `...` are single tokens.
#[test]
fn token_fn_takes_the_longest_match() {
    assert_eq!(
        code("a <;> b |>.c <|> d ... e"),
        vec!["a", "<;>", "b", "|>.", "c", "<|>", "d", "...", "e"]
    );
    assert_eq!(code("a <-- b"), vec!["a", "<-", "-", "b"]);
    assert_eq!(code("a <--- b\nc"), vec!["a", "<-", "c"]);
}

// --- `strLitFnAux`, `quotedCharCoreFn`, `stringGapFn` ---------------------------------------

/// Escapes `\\ \" \' \r \n \t \xHH \uHHHH` and the string gap `\` newline never end a string.
#[test]
fn str_lit_fn_aux_escapes_and_gaps() {
    let src = "\"a \\\" \\\\ \\x41 \\u03B1 \\t sorry\" b";
    assert_eq!(code(src), vec!["b"]);
    let gap = "\"first \\\n    second sorry\" b";
    assert_eq!(code(gap), vec!["b"]);
    assert_eq!(kind_of(gap)[0], TokenKind::String);
}

/// `strLitFnAux` at the end of input: "unterminated string literal".
#[test]
fn str_lit_fn_aux_unterminated_runs_to_the_end() {
    assert_eq!(
        tokens("x \"a\\\" sorry"),
        vec![
            (TokenKind::Ident, "x"),
            (TokenKind::String, "\"a\\\" sorry")
        ]
    );
}

// --- `interpolatedStrFn` (`StrInterpolation.lean`) -------------------------------------------

/// `syntax:max "s!" interpolatedStr(term)`: the string is a separate parser after the `s!`
/// token and its whitespace, so `s! "…{e}"` (with a space, or a comment) interpolates too.
#[test]
fn interpolated_str_fn_after_a_prefix_and_whitespace() {
    assert_eq!(code("s! \"a {sorry} b\""), vec!["s!", "{", "sorry", "}"]);
    assert_eq!(code("m!  \"{e}\""), vec!["m!", "{", "e", "}"]);
    assert_eq!(code("f! /- c -/ \"{e}\""), vec!["f!", "{", "e", "}"]);
    assert_eq!(code("s!\"{x}\" \"{plain}\""), vec!["s!", "{", "x", "}"]);
}

/// Core's `throwError (interpolatedStr(term) <|> term)` and `throwErrorAt ref (…)`.
#[test]
fn interpolated_str_fn_after_throw_error() {
    assert_eq!(
        code("throwError \"bad {sorry}\""),
        vec!["throwError", "{", "sorry", "}"]
    );
    assert_eq!(
        code("throwErrorAt ref \"bad {e}\""),
        vec!["throwErrorAt", "ref", "{", "e", "}"]
    );
    assert_eq!(
        code("throwError m! \"{e}\""),
        vec!["throwError", "m!", "{", "e", "}"]
    );
}

/// `isQuotableCharForStrInterpolant`: `\{` is an escape; nested braces and strings in the code
/// part belong to the code (`p c s` parses a whole term, comments and strings included).
#[test]
fn interpolated_str_fn_escapes_and_nesting() {
    assert_eq!(code("s!\"\\{sorry} {x}\""), vec!["s!", "{", "x", "}"]);
    assert_eq!(
        code("s!\"{f {a := 1} \"}\" /- } -/ y} z\" w"),
        vec!["s!", "{", "f", "{", "a", ":=", "1", "}", "y", "}", "w"]
    );
}

/// User syntax can declare `interpolatedStr(term)` after any token, which no lexer can know:
/// the second reading treats every string as interpolated.
#[test]
fn every_string_reading_sees_user_interpolation() {
    let src = "myLog \"{sorry}\"";
    assert!(!code(src).contains(&"sorry"));
    let conservative: Vec<&str> = lex_interpolating_every_string(src)
        .into_iter()
        .filter(|t| t.is_code())
        .map(|t| &src[t.span.clone()])
        .collect();
    assert!(conservative.contains(&"sorry"), "{conservative:?}");
}

// --- `charLitFnAux` ---------------------------------------------------------------------------

/// A char literal is `'`, one character or one `quotedCharFn` escape, `'`.
#[test]
fn char_lit_fn_aux() {
    for lit in [
        "'a'",
        "'\\n'",
        "'\\''",
        "'\\\\'",
        "'\\x41'",
        "'\\u03B1'",
        "'α'",
        "'\"'",
    ] {
        let src = format!("{lit} x");
        assert_eq!(
            tokens(&src),
            vec![(TokenKind::Char, lit), (TokenKind::Ident, "x")],
            "{lit}"
        );
    }
    // Not literals: two characters, a brace escape (no `\u{…}` in Lean 4), a short hex escape.
    for src in ["'ab' x", "'\\u{41}' x", "'\\x4' x"] {
        assert!(kind_of(src).iter().all(|k| *k != TokenKind::Char), "{src}");
    }
}

/// `isIdRest` includes `'`: primes belong to identifiers and never open a char literal.
#[test]
fn primes_are_identifier_characters() {
    assert_eq!(code("h' h'' x'y 'c'"), vec!["h'", "h''", "x'y"]);
}

// --- `rawStrLitFnAux` -------------------------------------------------------------------------

/// `r##"…"##`: the literal ends only at a quote followed by as many `#` as it opened with.
#[test]
fn raw_str_lit_fn_aux() {
    assert_eq!(code("r#\"a \"sorry\" \"# b"), vec!["b"]);
    assert_eq!(code("r##\"a \"# sorry\"## b"), vec!["b"]);
    assert_eq!(code("r\"\\\" b"), vec!["b"]);
    // `r` inside an identifier starts nothing.
    assert_eq!(code("br\"s\""), vec!["br"]);
}

// --- `identFnAux`, `isIdFirst`, `isIdRest`, `isLetterLike`, `isSubScriptAlnum` ---------------

/// Greek (not `λ`, `Π`, `Σ`), letter-like symbols, mathematical alphanumerics, Latin-1 and
/// Latin Extended-A letters, and subscripts glue into one identifier.
#[test]
fn ident_fn_aux_letter_like_characters() {
    assert_eq!(
        code("αβsorry ℕsorry 𝔽 x₁ hᵢⱼ éé Ωx"),
        vec!["αβsorry", "ℕsorry", "𝔽", "x₁", "hᵢⱼ", "éé", "Ωx"]
    );
    assert_eq!(code("λx"), vec!["λ", "x"]);
    assert_eq!(code("Σx Πy"), vec!["Σ", "x", "Π", "y"]);
    // `Char.isAlpha` is ASCII in Lean: a Cyrillic letter is no identifier character.
    assert_eq!(code("sorryб"), vec!["sorry", "б"]);
    assert_eq!(code("a×b"), vec!["a", "×", "b"]);
}

/// `isIdCont`: a `.` continues an identifier only before `isIdFirst` or `«`.
#[test]
fn ident_fn_aux_dotted_and_escaped_names() {
    assert_eq!(
        code("Nat.succ «a b».c x.«sorry»"),
        vec!["Nat.succ", "«a b».c", "x.«sorry»"]
    );
    assert_eq!(code("h.1"), vec!["h", ".", "1"]);
}

// --- `nameLitAux` -----------------------------------------------------------------------------

/// `` `x `` is a name literal when `x` is `isIdFirst` or `«`; ``` ``x ``` too.
#[test]
fn name_lit_aux() {
    assert_eq!(kind_of("`sorry.x")[0], TokenKind::NameLiteral);
    assert_eq!(kind_of("``Nat.add")[0], TokenKind::NameLiteral);
    assert_eq!(kind_of("`«a b»")[0], TokenKind::NameLiteral);
    assert_eq!(code("`sorry x"), vec!["x"]);
}

// --- `numberFnAux`, `decimalNumberFn`, `fieldIdxFn` -------------------------------------------

/// `0x`/`0b`/`0o` take only their radix's digits; decimals take `_`; `2.` and `1.5e-3` are
/// scientific literals (`parseOptDot` takes a `.` even without digits after it).
#[test]
fn number_fn_aux() {
    assert_eq!(
        code("0x1F 0b102 0o78 1_000"),
        vec!["0x1F", "0b10", "2", "0o7", "8", "1_000"]
    );
    assert_eq!(
        code("2. 1.5e-3 2e3 3E+2"),
        vec!["2.", "1.5e-3", "2e3", "3E+2"]
    );
    assert_eq!(code("1e x"), vec!["1", "e", "x"]);
}

/// `fieldIdxFn`: after a glued `.` the projection index is digits only: `h.1.2` is
/// `h . 1 . 2`, never the scientific `1.2`.
#[test]
fn field_idx_fn_after_projection_dot() {
    assert_eq!(code("h.1.2"), vec!["h", ".", "1", ".", "2"]);
    assert_eq!(
        code("(p x).2.symm"),
        vec!["(", "p", "x", ")", ".", "2", ".", "symm"]
    );
    assert_eq!(code("f . 1.5"), vec!["f", ".", "1.5"]);
}

/// `tokenFnAux` → `c.tokens.matchPrefix`: every token of the table is read whole between
/// spaces, and followed by `-` or `/-` it still opens no comment (Lean's `whitespace` runs only
/// after the token).
#[test]
fn token_fn_reads_every_table_token_whole() {
    for symbol in lean_syntax::SYMBOLS {
        let src = format!("a {symbol} b");
        assert_eq!(code(&src), vec!["a", symbol, "b"], "{symbol}");
        if symbol.ends_with('/') {
            let src = format!("a {symbol}- b -/ c");
            assert_eq!(
                code(&src),
                vec!["a", symbol, "-", "b", "-", "/", "c"],
                "{symbol}"
            );
        }
    }
}
