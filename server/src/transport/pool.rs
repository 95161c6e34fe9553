//! Recycled buffers for large frame bodies, and the limit on how many are in flight.
//!
//! A body handed to the router must live until its writer has written it, so the reader
//! cannot reuse one buffer for the next frame. Allocating a fresh megabyte per frame
//! costs more than copying it (every page is faulted in and zeroed by the kernel), and a
//! reader that runs ahead of a slow peer would hold the whole backlog in memory. So the
//! reader takes buffers from a small pool, and before it reads another large body it
//! waits, briefly, until the bodies it already handed on are mostly written: the backlog
//! then stays in the kernel's pipe, as it would without the proxy.
//!
//! Invariants: a buffer is reused only after every `Bytes` handle to its body is gone;
//! the pool keeps at most [`POOLED_BUFFERS`] free buffers of at most [`MAX_POOLED_BYTES`]
//! each. Waiting for room never blocks for longer than [`MAX_WAIT`] per body, so a body
//! kept alive elsewhere can slow the reader down but never stop it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

/// How many free buffers are kept.
const POOLED_BUFFERS: usize = 4;

/// Buffers larger than this are freed rather than kept.
const MAX_POOLED_BYTES: usize = 4 * 1024 * 1024;

/// The reader waits before reading another large body while this many bytes of large
/// bodies it read are still alive.
const MAX_BYTES_IN_FLIGHT: usize = 4 * 1024 * 1024;

/// The longest the reader waits for room before reading a body anyway.
const MAX_WAIT: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
struct Shared {
    free: Mutex<Vec<Vec<u8>>>,
    bytes_in_flight: AtomicUsize,
    room: Notify,
}

/// A shared set of free buffers; clones share it.
#[derive(Debug, Clone, Default)]
pub(super) struct BodyPool {
    shared: Arc<Shared>,
}

impl BodyPool {
    /// Waits until the large bodies still alive are few enough to read another one, or
    /// until [`MAX_WAIT`] has passed.
    pub(super) async fn room_for_another(&self) {
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let notified = self.shared.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a body dropped in between still wakes us.
            notified.as_mut().enable();
            if self.shared.bytes_in_flight.load(Ordering::Acquire) < MAX_BYTES_IN_FLIGHT {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::debug!("large bodies are slow to drain; reading the next one anyway");
                return;
            }
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
        self.shared.bytes_in_flight.fetch_add(len, Ordering::AcqRel);
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
        self.shared
            .bytes_in_flight
            .fetch_sub(counted, Ordering::AcqRel);
        self.shared.room.notify_waiters();
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
    async fn the_reader_waits_for_room_until_a_body_is_dropped_or_the_wait_is_over() {
        let pool = BodyPool::default();
        pool.room_for_another().await;
        let held = pool.take(MAX_BYTES_IN_FLIGHT);
        let started = tokio::time::Instant::now();
        pool.room_for_another().await;
        assert_eq!(
            started.elapsed(),
            MAX_WAIT,
            "a held body delays, never blocks"
        );

        let dropper = {
            let pool = pool.clone();
            tokio::spawn(async move {
                tokio::time::sleep(MAX_WAIT / 4).await;
                drop(held);
                pool.free_buffers()
            })
        };
        let started = tokio::time::Instant::now();
        pool.room_for_another().await;
        assert_eq!(started.elapsed(), MAX_WAIT / 4);
        assert_eq!(dropper.await.expect("no panic"), 1);
    }
}
