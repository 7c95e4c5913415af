//! Rendering an ApplicationSet's `template` into one Application per parameter set.
//!
//! - [`flat`]: fasttemplate (`{{key}}`), the default;
//! - [`go`]: the Go `text/template` subset used with `goTemplate: true`.
//!
//! [`Engine`] renders every string of a JSON value, map keys included (labels and annotations
//! can be templated; numbers and bools cannot), each string as an independent template.
//! [`merge_templates`] lays a generator's `template` over the ApplicationSet's,
//! [`render_application`] renders one Application: the template, then `templatePatch`, the
//! finalizer rule, and the namespace forced to the ApplicationSet's.

pub mod flat;
pub mod go;

use serde_json::{Map, Value};

use crate::appset::params::{Mode, Params};
pub use flat::FlatError;
pub use go::{GoError, GoOptions};

/// The finalizer that makes deleting an Application delete its resources.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Why a template does not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A string in fasttemplate mode.
    #[error("field `{field}`: {source}")]
    Flat {
        /// Where the string is (`spec.source.path`; `metadata.labels{key}` for a map key).
        field: String,
        /// What is wrong.
        source: FlatError,
    },
    /// A string in Go template mode.
    #[error("field `{field}`: {source}")]
    Go {
        /// Where the string is.
        field: String,
        /// What is wrong.
        source: GoError,
    },
    /// Two keys of one map render to the same text.
    #[error("field `{field}`: two keys render to {key:?}")]
    DuplicateKey {
        /// The map.
        field: String,
        /// The rendered key.
        key: String,
    },
    /// `goTemplateOptions` has an option that is not understood.
    #[error("spec.goTemplateOptions: {0}")]
    Options(GoError),
    /// `templatePatch` renders to text that is not a YAML/JSON object.
    #[error("spec.templatePatch does not read as a YAML or JSON object after templating: {0}")]
    Patch(String),
    /// The template (with the generator's merged in) is not an object.
    #[error("spec.template is not an object")]
    NotAnObject,
}

/// A template engine for one ApplicationSet: its mode and its Go options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engine {
    /// Flat (fasttemplate) or Go templates.
    pub mode: Mode,
    /// `goTemplateOptions` (Go mode only).
    pub options: GoOptions,
}

impl Engine {
    /// An engine for `mode` with `goTemplateOptions`.
    pub fn new(mode: Mode, options: &[String]) -> Result<Engine, TemplateError> {
        let options = GoOptions::from_list(options).map_err(TemplateError::Options)?;
        Ok(Engine { mode, options })
    }

    /// Renders one string; `field` names it in errors.
    pub fn render_str(&self, field: &str, text: &str, params: &Params) -> Result<String, TemplateError> {
        self.render_prepared(field, text, &self.prepare(params))
    }

    /// Renders every string (and map key) of `value`; `field` is the path of `value` itself.
    pub fn render_value(&self, field: &str, value: &Value, params: &Params) -> Result<Value, TemplateError> {
        self.render_value_prepared(field, value, &self.prepare(params))
    }

    fn prepare<'p>(&self, params: &'p Params) -> Prepared<'p> {
        match (self.mode, params) {
            (Mode::Flat, Params::Flat(m)) => Prepared::Flat(std::borrow::Cow::Borrowed(m)),
            (Mode::Flat, go) => Prepared::Flat(std::borrow::Cow::Owned(go.flattened())),
            (Mode::Go, Params::Go(m)) => Prepared::Go(go::GoData::from_object(m)),
            (Mode::Go, p) => Prepared::Go(go::GoData::new(&p.to_value())),
        }
    }

    fn prepare_owned(&self, params: Params) -> Prepared<'static> {
        match (self.mode, params) {
            (Mode::Flat, Params::Flat(m)) => Prepared::Flat(std::borrow::Cow::Owned(m)),
            (Mode::Flat, go) => Prepared::Flat(std::borrow::Cow::Owned(go.flattened())),
            (Mode::Go, Params::Go(m)) => Prepared::Go(go::GoData::from_owned(m)),
            (Mode::Go, p) => Prepared::Go(go::GoData::new(&p.to_value())),
        }
    }

    fn render_prepared(&self, field: &str, text: &str, data: &Prepared<'_>) -> Result<String, TemplateError> {
        self.render_at(&At::Root(field), text, data)
    }

    fn render_at(&self, at: &At<'_>, text: &str, data: &Prepared<'_>) -> Result<String, TemplateError> {
        // Most strings of a template are plain: they are copied without a look at the data.
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        match data {
            Prepared::Flat(flat) => {
                flat::render(text, flat).map_err(|source| TemplateError::Flat { field: at.path(), source })
            }
            Prepared::Go(data) => go::render_data(text, data, self.options)
                .map_err(|source| TemplateError::Go { field: at.path(), source }),
        }
    }

    fn render_value_prepared(&self, field: &str, value: &Value, data: &Prepared<'_>) -> Result<Value, TemplateError> {
        self.render_value_at(&At::Root(field), value, data)
    }

    fn render_value_at(&self, at: &At<'_>, value: &Value, data: &Prepared<'_>) -> Result<Value, TemplateError> {
        match value {
            Value::String(s) => Ok(Value::String(self.render_at(at, s, data)?)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.render_value_at(&At::Index(at, i), v, data))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, v) in m {
                    let key = self.render_at(&At::MapKey(at, k), k, data)?;
                    let rendered = self.render_value_at(&At::Key(at, k), v, data)?;
                    if out.contains_key(&key) {
                        return Err(TemplateError::DuplicateKey { field: at.path(), key });
                    }
                    out.insert(key, rendered);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }
}

