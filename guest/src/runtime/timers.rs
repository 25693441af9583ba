//! The loop's timer heap: every `sleep`, `call_later` and timeout deadline.
//!
//! Deadlines live here, in the guest; the host only ever sees one clock
//! wait, for the earliest deadline (see `run.rs`), so a hundred thousand
//! sleeping tasks cost the host nothing. Timers due at the same instant fire
//! in the order they were scheduled (a sequence number breaks ties), as in
//! asyncio. Cancelled timers are removed from the slab at once and from the
//! heap lazily; the heap is rebuilt when stale entries are the majority.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;

use super::slab::{Key, Slab};

/// What a timer does when it fires.
pub(crate) enum Action {
    /// Wake the sleeping future (it sees `fired` on its next poll).
    Wake { waker: Option<Waker>, fired: bool },
    /// Schedule a `call_later`/`call_at` callback on the ready queue.
    Callback(Box<dyn FnOnce()>),
}

pub(crate) struct Entry {
    pub(crate) action: Action,
}

/// What `fire_due` hands back, to be acted on once the timers are no longer
/// borrowed (waking or scheduling may re-enter the loop).
pub(crate) enum Fired {
    Wake(Waker),
    Callback(Box<dyn FnOnce()>),
}

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(u64, u64, HeapKey)>>,
    entries: Slab<Entry>,
    seq: u64,
    stale: usize,
}

/// `Key` ordered only so that it can sit in the heap tuple; ties on
/// (deadline, sequence) never happen, so its order is never consulted.
#[derive(Clone, Copy, PartialEq, Eq)]
struct HeapKey(Key);

impl PartialOrd for HeapKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapKey {
    fn cmp(&self, _other: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Timers {
    pub(crate) fn insert(&mut self, when: u64, action: Action) -> Key {
        let key = self.entries.insert(Entry { action });
        self.seq += 1;
        self.heap.push(Reverse((when, self.seq, HeapKey(key))));
        key
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Entry> {
        self.entries.get_mut(key)
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        let fired = matches!(entry.action, Action::Wake { fired: true, .. });
        if !fired {
            // Its heap entry is still there; drop it lazily.
            self.stale += 1;
            if self.stale > 64 && self.stale > self.heap.len() / 2 {
                let entries = &self.entries;
                self.heap
                    .retain(|Reverse((_, _, k))| entries.get(k.0).is_some());
                self.stale = 0;
            }
        }
        Some(entry)
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        while let Some(Reverse((when, _, key))) = self.heap.peek() {
            // Fired timers left the heap when they fired; a missing entry
            // was cancelled.
            if self.entries.get(key.0).is_some() {
                return Some(*when);
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
        None
    }

    /// Fires every timer due at `now`, in deadline order, into `out`.
    pub(crate) fn fire_due(&mut self, now: u64, out: &mut Vec<Fired>) {
        while let Some(Reverse((when, _, key))) = self.heap.peek().copied() {
            if when > now {
                break;
            }
            self.heap.pop();
            let key = key.0;
            let Some(entry) = self.entries.get_mut(key) else {
                self.stale = self.stale.saturating_sub(1);
                continue;
            };
            match &mut entry.action {
                Action::Wake { waker, fired } => {
                    *fired = true;
                    if let Some(w) = waker.take() {
                        out.push(Fired::Wake(w));
                    }
                }
                Action::Callback(_) => {
                    if let Some(Entry {
                        action: Action::Callback(f),
                        ..
                    }) = self.entries.remove(key)
                    {
                        out.push(Fired::Callback(f));
                    }
                }
            }
        }
    }

    /// Drops every timer (the loop is closing).
    pub(crate) fn clear(&mut self) -> Vec<Entry> {
        self.heap.clear();
        self.stale = 0;
        self.entries.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb(log: &std::rc::Rc<std::cell::RefCell<Vec<u32>>>, n: u32) -> Action {
        let log = log.clone();
        Action::Callback(Box::new(move || log.borrow_mut().push(n)))
    }

    fn fire(t: &mut Timers, now: u64) {
        let mut out = Vec::new();
        t.fire_due(now, &mut out);
        for f in out {
            if let Fired::Callback(f) = f {
                f()
            }
        }
    }

    #[test]
    fn fires_in_deadline_then_scheduling_order() {
        let log = Default::default();
        let mut t = Timers::default();
        t.insert(30, cb(&log, 3));
        t.insert(10, cb(&log, 1));
        t.insert(30, cb(&log, 4));
        t.insert(20, cb(&log, 2));
        fire(&mut t, 25);
        assert_eq!(*log.borrow(), vec![1, 2]);
        assert_eq!(t.next_deadline(), Some(30));
        fire(&mut t, 30);
        assert_eq!(*log.borrow(), vec![1, 2, 3, 4]);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn cancelled_timers_never_fire_and_the_heap_is_compacted() {
        let log = Default::default();
        let mut t = Timers::default();
        let keys: Vec<_> = (0..1000).map(|i| t.insert(i, cb(&log, i as u32))).collect();
        for k in &keys[..900] {
            t.remove(*k);
        }
        assert!(t.heap.len() < 1000, "compacted");
        assert_eq!(t.next_deadline(), Some(900));
        fire(&mut t, 10_000);
        assert_eq!(log.borrow().len(), 100);
        assert_eq!(log.borrow()[0], 900);
    }
}
