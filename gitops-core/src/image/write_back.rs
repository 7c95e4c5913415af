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
use crate::image::updater::{AppConfig, ImageConfig, Tag, UpdaterImage};
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
    /// The write-back annotations or the app cannot be used.
    #[error("Application {app}: {problem}")]
    Config {
        /// `namespace/name`.
        app: String,
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
    let (name, _, _) = super::reference::split_as_written(name);
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

/// How an app is rendered, as far as Image Updater cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppType {
    /// Helm (a `helm` section, a chart, or `status.sourceType: Helm`).
    Helm,
    /// Kustomize (a `kustomize` section or `status.sourceType: Kustomize`).
    Kustomize,
}

impl AppType {
    /// The type of an Application object; `None` for other sources (Image Updater refuses them).
    pub fn of(app: &Value) -> Option<AppType> {
        let source = app.pointer("/spec/source");
        let has = |k: &str| source.and_then(|s| s.get(k)).is_some_and(|v| !v.is_null());
        if has("helm") || has("chart") {
            return Some(AppType::Helm);
        }
        if has("kustomize") {
            return Some(AppType::Kustomize);
        }
        match app.pointer("/status/sourceType").and_then(Value::as_str) {
            Some("Helm") => Some(AppType::Helm),
            Some("Kustomize") => Some(AppType::Kustomize),
            _ => None,
        }
    }
}

/// One image of an app to move to a new tag.
#[derive(Debug, Clone)]
pub struct AppUpdate<'a> {
    /// The image's configuration (its annotations).
    pub config: &'a ImageConfig,
    /// The image as it runs now (from `status.summary.images`).
    pub live: UpdaterImage,
    /// The tag chosen.
    pub new: Tag,
}

impl AppUpdate<'_> {
    fn tag_value(&self) -> String {
        match &self.new.digest {
            Some(d) if self.new.name.is_empty() => d.clone(),
            Some(d) => format!("{}@{d}", self.new.name),
            None => self.new.name.clone(),
        }
    }

    /// The change, for messages.
    pub fn change(&self) -> ImageChange {
        ImageChange {
            image: self.config.image.name_without_tag(),
            alias: self.config.alias.clone(),
            old_tag: self.live.tag.clone().unwrap_or_default(),
            new_tag: self.new.name.clone(),
        }
    }
}

/// What an app's updates set: Helm parameters or kustomize images, as Image Updater sets them.
pub fn managed(app_type: AppType, updates: &[AppUpdate]) -> Managed {
    match app_type {
        AppType::Helm => {
            let mut params = Vec::new();
            for u in updates {
                let name = u.config.image.name_without_tag();
                match &u.config.helm_image_spec {
                    Some(spec) if !spec.is_empty() => params.push((spec.clone(), format!("{name}:{}", u.tag_value()))),
                    _ => {
                        let name_param = u
                            .config
                            .helm_image_name
                            .clone()
                            .filter(|p| !p.is_empty())
                            .unwrap_or_else(|| "image.name".into());
                        let tag_param = u
                            .config
                            .helm_image_tag
                            .clone()
                            .filter(|p| !p.is_empty())
                            .unwrap_or_else(|| "image.tag".into());
                        params.push((name_param, name));
                        params.push((tag_param, u.tag_value()));
                    }
                }
            }
            Managed::Helm(params)
        }
        AppType::Kustomize => Managed::Kustomize(
            updates
                .iter()
                .map(|u| {
                    let mut image = format!("{}:{}", u.config.image.name_without_tag(), u.new.name);
                    if let Some(d) = &u.new.digest {
                        image.push('@');
                        image.push_str(d);
                    }
                    match &u.config.kustomize_image {
                        Some(k) => format!("{}={image}", k.name_without_tag()),
                        None => image,
                    }
                })
                .collect(),
        ),
    }
}

