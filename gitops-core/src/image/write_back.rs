//! Argo CD Image Updater's `git` write-back, the pure part: the parameter override file
//! (`.argocd-source-<app>.yaml`), a kustomization's `images:`, a chart's values file, the
//! commit message and the write branch.
//!
//! - The override file holds only the image settings Image Updater manages: Helm parameters
//!   (`helm.parameters`, each `{name, value, forcestring: true}`, merged by name into the file
//!   and sorted by name), kustomize images (`kustomize.images`, merged by image name, where
//!   `docker.io` and no registry are the same registry), or plugin env. It is written as
//!   Image Updater writes it (2-space indent, sequences at their key's column); a leading `---`
//!   is kept; identical output means nothing to commit.
//! - `kustomization` and `helmvalues` targets are edited in place with
//!   [`crate::yaml::edit`], so the rest of the file is kept byte for byte.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::appset::template::go::{self, GoOptions};
use crate::yaml::{self, edit};

/// Why a write-back file cannot be produced; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteBackError {
    /// The existing file does not read.
    #[error("{file}: {problem}")]
    File {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// An edit could not be made in place.
    #[error("{file}: {source}")]
    Edit {
        /// The file.
        file: String,
        /// Why.
        source: edit::EditError,
    },
}

/// What the override file manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Managed {
    /// Helm parameters, `(name, value)`, written with `forcestring: true`.
    Helm(Vec<(String, String)>),
    /// Kustomize images, `[alias=]name[:tag][@digest]`.
    Kustomize(Vec<String>),
    /// Plugin env, `(name, value)`.
    Plugin(Vec<(String, String)>),
}

/// The registry and name of a kustomize image entry, with `docker.io` the same as none, so
/// that `nginx:1` and `docker.io/nginx:2` are one image.
fn kustomize_image_key(entry: &str) -> String {
    let name = entry.split_once('=').map_or(entry, |(_, n)| n);
    let name = name.split('@').next().unwrap_or(name);
    // The tag is after the last `:` that follows the last `/` (a port is before it).
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let name = match name[slash..].rfind(':') {
        Some(i) => &name[..slash + i],
        None => name,
    };
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name).to_string()
}

/// The override file's new contents, from the `existing` file (if any) and the managed
/// settings. `file` names it in errors.
pub fn override_file(file: &str, existing: Option<&str>, managed: &Managed) -> Result<String, WriteBackError> {
    let bad = |problem: String| WriteBackError::File { file: file.into(), problem };
    let existing_text = existing.unwrap_or("");
    let leading_separator = existing_text.trim_start().starts_with("---");
    let old = match yaml::parse_documents(existing_text) {
        Ok(docs) => docs.into_iter().next().map(|d| d.value).unwrap_or(Value::Null),
        Err(e) => return Err(bad(format!("does not read as YAML: {e}"))),
    };
    // The entries already in the file, by name.
    let by_name = |v: Option<&Value>| -> BTreeMap<String, Value> {
        v.and_then(Value::as_array)
            .map(|items| items.iter().filter_map(|i| Some((i.get("name")?.as_str()?.to_string(), i.clone()))).collect())
            .unwrap_or_default()
    };
    let mut out = String::new();
    if leading_separator {
        out.push_str("---\n");
    }
    match managed {
        Managed::Helm(params) => {
            let mut merged = by_name(old.pointer("/helm/parameters"));
            for (name, value) in params {
                merged.insert(name.clone(), json!({"name": name, "value": value, "forcestring": true}));
            }
            out.push_str("helm:\n  parameters:\n");
            for item in merged.values() {
                write_entry(&mut out, item, &["name", "value", "forcestring"]);
            }
        }
        Managed::Plugin(env) => {
            let mut merged = by_name(old.pointer("/plugin/env"));
            for (name, value) in env {
                merged.insert(name.clone(), json!({"name": name, "value": value}));
            }
            out.push_str("plugin:\n  env:\n");
            for item in merged.values() {
                write_entry(&mut out, item, &["name", "value"]);
            }
        }
        Managed::Kustomize(images) => {
            let mut merged: Vec<String> = old
                .pointer("/kustomize/images")
                .and_then(Value::as_array)
                .map(|i| i.iter().filter_map(Value::as_str).map(String::from).collect())
                .unwrap_or_default();
            for image in images {
                let key = kustomize_image_key(image);
                match merged.iter_mut().find(|e| kustomize_image_key(e) == key) {
                    Some(slot) => *slot = image.clone(),
                    None => merged.push(image.clone()),
                }
            }
            out.push_str("kustomize:\n  images:\n");
            for image in &merged {
                out.push_str(&format!("  - {}\n", edit::render(image, granit_parser::ScalarStyle::Plain)));
            }
        }
    }
    Ok(out)
}

