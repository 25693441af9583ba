//! Tests of the `tasks_*` programs (tests/programs/src/bin/tasks_*.rs): the
//! loop, tasks and cancellation, run in the real host. Each program checks
//! its own behaviour (a failed assertion is a panic, so a trap); the tests
//! here add the checks that need its output.

use crate::util::expect_success;
use test_artifacts::*;

check_suite!(tasks);

#[tokio::test]
async fn tasks_as_completed() {
    expect_success(TASKS_AS_COMPLETED).await;
}

#[tokio::test]
async fn tasks_await_task_cancel() {
    expect_success(TASKS_AWAIT_TASK_CANCEL).await;
}

#[tokio::test]
async fn tasks_cancel_before_start() {
    expect_success(TASKS_CANCEL_BEFORE_START).await;
}

#[tokio::test]
async fn tasks_cancel_cleanup() {
    expect_success(TASKS_CANCEL_CLEANUP).await;
}

#[tokio::test]
async fn tasks_cancel_message() {
    expect_success(TASKS_CANCEL_MESSAGE).await;
}

#[tokio::test]
async fn tasks_cancelling_uncancel() {
    expect_success(TASKS_CANCELLING_UNCANCEL).await;
}

#[tokio::test]
async fn tasks_create_eager_task() {
    expect_success(TASKS_CREATE_EAGER_TASK).await;
}

#[tokio::test]
async fn tasks_debug_slow_step() {
    let out = expect_success(TASKS_DEBUG_SLOW_STEP).await;
    let stderr = String::from_utf8_lossy(out.stderr());
    assert!(
        stderr.contains("asyncio: executing task 'hog' took 0."),
        "no slow-step report:\n{stderr}"
    );
}

#[tokio::test]
async fn tasks_done_callbacks() {
    expect_success(TASKS_DONE_CALLBACKS).await;
}

#[tokio::test]
async fn tasks_eager() {
    expect_success(TASKS_EAGER).await;
}

#[tokio::test]
async fn tasks_exception_handler() {
    expect_success(TASKS_EXCEPTION_HANDLER).await;
}

#[tokio::test]
async fn tasks_future() {
    expect_success(TASKS_FUTURE).await;
}

#[tokio::test]
async fn tasks_gather_all() {
    expect_success(TASKS_GATHER_ALL).await;
}

#[tokio::test]
async fn tasks_gather_cancel_children() {
    expect_success(TASKS_GATHER_CANCEL_CHILDREN).await;
}

#[tokio::test]
async fn tasks_gather_first_error() {
    expect_success(TASKS_GATHER_FIRST_ERROR).await;
}

#[tokio::test]
async fn tasks_gather_macro() {
    expect_success(TASKS_GATHER_MACRO).await;
}

#[tokio::test]
async fn tasks_gather_order() {
    expect_success(TASKS_GATHER_ORDER).await;
}

#[tokio::test]
async fn tasks_hello() {
    let out = expect_success(TASKS_HELLO).await;
    assert_eq!(String::from_utf8_lossy(out.stdout()), "hello\nworld");
}

#[tokio::test]
async fn tasks_introspection() {
    let out = expect_success(TASKS_INTROSPECTION).await;
    let stdout = String::from_utf8_lossy(out.stdout());
    assert!(stdout.contains("3 pending task(s)"), "{stdout}");
}

#[tokio::test]
async fn tasks_loop_callbacks() {
    expect_success(TASKS_LOOP_CALLBACKS).await;
}

#[tokio::test]
async fn tasks_lost_error() {
    let out = expect_success(TASKS_LOST_ERROR).await;
    let stderr = String::from_utf8_lossy(out.stderr());
    assert!(
        stderr.contains("Task exception was never retrieved (task 'doomed'): nobody listens"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(out.stdout()), "still running\n");
}

#[tokio::test]
async fn tasks_result_exception() {
    expect_success(TASKS_RESULT_EXCEPTION).await;
}

#[tokio::test]
async fn tasks_run_cancels_leftovers() {
    let out = expect_success(TASKS_RUN_CANCELS_LEFTOVERS).await;
    let stdout = String::from_utf8_lossy(out.stdout());
    let main_at = stdout.find("main done").expect("main's line");
    for i in 0..3 {
        let at = stdout
            .find(&format!("leftover {i} cleaned up"))
            .unwrap_or_else(|| panic!("leftover {i} was not cleaned up:\n{stdout}"));
        assert!(at > main_at, "cleanup ran before main returned:\n{stdout}");
    }
}

#[tokio::test]
async fn tasks_runner_nested() {
    expect_success(TASKS_RUNNER_NESTED).await;
}

#[tokio::test]
async fn tasks_shield() {
    expect_success(TASKS_SHIELD).await;
}

#[tokio::test]
async fn tasks_sleep_100k() {
    expect_success(TASKS_SLEEP_100K).await;
}

#[tokio::test]
async fn tasks_taskgroup_body_error() {
    expect_success(TASKS_TASKGROUP_BODY_ERROR).await;
}

#[tokio::test]
async fn tasks_taskgroup_failure() {
    expect_success(TASKS_TASKGROUP_FAILURE).await;
}

#[tokio::test]
async fn tasks_taskgroup_many_failures() {
    expect_success(TASKS_TASKGROUP_MANY_FAILURES).await;
}

#[tokio::test]
async fn tasks_taskgroup_outside_cancel() {
    expect_success(TASKS_TASKGROUP_OUTSIDE_CANCEL).await;
}

#[tokio::test]
async fn tasks_taskgroup_success() {
    expect_success(TASKS_TASKGROUP_SUCCESS).await;
}

#[tokio::test]
async fn tasks_timeout_expires() {
    expect_success(TASKS_TIMEOUT_EXPIRES).await;
}

#[tokio::test]
async fn tasks_timeout_nested() {
    expect_success(TASKS_TIMEOUT_NESTED).await;
}

#[tokio::test]
async fn tasks_timeout_none() {
    expect_success(TASKS_TIMEOUT_NONE).await;
}

#[tokio::test]
async fn tasks_timeout_reschedule() {
    expect_success(TASKS_TIMEOUT_RESCHEDULE).await;
}

#[tokio::test]
async fn tasks_undelivered_cancel() {
    expect_success(TASKS_UNDELIVERED_CANCEL).await;
}

#[tokio::test]
async fn tasks_wait_for_in_time() {
    expect_success(TASKS_WAIT_FOR_IN_TIME).await;
}

#[tokio::test]
async fn tasks_wait_for_swallowed() {
    expect_success(TASKS_WAIT_FOR_SWALLOWED).await;
}

#[tokio::test]
async fn tasks_wait_for_timeout() {
    expect_success(TASKS_WAIT_FOR_TIMEOUT).await;
}

#[tokio::test]
async fn tasks_wait_modes() {
    expect_success(TASKS_WAIT_MODES).await;
}

#[tokio::test]
async fn tasks_yield_fairness() {
    expect_success(TASKS_YIELD_FAIRNESS).await;
}
