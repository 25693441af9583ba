//! `loop.subprocess_exec` with a `SubprocessProtocol`, over `cat`: the
//! protocol writes to stdin, gets the bytes back on fd 1, then closes stdin
//! (write_eof); cat exits 0. Checks asyncio's call order: connection_made
//! first; per pipe, data before its one pipe_connection_lost; process_exited
//! once with the returncode known; connection_lost(None) once, last.
use std::cell::RefCell;
use std::rc::Rc;

use asyncio::subprocess::{Options, Stdio, SubprocessProtocol, SubprocessTransport};

const MESSAGE: &[u8] = b"hello, protocol\n";

struct Cat {
    log: Rc<RefCell<Vec<String>>>,
    transport: Option<SubprocessTransport>,
    echoed: Vec<u8>,
    done: asyncio::Future<()>,
}

impl SubprocessProtocol for Cat {
    fn connection_made(&mut self, transport: SubprocessTransport) {
        self.log.borrow_mut().push("made".into());
        let stdin = transport.get_pipe_transport(0).expect("stdin is piped");
        assert!(transport.get_pipe_transport(1).is_none());
        stdin.write(MESSAGE).unwrap();
        self.transport = Some(transport);
    }
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        self.log.borrow_mut().push(format!("data {fd}"));
        self.echoed.extend_from_slice(data);
        if fd == 1 && self.echoed == MESSAGE {
            // Everything came back: now the child may see EOF.
            let t = self.transport.as_ref().unwrap();
            assert_eq!(t.get_returncode(), None, "cat exited before EOF");
            let stdin = t.get_pipe_transport(0).unwrap();
            stdin.write_eof();
            assert!(stdin.is_closing());
            assert!(stdin.write(b"late").is_err());
        }
    }
    fn pipe_connection_lost(&mut self, fd: i32, error: Option<asyncio::Error>) {
        self.log.borrow_mut().push(format!("lost {fd} {error:?}"));
    }
    fn process_exited(&mut self) {
        let code = self.transport.as_ref().unwrap().get_returncode();
        self.log.borrow_mut().push(format!("exited {code:?}"));
    }
    fn connection_lost(&mut self, error: Option<asyncio::Error>) {
        self.log
            .borrow_mut()
            .push(format!("connection_lost {error:?}"));
        self.done.set_result(()).unwrap();
    }
}

/// Checks the order and prints what happened per pipe.
fn summary(log: &[String]) {
    let fail = |why: &str| panic!("{why}: {log:#?}");
    if log.first().map(String::as_str) != Some("made") {
        fail("connection_made is not first");
    }
    if log.iter().filter(|e| e.starts_with("made")).count() != 1 {
        fail("connection_made more than once");
    }
    let last = log.last().unwrap();
    if !last.starts_with("connection_lost")
        || log
            .iter()
            .filter(|e| e.starts_with("connection_lost"))
            .count()
            != 1
    {
        fail("connection_lost is not last, once");
    }
    let exited: Vec<&String> = log.iter().filter(|e| e.starts_with("exited")).collect();
    if exited.len() != 1 {
        fail("process_exited not exactly once");
    }
    for fd in 0..3 {
        let lost = log
            .iter()
            .position(|e| e.starts_with(&format!("lost {fd} ")));
        let Some(lost) = lost else {
            fail(&format!("no pipe_connection_lost({fd})"))
        };
        if log
            .iter()
            .filter(|e| e.starts_with(&format!("lost {fd} ")))
            .count()
            != 1
        {
            fail(&format!("pipe_connection_lost({fd}) more than once"));
        }
        if log[lost..].iter().any(|e| *e == format!("data {fd}")) {
            fail(&format!("data on {fd} after its pipe_connection_lost"));
        }
        let data = log.iter().filter(|e| **e == format!("data {fd}")).count();
        println!(
            "fd {fd}: {} data, {}",
            if data > 0 { "some" } else { "no" },
            &log[lost][7..]
        );
    }
    println!("{}", exited[0]);
    println!("{last}, last");
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = asyncio::get_running_loop();
    let log = Rc::new(RefCell::new(Vec::new()));
    let done = lp.create_future::<()>();
    let options = Options::new()
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Pipe);
    let (transport, protocol) = lp
        .subprocess_exec(
            || Cat {
                log: log.clone(),
                transport: None,
                echoed: Vec::new(),
                done: done.clone(),
            },
            "cat",
            ["-"],
            options,
        )
        .await?;
    // connection_made has run when subprocess_exec returns.
    assert_eq!(log.borrow().as_slice(), ["made"]);
    assert!(transport.get_pid() > 0);
    done.await?;
    summary(&log.borrow());
    println!(
        "echoed {:?}, returncode {:?}, stdin transport after close: {:?}",
        String::from_utf8_lossy(&protocol.borrow().echoed),
        transport.get_returncode(),
        transport.get_pipe_transport(0).map(|_| ())
    );
    Ok(())
}
