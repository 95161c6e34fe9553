//! The read budget of one pipe: recycled buffers for large frame bodies, and the limit on
//! how many bytes of the frames it read may be alive at once.
//!
//! A frame handed to the router lives until its writer has written it (or the router has
//! consumed it), so the reader cannot reuse one buffer for the next frame. Allocating a
//! fresh megabyte per frame costs more than copying it (every page is faulted in and zeroed
//! by the kernel), so large bodies are read into buffers taken from a small pool. Every
//! frame the reader hands on, large or small, is charged to the budget until its last
//! handle is dropped; before it reads more from its pipe the reader waits until the frames
//! still alive are under [`MAX_BYTES_ALIVE`]. A peer that stops reading therefore stops the
//! reader of the other side: the backlog stays in the kernel's pipe, where the sender
//! blocks, as it would without the proxy.
//!
//! Invariants: a buffer is reused only after every `Bytes` handle to its body is gone;
//! the pool keeps at most [`POOLED_BUFFERS`] free buffers of at most [`MAX_POOLED_BYTES`]
//! each; the bytes alive are at most [`MAX_BYTES_ALIVE`] plus one frame plus the read
//! buffer's frames (the reader checks before each read from the pipe, and a single frame
//! larger than the budget is still read, alone).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

/// How many free buffers are kept.
const POOLED_BUFFERS: usize = 4;

/// Buffers larger than this are freed rather than kept.
const MAX_POOLED_BYTES: usize = 4 * 1024 * 1024;

/// The reader waits before reading more from its pipe while this many bytes of the frames
/// it read are still alive: eight 1 MiB frames keep both pipes busy, and it bounds what a
/// stalled peer can make the proxy hold per direction.
pub(super) const MAX_BYTES_ALIVE: usize = 8 * 1024 * 1024;

/// What a small frame is charged at least: its `Bytes`, event and queue slot cost about
/// this much besides the body, so a flood of tiny frames is bounded too.
const MIN_CHARGE_BYTES: usize = 256;

#[derive(Debug, Default)]
struct Shared {
    free: Mutex<Vec<Vec<u8>>>,
    bytes_alive: AtomicUsize,
    room: Notify,
}

/// A shared set of free buffers and the count of bytes alive; clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct BodyPool {
    shared: Arc<Shared>,
}

impl BodyPool {
    /// Waits until the frames still alive are few enough to read more. There is no time
    /// limit: a frame is alive only while it waits for its writer, so waiting here is the
    /// backpressure of a peer that does not read.
    pub(super) async fn room(&self) {
        loop {
            let notified = self.shared.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a body dropped in between still wakes us.
            notified.as_mut().enable();
            if self.shared.bytes_alive.load(Ordering::Acquire) < MAX_BYTES_ALIVE {
                return;
            }
            notified.await;
        }
    }

    /// True when the reader may read more without waiting.
    #[cfg(test)]
    fn has_room(&self) -> bool {
        self.shared.bytes_alive.load(Ordering::Acquire) < MAX_BYTES_ALIVE
    }

    /// Charges a frame body read into the shared read buffer to the budget until its last
    /// handle is dropped.
    pub(super) fn charge(&self, body: Bytes) -> Bytes {
        let counted = body.len().max(MIN_CHARGE_BYTES);
        self.shared.bytes_alive.fetch_add(counted, Ordering::AcqRel);
        Bytes::from_owner(Charged {
            body,
            counted,
            pool: self.clone(),
        })
    }

    fn release(&self, counted: usize) {
        let before = self.shared.bytes_alive.fetch_sub(counted, Ordering::AcqRel);
        // Only the drop that makes room wakes the reader: most drops need no wake-up.
        if before >= MAX_BYTES_ALIVE && before - counted < MAX_BYTES_ALIVE {
            self.shared.room.notify_waiters();
        }
    }

