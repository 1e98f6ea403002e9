//! Small helpers over miniserde's `Value`: Matrix events are open-ended JSON (any `content`
//! shape, unknown keys everywhere), so this crate reads them by path instead of typed structs.

use miniserde::json::{Number, Object, Value};

/// The value at `keys` inside nested objects.
pub(crate) fn at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in keys {
        match cur {
            Value::Object(o) => cur = o.get(*key)?,
            _ => return None,
        }
    }
    Some(cur)
}

pub(crate) fn str_at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    match at(v, keys)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn bool_at(v: &Value, keys: &[&str]) -> Option<bool> {
    match at(v, keys)? {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

pub(crate) fn u64_at(v: &Value, keys: &[&str]) -> Option<u64> {
    match at(v, keys)? {
        Value::Number(Number::U64(n)) => Some(*n),
        Value::Number(Number::I64(n)) => u64::try_from(*n).ok(),
        Value::Number(Number::F64(f)) if *f >= 0.0 => Some(*f as u64),
        _ => None,
    }
}

pub(crate) fn array_at<'a>(v: &'a Value, keys: &[&str]) -> &'a [Value] {
    match at(v, keys) {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

/// The entries of the object at `keys` (room maps in `/sync`).
pub(crate) fn entries<'a>(v: &'a Value, keys: &[&str]) -> Vec<(&'a str, &'a Value)> {
    match at(v, keys) {
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        _ => Vec::new(),
    }
}

/// An object from `(key, value)` pairs.
pub(crate) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert(k.to_string(), v);
    }
    Value::Object(o)
}

pub(crate) fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

pub(crate) fn n(x: u64) -> Value {
    Value::Number(Number::U64(x))
}

/// Sets `key` on an object value (no-op on anything else).
pub(crate) fn set(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(o) = v {
        o.insert(key.to_string(), value);
    }
}
