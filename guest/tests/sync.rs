//! Synchronization primitives, natively, step by step on a virtual clock:
//! FIFO fairness, cancellation and drop at every stage, and the debug-mode
//! reports.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncio::sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, Semaphore};
use asyncio::testing::TestLoop;
use asyncio::{ErrorKind, Runner, yield_now};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

/// Polls a future once from test code (no task: no cancellation).
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

// ---- Lock ----

#[test]
fn lock_is_granted_in_fifo_order() {
    let tl = TestLoop::new();
    let lock = Lock::new();
    let l = log();
    let first = lock.try_acquire().expect("free");
    for name in ["a", "b", "c"] {
        let (lock, l) = (lock.clone(), l.clone());
        tl.spawn(async move {
            let _g = lock.acquire().await?;
            push(&l, name);
            yield_now().await?;
            push(&l, format!("{name} done"));
            Ok(())
        });
    }
    tl.run_until_idle();
    assert!(l.borrow().is_empty());
    assert!(tl.enter(asyncio::task_dump).contains("awaiting a Lock"));
    drop(first);
    tl.run_until_idle();
    assert_eq!(*l.borrow(), ["a", "a done", "b", "b done", "c", "c done"]);
    assert!(!lock.locked());
}

#[test]
fn a_release_hands_the_lock_over_so_newcomers_queue() {
    let lock = Lock::new();
    let held = lock.try_acquire().unwrap();
    let mut waiter = lock.acquire();
    assert!(poll_once(&mut waiter).is_pending());
    drop(held);
    // Handed to the waiter: still locked, a newcomer cannot barge in.
    assert!(lock.locked());
    assert!(lock.try_acquire().is_none());
    let guard = match poll_once(&mut waiter) {
        Poll::Ready(Ok(g)) => g,
        other => panic!("not granted: {:?}", other.map(|r| r.map(|_| ()))),
    };
    drop(guard);
    assert!(!lock.locked());
}

#[test]
fn a_cancelled_lock_waiter_does_not_take_the_lock() {
    let tl = TestLoop::new();
    let lock = Lock::new();
    let l = log();
    let held = lock.try_acquire().unwrap();
    let spawn = |name: &'static str| {
        let (lock, l) = (lock.clone(), l.clone());
        tl.spawn(async move {
            let _g = lock.acquire().await?;
            push(&l, name);
            Ok(())
        })
    };
    let a = spawn("a");
    let b = spawn("b");
    tl.run_until_idle();
    a.cancel();
    tl.run_until_idle();
    assert!(a.cancelled());
    drop(held);
    tl.run_until_idle();
    assert_eq!(*l.borrow(), ["b"]);
    assert!(b.done() && !lock.locked());
}

#[test]
fn a_lock_handed_to_a_cancelled_waiter_is_passed_on() {
    let tl = TestLoop::new();
    let lock = Lock::new();
    let l = log();
    let held = lock.try_acquire().unwrap();
    let spawn = |name: &'static str| {
        let (lock, l) = (lock.clone(), l.clone());
        tl.spawn(async move {
            let _g = lock.acquire().await?;
            push(&l, name);
            Ok(())
        })
    };
    let a = spawn("a");
    let b = spawn("b");
    tl.run_until_idle();
    // The release hands the lock to `a`; `a` is cancelled before it runs.
    drop(held);
    a.cancel();
    tl.run_until_idle();
    assert!(a.cancelled());
    assert_eq!(*l.borrow(), ["b"]);
    assert!(b.done() && !lock.locked());
}

#[test]
fn dropping_a_granted_acquire_passes_the_lock_on() {
    let lock = Lock::new();
    let held = lock.try_acquire().unwrap();
    let mut a = lock.acquire();
    let mut b = lock.acquire();
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    drop(held); // handed to `a`
    drop(a); // ... which is dropped: `b` gets it
    assert!(matches!(poll_once(&mut b), Poll::Ready(Ok(_))));
    assert!(!lock.locked(), "the guard was dropped with the poll result");
    // Dropping a queued (not granted) acquire changes nothing.
    let held = lock.try_acquire().unwrap();
    let mut c = lock.acquire();
    assert!(poll_once(&mut c).is_pending());
    drop(c);
    drop(held);
    assert!(!lock.locked());
}

// ---- Semaphore ----

