//! Planning a sync: from the desired and live objects of an app and the diff between them, the
//! ordered tasks Argo CD would run, each with its action and the reason for it.
//!
//! Safety rules hold here, before anything is touched: only live objects this app tracks are
//! pruned, and only root objects whose tracking names themselves ([`app::prune_refusal`]); a render that is empty while the app still has objects is refused unless
//! `allowEmpty` is set; an object another app tracks is reported (and refused with
//! `FailOnSharedResource=true`).

use std::collections::HashSet;

use serde_json::Value;

use super::flux::{self, ApplyPolicy};
use super::hooks::{self, Role};
use super::options::{PruneMode, Recreate, SyncOptions};
use super::order;
use super::task::{Action, ApplyOptions, FluxApply, Phase, Skipped, SyncPlan, Task};
use crate::app::{self, AppSpec};
use crate::object::{Object, ResourceKey};

/// One object of the app: desired, live, or both, and whether they differ.
#[derive(Debug, Clone)]
pub struct PlanResource {
    /// Its identity.
    pub key: ResourceKey,
    /// The desired object, if Git has it.
    pub desired: Option<Object>,
    /// The live object, if the cluster has it.
    pub live: Option<Object>,
    /// Whether the diff found a difference (for objects on both sides).
    pub modified: bool,
}

/// The app-level settings of a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanConfig<'a> {
    /// The app: its tracking decides what may be pruned and what is shared. Without one,
    /// every live object given is taken as the app's own, except those no app may prune
    /// (owned objects, copied tracking ids: see [`app::prune_refusal`]).
    pub app: Option<&'a AppSpec>,
    /// App-level sync options.
    pub options: SyncOptions,
    /// Whether this sync prunes (`syncPolicy.automated.prune`, or asked for).
    pub prune: bool,
    /// Whether `Prune=confirm` prunes are confirmed.
    pub prune_confirmed: bool,
    /// `allowEmpty`: an empty render may prune everything.
    pub allow_empty: bool,
    /// The destination namespace (for `CreateNamespace=true`).
    pub namespace: String,
    /// The revision being synced (names `generateName` hooks).
    pub revision: String,
    /// When the sync starts, in Unix seconds (names `generateName` hooks).
    pub started_at: i64,
}

/// A plan that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A sync option of an object (named first) is malformed.
    #[error("{}: {}", .0.0, .0.1)]
    Option(Box<(ResourceKey, super::options::Error)>),
}

