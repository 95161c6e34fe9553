//! The `Content-Length` codec: bytes from a pipe to whole frames and back.
//!
//! Invariants: decoding never fails on content (only on I/O), never panics, and never
//! buffers more than one frame plus one header line: an over-long header line or a frame
//! over the cap is skipped and reported as [`Malformed`] so the reader can keep going.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::envelope::{Frame, SniffedEnvelope, sniff_envelope};

/// The default cap on one frame's body: large enough for any real Lean file or RPC answer.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// A header line longer than this cannot be a real LSP header; it is skipped as garbage.
const MAX_HEADER_LINE_BYTES: usize = 8 * 1024;

/// Bodies at least this large are not reserved in the read buffer: `read_frames` reads
/// them into recycled buffers of their own (a plain `FramedRead` still gets them, its
/// buffer growing as bytes arrive).
pub(super) const LARGE_BODY_BYTES: usize = 64 * 1024;

/// How many bytes of an endless header line are kept when the rest is skipped: enough for a
/// `Content-Length` header that starts at its end.
const RESYNC_TAIL_BYTES: usize = 64;

/// How many body bytes of a skipped over-cap frame are kept to find its `id` and `method`.
const SNIFF_PREFIX_BYTES: usize = 4 * 1024;

/// One decoded item: a whole frame, or a report of input that could not become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A complete frame, body bytes exactly as received.
    Frame(Frame),
    /// Input that was skipped; the reader logs it and the router may answer it.
    Malformed(Malformed),
}

/// Input the codec skipped, with what it could learn about the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Why it was skipped.
    pub kind: MalformedKind,
    /// The top-level `id`/`method` found in the first bytes of the body, when any.
    pub sniffed: SniffedEnvelope,
}

/// Why input was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    /// A header line without `:` (or too long to be a header); only that line is skipped.
    GarbageHeaderLine,
    /// A header block that ended without a usable `Content-Length`.
    MissingContentLength,
    /// A `Content-Length` whose value is not a number.
    BadContentLength,
    /// A frame whose body is larger than the cap; its body was skipped unread.
    TooLarge {
        /// The announced body length.
        len: usize,
    },
}

#[derive(Debug)]
enum State {
    /// Reading header lines; `content_length` is set once seen.
    Header {
        content_length: Option<Result<usize, ()>>,
        saw_line: bool,
    },
    /// Waiting for `len` body bytes.
    Body { len: usize },
    /// Skipping the rest of an over-cap body; the first bytes are kept for sniffing.
    Skip {
        len: usize,
        remaining: usize,
        prefix: Vec<u8>,
    },
}

/// The LSP base-protocol codec. Headers are matched case-insensitively, headers other
/// than `Content-Length` (such as `Content-Type`) are ignored, and lines may end in `\r\n`
/// or a bare `\n`.
#[derive(Debug)]
pub struct LspCodec {
    max_frame_bytes: usize,
    state: State,
}

impl Default for LspCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_BYTES)
    }
}

impl LspCodec {
    /// A codec that skips bodies larger than `max_frame_bytes`.
    pub fn new(max_frame_bytes: usize) -> Self {
        Self {
            max_frame_bytes,
            state: State::Header {
                content_length: None,
                saw_line: false,
            },
        }
    }

    /// The length of the body the codec is waiting for, once its header has been read.
    pub fn awaited_body_len(&self) -> Option<usize> {
        match self.state {
            State::Body { len } => Some(len),
            _ => None,
        }
    }

    /// Tells the codec that the awaited body was read by the caller, straight from the
    /// stream, so the next bytes it sees start a new header.
    pub fn body_read_elsewhere(&mut self) {
        if matches!(self.state, State::Body { .. }) {
            self.reset_header();
        }
    }

    /// True when no frame is partly read: end of input here loses nothing.
    pub fn is_between_frames(&self) -> bool {
        matches!(
            self.state,
            State::Header {
                content_length: None,
                saw_line: false,
            }
        )
    }

    fn reset_header(&mut self) {
        self.state = State::Header {
            content_length: None,
            saw_line: false,
        };
    }
}

fn malformed(kind: MalformedKind) -> Incoming {
    Incoming::Malformed(Malformed {
        kind,
        sniffed: SniffedEnvelope::default(),
    })
}

