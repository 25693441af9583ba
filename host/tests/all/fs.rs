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
    let canonical = |p: &str| std::fs::canonicalize(p).unwrap().display().to_string();
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