/// Plans a sync of `resources` (their desired objects move into the tasks).
pub fn plan(resources: Vec<PlanResource>, config: &PlanConfig) -> Result<SyncPlan, Error> {
    let desired_count = resources.iter().filter(|r| r.desired.is_some()).count();
    let namespace_key = ResourceKey::new("", "Namespace", "", &config.namespace);
    let has_namespace = resources.iter().any(|r| r.key == namespace_key);
    let mut out = SyncPlan::default();
    let mut prune_last: Vec<bool> = Vec::new();
    let mut push = |out: &mut SyncPlan, task: Task, last: bool| {
        out.tasks.push(task);
        prune_last.push(last);
    };
    let resource_options = |key: &ResourceKey, o: &Object| {
        config.options.for_resource(o.value()).map_err(|source| Error::Option(Box::new((key.clone(), source))))
    };
    // A live object's annotation is not the user's input to fix here: a malformed one is
    // reported and the app's options apply.
    let live_options = |out: &mut SyncPlan, key: &ResourceKey, o: &Object| match config.options.for_resource(o.value())
    {
        Ok((options, _)) => options,
        Err(e) => {
            out.warnings.push(format!("{key} (live): {e}; the app's sync options apply"));
            config.options.clone()
        }
    };
    // Flux applies every object as it is: Argo CD's and Helm's hook and wave annotations mean
    // nothing to it (it orders by kind alone).
    let flux = config.app.is_some_and(|a| a.kind == app::AppKind::FluxKustomization);
    // Flux's controllers (kustomize-controller, and helm-controller with Helm 4) apply
    // server-side, taking over conflicting fields; a HelmRelease keeps its chart's hooks.
    let server_side = config.app.is_some_and(|a| a.kind.is_flux());
    let role_of = |v: &Value| if flux { Role::Resource } else { hooks::role(v) };
    let wave_of = |v: &Value| if flux { 0 } else { hooks::wave(v) };
    // Names a `generateName` hook instance may not take: live objects (an instance left by a
    // sync earlier in the same second has the same name) and instances named in this plan.
    let mut taken: HashSet<ResourceKey> =
        resources.iter().filter(|r| r.live.is_some()).map(|r| r.key.clone()).collect();
    for r in resources {
        match (r.desired.as_ref(), r.live.as_ref()) {
            (Some(desired), live) => {
                if let Some(live) = live
                    && let Some(other) = shared_with(live, config.app)
                {
                    let text = format!("{} is also tracked by app {other}", r.key);
                    if config.options.fail_on_shared_resource {
                        out.errors.push(format!("Shared resource found: {text}"));
                    } else {
                        out.warnings.push(text);
                    }
                }
                let (options, warnings) = resource_options(&r.key, desired)?;
                out.warnings.extend(warnings.into_iter().map(|w| format!("{}: {w}", r.key)));
                match role_of(desired.value()) {
                    Role::Skip => {
                        out.skipped.push(Skipped { key: r.key.clone(), reason: format!("{}: Skip", hooks::HOOK) })
                    }
                    Role::Ignored(reason) => out.skipped.push(Skipped { key: r.key.clone(), reason }),
                    Role::Hook(phases) => {
                        for phase in phases {
                            let task = hook_task(&r, desired, phase, &options, config, &mut taken);
                            push(&mut out, task, false);
                        }
                    }
                    Role::Resource => {
                        let policy = if flux { flux::apply_policy(desired.value()) } else { ApplyPolicy::Override };
                        if policy == ApplyPolicy::Ignore {
                            let reason = format!("{}: Ignore (never applied)", flux::SSA);
                            out.skipped.push(Skipped { key: r.key.clone(), reason });
                            continue;
                        }
                        let replace_live =
                            !server_side && live.is_some_and(|l| live_options(&mut out, &r.key, l).replace);
                        let take_over = server_side && flux::takes_over(desired.value(), live.map(Object::value));
                        let (action, reason) = match (live, r.modified) {
                            (None, _) => (Action::Create, "not in the cluster".to_string()),
                            (Some(_), _) if policy == ApplyPolicy::IfNotPresent => {
                                (Action::Unchanged, format!("exists; not applied ({}: IfNotPresent)", flux::SSA))
                            }
                            (Some(_), true) => (Action::Update, "differs from the desired state".to_string()),
                            // kustomize-controller applies whenever its cleanup had something to
                            // do, so that fields kubectl left behind go now, not at the next change.
                            (Some(l), false)
                                if take_over && flux::takeover_patch(l.value(), super::FIELD_MANAGER).is_some() =>
                            {
                                (Action::Update, taken_over_reason(l.value()))
                            }
                            (Some(_), false) if config.options.apply_out_of_sync_only => {
                                (Action::Unchanged, "in sync; not applied (ApplyOutOfSyncOnly=true)".to_string())
                            }
                            (Some(_), false) => (Action::Unchanged, "in sync".to_string()),
                        };
                        // Flux reads none of Argo CD's sync options: it applies server-side and
                        // its own force decides recreation. For Argo CD, `Replace=true` on the
                        // live object counts as on the desired one.
                        let apply = if server_side {
                            let spec_force = config.app.is_some_and(|a| a.rollout.force);
                            ApplyOptions {
                                server_side_apply: true,
                                recreate: flux::recreate(spec_force, desired.value(), live.map(Object::value)),
                                flux: Some(FluxApply { take_over }),
                                ..ApplyOptions::default()
                            }
                        } else {
                            let mut apply = apply_options(&options);
                            apply.replace |= replace_live;
                            apply.recreate =
                                Recreate::for_argo(&SyncOptions { replace: apply.replace, ..options.clone() });
                            apply
                        };
                        let wave = wave_of(desired.value());
                        let live_exists = live.is_some();
                        let task = Task {
                            key: r.key,
                            phase: Phase::Sync,
                            wave,
                            action,
                            reason,
                            delete_policies: Vec::new(),
                            options: apply,
                            target: r.desired.map(Object::into_value),
                            live_exists,
                            awaits_confirmation: false,
                        };
                        push(&mut out, task, false);
                    }
                }
            }
            // The namespace `CreateNamespace=true` made is the sync's, not a resource of the app:
            // it is neither pruned nor reported, only looked at so that it is not made twice.
            (None, Some(live)) if config.options.create_namespace && r.key == namespace_key => {
                // With managedNamespaceMetadata, an existing namespace still gets its metadata.
                if let Some(target) = managed_namespace(config, Some(live.value())) {
                    let task = Task {
                        key: r.key.clone(),
                        phase: Phase::PreSync,
                        wave: 0,
                        action: Action::Update,
                        reason: "the destination namespace lacks syncPolicy.managedNamespaceMetadata".into(),
                        delete_policies: Vec::new(),
                        options: ApplyOptions::default(),
                        target: Some(target),
                        live_exists: true,
                        awaits_confirmation: false,
                    };
                    push(&mut out, task, false);
                }
            }
            (None, Some(live)) => {
                if let Some(reason) = app::prune_refusal(live, config.app) {
                    out.skipped.push(Skipped { key: r.key.clone(), reason });
                    continue;
                }
                if !matches!(role_of(live.value()), Role::Resource | Role::Skip) {
                    out.skipped.push(Skipped {
                        key: r.key.clone(),
                        reason: "a hook from an earlier sync: hooks are deleted by their policy, not pruned".into(),
                    });
                    continue;
                }
                let options = live_options(&mut out, &r.key, live);
                if flux && flux::prune_disabled(live.value()) {
                    let task = Task {
                        key: r.key.clone(),
                        phase: Phase::Sync,
                        wave: 0,
                        action: Action::PruneSkipped,
                        reason: format!("ignored (no prune): {}: disabled", flux::PRUNE),
                        delete_policies: Vec::new(),
                        options: apply_options(&options),
                        target: None,
                        live_exists: true,
                        awaits_confirmation: false,
                    };
                    push(&mut out, task, false);
                    continue;
                }
                let awaits_confirmation =
                    options.prune == PruneMode::Confirm && config.prune && !config.prune_confirmed;
                let (action, reason) = match options.prune {
                    PruneMode::Disabled => (Action::PruneSkipped, "ignored (no prune): Prune=false".to_string()),
                    _ if !config.prune => (
                        Action::PruneSkipped,
                        "ignored (requires pruning): pruning is not enabled for this sync".to_string(),
                    ),
                    PruneMode::Confirm if !config.prune_confirmed => {
                        (Action::PruneSkipped, "waits for confirmation (Prune=confirm)".to_string())
                    }
                    _ => (Action::Prune, "no longer in the desired state".to_string()),
                };
                let task = Task {
                    key: r.key.clone(),
                    phase: Phase::Sync,
                    wave: wave_of(live.value()),
                    action,
                    reason,
                    delete_policies: Vec::new(),
                    options: apply_options(&options),
                    target: None,
                    live_exists: true,
                    awaits_confirmation,
                };
                push(&mut out, task, config.options.prune_last || options.prune_last);
            }
            (None, None) => {}
        }
    }
    let prunes = out.tasks.iter().filter(|t| t.action == Action::Prune).count();
    if desired_count == 0 && prunes > 0 && !config.allow_empty {
        out.errors.push(format!(
            "the desired state is empty: syncing would prune all {prunes} objects of the app; \
             set syncPolicy.automated.allowEmpty to allow it"
        ));
    }
    if config.options.create_namespace && !config.namespace.is_empty() && !has_namespace {
        {
            let task = Task {
                key: namespace_key,
                phase: Phase::PreSync,
                wave: 0,
                action: Action::Create,
                reason: "the destination namespace does not exist (CreateNamespace=true)".into(),
                delete_policies: Vec::new(),
                options: ApplyOptions::default(),
                target: managed_namespace(config, None).or_else(|| {
                    Some(serde_json::json!({
                        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": config.namespace},
                    }))
                }),
                live_exists: false,
                awaits_confirmation: false,
            };
            push(&mut out, task, false);
        }
    }
    order::arrange_prunes(&mut out.tasks, |i| prune_last.get(i).copied().unwrap_or(false));
    order::sort(&mut out.tasks);
    Ok(out)
}

