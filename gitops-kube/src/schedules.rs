//! When each app of a watched fleet passes next.
//!
//! Argo CD and Flux requeue every app on its own: a Flux Kustomization after its
//! `spec.interval` (or `spec.retryInterval` after a failure), an Application after the
//! controller's reconciliation period; and any app at once when its object changed (a new spec,
//! a `reconcile.fluxcd.io/requestedAt` or `argocd.argoproj.io/refresh` annotation), since both
//! watch their app objects. [`Schedules`] keeps that per app for a controller that walks the
//! whole fleet each time one of them is due ([`crate::fleet::Walk`]): the apps that are not due
//! are walked (their children may be) but not passed.
//!
//! Each wait runs from the start of the walk in which the app passed, so apps of one interval
//! fall due together, and an app is due once its time is within the jitter's range: jitter
//! spreads controllers' wake-ups, but one wake-up passes every app of the fleet that is due
//! about then (a walk for each app would read the hub once per app).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use gitops_core::app::{AppKind, AppSpec};
use gitops_core::{Object, ResourceKey};
use tokio::time::Instant;

use crate::controller::{DEFAULT_INTERVAL, Schedule, unit_sample};
use crate::reconcile::Verdict;

/// Each app's next pass, and the object it was last passed with.
#[derive(Debug, Clone, Default)]
pub struct Schedules {
    /// The controller's interval (`--interval`): an Application's, and the root app's.
    interval: Option<Duration>,
    /// Jitter, in percent of each wait ([`Schedule::jitter_percent`]).
    jitter_percent: u32,
    next: HashMap<ResourceKey, Due>,
    /// When the current walk began ([`Schedules::begin`]).
    began: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Due {
    at: Instant,
    /// How early it may pass: the jitter's whole range.
    early: Duration,
    object: u64,
}

impl Schedules {
    /// Schedules with the controller's `interval` for Applications and the root (else
    /// [`DEFAULT_INTERVAL`]), every wait moved by up to `jitter_percent`.
    pub fn new(interval: Option<Duration>, jitter_percent: u32) -> Schedules {
        Schedules { interval, jitter_percent, next: HashMap::new(), began: None }
    }

    /// A walk of the fleet begins now: the waits of the apps it passes run from here.
    pub fn begin(&mut self) {
        self.began = Some(Instant::now());
    }

    /// Whether the app `object` is to be passed at `now`: never passed, changed since its last
    /// pass, or due.
    pub fn is_due(&self, object: &Object, now: Instant) -> bool {
        match self.next.get(&object.key("")) {
            None => true,
            Some(due) => due.object != fingerprint(object) || now + due.early >= due.at,
        }
    }

    /// Records a pass of the app `object` (read as `spec`) that ended as `verdict`; `root`: it
    /// is the root app, which takes the controller's interval whatever its kind.
    pub fn passed(&mut self, object: &Object, spec: &AppSpec, root: bool, verdict: Verdict) {
        let asked = if root || spec.kind == AppKind::ArgoApplication { self.interval } else { None };
        let schedule = Schedule::of(spec, asked).unwrap_or(Schedule {
            interval: asked.unwrap_or(DEFAULT_INTERVAL),
            retry_interval: None,
            jitter_percent: 0,
        });
        let schedule = Schedule { jitter_percent: self.jitter_percent, ..schedule };
        let at = self.began.unwrap_or_else(Instant::now) + schedule.jittered(verdict, unit_sample());
        let early = schedule.after(verdict).mul_f64(f64::from(schedule.jitter_percent.min(100)) / 50.0);
        self.next.insert(object.key(""), Due { at, early, object: fingerprint(object) });
    }

    /// Records that `object` (an ApplicationSet, say) was handled and is due again after
    /// `wait` (or when it changes).
    pub fn passed_after(&mut self, object: &Object, wait: Duration) {
        let at = self.began.unwrap_or_else(Instant::now) + wait;
        self.next.insert(object.key(""), Due { at, early: Duration::ZERO, object: fingerprint(object) });
    }

    /// Forgets the apps not among `apps` (removed from the fleet).
    pub fn keep_only<'a>(&mut self, apps: impl IntoIterator<Item = &'a ResourceKey>) {
        let keep: std::collections::HashSet<&ResourceKey> = apps.into_iter().collect();
        self.next.retain(|k, _| keep.contains(k));
    }