/// Where a string is in the value being rendered, spelled out only for an error (building
/// the path of every string of every Application would cost more than rendering them).
enum At<'a> {
    Root(&'a str),
    /// The value under a key: `field.key`.
    Key(&'a At<'a>, &'a str),
    /// A map key itself: `field{key}`.
    MapKey(&'a At<'a>, &'a str),
    /// A list item: `field[i]`.
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn path(&self) -> String {
        match self {
            At::Root(s) => s.to_string(),
            At::Key(parent, k) => {
                let p = parent.path();
                if p.is_empty() { k.to_string() } else { format!("{p}.{k}") }
            }
            At::MapKey(parent, k) => format!("{}{{{k}}}", parent.path()),
            At::Index(parent, i) => format!("{}[{i}]", parent.path()),
        }
    }
}

/// Parameters in the shape the engine reads, prepared once per Application.
enum Prepared<'p> {
    Flat(std::borrow::Cow<'p, std::collections::BTreeMap<String, String>>),
    Go(go::GoData),
}

/// Go's zero value test as mergo uses it: null, `false`, `0`, `""`, `[]` and `{}` are empty.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// A generator's `template` laid over the ApplicationSet's `spec.template` (mergo without
/// override): every non-empty field of the generator's wins, empty or absent ones are taken
/// from the spec's, maps merge key by key.
pub fn merge_templates(spec: &Value, generator: &Value) -> Value {
    match (spec, generator) {
        (Value::Object(s), Value::Object(g)) => {
            let mut out = g.clone();
            for (k, sv) in s {
                match out.get_mut(k) {
                    None => {
                        out.insert(k.clone(), sv.clone());
                    }
                    Some(gv) if gv.is_object() && sv.is_object() => *gv = merge_templates(sv, gv),
                    Some(gv) if is_zero(gv) => *gv = sv.clone(),
                    Some(_) => {}
                }
            }
            Value::Object(out)
        }
        (s, g) if is_zero(g) => s.clone(),
        (_, g) => g.clone(),
    }
}

/// What [`render_application`] needs of the ApplicationSet.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// The ApplicationSet's namespace, forced on every Application.
    pub namespace: &'a str,
    /// `spec.templatePatch`, if any.
    pub template_patch: Option<&'a str>,
    /// Whether `spec.syncPolicy.preserveResourcesOnDeletion` is true.
    pub preserve_resources_on_deletion: bool,
}

/// Renders one Application (as JSON) from `template` (an ApplicationSet template: `metadata`
/// and `spec`) and `params`:
/// 1. an empty parameter set leaves the template as it is (Argo CD skips rendering then, and
///    adds no finalizer);
/// 2. otherwise every string is rendered, and [`RESOURCES_FINALIZER`] is added when the
///    template has no finalizers and resources are not preserved on deletion;
/// 3. `templatePatch`, rendered with the same parameters, is merged over the result (maps
///    merge, lists and scalars are replaced, `null` deletes); `spec.project` keeps its
///    pre-patch value;
/// 4. `metadata.namespace` is set to the ApplicationSet's namespace.
pub fn render_application(
    engine: &Engine,
    template: &Value,
    params: &Params,
    cx: &RenderContext<'_>,
) -> Result<Value, TemplateError> {
    render_with(engine, template, (!params.is_empty()).then(|| engine.prepare(params)), cx)
}

/// [`render_application`], taking the parameters: they become the template data as they are,
/// where borrowing them costs a copy of each set in Go mode.
pub fn render_application_owned(
    engine: &Engine,
    template: &Value,
    params: Params,
    cx: &RenderContext<'_>,
) -> Result<Value, TemplateError> {
    render_with(engine, template, (!params.is_empty()).then(|| engine.prepare_owned(params)), cx)
}

/// Renders with `data`, or copies the template when there is none (an empty parameter set).
fn render_with(
    engine: &Engine,
    template: &Value,
    data: Option<Prepared<'_>>,
    cx: &RenderContext<'_>,
) -> Result<Value, TemplateError> {
    let template = template.as_object().ok_or(TemplateError::NotAnObject)?;
    // Only what Argo CD copies into its temporary Application, rendered as it is copied (an
    // empty parameter set is not rendered at all).
    let copy = |at: &At<'_>, v: &Value| match &data {
        Some(data) => engine.render_value_at(at, v, data),
        None => Ok(v.clone()),
    };
    let root = At::Root("");
    let mut app = Map::new();
    let mut metadata = Map::new();
    if let Some(m) = template.get("metadata").and_then(Value::as_object) {
        let at = At::Key(&root, "metadata");
        for key in ["name", "namespace", "labels", "annotations", "finalizers"] {
            if let Some(v) = m.get(key).filter(|v| !is_zero(v)) {
                metadata.insert(key.to_string(), copy(&At::Key(&at, key), v)?);
            }
        }
    }
    app.insert("metadata".into(), Value::Object(metadata));
    let spec = match template.get("spec") {
        Some(spec) => copy(&At::Key(&root, "spec"), spec)?,
        None => Value::Object(Map::new()),
    };
    app.insert("spec".into(), spec);
    let mut app = Value::Object(app);
    if data.is_some() {
        let metadata = app["metadata"].as_object_mut().expect("metadata is an object");
        let has_finalizers = metadata.get("finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        if !has_finalizers && !cx.preserve_resources_on_deletion {
            metadata.insert("finalizers".into(), Value::Array(vec![Value::String(RESOURCES_FINALIZER.into())]));
        }
    }
    if let Some(patch_text) = cx.template_patch {
        let empty = Params::empty(engine.mode);
        let rendered = match &data {
            Some(data) => engine.render_prepared("spec.templatePatch", patch_text, data)?,
            None => engine.render_str("spec.templatePatch", patch_text, &empty)?,
        };
        let patch = read_patch(&rendered)?;
        let project = app.pointer("/spec/project").cloned();
        crate::merge::predict(&mut app, None, &patch, None);
        if let Some(spec) = app.get_mut("spec").and_then(Value::as_object_mut) {
            match project {
                Some(p) => {
                    spec.insert("project".into(), p);
                }
                None => {
                    spec.remove("project");
                }
            }
        }
    }
    let metadata =
        app.as_object_mut().expect("an object").entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if let Some(m) = metadata.as_object_mut() {
        m.insert("namespace".into(), Value::String(cx.namespace.to_string()));
    }
    Ok(app)
}

