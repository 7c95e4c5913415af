//! The kubeconfig a Flux `Kustomization` or `HelmRelease` reaches a remote cluster with:
//! `spec.kubeConfig.secretRef` names a Secret and optionally a key (fluxcd/pkg
//! `runtime/client` `ConfigFromSecret`).

use super::secret::{SecretError, secret_id, secret_value};
use crate::Object;

/// The key Flux reads when `secretRef.key` is not set.
pub const DEFAULT_KUBECONFIG_KEY: &str = "value";
/// The key Flux reads when `secretRef.key` is not set and [`DEFAULT_KUBECONFIG_KEY`] is absent.
pub const DEFAULT_KUBECONFIG_KEY_EXT: &str = "value.yaml";

/// Why no kubeconfig comes out of a secret. The first two messages are Flux's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeConfigError {
    /// `secretRef.key` names a key the secret does not have.
    #[error("KubeConfig secret '{secret}' does not contain a '{key}' key with data")]
    KeyMissing {
        /// `namespace/name` of the secret.
        secret: String,
        /// The key asked for.
        key: String,
    },
    /// Neither default key is in the secret.
    #[error(
        "KubeConfig secret '{secret}' does not contain a '{DEFAULT_KUBECONFIG_KEY}' or '{DEFAULT_KUBECONFIG_KEY_EXT}' key with data"
    )]
    DefaultKeysMissing {
        /// `namespace/name` of the secret.
        secret: String,
    },
    /// The object is not a core Secret.
    #[error("{kind} {secret} is not a Secret; spec.kubeConfig.secretRef must name a Secret")]
    NotASecret {
        /// `namespace/name` of the object.
        secret: String,
        /// Its kind.
        kind: String,
    },
    /// The value does not decode (not base64, not a string, not UTF-8).
    #[error(transparent)]
    Value(#[from] SecretError),
}

/// The kubeconfig text in `secret`, read as Flux reads it: from `key` when given, else from
/// `value`, else from `value.yaml`. `stringData` counts as `data`, as the API server merges it.
pub fn flux_kubeconfig(secret: &Object, key: Option<&str>) -> Result<String, KubeConfigError> {
    if !(secret.group().is_empty() && secret.kind() == "Secret") {
        return Err(KubeConfigError::NotASecret { secret: secret_id(secret), kind: secret.kind().to_string() });
    }
    let found = match key.filter(|k| !k.is_empty()) {
        Some(key) => secret_value(secret, key)
            .ok_or_else(|| KubeConfigError::KeyMissing { secret: secret_id(secret), key: key.to_string() })?,
        None => secret_value(secret, DEFAULT_KUBECONFIG_KEY)
            .or_else(|| secret_value(secret, DEFAULT_KUBECONFIG_KEY_EXT))
            .ok_or_else(|| KubeConfigError::DefaultKeysMissing { secret: secret_id(secret) })?,
    };
    let (field, bytes) = found?;
    String::from_utf8(bytes).map_err(|_| SecretError::NotUtf8 { secret: secret_id(secret), field }.into())
}

#[cfg(test)]
mod tests {
    use super::super::secret::tests::b64;
    use super::*;
    use crate::Origin;
    use serde_json::{Value, json};

    fn secret(data: Value) -> Object {
        Object::new(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kc", "namespace": "flux-system"},
                   "data": data}),
            Origin::inline("t"),
        )
    }

    #[test]
    fn default_keys_in_flux_order() {
        let both = secret(json!({"value": b64("first"), "value.yaml": b64("second")}));
        assert_eq!(flux_kubeconfig(&both, None).unwrap(), "first");
        let ext = secret(json!({"value.yaml": b64("second")}));
        assert_eq!(flux_kubeconfig(&ext, None).unwrap(), "second");
        assert_eq!(flux_kubeconfig(&ext, Some("")).unwrap(), "second");
        let e = flux_kubeconfig(&secret(json!({"other": b64("x")})), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "KubeConfig secret 'flux-system/kc' does not contain a 'value' or 'value.yaml' key with data"
        );
    }

    #[test]
    fn an_explicit_key_is_the_only_one_read() {
        let s = secret(json!({"value": b64("default"), "prod.yaml": b64("prod")}));
        assert_eq!(flux_kubeconfig(&s, Some("prod.yaml")).unwrap(), "prod");
        let e = flux_kubeconfig(&s, Some("staging.yaml")).unwrap_err();
        assert_eq!(e.to_string(), "KubeConfig secret 'flux-system/kc' does not contain a 'staging.yaml' key with data");
        let e = flux_kubeconfig(&secret(json!({"value": "!!"})), None).unwrap_err();
        assert_eq!(e.to_string(), "secret flux-system/kc: data.value is not base64");
    }
}
