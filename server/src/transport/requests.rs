//! The book of requests sent and not yet answered: who waits for which id. The router keeps
//! one for the proxy's own requests to Lean, the in-process editor one for its requests to
//! the proxy.
//!
//! Invariant: every waiter is woken exactly once: by its answer ([`RequestBook::settle`]),
//! by [`RequestBook::fail_all`] when the other side is gone, or by being dropped (its
//! receiver then sees the channel closed). A cancelled request is forgotten, so a late answer
//! to it wakes nobody.

use std::collections::HashMap;
use std::hash::Hash;

use tokio::sync::oneshot;

/// Pending requests by id, each with its method (for logs) and the waiter for its answer.
#[derive(Debug)]
pub struct RequestBook<Id, Answer> {
    waiting: HashMap<Id, (String, oneshot::Sender<Answer>)>,
}

impl<Id, Answer> Default for RequestBook<Id, Answer> {
    fn default() -> Self {
        Self {
            waiting: HashMap::new(),
        }
    }
}

impl<Id: Eq + Hash, Answer> RequestBook<Id, Answer> {
    /// Notes that `id` (a `method` request) was sent and `reply` waits for its answer.
    pub fn insert(&mut self, id: Id, method: impl Into<String>, reply: oneshot::Sender<Answer>) {
        self.waiting.insert(id, (method.into(), reply));
    }

    /// Hands `answer` to the waiter of `id`; false when no one waits for it (never sent,
    /// already answered, or cancelled).
    pub fn settle(&mut self, id: &Id, answer: Answer) -> bool {
        match self.waiting.remove(id) {
            // The waiter may have stopped waiting; then the answer is simply dropped.
            Some((_, reply)) => {
                let _ = reply.send(answer);
                true
            }
            None => false,
        }
    }

    /// Forgets `id` without an answer; false when it was not pending.
    pub fn cancel(&mut self, id: &Id) -> bool {
        self.waiting.remove(id).is_some()
    }

    /// The method of pending request `id`.
    pub fn method_of(&self, id: &Id) -> Option<&str> {
        self.waiting.get(id).map(|(method, _)| method.as_str())
    }

    /// Answers every pending request with `answer(method)`: the other side is gone.
    pub fn fail_all(&mut self, answer: impl Fn(&str) -> Answer) {
        for (_, (method, reply)) in self.waiting.drain() {
            let _ = reply.send(answer(&method));
        }
    }

    /// Drops every waiter unanswered; each sees its channel closed.
    pub fn close_all(&mut self) {
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_waiter_gets_its_own_answer_once_and_cancelled_ones_none() {
        let mut book = RequestBook::<u64, &str>::default();
        let (first_tx, mut first) = oneshot::channel();
        let (second_tx, mut second) = oneshot::channel();
        let (third_tx, mut third) = oneshot::channel();
        book.insert(1, "a", first_tx);
        book.insert(2, "b", second_tx);
        book.insert(3, "c", third_tx);
        assert!(book.settle(&2, "two"));
        assert!(!book.settle(&2, "again"), "an answer is delivered once");
        assert!(book.cancel(&3));
        assert!(!book.settle(&3, "late"), "a cancelled request wakes nobody");
        assert_eq!(book.method_of(&1), Some("a"));
        book.fail_all(|method| if method == "a" { "gone" } else { "?" });
        assert_eq!(second.try_recv().ok(), Some("two"));
        assert_eq!(first.try_recv().ok(), Some("gone"));
        assert!(
            third.try_recv().is_err(),
            "the cancelled waiter was dropped"
        );
        assert_eq!(book.method_of(&1), None, "every waiter was answered");
    }
}
