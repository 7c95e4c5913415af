//! Actions, point by point.

use std::collections::BTreeMap;
use std::time::Duration;

use gitops_core::settings::Settings;
use serde_json::{Value, json};

use super::*;
use crate::lua::{Clock, Limits};

/// 2024-01-02T03:04:05Z.
const NOW: i64 = 1_704_164_645;

fn actions() -> Actions {
    Actions::new(Engine::default().with_clock(Clock::Fixed(NOW)))
}

fn no_params() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
    })
}

#[test]
fn every_bundled_script_is_loaded() {
    let tree = ActionTree::bundled();
    assert_eq!(tree.len(), BUNDLED.len());
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
        assert!(tree.action("apps", kind, "restart").is_some(), "{kind}");
    }
    for name in ["restart", "resume", "abort", "retry", "promote-full", "skip-current-step", "pause"] {
        assert!(tree.action("argoproj.io", "Rollout", name).is_some(), "{name}");
    }
    assert!(tree.action("batch", "CronJob", "create-job").is_some());
    assert!(tree.action("argoproj.io", "AnalysisRun", "terminate").is_some());
}

#[test]
fn restart_stamps_the_template_with_the_engine_clock() {
    let out = actions().run(&deployment(), "restart", &no_params()).unwrap();
    let [Impact { operation: Operation::Patch, resource }] = &out.impacts[..] else { panic!("{out:?}") };
    assert_eq!(
        resource.pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"),
        Some(&json!("2024-01-02T03:04:05Z"))
    );
    // Everything else is as it was, numbers included.
    let mut back = resource.clone();
    back["spec"]["template"]["metadata"].as_object_mut().unwrap().remove("annotations");
    assert_eq!(back, deployment());
}

#[test]
fn parameters_reach_the_script_and_bad_ones_are_its_errors() {
    let params = BTreeMap::from([("replicas".to_string(), "5".to_string())]);
    let out = actions().run(&deployment(), "scale", &params).unwrap();
    assert_eq!(out.impacts[0].resource["spec"]["replicas"], json!(5));
    let bad = BTreeMap::from([("replicas".to_string(), "-1".to_string())]);
    let e = actions().run(&deployment(), "scale", &bad).unwrap_err().to_string();
    assert_eq!(e, "bundled:apps/Deployment/actions/scale/action.lua: replicas must be a whole number >= 0, not -1");
    let e = actions().run(&deployment(), "scale", &no_params()).unwrap_err().to_string();
    assert!(e.ends_with("the `replicas` parameter is required"), "{e}");
}

#[test]
fn create_job_returns_the_list_form() {
    let cron = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "report", "namespace": "ops", "uid": "u-1"},
        "spec": {"schedule": "0 * * * *", "jobTemplate": {"metadata": {"labels": {"team": "a"}, "annotations": {}},
                 "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "r", "image": "r:1"}]}}}}},
    });
    let out = actions().run(&cron, "create-job", &no_params()).unwrap();
    let [Impact { operation: Operation::Create, resource }] = &out.impacts[..] else { panic!("{out:?}") };
    assert_eq!(
        resource,
        &json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "report-202401020304", "namespace": "ops", "labels": {"team": "a"},
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "report", "uid": "u-1"}]},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "r", "image": "r:1"}]}}},
        })
    );
}

#[test]
fn empty_maps_come_back_as_maps_where_the_input_had_them() {
    let script = Script::new("obj.spec.extra = {}\nreturn obj", Libraries::Restricted, "t");
    let obj = json!({"kind": "X", "metadata": {"annotations": {}}, "spec": {"a": {}, "list": [{"m": {}}]}});
    let out = Engine::default().run_action(&script, &obj, &no_params()).unwrap();
    // `extra` had no map before: it stays `[]`, as in Argo CD.
    assert_eq!(
        out.impacts[0].resource,
        json!({"kind": "X", "metadata": {"annotations": {}}, "spec": {"a": {}, "list": [{"m": {}}], "extra": []}})
    );
}

