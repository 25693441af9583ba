//! Subprocesses as a granted capability (`aio:host/process`).
//!
//! - [`grant`]: which programs a guest may run ([`RunGrant`]:
//!   `--allow-run`, `--allow-shell`).
//! - [`child`]: one child and the run's registry of children (starting,
//!   signals, reaping, the concurrency cap, killing them all at the end).
//!   No WIT types.
//! - `group`: the run's process group and its keeper, which kills the
//!   group when the run ends or the host dies.
//! - `orphans`: [`adopt_orphans`], and killing what left the group.
//! - `pipes`: the child's pipes as component-model streams.
//! - `host`: the thin glue implementing the generated WIT traits.
//!
//! A guest asks to `spawn` a program; the host resolves it (a path, or a
//! name on the host's `PATH`), refuses it unless [`RunGrant`] grants that
//! name of that file, audits the decision, and starts it as granted (the
//! grant's path and `argv[0]`) with exactly the arguments and environment
//! the guest gave (`env_clear`: the host's own environment never leaks),
//! in the run's process group. When the guest ends (returns, traps, times
//! out) the runner kills the group and every child, and reaps them; what
//! is guaranteed where is in docs/subprocess.md ("What dies with the
//! run").

pub mod child;
pub mod grant;
mod group;
pub(crate) mod host;
mod orphans;
mod pipes;

pub use child::{Children, ExitStatus, Redirect, SpawnError};
pub use grant::{Allowed, RunGrant, RunRefusal};
pub use orphans::adopt_orphans;

use crate::audit::{AuditEvent, AuditHook, CapabilityUse};
use wasmtime::component::{HasData, ResourceTable};

/// The default cap on children running at once for one guest.
pub const DEFAULT_MAX_CHILDREN: usize = 128;

/// One run's subprocess state: what it may run, where its uses are
/// audited, and its children.
pub(crate) struct ProcessCtx {
    pub(crate) run: RunGrant,
    audit: Option<AuditHook>,
    pub(crate) children: Children,
}

impl std::fmt::Debug for ProcessCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCtx")
            .field("run", &self.run)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

impl ProcessCtx {
    pub(crate) fn new(run: RunGrant, audit: Option<AuditHook>, children: Children) -> Self {
        ProcessCtx {
            run,
            audit,
            children,
        }
    }

    /// Writes one use (or refusal) to the run's audit hook, if any.
    pub(crate) fn report_use(&self, used: CapabilityUse) {
        if let Some(hook) = &self.audit {
            hook(&AuditEvent::Capability(used));
        }
    }
}

/// What the `aio:host/process` glue works on.
pub(crate) struct ProcessView<'a> {
    pub(crate) ctx: &'a mut ProcessCtx,
    pub(crate) table: &'a mut ResourceTable,
}

/// The [`HasData`] marker of `aio:host/process`.
pub(crate) struct Processes;

impl HasData for Processes {
    type Data<'a> = ProcessView<'a>;
}
