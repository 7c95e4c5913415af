//! Sync planning: each of Argo CD's rules on small apps, then properties over random apps.

use gitops_core::app::{self, AppSpec};
use gitops_core::manifest;
use gitops_core::sync::options::SyncOptions;
use gitops_core::sync::prepare::Inputs;
use gitops_core::sync::{Action, Phase, PlanConfig, PlanResource, SyncPlan, plan};
use gitops_core::{Object, ResourceKey};
use proptest::prelude::*;

fn obj(yaml: &str) -> Object {
    manifest::parse("test", yaml).expect("valid manifest").remove(0)
}

/// A resource from desired and live YAML (either may be empty).
fn res(desired: &str, live: &str, modified: bool) -> PlanResource {
    let desired = (!desired.is_empty()).then(|| obj(desired));
    let live = (!live.is_empty()).then(|| obj(live));
    let any = desired.as_ref().or(live.as_ref()).expect("one side");
    PlanResource { key: any.key("default"), desired, live, modified }
}

fn config() -> PlanConfig<'static> {
    PlanConfig {
        prune: true,
        namespace: "default".into(),
        revision: "abcdef0123".into(),
        started_at: 1_700_000_000,
        ..Default::default()
    }
}

fn with_options(options: &[&str]) -> PlanConfig<'static> {
    PlanConfig { options: SyncOptions::parse(options.iter().copied()).expect("options").0, ..config() }
}

fn steps(p: &SyncPlan) -> Vec<String> {
    p.tasks.iter().map(|t| format!("{}/{}/{}:{:?}", t.phase.as_str(), t.wave, t.key.name, t.action)).collect()
}

fn cm(name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n  annotations: {{{annotations}}}\ndata: {{a: b}}\n"
    )
}

#[test]
fn create_update_unchanged_and_waves() {
    let p = plan(
        vec![
            res(&cm("late", "argocd.argoproj.io/sync-wave: '2'"), "", false),
            res(&cm("same", ""), &cm("same", ""), false),
            res(&cm("changed", ""), &cm("changed", ""), true),
            res(&cm("early", "argocd.argoproj.io/sync-wave: '-1'"), "", false),
        ],
        &config(),
    )
    .unwrap();
    assert_eq!(
        steps(&p),
        ["Sync/-1/early:Create", "Sync/0/changed:Update", "Sync/0/same:Unchanged", "Sync/2/late:Create"]
    );
    assert!(p.has_work() && p.errors.is_empty());
}

#[test]
fn hooks_in_each_phase_helm_hooks_and_generated_names() {
    let job = |name: &str, annotations: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  {name}\n  namespace: default\n  annotations: {{{annotations}}}\nspec: {{}}\n"
        )
    };
    let p = plan(
        vec![
            res(&job("name: pre", "argocd.argoproj.io/hook: PreSync"), "", false),
            res(&job("name: during", "argocd.argoproj.io/hook: Sync"), "", false),
            res(&job("name: post", "argocd.argoproj.io/hook: PostSync"), "", false),
            res(&job("name: fail", "argocd.argoproj.io/hook: SyncFail"), "", false),
            res(&job("name: helm-pre", "helm.sh/hook: pre-upgrade"), "", false),
            res(&job("name: helm-test", "helm.sh/hook: test"), "", false),
            res(&job("name: skipped", "argocd.argoproj.io/hook: Skip"), "", false),
            res(&job("generateName: gen-", "argocd.argoproj.io/hook: PostSync"), "", false),
        ],
        &config(),
    )
    .unwrap();
    assert_eq!(
        steps(&p),
        [
            "PreSync/0/helm-pre:HookCreate",
            "PreSync/0/pre:HookCreate",
            "Sync/0/during:HookCreate",
            "PostSync/0/gen-abcdef0-postsync-1700000000:HookCreate",
            "PostSync/0/post:HookCreate",
            "SyncFail/0/fail:HookCreate",
        ]
    );
    let skipped: Vec<&str> = p.skipped.iter().map(|s| s.key.name.as_str()).collect();
    assert_eq!(skipped, ["helm-test", "skipped"]);
    let generated = p.tasks.iter().find(|t| t.key.name.starts_with("gen-")).unwrap();
    assert_eq!(generated.target.as_ref().unwrap()["metadata"]["name"], "gen-abcdef0-postsync-1700000000");
}

#[test]
fn a_hook_left_by_an_earlier_sync_is_replaced_not_pruned() {
    let hook = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: default\n  annotations: {argocd.argoproj.io/hook: PreSync}\n";
    let p = plan(vec![res(hook, hook, false)], &config()).unwrap();
    assert_eq!(steps(&p), ["PreSync/0/migrate:HookCreate"]);
    assert!(p.tasks[0].reason.contains("BeforeHookCreation"), "{}", p.tasks[0].reason);
    let p = plan(vec![res("", hook, false)], &config()).unwrap();
    assert!(p.tasks.is_empty());
    assert!(p.skipped[0].reason.contains("not pruned"));
}

