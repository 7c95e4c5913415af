//! The diff-related keys of Argo CD's `argocd-cm` ConfigMap.
//!
//! - `resource.customizations.ignoreDifferences.<group>_<Kind>` (`<Kind>` for the core
//!   group, `all` for every kind): YAML with `jsonPointers`, `jqPathExpressions`,
//!   `managedFieldsManagers`;
//! - `resource.customizations.knownTypeFields.<group>_<Kind>`: a YAML list of
//!   `{field, type}`;
//! - the legacy `resource.customizations` key: a YAML map keyed `group/Kind` whose entries
//!   may hold `ignoreDifferences` (YAML text) and `knownTypeFields`;
//! - `resource.compareoptions`: `ignoreAggregatedRoles`, `ignoreResourceStatusField`
//!   (`all`, the default since Argo CD 3.0; `crd`; `none`/`off`/`false`);
//! - custom health checks: `resource.customizations.health.<group>_<Kind>` (a Lua script) and
//!   `resource.customizations.useOpenLibs.<group>_<Kind>`, and in the legacy block the
//!   `health.lua` and `health.lua.useOpenLibs` fields, whose keys may be globs
//!   (`*.crossplane.io/*`). Split keys override the block.
//! - resource actions: `resource.customizations.actions.<group>_<Kind>` (YAML with
//!   `discovery.lua`, `definitions` (a list of `{name, action.lua}`) and
//!   `mergeBuiltinActions`), and the `actions` field of the legacy block (the same YAML, as
//!   text). Split keys override the block.
//!
//! Argo CD's own defaults are applied: the `/status` pointer for every kind, and Argo
//! Rollouts' `spec.template.spec` known as a PodSpec unless the user configures Rollout.

use serde::Deserialize;
use serde_json::Value;

use crate::ignore::IgnoreRuleSpec;
use crate::normalize::KnownTypeField;
use crate::schema::schema;

/// Which objects get `/status` ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusField {
    /// Every kind (Argo CD ≥ 3.0 default).
    #[default]
    All,
    /// CustomResourceDefinitions only (the Argo CD 2.x default).
    Crd,
    /// No kind.
    None,
}

/// `resource.compareoptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompareOptions {
    /// `ignoreAggregatedRoles`.
    pub ignore_aggregated_roles: bool,
    /// `ignoreResourceStatusField`.
    pub status_field: StatusField,
}

/// A system-level ignore rule with the config key it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRule {
    /// The argocd-cm key, e.g. `resource.customizations.ignoreDifferences.apps_Deployment`.
    pub key: String,
    /// The rule (group and kind taken from the key).
    pub spec: IgnoreRuleSpec,
}

/// Known-type fields of one custom kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTypes {
    /// Group of the custom kind.
    pub group: String,
    /// The custom kind.
    pub kind: String,
    /// Its fields.
    pub fields: Vec<KnownTypeField>,
}

/// A custom health check configured in `argocd-cm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthOverride {
    /// Where it was configured, e.g. `resource.customizations.health.cert-manager.io_Certificate`.
    pub key: String,
    /// `group/Kind` (`Kind` alone for the core group), or a glob over that text.
    pub group_kind: String,
    /// The Lua script.
    pub script: String,
    /// `useOpenLibs`: whether the script gets the full library set.
    pub use_open_libs: bool,
}

/// Resource actions configured in `argocd-cm` for one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionsOverride {
    /// Where they were configured, e.g. `resource.customizations.actions.apps_Deployment`.
    pub key: String,
    /// `group/Kind` (`Kind` alone for the core group).
    pub group_kind: String,
    /// The discovery script (`discovery.lua`), possibly empty.
    pub discovery: String,
    /// The action scripts: `(name, action.lua)`, in the order given.
    pub definitions: Vec<(String, String)>,
    /// `mergeBuiltinActions`: the built-in (and tree) actions are offered too.
    pub merge_builtin: bool,
}