fn read_patch(text: &str) -> Result<Value, TemplateError> {
    let docs = crate::yaml::parse_documents(text).map_err(|e| TemplateError::Patch(e.to_string()))?;
    match docs.as_slice() {
        [] => Ok(Value::Object(Map::new())),
        [one] if one.value.is_object() => {
            // It must read as an Application: its metadata and spec are objects.
            for key in ["metadata", "spec"] {
                match one.value.get(key) {
                    None | Some(Value::Null) | Some(Value::Object(_)) => {}
                    Some(other) => {
                        return Err(TemplateError::Patch(format!("`{key}` is {}, not an object", kind_name(other))));
                    }
                }
            }
            Ok(one.value.clone())
        }
        [one] => Err(TemplateError::Patch(format!("it is {}, not an object", kind_name(&one.value)))),
        _ => Err(TemplateError::Patch("it has several documents".into())),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn flat(pairs: &[(&str, &str)]) -> Params {
        Params::Flat(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>())
    }

    fn cx() -> RenderContext<'static> {
        RenderContext { namespace: "argocd", template_patch: None, preserve_resources_on_deletion: false }
    }

    #[test]
    fn renders_every_string_and_map_key_but_not_other_scalars() {
        let engine = Engine::new(Mode::Flat, &[]).unwrap();
        let p = flat(&[("name", "web"), ("env", "prod")]);
        let v = json!({"a": "{{name}}", "{{env}}-key": ["x-{{ name }}", 3, true], "n": 5});
        let out = engine.render_value("", &v, &p).unwrap();
        assert_eq!(out, json!({"a": "web", "prod-key": ["x-web", 3, true], "n": 5}));
    }

    #[test]
    fn errors_name_the_field() {
        let engine = Engine::new(Mode::Go, &["missingkey=error".into()]).unwrap();
        let p = Params::Go(json!({"name": "web"}).as_object().unwrap().clone());
        let v = json!({"spec": {"source": {"path": "{{ .nope }}"}}});
        let e = engine.render_value("", &v, &p).unwrap_err();
        assert!(matches!(&e, TemplateError::Go { field, .. } if field == "spec.source.path"), "{e}");
        assert!(e.to_string().contains("nope"));
        let e = engine.render_value("", &json!({"labels": [{"{{.x}}": "a"}]}), &p).unwrap_err();
        assert!(e.to_string().contains("labels[0]{{{.x}}}"), "{e}");
    }

    #[test]
    fn keys_rendering_alike_are_an_error() {
        let engine = Engine::new(Mode::Flat, &[]).unwrap();
        let p = flat(&[("a", "x")]);
        let e = engine.render_value("metadata.labels", &json!({"{{a}}": "1", "x": "2"}), &p).unwrap_err();
        assert!(matches!(e, TemplateError::DuplicateKey { .. }));
    }

    #[test]
    fn generator_template_wins_where_not_empty() {
        let spec = json!({
            "metadata": {"name": "{{name}}", "labels": {"a": "1", "b": "2"}},
            "spec": {"project": "default", "source": {"repoURL": "r", "path": "p"}, "destination": {"server": "s"}},
        });
        let generator = json!({
            "metadata": {"name": "", "labels": {"b": "gen"}},
            "spec": {"project": "", "source": {"path": "gen-path"}, "destination": {}},
        });
        let merged = merge_templates(&spec, &generator);
        assert_eq!(
            merged,
            json!({
                "metadata": {"name": "{{name}}", "labels": {"a": "1", "b": "gen"}},
                "spec": {"project": "default", "source": {"repoURL": "r", "path": "gen-path"}, "destination": {"server": "s"}},
            })
        );
    }

    #[test]
    fn application_gets_finalizer_namespace_and_patch() {
        let engine = Engine::new(Mode::Flat, &[]).unwrap();
        let template = json!({
            "metadata": {"name": "{{name}}", "namespace": "elsewhere"},
            "spec": {"project": "default", "source": {"repoURL": "r", "path": "{{name}}"}},
        });
        let p = flat(&[("name", "web")]);
        let app = render_application(&engine, &template, &p, &cx()).unwrap();
        assert_eq!(app["metadata"]["namespace"], "argocd");
        assert_eq!(app["metadata"]["finalizers"], json!([RESOURCES_FINALIZER]));
        assert_eq!(app["spec"]["source"]["path"], "web");

        let preserve = RenderContext { preserve_resources_on_deletion: true, ..cx() };
        let app = render_application(&engine, &template, &p, &preserve).unwrap();
        assert!(app["metadata"].get("finalizers").is_none());

        let own = json!({"metadata": {"name": "x", "finalizers": ["mine"]}, "spec": {}});
        let app = render_application(&engine, &own, &p, &cx()).unwrap();
        assert_eq!(app["metadata"]["finalizers"], json!(["mine"]));

        // Argo CD's quirk: an empty parameter set is not rendered and gets no finalizer.
        let app = render_application(&engine, &template, &Params::empty(Mode::Flat), &cx()).unwrap();
        assert_eq!(app["metadata"]["name"], "{{name}}");
        assert!(app["metadata"].get("finalizers").is_none());
        assert_eq!(app["metadata"]["namespace"], "argocd");

        let patch = "spec:\n  project: hacked\n  source:\n    path: '{{name}}/overlay'\n  syncPolicy: {automated: {prune: true}}\nmetadata:\n  finalizers: null\n";
        let with_patch = RenderContext { template_patch: Some(patch), ..cx() };
        let app = render_application(&engine, &template, &p, &with_patch).unwrap();
        assert_eq!(app["spec"]["project"], "default", "the patch cannot change the project");
        assert_eq!(app["spec"]["source"], json!({"repoURL": "r", "path": "web/overlay"}));
        assert_eq!(app["spec"]["syncPolicy"], json!({"automated": {"prune": true}}));
        assert!(app["metadata"].get("finalizers").is_none());

        let bad = RenderContext { template_patch: Some("- a\n- b\n"), ..cx() };
        assert!(matches!(render_application(&engine, &template, &p, &bad), Err(TemplateError::Patch(_))));
        let bad = RenderContext { template_patch: Some("spec: just-text\n"), ..cx() };
        let e = render_application(&engine, &template, &p, &bad).unwrap_err();
        assert!(e.to_string().contains("`spec` is a string, not an object"), "{e}");
    }
}
