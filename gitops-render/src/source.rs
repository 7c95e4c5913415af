//! Where an app's desired state comes from: the source section of an Argo CD `Application`,
//! or a Flux `Kustomization` with its `GitRepository`.
//!
//! A multi-source app (`spec.sources`) reads as its first source with the others in
//! [`Source::others`]; `ref` sources lend their files to Helm value files (`$<ref>/...`).
//! Unsupported fields are refused with the field named, never dropped: Jsonnet, remote value
//! files.

use gitops_core::Object;
use serde_json::Value;

use crate::directory::DirectoryOptions;
use crate::git::Reference;
use crate::helm::{HelmOptions, Parameter};
use crate::kustomize::Overrides;

/// How the path is rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum Renderer {
    /// Decided by what the path holds (kustomization, Chart.yaml, else a directory).
    Auto,
    /// Argo CD's `directory` section.
    Directory(DirectoryOptions),
    /// Argo CD's `helm` section.
    Helm(HelmOptions),
    /// Argo CD's `kustomize` section or a Flux Kustomization: the changes it makes to the
    /// top kustomization.
    Kustomize(Overrides),
    /// Argo CD's `plugin` section: the plugin's name, its env and parameters.
    Plugin {
        /// The plugin's name.
        name: String,
        /// `env`.
        env: Vec<(String, String)>,
        /// `parameters` (strings; arrays and maps as JSON).
        parameters: Vec<(String, String)>,
    },
}

/// An app's source.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The app's name.
    pub app_name: String,
    /// The destination namespace.
    pub namespace: String,
    /// The repository: a Git repository, or a Helm chart repository when `chart` is set.
    pub repo_url: String,
    /// The revision (Argo CD's `targetRevision`, or the GitRepository's `ref`); for a chart,
    /// the version or version range as written ([`Reference::Revision`], empty for the latest).
    pub revision: Reference,
    /// The path inside the repository (`.` for a chart).
    pub path: String,
    /// Argo CD's `chart`: the chart of the Helm chart repository `repo_url` to render.
    pub chart: Option<String>,
    /// Whether Flux's source ignore rules apply (`.sourceignore` files and Flux's defaults).
    pub source_ignore: bool,
    /// Flux `GitRepository.spec.ignore` (.sourceignore syntax), if any.
    pub ignore: Option<String>,
    /// How to render it.
    pub renderer: Renderer,
    /// The Argo CD Application it was read from (for its parameter override files, see
    /// [`Source::with_parameter_overrides`]); `None` for Flux.
    pub application: Option<Box<Object>>,
    /// Flux's `spec.decryption` (`provider: sops`): the `namespace/name` of the Secret holding
    /// the keys (`secretRef`, in the Kustomization's namespace), `None` when there is no
    /// decryption. See [`crate::decrypt`].
    pub decryption: Option<(String, String)>,
    /// A multi-source app's `ref`: Helm value files of its other sources name this source's
    /// files as `$<ref>/<path>`.
    pub ref_name: Option<String>,
    /// Whether the source renders manifests (a `ref` source without a `path` only lends files).
    pub renders: bool,
    /// A multi-source app's other sources (`spec.sources[1..]`), in order; this one is the first.
    pub others: Vec<Source>,
    /// What a Flux HelmRelease adds to rendering its chart.
    pub helm_release: Option<HelmReleaseRender>,
}

/// What a Flux HelmRelease adds to rendering its chart: its values are in the source's Helm
/// options already; these are what the render does beyond them.
#[derive(Debug, Clone, PartialEq)]
pub struct HelmReleaseRender {
    /// `HelmRelease <namespace>/<name>`, for messages.
    pub origin: String,
    /// Flux's digest of the composed values (`status.lastAttemptedConfigDigest`): part of the
    /// revision, so that new values are a new revision to release.
    pub config_digest: String,
    /// `spec.postRenderers`, run over what Helm rendered.
    pub post_renderers: Option<Value>,
    /// The credentials of the chart's source (its `spec.secretRef`), for its URL.
    pub credentials: Option<crate::chart_repo::RepoCredentials>,
}

/// A source section that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: `{field}`: {problem}")]
pub struct Error {
    /// The object it was read from.
    pub origin: String,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_str)
}

/// Reads the source of the Argo CD Application, or Flux Kustomization (with the GitRepository
/// it names, which must be among `objects`): the only one, see [`read_named`] to choose.
pub fn read(objects: &[Object]) -> Result<Source, Error> {
    read_named(objects, None)
}

