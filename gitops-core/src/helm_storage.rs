//! Helm's release storage, as Helm 3 keeps it in Secrets (its default `secrets` driver), so
//! that a release written here is one `helm list`, `helm history` and `helm get` read, and a
//! release `helm install` wrote is one read here (the groundwork of Flux HelmRelease).
//!
//! A release revision is a Secret `sh.helm.release.v1.<name>.v<revision>` of type
//! `helm.sh/release.v1` in the storage namespace, labelled `name`, `owner: helm`, `status` and
//! `version` (and `createdAt`/`modifiedAt`, seconds since the epoch, as Helm adds them); its
//! `release` key holds the release as JSON, gzip-compressed, then base64-encoded (the Secret's
//! own base64 comes on top of that, as for any Secret data).
//!
//! Pure: objects and bytes in and out; the caller reads and writes the Secrets.

use std::io::{Read, Write};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::Object;
use crate::object::Origin;

/// The type of Helm's release Secrets.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// How large a decoded release may be: Helm refuses Secrets over 1 MiB, and gzip of YAML
/// compresses well, but not a thousand-fold.
const MAX_DECODED: u64 = 64 << 20;

/// Why a release Secret does not read.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The Secret is not one of Helm's release Secrets.
    #[error("Secret {secret}: not a Helm release ({problem})")]
    NotARelease {
        /// `namespace/name`.
        secret: String,
        /// What is missing.
        problem: String,
    },
    /// The `release` data does not decode.
    #[error("Secret {secret}: the release does not decode: {problem}")]
    Decode {
        /// `namespace/name`.
        secret: String,
        /// Why.
        problem: String,
    },
}

/// A release's status, as Helm names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `deployed`: the current revision.
    Deployed,
    /// `superseded`: a revision an upgrade replaced.
    Superseded,
    /// `failed`.
    Failed,
    /// `uninstalled` (kept with `--keep-history`).
    Uninstalled,
    /// `uninstalling`.
    Uninstalling,
    /// `pending-install`.
    PendingInstall,
    /// `pending-upgrade`.
    PendingUpgrade,
    /// `pending-rollback`.
    PendingRollback,
    /// `unknown`.
    Unknown,
}

impl Status {
    /// Helm's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Deployed => "deployed",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalled => "uninstalled",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
            Status::Unknown => "unknown",
        }
    }

    /// Reads Helm's word (anything else is `unknown`).
    pub fn parse(text: &str) -> Status {
        [
            Status::Deployed,
            Status::Superseded,
            Status::Failed,
            Status::Uninstalled,
            Status::Uninstalling,
            Status::PendingInstall,
            Status::PendingUpgrade,
            Status::PendingRollback,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .unwrap_or(Status::Unknown)
    }
}

/// One revision of a release.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// The release name.
    pub name: String,
    /// The namespace its objects went to.
    pub namespace: String,
    /// The revision, from 1.
    pub version: u32,
    /// Its status.
    pub status: Status,
    /// `info.description` (`Install complete`, `Upgrade complete`, ...).
    pub description: String,
    /// `info.first_deployed` (RFC 3339).
    pub first_deployed: String,
    /// `info.last_deployed` (RFC 3339).
    pub last_deployed: String,
    /// `info.notes`: the chart's rendered NOTES.txt.
    pub notes: String,
    /// The chart's `Chart.yaml` as JSON (`name`, `version`, `apiVersion`, `appVersion`, ...).
    pub chart_metadata: Value,
    /// The chart's default values.
    pub chart_values: Value,
    /// The values given (`helm get values` shows them): `config`.
    pub config: Value,
    /// The rendered manifests, as one YAML stream.
    pub manifest: String,
    /// Everything else of the release JSON (hooks, the chart's templates and files, labels),
    /// kept so that a release read and written again loses nothing.
    pub rest: Map<String, Value>,
}

impl Release {
    /// The release Secret's name: `sh.helm.release.v1.<name>.v<version>`.
    pub fn secret_name(&self) -> String {
        format!("sh.helm.release.v1.{}.v{}", self.name, self.version)
    }

    /// `<chart name>-<chart version>`, as `helm list` shows the chart.
    pub fn chart(&self) -> String {
        let field = |k: &str| self.chart_metadata.get(k).and_then(Value::as_str).unwrap_or("");
        format!("{}-{}", field("name"), field("version"))
    }