/// The destination namespace as `syncPolicy.managedNamespaceMetadata` wants it: built anew
/// (`live` none), or the live one with the managed labels and annotations set, when any is
/// missing or different. `None` when there is no such metadata, or nothing to change.
fn managed_namespace(config: &PlanConfig, live: Option<&Value>) -> Option<Value> {
    let managed = config.app.and_then(|a| a.rollout.managed_namespace_metadata.as_ref())?;
    let mut target = match live {
        Some(l) => serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {
                "name": config.namespace,
                "labels": l.pointer("/metadata/labels").cloned().unwrap_or_else(|| serde_json::json!({})),
                "annotations": l.pointer("/metadata/annotations").cloned().unwrap_or_else(|| serde_json::json!({})),
            },
        }),
        None => serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": config.namespace}}),
    };
    let mut changed = live.is_none();
    for part in ["labels", "annotations"] {
        let Some(Value::Object(wanted)) = managed.get(part) else { continue };
        let Some(meta) = target.get_mut("metadata").and_then(Value::as_object_mut) else { continue };
        let map = meta.entry(part).or_insert_with(|| serde_json::json!({}));
        let Some(map) = map.as_object_mut() else { continue };
        for (k, v) in wanted {
            if map.get(k) != Some(v) {
                map.insert(k.clone(), v.clone());
                changed = true;
            }
        }
    }
    changed.then_some(target)
}

