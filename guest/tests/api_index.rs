//! docs/api-index.md cannot drift from the SDK.
//!
//! Every Rust path the index writes in backticks (`asyncio::...`) is
//! named in this file, in code that must compile, so a path that stops
//! existing breaks this test's build. And
//! [`every_path_of_the_index_is_checked_here`] reads the index (and the
//! other pages in [`PAGES`]: exceptions.md, developing.md) and fails for
//! any path this file does not name, so a path added to a page needs its
//! check here. [`every_row_of_the_index_maps_its_name`] checks the
//! index's rows: each says an SDK path, *missing* or *not applicable*.
//!
//! The forms, section by section as in the index:
//!
//! - `use PATH as _;` for types, traits, modules, functions, macros,
//!   constants and enum variants;
//! - `let _ = PATH;` for a method that is not generic (a function item);
//! - `let _: fn(..) -> .. = PATH;` for a method of a generic type or a
//!   trait (the annotation picks the type), and a call, with arguments
//!   of the right types, for a generic method (its type parameters come
//!   from the arguments). The calls are in functions that never run.
//!
//! Everything here exists natively as well as for `wasm32-wasip2` (the
//! crate's `cfg`s change function bodies, not which items exist), so this
//! runs with the guest crate's other native tests:
//! `cargo test -p asyncio --test api_index`.

// Nothing here runs but the two tests at the end; the `use ... as _`
// lines only have to resolve.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;
use std::time::Duration;

use asyncio::queues::{BaseQueue, Fifo};
use asyncio::transports::{
    BaseProtocol, BufferedProtocol, DatagramProtocol, DatagramTransport, Protocol,
    SubprocessProtocol, SubprocessTransport, Transport,
};

// ---- Runners ----

use asyncio::Runner as _;
use asyncio::main as _;

async fn runners() -> asyncio::Result<()> {
    let _ = asyncio::Runner::debug;
    let _ = asyncio::Runner::eager_tasks;
    let _ = asyncio::Runner::slow_callback_duration;
    asyncio::Runner::run(asyncio::Runner::new(), async { Ok(()) }).await?;
    let _ = asyncio::get_running_loop;
    Ok(())
}

// ---- Tasks ----

use asyncio::AsCompleted as _;
use asyncio::CallbackId as _;
use asyncio::ReturnWhen::AllCompleted as _;
use asyncio::ReturnWhen::FirstCompleted as _;
use asyncio::ReturnWhen::FirstException as _;
use asyncio::Task as _;
use asyncio::TaskGroup as _;
use asyncio::TaskRef as _;
use asyncio::Timeout as _;
use asyncio::all_tasks as _;
use asyncio::current_task as _;
use asyncio::print_call_graph as _;
use asyncio::sleep as _;
use asyncio::sleep_until as _;
use asyncio::yield_now as _;

async fn tasks(task: asyncio::Task<u8>) -> asyncio::Result<()> {
    let t = asyncio::create_task(async { Ok(1) });
    drop(asyncio::create_named_task("name", async { Ok(1) }));
    drop(asyncio::create_eager_task(async { Ok(1) }));
    let _ = asyncio::TaskRef::cancel;
    let _ = asyncio::TaskRef::cancelled;
    let _ = asyncio::TaskRef::done;
    let _ = asyncio::TaskRef::exception;
    let _ = asyncio::TaskRef::remove_done_callback;
    let _ = asyncio::TaskRef::get_name;
    let _ = asyncio::TaskRef::cancelling;
    let _ = asyncio::TaskRef::uncancel;
    let _ = asyncio::TaskRef::awaiting;
    asyncio::TaskRef::cancel_with(&t, "why");
    asyncio::TaskRef::add_done_callback(&t, |_| {});
    asyncio::TaskRef::set_name(&t, "new name");
    let _: fn(&asyncio::Task<u8>) -> asyncio::Result<u8> = asyncio::Task::result;
    let _: fn(&asyncio::Task<u8>) -> asyncio::Result<u8> = asyncio::Task::take_result;

    let _ = asyncio::gather([async { Ok(1) }]).await?;
    let _ = asyncio::gather_all([async { Ok(1) }]).await;
    let _ = asyncio::gather!(async { Ok(1) }, async { Ok("one") }).await?;
    asyncio::shield(async { Ok(()) }).await?;
    asyncio::wait_for(Duration::ZERO, async { Ok(()) }).await?;
    let _ = asyncio::wait([task], asyncio::ReturnWhen::AllCompleted, None).await?;
    let mut done = asyncio::as_completed([async { Ok(1) }]);
    let _ = asyncio::AsCompleted::next(&mut done).await;
    let _ = asyncio::AsCompleted::timeout(done, Duration::ZERO);

    asyncio::timeout(Duration::ZERO, async { Ok(()) }).await?;
    asyncio::timeout_at(None, async { Ok(()) }).await?;
    let handle = asyncio::Timeout::after(Duration::ZERO);
    let _ = asyncio::Timeout::at;
    let _ = asyncio::Timeout::when;
    let _ = asyncio::Timeout::reschedule;
    let _ = asyncio::Timeout::expired;
    asyncio::Timeout::run(handle, async { Ok(()) }).await?;

    asyncio::TaskGroup::run(|tg| async move {
        drop(asyncio::TaskGroup::create_task(&tg, async { Ok(1) })?);
        drop(asyncio::TaskGroup::create_named_task(
            &tg,
            "child",
            async { Ok(1) },
        )?);
        Ok(())
    })
    .await?;
    let _ = asyncio::Runner::eager_tasks;
    Ok(())
}

