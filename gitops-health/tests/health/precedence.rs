//! Which check decides: deletion, argocd-cm (exact, then wildcard), script trees (exact,
//! then wildcard), built-ins, in that order.

use gitops_core::settings::Settings;
use gitops_health::scripts::ScriptTree;
use gitops_health::{CheckSource, Health, HealthChecks, HealthStatus};
use serde_json::{Value, json};

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
    })
}

fn cm(data: Value) -> Settings {
    Settings::from_config_map(&json!({"data": data})).expect("settings")
}

fn status_of(checks: &HealthChecks, obj: &Value) -> (Option<Health>, CheckSource) {
    let a = checks.assess(obj);
    (a.health, a.source)
}

#[test]
fn builtin_when_nothing_else_applies() {
    let (h, source) = status_of(&HealthChecks::default(), &deployment());
    assert_eq!(h, Some(Health::bare(HealthStatus::Healthy)));
    assert_eq!(source, CheckSource::Builtin);
    let (h, source) = status_of(&HealthChecks::default(), &json!({"apiVersion": "v1", "kind": "ConfigMap"}));
    assert_eq!((h, source), (None, CheckSource::None));
}

#[test]
fn deletion_pending_comes_first_unless_a_hook_finalizer_holds_it() {
    let mut d = deployment();
    d["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let checks = HealthChecks::default()
        .with_settings(&cm(json!({"resource.customizations.health.apps_Deployment": "return {status = 'Degraded'}"})))
        .expect("checks");
    let (h, source) = status_of(&checks, &d);
    assert_eq!(h, Some(Health::new(HealthStatus::Progressing, "Pending deletion")));
    assert_eq!(source, CheckSource::DeletionPending);
    d["metadata"]["finalizers"] = json!(["argocd.argoproj.io/hook-finalizer"]);
    assert_eq!(status_of(&checks, &d).0.map(|h| h.status), Some(HealthStatus::Degraded));
}

#[test]
fn argocd_cm_beats_trees_and_builtins_exact_before_wildcard() {
    let mut tree = ScriptTree::new();
    tree.insert("apps/Deployment/health.lua", "return {status = 'Suspended', message = 'tree'}", "dir").expect("tree");
    let base = HealthChecks::default().with_tree(tree);
    assert_eq!(status_of(&base, &deployment()).0, Some(Health::new(HealthStatus::Suspended, "tree")));

    let wildcard = base
        .clone()
        .with_settings(&cm(json!({
            "resource.customizations": "\"*/*\":\n  health.lua: return {status = 'Degraded', message = 'any'}\n",
        })))
        .expect("checks");
    assert_eq!(status_of(&wildcard, &deployment()).0, Some(Health::new(HealthStatus::Degraded, "any")));
    // `*/*` cannot match a core kind: its key has no `/`.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Succeeded"}});
    assert_eq!(status_of(&wildcard, &pod).1, CheckSource::Builtin);

    let exact = base
        .with_settings(&cm(json!({
            "resource.customizations": "\"*/*\":\n  health.lua: return {status = 'Degraded', message = 'any'}\n",
            "resource.customizations.health.apps_Deployment": "return {status = 'Healthy', message = 'exact'}",
        })))
        .expect("checks");
    let (h, source) = status_of(&exact, &deployment());
    assert_eq!(h, Some(Health::new(HealthStatus::Healthy, "exact")));
    assert_eq!(source, CheckSource::Lua { origin: "resource.customizations.health.apps_Deployment".into() });
}

#[test]
fn a_script_returning_nothing_does_not_fall_back_to_the_builtin() {
    let checks = HealthChecks::default()
        .with_settings(&cm(json!({"resource.customizations.health.apps_Deployment": "return nil"})))
        .expect("checks");
    let (h, source) = status_of(&checks, &deployment());
    assert_eq!(h, None);
    assert!(matches!(source, CheckSource::Lua { .. }));
}

#[test]
fn a_script_error_is_unknown_with_its_text() {
    let checks = HealthChecks::default()
        .with_settings(&cm(json!({"resource.customizations.health.apps_Deployment": "error('no way', 0)"})))
        .expect("checks");
    let a = checks.assess(&deployment());
    assert_eq!(a.health, Some(Health::new(HealthStatus::Unknown, "no way")));
    assert_eq!(a.error.as_deref(), Some("no way"));
}

#[test]
fn configmap_scripts_are_restricted_unless_use_open_libs() {
    let probe = "return {status = 'Healthy', message = type(string) .. ' ' .. type(os)}";
    let restricted = HealthChecks::default()
        .with_settings(&cm(json!({"resource.customizations.health.apps_Deployment": probe})))
        .expect("checks");
    assert_eq!(status_of(&restricted, &deployment()).0.map(|h| h.message), Some("nil nil".into()));
    let open = HealthChecks::default()
        .with_settings(&cm(json!({
            "resource.customizations.health.apps_Deployment": probe,
            "resource.customizations.useOpenLibs.apps_Deployment": "true",
        })))
        .expect("checks");
    assert_eq!(status_of(&open, &deployment()).0.map(|h| h.message), Some("table table".into()));
}

#[test]
fn bundled_scripts_can_be_overridden_by_a_directory() {
    let rollout = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"}});
    let bundled = HealthChecks::default();
    assert!(matches!(status_of(&bundled, &rollout).1, CheckSource::Lua { origin } if origin.starts_with("bundled:")));
    let mut tree = ScriptTree::new();
    tree.insert("argoproj.io/Rollout/health.lua", "return {status = 'Healthy', message = 'mine'}", "mine")
        .expect("tree");
    let mine = HealthChecks::default().with_tree(tree);
    assert_eq!(status_of(&mine, &rollout).0, Some(Health::new(HealthStatus::Healthy, "mine")));
}
