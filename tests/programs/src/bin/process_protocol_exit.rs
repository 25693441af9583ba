//! `loop.subprocess_exec` with a `SubprocessProtocol`: a non-zero exit with
//! output on fd 1 and fd 2, death by a signal (the transport's
//! send_signal/kill, and the child's own), and `close()` killing a child
//! that still runs.

use asyncio::subprocess::{Options, SIGTERM, Stdio, SubprocessProtocol, SubprocessTransport};

#[derive(Default)]
struct Record {
    transport: Option<SubprocessTransport>,
    out: [Vec<u8>; 3],
    lost: Vec<String>,
    exited: Vec<Option<i32>>,
    done: Option<asyncio::Future<()>>,
}

impl SubprocessProtocol for Record {
    fn connection_made(&mut self, transport: SubprocessTransport) {
        self.transport = Some(transport);
    }
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        assert!(!self.lost.iter().any(|l| l.starts_with(&fd.to_string())));
        self.out[fd as usize].extend_from_slice(data);
    }
    fn pipe_connection_lost(&mut self, fd: i32, error: Option<asyncio::Error>) {
        self.lost.push(format!("{fd} {error:?}"));
    }
    fn process_exited(&mut self) {
        self.exited
            .push(self.transport.as_ref().unwrap().get_returncode());
    }
    fn connection_lost(&mut self, error: Option<asyncio::Error>) {
        assert!(error.is_none(), "{error:?}");
        assert_eq!(
            self.exited.len(),
            1,
            "connection_lost before process_exited"
        );
        self.done.take().unwrap().set_result(()).unwrap();
    }
}

/// Runs `program args` with stdout and stderr piped; `act` gets the
/// transport once it runs. Prints what the protocol saw.
async fn run(
    label: &str,
    program: &str,
    args: &[&str],
    act: impl FnOnce(&SubprocessTransport),
) -> asyncio::Result<()> {
    let lp = asyncio::get_running_loop();
    let done = lp.create_future::<()>();
    let options = Options::new().stdout(Stdio::Pipe).stderr(Stdio::Pipe);
    let (transport, protocol) = lp
        .subprocess_exec(
            || Record {
                done: Some(done.clone()),
                ..Record::default()
            },
            program,
            args.iter().copied(),
            options,
        )
        .await?;
    assert!(
        transport.get_pipe_transport(0).is_none(),
        "stdin is not piped"
    );
    act(&transport);
    done.await?;
    let p = protocol.borrow();
    let mut lost = p.lost.clone();
    lost.sort();
    println!(
        "{label}: exited {:?}, stdout {:?}, stderr {:?}, lost {lost:?}, returncode {:?}",
        p.exited,
        String::from_utf8_lossy(&p.out[1]),
        String::from_utf8_lossy(&p.out[2]),
        transport.get_returncode(),
    );
    Ok(())
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    run(
        "exit 3",
        "sh",
        &["-c", "echo out; echo err >&2; exit 3"],
        |_| {},
    )
    .await?;
    run("kill -TERM self", "sh", &["-c", "kill -TERM $$"], |_| {}).await?;
    run("send_signal(SIGTERM)", "sleep", &["30"], |t| {
        t.send_signal(SIGTERM).unwrap()
    })
    .await?;
    run("kill()", "sleep", &["30"], |t| t.kill().unwrap()).await?;
    run("close()", "sleep", &["30"], |t| {
        t.close();
        assert!(t.is_closing());
    })
    .await?;
    Ok(())
}