// ---- Call graph introspection ----

use asyncio::CallGraph as _;
use asyncio::capture_call_graph as _;
use asyncio::format_call_graph as _;
use asyncio::task_dump as _;
use asyncio::task_table as _;

// ---- Queues ----

use asyncio::LifoQueue as _;
use asyncio::PriorityQueue as _;
use asyncio::Queue as _;
use asyncio::queues::PutError as _;

async fn queues(q: asyncio::Queue<u8>) -> asyncio::Result<()> {
    asyncio::queues::BaseQueue::put(&*q, 1).await?;
    let _ = asyncio::queues::BaseQueue::get(&*q).await?;
    let _ = asyncio::queues::BaseQueue::put_nowait(&*q, 1);
    let _: fn(&BaseQueue<u8, Fifo<u8>>) -> asyncio::Result<u8> =
        asyncio::queues::BaseQueue::get_nowait;
    let _: fn(&BaseQueue<u8, Fifo<u8>>) -> usize = asyncio::queues::BaseQueue::qsize;
    let _: fn(&BaseQueue<u8, Fifo<u8>>) -> bool = asyncio::queues::BaseQueue::empty;
    let _: fn(&BaseQueue<u8, Fifo<u8>>) -> bool = asyncio::queues::BaseQueue::full;
    let _: fn(&BaseQueue<u8, Fifo<u8>>) -> usize = asyncio::queues::BaseQueue::maxsize;
    let _: fn(&BaseQueue<u8, Fifo<u8>>) -> asyncio::Result<()> =
        asyncio::queues::BaseQueue::task_done;
    asyncio::queues::BaseQueue::join(&*q).await?;
    let _: fn(&BaseQueue<u8, Fifo<u8>>, bool) = asyncio::queues::BaseQueue::shutdown;
    Ok(())
}

// ---- Subprocesses ----

use asyncio::Process as _;
use asyncio::subprocess::Options as _;
use asyncio::subprocess::Stdio::Null as _;
use asyncio::subprocess::Stdio::Pipe as _;
use asyncio::subprocess::Stdio::Stdout as _;

async fn subprocesses(options: asyncio::subprocess::Options) -> asyncio::Result<()> {
    let mut p = asyncio::create_subprocess_exec("cat", ["-"], options.clone()).await?;
    let _ = asyncio::create_subprocess_shell("true", options).await?;
    let _ = asyncio::Process::wait;
    let _ = asyncio::Process::communicate;
    let _ = asyncio::Process::send_signal;
    let _ = asyncio::Process::terminate;
    let _ = asyncio::Process::kill;
    let _ = asyncio::Process::pid;
    let _ = asyncio::Process::returncode;
    let _ = (p.stdin.take(), p.stdout.take(), p.stderr.take());
    Ok(())
}

// ---- Streams ----

