//! Desired versus live, the way Argo CD compares them, and a little more faithfully.
//!
//! For each pair the [`Comparator`]:
//! 1. normalizes both sides ([`crate::normalize`]): creationTimestamp, Secret `stringData`,
//!    aggregated roles, canonical quantities in built-in kinds and known-type fields;
//! 2. trusts the values of `managedFieldsManagers`, then removes the `ignoreDifferences`
//!    paths (JSON pointers, jq path expressions) from both sides;
//! 3. predicts live after an apply ([`crate::merge`]): three-way through the
//!    `kubectl.kubernetes.io/last-applied-configuration` annotation when live has one (so
//!    fields removed from Git are seen), two-way otherwise (so fields only live has never
//!    count); strategic-merge list semantics for built-in kinds, JSON merge for the rest;
//! 4. fills the API server's defaults ([`crate::defaults`]) into the prediction and live,
//!    as the server would on the merged object;
//! 5. compares canonical JSON trees (key order irrelevant, `1` equals `1.0`, `"1"` does
//!    not equal `1`), and writes an RFC 6902 patch from normalized live to predicted live.
//!
//! Secret values are masked in every result (equal values keep equal masks) unless the
//! configuration asks to reveal them; the status is decided on the unmasked values.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ignore::{self, Applicable, IgnoreRule, IgnoreRuleSpec, IgnoredPath, RuleSource};
use crate::manifest;
use crate::merge;
use crate::normalize::{self, NormalizeOptions};
use crate::object::{Object, Origin, ResourceKey};
use crate::schema::{Shape, schema, split_api_version};
use crate::scope::{self, ScopeSource, Scopes};
use crate::settings::{Settings, StatusField};
use crate::{defaults, mask};

/// The annotation `kubectl apply` (client-side) keeps the applied configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Argo CD's annotation-based tracking id.
pub const TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
/// Argo CD's per-resource compare options annotation.
pub const COMPARE_OPTIONS: &str = "argocd.argoproj.io/compare-options";

/// Sync status of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SyncStatus {
    /// Live equals what applying the desired state would give.
    Synced,
    /// Applying the desired state would change live.
    OutOfSync,
    /// Desired, but not in live.
    Missing,
    /// In live, not desired: a sync with prune would delete it.
    RequiresPruning,
}

impl std::fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyncStatus::Synced => "Synced",
            SyncStatus::OutOfSync => "OutOfSync",
            SyncStatus::Missing => "Missing",
            SyncStatus::RequiresPruning => "RequiresPruning",
        })
    }
}

/// How the prediction was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DiffMode {
    /// Desired against live; fields only live has are kept.
    TwoWay,
    /// Through live's last-applied configuration; removed fields are detected.
    ThreeWay,
    /// One side is absent.
    OneSided,
    /// Predicted by the API server: a server-side apply dry run of the desired object as the
    /// app's field manager (Argo CD's server-side diff).
    ServerSide,
}

/// The comparison of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDiff {
    /// The object's identity.
    pub key: ResourceKey,
    /// Its sync status.
    pub status: SyncStatus,
    /// How the prediction was made.
    pub mode: DiffMode,
    /// Live after normalization (`Null` when missing).
    pub normalized_live: Value,
    /// Live as an apply of the desired state would leave it (`None`: same as normalized live).
    predicted_live: Option<Value>,
    /// RFC 6902 operations turning normalized live into predicted live.
    pub patch: json_patch::Patch,
    /// Paths that ignore rules removed where the sides differed, with the rule.
    pub ignored: Vec<IgnoredPath>,
    /// Where the desired object was read.
    pub desired_origin: Option<Origin>,
    /// Where the live object was read.
    pub live_origin: Option<Origin>,
    /// Things the user should know (e.g. an unreadable last-applied annotation).
    pub warnings: Vec<String>,
    /// Whether the object is excluded from the app's status (`IgnoreExtraneous`).
    pub ignore_extraneous: bool,
}

impl ObjectDiff {
    /// Live as an apply of the desired state would leave it (`Null` when pruned).
    pub fn predicted_live(&self) -> &Value {
        self.predicted_live.as_ref().unwrap_or(&self.normalized_live)
    }

    /// Drops the normalized and predicted objects, keeping status, patch and reports: for
    /// callers that stream large sets and only need the verdicts.
    pub fn drop_objects(&mut self) {
        self.normalized_live = Value::Null;
        self.predicted_live = None;
    }

    /// Keeps the objects only where a report shows them: when `keep_changed` and the object
    /// differs. Streams of many objects stay small.
    pub fn slim(&mut self, keep_changed: bool) {
        if !keep_changed || self.status == SyncStatus::Synced {
            self.drop_objects();
        }
    }

    /// Whether the object differs (anything but Synced).
    pub fn is_modified(&self) -> bool {
        self.status != SyncStatus::Synced
    }

    /// The JSON pointers the patch touches.
    pub fn changed_paths(&self) -> Vec<String> {
        self.patch
            .0
            .iter()
            .map(|op| {
                let p = match op {
                    json_patch::PatchOperation::Add(o) => &o.path,
                    json_patch::PatchOperation::Remove(o) => &o.path,
                    json_patch::PatchOperation::Replace(o) => &o.path,
                    json_patch::PatchOperation::Move(o) => &o.path,
                    json_patch::PatchOperation::Copy(o) => &o.path,
                    json_patch::PatchOperation::Test(o) => &o.path,
                };
                p.to_string()
            })
            .collect()
    }
}

/// An object the comparison left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The object's identity (name may be empty for `generateName` hooks).
    pub key: ResourceKey,
    /// Why it is not compared.
    pub reason: String,
}

