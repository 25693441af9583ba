//! `containerd-shim-aio-v1`: containerd's runtime `io.containerd.aio.v1`.
//! It runs an image whose entrypoint is a WebAssembly component (a plain
//! OCI image, as `aio package` writes) under aio-host's sandbox, with the
//! grants and limits the pod's annotations give (`plan`), deny by default.
//! docs/kubernetes.md is the user's guide.
//!
//! containerd starts this binary to serve the task API (runwasi's shimkit
//! does the protocol: `instance`); each container then runs as a child,
//! this binary again in the `aio-guest` mode (`guest`).

mod guest;
mod instance;
mod plan;

use containerd_shimkit::sandbox::cli::{Version, shim_main};

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == guest::MODE) {
        let (Some(bundle), Some(cache_dir)) = (args.get(2), args.get(3)) else {
            eprintln!("aio: usage: containerd-shim-aio-v1 aio-guest BUNDLE CACHE_DIR");
            std::process::exit(2);
        };
        let status = guest::main(bundle.as_ref(), cache_dir.as_ref());
        std::process::exit(i32::from(status));
    }
    let version = Version {
        version: env!("CARGO_PKG_VERSION"),
        revision: "aio",
    };
    shim_main::<instance::AioInstance>("aio", version, None);
}
