//! Guests that attack the host's interfaces directly (raw bindings): each
//! attack is refused or ignored, the host stays up, and the run ends
//! normally.

use crate::util::{LOOPBACK, aio};
use std::time::Duration;
use test_artifacts::*;

check_suite!(hostile);

#[test]
fn hostile_mux_frames() {
    aio(&[
        "run",
        "--timeout=30s",
        LOOPBACK[0],
        LOOPBACK[1],
        HOSTILE_MUX_FRAMES,
    ])
    .within(Duration::from_secs(30))
    .status(0)
    .stdout_is(
        "attach twice: Some(ErrorCode::InvalidState)\n\
             a second incoming: 0 bytes\n\
             stale and unknown tokens ignored: true\n\
             an unknown kind closes outgoing: true\n\
             the server got \"real\"\n\
             a 2 MiB frame closes outgoing: true\n\
             the server got \"\"\n\
             afterwards: got 4\n",
    );
}

/// Every address next to a granted one is refused, and audited; the
/// granted one works.
#[test]
fn hostile_net_reach() {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(conn).read_line(&mut line).unwrap();
        line
    });
    let log = crate::util::scratch_dir("hostile_net_reach").join("audit.jsonl");
    let run = aio(&[
        "run",
        "--timeout=30s",
        &format!("--allow-net=127.0.0.1:{port}"),
        "--allow-listen=127.0.0.1:0",
        "--audit-log",
        log.to_str().unwrap(),
        HOSTILE_NET_REACH,
        "--",
        &port.to_string(),
    ])
    .within(Duration::from_secs(30))
    .status(0);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 18, "{out}");
    for line in &lines[..17] {
        assert!(line.contains(": refused ("), "{out}");
    }
    assert_eq!(lines[17], "connect to the granted address: ok");
    assert_eq!(server.join().unwrap(), "granted\n");
    // Every refusal is audited: those no grant could allow too.
    let audit = std::fs::read_to_string(&log).unwrap();
    let denied = audit.lines().filter(|l| l.contains("\"denied\"")).count();
    assert_eq!(denied, 17, "{audit}");
}
