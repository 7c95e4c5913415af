//! Sealed Secrets as kubeseal and the controller make and open them: each value is sealed on
//! its own with a fresh 32-byte AES-256-GCM session key (zero nonce: the key is used once),
//! the key wrapped with RSA-OAEP (SHA-256) under the controller's public key, with the scope's
//! label as OAEP label (strict: `namespace/name`, namespace-wide: `namespace`, cluster-wide:
//! empty). The bytes are the RSA ciphertext's length (2 bytes, big-endian), the RSA ciphertext,
//! then the AES-GCM ciphertext and tag; `encryptedData` holds them in base64.

pub mod seal;
pub mod unseal;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::{OsRng, RngCore};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use zeroize::Zeroizing;

pub use seal::{SealError, merge_into, seal_raw, seal_secret};
pub use unseal::{KeyChange, UnsealError, changed_keys, unseal};

/// The annotation that makes a secret namespace-wide.
pub const NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// The annotation that makes a secret cluster-wide.
pub const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";

/// Where a sealed secret may be unsealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Only under its name in its namespace (the default).
    #[default]
    Strict,
    /// Under any name in its namespace.
    NamespaceWide,
    /// Anywhere.
    ClusterWide,
}

impl Scope {
    /// `strict`, `namespace-wide`, `cluster-wide` (kubeseal's `--scope`).
    pub fn from_name(name: &str) -> Option<Scope> {
        Some(match name {
            "strict" | "" => Scope::Strict,
            "namespace-wide" => Scope::NamespaceWide,
            "cluster-wide" => Scope::ClusterWide,
            _ => return None,
        })
    }

    /// The scope an object's annotations declare (`"true"` only, cluster-wide first).
    pub fn of(metadata: &serde_json::Value) -> Scope {
        let annotation = |name: &str| {
            metadata.pointer(&format!("/annotations/{}", name.replace('/', "~1"))).and_then(|v| v.as_str())
                == Some("true")
        };
        if annotation(CLUSTER_WIDE) {
            Scope::ClusterWide
        } else if annotation(NAMESPACE_WIDE) {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// The OAEP label of a secret in this scope.
    pub fn label(self, namespace: &str, name: &str) -> String {
        match self {
            Scope::Strict => format!("{namespace}/{name}"),
            Scope::NamespaceWide => namespace.to_string(),
            Scope::ClusterWide => String::new(),
        }
    }
}

/// Why a key or certificate could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not a PEM certificate holding an RSA public key.
    #[error("not a PEM certificate with an RSA public key: {0}")]
    Certificate(String),
    /// Not a PEM RSA private key.
    #[error("not a PEM RSA private key (PKCS#1 or PKCS#8): {0}")]
    PrivateKey(String),
}

/// The RSA public key of the controller's certificate (the first PEM certificate of `pem`).
pub fn public_key_from_cert(pem: &[u8]) -> Result<RsaPublicKey, KeyError> {
    let der = pem_block(pem, "CERTIFICATE").ok_or_else(|| KeyError::Certificate("no CERTIFICATE block".into()))?;
    let spki = certificate_spki(&der).ok_or_else(|| KeyError::Certificate("malformed X.509 certificate".into()))?;
    RsaPublicKey::from_public_key_der(spki).map_err(|e| KeyError::Certificate(e.to_string()))
}

/// An RSA private key from PEM (`RSA PRIVATE KEY` or `PRIVATE KEY`).
pub fn private_key_from_pem(pem: &[u8]) -> Result<RsaPrivateKey, KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::PrivateKey("not text".into()))?;
    if text.contains("BEGIN RSA PRIVATE KEY") {
        RsaPrivateKey::from_pkcs1_pem(text.trim()).map_err(|e| KeyError::PrivateKey(e.to_string()))
    } else {
        let start = text
            .find("-----BEGIN PRIVATE KEY-----")
            .ok_or_else(|| KeyError::PrivateKey("no private key block".into()))?;
        RsaPrivateKey::from_pkcs8_pem(text[start..].trim()).map_err(|e| KeyError::PrivateKey(e.to_string()))
    }
}

/// The DER bytes of the first PEM block of `kind`.
fn pem_block(pem: &[u8], kind: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::str::from_utf8(pem).ok()?;
    let begin = format!("-----BEGIN {kind}-----");
    let end = format!("-----END {kind}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// One DER element: (tag, whole element, content).
fn der_element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, b.get(..end)?, b.get(header..end)?))
}

