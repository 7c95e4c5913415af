//! `kubeseal`: a Secret (a JSON value) sealed into a SealedSecret, one value (`--raw`), or new
//! values merged into an existing SealedSecret (`--merge-into`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPublicKey;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::{CLUSTER_WIDE, NAMESPACE_WIDE, Scope, hybrid_encrypt};

/// Why a Secret could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The input is not a Secret.
    #[error("expected a Secret (kind: Secret), got {0}")]
    NotASecret(String),
    /// `metadata.name` is missing.
    #[error("missing metadata.name in input Secret")]
    NoName,
    /// The scope needs a namespace and there is none.
    #[error("input secret has no namespace (metadata.namespace, or --namespace)")]
    NoNamespace,
    /// Nothing to seal.
    #[error("secret.data is empty in input Secret, assuming this is an error and aborting")]
    Empty,
    /// A `data` value is not base64.
    #[error("data.{0} is not valid base64")]
    Base64(String),
    /// A field has the wrong type.
    #[error("{0} must be {1}")]
    Field(String, &'static str),
    /// The encryption failed.
    #[error("sealing failed: {0}")]
    Crypto(String),
    /// The file to merge into is not a SealedSecret.
    #[error("the file to merge into is not a SealedSecret")]
    NotSealed,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Seals a Secret as kubeseal does. `scope` overrides the Secret's scope annotations;
/// `name`/`namespace` override its own (as `--merge-into` does).
pub fn seal_secret(
    secret: &Value,
    key: &RsaPublicKey,
    scope: Option<Scope>,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Result<Value, SealError> {
    let kind = str_at(secret, "/kind").unwrap_or("");
    if kind != "Secret" {
        return Err(SealError::NotASecret(if kind.is_empty() { "no kind".into() } else { kind.to_string() }));
    }
    let mut meta = secret.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if !meta.is_object() {
        return Err(SealError::Field("metadata".into(), "a mapping"));
    }
    if let Some(n) = name {
        meta["name"] = json!(n);
    }
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    let name = meta.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or(SealError::NoName)?.to_string();
    if let Some(scope) = scope {
        set_scope_annotations(&mut meta, scope);
    }
    let scope = Scope::of(&meta);
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("").to_string();
    if scope != Scope::ClusterWide && namespace.is_empty() {
        return Err(SealError::NoNamespace);
    }
    let label = scope.label(&namespace, &name);
    let mut encrypted = Map::new();
    let mut any = false;
    if let Some(data) = secret.get("data").filter(|d| !d.is_null()) {
        let data = data.as_object().ok_or_else(|| SealError::Field("data".into(), "a mapping"))?;
        for (k, v) in data {
            let text = v.as_str().ok_or_else(|| SealError::Field(format!("data.{k}"), "a base64 string"))?;
            let plain = Zeroizing::new(STANDARD.decode(text).map_err(|_| SealError::Base64(k.clone()))?);
            encrypted.insert(k.clone(), json!(seal_value(key, &plain, &label)?));
            any = true;
        }
    }
    if let Some(data) = secret.get("stringData").filter(|d| !d.is_null()) {
        let data = data.as_object().ok_or_else(|| SealError::Field("stringData".into(), "a mapping"))?;
        for (k, v) in data {
            let text = v.as_str().ok_or_else(|| SealError::Field(format!("stringData.{k}"), "a string"))?;
            encrypted.insert(k.clone(), json!(seal_value(key, text.as_bytes(), &label)?));
            any = true;
        }
    }
    if !any {
        return Err(SealError::Empty);
    }
    // The template keeps the Secret's metadata, less what the API server sets and the
    // last-applied annotations; owner references are the controller's to set.
    let mut template_meta = meta.clone();
    if let Some(m) = template_meta.as_object_mut() {
        for field in [
            "selfLink",
            "uid",
            "resourceVersion",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "ownerReferences",
            "managedFields",
        ] {
            m.remove(field);
        }
        m.insert("creationTimestamp".into(), Value::Null);
        if let Some(Value::Object(a)) = m.get_mut("annotations") {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a.remove("kubecfg.ksonnet.io/last-applied-configuration");
        }
    }
    let mut template = json!({ "metadata": template_meta });
    if let Some(t) = secret.get("type") {
        template["type"] = t.clone();
    }
    if let Some(i) = secret.get("immutable") {
        template["immutable"] = i.clone();
    }
    let mut sealed_meta = json!({ "creationTimestamp": null, "name": name });
    if !namespace.is_empty() {
        sealed_meta["namespace"] = json!(namespace);
    }
    set_scope_annotations(&mut sealed_meta, scope);
    Ok(json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": sealed_meta,
        "spec": { "encryptedData": encrypted, "template": template },
    }))
}

