//! The HelmRelease's `.status` as helm-controller writes it after an action: the release
//! snapshots (`history`, newest first), what was last attempted, the failure counters and the
//! `Released`, `Remediated`, `TestSuccess` and `Ready` conditions with helm-controller's reasons
//! and messages.
//!
//! Digests: a snapshot's `digest` is, as in helm-controller (`ObservedToSnapshot`), the SHA-256
//! of the JSON of Flux's release observation (name, version, info, chart metadata, config,
//! manifest, hooks without test hooks, namespace, OCI digest) as Go's `json.Encoder` writes it,
//! rebuilt here in Go's field order (of the release info, chart metadata, maintainers,
//! dependencies, hooks) with Go's escaping. Known gaps: numbers in values are written as
//! serde_json writes them (Go writes `1e+21` where serde_json writes `1e21`), and an OCI digest
//! is always empty. `configDigest` is, as in `fluxcd/pkg/chartutil`
//! (`DigestValues`), the SHA-256 of the values as YAML with sorted keys, or of nothing for empty
//! values; the YAML emitter here writes what go-yaml writes for plain values (checked for maps,
//! lists, strings that read as numbers, `null`, `""`), but may quote rare strings differently.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::remediation::{Done, count};
use super::spec::HelmReleaseSpec;
use crate::helm_storage::Release;

/// Go's `json.Encoder` text of `v`: Go's string escapes (HTML characters too), keys as given.
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => crate::json::go_string(s, out),
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

/// A Go struct read back from JSON, written again in its field order (`order`; keys it does
/// not name follow, sorted). `nested` gives the order of struct-valued fields (or of the
/// structs in list-valued ones).
fn go_struct(v: &Value, order: &[&str], nested: &[(&str, &[&str])], out: &mut String) {
    let Value::Object(m) = v else { return go_json(v, out) };
    let mut keys: Vec<&str> = order.iter().copied().filter(|k| m.contains_key(*k)).collect();
    keys.extend(m.keys().map(String::as_str).filter(|k| !order.contains(k)));
    out.push('{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json(&json!(k), out);
        out.push(':');
        let value = &m[*k];
        match nested.iter().find(|(name, _)| name == k) {
            Some((_, inner)) => match value {
                Value::Array(items) => {
                    out.push('[');
                    for (j, item) in items.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        go_struct(item, inner, &[], out);
                    }
                    out.push(']');
                }
                other => go_struct(other, inner, &[], out),
            },
            None => go_json(value, out),
        }
    }
    out.push('}');
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
    let metadata: serde_json::Map<String, Value> = METADATA
        .iter()
        .filter_map(|k| r.chart_metadata.get(*k).filter(|v| !empty(v)).map(|v| (k.to_string(), v.clone())))
        .collect();
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
    // Go's release.Hook and HookExecution field order.
    let hook: &[&str] =
        &["name", "kind", "path", "manifest", "events", "last_run", "weight", "delete_policies", "output_log_policies"];
    let run: &[&str] = &["started_at", "completed_at", "phase"];
    let mut out = String::new();
    out.push_str("{\"name\":");
    go_json(&json!(r.name), &mut out);
    out.push_str(&format!(",\"version\":{},\"info\":", r.version));
    go_object(info_fields.iter().map(|(k, v)| (*k, v)), &mut out);
    out.push_str(",\"chartMetadata\":");
    let maintainer: &[&str] = &["name", "email", "url"];
    let dependency: &[&str] =
        &["name", "version", "repository", "condition", "tags", "enabled", "import-values", "alias"];
    go_struct(
        &Value::Object(metadata),
        &METADATA,
        &[("maintainers", maintainer), ("dependencies", dependency)],
        &mut out,
    );
    out.push_str(",\"config\":");
    go_json(&config, &mut out);
    out.push_str(",\"manifest\":");
    go_json(&json!(r.manifest), &mut out);
    out.push_str(",\"hooks\":");
    if hooks.is_empty() {
        out.push_str("null");
    } else {
        out.push('[');
        for (i, h) in hooks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_struct(h, hook, &[("last_run", run)], &mut out);
        }
        out.push(']');
    }
    out.push_str(",\"namespace\":");
    go_json(&json!(r.namespace), &mut out);
    out.push_str(",\"ociDigest\":\"\"}\n");
    sha256(out.as_bytes())
}

