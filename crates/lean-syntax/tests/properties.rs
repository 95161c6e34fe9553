//! Property tests: the lexer is total and lossless on any Unicode, and `LineIndex` agrees with
//! a naive line/column computation.

use lean_syntax::{LineIndex, Position, Token, lex, lex_interpolating_every_string, outline};
use proptest::prelude::*;

/// Lean-flavoured text: mostly the characters that drive the lexer's states.
fn lean_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("/-".to_owned()),
            Just("-/".to_owned()),
            Just("--".to_owned()),
            Just("\"".to_owned()),
            Just("s!\"".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("`(".to_owned()),
            Just("``".to_owned()),
            Just("'".to_owned()),
            Just("\\".to_owned()),
            Just("r#\"".to_owned()),
            Just("«".to_owned()),
            // Lean's tokens and literals that change what follows them.
            Just("//-".to_owned()),
            Just("\\/".to_owned()),
            Just("/-/".to_owned()),
            Just("/--/".to_owned()),
            Just("s! \"".to_owned()),
            Just("throwError ".to_owned()),
            Just("''".to_owned()),
            Just("∑'".to_owned()),
            Just("'\\x4".to_owned()),
            Just("h.1.".to_owned()),
            Just("2.".to_owned()),
            Just("0x".to_owned()),
            Just("r##\"".to_owned()),
            Just("\"#".to_owned()),
            Just("αβ₁".to_owned()),
            Just("\ntheorem ".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            "\\PC{0,4}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// The tokens are non-empty, contiguous, on char boundaries, and cover all of `text`.
fn tiles(text: &str, tokens: &[Token]) -> Result<(), TestCaseError> {
    let mut at = 0;
    for token in tokens {
        prop_assert_eq!(token.span.start, at);
        prop_assert!(token.span.end > token.span.start);
        prop_assert!(text.is_char_boundary(token.span.end));
        at = token.span.end;
    }
    prop_assert_eq!(at, text.len());
    Ok(())
}

/// The naive reference: walk the text char by char.
fn naive_position(text: &str, byte: usize) -> Position {
    let mut line = 0;
    let mut character = 0;
    for (i, c) in text.char_indices() {
        if i >= byte {
            break;
        }
        if c == '\n' {
            line += 1;
            character = 0;
        } else {
            character += c.len_utf16() as u32;
        }
    }
    // A `\r` before `\n` belongs to the line break, not the line.
    Position::new(line, character)
}

fn naive_offset(text: &str, pos: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..pos.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line_end = if text[line_start..line_end].ends_with('\r') && line_end < text.len() {
        line_end - 1
    } else {
        line_end
    };
    let mut units = 0;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units + c.len_utf16() > pos.character as usize {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    line_end
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lex_covers_every_byte_of_any_text(text in prop_oneof![lean_like(), "\\PC*", any::<String>()]) {
        tiles(&text, &lex(&text))?;
        tiles(&text, &lex_interpolating_every_string(&text))?;
        // The outline never panics either, and its commands are ordered and disjoint.
        let out = outline(&text);
        for pair in out.commands.windows(2) {
            prop_assert!(pair[0].span.end <= pair[1].span.start);
        }
    }

    #[test]
    fn resumed_lexing_at_token_starts_matches(text in lean_like()) {
        // Resuming at every point where the full lex is fresh gives the same tail.
        let full = lex(&text);
        let mut lexer = lean_syntax::Lexer::new(&text, 0);
        let mut seen = Vec::new();
        while let Some(token) = lexer.next() {
            seen.push(token);
            if lexer.is_fresh() {
                let tail: Vec<_> = lean_syntax::Lexer::new(&text, lexer.offset()).collect();
                prop_assert_eq!(&full[seen.len()..], tail.as_slice());
            }
        }
    }

    #[test]
    fn line_index_matches_naive(
        text in "([a-z]|\\n|\\r\\n|\\r|𝔽|é|ℕ|⟨){0,40}",
        bytes in prop::collection::vec(0usize..200, 8),
        positions in prop::collection::vec((0u32..12, 0u32..30), 8),
    ) {
        let index = LineIndex::new(&text);
        for byte in bytes {
            let clamped = lean_syntax::floor_char_boundary(&text, byte);
            let naive = naive_position(&text, clamped);
            // The naive walk counts a `\r` before `\n` as a character; Lean does not put
            // positions there, so compare elsewhere only.
            if !text[..clamped].ends_with('\r') {
                prop_assert_eq!(index.position(byte), naive, "byte {}", byte);
            }
        }
        for (line, character) in positions {
            let pos = Position::new(line, character);
            prop_assert_eq!(index.offset(pos), naive_offset(&text, pos), "{:?}", pos);
        }
    }
}

/// Declaration-shaped text: keywords, binders, colons and `:=` in any order.
fn declaration_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("theorem t ".to_owned()),
            Just("\nexample ".to_owned()),
            Just("\ndef f ".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("⦃".to_owned()),
            Just("⦄".to_owned()),
            Just(" : ".to_owned()),
            Just(" := ".to_owned()),
            Just(" where ".to_owned()),
            Just("\n| ".to_owned()),
            Just(" by\n  ".to_owned()),
            Just("x".to_owned()),
            Just("ℕ".to_owned()),
            "\\PC{0,3}",
        ],
        0..30,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    /// The declaration parser reads text straight from the editor: it must never panic.
    #[test]
    fn parsing_declarations_never_panics(text in prop_oneof![declaration_like(), lean_like()]) {
        for command in outline(&text).commands {
            let _ = lean_syntax::parse_declaration(&text, &command);
        }
    }
}