/// Counts of an app-level comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Whether any object makes the app OutOfSync.
    pub modified: bool,
    /// Objects in sync.
    pub synced: usize,
    /// Objects out of sync.
    pub out_of_sync: usize,
    /// Objects missing from live.
    pub missing: usize,
    /// Live objects that would be pruned.
    pub requires_pruning: usize,
    /// Objects left out (hooks, `Skip`).
    pub skipped: usize,
}

/// The comparison of a whole desired set with a live set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppDiff {
    /// Per object, ordered by key.
    pub objects: Vec<ObjectDiff>,
    /// Objects not compared.
    pub skipped: Vec<Skipped>,
    /// Totals.
    pub summary: Summary,
}

impl AppDiff {
    /// Builds the summary from per-object results.
    pub fn from_objects(mut objects: Vec<ObjectDiff>, skipped: Vec<Skipped>) -> AppDiff {
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        let mut summary = Summary { skipped: skipped.len(), ..Summary::default() };
        for o in &objects {
            match o.status {
                SyncStatus::Synced => summary.synced += 1,
                SyncStatus::OutOfSync => summary.out_of_sync += 1,
                SyncStatus::Missing => summary.missing += 1,
                SyncStatus::RequiresPruning => summary.requires_pruning += 1,
            }
            if o.status != SyncStatus::Synced && !o.ignore_extraneous {
                summary.modified = true;
            }
        }
        AppDiff { objects, skipped, summary }
    }
}