#[derive(Deserialize)]
struct RawActions {
    #[serde(default, rename = "discovery.lua")]
    discovery: String,
    #[serde(default)]
    definitions: Vec<RawActionDefinition>,
    #[serde(default, rename = "mergeBuiltinActions")]
    merge_builtin: bool,
}

#[derive(Deserialize)]
struct RawActionDefinition {
    name: String,
    #[serde(default, rename = "action.lua")]
    script: String,
}

fn parse_actions(key: &str, group_kind: String, text: &str) -> Result<ActionsOverride, String> {
    let raw: RawActions = parse_yaml(text)?;
    let mut definitions = Vec::new();
    for d in raw.definitions {
        if d.name.is_empty() {
            return Err("a definition has no `name`".into());
        }
        definitions.push((d.name, d.script));
    }
    Ok(ActionsOverride {
        key: key.to_string(),
        group_kind,
        discovery: raw.discovery,
        definitions,
        merge_builtin: raw.merge_builtin,
    })
}

/// The diff and health settings of an Argo CD installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// System-level ignore rules.
    pub ignore: Vec<SystemRule>,
    /// Compare options.
    pub compare: CompareOptions,
    /// Known-type fields per custom kind.
    pub known_types: Vec<KnownTypes>,
    /// Custom health checks, sorted by `group_kind`.
    pub health: Vec<HealthOverride>,
    /// Custom resource actions, one per kind, sorted by `group_kind`.
    pub actions: Vec<ActionsOverride>,
    /// `application.sync.impersonation.enabled`: syncs run as the service account the app's
    /// AppProject names for its destination (`destinationServiceAccounts`).
    pub sync_impersonation: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let mut s = Settings::empty();
        s.add_builtin_known_types();
        s
    }
}

