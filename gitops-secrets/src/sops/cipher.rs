//! One encrypted value: `ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]`, AES-256-GCM with a
//! 32-byte IV, the value's path (`key:key:`) as additional data, and the value's type so that
//! it decrypts to the same kind of value.

use aes_gcm::aead::generic_array::typenum::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::sops::tree::{Comment, Value, to_bytes};

/// AES-256-GCM with sops' 32-byte nonces.
type Gcm = AesGcm<Aes256, U32>;

/// Why a value could not be decrypted.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// Not `ENC[AES256_GCM,...]`.
    #[error("the value does not match sops' data format")]
    Format,
    /// A field is not base64.
    #[error("Error base64-decoding {0}")]
    Base64(&'static str),
    /// Authentication failed: wrong key, or the value, its IV, tag or path was changed.
    #[error("Could not decrypt with AES_GCM: message authentication failed")]
    Authentication,
    /// The plaintext does not read as its declared type.
    #[error("the decrypted value is not a valid {0}")]
    Type(String),
    /// The type is unknown.
    #[error("Unknown datatype: {0}")]
    UnknownType(String),
    /// The value cannot be encrypted (a collection or null).
    #[error("Value to encrypt has unsupported type")]
    Unsupported,
    /// No randomness.
    #[error("Could not generate random bytes for IV")]
    Random,
}

struct Parts {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn parse(value: &str) -> Result<Parts, CipherError> {
    let rest = value.strip_prefix("ENC[AES256_GCM,data:").ok_or(CipherError::Format)?;
    let (data, rest) = rest.split_once(",iv:").ok_or(CipherError::Format)?;
    let (iv, rest) = rest.split_once(",tag:").ok_or(CipherError::Format)?;
    let (tag, rest) = rest.split_once(",type:").ok_or(CipherError::Format)?;
    let kind = &rest[..rest.rfind(']').ok_or(CipherError::Format)?];
    if data.is_empty() || iv.is_empty() || tag.is_empty() || kind.is_empty() {
        return Err(CipherError::Format);
    }
    Ok(Parts {
        data: STANDARD.decode(data).map_err(|_| CipherError::Base64("data"))?,
        iv: STANDARD.decode(iv).map_err(|_| CipherError::Base64("iv"))?,
        tag: STANDARD.decode(tag).map_err(|_| CipherError::Base64("tag"))?,
        kind: kind.to_string(),
    })
}

/// Decrypts one value; the empty string stays empty, as sops keeps it.
pub(crate) fn decrypt(value: &str, key: &[u8], aad: &str) -> Result<Value, CipherError> {
    if value.is_empty() {
        return Ok(Value::Str(String::new()));
    }
    let parts = parse(value)?;
    // Only 32-byte IVs: the nonce size is a type parameter, and sops writes no other.
    if parts.iv.len() != 32 || parts.tag.len() != 16 || key.len() != 32 {
        return Err(CipherError::Authentication);
    }
    let cipher = Gcm::new_from_slice(key).map_err(|_| CipherError::Authentication)?;
    let mut sealed = parts.data;
    sealed.extend_from_slice(&parts.tag);
    let plain = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&parts.iv), Payload { msg: &sealed, aad: aad.as_bytes() })
            .map_err(|_| CipherError::Authentication)?,
    );
    let text = std::str::from_utf8(&plain).map_err(|_| CipherError::Type(parts.kind.clone()))?;
    let bad = || CipherError::Type(parts.kind.clone());
    Ok(match parts.kind.as_str() {
        "str" | "bytes" => Value::Str(text.to_string()),
        "int" => Value::Int(go_atoi(text).ok_or_else(bad)?),
        "float" => Value::Float(go_parse_float(text).ok_or_else(bad)?),
        "bool" => Value::Bool(match text {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return Err(bad()),
        }),
        "time" => Value::Time(crate::sops::format::time::parse_yaml_timestamp(text).ok_or_else(bad)?),
        "comment" => Value::Comment(Comment { text: text.to_string(), inline: false }),
        other => return Err(CipherError::UnknownType(other.to_string())),
    })
}

fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn go_parse_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" | "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Inf" | "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Encrypts one value with a fresh IV. The empty string stays empty, as sops keeps it.
pub(crate) fn encrypt(value: &Value, key: &[u8], aad: &str) -> Result<String, CipherError> {
    let kind = match value {
        Value::Str(_) => "str",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bool(_) => "bool",
        Value::Time(_) => "time",
        Value::Comment(_) => "comment",
        Value::Null | Value::Map(_) | Value::Seq(_) => return Err(CipherError::Unsupported),
    };
    let plain = Zeroizing::new(to_bytes(value).ok_or(CipherError::Unsupported)?);
    if plain.is_empty() && matches!(value, Value::Str(_) | Value::Comment(_)) {
        return Ok(String::new());
    }
    let mut iv = [0u8; 32];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut iv).map_err(|_| CipherError::Random)?;
    let cipher = Gcm::new_from_slice(key).map_err(|_| CipherError::Authentication)?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&iv), Payload { msg: plain.as_bytes(), aad: aad.as_bytes() })
        .map_err(|_| CipherError::Authentication)?;
    let (data, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
        STANDARD.encode(data),
        STANDARD.encode(iv),
        STANDARD.encode(tag)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_with_their_type_and_path() {
        let key = [7u8; 32];
        for v in [Value::Str("s3cret".into()), Value::Int(-42), Value::Float(1.5), Value::Bool(true)] {
            let enc = encrypt(&v, &key, "a:b:").unwrap();
            assert_eq!(decrypt(&enc, &key, "a:b:").unwrap(), v);
            assert!(matches!(decrypt(&enc, &key, "a:c:"), Err(CipherError::Authentication)));
        }
    }
}
