//! Requests decided as Argo CD decides them: the default role, the subject, project roles and
//! a user's groups, each enforced on its own.

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::policy::enforce;
use super::{Error, Policy};

/// The built-in and user policies, the default role and the projects whose roles apply:
/// everything needed to answer "may SUBJECT do ACTION on RESOURCE OBJECT?".
#[derive(Debug, Clone)]
pub struct Enforcer {
    policy: Policy,
    default_role: Option<String>,
    /// Per project: its runtime policy (its roles), read after `policy` for requests on the
    /// project's objects; `None` when the roles did not read (Argo CD then falls back to the
    /// global policy alone). Kept apart so that many projects do not copy the global policy.
    projects: FxHashMap<String, Option<Policy>>,
}

/// Who makes a request, as the API server reads it from a token: the user and the groups
/// from the configured scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The user (`federated_claims.user_id`, else `sub`), or a project token's
    /// `proj:<project>:<role>`.
    pub subject: String,
    /// The user's groups.
    pub groups: Vec<String>,
}

impl Claims {
    /// Reads the claims of a token's payload: the user from `federated_claims.user_id` or
    /// `sub`, the groups from each claim in `scopes` (a string or a list of strings).
    pub fn from_token(payload: &Value, scopes: &[String]) -> Claims {
        let federated = payload.pointer("/federated_claims/user_id").and_then(Value::as_str).filter(|u| !u.is_empty());
        let subject = federated.or_else(|| payload.get("sub").and_then(Value::as_str)).unwrap_or_default();
        let mut groups = Vec::new();
        for scope in scopes {
            match payload.get(scope) {
                Some(Value::String(g)) => groups.push(g.clone()),
                Some(Value::Array(items)) => groups.extend(items.iter().filter_map(Value::as_str).map(String::from)),
                _ => {}
            }
        }
        Claims { subject: subject.to_string(), groups }
    }
}

/// The roles of an AppProject (`spec.roles`), which Argo CD turns into a runtime policy for
/// requests on the project's objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectRoles {
    /// The project's name.
    pub name: String,
    /// Its roles, in order.
    pub roles: Vec<ProjectRole>,
}

/// One role of an AppProject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectRole {
    /// The role's name; its subject is `proj:<project>:<name>`.
    pub name: String,
    /// Its policy lines (`p, proj:<project>:<name>, applications, sync, <project>/*, allow`).
    pub policies: Vec<String>,
    /// The groups that have the role.
    pub groups: Vec<String>,
}

impl ProjectRoles {
    /// Reads the name and `spec.roles` of an AppProject.
    pub fn from_app_project(project: &Value) -> Result<ProjectRoles, Error> {
        let name = project.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let fail = |message: String| Error::Project {
            project: if name.is_empty() { "?".to_string() } else { name.to_string() },
            message,
        };
        if project.get("kind").and_then(Value::as_str) != Some("AppProject") {
            return Err(fail("not an AppProject (`kind: AppProject`)".into()));
        }
        if name.is_empty() {
            return Err(fail("has no `metadata.name`".into()));
        }
        let strings = |v: Option<&Value>, what: &str| -> Result<Vec<String>, Error> {
            match v {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(String::from)
                            .ok_or_else(|| fail(format!("`{what}` has an item that is not a string")))
                    })
                    .collect(),
                Some(_) => Err(fail(format!("`{what}` is not a list"))),
            }
        };
        let mut roles = Vec::new();
        match project.pointer("/spec/roles") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, role) in items.iter().enumerate() {
                    let role_name = role.get("name").and_then(Value::as_str).unwrap_or_default();
                    if role_name.is_empty() {
                        return Err(fail(format!("`spec.roles[{i}]` has no name")));
                    }
                    roles.push(ProjectRole {
                        name: role_name.to_string(),
                        policies: strings(role.get("policies"), &format!("spec.roles[{i}].policies"))?,
                        groups: strings(role.get("groups"), &format!("spec.roles[{i}].groups"))?,
                    });
                }
            }
            Some(_) => return Err(fail("`spec.roles` is not a list".into())),
        }
        Ok(ProjectRoles { name: name.to_string(), roles })
    }

    /// The runtime policy Argo CD builds from the roles: per role, read access to the project
    /// itself, the role's own lines, and a `g` line per group.
    pub fn runtime_policy(&self) -> String {
        let p = &self.name;
        let mut lines = Vec::new();
        for role in &self.roles {
            let r = &role.name;
            lines.push(format!("p, proj:{p}:{r}, projects, get, {p}, allow"));
            lines.extend(role.policies.iter().cloned());
            lines.extend(role.groups.iter().map(|g| format!("g, {g}, proj:{p}:{r}")));
        }
        lines.join("\n")
    }
}

