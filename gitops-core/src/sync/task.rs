//! What a sync is made of: phases, hook delete policies, and the ordered tasks of a plan.

use serde::Serialize;
use serde_json::Value;

use super::options::Recreate;
use crate::object::ResourceKey;

/// A sync phase, in Argo CD's order (PreSync < Sync < PostSync < SyncFail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Phase {
    /// Hooks that run before anything is applied.
    PreSync,
    /// Every resource that is not a hook, and `Sync` hooks.
    Sync,
    /// Hooks that run once the Sync phase is healthy.
    PostSync,
    /// Hooks that run only when the sync fails.
    SyncFail,
}

impl Phase {
    /// Argo CD's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }
}

/// When a hook is deleted (`argocd.argoproj.io/hook-delete-policy`, Helm's
/// `helm.sh/hook-delete-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum DeletePolicy {
    /// After it succeeded.
    HookSucceeded,
    /// After it failed.
    HookFailed,
    /// Before a new one is created (the default when none is given).
    BeforeHookCreation,
}

/// What a task does to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Apply an object that does not exist yet.
    Create,
    /// Apply an object that exists and differs.
    Update,
    /// Apply nothing: the object is in sync (it is still part of its wave, which waits for
    /// its health, unless `ApplyOutOfSyncOnly` drops it).
    Unchanged,
    /// Delete a live object the desired state no longer has.
    Prune,
    /// A live object that would be pruned but is kept (`Prune=false`, pruning disabled, or
    /// not confirmed).
    PruneSkipped,
    /// Create a hook (a new instance of it each sync).
    HookCreate,
}

/// How an object is applied and pruned, from its `argocd.argoproj.io/sync-options`
/// annotation over the app's `syncPolicy.syncOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyOptions {
    /// `Replace=true`: replace (or create) instead of apply.
    pub replace: bool,
    /// `Force=true`.
    pub force: bool,
    /// `ServerSideApply=true`.
    pub server_side_apply: bool,
    /// `Validate=false`.
    pub skip_validation: bool,
    /// `SkipDryRunOnMissingResource=true`.
    pub skip_dry_run_on_missing_resource: bool,
    /// Whether an existing object is deleted and created again: Argo CD's `Force=true` (see
    /// [`Recreate::for_argo`]), or Flux's `spec.force` and `kustomize.toolkit.fluxcd.io/force`.
    #[serde(skip_serializing_if = "Recreate::is_never")]
    pub recreate: Recreate,
    /// A Flux app's object: applied server-side with conflicts forced, as kustomize-controller
    /// applies (the Argo CD options above do not apply to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flux: Option<FluxApply>,
}

/// How kustomize-controller applies an object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxApply {
    /// Before the apply, the fields kubectl and earlier client-side applies manage are taken
    /// over ([`super::flux::takeover_patch`]); false for `kustomize.toolkit.fluxcd.io/ssa: Merge`.
    pub take_over: bool,
}

/// One step of a sync: an object, the phase and wave it runs in, and what is done to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The object (for a `generateName` hook, the name this sync gives it).
    pub key: ResourceKey,
    /// Its phase.
    pub phase: Phase,
    /// Its wave within the phase (`argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`,
    /// else 0; mirrored for prunes).
    pub wave: i64,
    /// What is done.
    pub action: Action,
    /// Why, in words a user can act on.
    pub reason: String,
    /// For hooks: when to delete them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delete_policies: Vec<DeletePolicy>,
    /// How it is applied.
    pub options: ApplyOptions,
    /// The object to apply (none for prunes).
    #[serde(skip)]
    pub target: Option<Value>,
    /// Whether the object exists in the cluster now.
    pub live_exists: bool,
    /// A `Prune=confirm` prune not yet confirmed (its action is `PruneSkipped` until it is).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub awaits_confirmation: bool,
}

impl Task {
    /// Whether this task creates a hook.
    pub fn is_hook(&self) -> bool {
        self.action == Action::HookCreate
    }

    /// Whether this hook task first deletes the instance an earlier sync left
    /// (`BeforeHookCreation`), which the sync does before the applies of the hook's wave.
    pub fn replaces_earlier_hook(&self) -> bool {
        self.is_hook() && self.live_exists && self.delete_policies.contains(&DeletePolicy::BeforeHookCreation)
    }

    /// Whether this task deletes (or would delete) a live object.
    pub fn is_prune(&self) -> bool {
        matches!(self.action, Action::Prune | Action::PruneSkipped)
    }
}

/// The ordered tasks of a sync, as planned before anything is touched.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPlan {
    /// Every task in execution order: phase, wave, then the wave's steps (prunes, applies, hooks;
    /// earlier instances of hooks are deleted between the prunes and the applies), each step in
    /// kind order, then name (prune waves mirrored, Namespaces and CRDs hoisted ahead of their
    /// dependants).
    pub tasks: Vec<Task>,
    /// Things a user should know that do not stop the sync (e.g. a shared resource).
    pub warnings: Vec<String>,
    /// Reasons the sync must not run (e.g. an empty render without `allowEmpty`, a shared
    /// resource with `FailOnSharedResource`); empty when it may.
    pub errors: Vec<String>,
    /// Objects the sync leaves alone, and why (`Skip`, hooks with no sync phase, live objects
    /// this app does not track, hooks left by earlier syncs).
    pub skipped: Vec<Skipped>,
}

/// An object a plan leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The object.
    pub key: ResourceKey,
    /// Why.
    pub reason: String,
}

impl SyncPlan {
    /// Whether the plan has anything to do (apply, prune or create a hook).
    pub fn has_work(&self) -> bool {
        self.tasks
            .iter()
            .any(|t| matches!(t.action, Action::Create | Action::Update | Action::Prune | Action::HookCreate))
    }
}
