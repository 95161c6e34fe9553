//! A complete JSON validator (RFC 8259) that, in the same pass, notes where the top-level
//! `id` and `method` values of an object are. It exists because the proxy must validate
//! every body it forwards, and serde_json, which decodes as it goes, spends most of a
//! large frame's forwarding time doing so; this scanner skips string contents 64 bytes at
//! a time and checks UTF-8 only in strings that contain non-ASCII bytes.
//!
//! Invariants: a body is accepted exactly when it is valid UTF-8 and
//! `serde_json::from_slice::<serde::de::IgnoredAny>` accepts it (a differential property
//! test holds it to that). Nesting is tracked on a heap bit stack, never by recursion, so
//! no input can overflow the call stack, and the stack needs at most one bit per byte of
//! input, which the frame size cap already bounds; like serde_json's `IgnoredAny`, the
//! scanner therefore has no depth limit of its own and forwards whatever nesting the
//! body has.

use std::ops::Range;

/// Where the top-level members the router reads are, as byte ranges of the body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct TopLevelMembers {
    /// The `id` value's text, without surrounding whitespace.
    pub id: Option<Range<usize>>,
    /// The `method` value's text, without surrounding whitespace.
    pub method: Option<Range<usize>>,
    /// True when `id` or `method` appears more than once, which makes the target ambiguous.
    pub duplicate: bool,
    /// True when a top-level key has a `\u` escape that is not a character (a lone
    /// surrogate), so it cannot be told whether it names `id` or `method`.
    pub undecodable_key: bool,
}

/// Why a body is not JSON, and at which byte that became clear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {reason}")]
pub(super) struct InvalidJson {
    /// Byte offset of the first byte that cannot continue a valid text.
    pub offset: usize,
    /// What was expected there.
    pub reason: &'static str,
}

/// Validates `body` as one JSON text and finds its top-level `id` and `method` members
/// (found only when the text is an object).
pub(super) fn scan(body: &[u8]) -> Result<TopLevelMembers, InvalidJson> {
    let mut scanner = Scanner {
        bytes: body,
        pos: 0,
        open: BitStack::default(),
    };
    let members = scanner.top_level()?;
    scanner.skip_ws();
    if scanner.pos != body.len() {
        return Err(scanner.invalid("trailing characters after the value"));
    }
    Ok(members)
}

/// One bit per open container: set for an object, clear for an array.
#[derive(Default)]
struct BitStack {
    words: Vec<u64>,
    len: usize,
}

impl BitStack {
    fn push(&mut self, is_object: bool) {
        let (word, bit) = (self.len / 64, self.len % 64);
        if word == self.words.len() {
            self.words.push(0);
        }
        if is_object {
            self.words[word] |= 1 << bit;
        } else {
            self.words[word] &= !(1 << bit);
        }
        self.len += 1;
    }

    /// Whether the innermost open container is an object; `None` when nothing is open.
    fn top_is_object(&self) -> Option<bool> {
        let index = self.len.checked_sub(1)?;
        Some(self.words[index / 64] & (1 << (index % 64)) != 0)
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }
}

/// Bytes scanned at once inside strings: the loop over a block compiles to vector code.
const STRING_BLOCK: usize = 64;

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    open: BitStack,
}

