//! Flux HelmRelease `spec.postRenderers`: the objects Helm rendered, run through kustomize
//! before they are applied, as helm-controller does.
//!
//! Each post renderer is `{kustomize: {...}}`; helm-controller builds, for each in order, a
//! kustomization whose only resource is the objects rendered so far (`helm-output.yaml`) with
//! the post renderer's `patches` and `images` (and, from `v2beta1`, `patchesStrategicMerge` and
//! `patchesJson6902`), loads nothing else, and keeps kustomize's accumulation order (its
//! kustomizer runs without the legacy sort). Here the same kustomization is written into a
//! private temporary directory and built by the native engine ([`crate::kustomize`]), which is
//! held byte for byte to `kubectl kustomize`.
//!
//! Only the fields Flux's API has are accepted: a `patches` entry with a `path` or `options`,
//! an image with a `tagSuffix`, or any other unknown field is refused by name (a `path` would
//! otherwise be read by kustomize; Flux's types have none). A target that matches nothing is
//! no error (kustomize skips it); a strategic merge patch without a target that names no
//! object is one (kustomize needs a unique target for it).
//!
//! ```
//! use gitops_core::{Object, Origin};
//! use serde_json::json;
//!
//! let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web", "namespace": "apps"},
//!     "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}});
//! let objects = vec![Object::new(deployment, Origin::inline("helm"))];
//! let renderers = json!([{"kustomize": {"images": [{"name": "nginx", "newTag": "1.27"}]}}]);
//! let out = gitops_render::post_render::post_render("HelmRelease apps/web", objects, Some(&renderers))?;
//! assert_eq!(out[0].value()["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
//! # Ok::<(), gitops_render::post_render::Error>(())
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use gitops_core::{Object, Origin};
use serde_json::{Map, Value, json};

use crate::kustomize::{self, Options, Order};
use crate::root::RepoRoot;

/// The file the rendered objects are written to, as helm-controller names it.
const INPUT: &str = "helm-output.yaml";

/// The fields of a post renderer.
const RENDERER_FIELDS: &[&str] = &["kustomize"];

/// The fields of a post renderer's `kustomize` (`v2` has the first two, `v2beta1` all four).
const KUSTOMIZE_FIELDS: &[&str] = &["patches", "images", "patchesStrategicMerge", "patchesJson6902"];

/// The fields of a `patches` entry in Flux's API (kustomize's `path` and `options` are not).
const PATCH_FIELDS: &[&str] = &["patch", "target"];

/// The fields of a `patchesJson6902` entry.
const JSON6902_FIELDS: &[&str] = &["target", "patch"];

/// The fields of a target selector.
const SELECTOR_FIELDS: &[&str] =
    &["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"];

/// The fields of an `images` entry in Flux's API (kustomize's `tagSuffix` is not).
const IMAGE_FIELDS: &[&str] = &["name", "newName", "newTag", "digest"];

