use super::*;
use std::io::{Read, Write};
use std::sync::Mutex;

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("aio-unix-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(std::fs::canonicalize(&dir).unwrap())
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An access with `rules` whose audit lines are collected.
fn access(rules: &[&str]) -> (UnixAccess, Arc<Mutex<Vec<CapabilityUse>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let hook: AuditHook = Arc::new(move |e: &AuditEvent| {
        if let AuditEvent::Capability(used) = e {
            sink.lock().unwrap().push(used.clone());
        }
    });
    let rules = rules.iter().map(|r| UnixRule::new(r).unwrap()).collect();
    (UnixAccess::new(rules, Some(hook)), seen)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn rules_are_resolved_when_made() {
    let s = Scratch::new("rules");
    let dir = UnixRule::new(&s.0).unwrap();
    assert_eq!(dir.to_string(), format!("{}/", s.0.display()));
    let sock = UnixRule::new(s.0.join("a.sock")).unwrap();
    assert_eq!(sock.to_string(), s.path("a.sock"));
    // A path through a link is granted where it leads.
    std::fs::create_dir(s.0.join("real")).unwrap();
    std::os::unix::fs::symlink(s.0.join("real"), s.0.join("link")).unwrap();
    let via = UnixRule::new(s.0.join("link/b.sock")).unwrap();
    assert_eq!(via.to_string(), s.path("real/b.sock"));
    let missing = UnixRule::new(s.0.join("nowhere/c.sock")).unwrap_err();
    assert!(
        missing.to_string().starts_with("--allow-unix="),
        "{missing}"
    );
    assert!(UnixRule::new("").is_err());
}

#[test]
fn paths_that_name_no_socket_are_invalid() {
    for bad in ["", "/tmp/", "/tmp/.", "/tmp/..", "a\0b", "."] {
        assert!(
            matches!(split(bad), Err(UnixError::InvalidPath(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn listen_connect_and_cleanup() {
    let s = Scratch::new("roundtrip");
    let (unix, seen) = access(&[s.0.to_str().unwrap()]);
    let path = s.path("srv.sock");
    runtime().block_on(async {
        let listener = unix.listen(&path, 8).unwrap();
        assert!(std::fs::symlink_metadata(&path).is_ok());
        let client = unix.connect(&path).await.unwrap();
        let server = std::future::poll_fn(|cx| listener.poll_accept(cx))
            .await
            .unwrap();
        (&client.0).write_all(b"ping").unwrap();
        let mut got = [0; 4];
        (&server.0).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        drop(listener);
    });
    assert!(
        std::fs::symlink_metadata(&path).is_err(),
        "the socket file is removed"
    );
    let caps: Vec<_> = seen.lock().unwrap().iter().map(|u| u.capability).collect();
    assert_eq!(caps, ["unix.listen", "unix.connect", "unix.accept"]);
}

#[test]
fn a_stale_socket_is_replaced_and_other_files_are_not() {
    let s = Scratch::new("stale");
    let (unix, _) = access(&[s.0.to_str().unwrap()]);
    let path = s.path("srv.sock");
    let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(stale);
    runtime().block_on(async {
        let listener = unix.listen(&path, 8).unwrap();
        drop(listener);
        std::fs::write(s.path("plain"), b"data").unwrap();
        let err = unix.listen(&s.path("plain"), 8).err().unwrap();
        assert_eq!(err, UnixError::AddressInUse);
        assert_eq!(std::fs::read(s.path("plain")).unwrap(), b"data");
    });
}

#[test]
fn the_listener_leaves_a_replaced_file_alone() {
    let s = Scratch::new("replaced");
    let (unix, _) = access(&[s.0.to_str().unwrap()]);
    let path = s.path("srv.sock");
    runtime().block_on(async {
        let listener = unix.listen(&path, 8).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"mine").unwrap();
        drop(listener);
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"mine");
}

#[test]
fn paths_outside_the_grant_are_refused_and_audited() {
    let s = Scratch::new("outside");
    std::fs::create_dir(s.0.join("granted")).unwrap();
    std::fs::create_dir(s.0.join("other")).unwrap();
    let granted = s.0.join("granted");
    let (unix, seen) = access(&[granted.to_str().unwrap()]);
    // A real server outside the grant.
    let outside = s.path("other/srv.sock");
    let _server = std::os::unix::net::UnixListener::bind(&outside).unwrap();
    // A link to it from inside the grant, and a link to its directory.
    std::os::unix::fs::symlink(&outside, granted.join("link.sock")).unwrap();
    std::os::unix::fs::symlink(s.0.join("other"), granted.join("dir")).unwrap();
    runtime().block_on(async {
        let tries = [
            outside.clone(),
            s.path("granted/../other/srv.sock"),
            s.path("granted/dir/srv.sock"),
            s.path("granted/link.sock"),
            s.path("nowhere/at/all.sock"),
        ];
        for path in &tries {
            let err = unix.connect(path).await.err().unwrap();
            let UnixError::NotGranted(why) = err else {
                panic!("{path}: {err:?}");
            };
            assert!(why.contains("--allow-unix"), "{why}");
        }
        // Listening is checked the same way: nothing is made outside.
        let err = unix.listen(&s.path("granted/dir/new.sock"), 8).err();
        assert!(matches!(err, Some(UnixError::NotGranted(_))), "{err:?}");
        assert!(std::fs::symlink_metadata(s.path("other/new.sock")).is_err());
        // Inside the grant: a missing socket is just missing.
        let err = unix.connect(&s.path("granted/none.sock")).await.err();
        assert_eq!(err, Some(UnixError::NotFound));
    });
    let seen = seen.lock().unwrap();
    let denied = seen
        .iter()
        .filter(|u| matches!(u.decision, crate::audit::Decision::Denied { .. }))
        .count();
    assert_eq!(denied, 6, "{seen:?}");
}

#[test]
fn a_socket_path_grant_is_that_path_only() {
    let s = Scratch::new("one");
    let (unix, _) = access(&[&s.path("a.sock")]);
    runtime().block_on(async {
        assert!(unix.listen(&s.path("a.sock"), 8).is_ok());
        let err = unix.listen(&s.path("b.sock"), 8).err();
        assert!(matches!(err, Some(UnixError::NotGranted(_))), "{err:?}");
    });
}
