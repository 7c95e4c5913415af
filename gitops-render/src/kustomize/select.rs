//! Patch target selectors: group, version, kind, name and namespace as anchored regular
//! expressions, and Kubernetes label and annotation selectors.

use gitops_core::schema::split_api_version;
use gitops_core::selector::LabelSelector;
use regex_lite::Regex;

use super::file::Selector;
use super::resource::{Resource, same_namespace};

/// A compiled selector.
#[derive(Debug)]
pub(crate) struct Compiled {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: LabelSelector,
    annotations: LabelSelector,
}

/// Compiles `selector`; errors name the part that is malformed (`kind`, `labelSelector`...).
pub(crate) fn compile(selector: &Selector) -> Result<Compiled, (String, String)> {
    let re = |field: &str, text: &str| -> Result<Option<Regex>, (String, String)> {
        if text.is_empty() {
            return Ok(None);
        }
        Regex::new(&format!("^(?:{text})$")).map(Some).map_err(|e| (field.to_string(), e.to_string()))
    };
    Ok(Compiled {
        group: re("group", &selector.group)?,
        version: re("version", &selector.version)?,
        kind: re("kind", &selector.kind)?,
        name: re("name", &selector.name)?,
        namespace: re("namespace", &selector.namespace)?,
        labels: LabelSelector::parse(&selector.label_selector)
            .map_err(|e| ("labelSelector".to_string(), e.to_string()))?,
        annotations: LabelSelector::parse(&selector.annotation_selector)
            .map_err(|e| ("annotationSelector".to_string(), e.to_string()))?,
    })
}

impl Compiled {
    /// Whether `r` is selected. Name and namespace match the original or the current value.
    pub(crate) fn matches(&self, r: &Resource) -> bool {
        let hit = |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        let api = r.api_version();
        let (group, version) = split_api_version(api);
        if !hit(&self.group, group) || !hit(&self.version, version) || !hit(&self.kind, r.kind()) {
            return false;
        }
        let orig = r.history.first();
        let (orig_name, orig_ns) = orig.map_or((r.name(), r.namespace()), |o| (o.name.as_str(), o.namespace.as_str()));
        if !(hit(&self.name, r.name()) || hit(&self.name, orig_name)) {
            return false;
        }
        // Namespaces compare effectively: an empty one is `default`.
        if let Some(ns) = &self.namespace
            && ![r.namespace(), orig_ns]
                .iter()
                .any(|n| ns.is_match(n) || (same_namespace(n, "") && ns.is_match("default")))
        {
            return false;
        }
        let meta = r.obj.get("metadata");
        let labels = meta.and_then(|m| m.get("labels"));
        let annotations = meta.and_then(|m| m.get("annotations"));
        self.labels.matches(labels) && self.annotations.matches(annotations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(yaml: serde_json::Value) -> Resource {
        Resource::new(yaml, "test")
    }

    #[test]
    fn label_selectors() {
        let r = res(serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}}}));
        let sel = |l: &str| {
            compile(&Selector { label_selector: l.into(), ..Default::default() }).expect("compiles").matches(&r)
        };
        assert!(sel("app=web"));
        assert!(sel("app==web,tier"));
        assert!(sel("app in (web, api),!missing"));
        assert!(!sel("app notin (web)"));
        assert!(!sel("tier!=front"));
        assert!(compile(&Selector { label_selector: "a=b,,c".into(), ..Default::default() }).is_err());
    }

    #[test]
    fn names_are_anchored_regexes_over_original_or_current() {
        let mut r = res(serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}));
        r.remember();
        r.set_meta("name", "p-web".into());
        let sel = |name: &str, kind: &str| {
            compile(&Selector { name: name.into(), kind: kind.into(), ..Default::default() })
                .expect("compiles")
                .matches(&r)
        };
        assert!(sel("web", "Service"));
        assert!(sel("p-web", ""));
        assert!(!sel("we", ""));
        assert!(sel("w.*", "Serv.*"));
        assert!(!sel("web", "Deployment"));
    }
}
