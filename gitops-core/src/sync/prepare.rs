//! From an app, its desired objects and the live ones to a sync plan: the scope of custom kinds
//! ([`crate::scope`]), the diff with the app's settings (destination namespace,
//! ignoreDifferences, `RespectIgnoreDifferences`), then the plan. What `gitops plan` prints, and what a sync or a reconcile pass runs.

use std::collections::{BTreeMap, HashMap};

use super::options::SyncOptions;
use super::respect::keep_ignored;
use super::{PlanConfig, PlanResource, RetryStrategy, SyncPlan, plan};
use crate::app::{self, AppSpec};
use crate::diff::Comparator;
use crate::manifest;
use crate::object::{Object, ResourceKey};
use crate::settings::Settings;

/// A plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The diff settings or a comparison failed (an unusable ignore rule, say).
    #[error(transparent)]
    Diff(#[from] crate::diff::Error),
    /// The scope of a custom kind could not be told.
    #[error(transparent)]
    Scope(#[from] crate::scope::Error),
    /// Two desired objects have the same key.
    #[error(transparent)]
    Duplicate(Box<manifest::Error>),
    /// The app's `syncPolicy.syncOptions` are malformed.
    #[error("app: {0}")]
    Options(#[source] super::options::Error),
    /// The app's `syncPolicy.retry` is malformed.
    #[error("app: {0}")]
    Retry(#[source] super::retry::Error),
    /// A resource's own sync options are malformed.
    #[error(transparent)]
    Plan(#[from] super::plan::Error),
}

/// What a plan is made with, beyond the objects.
#[derive(Debug, Clone, Default)]
pub struct Inputs<'a> {
    /// The app: sync options, automated prune and allowEmpty, destination namespace,
    /// ignoreDifferences, retry; only live objects it tracks are pruned.
    pub app: Option<&'a AppSpec>,
    /// Overrides the destination namespace.
    pub namespace: Option<&'a str>,
    /// argocd-cm's diff settings (system-level ignoreDifferences, compare options, known
    /// types), as `gitops diff --argocd-cm` applies them.
    pub settings: Settings,
    /// Allow pruning, as a manual sync with "Prune" ticked.
    pub prune: bool,
    /// The revision being synced (names `generateName` hooks).
    pub revision: &'a str,
    /// When the sync starts (Unix seconds).
    pub started_at: i64,
    /// Objects as the API server predicted an apply would leave them (server-side apply dry
    /// runs, by key): those pairs are compared server-side
    /// ([`Comparator::compare_server_side`]), as Argo CD's `ServerSideDiff=true`.
    pub predicted: Option<&'a HashMap<ResourceKey, Object>>,
}

/// Diffs `desired` against `live` with the app's settings and plans the sync; also returns the
/// app's retry strategy.
pub fn prepare(
    inputs: &Inputs<'_>,
    mut desired: Vec<Object>,
    mut live: Vec<Object>,
) -> Result<(SyncPlan, Option<RetryStrategy>), Error> {
    let Inputs { app, namespace, ref settings, prune, revision, started_at, predicted } = *inputs;
    let no_predictions = HashMap::new();
    let predicted = predicted.unwrap_or(&no_predictions);
    let mut config = app::diff_config(app, namespace);
    config.settings = settings.clone();
    let comparator = Comparator::new(config)?;
    let namespace = comparator.namespace().to_string();
    // Custom kinds without a namespace are keyed by their scope: from desired CRDs, else from
    // the live objects (their CRDs, and where the server put objects of the kind).
    let mut observed = crate::scope::Scopes::new();
    observed.observe_live(live.iter());
    crate::scope::resolve_live(&mut live);
    crate::scope::resolve(&mut desired, &observed)?;
    if app.is_some_and(|a| a.force_namespace) {
        app::force_namespace(&mut desired, &namespace);
    }
    let mut resources: BTreeMap<ResourceKey, PlanResource> = BTreeMap::new();
    // Objects named only by `generateName` (hooks) share the key of an empty name: each is its
    // own resource, never paired with a live object nor merged with another.
    let mut nameless = Vec::new();
    for o in desired {
        let key = o.key(&namespace);
        if key.name.is_empty() {
            nameless.push(PlanResource { key, desired: Some(o), live: None, modified: false });
            continue;
        }
        if let Some(existing) = resources.get(&key).and_then(|r| r.desired.as_ref()) {
            return Err(Error::Duplicate(Box::new(manifest::Error::duplicate(
                key.clone(),
                existing.origin(),
                o.origin(),
            ))));
        }
        resources.insert(key.clone(), PlanResource { key, desired: Some(o), live: None, modified: false });
    }
    for o in live {
        let key = o.key(&namespace);
        let entry =
            resources.entry(key.clone()).or_insert(PlanResource { key, desired: None, live: None, modified: false });
        entry.live = Some(o);
    }
    let (options, option_warnings) =
        SyncOptions::parse(app.iter().flat_map(|a| a.sync_options.iter().map(String::as_str)))
            .map_err(Error::Options)?;
    for r in resources.values_mut() {
        if let (Some(d), Some(l)) = (&mut r.desired, &r.live) {
            let diff = match predicted.get(&r.key) {
                Some(p) => comparator.compare_server_side(d, l, p),
                None => comparator.compare(Some(d), Some(l)),
            }?;
            r.modified = diff.is_modified();
            if options.respect_ignore_differences {
                keep_ignored(d.value_mut(), l.value(), diff.ignored.iter().map(|i| i.path.as_str()));
            }
        }
    }
    let retry = match app.and_then(|a| a.retry.as_ref()) {
        Some(v) => Some(RetryStrategy::from_json(v).map_err(Error::Retry)?),
        None => None,
    };
    let automated = app.and_then(|a| a.automated).unwrap_or_default();

    let plan_config = PlanConfig {
        app,
        options,
        prune: automated.prune || prune,
        prune_confirmed: false,
        allow_empty: automated.allow_empty,
        namespace,
        revision: revision.to_string(),
        started_at,
    };
    let resources: Vec<PlanResource> = resources.into_values().chain(nameless).collect();
    let mut planned = plan(resources, &plan_config)?;
    planned.warnings.splice(0..0, option_warnings);
    Ok((planned, retry))
}