/// [`read`] of the app called `name` (or of the only one, without a name).
pub fn read_named(objects: &[Object], name: Option<&str>) -> Result<Source, Error> {
    use gitops_core::app::Error as AppError;
    let o = gitops_core::app::select("--app", objects, name).map_err(|e| {
        let (field, problem) = match e {
            AppError::Ambiguous { names, .. } => {
                ("metadata.name", format!("{} apps ({}); name the one to use", names.len(), names.join(", ")))
            }
            AppError::NoSuchApp { name, found, .. } => {
                ("metadata.name", format!("no app named {name} (found: {})", found.join(", ")))
            }
            _ => ("kind", "no Argo CD Application or Flux Kustomization found".to_string()),
        };
        Error { origin: "--app".into(), field: field.into(), problem }
    })?;
    match o.kind() {
        "Application" => read_argo(o),
        "HelmRelease" => read_helm_release(o, objects),
        _ => read_flux(o, objects),
    }
}

fn read_argo(o: &Object) -> Result<Source, Error> {
    let err = |field: &str, problem: &str| Error {
        origin: o.origin().to_string(),
        field: field.to_string(),
        problem: problem.to_string(),
    };
    let spec = o.value().get("spec").ok_or_else(|| err("spec", "missing"))?;
    // `spec.sources`, when it lists any, rules and `spec.source` is ignored (as Argo CD does).
    let sources = match spec.get("sources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(_) => return Err(err("spec.sources", "must be a list of sources")),
    };
    if sources.is_empty() {
        let src = spec.get("source").ok_or_else(|| err("spec.source", "missing"))?;
        return read_argo_source(o, spec, src, "spec.source");
    }
    let mut read = Vec::with_capacity(sources.len());
    for (i, src) in sources.into_iter().enumerate() {
        let field = format!("spec.sources[{i}]");
        let mut source = read_argo_source(o, spec, src, &field)?;
        let ref_name = match src.get("ref") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) if !r.is_empty() => Some(r.clone()),
            Some(_) => return Err(err(&format!("{field}.ref"), "must be a name")),
        };
        if let Some(name) = &ref_name {
            if source.chart.is_some() {
                return Err(err(
                    &format!("{field}.ref"),
                    "a source with `ref` cannot have `chart`: a ref source lends Git files only",
                ));
            }
            if read.iter().any(|s: &Source| s.ref_name.as_deref() == Some(name)) {
                return Err(err(&format!("{field}.ref"), &format!("`{name}` is the ref of an earlier source too")));
            }
            // A ref source without a path only lends its files to the others.
            source.renders = str_at(src, &["path"]).is_some_and(|p| !p.is_empty());
        }
        source.ref_name = ref_name;
        // Parameter override files belong to a single-source app.
        source.application = None;
        read.push(source);
    }
    let mut main = read.remove(0);
    main.others = read;
    Ok(main)
}

/// One source section of an Argo CD Application (`field` names it: `spec.source`,
/// `spec.sources[1]`).
fn read_argo_source(o: &Object, spec: &Value, src: &Value, field: &str) -> Result<Source, Error> {
    let err = |f: &str, problem: &str| Error {
        origin: o.origin().to_string(),
        field: match f.strip_prefix("spec.source") {
            Some(rest) => format!("{field}{rest}"),
            None => f.to_string(),
        },
        problem: problem.to_string(),
    };
    let repo_url = str_at(src, &["repoURL"]).ok_or_else(|| err("spec.source.repoURL", "missing"))?.to_string();
    let chart = match src.get("chart") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if !c.trim().is_empty() => Some(c.trim().to_string()),
        Some(_) => return Err(err("spec.source.chart", "must be a chart name")),
    };
    let target = str_at(src, &["targetRevision"]).map(str::trim).filter(|r| !r.is_empty());
    // A chart's repository without a scheme is an OCI registry, as Argo CD reads it (with its
    // repository's `enableOCI`).
    let repo_url = if chart.is_some() && !repo_url.contains("://") {
        format!("oci://{}", repo_url.trim_end_matches('/'))
    } else {
        repo_url
    };
    let (revision, path) = if chart.is_some() {
        // A chart's version or range, as written: empty is the latest release.
        (Reference::Revision(target.unwrap_or("").into()), ".".to_string())
    } else {
        let path = str_at(src, &["path"]).filter(|p| !p.is_empty()).unwrap_or(".").to_string();
        (Reference::Revision(target.unwrap_or("HEAD").into()), path)
    };
    let namespace = str_at(spec, &["destination", "namespace"]).unwrap_or("").to_string();
    let sections: Vec<&str> = ["directory", "helm", "kustomize", "plugin"]
        .into_iter()
        .filter(|k| src.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if sections.len() > 1 {
        return Err(err("spec.source", &format!("has both `{}` and `{}`; give one", sections[0], sections[1])));
    }
    if let (Some(_), Some(other)) = (&chart, sections.iter().find(|s| **s != "helm")) {
        return Err(err(&format!("spec.source.{other}"), "a chart from a chart repository is rendered by Helm only"));
    }
    let renderer = match sections.first().copied() {
        None => Renderer::Auto,
        Some("directory") => {
            let d = &src["directory"];
            if d.get("jsonnet").is_some_and(|j| !j.is_null()) {
                return Err(err("spec.source.directory.jsonnet", "Jsonnet is not supported"));
            }
            Renderer::Directory(DirectoryOptions {
                recurse: d.get("recurse").and_then(Value::as_bool).unwrap_or(false),
                include: str_at(d, &["include"]).map(str::to_string),
                exclude: str_at(d, &["exclude"]).map(str::to_string),
            })
        }
        Some("helm") => Renderer::Helm(helm_options(&src["helm"], o.name(), &namespace, &err)?),
        Some("kustomize") => Renderer::Kustomize(argo_overrides(&src["kustomize"], &err)?),
        Some(_) => {
            let p = &src["plugin"];
            let pairs = |field: &str| -> Result<Vec<(String, String)>, Error> {
                let Some(items) = p.get(field).and_then(Value::as_array) else { return Ok(Vec::new()) };
                items
                    .iter()
                    .map(|i| {
                        let name = str_at(i, &["name"])
                            .ok_or_else(|| err(&format!("spec.source.plugin.{field}[].name"), "missing"))?;
                        let value = match (i.get("value"), i.get("string"), i.get("array"), i.get("map")) {
                            (Some(Value::String(s)), ..) | (_, Some(Value::String(s)), ..) => s.clone(),
                            (_, _, Some(v), _) | (_, _, _, Some(v)) => v.to_string(),
                            _ => String::new(),
                        };
                        Ok((name.to_string(), value))
                    })
                    .collect()
            };
            Renderer::Plugin {
                name: str_at(p, &["name"]).unwrap_or("").to_string(),
                env: pairs("env")?,
                parameters: pairs("parameters")?,
            }
        }
    };
    Ok(Source {
        app_name: o.name().to_string(),
        namespace,
        repo_url,
        revision,
        path,
        chart,
        source_ignore: false,
        ignore: None,
        renderer,
        application: Some(Box::new(o.clone())),
        decryption: None,
        ref_name: None,
        renders: true,
        others: Vec::new(),
        helm_release: None,
    })
}

