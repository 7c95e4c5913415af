//! Which values are encrypted and what the MAC covers: sops walks the tree in order, asks its
//! rule (suffix, regex or comment regex) for each leaf with the leaf's path and the comments
//! above it, and hashes (SHA-512) the text of every leaf, or with `mac_only_encrypted` of every
//! encrypted leaf after a fixed prefix; comments are never hashed.

use regex_lite::Regex;
use sha2::{Digest, Sha512};

use crate::sops::metadata::Rule;
use crate::sops::tree::{Branches, Comment, Item, Key, Value, to_bytes};

/// `sha256("sops")`: the first bytes hashed when the MAC covers only encrypted values, so that
/// the two kinds of MAC never agree.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b, 0x97, 0x5b,
    0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// The rule's regular expression does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression {pattern:?} in the sops rule: {reason}")]
pub struct RuleError {
    pattern: String,
    reason: String,
}

/// A rule ready to decide.
pub(crate) enum Decider {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
    UnencryptedComment(Regex),
    EncryptedComment(Regex),
}

impl Decider {
    pub(crate) fn new(rule: &Rule) -> Result<Decider, RuleError> {
        let re = |p: &str| Regex::new(p).map_err(|e| RuleError { pattern: p.to_string(), reason: e.to_string() });
        Ok(match rule {
            Rule::UnencryptedSuffix(s) => Decider::UnencryptedSuffix(s.clone()),
            Rule::EncryptedSuffix(s) => Decider::EncryptedSuffix(s.clone()),
            Rule::UnencryptedRegex(p) => Decider::UnencryptedRegex(re(p)?),
            Rule::EncryptedRegex(p) => Decider::EncryptedRegex(re(p)?),
            Rule::UnencryptedCommentRegex(p) => Decider::UnencryptedComment(re(p)?),
            Rule::EncryptedCommentRegex(p) => Decider::EncryptedComment(re(p)?),
        })
    }

    /// sops' `shouldBeEncrypted`.
    pub(crate) fn encrypts(&self, path: &[String], stack: &[Vec<String>], is_comment: bool) -> bool {
        match self {
            Decider::UnencryptedSuffix(s) => s.is_empty() || !path.iter().any(|p| p.ends_with(s.as_str())),
            Decider::EncryptedSuffix(s) => path.iter().any(|p| p.ends_with(s.as_str())),
            Decider::UnencryptedRegex(r) => !path.iter().any(|p| r.is_match(p)),
            Decider::EncryptedRegex(r) => path.iter().any(|p| r.is_match(p)),
            Decider::UnencryptedComment(r) => !stack.iter().flatten().any(|c| r.is_match(c)),
            Decider::EncryptedComment(r) => {
                let last = stack.len().saturating_sub(1);
                let last_len = stack.last().map_or(0, Vec::len);
                stack.iter().enumerate().any(|(i, cs)| {
                    cs.iter().enumerate().any(|(j, c)| {
                        // The comment line that matches is not itself encrypted.
                        !(is_comment && i == last && j + 1 == last_len) && r.is_match(c)
                    })
                })
            }
        }
    }
}

/// The running MAC.
pub(crate) struct Mac {
    hash: Sha512,
    only_encrypted: bool,
}

impl Mac {
    pub(crate) fn new(only_encrypted: bool) -> Mac {
        let mut hash = Sha512::new();
        if only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        Mac { hash, only_encrypted }
    }

    /// Adds a leaf (its plaintext) unless it is a comment or not covered.
    pub(crate) fn add(&mut self, plain: &Value, encrypted: bool) {
        if (!self.only_encrypted || encrypted)
            && !matches!(plain, Value::Comment(_))
            && let Some(bytes) = to_bytes(plain)
        {
            // The text is a copy of a plaintext value: wiped when dropped.
            let bytes = zeroize::Zeroizing::new(bytes);
            self.hash.update(bytes.as_bytes());
        }
    }

    /// Upper-case hex, as sops prints it.
    pub(crate) fn finish(self) -> String {
        self.hash.finalize().iter().map(|b| format!("{b:02X}")).collect()
    }
}

/// What a leaf turns into.
pub(crate) type Leaf<'a, E> = dyn FnMut(&Value, &[String], &[Vec<String>]) -> Result<Value, E> + 'a;

/// Walks every leaf of every branch in sops' order, replacing each by what `f` returns.
pub(crate) fn walk<E>(branches: &mut Branches, f: &mut Leaf<'_, E>) -> Result<(), E> {
    for branch in branches {
        walk_map(branch, &mut Vec::new(), &mut Vec::new(), f)?;
    }
    Ok(())
}

fn walk_map<E>(
    items: &mut [Item],
    path: &mut Vec<String>,
    stack: &mut Vec<Vec<String>>,
    f: &mut Leaf<'_, E>,
) -> Result<(), E> {
    stack.push(Vec::new());
    for item in items.iter_mut() {
        if let Key::Comment(c) = &item.key {
            if let Some(level) = stack.last_mut() {
                level.push(c.text.clone());
            }
            let inline = c.inline;
            let out = f(&Value::Comment(c.clone()), path, stack)?;
            item.key = Key::Comment(match out {
                Value::Comment(c) => c,
                Value::Str(text) => Comment { text, inline },
                _ => c.clone(),
            });
            continue;
        }
        let Key::Str(k) = &item.key else { continue };
        path.push(k.clone());
        walk_value(&mut item.value, path, stack, f)?;
        path.pop();
        if let Some(level) = stack.last_mut() {
            level.clear();
        }
    }
    stack.pop();
    Ok(())
}

fn walk_value<E>(
    value: &mut Value,
    path: &mut Vec<String>,
    stack: &mut Vec<Vec<String>>,
    f: &mut Leaf<'_, E>,
) -> Result<(), E> {
    match value {
        Value::Null => Ok(()),
        Value::Map(items) => walk_map(items, path, stack, f),
        Value::Seq(values) => {
            stack.push(Vec::new());
            for v in values.iter_mut() {
                let is_comment = if let Value::Comment(c) = v {
                    if let Some(level) = stack.last_mut() {
                        level.push(c.text.clone());
                    }
                    true
                } else {
                    false
                };
                walk_value(v, path, stack, f)?;
                if !is_comment && let Some(level) = stack.last_mut() {
                    level.clear();
                }
            }
            stack.pop();
            Ok(())
        }
        leaf => {
            let out = f(leaf, path, stack)?;
            *leaf = out;
            Ok(())
        }
    }
}
