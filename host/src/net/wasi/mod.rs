//! `wasi:sockets/types@0.3.0` for guests: TCP from [`super::tcp`], UDP
//! from [`super::udp`].
//!
//! wasmtime-wasi generates the interface's host traits and its
//! `add_to_linker`; this module implements those traits with its own
//! marker type, [`Sockets`], so the guest-facing interface is exactly the
//! standard one (`tcp` and `udp` here hold the two resources' glue).
//!
//! The generated traits name wasmtime-wasi's `TcpSocket` and `UdpSocket`
//! as the resource types. The resource table holds our sockets under the
//! same handles instead: a handle is only an index, and every lookup goes
//! through [`ours`], which asks the table for our type (the table checks
//! the type of every entry, so a mix-up is an error, never a wrong cast).

mod mux;
mod tcp;
mod udp;
mod unix;

use super::NetAccess;
use crate::audit::CapabilityUse;
use crate::audit::{AuditEvent, AuditHook};
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p3::bindings::sockets::types::{self, ErrorCode};
use wasmtime_wasi::p3::sockets::{SocketError, SocketResult};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

/// The marker type the interface is implemented for.
pub(crate) struct Sockets;

impl HasData for Sockets {
    type Data<'a> = SocketsView<'a>;
}

/// What the socket functions reach in a store: the run's network access
/// (`None`: no grant, no sockets), its Unix socket grants (`None`: none),
/// the run's audit hook (where a socket refused for want of any grant is
/// reported) and the resource table.
pub(crate) struct SocketsView<'a> {
    pub(crate) net: Option<&'a NetAccess>,
    pub(crate) unix: Option<&'a crate::net::unix::UnixAccess>,
    pub(crate) audit: Option<&'a AuditHook>,
    pub(crate) table: &'a mut ResourceTable,
}

impl SocketsView<'_> {
    /// The run has no network grant: refuses a new socket, and audits it
    /// (`net.socket`; the address it was for is not known yet).
    fn refuse_socket(&self, kind: &str, family: types::IpAddressFamily) -> SocketError {
        if let Some(hook) = self.audit {
            let family = match family {
                types::IpAddressFamily::Ipv4 => "IPv4",
                types::IpAddressFamily::Ipv6 => "IPv6",
            };
            hook(&AuditEvent::Capability(CapabilityUse::denied(
                "net.socket",
                format!("{kind} {family}"),
                "--allow-net or --allow-listen",
            )));
        }
        wasmtime_wasi::sockets::ErrorCode::AccessDenied.into()
    }
}

/// Store data that can host guest sockets (and wasmtime-wasi's name
/// lookup).
pub(crate) trait NetView: WasiSocketsView + Send + 'static {
    fn net_sockets(&mut self) -> SocketsView<'_>;
}

/// Adds `wasi:sockets/types` and `wasi:sockets/ip-name-lookup` to `linker`.
pub(crate) fn add_to_linker<T: NetView>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    types::add_to_linker::<T, Sockets>(linker, T::net_sockets)?;
    crate::bindings::aio::host::mux::add_to_linker::<T, Sockets>(linker, T::net_sockets)?;
    crate::bindings::aio::host::unix::add_to_linker::<T, Sockets>(linker, T::net_sockets)?;
    wasmtime_wasi::p3::bindings::sockets::ip_name_lookup::add_to_linker::<T, WasiSockets>(
        linker,
        T::sockets,
    )
}

/// Our socket of type `Ours` under the handle the guest holds as a
/// wasmtime-wasi `Theirs`.
fn ours<Theirs: 'static, Ours: 'static>(socket: &Resource<Theirs>) -> Resource<Ours> {
    Resource::new_borrow(socket.rep())
}

/// The handle the guest gets for our socket.
fn push<Theirs: 'static, Ours: Send + 'static>(
    table: &mut ResourceTable,
    socket: Ours,
) -> wasmtime::Result<Resource<Theirs>> {
    Ok(Resource::new_own(table.push(socket)?.rep()))
}

/// Removes our socket from the table (the guest dropped its handle).
fn delete<Theirs: 'static, Ours: 'static>(
    table: &mut ResourceTable,
    socket: Resource<Theirs>,
) -> wasmtime::Result<Ours> {
    Ok(table.delete(Resource::<Ours>::new_own(socket.rep()))?)
}

fn missing(e: impl Into<wasmtime::Error>) -> SocketError {
    SocketError::trap(e)
}

/// A socket error for the guest.
fn io<T>(r: Result<T, wasmtime_wasi::sockets::ErrorCode>) -> SocketResult<T> {
    r.map_err(SocketError::from)
}

impl types::Host for SocketsView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        error.downcast()
    }
}
