//! Argo CD's RBAC: who may do what to which object, decided as Argo CD's API server decides.
//!
//! A [`Policy`] is read from CSV lines (`p, subject, resource, action, object, effect` and
//! `g, member, role`), from an `argocd-rbac-cm` ConfigMap ([`RbacConfig`]: `policy.csv`, the
//! `policy.<overlay>.csv` keys, `policy.default`, `scopes`, `policy.matchMode`) and from
//! AppProject roles ([`ProjectRoles`]). An [`Enforcer`] adds Argo CD's built-in roles and
//! answers requests:
//! - a subject has the permissions of its `p` lines and of the roles its `g` lines give it
//!   (followed up to 10 steps, by exact name);
//! - resource, action and object are patterns: globs where `*` also crosses `/`, or, with
//!   `policy.matchMode: regex`, regular expressions matched anywhere in the value;
//! - within one subject and its roles, a matching `deny` beats every `allow`;
//! - the default role is checked first and on its own, so a deny cannot take away what it
//!   grants; then the subject; then (for a user's claims) each group that has a `g` line.
//!
//! Pure: no I/O. [`validate`] reports what Argo CD's `rbac validate` would, and more.
//!
//! # Example
//!
//! ```
//! use gitops_core::rbac::{Enforcer, MatchMode, Policy};
//!
//! let policy = Policy::from_csv(r#"
//! p, role:deployer, applications, sync, team-a/*, allow
//! p, role:deployer, applications, sync, team-a/prod-*, deny
//! g, alice, role:deployer
//! "#, MatchMode::Glob)?;
//! let rbac = Enforcer::new(policy, Some("role:readonly".into()), true);
//! assert!(rbac.can("alice", "applications", "sync", "team-a/web"));
//! assert!(!rbac.can("alice", "applications", "sync", "team-a/prod-web"));
//! // Everyone reads, through the default role; only the built-in admin deletes clusters.
//! assert!(rbac.can("bob", "applications", "get", "team-b/api"));
//! assert!(!rbac.can("bob", "clusters", "delete", "https://kubernetes.default.svc"));
//! assert!(rbac.can("admin", "clusters", "delete", "https://kubernetes.default.svc"));
//! # Ok::<(), gitops_core::rbac::Error>(())
//! ```

mod csv;
mod enforcer;
mod matcher;
// Go RE2 patterns compiled with Go's meaning, shared with notification filters and `matches`.
pub(crate) use matcher::compile_go;
mod policy;
mod validate;

pub use enforcer::{Claims, Enforcer, ProjectRole, ProjectRoles};
pub use matcher::MatchMode;
pub use policy::{BUILTIN_POLICY_CSV, Effect, Grouping, Location, Pattern, Policy, Rule};
pub use validate::{Warning, validate};

use serde_json::Value;

/// What went wrong reading a policy or checking a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A policy line that Argo CD would refuse (which makes it refuse the whole policy).
    #[error("{location}: invalid RBAC policy `{text}`: {problem}")]
    Line {
        /// Where the line is.
        location: Location,
        /// The line, trimmed.
        text: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An `argocd-rbac-cm` ConfigMap that cannot be read.
    #[error("RBAC ConfigMap: {0}")]
    ConfigMap(String),
    /// An AppProject whose roles cannot be read.
    #[error("AppProject {project}: {message}")]
    Project {
        /// The project's name, or `?` when it has none.
        project: String,
        /// What is wrong.
        message: String,
    },
    /// A request for a resource Argo CD does not have (checked only when asked to be strict).
    #[error("'{0}' is not a valid resource name")]
    UnknownResource(String),
    /// A request for an action the resource does not have (checked only when asked to be
    /// strict).
    #[error("'{action}' is not a valid action for {resource}")]
    UnknownAction {
        /// The action as given.
        action: String,
        /// The resource (its full name).
        resource: String,
    },
}

/// Resources whose objects are `<project>/<name>` (or `<project>/<namespace>/<name>` for apps
/// outside the control-plane namespace); clusters and repositories may also be
/// project-scoped (`<project>/<url>`).
pub const PROJECT_SCOPED: [&str; 6] = ["applications", "applicationsets", "logs", "exec", "clusters", "repositories"];

/// The short names `argocd admin settings rbac can` accepts for resources (`app`, `cert`,
/// `proj`, ...), with the resource each stands for.
const RESOURCE_ALIASES: [(&str, &str); 21] = [
    ("account", "accounts"),
    ("app", "applications"),
    ("apps", "applications"),
    ("application", "applications"),
    ("applicationsets", "applicationsets"),
    ("cert", "certificates"),
    ("certs", "certificates"),
    ("certificate", "certificates"),
    ("cluster", "clusters"),
    ("extension", "extensions"),
    ("gpgkey", "gpgkeys"),
    ("key", "gpgkeys"),
    ("log", "logs"),
    ("logs", "logs"),
    ("exec", "exec"),
    ("proj", "projects"),
    ("projs", "projects"),
    ("project", "projects"),
    ("repo", "repositories"),
    ("repos", "repositories"),
    ("repository", "repositories"),
];