/// Why a comparison could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An ignore rule is unusable.
    #[error(transparent)]
    Rule(#[from] ignore::Error),
    /// The desired set is inconsistent (e.g. a duplicate key).
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// Both sides are absent.
    #[error("nothing to compare: both desired and live are absent")]
    NothingToCompare,
    /// A desired object of a custom kind names no namespace, and nothing tells its scope.
    #[error(transparent)]
    Scope(#[from] crate::scope::Error),
}

/// What a comparison needs to know.
#[derive(Debug, Clone)]
pub struct DiffConfig {
    /// Destination namespace: objects without one are placed there.
    pub namespace: String,
    /// The application's `spec.ignoreDifferences`.
    pub ignore_differences: Vec<IgnoreRuleSpec>,
    /// argocd-cm settings.
    pub settings: Settings,
    /// Bound on one jq evaluation (Argo CD's default is 1 s).
    pub jq_timeout: Duration,
    /// Show Secret values instead of masks (for trusted embedders only).
    pub reveal_secrets: bool,
}

impl Default for DiffConfig {
    fn default() -> Self {
        DiffConfig {
            namespace: "default".into(),
            ignore_differences: Vec::new(),
            settings: Settings::default(),
            jq_timeout: Duration::from_secs(1),
            reveal_secrets: false,
        }
    }
}

/// Compares objects under one configuration; build once, use for many objects.
#[derive(Debug)]
pub struct Comparator {
    namespace: String,
    rules: Vec<IgnoreRule>,
    settings: Settings,
    normalize: NormalizeOptions,
    jq_timeout: Duration,
    reveal_secrets: bool,
}

impl Comparator {
    /// Compiles the configuration's rules; a bad pointer or jq expression is an error here.
    pub fn new(config: DiffConfig) -> Result<Comparator, Error> {
        let mut rules = Vec::new();
        for (index, spec) in config.ignore_differences.iter().enumerate() {
            rules.push(IgnoreRule::compile(spec, RuleSource::App { index })?);
        }
        for r in &config.settings.ignore {
            rules.push(IgnoreRule::compile(&r.spec, RuleSource::System { key: r.key.clone() })?);
        }
        let status_rule = match config.settings.compare.status_field {
            StatusField::All => Some(("*", "*")),
            StatusField::Crd => Some(("apiextensions.k8s.io", "CustomResourceDefinition")),
            StatusField::None => None,
        };
        if let Some((group, kind)) = status_rule {
            let spec = IgnoreRuleSpec {
                group: group.into(),
                kind: kind.into(),
                json_pointers: vec!["/status".into()],
                ..Default::default()
            };
            rules.push(IgnoreRule::compile(&spec, RuleSource::StatusField)?);
        }
        Ok(Comparator {
            namespace: config.namespace,
            rules,
            normalize: NormalizeOptions { ignore_aggregated_roles: config.settings.compare.ignore_aggregated_roles },
            settings: config.settings,
            jq_timeout: config.jq_timeout,
            reveal_secrets: config.reveal_secrets,
        })
    }

    /// The destination namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Compares one pair (either side may be absent, not both).
    pub fn compare(&self, desired: Option<&Object>, live: Option<&Object>) -> Result<ObjectDiff, Error> {
        self.compare_inner(desired.map(Side::Borrowed), live.map(Side::Borrowed))
    }

    /// Compares one pair, consuming it (saves a copy of each side).
    pub fn compare_owned(&self, desired: Option<Object>, live: Option<Object>) -> Result<ObjectDiff, Error> {
        self.compare_inner(desired.map(Side::Owned), live.map(Side::Owned))
    }

    /// The comparison proper.
    fn compare_inner(&self, desired: Option<Side<'_>>, live: Option<Side<'_>>) -> Result<ObjectDiff, Error> {
        let reference = desired.as_ref().or(live.as_ref()).ok_or(Error::NothingToCompare)?.get();
        let key = reference.key(&self.namespace);
        let api_version = reference.api_version().to_string();
        let (group, version) = split_api_version(&api_version);
        let kind = reference.kind().to_string();
        let root = schema().kind(&api_version, &kind);
        let shape = root.map(Shape::Def);
        let known = if root.is_none() { self.settings.known_types_of(group, &kind) } else { &[] };
        let ignore_extraneous = desired.is_none()
            && live
                .as_ref()
                .and_then(|l| l.get().annotation(COMPARE_OPTIONS))
                .is_some_and(|o| o.split(',').any(|x| x.trim() == "IgnoreExtraneous"));
        let desired_origin = desired.as_ref().map(|o| o.get().origin().clone());
        let live_origin = live.as_ref().map(|o| o.get().origin().clone());
        let mut warnings = Vec::new();
        let rules = Applicable::select(&self.rules, group, &kind, &key.namespace, &key.name);

        // Live's managedFields (often a third of the object) and whole top-level fields an
        // ignore rule removes (`/status` by default) are never copied: the diff does not
        // compare them (managedFields are read in place for `managedFieldsManagers`).
        let top_ignored = rules.top_level_pointers();
        let mut set_aside: Vec<(&str, Option<Cow<'_, Value>>)> = Vec::new();
        let (live_value, managed): (Option<Value>, Option<Cow<'_, Value>>) = match live {
            None => (None, None),
            Some(Side::Borrowed(o)) => {
                let v = o.value();
                for (k, _, _) in &top_ignored {
                    set_aside.push((k, v.get(*k).map(Cow::Borrowed)));
                }
                let skip: Vec<&str> = top_ignored.iter().map(|(k, _, _)| *k).collect();
                (Some(clone_without(v, &skip)), v.pointer("/metadata/managedFields").map(Cow::Borrowed))
            }
            Some(Side::Owned(o)) => {
                let mut v = o.into_value();
                let managed = match v.get_mut("metadata") {
                    Some(Value::Object(meta)) => meta.remove("managedFields"),
                    _ => None,
                };
                if let Value::Object(m) = &mut v {
                    for (k, _, _) in &top_ignored {
                        set_aside.push((k, m.remove(*k).map(Cow::Owned)));
                    }
                }
                (Some(v), managed.map(Cow::Owned))
            }
        };
        let desired_value = desired.map(Side::into_value);

        let canonicalize = |v: &mut Value| {
            if let Some(root) = root {
                normalize::canonicalize_typed(v, &Shape::Def(root));
            }
            if !known.is_empty() {
                normalize::canonicalize_known_types(v, known);
            }
        };
        let prepare = |mut v: Value| {
            normalize::normalize_structure(&mut v, group, &kind, &self.normalize);
            canonicalize(&mut v);
            v
        };
        let mut d = desired_value.map(prepare);
        // Live values are canonicalized only when they are compared closely: the API server
        // returns canonical values, and a non-canonical one can only make the dry run below
        // report a change, never hide one.
        let live_canonical = rules.has_managers();
        let mut l = live_value.map(|mut v| {
            normalize::normalize_structure(&mut v, group, &kind, &self.normalize);
            if live_canonical {
                canonicalize(&mut v);
            }
            v
        });
        let mut orig = match (&d, &l) {
            (Some(_), Some(lv)) => match last_applied(lv) {
                Some(Ok(o)) => Some(prepare(o)),
                // A Secret's last-applied configuration holds its values, and a parser's
                // message may quote the text it stopped at: for Secrets, only the fact.
                Some(Err(_)) if group.is_empty() && kind == "Secret" => {
                    warnings.push(format!("live {LAST_APPLIED} cannot be read; compared two-way"));
                    None
                }
                Some(Err(e)) => {
                    warnings.push(format!("live {LAST_APPLIED} is not valid JSON ({e}); compared two-way"));
                    None
                }
                None => None,
            },
            _ => None,
        };
        if let Some(d) = d.as_mut() {
            strip_for_merge(d, None);
            if orig.is_some() {
                keep_annotations_map(d);
            }
        }
        if let Some(o) = orig.as_mut() {
            strip_for_merge(o, d.as_ref());
        }

        let mut ignored = Vec::new();
        if !rules.is_empty() {
            if let (Some(d), Some(l), Some(Value::Array(entries))) = (d.as_mut(), l.as_ref(), managed.as_deref())
                && rules.has_managers()
            {
                ignore::trust_managers(d, l, entries, &rules.managers(), &mut ignored);
            }
            for ((name, source, by), (_, live_part)) in top_ignored.iter().zip(&set_aside) {
                let dv = d.as_mut().and_then(|v| v.as_object_mut()).and_then(|m| m.remove(*name));
                let ov = orig.as_mut().and_then(|v| v.as_object_mut()).and_then(|m| m.remove(*name));
                if ignore::would_have_differed(dv.as_ref(), ov.as_ref(), live_part.as_deref(), || false) {
                    ignored.push(IgnoredPath { path: format!("/{name}"), rule: (*source).clone(), by: by.to_string() });
                }
            }
            rules.remove_paths(d.as_mut(), l.as_mut(), orig.as_mut(), self.jq_timeout, &mut ignored, &mut warnings);
        }

        let (status, mode, mut live_value, mut predicted) = match (d, l) {
            (Some(d), Some(mut l)) => {
                let mode = if orig.is_some() { DiffMode::ThreeWay } else { DiffMode::TwoWay };
                // Most objects are in sync: a dry run that allocates nothing settles them
                // without copying live. (Defaults cannot turn "no change" into a change.)
                if !merge::would_change(&mut l, orig.as_ref(), &d, shape.as_ref()) {
                    (SyncStatus::Synced, mode, l, None)
                } else {
                    if !live_canonical {
                        canonicalize(&mut l);
                    }
                    if root.is_some() {
                        // A live object from a snapshot may lack server defaults; fill them
                        // so they compare like the prediction, which gets them below.
                        defaults::apply(group, version, &kind, &mut l);
                    }
                    let mut predicted = l.clone();
                    merge::predict(&mut predicted, orig.as_ref(), &d, shape.as_ref());
                    if root.is_some() {
                        defaults::apply(group, version, &kind, &mut predicted);
                    }
                    let status = if predicted == l { SyncStatus::Synced } else { SyncStatus::OutOfSync };
                    (status, mode, l, Some(predicted))
                }
            }
            (Some(d), None) => {
                let mut predicted = merge::clean(&d);
                // What would be created lives in the namespace it pairs on.
                if !key.namespace.is_empty()
                    && let Some(Value::Object(meta)) = predicted.get_mut("metadata")
                {
                    meta.insert("namespace".into(), Value::String(key.namespace.clone()));
                }
                if root.is_some() {
                    defaults::apply(group, version, &kind, &mut predicted);
                }
                (SyncStatus::Missing, DiffMode::OneSided, Value::Null, Some(predicted))
            }
            (None, Some(l)) => (SyncStatus::RequiresPruning, DiffMode::OneSided, l, Some(Value::Null)),
            (None, None) => return Err(Error::NothingToCompare),
        };

        if !self.reveal_secrets && group.is_empty() && kind == "Secret" {
            match predicted.as_mut() {
                Some(p) => mask::mask_secret_pair(p, &mut live_value),
                None => mask::mask_secret_pair(&mut Value::Null, &mut live_value),
            }
        }
        let patch = match &predicted {
            Some(p) if status != SyncStatus::Synced => json_patch::diff(&live_value, p),
            _ => json_patch::Patch(Vec::new()),
        };
        if status == SyncStatus::Synced {
            predicted = None;
        }
        Ok(ObjectDiff {
            key,
            status,
            mode,
            normalized_live: live_value,
            predicted_live: predicted,
            patch,
            ignored,
            desired_origin,
            live_origin,
            warnings,
            ignore_extraneous,
        })
    }

    /// Compares live with what the API server predicted an apply of `desired` would leave
    /// (`predicted`: the answer to a server-side apply dry run as the app's field manager), as
    /// Argo CD's server-side diff does: both sides normalized the same way, the app's ignore
    /// rules removed from both, and the server's bookkeeping (`managedFields`,
    /// `resourceVersion`, `generation`, the last-applied annotation) left out. Server defaults, admission and conversion are then no difference, because the
    /// server applied them to the prediction itself.
    ///
    /// Unlike Argo CD, changes a mutating webhook makes to fields the app does not own count:
    /// Argo CD reverts them to live's values first (unless `IncludeMutationWebhook=true`).
    pub fn compare_server_side(
        &self,
        desired: &Object,
        live: &Object,
        predicted: &Object,
    ) -> Result<ObjectDiff, Error> {
        let key = desired.key(&self.namespace);
        let api_version = desired.api_version().to_string();
        let (group, _) = split_api_version(&api_version);
        let kind = desired.kind().to_string();
        let root = schema().kind(&api_version, &kind);
        let known = if root.is_none() { self.settings.known_types_of(group, &kind) } else { &[] };
        let rules = Applicable::select(&self.rules, group, &kind, &key.namespace, &key.name);
        let mut warnings = Vec::new();
        let mut ignored = Vec::new();
        let managed = live.value().pointer("/metadata/managedFields").cloned();
        let prepare = |o: &Object| {
            let mut v = o.value().clone();
            if let Some(Value::Object(meta)) = v.get_mut("metadata") {
                meta.remove("managedFields");
                meta.remove("resourceVersion");
                // It moves with any change to the spec: a consequence, never a cause.
                meta.remove("generation");
                if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
                    ann.remove(LAST_APPLIED);
                }
                if meta.get("annotations").is_some_and(|a| a.as_object().is_some_and(Map::is_empty)) {
                    meta.remove("annotations");
                }
            }
            normalize::normalize_structure(&mut v, group, &kind, &self.normalize);
            if let Some(root) = root {
                normalize::canonicalize_typed(&mut v, &Shape::Def(root));
            }
            if !known.is_empty() {
                normalize::canonicalize_known_types(&mut v, known);
            }
            v
        };
        let mut p = prepare(predicted);
        let mut l = prepare(live);
        if !rules.is_empty() {
            if let (Some(Value::Array(entries)), true) = (&managed, rules.has_managers()) {
                ignore::trust_managers(&mut p, &l, entries, &rules.managers(), &mut ignored);
            }
            rules.remove_paths(Some(&mut p), Some(&mut l), None, self.jq_timeout, &mut ignored, &mut warnings);
        }
        let status = if p == l { SyncStatus::Synced } else { SyncStatus::OutOfSync };
        if !self.reveal_secrets && group.is_empty() && kind == "Secret" {
            mask::mask_secret_pair(&mut p, &mut l);
        }
        let patch = if status == SyncStatus::Synced { json_patch::Patch(Vec::new()) } else { json_patch::diff(&l, &p) };
        Ok(ObjectDiff {
            key,
            status,
            mode: DiffMode::ServerSide,
            normalized_live: l,
            predicted_live: (status != SyncStatus::Synced).then_some(p),
            patch,
            ignored,
            desired_origin: Some(desired.origin().clone()),
            live_origin: Some(live.origin().clone()),
            warnings,
            ignore_extraneous: false,
        })
    }

    /// Compares a desired set with a live set, pairing objects by key. Hooks and `Skip`
    /// resources in the desired set are left out, as Argo CD leaves them out of sync status.
    pub fn diff(&self, desired: Vec<Object>, live: Vec<Object>) -> Result<AppDiff, Error> {
        let mut session = DiffSession::with_desired(self, desired)?;
        let mut results = Vec::new();
        for l in live {
            if let Some(r) = session.compare_live(l)? {
                results.push(r);
            }
        }
        let skipped = session.finish(|r| results.push(r))?;
        Ok(AppDiff::from_objects(results, skipped))
    }
}

/// A comparison fed one object at a time, so a caller can stream large sets: desired
/// objects are kept compact (serialized) until their live counterpart arrives, and live
/// objects are compared as they come and can be dropped at once.
pub struct DiffSession<'a> {
    comparator: &'a Comparator,
    desired: HashMap<ResourceKey, StoredDesired>,
    seen_live: std::collections::HashSet<ResourceKey>,
    skipped: Vec<Skipped>,
    /// Scopes of custom kinds learnt so far (desired CRDs, then live objects).
    scopes: Scopes,
    /// Desired objects of custom kinds with no namespace, waiting until a CRD or a live
    /// object of their kind tells their scope (their key depends on it).
    unscoped: Vec<Object>,
    /// An error met while releasing waiting objects from [`DiffSession::has_desired`],
    /// reported by the next call that can fail.
    deferred: Option<Error>,
    predicted: HashMap<ResourceKey, Object>,
}

