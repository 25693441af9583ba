//! Calls written in WAVE (the WebAssembly Value Encoding wasmtime's CLI
//! uses for `--invoke`): `greet("world", 10)` in, `"Hello, world!"` out.
//! `aio call` and the REPL use these.

use super::{ExportFunc, Plugin};
use crate::error::{Error, ErrorKind};
use wasmtime::component::Val;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmtime::component::wasm_wave::wasm::{DisplayFuncArgs, DisplayFuncResults, WasmFunc};

impl Plugin {
    /// Parses `expr` (`export(args...)`, optionally written `await
    /// export(args...)`) into the export it names and its arguments, typed
    /// by the export's signature. Errors are one line naming what was
    /// expected: [`ErrorKind::BadArguments`] for malformed WAVE or values of
    /// the wrong type, [`ErrorKind::NoSuchExport`] for an unknown name.
    pub fn parse_call(&self, expr: &str) -> Result<(&ExportFunc, Vec<Val>), Error> {
        let expr = expr.trim();
        let expr = expr
            .strip_prefix("await ")
            .map(str::trim_start)
            .unwrap_or(expr);
        let call = UntypedFuncCall::parse(expr).map_err(|e| {
            Error::new(
                ErrorKind::BadArguments,
                format!("not a call in WAVE syntax (expected `export(arg, ...)`): {e}"),
            )
        })?;
        let export = self.export(call.name())?;
        let params: Vec<_> = WasmFunc::params(export.ty()).collect();
        let args = call.to_wasm_params::<Val>(params.iter()).map_err(|e| {
            Error::new(
                ErrorKind::BadArguments,
                format!("{e}; expected {}", export.signature()),
            )
        })?;
        Ok((export, args))
    }
}

/// Results in WAVE: nothing for none, the value for one, `(a, b)` for more.
pub fn format_results(results: &[Val]) -> String {
    DisplayFuncResults(results).to_string()
}

/// A call in WAVE: `greet("world", 10)` (what the REPL's audit lines
/// record).
pub fn format_call(name: &str, params: &[Val]) -> String {
    format!("{name}{}", DisplayFuncArgs(params))
}
