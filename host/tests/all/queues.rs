//! Tests of the `queues_*` programs (tests/programs/src/bin/queues_*.rs): the
//! queues, run in the real host. Each program checks its own behaviour;
//! the tests here add the checks that need its output.

use crate::util::expect_success;
use test_artifacts::*;

check_suite!(queues);

#[tokio::test]
async fn queues_bounded_put() {
    expect_success(QUEUES_BOUNDED_PUT).await;
}

#[tokio::test]
async fn queues_cancelled_get() {
    expect_success(QUEUES_CANCELLED_GET).await;
}

#[tokio::test]
async fn queues_join() {
    expect_success(QUEUES_JOIN).await;
}

#[tokio::test]
async fn queues_priority_lifo() {
    let out = expect_success(QUEUES_PRIORITY_LIFO).await;
    assert_eq!(String::from_utf8_lossy(out.stdout()), "[3, 2, 1]\n");
}

#[tokio::test]
async fn queues_put_nowait_full() {
    let out = expect_success(QUEUES_PUT_NOWAIT_FULL).await;
    assert_eq!(String::from_utf8_lossy(out.stdout()), "queue is full\n");
}

#[tokio::test]
async fn queues_shutdown() {
    expect_success(QUEUES_SHUTDOWN).await;
}

#[tokio::test]
async fn queues_stream() {
    let out = expect_success(QUEUES_STREAM).await;
    assert_eq!(String::from_utf8_lossy(out.stdout()), "100 items\n");
}