fn write_entry(out: &mut String, item: &Value, order: &[&str]) {
    let mut first = true;
    for key in order {
        let Some(v) = item.get(*key) else { continue };
        let text = match v {
            Value::String(s) => edit::render(s, granit_parser::ScalarStyle::Plain),
            other => other.to_string(),
        };
        out.push_str(if first { "  - " } else { "    " });
        out.push_str(&format!("{key}: {text}\n"));
        first = false;
    }
}

/// A kustomize image setting: `name` as the kustomization names it, and what to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KustomizeImage {
    /// `name` of the `images:` entry (the image as the manifests write it).
    pub name: String,
    /// `newName`, when the image is renamed.
    pub new_name: Option<String>,
    /// `newTag`.
    pub new_tag: Option<String>,
    /// `digest`.
    pub digest: Option<String>,
}

/// Sets `image` in the `images:` of the kustomization text (adding the entry or its fields
/// when missing), keeping the rest of the file.
pub fn kustomization_image(file: &str, text: &str, image: &KustomizeImage) -> Result<String, WriteBackError> {
    let to_err = |source| WriteBackError::Edit { file: file.into(), source };
    let doc = yaml::parse_documents(text)
        .map_err(|e| WriteBackError::File { file: file.into(), problem: format!("does not read as YAML: {e}") })?
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null);
    let fields: Vec<(&str, &str)> =
        [("newName", &image.new_name), ("newTag", &image.new_tag), ("digest", &image.digest)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_deref()?)))
            .collect();
    let index = doc
        .get("images")
        .and_then(Value::as_array)
        .and_then(|items| items.iter().position(|i| i.get("name").and_then(Value::as_str) == Some(&image.name)));
    let Some(index) = index else {
        let mut entries = vec![("name", image.name.as_str())];
        entries.extend(fields);
        return edit::append_item(text, &[edit::Step::key("images")], &entries).map_err(to_err);
    };
    let mut out = text.to_string();
    for (key, value) in fields {
        let path = [edit::Step::key("images"), edit::Step::Index(index), edit::Step::key(key)];
        out = edit::set(&out, &path, value).map_err(to_err)?;
    }
    Ok(out)
}

/// Sets each `(dotted.key, value)` in a Helm values text (keys created when missing).
pub fn helm_values(file: &str, text: &str, values: &[(String, String)]) -> Result<String, WriteBackError> {
    let mut out = text.to_string();
    for (key, value) in values {
        let path: Vec<edit::Step> = key.split('.').map(edit::Step::key).collect();
        out = edit::set(&out, &path, value).map_err(|source| WriteBackError::Edit { file: file.into(), source })?;
    }
    Ok(out)
}

/// One image changed in an app, for the commit message and the branch name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    /// The image name (without tag).
    pub image: String,
    /// The alias in `image-list`.
    pub alias: String,
    /// The tag before (empty when there was none).
    pub old_tag: String,
    /// The tag after.
    pub new_tag: String,
}

/// The commit message: `template` (Go template over `.AppName` and
/// `.AppChanges[]{Image, OldTag, NewTag}`) or Image Updater's default; a template that fails
/// gives `build: update of application <name>`, as Image Updater does.
pub fn commit_message(template: Option<&str>, app_name: &str, changes: &[ImageChange]) -> String {
    let Some(template) = template else {
        let mut message = format!("build: automatic update of {app_name}\n\n");
        for c in changes {
            message.push_str(&format!("updates image {} tag '{}' to '{}'\n", c.image, c.old_tag, c.new_tag));
        }
        return message;
    };
    let data = json!({
        "AppName": app_name,
        "AppChanges": changes.iter().map(|c| json!({"Image": c.image, "OldTag": c.old_tag, "NewTag": c.new_tag})).collect::<Vec<_>>(),
    });
    go::render(template, &data, GoOptions::default())
        .unwrap_or_else(|_| format!("build: update of application {app_name}"))
}

