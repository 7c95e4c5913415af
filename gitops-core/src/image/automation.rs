//! Flux `ImageUpdateAutomation` (image.toolkit.fluxcd.io v1beta1, v1beta2 and v1): what it
//! updates, where it pushes, who commits, and the commit message its template renders.
//!
//! The message template is Go `text/template` over the data Flux gives it:
//! `.AutomationObject` (`namespace/name`), `.Changed.FileChanges` (file → object → changes),
//! `.Changed.Changes` (every change once, in file order), `.Changed.Objects` (object →
//! changes; its keys are objects, so `range $resource, $changes := .Changed.Objects` gives
//! `$resource.Kind`, `.Name`, `.Namespace`, `.APIVersion`) and `.Values`
//! (`messageTemplateValues`). Templates of the older API that use `.Updated` or
//! `.Changed.ImageResult` get Flux's advice to move to `.Changed`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::appset::selector::Selector;
use crate::appset::template::go::{self, GoOptions, keyed_map};
use crate::image::setters::{Change, ObjectId};

/// The API group of Flux's image automation objects.
pub const GROUP: &str = "image.toolkit.fluxcd.io";

/// The message Flux commits with when the automation has no template.
pub const DEFAULT_MESSAGE: &str = "Update from image update automation";

/// Why an automation does not read, or its message does not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutomationError {
    /// A field is missing or malformed.
    #[error("ImageUpdateAutomation {namespace}/{name}: {field}: {problem}")]
    Field {
        /// The automation's namespace.
        namespace: String,
        /// The automation's name.
        name: String,
        /// The field (`spec.git.commit.author.email`).
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The object is not an ImageUpdateAutomation.
    #[error("not an ImageUpdateAutomation ({0})")]
    NotAnAutomation(String),
    /// The commit message template does not render.
    #[error("ImageUpdateAutomation {automation}: spec.git.commit.messageTemplate: {problem}")]
    Template {
        /// `namespace/name`.
        automation: String,
        /// What is wrong.
        problem: String,
    },
}

/// The commit author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// `name` (may be empty).
    pub name: String,
    /// `email` (required).
    pub email: String,
}

/// Which reference to check out (`spec.git.checkout.ref`, else the GitRepository's).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckoutRef {
    /// `branch`.
    pub branch: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
    /// `semver`.
    pub semver: Option<String>,
    /// `name` (a full reference).
    pub name: Option<String>,
    /// `commit`.
    pub commit: Option<String>,
}

impl CheckoutRef {
    /// Reads a `ref` object (GitRepository `spec.ref` or `spec.git.checkout.ref`).
    pub fn from_json(value: Option<&Value>) -> CheckoutRef {
        let pick = |f: &str| value.and_then(|v| v.get(f)).and_then(Value::as_str).filter(|s| !s.is_empty());
        CheckoutRef {
            branch: pick("branch").map(String::from),
            tag: pick("tag").map(String::from),
            semver: pick("semver").map(String::from),
            name: pick("name").map(String::from),
            commit: pick("commit").map(String::from),
        }
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == CheckoutRef::default()
    }
}

/// An ImageUpdateAutomation, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Automation {
    /// `metadata.namespace` (`default` when absent).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.sourceRef` name (a GitRepository).
    pub source_name: String,
    /// `spec.sourceRef.namespace` (the automation's when absent).
    pub source_namespace: String,
    /// `spec.git.checkout.ref` (empty: the GitRepository's).
    pub checkout: CheckoutRef,
    /// `spec.git.push.branch`; `None` pushes to the checked-out branch.
    pub push_branch: Option<String>,
    /// `spec.git.push.refspec`.
    pub push_refspec: Option<String>,
    /// `spec.git.commit.author`.
    pub author: Author,
    /// `spec.git.commit.messageTemplate`.
    pub message_template: Option<String>,
    /// `spec.git.commit.messageTemplateValues`.
    pub message_values: BTreeMap<String, String>,
    /// `spec.update.path`, without a leading `./` (`.` for the whole repository).
    pub update_path: String,
    /// `spec.policySelector`; empty selects every policy of the namespace.
    pub policy_selector: Selector,
    /// `spec.interval` as written.
    pub interval: Option<String>,
    /// `spec.suspend`.
    pub suspend: bool,
}

