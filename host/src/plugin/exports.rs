//! A plugin's export functions, found once at load by walking the
//! component's type (as wasmtime's CLI does for `wasmtime run --invoke`),
//! and the names a caller may use for them.
//!
//! A function `greet` of interface `aio-test:plugin/api@0.1.0` answers to
//! `greet`, `api.greet`, `aio-test:plugin/api.greet` and
//! `aio-test:plugin/api.greet@0.1.0` (WAVE's function-name grammar). A
//! short name that fits several functions is an error listing them; the SDK's
//! own `aio:host/control` is resolved apart and never offered.

use crate::error::{Error, ErrorKind};
use crate::inspect::wit::signature;
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, ComponentExportIndex};

use crate::introspect::CONTROL;

/// One export function of a plugin.
#[derive(Debug, Clone)]
pub struct ExportFunc {
    pub(crate) index: ComponentExportIndex,
    ty: ComponentFunc,
    /// The exported interface's name (`aio-test:plugin/api@0.1.0`), or
    /// `None` for a function exported on its own.
    interface: Option<String>,
    func: String,
}

impl ExportFunc {
    /// The function's full name: `ns:pkg/iface.func@version`, or the bare
    /// name of a function exported on its own.
    pub fn name(&self) -> String {
        match &self.interface {
            None => self.func.clone(),
            Some(interface) => match interface.split_once('@') {
                Some((id, version)) => format!("{id}.{}@{version}", self.func),
                None => format!("{interface}.{}", self.func),
            },
        }
    }

    /// The function's own name (`greet`).
    pub fn func(&self) -> &str {
        &self.func
    }

    /// The exported interface it belongs to, if any.
    pub fn interface(&self) -> Option<&str> {
        self.interface.as_deref()
    }

    /// Its type.
    pub fn ty(&self) -> &ComponentFunc {
        &self.ty
    }

    /// Its signature in WIT syntax (`greet: async func(name: string) -> string`).
    pub fn signature(&self) -> String {
        signature(&self.name(), &self.ty)
    }

    /// Whether `query` names this function (see the module docs).
    fn answers_to(&self, query: &str) -> bool {
        let Some(interface) = &self.interface else {
            return query == self.func;
        };
        let (id, version) = match interface.split_once('@') {
            Some((id, version)) => (id, Some(version)),
            None => (interface.as_str(), None),
        };
        let short = id.rsplit_once('/').map_or(id, |(_, short)| short);
        let Some(rest) = query.strip_suffix(self.func.as_str()) else {
            // Only the versioned form ends in something else.
            return version.is_some_and(|v| query == format!("{id}.{}@{v}", self.func));
        };
        match rest {
            "" => true,
            _ => rest
                .strip_suffix('.')
                .is_some_and(|prefix| prefix == short || prefix == id || prefix == interface),
        }
    }
}

/// The SDK's `aio:host/control` exports, when the plugin has them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ControlIndices {
    pub(crate) start: Option<ComponentExportIndex>,
    pub(crate) task_dump: Option<ComponentExportIndex>,
    pub(crate) task_table: Option<ComponentExportIndex>,
}

/// Every export function of a plugin, and its control interface.
#[derive(Debug, Clone)]
pub(crate) struct Exports {
    pub(crate) funcs: Vec<ExportFunc>,
    pub(crate) control: ControlIndices,
}

