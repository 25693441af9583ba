//! The loop and the task API, natively, step by step, on virtual time.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use asyncio::testing::{TestLoop, run_virtual};
use asyncio::{
    Error, ErrorKind, ReturnWhen, Runner, TaskGroup, Timeout, create_task, gather, gather_all,
    sleep, timeout, wait, wait_for, yield_now,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

#[test]
fn tasks_run_in_fifo_order_one_step_per_turn() {
    let tl = TestLoop::new();
    let l = log();
    for name in ["a", "b", "c"] {
        let l = l.clone();
        tl.spawn(async move {
            push(&l, format!("{name}1"));
            yield_now().await?;
            push(&l, format!("{name}2"));
            Ok(())
        });
    }
    assert_eq!(tl.run_once(), 3);
    assert_eq!(*l.borrow(), ["a1", "b1", "c1"]);
    tl.run_once();
    assert_eq!(*l.borrow(), ["a1", "b1", "c1", "a2", "b2", "c2"]);
    assert_eq!(tl.pending_tasks(), 0);
}

#[test]
fn sleep_wakes_exactly_at_its_deadline() {
    let tl = TestLoop::new();
    let start = tl.now();
    let t = tl.spawn(async {
        sleep(ms(100)).await?;
        Ok(asyncio::Instant::now())
    });
    tl.run_until_idle();
    assert!(!t.done());
    assert_eq!(tl.next_deadline().unwrap(), tl.now() + ms(100));
    tl.advance(ms(99));
    assert!(!t.done());
    tl.advance(ms(1));
    assert!(t.done());
    assert_eq!(t.result().unwrap() - start, ms(100));
}

#[test]
fn same_deadline_timers_fire_in_scheduling_order() {
    let tl = TestLoop::new();
    let l = log();
    for i in 0..5 {
        let l = l.clone();
        tl.spawn(async move {
            sleep(ms(10)).await?;
            push(&l, i.to_string());
            Ok(())
        });
    }
    tl.advance(ms(10));
    assert_eq!(*l.borrow(), ["0", "1", "2", "3", "4"]);
}

#[test]
fn cancel_delivers_cancelled_once_and_cleanup_may_await() {
    let tl = TestLoop::new();
    let l = log();
    let l2 = l.clone();
    let t = tl.spawn(async move {
        match sleep(Duration::from_secs(10)).await {
            Err(e) if e.is_cancelled() => {
                push(&l2, format!("cancelled: {:?}", e.cancel_message()));
                // The request was delivered once: cleanup can await.
                sleep(ms(5)).await?;
                push(&l2, "cleaned up");
                Err(e)
            }
            other => other.map(|_| ()),
        }
    });
    tl.run_until_idle();
    assert!(t.cancel_with("stop"));
    assert_eq!(t.cancelling(), 1);
    tl.run_until_idle();
    assert_eq!(*l.borrow(), ["cancelled: Some(\"stop\")"]);
    assert!(!t.done());
    tl.advance(ms(5));
    assert_eq!(*l.borrow(), ["cancelled: Some(\"stop\")", "cleaned up"]);
    assert!(t.cancelled());
    let e = t.take_result().unwrap_err();
    assert_eq!(e.cancel_message(), Some("stop"));
    assert!(!t.cancel(), "cancel of a done task is false");
}

#[test]
fn a_task_cancelled_before_it_starts_never_runs() {
    let tl = TestLoop::new();
    let ran = Rc::new(std::cell::Cell::new(false));
    let r = ran.clone();
    let t = tl.spawn(async move {
        r.set(true);
        Ok(())
    });
    t.cancel();
    tl.run_until_idle();
    assert!(t.cancelled());
    assert!(!ran.get());
}

#[test]
fn swallowing_cancellation_with_uncancel_keeps_running() {
    let tl = TestLoop::new();
    let t = tl.spawn(async {
        let me = asyncio::current_task().unwrap();
        if sleep(Duration::from_secs(1)).await.is_err() {
            assert_eq!(me.cancelling(), 1);
            assert_eq!(me.uncancel(), 0);
        }
        sleep(ms(10)).await?;
        Ok(7)
    });
    tl.run_until_idle();
    t.cancel();
    tl.advance(ms(20));
    assert_eq!(t.result().unwrap(), 7);
    assert_eq!(t.cancelling(), 0);
}

#[test]
fn a_task_finishing_with_an_undelivered_cancel_ends_cancelled() {
    let tl = TestLoop::new();
    let t = tl.spawn(async {
        asyncio::current_task().unwrap().cancel();
        Ok(1) // never awaited anything after the request
    });
    tl.run_until_idle();
    assert!(t.cancelled());
}

#[test]
fn gather_keeps_argument_order() {
    let r = run_virtual(Runner::new(), async {
        gather([30u64, 10, 20].map(|d| async move {
            sleep(ms(d)).await?;
            Ok(d)
        }))
        .await
    });
    assert_eq!(r.unwrap(), vec![30, 10, 20]);
}

#[test]
fn gather_returns_the_first_error_while_the_others_keep_running() {
    let finished = Rc::new(std::cell::Cell::new(false));
    let f = finished.clone();
    let r = run_virtual(Runner::new(), async move {
        let t0 = asyncio::Instant::now();
        let r = gather(vec![
            Box::pin(async {
                sleep(ms(10)).await?;
                Err::<u32, _>(Error::msg("boom"))
            })
                as std::pin::Pin<Box<dyn std::future::Future<Output = asyncio::Result<u32>>>>,
            Box::pin(async move {
                sleep(ms(50)).await?;
                f.set(true);
                Ok(2)
            }),
        ])
        .await;
        assert_eq!(t0.elapsed(), ms(10), "the error came first");
        assert_eq!(r.unwrap_err().to_string(), "boom");
        sleep(ms(100)).await?;
        Ok(())
    });
    r.unwrap();
    assert!(finished.get(), "the other child was not cancelled");
}

#[test]
fn cancelling_the_gatherer_cancels_the_children() {
    let tl = TestLoop::new();
    let l = log();
    let l2 = l.clone();
    let outer = tl.spawn(async move {
        gather((0..3).map(|i| {
            let l = l2.clone();
            async move {
                if let Err(e) = sleep(Duration::from_secs(5)).await {
                    push(&l, format!("child {i} cancelled"));
                    return Err(e);
                }
                Ok(i)
            }
        }))
        .await
    });
    tl.run_until_idle();
    outer.cancel();
    tl.run_until_idle();
    assert_eq!(l.borrow().len(), 3);
    assert!(outer.cancelled());
}

#[test]
fn gather_all_gives_every_result() {
    let r = run_virtual(Runner::new(), async {
        let rs = gather_all((0..4).map(|i| async move {
            sleep(ms(i)).await?;
            if i % 2 == 1 {
                Err(Error::msg(format!("odd {i}")))
            } else {
                Ok(i)
            }
        }))
        .await?;
        Ok(rs
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect::<Vec<_>>())
    })
    .unwrap();
    assert_eq!(
        r,
        vec![Ok(0), Err("odd 1".into()), Ok(2), Err("odd 3".into())]
    );
}

#[test]
fn gather_macro_mixes_types() {
    let r = run_virtual(Runner::new(), async {
        asyncio::gather!(
            async {
                sleep(ms(5)).await?;
                Ok(1u8)
            },
            async { Ok("two") },
            async { Ok(vec![3]) }
        )
        .await
    });
    assert_eq!(r.unwrap(), (1u8, "two", vec![3]));
}

#[test]
fn wait_for_cancels_the_inner_and_waits_for_its_cleanup() {
    let l = log();
    let l2 = l.clone();
    let r = run_virtual(Runner::new(), async move {
        let t0 = asyncio::Instant::now();
        let r = wait_for(ms(10), async move {
            if let Err(e) = sleep(Duration::from_secs(5)).await {
                push(&l2, "inner cancelled");
                sleep(ms(3)).await?; // cleanup that awaits
                push(&l2, "inner cleanup done");
                return Err(e);
            }
            Ok(())
        })
        .await;
        assert!(r.unwrap_err().is_timeout());
        Ok(t0.elapsed())
    });
    assert_eq!(r.unwrap(), ms(13));
    assert_eq!(*l.borrow(), ["inner cancelled", "inner cleanup done"]);
}

#[test]
fn wait_for_passes_the_value_through_in_time() {
    let r = run_virtual(Runner::new(), async {
        wait_for(ms(10), async {
            sleep(ms(5)).await?;
            Ok(5)
        })
        .await
    });
    assert_eq!(r.unwrap(), 5);
}

#[test]
fn nested_timeouts_each_catch_only_their_own() {
    let r = run_virtual(Runner::new(), async {
        // Inner expires first: the inner gives Timeout, the outer carries on.
        let inner_first = timeout(ms(50), async {
            let r = timeout(ms(10), sleep(Duration::from_secs(1))).await;
            assert!(r.unwrap_err().is_timeout());
            sleep(ms(5)).await?;
            Ok("outer finished")
        })
        .await?;
        // Outer expires first: the inner sees a cancellation, not a timeout.
        let outer_first = timeout(ms(10), async {
            let r = timeout(ms(50), sleep(Duration::from_secs(1))).await;
            let e = r.unwrap_err();
            assert!(
                e.is_cancelled(),
                "inner must not turn the outer's cancel into Timeout"
            );
            Err::<(), _>(e)
        })
        .await;
        assert!(outer_first.unwrap_err().is_timeout());
        assert_eq!(asyncio::current_task().unwrap().cancelling(), 0);
        Ok(inner_first)
    });
    assert_eq!(r.unwrap(), "outer finished");
}

#[test]
fn timeout_reschedule_moves_the_deadline() {
    let r = run_virtual(Runner::new(), async {
        let cm = Timeout::after(ms(10));
        let handle = cm.clone();
        assert!(handle.reschedule(None).is_err(), "not entered yet");
        let t0 = asyncio::Instant::now();
        let r = cm
            .run(async move {
                handle.reschedule(Some(asyncio::Instant::now() + ms(100)))?;
                sleep(ms(50)).await?;
                handle.reschedule(Some(asyncio::Instant::now() + ms(5)))?;
                sleep(ms(50)).await?;
                Ok(())
            })
            .await;
        assert!(r.unwrap_err().is_timeout());
        Ok(t0.elapsed())
    });
    assert_eq!(r.unwrap(), ms(55));
}

#[test]
fn task_group_failure_cancels_siblings_and_reports_only_real_failures() {
    let l = log();
    let l2 = l.clone();
    let r: asyncio::Result<()> = run_virtual(Runner::new(), async move {
        TaskGroup::run(|tg| async move {
            let l = l2.clone();
            tg.create_task(async move {
                if let Err(e) = sleep(Duration::from_secs(5)).await {
                    push(&l, "sibling cancelled");
                    return Err(e);
                }
                Ok(())
            })?;
            tg.create_task(async {
                sleep(ms(10)).await?;
                Err::<(), _>(Error::msg("first failure"))
            })?;
            tg.create_task(async {
                sleep(ms(10)).await?;
                Err::<(), _>(Error::msg("second failure"))
            })?;
            // The body is cancelled too.
            let r = sleep(Duration::from_secs(5)).await;
            assert!(r.as_ref().unwrap_err().is_cancelled());
            r
        })
        .await
    });
    let e = r.unwrap_err();
    let errors = e.group_errors().expect("a group error");
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(texts, ["first failure"]);
    assert_eq!(*l.borrow(), ["sibling cancelled"]);
}

#[test]
fn task_group_cancelled_from_outside_propagates_cancellation() {
    let tl = TestLoop::new();
    let children_cancelled = Rc::new(std::cell::Cell::new(0));
    let c = children_cancelled.clone();
    let outer = tl.spawn(async move {
        TaskGroup::run(|tg| async move {
            for _ in 0..3 {
                let c = c.clone();
                tg.create_task(async move {
                    let r = sleep(Duration::from_secs(5)).await;
                    if r.is_err() {
                        c.set(c.get() + 1);
                    }
                    r
                })?;
            }
            Ok(())
        })
        .await
    });
    tl.run_until_idle();
    outer.cancel();
    tl.run_until_idle();
    assert_eq!(children_cancelled.get(), 3);
    assert!(outer.cancelled());
}

#[test]
fn task_group_returns_the_body_value_when_all_succeed() {
    let r = run_virtual(Runner::new(), async {
        TaskGroup::run(|tg| async move {
            let a = tg.create_task(async {
                sleep(ms(10)).await?;
                Ok(1)
            })?;
            let b = tg.create_task(async { Ok(2) })?;
            Ok((a, b))
        })
        .await
        .map(|(a, b)| a.result().unwrap() + b.result().unwrap())
    });
    assert_eq!(r.unwrap(), 3);
}

#[test]
fn shield_protects_the_inner_from_the_awaiters_cancellation() {
    let tl = TestLoop::new();
    let done = Rc::new(std::cell::Cell::new(false));
    let d = done.clone();
    let outer = tl.spawn(async move {
        asyncio::shield(async move {
            sleep(ms(20)).await?;
            d.set(true);
            Ok(())
        })
        .await
    });
    tl.run_until_idle();
    outer.cancel();
    tl.run_until_idle();
    assert!(outer.cancelled());
    assert!(!done.get());
    tl.advance(ms(20));
    assert!(done.get(), "the shielded task ran to the end");
}

#[test]
fn wait_modes_and_timeout() {
    let r = run_virtual(Runner::new(), async {
        let mk = |d: u64, fail: bool| {
            create_task(async move {
                sleep(ms(d)).await?;
                if fail { Err(Error::msg("x")) } else { Ok(d) }
            })
        };
        let (done, pending) = wait(
            vec![mk(10, false), mk(30, false)],
            ReturnWhen::FirstCompleted,
            None,
        )
        .await?;
        assert_eq!((done.len(), pending.len()), (1, 1));
        let (done, pending) = wait(
            vec![mk(10, false), mk(20, true), mk(50, false)],
            ReturnWhen::FirstException,
            None,
        )
        .await?;
        assert_eq!((done.len(), pending.len()), (2, 1));
        let (done, pending) = wait(
            vec![mk(10, false), mk(20, false)],
            ReturnWhen::AllCompleted,
            None,
        )
        .await?;
        assert_eq!((done.len(), pending.len()), (2, 0));
        let t0 = asyncio::Instant::now();
        let (done, pending) =
            wait(vec![mk(100, false)], ReturnWhen::AllCompleted, Some(ms(15))).await?;
        assert_eq!((done.len(), pending.len(), t0.elapsed()), (0, 1, ms(15)));
        assert!(!pending[0].cancelled(), "wait does not cancel on timeout");
        Ok(())
    });
    r.unwrap();
}

#[test]
fn as_completed_yields_in_completion_order() {
    let r = run_virtual(Runner::new(), async {
        let mut it = asyncio::as_completed([30u64, 10, 20].map(|d| async move {
            sleep(ms(d)).await?;
            Ok(d)
        }));
        let mut order = vec![];
        while let Some(r) = it.next().await {
            order.push(r?);
        }
        Ok(order)
    });
    assert_eq!(r.unwrap(), vec![10, 20, 30]);
}

#[test]
fn run_cancels_and_awaits_leftover_tasks() {
    let l = log();
    let l2 = l.clone();
    let r = run_virtual(Runner::new(), async move {
        let l = l2.clone();
        create_task(async move {
            if let Err(e) = sleep(Duration::from_secs(100)).await {
                sleep(ms(1)).await?; // cleanup awaits, and is awaited
                push(&l, "leftover cleaned up");
                return Err(e);
            }
            Ok(())
        });
        yield_now().await?;
        Ok("main done")
    });
    assert_eq!(r.unwrap(), "main done");
    assert_eq!(*l.borrow(), ["leftover cleaned up"]);
}

#[test]
fn eager_tasks_run_their_first_step_at_creation() {
    let l = log();
    let l2 = l.clone();
    run_virtual(Runner::new().eager_tasks(true), async move {
        let l3 = l2.clone();
        let t = create_task(async move {
            push(&l3, "child step 1");
            yield_now().await?;
            push(&l3, "child step 2");
            Ok(())
        });
        push(&l2, "after create_task");
        t.await
    })
    .unwrap();
    assert_eq!(
        *l.borrow(),
        ["child step 1", "after create_task", "child step 2"]
    );
}

#[test]
fn call_soon_and_call_later_order_and_cancel() {
    let tl = TestLoop::new();
    let l = log();
    let lp = tl.handle();
    let (a, b, c, d) = (l.clone(), l.clone(), l.clone(), l.clone());
    lp.call_later(ms(10), move || push(&a, "later 10"));
    let h = lp.call_later(ms(5), move || push(&b, "later 5 (cancelled)"));
    lp.call_soon(move || push(&c, "soon"));
    let h2 = lp.call_soon(move || push(&d, "soon (cancelled)"));
    h.cancel();
    h2.cancel();
    assert!(h.cancelled() && h2.cancelled());
    tl.advance(ms(20));
    assert_eq!(*l.borrow(), ["soon", "later 10"]);
}

#[test]
fn futures_complete_every_awaiter_and_cancel_with_the_awaiter() {
    let tl = TestLoop::new();
    let fut = asyncio::Future::<u32>::new();
    let (f1, f2) = (fut.clone(), fut.clone());
    let a = tl.spawn(f1);
    let b = tl.spawn(f2);
    tl.run_until_idle();
    fut.set_result(5).unwrap();
    assert!(fut.set_result(6).is_err(), "already done");
    tl.run_until_idle();
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (5, 5));

    let fut2 = asyncio::Future::<u32>::new();
    let f = fut2.clone();
    let c = tl.spawn(f);
    tl.run_until_idle();
    c.cancel();
    tl.run_until_idle();
    assert!(c.cancelled());
    assert!(
        fut2.cancelled(),
        "cancelling the awaiter cancels the future"
    );
}

