//! Function signatures in WIT syntax, from a compiled component's types:
//! what `aio inspect -v` prints under each interface, and what a call with
//! arguments of the wrong shape is told to expect.
//!
//! A compiled component keeps its types' structure but not their names,
//! so a named type is written out as its definition: a `record point`
//! shows as `record { x: s32, y: s32 }`, a resource as `own<resource>`.
//! Types nested deeper than eight levels end in `...`.

use std::fmt::Write as _;
use wasmtime::component::Type;
use wasmtime::component::types::ComponentFunc;

/// How deep a type is written before `...` stands for the rest (a guard
/// against a huge signature, not a limit of the printer).
const MAX_DEPTH: usize = 8;

/// `name: [async ]func(a: T, ...) [-> R]`.
pub fn signature(name: &str, func: &ComponentFunc) -> String {
    let mut out = String::new();
    let _ = write!(out, "{name}: ");
    if func.async_() {
        out.push_str("async ");
    }
    out.push_str("func(");
    for (i, (param, ty)) in func.params().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{param}: ");
        write_type(&mut out, &ty, 0);
    }
    out.push(')');
    let results: Vec<Type> = func.results().collect();
    if let [result] = results.as_slice() {
        out.push_str(" -> ");
        write_type(&mut out, result, 0);
    } else if !results.is_empty() {
        // Not valid in today's WIT, but a component may still say it.
        out.push_str(" -> (");
        for (i, ty) in results.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_type(&mut out, ty, 0);
        }
        out.push(')');
    }
    out
}

/// A type in WIT syntax.
pub fn type_name(ty: &Type) -> String {
    let mut out = String::new();
    write_type(&mut out, ty, 0);
    out
}

fn write_type(out: &mut String, ty: &Type, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    let inner = |out: &mut String, ty: &Type| write_type(out, ty, depth + 1);
    match ty {
        Type::Bool => out.push_str("bool"),
        Type::S8 => out.push_str("s8"),
        Type::U8 => out.push_str("u8"),
        Type::S16 => out.push_str("s16"),
        Type::U16 => out.push_str("u16"),
        Type::S32 => out.push_str("s32"),
        Type::U32 => out.push_str("u32"),
        Type::S64 => out.push_str("s64"),
        Type::U64 => out.push_str("u64"),
        Type::Float32 => out.push_str("f32"),
        Type::Float64 => out.push_str("f64"),
        Type::Char => out.push_str("char"),
        Type::String => out.push_str("string"),
        Type::ErrorContext => out.push_str("error-context"),
        Type::List(list) => {
            out.push_str("list<");
            inner(out, &list.ty());
            out.push('>');
        }
        Type::FixedLengthList(list) => {
            out.push_str("list<");
            inner(out, &list.ty());
            let _ = write!(out, ", {}>", list.len());
        }
        Type::Map(map) => {
            out.push_str("map<");
            inner(out, &map.key());
            out.push_str(", ");
            inner(out, &map.value());
            out.push('>');
        }
        Type::Option(option) => {
            out.push_str("option<");
            inner(out, &option.ty());
            out.push('>');
        }
        Type::Result(result) => match (result.ok(), result.err()) {
            (None, None) => out.push_str("result"),
            (Some(ok), None) => {
                out.push_str("result<");
                inner(out, &ok);
                out.push('>');
            }
            (None, Some(err)) => {
                out.push_str("result<_, ");
                inner(out, &err);
                out.push('>');
            }
            (Some(ok), Some(err)) => {
                out.push_str("result<");
                inner(out, &ok);
                out.push_str(", ");
                inner(out, &err);
                out.push('>');
            }
        },
        Type::Tuple(tuple) => {
            out.push_str("tuple<");
            for (i, ty) in tuple.types().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inner(out, &ty);
            }
            out.push('>');
        }
        Type::Record(record) => {
            out.push_str("record { ");
            for (i, field) in record.fields().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}: ", field.name);
                inner(out, &field.ty);
            }
            out.push_str(" }");
        }
        Type::Variant(variant) => {
            out.push_str("variant { ");
            for (i, case) in variant.cases().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(case.name);
                if let Some(ty) = &case.ty {
                    out.push('(');
                    inner(out, ty);
                    out.push(')');
                }
            }
            out.push_str(" }");
        }
        Type::Enum(names) => {
            let names: Vec<&str> = names.names().collect();
            let _ = write!(out, "enum {{ {} }}", names.join(", "));
        }
        Type::Flags(names) => {
            let names: Vec<&str> = names.names().collect();
            let _ = write!(out, "flags {{ {} }}", names.join(", "));
        }
        Type::Own(_) => out.push_str("own<resource>"),
        Type::Borrow(_) => out.push_str("borrow<resource>"),
        Type::Future(future) => match future.ty() {
            Some(ty) => {
                out.push_str("future<");
                inner(out, &ty);
                out.push('>');
            }
            None => out.push_str("future"),
        },
        Type::Stream(stream) => match stream.ty() {
            Some(ty) => {
                out.push_str("stream<");
                inner(out, &ty);
                out.push('>');
            }
            None => out.push_str("stream"),
        },
    }
}