/// A desired object waiting for its live counterpart: as JSON bytes, which take a fraction
/// of the memory of a parsed tree and parse back quickly.
struct StoredDesired {
    json: Box<[u8]>,
    origin: Origin,
    cluster_scoped: Option<bool>,
}

impl StoredDesired {
    fn store(o: Object) -> StoredDesired {
        let origin = o.origin().clone();
        let cluster_scoped = o.recorded_scope();
        let json = serde_json::to_vec(o.value()).unwrap_or_default().into_boxed_slice();
        StoredDesired { json, origin, cluster_scoped }
    }

    fn load(self) -> Object {
        // Bytes we serialized ourselves from a valid tree always parse back.
        let value = serde_json::from_slice(&self.json).unwrap_or(Value::Null);
        let mut o = Object::new(value, self.origin);
        if let Some(cluster_scoped) = self.cluster_scoped {
            o.set_cluster_scoped(cluster_scoped);
        }
        o
    }
}

impl<'a> DiffSession<'a> {
    /// An empty session.
    pub fn new(comparator: &'a Comparator) -> DiffSession<'a> {
        DiffSession {
            comparator,
            desired: HashMap::new(),
            seen_live: Default::default(),
            skipped: Vec::new(),
            scopes: Scopes::new(),
            unscoped: Vec::new(),
            deferred: None,
            predicted: HashMap::new(),
        }
    }

    /// A session holding a whole desired set.
    pub fn with_desired(comparator: &'a Comparator, desired: Vec<Object>) -> Result<DiffSession<'a>, Error> {
        let mut session = DiffSession::new(comparator);
        session.desired.reserve(desired.len());
        for o in desired {
            session.add_desired(o)?;
        }
        Ok(session)
    }

    /// Adds a desired object; a second object with the same key is an error naming both
    /// origins. Hooks, `Skip` resources and objects with only `generateName` are set aside.
    /// An object of a custom kind that names no namespace waits until its scope is known
    /// (from a CRD in the desired set or a live object of its kind, see [`crate::scope`]).
    pub fn add_desired(&mut self, mut o: Object) -> Result<(), Error> {
        if let Some((group, kind)) = self.scopes.learn_crd(&o) {
            self.release(&group, &kind)?;
        }
        if o.recorded_scope().is_none() && scope::needs_scope(&o) && hook_reason(&o).is_none() {
            match self.scopes.cluster_scoped(o.group(), o.kind()) {
                Some(cluster_scoped) => o.set_cluster_scoped(cluster_scoped),
                None => {
                    self.unscoped.push(o);
                    return Ok(());
                }
            }
        }
        let key = o.key(&self.comparator.namespace);
        if let Some(reason) = hook_reason(&o) {
            self.skipped.push(Skipped { key, reason });
            return Ok(());
        }
        if o.name().is_empty() {
            let reason = "only `generateName`: a new object is created by each sync".to_string();
            self.skipped.push(Skipped { key, reason });
            return Ok(());
        }
        if let Some(first) = self.desired.get(&key) {
            return Err(Error::Manifest(manifest::Error::duplicate(key, &first.origin, o.origin())));
        }
        self.desired.insert(key, StoredDesired::store(o));
        Ok(())
    }

    /// Objects as the API server predicted an apply would leave them (server-side apply dry
    /// runs), by key: a pair with a prediction is compared server-side
    /// ([`Comparator::compare_server_side`]), the others as usual.
    pub fn set_predictions(&mut self, predicted: HashMap<ResourceKey, Object>) {
        self.predicted = predicted;
    }

    /// Adds the desired objects of `group`/`kind` that waited for their scope, now known.
    fn release(&mut self, group: &str, kind: &str) -> Result<(), Error> {
        let (ready, waiting): (Vec<Object>, Vec<Object>) =
            std::mem::take(&mut self.unscoped).into_iter().partition(|o| o.group() == group && o.kind() == kind);
        self.unscoped = waiting;
        ready.into_iter().try_for_each(|o| self.add_desired(o))
    }

    /// Learns the scope of a live object's kind (a server gives every namespaced object its
    /// namespace), releasing desired objects that waited for it.
    fn learn_live(&mut self, live: &Object) -> Result<(), Error> {
        if scope::is_built_in(live.group(), live.kind())
            || self.scopes.cluster_scoped(live.group(), live.kind()).is_some()
        {
            return Ok(());
        }
        self.scopes.observe_live(std::iter::once(live));
        self.release(live.group(), live.kind())
    }

    /// Whether a live object has a desired counterpart still waiting to be compared (learning
    /// the scope of its kind on the way, see [`DiffSession::add_desired`]).
    pub fn has_desired(&mut self, live: &Object) -> bool {
        if let Err(e) = self.learn_live(live) {
            self.deferred.get_or_insert(e);
        }
        self.desired.contains_key(&self.key_of(live))
    }

    /// The key a live object pairs on (a live object of a custom kind without a namespace is
    /// cluster-scoped: a server gives every namespaced object its namespace).
    pub fn key_of(&self, live: &Object) -> ResourceKey {
        let cluster_scoped = live.is_cluster_scoped() || scope::needs_scope(live);
        live.key_with_scope(&self.comparator.namespace, cluster_scoped)
    }

    /// Compares one live object with its desired counterpart (or as extraneous). Returns
    /// `None` for a second live object with a key already seen.
    pub fn compare_live(&mut self, mut live: Object) -> Result<Option<ObjectDiff>, Error> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        self.learn_live(&live)?;
        scope::resolve_live_one(&mut live);
        let key = self.key_of(&live);
        if !self.seen_live.insert(key.clone()) {
            return Ok(None);
        }
        let desired = self.desired.remove(&key).map(StoredDesired::load);
        // A hook left in the cluster (a completed Job under BeforeHookCreation) has no sync
        // status in Argo CD and is never pruned: it is not extraneous.
        if desired.is_none()
            && let Some(reason) = hook_reason(&live)
        {
            self.skipped.push(Skipped { key, reason: format!("live {reason}: run by syncs, never pruned") });
            return Ok(None);
        }
        // Argo CD manages root objects only, and with annotation tracking only objects whose
        // id names themselves: a ReplicaSet a Deployment made, or a ConfigMap carrying a
        // copied tracking id, is nobody's to prune even though it carries the app's marks.
        if desired.is_none()
            && let Some(reason) = crate::app::prune_refusal(&live, None)
        {
            self.skipped.push(Skipped { key, reason: format!("live object {reason}") });
            return Ok(None);
        }
        if let (Some(d), Some(p)) = (&desired, self.predicted.get(&key)) {
            return self.comparator.compare_server_side(d, &live, p).map(Some);
        }
        self.comparator.compare_owned(desired, Some(live)).map(Some)
    }

    /// Compares what is left of the desired set (objects missing from live), handing each
    /// result to `each`, and returns the objects that were set aside.
    pub fn finish(mut self, mut each: impl FnMut(ObjectDiff)) -> Result<Vec<Skipped>, Error> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        if let Some(o) = self.unscoped.first() {
            return Err(Error::Scope(scope::Error {
                origin: o.origin().to_string(),
                group: o.group().to_string(),
                kind: o.kind().to_string(),
            }));
        }
        let mut rest: Vec<(ResourceKey, StoredDesired)> = self.desired.into_iter().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, d) in rest {
            each(self.comparator.compare_owned(Some(d.load()), None)?);
        }
        Ok(self.skipped)
    }
}