/// Why post rendering failed. Every message names the HelmRelease (`origin`) and the field
/// of `spec.postRenderers` at fault; nothing is applied when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of `spec.postRenderers` is malformed, unknown, or kustomize refused it.
    #[error("{origin}: `{field}`: {problem}")]
    Field {
        /// The HelmRelease, as the caller named it.
        origin: String,
        /// The field, e.g. `spec.postRenderers[0].kustomize.patches[1].target`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The objects could not be built by a post renderer as they are (an object kustomize
    /// refuses, two objects with one identity).
    #[error("{origin}: `spec.postRenderers[{index}]`: the rendered objects: {problem}")]
    Objects {
        /// The HelmRelease.
        origin: String,
        /// The post renderer.
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// The private working directory could not be made or written.
    #[error("{origin}: `spec.postRenderers[{index}]`: working directory: {source}")]
    Io {
        /// The HelmRelease.
        origin: String,
        /// The post renderer.
        index: usize,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Runs `post_renderers` (the HelmRelease's `spec.postRenderers` value, may be Null/absent →
/// objects unchanged) over `objects`, in order, each on the output of the one before.
///
/// `origin` names the HelmRelease in errors and in the origin of the objects returned
/// (`"<origin> post-renderer <i>"`, `i` the last post renderer, with the object's document and
/// line in that renderer's output as `kubectl kustomize` prints it). Every post renderer is
/// checked before any runs. The scope recorded on an object
/// ([`Object::set_cluster_scoped`]) is kept for objects of the same kind.
pub fn post_render(origin: &str, objects: Vec<Object>, post_renderers: Option<&Value>) -> Result<Vec<Object>, Error> {
    let renderers = match post_renderers {
        None | Some(Value::Null) => return Ok(objects),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(field(origin, "spec.postRenderers".into(), "must be a list of post renderers")),
    };
    let kustomizations: Vec<Value> =
        renderers.iter().enumerate().map(|(i, r)| kustomization(origin, i, r)).collect::<Result<_, _>>()?;
    let mut scopes: HashMap<(String, String), bool> = HashMap::new();
    for o in &objects {
        if let Some(scope) = o.recorded_scope() {
            scopes.insert((o.group().to_string(), o.kind().to_string()), scope);
        }
    }
    let mut objects = objects;
    for (i, k) in kustomizations.iter().enumerate() {
        let values: Vec<Value> = objects.into_iter().map(Object::into_value).collect();
        let built = build(origin, i, &values, k)?;
        objects = with_origins(&format!("{origin} post-renderer {i}"), built);
    }
    for o in &mut objects {
        if let Some(&scope) = scopes.get(&(o.group().to_string(), o.kind().to_string())) {
            o.set_cluster_scoped(scope);
        }
    }
    Ok(objects)
}

fn field(origin: &str, field: String, problem: impl Into<String>) -> Error {
    Error::Field { origin: origin.to_string(), field, problem: problem.into() }
}

/// The fields of `value` at `at`, all of them in `known`.
fn fields<'a>(origin: &str, at: &str, value: &'a Value, known: &[&str]) -> Result<&'a Map<String, Value>, Error> {
    let Value::Object(map) = value else { return Err(field(origin, at.to_string(), "must be a map")) };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        return Err(field(origin, format!("{at}.{unknown}"), format!("unknown field; the fields here are {list}")));
    }
    Ok(map)
}

/// The items of the list `name` in `map` (absent or null: none).
fn list<'a>(origin: &str, at: &str, map: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(field(origin, format!("{at}.{name}"), "must be a list")),
    }
}

/// A target selector, checked for Flux's fields (their values are kustomize's to judge).
fn selector(origin: &str, at: &str, value: &Value) -> Result<Value, Error> {
    fields(origin, at, value, SELECTOR_FIELDS)?;
    Ok(value.clone())
}

/// The kustomization helm-controller writes for post renderer `i`, from its `kustomize`.
fn kustomization(origin: &str, i: usize, renderer: &Value) -> Result<Value, Error> {
    let at = format!("spec.postRenderers[{i}]");
    let r = fields(origin, &at, renderer, RENDERER_FIELDS)?;
    let Some(spec) = r.get("kustomize").filter(|k| !k.is_null()) else {
        return Err(field(origin, format!("{at}.kustomize"), "missing: the only post renderer is `kustomize`"));
    };
    let at = format!("{at}.kustomize");
    let spec = fields(origin, &at, spec, KUSTOMIZE_FIELDS)?;
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("kustomize.config.k8s.io/v1beta1"));
    out.insert("kind".into(), json!("Kustomization"));
    out.insert("resources".into(), json!([INPUT]));

    let mut patches = Vec::new();
    for (j, p) in list(origin, &at, spec, "patches")?.iter().enumerate() {
        let at = format!("{at}.patches[{j}]");
        let p = fields(origin, &at, p, PATCH_FIELDS)?;
        let text = match p.get("patch") {
            Some(Value::String(t)) if !t.trim().is_empty() => t,
            Some(Value::String(_)) => return Err(field(origin, format!("{at}.patch"), "is empty")),
            None => return Err(field(origin, format!("{at}.patch"), "missing")),
            Some(_) => {
                return Err(field(
                    origin,
                    format!("{at}.patch"),
                    "must be a string: a strategic merge patch or a JSON 6902 patch, as YAML or JSON",
                ));
            }
        };
        let mut entry = Map::new();
        entry.insert("patch".into(), Value::String(text.clone()));
        if let Some(t) = p.get("target").filter(|t| !t.is_null()) {
            entry.insert("target".into(), selector(origin, &format!("{at}.target"), t)?);
        }
        patches.push(Value::Object(entry));
    }

    // v2beta1: each item is a patch object; helm-controller hands kustomize its JSON text.
    let mut strategic = Vec::new();
    for (j, p) in list(origin, &at, spec, "patchesStrategicMerge")?.iter().enumerate() {
        if !p.is_object() {
            return Err(field(origin, format!("{at}.patchesStrategicMerge[{j}]"), "must be a patch object"));
        }
        strategic.push(Value::String(p.to_string()));
    }

    // v2beta1: `patch` is a list of operations; helm-controller hands kustomize its JSON text.
    let mut json6902 = Vec::new();
    for (j, p) in list(origin, &at, spec, "patchesJson6902")?.iter().enumerate() {
        let at = format!("{at}.patchesJson6902[{j}]");
        let p = fields(origin, &at, p, JSON6902_FIELDS)?;
        let ops = match p.get("patch") {
            Some(ops @ Value::Array(_)) => ops.to_string(),
            None => return Err(field(origin, format!("{at}.patch"), "missing")),
            Some(_) => return Err(field(origin, format!("{at}.patch"), "must be a list of JSON 6902 operations")),
        };
        let Some(target) = p.get("target").filter(|t| !t.is_null()) else {
            return Err(field(origin, format!("{at}.target"), "missing: a JSON 6902 patch needs a target"));
        };
        json6902.push(json!({"target": selector(origin, &format!("{at}.target"), target)?, "patch": ops}));
    }

    let mut images = Vec::new();
    for (j, image) in list(origin, &at, spec, "images")?.iter().enumerate() {
        fields(origin, &format!("{at}.images[{j}]"), image, IMAGE_FIELDS)?;
        images.push(image.clone());
    }

    for (name, items) in
        [("patchesStrategicMerge", strategic), ("patches", patches), ("patchesJson6902", json6902), ("images", images)]
    {
        if !items.is_empty() {
            out.insert(name.into(), Value::Array(items));
        }
    }
    Ok(Value::Object(out))
}

