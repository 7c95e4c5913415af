//! Flux image policies: `ImagePolicy` and `ImageRepository` (`image.toolkit.fluxcd.io`, v1beta2
//! and v1) read from objects, and the tag an `ImagePolicy` selects, as the
//! image-reflector-controller selects it.
//!
//! The pipeline, in Flux's order:
//! 1. the repository's tags lose those an `exclusionList` regex finds (default `^.*\.sig$`,
//!    cosign signatures) before they are stored ([`ImageRepository::exclude`]);
//! 2. `filterTags.pattern` (Go RE2, an **unanchored** search) keeps the tags it finds
//!    something in; each is known by the expansion of `extract` (only the template, Go's
//!    `Regexp.Expand`), or by itself when `extract` is empty. Two tags extracting to the
//!    same value: the later one stands for it;
//! 3. the policy picks one value, mapped back to its tag:
//!    - `semver.range`: values read strictly (`X.Y.Z[-pre][+build]`, an optional leading `v`:
//!      `1.2` and `1.2.3.4` are not versions and are skipped) and matched against the
//!      Masterminds constraint (a prerelease only when the range names one); the highest
//!      wins, and between equal versions (`1.0.0` and `v1.0.0`, or different build metadata)
//!      the first one seen. Flux sees the values of a filter in Go map order, which is
//!      random; here they come in the order of the tags that produced them, so the first
//!      such tag in the list wins a tie, every time;
//!    - `alphabetical.order`: `asc` (the default) picks the greatest by bytes, `desc` the
//!      least; the order is read case-insensitively, as Flux upper-cases it;
//!    - `numerical.order`: every value must be a Go float (`strconv.ParseFloat`), or the
//!      whole policy fails; `asc` (the default) picks the greatest, `desc` the least; on a
//!      tie the later value wins, and a `NaN` wins where it stands (Go's comparisons).
//!
//! Errors are split as Flux reports them: an [`Error`] is an invalid object (Flux stalls
//! with `InvalidPolicy`); a [`SelectError`] is a selection that found nothing (no tags yet,
//! none left after the filter, none in range, a tag that is not a number).

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value;

use super::go;
use crate::semver_range::{Constraints, Version};

/// Flux's API group for image automation.
pub const GROUP: &str = "image.toolkit.fluxcd.io";
/// The API versions read here.
pub const VERSIONS: [&str; 2] = ["v1beta2", "v1"];
/// The `exclusionList` of an `ImageRepository` that has none: cosign signature tags.
pub const DEFAULT_EXCLUSION: &str = r"^.*\.sig$";
/// The most `exclusionList` entries the CRD admits.
pub const MAX_EXCLUSIONS: usize = 25;

/// An object that is not a valid `ImagePolicy` or `ImageRepository`; the message names the
/// object and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not the kind, or not an API version read here.
    #[error("{object}: expected {expected} in {GROUP}/v1beta2 or v1, found {found}")]
    Kind {
        /// The object (`kind/name` as far as known).
        object: String,
        /// The kind expected.
        expected: &'static str,
        /// `apiVersion kind` as written.
        found: String,
    },
    /// A field is missing, has the wrong type or an invalid value.
    #[error("{object}: {field}: {reason}")]
    Field {
        /// The object (`ImagePolicy/ns/name`).
        object: String,
        /// The field path (`spec.policy.semver.range`).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Why a valid policy selected nothing (Flux's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// The repository has no tags (Flux waits: `DependencyNotReady`).
    #[error("no tags in the image repository")]
    NoTags,
    /// Nothing left after `filterTags`, or after the exclusion list.
    #[error("version list argument cannot be empty (no tag matched filterTags.pattern {0:?})")]
    Empty(String),
    /// No tag is a version in the range.
    #[error("unable to determine latest version from provided list (no tag is a version in range {0:?})")]
    NoneInRange(String),
    /// `numerical`: a tag (or extracted value) is not a number.
    #[error("failed to parse invalid numeric value '{0}'")]
    NotNumeric(String),
}

/// Ascending or descending, for `alphabetical` and `numerical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `asc` (the default): the greatest wins.
    Asc,
    /// `desc`: the least wins.
    Desc,
}

