//! The one waiter queue under every lock, semaphore, event, condition,
//! barrier and queue: FIFO, and cancellation-aware.
//!
//! A waiter is a slot in a slab threaded on a doubly linked list (in
//! arrival order), so registering, notifying and withdrawing are all O(1).
//! Being notified takes a waiter *off* the list but keeps its slot, marked
//! `Notified`, until its future sees it ([`WaitQueue::poll`]) or withdraws
//! ([`WaitQueue::remove`]). `remove` says whether the waiter had already
//! been notified: that is the moment a primitive must pass the wake-up on
//! (hand the lock or permit to the next waiter, re-notify a condition, wake
//! the next getter), so that a waiter cancelled or dropped after being woken
//! never loses a permit or a notification. This is the role of tokio's
//! `batch_semaphore` waiter list and of `event-listener`'s "notified but not
//! yet observed" state, reduced to what one thread needs.
//!
//! Wakers are woken while the owner's `RefCell` is borrowed: the loop's task
//! wakers only push the task on the ready queue and never re-enter.

use std::task::{Poll, Waker};

const NIL: u32 = u32::MAX;

/// Identifies one registered waiter (index and generation, so a stale key
/// can never touch a reused slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey {
    index: u32,
    generation: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Free,
    Waiting,
    Notified,
}

#[derive(Debug)]
struct Slot {
    state: SlotState,
    generation: u32,
    prev: u32,
    /// The next waiter on the list; for a free slot, the next free slot.
    next: u32,
    waker: Option<Waker>,
}

/// A FIFO of waiters; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct WaitQueue {
    slots: Vec<Slot>,
    free: u32,
    head: u32,
    tail: u32,
    /// Waiters on the list (registered and not yet notified).
    waiting: usize,
}

impl Default for WaitQueue {
    fn default() -> Self {
        WaitQueue::new()
    }
}

impl WaitQueue {
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            slots: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            waiting: 0,
        }
    }

    /// How many waiters wait and were not notified yet.
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// Registers a waiter at the back of the queue.
    pub(crate) fn push_back(&mut self, waker: &Waker) -> WaiterKey {
        let index = if self.free != NIL {
            let index = self.free;
            self.free = self.slots[index as usize].next;
            index
        } else {
            let index = u32::try_from(self.slots.len()).expect("too many waiters");
            self.slots.push(Slot {
                state: SlotState::Free,
                generation: 0,
                prev: NIL,
                next: NIL,
                waker: None,
            });
            index
        };
        let tail = self.tail;
        let slot = &mut self.slots[index as usize];
        slot.state = SlotState::Waiting;
        slot.prev = tail;
        slot.next = NIL;
        slot.waker = Some(waker.clone());
        let generation = slot.generation;
        if tail == NIL {
            self.head = index;
        } else {
            self.slots[tail as usize].next = index;
        }
        self.tail = index;
        self.waiting += 1;
        WaiterKey { index, generation }
    }

    fn slot(&mut self, key: WaiterKey) -> &mut Slot {
        let slot = &mut self.slots[key.index as usize];
        assert!(
            slot.generation == key.generation && slot.state != SlotState::Free,
            "asyncio: stale waiter key"
        );
        slot
    }

    /// `Ready` once the waiter was notified (its slot is then released and
    /// the key is dead); otherwise keeps `waker` for the wake-up.
    pub(crate) fn poll(&mut self, key: WaiterKey, waker: &Waker) -> Poll<()> {
        let slot = self.slot(key);
        if slot.state == SlotState::Notified {
            self.release(key.index);
            return Poll::Ready(());
        }
        match &slot.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => slot.waker = Some(waker.clone()),
        }
        Poll::Pending
    }

    /// Withdraws a waiter (cancelled or dropped). True if it had been
    /// notified: the caller must then pass the wake-up on.
    pub(crate) fn remove(&mut self, key: WaiterKey) -> bool {
        let notified = match self.slot(key).state {
            SlotState::Notified => true,
            _ => {
                self.unlink(key.index);
                false
            }
        };
        self.release(key.index);
        notified
    }

    /// Notifies the first waiter; false if nobody waits.
    pub(crate) fn notify_one(&mut self) -> bool {
        let index = self.head;
        if index == NIL {
            return false;
        }
        self.unlink(index);
        let slot = &mut self.slots[index as usize];
        slot.state = SlotState::Notified;
        if let Some(w) = slot.waker.take() {
            w.wake();
        }
        true
    }

    /// Notifies up to `n` waiters, in order; returns how many.
    pub(crate) fn notify(&mut self, n: usize) -> usize {
        let mut done = 0;
        while done < n && self.notify_one() {
            done += 1;
        }
        done
    }

    /// Notifies every waiter; returns how many.
    pub(crate) fn notify_all(&mut self) -> usize {
        self.notify(usize::MAX)
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next) = {
            let s = &self.slots[index as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        self.waiting -= 1;
    }

    fn release(&mut self, index: u32) {
        let free = self.free;
        let slot = &mut self.slots[index as usize];
        slot.state = SlotState::Free;
        slot.generation = slot.generation.wrapping_add(1);
        slot.waker = None;
        slot.prev = NIL;
        slot.next = free;
        self.free = index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_notification_and_withdrawal() {
        let w = Waker::noop();
        let mut q = WaitQueue::new();
        let a = q.push_back(w);
        let b = q.push_back(w);
        let c = q.push_back(w);
        assert_eq!(q.len(), 3);
        // Withdrawn before being notified: nothing to pass on.
        assert!(!q.remove(b));
        assert!(q.notify_one());
        assert_eq!(q.poll(a, w), Poll::Ready(()));
        assert_eq!(q.poll(c, w), Poll::Pending);
        assert!(q.notify_one());
        // Notified, then withdrawn: the caller must pass it on.
        assert!(q.remove(c));
        assert!(!q.notify_one());
        assert_eq!(q.len(), 0);
        // Slots are reused with a new generation.
        let d = q.push_back(w);
        assert_ne!(d, a);
        assert_ne!(d, c);
        assert_eq!(q.notify_all(), 1);
    }
}
