//! The linker glue that audits refused path operations: wasmtime-wasi's own
//! `wasi:filesystem/types` functions, redefined to report refusals
//! ([`super::audit`] is the behaviour).
//!
//! wasmtime-wasi's filesystem has no hook: it refuses `..` past a granted
//! directory, absolute paths, symlinks out and writes under a read grant
//! inside its implementation. Its generated `add_to_linker` wraps each
//! function in a closure that calls the host trait and converts the error;
//! [`add_to_linker`] defines the path operations again, after it, under the
//! same names (`allow_shadowing`), with the same closure around the same
//! trait call, plus a note of the attempt before and a report after:
//!
//! ```ignore
//! let attempt = audited.then(|| PathAttempt::new(table, FsAccess::Read, &fd, &path));
//! let r = HostDescriptor::open_at(host, fd, path_flags, path, open_flags, flags).await;
//! let r = match r {  // as the generated glue: a trap stays a trap
//!     Ok(a) => Ok(a),
//!     Err(e) => Err(Host::convert_error_code(host, e)?),
//! };
//! if let (Err(code), Some(attempt)) = (&r, &attempt) && let Some(refusal) = refusal(code) {
//!     attempt.report(hook, refusal);
//! }
//! ```
//!
//! So the guest sees exactly what it saw before (the same results, the
//! same traps); a run without an audit hook does nothing more than the
//! check for one. Both WASI versions are wrapped: 0.2 (`wasi:filesystem`
//! 0.2.x, what Rust's `std::fs` uses through wasi-libc) with
//! `func_wrap_async`, and 0.3 (`async func`s) with `func_wrap_concurrent`
//! and an `Accessor`, the way wasmtime-wasi's bindings define them. The
//! operations: `open-at`, `stat-at`, `readlink-at`, `metadata-hash-at`
//! (`fs.read`, or `fs.write` for an open that writes, creates or
//! truncates), `create-directory-at`, `unlink-file-at`,
//! `remove-directory-at`, `symlink-at`, `set-times-at`, `rename-at`,
//! `link-at` (`fs.write`).
//!
//! The names must be those of the instances wasmtime-wasi defines (its
//! vendored WIT's versions): a function defined in an instance it does not
//! have would make a second, partial instance that guests might never
//! link to. [`add_to_linker`] checks that each instance is there, and fails
//! (every run fails to link) when an upgrade moved it; `host/tests/all/fs.rs`
//! (`fs_refusals`, `fs_refusals_p3`) fails if the audit lines go missing.

use super::FsAccess;
use super::audit::{PathAttempt, Refusal};
use crate::audit::AuditHook;
use wasmtime::StoreContextMut;
use wasmtime::component::{Accessor, Linker, Resource, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types as p2;
use wasmtime_wasi::p3::bindings::filesystem::types as p3;

/// `wasi:filesystem/types` as wasmtime-wasi 48's WASI 0.2 bindings define
/// it (src/p2/wit); guests importing any 0.2.x link to it.
const P2_TYPES: &str = "wasi:filesystem/types@0.2.12";
/// The same for WASI 0.3 (src/p3/wit).
const P3_TYPES: &str = "wasi:filesystem/types@0.3.0";

/// Where a store keeps the run's audit hook.
pub(crate) type AuditOf<T> = fn(&mut T) -> Option<&AuditHook>;

/// Redefines the path operations of `wasi:filesystem/types` (0.2 and 0.3)
/// to report refusals to the hook `audit` finds. Call it after wasmtime-wasi's
/// own `add_to_linker`s; it leaves the linker refusing shadowing again.
pub(crate) fn add_to_linker<T: WasiView + 'static>(
    linker: &mut Linker<T>,
    audit: AuditOf<T>,
) -> wasmtime::Result<()> {
    require_defined(linker, P2_TYPES)?;
    require_defined(linker, P3_TYPES)?;
    linker.allow_shadowing(true);
    let redefined = redefine_p2(linker, audit).and_then(|()| redefine_p3(linker, audit));
    linker.allow_shadowing(false);
    redefined
}

