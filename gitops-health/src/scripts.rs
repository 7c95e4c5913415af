//! Health scripts laid out as Argo CD's `resource_customizations` tree, and those we bundle.
//!
//! A tree maps `<group>/<Kind>/health.lua` (`<Kind>/health.lua` for the core group) to a
//! script. Directories whose path holds `_` are wildcards, `_` standing for `*` (as in
//! `_.crossplane.io/_`); `*` matches within one path segment. Exact paths win over
//! wildcards, and wildcards are tried in lexicographic order, as Argo CD does.
//!
//! The tree is built from file contents the caller read: this crate does no I/O.

use std::collections::HashMap;

use gitops_core::glob::Glob;

use crate::lua::{Libraries, Script};

/// A script path that does not fit the layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: expected `<group>/<Kind>/health.lua` or `<Kind>/health.lua` (core group)")]
pub struct LayoutError {
    /// The offending path, relative to the tree's root.
    pub path: String,
}

/// Scripts keyed by `group/Kind`, with wildcard entries.
#[derive(Debug, Clone, Default)]
pub struct ScriptTree {
    exact: HashMap<String, Script>,
    /// (pattern, its segments compiled, script), sorted by the pattern's text.
    wildcard: Vec<Wildcard>,
}

/// A wildcard directory: `*` matches within one path segment, as doublestar's PathMatch.
#[derive(Debug, Clone)]
struct Wildcard {
    pattern: String,
    segments: Vec<Glob>,
    script: Script,
}

impl Wildcard {
    fn matches(&self, key: &str) -> bool {
        let parts: Vec<&str> = key.split('/').collect();
        parts.len() == self.segments.len() && self.segments.iter().zip(parts).all(|(g, p)| g.matches(p))
    }
}

/// Our own checks, compiled into the binary: `(path in the tree, source)`.
const BUNDLED: &[(&str, &str)] = &[
    ("argoproj.io/Rollout/health.lua", include_str!("../checks/argoproj.io/Rollout/health.lua")),
    ("argoproj.io/Application/health.lua", include_str!("../checks/argoproj.io/Application/health.lua")),
    ("cert-manager.io/Certificate/health.lua", include_str!("../checks/cert-manager.io/Certificate/health.lua")),
    ("bitnami.com/SealedSecret/health.lua", include_str!("../checks/bitnami.com/SealedSecret/health.lua")),
    (
        "external-secrets.io/ExternalSecret/health.lua",
        include_str!("../checks/external-secrets.io/ExternalSecret/health.lua"),
    ),
    (
        "kustomize.toolkit.fluxcd.io/Kustomization/health.lua",
        include_str!("../checks/kustomize.toolkit.fluxcd.io/Kustomization/health.lua"),
    ),
    (
        "helm.toolkit.fluxcd.io/HelmRelease/health.lua",
        include_str!("../checks/helm.toolkit.fluxcd.io/HelmRelease/health.lua"),
    ),
    (
        "source.toolkit.fluxcd.io/GitRepository/health.lua",
        include_str!("../checks/source.toolkit.fluxcd.io/GitRepository/health.lua"),
    ),
];

impl ScriptTree {
    /// An empty tree.
    pub fn new() -> ScriptTree {
        ScriptTree::default()
    }

    /// The checks this project bundles (Argo Rollout and Application, cert-manager
    /// Certificate, SealedSecret, ExternalSecret, Flux Kustomization, HelmRelease and
    /// GitRepository), trusted.
    pub fn bundled() -> ScriptTree {
        let mut tree = ScriptTree::new();
        for (path, source) in BUNDLED {
            // The paths above are fixed and well formed; a typo would fail the unit tests.
            let _ = tree.insert(path, source, &format!("bundled:{path}"));
        }
        tree
    }

