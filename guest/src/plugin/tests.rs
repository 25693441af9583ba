//! The plugin loop natively: a driver and export calls as separate
//! "component-model tasks" (each its own waker, polled only when woken), so
//! every wake-up between them crosses tasks as it does in a component.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::cancels::Cancels;
use super::{CancelReason, call_on};
use crate::runner::Runner;
use crate::runtime::LoopInner;
use crate::runtime::clock::Clock;
use crate::runtime::run::{Park, VirtualPark};
use crate::runtime::serve::ServeLoop;

#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// One fake component-model task.
struct CmTask {
    future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    flag: Arc<Flag>,
}

impl CmTask {
    fn new(future: impl Future<Output = ()> + 'static) -> CmTask {
        let flag = Arc::new(Flag::default());
        flag.0.store(true, Ordering::SeqCst);
        CmTask {
            future: Some(Box::pin(future)),
            flag,
        }
    }

    fn done(&self) -> bool {
        self.future.is_none()
    }

    /// Polls once if woken; true if it was.
    fn step(&mut self) -> bool {
        if self.future.is_none() || !self.flag.0.swap(false, Ordering::SeqCst) {
            return false;
        }
        let waker = Waker::from(self.flag.clone());
        let mut cx = Context::from_waker(&waker);
        if self
            .future
            .as_mut()
            .unwrap()
            .as_mut()
            .poll(&mut cx)
            .is_ready()
        {
            self.future = None;
        }
        true
    }
}

/// Polls woken tasks until none is woken (at most `rounds` rounds).
fn run(tasks: &mut [&mut CmTask], rounds: usize) {
    for _ in 0..rounds {
        let mut any = false;
        for t in tasks.iter_mut() {
            any |= t.step();
        }
        if !any {
            return;
        }
    }
    panic!("still busy after {rounds} rounds");
}

fn new_loop() -> Rc<LoopInner> {
    Runner::new()
        .debug(false)
        .make_loop(Clock::Virtual(Default::default()))
}

fn driver(lp: &Rc<LoopInner>, alive: &Rc<Cell<bool>>) -> CmTask {
    CmTask::new(ServeLoop::new(lp.clone(), VirtualPark, alive.clone()))
}

/// Time moves only when the test says ([`advance`]), as a host would.
struct HeldPark;

