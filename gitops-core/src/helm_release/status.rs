//! The HelmRelease's `.status` as helm-controller writes it after an action: the release
//! snapshots (`history`, newest first), what was last attempted, the failure counters and the
//! `Released`, `Remediated`, `TestSuccess` and `Ready` conditions with helm-controller's reasons
//! and messages.
//!
//! Digests: a snapshot's `digest` is, as in helm-controller (`ObservedToSnapshot`), the SHA-256
//! of the JSON of Flux's release observation (name, version, info, chart metadata, config,
//! manifest, hooks without test hooks, namespace, OCI digest) as Go's `json.Encoder` writes it;
//! it is written here in Go's field order with Go's escaping, but hooks are written with their
//! keys sorted (the release read from storage lost Go's order), so a release with hooks gets a
//! digest of its own, stable here but not Flux's. `configDigest` is the SHA-256 of the values as
//! YAML with sorted keys (Helm's `Values.Encode`); this emitter's YAML may quote some strings
//! differently from go-yaml, so only the digests this module writes compare equal.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::remediation::{Done, count};
use super::spec::HelmReleaseSpec;
use crate::helm_storage::Release;

/// Go's `json.Encoder` text of `v` (HTML characters escaped as Go escapes them).
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            let text = serde_json::to_string(s).unwrap_or_default();
            out.push_str(
                &text
                    .replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026")
                    .replace('\u{2028}', "\\u2028")
                    .replace('\u{2029}', "\\u2029"),
            );
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => go_object(m.iter().map(|(k, v)| (k.as_str(), v)), out),
        other => out.push_str(&other.to_string()),
    }
}

fn go_object<'a>(fields: impl Iterator<Item = (&'a str, &'a Value)>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json(&Value::String(k.to_string()), out);
        out.push(':');
        go_json(v, out);
    }
    out.push('}');
}

/// `sha256:<hex>` of `bytes`, as the OCI digest package writes it.
fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::notify::flux::hex(&Sha256::digest(bytes)))
}

/// Flux's digest of a release ([`self`] says how it is made).
pub fn release_digest(r: &Release) -> String {
    let info = r.rest.get("info").and_then(Value::as_object);
    let deleted = info.and_then(|i| i.get("deleted")).cloned().unwrap_or_else(|| json!(""));
    let mut info_fields: Vec<(&str, Value)> = vec![
        ("first_deployed", json!(r.first_deployed)),
        ("last_deployed", json!(r.last_deployed)),
        ("deleted", deleted),
        ("description", json!(r.description)),
        ("status", json!(r.status.as_str())),
    ];
    if !r.notes.is_empty() {
        info_fields.push(("notes", json!(r.notes)));
    }
    // Go's chart.Metadata field order; every field is `omitempty`.
    const METADATA: [&str; 17] = [
        "name",
        "home",
        "sources",
        "version",
        "description",
        "keywords",
        "maintainers",
        "icon",
        "apiVersion",
        "condition",
        "tags",
        "appVersion",
        "deprecated",
        "annotations",
        "kubeVersion",
        "dependencies",
        "type",
    ];
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Number(_) => false,
    };
    let metadata: Vec<(&str, &Value)> =
        METADATA.iter().filter_map(|k| r.chart_metadata.get(*k).filter(|v| !empty(v)).map(|v| (*k, v))).collect();
    let config = if empty(&r.config) { Value::Null } else { r.config.clone() };
    let hooks: Vec<Value> = r
        .rest
        .get("hooks")
        .and_then(Value::as_array)
        .map(|hs| {
            hs.iter()
                .filter(|h| !h.get("events").and_then(Value::as_array).is_some_and(|e| e.iter().any(|e| e == "test")))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let hooks = if hooks.is_empty() { Value::Null } else { Value::Array(hooks) };
    let mut out = String::new();
    out.push('{');
    out.push_str(&format!("\"name\":{},\"version\":{},\"info\":", json!(r.name), r.version));
    go_object(info_fields.iter().map(|(k, v)| (*k, v)), &mut out);
    out.push_str(",\"chartMetadata\":");
    go_object(metadata.into_iter(), &mut out);
    out.push_str(",\"config\":");
    go_json(&config, &mut out);
    out.push_str(",\"manifest\":");
    go_json(&json!(r.manifest), &mut out);
    out.push_str(",\"hooks\":");
    go_json(&hooks, &mut out);
    out.push_str(",\"namespace\":");
    go_json(&json!(r.namespace), &mut out);
    out.push_str(",\"ociDigest\":\"\"}\n");
    sha256(out.as_bytes())
}

/// The digest of the values a release is made with (`configDigest`, `lastAttemptedConfigDigest`).
pub fn config_digest(values: &Value) -> String {
    let values = match values {
        Value::Object(m) if !m.is_empty() => values.clone(),
        _ => Value::Object(Map::new()),
    };
    sha256(serde_saphyr::to_string(&values).unwrap_or_default().as_bytes())
}

/// A `status.history` entry for revision `r`.
pub fn snapshot(r: &Release) -> Value {
    let chart = |k: &str| r.chart_metadata.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut s = json!({
        "name": r.name, "namespace": r.namespace, "version": r.version, "status": r.status.as_str(),
        "chartName": chart("name"), "chartVersion": chart("version"),
        "configDigest": config_digest(&r.config), "digest": release_digest(r),
        "firstDeployed": r.first_deployed, "lastDeployed": r.last_deployed,
    });
    if !chart("appVersion").is_empty() {
        s["appVersion"] = json!(chart("appVersion"));
    }
    if let Some(deleted) = r.rest.get("info").and_then(|i| i.get("deleted")).and_then(Value::as_str)
        && !deleted.is_empty()
    {
        s["deleted"] = json!(deleted);
    }
    s
}

/// `<namespace>/<name>.v<version>` of a snapshot (Flux's `FullReleaseName`).
fn full_name(s: &Value) -> String {
    let t = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
    format!("{}/{}.v{}", t("namespace"), t("name"), s.get("version").and_then(Value::as_u64).unwrap_or(0))
}

/// `<chart>@<version>` of a snapshot (Flux's `VersionedChartName`).
fn chart_name(s: &Value) -> String {
    let t = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
    format!("{}@{}", t("chartName"), t("chartVersion"))
}

/// An action helm-controller ran and how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<'a> {
    /// The action.
    pub done: Done,
    /// Its error, `None` when it succeeded.
    pub error: Option<&'a str>,
    /// Whether it wrote a release revision (a failure before that is not counted).
    pub stored: bool,
    /// The desired chart's name and version, and the values' digest.
    pub desired: super::remediation::Desired<'a>,
    /// The release history after the action.
    pub history: &'a [Release],
    /// Its time (RFC 3339), for `lastTransitionTime`.
    pub now: &'a str,
}

