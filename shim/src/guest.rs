//! The container's process: the shim binary started again as
//! `containerd-shim-aio-v1 aio-guest BUNDLE CACHE_DIR`, with the
//! container's environment and its stdio on containerd's FIFOs. It joins
//! the container's network, loads the component from the image, and runs
//! it as `aio run` would, with the plan's grants and limits; its exit
//! status is the container's.

use crate::plan::{Network, Plan};
use aio_host::{Grants, Limits, RunOptions, Runtime, Status};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::io::Read as _;
use std::os::fd::AsFd as _;
use std::path::Path;

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
    // Before any thread exists: a namespace change applies to the calling
    // thread, and the runtime's threads inherit it.
    join_network(&plan.network).map_err(host)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| host(format!("cannot start the runtime: {e}")))?;
    if plan.sandbox {
        // A pod's "pause" container: hold the place until told to stop.
        runtime.block_on(until_stopped());
        return Ok(0);
    }
    runtime.block_on(run_guest(&plan, cache_dir))
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

async fn run_guest(plan: &Plan, cache_dir: &Path) -> Result<u8, (String, u8)> {
    let fail = |e: aio_host::Error| (e.to_string(), e.kind().exit_status());
    let bytes = read_in_root(&plan.rootfs, &plan.program).map_err(|why| (why, 127))?;
    let runtime = Runtime::builder()
        .cache_dir(cache_dir)
        .build()
        .map_err(fail)?;
    let name = Path::new(&plan.program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| plan.program.clone());
    let program = runtime.load_bytes(&name, &bytes).map_err(fail)?;

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