#[test]
fn awaiting_a_task_and_being_cancelled_cancels_that_task() {
    let tl = TestLoop::new();
    let inner = Rc::new(RefCell::new(None));
    let i2 = inner.clone();
    let outer = tl.spawn(async move {
        let t = create_task(async { sleep(Duration::from_secs(5)).await });
        *i2.borrow_mut() = Some(t.task_ref());
        t.await
    });
    tl.run_until_idle();
    outer.cancel();
    tl.run_until_idle();
    assert!(inner.borrow().as_ref().unwrap().cancelled());
    assert!(outer.cancelled());
}

#[test]
fn task_names_ids_done_callbacks_and_dump() {
    let tl = TestLoop::new();
    let l = log();
    let t = tl.spawn(async { sleep(ms(10)).await });
    t.set_name("sleeper");
    assert_eq!(t.get_name(), "sleeper");
    let l2 = l.clone();
    t.add_done_callback(move |t| push(&l2, format!("done: {}", t.get_name())));
    let l3 = l.clone();
    let id = t.add_done_callback(move |_| push(&l3, "removed"));
    assert_eq!(t.remove_done_callback(id), 1);
    tl.run_until_idle();
    let dump = tl.enter(asyncio::task_dump);
    assert!(dump.contains("'sleeper': awaiting sleep"), "{dump}");
    assert_eq!(tl.enter(asyncio::all_tasks).len(), 1);
    tl.advance(ms(10));
    assert_eq!(*l.borrow(), ["done: sleeper"]);
    assert!(t.exception().unwrap().is_none());
}

