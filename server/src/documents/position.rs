//! LSP positions on a rope, in the encoding the server negotiated (the editor's documents). A
//! plain string's positions are `lean_syntax::LineIndex::lsp_position`/`lsp_offset`.
//!
//! The LSP specification (3.17, "Position"): "Position in a text document expressed as
//! zero-based line and zero-based character offset. A position is between two characters
//! like an 'insert' cursor in an editor." and "If the character value is greater than the
//! line length it defaults back to the line length." Line breaks are `\n`, `\r\n` and `\r`
//! ("To ensure that both client and server split the string into the same line
//! representation the protocol specifies the following end-of-line sequences: '\n',
//! '\r\n' and '\r'."), which is what ropey's `cr_lines` feature splits on.
//!
//! Invariant: every conversion clamps instead of failing: a line past the end maps to the
//! end of the text, a character past the end of its line maps to the line end (before the
//! terminator), and an offset inside a multi-unit character maps to that character's start.

use lsp_types::Position;
use ropey::{Rope, RopeSlice};

/// How `Position::character` counts, as negotiated by `positionEncoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionEncoding {
    /// UTF-8 code units (bytes).
    Utf8,
    /// UTF-16 code units: the LSP default and what Lean uses.
    #[default]
    Utf16,
    /// Unicode scalar values.
    Utf32,
}

impl PositionEncoding {
    /// Reads the server's `capabilities.positionEncoding` value; absent or unknown is UTF-16
    /// ("If omitted it defaults to 'utf-16'").
    pub fn from_lsp(kind: Option<&str>) -> Self {
        match kind {
            Some("utf-8") => Self::Utf8,
            Some("utf-32") => Self::Utf32,
            _ => Self::Utf16,
        }
    }
}

/// The char index where line `line` ends, before its terminator.
fn line_end_char(text: RopeSlice<'_>, line: usize) -> usize {
    let start = text.line_to_char(line);
    let line_text = text.line(line);
    let mut len = line_text.len_chars();
    if len > 0 && line_text.char(len - 1) == '\n' {
        len -= 1;
    }
    if len > 0 && line_text.char(len - 1) == '\r' {
        len -= 1;
    }
    start + len
}

/// Converts an LSP position to a char index in `text`, clamping as the spec says.
pub fn position_to_char(text: &Rope, position: Position, encoding: PositionEncoding) -> usize {
    let text = text.slice(..);
    let line = position.line as usize;
    if line >= text.len_lines() {
        return text.len_chars();
    }
    let start = text.line_to_char(line);
    let end = line_end_char(text, line);
    let character = position.character as usize;
    match encoding {
        PositionEncoding::Utf32 => (start + character).min(end),
        PositionEncoding::Utf16 => {
            let base = text.char_to_utf16_cu(start);
            let target = (base + character).min(text.char_to_utf16_cu(end));
            text.utf16_cu_to_char(target)
        }
        PositionEncoding::Utf8 => {
            let base = text.char_to_byte(start);
            let target = (base + character).min(text.char_to_byte(end));
            text.byte_to_char(target)
        }
    }
}

/// Converts a char index to an LSP position; an index past the end is the end of the text.
pub fn char_to_position(text: &Rope, char_index: usize, encoding: PositionEncoding) -> Position {
    let char_index = char_index.min(text.len_chars());
    let line = text.char_to_line(char_index);
    let start = text.line_to_char(line);
    let character = match encoding {
        PositionEncoding::Utf32 => char_index - start,
        PositionEncoding::Utf16 => text.char_to_utf16_cu(char_index) - text.char_to_utf16_cu(start),
        PositionEncoding::Utf8 => text.char_to_byte(char_index) - text.char_to_byte(start),
    };
    Position::new(saturate(line), saturate(character))
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious implementation on a `String`: split lines by hand, count units by hand.
    fn naive_position_to_char(text: &str, position: Position, encoding: PositionEncoding) -> usize {
        let chars: Vec<char> = text.chars().collect();
        let mut line_starts = vec![0usize];
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\r' if chars.get(i + 1) == Some(&'\n') => {
                    i += 2;
                    line_starts.push(i);
                }
                '\r' | '\n' => {
                    i += 1;
                    line_starts.push(i);
                }
                _ => i += 1,
            }
        }
        let line = position.line as usize;
        if line >= line_starts.len() {
            return chars.len();
        }
        let mut at = line_starts[line];
        let mut units = 0usize;
        while at < chars.len() && chars[at] != '\n' && chars[at] != '\r' {
            let width = match encoding {
                PositionEncoding::Utf8 => chars[at].len_utf8(),
                PositionEncoding::Utf16 => chars[at].len_utf16(),
                PositionEncoding::Utf32 => 1,
            };
            if units + width > position.character as usize {
                break;
            }
            units += width;
            at += 1;
        }
        at
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("a".to_owned()),
            Just("é".to_owned()),
            Just("𝔽".to_owned()),
            Just("∀".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("\r".to_owned()),
            Just("\u{2028}".to_owned()),
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    fn encoding_strategy() -> impl Strategy<Value = PositionEncoding> {
        prop_oneof![
            Just(PositionEncoding::Utf8),
            Just(PositionEncoding::Utf16),
            Just(PositionEncoding::Utf32)
        ]
    }

    proptest! {
        #[test]
        fn position_to_char_matches_the_naive_version(
            text in text_strategy(), line in 0u32..12, character in 0u32..30, encoding in encoding_strategy()
        ) {
            let rope = Rope::from_str(&text);
            let position = Position::new(line, character);
            prop_assert_eq!(
                position_to_char(&rope, position, encoding),
                naive_position_to_char(&text, position, encoding)
            );
        }

        #[test]
        fn char_to_position_round_trips(text in text_strategy(), index in 0usize..200, encoding in encoding_strategy()) {
            let rope = Rope::from_str(&text);
            let index = index.min(rope.len_chars());
            let position = char_to_position(&rope, index, encoding);
            // A position inside a CRLF pair is not representable; it maps to the line end.
            let back = position_to_char(&rope, position, encoding);
            let inside_crlf = index > 0 && rope.char(index - 1) == '\r' && rope.get_char(index) == Some('\n');
            prop_assert_eq!(back, if inside_crlf { index - 1 } else { index });
        }
    }

    #[test]
    fn astral_characters_count_two_utf16_units_and_past_the_end_clamps() {
        let rope = Rope::from_str("a𝔽b\r\nxy");
        let b = position_to_char(&rope, Position::new(0, 3), PositionEncoding::Utf16);
        assert_eq!(rope.char(b), 'b');
        let end_of_line = position_to_char(&rope, Position::new(0, 999), PositionEncoding::Utf16);
        assert_eq!(rope.char(end_of_line), '\r');
        assert_eq!(
            position_to_char(&rope, Position::new(9, 0), PositionEncoding::Utf16),
            rope.len_chars()
        );
    }
}