impl Scanner<'_> {
    fn invalid(&self, reason: &'static str) -> InvalidJson {
        InvalidJson {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), InvalidJson> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.invalid(reason))
        }
    }

    /// The whole text when it is an object, remembering its `id` and `method` members;
    /// any other value otherwise.
    fn top_level(&mut self) -> Result<TopLevelMembers, InvalidJson> {
        let mut members = TopLevelMembers::default();
        self.skip_ws();
        if self.peek() != Some(b'{') {
            self.value()?;
            return Ok(members);
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(members);
        }
        loop {
            let (key_span, escaped) = self.member_key()?;
            self.skip_ws();
            let start = self.pos;
            self.value()?;
            let slot = match top_level_name(&self.bytes[key_span], escaped) {
                Ok(Some(Name::Id)) => Some(&mut members.id),
                Ok(Some(Name::Method)) => Some(&mut members.method),
                Ok(None) => None,
                Err(UndecodableKey) => {
                    members.undecodable_key = true;
                    None
                }
            };
            if let Some(slot) = slot {
                members.duplicate |= slot.is_some();
                *slot = Some(start..self.pos);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(members);
                }
                _ => return Err(self.invalid("expected `,` or `}` after an object member")),
            }
        }
    }

    /// A member's `"key" :`, leaving the position after the colon. Returns the key's
    /// span (quotes included) and whether it contains escapes.
    fn member_key(&mut self) -> Result<(Range<usize>, bool), InvalidJson> {
        let start = self.pos;
        self.expect(b'"', "expected a string key")?;
        let escaped = self.string_rest()?;
        let key = start..self.pos;
        self.skip_ws();
        self.expect(b':', "expected `:` after an object key")?;
        Ok((key, escaped))
    }

    /// One complete value of any kind, nested containers included, without recursion.
    fn value(&mut self) -> Result<(), InvalidJson> {
        let base = self.open.len;
        loop {
            self.skip_ws();
            let Some(first) = self.peek() else {
                return Err(self.invalid("expected a value, found the end"));
            };
            self.pos += 1;
            match first {
                b'{' => {
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        self.open.push(true);
                        self.member_key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        self.open.push(false);
                        continue;
                    }
                }
                b'"' => {
                    self.string_rest()?;
                }
                b'-' | b'0'..=b'9' => {
                    self.pos -= 1;
                    self.number()?;
                }
                b't' => self.literal_rest(b"rue")?,
                b'f' => self.literal_rest(b"alse")?,
                b'n' => self.literal_rest(b"ull")?,
                _ => {
                    self.pos -= 1;
                    return Err(self.invalid("expected a value"));
                }
            }
            // A value just ended: close finished containers until one wants another item.
            loop {
                if self.open.len == base {
                    return Ok(());
                }
                self.skip_ws();
                let is_object = self.open.top_is_object() == Some(true);
                match (self.peek(), is_object) {
                    (Some(b','), true) => {
                        self.pos += 1;
                        self.skip_ws();
                        self.member_key()?;
                        break;
                    }
                    (Some(b','), false) => {
                        self.pos += 1;
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.pos += 1;
                        self.open.pop();
                    }
                    (_, true) => return Err(self.invalid("expected `,` or `}` in an object")),
                    (_, false) => return Err(self.invalid("expected `,` or `]` in an array")),
                }
            }
        }
    }

    fn literal_rest(&mut self, rest: &[u8]) -> Result<(), InvalidJson> {
        if self.bytes[self.pos..].starts_with(rest) {
            self.pos += rest.len();
            Ok(())
        } else {
            Err(self.invalid("expected `true`, `false` or `null`"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<(), InvalidJson> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.invalid("a number cannot have leading zeros"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.invalid("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.invalid("expected a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.invalid("expected a digit in the exponent"));
            }
        }
        Ok(())
    }

    /// The rest of a string after its opening quote, leaving the position after the
    /// closing quote. Returns whether the string contains escapes.
    fn string_rest(&mut self) -> Result<bool, InvalidJson> {
        let start = self.pos;
        let mut non_ascii = false;
        let mut escaped = false;
        loop {
            // Plain runs (no quote, backslash or control character) are skipped a block
            // at a time; only the block holding the next special byte is walked bytewise.
            while let Some(block) = self.bytes.get(self.pos..self.pos + STRING_BLOCK) {
                let (special, high) = block.iter().fold((false, 0u8), |(special, high), &b| {
                    (special | (b < 0x20) | (b == b'"') | (b == b'\\'), high | b)
                });
                if special {
                    break;
                }
                non_ascii |= high >= 0x80;
                self.pos += STRING_BLOCK;
            }
            let Some(byte) = self.peek() else {
                return Err(self.invalid("unterminated string"));
            };
            match byte {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                    self.escape_rest()?;
                    continue;
                }
                0x00..=0x1f => return Err(self.invalid("control character in a string")),
                0x80..=0xff => non_ascii = true,
                _ => {}
            }
            self.pos += 1;
        }
        // Escapes are ASCII and no UTF-8 sequence spans an ASCII byte, so checking the raw
        // span checks every unescaped run.
        if non_ascii && let Err(error) = std::str::from_utf8(&self.bytes[start..self.pos]) {
            return Err(InvalidJson {
                offset: start + error.valid_up_to(),
                reason: "invalid UTF-8 in a string",
            });
        }
        self.pos += 1;
        Ok(escaped)
    }

    /// The rest of an escape after its backslash. Any four hex digits are accepted after
    /// `\u`, as the grammar (and serde_json when skipping a value) does.
    fn escape_rest(&mut self) -> Result<(), InvalidJson> {
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                let hex = self.bytes.get(self.pos..self.pos + 4);
                if hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                    self.pos += 4;
                    Ok(())
                } else {
                    Err(self.invalid("expected four hex digits after `\\u`"))
                }
            }
            _ => Err(self.invalid("invalid escape in a string")),
        }
    }
}