#[test]
fn semaphore_permit_is_not_leaked_when_a_granted_waiter_is_cancelled() {
    let tl = TestLoop::new();
    let sem = Semaphore::new(1);
    let l = log();
    let permit = sem.try_acquire().unwrap();
    let spawn = |name: &'static str| {
        let (sem, l) = (sem.clone(), l.clone());
        tl.spawn(async move {
            let _p = sem.acquire().await?;
            push(&l, name);
            Ok(())
        })
    };
    let a = spawn("a");
    let b = spawn("b");
    tl.run_until_idle();
    assert!(sem.locked());
    drop(permit); // granted to `a`
    assert_eq!(sem.value(), 0);
    a.cancel();
    tl.run_until_idle();
    assert!(a.cancelled() && b.done());
    assert_eq!(*l.borrow(), ["b"]);
    assert_eq!(sem.value(), 1, "the permit came back");
}

#[test]
fn semaphore_serves_waiters_in_order_and_counts() {
    let tl = TestLoop::new();
    let sem = Semaphore::new(2);
    let l = log();
    for i in 0..5 {
        let (sem, l) = (sem.clone(), l.clone());
        tl.spawn(async move {
            let _p = sem.acquire().await?;
            push(&l, format!("in {i}"));
            asyncio::sleep(Duration::from_millis(10)).await?;
            Ok(())
        });
    }
    tl.run_until_idle();
    assert_eq!(*l.borrow(), ["in 0", "in 1"]);
    tl.advance(Duration::from_millis(10));
    assert_eq!(*l.borrow(), ["in 0", "in 1", "in 2", "in 3"]);
    tl.advance(Duration::from_millis(20));
    assert_eq!(l.borrow().len(), 5);
    assert_eq!(sem.value(), 2);
}

/// asyncio's explicit `release()` forms: a permit's `release` hands it to
/// the first waiter (or back to the counter), `forget` + `Semaphore::release`
/// is the manual pair, and a lock guard's `release` unlocks.
#[test]
fn explicit_releases_give_the_permit_or_the_lock_back() {
    let sem = BoundedSemaphore::new(1);
    let permit = sem.try_acquire().unwrap();
    let mut waiter = sem.acquire();
    assert!(poll_once(&mut waiter).is_pending());
    permit.release();
    assert_eq!(sem.value(), 0, "handed to the waiter, not to the counter");
    let Poll::Ready(Ok(permit)) = poll_once(&mut waiter) else {
        panic!("the waiter did not get the released permit");
    };
    drop(waiter);
    permit.forget();
    assert_eq!(sem.value(), 0);
    sem.release().unwrap();
    assert_eq!(sem.value(), 1);
    sem.try_acquire().unwrap().release();
    assert_eq!(sem.value(), 1, "a permit's release never exceeds the bound");

    let lock = Lock::new();
    lock.try_acquire().unwrap().release();
    assert!(!lock.locked());
}

#[test]
fn bounded_semaphore_refuses_a_release_above_its_initial_value() {
    let sem = BoundedSemaphore::new(2);
    let p = sem.try_acquire().unwrap();
    p.forget();
    assert_eq!(sem.value(), 1);
    sem.release().unwrap();
    let e = sem.release().unwrap_err();
    // asyncio's ValueError, a kind of its own a caller can match.
    assert_eq!(
        e.kind(),
        &ErrorKind::Value("BoundedSemaphore released too many times".into())
    );
    assert_eq!(sem.value(), 2);
    // A plain Semaphore may go above its initial value, as in asyncio.
    let plain = Semaphore::new(1);
    plain.release().unwrap();
    assert_eq!(plain.value(), 2);
}

// ---- Event ----

#[test]
fn event_set_wakes_every_waiter_and_clear_blocks_again() {
    let tl = TestLoop::new();
    let ev = Event::new();
    let l = log();
    for i in 0..3 {
        let (ev, l) = (ev.clone(), l.clone());
        tl.spawn(async move {
            ev.wait().await?;
            push(&l, format!("woke {i}"));
            Ok(())
        });
    }
    tl.run_until_idle();
    assert!(l.borrow().is_empty());
    ev.set();
    ev.clear(); // already woken waiters still return, as in asyncio
    tl.run_until_idle();
    assert_eq!(*l.borrow(), ["woke 0", "woke 1", "woke 2"]);
    let late = {
        let ev = ev.clone();
        tl.spawn(async move { ev.wait().await })
    };
    tl.run_until_idle();
    assert!(!late.done(), "cleared: wait blocks");
    ev.set();
    tl.run_until_idle();
    assert!(late.result().is_ok());
    // Set: wait returns at once.
    let mut w = ev.wait();
    assert!(matches!(poll_once(&mut w), Poll::Ready(Ok(()))));
}

#[test]
fn a_cancelled_event_waiter_returns_cancelled() {
    let tl = TestLoop::new();
    let ev = Event::new();
    let t = {
        let ev = ev.clone();
        tl.spawn(async move { ev.wait().await })
    };
    tl.run_until_idle();
    t.cancel();
    tl.run_until_idle();
    assert!(t.cancelled());
    ev.set();
    tl.run_until_idle();
}