impl Park for HeldPark {
    fn park(&mut self, _: &LoopInner, _: Option<u64>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

fn held_driver(lp: &Rc<LoopInner>, alive: &Rc<Cell<bool>>) -> CmTask {
    CmTask::new(ServeLoop::new(lp.clone(), HeldPark, alive.clone()))
}

/// Moves the clock on and wakes the driver (the host's timer firing).
fn advance(lp: &LoopInner, driver: &CmTask, d: Duration) {
    lp.clock.advance_to(lp.clock.now() + d.as_nanos() as u64);
    driver.flag.0.store(true, Ordering::SeqCst);
}

/// An export call whose value lands in the returned cell.
fn call<R: 'static>(
    lp: &Rc<LoopInner>,
    name: &'static str,
    cancels: Option<(Rc<Cancels>, u32)>,
    body: impl Future<Output = R> + 'static,
) -> (CmTask, Rc<RefCell<Option<R>>>) {
    let out = Rc::new(RefCell::new(None));
    let slot = out.clone();
    let lp = lp.clone();
    let task = CmTask::new(async move {
        let value = call_on(&lp, name, cancels, body).await;
        *slot.borrow_mut() = Some(value);
    });
    (task, out)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_call_runs_as_a_task_named_after_its_export_and_returns_its_value() {
    let lp = new_loop();
    let alive = Rc::new(Cell::new(false));
    let mut d = driver(&lp, &alive);
    assert!(alive.get());
    let (mut c, out) = call(&lp, "api.greet", None, async {
        crate::sleep(ms(10)).await.unwrap();
        let name = crate::current_task().unwrap().get_name();
        format!("hello from {name}")
    });
    run(&mut [&mut c, &mut d], 100);
    assert!(c.done());
    assert_eq!(out.borrow().as_deref(), Some("hello from api.greet"));
    assert!(!d.done(), "the driver lives on");
    assert_eq!(lp.task_count(), 0);
}

#[test]
fn many_calls_in_flight_each_get_their_own_value() {
    let lp = new_loop();
    let alive = Rc::new(Cell::new(false));
    let mut d = driver(&lp, &alive);
    let mut calls: Vec<_> = (0..200u64)
        .map(|i| {
            call(&lp, "api.sleep", None, async move {
                crate::sleep(ms(200 - i)).await.unwrap();
                i * 2
            })
        })
        .collect();
    let mut tasks: Vec<&mut CmTask> = calls.iter_mut().map(|(t, _)| t).collect();
    tasks.push(&mut d);
    run(&mut tasks, 10_000);
    for (i, (t, out)) in calls.iter().enumerate() {
        assert!(t.done());
        assert_eq!(*out.borrow(), Some(i as u64 * 2));
    }
}

#[test]
fn a_task_started_by_a_call_outlives_it_and_later_calls_see_its_work() {
    let lp = new_loop();
    let alive = Rc::new(Cell::new(false));
    let mut d = driver(&lp, &alive);
    let ticks = Rc::new(Cell::new(0u32));
    let t2 = ticks.clone();
    let (mut c1, _) = call(&lp, "api.start-ticker", None, async move {
        crate::create_task(async move {
            for _ in 0..5 {
                crate::sleep(ms(10)).await?;
                t2.set(t2.get() + 1);
            }
            Ok(())
        });
    });
    run(&mut [&mut c1, &mut d], 1000);
    assert!(c1.done());
    assert_eq!(ticks.get(), 5, "the ticker ran on after its call returned");
    let t3 = ticks.clone();
    let (mut c2, out) = call(&lp, "api.ticks", None, async move { t3.get() });
    run(&mut [&mut c2, &mut d], 100);
    assert_eq!(*out.borrow(), Some(5));
}

#[test]
fn the_hosts_cancellation_reaches_the_body_whose_cleanup_may_await() {
    let lp = new_loop();
    let alive = Rc::new(Cell::new(false));
    let mut d = held_driver(&lp, &alive);
    let cancels = Rc::new(Cancels::default());
    let lp2 = lp.clone();
    let (mut c, out) = call(&lp, "api.sleep", Some((cancels.clone(), 7)), async move {
        match crate::sleep(Duration::from_secs(3600)).await {
            Err(e) if e.is_cancelled() => {
                let seen = e.to_string();
                let t0 = lp2.clock.now();
                crate::sleep(ms(20)).await.unwrap();
                format!(
                    "{seen}; cleanup took {} ms",
                    (lp2.clock.now() - t0) / 1_000_000
                )
            }
            other => format!("unexpected {other:?}"),
        }
    });
    run(&mut [&mut c, &mut d], 100);
    assert!(!c.done(), "sleeping");
    cancels.cancel(7, CancelReason::Timeout);
    run(&mut [&mut c, &mut d], 100);
    assert!(!c.done(), "the cleanup awaits its own sleep");
    advance(&lp, &d, ms(20));
    run(&mut [&mut c, &mut d], 100);
    assert!(c.done());
    let out = out.borrow().clone().unwrap();
    assert!(out.contains("the call timed out"), "{out}");
    assert!(out.ends_with("cleanup took 20 ms"), "{out}");
    assert_eq!(cancels.len(), 0, "the ended call is no longer registered");
}

#[test]
fn a_call_cancelled_before_its_body_ran_still_runs_it_and_returns_its_value() {
    let lp = new_loop();
    let alive = Rc::new(Cell::new(false));
    let mut d = driver(&lp, &alive);
    let cancels = Rc::new(Cancels::default());
    let (mut c, out) = call(&lp, "api.sleep", Some((cancels.clone(), 1)), async {
        match crate::sleep(ms(5)).await {
            Err(e) if e.is_cancelled() => "saw the cancellation",
            _ => "was not cancelled",
        }
    });
    // The call registers itself and hands its body to the loop; the host
    // gives up before the driver ran the body.
    assert!(c.step());
    cancels.cancel(1, CancelReason::Cancelled);
    run(&mut [&mut c, &mut d], 100);
    assert_eq!(*out.borrow(), Some("saw the cancellation"));
}

#[test]
fn a_cancellation_for_another_or_an_ended_call_changes_nothing() {
    let lp = new_loop();
    let alive = Rc::new(Cell::new(false));
    let mut d = driver(&lp, &alive);
    let cancels = Rc::new(Cancels::default());
    let body = || async {
        match crate::sleep(ms(5)).await {
            Err(e) if e.is_cancelled() => "cancelled",
            _ => "slept",
        }
    };
    let (mut c1, out1) = call(&lp, "api.sleep", Some((cancels.clone(), 1)), body());
    let (mut c2, out2) = call(&lp, "api.sleep", Some((cancels.clone(), 2)), body());
    assert!(c1.step() && c2.step());
    assert_eq!(cancels.len(), 2);
    cancels.cancel(2, CancelReason::Timeout);
    cancels.cancel(3, CancelReason::Timeout);
    run(&mut [&mut c1, &mut c2, &mut d], 100);
    assert_eq!(*out1.borrow(), Some("slept"));
    assert_eq!(*out2.borrow(), Some("cancelled"));
    assert_eq!(cancels.len(), 0);
    // Late: the host gave up as the call returned.
    cancels.cancel(1, CancelReason::Cancelled);
    assert_eq!(lp.task_count(), 0);
}

#[test]
fn dropping_a_call_cancels_its_task_and_forgets_the_callers_waker() {
    let lp = new_loop();
    let alive = Rc::new(Cell::new(false));
    let mut d = held_driver(&lp, &alive);
    let cleaned = Rc::new(Cell::new(false));
    let c2 = cleaned.clone();
    let (mut c, _) = call(&lp, "api.sleep", None, async move {
        if crate::sleep(Duration::from_secs(3600)).await.is_err() {
            crate::sleep(ms(1)).await.unwrap();
            c2.set(true);
        }
    });
    run(&mut [&mut c, &mut d], 100);
    let task = lp.all_tasks().pop().expect("the call's task");
    assert_eq!(task.header().waiters.borrow().len(), 1);
    drop(c);
    assert!(
        task.header().waiters.borrow().is_empty(),
        "the dropped call's waker must never be woken"
    );
    run(&mut [&mut d], 100);
    advance(&lp, &d, ms(1));
    run(&mut [&mut d], 100);
    assert!(cleaned.get(), "the cleanup ran on the driver");
    assert!(task.header().done());
}

#[test]
fn a_lost_driver_is_replaced_and_the_next_one_runs_every_task() {
    let lp = new_loop();
    let alive = Rc::new(Cell::new(false));
    let mut d = held_driver(&lp, &alive);
    let ev = crate::Event::new();
    let ev2 = ev.clone();
    let (mut c, out) = call(&lp, "api.wait", None, async move {
        ev2.wait().await.unwrap();
        8
    });
    run(&mut [&mut c, &mut d], 100);
    assert!(!c.done());
    drop(d);
    assert!(!alive.get(), "dropping the driver clears `alive`");
    let mut d2 = held_driver(&lp, &alive);
    assert!(alive.get());
    {
        let _enter = crate::runtime::enter(&lp);
        ev.set();
    }
    run(&mut [&mut c, &mut d2], 100);
    assert!(c.done());
    assert_eq!(*out.borrow(), Some(8));
}

#[test]
fn the_control_export_reports_on_the_instance_loop() {
    use crate::__private::Control;
    use crate::control_bindings::exports::aio::host::control::Guest;

    let instance = super::instance::get(None);
    let (parent, child) = {
        let _enter = crate::runtime::enter(instance.lp());
        let child = crate::create_named_task("child", std::future::pending::<crate::Result<()>>());
        let c = child.task_ref();
        let parent = crate::create_named_task("parent", async move {
            let _ = child.await;
            Ok(())
        });
        (parent, c)
    };
    // Run both first steps (natively there is no driver task).
    {
        let _enter = crate::runtime::enter(instance.lp());
        instance.lp().run_once(0);
    }
    let table: Vec<_> = Control::task_table()
        .into_iter()
        .map(|t| (t.id, t.name, t.state, t.awaiting, t.awaited_by))
        .collect();
    let s = String::from;
    assert_eq!(
        table,
        [
            (
                child.id(),
                s("child"),
                s("pending"),
                s("not started"),
                vec![parent.id()]
            ),
            (
                parent.id(),
                s("parent"),
                s("pending"),
                format!("awaiting task #{}", child.id()),
                vec![]
            ),
        ]
    );
    assert_eq!(
        Control::task_dump(),
        format!(
            "2 pending task(s)\n  #1 'child': not started, awaited by #2\n  #2 'parent': awaiting task #1\n\
             task tree:\n  └── (T) parent\n      └── (T) child\n"
        )
    );
    assert!(crate::runtime::try_current_loop().is_none());
}
