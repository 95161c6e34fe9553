//! Frames and the small part of a message the router reads to route it.
//!
//! Invariant: a [`Frame`] owns the body bytes exactly as they arrived; routing reads a
//! borrowed [`Envelope`] from them and never re-serialises a frame it only forwards. An
//! envelope is only read from a body that is valid JSON in full, so a frame the router
//! forwards as valid is valid.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::Error as _;
use serde_json::value::RawValue;

use super::json;

/// One LSP message body, bytes exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    body: Bytes,
}

impl Frame {
    /// Wraps a body (without its header).
    pub fn new(body: Bytes) -> Self {
        Self { body }
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as shared bytes (cloning them is cheap).
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as cheaply clonable bytes, for forwarding unchanged.
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// Validates the whole body as JSON and reads the routing envelope, borrowing from
    /// the body. Fails on invalid JSON (including invalid UTF-8), on a repeated top-level
    /// `id` or `method`, and on a `method` that is neither a string nor `null`. A body
    /// that is valid JSON but not an object has neither id nor method. A top-level key
    /// with a lone surrogate escape is refused, as serde_json refuses it.
    ///
    /// This gives the same envelope as deserialising [`Envelope`] with serde_json, which
    /// a property test checks, at a fraction of the cost on large bodies.
    pub fn envelope(&self) -> Result<Envelope<'_>, serde_json::Error> {
        let body = &self.body[..];
        let members = json::scan(body).map_err(serde_json::Error::custom)?;
        if members.duplicate {
            return Err(serde_json::Error::custom(
                "the top-level `id` or `method` appears more than once",
            ));
        }
        // The router must not guess whether such a key was meant to be `id` or `method`.
        if members.undecodable_key {
            return Err(serde_json::Error::custom(
                "a top-level key has a `\\u` escape that is not a character",
            ));
        }
        let id = match members.id.map(|range| &body[range]) {
            Some(b"null") | None => None,
            Some(text) => Some(serde_json::from_slice::<&RawValue>(text)?),
        };
        let method = match members.method.map(|range| &body[range]) {
            Some(b"null") | None => None,
            Some(text) if text.first() == Some(&b'"') => Some(string_value(text)?),
            Some(_) => {
                return Err(serde_json::Error::custom(
                    "the top-level `method` is not a string",
                ));
            }
        };
        Ok(Envelope { id, method })
    }
}

/// Decodes a JSON string literal that is already known to be valid, borrowing when it has
/// no escapes.
fn string_value(literal: &[u8]) -> Result<Cow<'_, str>, serde_json::Error> {
    let inner = &literal[1..literal.len() - 1];
    if memchr::memchr(b'\\', inner).is_none() {
        return std::str::from_utf8(inner)
            .map(Cow::Borrowed)
            .map_err(serde_json::Error::custom);
    }
    // Escapes can still be invalid here: a lone surrogate does not decode to a string.
    serde_json::from_slice::<String>(literal).map(Cow::Owned)
}

/// The routing view of a JSON-RPC message: its `id` (exact JSON text) and `method`.
/// Deserialising it with serde_json is the reference [`Frame::envelope`] agrees with.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// The id as written; string ids keep their quotes and escapes. `null` reads as `None`.
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
    /// The method, for requests and notifications.
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
}

/// What kind of JSON-RPC message an envelope describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Has a method and an id: expects a response.
    Request,
    /// Has a method and no id.
    Notification,
    /// Has an id and no method.
    Response,
    /// Has neither.
    Unknown,
}

impl Envelope<'_> {
    /// The kind of message this is.
    pub fn kind(&self) -> MessageKind {
        match (self.method.is_some(), self.id.is_some()) {
            (true, true) => MessageKind::Request,
            (true, false) => MessageKind::Notification,
            (false, true) => MessageKind::Response,
            (false, false) => MessageKind::Unknown,
        }
    }

    /// The id's exact JSON text, the key under which requests are matched to responses.
    pub fn id_text(&self) -> Option<&str> {
        self.id.map(RawValue::get)
    }
}

/// The top-level `id` and `method` found in a (possibly truncated or invalid) body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SniffedEnvelope {
    /// The id's JSON text (a number or a quoted string), when found.
    pub id: Option<String>,
    /// The method, unescaped only for plain ASCII-safe names; when found.
    pub method: Option<String>,
}

impl SniffedEnvelope {
    /// True when the message was a request, so an error response can be sent for it.
    pub fn is_request(&self) -> bool {
        self.id.is_some() && self.method.is_some()
    }
}

/// Finds the top-level `"id"` and `"method"` in the first bytes of a body without
/// requiring the rest to be valid or present: used to answer requests the proxy cannot
/// forward (over the cap, invalid JSON). Nested keys are never mistaken for top-level ones.
pub fn sniff_envelope(body: &[u8]) -> SniffedEnvelope {
    // JSON has no byte order mark, but a request sent with one still deserves its error
    // answer: skipping it here lets the id be found.
    let start = if body.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut scanner = Scanner {
        bytes: body,
        pos: start,
    };
    let mut found = SniffedEnvelope::default();
    scanner.skip_ws();
    if !scanner.eat(b'{') {
        return found;
    }
    loop {
        scanner.skip_ws();
        let Some(key) = scanner.string_span() else {
            return found;
        };
        let key = &body[key.0..key.1];
        scanner.skip_ws();
        if !scanner.eat(b':') {
            return found;
        }
        scanner.skip_ws();
        let start = scanner.pos;
        if !scanner.skip_value() {
            return found;
        }
        let value = &body[start..scanner.pos];
        match key {
            b"\"id\"" if is_id_text(value) => {
                found.id = std::str::from_utf8(value).ok().map(str::to_owned);
            }
            b"\"method\"" => {
                found.method = serde_json::from_slice::<String>(value).ok();
            }
            _ => {}
        }
        scanner.skip_ws();
        if !scanner.eat(b',') {
            return found;
        }
    }
}

