//! Files (`--allow-read`, `--allow-write`) through the real `aio` command.

use crate::util::{aio, scratch_dir};
use std::path::Path;
use test_artifacts::*;

check_suite!(fs);

/// A read-only directory with `hello.txt` and a symlink out of it, a
/// read-write directory, and a file beside them that neither grants.
fn layout(name: &str) -> (std::path::PathBuf, String, String, String) {
    let dir = scratch_dir(name);
    let (ro, rw) = (dir.join("ro"), dir.join("rw"));
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::write(ro.join("hello.txt"), "hello").unwrap();
    let outside = dir.join("secret.txt");
    std::fs::write(&outside, "secret").unwrap();
    std::os::unix::fs::symlink(&outside, ro.join("link")).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    (dir.clone(), s(&ro), s(&rw), s(&outside))
}

#[test]
fn fs_grants() {
    let (dir, ro, rw, outside) = layout("fs_grants");
    let log = dir.join("audit.jsonl");
    aio(&[
        "run",
        &format!("--allow-read={ro}"),
        &format!("--allow-write={rw}"),
        "--audit-log",
        log.to_str().unwrap(),
        FS_GRANTS,
        "--",
        &ro,
        &rw,
        &outside,
    ])
    .status(0)
    .stdout_is(
        "read granted: ok \"hello\"\n\
         list granted: [\"hello.txt\", \"link\"]\n\
         write read-only: refused (PermissionDenied)\n\
         remove read-only: refused (PermissionDenied)\n\
         write granted: ok ()\n\
         read back: ok \"data\"\n\
         mkdir granted: ok ()\n\
         rename granted: ok ()\n\
         remove granted: ok ()\n\
         read outside: not found\n\
         read through ..: refused (PermissionDenied)\n\
         read through a symlink: refused (PermissionDenied)\n\
         read /etc/hostname: not found\n\
         write through ..: refused (PermissionDenied)\n\
         hard link of the outside file: not found\n\
         hard link through ..: refused (PermissionDenied)\n",
    );
    assert_eq!(
        std::fs::read_to_string(Path::new(&outside)).unwrap(),
        "secret"
    );
    assert!(!dir.join("escaped.txt").exists());
    assert!(!Path::new(&ro).join("new.txt").exists());
    assert!(
        !Path::new(&rw).join("hard").exists(),
        "no link to the outside"
    );
    let audit = std::fs::read_to_string(&log).unwrap();
    // One denied line per refusal the guest saw (the files under no grant
    // are "not found" in the guest and never reach the host).
    assert_eq!(
        audit.matches(r#""decision":"denied""#).count(),
        6,
        "{audit}"
    );
    let canonical = |p: &str| std::fs::canonicalize(p).unwrap().display().to_string();
    assert!(
        audit.contains(&format!(
            r#""capability":"fs.write","target":"{}/../escaped.txt","decision":"denied","grant":"--allow-write","outcome":"not-permitted""#,
            canonical(&rw)
        )),
        "{audit}"
    );
    assert!(
        audit.contains(&format!(
            r#""capability":"fs.read","target":"{}","decision":"allowed""#,
            canonical(&ro)
        )),
        "{audit}"
    );
    assert!(
        audit.contains(&format!(
            r#""capability":"fs.write","target":"{}","decision":"allowed""#,
            canonical(&rw)
        )),
        "{audit}"
    );
}

/// The audit log's lines without their time: from `"capability"` on.
fn audit_lines(log: &Path) -> Vec<String> {
    let audit = std::fs::read_to_string(log).expect("audit log");
    audit
        .lines()
        .map(|line| match line.find(r#""capability""#) {
            Some(at) => line[at..].to_owned(),
            None => panic!("not an audit line: {line}"),
        })
        .collect()
}

/// Every path operation the host refuses in a read-only grant is audited,
/// one denied line each, naming the flag (and the directory, for a write
/// its write grant would allow); an allowed read, a missing file and a
/// path under no grant (which never reaches the host) write none.
#[test]
fn fs_refusals() {
    let (dir, ro, _, _) = layout("fs_refusals");
    let log = dir.join("audit.jsonl");
    aio(&[
        "run",
        &format!("--allow-read={ro}"),
        "--audit-log",
        log.to_str().unwrap(),
        FS_REFUSALS,
        "--",
        &ro,
        "secret.txt",
    ])
    .status(0)
    .stdout_is(
        "read: ok \"hello\"\n\
         read missing: not found\n\
         read by absolute path: not found\n\
         read through ..: refused (PermissionDenied)\n\
         read through a symlink: refused (PermissionDenied)\n\
         metadata through ..: refused (PermissionDenied)\n\
         create: refused (PermissionDenied)\n\
         open for writing: refused (PermissionDenied)\n\
         mkdir: refused (PermissionDenied)\n\
         remove: refused (PermissionDenied)\n\
         rename: refused (PermissionDenied)\n",
    );
    assert!(!Path::new(&ro).join("new.txt").exists());
    assert!(Path::new(&ro).join("hello.txt").exists());
    let ro = std::fs::canonicalize(&ro).unwrap().display().to_string();
    let denied = |capability: &str, target: &str, grant: &str| {
        format!(
            r#""capability":"{capability}","target":"{target}","decision":"denied","grant":"{grant}","outcome":"not-permitted"}}"#
        )
    };
    let write_grant = format!("--allow-write={ro}");
    assert_eq!(
        audit_lines(&log),
        [
            format!(r#""capability":"fs.read","target":"{ro}","decision":"allowed"}}"#),
            denied("fs.read", &format!("{ro}/../secret.txt"), "--allow-read"),
            denied("fs.read", &format!("{ro}/link"), "--allow-read"),
            denied("fs.read", &format!("{ro}/../secret.txt"), "--allow-read"),
            denied("fs.write", &format!("{ro}/new.txt"), &write_grant),
            denied("fs.write", &format!("{ro}/hello.txt"), &write_grant),
            denied("fs.write", &format!("{ro}/sub"), &write_grant),
            denied("fs.write", &format!("{ro}/hello.txt"), &write_grant),
            denied(
                "fs.write",
                &format!("{ro}/hello.txt -> {ro}/moved.txt"),
                &write_grant
            ),
        ]
    );
}

/// The same through WASI 0.3's `wasi:filesystem` (Rust's `std::fs` uses
/// WASI 0.2): the guest gets `not-permitted` and the log a line per
/// refusal.
#[test]
fn fs_refusals_p3() {
    let (dir, ro, _, _) = layout("fs_refusals_p3");
    let ro = std::fs::canonicalize(&ro).unwrap().display().to_string();
    let log = dir.join("audit.jsonl");
    aio(&[
        "run",
        &format!("--allow-read={ro}"),
        "--audit-log",
        log.to_str().unwrap(),
        FS_REFUSALS_P3,
        "--",
        &ro,
        "secret.txt",
    ])
    .status(0)
    .stdout_is(
        "open: ok\n\
         open missing: ErrorCode::NoEntry\n\
         open through ..: ErrorCode::NotPermitted\n\
         open through a symlink: ErrorCode::NotPermitted\n\
         stat through ..: ErrorCode::NotPermitted\n\
         create: ErrorCode::NotPermitted\n\
         mkdir: ErrorCode::NotPermitted\n\
         remove: ErrorCode::NotPermitted\n\
         rename: ErrorCode::NotPermitted\n",
    );
    let denied = |capability: &str, target: &str, grant: &str| {
        format!(
            r#""capability":"{capability}","target":"{ro}/{target}","decision":"denied","grant":"{grant}","outcome":"not-permitted"}}"#
        )
    };
    let write_grant = format!("--allow-write={ro}");
    assert_eq!(
        audit_lines(&log),
        [
            format!(r#""capability":"fs.read","target":"{ro}","decision":"allowed"}}"#),
            denied("fs.read", "../secret.txt", "--allow-read"),
            denied("fs.read", "link", "--allow-read"),
            denied("fs.read", "../secret.txt", "--allow-read"),
            denied("fs.write", "new.txt", &write_grant),
            denied("fs.write", "sub", &write_grant),
            denied("fs.write", "hello.txt", &write_grant),
            denied(
                "fs.write",
                &format!("hello.txt -> {ro}/moved.txt"),
                &write_grant
            ),
        ]
    );
}

/// Directories given relative to `aio`'s directory: the guest reaches
/// them under those names too (and `..` still does not leave them).
#[test]
fn fs_relative_grants() {
    let (dir, _, _, _) = layout("fs_relative_grants");
    crate::util::aio_at(
        &[
            "run",
            "--allow-read=./ro",
            "--allow-write=rw/",
            FS_GRANTS,
            "--",
            "ro",
            "rw",
            "secret.txt",
        ],
        &[],
        Some(&dir),
    )
    .status(0)
    .stdout_has("read granted: ok \"hello\"\n")
    .stdout_has("write granted: ok ()\n")
    .stdout_has("read outside: not found\n")
    .stdout_has("read through ..: refused (PermissionDenied)\n");
    assert!(
        !dir.join("escaped.txt").exists(),
        "a write through .. left rw/"
    );
}

/// Without a grant nothing is reachable; a directory that cannot be
/// granted is a usage error naming the flag.
#[test]
fn fs_not_granted() {
    let (_dir, ro, rw, outside) = layout("fs_not_granted");
    let run = aio(&["run", FS_GRANTS, "--", &ro, &rw, &outside]).status(1);
    run.stdout_is("read granted: not found\n");
    aio(&["run", "--allow-read=/no/such/dir", FS_GRANTS])
        .status(2)
        .stderr_has("--allow-read=/no/such/dir: cannot grant it: No such file or directory");
    aio(&["run", &format!("--allow-write={outside}"), FS_GRANTS])
        .status(2)
        .stderr_has("cannot grant it: not a directory");
}

/// `sendfile` from a granted file, over streams and over a transport.
#[test]
fn fs_sendfile() {
    let dir = scratch_dir("fs_sendfile");
    let file = dir.join("data.bin");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    aio(&[
        "run",
        &format!("--allow-read={}", dir.display()),
        crate::util::LOOPBACK[0],
        crate::util::LOOPBACK[1],
        FS_SENDFILE,
        "--",
        file.to_str().unwrap(),
    ])
    .status(0)
    .stdout_is(
        "streams: sent 200000\n\
         streams: received 200000, intact: true\n\
         transport: sent 300000, received 300000, intact: true\n",
    );
}
