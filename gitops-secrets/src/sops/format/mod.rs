//! The file formats sops reads and writes: YAML, JSON, dotenv and binary (a JSON wrapper around
//! the whole file), each with the metadata (`sops:` or the flattened `sops_*` keys) taken out
//! on reading and put back on writing, in the order sops writes it.

mod dotenv;
mod json;
pub(crate) mod time;
mod yaml_read;
mod yaml_write;

use crate::sops::metadata::{self, Metadata};
use crate::sops::tree::{Branches, Item, Key, Value};

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML, every document (comments and order kept).
    Yaml,
    /// JSON with an object at the top.
    Json,
    /// `KEY=value` lines.
    Dotenv,
    /// Any bytes, stored as one value of a JSON file.
    Binary,
}

/// Why a file could not be read or written in its format.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Bad YAML.
    #[error("Error unmarshaling input YAML: {0}")]
    Yaml(String),
    /// Bad JSON.
    #[error("Could not unmarshal input data: {0}")]
    Json(String),
    /// Bad dotenv.
    #[error("{0}")]
    Dotenv(String),
    /// Binary data is not UTF-8 (sops keeps it as a Go string; this crate needs text).
    #[error("binary input is not valid UTF-8, which this implementation cannot store")]
    NotUtf8,
    /// The file has no `sops` metadata.
    #[error("sops metadata not found")]
    NoMetadata,
    /// The metadata is malformed.
    #[error(transparent)]
    Metadata(#[from] metadata::MetadataError),
    /// The decrypted binary tree has no `data` string.
    #[error("error emitting binary store: no binary data found in tree")]
    NoBinaryData,
    /// A key of the data collides with sops' metadata key.
    #[error("Found key \"{0}\" in encrypted data, which is a reserved key used for SOPS metadata")]
    Reserved(String),
}

impl Format {
    /// The store sops picks for a file name: `.yaml`/`.yml`, `.json`, `.env`, else binary.
    pub fn from_path(path: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Format::Yaml
        } else if lower.ends_with(".json") {
            Format::Json
        } else if lower.ends_with(".env") {
            Format::Dotenv
        } else {
            Format::Binary
        }
    }

    /// The `--input-type`/`--output-type` names.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "binary" => Format::Binary,
            _ => return None,
        })
    }
}

/// Reads a plaintext file into branches.
pub(crate) fn load_plain(bytes: &[u8], format: Format) -> Result<Branches, FormatError> {
    if format == Format::Binary {
        let text = std::str::from_utf8(bytes).map_err(|_| FormatError::NotUtf8)?;
        return Ok(vec![vec![Item::new("data", Value::Str(text.to_string()))]]);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| match format {
        Format::Json => FormatError::Json(e.to_string()),
        Format::Dotenv => FormatError::Dotenv(e.to_string()),
        _ => FormatError::Yaml(e.to_string()),
    })?;
    Ok(match format {
        Format::Yaml => yaml_read::read(text)?,
        Format::Json => vec![json::read(text)?],
        Format::Dotenv => vec![dotenv::read(text)?],
        Format::Binary => unreachable!("handled above"),
    })
}

/// Reads an encrypted file: its branches (metadata taken out) and the metadata.
pub(crate) fn load_encrypted(bytes: &[u8], format: Format) -> Result<(Branches, Metadata), FormatError> {
    let text = std::str::from_utf8(bytes).map_err(|e| FormatError::Yaml(e.to_string()))?;
    let mut branches = match format {
        Format::Yaml => yaml_read::read(text)?,
        Format::Json | Format::Binary => vec![json::read(text)?],
        Format::Dotenv => vec![dotenv::read(text)?],
    };
    let tree = if format == Format::Dotenv {
        let first = branches.first_mut().ok_or(FormatError::NoMetadata)?;
        let mut flat = Vec::new();
        first.retain(|item| match &item.key {
            Key::Str(k) if k.starts_with("sops_") => {
                flat.push(Item::new(&k["sops_".len()..], item.value.clone()));
                false
            }
            _ => true,
        });
        if flat.is_empty() {
            return Err(FormatError::NoMetadata);
        }
        metadata::unflatten(&flat)?
    } else {
        let mut found = None;
        for (i, branch) in branches.iter_mut().enumerate() {
            let mut j = 0;
            while j < branch.len() {
                if matches!(&branch[j].key, Key::Str(k) if k == "sops") {
                    let item = branch.remove(j);
                    if i == 0 {
                        if found.is_some() {
                            return Err(FormatError::Metadata(metadata::MetadataError::Invalid(
                                "Found duplicate sops entry".into(),
                            )));
                        }
                        match item.value {
                            Value::Map(m) => found = Some(m),
                            _ => {
                                return Err(FormatError::Metadata(metadata::MetadataError::Invalid(
                                    "Found sops entry that is not a mapping".into(),
                                )));
                            }
                        }
                    }
                } else {
                    j += 1;
                }
            }
        }
        found.ok_or(FormatError::NoMetadata)?
    };
    Ok((branches, Metadata::from_items(&tree)?))
}

/// Writes plaintext branches as sops prints them.
pub(crate) fn emit_plain(branches: &Branches, format: Format) -> Result<String, FormatError> {
    match format {
        Format::Yaml => Ok(yaml_write::write(branches, 4)),
        Format::Json => json::write(branches.first().map_or(&[][..], Vec::as_slice), "\t"),
        Format::Dotenv => dotenv::write(branches.first().map_or(&[][..], Vec::as_slice)),
        Format::Binary => {
            for item in branches.first().into_iter().flatten() {
                if matches!(&item.key, Key::Str(k) if k == "data")
                    && let Value::Str(s) = &item.value
                {
                    return Ok(s.clone());
                }
            }
            Err(FormatError::NoBinaryData)
        }
    }
}

/// Writes encrypted branches with their metadata.
pub(crate) fn emit_encrypted(branches: &Branches, md: &Metadata, format: Format) -> Result<String, FormatError> {
    let meta = md.to_items();
    let mut out: Branches = Vec::new();
    for branch in branches {
        let mut b = Vec::with_capacity(branch.len() + 1);
        for item in branch {
            if let Key::Str(k) = &item.key {
                let reserved = if format == Format::Dotenv { k.starts_with("sops_") } else { k == "sops" };
                if reserved {
                    return Err(FormatError::Reserved(k.clone()));
                }
            }
            b.push(item.clone());
        }
        if format == Format::Dotenv {
            for item in metadata::flatten(&meta) {
                let Key::Str(k) = &item.key else { continue };
                b.push(Item::new(format!("sops_{k}"), item.value));
            }
        } else {
            b.push(Item::new("sops", Value::Map(meta.clone())));
        }
        out.push(b);
    }
    match format {
        Format::Yaml => Ok(yaml_write::write(&out, 4)),
        Format::Json | Format::Binary => json::write(out.first().map_or(&[][..], Vec::as_slice), "\t"),
        Format::Dotenv => dotenv::write(out.first().map_or(&[][..], Vec::as_slice)),
    }
}