#[test]
fn result_and_exception_of_unfinished_and_failed_tasks() {
    let tl = TestLoop::new();
    let t = tl.spawn(async {
        sleep(ms(1)).await?;
        Err::<(), _>(Error::msg("bad"))
    });
    assert_eq!(
        t.take_result().unwrap_err().kind(),
        &ErrorKind::InvalidState("result is not set: task is not done".into())
    );
    tl.advance(ms(1));
    assert_eq!(t.exception().unwrap().unwrap().to_string(), "bad");
    assert_eq!(t.take_result().unwrap_err().to_string(), "bad");
}

#[test]
fn hundred_thousand_sleeps_fire_in_deadline_order() {
    let order = Rc::new(RefCell::new(Vec::with_capacity(100_000)));
    let o = order.clone();
    run_virtual(Runner::new(), async move {
        let mut seed = 12345u64;
        let tasks: Vec<_> = (0..100_000u32)
            .map(|i| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let d = (seed >> 33) % 100_000; // microseconds
                let o = o.clone();
                create_task(async move {
                    sleep(Duration::from_micros(d)).await?;
                    o.borrow_mut().push((d, i));
                    Ok(())
                })
            })
            .collect();
        for t in tasks {
            t.await?;
        }
        Ok(())
    })
    .unwrap();
    let order = order.borrow();
    assert_eq!(order.len(), 100_000);
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "woken in (deadline, creation) order"
    );
}

