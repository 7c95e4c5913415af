//! Flux's `spec.decryption` (`provider: sops`): SOPS-encrypted manifests decrypted after the
//! build, as kustomize-controller decrypts them just before applying.
//!
//! - The keys are the Secret's (`spec.decryption.secretRef`, in the Kustomization's namespace)
//!   entries named `*.agekey` (age identities) and `*.asc` (armored OpenPGP secret keys).
//! - A resource holding a top-level `sops` section is decrypted whole (as JSON).
//! - A Secret's `data` entry whose decoded bytes are a SOPS file of some format (a
//!   `secretGenerator` over an encrypted file) is decrypted to the format its key's extension
//!   names (`.yaml`, `.json`, `.env`; anything else as binary).
//! - The MAC is not checked, as Flux does not: kustomize adds labels and annotations the MAC
//!   never covered; every value is still authenticated with its path by AES-GCM.
//! - `kustomize.toolkit.fluxcd.io/decrypt: disabled` on a resource leaves it as it is.
//!
//! Errors name the object and field and never hold plaintext; decrypted bytes live in memory
//! only.

use base64::Engine as _;
use gitops_core::Object;
use gitops_secrets::sops::format::Format;
use gitops_secrets::sops::keys::Identities;
use gitops_secrets::sops::{MacCheck, decrypt_with};
use serde_json::Value;

/// The only decryption provider.
pub const PROVIDER_SOPS: &str = "sops";

/// The annotation that turns decryption off for one resource.
const DISABLED_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// Why an app's manifests could not be decrypted. Nothing is applied when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The decryption Secret is missing.
    #[error("spec.decryption.secretRef: Secret {namespace}/{name} not found in the target")]
    NoSecret {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A key of the Secret does not read.
    #[error("decryption Secret {secret}: entry {entry}: {reason}")]
    Key {
        /// `namespace/name`.
        secret: String,
        /// The data entry.
        entry: String,
        /// Why.
        reason: String,
    },
    /// A resource (or one of its Secret entries) could not be decrypted.
    #[error("failed to decrypt {object}{field}: {reason}")]
    Object {
        /// `Kind namespace/name`.
        object: String,
        /// ` field <key>` for a Secret entry, or empty.
        field: String,
        /// Why (never the plaintext).
        reason: String,
    },
}

