//! What a FileCluster refuses because an API server would: identities that break the server's
//! name rules (see `gitops_core::names`), and ConfigMap and Secret payloads the server cannot
//! decode or would not store.
//!
//! Messages name the object and the field, never a value: Secret data must not reach a log
//! because it was malformed.

use base64::Engine;
use gitops_core::{Object, names};
use serde_json::Value;

/// The most a ConfigMap's or Secret's data may hold, in bytes (the API server's `MaxSecretSize`,
/// which it applies to both).
const MAX_DATA_BYTES: usize = 1 << 20;

/// Why an API server would refuse an object; the caller adds the object's key. No variant
/// holds a value of the payload.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The apiVersion, kind, namespace or name breaks the server's rules.
    #[error(transparent)]
    Name(#[from] names::Error),
    /// A data map is not a map.
    #[error("{field}: must be a map of strings to strings")]
    NotAMap { field: String },
    /// A data key the server does not accept.
    #[error(
        "{field}: Invalid value: {key:?}: a key must be at most 253 characters of letters, digits, \
         '-', '_' and '.', and must not be '.', '..' or start with '..'"
    )]
    Key { field: String, key: String },
    /// A key in two data maps.
    #[error("{field}.{key}: the key is also in another data map")]
    Twice { field: String, key: String },
    /// A value that is not valid base64.
    #[error("{field}.{key}: the value (not shown) is not valid base64; an API server cannot decode it")]
    Base64 { field: String, key: String },
    /// A value of the wrong type.
    #[error("{field}.{key}: the value (not shown) must be a {expected}")]
    NotAString { field: String, key: String, expected: &'static str },
    /// More data than the server stores.
    #[error("data: Too long: must have at most {MAX_DATA_BYTES} bytes, has {total}")]
    TooLong { total: usize },
}

/// Why an object would be refused; the caller adds the object's key.
pub(crate) fn check(obj: &Object) -> Result<(), Error> {
    let api_version = obj.value().get("apiVersion").and_then(Value::as_str).unwrap_or("");
    names::check_api_version(api_version)?;
    names::check_key(&obj.key(""))?;
    match (obj.group(), obj.kind()) {
        ("", "Secret") => check_payload(obj.value(), &[("data", Encoding::Base64), ("stringData", Encoding::Text)]),
        ("", "ConfigMap") => check_payload(obj.value(), &[("data", Encoding::Text), ("binaryData", Encoding::Base64)]),
        _ => Ok(()),
    }
}

#[derive(Clone, Copy)]
enum Encoding {
    Text,
    Base64,
}

/// Checks the maps of a payload: string keys as `IsConfigMapKey` has them, values of the
/// map's encoding (or null, which the server reads as empty), no key twice across the maps,
/// and at most [`MAX_DATA_BYTES`] in all.
fn check_payload(v: &Value, maps: &[(&str, Encoding)]) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0usize;
    for &(field, encoding) in maps {
        let entries = match v.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::Object(m)) => m,
            Some(_) => return Err(Error::NotAMap { field: field.to_string() }),
        };
        for (key, value) in entries {
            if !is_config_map_key(key) {
                return Err(Error::Key { field: field.to_string(), key: key.clone() });
            }
            // Secret's `stringData` lands in `data`, so a key in both is one key.
            if field != "stringData" && !seen.insert(key.as_str()) {
                return Err(Error::Twice { field: field.to_string(), key: key.clone() });
            }
            let len = match (value, encoding) {
                (Value::Null, _) => 0,
                (Value::String(s), Encoding::Text) => s.len(),
                (Value::String(s), Encoding::Base64) => {
                    decoded_len(s).ok_or_else(|| Error::Base64 { field: field.to_string(), key: key.clone() })?
                }
                (_, encoding) => {
                    let expected = if matches!(encoding, Encoding::Text) { "string" } else { "base64 string" };
                    return Err(Error::NotAString { field: field.to_string(), key: key.clone(), expected });
                }
            };
            total = total.saturating_add(len);
        }
    }
    if total > MAX_DATA_BYTES {
        return Err(Error::TooLong { total });
    }
    Ok(())
}

/// `[-._a-zA-Z0-9]+`, at most 253 characters, not `.`, `..` or starting with `..`.
fn is_config_map_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
        && k != "."
        && !k.starts_with("..")
}

/// The length of `s` decoded as Go's JSON decoder decodes a `[]byte`: standard alphabet, padded;
/// line breaks are skipped, as Go's decoder skips them.
fn decoded_len(s: &str) -> Option<usize> {
    let engine = base64::engine::general_purpose::STANDARD;
    if s.contains(['\r', '\n']) {
        let joined: String = s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        return engine.decode(joined).ok().map(|b| b.len());
    }
    engine.decode(s).ok().map(|b| b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(yaml: &str) -> Object {
        gitops_core::manifest::parse("test", yaml).expect("parses").remove(0)
    }

    #[test]
    fn secret_payloads_the_server_cannot_decode_are_refused_without_their_value() {
        let secret = |data: &str| object(&format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\n{data}\n"));
        assert!(check(&secret("data: {password: aHVudGVyMg==, empty: null}")).is_ok());
        assert!(check(&secret("data: {pem: \"aHVu\\ndGVy\"}")).is_ok(), "line breaks are skipped");
        assert!(check(&secret("stringData: {password: hunter2}")).is_ok());
        for (data, field) in [
            ("data: {password: 'hunter2!'}", "data.password"),
            ("data: {password: {nested: aGk=}}", "data.password"),
            ("data: {password: 12}", "data.password"),
            ("stringData: {password: {nested: x}}", "stringData.password"),
            ("data: [aGk=]", "data: must be a map"),
            ("data: {'../x': aGk=}", "../x"),
        ] {
            let e = check(&secret(data)).unwrap_err().to_string();
            assert!(e.contains(field), "{data}: {e}");
            assert!(!e.contains("hunter2") && !e.contains("aGk="), "{e}");
        }
        let big = format!("data: {{a: {}}}", "QUFB".repeat(350_000));
        assert!(check(&secret(&big)).unwrap_err().to_string().contains("Too long"));
    }

    #[test]
    fn config_maps_keep_text_and_binary_keys_apart() {
        let cm = |data: &str| object(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n{data}\n"));
        assert!(check(&cm("data: {a.conf: x}\nbinaryData: {b: aGk=}")).is_ok());
        assert!(check(&cm("data: {a: x}\nbinaryData: {a: aGk=}")).unwrap_err().to_string().contains("also in another"));
        assert!(check(&cm("binaryData: {b: '%%'}")).unwrap_err().to_string().contains("base64"));
        assert!(check(&cm("data: {a: {b: c}}")).unwrap_err().to_string().contains("must be a string"));
    }

    #[test]
    fn identities_are_checked_as_the_server_checks_them() {
        let e = check(&object("apiVersion: ../../../outside-grp/v1\nkind: Foo\nmetadata: {name: a}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("apiVersion: Invalid value"), "{e}");
        let e = check(&object("apiVersion: v1\nkind: ../../victim\nmetadata: {name: a}\n")).unwrap_err().to_string();
        assert!(e.starts_with("kind: Invalid value"), "{e}");
        let e = check(&object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ../x}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("metadata.namespace: Invalid value"), "{e}");
    }
}
