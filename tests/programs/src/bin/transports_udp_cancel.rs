//! Cancelling and dropping `loop.create_datagram_endpoint` midway. Its one
//! await is the name lookup (an IP literal needs none), so the attempts
//! are given up before their first step (a cancelled task) or while
//! `localhost` is being looked up (`wait_for`, `Task::cancel`, dropping
//! the started future). None calls the factory or binds the port it
//! named; then an endpoint on that very port works, and no task is left.
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use asyncio::transports::{DatagramProtocol, DatagramTransport};
use asyncio::{Error, create_task, get_running_loop, sleep, wait_for, yield_now};
use test_programs::until;

type Log = Rc<RefCell<Vec<String>>>;

struct Probe {
    name: String,
    log: Log,
    echo: bool,
    transport: Option<DatagramTransport>,
    lost: bool,
}

type Endpoint = (DatagramTransport, Rc<RefCell<Probe>>);

impl Probe {
    fn note(&self, what: String) {
        self.log.borrow_mut().push(format!("{}: {what}", self.name));
    }
}

impl DatagramProtocol for Probe {
    fn connection_made(&mut self, t: DatagramTransport) {
        self.note("made".into());
        self.transport = Some(t);
    }

    fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
        self.note(format!("data {}", String::from_utf8_lossy(data)));
        if self.echo {
            self.transport
                .as_ref()
                .unwrap()
                .sendto(data, Some(addr))
                .unwrap();
        }
    }

    fn error_received(&mut self, e: Error) {
        self.note(format!("error {e}"));
    }

    fn connection_lost(&mut self, e: Option<Error>) {
        self.lost = true;
        self.note(format!("lost({:?})", e.map(|e| e.kind().clone())));
    }
}

#[asyncio::main(debug = true)]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let log: Log = Rc::default();
    let calls = Rc::new(Cell::new(0u32));
    let factory = |name: &str, echo: bool| {
        let (name, log, calls) = (name.to_owned(), log.clone(), calls.clone());
        move || {
            calls.set(calls.get() + 1);
            Probe {
                name,
                log,
                echo,
                transport: None,
                lost: false,
            }
        }
    };

    // A port that is free: bound, then closed. Closed means the socket
    // is, even while a handle to the transport is kept.
    let (t, _) = lp
        .create_datagram_endpoint(factory("probe", false), Some(("127.0.0.1", 0)), None)
        .await?;
    let port = t.sockname().expect("bound").port();
    t.close();
    until("the probe's connection_lost", || log.borrow().len() == 2).await?;
    let (again, _) = lp
        .create_datagram_endpoint(factory("again", false), Some(("127.0.0.1", port)), None)
        .await?;
    again.close();
    until("connection_lost", || log.borrow().len() == 4).await?;
    println!("closed, handle kept: the port is free");
    drop(t);
    log.borrow_mut().clear();
    calls.set(0);

    // 1. A task cancelled before its first step.
    let task = create_task({
        let (lp, f) = (lp.clone(), factory("before", false));
        async move {
            lp.create_datagram_endpoint(f, Some(("127.0.0.1", port)), None)
                .await
                .map(drop)
        }
    });
    task.cancel();
    let r = task.await;
    assert!(r.as_ref().is_err_and(Error::is_cancelled), "{r:?}");
    println!("cancelled before it ran: cancelled");

    // 2-4 need the lookup still in flight when they give up. It takes a
    // host turn at least, but an attempt that finished anyway (closed and
    // counted; `localhost` may also resolve to ::1 first, not granted) is
    // simply tried again, up to 20 times.
    let made = Rc::new(Cell::new(0u32));
    let finished = |r: asyncio::Result<Endpoint>| {
        let made = made.clone();
        async move {
            if let Ok((t, p)) = r {
                made.set(made.get() + 1);
                t.close();
                until("connection_lost", || p.borrow().lost).await?;
            }
            Ok::<_, Error>(())
        }
    };
    let localhost = Some(("localhost", port));

    // 2. wait_for gives up during the lookup.
    let mut given_up = false;
    for _ in 0..20 {
        let f = factory("wait_for", false);
        match wait_for(
            Duration::ZERO,
            lp.create_datagram_endpoint(f, localhost, None),
        )
        .await
        {
            Err(e) if e.is_timeout() => {
                given_up = true;
                break;
            }
            r => finished(r).await?,
        }
    }
    assert!(given_up, "never caught a lookup in flight");
    println!("wait_for: timeout");

    // 3. A task cancelled during the lookup.
    let mut given_up = false;
    for _ in 0..20 {
        let task = create_task({
            let (lp, f) = (lp.clone(), factory("cancelled", false));
            async move { Ok(lp.create_datagram_endpoint(f, localhost, None).await) }
        });
        yield_now().await?;
        if task.done() {
            finished(task.await?).await?;
            continue;
        }
        task.cancel();
        let r = task.await.and_then(|r| r);
        assert!(
            r.as_ref().is_err_and(Error::is_cancelled),
            "{:?}",
            r.map(|_| ())
        );
        given_up = true;
        break;
    }
    assert!(given_up, "never caught a lookup in flight");
    println!("cancelled task: cancelled");

    // 4. A started attempt is dropped.
    let mut given_up = false;
    for _ in 0..20 {
        let f = factory("dropped", false);
        let mut fut = Box::pin(lp.create_datagram_endpoint(f, localhost, None));
        match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
            Poll::Pending => {
                drop(fut);
                given_up = true;
                break;
            }
            Poll::Ready(r) => finished(r).await?,
        }
    }
    assert!(given_up, "never caught a lookup in flight");
    println!("dropped: pending, then dropped");
    sleep(Duration::from_millis(50)).await?;
    assert_eq!(
        calls.get(),
        made.get(),
        "a factory was called for an attempt given up: {:?}",
        log.borrow()
    );

    log.borrow_mut().clear();

    // 5. The port is free and the loop goes on: an echo endpoint on it,
    // and a client that gets its datagram back.
    let (echo, _) = lp
        .create_datagram_endpoint(factory("echo", true), Some(("127.0.0.1", port)), None)
        .await?;
    let (client, _) = lp
        .create_datagram_endpoint(factory("client", false), None, Some(("127.0.0.1", port)))
        .await?;
    client.sendto(b"ping", None)?;
    let has = |l: &str| log.borrow().iter().any(|x| x == l);
    until("the echo", || has("client: data ping")).await?;
    client.close();
    echo.close();
    until("connection_lost", || {
        has("client: lost(None)") && has("echo: lost(None)")
    })
    .await?;
    assert_eq!(log.borrow().len(), 6, "{:?}", log.borrow());
    println!(
        "port {}: echoed",
        if port == echo.sockname().unwrap().port() {
            "reused"
        } else {
            "changed"
        }
    );
    let tasks: Vec<String> = asyncio::all_tasks().iter().map(|t| t.get_name()).collect();
    println!("tasks left: {tasks:?}");
    Ok(())
}
