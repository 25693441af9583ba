//! What a component imports and exports: what it may ask the host for.
//!
//! [`Runtime::inspect`](crate::Runtime::inspect) returns an [`Inspection`]
//! without instantiating anything (a component whose imports this host
//! cannot satisfy can still be inspected). Its `Display` is what
//! `aio inspect` prints:
//!
//! ```text
//! imports:
//!   wasi:cli/environment@0.3.0   3 functions   environment: none unless --allow-env
//!   wasi:clocks/monotonic-clock@0.3.0   4 functions
//! exports:
//!   wasi:cli/run@0.3.0   1 function
//! ```
//!
//! `aio inspect -v` adds every function's signature in WIT syntax
//! ([`wit::signature`]): `run: async func() -> result`.

pub mod wit;

use crate::policy::grant_note;
use std::fmt;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The imports and exports of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// What the component needs from its host, by name.
    pub imports: Vec<Item>,
    /// What the component offers, by name.
    pub exports: Vec<Item>,
}

/// One import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its name, e.g. `wasi:cli/environment@0.3.0`.
    pub name: String,
    /// What it is: `instance` (an interface), `func`, `type`, `resource`,
    /// `component`, `module`, `core func`.
    pub kind: &'static str,
    /// The functions it contains (an interface's functions, including
    /// resource methods such as `[method]tcp-socket.bind`), or its own name
    /// for a function.
    pub functions: Vec<String>,
    /// The same functions' signatures in WIT syntax, in the same order
    /// (`get-environment: func() -> list<tuple<string, string>>`).
    pub signatures: Vec<String>,
    /// For imports: which grant governs it, when it reaches host state.
    pub note: Option<&'static str>,
}

impl Inspection {
    pub(crate) fn of(engine: &Engine, component: &Component) -> Self {
        let ty = component.component_type();
        let item = |name: &str, item: ComponentItem, is_import: bool| {
            let (kind, functions): (_, Vec<(String, String)>) = match item {
                ComponentItem::ComponentInstance(instance) => (
                    "instance",
                    instance
                        .exports(engine)
                        .filter_map(|(name, e)| match e.ty {
                            ComponentItem::ComponentFunc(func) => {
                                Some((name.to_owned(), wit::signature(name, &func)))
                            }
                            _ => None,
                        })
                        .collect(),
                ),
                ComponentItem::ComponentFunc(func) => {
                    ("func", vec![(name.to_owned(), wit::signature(name, &func))])
                }
                ComponentItem::CoreFunc(_) => ("core func", Vec::new()),
                ComponentItem::Module(_) => ("module", Vec::new()),
                ComponentItem::Component(_) => ("component", Vec::new()),
                ComponentItem::Type(_) => ("type", Vec::new()),
                ComponentItem::Resource(_) => ("resource", Vec::new()),
            };
            let (functions, signatures) = functions.into_iter().unzip();
            Item {
                name: name.to_owned(),
                kind,
                functions,
                signatures,
                note: if is_import { grant_note(name) } else { None },
            }
        };
        Inspection {
            imports: ty
                .imports(engine)
                .map(|(name, e)| item(name, e.ty, true))
                .collect(),
            exports: ty
                .exports(engine)
                .map(|(name, e)| item(name, e.ty, false))
                .collect(),
        }
    }

    /// Whether the component exports `wasi:cli/run@0.3.0`, the entry point
    /// `aio run` calls.
    pub fn has_p3_run(&self) -> bool {
        self.exports.iter().any(|e| is_run(&e.name, "0.3"))
    }

    /// Whether the component exports a WASI 0.2 `wasi:cli/run` (a plain
    /// `fn main` built for wasm32-wasip2).
    pub fn has_p2_run(&self) -> bool {
        self.exports.iter().any(|e| is_run(&e.name, "0.2"))
    }

    /// The lines `aio inspect -v` prints: every function's signature under
    /// each item.
    pub fn display_functions(&self) -> impl fmt::Display + '_ {
        Listing {
            inspection: self,
            functions: true,
        }
    }
}

fn is_run(name: &str, version: &str) -> bool {
    name.strip_prefix("wasi:cli/run@").is_some_and(|v| {
        v == version
            || v.starts_with(&format!("{version}."))
            || v.starts_with(&format!("{version}-"))
    })
}

struct Listing<'a> {
    inspection: &'a Inspection,
    functions: bool,
}

impl fmt::Display for Listing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sections = [
            ("imports", &self.inspection.imports),
            ("exports", &self.inspection.exports),
        ];
        let width = sections
            .iter()
            .flat_map(|(_, items)| items.iter())
            .map(|i| i.name.len())
            .max()
            .unwrap_or(0);
        for (title, items) in sections {
            if items.is_empty() {
                writeln!(f, "{title}: none")?;
                continue;
            }
            writeln!(f, "{title}:")?;
            for item in items {
                let what = match (item.kind, item.functions.len()) {
                    ("instance", 1) => "1 function".to_owned(),
                    ("instance", n) => format!("{n} functions"),
                    (kind, _) => kind.to_owned(),
                };
                match item.note {
                    Some(note) => writeln!(f, "  {:width$}  {what:13}  {note}", item.name)?,
                    None => writeln!(f, "  {:width$}  {what}", item.name)?,
                }
                if self.functions && matches!(item.kind, "instance" | "func") {
                    for signature in &item.signatures {
                        writeln!(f, "      {signature}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Listing {
            inspection: self,
            functions: false,
        }
        .fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_versions() {
        assert!(is_run("wasi:cli/run@0.3.0", "0.3"));
        assert!(is_run("wasi:cli/run@0.3.0-rc-2025-09-16", "0.3"));
        assert!(is_run("wasi:cli/run@0.2.6", "0.2"));
        assert!(!is_run("wasi:cli/run@0.2.6", "0.3"));
        assert!(!is_run("wasi:cli/run@0.30.0", "0.3"));
        assert!(!is_run("wasi:cli/environment@0.3.0", "0.3"));
    }
}