impl Automation {
    /// `namespace/name`, as Flux's `.AutomationObject` prints.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Reads an ImageUpdateAutomation object.
    pub fn from_json(object: &Value) -> Result<Automation, AutomationError> {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let api = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if kind != "ImageUpdateAutomation" || !api.starts_with(&format!("{GROUP}/")) {
            return Err(AutomationError::NotAnAutomation(format!("{api} {kind}")));
        }
        let meta = object.get("metadata");
        let text = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
        let name = text(meta.and_then(|m| m.get("name"))).unwrap_or_default();
        let namespace = text(meta.and_then(|m| m.get("namespace"))).unwrap_or_else(|| "default".into());
        let bad = |field: &str, problem: &str| AutomationError::Field {
            namespace: namespace.clone(),
            name: name.clone(),
            field: field.into(),
            problem: problem.into(),
        };
        if name.is_empty() {
            return Err(bad("metadata.name", "missing"));
        }
        let spec = object.get("spec").filter(|s| s.is_object()).ok_or_else(|| bad("spec", "missing"))?;
        let at = |path: &[&str]| path.iter().try_fold(spec, |v, k| v.get(k));
        let source_kind = text(at(&["sourceRef", "kind"])).unwrap_or_else(|| "GitRepository".into());
        if source_kind != "GitRepository" {
            return Err(bad(
                "spec.sourceRef.kind",
                &format!("`{source_kind}`: only GitRepository sources can be updated"),
            ));
        }
        let source_name = text(at(&["sourceRef", "name"])).ok_or_else(|| bad("spec.sourceRef.name", "missing"))?;
        let source_namespace = text(at(&["sourceRef", "namespace"])).unwrap_or_else(|| namespace.clone());
        // v1beta1 keeps the author and template under `spec.git.commit`, as later versions do.
        let commit = at(&["git", "commit"]);
        let author_at = |f: &str| text(commit.and_then(|c| c.get("author")).and_then(|a| a.get(f)));
        let email = author_at("email").ok_or_else(|| bad("spec.git.commit.author.email", "missing"))?;
        let author = Author { name: author_at("name").unwrap_or_default(), email };
        let message_template = text(commit.and_then(|c| c.get("messageTemplate")));
        let mut message_values = BTreeMap::new();
        if let Some(values) = commit.and_then(|c| c.get("messageTemplateValues")).filter(|v| !v.is_null()) {
            let map = values
                .as_object()
                .ok_or_else(|| bad("spec.git.commit.messageTemplateValues", "must be a map of strings"))?;
            for (k, v) in map {
                let v = v
                    .as_str()
                    .ok_or_else(|| bad(&format!("spec.git.commit.messageTemplateValues.{k}"), "must be a string"))?;
                message_values.insert(k.clone(), v.to_string());
            }
        }
        let strategy = text(at(&["update", "strategy"])).unwrap_or_else(|| "Setters".into());
        if strategy != "Setters" {
            return Err(bad("spec.update.strategy", &format!("`{strategy}`: the only strategy is Setters")));
        }
        let update_path = text(at(&["update", "path"]))
            .map(|p| p.trim_start_matches("./").trim_end_matches('/').to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| ".".into());
        if update_path.split('/').any(|c| c == "..") || update_path.starts_with('/') {
            return Err(bad("spec.update.path", "must stay inside the repository"));
        }
        let policy_selector = Selector::from_json("spec.policySelector", at(&["policySelector"]))
            .map_err(|e| bad("spec.policySelector", &e.to_string()))?;
        let suspend = match at(&["suspend"]) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("spec.suspend", "must be true or false")),
        };
        Ok(Automation {
            checkout: CheckoutRef::from_json(at(&["git", "checkout", "ref"])),
            push_branch: text(at(&["git", "push", "branch"])),
            push_refspec: text(at(&["git", "push", "refspec"])),
            interval: text(at(&["interval"])),
            namespace,
            name,
            source_name,
            source_namespace,
            author,
            message_template,
            message_values,
            update_path,
            policy_selector,
            suspend,
        })
    }

    /// Whether a policy with these labels is in scope (`spec.policySelector`).
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.policy_selector.matches(labels)
    }

    /// The commit message for `changes` (per file, in file order), from the template or
    /// Flux's default.
    pub fn commit_message(&self, changes: &[FileChanges]) -> Result<String, AutomationError> {
        let Some(template) = &self.message_template else { return Ok(DEFAULT_MESSAGE.to_string()) };
        let fail = |problem: String| AutomationError::Template { automation: self.id(), problem };
        for removed in [".Updated", ".Changed.ImageResult"] {
            if template.contains(removed) {
                return Err(fail(format!(
                    "`{removed}` was removed from the template data; use `.Changed.FileChanges`, `.Changed.Objects` or `.Changed.Changes`"
                )));
            }
        }
        let data = template_data(&self.id(), changes, &self.message_values);
        go::render(template, &data, GoOptions::default()).map_err(|e| fail(e.to_string()))
    }
}

