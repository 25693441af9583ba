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
//! A cached artifact is machine code that is loaded without verification,
//! so the cache is only as safe as the directory: anyone who can write
//! there can run native code in every later `aio run`. The cache is used
//! only where nobody but its owner can write: the directory must belong to
//! this user and be writable by nobody else, and so must every directory
//! above it (root may own those, and a sticky directory such as `/tmp` is
//! fine, since others cannot rename what they do not own in it). A cache
//! directory that fails this (say `/tmp/aio` with mode 777) is not used, with
//! one warning naming the reason; a cached file writable by others is
//! ignored and compiled again. The directory is created with mode 0700 and
//! its files with mode 0600.
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
use std::sync::OnceLock;
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
    /// Whether `dir` passed the ownership check (done once, when first used).
    trusted: OnceLock<bool>,
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
            trusted: OnceLock::new(),
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
        let Some(dir) = self.usable_dir() else {
            tracing::debug!("no usable cache directory: compiling");
            let component = Component::from_binary(engine, bytes)?;
            return Ok((component, LoadedFrom::Compiled { cached_at: None }));
        };
        let path = dir.join(format!("{}.cwasm", cache_key(engine, bytes)));
        if let Some(artifact) = read_private(&path) {
            // Safety: the file is in a directory only this user can write
            // (`usable_dir`), is this user's and writable by nobody else
            // (`read_private`), and was written whole by this cache (temporary
            // name, then rename).
            // A file that does not load (foreign, damaged) is simply replaced
            // below.
            match unsafe { deserialize(engine, &artifact) } {
                Ok(component) => {
                    tracing::debug!("hit: {}", path.display());
                    return Ok((component, LoadedFrom::Cache(path)));
                }
                Err(e) => tracing::debug!(
                    "{} does not load ({}): compiling again",
                    path.display(),
                    crate::error::one_line(&e)
                ),
            }
        } else {
            tracing::debug!("miss: {}", path.display());
        }
        let started = std::time::Instant::now();
        let component = Component::from_binary(engine, bytes)?;
        tracing::debug!("compiled in {:.1?}", started.elapsed());
        let cached_at = match component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|artifact| write_atomically(&path, &artifact))
        {
            Ok(()) => {
                tracing::debug!("stored: {}", path.display());
                Some(path)
            }
            Err(err) => {
                self.warn_once(&format!("cannot write to {}: {err}", dir.display()));
                None
            }
        };
        Ok((component, LoadedFrom::Compiled { cached_at }))
    }

    /// The cache directory if caching is on and the directory is safe to
    /// load machine code from (checked once; one warning if it is not).
    fn usable_dir(&self) -> Option<&Path> {
        let dir = self.dir.as_deref()?;
        let trusted = *self.trusted.get_or_init(|| match untrusted_because(dir) {
            None => true,
            Some(why) => {
                self.warn_once(&format!("{} is not used: {why}", dir.display()));
                false
            }
        });
        trusted.then_some(dir)
    }

    fn warn_once(&self, why: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!("compile cache disabled: {why}");
        }
    }
}

/// Loads a compiled component artifact.
///
/// # Safety
///
/// `Component::deserialize` runs the machine code in `artifact` without
/// verifying it; wasmtime only checks the header, its version and the
/// engine's configuration. The bytes must come from this host's own
/// compilation, kept where nobody else could change them: a file of this
/// cache (see the module docs), or one the embedder vouched for
/// ([`Runtime::load_precompiled`](crate::Runtime::load_precompiled)).
pub(crate) unsafe fn deserialize(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // Safety: passed on to the caller (this function's contract).
    unsafe { Component::deserialize(engine, artifact) }
}

/// Why machine code should not be loaded from `dir`, if it should not: the
/// directory (or, before it exists, the nearest existing directory above
/// it) and every directory above that must be owned by this user or root,
/// and writable by nobody else unless sticky; the directory itself must be
/// this user's and writable only by them.
fn untrusted_because(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // Safety: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    // Where it really is (symlinks resolved) when it exists: the
    // directories checked are those above the target, not above a link.
    let absolute = match std::fs::canonicalize(dir).or_else(|_| std::path::absolute(dir)) {
        Ok(path) => path,
        Err(err) => return Some(format!("cannot resolve it: {err}")),
    };
    for step in absolute.ancestors() {
        let meta = match std::fs::metadata(step) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Some(format!("cannot check {}: {err}", step.display())),
        };
        let mode = meta.mode();
        let others_write = mode & 0o022 != 0;
        let sticky = mode & 0o1000 != 0;
        let show = step.display();
        if step == absolute {
            if meta.uid() != me {
                return Some(format!(
                    "it belongs to uid {}, not to this user",
                    meta.uid()
                ));
            }
            if others_write {
                return Some(format!(
                    "others can write to it (mode {:o}): they could plant machine code",
                    mode & 0o7777
                ));
            }
        } else if meta.uid() != me && meta.uid() != 0 {
            return Some(format!("{show} above it belongs to uid {}", meta.uid()));
        } else if others_write && !sticky {
            return Some(format!(
                "others can write to {show} above it (mode {:o}): they could replace it",
                mode & 0o7777
            ));
        }
    }
    None
}

/// The contents of a cache file, if it is this user's and writable by
/// nobody else (`None` also when it does not exist).
fn read_private(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let mut file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    // Safety: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
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
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
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
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
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
    fn a_directory_others_can_write_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("aio-trust-test-{}", std::process::id()));
        let dir = base.join("cache");
        write_atomically(&dir.join("x.cwasm"), b"code").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("x.cwasm")), 0o600);
        assert_eq!(untrusted_because(&dir), None);
        assert_eq!(
            read_private(&dir.join("x.cwasm")).as_deref(),
            Some(&b"code"[..])
        );
        // Not yet there, below a private directory: fine.
        assert_eq!(untrusted_because(&dir.join("later")), None);

        let set = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        set(&dir.join("x.cwasm"), 0o666);
        assert_eq!(read_private(&dir.join("x.cwasm")), None);
        set(&dir, 0o777);
        let why = untrusted_because(&dir).expect("a 777 cache dir is refused");
        assert!(why.contains("others can write to it (mode 777)"), "{why}");
        set(&dir, 0o700);
        set(&base, 0o777);
        let why = untrusted_because(&dir).expect("a 777 parent is refused");
        assert!(why.contains("above it"), "{why}");
        assert!(untrusted_because(&dir.join("later")).is_some());
        // Sticky, as /tmp is: others cannot replace our directory.
        set(&base, 0o1777);
        assert_eq!(untrusted_because(&dir), None);
        // A link to our directory inside an open one: the directories above
        // the target are what count, not those above the link.
        set(&base, 0o777);
        let link = std::env::temp_dir().join(format!("aio-trust-link-{}", std::process::id()));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let why = untrusted_because(&link);
        std::fs::remove_file(&link).unwrap();
        assert!(
            why.is_some_and(|w| w.contains("above it")),
            "a link hid the open parent"
        );
        set(&base, 0o700);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_world_writable_cache_compiles_but_stores_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("aio-open-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let cache = CompileCache::new(CacheSetting::Dir(dir.clone()));
        let engine = Engine::default();
        // The smallest component: the preamble alone.
        let component = b"\0asm\x0d\0\x01\0";
        let (_, from) = cache.load_or_compile(&engine, component).unwrap();
        assert_eq!(from, LoadedFrom::Compiled { cached_at: None });
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
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
