//! Flux image-automation setters: YAML scalars marked with a line comment
//! `# {"$imagepolicy": "<namespace>:<policy>[:tag|:name|:digest]"}` are replaced with the
//! policy's latest image (or its tag, name or digest), as Flux's image-automation-controller
//! does with its `Setters` strategy.
//!
//! The edit is made on the text, not by re-serialising a tree: only the bytes of each
//! replaced scalar change, so comments, key order, indentation, blank lines, anchors and
//! `---` separators are kept byte for byte (Flux re-emits the whole file through kyaml, which
//! may reflow it; a smaller diff is the better review). The whole scalar is replaced, as Flux
//! does, and keeps its quoting style; a plain scalar whose new value would read back as
//! something other than that string (`1.2`, `yes`, `a: b`) is double-quoted, as the YAML
//! encoder Flux uses would quote it.
//!
//! Scope, as Flux decides it: only files that contain the literal `"$imagepolicy"`, only
//! markers naming a policy of the automation's namespace. A marker of another namespace is
//! left alone (another automation owns it). Unlike Flux, which skips silently, a marker of the
//! automation's namespace that names no policy, or a field other than `tag`, `name` and
//! `digest`, is an error: a typo there would otherwise leave an image pinned for ever.
//! A policy that exists but has no latest image yet (or that the automation's
//! `policySelector` leaves out) leaves its markers alone.
//!
//! # Example
//!
//! ```
//! use gitops_core::image::setters::{update, LatestImage, Lookup};
//!
//! let text = "spec:\n  image: ghcr.io/org/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n";
//! let latest = LatestImage { name: "ghcr.io/org/app".into(), tag: "1.1.0".into(), digest: None };
//! let out = update("deploy.yaml", text, "flux-system", &|_ns: &str, name: &str| {
//!     if name == "app" { Lookup::Latest(latest.clone()) } else { Lookup::Missing }
//! })?;
//! assert_eq!(out.text, "spec:\n  image: ghcr.io/org/app:1.1.0 # {\"$imagepolicy\": \"flux-system:app\"}\n");
//! assert_eq!(out.changes[0].change.old_value, "ghcr.io/org/app:1.0.0");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::Value;

use crate::yaml;

/// The key of the JSON object in a marker comment.
pub const MARKER_KEY: &str = "$imagepolicy";

/// Files holding no `"$imagepolicy"` (with its quotes) are not read, as in Flux.
const MARKER_NEEDLE: &str = "\"$imagepolicy\"";

/// Why a file cannot be updated. Nothing of the file is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetterError {
    /// The file does not read as YAML (before the edit).
    #[error("{file}: does not read as YAML: {message}")]
    Syntax {
        /// The file, as the caller named it.
        file: String,
        /// The parser's message, with its position.
        message: String,
    },
    /// A marker of the automation's namespace is malformed.
    #[error("{file} line {line}: image policy marker `{marker}`: {reason}")]
    BadMarker {
        /// The file.
        file: String,
        /// One-based line of the marker.
        line: usize,
        /// The marker's value as written.
        marker: String,
        /// What is wrong.
        reason: String,
    },
    /// A marker of the automation's namespace names a policy that does not exist.
    #[error("{file} line {line}: marker names image policy {namespace}/{name}, which does not exist")]
    UnknownPolicy {
        /// The file.
        file: String,
        /// One-based line of the marker.
        line: usize,
        /// The policy's namespace.
        namespace: String,
        /// The policy's name.
        name: String,
    },
    /// The edited text would not read back as YAML, or would read a value other than the one
    /// written (a bug in quoting, caught before anything is written).
    #[error("{file}: the file would not read back after setting line {line} to {value:?}: {message}")]
    Unreadable {
        /// The file.
        file: String,
        /// One-based line of the edit.
        line: usize,
        /// The value set.
        value: String,
        /// What reading it back found.
        message: String,
    },
}

/// Which part of a policy's latest image a marker writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// `name:tag[@digest]` (no suffix).
    Full,
    /// The tag (`:tag`).
    Tag,
    /// The image name without tag (`:name`).
    Name,
    /// The digest (`:digest`).
    Digest,
}

/// A parsed marker: `<namespace>:<policy>[:<part>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The policy's namespace.
    pub namespace: String,
    /// The policy's name.
    pub name: String,
    /// What is written.
    pub part: Part,
    /// The marker's value as written (Flux's `Setter` of a change).
    pub setter: String,
}