use asyncio::Server as _;
use asyncio::StreamReader as _;
use asyncio::StreamWriter as _;
use asyncio::open_connection as _;
use asyncio::open_connection_ssl as _;
use asyncio::open_unix_connection as _;
use asyncio::streams::open_connection_with_limit as _;
use asyncio::streams::stderr as _;
use asyncio::streams::stdin as _;
use asyncio::streams::stdout as _;

async fn streams() -> asyncio::Result<()> {
    let handler = |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| async { Ok(()) };
    let ctx = asyncio::ssl::SslContext::server("web");
    let _ = asyncio::start_server(handler, "127.0.0.1", 0).await?;
    let _ = asyncio::streams::start_server_with(handler, "127.0.0.1", 0, 1024).await?;
    let _ = asyncio::start_server_ssl(handler, "127.0.0.1", 0, &ctx).await?;
    let _ = asyncio::start_unix_server(handler, "/run/app.sock").await?;

    let _ = asyncio::StreamReader::read;
    let _ = asyncio::StreamReader::read_to_end;
    let _ = asyncio::StreamReader::readline;
    let _ = asyncio::StreamReader::readexactly;
    let _ = asyncio::StreamReader::readuntil;
    let _ = asyncio::StreamReader::at_eof;
    let _ = asyncio::StreamReader::feed_data;
    let _ = asyncio::StreamReader::feed_eof;

    let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", 1).await?;
    let _ = asyncio::StreamWriter::write;
    asyncio::StreamWriter::writelines(&mut writer, [b"a", b"b"])?;
    let _ = asyncio::StreamWriter::drain;
    let _ = asyncio::StreamWriter::close;
    let _ = asyncio::StreamWriter::wait_closed;
    let _ = asyncio::StreamWriter::is_closing;
    let _ = asyncio::StreamWriter::can_write_eof;
    let _ = asyncio::StreamWriter::write_eof;
    let _ = asyncio::StreamWriter::peername;
    let _ = asyncio::StreamWriter::sockname;
    let _ = asyncio::StreamWriter::ssl_object;
    let _ = asyncio::StreamWriter::unix_path;
    let _ = asyncio::StreamWriter::abort;
    let _ = asyncio::StreamWriter::sendfile;
    asyncio::StreamWriter::start_tls(&mut writer, &mut reader, &ctx).await?;

    let _ = asyncio::Server::close;
    let _ = asyncio::Server::close_clients;
    let _ = asyncio::Server::abort_clients;
    let _ = asyncio::Server::serve_forever;
    let _ = asyncio::Server::is_serving;
    let _ = asyncio::Server::wait_closed;
    let _ = asyncio::Server::sockets;
    let _ = asyncio::Server::path;
    Ok(())
}

// ---- Synchronization ----

use asyncio::Barrier as _;
use asyncio::BoundedSemaphore as _;
use asyncio::Condition as _;
use asyncio::Event as _;
use asyncio::Lock as _;
use asyncio::Semaphore as _;
use asyncio::sync::LockGuard as _;
use asyncio::sync::SemaphorePermit as _;

async fn synchronization(cond: asyncio::Condition) -> asyncio::Result<()> {
    let _ = asyncio::Lock::acquire;
    let _ = asyncio::Lock::try_acquire;
    let _ = asyncio::sync::LockGuard::release;
    let _ = asyncio::Lock::locked;

    let _ = asyncio::Event::wait;
    let _ = asyncio::Event::set;
    let _ = asyncio::Event::clear;
    let _ = asyncio::Event::is_set;

    let _ = asyncio::Condition::with_lock;
    let _ = asyncio::Condition::acquire;
    let _ = asyncio::Condition::locked;
    let _ = asyncio::Condition::wait;
    let mut guard = cond.acquire().await?;
    asyncio::Condition::wait_for(&cond, &mut guard, || true).await?;
    let _ = asyncio::Condition::notify;
    let _ = asyncio::Condition::notify_all;

    let _ = asyncio::Semaphore::acquire;
    let _ = asyncio::Semaphore::try_acquire;
    let _ = asyncio::Semaphore::release;
    let _ = asyncio::sync::SemaphorePermit::release;
    let _ = asyncio::Semaphore::locked;
    let _ = asyncio::BoundedSemaphore::release;

    let _ = asyncio::Barrier::wait;
    let _ = asyncio::Barrier::reset;
    let _ = asyncio::Barrier::abort;
    let _ = asyncio::Barrier::parties;
    let _ = asyncio::Barrier::n_waiting;
    let _ = asyncio::Barrier::broken;
    Ok(())
}

