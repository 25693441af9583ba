//! Queues, natively, step by step: blocking put and get, FIFO wake-ups,
//! cancellation and drop without losing items, orders, join/task_done,
//! shutdown, and the stream.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use asyncio::queues::PutError;
use asyncio::testing::TestLoop;
use asyncio::{ErrorKind, LifoQueue, PriorityQueue, Queue};

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

fn kind<T: std::fmt::Debug>(r: asyncio::Result<T>) -> ErrorKind {
    r.unwrap_err().kind().clone()
}

#[test]
fn a_put_blocks_on_a_full_queue_until_a_get() {
    let tl = TestLoop::new();
    let q = Queue::new(1);
    let putter = {
        let q = q.clone();
        tl.spawn(async move {
            q.put(1).await?;
            q.put(2).await?;
            Ok(())
        })
    };
    tl.run_until_idle();
    assert!(!putter.done());
    assert!(q.full());
    assert_eq!(q.qsize(), 1);
    assert!(tl.enter(asyncio::task_dump).contains("awaiting Queue.put"));
    assert_eq!(q.get_nowait().unwrap(), 1);
    tl.run_until_idle();
    assert!(putter.done());
    assert_eq!(q.get_nowait().unwrap(), 2);
    assert_eq!(kind(q.get_nowait()), ErrorKind::QueueEmpty);
}

#[test]
fn put_nowait_gives_the_item_back_when_full() {
    let q = Queue::new(1);
    q.put_nowait(String::from("a")).unwrap();
    let e = q.put_nowait(String::from("b")).unwrap_err();
    assert!(e.is_full());
    assert_eq!(e.into_inner(), "b");
    let err: asyncio::Error = q.put_nowait(String::from("c")).unwrap_err().into();
    assert_eq!(err.kind(), &ErrorKind::QueueFull);
    assert_eq!(q.maxsize(), 1);
    assert!(!Queue::<u8>::new(0).full(), "maxsize 0 is unbounded");
}

#[test]
fn getters_are_served_in_fifo_order() {
    let tl = TestLoop::new();
    let q = Queue::new(0);
    let out = Rc::new(RefCell::new(Vec::new()));
    for name in ["a", "b", "c"] {
        let (q, out) = (q.clone(), out.clone());
        tl.spawn(async move {
            let v: u32 = q.get().await?;
            out.borrow_mut().push(format!("{name}{v}"));
            Ok(())
        });
    }
    tl.run_until_idle();
    for v in 1..=3 {
        q.put_nowait(v).unwrap();
    }
    tl.run_until_idle();
    assert_eq!(*out.borrow(), ["a1", "b2", "c3"]);
}

#[test]
fn a_cancelled_get_keeps_its_item() {
    let tl = TestLoop::new();
    let q = Queue::new(0);
    let spawn = || {
        let q = q.clone();
        tl.spawn(async move { q.get().await })
    };
    let a = spawn();
    let b = spawn();
    tl.run_until_idle();
    // The put wakes `a`, which is cancelled before it runs: the wake-up
    // goes to `b`, and the item with it.
    q.put_nowait(7).unwrap();
    a.cancel();
    tl.run_until_idle();
    assert!(a.cancelled());
    assert_eq!(b.result().unwrap(), 7);
    // Cancelled with nobody else waiting: the item stays in the queue.
    let c = spawn();
    tl.run_until_idle();
    q.put_nowait(8).unwrap();
    c.cancel();
    tl.run_until_idle();
    assert!(c.cancelled());
    assert_eq!(q.get_nowait().unwrap(), 8);
}

#[test]
fn a_dropped_get_takes_no_item() {
    let q = Queue::new(0);
    let mut g1 = q.get();
    let mut g2 = q.get();
    assert!(poll_once(&mut g1).is_pending());
    assert!(poll_once(&mut g2).is_pending());
    q.put_nowait("x").unwrap(); // wakes g1
    drop(g1); // ... which passes the wake-up on to g2
    assert_eq!(poll_once(&mut g2), Poll::Ready(Ok("x")));
    assert!(q.empty());
}

#[test]
fn a_cancelled_put_puts_nothing_and_passes_its_turn_on() {
    let tl = TestLoop::new();
    let q = Queue::new(1);
    q.put_nowait(0).unwrap();
    let spawn = |v: u32| {
        let q = q.clone();
        tl.spawn(async move { q.put(v).await })
    };
    let a = spawn(1);
    let b = spawn(2);
    tl.run_until_idle();
    assert_eq!(q.get_nowait().unwrap(), 0); // wakes `a`
    a.cancel();
    tl.run_until_idle();
    assert!(a.cancelled() && b.done());
    assert_eq!(q.get_nowait().unwrap(), 2);
    assert!(q.empty());
}

