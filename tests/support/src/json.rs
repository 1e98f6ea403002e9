//! JSON and form helpers for the fakes: miniserde's `Value` for reading, `format!` with
//! [`esc`] for writing (the fakes' replies are small and fixed in shape).

use miniserde::json::{self, Number, Object, Value};

/// A JSON string literal, quotes included.
pub fn esc(s: &str) -> String {
    json::to_string(&s.to_string())
}

pub fn parse(s: &str) -> Option<Value> {
    json::from_str::<Value>(s).ok()
}

pub fn to_string(v: &Value) -> String {
    json::to_string(v)
}

pub fn as_object(v: &Value) -> Option<&Object> {
    match v {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// A field as text: strings as they are, numbers and booleans printed.
pub fn get_str(o: &Object, key: &str) -> Option<String> {
    match o.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field as an integer, accepting numeric strings (form bodies carry only strings).
pub fn get_i64(o: &Object, key: &str) -> Option<i64> {
    match o.get(key)? {
        Value::Number(Number::I64(n)) => Some(*n),
        Value::Number(Number::U64(n)) => i64::try_from(*n).ok(),
        Value::Number(Number::F64(f)) => Some(*f as i64),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn get_bool(o: &Object, key: &str) -> Option<bool> {
    match o.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A field that may be an object or a JSON string holding one (form-encoded nested params).
pub fn get_object(o: &Object, key: &str) -> Option<Object> {
    match o.get(key)? {
        Value::Object(inner) => Some(inner.clone()),
        Value::String(s) => match parse(s)? {
            Value::Object(inner) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

/// Decodes `application/x-www-form-urlencoded` (also query strings) into string fields.
pub fn parse_form(s: &str, into: &mut Object) {
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        into.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Unix time in seconds, as Telegram and OpenAI put in `date` / `created`.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let mut o = Object::new();
        parse_form("chat_id=-100&text=a+b%21%C3%A9&x=%zz&flag", &mut o);
        assert_eq!(get_i64(&o, "chat_id"), Some(-100));
        assert_eq!(get_str(&o, "text").as_deref(), Some("a b!é"));
        assert_eq!(get_str(&o, "x").as_deref(), Some("%zz"));
        assert_eq!(get_str(&o, "flag").as_deref(), Some(""));
    }

    #[test]
    fn escaping_round_trips() {
        let s = "quote \" backslash \\ newline \n tab \t é 🙂";
        let Value::String(back) = parse(&esc(s)).unwrap() else { panic!() };
        assert_eq!(back, s);
    }
}
