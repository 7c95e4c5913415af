//! What a reconcile pass does with the plan it made, and why, as Argo CD's automated sync and
//! Flux decide it:
//!
//! - a dependency (Flux's `dependsOn`) that is not ready holds the app back, unless the app is
//!   suspended (then it is only compared anyway);
//! - a plan with errors is never run;
//! - an app in sync needs nothing;
//! - a sync asked for by hand runs (even on a suspended app, as `argocd app sync` does);
//! - otherwise a suspended app, or one without automated sync, is only compared;
//! - an automated app syncs to a revision it has not synced yet, and reverts drift at the
//!   revision it already synced only with `selfHeal` (Flux always heals).
//!
//! The table is pure: the caller gathers the [`Situation`] (reading statuses, planning) and
//! acts on the [`Decision`].

use std::fmt;

use super::status::SyncStatus;
use super::{Action, SyncPlan};
use crate::app::{AppKind, AppSpec};

/// When a pass may sync, from the app's spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Sync when out of sync (Argo CD's `automated`; always for Flux).
    pub automated: bool,
    /// Prune what the desired state no longer has.
    pub prune: bool,
    /// Revert drift at a revision already synced.
    pub self_heal: bool,
    /// Compare only (Flux's `suspend`).
    pub suspended: bool,
}

impl Policy {
    /// The policy an app's spec gives.
    pub fn of(app: &AppSpec) -> Policy {
        let automated = app.automated;
        let flux = app.kind == AppKind::FluxKustomization;
        Policy {
            automated: automated.is_some() || flux,
            prune: automated.is_some_and(|a| a.prune),
            self_heal: automated.is_some_and(|a| a.self_heal) || flux,
            suspended: app.rollout.suspend,
        }
    }
}

/// Why a pass syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncReason {
    /// Asked for by hand (`gitops sync`), whatever the policy.
    Requested,
    /// Automated sync to a revision not synced yet.
    NewRevision(String),
    /// Drift at the revision already synced, reverted (`selfHeal`, always for Flux).
    SelfHeal,
}

/// Why a pass only compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareReason {
    /// Nothing to apply: `in_sync` objects match; `unpruned` objects only a prune would remove.
    InSync {
        /// Objects unchanged.
        in_sync: usize,
        /// Objects only a prune would remove (an Argo CD app stays OutOfSync for them).
        unpruned: usize,
    },
    /// Out of sync, but the app is suspended.
    Suspended,
    /// Out of sync, but the app has no automated sync policy.
    Manual,
    /// Out of sync at the revision already synced, and `selfHeal` is off.
    SelfHealOff,
}

/// Why a pass may not sync at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A dependency (Flux's `dependsOn`, as `namespace/name`) is not ready.
    DependencyNotReady(String),
    /// The plan has errors; the sync would not run.
    InvalidPlan(Vec<String>),
    /// The project's sync windows do not let it run now (why).
    SyncWindow(String),
}

/// What a pass does with its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Sync.
    Sync(SyncReason),
    /// Compare only: the status is written, nothing is applied.
    CompareOnly(CompareReason),
    /// Do not sync: something must be fixed or become ready first.
    Refuse(Refusal),
}

impl Decision {
    /// Whether the pass syncs.
    pub fn syncs(&self) -> bool {
        matches!(self, Decision::Sync(_))
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// The status message of a pass, as `gitops status` shows it.
impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Refuse(Refusal::DependencyNotReady(d)) => write!(f, "dependency '{d}' is not ready"),
            Decision::Refuse(Refusal::InvalidPlan(errors)) => write!(f, "sync refused: {}", errors.join("; ")),
            Decision::Refuse(Refusal::SyncWindow(why)) => write!(f, "Sync operation blocked by sync window: {why}"),
            Decision::CompareOnly(CompareReason::InSync { in_sync, unpruned }) => {
                write!(f, "nothing to apply ({in_sync} {} in sync)", plural(*in_sync, "object", "objects"))?;
                if *unpruned > 0 {
                    write!(
                        f,
                        "; {unpruned} {} pruning, which this sync does not do",
                        plural(*unpruned, "object requires", "objects require")
                    )?;
                }
                Ok(())
            }
            Decision::Sync(SyncReason::Requested) => f.write_str("sync requested"),
            Decision::CompareOnly(CompareReason::Suspended) => f.write_str("out of sync; suspended, so not synced"),
            Decision::CompareOnly(CompareReason::Manual) => f.write_str("out of sync; no automated sync policy"),
            Decision::Sync(SyncReason::NewRevision(r)) => write!(f, "automated sync to {r}"),
            Decision::Sync(SyncReason::SelfHeal) => f.write_str("drift at the synced revision: self-healing"),
            Decision::CompareOnly(CompareReason::SelfHealOff) => {
                f.write_str("out of sync at the synced revision; selfHeal is off")
            }
        }
    }
}