/// Fails unless wasmtime-wasi defined `instance` with an `open-at`: with
/// shadowing refused, defining a name that is there already is an error.
fn require_defined<T: 'static>(linker: &mut Linker<T>, instance: &str) -> wasmtime::Result<()> {
    let mut probe = linker.instance(instance)?;
    let defined = probe
        .func_wrap(
            "[method]descriptor.open-at",
            |_: StoreContextMut<'_, T>, (): ()| Ok(()),
        )
        .is_err();
    if !defined {
        wasmtime::bail!(
            "wasmtime-wasi does not define `{instance}`, so refused file operations \
             would go unaudited: update crate::fs::wasi"
        );
    }
    Ok(())
}

/// The error codes that are refusals.
fn p2_refusal(code: &p2::ErrorCode) -> Option<Refusal> {
    match code {
        p2::ErrorCode::NotPermitted => Some(Refusal::NotPermitted),
        p2::ErrorCode::Access => Some(Refusal::Access),
        p2::ErrorCode::ReadOnly => Some(Refusal::ReadOnly),
        _ => None,
    }
}

fn p3_refusal(code: &p3::ErrorCode) -> Option<Refusal> {
    match code {
        p3::ErrorCode::NotPermitted => Some(Refusal::NotPermitted),
        p3::ErrorCode::Access => Some(Refusal::Access),
        p3::ErrorCode::ReadOnly => Some(Refusal::ReadOnly),
        _ => None,
    }
}

/// An open writes when it may create, truncate or write: wasmtime-wasi's
/// own test for refusing it under a read grant.
fn p2_open_access(open: p2::OpenFlags, flags: p2::DescriptorFlags) -> FsAccess {
    let writes = open.contains(p2::OpenFlags::CREATE)
        || open.contains(p2::OpenFlags::TRUNCATE)
        || flags.contains(p2::DescriptorFlags::WRITE);
    if writes {
        FsAccess::Write
    } else {
        FsAccess::Read
    }
}

fn p3_open_access(open: p3::OpenFlags, flags: p3::DescriptorFlags) -> FsAccess {
    let writes = open.contains(p3::OpenFlags::CREATE)
        || open.contains(p3::OpenFlags::TRUNCATE)
        || flags.contains(p3::DescriptorFlags::WRITE);
    if writes {
        FsAccess::Write
    } else {
        FsAccess::Read
    }
}

/// Defines one WASI 0.2 path operation: wasmtime-wasi's generated glue
/// (`func_wrap_async`, the `HostDescriptor` call, `convert_error_code`),
/// with the attempt noted before it (`|table| ...`, only when audited) and
/// reported after it when refused.
macro_rules! p2_path_op {
    ($inst:ident, $audit:ident, $name:literal, $method:ident,
     ($($arg:ident: $ty:ty),* $(,)?), |$table:ident| $attempt:expr) => {
        $inst.func_wrap_async(
            $name,
            move |mut caller: StoreContextMut<'_, T>, ($($arg,)*): ($($ty,)*)| {
                Box::new(async move {
                    let attempt = if $audit(caller.data_mut()).is_some() {
                        let view = caller.data_mut().filesystem();
                        let $table: &ResourceTable = view.table;
                        Some($attempt)
                    } else {
                        None
                    };
                    let host = &mut caller.data_mut().filesystem();
                    let r = p2::HostDescriptor::$method(host, $($arg,)*).await;
                    let r = match r {
                        Ok(a) => Ok(a),
                        Err(e) => Err(p2::Host::convert_error_code(host, e)?),
                    };
                    if let (Err(code), Some(attempt)) = (&r, &attempt)
                        && let Some(refusal) = p2_refusal(code)
                    {
                        attempt.report($audit(caller.data_mut()), refusal);
                    }
                    Ok((r,))
                })
            },
        )?;
    };
}

/// The same for a WASI 0.3 path operation: `func_wrap_concurrent`, the
/// `HostDescriptorWithStore` call through an `Accessor`.
macro_rules! p3_path_op {
    ($inst:ident, $audit:ident, $name:literal, $method:ident,
     ($($arg:ident: $ty:ty),* $(,)?), |$table:ident| $attempt:expr) => {
        $inst.func_wrap_concurrent(
            $name,
            move |caller: &Accessor<T>, ($($arg,)*): ($($ty,)*)| {
                Box::pin(async move {
                    let attempt = caller.with(|mut access| {
                        let state = access.data_mut();
                        $audit(state)?;
                        let view = state.filesystem();
                        let $table: &ResourceTable = view.table;
                        Some($attempt)
                    });
                    let host = &caller
                        .with_getter::<WasiFilesystem>(<T as WasiFilesystemView>::filesystem);
                    let r = <WasiFilesystem as p3::HostDescriptorWithStore<T>>::$method(
                        host, $($arg,)*
                    )
                    .await;
                    let r = match r {
                        Ok(a) => Ok(a),
                        Err(e) => Err(caller.with(|mut access| {
                            p3::Host::convert_error_code(&mut access.data_mut().filesystem(), e)
                        })?),
                    };
                    if let (Err(code), Some(attempt)) = (&r, &attempt)
                        && let Some(refusal) = p3_refusal(code)
                    {
                        caller.with(|mut access| {
                            attempt.report($audit(access.data_mut()), refusal)
                        });
                    }
                    Ok((r,))
                })
            },
        )?;
    };
}

