//! Cancelling and dropping `loop.create_connection` midway. argv[1] is a
//! port whose accept queue the test filled, so a connect there hangs: the
//! attempt is given up by `wait_for`, by `Task::cancel`, and by dropping
//! the future after it started; then short timeouts race connects to a
//! server that answers. The factory is called (and a protocol sees
//! callbacks) only for attempts that returned a transport; no task or
//! connection is left behind; a later connection works.
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{Error, create_task, get_running_loop, sleep, start_server, wait_for};
use test_programs::until;

type Log = Rc<RefCell<Vec<String>>>;

struct Probe {
    name: String,
    log: Log,
}

impl Probe {
    fn note(&self, what: String) {
        self.log.borrow_mut().push(format!("{}: {what}", self.name));
    }
}

impl BaseProtocol for Probe {
    fn connection_made(&mut self, _t: Transport) {
        self.note("made".into());
    }

    fn connection_lost(&mut self, e: Option<Error>) {
        self.note(format!("lost({:?})", e.map(|e| e.kind().clone())));
    }
}

impl Protocol for Probe {
    fn data_received(&mut self, data: &[u8]) {
        self.note(format!("data {}", String::from_utf8_lossy(data)));
    }

    fn eof_received(&mut self) -> bool {
        self.note("eof".into());
        false
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let hang: u16 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("argv[1]: a port whose connects hang");
    let lp = get_running_loop();
    let log: Log = Rc::default();
    let calls = Rc::new(Cell::new(0u32));
    let factory = |name: &str| {
        let (name, log, calls) = (name.to_owned(), log.clone(), calls.clone());
        move || {
            calls.set(calls.get() + 1);
            Probe { name, log }
        }
    };

    // 1. wait_for gives up a connect that hangs.
    let r = wait_for(
        ms(50),
        lp.create_connection(factory("wait_for"), "127.0.0.1", hang),
    )
    .await;
    assert!(
        r.as_ref().is_err_and(Error::is_timeout),
        "{:?}",
        r.as_ref().map(|_| "created")
    );
    println!("wait_for: timeout");

    // 2. A task connecting is cancelled.
    let task = create_task({
        let (lp, f) = (lp.clone(), factory("cancelled"));
        async move { lp.create_connection(f, "127.0.0.1", hang).await.map(drop) }
    });
    sleep(ms(20)).await?;
    assert!(!task.done());
    task.cancel();
    let r = task.await;
    assert!(r.as_ref().is_err_and(Error::is_cancelled), "{r:?}");
    println!("cancelled task: cancelled");

    // 3. A started connect is dropped.
    let mut fut = Box::pin(lp.create_connection(factory("dropped"), "127.0.0.1", hang));
    let pending = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending())).await;
    assert!(pending);
    sleep(ms(20)).await?;
    drop(fut);
    println!("dropped: pending, then dropped");
    assert_eq!(calls.get(), 0, "a factory was called: {:?}", log.borrow());

    // 4. Short timeouts race connects to a server that answers.
    let server = start_server(
        |mut r, mut w| async move {
            loop {
                let data = r.read(4096).await?;
                if data.is_empty() {
                    w.close();
                    return Ok(());
                }
                w.write(&data)?;
                w.drain().await?;
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    let (mut connected, mut timed_out) = (0, 0);
    for i in 0..60u64 {
        let r = wait_for(
            Duration::from_micros(i * 50),
            lp.create_connection(factory("race"), "127.0.0.1", port),
        )
        .await;
        match r {
            Ok((t, _)) => {
                connected += 1;
                t.close();
            }
            Err(e) if e.is_timeout() => timed_out += 1,
            Err(e) => return Err(e),
        }
    }
    assert!(
        timed_out > 0,
        "no attempt timed out ({connected} connected)"
    );
    assert_eq!(calls.get(), connected, "{:?}", log.borrow());
    let count = |what: &str| log.borrow().iter().filter(|l| *l == what).count() as u32;
    until("the raced connections' connection_lost", || {
        count("race: lost(None)") == connected
    })
    .await?;
    assert_eq!(count("race: made"), connected, "{:?}", log.borrow());
    assert_eq!(
        log.borrow().len() as u32,
        2 * connected,
        "{:?}",
        log.borrow()
    );
    println!("race: an attempt that connected got made and lost, one that timed out nothing");

    // 5. The loop goes on: a later connection works.
    log.borrow_mut().clear();
    let (t, _) = lp
        .create_connection(factory("later"), "127.0.0.1", port)
        .await?;
    t.write(b"ping")?;
    until("the echo", || log.borrow().len() >= 2).await?;
    t.close();
    until("connection_lost", || log.borrow().len() >= 3).await?;
    println!("{}", log.borrow().join(", "));

    // Every connection the server saw (abandoned ones too) ended, and no
    // task is left but main.
    server.close();
    wait_for(Duration::from_secs(5), server.wait_closed()).await?;
    // (The accept task ends at its next step, not by wait_closed.)
    sleep(ms(10)).await?;
    let tasks: Vec<String> = asyncio::all_tasks().iter().map(|t| t.get_name()).collect();
    println!("tasks left: {tasks:?}");
    Ok(())
}