/// Applies `managed` to the Application's `spec.source` (write-back method `argocd`): Helm
/// parameters merged by name (with `forceString: true`), kustomize images merged by image.
pub fn apply_to_application(app: &mut Value, managed: &Managed) {
    let Some(source) = app.pointer_mut("/spec/source").and_then(Value::as_object_mut) else { return };
    match managed {
        Managed::Helm(params) => {
            let helm = source.entry("helm").or_insert_with(|| json!({}));
            let list = helm.as_object_mut().map(|h| h.entry("parameters").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = list {
                for (name, value) in params {
                    let entry = json!({"name": name, "value": value, "forceString": true});
                    match list.iter_mut().find(|p| p.get("name").and_then(Value::as_str) == Some(name)) {
                        Some(slot) => *slot = entry,
                        None => list.push(entry),
                    }
                }
            }
        }
        Managed::Kustomize(images) => {
            let k = source.entry("kustomize").or_insert_with(|| json!({}));
            let list = k.as_object_mut().map(|k| k.entry("images").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = list {
                for image in images {
                    let key = kustomize_image_key(image);
                    match list.iter_mut().find(|i| i.as_str().is_some_and(|s| kustomize_image_key(s) == key)) {
                        Some(slot) => *slot = json!(image),
                        None => list.push(json!(image)),
                    }
                }
            }
        }
        Managed::Plugin(env) => {
            let p = source.entry("plugin").or_insert_with(|| json!({}));
            let list = p.as_object_mut().map(|p| p.entry("env").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = list {
                for (name, value) in env {
                    let entry = json!({"name": name, "value": value});
                    match list.iter_mut().find(|p| p.get("name").and_then(Value::as_str) == Some(name)) {
                        Some(slot) => *slot = entry,
                        None => list.push(entry),
                    }
                }
            }
        }
    }
}

/// Where a `git` write-back writes, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitTarget {
    /// A parameter override file (`.argocd-source-<app>.yaml` by default).
    Override(String),
    /// The kustomization in this directory.
    Kustomization(String),
    /// This Helm values file.
    HelmValues(String),
}

/// An app's `git` write-back, read from its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitWriteBack {
    /// The repository written to (`git-repository`, else the source's `repoURL`).
    pub repository: String,
    /// Where the credentials come from (`repocreds`, `secret:<ns>/<name>`).
    pub credentials: String,
    /// The branch checked out (`git-branch` base, else the source's `targetRevision`).
    pub base_branch: String,
    /// The branch written to, a template (`git-branch` write part), when not the base.
    pub write_branch: Option<String>,
    /// The file or directory written.
    pub target: GitTarget,
}

/// The write-back method of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `argocd`: the Application's spec is changed.
    Argocd,
    /// `git[:creds]`.
    Git(GitWriteBack),
}

