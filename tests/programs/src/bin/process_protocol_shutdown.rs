//! Cancellation and the loop's shutdown with a `SubprocessProtocol`: a
//! cancelled `subprocess_exec` gives `Cancelled` and calls no factory; a
//! child still running when `main` returns is killed by its driver, whose
//! protocol gets `pipe_connection_lost(1, Cancelled)` and
//! `connection_lost(Cancelled)`, and no `process_exited`.
use asyncio::subprocess::{Options, Stdio, SubprocessProtocol};

struct Report;

impl SubprocessProtocol for Report {
    fn pipe_connection_lost(&mut self, fd: i32, error: Option<asyncio::Error>) {
        let cancelled = error.as_ref().is_some_and(asyncio::Error::is_cancelled);
        println!("pipe_connection_lost({fd}), cancelled: {cancelled}");
    }
    fn process_exited(&mut self) {
        println!("process_exited");
    }
    fn connection_lost(&mut self, error: Option<asyncio::Error>) {
        let cancelled = error.as_ref().is_some_and(asyncio::Error::is_cancelled);
        println!("connection_lost, cancelled: {cancelled}");
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = asyncio::get_running_loop();
    let me = asyncio::current_task().expect("main is a task");
    me.cancel();
    let cancelled = lp
        .subprocess_exec(
            || -> Report { panic!("factory called") },
            "sleep",
            ["30"],
            Options::new(),
        )
        .await;
    println!(
        "cancelled subprocess_exec: {}",
        cancelled.err().is_some_and(|e| e.is_cancelled())
    );
    me.uncancel();
    let options = Options::new().stdout(Stdio::Pipe);
    let (transport, _protocol) = lp
        .subprocess_exec(|| Report, "sleep", ["30"], options)
        .await?;
    asyncio::sleep(std::time::Duration::from_millis(50)).await?;
    println!(
        "returning with the child running: {:?}",
        transport.get_returncode()
    );
    Ok(())
}
