//! Create, replace, patch and delete: the write paths, sharing one commit step that stamps server fields.

use serde_json::{Value, json};

use crate::apply::{self, ApplyRequest, Managed, SERVER_METADATA, Scope};
use crate::patch;
use crate::resources::{CRD_GROUP, CRD_KIND, Kind};
use crate::status::{self, ApiError};
use crate::store::{Key, Store, Stored, now_rfc3339};

/// Annotation that makes every write of the object fail with 422 and the annotation's text.
pub const REJECT_ANNOTATION: &str = "standin.gitops.dev/reject";

/// Who writes and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteOpts<'a> {
    pub manager: &'a str,
    pub dry_run: bool,
    pub force: bool,
    pub scope: Scope,
}

/// PATCH content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Apply,
    Merge,
    Json,
    Strategic,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

pub(crate) fn key(kind: &Kind, namespace: &str, name: &str) -> Key {
    Key {
        group: kind.group.clone(),
        kind: kind.kind.clone(),
        namespace: if kind.namespaced { namespace.to_string() } else { String::new() },
        name: name.to_string(),
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

/// Turns a client body into the object to store: identity from the URL, server-owned fields from `old`.
fn prepare(
    kind: &Kind,
    namespace: &str,
    url_name: Option<&str>,
    old: Option<&Value>,
    body: Value,
    scope: Scope,
) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    if let Some(k) = body["kind"].as_str().filter(|k| *k != kind.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({k}) does not match the URL ({})",
            kind.kind
        )));
    }
    let mut obj = match (scope, old) {
        (Scope::Status, Some(old)) => {
            let mut obj = old.clone();
            match body.get("status") {
                Some(s) => obj["status"] = s.clone(),
                None => drop(obj.as_object_mut().and_then(|m| m.remove("status"))),
            }
            return Ok(obj);
        }
        _ => body,
    };
    obj["apiVersion"] = json!(kind.api_version());
    obj["kind"] = json!(kind.kind);
    match &obj["metadata"] {
        Value::Null => obj["metadata"] = json!({}),
        Value::Object(_) => {}
        _ => return Err(ApiError::bad_request("metadata must be an object")),
    }
    let body_name = meta_str(&obj, "name").to_string();
    if let Some(url_name) = url_name {
        if body_name.is_empty() {
            obj["metadata"]["name"] = json!(url_name);
        } else if body_name != url_name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({url_name})"
            )));
        }
    }
    let meta = obj["metadata"].as_object_mut().ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    if kind.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".into(), json!(namespace));
            }
        }
    } else {
        meta.remove("namespace");
    }
    for field in SERVER_METADATA {
        match old.and_then(|o| o["metadata"].get(*field)) {
            Some(v) => meta.insert(field.to_string(), v.clone()),
            None => meta.remove(*field),
        };
    }
    if kind.status {
        match old.and_then(|o| o.get("status")) {
            Some(s) => obj["status"] = s.clone(),
            None => drop(obj.as_object_mut().and_then(|m| m.remove("status"))),
        }
    }
    Ok(obj)
}

/// Validation the stand-in does: the reject knob, and CRD names (the real server refuses a mismatch).
fn validate(kind: &Kind, obj: &Value) -> Result<(), ApiError> {
    let name = meta_str(obj, "name");
    if let Some(text) = obj["metadata"]["annotations"][REJECT_ANNOTATION].as_str() {
        let field = format!("metadata.annotations[{REJECT_ANNOTATION}]");
        return Err(ApiError::invalid(&kind.group, &kind.kind, name, &field, text));
    }
    if kind.group == CRD_GROUP && kind.kind == CRD_KIND {
        let spec = &obj["spec"];
        let expected = format!(
            "{}.{}",
            spec["names"]["plural"].as_str().unwrap_or_default(),
            spec["group"].as_str().unwrap_or_default()
        );
        if name != expected {
            let text = format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group");
            return Err(ApiError::invalid(&kind.group, &kind.kind, name, "metadata.name", &text));
        }
    }
    Ok(())
}