/// Builds `kustomization` over `objects` in a private temporary directory.
fn build(origin: &str, i: usize, objects: &[Value], kustomization: &Value) -> Result<Vec<Value>, Error> {
    let io = |source| Error::Io { origin: origin.to_string(), index: i, source };
    let dir = tempfile::Builder::new().prefix("post-render-").tempdir().map_err(io)?;
    std::fs::write(dir.path().join(INPUT), kustomize::to_yaml(objects)).map_err(io)?;
    std::fs::write(dir.path().join("kustomization.yaml"), kustomize::to_yaml(std::slice::from_ref(kustomization)))
        .map_err(io)?;
    let root = RepoRoot::new(dir.path()).map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let options = Options {
        // helm-controller's kustomizer: no legacy sort, no load restrictions.
        order: Some(Order::Fifo),
        restrict_to_kustomization_dir: false,
        ..Options::default()
    };
    kustomize::build(&root, ".", &options).map_err(|e| build_error(origin, i, e))
}

/// A kustomize error, named by the post renderer's field (`patches[1]` of the written
/// kustomization is `spec.postRenderers[i].kustomize.patches[1]`).
fn build_error(origin: &str, i: usize, e: kustomize::Error) -> Error {
    let objects = |problem: String| Error::Objects { origin: origin.to_string(), index: i, problem };
    match e {
        kustomize::Error::Field { field: f, problem, .. }
            if KUSTOMIZE_FIELDS.iter().any(|k| f.strip_prefix(k).is_some_and(|rest| rest.starts_with('['))) =>
        {
            // The engine may repeat where it read the patch; the field says so already.
            let problem = problem.strip_prefix(&format!("kustomization.yaml {f}: ")).unwrap_or(&problem).to_string();
            field(origin, format!("spec.postRenderers[{i}].kustomize.{f}"), problem)
        }
        // The only resource is the objects' file.
        kustomize::Error::Field { field, problem, .. } if field.starts_with("resources") => objects(problem),
        kustomize::Error::Field { file, field, problem } => objects(format!("{file}: `{field}`: {problem}")),
        kustomize::Error::File { file, problem } if file == INPUT => objects(problem),
        kustomize::Error::File { file, problem } => objects(format!("{file}: {problem}")),
    }
}