impl Marker {
    /// Reads the value of `$imagepolicy`; `None` when it has no `:` (Flux never matches such
    /// a marker, whichever namespace it meant).
    pub fn parse(value: &str) -> Result<Option<Marker>, String> {
        let mut parts = value.split(':');
        let (Some(namespace), Some(name)) = (parts.next(), parts.next()) else { return Ok(None) };
        let part = match parts.next() {
            None => Part::Full,
            Some("tag") => Part::Tag,
            Some("name") => Part::Name,
            Some("digest") => Part::Digest,
            Some(other) => return Err(format!("unknown field `{other}` (expected tag, name or digest)")),
        };
        if parts.next().is_some() {
            return Err("too many `:` (expected <namespace>:<policy>[:tag|:name|:digest])".into());
        }
        if namespace.is_empty() || name.is_empty() {
            return Err("empty namespace or policy name".into());
        }
        Ok(Some(Marker { namespace: namespace.into(), name: name.into(), part, setter: value.into() }))
    }
}

/// A policy's latest image, as its `status.latestRef` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestImage {
    /// The image name, without tag (`ghcr.io/org/app`).
    pub name: String,
    /// The chosen tag.
    pub tag: String,
    /// The digest (`sha256:...`) when the policy reflects digests.
    pub digest: Option<String>,
}

impl LatestImage {
    /// Reads `status.latestRef` (`{name, tag, digest}`) of an ImagePolicy; the older
    /// `status.latestImage` string (`name:tag`) when there is no `latestRef`.
    pub fn from_policy_status(policy: &Value) -> Option<LatestImage> {
        let status = policy.get("status")?;
        if let Some(latest) = status.get("latestRef") {
            let name = latest.get("name")?.as_str()?;
            let tag = latest.get("tag")?.as_str()?;
            let digest = latest.get("digest").and_then(Value::as_str).filter(|d| !d.is_empty());
            return Some(LatestImage { name: name.into(), tag: tag.into(), digest: digest.map(String::from) });
        }
        let image = status.get("latestImage")?.as_str()?;
        let slash = image.rfind('/').map_or(0, |i| i + 1);
        let colon = image[slash..].rfind(':')? + slash;
        Some(LatestImage { name: image[..colon].into(), tag: image[colon + 1..].into(), digest: None })
    }

    /// The text a marker of `part` writes.
    pub fn value(&self, part: Part) -> String {
        match part {
            Part::Full => self.to_string(),
            Part::Tag => self.tag.clone(),
            Part::Name => self.name.clone(),
            Part::Digest => self.digest.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for LatestImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)?;
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// What the caller knows of a policy a marker names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The policy is in scope and has a latest image.
    Latest(LatestImage),
    /// The policy exists but is out of scope (`policySelector`) or has no latest image yet.
    Skip,
    /// No policy of that name in that namespace.
    Missing,
}

/// The object (document) a change was made in, as Flux identifies it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    /// `apiVersion` (empty when the document has none).
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

impl ObjectId {
    fn of(document: &Value) -> ObjectId {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        let meta = document.get("metadata");
        ObjectId {
            api_version: text(document.get("apiVersion")),
            kind: text(document.get("kind")),
            name: text(meta.and_then(|m| m.get("name"))),
            namespace: text(meta.and_then(|m| m.get("namespace"))),
        }
    }
}

/// One replaced scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The scalar's value before.
    pub old_value: String,
    /// The value written.
    pub new_value: String,
    /// The marker's value (`flux-system:app:tag`).
    pub setter: String,
}

/// A change with where it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The object of the document holding the scalar.
    pub object: ObjectId,
    /// One-based line of the scalar.
    pub line: usize,
    /// The change.
    pub change: Change,
}

/// The result of [`update`]: the new text (equal to the input when nothing changed) and the
/// changes, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileUpdate {
    /// The text after the edits.
    pub text: String,
    /// What changed; empty when the text is unchanged.
    pub changes: Vec<Located>,
}

/// Whether Flux would read `text` for markers at all.
pub fn has_markers(text: &str) -> bool {
    text.contains(MARKER_NEEDLE)
}

/// A marked scalar found in a text.
struct Site {
    range: std::ops::Range<usize>,
    style: ScalarStyle,
    value: String,
    document: usize,
    line: usize,
    marker: Marker,
}