#[test]
fn prune_rules() {
    let gone = |name: &str, annotations: &str| res("", &cm(name, annotations), false);
    let keep = res(&cm("keep", ""), &cm("keep", ""), false);
    let p = plan(
        vec![
            keep.clone(),
            gone("a", ""),
            gone("never", "argocd.argoproj.io/sync-options: Prune=false"),
            gone("ask", "argocd.argoproj.io/sync-options: Prune=confirm"),
            gone("last", "argocd.argoproj.io/sync-options: PruneLast=true"),
        ],
        &config(),
    )
    .unwrap();
    assert_eq!(
        steps(&p),
        [
            // Execution order: the wave's prunes (and kept prunes) before its applies.
            "Sync/0/a:Prune",
            "Sync/0/ask:PruneSkipped",
            "Sync/0/never:PruneSkipped",
            "Sync/0/keep:Unchanged",
            "Sync/1/last:Prune",
        ]
    );
    // Pruning not enabled for this sync: nothing is deleted.
    let p = plan(vec![keep.clone(), gone("a", "")], &PlanConfig { prune: false, ..config() }).unwrap();
    assert_eq!(steps(&p), ["Sync/0/a:PruneSkipped", "Sync/0/keep:Unchanged"]);
    assert!(p.tasks[0].reason.contains("requires pruning"));
    // Confirmed.
    let p = plan(
        vec![gone("ask", "argocd.argoproj.io/sync-options: Prune=confirm"), keep],
        &PlanConfig { prune_confirmed: true, ..config() },
    )
    .unwrap();
    assert_eq!(p.tasks[0].action, Action::Prune);
}

#[test]
fn prune_waves_are_mirrored_and_prune_last_follows_every_sync_wave() {
    let gone = |name: &str, wave: i64| res("", &cm(name, &format!("argocd.argoproj.io/sync-wave: '{wave}'")), false);
    let p = plan(
        vec![
            gone("w1", 1),
            gone("w2", 2),
            gone("w5", 5),
            res(&cm("app", "argocd.argoproj.io/sync-wave: '3'"), "", false),
        ],
        &PlanConfig { options: SyncOptions::default(), ..config() },
    )
    .unwrap();
    assert_eq!(steps(&p), ["Sync/1/w5:Prune", "Sync/2/w2:Prune", "Sync/3/app:Create", "Sync/5/w1:Prune"]);
    let p = plan(
        vec![gone("w1", 1), gone("w2", 2), res(&cm("app", "argocd.argoproj.io/sync-wave: '3'"), "", false)],
        &with_options(&["PruneLast=true"]),
    )
    .unwrap();
    assert_eq!(steps(&p), ["Sync/3/app:Create", "Sync/4/w1:Prune", "Sync/4/w2:Prune"]);
}

#[test]
fn apply_out_of_sync_only_marks_in_sync_objects() {
    let p =
        plan(vec![res(&cm("same", ""), &cm("same", ""), false)], &with_options(&["ApplyOutOfSyncOnly=true"])).unwrap();
    assert_eq!(p.tasks[0].action, Action::Unchanged);
    assert!(p.tasks[0].reason.contains("ApplyOutOfSyncOnly"));
    assert!(!p.has_work());
}

#[test]
fn namespaces_and_crds_come_before_their_dependants() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations: {argocd.argoproj.io/sync-wave: '5'}\n";
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n  annotations: {argocd.argoproj.io/sync-wave: '9'}\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n";
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n";
    let cm_in_shop = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\n";
    let p = plan(
        vec![res(widget, "", false), res(crd, "", false), res(ns, "", false), res(cm_in_shop, "", false)],
        &config(),
    )
    .unwrap();
    assert_eq!(
        steps(&p),
        ["Sync/0/shop:Create", "Sync/0/cfg:Create", "Sync/0/widgets.example.com:Create", "Sync/0/w:Create"]
    );
}

#[test]
fn create_namespace_adds_a_presync_namespace() {
    let p = plan(vec![res(&cm("a", ""), "", false)], &with_options(&["CreateNamespace=true"])).unwrap();
    assert_eq!(steps(&p), ["PreSync/0/default:Create", "Sync/0/a:Create"]);
}

#[test]
fn create_namespace_makes_no_namespace_that_exists_and_never_prunes_it() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n";
    let p =
        plan(vec![res(&cm("a", ""), "", false), res("", ns, false)], &with_options(&["CreateNamespace=true"])).unwrap();
    assert_eq!(steps(&p), ["Sync/0/a:Create"]);
    assert!(p.skipped.is_empty(), "{:?}", p.skipped);
}

