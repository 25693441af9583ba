//! The compile cache: compiled components on disk, keyed by content.
//!
//! Compiling a component with cranelift takes about a second; loading a
//! compiled one takes milliseconds. The cache stores each compiled
//! component as `<dir>/<key>.cwasm`, where the key is the SHA-256 of the
//! component's bytes and of the engine's
//! [`precompile_compatibility_hash`](wasmtime::Engine::precompile_compatibility_hash)
//! (so a wasmtime upgrade or a config change never loads a stale artifact).
//!
//! The directory is, in order: the one given to
//! [`RuntimeBuilder::cache_dir`](crate::RuntimeBuilder::cache_dir),
//! `$AIO_CACHE_DIR`, `$XDG_CACHE_HOME/aio`, `~/.cache/aio`. Files are written
//! to a temporary name and renamed, so a reader never sees half a file. If
//! the directory cannot be used, components are compiled anyway and one
//! warning is printed.
//!
//! ```
//! use aio_host::Runtime;
//!
//! // Embedders may keep their own cache, or none.
//! let builder = Runtime::builder().cache_dir("/var/cache/my-app/aio");
//! # let _ = builder;
//! ```

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a loaded component's machine code came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadedFrom {
    /// A compiled artifact in the cache (this file).
    Cache(PathBuf),
    /// Compiled now; stored in the cache at this path, or `None` when the
    /// cache is disabled or unusable.
    Compiled {
        /// Where the compiled artifact was stored.
        cached_at: Option<PathBuf>,
    },
    /// A precompiled `.cwasm` file given directly (from `aio compile`).
    Precompiled,
}

/// Which directory to cache in.
#[derive(Debug, Clone, Default)]
pub(crate) enum CacheSetting {
    /// `$AIO_CACHE_DIR`, `$XDG_CACHE_HOME/aio`, `~/.cache/aio`.
    #[default]
    Default,
    Dir(PathBuf),
    Disabled,
}

#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    warned: AtomicBool,
}

impl CompileCache {
    pub(crate) fn new(setting: CacheSetting) -> Self {
        let dir = match setting {
            CacheSetting::Default => default_dir(),
            CacheSetting::Dir(dir) => Some(dir),
            CacheSetting::Disabled => None,
        };
        CompileCache {
            dir,
            warned: AtomicBool::new(false),
        }
    }

    /// The cache directory, if caching is on.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The compiled form of `bytes` (a component binary): from the cache when
    /// it is there, else compiled now and stored.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, LoadedFrom)> {
        let Some(dir) = &self.dir else {
            let component = Component::from_binary(engine, bytes)?;
            return Ok((component, LoadedFrom::Compiled { cached_at: None }));
        };
        let path = dir.join(format!("{}.cwasm", cache_key(engine, bytes)));
        if let Ok(artifact) = std::fs::read(&path) {
            // A file that does not load (foreign, damaged) is simply
            // replaced below.
            if let Ok(component) = deserialize_trusted(engine, &artifact) {
                return Ok((component, LoadedFrom::Cache(path)));
            }
        }
        let component = Component::from_binary(engine, bytes)?;
        let cached_at = match component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|artifact| write_atomically(&path, &artifact))
        {
            Ok(()) => Some(path),
            Err(err) => {
                self.warn_once(dir, &err);
                None
            }
        };
        Ok((component, LoadedFrom::Compiled { cached_at }))
    }

    fn warn_once(&self, dir: &Path, err: &std::io::Error) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!(
                "aio: warning: compile cache disabled: cannot write to {}: {err}",
                dir.display()
            );
        }
    }
}

/// Loads a compiled component artifact: one from our own cache, or a
/// `.cwasm` file the user produced with `aio compile` and asked us to run.
pub(crate) fn deserialize_trusted(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // Safety: `Component::deserialize` runs the machine code in `artifact`
    // without verifying it; wasmtime only checks the header, its version and
    // the engine's configuration. The bytes are either a file this cache
    // wrote (complete, thanks to the rename) in the user's own cache
    // directory, or a `.cwasm` the user passed to `aio run`: both are
    // trusted like any native executable the user runs.
    unsafe { Component::deserialize(engine, artifact) }
}

/// SHA-256 of the engine's compatibility hash and the component bytes, hex.
fn cache_key(engine: &Engine, bytes: &[u8]) -> String {
    let mut hasher = ShaHasher(Sha256::new());
    hasher.0.update(b"aio compile cache v1\0");
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update((bytes.len() as u64).to_le_bytes());
    hasher.0.update(bytes);
    let digest = hasher.0.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds a [`Hash`] into SHA-256.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // Only the SHA-256 digest is used.
        0
    }
}

/// Writes `contents` to a unique temporary file next to `path`, then renames
/// it over `path`, creating the directory if needed.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("artifact");
    let temp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// `$AIO_CACHE_DIR`, else `$XDG_CACHE_HOME/aio`, else `$HOME/.cache/aio`
/// (empty variables count as unset).
fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("AIO_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("aio"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".cache").join("aio"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_bytes_and_is_stable() {
        let engine = Engine::default();
        let a = cache_key(&engine, b"one");
        assert_eq!(a, cache_key(&engine, b"one"));
        assert_ne!(a, cache_key(&engine, b"two"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn key_depends_on_engine_config() {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = Engine::new(&config).unwrap();
        assert_ne!(
            cache_key(&Engine::default(), b"one"),
            cache_key(&other, b"one")
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = std::env::temp_dir().join(format!("aio-cache-test-{}", std::process::id()));
        let path = dir.join("x.cwasm");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let entries = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(entries, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
