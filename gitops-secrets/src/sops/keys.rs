//! Master keys: the age identities and OpenPGP secret keys that open a file's data key, and the
//! recipients that wrap a new one. Parsing follows sops: an age key file has one identity per
//! line (`#` lines and empty lines skipped), `SOPS_AGE_KEY` may hold several per line; an
//! OpenPGP key file may hold several keys (armored blocks or binary), RSA of any size included.

use std::io::{BufReader, Read};

use age::secrecy::ExposeSecret;
use pgp::composed::{Message, MessageBuilder, PublicOrSecret, SignedPublicKey, SignedSecretKey};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::types::{KeyDetails, Password};
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::sops::metadata::{AgeStanza, KeyGroup, Metadata, PgpStanza};

/// Why keys could not be read, or a data key not be opened or wrapped.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A line of an age key file is no identity.
    #[error("age key line {line}: not an age identity (expected AGE-SECRET-KEY-1...)")]
    AgeIdentity {
        /// 1-based line.
        line: usize,
    },
    /// An age recipient is malformed.
    #[error("invalid age recipient {0:?}")]
    AgeRecipient(String),
    /// An OpenPGP key file does not parse.
    #[error("OpenPGP key: {0}")]
    Pgp(String),
    /// No key of the file could open the data key.
    #[error("no key could decrypt the data key:{0}")]
    NoKey(String),
    /// Wrapping a new data key failed.
    #[error("could not encrypt the data key for {recipient}: {reason}")]
    Wrap {
        /// The recipient (age public key or OpenPGP fingerprint).
        recipient: String,
        /// Why.
        reason: String,
    },
    /// The OpenPGP public key of a fingerprint is not among the keys given.
    #[error("no OpenPGP public key with fingerprint {0} was given")]
    MissingPublicKey(String),
    /// Shamir's scheme could not combine or split the parts.
    #[error("could not get data key from shamir parts: {0}")]
    Shamir(String),
    /// No randomness.
    #[error("could not generate random bytes")]
    Random,
}

/// The secret keys available for decryption.
#[derive(Default)]
pub struct Identities {
    age: Vec<age::x25519::Identity>,
    pgp: Vec<SignedSecretKey>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities").field("age", &self.age.len()).field("pgp", &self.pgp.len()).finish()
    }
}

impl Identities {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the identities of an age key file (one per line, as `SOPS_AGE_KEY_FILE`), or with
    /// `several_per_line` every word of every line (as `SOPS_AGE_KEY`).
    pub fn add_age(&mut self, text: &str, several_per_line: bool) -> Result<(), KeyError> {
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = if several_per_line { line.split_whitespace().collect() } else { vec![line] };
            for word in words {
                let id = word.parse::<age::x25519::Identity>().map_err(|_| KeyError::AgeIdentity { line: n + 1 })?;
                self.age.push(id);
            }
        }
        Ok(())
    }

    /// Adds every OpenPGP secret key of a key file (armored, possibly several blocks, or binary).
    pub fn add_pgp(&mut self, bytes: &[u8]) -> Result<usize, KeyError> {
        let before = self.pgp.len();
        for item in pgp_blocks(bytes)? {
            if let PublicOrSecret::Secret(key) = item {
                self.pgp.push(key);
            }
        }
        if self.pgp.len() == before {
            return Err(KeyError::Pgp("the file holds no secret key".into()));
        }
        Ok(self.pgp.len() - before)
    }

    /// Whether no key was added.
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty()
    }
}

/// Every key of an OpenPGP key file.
fn pgp_blocks(bytes: &[u8]) -> Result<Vec<PublicOrSecret>, KeyError> {
    let err = |e: pgp::errors::Error| KeyError::Pgp(e.to_string());
    let text = std::str::from_utf8(bytes).ok().filter(|t| t.contains("-----BEGIN PGP"));
    let mut out = Vec::new();
    match text {
        Some(text) => {
            // Each armored block on its own: gpg --export of several keys writes one block, but
            // files made by concatenation hold several.
            let mut rest = text;
            while let Some(start) = rest.find("-----BEGIN PGP") {
                let block = &rest[start..];
                let end = block
                    .find("-----END PGP")
                    .and_then(|e| block[e..].find('\n').map(|n| e + n + 1))
                    .unwrap_or(block.len());
                let reader = BufReader::new(&block.as_bytes()[..end]);
                let (keys, _) = PublicOrSecret::from_armor_many_buf(reader).map_err(err)?;
                for key in keys {
                    out.push(key.map_err(err)?);
                }
                rest = &block[end..];
            }
        }
        None => {
            for key in PublicOrSecret::from_bytes_many(bytes).map_err(err)? {
                out.push(key.map_err(err)?);
            }
        }
    }
    Ok(out)
}