/// The one immutable field the stand-in knows, as the real server words its refusal: a
/// Deployment's `spec.selector` (enough to test recreating objects without a real server).
fn immutable(kind: &Kind, old: &Value, obj: &Value) -> Result<(), ApiError> {
    let selector = |o: &Value| o["spec"]["selector"].clone();
    if kind.group == "apps" && kind.kind == "Deployment" && selector(old) != selector(obj) {
        let text = format!("Invalid value: {}: field is immutable", selector(obj));
        return Err(ApiError::invalid(&kind.group, &kind.kind, meta_str(obj, "name"), "spec.selector", &text));
    }
    Ok(())
}

fn check_namespace(store: &Store, kind: &Kind, namespace: &str) -> Result<(), ApiError> {
    if !kind.namespaced {
        return Ok(());
    }
    match store.namespace(namespace) {
        None => Err(ApiError::not_found("", "namespaces", namespace)),
        Some(ns) if !ns.obj["metadata"]["deletionTimestamp"].is_null() => Err(ApiError::forbidden(format!(
            "{} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
            status::qualified(&kind.group, &kind.plural),
        ))),
        Some(_) => Ok(()),
    }
}

/// Strips what the server rewrites on every write, to tell a no-op from a change.
fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    o
}

/// Everything that bumps `generation`: all but metadata and status.
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
}

/// Stamps server fields and stores `obj`, unless nothing changed. Returns the object as stored
/// (or as it would be, on a dry run) and whether it is new.
pub(crate) fn commit(
    store: &mut Store,
    kind: &Kind,
    old: Option<&Stored>,
    mut obj: Value,
    mut managed: Vec<Managed>,
    dry_run: bool,
    schedule: bool,
) -> Result<Value, ApiError> {
    validate(kind, &obj)?;
    if let Some(old) = old {
        immutable(kind, &old.obj, &obj)?;
    }
    apply::prune(&mut managed, &obj, kind.status);
    if let Some(old) = old {
        if comparable(&old.obj) == comparable(&obj) && apply::same_ownership(&old.managed, &managed) {
            return Ok(old.obj.clone());
        }
        let generation = old.obj["metadata"]["generation"].as_i64().unwrap_or(1);
        let bump = spec_part(&old.obj) != spec_part(&obj);
        obj["metadata"]["generation"] = json!(if bump { generation + 1 } else { generation });
    } else {
        obj["metadata"]["uid"] = json!(store.uid());
        obj["metadata"]["creationTimestamp"] = json!(now_rfc3339());
        obj["metadata"]["generation"] = json!(1);
    }
    if managed.is_empty() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    } else {
        obj["metadata"]["managedFields"] = apply::render(&managed);
    }
    let key = Key::of(&obj);
    let deleting = !obj["metadata"]["deletionTimestamp"].is_null();
    let finalizers_left = has_finalizers(&obj);
    if dry_run {
        obj["metadata"]["resourceVersion"] =
            old.map_or_else(|| json!(store.rv.to_string()), |o| o.obj["metadata"]["resourceVersion"].clone());
        return Ok(obj);
    }
    if deleting && !finalizers_left {
        return Ok(store.remove(&key).unwrap_or(obj));
    }
    Ok(store.put(key, Stored { obj, managed }, schedule))
}

fn generate_name(store: &mut Store, prefix: &str) -> String {
    let uid = store.uid().replace('-', "");
    let suffix: String = uid.chars().rev().take(5).map(|c| if c.is_ascii_digit() { c } else { 'x' }).collect();
    format!("{prefix}{suffix}")
}