#[test]
fn bad_results_and_failing_scripts_are_clear_errors() {
    let run = |src: &str| {
        let script = Script::new(src, Libraries::Restricted, "t");
        Engine::new(Limits { time: Duration::from_millis(200), ..Limits::default() })
            .run_action(&script, &json!({"kind": "X"}), &no_params())
            .map_err(|e| e.to_string())
    };
    assert_eq!(run("return 3").unwrap_err(), "expect table output from Lua script, not number");
    assert_eq!(run("local x = 1").unwrap_err(), "expect table output from Lua script, not nil");
    assert_eq!(run("return {}").unwrap_err(), "Lua output was not a valid json object or array");
    assert!(run("return {{operation = 'delete', resource = {}}}").unwrap_err().contains("unsupported operation"));
    assert!(run("error('nope', 0)").unwrap_err().ends_with("nope"));
    assert!(run("while true do end").unwrap_err().contains("time budget"));
    assert!(run("return {f = function() end}").unwrap_err().contains("cannot encode function"));
    // Restricted libraries, as Argo CD's API server: no `string`, `os` only by require.
    assert!(run("return {s = string.upper('a')}").unwrap_err().contains("string"));
    assert_eq!(run("local os = require('os'); return {t = os.time()}").unwrap().impacts.len(), 1);
}

#[test]
fn discovery_reads_every_field_and_an_empty_table_is_no_actions() {
    let script = Script::new(
        "return {a = {}, b = {disabled = true, displayName = 'B', iconClass = 'fa', params = {{name = 'n', default = '1'}}}}",
        Libraries::Restricted,
        "t",
    );
    let found = Engine::default().discover(&script, &json!({})).unwrap();
    assert_eq!(found[0], ResourceAction { name: "a".into(), ..Default::default() });
    assert_eq!(
        found[1],
        ResourceAction {
            name: "b".into(),
            disabled: true,
            display_name: "B".into(),
            icon_class: "fa".into(),
            params: vec![ActionParam { name: "n".into(), default: "1".into(), ..Default::default() }],
        }
    );
    let none = Script::new("return {}", Libraries::Restricted, "t");
    assert!(Engine::default().discover(&none, &json!({})).unwrap().is_empty());
    let bad = Script::new("return {a = {disabled = 'yes'}}", Libraries::Restricted, "t");
    assert!(Engine::default().discover(&bad, &json!({})).unwrap_err().to_string().contains("action `a`"));
}

#[test]
fn disabled_and_unknown_actions_are_refused() {
    let e = actions().run(&deployment(), "resume", &no_params()).unwrap_err();
    assert_eq!(e.to_string(), "action `resume` is disabled for Deployment/web");
    let e = actions().run(&deployment(), "explode", &no_params()).unwrap_err();
    assert_eq!(e.to_string(), "no action `explode` for apps/Deployment (it has: pause, restart, resume, scale)");
    let e = actions().run(&json!({"apiVersion": "v1", "kind": "Pod"}), "x", &no_params()).unwrap_err();
    assert_eq!(e.to_string(), "no action `x` for Pod (it has no actions)");
}

#[test]
fn argocd_cm_actions_win_and_may_merge_the_builtin_ones() {
    let cm = json!({"data": {
        "resource.customizations.actions.apps_Deployment": "discovery.lua: |\n  return {bump = {}}\ndefinitions:\n- name: bump\n  action.lua: |\n    obj.spec.replicas = obj.spec.replicas + 1\n    return obj\n",
    }});
    let settings = Settings::from_config_map(&cm).unwrap();
    let a = actions().with_settings(&settings);
    let names: Vec<String> = a.list(&deployment()).unwrap().into_iter().map(|x| x.name).collect();
    assert_eq!(names, ["bump"]);
    assert_eq!(a.run(&deployment(), "bump", &no_params()).unwrap().impacts[0].resource["spec"]["replicas"], json!(3));
    let merged = Settings::from_config_map(&json!({"data": {"resource.customizations": "apps/Deployment:\n  actions: |\n    mergeBuiltinActions: true\n    discovery.lua: return {bump = {}}\n"}})).unwrap();
    let names: Vec<String> =
        actions().with_settings(&merged).list(&deployment()).unwrap().into_iter().map(|x| x.name).collect();
    assert_eq!(names, ["bump", "pause", "restart", "resume", "scale"]);
}

#[test]
fn layout_errors_name_the_path() {
    let mut t = ActionTree::new();
    for bad in
        ["actions/discovery.lua", "a/b/c/actions/x/action.lua", "a/K/actions/x/y/action.lua", "a/K/actions/x.lua"]
    {
        assert_eq!(t.insert(bad, "", "x").unwrap_err().path, bad, "{bad}");
    }
    assert!(t.insert("Service/actions/discovery.lua", "", "x").is_ok());
    assert!(ActionTree::is_action_path("a/K/actions/x/action.lua"));
    assert!(!ActionTree::is_action_path("a/K/health.lua"));
}
