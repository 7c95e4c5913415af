//! `.sops.yaml` `creation_rules`: the first rule whose `path_regex` matches the file's path
//! (relative to the configuration's directory) says which keys and which values to encrypt.

use regex_lite::Regex;

use crate::sops::format::{self, Format};
use crate::sops::metadata::{RULE_FIELDS, Rule};
use crate::sops::tree::{Item, Key, Value};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not parse.
    #[error(".sops.yaml: {0}")]
    Parse(String),
    /// A field has the wrong type.
    #[error(".sops.yaml: creation_rules[{index}].{field}: {reason}")]
    Field {
        /// Index of the rule.
        index: usize,
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// No rule applies to the file.
    #[error("error loading config: no matching creation rules found for {0}")]
    NoMatch(String),
}

/// The keys of one group: age recipients and OpenPGP fingerprints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupKeys {
    /// age recipients (`age1...`).
    pub age: Vec<String>,
    /// OpenPGP fingerprints (hex).
    pub pgp: Vec<String>,
    /// Keys of unsupported backends (`kms`, `gcp_kms`, ...), so encryption can refuse them.
    pub unsupported: Vec<String>,
}

/// What a creation rule says about a new file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationRule {
    /// Key groups (one unless `key_groups` lists several).
    pub groups: Vec<GroupKeys>,
    /// Groups needed to decrypt (0: all).
    pub shamir_threshold: i64,
    /// Which values are encrypted.
    pub rule: Rule,
    /// Whether the MAC covers only encrypted values.
    pub mac_only_encrypted: bool,
}

/// The rule for `path` (relative to the directory of `.sops.yaml`, with `/` separators).
pub fn rule_for(config: &[u8], path: &str) -> Result<CreationRule, ConfigError> {
    let branches = format::load_plain(config, Format::Yaml).map_err(|e| ConfigError::Parse(e.to_string()))?;
    let top = branches.first().map(Vec::as_slice).unwrap_or(&[]);
    let rules = match get(top, "creation_rules") {
        Some(Value::Seq(rules)) => rules,
        _ => return Err(ConfigError::NoMatch(path.to_string())),
    };
    for (index, rule) in rules.iter().filter(|r| !matches!(r, Value::Comment(_))).enumerate() {
        let Value::Map(items) = rule else {
            return Err(ConfigError::Field { index, field: "(rule)", reason: "not a mapping".into() });
        };
        let field_err = |field: &'static str, reason: String| ConfigError::Field { index, field, reason };
        if let Some(pattern) = text(items, "path_regex") {
            let re = Regex::new(&pattern).map_err(|e| field_err("path_regex", e.to_string()))?;
            if !re.is_match(path) {
                continue;
            }
        }
        let mut groups = Vec::new();
        match get(items, "key_groups") {
            Some(Value::Seq(gs)) if !gs.is_empty() => {
                for g in gs.iter().filter(|g| !matches!(g, Value::Comment(_))) {
                    let Value::Map(g) = g else { return Err(field_err("key_groups", "not a mapping".into())) };
                    groups.push(group(g, false));
                }
            }
            _ => groups.push(group(items, true)),
        }
        let mut found = Vec::new();
        for (name, make) in RULE_FIELDS {
            if let Some(v) = text(items, name).filter(|v| !v.is_empty()) {
                found.push(make(v));
            }
        }
        if found.len() > 1 {
            return Err(field_err("encrypted_regex", "only one of the suffix and regex rules may be set".into()));
        }
        let shamir = text(items, "shamir_threshold")
            .map_or(Ok(0), |s| s.parse().map_err(|_| field_err("shamir_threshold", "not a number".into())))?;
        return Ok(CreationRule {
            groups,
            shamir_threshold: shamir,
            rule: found.pop().unwrap_or_else(|| Rule::UnencryptedSuffix("_unencrypted".into())),
            mac_only_encrypted: matches!(get(items, "mac_only_encrypted"), Some(Value::Bool(true))),
        });
    }
    Err(ConfigError::NoMatch(path.to_string()))
}

fn get<'a>(items: &'a [Item], name: &str) -> Option<&'a Value> {
    items.iter().find(|i| matches!(&i.key, Key::Str(k) if k == name)).map(|i| &i.value)
}

fn text(items: &[Item], name: &str) -> Option<String> {
    match get(items, name)? {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list field: comma-separated in a rule, a list in a key group (both accepted).
fn names(items: &[Item], name: &str) -> Vec<String> {
    match get(items, name) {
        Some(Value::Str(s)) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        Some(Value::Seq(values)) => values
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.trim().to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn group(items: &[Item], _top: bool) -> GroupKeys {
    let mut unsupported = Vec::new();
    for field in ["kms", "gcp_kms", "azure_keyvault", "azure_kv", "hc_vault_transit_uri", "hc_vault", "hckms"] {
        if get(items, field).is_some_and(|v| !matches!(v, Value::Null) && v != &Value::Str(String::new())) {
            unsupported.push(field.to_string());
        }
    }
    GroupKeys { age: names(items, "age"), pgp: names(items, "pgp"), unsupported }
}