/// Sets condition `kind`, keeping its `lastTransitionTime` while its status stays the same (as
/// Kubernetes' `SetStatusCondition` does).
fn set_condition(
    conditions: &mut Vec<Value>,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: i64,
    now: &str,
) {
    let old = conditions.iter().position(|c| c.get("type").and_then(Value::as_str) == Some(kind));
    let time = old
        .map(|i| &conditions[i])
        .filter(|c| c.get("status").and_then(Value::as_str) == Some(status))
        .and_then(|c| c.get("lastTransitionTime").and_then(Value::as_str))
        .unwrap_or(now)
        .to_string();
    let c = json!({"type": kind, "status": status, "observedGeneration": generation,
        "lastTransitionTime": time, "reason": reason, "message": message});
    match old {
        Some(i) => conditions[i] = c,
        None => conditions.push(c),
    }
}

fn remove_condition(conditions: &mut Vec<Value>, kind: &str) {
    conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some(kind));
}

/// The HelmRelease's status after `outcome`, built on its previous `status` (its `metadata.
/// generation` `generation`).
pub fn after_action(spec: &HelmReleaseSpec, status: &Value, generation: i64, outcome: &Outcome) -> Value {
    let mut st = if status.is_object() { status.clone() } else { json!({}) };
    if super::remediation::must_reset_failures(&st, generation, &outcome.desired).is_some() {
        super::remediation::clear_failures(&mut st);
    }
    st["observedGeneration"] = json!(generation);
    st["lastAttemptedGeneration"] = json!(generation);
    st["lastAttemptedRevision"] = json!(outcome.desired.chart_version);
    st["lastAttemptedConfigDigest"] = json!(outcome.desired.config_digest);
    st["storageNamespace"] = json!(spec.storage_namespace);
    if let Some(chart) = spec.helm_chart_name() {
        st["helmChart"] = json!(chart);
    }
    match outcome.done {
        Done::Install => st["lastAttemptedReleaseAction"] = json!("install"),
        Done::Upgrade => st["lastAttemptedReleaseAction"] = json!("upgrade"),
        _ => {}
    }
    // The snapshots: an install starts a new history; others add or update the revisions they
    // wrote, newest first. Only revisions still in storage stay.
    let mut snaps: Vec<Value> = if outcome.done == Done::Install {
        Vec::new()
    } else {
        st.get("history").and_then(Value::as_array).cloned().unwrap_or_default()
    };
    let known: Vec<u64> = snaps.iter().filter_map(|s| s.get("version").and_then(Value::as_u64)).collect();
    let since = if outcome.done == Done::Install { 0 } else { known.iter().copied().max().unwrap_or(0) };
    for r in outcome.history {
        let v = u64::from(r.version);
        if let Some(s) = snaps.iter_mut().find(|s| s.get("version").and_then(Value::as_u64) == Some(v)) {
            *s = snapshot(r);
        } else if v > since {
            snaps.push(snapshot(r));
        }
    }
    if outcome.done == Done::Uninstall && outcome.error.is_none() {
        // Without kept history the revisions are gone; the snapshots say what was uninstalled.
        for s in &mut snaps {
            if !outcome.history.iter().any(|r| Some(u64::from(r.version)) == s.get("version").and_then(Value::as_u64)) {
                s["status"] = json!("uninstalled");
            }
        }
    }
    snaps.sort_by_key(|s| std::cmp::Reverse(s.get("version").and_then(Value::as_u64).unwrap_or(0)));
    st["history"] = Value::Array(snaps.clone());
    count(&mut st, outcome.done, outcome.error.is_some(), outcome.stored);

    let mut conditions: Vec<Value> = st.get("conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let latest = snaps.first().cloned().unwrap_or(Value::Null);
    let err = outcome.error.map(str::trim).unwrap_or("");
    let (ns, name) = (&spec.target_namespace, &spec.release_name);
    let (chart, version) = (outcome.desired.chart_name, outcome.desired.chart_version);
    let set = |c: &mut Vec<Value>, kind: &str, ok: bool, reason: &str, msg: String| {
        set_condition(c, kind, if ok { "True" } else { "False" }, reason, &msg, generation, outcome.now);
    };
    match (outcome.done, outcome.error.is_none()) {
        (Done::Install, ok) => {
            remove_condition(&mut conditions, "TestSuccess");
            remove_condition(&mut conditions, "Remediated");
            if ok {
                let msg = format!(
                    "Helm install succeeded for release {} with chart {}",
                    full_name(&latest),
                    chart_name(&latest)
                );
                set(&mut conditions, "Released", true, "InstallSucceeded", msg);
            } else {
                let msg = format!("Helm install failed for release {ns}/{name} with chart {chart}@{version}: {err}");
                set(&mut conditions, "Released", false, "InstallFailed", msg);
            }
        }
        (Done::Upgrade, ok) => {
            remove_condition(&mut conditions, "TestSuccess");
            remove_condition(&mut conditions, "Remediated");
            if ok {
                let msg = format!("Upgraded release {} with chart {}", full_name(&latest), chart_name(&latest));
                set(&mut conditions, "Released", true, "UpgradeSucceeded", msg);
            } else {
                let msg = format!("Upgrade of release {ns}/{name} with chart {chart}@{version} failed: {err}");
                set(&mut conditions, "Released", false, "UpgradeFailed", msg);
            }
        }
        (Done::Rollback, ok) => {
            let target = snaps
                .iter()
                .skip(1)
                .find(|s| s.get("status").and_then(Value::as_str) == Some("superseded"))
                .cloned()
                .unwrap_or_else(|| latest.clone());
            let (full, chart) = (full_name(&target), chart_name(&target));
            if ok {
                let msg = format!("Helm rollback to previous release {full} with chart {chart} succeeded");
                set(&mut conditions, "Remediated", true, "RollbackSucceeded", msg);
            } else {
                let msg = format!("Helm rollback to previous release {full} with chart {chart} failed: {err}");
                set(&mut conditions, "Remediated", false, "RollbackFailed", msg);
            }
        }
        (Done::Uninstall, ok) => {
            let (full, chart) = (full_name(&latest), chart_name(&latest));
            if ok {
                let msg = format!("Helm uninstall remediation for release {full} with chart {chart} succeeded");
                set(&mut conditions, "Remediated", true, "UninstallSucceeded", msg);
            } else {
                let msg = format!("Helm uninstall remediation for release {full} with chart {chart} failed: {err}");
                set(&mut conditions, "Remediated", false, "UninstallFailed", msg);
            }
        }
        (Done::Unlock, ok) => {
            let state = outcome.history.iter().max_by_key(|r| r.version);
            let was = err_or_state(ok, state);
            let (full, chart) = (full_name(&latest), chart_name(&latest));
            let msg = if ok {
                format!("Unlocked Helm release {full} with chart {chart} in {was} state")
            } else {
                format!("Unlock of Helm release {full} with chart {chart} in {was} state failed: {err}")
            };
            set(&mut conditions, "Released", false, "PendingRelease", msg);
        }
    }
    if !spec.test {
        remove_condition(&mut conditions, "TestSuccess");
    }
    // Ready summarizes Remediated (always an error), TestSuccess, then Released.
    let order: &[&str] =
        if spec.test { &["Remediated", "TestSuccess", "Released"] } else { &["Remediated", "Released"] };
    let top = order
        .iter()
        .find_map(|k| conditions.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(*k)).cloned());
    if let Some(top) = top {
        let t = |k: &str| top.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let status = if t("type") == "Remediated" { "False".to_string() } else { t("status") };
        set_condition(&mut conditions, "Ready", &status, &t("reason"), &t("message"), generation, outcome.now);
        if status == "True" {
            remove_condition(&mut conditions, "Stalled");
        }
    }
    st["conditions"] = Value::Array(conditions);
    st
}

/// The pending state an unlock found (Flux names it in its message): the status the revision
/// had before it was marked failed, read from its description.
fn err_or_state(_ok: bool, r: Option<&Release>) -> String {
    r.and_then(|r| r.description.strip_prefix("Release unlocked from stale '"))
        .and_then(|d| d.strip_suffix("' state"))
        .unwrap_or("pending")
        .to_string()
}