/// The Argo CD control plane's namespace: an app elsewhere has its namespace in its override
/// file's name.
const CONTROL_PLANE_NAMESPACE: &str = "argocd";

/// The names of Argo CD's parameter override files for an Application, in the order they are
/// applied: `.argocd-source.yaml`, then `.argocd-source-<instance>.yaml`, where the instance
/// is the app's name, or `<namespace>_<name>` for an app outside the control plane's
/// namespace (what Argo CD Image Updater writes with its `git` write-back).
pub fn parameter_override_files(app_name: &str, app_namespace: &str) -> [String; 2] {
    let instance = if app_namespace.is_empty() || app_namespace == CONTROL_PLANE_NAMESPACE {
        app_name.to_string()
    } else {
        format!("{app_namespace}_{app_name}")
    };
    [".argocd-source.yaml".to_string(), format!(".argocd-source-{instance}.yaml")]
}

impl Source {
    /// The source with Argo CD's parameter override files applied, as its repo-server applies
    /// them: each file found in the app's path, read by `read(path)` (`Ok(None)` when absent),
    /// is a JSON merge patch (RFC 7386) over `spec.source`; `repoURL`, `path`, `chart` and
    /// `targetRevision` are then restored. `Ok(None)` when there is no file (or no
    /// Application).
    pub fn with_parameter_overrides<E: std::fmt::Display>(
        &self,
        read: impl Fn(&str) -> Result<Option<String>, E>,
    ) -> Result<Option<Source>, Error> {
        let Some(app) = self.application.as_deref() else { return Ok(None) };
        if self.chart.is_some() {
            return Ok(None);
        }
        let mut value = app.value().clone();
        let Some(original) = value.pointer("/spec/source").cloned() else { return Ok(None) };
        let original = original.as_object().cloned().unwrap_or_default();
        let mut found = false;
        for name in parameter_override_files(app.name(), app.namespace()) {
            let rel =
                if self.path == "." { name.clone() } else { format!("{}/{name}", self.path.trim_end_matches('/')) };
            let err = |problem: String| Error { origin: rel.clone(), field: "spec.source".into(), problem };
            let Some(text) = read(&rel).map_err(|e| err(e.to_string()))? else { continue };
            let patch =
                match gitops_core::yaml::parse_documents(&text).map_err(|e| err(e.to_string()))?.into_iter().next() {
                    Some(doc) if doc.value.is_object() => doc.value,
                    Some(_) => return Err(err("must be a YAML mapping (a partial ApplicationSource)".into())),
                    None => continue,
                };
            if let Some(source) = value.pointer_mut("/spec/source") {
                json_patch::merge(source, &patch);
            }
            found = true;
        }
        if !found {
            return Ok(None);
        }
        if let Some(Value::Object(source)) = value.pointer_mut("/spec/source") {
            for field in ["repoURL", "path", "chart", "targetRevision"] {
                match original.get(field) {
                    Some(v) => source.insert(field.to_string(), v.clone()),
                    None => source.remove(field),
                };
            }
        }
        let mut patched = app.clone();
        *patched.value_mut() = value;
        read_argo(&patched).map(Some)
    }
}