// ---- Exceptions ----

use asyncio::Error as _;
use asyncio::ErrorKind::BrokenBarrier as _;
use asyncio::ErrorKind::Cancelled as _;
use asyncio::ErrorKind::IncompleteRead as _;
use asyncio::ErrorKind::InvalidState as _;
use asyncio::ErrorKind::LimitOverrun as _;
use asyncio::ErrorKind::QueueEmpty as _;
use asyncio::ErrorKind::QueueFull as _;
use asyncio::ErrorKind::QueueShutDown as _;
use asyncio::ErrorKind::SendfileNotAvailable as _;
use asyncio::ErrorKind::Timeout as _;

fn exceptions() {
    let _ = asyncio::Error::is_timeout;
    let _ = asyncio::Error::is_cancelled;
}

// ---- Futures ----

use asyncio::Future as _;

fn futures() {
    let f = asyncio::Future::<u8>::new();
    let _: fn() -> asyncio::Future<u8> = asyncio::Future::new;
    let _: fn(&asyncio::Future<u8>) -> asyncio::Result<u8> = asyncio::Future::result;
    let _: fn(&asyncio::Future<u8>) -> asyncio::Result<u8> = asyncio::Future::take_result;
    let _: fn(&asyncio::Future<u8>, u8) -> asyncio::Result<()> = asyncio::Future::set_result;
    let _: fn(&asyncio::Future<u8>, asyncio::Error) -> asyncio::Result<()> =
        asyncio::Future::set_exception;
    let _: fn(&asyncio::Future<u8>) -> bool = asyncio::Future::done;
    let _: fn(&asyncio::Future<u8>) -> bool = asyncio::Future::cancelled;
    let _: fn(&asyncio::Future<u8>) -> bool = asyncio::Future::cancel;
    let _: fn(&asyncio::Future<u8>) -> asyncio::Result<Option<asyncio::Error>> =
        asyncio::Future::exception;
    asyncio::Future::add_done_callback(&f, |_| {});
    asyncio::Future::cancel_with(&f, "why");
}

// ---- Obtaining the event loop ----

use asyncio::Loop as _;
use asyncio::try_get_running_loop as _;

fn obtaining_the_loop() {
    let _ = asyncio::testing::TestLoop::new;
}

// ---- Event loop methods ----

use asyncio::ExceptionContext as _;
use asyncio::Handle as _;
use asyncio::Instant as _;
use asyncio::TimerHandle as _;
use asyncio::net::Socket as _;
use asyncio::net::UdpSocket as _;
use asyncio::net::getnameinfo as _;
use asyncio::signals::Signal as _;

struct P;
impl BaseProtocol for P {}
impl Protocol for P {}

struct B;
impl BaseProtocol for B {}
impl BufferedProtocol for B {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        &mut []
    }
    fn buffer_updated(&mut self, _nbytes: usize) {}
}

struct D;
impl DatagramProtocol for D {}

struct S;
impl SubprocessProtocol for S {}