/// The SOPS keys of a decryption Secret's `*.agekey` and `*.asc` entries.
pub fn keys_from_secret(secret: &Object) -> Result<Identities, Error> {
    let id = format!("{}/{}", secret.namespace(), secret.name());
    let mut ids = Identities::new();
    for (entry, bytes) in secret_entries(secret) {
        let bad = |reason: String| Error::Key { secret: id.clone(), entry: entry.clone(), reason };
        if entry.ends_with(".agekey") {
            let text = std::str::from_utf8(&bytes).map_err(|_| bad("not UTF-8 text".into()))?;
            ids.add_age(text, true).map_err(|e| bad(e.to_string()))?;
        } else if entry.ends_with(".asc") {
            ids.add_pgp(&bytes).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(ids)
}

/// A Secret's entries, decoded: `data` (base64) and `stringData`.
fn secret_entries(secret: &Object) -> Vec<(String, zeroize::Zeroizing<Vec<u8>>)> {
    let mut out = Vec::new();
    if let Some(data) = secret.value().get("data").and_then(Value::as_object) {
        for (k, v) in data {
            if let Some(bytes) = v.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok()) {
                out.push((k.clone(), zeroize::Zeroizing::new(bytes)));
            }
        }
    }
    if let Some(data) = secret.value().get("stringData").and_then(Value::as_object) {
        for (k, v) in data {
            if let Some(s) = v.as_str() {
                out.push((k.clone(), zeroize::Zeroizing::new(s.as_bytes().to_vec())));
            }
        }
    }
    out
}

/// Decrypts the SOPS-encrypted resources and Secret entries among `objects`.
pub fn decrypt_objects(objects: Vec<Object>, ids: &Identities) -> Result<Vec<Object>, Error> {
    objects.into_iter().map(|o| decrypt_object(o, ids)).collect()
}

fn describe(o: &Object) -> String {
    if o.namespace().is_empty() {
        format!("{} {}", o.kind(), o.name())
    } else {
        format!("{} {}/{}", o.kind(), o.namespace(), o.name())
    }
}

fn decrypt_object(mut o: Object, ids: &Identities) -> Result<Object, Error> {
    let disabled = o
        .value()
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DISABLED_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"));
    if disabled {
        return Ok(o);
    }
    let fail = |o: &Object, field: String, reason: String| Error::Object { object: describe(o), field, reason };
    if o.value().get("sops").is_some_and(Value::is_object) {
        let text = serde_json::to_vec(o.value()).map_err(|e| fail(&o, String::new(), e.to_string()))?;
        let plain = decrypt_with(&describe(&o), &text, Format::Json, Format::Json, ids, MacCheck::Skip)
            .map_err(|e| fail(&o, String::new(), reason_of(&e.to_string(), &describe(&o))))?;
        let value: Value = serde_json::from_slice(&plain).map_err(|e| fail(&o, String::new(), e.to_string()))?;
        *o.value_mut() = value;
        return Ok(o);
    }
    if o.group().is_empty() && o.kind() == "Secret" {
        let entries: Vec<(String, String)> = o
            .value()
            .get("data")
            .and_then(Value::as_object)
            .map(|d| d.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        for (key, encoded) in entries {
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&encoded) else { continue };
            let Some(input) = format_of_marker(&bytes) else { continue };
            let output = Format::from_path(&key);
            let output = if input == Format::Dotenv && output == Format::Binary { Format::Dotenv } else { output };
            let name = format!("{} field {key}", describe(&o));
            let plain = decrypt_with(&name, &bytes, input, output, ids, MacCheck::Skip)
                .map_err(|e| fail(&o, format!(" field {key}"), reason_of(&e.to_string(), &name)))?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(&*plain);
            if let Some(slot) =
                o.value_mut().pointer_mut(&format!("/data/{}", key.replace('~', "~0").replace('/', "~1")))
            {
                *slot = Value::String(encoded);
            }
        }
    }
    Ok(o)
}

/// A generator's source file (`files`, `envs`) decrypted before the build, as Flux decrypts
/// them in place: its format from its extension (`.yaml`/`.yml`, `.json`, `.env`; anything else
/// binary, or dotenv when it holds dotenv's marker), and only when it holds that format's SOPS
/// marker; `None` when it is not encrypted.
pub fn decrypt_source(path: &str, bytes: &[u8], ids: &Identities) -> Result<Option<Vec<u8>>, Error> {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let format = match Format::from_path(path) {
        Format::Binary if has(b"sops_mac=ENC[") => Format::Dotenv,
        f => f,
    };
    let marker: &[u8] = match format {
        Format::Yaml => b"mac: ENC[",
        Format::Dotenv => b"sops_mac=ENC[",
        Format::Json | Format::Binary => b"\"mac\": \"ENC[",
    };
    if !has(marker) {
        return Ok(None);
    }
    let plain = decrypt_with(path, bytes, format, format, ids, MacCheck::Verify).map_err(|e| Error::Object {
        object: path.to_string(),
        field: String::new(),
        reason: reason_of(&e.to_string(), path),
    })?;
    Ok(Some(plain.to_vec()))
}

/// The format of a SOPS file by the markers Flux looks for, or `None` when it is not one.
fn format_of_marker(bytes: &[u8]) -> Option<Format> {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if has(b"sops_mac=ENC[") {
        Some(Format::Dotenv)
    } else if has(b"\"mac\": \"ENC[") {
        // A binary file is a JSON envelope at rest: reading it as JSON gives its one value.
        Some(Format::Json)
    } else if has(b"mac: ENC[") {
        Some(Format::Yaml)
    } else {
        None
    }
}

/// The decryption error without the `<name>: ` prefix the library puts first.
fn reason_of(message: &str, name: &str) -> String {
    message.strip_prefix(&format!("{name}: ")).unwrap_or(message).to_string()
}

#[cfg(test)]
mod tests {
    use gitops_secrets::sops::creation_rules::rule_for;
    use gitops_secrets::sops::encrypt;
    use gitops_secrets::sops::keys::age_generate;

    use super::*;

    fn object(text: &str) -> Object {
        gitops_core::manifest::parse("t.yaml", text).unwrap().remove(0)
    }

    /// (identities, an encrypter for `(path, text)` by the recipient's rule).
    fn keys() -> (Identities, impl Fn(&str, &str) -> String) {
        let (identity, recipient) = age_generate();
        let mut ids = Identities::new();
        ids.add_age(&identity, true).unwrap();
        let config = format!("creation_rules:\n  - encrypted_regex: ^(data|stringData|token)$\n    age: {recipient}\n");
        let encrypt = move |path: &str, text: &str| {
            let rule = rule_for(config.as_bytes(), path).unwrap();
            encrypt(path, text.as_bytes(), Format::from_path(path), &rule, &[], "2026-12-07T00:00:00Z").unwrap()
        };
        (ids, encrypt)
    }

    #[test]
    fn a_whole_resource_and_a_generated_secret_entry_are_decrypted() {
        let (ids, encrypt) = keys();
        let secret = encrypt(
            "db.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: web\nstringData:\n  password: s3cret\n",
        );
        // kustomize added a label after encryption: the MAC is not checked, as in Flux.
        let mut built = object(&secret);
        built.value_mut()["metadata"]["labels"] = serde_json::json!({"team": "a"});
        let out = decrypt_objects(vec![built], &ids).unwrap();
        assert_eq!(out[0].value()["stringData"]["password"], "s3cret");
        assert!(out[0].value().get("sops").is_none());
        // A secretGenerator `files:` entry holding a SOPS YAML file.
        let file = encrypt("app.sops.yaml", "token: t0k3n\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(&file);
        let generated = object(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: gen, namespace: web}}\ndata: {{app.sops.yaml: {encoded}, plain: cGxhaW4=}}\n"
        ));
        let out = decrypt_objects(vec![generated], &ids).unwrap();
        let data = &out[0].value()["data"];
        let opened = base64::engine::general_purpose::STANDARD.decode(data["app.sops.yaml"].as_str().unwrap()).unwrap();
        assert_eq!(String::from_utf8(opened).unwrap(), "token: t0k3n\n");
        assert_eq!(data["plain"], "cGxhaW4=");
    }

    #[test]
    fn opted_out_resources_are_kept_and_failures_name_the_object_not_the_value() {
        let (ids, encrypt) = keys();
        let text = encrypt(
            "s.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: web}\nstringData: {k: v4lue}\n",
        );
        let mut opted_out = object(&text);
        opted_out.value_mut()["metadata"]["annotations"] = serde_json::json!({DISABLED_ANNOTATION: "disabled"});
        let kept = decrypt_objects(vec![opted_out.clone()], &ids).unwrap();
        assert_eq!(kept[0], opted_out);
        let (other, _) = keys();
        let err = decrypt_objects(vec![object(&text)], &other).unwrap_err().to_string();
        assert!(err.starts_with("failed to decrypt Secret web/s: "), "{err}");
        assert!(!err.contains("v4lue"), "{err}");
    }

    #[test]
    fn generator_sources_are_decrypted_by_their_format_only_when_encrypted() {
        let (ids, encrypt) = keys();
        let env = encrypt("app.env", "TOKEN=abc\n");
        assert_eq!(decrypt_source("app.env", env.as_bytes(), &ids).unwrap().unwrap(), b"TOKEN=abc\n");
        // The same dotenv file under a name without an extension.
        assert_eq!(decrypt_source("app", env.as_bytes(), &ids).unwrap().unwrap(), b"TOKEN=abc\n");
        assert_eq!(decrypt_source("plain.env", b"TOKEN=abc\n", &ids).unwrap(), None);
        let (other, _) = keys();
        assert!(
            decrypt_source("app.env", env.as_bytes(), &other)
                .unwrap_err()
                .to_string()
                .starts_with("failed to decrypt app.env: ")
        );
    }

    #[test]
    fn keys_come_from_agekey_entries() {
        let (identity, _) = age_generate();
        let encoded = base64::engine::general_purpose::STANDARD.encode(identity.as_str());
        let secret = object(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: sops-age, namespace: flux-system}}\ndata: {{age.agekey: {encoded}, other: eA==}}\n"
        ));
        assert!(!keys_from_secret(&secret).unwrap().is_empty());
        let broken =
            object("apiVersion: v1\nkind: Secret\nmetadata: {name: k, namespace: f}\nstringData: {bad.agekey: nope}\n");
        let err = keys_from_secret(&broken).unwrap_err().to_string();
        assert!(err.starts_with("decryption Secret f/k: entry bad.agekey: "), "{err}");
    }
}
