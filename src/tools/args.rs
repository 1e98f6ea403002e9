//! Reading tool arguments with errors the model can act on: each names the argument and what
//! was expected (`missing required argument "path" (a string)`).

use miniserde::json::{Number, Object, Value};

/// A required string.
pub fn string(args: &Object, key: &str) -> Result<String, String> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(format!("missing required argument \"{key}\" (a string)")),
        Some(_) => Err(format!("argument \"{key}\" must be a string")),
    }
}

/// An optional string (`null` counts as absent).
pub fn opt_string(args: &Object, key: &str) -> Result<Option<String>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("argument \"{key}\" must be a string")),
    }
}

/// An optional integer within `min..=max` (a number in a string is accepted, as models send them).
pub fn opt_int(args: &Object, key: &str, min: i64, max: i64) -> Result<Option<i64>, String> {
    let n = match args.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(Number::U64(n))) => i64::try_from(*n).unwrap_or(i64::MAX),
        Some(Value::Number(Number::I64(n))) => *n,
        Some(Value::Number(Number::F64(f))) if f.fract() == 0.0 => *f as i64,
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => s.trim().parse().unwrap_or(0),
        Some(_) => return Err(format!("argument \"{key}\" must be an integer")),
    };
    if n < min || n > max {
        return Err(format!("argument \"{key}\" must be between {min} and {max}, not {n}"));
    }
    Ok(Some(n))
}

/// An optional boolean (`"true"`/`"false"` strings accepted).
pub fn opt_bool(args: &Object, key: &str) -> Result<Option<bool>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(_) => Err(format!("argument \"{key}\" must be true or false")),
    }
}

/// An optional list of strings (a single string counts as a list of one).
pub fn opt_strings(args: &Object, key: &str) -> Result<Option<Vec<String>>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(format!("argument \"{key}\" must be a list of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("argument \"{key}\" must be a list of strings")),
    }
}

/// Builds a JSON object result from `(key, value)` pairs.
pub fn object(pairs: Vec<(&str, Value)>) -> String {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert(k.to_string(), v);
    }
    miniserde::json::to_string(&Value::Object(o))
}

pub fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

pub fn n(value: i64) -> Value {
    Value::Number(Number::I64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(json: &str) -> Object {
        miniserde::json::from_str(json).unwrap()
    }

    #[test]
    fn errors_name_the_argument_and_the_expected_kind() {
        let a = obj(r#"{"p":1,"t":"12","b":"yes","l":[1]}"#);
        assert_eq!(string(&a, "path").unwrap_err(), "missing required argument \"path\" (a string)");
        assert_eq!(string(&a, "p").unwrap_err(), "argument \"p\" must be a string");
        assert_eq!(opt_int(&a, "t", 1, 10).unwrap_err(), "argument \"t\" must be between 1 and 10, not 12");
        assert_eq!(opt_int(&a, "t", 1, 100).unwrap(), Some(12));
        assert!(opt_bool(&a, "b").unwrap_err().contains("true or false"));
        assert!(opt_strings(&a, "l").unwrap_err().contains("list of strings"));
        assert_eq!(opt_string(&a, "missing").unwrap(), None);
    }
}