/// Applies every marker of the automation's namespace in `text` (the contents of `file`).
/// `lookup(namespace, name)` says what is known of a policy. A scalar already holding the
/// value is not a change.
pub fn update(
    file: &str,
    text: &str,
    automation_namespace: &str,
    lookup: &dyn Fn(&str, &str) -> Lookup,
) -> Result<FileUpdate, SetterError> {
    let unchanged = || FileUpdate { text: text.to_string(), changes: Vec::new() };
    if !has_markers(text) {
        return Ok(unchanged());
    }
    let sites = marked_scalars(file, text, automation_namespace)?;
    if sites.is_empty() {
        return Ok(unchanged());
    }
    let documents =
        yaml::parse_documents(text).map_err(|e| SetterError::Syntax { file: file.into(), message: e.to_string() })?;
    let mut edits: Vec<(Site, String)> = Vec::new();
    for site in sites {
        let latest = match lookup(&site.marker.namespace, &site.marker.name) {
            Lookup::Latest(latest) => latest,
            Lookup::Skip => continue,
            Lookup::Missing => {
                return Err(SetterError::UnknownPolicy {
                    file: file.into(),
                    line: site.line,
                    namespace: site.marker.namespace.clone(),
                    name: site.marker.name.clone(),
                });
            }
        };
        let value = latest.value(site.marker.part);
        if value.is_empty() {
            // `:digest` of a policy that reflects no digest: nothing to write, as in Flux.
            continue;
        }
        if value != site.value {
            edits.push((site, value));
        }
    }
    if edits.is_empty() {
        return Ok(unchanged());
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    for (site, value) in &edits {
        out.push_str(&text[at..site.range.start]);
        out.push_str(&yaml::edit::render(value, site.style));
        at = site.range.end;
    }
    out.push_str(&text[at..]);
    verify(file, &out, automation_namespace, &edits)?;
    let object_of = |index: usize| documents.iter().find(|d| d.index == index).map(|d| ObjectId::of(&d.value));
    let changes = edits
        .into_iter()
        .map(|(site, new_value)| Located {
            object: object_of(site.document).unwrap_or_default(),
            line: site.line,
            change: Change { old_value: site.value, new_value, setter: site.marker.setter },
        })
        .collect();
    Ok(FileUpdate { text: out, changes })
}

/// Reads the edited text again: it must parse, every edited scalar must hold its new value,
/// and a plain one must still read as a string.
fn verify(file: &str, edited: &str, namespace: &str, edits: &[(Site, String)]) -> Result<(), SetterError> {
    let first = edits.first().map_or(0, |(s, _)| s.line);
    let unreadable = |line: usize, value: &str, message: String| SetterError::Unreadable {
        file: file.into(),
        line,
        value: value.into(),
        message,
    };
    let again = marked_scalars(file, edited, namespace).map_err(|e| unreadable(first, "", e.to_string()))?;
    yaml::parse_documents(edited).map_err(|e| unreadable(first, "", e.to_string()))?;
    for (site, value) in edits {
        let Some(found) = again.iter().find(|s| s.line == site.line && s.marker == site.marker) else {
            return Err(unreadable(site.line, value, "the marker is no longer on the scalar".into()));
        };
        let reads_as_string = found.style != ScalarStyle::Plain
            || matches!(yaml::resolve_plain(&found.value), Value::String(ref s) if s == value);
        if found.value != *value || !reads_as_string {
            return Err(unreadable(site.line, value, format!("it reads back as {:?}", found.value)));
        }
    }
    Ok(())
}

/// The marked scalars of `text` whose marker names a policy of `namespace`, in text order.
fn marked_scalars(file: &str, text: &str, namespace: &str) -> Result<Vec<Site>, SetterError> {
    let syntax = |message: String| SetterError::Syntax { file: file.into(), message };
    let mut parser = Parser::new_from_str(text);
    let mut document = 0usize;
    let mut sites = Vec::new();
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let m = e.marker();
            syntax(format!("line {} column {}: {}", m.line(), m.col() + 1, e.info()))
        })?;
        match event {
            Event::DocumentStart(..) => document += 1,
            Event::Scalar(value, style, _, _) => {
                let Some(range) = span.byte_range() else { continue };
                let Some(comment) = line_comment_after(text, range.end) else { continue };
                let Some(raw) = marker_value(comment) else { continue };
                let line = span.start.line();
                let marker = match Marker::parse(&raw) {
                    Ok(Some(marker)) => marker,
                    Ok(None) => continue,
                    Err(reason) => {
                        if raw.split(':').next() == Some(namespace) {
                            return Err(SetterError::BadMarker { file: file.into(), line, marker: raw, reason });
                        }
                        continue;
                    }
                };
                if marker.namespace != namespace {
                    continue;
                }
                sites.push(Site {
                    range,
                    style,
                    value: value.into_owned(),
                    document: document.saturating_sub(1),
                    line,
                    marker,
                });
            }
            _ => {}
        }
    }
    Ok(sites)
}