/// The branch to write to from the `git-branch` annotation's write part (a Go template over
/// `.AppName`, `.AppNamespace`, `.Images[]{Name, Alias, OldTag, NewTag}` and `.SHA256`, a
/// hash of the changes), cut to 255 characters.
pub fn write_branch(
    template: &str,
    app_name: &str,
    app_namespace: &str,
    changes: &[ImageChange],
) -> Result<String, String> {
    let mut hasher = Sha256::new();
    for c in changes {
        hasher.update(format!("{}:{}:{}\n", c.image, c.old_tag, c.new_tag));
    }
    let sha: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let data = json!({
        "AppName": app_name,
        "AppNamespace": app_namespace,
        "Images": changes.iter().map(|c| json!({"Name": c.image, "Alias": c.alias, "OldTag": c.old_tag, "NewTag": c.new_tag})).collect::<Vec<_>>(),
        "SHA256": sha,
    });
    let mut branch = go::render(template, &data, GoOptions::default()).map_err(|e| e.to_string())?;
    if branch.len() > 255 {
        let mut cut = 255;
        while !branch.is_char_boundary(cut) {
            cut -= 1;
        }
        branch.truncate(cut);
    }
    Ok(branch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_overrides_merge_by_name_sorted_with_forcestring() {
        let existing = "---\nhelm:\n  parameters:\n  - name: replicas\n    value: \"3\"\n    forcestring: true\n  - name: image.tag\n    value: 1.0.0\n    forcestring: true\n";
        let managed =
            Managed::Helm(vec![("image.tag".into(), "1.1.0".into()), ("image.name".into(), "ghcr.io/o/app".into())]);
        let out = override_file(".argocd-source-web.yaml", Some(existing), &managed).unwrap();
        assert_eq!(
            out,
            "---\nhelm:\n  parameters:\n  - name: image.name\n    value: ghcr.io/o/app\n    forcestring: true\n  - name: image.tag\n    value: 1.1.0\n    forcestring: true\n  - name: replicas\n    value: \"3\"\n    forcestring: true\n"
        );
        assert_eq!(override_file("f", Some(&out), &managed).unwrap(), out, "a second run writes the same bytes");
    }

    #[test]
    fn kustomize_overrides_merge_by_image_whatever_the_docker_hub_spelling() {
        let existing = "kustomize:\n  images:\n  - nginx:1.25\n  - quay.io/org/tool:2\n";
        let managed =
            Managed::Kustomize(vec!["docker.io/library/nginx:1.27".into(), "app=ghcr.io/o/app:v2@sha256:ab".into()]);
        let out = override_file("f", Some(existing), &managed).unwrap();
        assert_eq!(
            out,
            "kustomize:\n  images:\n  - docker.io/library/nginx:1.27\n  - quay.io/org/tool:2\n  - app=ghcr.io/o/app:v2@sha256:ab\n"
        );
        assert_eq!(kustomize_image_key("localhost:5000/app:1"), "localhost:5000/app");
        let err = override_file("f", Some("a: [\n"), &managed).unwrap_err();
        assert!(err.to_string().starts_with("f: does not read as YAML"), "{err}");
    }

    #[test]
    fn kustomization_images_are_set_in_place() {
        let text =
            "# prod\nresources:\n  - ../base # shared\nimages:\n  - name: ghcr.io/o/app\n    newTag: v1 # auto\n";
        let image =
            KustomizeImage { name: "ghcr.io/o/app".into(), new_name: None, new_tag: Some("v2".into()), digest: None };
        let out = kustomization_image("kustomization.yaml", text, &image).unwrap();
        assert_eq!(out, text.replace("newTag: v1", "newTag: v2"));
        let other = KustomizeImage {
            name: "redis".into(),
            new_name: Some("docker.io/redis".into()),
            new_tag: Some("7.2".into()),
            digest: None,
        };
        let out = kustomization_image("kustomization.yaml", text, &other).unwrap();
        assert_eq!(out, format!("{text}  - name: redis\n    newName: docker.io/redis\n    newTag: \"7.2\"\n"));
    }

    #[test]
    fn helm_values_are_set_by_dotted_key() {
        let text = "image:\n  repository: ghcr.io/o/app # where\n  tag: v1\n";
        let out = helm_values(
            "values.yaml",
            text,
            &[("image.tag".into(), "v2".into()), ("sidecar.image.tag".into(), "3".into())],
        )
        .unwrap();
        assert_eq!(out, "image:\n  repository: ghcr.io/o/app # where\n  tag: v2\nsidecar:\n  image:\n    tag: \"3\"\n");
    }

    #[test]
    fn commit_messages_and_branches() {
        let changes = [ImageChange {
            image: "ghcr.io/o/app".into(),
            alias: "app".into(),
            old_tag: "v1".into(),
            new_tag: "v2".into(),
        }];
        assert_eq!(
            commit_message(None, "web", &changes),
            "build: automatic update of web\n\nupdates image ghcr.io/o/app tag 'v1' to 'v2'\n"
        );
        let t = "{{ .AppName }}:{{ range .AppChanges }} {{ .Image }}={{ .NewTag }}{{ end }}";
        assert_eq!(commit_message(Some(t), "web", &changes), "web: ghcr.io/o/app=v2");
        assert_eq!(commit_message(Some("{{ .Nope.Deeper }}{{"), "web", &changes), "build: update of application web");
        let branch = write_branch("image-updater-{{.AppName}}-{{.SHA256}}", "web", "argocd", &changes).unwrap();
        assert!(
            branch.starts_with("image-updater-web-") && branch.len() == "image-updater-web-".len() + 64,
            "{branch}"
        );
        assert_eq!(
            write_branch("{{ range .Images }}{{ .Alias }}-{{ .NewTag }}{{ end }}", "web", "argocd", &changes).unwrap(),
            "app-v2"
        );
    }
}
