//! The API server's rules for the parts of an object's identity: group, version, kind,
//! namespace and name.
//!
//! An API server refuses an object whose namespace is not an RFC 1123 label, whose name breaks
//! its kind's rule, or whose group is not a DNS subdomain. Checking the same rules here, before
//! an identity reaches a URL or a file path, keeps every adapter honest: a FileCluster builds
//! paths only from parts that cannot hold a separator or `..`, and a request is never sent for
//! an object the server would refuse anyway.
//!
//! ```
//! use gitops_core::{names, ResourceKey};
//!
//! assert!(names::check_key(&ResourceKey::new("apps", "Deployment", "shop", "web")).is_ok());
//! let e = names::check_key(&ResourceKey::new("", "ConfigMap", "../../etc", "x")).unwrap_err();
//! assert!(e.to_string().starts_with("metadata.namespace: Invalid value: \"../../etc\""));
//! // RBAC names are path segments: colons are fine, separators are not.
//! let role = ResourceKey::new("rbac.authorization.k8s.io", "ClusterRole", "", "system:auth-delegator");
//! assert!(names::check_key(&role).is_ok());
//! ```

use crate::ResourceKey;

/// A rule an identity part must follow, as the API server's validation names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// RFC 1123 label: namespaces (at most 63 of `a-z`, `0-9`, `-`; alphanumeric at both ends).
    Label,
    /// RFC 1123 subdomain: most names, and API groups (labels joined by dots, at most 253).
    Subdomain,
    /// RFC 1035 label: Service names and API versions (an RFC 1123 label starting with a letter).
    Rfc1035Label,
    /// A kind: lowercased, it must be an RFC 1035 label (the rule for a CRD's `names.kind`).
    Kind,
    /// A path segment: RBAC names (anything but `.`, `..`, or text holding `/` or `%`).
    PathSegment,
}

impl Rule {
    /// Whether `value` follows the rule.
    pub fn allows(self, value: &str) -> bool {
        match self {
            Rule::Label => value.len() <= 63 && is_label(value, false),
            Rule::Rfc1035Label => value.len() <= 63 && is_label(value, true),
            Rule::Subdomain => value.len() <= 253 && value.split('.').all(|l| is_label(l, false)),
            Rule::Kind => value.len() <= 63 && is_label(&value.to_ascii_lowercase(), true),
            // Control characters are legal for the server but never in a name anyone means;
            // refusing them keeps file names and terminal output clean.
            Rule::PathSegment => {
                !value.is_empty()
                    && value != "."
                    && value != ".."
                    && !value.contains(['/', '%'])
                    && !value.chars().any(char::is_control)
            }
        }
    }

    /// What the rule asks, as an error tells it: `not an RFC 1123 label (...)`.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Label => "not an RFC 1123 label (at most 63 of a-z, 0-9 and '-', alphanumeric at both ends)",
            Rule::Subdomain => {
                "not an RFC 1123 subdomain (at most 253 of a-z, 0-9, '-' and '.', alphanumeric around every dot)"
            }
            Rule::Rfc1035Label => {
                "not an RFC 1035 label (at most 63 of a-z, 0-9 and '-', a letter first, alphanumeric last)"
            }
            Rule::Kind => "not a kind (at most 63 letters, digits and '-', a letter first, alphanumeric last)",
            Rule::PathSegment => {
                "not a path segment (it may not be '.' or '..', nor hold '/', '%' or control characters)"
            }
        }
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, or with `letter_first` `[a-z]([-a-z0-9]*[a-z0-9])?`.
fn is_label(s: &str, letter_first: bool) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else { return false };
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let first_ok = if letter_first { first.is_ascii_lowercase() } else { alnum(first) };
    first_ok && alnum(last) && b.iter().all(|&c| alnum(c) || c == b'-')
}

/// An identity part the API server would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", self.reason())]
pub struct Error {
    /// The field, e.g. `metadata.namespace`.
    pub field: &'static str,
    /// The value as given, cut to 100 characters (a name is never secret, but may be huge).
    pub value: String,
    /// The rule it breaks.
    pub rule: Rule,
}

impl Error {
    /// The message without the field: `Invalid value: "x": not ...`, for errors that name the
    /// field themselves.
    pub fn reason(&self) -> String {
        format!("Invalid value: {:?}: {}", self.value, self.rule.describe())
    }
}

fn check(field: &'static str, value: &str, rule: Rule) -> Result<(), Error> {
    if rule.allows(value) {
        return Ok(());
    }
    let mut shown: String = value.chars().take(100).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    Err(Error { field, value: shown, rule })
}

/// The rule names of `group`/`kind` follow: RBAC names are path segments, Namespaces RFC 1123
/// labels, Services RFC 1035 labels, everything else (custom resources included) subdomains.
pub fn name_rule(group: &str, kind: &str) -> Rule {
    match (group, kind) {
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding") => {
            Rule::PathSegment
        }
        ("", "Namespace") => Rule::Label,
        ("", "Service") => Rule::Rfc1035Label,
        _ => Rule::Subdomain,
    }
}