    /// The earliest next pass of any app, if any was passed.
    pub fn next_due(&self) -> Option<Instant> {
        self.next.values().map(|d| d.at).min()
    }
}

/// What of an app object makes its controller pass it again at once: all but its status and
/// the fields the API server keeps (a status written back is no change).
fn fingerprint(object: &Object) -> u64 {
    let value = object.value();
    let mut hasher = DefaultHasher::new();
    value.get("spec").map(ToString::to_string).hash(&mut hasher);
    for field in ["labels", "annotations", "finalizers", "deletionTimestamp"] {
        value.pointer(&format!("/metadata/{field}")).map(ToString::to_string).hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(text: &str) -> (Object, AppSpec) {
        let objects = gitops_core::manifest::parse("app.yaml", text).unwrap();
        let spec = gitops_core::app::read("app.yaml", &objects).unwrap();
        (objects.into_iter().next().unwrap(), spec)
    }

    const FLUX: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec: {interval: 1h, retryInterval: 1ms, sourceRef: {kind: GitRepository, name: r}, path: p}\n";
    const ARGO: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec: {destination: {name: in-cluster, namespace: web}, source: {repoURL: 'https://x/r.git', path: p}}\n";

    #[test]
    fn each_app_keeps_its_own_interval_and_a_changed_app_is_due_at_once() {
        let mut schedules = Schedules::new(Some(Duration::from_secs(60)), 0);
        let (flux, flux_spec) = app(FLUX);
        let (argo, argo_spec) = app(ARGO);
        assert!(schedules.is_due(&flux, Instant::now()), "never passed");
        schedules.passed(&flux, &flux_spec, false, Verdict::Succeeded);
        schedules.passed(&argo, &argo_spec, false, Verdict::Succeeded);
        let now = Instant::now();
        assert!(!schedules.is_due(&flux, now) && !schedules.is_due(&argo, now));
        let next = schedules.next_due().expect("passed");
        assert!(
            next <= now + Duration::from_secs(60) && next > now + Duration::from_secs(59),
            "the Application's, from --interval"
        );
        assert!(schedules.is_due(&argo, now + Duration::from_secs(60)));
        assert!(!schedules.is_due(&flux, now + Duration::from_secs(60)), "the Kustomization's is an hour");
        assert!(schedules.is_due(&flux, now + Duration::from_secs(3600)));

        let mut changed = flux.clone();
        changed.value_mut()["metadata"]["annotations"] = serde_json::json!({"reconcile.fluxcd.io/requestedAt": "now"});
        assert!(schedules.is_due(&changed, now), "a requested reconcile is due at once");
        let mut with_status = flux.clone();
        with_status.value_mut()["status"] = serde_json::json!({"lastAppliedRevision": "x"});
        assert!(!schedules.is_due(&with_status, now), "a status written back is no change");

        schedules.passed(&flux, &flux_spec, false, Verdict::Failed);
        assert!(schedules.is_due(&flux, Instant::now() + Duration::from_millis(1)), "retryInterval after a failure");
        schedules.passed(&flux, &flux_spec, true, Verdict::Succeeded);
        assert!(schedules.is_due(&flux, Instant::now() + Duration::from_secs(60)), "the root takes --interval");

        let mut jittered = Schedules::new(Some(Duration::from_secs(100)), 10);
        jittered.begin();
        let began = Instant::now();
        jittered.passed(&argo, &argo_spec, false, Verdict::Succeeded);
        assert!(jittered.is_due(&argo, began + Duration::from_secs(90)), "within the jitter's range");
        assert!(!jittered.is_due(&argo, began + Duration::from_secs(69)));

        let mut set = Schedules::new(None, 0);
        set.begin();
        set.passed_after(&argo, Duration::from_secs(180));
        assert!(!set.is_due(&argo, Instant::now() + Duration::from_secs(179)));
        assert!(set.is_due(&argo, Instant::now() + Duration::from_secs(181)), "requeued");

        schedules.keep_only([&argo.key("")]);
        assert!(schedules.is_due(&flux, Instant::now()), "forgotten");
    }
}