#[allow(clippy::too_many_arguments)]
async fn loop_methods(
    lp: asyncio::Loop,
    file: &mut std::fs::File,
    transport: Transport,
    sock: asyncio::net::Socket,
    udp: asyncio::net::UdpSocket,
    addr: SocketAddr,
    options: asyncio::subprocess::Options,
) -> asyncio::Result<()> {
    // Lifecycle and debugging.
    let _ = asyncio::Loop::is_running;
    let _ = asyncio::Loop::is_closed;
    let _ = asyncio::Loop::set_debug;
    let _ = asyncio::Loop::get_debug;
    let _ = asyncio::Loop::set_slow_callback_duration;

    // Scheduling callbacks.
    let _ = asyncio::Loop::call_soon(&lp, || {});
    let _ = asyncio::Loop::call_later(&lp, Duration::ZERO, || {});
    let _ = asyncio::Loop::call_at(&lp, asyncio::Instant::now(), || {});
    let _ = asyncio::Loop::time;
    let _ = asyncio::Handle::cancel;
    let _ = asyncio::Handle::cancelled;
    let _ = asyncio::TimerHandle::cancel;
    let _ = asyncio::TimerHandle::cancelled;
    let _ = asyncio::TimerHandle::when;

    // Tasks and futures.
    let future: asyncio::Future<u8> = asyncio::Loop::create_future(&lp);
    drop(future);
    drop(asyncio::Loop::create_task(&lp, async { Ok(1) }));

    // DNS.
    let _ = asyncio::net::getaddrinfo("localhost", 80).await?;
    let _ = asyncio::net::GetAddrInfo::family;

    // Networking and IPC.
    let ctx = asyncio::ssl::SslContext::client();
    let _ = asyncio::Loop::create_connection(&lp, || P, "127.0.0.1", 1).await?;
    let _ = asyncio::Loop::create_buffered_connection(&lp, || B, "127.0.0.1", 1).await?;
    let _ = asyncio::Loop::create_connection_ssl(&lp, || P, "127.0.0.1", 1, &ctx).await?;
    let _ = asyncio::Loop::create_server(&lp, || P, "127.0.0.1", 0).await?;
    let _ = asyncio::Loop::create_buffered_server(&lp, || B, "127.0.0.1", 0).await?;
    let server_ctx = asyncio::ssl::SslContext::server("web");
    let _ = asyncio::Loop::create_server_ssl(&lp, || P, "127.0.0.1", 0, &server_ctx).await?;
    let _ = asyncio::Loop::create_unix_connection(&lp, || P, "/run/app.sock").await?;
    let _ = asyncio::Loop::create_unix_server(&lp, || P, "/run/app.sock").await?;
    let local = Some(("127.0.0.1", 0));
    let _ = asyncio::Loop::create_datagram_endpoint(&lp, || D, local, None).await?;
    let _ = asyncio::Loop::sendfile(&lp, &transport, file, 0, None).await?;
    let _ = asyncio::Loop::connect_read_pipe(&lp, || P, asyncio::streams::stdin()).await?;
    let _ = asyncio::Loop::connect_write_pipe(&lp, || P, asyncio::streams::stdout()).await?;

    // Sockets.
    let _ = asyncio::Loop::sock_recv(&lp, &sock, 1).await?;
    let _ = asyncio::Loop::sock_recv_into(&lp, &sock, &mut [0; 4]).await?;
    let _ = asyncio::Loop::sock_recvfrom(&lp, &udp, 1).await?;
    asyncio::Loop::sock_sendall(&lp, &sock, b"x").await?;
    let _ = asyncio::Loop::sock_sendto(&lp, &udp, b"x", addr).await?;
    asyncio::Loop::sock_connect(&lp, &sock, addr).await?;
    let _ = asyncio::Loop::sock_accept(&lp, &sock).await?;

    // Unix signals.
    asyncio::Loop::add_signal_handler(&lp, asyncio::signals::Signal::SIGTERM, || {})?;
    let _ = asyncio::Loop::remove_signal_handler;

    // Subprocesses.
    let _ = asyncio::Loop::subprocess_exec(&lp, || S, "cat", ["-"], options.clone()).await?;
    let _ = asyncio::Loop::subprocess_shell(&lp, || S, "true", options).await?;

    // Error handling.
    let _ = asyncio::Loop::call_exception_handler;
    asyncio::Loop::set_exception_handler(&lp, Some(|_: &asyncio::Loop, _: &_| {}));
    let _ = asyncio::Loop::default_exception_handler;
    Ok(())
}

// ---- Transports ----

use asyncio::transports::DatagramTransport as _;
use asyncio::transports::PipeTransport as _;
use asyncio::transports::SubprocessTransport as _;
use asyncio::transports::Transport as _;

