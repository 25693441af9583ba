//! `connect_read_pipe` over stdin and `connect_write_pipe` over stdout:
//! the read pipe's protocol sees the input and its end, then everything it
//! saw goes out through the write pipe (the only writer of stdout here),
//! whose protocol sees its close.
use std::cell::RefCell;
use std::rc::Rc;

use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{Error, get_running_loop};
use test_programs::until;

type Log = Rc<RefCell<Vec<String>>>;

struct Probe {
    log: Log,
    transport: Option<Transport>,
}

impl BaseProtocol for Probe {
    fn connection_made(&mut self, transport: Transport) {
        self.log.borrow_mut().push("made".into());
        self.transport = Some(transport);
    }

    fn connection_lost(&mut self, e: Option<Error>) {
        let how = e.map_or("None".to_owned(), |e| format!("{:?}", e.kind()));
        self.log.borrow_mut().push(format!("lost({how})"));
        self.transport = None;
    }
}

impl Protocol for Probe {
    fn data_received(&mut self, data: &[u8]) {
        let text = String::from_utf8_lossy(data).replace('\n', "|");
        self.log.borrow_mut().push(format!("data {text}"));
    }

    fn eof_received(&mut self) -> bool {
        self.log.borrow_mut().push("eof".into());
        true // asks to stay open: a read pipe ends anyway
    }
}

async fn until_lost(log: &Log) -> asyncio::Result<()> {
    until("connection_lost", || {
        log.borrow().iter().any(|l| l.starts_with("lost"))
    })
    .await
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let read_log: Log = Rc::default();
    let l = read_log.clone();
    let factory = move || Probe {
        log: l,
        transport: None,
    };
    let (input, _p) = lp
        .connect_read_pipe(factory, asyncio::streams::stdin())
        .await?;
    let refused = input.write(b"x").unwrap_err().to_string();
    until_lost(&read_log).await?;

    let write_log: Log = Rc::default();
    let l = write_log.clone();
    let factory = move || Probe {
        log: l,
        transport: None,
    };
    let (output, _p) = lp
        .connect_write_pipe(factory, asyncio::streams::stdout())
        .await?;
    output.write(format!("read pipe: {}\n", read_log.borrow().join(", ")).as_bytes())?;
    output.write(format!("write on it: {refused}\n").as_bytes())?;
    let big = vec![b'.'; 300_000];
    output.write(&big)?;
    output.write(b"\n")?;
    output.close();
    until_lost(&write_log).await?;
    eprintln!("write pipe: {}", write_log.borrow().join(", "));
    Ok(())
}