/// The OpenPGP public keys of a key file (public or secret keys), for encryption.
pub fn pgp_public_keys(bytes: &[u8]) -> Result<Vec<SignedPublicKey>, KeyError> {
    Ok(pgp_blocks(bytes)?
        .into_iter()
        .map(|k| match k {
            PublicOrSecret::Public(p) => p,
            PublicOrSecret::Secret(s) => s.to_public_key(),
        })
        .collect())
}

/// A fingerprint as sops writes it: upper-case hex.
pub fn pgp_fingerprint(key: &SignedPublicKey) -> String {
    hex_upper(key.fingerprint().as_bytes())
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Recovers the data key: each group gives its part from the first of its keys that opens
/// (age before OpenPGP, as sops orders them), then the parts are combined.
pub(crate) fn data_key(md: &Metadata, ids: &Identities) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let mut parts = Vec::new();
    let mut report = String::new();
    for (i, group) in md.key_groups.iter().enumerate() {
        match group_part(group, ids) {
            Ok(part) => {
                report.push_str(&format!("\n  group {i}: opened"));
                parts.push(part);
            }
            Err(why) => report.push_str(&format!("\n  group {i}: FAILED{why}")),
        }
    }
    if md.key_groups.len() > 1 {
        let needed = if md.shamir_threshold > 0 { md.shamir_threshold as usize } else { md.key_groups.len() };
        if parts.len() < needed {
            return Err(KeyError::NoKey(report));
        }
        return shamir::combine(&parts[..needed]).map_err(KeyError::Shamir);
    }
    parts.pop().ok_or(KeyError::NoKey(report))
}

fn group_part(group: &KeyGroup, ids: &Identities) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut why = String::new();
    for stanza in &group.age {
        match open_age(stanza, ids) {
            Ok(key) => return Ok(key),
            Err(e) => why.push_str(&format!("\n    age {}: {e}", stanza.recipient)),
        }
    }
    for stanza in &group.pgp {
        match open_pgp(stanza, ids) {
            Ok(key) => return Ok(key),
            Err(e) => why.push_str(&format!("\n    pgp {}: {e}", stanza.fp)),
        }
    }
    for other in &group.unsupported {
        why.push_str(&format!("\n    {other}: unsupported key type (only age and OpenPGP keys are)"));
    }
    Err(why)
}

fn open_age(stanza: &AgeStanza, ids: &Identities) -> Result<Zeroizing<Vec<u8>>, String> {
    if ids.age.is_empty() {
        return Err("no age identity given".into());
    }
    let armored = age::armor::ArmoredReader::new(stanza.enc.as_bytes());
    let decryptor = age::Decryptor::new(armored).map_err(|e| e.to_string())?;
    let mut reader = decryptor.decrypt(ids.age.iter().map(|i| i as &dyn age::Identity)).map_err(|e| e.to_string())?;
    let mut key = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut key).map_err(|e| e.to_string())?;
    Ok(key)
}

fn open_pgp(stanza: &PgpStanza, ids: &Identities) -> Result<Zeroizing<Vec<u8>>, String> {
    if ids.pgp.is_empty() {
        return Err("no OpenPGP secret key given".into());
    }
    let (message, _) = Message::from_armor(BufReader::new(stanza.enc.as_bytes())).map_err(|e| e.to_string())?;
    let password = Password::empty();
    let passwords = vec![&password; ids.pgp.len()];
    let mut message = message.decrypt_with_keys(passwords, ids.pgp.iter().collect()).map_err(|e| e.to_string())?;
    if message.is_compressed() {
        message = message.decompress().map_err(|e| e.to_string())?;
    }
    Ok(Zeroizing::new(message.as_data_vec().map_err(|e| e.to_string())?))
}

