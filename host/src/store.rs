//! What every guest store is made of, for programs and plugins alike: the
//! linker (`linker`), the store data ([`RunState`]) and a fresh store
//! with its grants, limits and stdio (`GuestStore::new`).
//!
//! [`Program::run`](crate::Program::run) makes one store per run and
//! [`Plugin::instantiate`](crate::plugin::Plugin::instantiate) one per
//! instance; both go through `GuestStore::new`, so a grant, a limit or a
//! capture behaves the same in both.
//!
//! ```ignore
//! let guest = GuestStore::new(&engine, Setup { argv0: "app.wasm", .. });
//! // ... instantiate and run in guest.store ...
//! let hit = guest.limits_hit();
//! drop(guest.store);
//! guest.children.0.shutdown(CHILD_REAP_PATIENCE).await;
//! ```

use crate::audit::AuditHook;
use crate::calls::{CallSlots, CallsData};
use crate::error::Error;
use crate::limits::{CpuMeter, Limits, MemoryLimiter};
use crate::net::NetAccess;
use crate::net::unix::UnixAccess;
use crate::net::wasi::{NetView, SocketsView};
use crate::outcome::LimitsHit;
use crate::policy::Grants;
use crate::process::{Children, ProcessCtx, ProcessView, Processes, child::ChildrenGuard};
use crate::signals::RunSignals;
use crate::signals::host::{SignalsData, SignalsView};
use crate::stdio::{Captured, Stdio};
use std::sync::Arc;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How long a guest's end waits for its killed children to be reaped.
pub(crate) const CHILD_REAP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// The data of a guest's store (a program's run, or a plugin instance).
///
/// Opaque: it appears in the embedding API only as a type parameter, e.g.
/// of [`Plugin::instance_pre`](crate::plugin::Plugin::instance_pre) and the
/// store handed to [`Instance::bind`](crate::plugin::Instance::bind), so an
/// embedder's own `bindgen!` code can name it.
pub struct RunState {
    wasi: WasiCtx,
    /// The host's TCP sockets' grants (`None`: no network).
    net: Option<NetAccess>,
    /// The Unix socket grants (`None`: none).
    unix: Option<UnixAccess>,
    /// The run's audit hook: for sockets refused when `net` is `None`, and
    /// for refused file operations (`crate::fs::wasi`).
    audit: Option<AuditHook>,
    process: ProcessCtx,
    signals: Arc<RunSignals>,
    table: ResourceTable,
    pub(crate) memory: MemoryLimiter,
    pub(crate) cpu: CpuMeter,
    /// Plugin calls the host tracks for `aio:host/calls`.
    pub(crate) calls: CallSlots,
}

impl std::fmt::Debug for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunState").finish_non_exhaustive()
    }
}

impl RunState {
    fn process(&mut self) -> ProcessView<'_> {
        ProcessView {
            ctx: &mut self.process,
            table: &mut self.table,
        }
    }

    fn signals(&mut self) -> SignalsView<'_> {
        SignalsView(&self.signals)
    }

    fn calls(&mut self) -> &mut CallSlots {
        &mut self.calls
    }
}

