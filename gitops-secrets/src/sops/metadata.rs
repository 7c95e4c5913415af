//! The `sops` metadata of an encrypted file: key groups (age and OpenPGP stanzas this crate can
//! use, the cloud and Vault ones named so errors can say they are unsupported), the MAC, the
//! rules that decide which values are encrypted, written back in the order sops writes it
//! (keys sorted by name).

use crate::sops::tree::{Item, Key, Value};

/// Why the metadata cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// A field has the wrong shape.
    #[error("invalid sops metadata: {0}")]
    Invalid(String),
    /// More than one of the suffix/regex rules.
    #[error(
        "Cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file"
    )]
    TooManyRules,
    /// No key at all.
    #[error("No keys found in file")]
    NoKeys,
}

/// An age recipient and the data key encrypted to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeStanza {
    /// `age1...`.
    pub recipient: String,
    /// The armored age file holding the data key.
    pub enc: String,
}

/// An OpenPGP key and the data key encrypted to it.
#[derive(Debug, Clone, PartialEq)]
pub struct PgpStanza {
    /// Fingerprint as sops writes it (hex, upper case).
    pub fp: String,
    /// When the stanza was made (RFC 3339).
    pub created_at: String,
    /// The armored OpenPGP message holding the data key.
    pub enc: String,
}

/// The keys of one group: any one of them gives the group's part of the data key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyGroup {
    /// OpenPGP keys.
    pub pgp: Vec<PgpStanza>,
    /// age recipients.
    pub age: Vec<AgeStanza>,
    /// Keys of backends this crate does not support (`kms: arn:...`), for the error message.
    pub unsupported: Vec<String>,
}

/// Which values are encrypted (at most one rule; the default is the `_unencrypted` suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Values under a key ending so stay plaintext.
    UnencryptedSuffix(String),
    /// Only values under a key ending so are encrypted.
    EncryptedSuffix(String),
    /// Values under a key matching stay plaintext.
    UnencryptedRegex(String),
    /// Only values under a key matching are encrypted.
    EncryptedRegex(String),
    /// Values after a comment matching stay plaintext.
    UnencryptedCommentRegex(String),
    /// Only values after a comment matching are encrypted.
    EncryptedCommentRegex(String),
}

/// A rule from its field's text.
pub(crate) type MakeRule = fn(String) -> Rule;

/// The metadata and `.sops.yaml` fields of the rules, with their constructors.
pub(crate) const RULE_FIELDS: [(&str, MakeRule); 6] = [
    ("unencrypted_suffix", Rule::UnencryptedSuffix),
    ("encrypted_suffix", Rule::EncryptedSuffix),
    ("unencrypted_regex", Rule::UnencryptedRegex),
    ("encrypted_regex", Rule::EncryptedRegex),
    ("unencrypted_comment_regex", Rule::UnencryptedCommentRegex),
    ("encrypted_comment_regex", Rule::EncryptedCommentRegex),
];

impl Rule {
    fn field(&self) -> (&'static str, &str) {
        match self {
            Rule::UnencryptedSuffix(s) => ("unencrypted_suffix", s),
            Rule::EncryptedSuffix(s) => ("encrypted_suffix", s),
            Rule::UnencryptedRegex(s) => ("unencrypted_regex", s),
            Rule::EncryptedRegex(s) => ("encrypted_regex", s),
            Rule::UnencryptedCommentRegex(s) => ("unencrypted_comment_regex", s),
            Rule::EncryptedCommentRegex(s) => ("encrypted_comment_regex", s),
        }
    }
}

/// The metadata of a SOPS file.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// Key groups; with more than one, the data key is split with Shamir's scheme.
    pub key_groups: Vec<KeyGroup>,
    /// Groups needed (0: all).
    pub shamir_threshold: i64,
    /// RFC 3339, seconds: also the additional data of the encrypted MAC.
    pub last_modified: String,
    /// The encrypted MAC.
    pub mac: String,
    /// Which values are encrypted.
    pub rule: Rule,
    /// Whether the MAC covers only encrypted values.
    pub mac_only_encrypted: bool,
    /// The sops version that wrote the file.
    pub version: String,
}

fn get<'a>(items: &'a [Item], name: &str) -> Option<&'a Value> {
    items.iter().find(|i| matches!(&i.key, Key::Str(k) if k == name)).map(|i| &i.value)
}

