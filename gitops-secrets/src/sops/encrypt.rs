//! `sops --encrypt`: a new data key wrapped for every key of the rule, every value the rule
//! selects encrypted with its path, the MAC over the plaintext, the metadata appended.

use pgp::composed::SignedPublicKey;
use zeroize::Zeroizing;

use crate::sops::cipher::{self, CipherError};
use crate::sops::creation_rules::CreationRule;
use crate::sops::decrypt::rfc3339_seconds;
use crate::sops::format::{self, Format, FormatError};
use crate::sops::keys::{self, KeyError, pgp_fingerprint};
use crate::sops::mac::{self, Decider, Mac, RuleError};
use crate::sops::metadata::{AgeStanza, KeyGroup, Metadata, PgpStanza, Rule};
use crate::sops::tree::{Key, Secret, Value};

/// The sops release whose file format this writes (the `version` field).
pub const SOPS_VERSION: &str = "3.13.3";

/// Why a file could not be encrypted.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    /// The plaintext does not read in its format, or the result cannot be written in it.
    #[error("{file}: {source}")]
    Format {
        /// The file.
        file: String,
        /// Why.
        source: FormatError,
    },
    /// The file already has `sops` metadata.
    #[error("{file}: File already encrypted")]
    AlreadyEncrypted {
        /// The file.
        file: String,
    },
    /// The rule names no key, or a key this crate cannot use.
    #[error("{file}: {reason}")]
    Keys {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// Wrapping the data key failed.
    #[error("{file}: {source}")]
    Key {
        /// The file.
        file: String,
        /// Why.
        source: KeyError,
    },
    /// The rule's regular expression does not compile.
    #[error("{file}: {source}")]
    Rule {
        /// The file.
        file: String,
        /// Why.
        source: RuleError,
    },
    /// A value could not be encrypted.
    #[error("{file}: Could not encrypt value at {path}: {source}")]
    Value {
        /// The file.
        file: String,
        /// The path.
        path: String,
        /// Why.
        source: CipherError,
    },
    /// An encrypted comment would match `unencrypted_comment_regex`, so it would never decrypt.
    #[error("{file}: an encrypted comment matches unencrypted_comment_regex; make the regex stricter")]
    CommentRule {
        /// The file.
        file: String,
    },
}

/// Encrypts a plaintext file for the keys of `rule`. `now` is the modification time written
/// (RFC 3339, seconds, UTC: `2024-01-02T03:04:05Z`); `pgp_keys` are the public keys the rule's
/// fingerprints are looked up in.
pub fn encrypt(
    name: &str,
    bytes: &[u8],
    input: Format,
    rule: &CreationRule,
    pgp_keys: &[SignedPublicKey],
    now: &str,
) -> Result<String, EncryptError> {
    let file = || name.to_string();
    let branches = format::load_plain(bytes, input).map_err(|source| EncryptError::Format { file: file(), source })?;
    let mut branches = Secret(branches);
    if branches.0.iter().flatten().any(|i| matches!(&i.key, Key::Str(k) if k == "sops")) {
        return Err(EncryptError::AlreadyEncrypted { file: file() });
    }
    let keys_err = |reason: String| EncryptError::Keys { file: file(), reason };
    if rule.groups.is_empty() || rule.groups.iter().any(|g| g.age.is_empty() && g.pgp.is_empty()) {
        return Err(keys_err("the creation rule names no age or pgp key (for every key group)".into()));
    }
    if let Some(g) = rule.groups.iter().find(|g| !g.unsupported.is_empty()) {
        return Err(keys_err(format!(
            "unsupported key types in the creation rule: {} (only age and pgp are)",
            g.unsupported.join(", ")
        )));
    }
    let mut data_key = Zeroizing::new(vec![0u8; 32]);
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut data_key)
        .map_err(|_| EncryptError::Key { file: file(), source: KeyError::Random })?;
    let parts = if rule.groups.len() == 1 {
        vec![data_key.clone()]
    } else {
        let threshold = if rule.shamir_threshold > 0 { rule.shamir_threshold as usize } else { rule.groups.len() };
        keys::shamir::split(&data_key, rule.groups.len(), threshold)
            .map_err(|e| EncryptError::Key { file: file(), source: KeyError::Shamir(e) })?
    };
    let mut key_groups = Vec::new();
    for (group, part) in rule.groups.iter().zip(&parts) {
        let mut g = KeyGroup::default();
        for recipient in &group.age {
            let enc = keys::wrap_age(recipient, part).map_err(|source| EncryptError::Key { file: file(), source })?;
            g.age.push(AgeStanza { recipient: recipient.clone(), enc });
        }
        for fp in &group.pgp {
            let wanted = fp.replace(' ', "").to_ascii_uppercase();
            let key = pgp_keys
                .iter()
                .find(|k| pgp_fingerprint(k).ends_with(&wanted))
                .ok_or_else(|| EncryptError::Key { file: file(), source: KeyError::MissingPublicKey(fp.clone()) })?;
            let enc = keys::wrap_pgp(key, part).map_err(|source| EncryptError::Key { file: file(), source })?;
            g.pgp.push(PgpStanza { fp: fp.clone(), created_at: now.to_string(), enc });
        }
        key_groups.push(g);
    }
    let decider = Decider::new(&rule.rule).map_err(|source| EncryptError::Rule { file: file(), source })?;
    let unencrypted_comments = match &rule.rule {
        Rule::UnencryptedCommentRegex(p) => regex_lite::Regex::new(p).ok(),
        _ => None,
    };
    let mut mac = Mac::new(rule.mac_only_encrypted);
    mac::walk(&mut branches.0, &mut |leaf, path, stack| {
        let is_comment = matches!(leaf, Value::Comment(_));
        let encrypted = decider.encrypts(path, stack, is_comment);
        mac.add(leaf, encrypted);
        if !encrypted {
            return Ok(leaf.clone());
        }
        let aad = format!("{}:", path.join(":"));
        let enc = cipher::encrypt(leaf, &data_key, &aad).map_err(|source| EncryptError::Value {
            file: file(),
            path: aad,
            source,
        })?;
        if is_comment && unencrypted_comments.as_ref().is_some_and(|r| r.is_match(&enc)) {
            return Err(EncryptError::CommentRule { file: file() });
        }
        Ok(Value::Str(enc))
    })?;
    let last_modified = rfc3339_seconds(now);
    let mac_value = cipher::encrypt(&Value::Str(mac.finish()), &data_key, &last_modified)
        .map_err(|source| EncryptError::Value { file: file(), path: "sops.mac".into(), source })?;
    let md = Metadata {
        key_groups,
        shamir_threshold: if rule.groups.len() > 1 {
            rule.shamir_threshold.max(0).max(if rule.shamir_threshold == 0 { rule.groups.len() as i64 } else { 0 })
        } else {
            0
        },
        last_modified,
        mac: mac_value,
        rule: rule.rule.clone(),
        mac_only_encrypted: rule.mac_only_encrypted,
        version: SOPS_VERSION.to_string(),
    };
    format::emit_encrypted(&branches.0, &md, input).map_err(|source| EncryptError::Format { file: file(), source })
}
