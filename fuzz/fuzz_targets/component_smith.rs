//! aio_host::fuzzing::component (host/src/fuzzing/component.rs) on
//! components wasm-smith makes: valid far more often than mutated bytes,
//! so compilation, inspection and the host's checks see real structure.
//!
//! An even first byte: a wasm-smith core module (features as wasmtime 48
//! enables them; no imports) in a component that instantiates it. An odd
//! one: wasm-smith's own (incomplete) component generator.
//!
//! The replay test cannot run wasm-smith, so it replays components, not
//! this target's inputs: `AIO_FUZZ_SMITH_OUT=FILE` writes the component an
//! input makes, for fuzz/regressions/component/ (scripts/fuzz does this
//! for a crash).
#![no_main]

use arbitrary::Unstructured;
use wasm_encoder::{ComponentSectionId, InstanceSection, ModuleArg, RawSection};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(bytes) = generate(data) else {
        return;
    };
    if let Some(out) = std::env::var_os("AIO_FUZZ_SMITH_OUT") {
        std::fs::write(out, &bytes).expect("AIO_FUZZ_SMITH_OUT is writable");
    }
    aio_host::fuzzing::component(&bytes);
});

fn generate(data: &[u8]) -> Option<Vec<u8>> {
    let (&which, rest) = data.split_first()?;
    let mut u = Unstructured::new(rest);
    let mut config = wasm_smith::Config {
        // Off in wasmtime 48 as aio builds it (no `threads` feature).
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        ..Default::default()
    };
    if which % 2 == 1 {
        let component = wasm_smith::Component::new(config, &mut u).ok()?;
        return Some(component.to_bytes());
    }
    config.max_imports = 0;
    let module = wasm_smith::Module::new(config, &mut u).ok()?;
    let mut component = wasm_encoder::Component::new();
    component.section(&RawSection {
        id: ComponentSectionId::CoreModule.into(),
        data: &module.to_bytes(),
    });
    let mut instances = InstanceSection::new();
    instances.instantiate(0, Vec::<(&str, ModuleArg)>::new());
    component.section(&instances);
    Some(component.finish())
}