/// Encrypts a data key (part) to an age recipient, armored as sops stores it.
pub(crate) fn wrap_age(recipient: &str, key: &[u8]) -> Result<String, KeyError> {
    let parsed: age::x25519::Recipient =
        recipient.parse().map_err(|_| KeyError::AgeRecipient(recipient.to_string()))?;
    let wrap = |e: String| KeyError::Wrap { recipient: recipient.to_string(), reason: e };
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&parsed as &dyn age::Recipient))
        .map_err(|e| wrap(e.to_string()))?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| wrap(e.to_string()))?;
    let mut writer = encryptor.wrap_output(armor).map_err(|e| wrap(e.to_string()))?;
    std::io::Write::write_all(&mut writer, key).map_err(|e| wrap(e.to_string()))?;
    writer.finish().and_then(|a| a.finish()).map_err(|e| wrap(e.to_string()))?;
    let mut text = String::from_utf8(out).map_err(|e| wrap(e.to_string()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Encrypts a data key (part) to an OpenPGP key (its first encryption-capable subkey, else the
/// primary key), armored.
pub(crate) fn wrap_pgp(key: &SignedPublicKey, data_key: &[u8]) -> Result<String, KeyError> {
    let fp = pgp_fingerprint(key);
    let wrap = |e: String| KeyError::Wrap { recipient: fp.clone(), reason: e };
    let mut builder = MessageBuilder::from_bytes("", data_key.to_vec()).seipd_v1(OsRng, SymmetricKeyAlgorithm::AES256);
    match key.public_subkeys.iter().find(|k| k.algorithm().can_encrypt()) {
        Some(sub) => builder.encrypt_to_key(OsRng, sub),
        None => builder.encrypt_to_key(OsRng, &key.primary_key),
    }
    .map_err(|e| wrap(e.to_string()))?;
    builder.to_armored_string(OsRng, Default::default()).map_err(|e| wrap(e.to_string()))
}

/// An age identity's public recipient (for tests and `.sops.yaml` checks).
pub fn age_recipient_of(identity: &str) -> Option<String> {
    identity.trim().parse::<age::x25519::Identity>().ok().map(|i| i.to_public().to_string())
}

/// A new age identity (`AGE-SECRET-KEY-1...`) and its recipient, for tests and set-up.
pub fn age_generate() -> (Zeroizing<String>, String) {
    let id = age::x25519::Identity::generate();
    (Zeroizing::new(id.to_string().expose_secret().to_string()), id.to_public().to_string())
}

/// Shamir's secret sharing over GF(2^8) as sops uses it (HashiCorp Vault's layout: each part is
/// the polynomial values followed by its x coordinate).
pub(crate) mod shamir {
    use zeroize::Zeroizing;

    fn mul(mut a: u8, mut b: u8) -> u8 {
        let mut p = 0u8;
        while b != 0 {
            if b & 1 != 0 {
                p ^= a;
            }
            let carry = a & 0x80 != 0;
            a <<= 1;
            if carry {
                a ^= 0x1b;
            }
            b >>= 1;
        }
        p
    }

    fn inv(a: u8) -> u8 {
        // a^254 = a^-1 in GF(2^8).
        let mut r = 1u8;
        for _ in 0..254 {
            r = mul(r, a);
        }
        r
    }

    /// Combines parts (at least the threshold) into the secret.
    pub(crate) fn combine(parts: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, String> {
        let len = parts.first().map_or(0, |p| p.len());
        if parts.len() < 2 || len < 2 || parts.iter().any(|p| p.len() != len) {
            return Err("parts must be at least two of equal length".into());
        }
        let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
        for (i, x) in xs.iter().enumerate() {
            if xs[..i].contains(x) {
                return Err("duplicate part detected".into());
            }
        }
        let mut secret = Zeroizing::new(vec![0u8; len - 1]);
        for (byte, out) in secret.iter_mut().enumerate() {
            let mut acc = 0u8;
            for (i, part) in parts.iter().enumerate() {
                let mut basis = 1u8;
                for (j, xj) in xs.iter().enumerate() {
                    if i != j {
                        basis = mul(basis, mul(*xj, inv(xs[i] ^ xj)));
                    }
                }
                acc ^= mul(part[byte], basis);
            }
            *out = acc;
        }
        Ok(secret)
    }

    /// Splits a secret into `parts` parts, any `threshold` of which recover it.
    pub(crate) fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Zeroizing<Vec<u8>>>, String> {
        if parts < threshold || parts > 255 || threshold < 2 || secret.is_empty() {
            return Err(format!("cannot split into {parts} parts with threshold {threshold}"));
        }
        let mut random = Zeroizing::new(vec![0u8; secret.len() * (threshold - 1) + 256]);
        rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut random).map_err(|e| e.to_string())?;
        // Distinct non-zero x coordinates: a shuffle of 1..=255 driven by the random tail.
        let mut xs: Vec<u8> = (1..=255).collect();
        let tail = &random[secret.len() * (threshold - 1)..];
        for i in (1..xs.len()).rev() {
            let j = tail[i] as usize % (i + 1);
            xs.swap(i, j);
        }
        let mut out: Vec<Zeroizing<Vec<u8>>> =
            (0..parts).map(|_| Zeroizing::new(Vec::with_capacity(secret.len() + 1))).collect();
        for (b, &s) in secret.iter().enumerate() {
            let coeffs = &random[b * (threshold - 1)..(b + 1) * (threshold - 1)];
            for (p, part) in out.iter_mut().enumerate() {
                let x = xs[p];
                // Horner: s + c1 x + c2 x^2 + ...
                let mut y = 0u8;
                for c in coeffs.iter().rev() {
                    y = mul(y, x) ^ c;
                }
                part.push(mul(y, x) ^ s);
            }
        }
        for (p, part) in out.iter_mut().enumerate() {
            part.push(xs[p]);
        }
        Ok(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn any_threshold_of_parts_recovers_the_secret() {
            let secret = b"0123456789abcdef0123456789abcdef";
            let parts = split(secret, 3, 2).unwrap();
            assert_eq!(&combine(&parts[..2]).unwrap()[..], secret);
            assert_eq!(&combine(&parts[1..]).unwrap()[..], secret);
            assert_eq!(&combine(&[parts[0].clone(), parts[2].clone()]).unwrap()[..], secret);
        }
    }
}
