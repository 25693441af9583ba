//! Signal handlers on a native test loop (`TestLoop::send_signal` plays the
//! host): handlers run as loop callbacks, replace each other, and can be
//! removed.

use asyncio::signals::Signal;
use asyncio::testing::TestLoop;
use std::cell::RefCell;
use std::rc::Rc;

#[test]
fn handler_runs_as_a_callback_after_what_is_ready() {
    let tl = TestLoop::new();
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let l = log.clone();
    tl.handle()
        .add_signal_handler(Signal::SIGUSR1, move || {
            let in_task = asyncio::current_task().is_some();
            l.borrow_mut()
                .push(format!("handler (in a task: {in_task})"));
        })
        .unwrap();
    let l = log.clone();
    tl.handle()
        .call_soon(move || l.borrow_mut().push("earlier callback".into()));
    tl.send_signal(Signal::SIGUSR1);
    assert!(log.borrow().is_empty(), "a handler never runs inside send");
    tl.run_until_idle();
    assert_eq!(
        *log.borrow(),
        ["earlier callback", "handler (in a task: false)"]
    );
    tl.send_signal(Signal::SIGUSR1);
    tl.run_until_idle();
    assert_eq!(log.borrow().len(), 3, "every delivery runs the handler");
}

#[test]
fn handlers_replace_each_other_and_can_be_removed() {
    let tl = TestLoop::new();
    let log: Rc<RefCell<Vec<&str>>> = Rc::default();
    let lp = tl.handle();
    let l = log.clone();
    lp.add_signal_handler(Signal::SIGHUP, move || l.borrow_mut().push("first"))
        .unwrap();
    let l = log.clone();
    lp.add_signal_handler(Signal::SIGHUP, move || l.borrow_mut().push("second"))
        .unwrap();
    tl.send_signal(Signal::SIGHUP);
    tl.run_until_idle();
    assert_eq!(*log.borrow(), ["second"]);

    assert!(lp.remove_signal_handler(Signal::SIGHUP));
    assert!(!lp.remove_signal_handler(Signal::SIGHUP));
    assert!(!lp.remove_signal_handler(Signal::SIGTERM));
    tl.send_signal(Signal::SIGHUP);
    tl.run_until_idle();
    assert_eq!(*log.borrow(), ["second"], "a removed handler does not run");
}

#[test]
fn no_handlers_on_a_closed_loop() {
    let tl = TestLoop::new();
    let lp = tl.handle();
    drop(tl);
    let err = lp.add_signal_handler(Signal::SIGINT, || {}).unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
}

#[test]
fn numbers_and_names() {
    assert_eq!(Signal::SIGINT.number(), 2);
    assert_eq!(Signal::SIGTERM.number(), 15);
    assert_eq!(Signal::SIGWINCH.to_string(), "SIGWINCH");
    assert_eq!(Signal::ALL.len(), 6);
}