/// Checks every part of a key: the group (empty for the core group, else a subdomain), the
/// kind, the namespace (empty, or a label) and the name (by [`name_rule`]).
pub fn check_key(key: &ResourceKey) -> Result<(), Error> {
    if !key.group.is_empty() {
        check("apiVersion", &key.group, Rule::Subdomain)?;
    }
    check("kind", &key.kind, Rule::Kind)?;
    if !key.namespace.is_empty() {
        check_namespace(&key.namespace)?;
    }
    check("metadata.name", &key.name, name_rule(&key.group, &key.kind))
}

/// Checks a namespace (an RFC 1123 label).
pub fn check_namespace(namespace: &str) -> Result<(), Error> {
    check("metadata.namespace", namespace, Rule::Label)
}

/// Checks an `apiVersion`: `v1`, or `<group>/<version>` with a subdomain group; versions are
/// RFC 1035 labels.
pub fn check_api_version(api_version: &str) -> Result<(), Error> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    if api_version.contains('/') {
        check("apiVersion", group, Rule::Subdomain)?;
    }
    check("apiVersion", version, Rule::Rfc1035Label)
}

/// Checks the name of an app (an Argo CD Application or Flux Kustomization, custom resources
/// whose names are subdomains); `field` names where it came from.
pub fn check_app_name(field: &'static str, name: &str) -> Result<(), Error> {
    check(field, name, Rule::Subdomain)
}

/// Checks a destination or target namespace given anywhere but `metadata.namespace`.
pub fn check_namespace_field(field: &'static str, namespace: &str) -> Result<(), Error> {
    check(field, namespace, Rule::Label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_the_api_servers_patterns() {
        for ok in ["a", "0", "web-1", "a-b-c", &"x".repeat(63)] {
            assert!(Rule::Label.allows(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", "..", "../x", &"x".repeat(64), "é"] {
            assert!(!Rule::Label.allows(bad), "{bad}");
        }
        for ok in ["example.com", "a.b-c.d", "apps", "rbac.authorization.k8s.io", "1.2"] {
            assert!(Rule::Subdomain.allows(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a..b", ".a", "a.", "a/b", "../../x", "a.-b", &"x".repeat(254)] {
            assert!(!Rule::Subdomain.allows(bad), "{bad}");
        }
        assert!(Rule::Rfc1035Label.allows("v1beta1") && !Rule::Rfc1035Label.allows("1v"));
        for ok in ["ConfigMap", "CronTab", "Foo-Bar", "X"] {
            assert!(Rule::Kind.allows(ok), "{ok}");
        }
        for bad in ["", "../../victim", "Config Map", "1Kind", "Kind-", "Kind.x", "a/b"] {
            assert!(!Rule::Kind.allows(bad), "{bad}");
        }
        for ok in ["system:aggregate-to-admin", "a b", "Ünïcode", "..."] {
            assert!(Rule::PathSegment.allows(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "100%", "a\0b", "a\nb"] {
            assert!(!Rule::PathSegment.allows(bad), "{bad}");
        }
    }

    #[test]
    fn keys_are_checked_part_by_part() {
        let key = |g: &str, k: &str, ns: &str, n: &str| check_key(&ResourceKey::new(g, k, ns, n));
        assert!(key("", "ConfigMap", "web", "settings").is_ok());
        assert!(key("", "Namespace", "", "web").is_ok());
        assert_eq!(key("../../../outside-grp", "Foo", "web", "y").unwrap_err().field, "apiVersion");
        assert_eq!(key("", "../../../../victim", "web", "z").unwrap_err().field, "kind");
        assert_eq!(key("", "ConfigMap", "../../escaped-ns", "x").unwrap_err().field, "metadata.namespace");
        assert_eq!(key("", "ConfigMap", "web", "../x").unwrap_err().field, "metadata.name");
        assert_eq!(key("", "Service", "web", "1st").unwrap_err().rule, Rule::Rfc1035Label);
        assert!(key("rbac.authorization.k8s.io", "ClusterRole", "", "system:controller:x").is_ok());
        assert!(key("rbac.authorization.k8s.io", "ClusterRole", "", "..").is_err());
        let long = check_key(&ResourceKey::new("", "ConfigMap", "web", &"x/".repeat(500))).unwrap_err();
        assert_eq!(long.value.chars().count(), 101, "long values are cut");
    }

    #[test]
    fn api_versions() {
        assert!(check_api_version("v1").is_ok());
        assert!(check_api_version("apps/v1").is_ok());
        assert!(check_api_version("stable.example.com/v1beta1").is_ok());
        assert!(check_api_version("../../../outside-grp/v1").is_err());
        assert!(check_api_version("apps/../v1").is_err());
        assert!(check_api_version("/v1").is_err());
    }
}