fn transports(transport: Transport) -> asyncio::Result<()> {
    let _ = asyncio::transports::Transport::close;
    let _ = asyncio::transports::Transport::is_closing;
    let _ = asyncio::transports::Transport::get_extra_info;
    let _ = asyncio::transports::Transport::ssl_object;
    let _ = asyncio::transports::Transport::is_reading;
    let _ = asyncio::transports::Transport::pause_reading;
    let _ = asyncio::transports::Transport::resume_reading;
    let _ = asyncio::transports::Transport::write;
    asyncio::transports::Transport::writelines(&transport, [b"a", b"b"])?;
    let _ = asyncio::transports::Transport::can_write_eof;
    let _ = asyncio::transports::Transport::write_eof;
    let _ = asyncio::transports::Transport::abort;
    let _ = asyncio::transports::Transport::get_write_buffer_size;
    let _ = asyncio::transports::Transport::get_write_buffer_limits;
    let _ = asyncio::transports::Transport::set_write_buffer_limits;

    let _ = asyncio::transports::DatagramTransport::close;
    let _ = asyncio::transports::DatagramTransport::is_closing;
    let _ = asyncio::transports::DatagramTransport::get_extra_info;
    let _ = asyncio::transports::DatagramTransport::abort;
    let _ = asyncio::transports::DatagramTransport::sendto;

    let _ = asyncio::transports::SubprocessTransport::get_pid;
    let _ = asyncio::transports::SubprocessTransport::get_pipe_transport;
    let _ = asyncio::transports::SubprocessTransport::get_returncode;
    let _ = asyncio::transports::SubprocessTransport::send_signal;
    let _ = asyncio::transports::SubprocessTransport::terminate;
    let _ = asyncio::transports::SubprocessTransport::kill;
    let _ = asyncio::transports::SubprocessTransport::close;
    Ok(())
}

// ---- Protocols ----

use asyncio::transports::BaseProtocol as _;
use asyncio::transports::BufferedProtocol as _;
use asyncio::transports::DatagramProtocol as _;
use asyncio::transports::Protocol as _;
use asyncio::transports::SubprocessProtocol as _;

fn protocols() {
    let _: fn(&mut P, Transport) = asyncio::transports::BaseProtocol::connection_made;
    let _: fn(&mut P, Option<asyncio::Error>) = asyncio::transports::BaseProtocol::connection_lost;
    let _: fn(&mut P) = asyncio::transports::BaseProtocol::pause_writing;
    let _: fn(&mut P) = asyncio::transports::BaseProtocol::resume_writing;
    let _: fn(&mut P, &[u8]) = asyncio::transports::Protocol::data_received;
    let _: fn(&mut P) -> bool = asyncio::transports::Protocol::eof_received;

    let _: fn(&mut B) -> bool = asyncio::transports::BufferedProtocol::eof_received;
    let _: fn(&mut B, usize) -> &mut [u8] = asyncio::transports::BufferedProtocol::get_buffer;
    let _: fn(&mut B, usize) = asyncio::transports::BufferedProtocol::buffer_updated;

    let _: fn(&mut D, DatagramTransport) = asyncio::transports::DatagramProtocol::connection_made;
    let _: fn(&mut D, Option<asyncio::Error>) =
        asyncio::transports::DatagramProtocol::connection_lost;
    let _: fn(&mut D, &[u8], SocketAddr) = asyncio::transports::DatagramProtocol::datagram_received;
    let _: fn(&mut D, asyncio::Error) = asyncio::transports::DatagramProtocol::error_received;

    let _: fn(&mut S, SubprocessTransport) =
        asyncio::transports::SubprocessProtocol::connection_made;
    let _: fn(&mut S, Option<asyncio::Error>) =
        asyncio::transports::SubprocessProtocol::connection_lost;
    let _: fn(&mut S, i32, &[u8]) = asyncio::transports::SubprocessProtocol::pipe_data_received;
    let _: fn(&mut S, i32, Option<asyncio::Error>) =
        asyncio::transports::SubprocessProtocol::pipe_connection_lost;
    let _: fn(&mut S) = asyncio::transports::SubprocessProtocol::process_exited;
}

// ---- docs/exceptions.md ----

use asyncio::ErrorKind as _;
use asyncio::ErrorKind::Group as _;
use asyncio::ErrorKind::Io as _;
use asyncio::ErrorKind::KeyboardInterrupt as _;
use asyncio::ErrorKind::Other as _;
use asyncio::ErrorKind::PermissionDenied as _;
use asyncio::ErrorKind::Runtime as _;
use asyncio::ErrorKind::Ssl as _;
use asyncio::ErrorKind::Value as _;
use asyncio::ssl::SslErrorKind::CertVerification as _;
use asyncio::ssl::SslErrorKind::Handshake as _;
use asyncio::ssl::SslErrorKind::HandshakeTimeout as _;