/// Every path operation of one WASI version: `$op` is its wrapper macro,
/// `$v` its bindings' module, `$open_access` its open-flags test.
macro_rules! path_ops {
    ($op:ident, $inst:ident, $audit:ident, $v:ident, $open_access:ident) => {
        use FsAccess::{Read, Write};
        type Fd = Resource<Descriptor>;
        $op!($inst, $audit, "[method]descriptor.open-at", open_at,
            (fd: Fd, path_flags: $v::PathFlags, path: String, open: $v::OpenFlags,
             flags: $v::DescriptorFlags),
            |table| PathAttempt::new(table, $open_access(open, flags), &fd, &path));
        $op!($inst, $audit, "[method]descriptor.stat-at", stat_at,
            (fd: Fd, path_flags: $v::PathFlags, path: String),
            |table| PathAttempt::new(table, Read, &fd, &path));
        $op!($inst, $audit, "[method]descriptor.readlink-at", readlink_at,
            (fd: Fd, path: String),
            |table| PathAttempt::new(table, Read, &fd, &path));
        $op!($inst, $audit, "[method]descriptor.metadata-hash-at", metadata_hash_at,
            (fd: Fd, path_flags: $v::PathFlags, path: String),
            |table| PathAttempt::new(table, Read, &fd, &path));
        $op!($inst, $audit, "[method]descriptor.create-directory-at", create_directory_at,
            (fd: Fd, path: String),
            |table| PathAttempt::new(table, Write, &fd, &path));
        $op!($inst, $audit, "[method]descriptor.unlink-file-at", unlink_file_at,
            (fd: Fd, path: String),
            |table| PathAttempt::new(table, Write, &fd, &path));
        $op!($inst, $audit, "[method]descriptor.remove-directory-at", remove_directory_at,
            (fd: Fd, path: String),
            |table| PathAttempt::new(table, Write, &fd, &path));
        // The link's own path is the second one; the first is its content.
        $op!($inst, $audit, "[method]descriptor.symlink-at", symlink_at,
            (fd: Fd, old_path: String, new_path: String),
            |table| PathAttempt::new(table, Write, &fd, &new_path));
        $op!($inst, $audit, "[method]descriptor.set-times-at", set_times_at,
            (fd: Fd, path_flags: $v::PathFlags, path: String, atim: $v::NewTimestamp,
             mtim: $v::NewTimestamp),
            |table| PathAttempt::new(table, Write, &fd, &path));
        $op!($inst, $audit, "[method]descriptor.rename-at", rename_at,
            (fd: Fd, old_path: String, new_fd: Fd, new_path: String),
            |table| PathAttempt::new(table, Write, &fd, &old_path)
                .to(table, &new_fd, &new_path));
        $op!($inst, $audit, "[method]descriptor.link-at", link_at,
            (fd: Fd, old_flags: $v::PathFlags, old_path: String, new_fd: Fd, new_path: String),
            |table| PathAttempt::new(table, Write, &fd, &old_path)
                .to(table, &new_fd, &new_path));
    };
}

fn redefine_p2<T: WasiView + 'static>(
    linker: &mut Linker<T>,
    audit: AuditOf<T>,
) -> wasmtime::Result<()> {
    let mut inst = linker.instance(P2_TYPES)?;
    path_ops!(p2_path_op, inst, audit, p2, p2_open_access);
    Ok(())
}

fn redefine_p3<T: WasiView + 'static>(
    linker: &mut Linker<T>,
    audit: AuditOf<T>,
) -> wasmtime::Result<()> {
    let mut inst = linker.instance(P3_TYPES)?;
    path_ops!(p3_path_op, inst, audit, p3, p3_open_access);
    Ok(())
}
