//! The `Content-Length` codec never panics, and a stream of well-formed frames comes back
//! whole and in order however the bytes are cut into reads.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sorryfill::transport::{Incoming, LspCodec, write_frame};
use tokio_util::codec::Decoder;

/// Feeds `input` to a fresh codec in reads of the given sizes and returns what it decoded.
fn decode_in_reads(input: &[u8], cuts: &[u8]) -> Vec<Incoming> {
    let mut codec = LspCodec::new(1 << 16);
    let mut buffer = BytesMut::new();
    let mut decoded = Vec::new();
    let mut rest = input;
    let mut sizes = cuts.iter().map(|&c| usize::from(c) + 1).cycle();
    while !rest.is_empty() {
        let take = sizes.next().unwrap_or(rest.len()).min(rest.len());
        buffer.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        while let Ok(Some(item)) = codec.decode(&mut buffer) {
            decoded.push(item);
        }
    }
    decoded
}

fuzz_target!(|data: (Vec<u8>, Vec<Vec<u8>>, Vec<u8>)| {
    let (garbage, bodies, cuts) = data;
    // Arbitrary bytes: no panic, whatever comes out.
    let _ = decode_in_reads(&garbage, &cuts);

    // Well-formed frames: every body back, byte for byte, in order.
    let mut stream = BytesMut::new();
    for body in &bodies {
        write_frame(body, &mut stream);
    }
    let frames: Vec<Bytes> = decode_in_reads(&stream, &cuts)
        .into_iter()
        .map(|item| match item {
            Incoming::Frame(frame) => frame.into_bytes(),
            Incoming::Malformed(bad) => panic!("a well-formed frame was skipped: {bad:?}"),
        })
        .collect();
    let expected: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    let got: Vec<&[u8]> = frames.iter().map(|b| &b[..]).collect();
    assert_eq!(got, expected);
});
