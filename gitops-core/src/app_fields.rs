//! The fields an Argo CD Application and a Flux Kustomization have, so that a misspelt one
//! (`spec.sycnPolicy`, `helm.valueFile`, `directory.recursive`) is named, with the known field it
//! is nearest to, instead of being ignored in silence as the API server's pruning would.
//!
//! ```
//! use gitops_core::{app_fields, manifest};
//! let app = manifest::parse("app.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Application\n\
//!     metadata: {name: a}\nspec: {destination: {namespace: a}, sycnPolicy: {}}\n")?;
//! let unknown = app_fields::unknown(&app[0]);
//! assert_eq!(unknown[0].to_string(), "spec.sycnPolicy: not a field of an Application (did you mean spec.syncPolicy?)");
//! # Ok::<(), gitops_core::manifest::Error>(())
//! ```

use serde_json::Value;

use crate::Object;

/// A field the app's kind does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Its path, `spec.source.helm.valueFile`.
    pub path: String,
    /// The kind it was found in.
    pub kind: &'static str,
    /// The known field nearest to it at the same place, if one is near enough to be meant.
    pub nearest: Option<String>,
}

impl std::fmt::Display for UnknownField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: not a field of {} {}", self.path, article(self.kind), self.kind)?;
        if let Some(n) = &self.nearest {
            write!(f, " (did you mean {n}?)")?;
        }
        Ok(())
    }
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['A', 'E', 'I', 'O', 'U']) { "an" } else { "a" }
}

/// What a field holds, for the walk.
enum Shape {
    /// Any value: not looked into.
    Any,
    /// A map with these fields.
    Fields(&'static [(&'static str, Shape)]),
    /// A list of maps with these fields.
    ListOf(&'static [(&'static str, Shape)]),
}

use Shape::{Any, Fields, ListOf};

const HELM: &[(&str, Shape)] = &[
    ("valueFiles", Any),
    ("values", Any),
    ("valuesObject", Any),
    ("parameters", Any),
    ("fileParameters", Any),
    ("releaseName", Any),
    ("passCredentials", Any),
    ("ignoreMissingValueFiles", Any),
    ("skipCrds", Any),
    ("skipSchemaValidation", Any),
    ("skipTests", Any),
    ("version", Any),
    ("kubeVersion", Any),
    ("apiVersions", Any),
    ("namespace", Any),
];

const KUSTOMIZE: &[(&str, Shape)] = &[
    ("namePrefix", Any),
    ("nameSuffix", Any),
    ("images", Any),
    ("commonLabels", Any),
    ("commonAnnotations", Any),
    ("commonAnnotationsEnvsubst", Any),
    ("forceCommonLabels", Any),
    ("forceCommonAnnotations", Any),
    ("namespace", Any),
    ("version", Any),
    ("replicas", Any),
    ("patches", Any),
    ("components", Any),
    ("ignoreMissingComponents", Any),
    ("labelWithoutSelector", Any),
    ("labelIncludeTemplates", Any),
    ("kubeVersion", Any),
    ("apiVersions", Any),
];

const DIRECTORY: &[(&str, Shape)] = &[("recurse", Any), ("include", Any), ("exclude", Any), ("jsonnet", Any)];

const PLUGIN: &[(&str, Shape)] = &[("name", Any), ("env", Any), ("parameters", Any)];

const SOURCE: &[(&str, Shape)] = &[
    ("repoURL", Any),
    ("path", Any),
    ("targetRevision", Any),
    ("chart", Any),
    ("ref", Any),
    ("name", Any),
    ("helm", Fields(HELM)),
    ("kustomize", Fields(KUSTOMIZE)),
    ("directory", Fields(DIRECTORY)),
    ("plugin", Fields(PLUGIN)),
];

const SYNC_POLICY: &[(&str, Shape)] = &[
    ("automated", Fields(&[("prune", Any), ("selfHeal", Any), ("allowEmpty", Any), ("enabled", Any)])),
    ("syncOptions", Any),
    (
        "retry",
        Fields(&[
            ("limit", Any),
            ("refresh", Any),
            ("backoff", Fields(&[("duration", Any), ("factor", Any), ("maxDuration", Any)])),
        ]),
    ),
    ("managedNamespaceMetadata", Fields(&[("labels", Any), ("annotations", Any)])),
];

const APPLICATION: &[(&str, Shape)] = &[
    ("project", Any),
    ("source", Fields(SOURCE)),
    ("sources", ListOf(SOURCE)),
    ("destination", Fields(&[("server", Any), ("name", Any), ("namespace", Any)])),
    ("syncPolicy", Fields(SYNC_POLICY)),
    ("ignoreDifferences", Any),
    ("info", Any),
    ("revisionHistoryLimit", Any),
    ("sourceHydrator", Any),
];

