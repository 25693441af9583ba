//! Queues (asyncio's "Queues"): [`Queue`] (FIFO), [`PriorityQueue`]
//! (smallest first) and [`LifoQueue`] (last in, first out), to hand values
//! from producer tasks to consumer tasks.
//!
//! A queue is a cheap handle (clones are the same queue), bounded by
//! `maxsize` (0: unbounded): `put` waits while it is full, `get` while it is
//! empty, both FIFO-fair. `task_done` and `join` count the items not yet
//! processed; `shutdown` ends it (Python 3.13).
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use asyncio::queues::Queue;
//! let q = Queue::new(10);
//! let consumer = {
//!     let q = q.clone();
//!     asyncio::create_task(async move {
//!         let mut sum = 0;
//!         loop {
//!             match q.get().await {
//!                 Ok(n) => { sum += n; q.task_done()?; }
//!                 Err(e) if e.kind() == &asyncio::ErrorKind::QueueShutDown => return Ok(sum),
//!                 Err(e) => return Err(e),
//!             }
//!         }
//!     })
//! };
//! for n in 1..=100 {
//!     q.put(n).await?;
//! }
//! q.join().await?; // every item was processed
//! q.shutdown(false);
//! assert_eq!(consumer.await?, 5050);
//! # Ok(()) }
//! ```
//!
//! One implementation, [`BaseQueue`], serves all three; they differ in
//! their [`Storage`] only, and deref to it. A queue is also a
//! [`Stream`](futures_core::Stream): [`BaseQueue::stream`].
//!
//! **Cancellation and drop:** a cancelled or dropped `get` takes no item
//! (an item it was woken for stays in the queue, and the wake-up goes to the
//! next getter): `get` is cancel-safe. A cancelled or dropped `put` puts
//! nothing (its item is dropped with the future; use `put_nowait` to keep
//! it). Blocked getters and putters are woken FIFO, and a woken waiter that
//! is cancelled passes its wake-up on.

mod storage;

pub use storage::{Fifo, Lifo, Priority, Storage};

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::debug::AwaitCheck;
use crate::errors::{Error, ErrorKind, Result};
use crate::runtime::task::Awaiting;
use crate::runtime::{self};
use crate::sync::waiters::{WaitQueue, WaiterKey};

struct Inner<T, S> {
    items: S,
    maxsize: usize,
    unfinished: usize,
    shutdown: bool,
    getters: WaitQueue,
    putters: WaitQueue,
    joiners: WaitQueue,
    _item: PhantomData<T>,
}

impl<T, S: Storage<T>> Inner<T, S> {
    fn full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }

    fn push(&mut self, item: T) {
        self.items.push(item);
        self.unfinished += 1;
        self.getters.notify_one();
    }
}

/// The queue behind [`Queue`], [`PriorityQueue`] and [`LifoQueue`]; see the
/// [module docs](self). Clones are the same queue.
pub struct BaseQueue<T, S> {
    inner: Rc<RefCell<Inner<T, S>>>,
}

impl<T, S> Clone for BaseQueue<T, S> {
    fn clone(&self) -> Self {
        BaseQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T, S: Storage<T>> fmt::Debug for BaseQueue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.inner.borrow();
        write!(
            f,
            "<Queue maxsize={} qsize={} getters={} putters={} unfinished={}{}>",
            q.maxsize,
            q.items.len(),
            q.getters.len(),
            q.putters.len(),
            q.unfinished,
            if q.shutdown { " shut down" } else { "" }
        )
    }
}

fn shut_down() -> Error {
    Error::new(ErrorKind::QueueShutDown)
}

impl<T, S: Storage<T>> BaseQueue<T, S> {
    /// A queue holding at most `maxsize` items (0: no limit).
    pub fn with_storage(maxsize: usize, storage: S) -> Self {
        BaseQueue {
            inner: Rc::new(RefCell::new(Inner {
                items: storage,
                maxsize,
                unfinished: 0,
                shutdown: false,
                getters: WaitQueue::new(),
                putters: WaitQueue::new(),
                joiners: WaitQueue::new(),
                _item: PhantomData,
            })),
        }
    }

    /// The bound given at creation (0: unbounded).
    pub fn maxsize(&self) -> usize {
        self.inner.borrow().maxsize
    }

    /// The number of items in the queue.
    pub fn qsize(&self) -> usize {
        self.inner.borrow().items.len()
    }

    /// True if the queue holds no item.
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// True if the queue holds `maxsize` items (never for an unbounded one).
    pub fn full(&self) -> bool {
        self.inner.borrow().full()
    }