fn is_id_text(value: &[u8]) -> bool {
    match value.first() {
        Some(b'"') => serde_json::from_slice::<String>(value).is_ok(),
        Some(b'-' | b'0'..=b'9') => serde_json::from_slice::<serde_json::Number>(value).is_ok(),
        _ => false,
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while matches!(self.bytes.get(self.pos), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.bytes.get(self.pos) == Some(&byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips a complete string, returning its span including quotes.
    fn string_span(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        if !self.eat(b'"') {
            return None;
        }
        while let Some(&b) = self.bytes.get(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'"' => return Some((start, self.pos)),
                _ => {}
            }
        }
        None
    }

    /// Skips one complete value; false when the input ends first or is not JSON-like.
    fn skip_value(&mut self) -> bool {
        match self.bytes.get(self.pos) {
            Some(b'"') => self.string_span().is_some(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(&b) = self.bytes.get(self.pos) {
                    match b {
                        b'"' => {
                            if self.string_span().is_none() {
                                return false;
                            }
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return true;
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
                false
            }
            Some(_) => {
                let start = self.pos;
                while let Some(&b) = self.bytes.get(self.pos) {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                // A scalar cut off by the end of a truncated prefix is not trusted.
                self.pos > start && self.pos < self.bytes.len()
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_keeps_the_exact_id_text() {
        let frame = Frame::new(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":"register_lean_watcher","method":"client/registerCapability"}"#,
        ));
        let env = frame.envelope().expect("valid JSON");
        assert_eq!(env.id_text(), Some(r#""register_lean_watcher""#));
        assert_eq!(env.kind(), MessageKind::Request);
        let response = Frame::new(Bytes::from_static(br#"{"id":7,"result":null}"#));
        assert_eq!(
            response.envelope().expect("valid").kind(),
            MessageKind::Response
        );
    }

    #[test]
    fn sniffing_ignores_nested_ids_and_truncated_scalars() {
        let nested = br#"{"method":"n","params":{"id":3}}"#;
        assert_eq!(
            sniff_envelope(nested),
            SniffedEnvelope {
                id: None,
                method: Some("n".into())
            }
        );
        let truncated = br#"{"id":12"#;
        assert_eq!(sniff_envelope(truncated).id, None);
        let invalid = br#"{"jsonrpc":"2.0","id":5,"method":"m","params":{oops"#;
        let sniffed = sniff_envelope(invalid);
        assert!(sniffed.is_request());
        assert_eq!(sniffed.id.as_deref(), Some("5"));
    }

    /// What serde_json reads as the envelope, as (id text, method), or `None` on error.
    fn serde_reference(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
        let envelope = serde_json::from_slice::<Envelope>(body).ok()?;
        Some((
            envelope.id_text().map(str::to_owned),
            envelope.method.map(Cow::into_owned),
        ))
    }

    fn fast(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
        let frame = Frame::new(Bytes::copy_from_slice(body));
        let envelope = frame.envelope().ok()?;
        Some((
            envelope.id_text().map(str::to_owned),
            envelope.method.map(Cow::into_owned),
        ))
    }

    #[test]
    fn envelope_rules_match_serde_on_the_edge_cases() {
        for body in [
            r#"{"id":1,"id":2}"#,
            r#"{"method":3}"#,
            r#"{"method":"\ud800"}"#,
            r#"{"\ud800":1,"id":2}"#,
            r#"{"id" : null , "method" : null}"#,
            r#"{"\u0069d":{"a":[1]},"method":"a\/b"}"#,
            r#"{"id":"x","params":{"id":"y","method":"z"}}"#,
        ] {
            assert_eq!(
                fast(body.as_bytes()),
                serde_reference(body.as_bytes()),
                "{body}"
            );
        }
        // serde_json skips strings without checking their UTF-8; the proxy does not.
        assert!(serde_reference(b"{\"id\":1,\"p\":\"\xff\"}").is_some());
        assert_eq!(fast(b"{\"id\":1,\"p\":\"\xff\"}"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        #[test]
        fn envelope_matches_serde_on_objects(
            members in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["id", "method", "\\u0069d", "params", "jsonrpc"]),
                    super::json::tests::json_text(),
                ),
                0..5,
            ),
            mutations in proptest::collection::vec(super::json::tests::mutation(), 0..2),
        ) {
            let members: Vec<String> =
                members.iter().map(|(k, v)| format!("\"{k}\" : {v}")).collect();
            let mut body = format!("{{{}}}", members.join(",")).into_bytes();
            for m in &mutations {
                super::json::tests::apply(&mut body, m);
            }
            // Only objects: serde also reads an envelope from an array, which the proxy
            // treats as a message with neither id nor method.
            proptest::prop_assume!(body.first() == Some(&b'{'));
            let reference = serde_reference(&body).filter(|_| std::str::from_utf8(&body).is_ok());
            proptest::prop_assert_eq!(fast(&body), reference);
        }
    }
}
