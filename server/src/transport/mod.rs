//! Moving LSP frames over pipes: the `Content-Length` codec, frames with their routing
//! envelope, and the one reader and one writer loop each pipe gets.
//!
//! Invariants: body bytes are never changed on the way through (only the header is
//! rewritten, always as a single `Content-Length` line, as Lean writes it); a writer
//! writes whole frames in the order it received them, so frames never interleave.

pub mod capture;
mod codec;
mod envelope;
mod json;
pub mod lsp;
mod pool;
pub mod requests;
pub mod stdio;

pub use codec::{
    DEFAULT_MAX_FRAME_BYTES, Incoming, LspCodec, Malformed, MalformedKind, write_frame,
};
pub use envelope::{Envelope, Frame, MessageKind, SniffedEnvelope, sniff_envelope};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::codec::Decoder;

use capture::{Capture, Direction};
use pool::BodyPool;

/// Bodies at least this large are written straight from their buffer instead of being
/// copied into the batch buffer first.
const DIRECT_WRITE_BYTES: usize = 32 * 1024;

/// A batch of small frames is written out once it reaches this size.
const BATCH_BYTES: usize = 256 * 1024;

/// The read buffer headers and small bodies are read into.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Reads frames from `reader` until end of input, handing each decoded item to `deliver`.
/// Stops early when `deliver` returns false (the receiver is gone). Returns the I/O error
/// that ended the stream, if any; a clean end of input is `Ok`, and input that ends
/// inside a frame is an `UnexpectedEof` error.
///
/// Headers and small bodies go through one read buffer; a large body is read straight
/// into a recycled buffer of its own, so it is copied once, from the pipe, on its way
/// to the other side. Before each read from the pipe it waits until the frames it handed
/// on and that are still alive are under the read budget (see `pool.rs`): when the other
/// side stops reading, this side stops being read.
pub async fn read_frames<R, F>(
    mut reader: R,
    max_frame_bytes: usize,
    mut deliver: F,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    F: FnMut(Incoming) -> bool,
{
    let mut codec = LspCodec::new(max_frame_bytes);
    let mut buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let pool = BodyPool::default();
    loop {
        while let Some(item) = codec.decode(&mut buffer)? {
            let item = match item {
                Incoming::Frame(frame) => {
                    Incoming::Frame(Frame::new(pool.charge(frame.into_bytes())))
                }
                malformed => malformed,
            };
            if !deliver(item) {
                return Ok(());
            }
        }
        // Backpressure: while the frames already handed on wait for a peer that does not
        // read, the rest stays in the pipe.
        pool.room().await;
        if let Some(len) = codec.awaited_body_len()
            && len >= codec::LARGE_BODY_BYTES
        {
            let body = read_large_body(&mut reader, &mut buffer, len, &pool).await?;
            codec.body_read_elsewhere();
            if !deliver(Incoming::Frame(Frame::new(body))) {
                return Ok(());
            }
            continue;
        }
        if buffer.capacity() - buffer.len() < READ_BUFFER_BYTES / 4 {
            buffer.reserve(READ_BUFFER_BYTES);
        }
        if reader.read_buf(&mut buffer).await? == 0 {
            if buffer.is_empty() && codec.is_between_frames() {
                return Ok(());
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the input ended inside a frame",
            ));
        }
    }
}

/// Reads a body of `len` bytes whose first bytes may already be in `buffer`.
async fn read_large_body<R>(
    reader: &mut R,
    buffer: &mut BytesMut,
    len: usize,
    pool: &BodyPool,
) -> std::io::Result<Bytes>
where
    R: AsyncRead + Unpin,
{
    let mut body = pool.take(len);
    let target = body.buffer();
    let buffered = buffer.len().min(len);
    target.extend_from_slice(&buffer[..buffered]);
    buffer.advance(buffered);
    while target.len() < len {
        let missing = len - target.len();
        // Limited, so the read never takes bytes of the next frame.
        if reader.read_buf(&mut (&mut *target).limit(missing)).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the input ended inside a frame body",
            ));
        }
    }
    Ok(body.freeze())
}

/// Writes every body received on `bodies` to `writer` as a frame, batching frames that
/// are already queued into one write and flushing whenever the queue is empty. Returns
/// when the channel closes (after flushing) or on the first I/O error.
pub async fn write_frames<W>(writer: W, bodies: UnboundedReceiver<Bytes>) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    write_frames_captured(writer, bodies, None).await
}

