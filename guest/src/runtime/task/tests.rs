//! Task wakers: recycled through the loop only when nobody else holds one,
//! so a stale waker never wakes the task that came after.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use super::*;
use crate::runtime::clock::Clock;
use crate::runtime::{LoopInner, enter};

fn new_loop() -> Rc<LoopInner> {
    LoopInner::new(Clock::Virtual(Cell::new(0)))
}

fn state_ptr(h: &Header) -> *const TaskWaker {
    Arc::as_ptr(h.wake_state.as_ref().expect("a live header has its waker"))
}

fn run(lp: &Rc<LoopInner>) {
    while lp.run_once(0) > 0 {}
}

#[test]
fn task_wakers_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TaskWaker>();
    send_sync::<Waker>();
}

#[test]
fn a_finished_task_gives_its_waker_to_the_next() {
    let lp = new_loop();
    let _enter = enter(&lp);
    let first = lp.spawn(async { Ok(1) }, None, false);
    let ptr = state_ptr(first.header());
    run(&lp);
    assert!(first.header().done());
    drop(first);
    assert_eq!(lp.spare_wakers.borrow().len(), 1, "recycled");
    let second = lp.spawn(async { Ok(2) }, None, false);
    assert_eq!(state_ptr(second.header()), ptr, "the same allocation");
    assert!(lp.spare_wakers.borrow().is_empty());
    run(&lp);
    assert_eq!(
        second.take_value(),
        Some(2),
        "the reused waker scheduled it"
    );
}

#[test]
fn a_waker_kept_after_its_task_ended_is_not_reused_and_wakes_nobody() {
    let lp = new_loop();
    let _enter = enter(&lp);
    let kept: Rc<RefCell<Option<Waker>>> = Rc::default();
    let k = kept.clone();
    let first = lp.spawn(
        poll_fn(move |cx| {
            *k.borrow_mut() = Some(cx.waker().clone());
            Poll::Ready(Ok(()))
        }),
        None,
        false,
    );
    let old_ptr = state_ptr(first.header());
    let old_key = first.header().key.get().expect("spawned");
    run(&lp);
    drop(first);
    assert!(lp.spare_wakers.borrow().is_empty(), "a clone lives on");

    // The next task takes the finished one's slab slot (a new generation)
    // and never wants to run again after its first step.
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    let second = lp.spawn(
        poll_fn(move |_| {
            p.set(p.get() + 1);
            Poll::<crate::Result<()>>::Pending
        }),
        None,
        false,
    );
    let new_key = second.header().key.get().expect("spawned");
    assert_eq!(new_key.parts().0, old_key.parts().0, "slot reused");
    assert_ne!(new_key, old_key, "generation differs");
    assert_ne!(state_ptr(second.header()), old_ptr);
    run(&lp);
    assert_eq!(polls.get(), 1);

    // The stale waker, from this thread and from another one.
    let stale = kept.borrow_mut().take().expect("kept");
    stale.wake_by_ref();
    run(&lp);
    std::thread::spawn(move || stale.wake())
        .join()
        .expect("woken");
    run(&lp);
    assert_eq!(polls.get(), 1, "the stale waker woke the new task");
    assert!(!second.header().done());
}

#[test]
fn a_waker_woken_from_another_thread_schedules_its_task() {
    let lp = new_loop();
    let _enter = enter(&lp);
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    let task = lp.spawn(
        poll_fn(move |cx| {
            p.set(p.get() + 1);
            if p.get() == 1 {
                let w = cx.waker().clone();
                std::thread::spawn(move || w.wake()).join().expect("woken");
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        }),
        None,
        false,
    );
    run(&lp);
    assert_eq!(polls.get(), 2);
    assert!(task.header().done());
    drop(task);
    // The thread's clone was dropped there: the waker is unique again.
    assert_eq!(lp.spare_wakers.borrow().len(), 1);
}

#[test]
fn spare_wakers_are_bounded_and_dropped_at_close() {
    let lp = new_loop();
    let _enter = enter(&lp);
    let tasks: Vec<_> = (0..3000)
        .map(|i| lp.spawn(async move { Ok(i) }, None, false))
        .collect();
    run(&lp);
    drop(tasks);
    assert_eq!(lp.spare_wakers.borrow().len(), super::super::SPARE_WAKERS);
    // A steady state of spawning and finishing allocates no waker.
    for i in 0..100 {
        let t = lp.spawn(async move { Ok(i) }, None, false);
        run(&lp);
        assert_eq!(t.take_value(), Some(i));
    }
    assert_eq!(lp.spare_wakers.borrow().len(), super::super::SPARE_WAKERS);
    lp.close();
    assert!(lp.spare_wakers.borrow().is_empty());
}