/// The changes made in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChanges {
    /// The file, relative to the repository root.
    pub file: String,
    /// Each object's changes, in file order.
    pub objects: Vec<(ObjectId, Vec<Change>)>,
}

fn change_json(c: &Change) -> Value {
    json!({"OldValue": c.old_value, "NewValue": c.new_value, "Setter": c.setter})
}

fn object_json(o: &ObjectId) -> Value {
    json!({"APIVersion": o.api_version, "Kind": o.kind, "Name": o.name, "Namespace": o.namespace})
}

/// The data Flux's message template sees.
fn template_data(automation: &str, files: &[FileChanges], values: &BTreeMap<String, String>) -> Value {
    let mut file_changes = Map::new();
    let mut all: Vec<Value> = Vec::new();
    // Ordered as Go orders the struct keys: APIVersion, Kind, Name, Namespace.
    let mut by_object: BTreeMap<&ObjectId, (Value, Vec<Value>)> = BTreeMap::new();
    for file in files {
        let entries = file
            .objects
            .iter()
            .map(|(o, cs)| (object_json(o), Value::Array(cs.iter().map(change_json).collect())))
            .collect();
        file_changes.insert(file.file.clone(), keyed_map(entries));
        for (object, changes) in &file.objects {
            let slot = by_object.entry(object).or_insert_with(|| (object_json(object), Vec::new()));
            for change in changes {
                let change = change_json(change);
                slot.1.push(change.clone());
                if !all.contains(&change) {
                    all.push(change);
                }
            }
        }
    }
    let objects = keyed_map(by_object.into_values().map(|(k, v)| (k, Value::Array(v))).collect());
    json!({
        "AutomationObject": automation,
        "Changed": {"FileChanges": file_changes, "Changes": all, "Objects": objects},
        "Values": values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn automation(extra: &str) -> Automation {
        let text = format!(
            "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation\nmetadata: {{name: auto, namespace: flux-system}}\nspec:\n  interval: 5m\n  sourceRef: {{kind: GitRepository, name: fleet}}\n  git:\n    checkout: {{ref: {{branch: main}}}}\n    push: {{branch: auto}}\n    commit:\n      author: {{name: fluxbot, email: flux@example.com}}\n{extra}  update: {{path: ./clusters/prod, strategy: Setters}}\n"
        );
        let doc = crate::yaml::parse_documents(&text).unwrap().remove(0).value;
        Automation::from_json(&doc).unwrap()
    }

    fn changes() -> Vec<FileChanges> {
        let obj = |kind: &str, name: &str| ObjectId {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            namespace: "prod".into(),
        };
        let change = |old: &str, new: &str, setter: &str| Change {
            old_value: old.into(),
            new_value: new.into(),
            setter: setter.into(),
        };
        vec![
            FileChanges {
                file: "clusters/prod/web.yaml".into(),
                objects: vec![(obj("Deployment", "web"), vec![change("app:1.0", "app:1.1", "flux-system:app")])],
            },
            FileChanges {
                file: "clusters/prod/api.yaml".into(),
                objects: vec![
                    (obj("StatefulSet", "db"), vec![change("1.0", "1.1", "flux-system:app:tag")]),
                    (obj("Deployment", "api"), vec![change("app:1.0", "app:1.1", "flux-system:app")]),
                ],
            },
        ]
    }

    #[test]
    fn reads_the_fields_flux_reads() {
        let a = automation("");
        assert_eq!(a.id(), "flux-system/auto");
        assert_eq!(a.source_name, "fleet");
        assert_eq!(a.source_namespace, "flux-system");
        assert_eq!(a.checkout.branch.as_deref(), Some("main"));
        assert_eq!(a.push_branch.as_deref(), Some("auto"));
        assert_eq!(a.author, Author { name: "fluxbot".into(), email: "flux@example.com".into() });
        assert_eq!(a.update_path, "clusters/prod");
        assert_eq!(a.commit_message(&changes()).unwrap(), DEFAULT_MESSAGE);
    }

    #[test]
    fn missing_author_email_and_other_strategies_are_named() {
        let text = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata: {name: a}\nspec: {sourceRef: {name: r}, git: {commit: {author: {name: x}}}}\n";
        let doc = crate::yaml::parse_documents(text).unwrap().remove(0).value;
        assert_eq!(
            Automation::from_json(&doc).unwrap_err().to_string(),
            "ImageUpdateAutomation default/a: spec.git.commit.author.email: missing"
        );
        let text = text.replace("{name: x}", "{email: e}").replace("}}}}", "}}}, update: {strategy: Other}}");
        let doc = crate::yaml::parse_documents(&text).unwrap().remove(0).value;
        assert!(Automation::from_json(&doc).unwrap_err().to_string().contains("spec.update.strategy"));
    }

    #[test]
    fn the_message_template_sees_objects_files_changes_and_values() {
        let template = "      messageTemplate: |\n        Automated update by {{ .AutomationObject }} for {{ .Values.env }}\n        {{ range $resource, $changes := .Changed.Objects -}}\n        - {{ $resource.Kind }}/{{ $resource.Name }}:\n        {{- range $_, $change := $changes }} {{ $change.OldValue }} -> {{ $change.NewValue }}{{ end }}\n        {{ end -}}\n        files:{{ range $file, $_ := .Changed.FileChanges }} {{ $file }}{{ end }}\n        distinct: {{ len .Changed.Changes }}\n      messageTemplateValues: {env: prod}\n";
        let a = automation(template);
        let message = a.commit_message(&changes()).unwrap();
        assert_eq!(
            message,
            "Automated update by flux-system/auto for prod\n- Deployment/api: app:1.0 -> app:1.1\n- Deployment/web: app:1.0 -> app:1.1\n- StatefulSet/db: 1.0 -> 1.1\nfiles: clusters/prod/api.yaml clusters/prod/web.yaml\ndistinct: 2\n"
        );
    }

    #[test]
    fn removed_template_fields_get_advice() {
        let a = automation("      messageTemplate: '{{ range .Updated.Images }}{{ . }}{{ end }}'\n");
        let err = a.commit_message(&changes()).unwrap_err().to_string();
        assert!(err.contains("`.Updated` was removed"), "{err}");
    }
}
