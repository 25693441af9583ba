//! Checks dynamic call arguments ([`Val`]s) against an export's parameter
//! types before the call is queued: wasmtime finds a mismatch only while
//! lowering, inside the store's event loop, where it would end the whole
//! instance rather than the one call.

use crate::inspect::wit::type_name;
use wasmtime::component::{Type, Val};

/// `Ok` when `val` is a value of `ty`; else what did not fit, e.g.
/// `expected string, got u32` (with the path inside a compound value).
pub(crate) fn check(val: &Val, ty: &Type) -> Result<(), String> {
    check_at(val, ty, &mut String::new())
}

fn check_at(val: &Val, ty: &Type, path: &mut String) -> Result<(), String> {
    let mismatch = |path: &str| {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at {path}")
        };
        Err(format!(
            "expected {}, got {}{at}",
            type_name(ty),
            describe(val)
        ))
    };
    let nested = |path: &mut String, part: &str, val: &Val, ty: &Type| {
        let len = path.len();
        path.push_str(part);
        let r = check_at(val, ty, path);
        path.truncate(len);
        r
    };
    match (ty, val) {
        (Type::Bool, Val::Bool(_))
        | (Type::S8, Val::S8(_))
        | (Type::U8, Val::U8(_))
        | (Type::S16, Val::S16(_))
        | (Type::U16, Val::U16(_))
        | (Type::S32, Val::S32(_))
        | (Type::U32, Val::U32(_))
        | (Type::S64, Val::S64(_))
        | (Type::U64, Val::U64(_))
        | (Type::Float32, Val::Float32(_))
        | (Type::Float64, Val::Float64(_))
        | (Type::Char, Val::Char(_))
        | (Type::String, Val::String(_))
        // Handles are checked by wasmtime against the store that owns them.
        | (Type::Own(_) | Type::Borrow(_), Val::Resource(_))
        | (Type::Future(_), Val::Future(_))
        | (Type::Stream(_), Val::Stream(_))
        | (Type::ErrorContext, Val::ErrorContext(_)) => Ok(()),
        (Type::List(list), Val::List(items)) => {
            let item = list.ty();
            for (i, v) in items.iter().enumerate() {
                nested(path, &format!("[{i}]"), v, &item)?;
            }
            Ok(())
        }
        (Type::FixedLengthList(list), Val::FixedLengthList(items))
            if items.len() == list.len() as usize =>
        {
            let item = list.ty();
            for (i, v) in items.iter().enumerate() {
                nested(path, &format!("[{i}]"), v, &item)?;
            }
            Ok(())
        }
        (Type::Map(map), Val::Map(entries)) => {
            let (key, value) = (map.key(), map.value());
            for (i, (k, v)) in entries.iter().enumerate() {
                nested(path, &format!("[{i}].key"), k, &key)?;
                nested(path, &format!("[{i}].value"), v, &value)?;
            }
            Ok(())
        }
        (Type::Record(record), Val::Record(fields)) if fields.len() == record.fields().len() => {
            for (field, (name, v)) in record.fields().zip(fields) {
                if field.name != name {
                    return mismatch(path);
                }
                nested(path, &format!(".{name}"), v, &field.ty)?;
            }
            Ok(())
        }
        (Type::Tuple(tuple), Val::Tuple(items)) if items.len() == tuple.types().len() => {
            for (i, (t, v)) in tuple.types().zip(items).enumerate() {
                nested(path, &format!(".{i}"), v, &t)?;
            }
            Ok(())
        }
        (Type::Variant(variant), Val::Variant(name, payload)) => {
            match variant.cases().find(|c| c.name == name) {
                Some(case) => match (&case.ty, payload) {
                    (None, None) => Ok(()),
                    (Some(t), Some(v)) => nested(path, &format!("({name})"), v, t),
                    _ => mismatch(path),
                },
                None => mismatch(path),
            }
        }
        (Type::Enum(names), Val::Enum(name)) if names.names().any(|n| n == name) => Ok(()),
        (Type::Flags(names), Val::Flags(set))
            if set.iter().all(|f| names.names().any(|n| n == f)) =>
        {
            Ok(())
        }
        (Type::Option(_), Val::Option(None)) => Ok(()),
        (Type::Option(option), Val::Option(Some(v))) => nested(path, "?", v, &option.ty()),
        (Type::Result(result), Val::Result(r)) => {
            let (expected, got, part) = match r {
                Ok(v) => (result.ok(), v, ".ok"),
                Err(v) => (result.err(), v, ".err"),
            };
            match (expected, got) {
                (None, None) => Ok(()),
                (Some(t), Some(v)) => nested(path, part, v, &t),
                _ => mismatch(path),
            }
        }
        _ => mismatch(path),
    }
}

/// A value's kind, for messages (`u32`, `string`, `record`, ...).
fn describe(val: &Val) -> &'static str {
    match val {
        Val::Bool(_) => "bool",
        Val::S8(_) => "s8",
        Val::U8(_) => "u8",
        Val::S16(_) => "s16",
        Val::U16(_) => "u16",
        Val::S32(_) => "s32",
        Val::U32(_) => "u32",
        Val::S64(_) => "s64",
        Val::U64(_) => "u64",
        Val::Float32(_) => "f32",
        Val::Float64(_) => "f64",
        Val::Char(_) => "char",
        Val::String(_) => "string",
        Val::List(_) => "a list",
        Val::FixedLengthList(_) => "a fixed-length list",
        Val::Map(_) => "a map",
        Val::Record(_) => "a record",
        Val::Tuple(_) => "a tuple",
        Val::Variant(..) => "a variant case",
        Val::Enum(_) => "an enum case",
        Val::Option(_) => "an option",
        Val::Result(_) => "a result",
        Val::Flags(_) => "flags",
        Val::Resource(_) => "a resource",
        Val::Future(_) => "a future",
        Val::Stream(_) => "a stream",
        Val::ErrorContext(_) => "an error-context",
    }
}