impl Decoder for LspCodec {
    type Item = Incoming;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, std::io::Error> {
        loop {
            match &mut self.state {
                State::Header {
                    content_length,
                    saw_line,
                } => {
                    let Some(newline) = memchr::memchr(b'\n', src) else {
                        if src.len() > MAX_HEADER_LINE_BYTES {
                            // Keep memory bounded: no header line is this long. The last
                            // bytes are kept, since a header may be starting there.
                            let report = garbage(&src[..src.len() - RESYNC_TAIL_BYTES]);
                            src.advance(src.len() - RESYNC_TAIL_BYTES);
                            return Ok(Some(report));
                        }
                        return Ok(None);
                    };
                    let line = src.split_to(newline + 1);
                    let mut line = trim_line_end(&line);
                    if line.is_empty() {
                        if !*saw_line {
                            // Stray blank lines between frames carry nothing.
                            continue;
                        }
                        match content_length.take() {
                            Some(Ok(len)) if len > self.max_frame_bytes => {
                                self.state = State::Skip {
                                    len,
                                    remaining: len,
                                    prefix: Vec::new(),
                                };
                            }
                            Some(Ok(len)) => {
                                if len < LARGE_BODY_BYTES {
                                    src.reserve(len.saturating_sub(src.len()));
                                }
                                self.state = State::Body { len };
                            }
                            Some(Err(())) => {
                                self.reset_header();
                                return Ok(Some(malformed(MalformedKind::BadContentLength)));
                            }
                            None => {
                                self.reset_header();
                                return Ok(Some(malformed(MalformedKind::MissingContentLength)));
                            }
                        }
                        continue;
                    }
                    let header = memchr::memchr(b':', line).filter(|&colon| {
                        is_header_name(&line[..colon]) && !is_glued_content_length(&line[..colon])
                    });
                    let colon = match header {
                        Some(colon) => colon,
                        None => {
                            // Stray bytes glued to a header (a body that lost its own
                            // header, say) would desynchronise every later frame: a header
                            // starts again at the `Content-Length` inside the line.
                            let Some(start) = find_content_length(line) else {
                                return Ok(Some(garbage(line)));
                            };
                            let stray = garbage(&line[..start]);
                            line = &line[start..];
                            *content_length = Some(parse_length(line));
                            *saw_line = true;
                            return Ok(Some(stray));
                        }
                    };
                    *saw_line = true;
                    let (name, value) = (&line[..colon], &line[colon + 1..]);
                    if name.trim_ascii().eq_ignore_ascii_case(b"content-length") {
                        *content_length = Some(parse_length(value));
                    }
                }
                State::Body { len } => {
                    let len = *len;
                    if src.len() < len {
                        return Ok(None);
                    }
                    let body = src.split_to(len).freeze();
                    self.reset_header();
                    return Ok(Some(Incoming::Frame(Frame::new(body))));
                }
                State::Skip {
                    len,
                    remaining,
                    prefix,
                } => {
                    let take = (*remaining).min(src.len());
                    let keep = take.min(SNIFF_PREFIX_BYTES.saturating_sub(prefix.len()));
                    prefix.extend_from_slice(&src[..keep]);
                    src.advance(take);
                    *remaining -= take;
                    if *remaining > 0 {
                        return Ok(None);
                    }
                    let item = Incoming::Malformed(Malformed {
                        kind: MalformedKind::TooLarge { len: *len },
                        sniffed: sniff_envelope(prefix),
                    });
                    self.reset_header();
                    return Ok(Some(item));
                }
            }
        }
    }
}

/// Skipped header bytes, with the `id` and `method` of a message they may hold, so an
/// editor's request whose header was lost is still answered.
fn garbage(bytes: &[u8]) -> Incoming {
    Incoming::Malformed(Malformed {
        kind: MalformedKind::GarbageHeaderLine,
        sniffed: sniff_envelope(&bytes[..bytes.len().min(SNIFF_PREFIX_BYTES)]),
    })
}

