//! What `rbac validate` reports about a policy that reads: roles without permissions (as
//! Argo CD warns) and lines that can never apply.

use super::{Effect, Location, Policy};

/// Something in a readable policy that is probably not what its author meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// Roles given by `g` lines that have no `p` line, directly or through their own roles
    /// (Argo CD's referential-integrity warning, in its words).
    #[error("user defined roles not found in policies: {}", .0.join(","))]
    RolesWithoutPermissions(Vec<String>),
    /// A pattern that does not compile: its line never matches.
    #[error("{location}: the {field} pattern `{pattern}` is not a valid {mode}: the line never applies")]
    BrokenPattern {
        /// Where the line is.
        location: Location,
        /// `resource`, `action` or `object`.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// `glob` or `regular expression`.
        mode: &'static str,
    },
    /// An effect other than `allow` or `deny` (case matters): its line never applies.
    #[error("{location}: the effect `{effect}` is neither `allow` nor `deny`: the line never applies")]
    UnknownEffect {
        /// Where the line is.
        location: Location,
        /// The effect as written.
        effect: String,
    },
}

/// The warnings about `policy` (which read without error, so Argo CD would accept it).
pub fn validate(policy: &Policy) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let mut roles: Vec<&str> = Vec::new();
    for g in policy.groupings() {
        if !roles.contains(&g.role.as_str()) {
            roles.push(&g.role);
        }
    }
    let empty: Vec<String> =
        roles.into_iter().filter(|r| policy.permissions_of(r).next().is_none()).map(String::from).collect();
    if !empty.is_empty() {
        warnings.push(Warning::RolesWithoutPermissions(empty));
    }
    let mode = match policy.mode() {
        super::MatchMode::Glob => "glob",
        super::MatchMode::Regex => "regular expression",
    };
    for rule in policy.rules() {
        for (field, pattern) in [("resource", &rule.resource), ("action", &rule.action), ("object", &rule.object)] {
            if pattern.is_broken() {
                warnings.push(Warning::BrokenPattern {
                    location: rule.location.clone(),
                    field,
                    pattern: pattern.as_str().to_string(),
                    mode,
                });
            }
        }
        if let Effect::Other(effect) = &rule.effect {
            warnings.push(Warning::UnknownEffect { location: rule.location.clone(), effect: effect.clone() });
        }
    }
    warnings
}