/// POST: returns the created object.
pub(crate) fn create(
    store: &mut Store,
    kind: &Kind,
    namespace: &str,
    body: Value,
    opts: WriteOpts<'_>,
) -> Result<Value, ApiError> {
    let mut obj = prepare(kind, namespace, None, None, body, Scope::Main)?;
    if meta_str(&obj, "name").is_empty() {
        match obj["metadata"]["generateName"].as_str().map(str::to_string) {
            Some(prefix) => obj["metadata"]["name"] = json!(generate_name(store, &prefix)),
            None => {
                return Err(ApiError::invalid(
                    &kind.group,
                    &kind.kind,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
        }
    }
    let name = meta_str(&obj, "name").to_string();
    if store.get(&key(kind, namespace, &name)).is_some() {
        return Err(ApiError::already_exists(&kind.group, &kind.plural, &name));
    }
    check_namespace(store, kind, namespace)?;
    let mut managed = Vec::new();
    apply::record_update(&mut managed, None, &obj, opts.manager, &kind.api_version(), kind.status, Scope::Main);
    commit(store, kind, None, obj, managed, opts.dry_run, true)
}

/// Creates or updates without the namespace check: the seeding path of `ApiServer::insert`.
pub(crate) fn upsert(store: &mut Store, kind: &Kind, body: Value, manager: &str) -> Result<Value, ApiError> {
    let namespace = meta_str(&body, "namespace").to_string();
    let name = meta_str(&body, "name").to_string();
    if name.is_empty() {
        return Err(ApiError::invalid(&kind.group, &kind.kind, "", "metadata.name", "Required value"));
    }
    let old = store.get(&key(kind, &namespace, &name)).cloned();
    let obj = prepare(kind, &namespace, Some(&name), old.as_ref().map(|o| &o.obj), body.clone(), Scope::Main)?;
    let mut managed = old.as_ref().map(|o| o.managed.clone()).unwrap_or_default();
    apply::record_update(
        &mut managed,
        old.as_ref().map(|o| &o.obj),
        &obj,
        manager,
        &kind.api_version(),
        kind.status,
        Scope::Main,
    );
    let obj = commit(store, kind, old.as_ref(), obj, managed, false, true)?;
    // Seeding may set status directly even where a status subresource would ignore it.
    if kind.status && body.get("status").is_some() && obj["status"] != body["status"] {
        return status_write(store, kind, &Key::of(&obj), &body["status"], manager, false);
    }
    Ok(obj)
}

/// Writes `status` as `manager` through the status subresource.
pub(crate) fn status_write(
    store: &mut Store,
    kind: &Kind,
    key: &Key,
    status: &Value,
    manager: &str,
    schedule: bool,
) -> Result<Value, ApiError> {
    let old = store.get(key).cloned().ok_or_else(|| ApiError::not_found(&kind.group, &kind.plural, &key.name))?;
    let mut obj = old.obj.clone();
    obj["status"] = status.clone();
    let mut managed = old.managed.clone();
    let api_version = old.obj["apiVersion"].as_str().unwrap_or_default().to_string();
    apply::record_update(&mut managed, Some(&old.obj), &obj, manager, &api_version, kind.status, Scope::Status);
    commit(store, kind, Some(&old), obj, managed, false, schedule)
}

fn existing(store: &Store, kind: &Kind, namespace: &str, name: &str) -> Result<Stored, ApiError> {
    store.get(&key(kind, namespace, name)).cloned().ok_or_else(|| ApiError::not_found(&kind.group, &kind.plural, name))
}

/// PUT (main resource or status subresource).
pub(crate) fn replace(
    store: &mut Store,
    kind: &Kind,
    namespace: &str,
    name: &str,
    body: Value,
    opts: WriteOpts<'_>,
) -> Result<Value, ApiError> {
    let old = existing(store, kind, namespace, name)?;
    let rv = meta_str(&body, "resourceVersion");
    if !rv.is_empty() && rv != meta_str(&old.obj, "resourceVersion") {
        return Err(ApiError::conflict(&kind.group, &kind.plural, name));
    }
    let obj = prepare(kind, namespace, Some(name), Some(&old.obj), body, opts.scope)?;
    update(store, kind, &old, obj, opts)
}

/// Stores `obj` over `old` as an update by the request's field manager.
fn update(store: &mut Store, kind: &Kind, old: &Stored, obj: Value, opts: WriteOpts<'_>) -> Result<Value, ApiError> {
    let mut managed = old.managed.clone();
    apply::record_update(
        &mut managed,
        Some(&old.obj),
        &obj,
        opts.manager,
        &kind.api_version(),
        kind.status,
        opts.scope,
    );
    commit(store, kind, Some(old), obj, managed, opts.dry_run, true)
}

/// PATCH; returns the HTTP code (201 when an apply created the object) and the object.
pub(crate) fn patch(
    store: &mut Store,
    kind: &Kind,
    namespace: &str,
    name: &str,
    patch_type: PatchType,
    body: Value,
    opts: WriteOpts<'_>,
) -> Result<(u16, Value), ApiError> {
    if patch_type == PatchType::Apply {
        return apply_patch(store, kind, namespace, name, body, opts);
    }
    if patch_type == PatchType::Strategic && !kind.builtin {
        return Err(ApiError::unsupported_media_type("application/strategic-merge-patch+json"));
    }
    let old = existing(store, kind, namespace, name)?;
    let mut obj = old.obj.clone();
    match patch_type {
        PatchType::Json => patch::json_patch(&mut obj, &body).map_err(|e| {
            ApiError::new(
                422,
                "Invalid",
                format!("the server rejected our request due to an error in our request: {e}"),
            )
        })?,
        _ => {
            let rv = body["metadata"]["resourceVersion"].as_str().unwrap_or_default();
            if !rv.is_empty() && rv != meta_str(&old.obj, "resourceVersion") {
                return Err(ApiError::conflict(&kind.group, &kind.plural, name));
            }
            if !body.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            patch::merge(&mut obj, &body);
        }
    }
    let obj = prepare(kind, namespace, Some(name), Some(&old.obj), obj, opts.scope)?;
    Ok((200, update(store, kind, &old, obj, opts)?))
}

fn apply_patch(
    store: &mut Store,
    kind: &Kind,
    namespace: &str,
    name: &str,
    mut config: Value,
    opts: WriteOpts<'_>,
) -> Result<(u16, Value), ApiError> {
    if !config.is_object() {
        return Err(ApiError::bad_request("an apply patch must be an object"));
    }
    for (field, want) in [("apiVersion", kind.api_version()), ("kind", kind.kind.clone())] {
        match config[field].as_str() {
            None => config[field] = json!(want),
            Some(v) if v != want => {
                return Err(ApiError::bad_request(format!(
                    "{field} {v:?} in the body does not match the URL ({want})"
                )));
            }
            Some(_) => {}
        }
    }
    let status = config.get("status").cloned();
    let mut config = prepare(kind, namespace, Some(name), None, config, Scope::Main)?;
    if let (Scope::Status, Some(status)) = (opts.scope, status) {
        config["status"] = status;
    }
    let old = store.get(&key(kind, namespace, name)).cloned();
    if old.is_none() {
        if opts.scope == Scope::Status {
            return Err(ApiError::not_found(&kind.group, &kind.plural, name));
        }
        check_namespace(store, kind, namespace)?;
    }
    let mut managed = old.as_ref().map(|o| o.managed.clone()).unwrap_or_default();
    let api_version = kind.api_version();
    let req = ApplyRequest {
        manager: opts.manager,
        api_version: &api_version,
        force: opts.force,
        status_subresource: kind.status,
        scope: opts.scope,
    };
    let merged = apply::apply(old.as_ref().map(|o| &o.obj), &mut managed, &config, &req)?;
    let code = if old.is_some() { 200 } else { 201 };
    Ok((code, commit(store, kind, old.as_ref(), merged, managed, opts.dry_run, true)?))
}

/// The result of a delete: the object when it stays (finalizers), else a Success status.
pub(crate) fn delete(
    store: &mut Store,
    kind: &Kind,
    namespace: &str,
    name: &str,
    policy: Propagation,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let old = existing(store, kind, namespace, name)?;
    let uid = meta_str(&old.obj, "uid").to_string();
    let success = status::success(&kind.group, &kind.plural, name, &uid);
    if dry_run {
        let stays = policy != Propagation::Background
            || kind.kind == "Namespace" && kind.group.is_empty()
            || has_finalizers(&old.obj);
        return Ok(if stays { marked(&old.obj) } else { success });
    }
    match delete_key(store, &key(kind, namespace, name), policy) {
        Some(obj) => Ok(obj),
        None => Ok(success),
    }
}

/// Whether something still holds the object: `metadata.finalizers`, or a Namespace's `spec.finalizers`.
fn has_finalizers(obj: &Value) -> bool {
    let non_empty = |v: &Value| v.as_array().is_some_and(|f| !f.is_empty());
    non_empty(&obj["metadata"]["finalizers"]) || (obj["kind"] == "Namespace" && non_empty(&obj["spec"]["finalizers"]))
}

fn marked(obj: &Value) -> Value {
    let mut o = obj.clone();
    if o["metadata"]["deletionTimestamp"].is_null() {
        o["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        o["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    }
    o
}

/// Server-internal write that keeps ownership as it is (GC, deletion marks).
pub(crate) fn internal_put(store: &mut Store, key: &Key, obj: Value) -> Option<Value> {
    let old = store.get(key)?.clone();
    let mut managed = old.managed.clone();
    let status_sub = crate::resources::by_group_kind(store, &key.group, &key.kind).is_none_or(|k| k.status);
    apply::prune(&mut managed, &obj, status_sub);
    if comparable(&old.obj) == comparable(&obj) {
        return Some(old.obj);
    }
    let mut obj = obj;
    if managed.is_empty() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    } else {
        obj["metadata"]["managedFields"] = apply::render(&managed);
    }
    if !obj["metadata"]["deletionTimestamp"].is_null() && !has_finalizers(&obj) {
        store.remove(key);
        return None;
    }
    Some(store.put(key.clone(), Stored { obj, managed }, false))
}

/// Deletes by key; `Some(object)` if it stays (finalizers or a terminating namespace), `None` if removed.
pub(crate) fn delete_key(store: &mut Store, key: &Key, policy: Propagation) -> Option<Value> {
    let old = store.get(key)?.obj.clone();
    if !old["metadata"]["deletionTimestamp"].is_null() {
        return Some(old);
    }
    if key.kind == "Namespace" && key.group.is_empty() {
        let mut obj = marked(&old);
        apply::set_path(&mut obj, &vec!["spec".into(), "finalizers".into()], json!(["kubernetes"]));
        apply::set_path(&mut obj, &vec!["status".into(), "phase".into()], json!("Terminating"));
        store.schedule_gc();
        return internal_put(store, key, obj);
    }
    let mut obj = old.clone();
    // As the real API server: the policy becomes a finalizer that holds the object, being
    // deleted, until the garbage collector has deleted (`foregroundDeletion`) or un-owned
    // (`orphan`) its dependents; only then does it go.
    let finalizer = match policy {
        Propagation::Foreground => Some("foregroundDeletion"),
        Propagation::Orphan => Some("orphan"),
        Propagation::Background => None,
    };
    if let Some(finalizer) = finalizer {
        let finalizers = obj["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
        if !finalizers.iter().any(|f| f == finalizer) {
            let mut f = finalizers;
            f.push(json!(finalizer));
            obj["metadata"]["finalizers"] = json!(f);
        }
        store.schedule_gc();
    }
    if has_finalizers(&obj) {
        return internal_put(store, key, marked(&obj));
    }
    store.remove(key);
    None
}

/// The uids in an object's ownerReferences.
pub(crate) fn owner_uids(obj: &Value) -> impl Iterator<Item = &str> {
    obj["metadata"]["ownerReferences"].as_array().into_iter().flatten().filter_map(|r| r["uid"].as_str())
}