/// Argo CD's `kustomize` section. Fields that change how kustomize runs rather than what the
/// kustomization says (a kustomize version, label options) are refused by name.
fn argo_overrides(k: &Value, err: &dyn Fn(&str, &str) -> Error) -> Result<Overrides, Error> {
    let Value::Object(map) = k else { return Err(err("spec.source.kustomize", "must be a map")) };
    let mut o = Overrides::default();
    for (key, value) in map {
        let field = format!("spec.source.kustomize.{key}");
        let string = || value.as_str().map(str::to_string).ok_or_else(|| err(&field, "must be a string"));
        let list = || value.as_array().cloned().ok_or_else(|| err(&field, "must be a list"));
        let string_map = || -> Result<std::collections::BTreeMap<String, String>, Error> {
            let Value::Object(m) = value else { return Err(err(&field, "must be a map of strings")) };
            m.iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|v| (k.clone(), v.to_string()))
                        .ok_or_else(|| err(&field, "must be a map of strings"))
                })
                .collect()
        };
        match key.as_str() {
            _ if value.is_null() => {}
            "namePrefix" => o.name_prefix = Some(string()?),
            "nameSuffix" => o.name_suffix = Some(string()?),
            "namespace" => o.namespace = Some(string()?).filter(|n| !n.is_empty()),
            "commonLabels" => o.common_labels = string_map()?,
            "commonAnnotations" => o.common_annotations = string_map()?,
            "images" => o.images = list()?,
            "replicas" => o.replicas = list()?,
            "patches" => o.patches = list()?,
            _ => return Err(err(&field, "not supported by the native Kustomize renderer")),
        }
    }
    Ok(o)
}

fn helm_options(
    h: &Value,
    app: &str,
    namespace: &str,
    err: &dyn Fn(&str, &str) -> Error,
) -> Result<HelmOptions, Error> {
    let strings = |field: &str| -> Result<Vec<String>, Error> {
        match h.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| err(&format!("spec.source.helm.{field}"), "not a list of strings"))
                })
                .collect(),
            Some(_) => Err(err(&format!("spec.source.helm.{field}"), "not a list of strings")),
        }
    };
    let values = match (h.get("values"), h.get("valuesObject")) {
        (_, Some(obj)) if !obj.is_null() => Some(serde_json::to_string(obj).unwrap_or_default()),
        (Some(Value::String(s)), _) => Some(s.clone()),
        (Some(Value::Null) | None, _) => None,
        (Some(_), _) => return Err(err("spec.source.helm.values", "not a string (use valuesObject for a map)")),
    };
    let mut parameters = Vec::new();
    for p in h.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        parameters.push(Parameter {
            name: str_at(p, &["name"]).ok_or_else(|| err("spec.source.helm.parameters[].name", "missing"))?.to_string(),
            value: str_at(p, &["value"]).unwrap_or("").to_string(),
            // Go's JSON decoding matches field names case-insensitively, and Image Updater's
            // override files write `forcestring`.
            force_string: ["forceString", "forcestring"]
                .iter()
                .find_map(|k| p.get(*k))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        });
    }
    // Argo CD renders with Helm 3 only: `version: v2` is refused as Argo CD refuses it.
    match str_at(h, &["version"]).map(str::trim) {
        None | Some("" | "v3") => {}
        Some(other) => return Err(err("spec.source.helm.version", &format!("`{other}`: only Helm v3 is supported"))),
    }
    let mut file_parameters = Vec::new();
    for p in h.get("fileParameters").and_then(Value::as_array).into_iter().flatten() {
        let name = str_at(p, &["name"]).ok_or_else(|| err("spec.source.helm.fileParameters[].name", "missing"))?;
        let path = str_at(p, &["path"]).ok_or_else(|| err("spec.source.helm.fileParameters[].path", "missing"))?;
        file_parameters.push((name.to_string(), path.to_string()));
    }
    Ok(HelmOptions {
        release_name: str_at(h, &["releaseName"]).filter(|r| !r.is_empty()).unwrap_or(app).to_string(),
        namespace: str_at(h, &["namespace"]).filter(|n| !n.is_empty()).unwrap_or(namespace).to_string(),
        value_files: strings("valueFiles")?,
        values,
        parameters,
        file_parameters,
        skip_crds: h.get("skipCrds").and_then(Value::as_bool).unwrap_or(false),
        skip_schema_validation: h.get("skipSchemaValidation").and_then(Value::as_bool).unwrap_or(false),
        skip_tests: h.get("skipTests").and_then(Value::as_bool).unwrap_or(false),
        pass_credentials: h.get("passCredentials").and_then(Value::as_bool).unwrap_or(false),
        ignore_missing_value_files: h.get("ignoreMissingValueFiles").and_then(Value::as_bool).unwrap_or(false),
        api_versions: strings("apiVersions")?,
        kube_version: str_at(h, &["kubeVersion"]).map(str::to_string),
    })
}

