//! `buildMetadata`: where each object came from and which transformers ran over it, written as
//! kustomize writes them (`config.kubernetes.io/origin`, `alpha.config.kubernetes.io/transformations`),
//! and the `app.kubernetes.io/managed-by` label.
//!
//! Only the top kustomization's `buildMetadata` counts: kustomize hands it down to every base
//! and component, replacing theirs. Any entry at all (even one kustomize does not know) turns the
//! tracking on; the options then decide what is printed. While tracking, every object has an
//! origin: the file it was read from (a path from the top kustomization's directory, or from the
//! root of a remote repository, with `repo` and `ref`), or the generator that made it. Every
//! transformer configured in a kustomization (one entry per `patches`, `labels`, `images`,
//! `replicas` and `patchesJson6902` item) is recorded on *every* object accumulated at that
//! point, whether it changed it or not, as kustomize records it.
//!
//! The records live beside the object rather than in it, so a build without `buildMetadata`
//! pays nothing; kustomize keeps them as annotations during the build, which only shows where a
//! selector or a patch looks at those very annotations (not reproduced).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::resource::Resource;

/// The `buildMetadata` options of the top kustomization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BuildMetadata {
    /// `originAnnotations`.
    pub(crate) origin: bool,
    /// `transformerAnnotations`.
    pub(crate) transformers: bool,
    /// `managedByLabel`.
    pub(crate) managed_by: bool,
}

impl BuildMetadata {
    /// Reads the option list; `None` when it is empty (no tracking at all).
    pub(crate) fn from_options(options: &[String]) -> Option<BuildMetadata> {
        if options.is_empty() {
            return None;
        }
        let has = |name: &str| options.iter().any(|o| o == name);
        Some(BuildMetadata {
            origin: has("originAnnotations"),
            transformers: has("transformerAnnotations"),
            managed_by: has("managedByLabel"),
        })
    }
}

/// kustomize's `Origin`: a file an object was read from, or the generator or transformer (and
/// the kustomization configuring it) that made or changed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The file, from the top kustomization's directory (or the remote repository's root).
    pub(crate) path: String,
    /// A remote base's repository.
    pub(crate) repo: String,
    /// A remote base's ref.
    pub(crate) reference: String,
    /// The kustomization file configuring the generator or transformer.
    pub(crate) configured_in: String,
    /// The builtin generator or transformer, e.g. `ConfigMapGenerator`.
    pub(crate) configured_by: &'static str,
}

/// Where the kustomization being built sits, for origins: its directory as a path from the top
/// kustomization's directory (or from a remote repository's root), and the remote repository.
#[derive(Debug, Clone, Default)]
pub(crate) struct Place {
    /// The directory, Go `path.Join` style (`""` at the top).
    pub(crate) dir: String,
    /// The remote repository, if any.
    pub(crate) repo: String,
    /// Its ref.
    pub(crate) reference: String,
}

impl Place {
    /// The origin of a resource file named `entry` here.
    pub(crate) fn file(&self, entry: &str) -> Origin {
        Origin {
            path: super::build::join_origin(&self.dir, entry),
            repo: self.repo.clone(),
            reference: self.reference.clone(),
            ..Origin::default()
        }
    }

    /// The origin of a generator or transformer configured in `file_name` here.
    pub(crate) fn configured(&self, file_name: &str, by: &'static str) -> Origin {
        Origin {
            repo: self.repo.clone(),
            reference: self.reference.clone(),
            configured_in: super::build::join_origin(&self.dir, file_name),
            configured_by: by,
            ..Origin::default()
        }
    }
}

/// What kustomize does after each transformer: an object without an origin is taken to be made
/// by it; every other object records it as a transformation.
pub(crate) fn record_transformer(items: &mut [Resource], origin: &Arc<Origin>) {
    for r in items {
        match &r.meta_origin {
            None => r.meta_origin = Some(origin.clone()),
            Some(_) => r.transformations.push(origin.clone()),
        }
    }
}

/// The value of `app.kubernetes.io/managed-by`: kustomize writes `kustomize-<its version>`, and
/// the kustomize built into kubectl knows no version of its own, so kubectl writes `(devel)`.
pub(crate) const MANAGED_BY: &str = "kustomize-(devel)";

