//! Paths to the guest test programs and examples, compiled to wasm32-wasip2
//! components by this crate's build script.
//!
//! For each program `tests/programs/src/bin/<suite>_<case>.rs` there is a
//! constant `<SUITE>_<CASE>` with the absolute path of its `.wasm`, and for
//! each example `examples/<name>/` a constant `<NAME>`. The macros
//! [`foreach_program!`], [`foreach_suite!`] and [`foreach_program_in_suite!`]
//! list the programs, so a host test harness can require a test for each:
//!
//! ```
//! macro_rules! count {
//!     ($name:ident) => {
//!         let _ = stringify!($name);
//!     };
//! }
//! test_artifacts::foreach_program!(count);
//! ```

include!(concat!(env!("OUT_DIR"), "/gen.rs"));
