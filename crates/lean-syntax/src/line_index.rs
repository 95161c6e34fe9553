//! Conversions between byte offsets and LSP positions (line, UTF-16 column).
//!
//! Lines end at `\n`; a `\r` right before `\n` belongs to the line break (Lean's server
//! normalises CRLF to LF, so line numbers agree with it). A lone `\r` is an ordinary character,
//! as it is for Lean.

/// A zero-based LSP position: line and UTF-16 code unit column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// Zero-based line.
    pub line: u32,
    /// Zero-based column in UTF-16 code units.
    pub character: u32,
}

impl Position {
    /// Builds a position.
    pub fn new(line: u32, character: u32) -> Self {
        Self { line, character }
    }
}

/// Precomputed line starts of one text, for fast offset/position conversion.
#[derive(Debug, Clone)]
pub struct LineIndex {
    text: String,
    /// Byte offset of the start of every line; always non-empty (line 0 starts at 0).
    line_starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(memchr_newlines(text).map(|i| i + 1));
        Self {
            text: text.to_owned(),
            line_starts,
        }
    }

    /// Number of lines (a trailing newline starts one more, empty line).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Byte range of line `line` without its line break, or `None` past the last line.
    pub fn line_span(&self, line: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.line_starts.get(line)?;
        let mut end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |next| next - 1);
        if end > start && self.text.as_bytes()[end - 1] == b'\r' && end < self.text.len() {
            end -= 1;
        }
        Some(start..end)
    }

    /// Zero-based line holding `byte` (clamped to the text).
    pub fn line_of(&self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        self.line_starts.partition_point(|&s| s <= byte) - 1
    }

    /// LSP position of `byte`; offsets past the end or inside a character are clamped down.
    pub fn position(&self, byte: usize) -> Position {
        let byte = floor_char_boundary(&self.text, byte);
        let line = self.line_of(byte);
        let start = self.line_starts[line];
        let character: usize = self.text[start..byte].chars().map(char::len_utf16).sum();
        Position::new(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(character).unwrap_or(u32::MAX),
        )
    }

    /// Byte offset of an LSP position. As LSP requires, a column past the end of its line
    /// means the end of the line, and a line past the end means the end of the text; a column
    /// inside a surrogate pair rounds down to the character's start.
    pub fn offset(&self, pos: Position) -> usize {
        let Some(span) = self.line_span(pos.line as usize) else {
            return self.text.len();
        };
        let mut units = 0usize;
        for (i, c) in self.text[span.clone()].char_indices() {
            let next = units + c.len_utf16();
            if next > pos.character as usize {
                return span.start + i;
            }
            units = next;
        }
        span.end
    }

    /// [`Self::position`] as an LSP position: the one byte offset → LSP position conversion
    /// for plain text (the editor's own documents are ropes, converted in the server).
    pub fn lsp_position(&self, byte: usize) -> lsp_types::Position {
        let at = self.position(byte);
        lsp_types::Position::new(at.line, at.character)
    }

    /// [`Self::offset`] of an LSP position.
    pub fn lsp_offset(&self, position: lsp_types::Position) -> usize {
        self.offset(Position::new(position.line, position.character))
    }

    /// The LSP range of the bytes `span`.
    pub fn lsp_range(&self, span: std::ops::Range<usize>) -> lsp_types::Range {
        lsp_types::Range::new(self.lsp_position(span.start), self.lsp_position(span.end))
    }

    /// Zero-based column of `byte` counted in Unicode code points (Lean's own convention).
    pub fn code_point_col(&self, byte: usize) -> usize {
        let byte = floor_char_boundary(&self.text, byte);
        let start = self.line_starts[self.line_of(byte)];
        self.text[start..byte].chars().count()
    }

    /// The indexed text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

fn memchr_newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(b'\n', text.as_bytes())
}

/// The largest char boundary `<= byte`, clamped to the text length.
pub fn floor_char_boundary(text: &str, byte: usize) -> usize {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn astral_characters_count_two_utf16_units() {
        let text = "a𝔽b\nc";
        let index = LineIndex::new(text);
        let b = text.find('b').expect("b is in the literal");
        assert_eq!(index.position(b), Position::new(0, 3));
        assert_eq!(index.code_point_col(b), 2);
        assert_eq!(index.offset(Position::new(0, 3)), b);
        assert_eq!(
            index.offset(Position::new(0, 2)),
            1,
            "inside a surrogate pair rounds down"
        );
    }

    #[test]
    fn lsp_values_are_the_same_positions() {
        let text = "ab\n𝔽x";
        let index = LineIndex::new(text);
        let range = index.lsp_range(3..7);
        assert_eq!(range.start, lsp_types::Position::new(1, 0));
        assert_eq!(range.end, lsp_types::Position::new(1, 2));
        assert_eq!(index.lsp_offset(range.end), 7);
    }

    #[test]
    fn crlf_and_past_the_end_clamp() {
        let text = "ab\r\ncd";
        let index = LineIndex::new(text);
        assert_eq!(
            index.offset(Position::new(0, 99)),
            2,
            "column past the end of line 0"
        );
        assert_eq!(index.offset(Position::new(1, 1)), 5);
        assert_eq!(index.offset(Position::new(7, 0)), text.len());
        assert_eq!(index.position(text.len() + 10), Position::new(1, 2));
    }
}