const KUSTOMIZATION: &[(&str, Shape)] = &[
    ("interval", Any),
    ("retryInterval", Any),
    ("path", Any),
    ("prune", Any),
    ("deletionPolicy", Any),
    ("sourceRef", Fields(&[("apiVersion", Any), ("kind", Any), ("name", Any), ("namespace", Any)])),
    ("targetNamespace", Any),
    ("suspend", Any),
    ("healthChecks", Any),
    ("healthCheckExprs", Any),
    ("wait", Any),
    ("timeout", Any),
    ("dependsOn", Any),
    ("decryption", Any),
    ("postBuild", Any),
    ("patches", Any),
    ("images", Any),
    ("namePrefix", Any),
    ("nameSuffix", Any),
    ("components", Any),
    ("ignoreMissingComponents", Any),
    ("commonMetadata", Any),
    ("force", Any),
    ("kubeConfig", Any),
    ("serviceAccountName", Any),
];

/// The fields of `app`'s `spec` its kind does not have (none for objects that are not apps).
pub fn unknown(app: &Object) -> Vec<UnknownField> {
    let (kind, fields) = match (app.group(), app.kind()) {
        ("argoproj.io", "Application") => ("Application", APPLICATION),
        ("kustomize.toolkit.fluxcd.io", "Kustomization") => ("Kustomization", KUSTOMIZATION),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    if let Some(spec) = app.value().get("spec") {
        walk(spec, fields, "spec", kind, &mut out);
    }
    out
}

fn walk(
    v: &Value,
    fields: &'static [(&'static str, Shape)],
    at: &str,
    kind: &'static str,
    out: &mut Vec<UnknownField>,
) {
    let Some(map) = v.as_object() else { return };
    for (key, value) in map {
        let path = format!("{at}.{key}");
        match fields.iter().find(|(name, _)| name == key) {
            Some((_, Fields(inner))) => walk(value, inner, &path, kind, out),
            Some((_, ListOf(inner))) => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    walk(item, inner, &format!("{path}[{i}]"), kind, out);
                }
            }
            Some((_, Any)) => {}
            None => {
                let nearest = nearest(key, fields.iter().map(|(n, _)| *n)).map(|n| format!("{at}.{n}"));
                out.push(UnknownField { path, kind, nearest });
            }
        }
    }
}

/// The known name nearest to `key`, if near enough to be a slip: an edit distance (case
/// ignored, a swap of two neighbours counting once) of at most a third of its length, and 3.
fn nearest<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).clamp(1, 3);
    let key = key.to_lowercase();
    known.map(|k| (strsim::osa_distance(&key, &k.to_lowercase()), k)).filter(|(d, _)| *d <= limit).min().map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown_in(yaml: &str) -> Vec<String> {
        let o = crate::manifest::parse("app.yaml", yaml).unwrap().remove(0);
        unknown(&o).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn misspelt_fields_are_named_with_the_one_meant() {
        let found = unknown_in(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  destination: {namespace: a}\n  sycnPolicy: {}\n  source:\n    repoURL: x\n    directory: {recursive: true}\n    helm: {valueFile: [a.yaml]}\n  sources:\n  - {repoURL: y, targetRevison: main}\n  syncPolicy: {automated: {selfheal: true}}\n  frobnicate: 1\n",
        );
        assert_eq!(
            found,
            [
                "spec.frobnicate: not a field of an Application",
                "spec.source.directory.recursive: not a field of an Application (did you mean spec.source.directory.recurse?)",
                "spec.source.helm.valueFile: not a field of an Application (did you mean spec.source.helm.valueFiles?)",
                "spec.sources[0].targetRevison: not a field of an Application (did you mean spec.sources[0].targetRevision?)",
                "spec.sycnPolicy: not a field of an Application (did you mean spec.syncPolicy?)",
                "spec.syncPolicy.automated.selfheal: not a field of an Application (did you mean spec.syncPolicy.automated.selfHeal?)",
            ]
        );
        let flux = unknown_in(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a}\nspec: {interval: 5m, prun: true, sourceRef: {kind: GitRepository, nme: r}}\n",
        );
        assert_eq!(
            flux,
            [
                "spec.prun: not a field of a Kustomization (did you mean spec.prune?)",
                "spec.sourceRef.nme: not a field of a Kustomization (did you mean spec.sourceRef.name?)",
            ]
        );
        assert!(unknown_in("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: y}\n").is_empty());
    }
}
