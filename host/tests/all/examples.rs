//! The examples under examples/, run as a user would.

use crate::util::expect_success;
use test_artifacts::*;

#[tokio::test]
async fn hello() {
    let outcome = expect_success(HELLO).await;
    assert_eq!(
        String::from_utf8_lossy(outcome.stdout()),
        "Hello ...\n... World!\n"
    );
}
