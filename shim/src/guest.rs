//! The container's process: the shim binary started again as
//! `containerd-shim-aio-v1 aio-guest BUNDLE CACHE_DIR`, with the
//! container's environment and its stdio on containerd's FIFOs. It joins
//! the container's network, loads the component from the image, and runs
//! it as `aio run` would, with the plan's grants and limits; its exit
//! status is the container's.

use crate::plan::{Network, Plan, User};
use aio_host::{Grants, Limits, RunOptions, Runtime, Status};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::io::Read as _;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};

/// The argument that selects this mode.
pub const MODE: &str = "aio-guest";

/// Runs the container; returns its exit status. Failures print one
/// `aio: ` line on the container's stderr.
pub fn main(bundle: &Path, cache_dir: &Path) -> u8 {
    match run(bundle, cache_dir) {
        Ok(status) => status,
        Err((why, status)) => {
            eprintln!("aio: {why}");
            status
        }
    }
}

fn run(bundle: &Path, cache_dir: &Path) -> Result<u8, (String, u8)> {
    let host = |why: String| (why, 70);
    let plan = Plan::load(bundle).map_err(|why| (why, 2))?;
    // Before any thread exists: a namespace change and capabilities apply
    // to the calling thread, and the threads made later inherit them.
    join_network(&plan.network).map_err(host)?;
    let cache_dir = private_cache(cache_dir, plan.user.uid);
    // Read as root: the image's directories need not be open to its user.
    let component = if plan.sandbox {
        Vec::new()
    } else {
        read_in_root(&plan.rootfs, &plan.program).map_err(|why| (why, 127))?
    };
    drop_privileges(&plan.user).map_err(host)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| host(format!("cannot start the runtime: {e}")))?;
    if plan.sandbox {
        // A pod's "pause" container: hold the place until told to stop.
        runtime.block_on(until_stopped());
        return Ok(0);
    }
    runtime.block_on(run_guest(&plan, cache_dir.as_deref(), &component))
}

async fn until_stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn run_guest(
    plan: &Plan,
    cache_dir: Option<&Path>,
    component: &[u8],
) -> Result<u8, (String, u8)> {
    let fail = |e: aio_host::Error| (e.to_string(), e.kind().exit_status());
    let runtime = match cache_dir {
        Some(dir) => Runtime::builder().cache_dir(dir),
        None => Runtime::builder().no_cache(),
    };
    let runtime = runtime.build().map_err(fail)?;
    let name = aio_host::runner::display_name(Path::new(&plan.program));
    let program = runtime.load_bytes(&name, component).map_err(fail)?;

    // This process's environment is the container's (the shim set it), so
    // "all of it" is exactly what the pod gave the container.
    let mut grants = Grants::new()
        .allow_all_env()
        .allow_net(&plan.allow_net)
        .and_then(|g| g.allow_listen(&plan.allow_listen))
        .map_err(|e| (e.to_string(), 2))?;
    if plan.audit_to_stderr {
        grants = grants.audit(|event| {
            let line = event.capability_use().to_json(std::time::SystemTime::now());
            eprintln!("{line}");
        });
    }
    let mut limits = Limits::new();
    if let Some(bytes) = plan.max_memory {
        limits = limits.max_memory(bytes);
    }
    if let Some(cpu) = plan.max_cpu {
        limits = limits.max_cpu(cpu);
    }
    if let Some(timeout) = plan.timeout {
        limits = limits.timeout(timeout);
    }
    // SIGTERM (`ctr task kill`, a pod's deletion) reaches the guest's
    // handler; SIGKILL ends this process.
    let signals = aio_host::Signals::new();
    let _forwarding = signals
        .forward_host_signals()
        .map_err(|e| (format!("cannot forward signals: {e}"), 70))?;
    let options = RunOptions::new()
        .args(plan.args.iter().cloned())
        .grants(grants)
        .limits(limits)
        .signals(&signals);
    match program.run(options).await.into_status() {
        Status::Failed(e) => Err(fail(e)),
        exited => Ok(exited.exit_status()),
    }
}

