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
