//! Tests of the `sync_*` programs (tests/programs/src/bin/sync_*.rs): the
//! synchronization primitives, run in the real host. Each program checks its own behaviour;
//! the tests here add the checks that need its output.

use crate::util::expect_success;
use test_artifacts::*;

check_suite!(sync);

#[tokio::test]
async fn sync_barrier() {
    expect_success(SYNC_BARRIER).await;
}

#[tokio::test]
async fn sync_bounded_semaphore() {
    let out = expect_success(SYNC_BOUNDED_SEMAPHORE).await;
    assert_eq!(
        String::from_utf8_lossy(out.stdout()),
        "BoundedSemaphore released too many times\n"
    );
}

#[tokio::test]
async fn sync_condition() {
    expect_success(SYNC_CONDITION).await;
}

#[tokio::test]
async fn sync_condition_wait_for() {
    expect_success(SYNC_CONDITION_WAIT_FOR).await;
}

#[tokio::test]
async fn sync_debug_never_awaited() {
    let out = expect_success(SYNC_DEBUG_NEVER_AWAITED).await;
    let stderr = String::from_utf8_lossy(out.stderr());
    assert!(
        stderr.contains("asyncio: Lock.acquire() was never awaited (task 'forgetful')"),
        "no never-awaited report:\n{stderr}"
    );
}

#[tokio::test]
async fn sync_event() {
    expect_success(SYNC_EVENT).await;
}

#[tokio::test]
async fn sync_lock_fifo() {
    let out = expect_success(SYNC_LOCK_FIFO).await;
    assert_eq!(
        String::from_utf8_lossy(out.stdout()),
        "a in\na out\nb in\nb out\nd in\nd out\n"
    );
}

#[tokio::test]
async fn sync_lock_handoff_cancel() {
    expect_success(SYNC_LOCK_HANDOFF_CANCEL).await;
}

#[tokio::test]
async fn sync_semaphore_no_leak() {
    let out = expect_success(SYNC_SEMAPHORE_NO_LEAK).await;
    assert_eq!(String::from_utf8_lossy(out.stdout()), "peak 3\n");
}