/// `a/./b/../c` as `filepath.Join` cleans it, relative, `/`-separated.
fn join_clean(parts: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in parts.iter().flat_map(|p| p.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    if out.is_empty() { ".".into() } else { out.join("/") }
}

/// The write-back method of `app` (an Application object) from its annotations, as Image
/// Updater reads them; `controller_namespace` is Argo CD's (an app elsewhere, outside
/// `default`, has `<namespace>_` in its override file's name).
pub fn method(app: &Value, config: &AppConfig, controller_namespace: &str) -> Result<Method, WriteBackError> {
    let bad = |problem: String| WriteBackError::Config { app: config.app.clone(), problem };
    let method = config.write_back_method.trim();
    if method.is_empty() || method == "argocd" {
        return Ok(Method::Argocd);
    }
    let (kind, credentials) = match method.split_once(':') {
        Some((k, c)) if !k.is_empty() => (k, c.to_string()),
        _ => (method, "repocreds".to_string()),
    };
    if kind.trim() != "git" {
        return Err(bad(format!("invalid update mechanism: {kind}")));
    }
    let source = app.pointer("/spec/source");
    let text = |k: &str| source.and_then(|s| s.get(k)).and_then(Value::as_str).unwrap_or("").to_string();
    let path = text("path");
    let name = app.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let namespace = app.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let instance = if namespace.is_empty() || namespace == controller_namespace || namespace == "default" {
        name.to_string()
    } else {
        format!("{namespace}_{name}")
    };
    let rooted = |p: &str, default: &str| match p.strip_prefix('/') {
        Some(abs) => join_clean(&[abs]),
        None if p.is_empty() => join_clean(&[&path, default]),
        None => join_clean(&[&path, p]),
    };
    let target = match config.write_back_target.as_deref().map(str::trim) {
        None | Some("") => GitTarget::Override(join_clean(&[&path, &format!(".argocd-source-{instance}.yaml")])),
        Some("kustomization") => GitTarget::Kustomization(join_clean(&[&path])),
        Some(t) if t.starts_with("kustomization:") => {
            GitTarget::Kustomization(rooted(&t["kustomization:".len()..], "."))
        }
        Some("helmvalues") => GitTarget::HelmValues(join_clean(&[&path, "values.yaml"])),
        Some(t) if t.starts_with("helmvalues:") => {
            GitTarget::HelmValues(rooted(&t["helmvalues:".len()..], "values.yaml"))
        }
        Some(t) => {
            let file = rooted(t, "");
            if file.rsplit('/').next() == Some("kustomization.yaml") {
                return Err(bad(format!(
                    "write-back-target {t}: a kustomization is written with `kustomization[:path]`"
                )));
            }
            GitTarget::Override(file)
        }
    };
    let (base, write) = match config.git_branch.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) => {
            let parts: Vec<&str> = b.split(':').collect();
            match parts.as_slice() {
                [base] => ((*base).to_string(), None),
                [base, write] => ((*base).to_string(), Some((*write).to_string()).filter(|w| !w.is_empty())),
                _ => return Err(bad(format!("invalid format for git-branch annotation: {b}"))),
            }
        }
        None => (text("targetRevision"), None),
    };
    let base = if base.is_empty() { "HEAD".to_string() } else { base };
    Ok(Method::Git(GitWriteBack {
        repository: config.git_repository.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| text("repoURL")),
        credentials,
        base_branch: base,
        write_branch: write,
        target,
    }))
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

    fn app_with(annotations: Value, source: Value) -> (Value, AppConfig) {
        let app = json!({"metadata": {"name": "web", "namespace": "team", "annotations": annotations}, "spec": {"source": source}});
        let config = AppConfig::from_app(&app).unwrap();
        (app, config)
    }

    #[test]
    fn write_back_methods_and_targets_as_image_updater_reads_them() {
        let p = "argocd-image-updater.argoproj.io";
        let source = json!({"repoURL": "https://git.example.com/apps.git", "path": "apps/web", "targetRevision": "main", "kustomize": {}});
        let (app, config) = app_with(json!({format!("{p}/image-list"): "web=ghcr.io/o/web"}), source.clone());
        assert_eq!(method(&app, &config, "argocd").unwrap(), Method::Argocd);
        let cases = [
            (None, None, GitTarget::Override("apps/web/.argocd-source-team_web.yaml".into()), "main", None),
            (
                Some("kustomization"),
                Some("main:image-updater-{{.AppName}}"),
                GitTarget::Kustomization("apps/web".into()),
                "main",
                Some("image-updater-{{.AppName}}"),
            ),
            (Some("kustomization:../base"), None, GitTarget::Kustomization("apps/base".into()), "main", None),
            (
                Some("helmvalues:/charts/web/values-prod.yaml"),
                Some("release"),
                GitTarget::HelmValues("charts/web/values-prod.yaml".into()),
                "release",
                None,
            ),
            (Some("helmvalues"), None, GitTarget::HelmValues("apps/web/values.yaml".into()), "main", None),
            (Some("overrides.yaml"), None, GitTarget::Override("apps/web/overrides.yaml".into()), "main", None),
        ];
        for (target, branch, want, base, write) in cases {
            let mut annotations = json!({format!("{p}/image-list"): "web=ghcr.io/o/web", format!("{p}/write-back-method"): "git:secret:argocd/creds"});
            if let Some(t) = target {
                annotations[format!("{p}/write-back-target")] = json!(t);
            }
            if let Some(b) = branch {
                annotations[format!("{p}/git-branch")] = json!(b);
            }
            let (app, config) = app_with(annotations, source.clone());
            let Method::Git(git) = method(&app, &config, "argocd").unwrap() else { panic!("git") };
            assert_eq!(git.target, want, "{target:?}");
            assert_eq!((git.base_branch.as_str(), git.write_branch.as_deref()), (base, write));
            assert_eq!(git.credentials, "secret:argocd/creds");
            assert_eq!(git.repository, "https://git.example.com/apps.git");
        }
        let (app, config) =
            app_with(json!({format!("{p}/image-list"): "a=b", format!("{p}/write-back-method"): "svn"}), source);
        assert_eq!(
            method(&app, &config, "argocd").unwrap_err().to_string(),
            "Application team/web: invalid update mechanism: svn"
        );
    }

    #[test]
    fn helm_and_kustomize_settings_and_the_argocd_method() {
        let p = "argocd-image-updater.argoproj.io";
        let annotations = json!({
            format!("{p}/image-list"): "web=ghcr.io/o/web:1.x, proxy=quay.io/o/proxy",
            format!("{p}/proxy.helm.image-spec"): "sidecar.image",
            format!("{p}/web.kustomize.image-name"): "web",
        });
        let (mut app, config) =
            app_with(annotations, json!({"helm": {"parameters": [{"name": "replicas", "value": "2"}]}}));
        let updates: Vec<AppUpdate> = config
            .images
            .iter()
            .map(|c| AppUpdate {
                config: c,
                live: UpdaterImage::parse(&format!("{}:old", c.image.name_without_tag())),
                new: Tag::named("1.2.0"),
            })
            .collect();
        let helm = managed(AppType::Helm, &updates);
        assert_eq!(
            helm,
            Managed::Helm(vec![
                ("image.name".into(), "ghcr.io/o/web".into()),
                ("image.tag".into(), "1.2.0".into()),
                ("sidecar.image".into(), "quay.io/o/proxy:1.2.0".into()),
            ])
        );
        apply_to_application(&mut app, &helm);
        let params = app.pointer("/spec/source/helm/parameters").unwrap().as_array().unwrap();
        assert_eq!(params.len(), 4);
        assert_eq!(params[1], json!({"name": "image.name", "value": "ghcr.io/o/web", "forceString": true}));
        let kustomize = managed(AppType::Kustomize, &updates);
        assert_eq!(
            kustomize,
            Managed::Kustomize(vec!["web=ghcr.io/o/web:1.2.0".into(), "quay.io/o/proxy:1.2.0".into()])
        );
        assert_eq!(updates[0].change().old_tag, "old");
        assert_eq!(AppType::of(&app), Some(AppType::Helm));
    }
}