    /// Adds the script at `path` (relative to the tree root, `/`-separated), trusted, as
    /// from a directory the operator names. `origin` says where it came from in messages.
    /// A later insert at the same path replaces the earlier one.
    pub fn insert(&mut self, path: &str, source: &str, origin: &str) -> Result<(), LayoutError> {
        let key = path
            .strip_suffix("/health.lua")
            .filter(|k| !k.is_empty() && k.split('/').count() <= 2 && k.split('/').all(|s| !s.is_empty()))
            .ok_or_else(|| LayoutError { path: path.to_string() })?;
        let script = Script::new(source, Libraries::Trusted, origin);
        if key.contains('_') {
            let pattern = key.replace('_', "*");
            let segments = pattern
                .split('/')
                .map(Glob::new)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| LayoutError { path: path.to_string() })?;
            self.wildcard.retain(|w| w.pattern != pattern);
            self.wildcard.push(Wildcard { pattern, segments, script });
            self.wildcard.sort_by(|a, b| a.pattern.cmp(&b.pattern));
        } else {
            self.exact.insert(key.to_string(), script);
        }
        Ok(())
    }

    /// Puts `over`'s scripts on top of this tree's: the same path is replaced.
    pub fn overlay(&mut self, over: ScriptTree) {
        self.exact.extend(over.exact);
        for w in over.wildcard {
            self.wildcard.retain(|mine| mine.pattern != w.pattern);
            self.wildcard.push(w);
        }
        self.wildcard.sort_by(|a, b| a.pattern.cmp(&b.pattern));
    }

    /// The script for `group/Kind` (`Kind` for the core group): exact path first, then the
    /// first wildcard that matches.
    pub fn lookup(&self, group: &str, kind: &str) -> Option<&Script> {
        let key = group_kind_key(group, kind);
        if let Some(s) = self.exact.get(&key) {
            return Some(s);
        }
        self.wildcard.iter().find(|w| w.matches(&key)).map(|w| &w.script)
    }

    /// How many scripts the tree holds.
    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    /// Whether the tree holds no script.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Argo CD's key for a kind: `group/Kind`, or `Kind` for the core group.
pub fn group_kind_key(group: &str, kind: &str) -> String {
    if group.is_empty() { kind.to_string() } else { format!("{group}/{kind}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_wildcard_and_wildcards_go_in_order() {
        let mut t = ScriptTree::new();
        t.insert("_.crossplane.io/_/health.lua", "return 1", "a").unwrap();
        t.insert("pkg.crossplane.io/Provider/health.lua", "return 2", "b").unwrap();
        t.insert("_.io/_/health.lua", "return 3", "c").unwrap();
        t.insert("Service/health.lua", "return 4", "d").unwrap();
        assert_eq!(t.lookup("pkg.crossplane.io", "Provider").unwrap().origin(), "b");
        // `*.crossplane.io/*` sorts before `*.io/*`.
        assert_eq!(t.lookup("aws.crossplane.io", "Bucket").unwrap().origin(), "a");
        assert_eq!(t.lookup("example.io", "Thing").unwrap().origin(), "c");
        assert_eq!(t.lookup("", "Service").unwrap().origin(), "d");
        assert!(t.lookup("crossplane.io", "Bucket").is_some_and(|s| s.origin() == "c"));
        assert!(t.lookup("example.com", "Thing").is_none());
        assert!(t.lookup("", "Pod").is_none());
    }

    #[test]
    fn layout_errors_name_the_path() {
        let mut t = ScriptTree::new();
        for bad in ["health.lua", "a/b/c/health.lua", "a//health.lua", "a/b/check.lua"] {
            assert_eq!(t.insert(bad, "", "x").unwrap_err().path, bad);
        }
    }

    #[test]
    fn overlay_replaces_same_paths() {
        let mut base = ScriptTree::bundled();
        assert_eq!(base.len(), BUNDLED.len());
        let mut user = ScriptTree::new();
        user.insert("argoproj.io/Rollout/health.lua", "return nil", "mine").unwrap();
        base.overlay(user);
        assert_eq!(base.len(), BUNDLED.len());
        assert_eq!(base.lookup("argoproj.io", "Rollout").unwrap().origin(), "mine");
    }

    #[test]
    fn star_matches_within_a_segment() {
        let matches = |pattern: &str, key: &str| {
            let mut t = ScriptTree::new();
            t.insert(&format!("{}/health.lua", pattern.replace('*', "_")), "", "w").unwrap();
            let (g, k) = key.split_once('/').unwrap_or(("", key));
            t.lookup(g, k).is_some()
        };
        assert!(matches("*.x/*", "a.x/K"));
        assert!(matches("*/*", "a/K"));
        assert!(!matches("*", "a/K"));
        assert!(!matches("*.x/*", "a.y/K"));
        assert!(matches("a*b*c/K", "abxxbyc/K"));
    }
}
