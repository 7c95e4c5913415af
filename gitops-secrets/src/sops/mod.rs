//! SOPS files, read and written as the Go `sops` does: [`decrypt()`] is `sops --decrypt`
//! (byte for byte the same output), [`encrypt()`] is `sops --encrypt` with a `.sops.yaml`
//! creation rule ([`creation_rules::rule_for`]).

pub(crate) mod cipher;
pub mod creation_rules;
pub mod decrypt;
pub mod encrypt;
pub mod format;
pub mod keys;
pub mod mac;
pub mod metadata;
pub mod tree;

pub use decrypt::{DecryptError, MacCheck, decrypt, decrypt_with};
pub use encrypt::{EncryptError, SOPS_VERSION, encrypt};
pub use format::Format;
pub use keys::{Identities, KeyError};
