//! How a queue keeps its items: the one thing that differs between
//! `Queue`, `LifoQueue` and `PriorityQueue` (asyncio's `_init`, `_put`,
//! `_get`, `_qsize`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

/// The order a queue gives its items back in. Implement it for a queue of
/// your own order ([`BaseQueue::with_storage`](super::BaseQueue::with_storage)).
pub trait Storage<T> {
    /// Adds an item.
    fn push(&mut self, item: T);
    /// Takes the next item.
    fn pop(&mut self) -> Option<T>;
    /// The number of items.
    fn len(&self) -> usize;
    /// True with no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out (`Queue`).
pub struct Fifo<T>(VecDeque<T>);

/// Last in, first out (`LifoQueue`).
pub struct Lifo<T>(Vec<T>);

/// Smallest first (`PriorityQueue`, a binary heap).
pub struct Priority<T>(BinaryHeap<Reverse<T>>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(BinaryHeap::new())
    }
}

impl<T> Storage<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Storage<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Storage<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(item)| item)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

macro_rules! debug_len {
    ($($name:ident),*) => {$(
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({} items)", stringify!($name), self.0.len())
            }
        }
    )*};
}
debug_len!(Fifo, Lifo, Priority);