pub use super::values::config_digest;

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
    /// The desired chart's name and version, and the values' digest.
    pub desired: super::remediation::Desired<'a>,
    /// The revisions the action wrote (`history::Writes::put`, or the revision
    /// `history::unlock` returned); their snapshots are added or updated, as helm-controller's
    /// storage observer records the writes it sees.
    pub written: &'a [Release],
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
    // wrote, newest first.
    let mut snaps: Vec<Value> = if outcome.done == Done::Install {
        Vec::new()
    } else {
        st.get("history").and_then(Value::as_array).cloned().unwrap_or_default()
    };
    for r in outcome.written {
        let v = u64::from(r.version);
        match snaps.iter_mut().find(|s| s.get("version").and_then(Value::as_u64) == Some(v)) {
            Some(s) => *s = snapshot(r),
            None => snaps.push(snapshot(r)),
        }
    }
    snaps.sort_by_key(|s| std::cmp::Reverse(s.get("version").and_then(Value::as_u64).unwrap_or(0)));
    if outcome.done == Done::Uninstall && outcome.error.is_none() && outcome.written.is_empty() {
        // Without kept history the records are purged; the last write helm-controller saw
        // marked the latest revision `uninstalling`.
        if let Some(s) = snaps.first_mut() {
            s["status"] = json!("uninstalling");
            s["deleted"] = json!(outcome.now);
        }
    }
    truncate(&mut snaps);
    st["history"] = Value::Array(snaps.clone());
    // A failure that wrote no revision is retried at once, uncounted.
    count(&mut st, outcome.done, outcome.error.is_some(), !outcome.written.is_empty());

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
                let msg = format!(
                    "Helm upgrade succeeded for release {} with chart {}",
                    full_name(&latest),
                    chart_name(&latest)
                );
                set(&mut conditions, "Released", true, "UpgradeSucceeded", msg);
            } else {
                let msg = format!("Helm upgrade failed for release {ns}/{name} with chart {chart}@{version}: {err}");
                set(&mut conditions, "Released", false, "UpgradeFailed", msg);
            }
        }
        (Done::Rollback, ok) => {
            // The revision rolled back to, named by the new revision's description.
            let to = outcome
                .written
                .iter()
                .max_by_key(|r| r.version)
                .and_then(|r| r.description.strip_prefix("Rollback to "))
                .and_then(|v| v.parse::<u64>().ok());
            let target = snaps
                .iter()
                .find(|s| to.is_some() && s.get("version").and_then(Value::as_u64) == to)
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
            let state = outcome.written.iter().max_by_key(|r| r.version);
            let was = pending_state(state);
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

/// Flux's `Snapshots.Truncate`: the snapshots older than the previous successful one (the
/// first `deployed` or `superseded` after the latest) are dropped; all stay when there is none.
fn truncate(snaps: &mut Vec<Value>) {
    let previous = snaps
        .iter()
        .skip(1)
        .position(|s| matches!(s.get("status").and_then(Value::as_str), Some("deployed" | "superseded")));
    if let Some(i) = previous {
        snaps.truncate(i + 2);
    }
}

/// Marks the HelmRelease `Stalled` (a [`super::remediation::Next::Stalled`]): the condition
/// with its reason and message, `Ready` left as the last action set it.
pub fn mark_stalled(status: &mut Value, reason: &str, message: &str, generation: i64, now: &str) {
    if !status.is_object() {
        *status = json!({});
    }
    let mut conditions: Vec<Value> = status.get("conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    set_condition(&mut conditions, "Stalled", "True", reason, message, generation, now);
    status["conditions"] = Value::Array(conditions);
}

/// The pending state an unlock found (Flux names it in its message): the revision's status
/// when the unlock was not written, else the one its new description names.
fn pending_state(r: Option<&Release>) -> String {
    let Some(r) = r else { return "pending".into() };
    if r.status.as_str().starts_with("pending-") {
        return r.status.as_str().into();
    }
    r.description
        .strip_prefix("Release unlocked from stale '")
        .and_then(|d| d.strip_suffix("' state"))
        .unwrap_or("pending")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helm_storage::Status;

    fn release() -> Release {
        Release {
            name: "podinfo".into(),
            namespace: "apps".into(),
            version: 1,
            status: Status::Deployed,
            description: "Install complete".into(),
            first_deployed: "2026-12-07T10:00:00Z".into(),
            last_deployed: "2026-12-07T10:00:00Z".into(),
            notes: String::new(),
            chart_metadata: json!({"name": "podinfo", "version": "6.5.0", "apiVersion": "v2", "appVersion": "6.5.0"}),
            chart_values: json!({}),
            config: json!({"replicas": 2}),
            manifest: "kind: A\n".into(),
            rest: serde_json::Map::new(),
        }
    }

    #[test]
    fn digests_follow_flux() {
        // The SHA-256 of no bytes, as Flux digests empty values.
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(config_digest(&json!({})), empty);
        assert_eq!(config_digest(&Value::Null), empty);
        let yaml = "replicas: 2\n";
        assert_eq!(config_digest(&json!({"replicas": 2})), sha256(yaml.as_bytes()));
        let r = release();
        let d = release_digest(&r);
        // Flux's Observation as Go's encoder writes it: its fields, Helm's Info and chart
        // Metadata fields in their declared order, `omitempty` fields left out, a newline.
        let observed = concat!(
            r#"{"name":"podinfo","version":1,"info":{"first_deployed":"2026-12-07T10:00:00Z","#,
            r#""last_deployed":"2026-12-07T10:00:00Z","deleted":"","description":"Install complete","#,
            r#""status":"deployed"},"chartMetadata":{"name":"podinfo","version":"6.5.0","apiVersion":"v2","#,
            r#""appVersion":"6.5.0"},"config":{"replicas":2},"manifest":"kind: A\n","hooks":null,"#,
            r#""namespace":"apps","ociDigest":""}"#,
            "\n"
        );
        assert_eq!(d, sha256(observed.as_bytes()));
        // Any field of the observation changes it; a test hook does not.
        let mut other = r.clone();
        other.description = "edited".into();
        assert_ne!(release_digest(&other), d);
        let mut hooked = r.clone();
        hooked.rest.insert("hooks".into(), json!([{"name": "t", "events": ["test"]}]));
        assert_eq!(release_digest(&hooked), d);
        hooked.rest.insert("hooks".into(), json!([{"name": "m", "events": ["pre-install"]}]));
        assert_ne!(release_digest(&hooked), d);
        // Go escapes HTML characters.
        let mut out = String::new();
        go_json(&json!({"a": "<&>"}), &mut out);
        assert_eq!(out, r#"{"a":"\u003c\u0026\u003e"}"#);
        let s = snapshot(&r);
        assert_eq!(s["digest"], json!(d));
        assert_eq!(s["configDigest"], json!(sha256(yaml.as_bytes())));
        assert_eq!((s["chartName"].as_str(), s["appVersion"].as_str()), (Some("podinfo"), Some("6.5.0")));
        assert_eq!((full_name(&s), chart_name(&s)), ("apps/podinfo.v1".to_string(), "podinfo@6.5.0".to_string()));
    }

    #[test]
    fn conditions_keep_their_time_while_their_status_stays() {
        let mut c = Vec::new();
        set_condition(&mut c, "Released", "False", "InstallFailed", "a", 1, "t1");
        set_condition(&mut c, "Released", "False", "InstallFailed", "b", 2, "t2");
        assert_eq!((c[0]["lastTransitionTime"].as_str(), c[0]["message"].as_str()), (Some("t1"), Some("b")));
        set_condition(&mut c, "Released", "True", "InstallSucceeded", "c", 2, "t3");
        assert_eq!(c[0]["lastTransitionTime"], "t3");
        assert_eq!(c.len(), 1);
        let mut st = json!({"conditions": c});
        mark_stalled(&mut st, "RetriesExceeded", "Failed to install after 3 attempt(s)", 2, "t4");
        assert_eq!(st["conditions"][1]["type"], "Stalled");
    }

    #[test]
    fn history_is_truncated_after_the_previous_success() {
        let snap = |v: u32, s: &str| json!({"version": v, "status": s});
        let mut h =
            vec![snap(5, "failed"), snap(4, "failed"), snap(3, "superseded"), snap(2, "failed"), snap(1, "superseded")];
        truncate(&mut h);
        assert_eq!(h.iter().map(|s| s["version"].as_u64().unwrap()).collect::<Vec<_>>(), [5, 4, 3]);
        let mut none = vec![snap(2, "failed"), snap(1, "failed")];
        truncate(&mut none);
        assert_eq!(none.len(), 2);
    }
}