/// What a pass found, as far as the decision goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Situation {
    /// A sync was asked for by hand.
    pub requested: bool,
    /// The first dependency that is not ready, if any (only asked when not suspended).
    pub unready_dependency: Option<String>,
    /// The plan's errors.
    pub errors: Vec<String>,
    /// Whether anything is to be created, updated or pruned ([`out_of_sync`]).
    pub out_of_sync: bool,
    /// Objects unchanged.
    pub in_sync: usize,
    /// Objects only a prune would remove, for an app whose status counts them ([`unpruned`]).
    pub unpruned: usize,
    /// Out-of-sync objects a selective sync left out.
    pub left_out: usize,
    /// The revision rendered.
    pub revision: String,
    /// The revision last synced successfully, if any.
    pub synced_revision: Option<String>,
    /// Why the project's sync windows hold a sync back now, if they do.
    pub window_block: Option<String>,
}

impl Situation {
    /// The situation a plan shows (the caller fills in the request, dependencies and revisions).
    pub fn of_plan(plan: &SyncPlan, kind: AppKind, left_out: usize) -> Situation {
        Situation {
            errors: plan.errors.clone(),
            out_of_sync: out_of_sync(plan),
            in_sync: plan.tasks.iter().filter(|t| t.action == Action::Unchanged).count(),
            unpruned: unpruned(plan, kind),
            left_out,
            ..Situation::default()
        }
    }

    /// The app's sync status once the pass is over: `synced` says whether live now matches
    /// (it did already, or a sync succeeded). What a sync without prune leaves, and what a
    /// selective sync leaves out, keep it out of sync.
    pub fn sync_status(&self, synced: bool) -> SyncStatus {
        if synced && self.unpruned == 0 && self.left_out == 0 { SyncStatus::Synced } else { SyncStatus::OutOfSync }
    }
}

/// Decides what a pass does: a sync the windows hold back is refused.
pub fn decide(policy: Policy, s: &Situation) -> Decision {
    let decision = decide_ignoring_windows(policy, s);
    match &s.window_block {
        Some(why) if decision.syncs() => Decision::Refuse(Refusal::SyncWindow(why.clone())),
        _ => decision,
    }
}

fn decide_ignoring_windows(policy: Policy, s: &Situation) -> Decision {
    let new_revision = s.synced_revision.as_deref() != Some(s.revision.as_str());
    // A suspended app is only compared, whatever its dependencies.
    if let Some(d) = s.unready_dependency.as_ref().filter(|_| !policy.suspended) {
        Decision::Refuse(Refusal::DependencyNotReady(d.clone()))
    } else if !s.errors.is_empty() {
        Decision::Refuse(Refusal::InvalidPlan(s.errors.clone()))
    } else if !s.out_of_sync {
        Decision::CompareOnly(CompareReason::InSync { in_sync: s.in_sync, unpruned: s.unpruned })
    } else if s.requested {
        Decision::Sync(SyncReason::Requested)
    } else if policy.suspended {
        Decision::CompareOnly(CompareReason::Suspended)
    } else if !policy.automated {
        Decision::CompareOnly(CompareReason::Manual)
    } else if new_revision {
        Decision::Sync(SyncReason::NewRevision(s.revision.clone()))
    } else if policy.self_heal {
        Decision::Sync(SyncReason::SelfHeal)
    } else {
        Decision::CompareOnly(CompareReason::SelfHealOff)
    }
}

fn out_of_sync_action(a: Action) -> bool {
    matches!(a, Action::Create | Action::Update | Action::Prune)
}

/// Whether anything is out of sync (hooks alone are not).
pub fn out_of_sync(plan: &SyncPlan) -> bool {
    plan.tasks.iter().any(|t| out_of_sync_action(t.action))
}

/// How many out-of-sync tasks of `plan` a selective sync keeping only `chosen` leaves out.
pub fn left_out(plan: &SyncPlan, chosen: impl Fn(&super::Task) -> bool) -> usize {
    plan.tasks.iter().filter(|t| !chosen(t) && out_of_sync_action(t.action)).count()
}

