//! The host's integration tests: one test binary, one module per suite.
//!
//! Every guest program `tests/programs/src/bin/<suite>_<case>.rs` needs a
//! test function named `<suite>_<case>` in the module `<suite>` here, and
//! every suite module starts with `check_suite!(<suite>);`. Both are checked
//! at compile time: a program without its test, or a suite without its
//! module, does not compile. A new suite needs a new `mod` line below.

/// Requires a test function `$name` in the module that invokes it.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}

/// In suite module `$suite`: requires a test for each of its programs.
macro_rules! check_suite {
    ($suite:ident) => {
        test_artifacts::foreach_program_in_suite!($suite, assert_test_exists);
        /// Proof that this suite checks its programs (see main.rs).
        #[allow(dead_code, reason = "read only when the suite has programs")]
        pub(crate) const SUITE_CHECKED: () = ();
    };
}

mod cli;
mod examples;
mod fs;
mod fuzz;
mod hostile;
mod http_hello;
mod instance;
mod instance_life;
mod instances;
mod net;
mod new;
mod package;
mod plugins;
mod process;
mod ps;
mod queues;
mod repl;
mod runner;
mod signals;
mod sync;
mod tasks;
mod tls;
mod transports;
mod unix;
mod util;
mod wit;

/// Requires a module per suite, and that it invoked `check_suite!`.
macro_rules! assert_suite_checked {
    ($suite:ident) => {
        const _: () = self::$suite::SUITE_CHECKED;
    };
}
test_artifacts::foreach_suite!(assert_suite_checked);