/// Why a desired object takes no part in the diff, if it does not: Argo CD hooks (and Helm
/// hooks it maps) are run by a sync, not compared; `Skip` resources are never applied.
pub fn hook_reason(o: &Object) -> Option<String> {
    if let Some(h) = o.annotation("argocd.argoproj.io/hook") {
        let types: Vec<&str> = h.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        if types == ["Skip"] {
            return Some("argocd.argoproj.io/hook: Skip".into());
        }
        return Some(format!("hook ({h})"));
    }
    match o.annotation("helm.sh/hook") {
        Some(h) if h.trim() != "crd-install" => Some(format!("helm hook ({h})")),
        _ => None,
    }
}

fn last_applied(live: &Value) -> Option<Result<Value, String>> {
    let text = live.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
    let mut docs = Vec::new();
    let parsed = crate::yaml::for_each_document(text, |d| {
        docs.push(d.value);
        Ok::<(), ()>(())
    });
    match parsed {
        Ok(_) if docs.len() == 1 && docs[0].is_object() => docs.pop().map(Ok),
        Ok(_) => Some(Err("not a single JSON object".into())),
        Err(e) => Some(Err(e.message)),
    }
}

/// What Argo CD strips before a merge: the namespace (pairing already decided it),
/// managedFields, empty annotations, and the tracking id the desired state does not carry (Argo CD adds it at
/// apply time, so its absence from Git is not a removal).
fn strip_for_merge(v: &mut Value, desired: Option<&Value>) {
    let Some(Value::Object(meta)) = v.get_mut("metadata") else { return };
    meta.remove("namespace");
    // Server bookkeeping that an apply cannot set (e.g. in an exported manifest).
    meta.remove("managedFields");
    if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
        let desired_has_tracking =
            desired.and_then(|d| d.pointer("/metadata/annotations")).and_then(|a| a.get(TRACKING_ID)).is_some();
        if desired.is_some() && !desired_has_tracking {
            ann.remove(TRACKING_ID);
        }
    }
    if meta.get("annotations").is_some_and(|a| a.is_null() || a.as_object().is_some_and(Map::is_empty)) {
        meta.remove("annotations");
    }
}