/// Writes what `meta` asks for into the objects, at the end of a build.
pub(crate) fn annotate(items: &mut [Resource], meta: BuildMetadata) {
    for r in items {
        let origin = r.meta_origin.take();
        let transformations = std::mem::take(&mut r.transformations);
        let Value::Object(obj) = &mut r.obj else { continue };
        let meta_map = obj.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(meta_map) = meta_map else { continue };
        if meta.managed_by {
            set(meta_map, "labels", "app.kubernetes.io/managed-by", MANAGED_BY.into());
        }
        if meta.origin
            && let Some(origin) = &origin
        {
            let mut text = String::new();
            write_origin(origin, "", &mut text);
            set(meta_map, "annotations", "config.kubernetes.io/origin", text);
        }
        if meta.transformers && !transformations.is_empty() {
            let mut text = String::new();
            for t in &transformations {
                write_origin(t, "- ", &mut text);
            }
            set(meta_map, "annotations", "alpha.config.kubernetes.io/transformations", text);
        }
    }
}

/// Sets `name` in the string map at `key`, made (or replacing a non-map) as kustomize's setters do.
fn set(map: &mut Map<String, Value>, key: &str, name: &str, value: String) {
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(m) = slot {
        m.insert(name.to_string(), Value::String(value));
    }
}

/// An origin as kyaml marshals it (go-yaml v3, fields in struct order, empty ones left out);
/// `first` starts the first line (`- ` in a list), whose further lines are indented to match.
fn write_origin(origin: &Origin, first: &str, out: &mut String) {
    let indent = " ".repeat(first.len());
    let mut lead = first.to_string();
    let mut line = |key: &str, value: &str, out: &mut String| {
        out.push_str(&lead);
        out.push_str(key);
        out.push_str(": ");
        out.push_str(&scalar(value));
        out.push('\n');
        lead.clone_from(&indent);
    };
    for (key, value) in [
        ("path", &origin.path),
        ("repo", &origin.repo),
        ("ref", &origin.reference),
        ("configuredIn", &origin.configured_in),
    ] {
        if !value.is_empty() {
            line(key, value, out);
        }
    }
    if !origin.configured_by.is_empty() {
        out.push_str(&lead);
        out.push_str("configuredBy:\n");
        out.push_str(&indent);
        out.push_str("  apiVersion: builtin\n");
        out.push_str(&indent);
        out.push_str("  kind: ");
        out.push_str(origin.configured_by);
        out.push('\n');
    }
}

/// A string as go-yaml v3 writes it: plain when it reads back as the same string, double-quoted
/// when it would read as another type, single-quoted when YAML syntax forbids it plain.
fn scalar(value: &str) -> String {
    if !super::yaml::plain_key_reads_as_string(value) || is_old_bool(value) {
        return format!("{value:?}");
    }
    let special_start = value.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c == ' ');
    let special = value.contains(": ")
        || value.contains(" #")
        || value.ends_with(':')
        || value.ends_with(' ')
        || value.chars().any(char::is_control);
    if value.is_empty() || special_start || special {
        return format!("'{}'", value.replace('\'', "''"));
    }
    value.to_string()
}

/// YAML 1.1 booleans go-yaml v3 still quotes on output.
fn is_old_bool(value: &str) -> bool {
    matches!(
        value,
        "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_print_as_kyaml_marshals_them() {
        let mut out = String::new();
        write_origin(&Origin { path: "base/deploy.yaml".into(), ..Origin::default() }, "", &mut out);
        assert_eq!(out, "path: base/deploy.yaml\n");
        let mut out = String::new();
        let t = Origin {
            configured_in: "kustomization.yaml".into(),
            configured_by: "PatchTransformer",
            ..Default::default()
        };
        write_origin(&t, "- ", &mut out);
        assert_eq!(
            out,
            "- configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PatchTransformer\n"
        );
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("1.yaml"), "1.yaml");
        assert_eq!(scalar("10"), "\"10\"");
    }
}
