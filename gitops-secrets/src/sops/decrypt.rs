//! `sops --decrypt`: open the data key, decrypt every value the file's rule encrypted, check
//! the MAC, print the document as sops prints it.

use zeroize::Zeroizing;

use crate::sops::cipher::{self, CipherError};
use crate::sops::format::{self, Format, FormatError};
use crate::sops::keys::{self, Identities, KeyError};
use crate::sops::mac::{self, Decider, Mac, RuleError};
use crate::sops::tree::{Secret, Value};

/// Why a file could not be decrypted. Messages name the file and never hold plaintext.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// The file does not read in its format, or has no usable metadata.
    #[error("{file}: {source}")]
    Format {
        /// The file.
        file: String,
        /// Why.
        source: FormatError,
    },
    /// No key opened the data key.
    #[error("{file}: {source}")]
    Key {
        /// The file.
        file: String,
        /// Why, per key group and key.
        source: KeyError,
    },
    /// The file's rule has an invalid regular expression.
    #[error("{file}: {source}")]
    Rule {
        /// The file.
        file: String,
        /// Why.
        source: RuleError,
    },
    /// A value did not decrypt (changed, moved to another path, or not sops' format).
    #[error("{file}: Could not decrypt value at {path}: {source}")]
    Value {
        /// The file.
        file: String,
        /// The value's path (`a:b:`).
        path: String,
        /// Why.
        source: CipherError,
    },
    /// A value under a rule that says it is encrypted is not a string.
    #[error("{file}: Expected encrypted value as string at {path}")]
    NotEncrypted {
        /// The file.
        file: String,
        /// The value's path.
        path: String,
    },
    /// The MAC does not match the values: the file was changed.
    #[error("{file}: MAC mismatch{detail}")]
    MacMismatch {
        /// The file.
        file: String,
        /// More (the MAC could not be decrypted), or empty.
        detail: String,
    },
}

/// Whether the MAC is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacCheck {
    /// As `sops --decrypt`: a MAC that does not match the values is an error.
    Verify,
    /// As Flux's kustomize-controller decrypts a built resource: kustomize adds labels and
    /// annotations to it, which the MAC never covered, so the MAC is not checked (each value
    /// is still authenticated by AES-GCM with its path).
    Skip,
}

/// Decrypts a SOPS file (`name` is only for messages). The plaintext is wiped when dropped.
pub fn decrypt(
    name: &str,
    bytes: &[u8],
    input: Format,
    output: Format,
    ids: &Identities,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    decrypt_with(name, bytes, input, output, ids, MacCheck::Verify)
}

/// [`decrypt`], with or without the MAC check.
pub fn decrypt_with(
    name: &str,
    bytes: &[u8],
    input: Format,
    output: Format,
    ids: &Identities,
    check: MacCheck,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let file = || name.to_string();
    let (branches, md) =
        format::load_encrypted(bytes, input).map_err(|source| DecryptError::Format { file: file(), source })?;
    let mut branches = Secret(branches);
    let key = keys::data_key(&md, ids).map_err(|source| DecryptError::Key { file: file(), source })?;
    let decider = Decider::new(&md.rule).map_err(|source| DecryptError::Rule { file: file(), source })?;
    let mut mac = Mac::new(md.mac_only_encrypted);
    mac::walk(&mut branches.0, &mut |leaf, path, stack| {
        let is_comment = matches!(leaf, Value::Comment(_));
        let encrypted = decider.encrypts(path, stack, is_comment);
        let aad = format!("{}:", path.join(":"));
        let plain = if !encrypted {
            leaf.clone()
        } else {
            match leaf {
                // A comment that does not decrypt was written in plaintext by an older sops.
                Value::Comment(c) => cipher::decrypt(&c.text, &key, &aad).unwrap_or_else(|_| leaf.clone()),
                Value::Str(s) => cipher::decrypt(s, &key, &aad).map_err(|source| DecryptError::Value {
                    file: file(),
                    path: aad.clone(),
                    source,
                })?,
                _ => return Err(DecryptError::NotEncrypted { file: file(), path: aad }),
            }
        };
        mac.add(&plain, encrypted);
        Ok(plain)
    })?;
    let computed = mac.finish();
    if check == MacCheck::Skip {
        let text =
            format::emit_plain(&branches.0, output).map_err(|source| DecryptError::Format { file: file(), source })?;
        return Ok(Zeroizing::new(text.into_bytes()));
    }
    let stored = match cipher::decrypt(&md.mac, &key, &rfc3339_seconds(&md.last_modified)) {
        Ok(Value::Str(s)) => s,
        Ok(_) => {
            return Err(DecryptError::MacMismatch { file: file(), detail: ": the stored MAC is not a string".into() });
        }
        Err(e) => {
            return Err(DecryptError::MacMismatch {
                file: file(),
                detail: format!(" (cannot decrypt the stored MAC: {e})"),
            });
        }
    };
    if stored != computed {
        return Err(DecryptError::MacMismatch { file: file(), detail: String::new() });
    }
    let text =
        format::emit_plain(&branches.0, output).map_err(|source| DecryptError::Format { file: file(), source })?;
    Ok(Zeroizing::new(text.into_bytes()))
}

/// `lastmodified` as Go prints the parsed time with `time.RFC3339` (the MAC's additional data).
pub(crate) fn rfc3339_seconds(t: &str) -> String {
    match crate::sops::format::time::parse_yaml_timestamp(t) {
        Some(canonical) => match (canonical.find('.'), canonical.rfind(['Z', '+', '-'])) {
            (Some(dot), Some(zone)) if zone > dot => format!("{}{}", &canonical[..dot], &canonical[zone..]),
            _ => canonical,
        },
        None => t.to_string(),
    }
}