/// The `spec.policy` choice.
#[derive(Debug, Clone)]
pub enum Policy {
    /// `semver.range`.
    SemVer {
        /// The range as written.
        range: String,
        /// The range read.
        constraints: Constraints,
    },
    /// `alphabetical.order`.
    Alphabetical(Order),
    /// `numerical.order`.
    Numerical(Order),
}

/// `spec.filterTags`.
#[derive(Debug, Clone)]
pub struct TagFilter {
    /// `pattern`, compiled.
    pub pattern: Regex,
    /// `extract` (empty: the tag itself).
    pub extract: String,
}

/// `spec.digestReflectionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestReflection {
    /// `Never` (the default): no digest in `latestRef`.
    Never,
    /// `IfNotPresent`: fetched when the chosen tag changed or no digest is known.
    IfNotPresent,
    /// `Always`: fetched at every `interval`.
    Always,
}

/// A Flux `ImagePolicy`.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    /// `metadata.namespace` (empty when not written).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.imageRepositoryRef.name`.
    pub repository_name: String,
    /// `spec.imageRepositoryRef.namespace`, else the policy's.
    pub repository_namespace: String,
    /// `spec.policy`.
    pub policy: Policy,
    /// `spec.filterTags`.
    pub filter: Option<TagFilter>,
    /// `spec.digestReflectionPolicy`.
    pub digest_reflection: DigestReflection,
}

/// A Flux `ImageRepository`, the fields selection and scanning need.
#[derive(Debug, Clone)]
pub struct ImageRepository {
    /// `metadata.namespace` (empty when not written).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.image`: the image without tag (`ghcr.io/org/app`).
    pub image: String,
    /// `spec.exclusionList`, compiled (the default when absent).
    pub exclusions: Vec<Regex>,
    /// `spec.secretRef.name`: a docker-registry Secret in the repository's namespace.
    pub secret_name: Option<String>,
    /// `spec.insecure`: plain HTTP.
    pub insecure: bool,
}

fn describe(o: &Value, kind: &str) -> String {
    let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("<no name>");
    match o.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

fn check_kind(o: &Value, kind: &'static str) -> Result<String, Error> {
    let object = describe(o, kind);
    let api_version = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let found = o.get("kind").and_then(Value::as_str).unwrap_or("");
    let version_ok =
        api_version.strip_prefix(GROUP).and_then(|v| v.strip_prefix('/')).is_some_and(|v| VERSIONS.contains(&v));
    if found != kind || !version_ok {
        return Err(Error::Kind { object, expected: kind, found: format!("{api_version} {found}") });
    }
    Ok(object)
}

/// Reads a field that must be a string when present.
fn opt_str<'a>(o: &'a Value, pointer: &str, object: &str, field: &'static str) -> Result<Option<&'a str>, Error> {
    match o.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::Field { object: object.to_owned(), field, reason: "must be a string".into() }),
    }
}

fn order(o: &Value, pointer: &str, object: &str, field: &'static str) -> Result<Order, Error> {
    match opt_str(o, pointer, object, field)?.map(str::to_ascii_uppercase).as_deref() {
        None | Some("") | Some("ASC") => Ok(Order::Asc),
        Some("DESC") => Ok(Order::Desc),
        Some(other) => Err(Error::Field {
            object: object.to_owned(),
            field,
            reason: format!("invalid order argument provided: '{other}', must be one of: ASC, DESC"),
        }),
    }
}