/// The app another than ours that tracks this live object, if any.
fn shared_with(live: &Object, app: Option<&AppSpec>) -> Option<String> {
    let app = app?;
    let owner = app::tracking_app(live)?;
    (owner != app.name && !app::is_tracked_by(live, app)).then(|| owner.to_string())
}

fn apply_options(o: &SyncOptions) -> ApplyOptions {
    ApplyOptions {
        replace: o.replace,
        force: o.force,
        server_side_apply: o.server_side_apply.unwrap_or(false),
        skip_validation: o.skip_validation,
        skip_dry_run_on_missing_resource: o.skip_dry_run_on_missing_resource,
        recreate: Recreate::for_argo(o),
        flux: None,
    }
}

/// Why an in-sync object of a Flux app is applied anyway: what the cleanup found.
fn taken_over_reason(live: &Value) -> String {
    let mut found: Vec<String> = Vec::new();
    for key in flux::CLEANUP_ANNOTATIONS {
        if live.get("metadata").and_then(|m| m.get("annotations")).and_then(|a| a.get(key)).is_some() {
            found.push(format!("annotation {key}"));
        }
    }
    for key in flux::CLEANUP_LABELS {
        if live.get("metadata").and_then(|m| m.get("labels")).and_then(|a| a.get(key)).is_some() {
            found.push(format!("label {key}"));
        }
    }
    let managers = flux::taken_over_managers(live, super::FIELD_MANAGER);
    if !managers.is_empty() {
        found.push(format!("fields managed by {}", managers.join(", ")));
    }
    format!("in sync, but Flux's apply takes over what other tools left: {}", found.join("; "))
}

fn hook_task(
    r: &PlanResource,
    desired: &Object,
    phase: Phase,
    options: &SyncOptions,
    config: &PlanConfig,
    taken: &mut HashSet<ResourceKey>,
) -> Task {
    let mut key = r.key.clone();
    let mut target = desired.value().clone();
    if key.name.is_empty() {
        let generate =
            desired.value().get("metadata").and_then(|m| m.get("generateName")).and_then(Value::as_str).unwrap_or("");
        // Argo CD's name, from the sync's start in seconds; a name already taken (two syncs in
        // one second, or two hooks of one generateName and phase) moves to the next second's,
        // so that no instance is mistaken for one that already ran.
        // At most `taken.len()` names can be taken, so one of these offsets is free.
        for offset in 0..=taken.len() as i64 {
            key.name = hooks::instance_name(generate, &config.revision, phase, config.started_at.wrapping_add(offset));
            if taken.insert(key.clone()) {
                break;
            }
        }
        if let Some(Value::Object(meta)) = target.get_mut("metadata") {
            meta.insert("name".into(), Value::String(key.name.clone()));
        }
    }
    let policies = hooks::delete_policies(desired.value());
    let replaces = r.live.is_some() && policies.contains(&super::task::DeletePolicy::BeforeHookCreation);
    let mut reason = format!("{} hook", phase.as_str());
    if replaces {
        reason.push_str("; the one left by an earlier sync is deleted first (BeforeHookCreation)");
    }
    if policies.contains(&super::task::DeletePolicy::HookSucceeded) {
        reason.push_str("; deleted once it succeeds (HookSucceeded)");
    }
    if policies.contains(&super::task::DeletePolicy::HookFailed) {
        reason.push_str("; deleted if it fails (HookFailed)");
    }
    Task {
        key,
        phase,
        wave: hooks::wave(desired.value()),
        action: Action::HookCreate,
        reason,
        delete_policies: policies,
        options: apply_options(options),
        target: Some(target),
        live_exists: r.live.is_some(),
        awaits_confirmation: false,
    }
}