fn text(items: &[Item], name: &str) -> Result<String, MetadataError> {
    match get(items, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Str(s)) | Some(Value::Time(s)) => Ok(s.clone()),
        Some(Value::Int(i)) => Ok(i.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(Value::Float(f)) => Ok(crate::sops::tree::go_float_g(*f)),
        Some(_) => Err(MetadataError::Invalid(format!("{name} is not a string"))),
    }
}

fn list<'a>(items: &'a [Item], name: &str) -> Result<Vec<&'a [Item]>, MetadataError> {
    match get(items, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Seq(values)) => values
            .iter()
            .filter(|v| !matches!(v, Value::Comment(_)))
            .map(|v| match v {
                Value::Map(m) => Ok(m.as_slice()),
                _ => Err(MetadataError::Invalid(format!("an entry of {name} is not a mapping"))),
            })
            .collect(),
        Some(_) => Err(MetadataError::Invalid(format!("{name} is not a list"))),
    }
}

const UNSUPPORTED: [(&str, &str); 5] = [
    ("kms", "arn"),
    ("gcp_kms", "resource_id"),
    ("hckms", "key_id"),
    ("azure_kv", "vault_url"),
    ("hc_vault", "vault_address"),
];

fn group(items: &[Item]) -> Result<KeyGroup, MetadataError> {
    let mut g = KeyGroup::default();
    for (field, id) in UNSUPPORTED {
        for key in list(items, field)? {
            g.unsupported.push(format!("{field} {}", text(key, id)?));
        }
    }
    for key in list(items, "pgp")? {
        g.pgp.push(PgpStanza { fp: text(key, "fp")?, created_at: text(key, "created_at")?, enc: text(key, "enc")? });
    }
    for key in list(items, "age")? {
        g.age.push(AgeStanza { recipient: text(key, "recipient")?, enc: text(key, "enc")? });
    }
    Ok(g)
}

impl Metadata {
    /// Reads the metadata mapping.
    pub fn from_items(items: &[Item]) -> Result<Metadata, MetadataError> {
        let top = group(items)?;
        let key_groups = if !top.pgp.is_empty() || !top.age.is_empty() || !top.unsupported.is_empty() {
            vec![top]
        } else {
            let groups = list(items, "key_groups")?.into_iter().map(group).collect::<Result<Vec<_>, _>>()?;
            if groups.is_empty() {
                return Err(MetadataError::NoKeys);
            }
            groups
        };
        let mut rules = Vec::new();
        for (name, make) in RULE_FIELDS {
            let v = text(items, name)?;
            if !v.is_empty() {
                rules.push(make(v));
            }
        }
        if rules.len() > 1 {
            return Err(MetadataError::TooManyRules);
        }
        let rule = rules.pop().unwrap_or_else(|| Rule::UnencryptedSuffix("_unencrypted".into()));
        let shamir = text(items, "shamir_threshold")?;
        Ok(Metadata {
            key_groups,
            shamir_threshold: if shamir.is_empty() {
                0
            } else {
                shamir.parse().map_err(|_| MetadataError::Invalid("shamir_threshold is not a number".into()))?
            },
            last_modified: text(items, "lastmodified")?,
            mac: text(items, "mac")?,
            rule,
            mac_only_encrypted: matches!(text(items, "mac_only_encrypted")?.as_str(), "true" | "True" | "1"),
            version: text(items, "version")?,
        })
    }

    /// The metadata mapping as sops writes it.
    pub fn to_items(&self) -> Vec<Item> {
        let mut fields: Vec<(String, Value)> = Vec::new();
        let group_fields = |g: &KeyGroup, in_group: bool, fields: &mut Vec<(String, Value)>| {
            if !g.age.is_empty() || in_group {
                let v = g
                    .age
                    .iter()
                    .map(|a| {
                        Value::Map(vec![
                            Item::new("enc", Value::Str(a.enc.clone())),
                            Item::new("recipient", Value::Str(a.recipient.clone())),
                        ])
                    })
                    .collect();
                fields.push(("age".into(), Value::Seq(v)));
            }
            if in_group {
                fields.push(("hc_vault".into(), Value::Seq(Vec::new())));
            }
            if !g.pgp.is_empty() {
                let v = g
                    .pgp
                    .iter()
                    .map(|p| {
                        Value::Map(vec![
                            Item::new("created_at", Value::Str(p.created_at.clone())),
                            Item::new("enc", Value::Str(p.enc.clone())),
                            Item::new("fp", Value::Str(p.fp.clone())),
                        ])
                    })
                    .collect();
                fields.push(("pgp".into(), Value::Seq(v)));
            }
        };
        if self.key_groups.len() == 1 {
            group_fields(&self.key_groups[0], false, &mut fields);
        } else {
            let groups = self
                .key_groups
                .iter()
                .map(|g| {
                    let mut f = Vec::new();
                    group_fields(g, true, &mut f);
                    f.sort_by(|a, b| a.0.cmp(&b.0));
                    Value::Map(f.into_iter().map(|(k, v)| Item::new(k, v)).collect())
                })
                .collect();
            fields.push(("key_groups".into(), Value::Seq(groups)));
        }
        if self.shamir_threshold != 0 {
            fields.push(("shamir_threshold".into(), Value::Int(self.shamir_threshold)));
        }
        fields.push(("lastmodified".into(), Value::Str(self.last_modified.clone())));
        fields.push(("mac".into(), Value::Str(self.mac.clone())));
        if self.mac_only_encrypted {
            fields.push(("mac_only_encrypted".into(), Value::Bool(true)));
        }
        let (name, value) = self.rule.field();
        fields.push((name.into(), Value::Str(value.to_string())));
        fields.push(("version".into(), Value::Str(self.version.clone())));
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        fields.into_iter().map(|(k, v)| Item::new(k, v)).collect()
    }
}

