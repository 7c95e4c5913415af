//! Secrets in Git, pure: bytes and keys in, bytes out; no files, no environment, no runtime.
//!
//! - [`sops`]: SOPS files (YAML with comments and order kept, JSON, dotenv, binary) decrypted
//!   exactly as `sops --decrypt` prints them, and encrypted by `.sops.yaml` creation rules into
//!   files the real `sops` decrypts. Data keys open with age X25519 identities or OpenPGP secret
//!   keys; cloud KMS and Vault keys are named as unsupported.
//! - [`sealed`]: Sealed Secrets, sealed and unsealed as kubeseal does.
//!
//! Plaintext buffers and data keys are wiped when dropped, and no error message carries a
//! decrypted value. The only thing taken from the system is randomness (new data keys, IVs,
//! session keys).
//!
//! ```
//! use gitops_secrets::sops::{self, Format, Identities, creation_rules::rule_for, keys};
//!
//! let (identity, recipient) = keys::age_generate();
//! let config = format!("creation_rules:\n  - path_regex: \\.yaml$\n    age: {recipient}\n");
//! let rule = rule_for(config.as_bytes(), "secret.yaml").unwrap();
//! let plain = b"password: hunter2 # a comment\n";
//! let encrypted = sops::encrypt("secret.yaml", plain, Format::Yaml, &rule, &[], "2024-01-02T03:04:05Z").unwrap();
//! assert!(!encrypted.contains("hunter2"));
//!
//! let mut ids = Identities::new();
//! ids.add_age(&identity, false).unwrap();
//! let decrypted = sops::decrypt("secret.yaml", encrypted.as_bytes(), Format::Yaml, Format::Yaml, &ids).unwrap();
//! // As sops prints it: an encrypted inline comment comes back above its entry.
//! assert_eq!(&decrypted[..], b"# a comment\npassword: hunter2\n");
//! ```

pub mod sealed;
pub mod sops;
