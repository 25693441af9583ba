//! The compiler warns when a guard, permit or handle whose drop releases or
//! closes something is left unused (`lock.acquire().await?;` would release
//! the lock at the end of the statement): a compile-fail test of the
//! `#[must_use]` attributes, with trybuild. One test function, one case
//! file, so the dependency build is shared and the test stays quick.
//!
//! After an intended change of a message, regenerate the expected output
//! with `TRYBUILD=overwrite cargo test -p asyncio --test must_use`.

#[test]
fn unused_guards_and_handles_are_errors_under_deny_unused_must_use() {
    trybuild::TestCases::new().compile_fail("tests/ui/must_use.rs");
}