    /// True once [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.borrow().shutdown
    }

    /// Puts `item` in the queue, waiting while it is full. See [`Put`].
    pub fn put(&self, item: T) -> Put<'_, T, S> {
        Put {
            queue: self,
            item: Some(item),
            key: None,
            check: AwaitCheck::new(),
        }
    }

    /// Takes the next item, waiting while the queue is empty. See [`Get`].
    pub fn get(&self) -> Get<'_, T, S> {
        Get {
            queue: self,
            key: None,
            check: AwaitCheck::new(),
        }
    }

    /// Puts `item` now, or gives it back: [`PutError::Full`] if the queue is
    /// full, [`PutError::ShutDown`] after `shutdown`.
    pub fn put_nowait(&self, item: T) -> std::result::Result<(), PutError<T>> {
        let mut q = self.inner.borrow_mut();
        if q.shutdown {
            return Err(PutError::ShutDown(item));
        }
        if q.full() {
            return Err(PutError::Full(item));
        }
        q.push(item);
        Ok(())
    }

    /// Takes an item now: `Err(QueueEmpty)` if there is none,
    /// `Err(QueueShutDown)` if there is none and the queue is shut down.
    pub fn get_nowait(&self) -> Result<T> {
        let mut q = self.inner.borrow_mut();
        match q.items.pop() {
            Some(item) => {
                q.putters.notify_one();
                Ok(item)
            }
            None if q.shutdown => Err(shut_down()),
            None => Err(Error::new(ErrorKind::QueueEmpty)),
        }
    }

    /// Marks one item taken by `get` as processed; when every item put has
    /// been, [`join`](Self::join) returns. Called more
    /// times than items were put: `Err` of kind
    /// [`ErrorKind::Value`], asyncio's `ValueError`.
    pub fn task_done(&self) -> Result<()> {
        let mut q = self.inner.borrow_mut();
        if q.unfinished == 0 {
            return Err(Error::value("task_done() called too many times"));
        }
        q.unfinished -= 1;
        if q.unfinished == 0 {
            q.joiners.notify_all();
        }
        Ok(())
    }

    /// Waits until every item put has been marked done with `task_done`.
    /// See [`Join`].
    pub fn join(&self) -> Join<'_, T, S> {
        Join {
            queue: self,
            key: None,
            check: AwaitCheck::new(),
        }
    }

    /// Shuts the queue down (Python 3.13): `put` and `put_nowait` fail with
    /// `QueueShutDown` from now on, and blocked putters are woken with it;
    /// getters take the items left, then get `QueueShutDown`. With
    /// `immediate`, the items left are dropped at once (each counting as
    /// done for `join`) and blocked getters fail too.
    pub fn shutdown(&self, immediate: bool) {
        let mut dropped = Vec::new();
        {
            let mut q = self.inner.borrow_mut();
            q.shutdown = true;
            if immediate {
                while let Some(item) = q.items.pop() {
                    dropped.push(item);
                    q.unfinished = q.unfinished.saturating_sub(1);
                }
                if q.unfinished == 0 {
                    q.joiners.notify_all();
                }
            }
            q.getters.notify_all();
            q.putters.notify_all();
        }
        drop(dropped); // outside the borrow: an item's `Drop` may use the queue
    }

    /// A [`Stream`](futures_core::Stream) of the items: each `get`, in
    /// turn, until the queue is shut down and empty. See [`QueueStream`].
    pub fn stream(&self) -> QueueStream<T, S> {
        QueueStream {
            queue: self.clone(),
            key: None,
        }
    }

    fn poll_get(&self, key: &mut Option<WaiterKey>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        if let Some(e) = runtime::take_cancel() {
            self.withdraw_get(key);
            return Poll::Ready(Err(e));
        }
        let mut q = self.inner.borrow_mut();
        if let Some(k) = *key {
            if q.getters.poll(k, cx.waker()).is_pending() {
                runtime::set_awaiting(Awaiting::QueueGet);
                return Poll::Pending;
            }
            *key = None;
        }
        if let Some(item) = q.items.pop() {
            q.putters.notify_one();
            return Poll::Ready(Ok(item));
        }
        if q.shutdown {
            return Poll::Ready(Err(shut_down()));
        }
        *key = Some(q.getters.push_back(cx.waker()));
        runtime::set_awaiting(Awaiting::QueueGet);
        Poll::Pending
    }

    fn withdraw_get(&self, key: &mut Option<WaiterKey>) {
        if let Some(k) = key.take() {
            let mut q = self.inner.borrow_mut();
            if q.getters.remove(k) && q.items.len() > 0 {
                // Woken for an item it will not take: wake the next getter.
                q.getters.notify_one();
            }
        }
    }
}

