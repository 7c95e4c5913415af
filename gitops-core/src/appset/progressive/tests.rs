use serde_json::json;

use super::*;
use crate::object::Origin;

fn object(v: Value) -> Object {
    Object::new(v, Origin::inline("test"))
}

fn set(strategy: Value) -> Object {
    object(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "shop", "namespace": "argocd"},
        "spec": {"strategy": strategy},
    }))
}

fn rolling(steps: Value) -> RollingSync {
    RollingSync::of(&set(json!({"type": "RollingSync", "rollingSync": {"steps": steps}}))).unwrap().unwrap()
}

fn three_envs() -> RollingSync {
    rolling(json!([
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]},
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["qa"]}], "maxUpdate": 0},
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}], "maxUpdate": "50%"},
    ]))
}

/// A generated app of env `env`, as it would be written.
fn desired(name: &str, env: &str) -> Object {
    object(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": {"env": env}},
        "spec": {"project": "default", "source": {"repoURL": "https://git.example/shop", "path": env}},
    }))
}

/// The app as it exists, with a status.
fn live(name: &str, env: &str, sync: &str, health: &str, revision: &str, extra: Value) -> Object {
    let mut app = desired(name, env);
    app.value_mut()["status"] = json!({
        "sync": {"status": sync, "revision": revision},
        "health": {"status": health},
    });
    if let (Some(status), Some(extra)) = (app.value_mut()["status"].as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            status.insert(k.clone(), v.clone());
        }
    }
    app
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn phases(p: &Progress) -> Vec<(String, Phase)> {
    p.statuses.iter().map(|s| (s.application.clone(), s.status)).collect()
}

#[test]
fn strategies_read_and_bad_ones_are_named() {
    assert_eq!(RollingSync::of(&set(json!({"type": "AllAtOnce"}))).unwrap(), None);
    assert_eq!(RollingSync::of(&set(json!({"type": "RollingSync", "rollingSync": {"steps": []}}))).unwrap(), None);
    let r = three_envs();
    assert_eq!(r.steps.len(), 3);
    assert_eq!(r.steps[1].max_update, Some(MaxUpdate::Count(0)));
    assert_eq!(r.steps[2].max_update, Some(MaxUpdate::Percent(50)));
    let bad = |strategy: Value| RollingSync::of(&set(strategy)).unwrap_err().to_string();
    let e = bad(json!({"type": "RollingSync", "rollingSync": {"steps": [
        {"matchExpressions": [{"key": "env", "operator": "Exists"}]}]}}));
    assert!(e.contains("spec.strategy.rollingSync.steps[0].matchExpressions[0].operator"), "{e}");
    let e = bad(json!({"type": "RollingSync", "rollingSync": {"steps": [{"maxUpdate": "ten"}]}}));
    assert!(e.contains("steps[0].maxUpdate") && e.contains("\"ten\""), "{e}");
    let e = bad(json!({"type": "Canary"}));
    assert!(e.contains("spec.strategy.type"), "{e}");
}

