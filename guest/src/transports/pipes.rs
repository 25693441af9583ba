//! `loop.connect_read_pipe` and `loop.connect_write_pipe`: a protocol over
//! one direction of bytes, the program's stdin or stdout
//! ([`crate::streams::stdin`], [`crate::streams::stdout`]) or a child's
//! pipes. The same [`Transport`] and [`Protocol`] as TCP's, with the other
//! direction absent:
//!
//! - **read pipe**: `connection_made`, `data_received`*, `eof_received`,
//!   then `connection_lost(None)` at the input's end (whatever
//!   `eof_received` answers, as asyncio's read pipe transport does);
//!   `pause_reading`/`resume_reading`, `close`; `write` fails;
//! - **write pipe**: `connection_made`, `pause_writing`/`resume_writing`
//!   as the buffer crosses its marks, `connection_lost(None)` once closed
//!   and flushed, or `connection_lost(Some(BrokenPipe))` when the reading
//!   end went away; `data_received` never comes.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::Protocol;
use super::connect::start;
use super::transport::{Plain, Transport};
use crate::errors::Result;
use crate::events::Loop;
use crate::net::tcp::ConnHandle;
use crate::streams::channel::{Inbox, OutState, Outbox};
use crate::streams::{StreamReader, StreamWriter};

/// The input of a write pipe's transport: nothing ever comes (closing
/// the transport ends it through its close signal).
struct NoInput;

impl Inbox for NoInput {
    fn poll_take(&self, _cx: &mut Context<'_>, _buf: &mut Vec<u8>) -> Poll<Result<bool>> {
        // The reader waits on its close signal too, which wakes it.
        Poll::Pending
    }
}

/// The output of a read pipe's transport: there is none (its transport
/// refuses writes before they reach it).
struct NoOutput;

impl Outbox for NoOutput {
    fn state(&self) -> OutState {
        OutState::Gone
    }
    fn send(&self, _data: &[u8]) -> usize {
        0
    }
    fn send_all(&self, _data: &[u8]) {}
    fn ask_progress(&self) {}
    fn unsent(&self) -> usize {
        0
    }
    fn on_progress(&self, _f: Box<dyn Fn()>) {}
}

impl Loop {
    /// Runs a protocol made by `factory` over `input` (asyncio's
    /// `loop.connect_read_pipe`; `input` is, for example,
    /// [`streams::stdin()`](crate::streams::stdin)). `connection_made`
    /// has run when it returns.
    pub async fn connect_read_pipe<P: Protocol>(
        &self,
        factory: impl FnOnce() -> P,
        mut input: StreamReader,
    ) -> Result<(Transport, Rc<RefCell<P>>)> {
        let closer = input.closer();
        let writer =
            StreamWriter::from_outbox(Rc::new(NoOutput), None, None, Rc::new(()), closer.clone());
        let conn = ConnHandle::new(closer, writer.handle());
        let protocol = Rc::new(RefCell::new(factory()));
        let transport = start(
            (input, writer, conn),
            Rc::new(Plain(protocol.clone())),
            true,
        );
        Ok((transport, protocol))
    }

    /// Runs a protocol made by `factory` over `output` (asyncio's
    /// `loop.connect_write_pipe`; `output` is, for example,
    /// [`streams::stdout()`](crate::streams::stdout)). Write with the
    /// transport; `connection_made` has run when it returns.
    pub async fn connect_write_pipe<P: Protocol>(
        &self,
        factory: impl FnOnce() -> P,
        output: StreamWriter,
    ) -> Result<(Transport, Rc<RefCell<P>>)> {
        let closer = Rc::new(Default::default());
        let input = StreamReader::from_inbox(Box::new(NoInput), Rc::clone(&closer));
        let conn = ConnHandle::new(closer, output.handle());
        let protocol = Rc::new(RefCell::new(factory()));
        let transport = start(
            (input, output, conn),
            Rc::new(Plain(protocol.clone())),
            false,
        );
        Ok((transport, protocol))
    }
}