/// asyncio's `Queue`: first in, first out. Derefs to [`BaseQueue`], which
/// has every method. Clones are the same queue.
pub struct Queue<T>(BaseQueue<T, Fifo<T>>);

/// asyncio's `PriorityQueue`: the smallest item first (use `(priority,
/// sequence, item)` tuples for FIFO order among equal priorities). Derefs
/// to [`BaseQueue`].
pub struct PriorityQueue<T>(BaseQueue<T, Priority<T>>);

/// asyncio's `LifoQueue`: the last item put comes out first. Derefs to
/// [`BaseQueue`].
pub struct LifoQueue<T>(BaseQueue<T, Lifo<T>>);

macro_rules! queue_type {
    ($name:ident, $storage:ident, $($bound:tt)*) => {
        impl<T: $($bound)*> $name<T> {
            /// A queue holding at most `maxsize` items (0: no limit).
            pub fn new(maxsize: usize) -> Self {
                $name(BaseQueue::with_storage(maxsize, $storage::default()))
            }
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name(self.0.clone())
            }
        }

        impl<T: $($bound)*> std::ops::Deref for $name<T> {
            type Target = BaseQueue<T, $storage<T>>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl<T: $($bound)*> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

queue_type!(Queue, Fifo, Sized);
queue_type!(LifoQueue, Lifo, Sized);
queue_type!(PriorityQueue, Priority, Ord);

/// The error of [`BaseQueue::put_nowait`]: asyncio's `QueueFull` or
/// `QueueShutDown`, giving the item back. Converts into an [`Error`] of
/// kind `QueueFull` or `QueueShutDown` with `?` (dropping the item).
#[derive(Clone, PartialEq, Eq)]
pub enum PutError<T> {
    /// The queue is full (`QueueFull`).
    Full(T),
    /// The queue is shut down (`QueueShutDown`).
    ShutDown(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(item) | PutError::ShutDown(item) => item,
        }
    }

    /// True for [`PutError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, PutError::Full(_))
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("queue is full"),
            PutError::ShutDown(_) => f.write_str("queue is shut down"),
        }
    }
}

impl<T> From<PutError<T>> for Error {
    fn from(e: PutError<T>) -> Error {
        match e {
            PutError::Full(_) => Error::new(ErrorKind::QueueFull),
            PutError::ShutDown(_) => shut_down(),
        }
    }
}

/// The future of [`BaseQueue::get`]: the next item.
///
/// `Err(QueueShutDown)` once the queue is shut down and empty.
/// **Cancelled:** leaves the getters and returns `Err(Cancelled)`; it takes
/// no item, and if it had been woken for one, the next getter is woken
/// instead. **Dropped:** the same. Cancel-safe: no item is lost.
#[must_use = "futures do nothing unless awaited"]
pub struct Get<'a, T, S: Storage<T>> {
    queue: &'a BaseQueue<T, S>,
    key: Option<WaiterKey>,
    check: AwaitCheck,
}

impl<T, S: Storage<T>> Future for Get<'_, T, S> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = &mut *self;
        this.check.polled();
        this.queue.poll_get(&mut this.key, cx)
    }
}

impl<T, S: Storage<T>> Drop for Get<'_, T, S> {
    fn drop(&mut self) {
        self.check.check("Queue.get()");
        self.queue.withdraw_get(&mut self.key);
    }
}

impl<T, S: Storage<T>> fmt::Debug for Get<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// The future of [`BaseQueue::put`].
///
/// `Err(QueueShutDown)` if the queue is (or gets) shut down before the item
/// is in. **Cancelled:** leaves the putters and returns `Err(Cancelled)`;
/// the item is not put (it is dropped with the future), and a wake-up it had
/// received goes to the next putter. **Dropped:** the same.
#[must_use = "futures do nothing unless awaited"]
pub struct Put<'a, T, S: Storage<T>> {
    queue: &'a BaseQueue<T, S>,
    item: Option<T>,
    key: Option<WaiterKey>,
    check: AwaitCheck,
}

// Nothing is structurally pinned: the item is moved into the queue.
impl<T, S: Storage<T>> Unpin for Put<'_, T, S> {}

impl<T, S: Storage<T>> Put<'_, T, S> {
    fn withdraw(&mut self) {
        if let Some(k) = self.key.take() {
            let mut q = self.queue.inner.borrow_mut();
            if q.putters.remove(k) && !q.full() && !q.shutdown {
                q.putters.notify_one();
            }
        }
    }
}