fn read_flux(k: &Object, objects: &[Object]) -> Result<Source, Error> {
    let err = |o: &Object, field: &str, problem: &str| Error {
        origin: o.origin().to_string(),
        field: field.to_string(),
        problem: problem.to_string(),
    };
    let spec = k.value().get("spec").ok_or_else(|| err(k, "spec", "missing"))?;
    let kind = str_at(spec, &["sourceRef", "kind"]).unwrap_or("");
    if kind != "GitRepository" {
        return Err(err(k, "spec.sourceRef.kind", &format!("`{kind}` sources are not supported; use a GitRepository")));
    }
    let name = str_at(spec, &["sourceRef", "name"]).ok_or_else(|| err(k, "spec.sourceRef.name", "missing"))?;
    let repo = objects
        .iter()
        .find(|o| o.group() == "source.toolkit.fluxcd.io" && o.kind() == "GitRepository" && o.name() == name)
        .ok_or_else(|| {
            err(k, "spec.sourceRef.name", &format!("GitRepository `{name}` is not among the objects given"))
        })?;
    let rspec = repo.value().get("spec").ok_or_else(|| err(repo, "spec", "missing"))?;
    let url = str_at(rspec, &["url"]).ok_or_else(|| err(repo, "spec.url", "missing"))?.to_string();
    let revision = git_repository_revision(rspec);
    let path = str_at(spec, &["path"])
        .map(|p| p.trim_start_matches("./").to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or(".".into());
    Ok(Source {
        app_name: k.name().to_string(),
        namespace: str_at(spec, &["targetNamespace"]).unwrap_or("").to_string(),
        repo_url: url,
        revision,
        path,
        chart: None,
        source_ignore: true,
        ignore: str_at(rspec, &["ignore"]).map(str::to_string),
        renderer: Renderer::Kustomize(flux_overrides(k, spec, &err)?),
        application: None,
        decryption: flux_decryption(k, spec, &err)?,
        ref_name: None,
        renders: true,
        others: Vec::new(),
        helm_release: None,
    })
}

/// A Flux GitRepository's revision, by Flux's precedence: commit, then name, then semver, then
/// tag, then branch (`master` when none is given).
fn git_repository_revision(rspec: &Value) -> Reference {
    let r = rspec.get("ref");
    let pick = |f: &str| r.and_then(|r| str_at(r, &[f])).filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(c) = pick("commit") {
        Reference::Commit(c)
    } else if let Some(n) = pick("name") {
        Reference::Revision(n)
    } else if let Some(s) = pick("semver") {
        Reference::Semver(s)
    } else if let Some(t) = pick("tag") {
        Reference::Tag(t)
    } else {
        Reference::Branch(pick("branch").unwrap_or_else(|| "master".into()))
    }
}

/// Reads a Flux HelmRelease's chart source (its HelmRepository, GitRepository, OCIRepository or
/// HelmChart must be among `objects`) and composes its values (the ConfigMaps and Secrets of
/// `valuesFrom` must be too), as helm-controller does before it runs Helm.
fn read_helm_release(hr: &Object, objects: &[Object]) -> Result<Source, Error> {
    use gitops_core::helm_release::{spec, values};
    let release =
        spec::HelmReleaseSpec::read(hr).map_err(|e| Error { origin: e.origin, field: e.field, problem: e.problem })?;
    let origin = format!("HelmRelease {}/{}", release.namespace, release.name);
    let err = |o: &Object, field: &str, problem: String| Error {
        origin: o.origin().to_string(),
        field: field.into(),
        problem,
    };
    let find = |r: &spec::SourceRef, field: &str| {
        objects
            .iter()
            .find(|o| {
                o.group() == "source.toolkit.fluxcd.io"
                    && o.kind() == r.kind
                    && o.name() == r.name
                    && o.namespace() == r.namespace
            })
            .ok_or_else(|| {
                err(hr, field, format!("{} `{}/{}` is not among the objects given", r.kind, r.namespace, r.name))
            })
    };
    // A source's `spec.secretRef`: the Secret of its namespace holding its credentials.
    let credentials_of = |o: &Object, url: &str| -> Result<Option<crate::chart_repo::RepoCredentials>, Error> {
        let Some(name) = str_at(o.value(), &["spec", "secretRef", "name"]).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        let secret = objects
            .iter()
            .find(|s| {
                s.group().is_empty() && s.kind() == "Secret" && s.name() == name && s.namespace() == o.namespace()
            })
            .ok_or_else(|| {
                err(
                    o,
                    "spec.secretRef.name",
                    format!("Secret `{}/{name}` is not among the objects given", o.namespace()),
                )
            })?;
        Ok(Some(crate::chart_repo::RepoCredentials {
            url: url.to_string(),
            prefix: false,
            credentials: crate::chart_repo::Credentials::from_flux_secret(secret),
        }))
    };
    let url_of = |o: &Object| {
        str_at(o.value(), &["spec", "url"])
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .ok_or_else(|| err(o, "spec.url", "missing".into()))
    };
    // (repository URL, chart name for a chart repository, revision, path in a Git repository,
    // value files of the chart, Flux source ignore rules)
    let template = |chart: &str, version: &str, source: &spec::SourceRef, field: &str| -> Result<_, Error> {
        let repo = find(source, field)?;
        let url = url_of(repo)?;
        match source.kind.as_str() {
            "HelmRepository" => {
                // An OCI HelmRepository's URL is `oci://...` already; `type: oci` says so too.
                let url = match str_at(repo.value(), &["spec", "type"]) {
                    Some("oci") if !url.starts_with("oci://") => format!("oci://{url}"),
                    _ => url,
                };
                let version = if version == "*" { "" } else { version };
                let credentials = credentials_of(repo, &url)?;
                let revision = Reference::Revision(version.to_string());
                Ok((url, Some(chart.to_string()), revision, ".".to_string(), None, credentials))
            }
            "GitRepository" => {
                let rspec = repo.value().get("spec").cloned().unwrap_or(Value::Null);
                let path = chart.trim_start_matches("./").to_string();
                let ignore = str_at(&rspec, &["ignore"]).map(str::to_string);
                Ok((url, None, git_repository_revision(&rspec), path, Some(ignore), None))
            }
            other => Err(err(
                hr,
                &format!("{field}.kind"),
                format!("`{other}` sources are not supported; use a HelmRepository or a GitRepository"),
            )),
        }
    };
    let (repo_url, chart, revision, path, ignore, values_files, credentials) = match &release.chart {
        spec::Chart::Template { chart, version, source, values_files } => {
            let (u, c, r, p, i, k) = template(chart, version, source, "spec.chart.spec.sourceRef")?;
            (u, c, r, p, i, values_files.clone(), k)
        }
        spec::Chart::Ref(r) if r.kind == "HelmChart" => {
            let helm_chart = find(r, "spec.chartRef")?;
            let hspec = helm_chart.value().get("spec").cloned().unwrap_or(Value::Null);
            let chart = str_at(&hspec, &["chart"]).ok_or_else(|| err(helm_chart, "spec.chart", "missing".into()))?;
            let version = str_at(&hspec, &["version"]).filter(|v| !v.is_empty()).unwrap_or("*");
            let source = spec::SourceRef {
                kind: str_at(&hspec, &["sourceRef", "kind"]).unwrap_or("").to_string(),
                name: str_at(&hspec, &["sourceRef", "name"]).unwrap_or("").to_string(),
                namespace: helm_chart.namespace().to_string(),
            };
            let files = hspec
                .get("valuesFiles")
                .and_then(Value::as_array)
                .map(|f| f.iter().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>());
            let (u, c, rev, p, i, k) = template(chart, version, &source, "spec.chartRef")?;
            (u, c, rev, p, i, files.unwrap_or_default(), k)
        }
        spec::Chart::Ref(r) => {
            // An OCIRepository names the chart's artifact itself: `oci://<registry>/<path>/<chart>`.
            let repo = find(r, "spec.chartRef")?;
            let url = url_of(repo)?;
            let Some((base, chart)) = url
                .trim_end_matches('/')
                .rsplit_once('/')
                .filter(|(b, _)| b.contains("://") && !b.ends_with(':') && !b.ends_with('/'))
            else {
                return Err(err(
                    repo,
                    "spec.url",
                    format!("`{url}` does not name a chart (oci://<registry>/<path>/<chart>)"),
                ));
            };
            let rspec = repo.value().get("spec").cloned().unwrap_or(Value::Null);
            if str_at(&rspec, &["ref", "digest"]).is_some_and(|d| !d.is_empty()) {
                return Err(err(
                    repo,
                    "spec.ref.digest",
                    "charts by digest are not supported yet; give a tag or a semver range".into(),
                ));
            }
            let version = str_at(&rspec, &["ref", "semver"])
                .or_else(|| str_at(&rspec, &["ref", "tag"]))
                .filter(|v| !v.is_empty())
                .unwrap_or("latest");
            let credentials = credentials_of(repo, base)?;
            (
                base.to_string(),
                Some(chart.to_string()),
                Reference::Revision(version.to_string()),
                ".".to_string(),
                None,
                Vec::new(),
                credentials,
            )
        }
    };
    let refs = values::read_values_from(hr.value().get("spec").unwrap_or(&Value::Null), &origin)
        .map_err(|e| err(hr, "spec.valuesFrom", e.to_string()))?;
    let composed = values::compose(&origin, &release.namespace, &refs, hr.value().pointer("/spec/values"), objects)
        .map_err(|e| err(hr, "spec.valuesFrom", e.to_string()))?;
    let config_digest = values::config_digest(&composed);
    // JSON is YAML: helm reads it as a values file.
    let values_text = serde_json::to_string(&composed).unwrap_or_default();
    Ok(Source {
        app_name: release.name.clone(),
        namespace: release.target_namespace.clone(),
        repo_url,
        revision,
        path,
        chart,
        source_ignore: ignore.is_some(),
        ignore: ignore.flatten(),
        renderer: Renderer::Helm(HelmOptions {
            release_name: release.release_name.clone(),
            namespace: release.target_namespace.clone(),
            value_files: values_files,
            values: Some(values_text),
            skip_crds: release.install.crds == spec::Crds::Skip,
            ..HelmOptions::default()
        }),
        application: None,
        decryption: None,
        ref_name: None,
        renders: true,
        others: Vec::new(),
        helm_release: Some(HelmReleaseRender {
            origin,
            config_digest,
            post_renderers: release.post_renderers.clone(),
            credentials,
        }),
    })
}

/// `spec.decryption`: the decryption Secret's `namespace/name` (the name empty without a
/// `secretRef`), or `None`.
fn flux_decryption(
    k: &Object,
    spec: &Value,
    err: &dyn Fn(&Object, &str, &str) -> Error,
) -> Result<Option<(String, String)>, Error> {
    let Some(d) = spec.get("decryption").filter(|d| !d.is_null()) else { return Ok(None) };
    let provider = str_at(d, &["provider"]).unwrap_or("");
    if provider != crate::decrypt::PROVIDER_SOPS {
        return Err(err(k, "spec.decryption.provider", &format!("`{provider}`: the only provider is sops")));
    }
    let namespace = if k.namespace().is_empty() { "default" } else { k.namespace() };
    Ok(Some((namespace.to_string(), str_at(d, &["secretRef", "name"]).unwrap_or("").to_string())))
}

/// A Flux Kustomization's fields that change the kustomization; fields Flux applies after the
/// build (`postBuild`, `components`) are refused by name.
fn flux_overrides(k: &Object, spec: &Value, err: &dyn Fn(&Object, &str, &str) -> Error) -> Result<Overrides, Error> {
    // `kubeConfig` is where the app goes, not how it renders (see `gitops_core::app::KubeConfigRef`).
    for field in ["postBuild", "components"] {
        if spec.get(field).is_some_and(|v| !v.is_null()) {
            return Err(err(k, &format!("spec.{field}"), "not supported yet"));
        }
    }
    let list = |field: &str| -> Result<Vec<Value>, Error> {
        match spec.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(err(k, &format!("spec.{field}"), "must be a list")),
        }
    };
    Ok(Overrides {
        name_prefix: str_at(spec, &["namePrefix"]).map(str::to_string),
        name_suffix: str_at(spec, &["nameSuffix"]).map(str::to_string),
        namespace: str_at(spec, &["targetNamespace"]).filter(|n| !n.is_empty()).map(str::to_string),
        images: list("images")?,
        patches: list("patches")?,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Object> {
        gitops_core::manifest::parse("app.yaml", text).expect("parse")
    }

    #[test]
    fn argo_application_sources() {
        let app = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  destination: {namespace: prod}\n  source:\n    repoURL: https://git.example.com/shop.git\n    targetRevision: v1.2.0\n    path: charts/web\n    helm:\n      valueFiles: [prod.yaml]\n      valuesObject: {replicas: 3}\n      parameters: [{name: image.tag, value: '2', forceString: true}]\n",
        );
        let s = read(&app).expect("source");
        assert_eq!((s.repo_url.as_str(), s.path.as_str()), ("https://git.example.com/shop.git", "charts/web"));
        assert_eq!(s.revision, Reference::Revision("v1.2.0".into()));
        let Renderer::Helm(h) = s.renderer else { panic!("helm") };
        assert_eq!((h.release_name.as_str(), h.namespace.as_str()), ("shop", "prod"));
        assert_eq!(h.value_files, ["prod.yaml"]);
        assert_eq!(h.values.as_deref(), Some(r#"{"replicas":3}"#));
        assert!(h.parameters[0].force_string);
    }

    #[test]
    fn parameter_override_files_patch_the_source_but_not_where_it_is() {
        let app = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: team}\nspec:\n  source:\n    repoURL: https://git.example.com/shop.git\n    path: charts/web\n    helm:\n      releaseName: keep\n      parameters: [{name: replicas, value: '2'}]\n",
        );
        let s = read(&app).unwrap();
        let files: std::collections::HashMap<&str, &str> = [
            ("charts/web/.argocd-source.yaml", "helm:\n  parameters: [{name: a, value: '1'}]\n"),
            (
                "charts/web/.argocd-source-team_web.yaml",
                "path: elsewhere\nhelm:\n  parameters:\n  - {name: image.tag, value: '1.2.0', forcestring: true}\n",
            ),
        ]
        .into();
        let read_file = |rel: &str| Ok::<_, String>(files.get(rel).map(|t| t.to_string()));
        let patched = s.with_parameter_overrides(read_file).unwrap().expect("files found");
        assert_eq!(patched.path, "charts/web", "where the source is stays as the Application says");
        let Renderer::Helm(h) = patched.renderer else { panic!("helm") };
        assert_eq!(h.release_name, "keep", "a merge patch keeps what it does not name");
        let names: Vec<_> = h.parameters.iter().map(|p| (p.name.as_str(), p.value.as_str())).collect();
        assert_eq!(names, [("image.tag", "1.2.0")], "lists are replaced whole, the instance file last");
        assert!(h.parameters[0].force_string, "`forcestring`, as Image Updater writes it");
        assert_eq!(parameter_override_files("web", "argocd")[1], ".argocd-source-web.yaml");
        let none = |_: &str| Ok::<_, String>(None);
        assert!(s.with_parameter_overrides(none).unwrap().is_none());
        let bad = |_: &str| Ok::<_, String>(Some("- a list\n".to_string()));
        let err = s.with_parameter_overrides(bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "charts/web/.argocd-source.yaml: `spec.source`: must be a YAML mapping (a partial ApplicationSource)"
        );
    }

    #[test]
    fn unsupported_fields_are_named() {
        let multi = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  sources: [{repoURL: https://a.example/r}, {repoURL: https://b.example/r, directory: {jsonnet: {}}}]\n",
        );
        assert_eq!(read(&multi).unwrap_err().field, "spec.sources[1].directory.jsonnet", "named in its source");
        let oci = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source: {repoURL: registry.example.com/charts/, chart: web}\n",
        );
        assert_eq!(read(&oci).unwrap().repo_url, "oci://registry.example.com/charts", "no scheme: an OCI registry");
        let kustomized = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source: {repoURL: https://charts.example.com, chart: web, kustomize: {namePrefix: x-}}\n",
        );
        assert_eq!(read(&kustomized).unwrap_err().field, "spec.source.kustomize");
        let helm2 = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source: {repoURL: https://charts.example.com, chart: web, helm: {version: v2}}\n",
        );
        let e = read(&helm2).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.problem.as_str()),
            ("spec.source.helm.version", "`v2`: only Helm v3 is supported")
        );
        let skipping = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source: {repoURL: https://charts.example.com, chart: web, helm: {version: v3, skipSchemaValidation: true, skipTests: true}}\n",
        );
        let Renderer::Helm(h) = read(&skipping).unwrap().renderer else { panic!("helm") };
        assert!(h.skip_schema_validation && h.skip_tests);
    }

    #[test]
    fn argo_application_from_a_chart_repository() {
        let app = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  destination: {namespace: prod}\n  source:\n    repoURL: https://charts.example.com/stable\n    chart: web\n    targetRevision: 1.2.x\n    path: ignored\n    helm: {releaseName: web, valueFiles: [values-prod.yaml]}\n",
        );
        let s = read(&app).expect("source");
        assert_eq!(s.chart.as_deref(), Some("web"));
        assert_eq!((s.revision, s.path.as_str()), (Reference::Revision("1.2.x".into()), "."));
        let Renderer::Helm(h) = s.renderer else { panic!("helm") };
        assert_eq!(
            (h.release_name.as_str(), h.value_files.as_slice()),
            ("web", ["values-prod.yaml".to_string()].as_slice())
        );
        let latest = parse(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source: {repoURL: https://charts.example.com, chart: web}\n",
        );
        let s = read(&latest).expect("source");
        assert_eq!((s.revision, s.renderer), (Reference::Revision(String::new()), Renderer::Auto));
    }

    #[test]
    fn flux_kustomization_with_its_git_repository() {
        let objs = parse(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: shop}\nspec:\n  url: https://git.example.com/shop.git\n  ref: {semver: '>=1.0.0 <2.0.0', branch: main}\n  ignore: |\n    *.md\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: shop}\nspec:\n  sourceRef: {kind: GitRepository, name: shop}\n  path: ./deploy/prod\n  targetNamespace: prod\n",
        );
        let s = read(&objs).expect("source");
        assert_eq!(s.revision, Reference::Semver(">=1.0.0 <2.0.0".into()));
        assert_eq!((s.path.as_str(), s.namespace.as_str()), ("deploy/prod", "prod"));
        assert_eq!(s.ignore.as_deref(), Some("*.md\n"));
        let missing = parse(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k}\nspec:\n  sourceRef: {kind: GitRepository, name: nope}\n",
        );
        assert!(read(&missing).unwrap_err().problem.contains("GitRepository `nope`"));
    }
}
