//! Compact JSON output with object keys in sorted order, as Lean writes it.
//!
//! Lean's JSON objects are ordered maps, so every message it sends has its keys sorted by byte
//! order. The workspace enables serde_json's `preserve_order`, so we cannot rely on `Value`'s
//! own serialisation and sort keys here instead.

use serde_json::Value;

/// Serialises `value` compactly with every object's keys in sorted (byte) order.
pub fn to_sorted_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(inner) = map.get(key) {
                    write_value(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::String(text) => write_string(text, out),
        // Scalars have a single compact spelling, so serde_json's own is the right one.
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(text: &str, out: &mut String) {
    out.push_str(&Value::String(text.to_owned()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_keys_come_out_sorted_and_compact() {
        let value = json!({"z": 1, "a": {"y": [true, null, {"b": "x\"y", "a": 2.5}], "b": "é"}});
        assert_eq!(
            to_sorted_string(&value),
            r#"{"a":{"b":"é","y":[true,null,{"a":2.5,"b":"x\"y"}]},"z":1}"#
        );
    }
}