impl<T, S: Storage<T>> Future for Put<'_, T, S> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = &mut *self;
        this.check.polled();
        if let Some(e) = runtime::take_cancel() {
            this.withdraw();
            return Poll::Ready(Err(e));
        }
        let mut q = this.queue.inner.borrow_mut();
        if let Some(k) = this.key {
            if q.putters.poll(k, cx.waker()).is_pending() {
                runtime::set_awaiting(Awaiting::QueuePut);
                return Poll::Pending;
            }
            this.key = None;
        }
        if q.shutdown {
            return Poll::Ready(Err(shut_down()));
        }
        if !q.full() {
            let Some(item) = this.item.take() else {
                return Poll::Ready(Err(Error::invalid_state(
                    "Queue.put() polled after it finished",
                )));
            };
            q.push(item);
            return Poll::Ready(Ok(()));
        }
        this.key = Some(q.putters.push_back(cx.waker()));
        runtime::set_awaiting(Awaiting::QueuePut);
        Poll::Pending
    }
}

impl<T, S: Storage<T>> Drop for Put<'_, T, S> {
    fn drop(&mut self) {
        self.check.check("Queue.put()");
        self.withdraw();
    }
}

impl<T, S: Storage<T>> fmt::Debug for Put<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// The future of [`BaseQueue::join`].
///
/// **Cancelled:** returns `Err(Cancelled)`. **Dropped:** leaves the
/// waiters. (Every `join` is woken at once, so there is nothing to pass on.)
#[must_use = "futures do nothing unless awaited"]
pub struct Join<'a, T, S: Storage<T>> {
    queue: &'a BaseQueue<T, S>,
    key: Option<WaiterKey>,
    check: AwaitCheck,
}

impl<T, S: Storage<T>> Join<'_, T, S> {
    fn withdraw(&mut self) {
        if let Some(k) = self.key.take() {
            self.queue.inner.borrow_mut().joiners.remove(k);
        }
    }
}

impl<T, S: Storage<T>> Future for Join<'_, T, S> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = &mut *self;
        this.check.polled();
        if let Some(e) = runtime::take_cancel() {
            this.withdraw();
            return Poll::Ready(Err(e));
        }
        let mut q = this.queue.inner.borrow_mut();
        match this.key {
            None if q.unfinished == 0 => return Poll::Ready(Ok(())),
            None => this.key = Some(q.joiners.push_back(cx.waker())),
            Some(k) => {
                if q.joiners.poll(k, cx.waker()).is_ready() {
                    this.key = None;
                    return Poll::Ready(Ok(()));
                }
            }
        }
        runtime::set_awaiting(Awaiting::QueueJoin);
        Poll::Pending
    }
}

impl<T, S: Storage<T>> Drop for Join<'_, T, S> {
    fn drop(&mut self) {
        self.check.check("Queue.join()");
        self.withdraw();
    }
}

impl<T, S: Storage<T>> fmt::Debug for Join<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// The items of a queue as a [`Stream`](futures_core::Stream) (from
/// [`BaseQueue::stream`]): `Some(Ok(item))` per `get`, `Some(Err(Cancelled))`
/// when the task is cancelled while waiting, and the end (`None`) once the
/// queue is shut down and empty. Owns a handle to the queue. Dropping it
/// mid-wait takes no item (as a dropped [`Get`]).
pub struct QueueStream<T, S: Storage<T>> {
    queue: BaseQueue<T, S>,
    key: Option<WaiterKey>,
}

impl<T, S: Storage<T>> QueueStream<T, S> {
    /// The next item (`None` at the end); see the type's docs.
    pub async fn next(&mut self) -> Option<Result<T>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        match self.queue.poll_get(&mut self.key, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) if e.kind() == &ErrorKind::QueueShutDown => Poll::Ready(None),
            Poll::Ready(r) => Poll::Ready(Some(r)),
        }
    }
}

impl<T, S: Storage<T>> Unpin for QueueStream<T, S> {}

impl<T, S: Storage<T>> futures_core::Stream for QueueStream<T, S> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.poll_item(cx)
    }
}

impl<T, S: Storage<T>> Drop for QueueStream<T, S> {
    fn drop(&mut self) {
        self.queue.withdraw_get(&mut self.key);
    }
}

impl<T, S: Storage<T>> fmt::Debug for QueueStream<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueStream")
            .field("queue", &self.queue)
            .finish()
    }
}