    /// An empty buffer with room for `len` bytes, reused when one is free.
    pub(super) fn take(&self, len: usize) -> PooledBody {
        let reused = self
            .shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut bytes = reused.unwrap_or_default();
        bytes.clear();
        bytes.reserve_exact(len);
        self.shared.bytes_alive.fetch_add(len, Ordering::AcqRel);
        PooledBody {
            bytes,
            counted: len,
            pool: self.clone(),
        }
    }

    fn give_back(&self, bytes: Vec<u8>, counted: usize) {
        if bytes.capacity() <= MAX_POOLED_BYTES {
            let mut free = self
                .shared
                .free
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if free.len() < POOLED_BUFFERS {
                free.push(bytes);
            }
        }
        self.release(counted);
    }

    #[cfg(test)]
    fn free_buffers(&self) -> usize {
        self.shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A small body that gives its charge back when dropped.
#[derive(Debug)]
struct Charged {
    body: Bytes,
    counted: usize,
    pool: BodyPool,
}

impl AsRef<[u8]> for Charged {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

impl Drop for Charged {
    fn drop(&mut self) {
        self.pool.release(self.counted);
    }
}

/// A body buffer that returns to its pool when dropped.
#[derive(Debug)]
pub(super) struct PooledBody {
    bytes: Vec<u8>,
    counted: usize,
    pool: BodyPool,
}

impl PooledBody {
    /// The buffer to read the body into; its capacity already holds the whole body.
    pub(super) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Shares the filled body without copying; the buffer returns to the pool when the
    /// last handle is dropped.
    pub(super) fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PooledBody {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        self.pool
            .give_back(std::mem::take(&mut self.bytes), self.counted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_reused_only_after_its_body_is_dropped() {
        let pool = BodyPool::default();
        let mut first = pool.take(10);
        first.buffer().extend_from_slice(b"0123456789");
        let body = first.freeze();
        let copy = body.clone();
        drop(body);
        assert_eq!(pool.free_buffers(), 0, "a handle is still alive");
        assert_eq!(&copy[..], b"0123456789");
        drop(copy);
        assert_eq!(pool.free_buffers(), 1);
        let mut second = pool.take(4);
        assert!(second.buffer().is_empty(), "old contents never show");
        assert_eq!(pool.free_buffers(), 0);
    }

    #[test]
    fn huge_buffers_and_extra_buffers_are_not_kept() {
        let pool = BodyPool::default();
        drop(pool.take(MAX_POOLED_BYTES + 1));
        assert_eq!(pool.free_buffers(), 0);
        let bodies: Vec<_> = (0..POOLED_BUFFERS + 2).map(|_| pool.take(8)).collect();
        drop(bodies);
        assert_eq!(pool.free_buffers(), POOLED_BUFFERS);
    }

    #[tokio::test(start_paused = true)]
    async fn the_reader_waits_for_room_until_enough_frames_are_dropped() {
        let pool = BodyPool::default();
        pool.room().await;
        let held = pool.take(MAX_BYTES_ALIVE / 2);
        let small: Vec<Bytes> = (0..MAX_BYTES_ALIVE / 2 / 1024)
            .map(|_| pool.charge(Bytes::from(vec![0u8; 1024])))
            .collect();
        assert!(!pool.has_room(), "large and small frames both count");
        let waiting = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.room().await })
        };
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        assert!(
            !waiting.is_finished(),
            "no time limit: a stalled peer stops the reader"
        );
        drop(small);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiting)
            .await
            .expect("dropping frames makes room")
            .expect("no panic");
        drop(held);
        assert_eq!(pool.free_buffers(), 1);
        assert_eq!(pool.shared.bytes_alive.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_tiny_frame_is_charged_its_overhead() {
        let pool = BodyPool::default();
        let body = pool.charge(Bytes::from_static(b"{}"));
        assert_eq!(&body[..], b"{}");
        assert_eq!(
            pool.shared.bytes_alive.load(Ordering::Acquire),
            MIN_CHARGE_BYTES
        );
        drop(body);
        assert_eq!(pool.shared.bytes_alive.load(Ordering::Acquire), 0);
    }
}
