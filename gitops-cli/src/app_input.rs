//! What `diff` and `plan` read alike: the `--app` file and the diff settings it implies.

use std::path::{Path, PathBuf};

use gitops_core::app::{self, AppSpec};
use gitops_core::diff::DiffConfig;
use gitops_core::settings::Settings;
use gitops_core::{Object, manifest};
use serde_json::Value;

/// Reads the Argo CD Application or Flux Kustomization in `path`, if one is given.
pub fn read_app(path: Option<&PathBuf>) -> Result<Option<AppSpec>, String> {
    let Some(p) = path else { return Ok(None) };
    let text = gitops_render::regular::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let objects = manifest::parse(&p.display().to_string(), &text).map_err(|e| e.to_string())?;
    let spec = app::read(&p.display().to_string(), &objects).map_err(|e| e.to_string())?;
    if let Ok(chosen) = app::select("", &objects, None) {
        warn_unknown_fields(&p.display().to_string(), chosen);
    }
    Ok(Some(spec))
}

/// Names, on standard error, the fields of the app its kind does not have (a misspelt
/// `syncPolicy` would otherwise be ignored in silence), with the one most likely meant.
pub fn warn_unknown_fields(file: &str, app: &Object) {
    for field in gitops_core::app_fields::unknown(app) {
        eprintln!("warning: {file}: {field}; it is ignored");
    }
}

/// How `--strict` (or its absence) reads manifests: a key given twice in one mapping is
/// refused, or read as kubectl and Argo CD read it (the last value wins) with a warning.
pub fn reading(strict: bool) -> gitops_render::Reading {
    gitops_render::Reading::new(if strict { manifest::Strictness::Strict } else { manifest::Strictness::Lenient })
}

/// Prints the warnings reading manifests gave, on standard error (standard output holds only
/// the command's result).
pub fn print_warnings(reading: &gitops_render::Reading) {
    for w in reading.take_warnings() {
        eprintln!("warning: {w}");
    }
}

/// The diff settings of an app: its destination namespace (overridden by `-n`) and its
/// ignoreDifferences.
pub fn diff_config(app: Option<&AppSpec>, namespace: Option<&String>) -> DiffConfig {
    app::diff_config(app, namespace.map(String::as_str))
}

/// Parses a `-n NAMESPACE` argument: namespaces are RFC 1123 labels, as the API server has them.
pub fn namespace_arg(s: &str) -> Result<String, String> {
    gitops_core::names::check_namespace_field("namespace", s)
        .map(|()| s.to_string())
        .map_err(|e| e.rule.describe().to_string())
}

/// The objects of an app file with only the chosen app left among them (`name`, else the only
/// one; several and no name is an error naming them), so that every reader sees that app.
///
/// A Flux Kustomization whose GitRepository is not in the file gets the one found beside it, as
/// in the tree `flux bootstrap` writes (`clusters/NAME/apps.yaml` next to
/// `clusters/NAME/flux-system/gotk-sync.yaml`).
pub fn one_app(file: &str, objects: Vec<Object>, name: Option<&str>) -> Result<Vec<Object>, String> {
    let chosen = app::select(file, &objects, name).map_err(|e| e.to_string())?.clone();
    warn_unknown_fields(file, &chosen);
    let source = missing_flux_source(&chosen, &objects).and_then(|(name, namespace)| {
        let dir = Path::new(file).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let found = find_git_repository(dir, &name, &namespace);
        match &found {
            Some((path, _)) => {
                eprintln!("gitops: {file}: GitRepository {namespace}/{name} read from {}", path.display())
            }
            None => {
                eprintln!("gitops: {file}: no GitRepository {namespace}/{name} in YAML files under {}", dir.display())
            }
        }
        found.map(|(_, o)| o)
    });
    Ok(objects.into_iter().filter(|o| !app::is_app(o)).chain(source).chain(std::iter::once(chosen)).collect())
}

/// The `(name, namespace)` of the GitRepository a Flux Kustomization names, when `objects`
/// lack it.
fn missing_flux_source(k: &Object, objects: &[Object]) -> Option<(String, String)> {
    if k.group() != "kustomize.toolkit.fluxcd.io" {
        return None;
    }
    let source = k.value().pointer("/spec/sourceRef")?;
    if source.get("kind").and_then(Value::as_str) != Some("GitRepository") {
        return None;
    }
    let name = source.get("name").and_then(Value::as_str)?.to_string();
    let namespace = source.get("namespace").and_then(Value::as_str).unwrap_or(k.namespace()).to_string();
    let given = objects.iter().any(|o| o.kind() == "GitRepository" && o.name() == name);
    (!given).then_some((name, namespace))
}

/// The GitRepository `namespace/name` in the YAML files under `dir` (hidden directories and
/// links skipped, files that do not parse ignored), first in path order.
fn find_git_repository(dir: &Path, name: &str, namespace: &str) -> Option<(PathBuf, Object)> {
    // Bounded: a Flux cluster directory holds a few files; a whole disk is not searched.
    const MAX_FILES: usize = 2000;
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
        for e in entries {
            let path = e.path();
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            let Ok(kind) = e.file_type() else { continue };
            if hidden || kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            if !path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                continue;
            }
            seen += 1;
            if seen > MAX_FILES {
                return None;
            }
            let Ok(text) = gitops_render::regular::read_to_string(&path) else { continue };
            let Ok(objects) = manifest::parse(&path.display().to_string(), &text) else { continue };
            if let Some(o) = objects.into_iter().find(|o| {
                o.group() == "source.toolkit.fluxcd.io"
                    && o.kind() == "GitRepository"
                    && o.name() == name
                    && (o.namespace().is_empty() || o.namespace() == namespace)
            }) {
                return Some((path, o));
            }
        }
    }
    None
}

/// `Some(context)` when an argument names a cluster: `kube` (the current context) or
/// `kube:CONTEXT`.
pub fn cluster_target(live: &str) -> Option<Option<&str>> {
    match live {
        "kube" => Some(None),
        _ => live.strip_prefix("kube:").filter(|c| !c.is_empty()).map(Some),
    }
}

/// The first YAML document of the file at `path` (null for an empty file).
pub fn single_document(path: &Path) -> Result<Value, String> {
    let text = gitops_render::regular::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs = gitops_core::yaml::parse_documents(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(docs.into_iter().next().map(|d| d.value).unwrap_or(Value::Null))
}

/// The diff settings of an `--argocd-cm` ConfigMap (system-level ignoreDifferences, compare
/// options, known types); the defaults without one. `diff`, `plan` and `sync` read it alike.
pub fn argocd_cm_settings(path: Option<&Path>) -> Result<Settings, String> {
    let Some(p) = path else { return Ok(Settings::default()) };
    let cm = single_document(p)?;
    Settings::from_config_map(&cm).map_err(|e| format!("{}: {e}", p.display()))
}
