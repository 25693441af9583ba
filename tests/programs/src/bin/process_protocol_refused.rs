//! `loop.subprocess_exec` / `subprocess_shell` of what the host did not
//! grant: PermissionDenied, the protocol factory is never called, and the
//! program never runs. Args: the program and a file it would create.
use std::cell::Cell;
use std::rc::Rc;

use asyncio::ErrorKind;
use asyncio::subprocess::{Options, SubprocessProtocol};

struct Never;
impl SubprocessProtocol for Never {}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lp = asyncio::get_running_loop();
    let made = Rc::new(Cell::new(0));
    let m = made.clone();
    let factory = move || {
        m.set(m.get() + 1);
        Never
    };
    match lp
        .subprocess_exec(factory, &args[0], &args[1..], Options::new())
        .await
    {
        Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied(_)) => {
            println!("exec refused: {e}")
        }
        Err(e) => println!("exec: other error: {e:?}"),
        Ok((t, _)) => println!("exec ran, pid {}", t.get_pid()),
    }
    let m = made.clone();
    let factory = move || {
        m.set(m.get() + 1);
        Never
    };
    match lp.subprocess_shell(factory, "true", Options::new()).await {
        Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied(_)) => {
            println!("shell refused: {e}")
        }
        Err(e) => println!("shell: other error: {e:?}"),
        Ok((t, _)) => println!("shell ran, pid {}", t.get_pid()),
    }
    println!("factory called {} times", made.get());
    Ok(())
}