#[test]
fn priority_queue_gives_the_smallest_first() {
    let q = PriorityQueue::new(0);
    for v in [5, 1, 4, 2, 3] {
        q.put_nowait(v).unwrap();
    }
    let out: Vec<i32> = (0..5).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(out, [1, 2, 3, 4, 5]);
    let q = PriorityQueue::new(0);
    q.put_nowait((2, "low")).unwrap();
    q.put_nowait((0, "high")).unwrap();
    assert_eq!(q.get_nowait().unwrap(), (0, "high"));
}

#[test]
fn lifo_queue_gives_the_last_first() {
    let q = LifoQueue::new(3);
    for v in 1..=3 {
        q.put_nowait(v).unwrap();
    }
    assert!(q.full());
    let out: Vec<i32> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(out, [3, 2, 1]);
}

#[test]
fn join_waits_for_every_task_done() {
    let tl = TestLoop::new();
    let q = Queue::new(0);
    let joined = {
        let q = q.clone();
        tl.spawn(async move { q.join().await })
    };
    tl.run_until_idle();
    assert!(joined.done(), "nothing unfinished: join returns at once");
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    let joined = {
        let q = q.clone();
        tl.spawn(async move { q.join().await })
    };
    tl.run_until_idle();
    assert!(!joined.done());
    q.get_nowait().unwrap();
    q.task_done().unwrap();
    tl.run_until_idle();
    assert!(!joined.done(), "one item is not done yet");
    q.get_nowait().unwrap();
    q.task_done().unwrap();
    tl.run_until_idle();
    assert!(joined.result().is_ok());
    assert!(matches!(kind(q.task_done()), ErrorKind::Value(_)));
}

#[test]
fn shutdown_immediate_wakes_getters_putters_and_joiners() {
    let tl = TestLoop::new();
    let full = Queue::new(1);
    full.put_nowait(1).unwrap();
    let empty: Queue<u32> = Queue::new(0);
    let putter = {
        let q = full.clone();
        tl.spawn(async move { q.put(2).await })
    };
    let joiner = {
        let q = full.clone();
        tl.spawn(async move { q.join().await })
    };
    let getter = {
        let q = empty.clone();
        tl.spawn(async move { q.get().await })
    };
    tl.run_until_idle();
    assert!(!putter.done() && !joiner.done() && !getter.done());
    full.shutdown(true);
    empty.shutdown(true);
    tl.run_until_idle();
    assert_eq!(kind(putter.result()), ErrorKind::QueueShutDown);
    assert_eq!(kind(getter.result()), ErrorKind::QueueShutDown);
    assert!(joiner.result().is_ok(), "the dropped item counts as done");
    assert!(full.empty());
    assert!(matches!(full.put_nowait(3), Err(PutError::ShutDown(3))));
    assert_eq!(kind(full.get_nowait()), ErrorKind::QueueShutDown);
}

#[test]
fn shutdown_lets_getters_drain_the_items_left() {
    let tl = TestLoop::new();
    let q = Queue::new(0);
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    q.shutdown(false);
    let t = {
        let q = q.clone();
        tl.spawn(async move {
            let mut got = Vec::new();
            loop {
                match q.get().await {
                    Ok(v) => got.push(v),
                    Err(e) if e.kind() == &ErrorKind::QueueShutDown => return Ok(got),
                    Err(e) => return Err(e),
                }
            }
        })
    };
    tl.run_until_idle();
    assert_eq!(t.result().unwrap(), [1, 2]);
    let put = {
        let q = q.clone();
        tl.spawn(async move { q.put(3).await })
    };
    tl.run_until_idle();
    assert_eq!(kind(put.result()), ErrorKind::QueueShutDown);
}

#[test]
fn a_queue_is_a_stream_until_shutdown() {
    let tl = TestLoop::new();
    let q = Queue::new(2);
    let consumer = {
        let q = q.clone();
        tl.spawn(async move {
            let mut items = q.stream();
            let mut got = Vec::new();
            while let Some(v) = items.next().await {
                got.push(v?);
            }
            Ok(got)
        })
    };
    let producer = {
        let q = q.clone();
        tl.spawn(async move {
            for v in 0..5 {
                q.put(v).await?;
            }
            q.shutdown(false);
            Ok(())
        })
    };
    tl.run_until_idle();
    assert!(producer.done());
    assert_eq!(consumer.result().unwrap(), [0, 1, 2, 3, 4]);
}

#[test]
fn a_cancelled_stream_consumer_sees_cancelled_once() {
    let tl = TestLoop::new();
    let q: Queue<u8> = Queue::new(0);
    let t = {
        let q = q.clone();
        tl.spawn(async move {
            let mut s = q.stream();
            let first = s.next().await;
            assert!(first.unwrap().unwrap_err().is_cancelled());
            asyncio::current_task().unwrap().uncancel();
            s.next().await.unwrap()
        })
    };
    tl.run_until_idle();
    t.cancel();
    tl.run_until_idle();
    assert!(!t.done());
    q.put_nowait(9).unwrap();
    tl.run_until_idle();
    assert_eq!(t.result().unwrap(), 9);
}