impl NetView for RunState {
    fn net_sockets(&mut self) -> SocketsView<'_> {
        SocketsView {
            net: self.net.as_ref(),
            unix: self.unix.as_ref(),
            audit: self.audit.as_ref(),
            table: &mut self.table,
        }
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The linker every guest is instantiated with: WASI 0.2 (Rust std's
/// stdio, environment, exit), WASI 0.3 with the host's own sockets, and
/// `aio:host` process, signals and calls.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<RunState>, Error> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| Error::host("cannot link WASI 0.2", &e))?;
    // WASI 0.3 as wasmtime-wasi's `p3::add_to_linker` does, but with the
    // host's own TCP and UDP sockets (crate::net::wasi).
    let p3 = |e: wasmtime::Error| Error::host("cannot link WASI 0.3", &e);
    wasmtime_wasi::p3::cli::add_to_linker(&mut linker).map_err(p3)?;
    wasmtime_wasi::p3::clocks::add_to_linker(&mut linker).map_err(p3)?;
    wasmtime_wasi::p3::filesystem::add_to_linker(&mut linker).map_err(p3)?;
    // Both versions' path operations again, auditing refusals (crate::fs::wasi).
    crate::fs::wasi::add_to_linker(&mut linker, |s: &mut RunState| s.audit.as_ref())
        .map_err(|e| Error::host("cannot link the filesystem's audit", &e))?;
    wasmtime_wasi::p3::random::add_to_linker(&mut linker).map_err(p3)?;
    crate::net::wasi::add_to_linker(&mut linker).map_err(p3)?;
    crate::bindings::aio::host::process::add_to_linker::<_, Processes>(
        &mut linker,
        RunState::process,
    )
    .map_err(|e| Error::host("cannot link aio:host/process", &e))?;
    crate::bindings::aio::host::signals::add_to_linker::<_, SignalsData>(
        &mut linker,
        RunState::signals,
    )
    .map_err(|e| Error::host("cannot link aio:host/signals", &e))?;
    crate::bindings::aio::host::calls::add_to_linker::<_, CallsData>(&mut linker, RunState::calls)
        .map_err(|e| Error::host("cannot link aio:host/calls", &e))?;
    Ok(linker)
}

/// What a new store is given.
pub(crate) struct Setup<'a> {
    /// `argv[0]`: the program's or plugin's name.
    pub(crate) argv0: &'a str,
    pub(crate) args: &'a [String],
    pub(crate) grants: Grants,
    pub(crate) limits: &'a Limits,
    pub(crate) stdio: Stdio,
    pub(crate) signals: Arc<RunSignals>,
}

/// A fresh store and what lives beside it until the guest has ended.
pub(crate) struct GuestStore {
    pub(crate) store: Store<RunState>,
    /// What the guest writes, when capturing.
    pub(crate) captured: Captured,
    /// Every child is killed when this drops, and killed and reaped by
    /// `children.0.shutdown` once the guest has ended.
    pub(crate) children: ChildrenGuard,
    handle_limit: usize,
    cpu_limit: Option<std::time::Duration>,
}

impl GuestStore {
    /// A store with `setup`'s grants, limits (memory limiter, handle cap,
    /// epoch deadline and CPU meter) and stdio.
    pub(crate) fn new(engine: &Engine, setup: Setup<'_>) -> Result<Self, crate::Error> {
        let Setup {
            argv0,
            args,
            grants,
            limits,
            stdio,
            signals,
        } = setup;
        let mut wasi = WasiCtx::builder();
        wasi.arg(argv0).args(args);
        let net = grants
            .apply(&mut wasi)
            .map_err(|e| crate::Error::new(crate::ErrorKind::Host, e.to_string()))?;
        let captured = stdio.apply(&mut wasi);

        let audit = grants.audit_hook();
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.handle_limit());
        let children = ChildrenGuard(Children::new(limits.children_limit()));
        let state = RunState {
            wasi: wasi.build(),
            net,
            unix: grants.unix_access(),
            audit: audit.clone(),
            process: ProcessCtx::new(grants.run_grant().clone(), audit, children.0.clone()),
            signals,
            table,
            memory: MemoryLimiter::new(limits.memory_limit()),
            cpu: CpuMeter::new(limits.cpu_limit()),
            calls: CallSlots::default(),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.memory);
        store.set_max_component_handles(limits.handle_limit());
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut cx| Ok(cx.data_mut().cpu.on_tick()));
        Ok(GuestStore {
            store,
            captured,
            children,
            handle_limit: limits.handle_limit(),
            cpu_limit: limits.cpu_limit(),
        })
    }

    /// What the store's limits recorded, to classify the guest's end.
    pub(crate) fn limits_hit(&self) -> LimitsHit {
        let state = self.store.data();
        LimitsHit {
            memory: state.memory.refused(),
            cpu: state.cpu.exhausted().then_some(self.cpu_limit).flatten(),
            handles: self.handle_limit,
        }
    }
}