enum Name {
    Id,
    Method,
}

/// A key whose escapes do not decode to a string.
struct UndecodableKey;

/// Which routing member a top-level key names. `key` is the key's text with its quotes
/// (already validated); a key written with escapes is decoded first, as serde would.
fn top_level_name(key: &[u8], escaped: bool) -> Result<Option<Name>, UndecodableKey> {
    let name = |text: &[u8]| match text {
        b"id" => Some(Name::Id),
        b"method" => Some(Name::Method),
        _ => None,
    };
    if !escaped {
        return Ok(name(&key[1..key.len() - 1]));
    }
    let decoded = serde_json::from_slice::<String>(key).map_err(|_| UndecodableKey)?;
    Ok(name(decoded.as_bytes()))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: what serde_json accepts when skipping a value, restricted to UTF-8
    /// as RFC 8259 requires (serde_json does not check UTF-8 inside skipped strings).
    fn reference_accepts(body: &[u8]) -> bool {
        std::str::from_utf8(body).is_ok()
            && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
    }

    fn members(body: &str) -> TopLevelMembers {
        scan(body.as_bytes()).expect("the example is valid JSON")
    }

    fn text<'a>(body: &'a str, range: &Option<Range<usize>>) -> Option<&'a str> {
        range.clone().map(|r| &body[r])
    }

    #[test]
    fn finds_top_level_members_and_ignores_nested_ones() {
        let body = r#" { "params" : {"id":9,"method":"no"}, "id" : "a\"b" , "method":"x/y" } "#;
        let found = members(body);
        assert_eq!(text(body, &found.id), Some(r#""a\"b""#));
        assert_eq!(text(body, &found.method), Some(r#""x/y""#));
        assert!(!found.duplicate);
        let escaped_key = r#"{"\u0069d":3,"id":4}"#;
        assert!(members(escaped_key).duplicate);
        assert_eq!(members("[1,2]"), TopLevelMembers::default());
    }

    #[test]
    fn rejects_what_rfc_8259_rejects() {
        for bad in [
            "",
            " ",
            "{",
            "{]",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\u12G4\"",
            "\"\u{1}\"",
            "[1] 2",
            "{1:2}",
            "{\"a\" 1}",
            "[\"\\\"]",
        ] {
            assert!(scan(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
        assert!(scan(b"\"\xff\"").is_err());
        assert!(scan(b"\"\xe2\x82\"").is_err());
        for good in [
            "0",
            "-0.5e+10",
            "\"\u{1d53d}\\ud800\"",
            "[[[]],{}]",
            " null ",
            "{\"a\":[true]}",
        ] {
            assert!(scan(good.as_bytes()).is_ok(), "rejected {good:?}");
        }
    }

    #[test]
    fn long_strings_are_checked_inside_every_block() {
        let mut body = format!("\"{}\"", "x".repeat(1000)).into_bytes();
        assert!(scan(&body).is_ok());
        for (at, byte) in [(1, 0x1f), (500, 0x1f), (999, b'"'), (640, 0xff)] {
            let mut bad = body.clone();
            bad[at] = byte;
            assert!(scan(&bad).is_err(), "accepted byte {byte:#x} at {at}");
        }
        body[300..302].copy_from_slice("é".as_bytes());
        assert!(scan(&body).is_ok());
    }

    #[test]
    fn deep_nesting_is_accepted_without_recursion() {
        let depth = 1_000_000;
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(scan(body.as_bytes()).is_ok());
        assert!(scan(&body.as_bytes()[..2 * depth - 1]).is_err());
    }

    /// JSON texts with the features that matter: escapes, non-ASCII and astral text,
    /// every number form, whitespace everywhere, long strings, nesting, routing keys.
    pub(in crate::transport) fn json_text() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", " ", "\n", "\t", "\r\n "]);
        let string = prop::collection::vec(
            prop_oneof![
                Just("a".to_owned()),
                Just("é".to_owned()),
                Just("\u{1d53d}".to_owned()),
                Just("\\\"".to_owned()),
                Just("\\\\".to_owned()),
                Just("\\n".to_owned()),
                Just("\\u00e9".to_owned()),
                Just("\\ud800".to_owned()),
                Just("/".to_owned()),
                Just("x".repeat(70)),
                Just("id".to_owned()),
            ],
            0..6,
        )
        .prop_map(|parts| format!("\"{}\"", parts.concat()));
        let number = prop_oneof![
            Just("0".to_owned()),
            Just("-12".to_owned()),
            Just("3.25".to_owned()),
            Just("1e9".to_owned()),
            Just("-0.5E-3".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| format!("{f:e}")),
        ];
        let leaf = prop_oneof![
            string.clone(),
            number,
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("null".to_owned()),
        ];
        let key = prop_oneof![
            string,
            Just("\"id\"".to_owned()),
            Just("\"method\"".to_owned()),
            Just("\"\\u0069d\"".to_owned()),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..6), ws.clone()).prop_map(|(items, w)| {
                    format!("[{w}{}{w}]", items.join(&format!("{w},{w}")))
                }),
                (
                    prop::collection::vec((key.clone(), inner), 0..6),
                    ws.clone()
                )
                    .prop_map(|(members, w)| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(k, v)| format!("{k}{w}:{w}{v}"))
                            .collect();
                        format!("{{{w}{}{w}}}", members.join(","))
                    }),
            ]
        })
    }

    /// An edit that often turns valid JSON into almost-valid JSON.
    #[derive(Debug, Clone)]
    pub(in crate::transport) enum Mutation {
        Replace(prop::sample::Index, u8),
        Insert(prop::sample::Index, u8),
        Remove(prop::sample::Index),
        Truncate(prop::sample::Index),
    }

    pub(in crate::transport) fn mutation() -> impl Strategy<Value = Mutation> {
        let byte = prop_oneof![
            prop::sample::select(b"{}[]\",:\\ 0123456789.eE+-tfnrulasx\x01\x1f\x7f".to_vec()),
            any::<u8>(),
        ];
        prop_oneof![
            (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
            (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
            any::<prop::sample::Index>().prop_map(Mutation::Remove),
            any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        ]
    }

    pub(in crate::transport) fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
        match mutation {
            Mutation::Replace(i, b) if !body.is_empty() => {
                let at = i.index(body.len());
                body[at] = *b;
            }
            Mutation::Insert(i, b) => body.insert(i.index(body.len() + 1), *b),
            Mutation::Remove(i) if !body.is_empty() => {
                body.remove(i.index(body.len()));
            }
            Mutation::Truncate(i) => body.truncate(i.index(body.len() + 1)),
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_serde_on_generated_json(body in json_text()) {
            prop_assert!(reference_accepts(body.as_bytes()), "generator made invalid JSON");
            prop_assert!(scan(body.as_bytes()).is_ok());
        }

        #[test]
        fn agrees_with_serde_on_mutated_json(
            body in json_text(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            let mut body = body.into_bytes();
            for m in &mutations {
                apply(&mut body, m);
            }
            prop_assert_eq!(scan(&body).is_ok(), reference_accepts(&body));
        }

        #[test]
        fn agrees_with_serde_on_random_bytes(
            body in prop::collection::vec(
                prop_oneof![
                    prop::sample::select(b"{}[]\",:\\ 0123456789.eE+-tfnrulasx".to_vec()),
                    any::<u8>(),
                ],
                0..64,
            ),
        ) {
            prop_assert_eq!(scan(&body).is_ok(), reference_accepts(&body));
        }
    }
}