impl ImagePolicy {
    /// Reads an `ImagePolicy` object.
    pub fn from_value(o: &Value) -> Result<ImagePolicy, Error> {
        let object = check_kind(o, "ImagePolicy")?;
        let field =
            |field: &'static str, reason: &str| Error::Field { object: object.clone(), field, reason: reason.into() };
        let namespace = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_owned();
        let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_owned();
        let repository_name = opt_str(o, "/spec/imageRepositoryRef/name", &object, "spec.imageRepositoryRef.name")?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| field("spec.imageRepositoryRef.name", "required"))?
            .to_owned();
        let repository_namespace =
            opt_str(o, "/spec/imageRepositoryRef/namespace", &object, "spec.imageRepositoryRef.namespace")?
                .filter(|n| !n.is_empty())
                .unwrap_or(&namespace)
                .to_owned();
        let choice = o.pointer("/spec/policy").ok_or_else(|| field("spec.policy", "required"))?;
        let policy = if choice.get("semver").is_some_and(|v| !v.is_null()) {
            let range = opt_str(o, "/spec/policy/semver/range", &object, "spec.policy.semver.range")?.unwrap_or("");
            if range.trim().is_empty() {
                return Err(field("spec.policy.semver.range", "required (a Masterminds semver constraint)"));
            }
            let constraints =
                Constraints::parse(range).map_err(|e| field("spec.policy.semver.range", &e.to_string()))?;
            Policy::SemVer { range: range.to_owned(), constraints }
        } else if choice.get("alphabetical").is_some_and(|v| !v.is_null()) {
            Policy::Alphabetical(order(
                o,
                "/spec/policy/alphabetical/order",
                &object,
                "spec.policy.alphabetical.order",
            )?)
        } else if choice.get("numerical").is_some_and(|v| !v.is_null()) {
            Policy::Numerical(order(o, "/spec/policy/numerical/order", &object, "spec.policy.numerical.order")?)
        } else {
            return Err(field(
                "spec.policy",
                "given ImagePolicyChoice object is invalid: set semver, alphabetical or numerical",
            ));
        };
        let filter = match o.pointer("/spec/filterTags") {
            None | Some(Value::Null) => None,
            Some(_) => {
                let pattern = opt_str(o, "/spec/filterTags/pattern", &object, "spec.filterTags.pattern")?.unwrap_or("");
                let extract = opt_str(o, "/spec/filterTags/extract", &object, "spec.filterTags.extract")?.unwrap_or("");
                let pattern = go::compile(pattern).map_err(|e| field("spec.filterTags.pattern", &e.to_string()))?;
                Some(TagFilter { pattern, extract: extract.to_owned() })
            }
        };
        let digest_reflection =
            match opt_str(o, "/spec/digestReflectionPolicy", &object, "spec.digestReflectionPolicy")? {
                None | Some("") | Some("Never") => DigestReflection::Never,
                Some("IfNotPresent") => DigestReflection::IfNotPresent,
                Some("Always") => DigestReflection::Always,
                Some(other) => {
                    return Err(field(
                        "spec.digestReflectionPolicy",
                        &format!("{other:?}: must be Never, IfNotPresent or Always"),
                    ));
                }
            };
        Ok(ImagePolicy { namespace, name, repository_name, repository_namespace, policy, filter, digest_reflection })
    }

    /// The tag the policy selects from a repository's stored tags (already through the
    /// repository's exclusion list), in the order the registry listed them.
    pub fn select<'t>(&self, tags: &[&'t str]) -> Result<&'t str, SelectError> {
        if tags.is_empty() {
            return Err(SelectError::NoTags);
        }
        // (value, the tag it stands for), in the order values first appear.
        let candidates: Vec<(String, &'t str)> = match &self.filter {
            None => tags.iter().map(|t| ((*t).to_owned(), *t)).collect(),
            Some(filter) => {
                let mut order: Vec<String> = Vec::new();
                let mut by_value: HashMap<String, &'t str> = HashMap::new();
                for tag in tags {
                    let Some(caps) = filter.pattern.captures(tag) else { continue };
                    let value = if filter.extract.is_empty() {
                        (*tag).to_owned()
                    } else {
                        go::expand(&filter.pattern, &filter.extract, &caps)
                    };
                    if by_value.insert(value.clone(), tag).is_none() {
                        order.push(value);
                    }
                }
                order
                    .into_iter()
                    .map(|v| {
                        let tag = by_value[&v];
                        (v, tag)
                    })
                    .collect()
            }
        };
        if candidates.is_empty() {
            let pattern = self.filter.as_ref().map(|f| f.pattern.as_str().to_owned()).unwrap_or_default();
            return Err(SelectError::Empty(pattern));
        }
        let index = match &self.policy {
            Policy::SemVer { range, constraints } => {
                semver_latest(&candidates, constraints).ok_or_else(|| SelectError::NoneInRange(range.clone()))?
            }
            Policy::Alphabetical(order) => alphabetical_latest(&candidates, *order),
            Policy::Numerical(order) => numerical_latest(&candidates, *order)?,
        };
        Ok(candidates[index].1)
    }
}