/// The SubjectPublicKeyInfo of an X.509 certificate: after the optional explicit version,
/// the serial number, signature algorithm, issuer, validity and subject.
fn certificate_spki(der: &[u8]) -> Option<&[u8]> {
    let (_, _, cert) = der_element(der)?;
    let (_, _, mut tbs) = der_element(cert)?;
    let mut fields = Vec::new();
    while !tbs.is_empty() && fields.len() < 8 {
        let (tag, whole, _) = der_element(tbs)?;
        fields.push((tag, whole));
        tbs = &tbs[whole.len()..];
    }
    let skip = usize::from(fields.first()?.0 == 0xA0);
    fields.get(skip + 5).map(|f| f.1)
}

/// kubeseal's hybrid encryption of one value.
pub fn hybrid_encrypt(key: &RsaPublicKey, plaintext: &[u8], label: &str) -> Result<Vec<u8>, String> {
    let mut session = Zeroizing::new([0u8; 32]);
    OsRng.try_fill_bytes(&mut session[..]).map_err(|e| e.to_string())?;
    let padding = if label.is_empty() { Oaep::new::<Sha256>() } else { Oaep::new_with_label::<Sha256, _>(label) };
    let wrapped = key.encrypt(&mut OsRng, padding, &session[..]).map_err(|e| e.to_string())?;
    let len = u16::try_from(wrapped.len()).map_err(|_| "RSA ciphertext too long".to_string())?;
    let cipher = Aes256Gcm::new_from_slice(&session[..]).map_err(|e| e.to_string())?;
    let sealed = cipher.encrypt(Nonce::from_slice(&[0u8; 12]), plaintext).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(2 + wrapped.len() + sealed.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// kubeseal's hybrid decryption with any of `keys`.
pub fn hybrid_decrypt(keys: &[RsaPrivateKey], ciphertext: &[u8], label: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    if ciphertext.len() < 2 {
        return Err("SealedSecret data is too short".into());
    }
    let len = u16::from_be_bytes([ciphertext[0], ciphertext[1]]) as usize;
    if ciphertext.len() < len + 2 {
        return Err("SealedSecret data is too short".into());
    }
    let (wrapped, sealed) = ciphertext[2..].split_at(len);
    for key in keys {
        let padding = if label.is_empty() { Oaep::new::<Sha256>() } else { Oaep::new_with_label::<Sha256, _>(label) };
        let Ok(session) = key.decrypt(padding, wrapped).map(Zeroizing::new) else { continue };
        let Ok(cipher) = Aes256Gcm::new_from_slice(&session) else { continue };
        if let Ok(plain) = cipher.decrypt(Nonce::from_slice(&[0u8; 12]), sealed) {
            return Ok(Zeroizing::new(plain));
        }
    }
    Err("no key could decrypt secret".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_per_scope() {
        assert_eq!(Scope::Strict.label("ns", "n"), "ns/n");
        assert_eq!(Scope::NamespaceWide.label("ns", "n"), "ns");
        assert_eq!(Scope::ClusterWide.label("ns", "n"), "");
    }

    #[test]
    fn hybrid_round_trip_and_wrong_label() {
        let key = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let sealed = hybrid_encrypt(&key.to_public_key(), b"value", "ns/a").unwrap();
        assert_eq!(&hybrid_decrypt(std::slice::from_ref(&key), &sealed, "ns/a").unwrap()[..], b"value");
        assert!(hybrid_decrypt(&[key], &sealed, "ns/b").is_err());
    }

    #[test]
    fn changed_keys_compare_values_not_ciphertexts() {
        let key = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let public = key.to_public_key();
        let secret = |data: serde_json::Value| serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "web"}, "stringData": data});
        let live =
            seal_secret(&secret(serde_json::json!({"a": "1", "b": "2", "gone": "x"})), &public, None, None, None)
                .unwrap();
        let resealed =
            seal_secret(&secret(serde_json::json!({"a": "1", "b": "2", "gone": "x"})), &public, None, None, None)
                .unwrap();
        assert_ne!(live, resealed, "each sealing differs");
        let keys = std::slice::from_ref(&key);
        assert_eq!(changed_keys(&resealed, &live, keys).unwrap(), []);
        let mut desired =
            seal_secret(&secret(serde_json::json!({"a": "1", "b": "3", "new": "y"})), &public, None, None, None)
                .unwrap();
        assert_eq!(
            changed_keys(&desired, &live, keys).unwrap(),
            [KeyChange::Changed("b".into()), KeyChange::Removed("gone".into()), KeyChange::Added("new".into())]
        );
        // A desired SealedSecret without a namespace is read in the live one's.
        desired["metadata"].as_object_mut().unwrap().remove("namespace");
        assert_eq!(changed_keys(&desired, &live, keys).unwrap().len(), 3);
        let other = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        assert!(changed_keys(&desired, &live, &[other]).is_err());
    }
}