/// Two syncs within one second gave a `generateName` hook the same name as the instance the
/// first left; and two hooks of one generateName and phase got one name.
#[test]
fn generated_hook_names_never_take_a_name_already_taken() {
    let gen_job = |annotations: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: gen-\n  namespace: default\n  annotations: {{argocd.argoproj.io/hook: PreSync{annotations}}}\nspec: {{}}\n"
        )
    };
    let left = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: gen-abcdef0-presync-1700000000\n  namespace: default\n  annotations: {argocd.argoproj.io/hook: PreSync}\n";
    let p = plan(
        vec![
            res(&gen_job(""), "", false),
            res(&gen_job(", argocd.argoproj.io/sync-wave: '1'"), "", false),
            res("", left, false),
        ],
        &config(),
    )
    .unwrap();
    assert_eq!(
        steps(&p),
        ["PreSync/0/gen-abcdef0-presync-1700000001:HookCreate", "PreSync/1/gen-abcdef0-presync-1700000002:HookCreate"]
    ); // Through `prepare`, which pairs objects by key: two nameless hooks stay two.
    let desired = vec![obj(&gen_job("")), obj(&gen_job(", argocd.argoproj.io/sync-wave: '1'"))];
    let (p, _) = gitops_core::sync::prepare::prepare(
        &Inputs { revision: "abcdef0123", started_at: 1_700_000_000, ..Inputs::default() },
        desired,
        vec![obj(left)],
    )
    .unwrap();
    assert_eq!(
        steps(&p),
        ["PreSync/0/gen-abcdef0-presync-1700000001:HookCreate", "PreSync/1/gen-abcdef0-presync-1700000002:HookCreate"]
    );
}

fn argo_app(name: &str) -> AppSpec {
    let text = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec: {{destination: {{namespace: default}}}}\n"
    );
    app::read("app.yaml", &manifest::parse("app.yaml", &text).unwrap()).unwrap()
}

#[test]
fn only_tracked_objects_are_pruned_and_shared_ones_are_reported() {
    let app = argo_app("shop");
    let ours = res("", &cm("ours", "argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:default/ours'"), false);
    let theirs = res("", &cm("theirs", "argocd.argoproj.io/tracking-id: 'other:/ConfigMap:default/theirs'"), false);
    let nobody = res("", &cm("nobody", ""), false);
    let shared = res(
        &cm("shared", ""),
        &cm("shared", "argocd.argoproj.io/tracking-id: 'other:/ConfigMap:default/shared'"),
        true,
    );
    let p = plan(
        vec![ours.clone(), theirs.clone(), nobody.clone(), shared.clone()],
        &PlanConfig { app: Some(&app), ..config() },
    )
    .unwrap();
    assert_eq!(steps(&p), ["Sync/0/ours:Prune", "Sync/0/shared:Update"]);
    assert_eq!(p.skipped.len(), 2);
    assert_eq!(p.warnings, ["/ConfigMap/default/shared is also tracked by app other"]);
    assert!(p.errors.is_empty());
    let strict = PlanConfig { app: Some(&app), ..with_options(&["FailOnSharedResource=true"]) };
    let p = plan(vec![ours, shared], &strict).unwrap();
    assert_eq!(p.errors, ["Shared resource found: /ConfigMap/default/shared is also tracked by app other"]);
}

/// A ReplicaSet a Deployment made carries the app's instance label (copied from the template
/// by a chart) and a ConfigMap carries a tracking id copied from another object: Argo CD
/// manages neither, so no plan prunes them, with or without an app.
#[test]
fn owned_objects_and_copied_tracking_ids_are_never_pruned() {
    let app = argo_app("shop");
    let replica_set = res(
        "",
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-5d4f\n  namespace: default\n  labels: {app.kubernetes.io/instance: shop}\n  annotations: {argocd.argoproj.io/tracking-id: 'shop:apps/ReplicaSet:default/web-5d4f'}\n  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1}]\n",
        false,
    );
    let copied = res("", &cm("copy", "argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:default/settings'"), false);
    let ours = res("", &cm("ours", "argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:default/ours'"), false);
    for config in [PlanConfig { app: Some(&app), ..config() }, PlanConfig { allow_empty: true, ..config() }] {
        let p = plan(vec![replica_set.clone(), copied.clone(), ours.clone()], &config).unwrap();
        assert_eq!(steps(&p), ["Sync/0/ours:Prune"]);
        let reasons: Vec<&str> = p.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("owned by Deployment web")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("not this object")), "{reasons:?}");
    }
}

#[test]
fn an_empty_render_does_not_prune_everything_unless_allowed() {
    let gone = res("", &cm("a", ""), false);
    let p = plan(vec![gone.clone()], &config()).unwrap();
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert!(p.errors[0].contains("allowEmpty"));
    let p = plan(vec![gone], &PlanConfig { allow_empty: true, ..config() }).unwrap();
    assert!(p.errors.is_empty());
}