/// A header name is an HTTP token: anything else on a line is not a header.
fn is_header_name(name: &[u8]) -> bool {
    let name = name.trim_ascii();
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header name that ends in `Content-Length` after other bytes (`xyzContent-Length`) is
/// a `Content-Length` header glued to stray bytes.
fn is_glued_content_length(name: &[u8]) -> bool {
    const NAME: &[u8] = b"content-length";
    let name = name.trim_ascii();
    name.len() > NAME.len() && name[name.len() - NAME.len()..].eq_ignore_ascii_case(NAME)
}

/// Where the last `Content-Length:` inside `line` starts, case-insensitively: the last,
/// because stray bytes (a lost body, say) may contain the words themselves.
fn find_content_length(line: &[u8]) -> Option<usize> {
    const NAME: &[u8] = b"content-length:";
    line.windows(NAME.len())
        .rposition(|window| window.eq_ignore_ascii_case(NAME))
}

/// The value of a `Content-Length` header line (`Content-Length: 12`) or of its value part.
fn parse_length(line_or_value: &[u8]) -> Result<usize, ()> {
    let value = match find_content_length(line_or_value) {
        Some(start) => &line_or_value[start + "content-length:".len()..],
        None => line_or_value,
    };
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or(())
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Encoder<Bytes> for LspCodec {
    type Error = std::io::Error;

    fn encode(&mut self, body: Bytes, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        write_frame(&body, dst);
        Ok(())
    }
}

/// Appends `body` to `dst` with the one header Lean itself writes.
pub fn write_frame(body: &[u8], dst: &mut BytesMut) {
    let header = format!("Content-Length: {}\r\n\r\n", body.len());
    dst.reserve(header.len() + body.len());
    dst.extend_from_slice(header.as_bytes());
    dst.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(codec: &mut LspCodec, chunks: &[&[u8]]) -> Vec<Incoming> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(item) = codec.decode(&mut buf).expect("decoding has no I/O") {
                out.push(item);
            }
        }
        out
    }

    fn body_of(item: &Incoming) -> &[u8] {
        match item {
            Incoming::Frame(frame) => frame.body(),
            Incoming::Malformed(m) => panic!("expected a frame, got {m:?}"),
        }
    }

    #[test]
    fn extra_headers_case_and_bare_newlines_are_accepted() {
        let input =
            b"content-length: 2\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}\
CONTENT-LENGTH:3\r\n\r\n[1]";
        let items = decode_all(&mut LspCodec::default(), &[input]);
        assert_eq!(items.len(), 2);
        assert_eq!(body_of(&items[0]), b"{}");
        assert_eq!(body_of(&items[1]), b"[1]");
    }

    #[test]
    fn garbage_lines_are_reported_and_the_next_frame_still_decodes() {
        let input = b"hello there\r\nContent-Length: 2\r\n\r\n{}";
        let items = decode_all(&mut LspCodec::default(), &[input]);
        assert!(matches!(
            &items[0],
            Incoming::Malformed(Malformed {
                kind: MalformedKind::GarbageHeaderLine,
                ..
            })
        ));
        assert_eq!(body_of(&items[1]), b"{}");
    }

    #[test]
    fn missing_and_bad_lengths_are_reported_not_fatal() {
        let input =
            b"Content-Type: x\r\n\r\nContent-Length: abc\r\n\r\nContent-Length: 2\r\n\r\n{}";
        let items = decode_all(&mut LspCodec::default(), &[input]);
        let kinds: Vec<_> = items
            .iter()
            .map(|i| match i {
                Incoming::Malformed(m) => Some(m.kind),
                Incoming::Frame(_) => None,
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                Some(MalformedKind::MissingContentLength),
                Some(MalformedKind::BadContentLength),
                None
            ]
        );
    }

    #[test]
    fn an_over_cap_frame_is_skipped_with_its_request_id_sniffed() {
        let big = format!(
            r#"{{"jsonrpc":"2.0","id":"a\"b","method":"x","params":{{"t":"{}"}}}}"#,
            "y".repeat(100)
        );
        let mut input = Vec::new();
        input.extend_from_slice(format!("Content-Length: {}\r\n\r\n", big.len()).as_bytes());
        input.extend_from_slice(big.as_bytes());
        input.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
        let items = decode_all(&mut LspCodec::new(50), &[&input]);
        let Incoming::Malformed(m) = &items[0] else {
            panic!("expected the big frame to be skipped")
        };
        assert_eq!(m.kind, MalformedKind::TooLarge { len: big.len() });
        assert_eq!(m.sniffed.id.as_deref(), Some(r#""a\"b""#));
        assert_eq!(m.sniffed.method.as_deref(), Some("x"));
        assert_eq!(body_of(&items[1]), b"{}");
    }

    #[test]
    fn an_endless_header_line_does_not_grow_the_buffer() {
        let mut codec = LspCodec::default();
        let mut buf = BytesMut::new();
        let mut reports = 0;
        for _ in 0..100 {
            buf.extend_from_slice(&[b'x'; 1024]);
            while let Some(item) = codec.decode(&mut buf).expect("no I/O") {
                assert!(matches!(item, Incoming::Malformed(_)));
                reports += 1;
            }
        }
        assert!(buf.len() <= MAX_HEADER_LINE_BYTES + 1024);
        assert!(reports > 0);
    }

    fn frames_and_sniffed_ids(items: &[Incoming]) -> (Vec<&[u8]>, Vec<Option<String>>) {
        let mut frames = Vec::new();
        let mut ids = Vec::new();
        for item in items {
            match item {
                Incoming::Frame(frame) => frames.push(frame.body()),
                Incoming::Malformed(m) => ids.push(m.sniffed.id.clone()),
            }
        }
        (frames, ids)
    }

    #[test]
    fn stray_bytes_glued_to_a_header_do_not_desynchronise_later_frames() {
        // A body that lost its header ends up glued to the next header: the codec starts
        // again at the `Content-Length` inside that line, so every later frame decodes.
        let input = b"junk\r\n\r\n{}Content-Length: 3\r\n\r\n[1]Content-Length: 3\r\n\r\n[2]";
        let items = decode_all(&mut LspCodec::default(), &[input]);
        let (frames, skipped) = frames_and_sniffed_ids(&items);
        assert_eq!(frames, vec![&b"[1]"[..], b"[2]"]);
        assert_eq!(skipped.len(), 2, "`junk` and `{{}}` are reported");
    }

    #[test]
    fn a_request_that_lost_its_header_is_reported_with_its_id() {
        let input = b"Content-Type: x\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"m\",\"params\":\"Content-Length: 7\"}content-length:3\r\n\r\n[1]";
        let items = decode_all(&mut LspCodec::default(), &[input]);
        let (frames, ids) = frames_and_sniffed_ids(&items);
        assert_eq!(frames, vec![&b"[1]"[..]]);
        assert_eq!(ids, vec![None, Some("9".to_owned())]);
    }

    #[test]
    fn a_header_after_an_endless_line_is_found_even_across_reads() {
        let mut garbage = vec![b'x'; 3 * MAX_HEADER_LINE_BYTES];
        garbage.extend_from_slice(b"Content-Len");
        let items = decode_all(
            &mut LspCodec::default(),
            &[&garbage, b"gth: 3\r\n\r\n[1]Content-Length: 2\r\n\r\n{}"],
        );
        let (frames, skipped) = frames_and_sniffed_ids(&items);
        assert_eq!(frames, vec![&b"[1]"[..], b"{}"]);
        assert!(!skipped.is_empty());
    }

    #[test]
    fn a_header_name_must_be_a_token() {
        assert!(is_header_name(b"Content-Length"));
        assert!(is_header_name(b" Content-Type "));
        assert!(!is_header_name(b"{\"id\""));
        assert!(!is_header_name(b""));
        assert!(is_glued_content_length(b"xyzContent-Length"));
        assert!(!is_glued_content_length(b"Content-Length"));
    }

    proptest! {
        #[test]
        fn frames_survive_any_chunking(
            bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let mut wire = BytesMut::new();
            for body in &bodies {
                write_frame(body, &mut wire);
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points {
                chunks.push(&wire[last..p]);
                last = p;
            }
            chunks.push(&wire[last..]);
            let items = decode_all(&mut LspCodec::default(), &chunks);
            let decoded: Vec<Vec<u8>> = items.iter().map(|i| body_of(i).to_vec()).collect();
            prop_assert_eq!(decoded, bodies);
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..2000), cap in 0usize..64) {
            let mut codec = LspCodec::new(cap);
            let _ = decode_all(&mut codec, &[&input]);
        }
    }
}