/// Reads `path` as if `rootfs` were `/`: symlinks and `..` in the image
/// cannot lead out of it (openat2 with RESOLVE_IN_ROOT).
fn read_in_root(rootfs: &Path, path: &str) -> Result<Vec<u8>, String> {
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open the container's root {}: {e}", rootfs.display()))?;
    let fd = rustix::fs::openat2(
        root.as_fd(),
        path.trim_start_matches('/'),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| format!("{path}: not in the image ({e})"))?;
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {path} from the image: {e}"))?;
    Ok(bytes)
}

/// The compile cache for `uid`: `dir` itself for root; for another user,
/// `dir/uid-N`, made theirs (the cache is used only where nobody else can
/// write: docs/cli.md). Made while this process is still root; `None`
/// (compile every time) when that fails.
fn private_cache(dir: &Path, uid: u32) -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o755);
    builder.create(dir).ok()?;
    if uid == 0 {
        return Some(dir.to_owned());
    }
    let own = dir.join(format!("uid-{uid}"));
    builder.mode(0o700).create(&own).ok()?;
    std::os::unix::fs::chown(&own, Some(uid), None).ok()?;
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o700)).ok()?;
    Some(own)
}

/// Runs what follows as the container's user, with no capabilities but
/// binding low ports (for root, as runc's default set allows), and no way
/// to gain any (no_new_privs): were a guest to escape wasmtime, it would
/// hold no more than the pod's user. Must run before any thread exists.
fn drop_privileges(user: &User) -> Result<(), String> {
    let os = |what: &str| {
        format!(
            "cannot drop privileges ({what}): {}",
            std::io::Error::last_os_error()
        )
    };
    // The capability sets' layout for capset(2), version 3 (64 bits in two
    // halves).
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAP_NET_BIND_SERVICE: u32 = 10;
    // Safety: plain syscalls on this process's credentials, with arrays and
    // structs that outlive each call.
    unsafe {
        if libc::setgroups(user.groups.len(), user.groups.as_ptr()) != 0 {
            return Err(os("setgroups"));
        }
        if libc::setgid(user.gid) != 0 {
            return Err(os("setgid"));
        }
        if libc::setuid(user.uid) != 0 {
            return Err(os("setuid"));
        }
        if libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        ) != 0
        {
            return Err(os("clear ambient capabilities"));
        }
        // A non-root user lost every capability with setuid; root keeps
        // only the low ports.
        let keep = if user.uid == 0 {
            1 << CAP_NET_BIND_SERVICE
        } else {
            0
        };
        let header = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let data = [
            Data {
                effective: keep,
                permitted: keep,
                inheritable: 0,
            },
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
        ];
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0 {
            return Err(os("capset"));
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(os("no_new_privs"));
        }
    }
    Ok(())
}

/// Moves this (single-threaded) process into the container's network.
fn join_network(network: &Network) -> Result<(), String> {
    match network {
        Network::Host => Ok(()),
        Network::Join(path) => {
            let ns = std::fs::File::open(path).map_err(|e| {
                format!("cannot open the network namespace {}: {e}", path.display())
            })?;
            rustix::thread::move_into_link_name_space(
                ns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(|e| format!("cannot join the network namespace {}: {e}", path.display()))
        }
        Network::New => {
            // Safety: no other thread exists yet (see `run`), and only the
            // network namespace changes.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
                .map_err(|e| format!("cannot make a network namespace: {e}"))?;
            loopback_up()
        }
    }
}

/// Brings `lo` up in a new network namespace (it starts down).
fn loopback_up() -> Result<(), String> {
    let fail = |what: &str| {
        format!(
            "cannot bring up loopback ({what}): {}",
            std::io::Error::last_os_error()
        )
    };
    // Safety: a plain socket, closed below; the ifreq is zeroed, named and
    // passed by pointer for the two ioctls that read and set its flags.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(fail("socket"));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let result = if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) < 0 {
            Err(fail("get flags"))
        } else {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) < 0 {
                Err(fail("set flags"))
            } else {
                Ok(())
            }
        };
        libc::close(sock);
        result
    }
}