/// One side of a comparison, borrowed (copied on demand) or owned (used in place).
enum Side<'a> {
    Borrowed(&'a Object),
    Owned(Object),
}

impl Side<'_> {
    fn get(&self) -> &Object {
        match self {
            Side::Borrowed(o) => o,
            Side::Owned(o) => o,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Side::Borrowed(o) => o.value().clone(),
            Side::Owned(o) => o.into_value(),
        }
    }
}

/// A deep copy of an object without `metadata.managedFields` and the top-level `skip` keys.
fn clone_without(v: &Value, skip: &[&str]) -> Value {
    let Value::Object(map) = v else { return v.clone() };
    let mut out = Map::new();
    for (k, child) in map {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let copy = match (k.as_str(), child) {
            ("metadata", Value::Object(meta)) => Value::Object(
                meta.iter().filter(|(mk, _)| *mk != "managedFields").map(|(mk, mv)| (mk.clone(), mv.clone())).collect(),
            ),
            _ => child.clone(),
        };
        out.insert(k.clone(), copy);
    }
    Value::Object(out)
}

/// `kubectl apply` always sends the last-applied annotation itself, so the annotations of
/// the applied configuration are never absent as a whole: removing every annotation from
/// Git deletes those annotations one by one, never the ones the server or controllers
/// wrote. (Argo CD drops the empty map and so predicts that all annotations go; we follow
/// kubectl, whose patch is what actually reaches the server.)
fn keep_annotations_map(desired: &mut Value) {
    if let Some(Value::Object(meta)) = desired.get_mut("metadata") {
        meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        Object::new(v, Origin::inline("test"))
    }

    #[test]
    fn identical_objects_are_synced() {
        let c = Comparator::new(DiffConfig::default()).unwrap();
        let o = obj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}));
        let r = c.compare(Some(&o), Some(&o)).unwrap();
        assert_eq!(r.status, SyncStatus::Synced);
        assert!(r.patch.0.is_empty());
    }

    #[test]
    fn three_way_detects_removed_fields() {
        let c = Comparator::new(DiffConfig::default()).unwrap();
        let desired =
            obj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}));
        let live = obj(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default",
            "annotations": {LAST_APPLIED: "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},\"data\":{\"k\":\"v\",\"old\":\"x\"}}\n"}},
            "data": {"k": "v", "old": "x"}}),
        );
        let r = c.compare(Some(&desired), Some(&live)).unwrap();
        assert_eq!(r.status, SyncStatus::OutOfSync);
        assert_eq!(r.mode, DiffMode::ThreeWay);
        assert_eq!(r.changed_paths(), ["/data/old"]);
        // Without last-applied, a field only live has never counts.
        let mut live2 = live.clone();
        live2.value_mut()["metadata"]["annotations"] = json!({});
        let r = c.compare(Some(&desired), Some(&live2)).unwrap();
        assert_eq!(r.status, SyncStatus::Synced);
    }

    #[test]
    fn jq_paths_are_removed_from_the_side_they_were_found_in() {
        let config = DiffConfig {
            ignore_differences: vec![IgnoreRuleSpec {
                group: "example.com".into(),
                kind: "Widget".into(),
                jq_path_expressions: vec![".spec.items[] | select(.name == \"sidecar\")".into(), ".spec.n[]".into()],
                ..Default::default()
            }],
            ..DiffConfig::default()
        };
        let c = Comparator::new(config).unwrap();
        let desired = obj(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"items": [{"name": "a"}, {"name": "b"}], "n": "not a list"}}));
        let live = obj(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"items": [{"name": "a"}, {"name": "sidecar"}, {"name": "b"}], "n": "not a list"}}));
        let r = c.compare(Some(&desired), Some(&live)).unwrap();
        // Desired's `b` (at index 1, where live has the sidecar) must survive.
        assert_eq!(r.status, SyncStatus::Synced, "{:?}", r.patch);
        assert_eq!(r.ignored.iter().map(|i| i.path.as_str()).collect::<Vec<_>>(), ["/spec/items/1"]);
        // `.spec.n[]` on a string fails at run time: the rule is skipped with a warning.
        assert!(r.warnings.iter().any(|w| w.contains("skipped for this object")), "{:?}", r.warnings);
    }

    #[test]
    fn secrets_are_masked_but_compared() {
        let c = Comparator::new(DiffConfig::default()).unwrap();
        let desired =
            obj(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"p": "new"}}));
        let live = obj(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque", "data": {"p": "b2xk"}}),
        );
        let r = c.compare(Some(&desired), Some(&live)).unwrap();
        assert_eq!(r.status, SyncStatus::OutOfSync);
        let text = format!("{:?}", r);
        assert!(!text.contains("b2xk") && !text.contains("bmV3"), "{text}");
        assert_eq!(r.predicted_live()["data"]["p"], "++++++++");
        assert_eq!(r.normalized_live["data"]["p"], "++++++++++++");
    }

    /// A rule that fails on a Secret must not bring its values into a warning, in any way:
    /// not as the error's value, not in a type error, and not by the choice of words (the
    /// same text for every value).
    #[test]
    fn failing_jq_rules_never_reveal_secret_values() {
        let rules = [
            ".data | keys | .[]",
            "error(.data.password)",
            ".data.password | error",
            "tostring | error",
            ".data.password | .x",
            ".data.password[]",
            "select(.data.password | startswith(\"czNj\")) | error",
            "if (.data.password | startswith(\"czNj\")) then error(\"a\") else .data.password[] end",
        ];
        let config = DiffConfig {
            ignore_differences: vec![IgnoreRuleSpec {
                kind: "Secret".into(),
                jq_path_expressions: rules.iter().map(|r| r.to_string()).collect(),
                ..Default::default()
            }],
            ..DiffConfig::default()
        };
        let c = Comparator::new(config).unwrap();
        let secret = |value: &str| {
            obj(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque",
                "data": {"password": value},
                "metadata": {"name": "db", "annotations": {LAST_APPLIED: format!("{{\"data\": !!bool {value}")}}}))
        };
        let mut texts = Vec::new();
        for value in ["czNjcjN0LXZhbHVl", "b3RoZXItdmFsdWU="] {
            let live = secret(value);
            let desired = obj(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                "data": {"password": "bmV3"}}));
            let r = c.compare(Some(&desired), Some(&live)).unwrap();
            let shown =
                format!("{:?} {}", r.warnings, serde_json::to_string(&crate::report::ObjectReport::of(&r)).unwrap());
            for needle in [value, &value[..8], "bmV3"] {
                assert!(!shown.contains(needle), "{needle} in {shown}");
            }
            assert!(r.warnings[0].ends_with("cannot be read; compared two-way"), "{:?}", r.warnings);
            let per_rule: Vec<Option<&String>> =
                rules.iter().map(|rule| r.warnings.iter().find(|w| w.contains(&format!("`{rule}`")))).collect();
            assert!(per_rule.iter().filter(|w| w.is_some()).count() >= rules.len() - 1, "{:?}", r.warnings);
            texts.push(per_rule.into_iter().map(|w| w.cloned()).collect::<Vec<_>>());
        }
        // The oracle rules fail on one value and not the other; a rule's text, where it
        // appears, is the same whatever the value.
        for (a, b) in texts[0].iter().zip(&texts[1]) {
            if let (Some(a), Some(b)) = (a, b) {
                assert_eq!(a, b);
            }
            for w in a.iter().chain(b) {
                assert!(w.ends_with("(the reason is not shown for Secrets, as it can depend on their values)"), "{w}");
            }
        }

        // On other kinds the reason is given, still without values.
        let config = DiffConfig {
            ignore_differences: vec![IgnoreRuleSpec {
                kind: "ConfigMap".into(),
                jq_path_expressions: vec!["error(.data.k)".into(), ".data | to_entries".into()],
                ..Default::default()
            }],
            ..DiffConfig::default()
        };
        let c = Comparator::new(config).unwrap();
        let cm =
            obj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v4lu3"}}));
        let r = c.compare(Some(&cm), Some(&cm)).unwrap();
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert!(
            r.warnings[0].ends_with(
                "failed: the expression raised an error (`error`, or a type error such as indexing a string)"
            ),
            "{}",
            r.warnings[0]
        );
        assert!(
            r.warnings[1].contains("a path expression must yield paths, this one yields values"),
            "{}",
            r.warnings[1]
        );
        assert!(!format!("{:?}", r.warnings).contains("v4lu3"));
    }

    #[test]
    fn server_side_comparison_trusts_the_servers_prediction_and_leaves_its_bookkeeping_out() {
        let c = Comparator::new(DiffConfig { namespace: "shop".into(), ..DiffConfig::default() }).unwrap();
        let desired = obj(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2}}));
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": 1, "resourceVersion": "10",
                "managedFields": [{"manager": "gitops", "operation": "Update"}],
                "annotations": {LAST_APPLIED: "{}"}},
            "spec": {"replicas": 2, "strategy": {"type": "RollingUpdate"}}, "status": {"replicas": 2}});
        // What the server answers a dry run that changes nothing: its own defaults are there
        // already, and only its bookkeeping moved.
        let mut same = live.clone();
        same["metadata"]["resourceVersion"] = json!("11");
        same["metadata"]["managedFields"] = json!([{"manager": "gitops", "operation": "Apply"}]);
        let r = c.compare_server_side(&desired, &obj(live.clone()), &obj(same)).unwrap();
        assert_eq!((r.status, r.mode), (SyncStatus::Synced, DiffMode::ServerSide));
        assert!(r.patch.0.is_empty());

        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(5);
        scaled["metadata"]["generation"] = json!(2);
        let r = c.compare_server_side(&desired, &obj(live.clone()), &obj(scaled.clone())).unwrap();
        assert_eq!(r.status, SyncStatus::OutOfSync);
        assert_eq!(r.changed_paths(), ["/spec/replicas"], "generation follows, it is no cause");

        let ignoring = Comparator::new(DiffConfig {
            namespace: "shop".into(),
            ignore_differences: vec![IgnoreRuleSpec {
                group: "apps".into(),
                kind: "Deployment".into(),
                json_pointers: vec!["/spec/replicas".into()],
                ..Default::default()
            }],
            ..DiffConfig::default()
        })
        .unwrap();
        let r = ignoring.compare_server_side(&desired, &obj(live), &obj(scaled)).unwrap();
        assert_eq!(r.status, SyncStatus::Synced, "{:?}", r.patch);
        assert_eq!(r.ignored.len(), 1);
    }

    #[test]
    fn server_side_comparison_masks_secrets() {
        let c = Comparator::new(DiffConfig::default()).unwrap();
        let secret = |v: &str| {
            obj(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                "data": {"password": v}}))
        };
        let r = c.compare_server_side(&secret("bmV3"), &secret("b2xk"), &secret("bmV3")).unwrap();
        assert_eq!(r.status, SyncStatus::OutOfSync);
        let text = format!("{:?} {}", r.patch, r.predicted_live());
        assert!(!text.contains("bmV3") && !text.contains("b2xk"), "{text}");
    }
}