#[test]
fn timeout_zero_still_lets_a_ready_operation_finish() {
    let r = run_virtual(Runner::new(), async {
        timeout(Duration::ZERO, async { Ok(1) }).await
    });
    assert_eq!(r.unwrap(), 1);
}

#[test]
fn cancelled_after_the_awaited_task_finished_the_awaiter_is_cancelled() {
    let tl = TestLoop::new();
    let b = tl.spawn(async {
        yield_now().await?;
        Ok(5)
    });
    let b_ref = b.task_ref();
    let a = tl.spawn(b);
    tl.run_once(); // b yields, a waits for b
    tl.run_once(); // b finishes and schedules a
    assert!(b_ref.done() && !a.done());
    a.cancel();
    tl.run_until_idle();
    assert!(a.cancelled(), "asyncio raises CancelledError at the await");
    assert_eq!(b_ref.exception().unwrap(), None, "b's own result is intact");
}

#[test]
fn timer_wakeups_run_before_an_older_backlog() {
    let tl = TestLoop::new();
    let l = log();
    let l2 = l.clone();
    tl.spawn(async move {
        sleep(ms(10)).await?;
        push(&l2, "timer");
        Ok(())
    });
    tl.run_until_idle();
    for i in 0..3 {
        let l = l.clone();
        tl.spawn(async move {
            push(&l, format!("backlog {i}"));
            Ok(())
        });
    }
    tl.advance_clock(ms(10));
    tl.run_once();
    assert_eq!(
        *l.borrow(),
        ["timer", "backlog 0", "backlog 1", "backlog 2"]
    );
}