fn seal_value(key: &RsaPublicKey, plain: &[u8], label: &str) -> Result<String, SealError> {
    Ok(STANDARD.encode(hybrid_encrypt(key, plain, label).map_err(SealError::Crypto)?))
}

/// kubeseal's `UpdateScopeAnnotations`: the scope's annotation set to `"true"`, the other
/// removed (an object without annotations gets them only when not strict).
fn set_scope_annotations(meta: &mut Value, scope: Scope) {
    let Some(m) = meta.as_object_mut() else { return };
    let annotations = m.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    let Some(a) = annotations.as_object_mut() else { return };
    a.remove(NAMESPACE_WIDE);
    a.remove(CLUSTER_WIDE);
    match scope {
        Scope::NamespaceWide => {
            a.insert(NAMESPACE_WIDE.into(), json!("true"));
        }
        Scope::ClusterWide => {
            a.insert(CLUSTER_WIDE.into(), json!("true"));
        }
        Scope::Strict => {}
    }
    if a.is_empty() {
        m.remove("annotations");
    }
}

/// `kubeseal --raw`: one value sealed for `namespace`/`name` in `scope`, base64.
pub fn seal_raw(
    key: &RsaPublicKey,
    value: &[u8],
    namespace: &str,
    name: &str,
    scope: Scope,
) -> Result<String, SealError> {
    if scope != Scope::ClusterWide && namespace.is_empty() {
        return Err(SealError::NoNamespace);
    }
    if scope == Scope::Strict && name.is_empty() {
        return Err(SealError::NoName);
    }
    seal_value(key, value, &scope.label(namespace, name))
}

/// `kubeseal --merge-into`: the Secret sealed under the existing SealedSecret's name and
/// namespace (in the Secret's or the given scope), its values, template annotations and
/// labels set into the existing one.
pub fn merge_into(
    existing: &Value,
    secret: &Value,
    key: &RsaPublicKey,
    scope: Option<Scope>,
) -> Result<Value, SealError> {
    if str_at(existing, "/kind") != Some("SealedSecret") {
        return Err(SealError::NotSealed);
    }
    let name = str_at(existing, "/metadata/name");
    let namespace = str_at(existing, "/metadata/namespace");
    let update = seal_secret(secret, key, scope, name, namespace)?;
    let mut merged = existing.clone();
    for (field, pointer) in [
        ("encryptedData", "/spec/encryptedData"),
        ("annotations", "/spec/template/metadata/annotations"),
        ("labels", "/spec/template/metadata/labels"),
    ] {
        let Some(Value::Object(new)) = update.pointer(pointer) else { continue };
        let target = ensure_object(&mut merged, pointer).ok_or(SealError::Field(field.into(), "a mapping"))?;
        for (k, v) in new {
            target.insert(k.clone(), v.clone());
        }
    }
    Ok(merged)
}

fn ensure_object<'a>(v: &'a mut Value, pointer: &str) -> Option<&'a mut Map<String, Value>> {
    let mut current = v;
    for part in pointer.split('/').skip(1) {
        let obj = current.as_object_mut()?;
        current = obj.entry(part).or_insert_with(|| json!({}));
        if current.is_null() {
            *current = json!({});
        }
    }
    current.as_object_mut()
}