/// Flux's `ParseVersion`: one leading `v` off, then strictly `X.Y.Z[-pre][+build]`.
pub fn parse_version(text: &str) -> Option<Version> {
    Version::parse_strict(text.strip_prefix('v').unwrap_or(text)).ok()
}

fn semver_latest(candidates: &[(String, &str)], constraints: &Constraints) -> Option<usize> {
    let mut best: Option<(usize, Version)> = None;
    for (i, (value, _)) in candidates.iter().enumerate() {
        let Some(v) = parse_version(value) else { continue };
        if constraints.matches(&v) && best.as_ref().is_none_or(|(_, b)| v > *b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

fn alphabetical_latest(candidates: &[(String, &str)], order: Order) -> usize {
    let values = candidates.iter().enumerate();
    let pick = match order {
        Order::Asc => values.max_by(|a, b| a.1.0.as_bytes().cmp(b.1.0.as_bytes())),
        Order::Desc => values.min_by(|a, b| a.1.0.as_bytes().cmp(b.1.0.as_bytes())),
    };
    pick.map_or(0, |(i, _)| i)
}

fn numerical_latest(candidates: &[(String, &str)], order: Order) -> Result<usize, SelectError> {
    let mut latest = 0;
    let mut previous = 0.0;
    for (i, (value, _)) in candidates.iter().enumerate() {
        let current = go::parse_float(value).map_err(|_| SelectError::NotNumeric(value.clone()))?;
        // Go's loop: a candidate replaces the latest unless it compares strictly worse, so ties
        // go to the later one and NaN (never less, never greater) always replaces.
        let worse = match order {
            Order::Asc => current < previous,
            Order::Desc => current > previous,
        };
        if i == 0 || !worse {
            latest = i;
            previous = current;
        }
    }
    Ok(latest)
}

impl ImageRepository {
    /// Reads an `ImageRepository` object.
    pub fn from_value(o: &Value) -> Result<ImageRepository, Error> {
        let object = check_kind(o, "ImageRepository")?;
        let field =
            |field: &'static str, reason: &str| Error::Field { object: object.clone(), field, reason: reason.into() };
        let namespace = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_owned();
        let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_owned();
        let image = opt_str(o, "/spec/image", &object, "spec.image")?
            .filter(|i| !i.is_empty())
            .ok_or_else(|| field("spec.image", "required"))?
            .to_owned();
        let exclusions = match o.pointer("/spec/exclusionList") {
            None | Some(Value::Null) => {
                vec![go::compile(DEFAULT_EXCLUSION).map_err(|e| field("spec.exclusionList", &e.to_string()))?]
            }
            Some(Value::Array(items)) => {
                if items.len() > MAX_EXCLUSIONS {
                    return Err(field("spec.exclusionList", "at most 25 entries"));
                }
                items
                    .iter()
                    .map(|item| {
                        let text =
                            item.as_str().ok_or_else(|| field("spec.exclusionList", "entries must be strings"))?;
                        go::compile(text).map_err(|e| field("spec.exclusionList", &format!("{text:?}: {e}")))
                    })
                    .collect::<Result<_, _>>()?
            }
            Some(_) => return Err(field("spec.exclusionList", "must be a list of regular expressions")),
        };
        let secret_name = opt_str(o, "/spec/secretRef/name", &object, "spec.secretRef.name")?.map(str::to_owned);
        let insecure = o.pointer("/spec/insecure").and_then(Value::as_bool).unwrap_or(false);
        Ok(ImageRepository { namespace, name, image, exclusions, secret_name, insecure })
    }

    /// The repository Flux's default `exclusionList` applies to (for a policy read alone).
    pub fn default_exclusions() -> Vec<Regex> {
        vec![Regex::new(DEFAULT_EXCLUSION).expect("the default exclusion compiles")]
    }

    /// The tags Flux stores: those no exclusion regex finds anything in, in listed order.
    pub fn exclude<'t>(&self, tags: &[&'t str]) -> Vec<&'t str> {
        exclude(&self.exclusions, tags)
    }
}

