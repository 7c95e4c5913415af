//! `kubeseal --recovery-unseal`: a SealedSecret opened offline with the controller's private
//! keys into the Secret the controller would make (owner reference included).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPrivateKey;
use serde_json::{Map, Value, json};

use super::{Scope, hybrid_decrypt};

/// Why a SealedSecret could not be unsealed. Messages name keys, never values.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    /// Not a SealedSecret.
    #[error("expected a SealedSecret (kind: SealedSecret)")]
    NotSealed,
    /// Only the current `encryptedData` layout is supported.
    #[error("using deprecated 'data' field, use 'encryptedData'")]
    Deprecated,
    /// Some values did not open (wrong key, or sealed for another name, namespace or scope).
    #[error("{}", .0.join(", "))]
    Values(Vec<String>),
    /// Templated `spec.template.data` (Go templates) is not supported.
    #[error("spec.template.data (templated values) is not supported")]
    Templates,
}

/// Unseals with any of `keys`.
pub fn unseal(sealed: &Value, keys: &[RsaPrivateKey]) -> Result<Value, UnsealError> {
    if sealed.get("kind").and_then(Value::as_str) != Some("SealedSecret") {
        return Err(UnsealError::NotSealed);
    }
    let spec = sealed.get("spec").cloned().unwrap_or(Value::Null);
    if spec.get("data").is_some_and(|d| !d.is_null()) {
        return Err(UnsealError::Deprecated);
    }
    if spec.pointer("/template/data").is_some_and(|d| d.as_object().is_some_and(|m| !m.is_empty())) {
        return Err(UnsealError::Templates);
    }
    let meta = sealed.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("").to_string();
    // The label comes from the SealedSecret's own metadata, as the controller takes it.
    let label = Scope::of(&meta).label(&namespace, &name);
    let mut data = Map::new();
    let mut errors = Vec::new();
    if let Some(Value::Object(encrypted)) = spec.get("encryptedData") {
        for (k, v) in encrypted {
            let opened = v
                .as_str()
                .ok_or_else(|| "not a string".to_string())
                .and_then(|s| STANDARD.decode(s).map_err(|e| e.to_string()))
                .and_then(|bytes| hybrid_decrypt(keys, &bytes, &label));
            match opened {
                Ok(plain) => {
                    data.insert(k.clone(), json!(STANDARD.encode(&plain[..])));
                }
                Err(e) => errors.push(format!("{k}: {e}")),
            }
        }
    }
    if !errors.is_empty() {
        return Err(UnsealError::Values(errors));
    }
    let mut secret_meta =
        spec.pointer("/template/metadata").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    secret_meta["name"] = json!(name);
    if namespace.is_empty() {
        if let Some(m) = secret_meta.as_object_mut() {
            m.remove("namespace");
        }
    } else {
        secret_meta["namespace"] = json!(namespace);
    }
    let skip_owner = secret_meta
        .pointer("/annotations/sealedsecrets.bitnami.com~1skip-set-owner-references")
        .and_then(Value::as_str)
        == Some("true");
    if !skip_owner {
        secret_meta["ownerReferences"] = json!([{
            "apiVersion": sealed.get("apiVersion").cloned().unwrap_or(json!("bitnami.com/v1alpha1")),
            "kind": "SealedSecret",
            "name": name,
            "uid": meta.get("uid").cloned().unwrap_or(json!("")),
            "controller": true,
        }]);
    }
    let mut secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": secret_meta, "data": data });
    if let Some(t) = spec.pointer("/template/type") {
        secret["type"] = t.clone();
    }
    if let Some(i) = spec.pointer("/template/immutable") {
        secret["immutable"] = i.clone();
    }
    Ok(secret)
}

/// How one key of a sealed secret differs between two SealedSecrets of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// Only the first (desired) has it.
    Added(String),
    /// Only the second (live) has it.
    Removed(String),
    /// Both have it, with different values.
    Changed(String),
}

/// Which keys' values differ between `desired` and `live` (two SealedSecrets whose ciphertexts
/// differ, as each sealing does even for the same values), by unsealing both with `keys`; the
/// values themselves are compared in memory and never returned. A desired SealedSecret that
/// names no namespace is taken in the live one's (as a sync would place it). Sorted by key;
/// empty when the values are the same (re-sealed).
pub fn changed_keys(desired: &Value, live: &Value, keys: &[RsaPrivateKey]) -> Result<Vec<KeyChange>, UnsealError> {
    let mut desired = desired.clone();
    let live_ns = live.pointer("/metadata/namespace").cloned();
    if desired.pointer("/metadata/namespace").is_none()
        && let (Some(ns), Some(Value::Object(meta))) = (live_ns, desired.get_mut("metadata"))
    {
        meta.insert("namespace".into(), ns);
    }
    let data = |secret: &Value| -> Map<String, Value> {
        secret.get("data").and_then(Value::as_object).cloned().unwrap_or_default()
    };
    let (want, have) = (data(&unseal(&desired, keys)?), data(&unseal(live, keys)?));
    let mut all: Vec<&String> = want.keys().chain(have.keys()).collect();
    all.sort();
    all.dedup();
    Ok(all
        .into_iter()
        .filter_map(|k| match (want.get(k), have.get(k)) {
            (Some(_), None) => Some(KeyChange::Added(k.clone())),
            (None, Some(_)) => Some(KeyChange::Removed(k.clone())),
            (Some(a), Some(b)) if a != b => Some(KeyChange::Changed(k.clone())),
            _ => None,
        })
        .collect())
}