impl Enforcer {
    /// An enforcer over the user `policy`, after Argo CD's built-in policy when `builtin`
    /// (compiled in the user policy's match mode), with an optional default role.
    pub fn new(policy: Policy, default_role: Option<String>, builtin: bool) -> Enforcer {
        let policy = if builtin {
            let mut all = Policy::builtin(policy.mode());
            all.extend(&policy);
            all
        } else {
            policy
        };
        Enforcer { policy, default_role: default_role.filter(|r| !r.is_empty()), projects: FxHashMap::default() }
    }

    /// Adds a project whose roles apply to requests on its objects (and to its project
    /// tokens). When a role's lines do not read, the project still counts but its roles do
    /// not apply (as in Argo CD) and the error says why.
    pub fn add_project(&mut self, project: &ProjectRoles) -> Result<(), Error> {
        let mut roles = Policy::new(self.policy.mode());
        let source = format!("AppProject {}", project.name);
        let result = roles.add_csv(&source, &project.runtime_policy());
        self.projects.insert(project.name.clone(), result.is_ok().then_some(roles));
        result
    }

    /// The built-in plus user policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The default role, if any.
    pub fn default_role(&self) -> Option<&str> {
        self.default_role.as_deref()
    }

    /// Whether `subject` may do `action` on `resource` `object`, as Argo CD's enforcer
    /// answers for a plain subject (what `argocd admin settings rbac can` asks): the default
    /// role first, then the subject. Project roles do not apply; see [`Enforcer::can_claims`].
    pub fn can(&self, subject: &str, resource: &str, action: &str, object: &str) -> bool {
        self.enforce(&[&self.policy], subject, resource, action, object)
    }

    /// Whether a token's holder may do `action` on `resource` `object`, as the API server
    /// answers: for an object of a known project the project's roles join the policy (and a
    /// project token `proj:<p>:<role>` is checked against its own project only); then the
    /// default role, the subject, and each group that is the member of some `g` line are
    /// checked one by one, the first that allows deciding.
    pub fn can_claims(&self, claims: &Claims, resource: &str, action: &str, object: &str) -> bool {
        let project = self.project_of(resource, object);
        let global = [&self.policy];
        let with_roles;
        let layers: &[&Policy] = match project.and_then(|(_, roles)| roles) {
            Some(roles) => {
                with_roles = [&self.policy, roles];
                &with_roles
            }
            None => &global,
        };
        if let Some((name, _)) = project
            && let Some(token_project) = project_of_subject(&claims.subject)
        {
            return token_project == name && self.enforce(layers, &claims.subject, resource, action, object);
        }
        if self.enforce(layers, &claims.subject, resource, action, object) {
            return true;
        }
        claims
            .groups
            .iter()
            .any(|g| layers.iter().any(|l| l.has_roles(g)) && self.enforce(layers, g, resource, action, object))
    }

    /// The default role, then the subject: two separate enforcements, so a deny for one never
    /// cancels an allow of the other.
    fn enforce(&self, layers: &[&Policy], subject: &str, resource: &str, action: &str, object: &str) -> bool {
        if let Some(role) = &self.default_role
            && enforce(layers, role, resource, action, object)
        {
            return true;
        }
        enforce(layers, subject, resource, action, object)
    }

    /// The project a request is about and its roles (if they read), when it is a known
    /// project: the first segment of a project-scoped object with a `/`, or the object of
    /// `projects`.
    fn project_of(&self, resource: &str, object: &str) -> Option<(&str, Option<&Policy>)> {
        let name = match resource {
            "applications" | "applicationsets" | "repositories" | "clusters" | "logs" | "exec" => {
                object.split_once('/')?.0
            }
            "projects" => object,
            _ => return None,
        };
        self.projects.get_key_value(name).map(|(k, p)| (k.as_str(), p.as_ref()))
    }
}

/// The project of a project token's subject `proj:<project>:<role>`.
fn project_of_subject(subject: &str) -> Option<&str> {
    let mut parts = subject.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("proj"), Some(project), Some(_), None) => Some(project),
        _ => None,
    }
}