// ---- Condition ----

#[test]
fn condition_notify_one_wakes_exactly_one_in_order() {
    let tl = TestLoop::new();
    let cond = Condition::new();
    let l = log();
    for i in 0..3 {
        let (cond, l) = (cond.clone(), l.clone());
        tl.spawn(async move {
            let mut g = cond.acquire().await?;
            cond.wait(&mut g).await?;
            assert!(g.is_held() && cond.locked());
            push(&l, format!("woke {i}"));
            Ok(())
        });
    }
    tl.run_until_idle();
    assert!(!cond.locked(), "waiting releases the lock");
    assert!(cond.notify(1).is_err(), "notify needs the lock");
    let notifier = |n: usize| {
        let cond = cond.clone();
        tl.spawn(async move {
            let _g = cond.acquire().await?;
            cond.notify(n)
        })
    };
    notifier(1);
    tl.run_until_idle();
    assert_eq!(*l.borrow(), ["woke 0"]);
    notifier(usize::MAX);
    tl.run_until_idle();
    assert_eq!(*l.borrow(), ["woke 0", "woke 1", "woke 2"]);
    assert!(!cond.locked());
}

#[test]
fn condition_wait_for_rechecks_the_predicate() {
    let tl = TestLoop::new();
    let cond = Condition::new();
    let value = Rc::new(RefCell::new(0));
    let checks = Rc::new(RefCell::new(0));
    let t = {
        let (cond, value, checks) = (cond.clone(), value.clone(), checks.clone());
        tl.spawn(async move {
            let mut g = cond.acquire().await?;
            cond.wait_for(&mut g, || {
                *checks.borrow_mut() += 1;
                *value.borrow() >= 2
            })
            .await?;
            Ok(*value.borrow())
        })
    };
    for _ in 0..2 {
        tl.run_until_idle();
        assert!(!t.done());
        let (cond, value) = (cond.clone(), value.clone());
        tl.spawn(async move {
            let _g = cond.acquire().await?;
            *value.borrow_mut() += 1;
            cond.notify_all()
        });
    }
    tl.run_until_idle();
    assert_eq!(t.result().unwrap(), 2);
    assert_eq!(
        *checks.borrow(),
        3,
        "checked at start and after each notify"
    );
}

#[test]
fn a_cancelled_condition_wait_takes_the_lock_back_and_passes_the_notification_on() {
    let tl = TestLoop::new();
    let cond = Condition::new();
    let l = log();
    let spawn = |name: &'static str| {
        let (cond, l) = (cond.clone(), l.clone());
        tl.spawn(async move {
            let mut g = cond.acquire().await?;
            let r = cond.wait(&mut g).await;
            // Whatever happened, the lock is held again.
            assert!(g.is_held() && cond.locked());
            push(
                &l,
                format!("{name}: {}", if r.is_ok() { "ok" } else { "cancelled" }),
            );
            r
        })
    };
    let a = spawn("a");
    let _b = spawn("b");
    tl.run_until_idle();
    // Notify one (`a`), and cancel `a` before it runs while someone holds
    // the lock: it must wait for the lock, then pass the wake-up to `b`.
    let holder = cond.lock().try_acquire().unwrap();
    cond.notify(1).unwrap();
    a.cancel();
    tl.run_until_idle();
    assert!(l.borrow().is_empty(), "the lock is held: nobody returned");
    drop(holder);
    tl.run_until_idle();
    assert_eq!(*l.borrow(), ["a: cancelled", "b: ok"]);
    assert!(a.cancelled());
    assert!(!cond.locked());
}

#[test]
fn dropping_a_condition_wait_leaves_the_guard_empty() {
    let cond = Condition::new();
    let mut g = cond.lock().try_acquire().unwrap();
    {
        let mut w = cond.wait(&mut g);
        assert!(poll_once(&mut w).is_pending());
        assert!(!cond.locked());
    }
    assert!(!g.is_held());
    let other = cond.lock().try_acquire().unwrap();
    drop(g); // releases nothing: `other` still holds the lock
    assert!(cond.locked());
    drop(other);
    assert!(!cond.locked());
}

// ---- Barrier ----