fn errors(e: asyncio::Error) {
    let _ = asyncio::Error::kind;
    let _ = asyncio::Error::cancel_message;
    let _ = asyncio::Error::group_errors;
    let _ = asyncio::Error::same_as;
    let _ = asyncio::Error::msg("boom");
    let _: Option<&std::io::Error> = asyncio::Error::downcast_ref(&e);
}

// ---- docs/developing.md ----

use asyncio::TaskInfo as _;
use asyncio::queues as _;
use asyncio::runner::DEBUG_ENV as _;
use asyncio::sync as _;
use asyncio::testing::TestLoop as _;

fn developing() {
    let _ = asyncio::testing::run_virtual(asyncio::Runner::new(), async { Ok(()) });
}

// ---- The check ----

/// The pages whose `asyncio::` paths must be named in this file.
const PAGES: &[&str] = &["api-index.md", "exceptions.md", "developing.md"];

/// Every path written in backticks in `page` that starts `asyncio::`: the
/// longest run of identifier characters and `::` (so `asyncio::Task<T>`
/// gives `asyncio::Task`), with a macro's `!`. Fenced code blocks are
/// skipped.
fn backticked_paths(page: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut in_fence = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Odd pieces are inside backticks.
        for span in line.split('`').skip(1).step_by(2) {
            if !span.starts_with("asyncio::") {
                continue;
            }
            let end = span
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(span.len());
            let mut path = span[..end].trim_end_matches(':').to_string();
            if span[end..].starts_with('!') {
                path.push('!');
            }
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    paths
}

/// Whether `source` names `path` on its own: not as part of a longer
/// path or name (`asyncio::Loop` is not named by `asyncio::Loop::time`,
/// nor a function `asyncio::gather` by the macro `asyncio::gather!`).
fn names(source: &str, path: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    source.match_indices(path).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + path.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(|c| part(c) || c == '!')
    })
}

#[test]
fn every_path_of_the_index_is_checked_here() {
    let this = include_str!("api_index.rs");
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut unchecked = Vec::new();
    for page in PAGES {
        let text = std::fs::read_to_string(docs.join(page))
            .unwrap_or_else(|e| panic!("cannot read docs/{page}: {e}"));
        let paths = backticked_paths(&text);
        assert!(
            paths.len() > 100 || *page != "api-index.md",
            "docs/api-index.md names only {} paths: did its format change?",
            paths.len()
        );
        unchecked.extend(
            paths
                .into_iter()
                .filter(|p| !names(this, p))
                .map(|p| format!("docs/{page}: {p}")),
        );
    }
    assert!(
        unchecked.is_empty(),
        "paths in the docs that guest/tests/api_index.rs does not name (add a \
         compile check for each):\n  {}",
        unchecked.join("\n  ")
    );
}

/// Every row of the index says what the name is here: an SDK path,
/// *missing* or *not applicable*; and no Python name has two rows.
#[test]
fn every_row_of_the_index_maps_its_name() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let text = std::fs::read_to_string(docs.join("api-index.md")).unwrap();
    let mut seen = std::collections::HashSet::new();
    let (mut sdk, mut missing, mut not_applicable) = (0, 0, 0);
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        // Cells are split on `|` not escaped as `\|`.
        let cells: Vec<&str> = line
            .split(" | ")
            .map(|c| c.trim_matches(|c: char| c == '|' || c.is_whitespace()))
            .collect();
        assert!(cells.len() >= 3, "a row with fewer than 3 cells: {line}");
        let name = cells[0];
        assert!(seen.insert(name), "{name} has two rows");
        match cells[1] {
            "*missing*" => missing += 1,
            "*not applicable*" => not_applicable += 1,
            sdk_item if sdk_item.starts_with("`asyncio::") => sdk += 1,
            other => panic!("{name}: the SDK column is {other:?}"),
        }
        if cells[1].starts_with('*') {
            assert!(
                !cells[2].is_empty() || cells[1] == "*missing*",
                "{name} is not applicable: say why"
            );
        }
    }
    println!("{sdk} rows map to SDK items, {missing} missing, {not_applicable} not applicable");
    assert!(sdk > 200 && missing > 0 && not_applicable > 0);
}