/// Objects only the app's prune would remove: they keep an Argo CD app OutOfSync
/// (requiresPruning) whether or not the pass syncs, as a sync without prune leaves them. Flux
/// has no OutOfSync: objects it leaves unpruned leave the Kustomization Ready.
pub fn unpruned(plan: &SyncPlan, kind: AppKind) -> usize {
    match kind {
        AppKind::ArgoApplication => plan.tasks.iter().filter(|t| t.action == Action::PruneSkipped).count(),
        AppKind::FluxKustomization | AppKind::FluxHelmRelease => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn automated(self_heal: bool) -> Policy {
        Policy { automated: true, prune: false, self_heal, suspended: false }
    }

    fn drifted(revision: &str, synced: Option<&str>) -> Situation {
        Situation {
            out_of_sync: true,
            revision: revision.into(),
            synced_revision: synced.map(str::to_string),
            ..Situation::default()
        }
    }

    #[test]
    fn a_new_revision_is_synced_when_automated() {
        let d = decide(automated(false), &drifted("b", Some("a")));
        assert_eq!(d, Decision::Sync(SyncReason::NewRevision("b".into())));
        assert_eq!(d.to_string(), "automated sync to b");
        // Never synced at all is a new revision too.
        assert!(decide(automated(false), &drifted("b", None)).syncs());
    }

    #[test]
    fn drift_at_the_synced_revision_heals_only_with_self_heal() {
        let s = drifted("a", Some("a"));
        assert_eq!(decide(automated(true), &s), Decision::Sync(SyncReason::SelfHeal));
        let off = decide(automated(false), &s);
        assert_eq!(off, Decision::CompareOnly(CompareReason::SelfHealOff));
        assert_eq!(off.to_string(), "out of sync at the synced revision; selfHeal is off");
    }

    #[test]
    fn without_automation_or_when_suspended_only_a_request_syncs() {
        let s = drifted("b", Some("a"));
        assert_eq!(decide(Policy::default(), &s), Decision::CompareOnly(CompareReason::Manual));
        let suspended = Policy { suspended: true, ..automated(true) };
        assert_eq!(decide(suspended, &s), Decision::CompareOnly(CompareReason::Suspended));
        let asked = Situation { requested: true, ..s };
        assert_eq!(decide(suspended, &asked), Decision::Sync(SyncReason::Requested));
        assert_eq!(decide(Policy::default(), &asked), Decision::Sync(SyncReason::Requested));
    }

    #[test]
    fn dependencies_hold_back_unless_suspended() {
        let s = Situation { unready_dependency: Some("flux-system/infra".into()), ..drifted("b", None) };
        let d = decide(automated(true), &s);
        assert_eq!(d, Decision::Refuse(Refusal::DependencyNotReady("flux-system/infra".into())));
        assert_eq!(d.to_string(), "dependency 'flux-system/infra' is not ready");
        // Even a sync asked for waits for them.
        assert!(!decide(automated(true), &Situation { requested: true, ..s.clone() }).syncs());
        let suspended = Policy { suspended: true, ..automated(true) };
        assert_eq!(decide(suspended, &s), Decision::CompareOnly(CompareReason::Suspended));
    }

    #[test]
    fn a_sync_window_holds_back_only_a_sync() {
        let blocked = |s: Situation| Situation { window_block: Some("blocked by active deny window #0".into()), ..s };
        let d = decide(automated(true), &blocked(drifted("b", Some("a"))));
        assert_eq!(d.to_string(), "Sync operation blocked by sync window: blocked by active deny window #0");
        assert!(!d.syncs());
        let in_sync = Situation { out_of_sync: false, ..blocked(drifted("b", Some("b"))) };
        assert!(matches!(decide(automated(true), &in_sync), Decision::CompareOnly(_)), "nothing to hold back");
        let manual = decide(Policy { automated: false, ..automated(false) }, &blocked(drifted("b", None)));
        assert!(matches!(manual, Decision::CompareOnly(CompareReason::Manual)));
    }

    #[test]
    fn a_plan_with_errors_is_refused_even_when_asked_for() {
        let s = Situation { errors: vec!["x".into(), "y".into()], requested: true, ..drifted("b", None) };
        let d = decide(automated(true), &s);
        assert_eq!(d.to_string(), "sync refused: x; y");
        assert!(!d.syncs());
    }

    #[test]
    fn nothing_to_apply_says_what_is_in_sync_and_what_waits_for_pruning() {
        let s = Situation { in_sync: 1, requested: true, ..Situation::default() };
        assert_eq!(decide(automated(true), &s).to_string(), "nothing to apply (1 object in sync)");
        let s = Situation { in_sync: 3, unpruned: 2, ..Situation::default() };
        assert_eq!(
            decide(automated(true), &s).to_string(),
            "nothing to apply (3 objects in sync); 2 objects require pruning, which this sync does not do"
        );
        assert_eq!(s.sync_status(true), SyncStatus::OutOfSync);
        assert_eq!(Situation::default().sync_status(true), SyncStatus::Synced);
        assert_eq!(Situation { left_out: 1, ..Situation::default() }.sync_status(true), SyncStatus::OutOfSync);
        assert_eq!(Situation::default().sync_status(false), SyncStatus::OutOfSync);
    }

    #[test]
    fn flux_always_heals_and_argo_follows_its_policy() {
        let mut app = AppSpec::new(AppKind::FluxKustomization, "shop");
        assert_eq!(Policy::of(&app), Policy { automated: true, prune: false, self_heal: true, suspended: false });
        app.kind = AppKind::ArgoApplication;
        assert_eq!(Policy::of(&app), Policy::default());
        app.automated = Some(crate::app::Automated { prune: true, self_heal: false, allow_empty: false });
        app.rollout.suspend = true;
        assert_eq!(Policy::of(&app), Policy { automated: true, prune: true, self_heal: false, suspended: true });
    }
}