    /// The release as Helm's JSON.
    pub fn to_json(&self) -> Value {
        let mut out = self.rest.clone();
        out.insert("name".into(), json!(self.name));
        out.insert("namespace".into(), json!(self.namespace));
        out.insert("version".into(), json!(self.version));
        out.insert("config".into(), if self.config.is_null() { json!({}) } else { self.config.clone() });
        out.insert("manifest".into(), json!(self.manifest));
        let mut info = out.get("info").and_then(Value::as_object).cloned().unwrap_or_default();
        info.insert("first_deployed".into(), json!(self.first_deployed));
        info.insert("last_deployed".into(), json!(self.last_deployed));
        info.entry("deleted").or_insert_with(|| json!(""));
        info.insert("description".into(), json!(self.description));
        info.insert("status".into(), json!(self.status.as_str()));
        if !self.notes.is_empty() {
            info.insert("notes".into(), json!(self.notes));
        }
        out.insert("info".into(), Value::Object(info));
        let mut chart = out.get("chart").and_then(Value::as_object).cloned().unwrap_or_default();
        chart.insert("metadata".into(), self.chart_metadata.clone());
        chart.insert("values".into(), if self.chart_values.is_null() { json!({}) } else { self.chart_values.clone() });
        for key in ["templates", "files"] {
            chart.entry(key).or_insert_with(|| json!([]));
        }
        chart.entry("lock").or_insert(Value::Null);
        chart.entry("schema").or_insert(Value::Null);
        out.insert("chart".into(), Value::Object(chart));
        out.entry("hooks").or_insert_with(|| json!([]));
        Value::Object(out)
    }

    /// Reads a release from Helm's JSON; `shown` names it in errors.
    pub fn from_json(value: Value, shown: &str) -> Result<Release, StorageError> {
        let bad = |problem: &str| StorageError::Decode { secret: shown.to_string(), problem: problem.to_string() };
        let Value::Object(mut m) = value else { return Err(bad("not a JSON object")) };
        let text = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let name = text(&m, "name");
        if name.is_empty() {
            return Err(bad("no name"));
        }
        let version = m
            .get("version")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| bad("no version"))?;
        let namespace = text(&m, "namespace");
        let manifest = text(&m, "manifest");
        let config = m.remove("config").unwrap_or(Value::Null);
        let info = m.get("info").and_then(Value::as_object).cloned().unwrap_or_default();
        let chart = m.get("chart").and_then(Value::as_object).cloned().unwrap_or_default();
        for k in ["name", "namespace", "version", "manifest"] {
            m.remove(k);
        }
        Ok(Release {
            name,
            namespace,
            version,
            status: Status::parse(&text(&info, "status")),
            description: text(&info, "description"),
            first_deployed: text(&info, "first_deployed"),
            last_deployed: text(&info, "last_deployed"),
            notes: text(&info, "notes"),
            chart_metadata: chart.get("metadata").cloned().unwrap_or(Value::Null),
            chart_values: chart.get("values").cloned().unwrap_or(Value::Null),
            config,
            manifest,
            rest: m,
        })
    }

    /// The release Secret in `storage_namespace`, as Helm's secrets driver writes it;
    /// `created_at` is the `createdAt` label (seconds since the epoch).
    pub fn to_secret(&self, storage_namespace: &str, created_at: i64) -> Object {
        let encoded = encode(&self.to_json());
        let data = base64::engine::general_purpose::STANDARD.encode(encoded.as_bytes());
        let mut labels = self.rest.get("labels").and_then(Value::as_object).cloned().unwrap_or_default();
        labels.insert("name".into(), json!(self.name));
        labels.insert("owner".into(), json!("helm"));
        labels.insert("status".into(), json!(self.status.as_str()));
        labels.insert("version".into(), json!(self.version.to_string()));
        labels.insert("createdAt".into(), json!(created_at.to_string()));
        Object::new(
            json!({
                "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
                "metadata": {"name": self.secret_name(), "namespace": storage_namespace, "labels": labels},
                "data": {"release": data},
            }),
            Origin::inline("helm release storage"),
        )
    }

    /// Reads a release Secret (its `data.release` as the API server returns it).
    pub fn from_secret(secret: &Object) -> Result<Release, StorageError> {
        let shown = format!("{}/{}", secret.namespace(), secret.name());
        let not = |problem: &str| StorageError::NotARelease { secret: shown.clone(), problem: problem.to_string() };
        if secret.kind() != "Secret" || secret.value().get("type").and_then(Value::as_str) != Some(SECRET_TYPE) {
            return Err(not("its type is not helm.sh/release.v1"));
        }
        let data =
            secret.value().pointer("/data/release").and_then(Value::as_str).ok_or_else(|| not("no data.release"))?;
        let bad = |problem: String| StorageError::Decode { secret: shown.clone(), problem };
        let outer = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| bad(format!("base64: {e}")))?;
        let inner = std::str::from_utf8(&outer).map_err(|e| bad(e.to_string()))?;
        Release::from_json(decode(inner).map_err(bad)?, &shown)
    }
}