#[test]
fn barrier_releases_all_parties_with_their_arrival_index() {
    let tl = TestLoop::new();
    let barrier = Barrier::new(3);
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let b = barrier.clone();
        tasks.push(tl.spawn(async move { b.wait().await }));
        tl.run_until_idle();
    }
    let mut idx: Vec<usize> = tasks.iter().map(|t| t.result().unwrap()).collect();
    idx.sort();
    assert_eq!(idx, [0, 1, 2]);
    assert_eq!(barrier.n_waiting(), 0);
    // Reusable: a second round.
    let b = barrier.clone();
    let t = tl.spawn(async move { b.wait().await });
    tl.run_until_idle();
    assert!(!t.done());
    assert_eq!(barrier.n_waiting(), 1);
    for _ in 0..2 {
        let b = barrier.clone();
        tl.spawn(async move { b.wait().await });
    }
    tl.run_until_idle();
    assert_eq!(t.result().unwrap(), 0);
}

#[test]
fn barrier_abort_and_reset_break_the_waiters() {
    let tl = TestLoop::new();
    let barrier = Barrier::new(3);
    let spawn = || {
        let b = barrier.clone();
        tl.spawn(async move { b.wait().await })
    };
    let a = spawn();
    tl.run_until_idle();
    barrier.abort();
    tl.run_until_idle();
    assert_eq!(a.result().unwrap_err().kind(), &ErrorKind::BrokenBarrier);
    assert!(barrier.broken());
    let late = spawn();
    tl.run_until_idle();
    assert_eq!(late.result().unwrap_err().kind(), &ErrorKind::BrokenBarrier);
    barrier.reset();
    assert!(!barrier.broken());
    let c = spawn();
    tl.run_until_idle();
    barrier.reset(); // while `c` waits: it gets BrokenBarrier
    tl.run_until_idle();
    assert_eq!(c.result().unwrap_err().kind(), &ErrorKind::BrokenBarrier);
    // And the barrier works again.
    let ts: Vec<_> = (0..3).map(|_| spawn()).collect();
    tl.run_until_idle();
    assert!(ts.iter().all(|t| t.result().is_ok()));
}

#[test]
fn a_cancelled_barrier_waiter_no_longer_counts() {
    let tl = TestLoop::new();
    let barrier = Barrier::new(2);
    let spawn = || {
        let b = barrier.clone();
        tl.spawn(async move { b.wait().await })
    };
    let a = spawn();
    tl.run_until_idle();
    assert_eq!(barrier.n_waiting(), 1);
    a.cancel();
    tl.run_until_idle();
    assert!(a.cancelled());
    assert_eq!(barrier.n_waiting(), 0);
    let b = spawn();
    tl.run_until_idle();
    assert!(!b.done(), "b is alone: the cancelled one did not count");
    let c = spawn();
    tl.run_until_idle();
    assert_eq!(b.result().unwrap(), 0);
    assert_eq!(c.result().unwrap(), 1);
}

// ---- debug mode ----

fn capture_reports(tl: &TestLoop) -> Log {
    let reports = log();
    let r = reports.clone();
    tl.handle().set_exception_handler(Some(
        move |_: &asyncio::Loop, ctx: &asyncio::ExceptionContext| {
            let task = ctx.task.as_ref().map(|t| t.get_name()).unwrap_or_default();
            push(&r, format!("{} [{task}]", ctx.message));
        },
    ));
    reports
}

#[test]
fn debug_mode_reports_a_never_awaited_future_with_its_task() {
    let tl = TestLoop::with_runner(&Runner::new().debug(true));
    let reports = capture_reports(&tl);
    let lock = Lock::new();
    let t = tl.spawn(async move {
        drop(lock.acquire()); // built, never polled
        drop(asyncio::sleep(Duration::from_secs(1)));
        let _g = lock.acquire().await?; // awaited: no report
        Ok(())
    });
    t.set_name("worker");
    tl.run_until_idle();
    assert_eq!(
        *reports.borrow(),
        [
            "Lock.acquire() was never awaited [worker]",
            "sleep() was never awaited [worker]"
        ]
    );
    // Not in debug mode: nothing.
    let quiet = TestLoop::new();
    let reports = capture_reports(&quiet);
    quiet.spawn(async {
        drop(Event::new().wait());
        Ok(())
    });
    quiet.run_until_idle();
    assert!(reports.borrow().is_empty());
}

#[test]
fn a_never_retrieved_task_error_is_reported_with_the_task_name() {
    let tl = TestLoop::with_runner(&Runner::new().debug(true));
    let reports = capture_reports(&tl);
    let t = tl.spawn(async { Err::<(), _>(asyncio::Error::msg("boom")) });
    t.set_name("doomed");
    tl.run_until_idle();
    assert!(
        reports.borrow().is_empty(),
        "reported when dropped, not before"
    );
    drop(t);
    assert_eq!(reports.borrow().len(), 1);
    assert!(
        reports.borrow()[0].contains("Task exception was never retrieved (task 'doomed')"),
        "{:?}",
        reports.borrow()
    );
}