/// A setting that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The ConfigMap itself is malformed.
    #[error("argocd-cm: {0}")]
    ConfigMap(String),
    /// One key's value is malformed.
    #[error("argocd-cm key `{key}`: {problem}")]
    Key {
        /// The key.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

const IGNORE_PREFIX: &str = "resource.customizations.ignoreDifferences.";
const KNOWN_PREFIX: &str = "resource.customizations.knownTypeFields.";
const HEALTH_PREFIX: &str = "resource.customizations.health.";
const OPEN_LIBS_PREFIX: &str = "resource.customizations.useOpenLibs.";
const ACTIONS_PREFIX: &str = "resource.customizations.actions.";

/// Health settings of one group/kind while the ConfigMap is read: the block first, then
/// split keys on top.
#[derive(Default)]
struct HealthEntry {
    key: String,
    script: Option<String>,
    use_open_libs: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct OverrideIgnore {
    #[serde(default)]
    json_pointers: Vec<String>,
    #[serde(default)]
    jq_path_expressions: Vec<String>,
    #[serde(default)]
    managed_fields_managers: Vec<String>,
}

#[derive(Deserialize)]
struct RawKnownType {
    field: String,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawCompareOptions {
    #[serde(default)]
    ignore_aggregated_roles: bool,
    #[serde(default)]
    ignore_resource_status_field: Option<String>,
}

impl Settings {
    fn empty() -> Settings {
        Settings {
            ignore: Vec::new(),
            compare: CompareOptions::default(),
            known_types: Vec::new(),
            health: Vec::new(),
            actions: Vec::new(),
            sync_impersonation: false,
        }
    }

    /// Reads the settings from an `argocd-cm` ConfigMap object.
    pub fn from_config_map(cm: &Value) -> Result<Settings, Error> {
        let data = match cm.get("data") {
            None | Some(Value::Null) => return Ok(Settings::default()),
            Some(Value::Object(d)) => d,
            Some(_) => return Err(Error::ConfigMap("`data` is not a mapping".into())),
        };
        let mut s = Settings::empty();
        let mut health: std::collections::BTreeMap<String, HealthEntry> = Default::default();
        let mut actions: std::collections::BTreeMap<String, ActionsOverride> = Default::default();
        // The block first, so that split keys override it whatever the key order.
        if let Some(text) = data.get("resource.customizations") {
            let key = "resource.customizations";
            let text = text
                .as_str()
                .ok_or_else(|| Error::Key { key: key.to_string(), problem: "value is not a string".into() })?;
            s.read_legacy(key, text, &mut health, &mut actions)?;
        }
        for (key, value) in data {
            let text = value
                .as_str()
                .ok_or_else(|| Error::Key { key: key.clone(), problem: "value is not a string".into() })?;
            let bad = |problem: String| Error::Key { key: key.clone(), problem };
            if let Some(gk) = key.strip_prefix(IGNORE_PREFIX) {
                let o: OverrideIgnore = parse_yaml(text).map_err(bad)?;
                s.push_override(key, gk, o);
            } else if let Some(gk) = key.strip_prefix(KNOWN_PREFIX) {
                let (group, kind) = split_override_key(gk);
                let raw: Vec<RawKnownType> = parse_yaml(text).map_err(bad)?;
                let fields = known_fields(&raw).map_err(bad)?;
                s.known_types.push(KnownTypes { group, kind, fields });
            } else if let Some(gk) = key.strip_prefix(HEALTH_PREFIX) {
                let entry = health.entry(override_group_kind(gk)).or_default();
                entry.key = key.clone();
                entry.script = Some(text.to_string());
            } else if let Some(gk) = key.strip_prefix(ACTIONS_PREFIX) {
                let group_kind = override_group_kind(gk);
                actions.insert(group_kind.clone(), parse_actions(key, group_kind, text).map_err(bad)?);
            } else if let Some(gk) = key.strip_prefix(OPEN_LIBS_PREFIX) {
                let open = parse_bool(text).ok_or_else(|| bad(format!("`{text}` is not a boolean")))?;
                let entry = health.entry(override_group_kind(gk)).or_default();
                if entry.key.is_empty() {
                    entry.key = key.clone();
                }
                entry.use_open_libs = Some(open);
            } else if key == "application.sync.impersonation.enabled" {
                // Anything but a Go boolean leaves it off, as Argo CD reads it.
                s.sync_impersonation = parse_bool(text).unwrap_or(false);
            } else if key == "resource.compareoptions" {
                let raw: RawCompareOptions = parse_yaml(text).map_err(bad)?;
                s.compare.ignore_aggregated_roles = raw.ignore_aggregated_roles;
                s.compare.status_field = match raw.ignore_resource_status_field.as_deref().map(str::trim) {
                    Some("crd") => StatusField::Crd,
                    Some("none" | "off" | "false") => StatusField::None,
                    _ => StatusField::All,
                };
            }
        }
        s.health = health
            .into_iter()
            .filter_map(|(group_kind, e)| {
                Some(HealthOverride {
                    key: e.key,
                    group_kind,
                    script: e.script.filter(|t| !t.trim().is_empty())?,
                    use_open_libs: e.use_open_libs.unwrap_or(false),
                })
            })
            .collect();
        s.actions = actions.into_values().collect();
        s.add_builtin_known_types();
        Ok(s)
    }

    fn push_override(&mut self, key: &str, group_kind: &str, o: OverrideIgnore) {
        let (group, kind) = if group_kind == "all" { ("*".into(), "*".into()) } else { split_override_key(group_kind) };
        self.ignore.push(SystemRule {
            key: key.to_string(),
            spec: IgnoreRuleSpec {
                group,
                kind,
                json_pointers: o.json_pointers,
                jq_path_expressions: o.jq_path_expressions,
                managed_fields_managers: o.managed_fields_managers,
                ..Default::default()
            },
        });
    }

    fn read_legacy(
        &mut self,
        key: &str,
        text: &str,
        health: &mut std::collections::BTreeMap<String, HealthEntry>,
        actions: &mut std::collections::BTreeMap<String, ActionsOverride>,
    ) -> Result<(), Error> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        struct Legacy {
            #[serde(default)]
            ignore_differences: Option<String>,
            #[serde(default)]
            known_type_fields: Vec<RawKnownType>,
            #[serde(default, rename = "health.lua")]
            health_lua: Option<String>,
            #[serde(default, rename = "health.lua.useOpenLibs")]
            health_lua_use_open_libs: Option<bool>,
            #[serde(default)]
            actions: Option<String>,
        }
        let bad = |problem: String| Error::Key { key: key.to_string(), problem };
        let all: std::collections::BTreeMap<String, Legacy> = parse_yaml(text).map_err(bad)?;
        for (gk, entry) in all {
            let (group, kind) = match gk.split_once('/') {
                Some((g, k)) => (g.to_string(), k.to_string()),
                None => (String::new(), gk.clone()),
            };
            if let Some(ignore) = entry.ignore_differences {
                let o: OverrideIgnore = parse_yaml(&ignore).map_err(|p| bad(format!("{gk}.ignoreDifferences: {p}")))?;
                self.push_override(&format!("{key}[{gk}]"), &format!("{group}_{kind}"), o);
            }
            if entry.health_lua.is_some() || entry.health_lua_use_open_libs.is_some() {
                let h = health.entry(gk.clone()).or_default();
                h.key = format!("{key}[{gk}]");
                h.script = entry.health_lua;
                h.use_open_libs = entry.health_lua_use_open_libs;
            }
            if let Some(text) = entry.actions {
                let at = format!("{key}[{gk}]");
                let parsed = parse_actions(&at, gk.clone(), &text).map_err(|p| bad(format!("{gk}.actions: {p}")))?;
                actions.insert(gk.clone(), parsed);
            }
            if !entry.known_type_fields.is_empty() {
                let fields = known_fields(&entry.known_type_fields).map_err(|p| bad(format!("{gk}: {p}")))?;
                self.known_types.push(KnownTypes { group, kind, fields });
            }
        }
        Ok(())
    }

    fn add_builtin_known_types(&mut self) {
        if !self.known_types.iter().any(|k| k.group == "argoproj.io" && k.kind == "Rollout")
            && let Some(pod_spec) = schema().known_type("core/v1/PodSpec")
        {
            self.known_types.push(KnownTypes {
                group: "argoproj.io".into(),
                kind: "Rollout".into(),
                fields: vec![KnownTypeField {
                    path: vec!["spec".into(), "template".into(), "spec".into()],
                    ty: pod_spec,
                }],
            });
        }
    }

    /// The known-type fields configured for a custom kind.
    pub fn known_types_of(&self, group: &str, kind: &str) -> &[KnownTypeField] {
        self.known_types.iter().find(|k| k.group == group && k.kind == kind).map(|k| k.fields.as_slice()).unwrap_or(&[])
    }
}

fn known_fields(raw: &[RawKnownType]) -> Result<Vec<KnownTypeField>, String> {
    raw.iter()
        .map(|r| {
            let ty = schema().known_type(&r.ty).ok_or_else(|| {
                format!(
                    "unknown type `{}` for field `{}` (expected core/Quantity, meta/v1/Duration or core/v1/<Type>)",
                    r.ty, r.field
                )
            })?;
            Ok(KnownTypeField { path: r.field.split('.').map(str::to_string).collect(), ty })
        })
        .collect()
}

/// The `group/Kind` text a split key names, as Argo CD derives it (`all` is `*/*`).
fn override_group_kind(key: &str) -> String {
    match key {
        "all" => "*/*".to_string(),
        _ => match split_override_key(key) {
            (g, k) if g.is_empty() => k,
            (g, k) => format!("{g}/{k}"),
        },
    }
}

/// Go's strconv.ParseBool.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `apps_Deployment` → (`apps`, `Deployment`); `Service` → (``, `Service`).
fn split_override_key(key: &str) -> (String, String) {
    match key.split_once('_') {
        Some((g, k)) => (g.to_string(), k.to_string()),
        None => (String::new(), key.to_string()),
    }
}

/// Parses one YAML document into a typed value.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let docs = crate::yaml::parse_documents(text).map_err(|e| e.to_string())?;
    let value = docs.into_iter().next().map(|d| d.value).unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_argocd_cm() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}, "data": {
            "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers:\n- /spec/replicas\n",
            "resource.customizations.ignoreDifferences.Service": "jqPathExpressions: ['.spec.clusterIP']",
            "resource.customizations.ignoreDifferences.all": "managedFieldsManagers: [kube-controller-manager]",
            "resource.customizations.knownTypeFields.example.com_Widget": "- field: spec.size\n  type: core/Quantity\n",
            "resource.customizations": "admissionregistration.k8s.io/MutatingWebhookConfiguration:\n  ignoreDifferences: |\n    jsonPointers:\n    - /webhooks/0/clientConfig/caBundle\n",
            "resource.compareoptions": "ignoreAggregatedRoles: true\nignoreResourceStatusField: crd\n",
            "url": "https://argo.example.com"
        }});
        let s = Settings::from_config_map(&cm).unwrap();
        assert!(s.compare.ignore_aggregated_roles);
        assert_eq!(s.compare.status_field, StatusField::Crd);
        let groups: Vec<(&str, &str)> =
            s.ignore.iter().map(|r| (r.spec.group.as_str(), r.spec.kind.as_str())).collect();
        assert!(groups.contains(&("apps", "Deployment")));
        assert!(groups.contains(&("", "Service")));
        assert!(groups.contains(&("*", "*")));
        assert!(groups.contains(&("admissionregistration.k8s.io", "MutatingWebhookConfiguration")));
        assert_eq!(s.known_types_of("example.com", "Widget").len(), 1);
        assert_eq!(s.known_types_of("argoproj.io", "Rollout").len(), 1);
    }

    #[test]
    fn reads_health_checks_split_keys_over_the_block() {
        let cm = json!({"data": {
            "resource.customizations": "cert-manager.io/Certificate:\n  health.lua: return {status = 'Degraded'}\n  health.lua.useOpenLibs: true\n\"*.crossplane.io/*\":\n  health.lua: return nil\n",
            "resource.customizations.health.cert-manager.io_Certificate": "return {status = 'Healthy'}",
            "resource.customizations.health.Service": "return {status = 'Healthy'}",
            "resource.customizations.useOpenLibs.Service": "true",
            "resource.customizations.health.all": "return nil",
        }});
        let s = Settings::from_config_map(&cm).unwrap();
        let got: Vec<(&str, &str, bool)> =
            s.health.iter().map(|h| (h.group_kind.as_str(), h.script.as_str(), h.use_open_libs)).collect();
        assert_eq!(
            got,
            [
                ("*.crossplane.io/*", "return nil", false),
                ("*/*", "return nil", false),
                ("Service", "return {status = 'Healthy'}", true),
                // The split key replaces the script; the block's useOpenLibs stays.
                ("cert-manager.io/Certificate", "return {status = 'Healthy'}", true),
            ]
        );
        assert_eq!(s.health[3].key, "resource.customizations.health.cert-manager.io_Certificate");
        let bad = json!({"data": {"resource.customizations.useOpenLibs.Service": "yes"}});
        let e = Settings::from_config_map(&bad).unwrap_err().to_string();
        assert!(e.contains("resource.customizations.useOpenLibs.Service") && e.contains("not a boolean"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let cm = json!({"data": {"resource.customizations.knownTypeFields.x_Y": "- field: a\n  type: core/v1/Nope\n"}});
        let e = Settings::from_config_map(&cm).unwrap_err().to_string();
        assert!(
            e.starts_with("argocd-cm key `resource.customizations.knownTypeFields.x_Y`: unknown type `core/v1/Nope`"),
            "{e}"
        );
    }
}