/// dotenv's flattened metadata keys (`age__list_0__map_enc`) back into a mapping.
pub(crate) fn unflatten(flat: &[Item]) -> Result<Vec<Item>, MetadataError> {
    let mut root = Value::Map(Vec::new());
    for item in flat {
        let Key::Str(path) = &item.key else { continue };
        let mut current = &mut root;
        for token in tokens(path) {
            current = match token {
                Token::Map(k) => {
                    if !matches!(current, Value::Map(_)) {
                        *current = Value::Map(Vec::new());
                    }
                    let Value::Map(items) = current else { unreachable!("set above") };
                    let pos = match items.iter().position(|i| matches!(&i.key, Key::Str(x) if *x == k)) {
                        Some(p) => p,
                        None => {
                            items.push(Item::new(k, Value::Null));
                            items.len() - 1
                        }
                    };
                    &mut items[pos].value
                }
                Token::List(n) => {
                    if !matches!(current, Value::Seq(_)) {
                        *current = Value::Seq(Vec::new());
                    }
                    let Value::Seq(values) = current else { unreachable!("set above") };
                    if n > 10_000 {
                        return Err(MetadataError::Invalid(format!("list index {n} too large")));
                    }
                    while values.len() <= n {
                        values.push(Value::Null);
                    }
                    &mut values[n]
                }
            };
        }
        *current = item.value.clone();
    }
    match root {
        Value::Map(items) => Ok(items),
        _ => Err(MetadataError::Invalid("flattened metadata".into())),
    }
}

enum Token {
    Map(String),
    List(usize),
}

fn tokens(path: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut rest = path;
    let mut kind = 'm';
    loop {
        let next = [("__map_", 'm'), ("__list_", 'l')]
            .iter()
            .filter_map(|(sep, k)| rest.find(sep).map(|i| (i, *sep, *k)))
            .min_by_key(|x| x.0);
        let (segment, after) = match next {
            Some((i, sep, k)) => {
                let seg = &rest[..i];
                let r = &rest[i + sep.len()..];
                out.push(if kind == 'm' { Token::Map(seg.to_string()) } else { Token::List(seg.parse().unwrap_or(0)) });
                kind = k;
                (None, Some(r))
            }
            None => (Some(rest), None),
        };
        if let Some(seg) = segment {
            out.push(if kind == 'm' { Token::Map(seg.to_string()) } else { Token::List(seg.parse().unwrap_or(0)) });
            break;
        }
        rest = after.unwrap_or("");
    }
    out
}

/// A mapping flattened to dotenv keys.
pub(crate) fn flatten(items: &[Item]) -> Vec<Item> {
    let mut out = Vec::new();
    for item in items {
        if let Key::Str(k) = &item.key {
            flatten_value(k, &item.value, &mut out);
        }
    }
    out
}

fn flatten_value(prefix: &str, value: &Value, out: &mut Vec<Item>) {
    match value {
        Value::Map(items) => {
            for item in items {
                if let Key::Str(k) = &item.key {
                    flatten_value(&format!("{prefix}__map_{k}"), &item.value, out);
                }
            }
        }
        Value::Seq(values) => {
            for (i, v) in values.iter().enumerate() {
                flatten_value(&format!("{prefix}__list_{i}"), v, out);
            }
        }
        other => out.push(Item::new(prefix, other.clone())),
    }
}