/// The comment that follows byte `end` on its line (after blanks), without its `#`.
fn line_comment_after(text: &str, end: usize) -> Option<&str> {
    let rest = text.get(end..)?;
    let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let trimmed = line.trim_start_matches([' ', '\t']);
    if trimmed.len() == line.len() && end > 0 {
        // `#` right after a scalar is part of it in YAML, never a comment.
        return None;
    }
    trimmed.strip_prefix('#').map(|c| c.trim_end_matches('\r'))
}

/// The `$imagepolicy` value of a comment that is a JSON object holding it.
fn marker_value(comment: &str) -> Option<String> {
    let comment = comment.trim();
    if !comment.starts_with('{') || !comment.contains(MARKER_KEY) {
        return None;
    }
    let object: serde_json::Map<String, Value> = serde_json::from_str(comment).ok()?;
    object.get(MARKER_KEY)?.as_str().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, tag: &str) -> LatestImage {
        LatestImage { name: name.into(), tag: tag.into(), digest: None }
    }

    fn run(text: &str, lookup: &dyn Fn(&str, &str) -> Lookup) -> Result<FileUpdate, SetterError> {
        update("apps/deploy.yaml", text, "flux-system", lookup)
    }

    fn app_1_2(_: &str, name: &str) -> Lookup {
        match name {
            "app" => Lookup::Latest(policy("ghcr.io/org/app", "1.2.0")),
            "pinned" => Lookup::Skip,
            _ => Lookup::Missing,
        }
    }

    #[test]
    fn replaces_only_the_marked_scalars_and_keeps_every_other_byte() {
        let text = "\
# top comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # trailing comment
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/org/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}


        - name: side
          image: \"ghcr.io/org/app:1.0.0\"  #  {\"$imagepolicy\": \"flux-system:app:tag\"}
        - image: 'x'  # {\"$imagepolicy\":\"flux-system:app:name\"}