/// [`write_frames`], recording each body in `capture` (as going `direction`) as it is
/// written.
pub async fn write_frames_captured<W>(
    mut writer: W,
    mut bodies: UnboundedReceiver<Bytes>,
    capture: Option<(Capture, Direction)>,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let mut batch = BytesMut::with_capacity(64 * 1024);
    while let Some(body) = bodies.recv().await {
        let mut next = Some(body);
        while let Some(body) = next.take() {
            if let Some((capture, direction)) = &capture {
                capture.record(*direction, &body);
            }
            batch.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            if body.len() >= DIRECT_WRITE_BYTES {
                write_both(&mut writer, &batch, &body).await?;
                batch.clear();
            } else {
                batch.extend_from_slice(&body);
            }
            if batch.len() >= BATCH_BYTES {
                writer.write_all(&batch).await?;
                batch.clear();
            }
            next = bodies.try_recv().ok();
        }
        writer.write_all(&batch).await?;
        batch.clear();
        writer.flush().await?;
    }
    writer.flush().await?;
    writer.shutdown().await
}

/// Writes `first` then `second` with as few writes as the writer allows: one vectored
/// write puts a large body's header and body into the pipe together, so the reader on
/// the other side wakes once for both.
async fn write_both<W>(writer: &mut W, mut first: &[u8], mut second: &[u8]) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    while !first.is_empty() {
        let slices = [std::io::IoSlice::new(first), std::io::IoSlice::new(second)];
        let written = writer.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_first = written.min(first.len());
        first = &first[from_first..];
        second = &second[written - from_first..];
    }
    writer.write_all(second).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writer_then_reader_round_trips_in_order() {
        let (client, server) = tokio::io::duplex(1024);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let bodies: Vec<Bytes> = vec![
            Bytes::from_static(b"{}"),
            Bytes::from(vec![b'a'; 100_000]),
            Bytes::from_static("{\"t\":\"\u{1d53d}\"}".as_bytes()),
        ];
        for body in &bodies {
            tx.send(body.clone()).expect("the writer is alive");
        }
        drop(tx);
        let writer = tokio::spawn(write_frames(client, rx));
        let mut got = Vec::new();
        read_frames(server, DEFAULT_MAX_FRAME_BYTES, |item| {
            if let Incoming::Frame(frame) = item {
                got.push(frame.into_bytes());
            }
            true
        })
        .await
        .expect("duplex reads do not fail");
        writer
            .await
            .expect("no panic")
            .expect("duplex writes do not fail");
        assert_eq!(got, bodies);
    }

    #[tokio::test]
    async fn large_bodies_arrive_exact_while_their_buffers_are_recycled() {
        let (client, server) = tokio::io::duplex(4096);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sizes = [200_000, 70_000, 5, 300_000, 65_536, 65_535, 120_000];
        let bodies: Vec<Bytes> = sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let byte = b'a' + i as u8;
                let mut body = vec![byte; len];
                if let Some(last) = body.last_mut() {
                    *last = b'#';
                }
                Bytes::from(body)
            })
            .collect();
        for body in &bodies {
            tx.send(body.clone()).expect("the writer is alive");
        }
        drop(tx);
        let writer = tokio::spawn(write_frames(client, rx));
        let mut got = Vec::new();
        read_frames(server, DEFAULT_MAX_FRAME_BYTES, |item| {
            if let Incoming::Frame(frame) = item {
                // Keep a copy and drop the frame, so its buffer goes back to the pool and
                // the next large body is read over the old contents.
                got.push(frame.body().to_vec());
            }
            true
        })
        .await
        .expect("duplex reads do not fail");
        writer
            .await
            .expect("no panic")
            .expect("duplex writes do not fail");
        let expected: Vec<Vec<u8>> = bodies.iter().map(|b| b.to_vec()).collect();
        assert_eq!(got.len(), expected.len());
        for (got, expected) in got.iter().zip(&expected) {
            assert!(
                got == expected,
                "a body of {} bytes changed",
                expected.len()
            );
        }
    }

    #[tokio::test]
    async fn input_ending_inside_a_large_body_is_an_error() {
        let mut wire = BytesMut::new();
        write_frame(b"{}", &mut wire);
        wire.extend_from_slice(b"Content-Length: 100000\r\n\r\n");
        wire.extend_from_slice(&[b'x'; 5000]);
        let mut frames = 0;
        let outcome = read_frames(&wire[..], DEFAULT_MAX_FRAME_BYTES, |_| {
            frames += 1;
            true
        })
        .await;
        assert_eq!(frames, 1);
        let error = outcome.expect_err("a cut body is not a clean end");
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
        let clean = read_frames(&b"Content-Length: 2\r\n\r\n{}"[..], 100, |_| true).await;
        assert!(clean.is_ok());
    }
}