/// Objects from one post renderer's output, each with its document and line in it.
fn with_origins(label: &str, values: Vec<Value>) -> Vec<Object> {
    let source: Arc<str> = Arc::from(label);
    let mut line = 1;
    let mut out = Vec::with_capacity(values.len());
    for (n, value) in values.into_iter().enumerate() {
        let lines = kustomize::to_yaml(std::slice::from_ref(&value)).lines().count();
        out.push(Object::new(value, Origin { source: source.clone(), document: n + 1, line, item: None }));
        // The document's lines, then the `---` before the next.
        line += lines + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Vec<Object> {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}});
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"ports": [{"port": 80}]}});
        vec![Object::new(cm, Origin::inline("helm")), Object::new(svc, Origin::inline("helm"))]
    }

    fn run(renderers: Value) -> Result<Vec<Object>, Error> {
        post_render("HelmRelease apps/web", objects(), Some(&renderers))
    }

    #[test]
    fn absent_null_and_empty_leave_objects_as_they_are() {
        for r in [None, Some(&Value::Null), Some(&json!([]))] {
            assert_eq!(post_render("HR", objects(), r).unwrap(), objects());
        }
    }

    #[test]
    fn origins_name_the_post_renderer_document_and_line() {
        let out = run(json!([{"kustomize": {}}, {"kustomize": {"images": []}}])).unwrap();
        let shown: Vec<String> = out.iter().map(|o| o.origin().to_string()).collect();
        // The second document starts after the first's lines and the `---` between them.
        let first = kustomize::to_yaml(std::slice::from_ref(out[0].value())).lines().count();
        assert_eq!(
            shown,
            [
                "HelmRelease apps/web post-renderer 1: document 1 (line 1)".to_string(),
                format!("HelmRelease apps/web post-renderer 1: document 2 (line {})", first + 2),
            ]
        );
        assert_eq!(out[0].namespace(), "", "no namespace is added");
    }

    #[test]
    fn recorded_scopes_are_kept_by_kind() {
        let mut input = objects();
        input[0].set_cluster_scoped(false);
        let out = post_render("HR", input, Some(&json!([{"kustomize": {}}]))).unwrap();
        assert_eq!(out[0].recorded_scope(), Some(false));
        assert_eq!(out[1].recorded_scope(), None);
    }

    #[test]
    fn malformed_input_is_refused_by_field_without_panicking() {
        let cases = [
            (json!({"kustomize": {}}), "`spec.postRenderers`: must be a list"),
            (json!([1]), "`spec.postRenderers[0]`: must be a map"),
            (json!([{}]), "`spec.postRenderers[0].kustomize`: missing"),
            (json!([{"kustomize": null}]), "`spec.postRenderers[0].kustomize`: missing"),
            (json!([{"kustomize": {}, "helm": {}}]), "`spec.postRenderers[0].helm`: unknown field"),
            (json!([{"kustomize": []}]), "`spec.postRenderers[0].kustomize`: must be a map"),
            (json!([{"kustomize": {"commonLabels": {}}}]), "`spec.postRenderers[0].kustomize.commonLabels`: unknown"),
            (json!([{"kustomize": {"patches": {}}}]), "`spec.postRenderers[0].kustomize.patches`: must be a list"),
            (json!([{"kustomize": {"patches": ["x"]}}]), "`spec.postRenderers[0].kustomize.patches[0]`: must be a map"),
            (json!([{"kustomize": {"patches": [{}]}}]), "`spec.postRenderers[0].kustomize.patches[0].patch`: missing"),
            (json!([{"kustomize": {"patches": [{"patch": " "}]}}]), "patches[0].patch`: is empty"),
            (json!([{"kustomize": {"patches": [{"patch": {"a": 1}}]}}]), "patches[0].patch`: must be a string"),
            (json!([{"kustomize": {"patches": [{"path": "/etc/passwd"}]}}]), "patches[0].path`: unknown field"),
            (json!([{"kustomize": {"patches": [{"patch": "a: b", "options": {}}]}}]), "patches[0].options`: unknown"),
            (json!([{"kustomize": {"patches": [{"patch": "a: b", "target": {"x": 1}}]}}]), "target.x`: unknown"),
            (json!([{"kustomize": {"patches": [{"patch": "a: b", "target": 1}]}}]), "target`: must be a map"),
            (json!([{"kustomize": {"images": [{"name": "a", "tagSuffix": "-x"}]}}]), "images[0].tagSuffix`: unknown"),
            (json!([{"kustomize": {"patchesStrategicMerge": ["x"]}}]), "patchesStrategicMerge[0]`: must be a patch"),
            (json!([{"kustomize": {"patchesJson6902": [{"patch": []}]}}]), "patchesJson6902[0].target`: missing"),
            (json!([{"kustomize": {"patchesJson6902": [{"target": {}, "patch": "x"}]}}]), "patch`: must be a list"),
        ];
        for (renderers, want) in cases {
            let e = run(renderers.clone()).unwrap_err().to_string();
            assert!(e.starts_with("HelmRelease apps/web: `spec.postRenderers"), "{renderers}: {e}");
            assert!(e.contains(want), "{renderers}: {e}");
        }
    }

    #[test]
    fn a_later_malformed_post_renderer_stops_the_first_from_running() {
        let e = run(json!([{"kustomize": {}}, {"other": 1}])).unwrap_err().to_string();
        assert!(e.contains("`spec.postRenderers[1].other`: unknown field"), "{e}");
    }
}