---
kind: Other
tag: 1.0.0 # {\"$imagepolicy\": \"other-ns:app:tag\"}
";
        let out = run(text, &app_1_2).unwrap();
        let expected = text
            .replacen("app:1.0.0 #", "app:1.2.0 #", 1)
            .replacen("\"ghcr.io/org/app:1.0.0\"", "\"1.2.0\"", 1)
            .replacen("'x'", "'ghcr.io/org/app'", 1);
        assert_eq!(out.text, expected);
        let lines: Vec<_> = out.changes.iter().map(|c| (c.line, c.change.setter.as_str())).collect();
        assert_eq!(lines, [(12, "flux-system:app"), (16, "flux-system:app:tag"), (17, "flux-system:app:name")]);
        assert_eq!(out.changes[0].object.kind, "Deployment");
        assert_eq!(out.changes[0].object.name, "web");
        assert_eq!(out.changes[0].object.namespace, "prod");
        assert_eq!(out.changes[1].change.old_value, "ghcr.io/org/app:1.0.0");
        assert_eq!(out.changes[1].change.new_value, "1.2.0");
    }

    #[test]
    fn an_up_to_date_file_is_not_a_change() {
        let text = "image: ghcr.io/org/app:1.2.0 # {\"$imagepolicy\": \"flux-system:app\"}\n";
        let out = run(text, &app_1_2).unwrap();
        assert_eq!(out.text, text);
        assert!(out.changes.is_empty());
    }

    #[test]
    fn files_without_the_quoted_key_are_not_read_even_when_broken() {
        let text = "a: [unclosed\n# $imagepolicy without quotes\n";
        assert_eq!(run(text, &app_1_2).unwrap().text, text);
    }

    #[test]
    fn a_plain_value_that_would_read_as_a_number_is_quoted() {
        let lookup = |_: &str, _: &str| Lookup::Latest(policy("r/app", "1.10"));
        let text = "tag: v1 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
        let out = run(text, &lookup).unwrap();
        assert_eq!(out.text, "tag: \"1.10\" # {\"$imagepolicy\": \"flux-system:app:tag\"}\n");
        let lookup = |_: &str, _: &str| Lookup::Latest(policy("r/app", "yes"));
        assert!(run(text, &lookup).unwrap().text.starts_with("tag: \"yes\" #"));
    }

    #[test]
    fn digest_markers_and_full_refs_with_digests() {
        let lookup = |_: &str, _: &str| {
            Lookup::Latest(LatestImage { name: "r/app".into(), tag: "2.0.0".into(), digest: Some("sha256:ab".into()) })
        };
        let text =
            "a: x # {\"$imagepolicy\": \"flux-system:app\"}\nb: y # {\"$imagepolicy\": \"flux-system:app:digest\"}\n";
        let out = run(text, &lookup).unwrap();
        assert_eq!(
            out.text,
            "a: r/app:2.0.0@sha256:ab # {\"$imagepolicy\": \"flux-system:app\"}\nb: sha256:ab # {\"$imagepolicy\": \"flux-system:app:digest\"}\n"
        );
    }

    #[test]
    fn markers_of_the_namespace_that_name_no_policy_or_a_bad_field_are_errors() {
        let text = "image: a # {\"$imagepolicy\": \"flux-system:ap\"}\n";
        let err = run(text, &app_1_2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "apps/deploy.yaml line 1: marker names image policy flux-system/ap, which does not exist"
        );
        let text = "x: 1\nimage: a # {\"$imagepolicy\": \"flux-system:app:tags\"}\n";
        let err = run(text, &app_1_2).unwrap_err();
        assert!(err.to_string().contains("line 2: image policy marker `flux-system:app:tags`: unknown field `tags`"));
        // Another namespace's typo is that namespace's automation's business.
        let text = "image: a # {\"$imagepolicy\": \"team:app:tags\"}\n";
        assert!(run(text, &app_1_2).unwrap().changes.is_empty());
    }

    #[test]
    fn skipped_policies_and_non_markers_are_left_alone() {
        let text = "\
a: x # {\"$imagepolicy\": \"flux-system:pinned\"}
b: y # {\"$imagepolicy\": \"noseparator\"}
c: z # {\"$other\": \"flux-system:app\"} \"$imagepolicy\"
d: w#{\"$imagepolicy\":\"flux-system:app\"}
e: [f, g] # {\"$imagepolicy\": \"flux-system:app\"}
";
        let out = run(text, &app_1_2).unwrap();
        assert_eq!(out.text, text, "{:?}", out.changes);
    }

    #[test]
    fn a_sequence_item_and_a_flow_mapping_value_are_set() {
        let text = "images:\n  - a:1 # {\"$imagepolicy\": \"flux-system:app\"}\n";
        let out = run(text, &app_1_2).unwrap();
        assert_eq!(out.text, "images:\n  - ghcr.io/org/app:1.2.0 # {\"$imagepolicy\": \"flux-system:app\"}\n");
    }

    #[test]
    fn block_scalars_and_broken_yaml_are_errors() {
        let text = "a: | # {\"$imagepolicy\": \"flux-system:app\"}\n  x\n";
        // The comment is on the header line, not after the scalar: not a marked scalar.
        assert_eq!(run(text, &app_1_2).unwrap().text, text);
        let text = "a: [x # {\"$imagepolicy\": \"flux-system:app\"}\n";
        let err = run(text, &app_1_2).unwrap_err();
        assert!(matches!(err, SetterError::Syntax { .. }), "{err}");
        assert!(err.to_string().starts_with("apps/deploy.yaml: does not read as YAML: line"));
    }

    #[test]
    fn crlf_files_keep_their_line_ends() {
        let text = "a: b\r\nimage: x:1 # {\"$imagepolicy\": \"flux-system:app:tag\"}\r\nc: d\r\n";
        let out = run(text, &app_1_2).unwrap();
        assert_eq!(out.text, "a: b\r\nimage: 1.2.0 # {\"$imagepolicy\": \"flux-system:app:tag\"}\r\nc: d\r\n");
    }

    #[test]
    fn latest_ref_is_read_from_status() {
        let policy = serde_json::json!({"status": {"latestRef": {"name": "r/a", "tag": "1", "digest": ""}}});
        assert_eq!(
            LatestImage::from_policy_status(&policy),
            Some(LatestImage { name: "r/a".into(), tag: "1".into(), digest: None })
        );
        let policy = serde_json::json!({"status": {"latestImage": "localhost:5000/a:2"}});
        assert_eq!(LatestImage::from_policy_status(&policy).unwrap().to_string(), "localhost:5000/a:2");
    }
}