/// Helm's `encodeRelease`: JSON, gzip at the best compression, then base64.
pub fn encode(release: &Value) -> String {
    let json = serde_json::to_vec(release).unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(&json);
    let bytes = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Helm's `decodeRelease`: base64, then gunzip when the bytes start with gzip's magic (Helm 2
/// wrote plain JSON), then JSON.
pub fn decode(text: &str) -> Result<Value, String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| format!("base64: {e}"))?;
    let json = if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(MAX_DECODED + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip: {e}"))?;
        if out.len() as u64 > MAX_DECODED {
            return Err(format!("larger than {} MiB decompressed", MAX_DECODED >> 20));
        }
        out
    } else {
        bytes
    };
    serde_json::from_slice(&json).map_err(|e| format!("JSON: {e}"))
}

/// The revisions of release `name` among `secrets` (others passed over; ones that do not read
/// are errors), oldest first.
pub fn history(secrets: &[Object], name: &str) -> Result<Vec<Release>, StorageError> {
    let mut out = Vec::new();
    for s in secrets {
        let labels = s.value().pointer("/metadata/labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        if label("owner") != Some("helm") || label("name") != Some(name) {
            continue;
        }
        out.push(Release::from_secret(s)?);
    }
    out.sort_by_key(|r| r.version);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: u32, status: Status) -> Release {
        Release {
            name: "web".into(),
            namespace: "shop".into(),
            version,
            status,
            description: "Install complete".into(),
            first_deployed: "2026-12-07T10:00:00Z".into(),
            last_deployed: "2026-12-07T10:00:00Z".into(),
            notes: String::new(),
            chart_metadata: json!({"name": "web", "version": "1.2.3", "apiVersion": "v2", "appVersion": "2.0"}),
            chart_values: json!({"replicas": 1}),
            config: json!({"replicas": 3}),
            manifest: "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n".into(),
            rest: Map::new(),
        }
    }

    #[test]
    fn a_release_goes_through_a_secret_and_back() {
        let r = release(2, Status::Deployed);
        let secret = r.to_secret("shop", 1_796_000_000);
        assert_eq!(secret.name(), "sh.helm.release.v1.web.v2");
        let labels = &secret.value()["metadata"]["labels"];
        assert_eq!(labels["status"], "deployed");
        assert_eq!(labels["version"], "2");
        assert_eq!(labels["owner"], "helm");
        let back = Release::from_secret(&secret).unwrap();
        // What Helm keeps besides the fields read (hooks, the chart's files) stays in `rest`.
        assert_eq!(back.to_json(), r.to_json());
        assert_eq!((back.version, back.status, &back.config), (2, Status::Deployed, &r.config));
        assert_eq!(back.chart(), "web-1.2.3");
        let json = r.to_json();
        assert_eq!(json["info"]["status"], "deployed");
        assert_eq!(json["chart"]["templates"], json!([]));
    }

    #[test]
    fn history_is_by_revision_and_bad_secrets_are_named() {
        let secrets = vec![
            release(2, Status::Deployed).to_secret("shop", 2),
            release(1, Status::Superseded).to_secret("shop", 1),
            {
                let mut other = release(1, Status::Deployed);
                other.name = "api".into();
                other.to_secret("shop", 1)
            },
        ];
        let h = history(&secrets, "web").unwrap();
        assert_eq!(
            h.iter().map(|r| (r.version, r.status)).collect::<Vec<_>>(),
            [(1, Status::Superseded), (2, Status::Deployed)]
        );
        let mut broken = release(3, Status::Deployed).to_secret("shop", 3);
        broken.value_mut()["data"]["release"] = json!("bm90IGd6aXA=");
        let e = history(&[broken], "web").unwrap_err().to_string();
        assert!(e.starts_with("Secret shop/sh.helm.release.v1.web.v3: the release does not decode"), "{e}");
        assert!(decode("!!!").is_err());
        assert_eq!(Status::parse("pending-upgrade"), Status::PendingUpgrade);
        assert_eq!(Status::parse("weird"), Status::Unknown);
    }
}
