//! Spikes S1 and S2 (docs/design-plugins.md §6): `wait` parks on a plain
//! Rust future whose waker is woken by `set`, a different export call and
//! so a different component-model task. With wit-bindgen's
//! `inter-task-wakeup` feature that wake is a unit-stream write into the
//! waiting task; without it `wait` cannot sleep at all. Both exports ask the
//! host `whoami` (S2). `driver` is the design's shape (§2.1): a future
//! spawned by `start` that lives on in `start`'s task after it returned, and
//! does the work of `ask` calls made later.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

wit_bindgen::generate!({ path: "wit", world: "spike:wake/plugin", generate_all });

use spike::wake::calls::{enter, whoami};

/// The flag `set` raises and `wait` waits for.
#[derive(Default)]
struct Flag {
    set: bool,
    waiter: Option<Waker>,
}

thread_local! {
    static FLAG: RefCell<Flag> = RefCell::default();
}

struct Plugin;

impl exports::spike::wake::flag::Guest for Plugin {
    async fn wait() -> (u64, u64) {
        let before = whoami();
        poll_fn(|cx| {
            FLAG.with_borrow_mut(|flag| {
                if flag.set {
                    Poll::Ready(())
                } else {
                    flag.waiter = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        })
        .await;
        (before, whoami())
    }

    async fn set() -> u64 {
        let me = whoami();
        let waiter = FLAG.with_borrow_mut(|flag| {
            flag.set = true;
            flag.waiter.take()
        });
        if let Some(waiter) = waiter {
            waiter.wake();
        }
        me
    }

    async fn entered() -> (u64, u32) {
        let me = whoami();
        let cancel = enter();
        (me, cancel.await)
    }
}

/// One `ask`: its input, the driver's answer, the asking task's waker.
struct Job {
    n: u32,
    answer: Option<(u32, u64)>,
    asker: Option<Waker>,
}

/// What `ask` calls share with the driver.
#[derive(Default)]
struct Driver {
    started: bool,
    inbox: Vec<Rc<RefCell<Job>>>,
    /// The driver's waker (of `start`'s task) while it waits for work.
    waker: Option<Waker>,
}

thread_local! {
    static DRIVER: RefCell<Driver> = RefCell::default();
}

/// Answers every job in the inbox, then waits for more, for ever.
async fn drive() {
    poll_fn(|cx| {
        let jobs = DRIVER.with_borrow_mut(|d| {
            d.waker = Some(cx.waker().clone());
            std::mem::take(&mut d.inbox)
        });
        for job in jobs {
            let mut job = job.borrow_mut();
            job.answer = Some((2 * job.n, whoami()));
            if let Some(asker) = job.asker.take() {
                asker.wake();
            }
        }
        Poll::<()>::Pending
    })
    .await
}

impl exports::spike::wake::driver::Guest for Plugin {
    async fn start() {
        let first = DRIVER.with_borrow_mut(|d| !std::mem::replace(&mut d.started, true));
        if first {
            wit_bindgen::spawn_local(drive());
        }
    }

    async fn ask(n: u32) -> (u32, u64) {
        let job = Rc::new(RefCell::new(Job {
            n,
            answer: None,
            asker: None,
        }));
        let driver = DRIVER.with_borrow_mut(|d| {
            d.inbox.push(job.clone());
            d.waker.take()
        });
        if let Some(driver) = driver {
            driver.wake();
        }
        poll_fn(|cx| {
            let mut job = job.borrow_mut();
            match job.answer {
                Some(answer) => Poll::Ready(answer),
                None => {
                    job.asker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

export!(Plugin);