/// The actions each resource has, as `rbac can --strict` checks them; `true` marks actions
/// that take a `/...` suffix (`update/<group>/<kind>/<ns>/<name>`, `action/<group>/<kind>/<name>`).
const RESOURCE_ACTIONS: [(&str, &[(&str, bool)]); 11] = [
    ("accounts", &[("create", false), ("update", false)]),
    (
        "applications",
        &[
            ("create", false),
            ("get", false),
            ("update", true),
            ("delete", true),
            ("action", true),
            ("override", false),
            ("sync", false),
        ],
    ),
    ("applicationsets", CRUD),
    ("certificates", CRD),
    ("clusters", CRUD),
    ("extensions", &[("invoke", false)]),
    ("gpgkeys", CRD),
    ("logs", &[("get", false)]),
    ("exec", &[("create", false)]),
    ("projects", CRUD),
    ("repositories", CRUD),
];
const CRUD: &[(&str, bool)] = &[("create", false), ("get", false), ("update", false), ("delete", false)];
const CRD: &[(&str, bool)] = &[("create", false), ("get", false), ("delete", false)];

/// The resource a name given on the command line stands for: a short name (`app`, `cert`,
/// `repo`, ...) becomes the resource's full name; anything else is kept as given.
pub fn resolve_resource(name: &str) -> &str {
    RESOURCE_ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, full)| full)
}

/// Checks that `resource` (a full name) is an Argo CD resource and `action` one of its
/// actions (`update/...`-style suffixes only where Argo CD has them).
pub fn check_request(resource: &str, action: &str) -> Result<(), Error> {
    let actions = RESOURCE_ACTIONS
        .iter()
        .find(|(r, _)| *r == resource)
        .map(|(_, a)| *a)
        .ok_or_else(|| Error::UnknownResource(resource.to_string()))?;
    let (base, has_path) = match action.split_once('/') {
        Some((base, _)) => (base, true),
        None => (action, false),
    };
    match actions.iter().find(|(a, _)| *a == base) {
        Some((_, takes_path)) if !has_path || *takes_path => Ok(()),
        _ => Err(Error::UnknownAction { action: action.to_string(), resource: resource.to_string() }),
    }
}

/// The object to check when a request names none: `*/*` (every app of every project) for
/// project-scoped resources, also in place of a bare `*`; otherwise the object as given.
pub fn request_object<'a>(resource: &str, object: Option<&'a str>) -> &'a str {
    match object {
        None | Some("*") | Some("") if PROJECT_SCOPED.contains(&resource) => "*/*",
        Some(o) => o,
        None => "",
    }
}

/// The RBAC settings of an `argocd-rbac-cm` ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RbacConfig {
    /// The policy texts in the order Argo CD joins them: `policy.csv`, then every
    /// `policy.<overlay>.csv` key sorted by name; each with its key.
    pub policy: Vec<(String, String)>,
    /// `policy.default`: the role everyone has (`None` when unset or empty).
    pub default_role: Option<String>,
    /// `scopes` as written (a YAML list of claim names); see [`RbacConfig::scopes`].
    pub scopes: Option<String>,
    /// `policy.matchMode`.
    pub match_mode: MatchMode,
}

impl RbacConfig {
    /// Reads the `data` of an `argocd-rbac-cm` ConfigMap (any YAML mapping; no `data` reads as
    /// an empty configuration).
    pub fn from_config_map(cm: &Value) -> Result<RbacConfig, Error> {
        let Some(map) = cm.as_object() else {
            return Err(Error::ConfigMap("not a mapping".into()));
        };
        let data = match map.get("data") {
            None | Some(Value::Null) => return Ok(RbacConfig::default()),
            Some(Value::Object(d)) => d,
            Some(_) => return Err(Error::ConfigMap("`data` is not a mapping".into())),
        };
        let mut strings = std::collections::BTreeMap::new();
        for (k, v) in data {
            match v {
                Value::String(s) => {
                    strings.insert(k.as_str(), s.as_str());
                }
                Value::Null => {}
                _ => return Err(Error::ConfigMap(format!("`data.{k}` is not a string (quote it)"))),
            }
        }
        Ok(RbacConfig::from_data(&strings))
    }

    /// Reads ConfigMap data given as key/value pairs.
    pub fn from_data(data: &std::collections::BTreeMap<&str, &str>) -> RbacConfig {
        let mut policy = Vec::new();
        if let Some(main) = data.get("policy.csv") {
            policy.push(("policy.csv".to_string(), main.to_string()));
        }
        // A BTreeMap iterates sorted by key, the order Argo CD appends overlays in.
        for (k, v) in data {
            if k.starts_with("policy.") && k.ends_with(".csv") && *k != "policy.csv" {
                policy.push((k.to_string(), v.to_string()));
            }
        }
        RbacConfig {
            policy,
            default_role: data.get("policy.default").filter(|r| !r.is_empty()).map(|r| r.to_string()),
            scopes: data.get("scopes").map(|s| s.to_string()),
            match_mode: MatchMode::from_config(data.get("policy.matchMode").copied()),
        }
    }

    /// The user policy (without the built-in one), compiled for [`RbacConfig::match_mode`].
    pub fn user_policy(&self) -> Result<Policy, Error> {
        let sources: Vec<(&str, &str)> = self.policy.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Policy::from_sources(&sources, self.match_mode)
    }

    /// Whether the ConfigMap has no policy text at all (what `rbac validate` calls empty).
    pub fn is_empty(&self) -> bool {
        self.policy.iter().all(|(_, text)| text.is_empty())
    }

    /// The claims whose values are a user's groups: `scopes` read as a YAML list, `[groups]`
    /// when unset.
    pub fn scopes(&self) -> Result<Vec<String>, Error> {
        match &self.scopes {
            None => Ok(vec!["groups".to_string()]),
            Some(text) => crate::settings::parse_yaml::<Vec<String>>(text)
                .map_err(|e| Error::ConfigMap(format!("`scopes` is not a list of claim names: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests;
