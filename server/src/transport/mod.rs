//! Moving LSP frames over pipes: the `Content-Length` codec, frames with their routing
//! envelope, and the one reader and one writer loop each pipe gets.
//!
//! Invariants: body bytes are never changed on the way through (only the header is
//! rewritten, always as a single `Content-Length` line, as Lean writes it); a writer
//! writes whole frames in the order it received them, so frames never interleave.

mod codec;
mod envelope;
mod json;
pub mod stdio;

pub use codec::{
    DEFAULT_MAX_FRAME_BYTES, Incoming, LspCodec, Malformed, MalformedKind, write_frame,
};
pub use envelope::{Envelope, Frame, MessageKind, SniffedEnvelope, sniff_envelope};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::codec::FramedRead;

/// Bodies at least this large are written straight from their buffer instead of being
/// copied into the batch buffer first.
const DIRECT_WRITE_BYTES: usize = 32 * 1024;

/// A batch of small frames is written out once it reaches this size.
const BATCH_BYTES: usize = 256 * 1024;

/// Reads frames from `reader` until end of input, handing each decoded item to `deliver`.
/// Stops early when `deliver` returns false (the receiver is gone). Returns the I/O error
/// that ended the stream, if any; a clean end of input is `Ok`.
pub async fn read_frames<R, F>(
    reader: R,
    max_frame_bytes: usize,
    mut deliver: F,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    F: FnMut(Incoming) -> bool,
{
    let mut frames = FramedRead::with_capacity(reader, LspCodec::new(max_frame_bytes), 64 * 1024);
    while let Some(item) = frames.next().await {
        if !deliver(item?) {
            break;
        }
    }
    Ok(())
}

/// Writes every body received on `bodies` to `writer` as a frame, batching frames that
/// are already queued into one write and flushing whenever the queue is empty. Returns
/// when the channel closes (after flushing) or on the first I/O error.
pub async fn write_frames<W>(
    mut writer: W,
    mut bodies: UnboundedReceiver<Bytes>,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let mut batch = BytesMut::with_capacity(64 * 1024);
    while let Some(body) = bodies.recv().await {
        let mut next = Some(body);
        while let Some(body) = next.take() {
            batch.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            if body.len() >= DIRECT_WRITE_BYTES {
                writer.write_all(&batch).await?;
                batch.clear();
                writer.write_all(&body).await?;
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
}