#[test]
fn apps_fall_in_the_first_step_that_selects_them() {
    let r = rolling(json!([
        {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
    ]));
    assert_eq!(r.step_of(&desired("a", "dev")), Some(0));
    assert_eq!(r.step_of(&desired("b", "prod")), Some(1));
    let mut unlabelled = desired("c", "x");
    unlabelled.value_mut()["metadata"]["labels"] = json!({});
    assert_eq!(r.step_of(&unlabelled), Some(0), "a missing label passes NotIn");
    let only_in = rolling(json!([{"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]}]));
    assert_eq!(only_in.step_of(&unlabelled), None, "a missing label fails In");
}

#[test]
fn max_update_rounds_down_but_a_percentage_lets_one_through() {
    assert_eq!(MaxUpdate::Percent(10).limit(5), 1);
    assert_eq!(MaxUpdate::Percent(50).limit(5), 2);
    assert_eq!(MaxUpdate::Percent(0).limit(5), 0);
    assert_eq!(MaxUpdate::Count(0).limit(5), 0);
    assert_eq!(MaxUpdate::Count(3).limit(2), 3);
}

#[test]
fn a_rollout_goes_step_by_step_and_max_update_holds_apps_back() {
    let r = three_envs();
    let names = [("dev", "dev"), ("qa", "qa"), ("prod-a", "prod"), ("prod-b", "prod"), ("prod-c", "prod")];
    let want: Vec<Object> = names.iter().map(|(n, e)| desired(n, e)).collect();
    // First pass: everything new and out of sync; only dev may run.
    let current: Vec<Object> = names.iter().map(|(n, e)| live(n, e, "OutOfSync", "Missing", "r1", json!({}))).collect();
    let t0 = at("2026-12-07T10:00:00Z");
    let p = advance(&r, &[], &current, &want, t0);
    assert_eq!(p.to_sync().collect::<Vec<_>>(), ["dev"]);
    assert_eq!(
        p.steps,
        vec![vec!["dev".to_string()], vec!["qa".into()], vec!["prod-a".into(), "prod-b".into(), "prod-c".into()]]
    );
    assert_eq!(p.condition.2, "ApplicationSet is performing rollout of step 1");
    assert_eq!(p.statuses[0].step, "1");

    // The app controller synced dev after it became pending; it is not healthy yet.
    let t1 = at("2026-12-07T10:00:05Z");
    let mut current = current;
    current[0] = live(
        "dev",
        "dev",
        "Synced",
        "Progressing",
        "r1",
        json!({"reconciledAt": "2026-12-07T10:00:02Z", "operationState": {"phase": "Succeeded", "startedAt": "2026-12-07T10:00:01Z"}}),
    );
    let p = advance(&r, &p.statuses, &current, &want, t1);
    assert_eq!(p.statuses[0].status, Phase::Progressing);
    assert!(p.statuses[0].message.contains("completed a sync successfully"), "{}", p.statuses[0].message);
    assert_eq!(p.to_sync().count(), 0);

    // Healthy: step 2 may run, but its maxUpdate of 0 holds qa back, and step 3 waits for it.
    current[0] = live("dev", "dev", "Synced", "Healthy", "r1", json!({"reconciledAt": "2026-12-07T10:00:06Z"}));
    let p = advance(&r, &p.statuses, &current, &want, at("2026-12-07T10:00:10Z"));
    assert_eq!(phases(&p)[0].1, Phase::Healthy);
    assert_eq!(phases(&p)[1].1, Phase::Waiting);
    assert_eq!(p.to_sync().count(), 0);
    assert_eq!(p.condition.2, "ApplicationSet is performing rollout of step 2");

    // qa synced by hand: healthy; then prod runs one at a time (50% of 3, rounded down).
    current[1] = live("qa", "qa", "Synced", "Healthy", "r1", json!({}));
    let p = advance(&r, &p.statuses, &current, &want, at("2026-12-07T10:00:20Z"));
    assert_eq!(phases(&p)[1].1, Phase::Healthy);
    assert_eq!(p.to_sync().collect::<Vec<_>>(), ["prod-a"]);
    assert_eq!(p.condition.2, "ApplicationSet is performing rollout of step 3");
}

#[test]
fn a_pending_app_waits_for_a_sync_that_started_after_it_became_pending() {
    let r = three_envs();
    let want = vec![desired("dev", "dev")];
    let pending = vec![AppProgress {
        application: "dev".into(),
        last_transition_time: Some("2026-12-07T10:00:00.500Z".into()),
        message: String::new(),
        status: Phase::Pending,
        step: "1".into(),
        target_revisions: vec!["r1".into()],
    }];
    // An older operation, and a reconcile before the transition: still pending.
    let stale = live(
        "dev",
        "dev",
        "OutOfSync",
        "Healthy",
        "r1",
        json!({"reconciledAt": "2026-12-07T10:00:00.400Z", "operationState": {"phase": "Succeeded", "startedAt": "2026-12-07T09:00:00Z"}}),
    );
    let p = advance(&r, &pending, &[stale], &want, at("2026-12-07T10:00:01Z"));
    assert_eq!(p.statuses[0].status, Phase::Pending);
    assert_eq!(p.to_sync().collect::<Vec<_>>(), ["dev"], "a pending app is asked again");
    // An app with an invalid spec cannot sync: it moves on rather than block the rollout.
    let broken = live(
        "dev",
        "dev",
        "Unknown",
        "Unknown",
        "r1",
        json!({"reconciledAt": "2026-12-07T10:00:02Z", "conditions": [{"type": "InvalidSpecError", "message": "x"}]}),
    );
    let p = advance(&r, &pending, &[broken], &want, at("2026-12-07T10:00:03Z"));
    assert_eq!(p.statuses[0].status, Phase::Progressing);
}

#[test]
fn a_new_revision_or_spec_sends_a_healthy_app_back_to_waiting() {
    let r = three_envs();
    let healthy = vec![AppProgress {
        application: "dev".into(),
        last_transition_time: Some("2026-12-07T10:00:00Z".into()),
        message: String::new(),
        status: Phase::Healthy,
        step: "1".into(),
        target_revisions: vec!["r1".into()],
    }];
    let now = at("2026-12-07T11:00:00Z");
    let moved = live("dev", "dev", "OutOfSync", "Healthy", "r2", json!({}));
    let p = advance(&r, &healthy, &[moved], &[desired("dev", "dev")], now);
    assert_eq!(p.statuses[0].status, Phase::Pending, "waiting, then pending as its step may run");
    assert_eq!(p.statuses[0].target_revisions, ["r2"]);
    let mut changed = desired("dev", "dev");
    changed.value_mut()["spec"]["source"]["path"] = json!("dev-v2");
    let same_rev = live("dev", "dev", "Synced", "Healthy", "r1", json!({}));
    let p = advance(&r, &healthy, std::slice::from_ref(&same_rev), &[changed], now);
    assert_eq!(p.statuses[0].status, Phase::Healthy);
    assert!(p.statuses[0].message.contains("has synced"), "re-evaluated: {}", p.statuses[0].message);
    // Unchanged: nothing moves, the time stays.
    let p = advance(&r, &healthy, &[same_rev], &[desired("dev", "dev")], now);
    assert_eq!(p.statuses, healthy);
    assert_eq!(p.condition.1, "ApplicationSetRolloutComplete");
}

#[test]
fn written_apps_have_autosync_off_and_pending_ones_an_operation() {
    let r = three_envs();
    let mut app = desired("dev", "dev");
    app.value_mut()["spec"]["syncPolicy"] =
        json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]});
    let prune = without_autosync(&mut app, &r);
    assert!(prune);
    assert_eq!(app.value()["spec"]["syncPolicy"]["automated"]["enabled"], false);
    let current = vec![live("dev", "dev", "OutOfSync", "Missing", "r1", json!({}))];
    let p = advance(&r, &[], &current, std::slice::from_ref(&app), at("2026-12-07T10:00:00Z"));
    let prunes = BTreeMap::from([("dev".to_string(), prune)]);
    let out = rollout_apps(vec![app], &p, &prunes);
    let op = &out[0].value()["operation"];
    assert_eq!(op["initiatedBy"]["username"], "applicationset-controller");
    assert_eq!(op["sync"], json!({"prune": true, "syncOptions": ["CreateNamespace=true"]}));
    assert_eq!(op["retry"], json!({"limit": 5}));
    // defaultPrune applies when the template has no automated sync.
    let with_default = RollingSync { default_prune: true, ..r };
    let mut plain = desired("qa", "qa");
    assert!(without_autosync(&mut plain, &with_default));
    assert!(plain.value().pointer("/spec/syncPolicy").is_none());
}