#[test]
fn bad_sync_options_name_the_object() {
    let e =
        plan(vec![res(&cm("a", "argocd.argoproj.io/sync-options: Prune=maybe"), "", false)], &config()).unwrap_err();
    assert_eq!(e.to_string(), "/ConfigMap/default/a: sync option `Prune=maybe`: expected `true`, `false` or `confirm`");
}

// Properties over random apps.

fn random_resource() -> impl Strategy<Value = PlanResource> {
    let kinds =
        prop::sample::select(vec!["ConfigMap", "Deployment", "Widget", "Namespace", "CustomResourceDefinition", "Job"]);
    (kinds, 0..6usize, 0..3usize, -2..3i64, 0..4u8, any::<bool>(), 0..5u8).prop_map(
        |(kind, name, ns, wave, side, tracked, hook)| {
            let ns_name = format!("ns{ns}");
            let (api, meta_ns, extra) = match kind {
                "Deployment" => ("apps/v1", format!("namespace: {ns_name}"), String::new()),
                "Widget" => ("example.com/v1", format!("namespace: {ns_name}"), String::new()),
                "Namespace" => ("v1", String::new(), String::new()),
                "CustomResourceDefinition" => (
                    "apiextensions.k8s.io/v1",
                    String::new(),
                    "spec: {group: example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced}\n".to_string(),
                ),
                "Job" => ("batch/v1", format!("namespace: {ns_name}"), String::new()),
                _ => ("v1", format!("namespace: {ns_name}"), String::new()),
            };
            let name = match kind {
                "Namespace" => ns_name.clone(),
                "CustomResourceDefinition" => "widgets.example.com".to_string(),
                _ => format!("o{name}"),
            };
            let hook = match hook {
                0 if kind == "Job" => "argocd.argoproj.io/hook: PreSync, ",
                1 if kind == "Job" => "argocd.argoproj.io/hook: PostSync, ",
                _ => "",
            };
            // A tracking id that names the object itself: only such objects may be pruned.
            let group = api.rsplit_once('/').map_or("", |(g, _)| g);
            let id_ns = if meta_ns.is_empty() { "" } else { ns_name.as_str() };
            let tracking = if tracked {
                format!("argocd.argoproj.io/tracking-id: 'shop:{group}/{kind}:{id_ns}/{name}'")
            } else {
                String::new()
            };
            let text = |ann: &str| {
                format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  {meta_ns}\n  annotations: {{{hook}argocd.argoproj.io/sync-wave: '{wave}', {ann}}}\n{extra}")
            };
            let desired = text("");
            let live = text(&tracking);
            match side {
                0 => res(&desired, "", false),
                1 => res("", &live, false),
                _ => res(&desired, &live, side == 3),
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn plans_keep_argo_cd_invariants(mut resources in prop::collection::vec(random_resource(), 0..24)) {
        resources.sort_by(|a, b| a.key.cmp(&b.key));
        resources.dedup_by(|a, b| a.key == b.key);
        let app = argo_app("shop");
        let p = plan(resources.clone(), &PlanConfig { app: Some(&app), allow_empty: true, ..config() }).unwrap();
        let position = |pred: &dyn Fn(&ResourceKey) -> bool| p.tasks.iter().position(|t| t.target.is_some() && pred(&t.key));
        for (i, t) in p.tasks.iter().enumerate() {
            // Phases never go backwards.
            if i > 0 {
                prop_assert!(p.tasks[i - 1].phase <= t.phase, "{:?}", p.tasks);
            }
            if t.target.is_none() {
                continue;
            }
            // A namespace comes before every object created in it.
            if !t.key.namespace.is_empty()
                && let Some(ns) = position(&|k| k.kind == "Namespace" && k.name == t.key.namespace)
            {
                prop_assert!(ns < i, "namespace after {}", t.key);
            }
            // A CRD comes before each of its custom resources.
            if t.key.kind == "Widget"
                && let Some(crd) = position(&|k| k.kind == "CustomResourceDefinition")
            {
                prop_assert!(crd < i, "CRD after {}", t.key);
            }
        }
        // Nothing this app does not track is ever pruned.
        for t in p.tasks.iter().filter(|t| t.action == Action::Prune) {
            let r = resources.iter().find(|r| r.key == t.key).unwrap();
            prop_assert!(r.desired.is_none());
            prop_assert!(app::is_tracked_by(r.live.as_ref().unwrap(), &app), "pruned untracked {}", t.key);
        }
        // Phases are in Argo CD's order and hooks are where they say.
        prop_assert!(p.tasks.iter().all(|t| t.action != Action::HookCreate || t.phase != Phase::Sync || t.key.kind == "Job"));
    }
}

// The sync operation driven on plans made by `plan`, with a simulated cluster.

use gitops_core::sync::{Observed, OperationOptions, OperationPhase, Step, SyncOperation};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Drives `op` to the end: every request succeeds; waits are answered from `health` (a
/// function of the task and how many times it was asked), deletions complete at once. Returns
/// the steps that did something, each as `verb:name`.
fn drive(op: &mut SyncOperation, health: &mut dyn FnMut(usize, u32) -> Observed) -> Vec<String> {
    let mut asked: std::collections::HashMap<usize, u32> = Default::default();
    let mut log = Vec::new();
    let mut now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for _ in 0..2_000 {
        now += Duration::from_secs(3);
        let step = op.next(now);
        let name = |i: &usize| op.tasks()[*i].key.name.clone();
        match &step {
            Step::Apply(v) => {
                log.extend(v.iter().map(|i| format!("apply:{}", name(i))));
                v.iter().for_each(|i| op.applied(*i, Ok(())).unwrap());
            }
            Step::Prune(v) => {
                log.extend(v.iter().map(|i| format!("prune:{}", name(i))));
                v.iter().for_each(|i| op.pruned(*i, Ok(())).unwrap());
            }
            Step::CreateHooks(v) => {
                log.extend(v.iter().map(|i| format!("hook:{}", name(i))));
                v.iter().for_each(|i| op.hook_created(*i, Ok(())).unwrap());
            }
            Step::DeleteHooks(v) => {
                log.extend(v.iter().map(|i| format!("delete-hook:{}", name(i))));
                v.iter().for_each(|i| op.hook_deleted(*i, Ok(())).unwrap());
            }
            Step::Wait { health: h, deletions, .. } => {
                for i in h {
                    let n = asked.entry(*i).or_insert(0);
                    *n += 1;
                    op.observe(*i, health(*i, *n), "").unwrap();
                }
                deletions.iter().for_each(|i| op.observe(*i, Observed::Missing, "").unwrap());
            }
            Step::Done => return log,
        }
    }
    panic!("the operation did not end: {} / {}", op.message(), log.join(" "));
}

fn example_plan() -> SyncPlan {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";
    let migrate = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: shop\n  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: HookSucceeded}\n";
    let web = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {argocd.argoproj.io/sync-wave: '1'}\n";
    let cfg = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\n";
    let old = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old, namespace: shop}\n";
    plan(
        vec![
            res(ns, "", false),
            res(migrate, "", false),
            res(web, web, true),
            res(cfg, "", false),
            res("", old, false),
        ],
        &config(),
    )
    .unwrap()
}

#[test]
fn a_planned_sync_runs_in_order_and_waits_for_health_between_waves() {
    let mut op = SyncOperation::new(example_plan(), OperationOptions::default(), UNIX_EPOCH);
    // The Deployment is Progressing twice before it is Healthy; everything else is Healthy.
    let web = op.tasks().iter().position(|t| t.key.name == "web").unwrap();
    let log = drive(&mut op, &mut |i, n| if i == web && n <= 2 { Observed::Progressing } else { Observed::Healthy });
    assert_eq!(op.phase(), OperationPhase::Succeeded, "{}", op.message());
    assert_eq!(log, ["apply:shop", "hook:migrate", "prune:old", "apply:cfg", "apply:web", "delete-hook:migrate"]);
}

#[test]
fn a_degraded_wave_fails_the_sync() {
    let mut op = SyncOperation::new(example_plan(), OperationOptions::default(), UNIX_EPOCH);
    let cfg = op.tasks().iter().position(|t| t.key.name == "cfg").unwrap();
    let log = drive(&mut op, &mut |i, _| if i == cfg { Observed::Degraded } else { Observed::Healthy });
    assert_eq!(op.phase(), OperationPhase::Failed);
    assert!(op.message().starts_with("one or more synchronization tasks completed unsuccessfully"), "{}", op.message());
    assert!(!log.contains(&"apply:web".to_string()), "the next wave must not start: {log:?}");
}

#[test]
fn terminating_while_a_hook_runs_deletes_it_and_fails() {
    let mut op = SyncOperation::new(example_plan(), OperationOptions::default(), UNIX_EPOCH);
    let now = UNIX_EPOCH + Duration::from_secs(10);
    let mut hook_running = false;
    for _ in 0..10 {
        match op.next(now) {
            Step::Apply(v) => v.iter().for_each(|i| op.applied(*i, Ok(())).unwrap()),
            Step::CreateHooks(v) => {
                v.iter().for_each(|i| op.hook_created(*i, Ok(())).unwrap());
                hook_running = true;
                break;
            }
            Step::Wait { health, .. } => health.iter().for_each(|i| op.observe(*i, Observed::Healthy, "").unwrap()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(hook_running);
    op.terminate();
    let log = drive(&mut op, &mut |_, _| Observed::Progressing);
    assert_eq!(log, ["delete-hook:migrate"]);
    assert_eq!((op.phase(), op.message()), (OperationPhase::Failed, "Operation terminated"));
}

fn observed() -> impl Strategy<Value = Observed> {
    prop::sample::select(vec![
        Observed::Healthy,
        Observed::Healthy,
        Observed::Progressing,
        Observed::Suspended,
        Observed::Degraded,
        Observed::Unknown,
        Observed::NoCheck,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever health the cluster reports, a sync ends (health settles after a few asks)
    /// and never deletes anything the plan did not mark for pruning.
    #[test]
    fn every_sync_ends_and_prunes_only_prunes(
        mut resources in prop::collection::vec(random_resource(), 0..16),
        answers in prop::collection::vec(observed(), 1..8),
        dry_run in any::<bool>(),
    ) {
        resources.sort_by(|a, b| a.key.cmp(&b.key));
        resources.dedup_by(|a, b| a.key == b.key);
        let app = argo_app("shop");
        let p = plan(resources, &PlanConfig { app: Some(&app), allow_empty: true, ..config() }).unwrap();
        let prunable: Vec<String> = p.tasks.iter().filter(|t| t.action == Action::Prune).map(|t| t.key.name.clone()).collect();
        let mut op = SyncOperation::new(p, OperationOptions { dry_run, ..OperationOptions::default() }, SystemTime::UNIX_EPOCH);
        // Progressing and Suspended settle to Healthy after a few asks, so waves can move on.
        let log = drive(&mut op, &mut |i, n| {
            let o = answers[(i + n as usize) % answers.len()];
            if n > 4 && matches!(o, Observed::Progressing | Observed::Suspended | Observed::Unknown) { Observed::Healthy } else { o }
        });
        prop_assert!(op.phase().is_completed(), "{:?}: {}", op.phase(), op.message());
        for entry in log.iter().filter_map(|l| l.strip_prefix("prune:")) {
            prop_assert!(prunable.iter().any(|n| n == entry), "pruned {entry}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The plan lists its tasks in the order the sync runs them: every task the operation hands
    /// out (prune, apply, hook creation) comes later in the plan than the ones handed out
    /// before it, so a printed plan never shows `create api` above a `prune legacy` that
    /// runs first.
    #[test]
    fn the_plan_is_in_execution_order(mut resources in prop::collection::vec(random_resource(), 0..16)) {
        resources.sort_by(|a, b| a.key.cmp(&b.key));
        resources.dedup_by(|a, b| a.key == b.key);
        let app = argo_app("shop");
        let p = plan(resources, &PlanConfig { app: Some(&app), allow_empty: true, ..config() }).unwrap();
        let listed: Vec<String> = p.tasks.iter().map(|t| format!("{:?} {}", t.action, t.key)).collect();
        let mut op = SyncOperation::new(p, OperationOptions::default(), SystemTime::UNIX_EPOCH);
        let mut handed_out = Vec::new();
        let mut now = UNIX_EPOCH;
        for _ in 0..2_000 {
            now += Duration::from_secs(3);
            match op.next(now) {
                Step::Apply(v) => v.iter().for_each(|i| { handed_out.push(*i); op.applied(*i, Ok(())).unwrap() }),
                Step::Prune(v) => v.iter().for_each(|i| { handed_out.push(*i); op.pruned(*i, Ok(())).unwrap() }),
                Step::CreateHooks(v) => v.iter().for_each(|i| { handed_out.push(*i); op.hook_created(*i, Ok(())).unwrap() }),
                Step::DeleteHooks(v) => v.iter().for_each(|i| op.hook_deleted(*i, Ok(())).unwrap()),
                Step::Wait { health, deletions, .. } => {
                    health.iter().for_each(|i| op.observe(*i, Observed::Healthy, "").unwrap());
                    deletions.iter().for_each(|i| op.observe(*i, Observed::Missing, "").unwrap());
                }
                Step::Done => break,
            }
        }
        prop_assert!(op.phase().is_completed(), "{:?}: {}", op.phase(), op.message());
        prop_assert!(handed_out.windows(2).all(|w| w[0] < w[1]), "ran {:?} of {:?}", handed_out, listed);
    }
}

#[test]
fn a_flux_app_applies_argo_hooks_and_waves_as_plain_objects() {
    let text = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: shop, namespace: flux-system}\nspec: {targetNamespace: shop, prune: true}\n";
    let flux = app::read("k.yaml", &manifest::parse("k.yaml", text).unwrap()).unwrap();
    let desired = manifest::parse(
        "d.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/sync-wave: '-3'}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {argocd.argoproj.io/sync-wave: '5', helm.sh/hook: pre-install}}\n",
    )
    .unwrap();
    let (planned, _) = gitops_core::sync::prepare::prepare(
        &Inputs { app: Some(&flux), revision: "r", ..Inputs::default() },
        desired.clone(),
        Vec::new(),
    )
    .unwrap();
    for t in &planned.tasks {
        assert_eq!((t.phase, t.wave, t.action), (Phase::Sync, 0, Action::Create), "{t:?}");
    }
    assert_eq!(planned.tasks.len(), 2);
    // The same objects in an Argo CD app are a PreSync hook and a Helm hook.
    let argo = argo_app("shop");
    let (planned, _) = gitops_core::sync::prepare::prepare(
        &Inputs { app: Some(&argo), revision: "r", ..Inputs::default() },
        desired,
        Vec::new(),
    )
    .unwrap();
    assert!(planned.tasks.iter().all(|t| t.phase == Phase::PreSync), "{:?}", planned.tasks);
}

/// Flux's per-object policies: `ssa: IfNotPresent` creates only, `ssa: Ignore` never applies,
/// `prune: disabled` (annotation or label) is never pruned; an Argo CD app ignores all of them.
#[test]
fn flux_per_object_apply_and_prune_policies() {
    let text = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: shop, namespace: flux-system}\nspec: {targetNamespace: shop, prune: true}\n";
    let flux = app::read("k.yaml", &manifest::parse("k.yaml", text).unwrap()).unwrap();
    let cm = |name: &str, extra: &str, data: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n{extra}data: {{a: '{data}'}}\n"
        )
    };
    let tracked = "  labels: {kustomize.toolkit.fluxcd.io/name: shop}\n";
    let desired: Vec<Object> = [
        cm("once", "  annotations: {kustomize.toolkit.fluxcd.io/ssa: IfNotPresent}\n", "new"),
        cm("fresh", "  annotations: {kustomize.toolkit.fluxcd.io/ssa: ifnotpresent}\n", "new"),
        cm("ignored", "  annotations: {kustomize.toolkit.fluxcd.io/ssa: Ignore}\n", "new"),
        cm("job-like", "", "new"),
    ]
    .iter()
    .map(|t| obj(t))
    .collect();
    let live: Vec<Object> = [
        cm("once", tracked, "old"),
        cm("ignored", tracked, "old"),
        cm("job-like", tracked, "old"),
        cm(
            "kept",
            "  labels: {kustomize.toolkit.fluxcd.io/name: shop, kustomize.toolkit.fluxcd.io/prune: disabled}\n",
            "x",
        ),
        cm("kept-too", &format!("{tracked}  annotations: {{kustomize.toolkit.fluxcd.io/prune: Disabled}}\n"), "x"),
        cm("gone", tracked, "x"),
    ]
    .iter()
    .map(|t| obj(t))
    .collect();
    let (p, _) = gitops_core::sync::prepare::prepare(
        &Inputs { app: Some(&flux), prune: true, revision: "r", ..Inputs::default() },
        desired.clone(),
        live.clone(),
    )
    .unwrap();
    let step = |name: &str| p.tasks.iter().find(|t| t.key.name == name).map(|t| (t.action, t.options.force));
    assert_eq!(step("once"), Some((Action::Unchanged, false)), "exists: not applied");
    assert_eq!(step("fresh"), Some((Action::Create, false)), "missing: created");
    assert_eq!(step("ignored"), None, "never applied");
    assert!(p.skipped.iter().any(|s| s.key.name == "ignored" && s.reason.contains("Ignore")), "{:?}", p.skipped);
    assert_eq!(step("job-like"), Some((Action::Update, false)));
    assert_eq!(step("kept").map(|s| s.0), Some(Action::PruneSkipped));
    assert_eq!(step("kept-too").map(|s| s.0), Some(Action::PruneSkipped));
    assert_eq!(step("gone").map(|s| s.0), Some(Action::Prune));
    // An Argo CD app reads none of Flux's annotations.
    let (p, _) = gitops_core::sync::prepare::prepare(
        &Inputs { app: Some(&argo_app("shop")), prune: true, revision: "r", ..Inputs::default() },
        desired,
        Vec::new(),
    )
    .unwrap();
    assert_eq!(p.tasks.len(), 4, "{:?}", p.tasks);
    assert!(p.tasks.iter().all(|t| t.action == Action::Create && !t.options.force), "{:?}", p.tasks);
}

/// Who is recreated on an immutable-field refusal: a Flux app's objects with `spec.force` or the
/// `force: enabled` annotation or label (on either side), an Argo CD app's with `Force=true`
/// (always with `Replace=true`; never with `ServerSideApply=true`, where it takes over fields).
#[test]
fn force_plans_recreation_as_flux_and_argo_cd_do() {
    use gitops_core::sync::options::Recreate;
    let kustomization = |force: &str| {
        let text = format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: shop, namespace: flux-system}}\nspec: {{targetNamespace: shop{force}}}\n"
        );
        app::read("k.yaml", &manifest::parse("k.yaml", &text).unwrap()).unwrap()
    };
    let cm = |name: &str, meta: &str| {
        obj(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n{meta}data: {{a: b}}\n"
        ))
    };
    let desired = vec![
        cm("plain", ""),
        cm("annotated", "  annotations: {kustomize.toolkit.fluxcd.io/force: enabled}\n"),
        cm("labelled", "  labels: {kustomize.toolkit.fluxcd.io/force: Enabled}\n"),
        cm("live-marked", ""),
    ];
    let live = vec![cm("live-marked", "  annotations: {kustomize.toolkit.fluxcd.io/force: enabled}\n")];
    let recreate = |app: &AppSpec, desired: Vec<Object>, live: Vec<Object>| {
        let inputs = Inputs { app: Some(app), revision: "r", ..Inputs::default() };
        let (p, _) = gitops_core::sync::prepare::prepare(&inputs, desired, live).unwrap();
        p.tasks.iter().map(|t| (t.key.name.clone(), t.options.recreate)).collect::<Vec<_>>()
    };
    let of = |list: &[(String, Recreate)], name: &str| list.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
    let flux = recreate(&kustomization(""), desired.clone(), live.clone());
    assert_eq!(of(&flux, "plain"), Some(Recreate::Never));
    assert_eq!(of(&flux, "annotated"), Some(Recreate::OnImmutable));
    assert_eq!(of(&flux, "labelled"), Some(Recreate::OnImmutable));
    assert_eq!(of(&flux, "live-marked"), Some(Recreate::OnImmutable), "the live object's mark counts");
    let forced = recreate(&kustomization(", force: true"), desired.clone(), live.clone());
    assert!(forced.iter().all(|(_, r)| *r == Recreate::OnImmutable), "{forced:?}");

    let argo = |options: &str| {
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec: {{destination: {{namespace: shop}}, syncPolicy: {{syncOptions: [{options}]}}}}\n"
        );
        app::read("app.yaml", &manifest::parse("app.yaml", &text).unwrap()).unwrap()
    };
    let one = |app: &AppSpec, meta: &str| of(&recreate(app, vec![cm("web", meta)], Vec::new()), "web");
    assert_eq!(one(&argo(""), ""), Some(Recreate::Never), "Flux's annotations mean nothing to Argo CD");
    assert_eq!(one(&argo("Force=true"), ""), Some(Recreate::OnImmutable));
    assert_eq!(one(&argo("'Force=true', 'Replace=true'"), ""), Some(Recreate::Always));
    assert_eq!(one(&argo("'Force=true', 'ServerSideApply=true'"), ""), Some(Recreate::Never));
    let replace = "  annotations: {argocd.argoproj.io/sync-options: 'Replace=true'}\n";
    assert_eq!(one(&argo("Force=true"), replace), Some(Recreate::Always), "options merge per resource");
    let annotated = "  annotations: {kustomize.toolkit.fluxcd.io/force: enabled}\n";
    assert_eq!(one(&argo(""), annotated), Some(Recreate::Never));
}

/// `syncPolicy.managedNamespaceMetadata`: the namespace `CreateNamespace=true` makes carries
/// the labels and annotations; an existing one lacking them is updated; one that has them is
/// left alone.
#[test]
fn managed_namespace_metadata_goes_on_the_created_namespace() {
    let text = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  destination: {namespace: shop}\n  syncPolicy:\n    syncOptions: [CreateNamespace=true]\n    managedNamespaceMetadata: {labels: {team: web}, annotations: {owner: ops}}\n";
    let app = app::read("app.yaml", &manifest::parse("app.yaml", text).unwrap()).unwrap();
    let desired = vec![obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")];
    let prepare = |live: Vec<Object>| {
        gitops_core::sync::prepare::prepare(
            &Inputs { app: Some(&app), revision: "r", ..Inputs::default() },
            desired.clone(),
            live,
        )
        .unwrap()
        .0
    };
    let ns_task = |p: &SyncPlan| p.tasks.iter().find(|t| t.key.kind == "Namespace").cloned();
    let created = ns_task(&prepare(Vec::new())).expect("created");
    assert_eq!(created.action, Action::Create);
    let target = created.target.expect("target");
    assert_eq!(
        (&target["metadata"]["labels"]["team"], &target["metadata"]["annotations"]["owner"]),
        (&"web".into(), &"ops".into())
    );
    let bare = obj("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {other: x}}\n");
    let updated = ns_task(&prepare(vec![bare])).expect("updated");
    assert_eq!(updated.action, Action::Update);
    let labels = &updated.target.expect("target")["metadata"]["labels"];
    assert_eq!((&labels["team"], &labels["other"]), (&"web".into(), &"x".into()), "live labels are kept");
    let done = obj(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: web}, annotations: {owner: ops}}\n",
    );
    assert!(ns_task(&prepare(vec![done])).is_none(), "nothing to do");
}