impl Exports {
    /// Walks the exports of `component`.
    pub(crate) fn of(engine: &Engine, component: &Component) -> Self {
        let mut funcs = Vec::new();
        let mut control = ControlIndices::default();
        let ty = component.component_type();
        for (name, export) in ty.exports(engine) {
            match export.ty {
                ComponentItem::ComponentFunc(func) => {
                    if let Some(index) = component.get_export_index(None, name) {
                        funcs.push(ExportFunc {
                            index,
                            ty: func,
                            interface: None,
                            func: name.to_owned(),
                        });
                    }
                }
                ComponentItem::ComponentInstance(instance) => {
                    let Some(parent) = component.get_export_index(None, name) else {
                        continue;
                    };
                    let is_control = name.split('@').next() == Some(CONTROL);
                    for (func_name, item) in instance.exports(engine) {
                        let ComponentItem::ComponentFunc(func) = item.ty else {
                            continue;
                        };
                        let Some(index) = component.get_export_index(Some(&parent), func_name)
                        else {
                            continue;
                        };
                        if is_control {
                            match func_name {
                                "start" => control.start = Some(index),
                                "task-dump" => control.task_dump = Some(index),
                                "task-table" => control.task_table = Some(index),
                                _ => {}
                            }
                        } else if !func_name.starts_with('[') {
                            // Resource constructors and methods need handles a
                            // caller cannot make: not offered.
                            funcs.push(ExportFunc {
                                index,
                                ty: func,
                                interface: Some(name.to_owned()),
                                func: func_name.to_owned(),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        Exports { funcs, control }
    }

    /// The function `query` names; `plugin` names the plugin in errors.
    pub(crate) fn resolve(&self, plugin: &str, query: &str) -> Result<usize, Error> {
        let found: Vec<usize> = (0..self.funcs.len())
            .filter(|&i| self.funcs[i].answers_to(query))
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::new(
                ErrorKind::NoSuchExport,
                format!(
                    "{plugin}: no export function `{query}` (it exports: {})",
                    self.list(0..self.funcs.len())
                ),
            )),
            many => Err(Error::new(
                ErrorKind::NoSuchExport,
                format!(
                    "{plugin}: `{query}` is ambiguous: it could be {}",
                    self.list(many.iter().copied())
                ),
            )),
        }
    }

    fn list(&self, which: impl Iterator<Item = usize>) -> String {
        let names: Vec<String> = which.map(|i| self.funcs[i].name()).collect();
        if names.is_empty() {
            "no functions".to_owned()
        } else {
            names.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `ExportFunc` for name tests (its index and type are never read).
    fn func(interface: Option<&str>, name: &str, sample: &ExportFunc) -> ExportFunc {
        ExportFunc {
            interface: interface.map(str::to_owned),
            func: name.to_owned(),
            ..sample.clone()
        }
    }

    /// An export of the test plugin (compiled once per test binary).
    fn sample() -> ExportFunc {
        static SAMPLE: std::sync::LazyLock<ExportFunc> = std::sync::LazyLock::new(|| {
            let runtime = crate::Runtime::builder().no_cache().build().unwrap();
            let plugin = runtime.load_plugin(test_artifacts::TEST_PLUGIN).unwrap();
            plugin.exports()[0].clone()
        });
        SAMPLE.clone()
    }

    #[test]
    fn names_a_function_answers_to() {
        let s = sample();
        let greet = func(Some("aio-test:plugin/api@0.1.0"), "greet", &s);
        for name in [
            "greet",
            "api.greet",
            "aio-test:plugin/api.greet",
            "aio-test:plugin/api.greet@0.1.0",
            "aio-test:plugin/api@0.1.0.greet",
        ] {
            assert!(greet.answers_to(name), "{name}");
        }
        for name in [
            "gree",
            "xgreet",
            "pi.greet",
            "aio-test:plugin/api.greet@0.2.0",
        ] {
            assert!(!greet.answers_to(name), "{name}");
        }
        assert_eq!(greet.name(), "aio-test:plugin/api.greet@0.1.0");
        let bare = func(None, "run", &s);
        assert!(bare.answers_to("run") && !bare.answers_to("x.run"));
        assert_eq!(bare.name(), "run");
    }

    #[test]
    fn ambiguous_and_unknown_names_list_candidates() {
        let s = sample();
        let exports = Exports {
            funcs: vec![
                func(Some("a:b/one@1.0.0"), "go", &s),
                func(Some("a:b/two@1.0.0"), "go", &s),
                func(Some("a:b/two@1.0.0"), "stop", &s),
            ],
            control: ControlIndices::default(),
        };
        let err = exports.resolve("p.wasm", "go").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSuchExport);
        assert_eq!(
            err.message(),
            "p.wasm: `go` is ambiguous: it could be a:b/one.go@1.0.0, a:b/two.go@1.0.0"
        );
        assert_eq!(exports.resolve("p.wasm", "two.go").unwrap(), 1);
        assert_eq!(exports.resolve("p.wasm", "stop").unwrap(), 2);
        let err = exports.resolve("p.wasm", "nope").unwrap_err();
        assert!(err.message().contains("no export function `nope`"), "{err}");
        assert!(err.message().contains("a:b/two.stop@1.0.0"), "{err}");
    }
}
