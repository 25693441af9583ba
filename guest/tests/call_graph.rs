//! asyncio 3.14's call graph: who awaits whom (`awaited_by`), as
//! `capture_call_graph`, `format_call_graph`, `task_table` and the tree
//! of `task_dump` show it, natively on virtual time.

use std::cell::RefCell;
use std::future::Future as _;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncio::testing::TestLoop;
use asyncio::{
    CallGraph, TaskGroup, TaskInfo, TaskRef, capture_call_graph, create_named_task,
    format_call_graph, gather, shield, sleep, task_dump, task_table, wait, yield_now,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn info(id: u64, name: &str, state: &str, awaiting: &str, awaited_by: &[u64]) -> TaskInfo {
    TaskInfo {
        id,
        name: name.into(),
        state: state.into(),
        awaiting: awaiting.into(),
        awaited_by: awaited_by.to_vec(),
    }
}

/// A graph as `(id, awaiting, [awaiters...])`, for exact comparisons.
#[derive(Debug, PartialEq)]
struct Node(u64, String, Vec<Node>);

fn node(g: &CallGraph) -> Node {
    Node(
        g.task.id(),
        g.awaiting.clone(),
        g.awaited_by.iter().map(node).collect(),
    )
}

fn leaf(id: u64, awaiting: &str) -> Node {
    Node(id, awaiting.into(), Vec::new())
}

/// The ids awaiting `task`, as the call graph sees them.
fn awaiters(tl: &TestLoop, task: &TaskRef) -> Vec<u64> {
    tl.enter(|| capture_call_graph(task))
        .expect("inside the loop")
        .awaited_by
        .iter()
        .map(|g| g.task.id())
        .collect()
}

/// A handle on a task that the test can look at from outside.
type Slot = Rc<RefCell<Option<TaskRef>>>;

fn slot() -> Slot {
    Rc::new(RefCell::new(None))
}

fn get(slot: &Slot) -> TaskRef {
    slot.borrow().clone().expect("the task was created")
}

#[test]
fn a_task_awaiting_a_task_is_in_its_awaited_by_until_the_await_ends() {
    let tl = TestLoop::new();
    let child = slot();
    let c = child.clone();
    let main = tl.spawn(async move {
        let t = create_named_task("child", async { sleep(ms(100)).await });
        *c.borrow_mut() = Some(t.task_ref());
        t.await?;
        sleep(ms(1000)).await
    });
    main.set_name("main");
    tl.run_until_idle();
    let child = get(&child);
    assert_eq!(
        tl.enter(task_table),
        [
            info(1, "main", "pending", "awaiting task #2", &[]),
            info(2, "child", "pending", "awaiting sleep (0.100s left)", &[1]),
        ]
    );
    assert_eq!(awaiters(&tl, &child), [1]);
    tl.advance(ms(100));
    // The await is over (main sleeps on): nobody awaits the child.
    assert!(child.done());
    assert_eq!(awaiters(&tl, &child), Vec::<u64>::new());
    assert_eq!(
        tl.enter(task_table),
        [info(
            1,
            "main",
            "pending",
            "awaiting sleep (1.000s left)",
            &[]
        )]
    );
}

#[test]
fn dropping_the_await_of_a_task_removes_the_awaiter() {
    let tl = TestLoop::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let main = tl.spawn(async move {
        let t = create_named_task("child", async { sleep(ms(100)).await });
        let child = t.task_ref();
        let mut awaiting = Box::pin(t);
        // One poll of the await (pending), then give up on it.
        std::future::poll_fn(|cx| {
            assert!(awaiting.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        s.borrow_mut().push(task_table());
        drop(awaiting);
        s.borrow_mut().push(task_table());
        // The child runs on.
        sleep(ms(10)).await?;
        assert!(!child.done());
        Ok(())
    });
    main.set_name("main");
    tl.run_until_idle();
    assert_eq!(
        *seen.borrow(),
        [
            vec![
                info(1, "main", "running", "running", &[]),
                info(2, "child", "pending", "ready to run", &[1]),
            ],
            vec![
                info(1, "main", "running", "running", &[]),
                info(2, "child", "pending", "ready to run", &[]),
            ],
        ]
    );
    tl.advance(ms(10));
    assert!(main.done());
}

/// Python 3.14's `python -m asyncio pstree` example: a main task with a
/// TaskGroup of albums, each with a TaskGroup of tracks that play.
fn albums(tl: &TestLoop, tracks: Rc<RefCell<Vec<TaskRef>>>) -> asyncio::Task<()> {
    async fn play_album(
        tracks: &[(&'static str, u64)],
        seen: Rc<RefCell<Vec<TaskRef>>>,
    ) -> asyncio::Result<()> {
        TaskGroup::run(|tg| async move {
            for &(track, secs) in tracks {
                let t =
                    tg.create_named_task(
                        track,
                        async move { sleep(Duration::from_secs(secs)).await },
                    )?;
                seen.borrow_mut().push(t.task_ref());
            }
            Ok(())
        })
        .await
    }
    let main = tl.spawn(async move {
        TaskGroup::run(|tg| async move {
            let t = tracks.clone();
            tg.create_named_task("Sundowning", async move {
                play_album(&[("TNDNBTG", 5), ("Levitate", 5)], t).await
            })?;
            let t = tracks.clone();
            tg.create_named_task("TMBTE", async move {
                play_album(&[("DYWTYLM", 5), ("Aqua Regia", 2)], t).await
            })?;
            Ok(())
        })
        .await
    });
    main.set_name("main");
    main
}

#[test]
fn task_groups_nest_in_the_table_the_graph_and_the_tree() {
    let tl = TestLoop::new();
    let tracks = Rc::new(RefCell::new(Vec::new()));
    let main = albums(&tl, tracks.clone());
    tl.run_until_idle();
    let tg2 = "awaiting its TaskGroup (2 pending)";
    assert_eq!(
        tl.enter(task_table),
        [
            info(1, "main", "pending", tg2, &[]),
            info(2, "Sundowning", "pending", tg2, &[1]),
            info(3, "TMBTE", "pending", tg2, &[1]),
            info(
                4,
                "TNDNBTG",
                "pending",
                "awaiting sleep (5.000s left)",
                &[2]
            ),
            info(
                5,
                "Levitate",
                "pending",
                "awaiting sleep (5.000s left)",
                &[2]
            ),
            info(
                6,
                "DYWTYLM",
                "pending",
                "awaiting sleep (5.000s left)",
                &[3]
            ),
            info(
                7,
                "Aqua Regia",
                "pending",
                "awaiting sleep (2.000s left)",
                &[3]
            ),
        ]
    );
    assert_eq!(
        tl.enter(task_dump),
        "7 pending task(s)
  #1 'main': awaiting its TaskGroup (2 pending)
  #2 'Sundowning': awaiting its TaskGroup (2 pending), awaited by #1
  #3 'TMBTE': awaiting its TaskGroup (2 pending), awaited by #1
  #4 'TNDNBTG': awaiting sleep (5.000s left), awaited by #2
  #5 'Levitate': awaiting sleep (5.000s left), awaited by #2
  #6 'DYWTYLM': awaiting sleep (5.000s left), awaited by #3
  #7 'Aqua Regia': awaiting sleep (2.000s left), awaited by #3
task tree:
  └── (T) main
      ├── (T) Sundowning
      │   ├── (T) TNDNBTG
      │   └── (T) Levitate
      └── (T) TMBTE
          ├── (T) DYWTYLM
          └── (T) Aqua Regia
"
    );
    let levitate = tracks.borrow()[1].clone();
    assert_eq!(levitate.get_name(), "Levitate");
    let graph = tl.enter(|| capture_call_graph(&levitate)).unwrap();
    assert_eq!(graph.task, levitate);
    assert_eq!(
        node(&graph),
        Node(
            5,
            "awaiting sleep (5.000s left)".into(),
            vec![Node(2, tg2.into(), vec![leaf(1, tg2)])]
        )
    );
    tl.advance(ms(1500));
    assert_eq!(
        tl.enter(|| format_call_graph(&levitate)),
        "* Task(name='Levitate', id=5)
  + awaiting sleep (3.500s left)
  + Awaited by:
    * Task(name='Sundowning', id=2)
      + awaiting its TaskGroup (2 pending)
      + Awaited by:
        * Task(name='main', id=1)
          + awaiting its TaskGroup (2 pending)"
    );

    // A child that is done leaves its group's parent's awaited_by.
    tl.advance(ms(500));
    let aqua = tracks.borrow()[3].clone();
    assert!(aqua.done());
    assert_eq!(awaiters(&tl, &aqua), Vec::<u64>::new());
    let dump = tl.enter(task_dump);
    assert!(dump.starts_with("6 pending task(s)\n"), "{dump}");
    assert!(!dump.contains("Aqua Regia"), "{dump}");
    assert!(
        dump.ends_with(
            "task tree:
  └── (T) main
      ├── (T) Sundowning
      │   ├── (T) TNDNBTG
      │   └── (T) Levitate
      └── (T) TMBTE
          └── (T) DYWTYLM
"
        ),
        "{dump}"
    );
    tl.advance(Duration::from_secs(3));
    assert!(main.done());
    assert_eq!(tl.enter(task_table), []);
    assert_eq!(tl.enter(task_dump), "0 pending task(s)\n");
}

#[test]
fn gather_children_are_awaited_by_the_caller_until_the_gather_is_dropped() {
    let tl = TestLoop::new();
    let children = Rc::new(RefCell::new(Vec::new()));
    let c = children.clone();
    let main = tl.spawn(async move {
        let g = gather([10, 20].map(|n| async move {
            sleep(ms(n)).await?;
            Ok(n)
        }));
        let mut tasks: Vec<TaskRef> = asyncio::all_tasks();
        tasks.retain(|t| t.id() != 1);
        tasks.sort_by_key(TaskRef::id);
        c.borrow_mut().extend(tasks);
        assert_eq!(g.await?, [10, 20]);
        // A gather dropped before its children finish leaves them awaited
        // by nobody (they run on).
        let g = gather([30].map(|n| async move { sleep(ms(n)).await }));
        yield_now().await?;
        let before = task_table();
        drop(g);
        let after = task_table();
        Ok((before, after))
    });
    main.set_name("main");
    tl.run_until_idle();
    let children = children.borrow().clone();
    let ids: Vec<u64> = children.iter().map(TaskRef::id).collect();
    assert_eq!(ids, [2, 3]);
    assert_eq!(
        tl.enter(task_table),
        [
            info(1, "main", "pending", "awaiting gather (2 pending)", &[]),
            info(2, "Task-2", "pending", "awaiting sleep (0.010s left)", &[1]),
            info(3, "Task-3", "pending", "awaiting sleep (0.020s left)", &[1]),
        ]
    );
    let graph = tl.enter(|| capture_call_graph(&children[1])).unwrap();
    assert_eq!(
        node(&graph),
        Node(
            3,
            "awaiting sleep (0.020s left)".into(),
            vec![leaf(1, "awaiting gather (2 pending)")]
        )
    );
    // A child that is done is awaited by nobody, though the gather (and
    // its caller) still wait for the other one.
    tl.advance(ms(10));
    assert!(children[0].done() && !main.done());
    assert_eq!(awaiters(&tl, &children[0]), Vec::<u64>::new());
    assert_eq!(awaiters(&tl, &children[1]), [1]);
    tl.advance(ms(10));
    let (before, after) = main.result().unwrap();
    assert_eq!(
        before,
        [
            info(1, "main", "running", "running", &[]),
            info(4, "Task-4", "pending", "awaiting sleep (0.030s left)", &[1]),
        ]
    );
    assert_eq!(
        after,
        [
            info(1, "main", "running", "running", &[]),
            info(4, "Task-4", "pending", "awaiting sleep (0.030s left)", &[]),
        ]
    );
}

#[test]
fn the_gather_macro_and_wait_record_the_caller() {
    let tl = TestLoop::new();
    let main = tl.spawn(async move {
        let g = asyncio::gather!(sleep(ms(10)), async {
            sleep(ms(20)).await?;
            Ok("two")
        });
        let a = create_named_task("a", async { sleep(ms(30)).await });
        let w = create_named_task("waiter", async move {
            let (done, pending) = wait([a], asyncio::ReturnWhen::AllCompleted, None).await?;
            Ok((done.len(), pending.len()))
        });
        let (_, two) = g.await?;
        assert_eq!(two, "two");
        w.await
    });
    main.set_name("main");
    tl.run_until_idle();
    assert_eq!(
        tl.enter(task_table),
        [
            info(1, "main", "pending", "awaiting gather (2 pending)", &[]),
            info(2, "Task-2", "pending", "awaiting sleep (0.010s left)", &[1]),
            info(3, "Task-3", "pending", "awaiting sleep (0.020s left)", &[1]),
            info(4, "a", "pending", "awaiting sleep (0.030s left)", &[5]),
            info(5, "waiter", "pending", "awaiting wait (1 pending)", &[]),
        ]
    );
    tl.advance(ms(20));
    assert_eq!(
        tl.enter(task_table),
        [
            info(1, "main", "pending", "awaiting task #5", &[]),
            info(4, "a", "pending", "awaiting sleep (0.010s left)", &[5]),
            info(5, "waiter", "pending", "awaiting wait (1 pending)", &[1]),
        ]
    );
    tl.advance(ms(10));
    assert_eq!(main.result().unwrap(), (1, 0));
}

#[test]
fn a_shielded_task_is_awaited_by_the_task_awaiting_the_shield() {
    let tl = TestLoop::new();
    let inner = slot();
    let i = inner.clone();
    let main = tl.spawn(async move {
        let s = shield(async {
            sleep(ms(100)).await?;
            Ok(7)
        });
        *i.borrow_mut() = asyncio::all_tasks().into_iter().find(|t| t.id() == 2);
        s.await
    });
    main.set_name("main");
    tl.run_until_idle();
    let inner = get(&inner);
    assert_eq!(
        tl.enter(task_table),
        [
            info(1, "main", "pending", "awaiting shield of task #2", &[]),
            info(2, "Task-2", "pending", "awaiting sleep (0.100s left)", &[1]),
        ]
    );
    assert_eq!(
        tl.enter(|| format_call_graph(&inner)),
        "* Task(name='Task-2', id=2)
  + awaiting sleep (0.100s left)
  + Awaited by:
    * Task(name='main', id=1)
      + awaiting shield of task #2"
    );
    // The awaiter is cancelled: the shield gives up at once, the inner
    // task runs on, awaited by nobody.
    main.cancel();
    tl.run_until_idle();
    assert!(main.cancelled());
    assert!(!inner.done());
    assert_eq!(
        tl.enter(task_table),
        [info(
            2,
            "Task-2",
            "pending",
            "awaiting sleep (0.100s left)",
            &[]
        )]
    );
    tl.advance(ms(100));
    assert!(inner.done());
}

#[test]
fn the_table_says_running_and_cancelling() {
    let tl = TestLoop::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let main = tl.spawn(async move {
        let t = create_named_task("doomed", async { sleep(ms(50)).await });
        yield_now().await?;
        t.cancel();
        s.borrow_mut().extend(task_table());
        let _ = t.await;
        Ok(())
    });
    main.set_name("main");
    tl.run_until_idle();
    assert_eq!(
        *seen.borrow(),
        [
            info(1, "main", "running", "running", &[]),
            info(
                2,
                "doomed",
                "cancelling",
                "awaiting sleep (0.050s left)",
                &[]
            ),
        ]
    );
    assert!(main.done());
    assert_eq!(task_table(), [], "empty outside a loop");
    assert_eq!(
        capture_call_graph(&main.task_ref()),
        None,
        "none outside a loop"
    );
    assert_eq!(format_call_graph(&main.task_ref()), "");
}

#[test]
fn a_cycle_of_awaits_ends_the_graph_and_the_tree() {
    // Two tasks that await each other (a deadlock asyncio cannot detect
    // either): the graph stops where it comes back, the tree marks it.
    let tl = TestLoop::new();
    let a_slot = slot();
    let b_slot: Rc<RefCell<Option<asyncio::Task<()>>>> = Rc::new(RefCell::new(None));
    let (a2, b2) = (a_slot.clone(), b_slot.clone());
    let main = tl.spawn(async move {
        let b3 = b2.clone();
        let a = create_named_task("a", async move {
            yield_now().await?;
            let b = b3.borrow_mut().take().expect("b exists");
            b.await
        });
        *a2.borrow_mut() = Some(a.task_ref());
        let a = Rc::new(RefCell::new(Some(a)));
        let a3 = a.clone();
        let b = create_named_task("b", async move {
            let a = a3.borrow_mut().take().expect("a exists");
            a.await
        });
        *b2.borrow_mut() = Some(b);
        sleep(ms(1000)).await
    });
    main.set_name("main");
    tl.run_until_idle();
    let a = get(&a_slot);
    assert_eq!(
        tl.enter(task_table),
        [
            info(1, "main", "pending", "awaiting sleep (1.000s left)", &[]),
            info(2, "a", "pending", "awaiting task #3", &[3]),
            info(3, "b", "pending", "awaiting task #2", &[2]),
        ]
    );
    let graph = tl.enter(|| capture_call_graph(&a)).unwrap();
    assert_eq!(
        node(&graph),
        Node(
            2,
            "awaiting task #3".into(),
            vec![leaf(3, "awaiting task #2")]
        )
    );
    let dump = tl.enter(task_dump);
    assert!(
        dump.ends_with(
            "task tree:
  └── (T) main
  └── (T) a
      └── (T) b
          └── (T) a (cycle)
"
        ),
        "{dump}"
    );
    drop(tl);
    drop(main);
}

/// What `#[asyncio::main]` exports as `aio:host/control`: the program's
/// loop, seen from a synchronous export call between two steps of it.
#[test]
fn a_program_exports_its_task_table_while_main_runs() {
    use asyncio::__private::{ProgramControl, run_main};
    use asyncio::control_bindings::exports::aio::host::control::{Guest, TaskInfo as Wit};

    assert!(ProgramControl::task_table().is_empty());
    assert_eq!(ProgramControl::task_dump(), "no running event loop\n");
    let go: asyncio::Future<()> = asyncio::Future::new();
    let g = go.clone();
    let program = run_main(asyncio::Runner::new().debug(false), async move {
        let worker = create_named_task("worker", g);
        worker.await
    });
    let mut program = pin!(program);
    let mut cx = Context::from_waker(Waker::noop());
    // Nothing can progress until `go` is set: the loop returns, as it
    // does to the host.
    assert!(program.as_mut().poll(&mut cx).is_pending());
    let wit = |id, name: &str, awaiting: &str, awaited_by: &[u64]| Wit {
        id,
        name: name.into(),
        state: "pending".into(),
        awaiting: awaiting.into(),
        awaited_by: awaited_by.to_vec(),
    };
    let table = ProgramControl::task_table();
    assert_eq!(table.len(), 2, "{table:?}");
    let fields = |t: &Wit| {
        (
            t.id,
            t.name.clone(),
            t.state.clone(),
            t.awaiting.clone(),
            t.awaited_by.clone(),
        )
    };
    let expected = [
        wit(1, "main", "awaiting task #2", &[]),
        wit(2, "worker", "awaiting a future", &[1]),
    ];
    assert_eq!(
        table.iter().map(fields).collect::<Vec<_>>(),
        expected.iter().map(fields).collect::<Vec<_>>()
    );
    let dump = ProgramControl::task_dump();
    assert!(
        dump.starts_with("2 pending task(s)\n  #1 'main': awaiting task #2\n"),
        "{dump}"
    );
    assert!(dump.ends_with("task tree:\n  └── (T) main\n      └── (T) worker\n"));
    // The export call left no loop running behind it.
    assert!(asyncio::try_get_running_loop().is_none());
    go.set_result(()).unwrap();
    assert_eq!(program.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert!(ProgramControl::task_table().is_empty());
    assert_eq!(ProgramControl::task_dump(), "no running event loop\n");
}