/// The tags no regex of `exclusions` finds anything in, in order.
pub fn exclude<'t>(exclusions: &[Regex], tags: &[&'t str]) -> Vec<&'t str> {
    tags.iter().copied().filter(|t| !exclusions.iter().any(|re| re.is_match(t))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(spec: Value) -> ImagePolicy {
        ImagePolicy::from_value(&json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1",
            "kind": "ImagePolicy",
            "metadata": {"name": "app", "namespace": "flux-system"},
            "spec": spec,
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn semver(range: &str) -> ImagePolicy {
        policy(json!({"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": range}}}))
    }

    #[test]
    fn semver_reads_tags_strictly_and_keeps_the_first_of_equals() {
        // (range, tags in listed order, selected)
        let cases: &[(&str, &[&str], Result<&str, SelectError>)] = &[
            (">=1.0.0", &["1.0.0", "1.2.0", "1.10.0", "1.9.9"], Ok("1.10.0")),
            (">=1.0.0", &["v1.2.0", "1.1.0"], Ok("v1.2.0")),
            // `1.3` and `1.2.3.4` are not strict versions: skipped, not errors.
            (">=1.0.0", &["1.2.0", "1.3", "1.2.3.4", "latest"], Ok("1.2.0")),
            // Leading zeros and a capital V are not versions for Flux.
            (">=1.0.0", &["1.2.0", "01.5.0", "V1.6.0", "vv1.7.0"], Ok("1.2.0")),
            ("^1.x", &["1.2.0", "2.0.0", "1.9.0-rc.1"], Ok("1.2.0")),
            // A prerelease needs one in the range, then any triple qualifies.
            (">=1.0.0-0", &["1.2.0", "1.9.0-rc.1", "1.9.0-rc.2"], Ok("1.9.0-rc.2")),
            ("1.2.3", &["1.2.4", "1.2.3"], Ok("1.2.3")),
            // Ties keep the first listed: `1.0.0` and `v1.0.0`, or differing build metadata.
            ("*", &["1.0.0", "v1.0.0"], Ok("1.0.0")),
            ("*", &["v1.0.0", "1.0.0"], Ok("v1.0.0")),
            ("*", &["1.0.0+b", "1.0.0+a"], Ok("1.0.0+b")),
            (">=2.0.0", &["1.0.0", "latest"], Err(SelectError::NoneInRange(">=2.0.0".into()))),
            (">=1.0.0", &[], Err(SelectError::NoTags)),
        ];
        for (range, tags, want) in cases {
            assert_eq!(semver(range).select(tags).as_deref(), want.as_ref().map(|s| *s), "{range} {tags:?}");
        }
    }

    #[test]
    fn filter_tags_searches_unanchored_and_extracts_with_go_templates() {
        let p = policy(json!({
            "imageRepositoryRef": {"name": "app"},
            "filterTags": {"pattern": "main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"},
            "policy": {"numerical": {"order": "asc"}},
        }));
        let tags = ["main-abc123-100", "main-def456-200", "feature-x-300", "xmain-aaa-150y", "latest"];
        // Unanchored: `xmain-aaa-150y` is found too; extraction keeps only the template.
        assert_eq!(p.select(&tags), Ok("main-def456-200"));

        // Two tags extracting the same value: the later tag stands for it.
        let p = policy(json!({
            "imageRepositoryRef": {"name": "app"},
            "filterTags": {"pattern": "^v?(?P<v>[0-9.]+)-(amd64|arm64)$", "extract": "$v"},
            "policy": {"semver": {"range": ">=1.0.0"}},
        }));
        assert_eq!(p.select(&["1.0.0-amd64", "1.1.0-amd64", "1.1.0-arm64", "1.0.5-arm64"]), Ok("1.1.0-arm64"));
        // `v1.0.0` (from -a, then -c, which stands for it) ties with `1.0.0`: the value
        // first seen wins.
        let p = policy(json!({
            "imageRepositoryRef": {"name": "app"},
            "filterTags": {"pattern": "^(v?[0-9.]+)-", "extract": "${1}"},
            "policy": {"semver": {"range": "*"}},
        }));
        assert_eq!(p.select(&["v1.0.0-a", "1.0.0-b", "v1.0.0-c"]), Ok("v1.0.0-c"));

        // Empty extract: the tag itself; empty pattern matches everything.
        let p = policy(json!({
            "imageRepositoryRef": {"name": "app"},
            "filterTags": {"pattern": ""},
            "policy": {"alphabetical": {}},
        }));
        assert_eq!(p.select(&["a", "c", "b"]), Ok("c"));

        // Nothing left after the filter is Flux's empty-list error.
        let p = policy(json!({
            "imageRepositoryRef": {"name": "app"},
            "filterTags": {"pattern": "^release-"},
            "policy": {"alphabetical": {}},
        }));
        assert!(matches!(p.select(&["main-1"]), Err(SelectError::Empty(_))));
        // Unicode classes are RE2's.
        let p = policy(json!({
            "imageRepositoryRef": {"name": "app"},
            "filterTags": {"pattern": r"^\p{L}+-(\d+)$", "extract": "$1"},
            "policy": {"numerical": {}},
        }));
        assert_eq!(p.select(&["build-7", "build-12", "9-9"]), Ok("build-12"));
    }

    #[test]
    fn alphabetical_and_numerical_orders() {
        let alpha =
            |order: Value| policy(json!({"imageRepositoryRef": {"name": "a"}, "policy": {"alphabetical": order}}));
        let tags = ["RELEASE.2024-01-02", "RELEASE.2024-01-10", "RELEASE.2023-12-31"];
        assert_eq!(alpha(json!({})).select(&tags), Ok("RELEASE.2024-01-10"));
        assert_eq!(alpha(json!({"order": "asc"})).select(&tags), Ok("RELEASE.2024-01-10"));
        assert_eq!(alpha(json!({"order": "DESC"})).select(&tags), Ok("RELEASE.2023-12-31"));
        // Bytes, not natural order: upper case sorts before lower case, `10` before `9`.
        assert_eq!(alpha(json!({})).select(&["a", "B", "9", "10"]), Ok("a"));

        let num = |order: &str| {
            policy(json!({"imageRepositoryRef": {"name": "a"}, "policy": {"numerical": {"order": order}}}))
        };
        // (order, tags, selected)
        let cases: &[(&str, &[&str], Result<&str, SelectError>)] = &[
            ("asc", &["1", "10", "9", "2.5"], Ok("10")),
            ("desc", &["1", "10", "9", "-2.5"], Ok("-2.5")),
            ("asc", &["1e3", "999", "0x1p10"], Ok("0x1p10")),
            ("asc", &["Inf", "1e308"], Ok("Inf")),
            ("asc", &["1_000", "999"], Ok("1_000")),
            // Equal numbers: the later one.
            ("asc", &["1.0", "1", "01"], Ok("01")),
            ("desc", &["1.0", "1"], Ok("1")),
            // NaN compares false both ways, so it replaces, and the next one replaces it.
            ("asc", &["5", "NaN"], Ok("NaN")),
            ("asc", &["5", "NaN", "1"], Ok("1")),
            // One value that is not a Go float fails the whole policy.
            ("asc", &["1", "2", "v3"], Err(SelectError::NotNumeric("v3".into()))),
            ("asc", &["1", "1e400"], Err(SelectError::NotNumeric("1e400".into()))),
        ];
        for (order, tags, want) in cases {
            assert_eq!(num(order).select(tags).as_deref(), want.as_ref().map(|s| *s), "{order} {tags:?}");
        }
    }

    #[test]
    fn invalid_policies_name_the_field() {
        let base = |spec: Value| json!({"apiVersion": "image.toolkit.fluxcd.io/v1beta2", "kind": "ImagePolicy", "metadata": {"name": "p"}, "spec": spec});
        let cases = [
            (json!({"policy": {"semver": {"range": "1.x"}}}), "spec.imageRepositoryRef.name"),
            (json!({"imageRepositoryRef": {"name": "a"}}), "spec.policy: required"),
            (json!({"imageRepositoryRef": {"name": "a"}, "policy": {}}), "ImagePolicyChoice object is invalid"),
            (
                json!({"imageRepositoryRef": {"name": "a"}, "policy": {"semver": {}}}),
                "spec.policy.semver.range: required",
            ),
            (
                json!({"imageRepositoryRef": {"name": "a"}, "policy": {"semver": {"range": ">=x.y"}}}),
                "spec.policy.semver.range",
            ),
            (json!({"imageRepositoryRef": {"name": "a"}, "policy": {"semver": {"range": 1}}}), "must be a string"),
            (
                json!({"imageRepositoryRef": {"name": "a"}, "policy": {"alphabetical": {"order": "up"}}}),
                "invalid order argument provided: 'UP'",
            ),
            (
                json!({"imageRepositoryRef": {"name": "a"}, "policy": {"numerical": {"order": "sideways"}}}),
                "spec.policy.numerical.order",
            ),
            (
                json!({"imageRepositoryRef": {"name": "a"}, "policy": {"numerical": {}}, "filterTags": {"pattern": "(unclosed"}}),
                "spec.filterTags.pattern",
            ),
            (
                json!({"imageRepositoryRef": {"name": "a"}, "policy": {"numerical": {}}, "digestReflectionPolicy": "Sometimes"}),
                "spec.digestReflectionPolicy",
            ),
        ];
        for (spec, want) in cases {
            let err = ImagePolicy::from_value(&base(spec.clone())).expect_err(&spec.to_string()).to_string();
            assert!(err.contains(want) && err.starts_with("ImagePolicy/p: "), "{spec}: {err}");
        }
        let wrong =
            json!({"apiVersion": "image.toolkit.fluxcd.io/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": "p"}});
        assert!(matches!(ImagePolicy::from_value(&wrong), Err(Error::Kind { .. })));
        let wrong =
            json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "metadata": {"name": "p"}});
        assert!(matches!(ImagePolicy::from_value(&wrong), Err(Error::Kind { .. })));
        // v1beta2 reads like v1; the ref's namespace defaults to the policy's.
        let p = ImagePolicy::from_value(&json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1beta2", "kind": "ImagePolicy",
            "metadata": {"name": "p", "namespace": "apps"},
            "spec": {"imageRepositoryRef": {"name": "r"}, "policy": {"semver": {"range": "1.x"}}, "digestReflectionPolicy": "Always"},
        }))
        .unwrap();
        assert_eq!((p.repository_namespace.as_str(), p.digest_reflection), ("apps", DigestReflection::Always));
    }

    #[test]
    fn repositories_exclude_signatures_by_default() {
        let repo = |spec: Value| {
            ImageRepository::from_value(
                &json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "metadata": {"name": "r", "namespace": "ns"}, "spec": spec}),
            )
        };
        let tags = ["1.0.0", "sha256-abc.sig", "sha256-abc.att", "1.0.0-dev"];
        let r = repo(json!({"image": "ghcr.io/org/app"})).unwrap();
        assert_eq!(r.exclude(&tags), ["1.0.0", "sha256-abc.att", "1.0.0-dev"]);
        // An explicit list replaces the default; regexes search unanchored.
        let r = repo(json!({"image": "ghcr.io/org/app", "exclusionList": ["dev", "\\.att$"], "secretRef": {"name": "creds"}, "insecure": true})).unwrap();
        assert_eq!(r.exclude(&tags), ["1.0.0", "sha256-abc.sig"]);
        assert_eq!((r.secret_name.as_deref(), r.insecure), (Some("creds"), true));
        let r = repo(json!({"image": "ghcr.io/org/app", "exclusionList": []})).unwrap();
        assert_eq!(r.exclude(&tags).len(), 4);
        assert!(repo(json!({})).unwrap_err().to_string().contains("spec.image: required"));
        assert!(
            repo(json!({"image": "a", "exclusionList": ["("]})).unwrap_err().to_string().contains("spec.exclusionList")
        );
        let many: Vec<String> = (0..26).map(|i| format!("x{i}")).collect();
        assert!(repo(json!({"image": "a", "exclusionList": many})).unwrap_err().to_string().contains("at most 25"));
    }
}
