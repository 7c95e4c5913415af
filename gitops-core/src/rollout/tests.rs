use serde_json::{Value, json};

use super::info::{info, status};
use super::progress::{Kind, Next, Progress};
use super::{Verb, set_weight, verb_action};

fn canary(status: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "shop", "namespace": "prod", "uid": "u-1", "generation": 3,
                     "annotations": {"rollout.argoproj.io/revision": "2"}, "labels": {"app": "shop"}},
        "spec": {"replicas": 5, "strategy": {"canary": {
            "analysis": {"startingStep": 2, "templates": [{"templateName": "bg"}],
                         "args": [{"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]},
            "steps": [
                {"setWeight": 20},
                {"pause": {"duration": "10s"}},
                {"analysis": {"templates": [{"templateName": "canary"}],
                              "args": [{"name": "service", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                                       {"name": "stable", "valueFrom": {"podTemplateHashValue": "Stable"}},
                                       {"name": "n", "valueFrom": {"fieldRef": {"fieldPath": "spec.replicas"}}}]}},
                {"setWeight": 60},
                {"pause": {}}
            ]}}},
        "status": status
    })
}

#[test]
fn status_words_follow_the_plugin() {
    let paused = canary(json!({"observedGeneration": "3", "phase": "Paused", "message": "CanaryPauseStep",
        "pauseConditions": [{"reason": "CanaryPauseStep"}], "controllerPause": true}));
    assert_eq!(status(&paused), ("Paused".into(), "CanaryPauseStep".into()));
    let unobserved = canary(json!({"observedGeneration": "2", "phase": "Healthy"}));
    assert_eq!(status(&unobserved).1, "waiting for rollout spec update to be observed");
    let unpausing = canary(json!({"observedGeneration": "3", "phase": "Paused", "controllerPause": true}));
    assert_eq!(status(&unpausing), ("Progressing".into(), "waiting for rollout to unpause".into()));
    // No phase (controllers before 1.0): computed.
    let aborted = canary(json!({"conditions": [{"type": "Progressing", "reason": "RolloutAborted", "message": "m"}]}));
    assert_eq!(status(&aborted), ("Degraded".into(), "RolloutAborted: m".into()));
    let healthy = canary(json!({"updatedReplicas": 5, "availableReplicas": 5, "replicas": 5,
        "stableRS": "abc", "currentPodHash": "abc"}));
    assert_eq!(status(&healthy), ("Healthy".into(), String::new()));
    let steps = canary(json!({"updatedReplicas": 5, "availableReplicas": 5, "replicas": 5,
        "stableRS": "old", "currentPodHash": "abc"}));
    assert_eq!(status(&steps).1, "waiting for all steps to complete");
}

#[test]
fn weights_and_promote_follow_the_plugin() {
    assert_eq!(set_weight(&canary(json!({"currentStepIndex": 0}))), 20);
    assert_eq!(set_weight(&canary(json!({"currentStepIndex": 2}))), 20);
    assert_eq!(set_weight(&canary(json!({"currentStepIndex": 4}))), 60);
    assert_eq!(set_weight(&canary(json!({"currentStepIndex": 5}))), 100);
    assert_eq!(set_weight(&canary(json!({"currentStepIndex": 3, "abort": true}))), 0);
    let paused = canary(json!({"currentStepIndex": 4, "pauseConditions": [{"reason": "CanaryPauseStep"}]}));
    assert_eq!(verb_action(Verb::Promote, &paused), "resume");
    assert_eq!(verb_action(Verb::Promote, &canary(json!({"currentStepIndex": 2}))), "skip-current-step");
    assert_eq!(verb_action(Verb::Promote, &canary(json!({"currentStepIndex": 5}))), "resume");
    assert_eq!(verb_action(Verb::PromoteFull, &paused), "promote-full");
}

#[test]
fn the_tree_names_stable_and_canary_and_weights() {
    let ro = canary(json!({"observedGeneration": "3", "phase": "Paused", "message": "CanaryPauseStep",
        "currentStepIndex": 4, "stableRS": "old", "currentPodHash": "new", "replicas": 5,
        "updatedReplicas": 3, "readyReplicas": 5, "availableReplicas": 5}));
    let rs = |name: &str, hash: &str, rev: &str, image: &str, n: i64| {
        json!({"kind": "ReplicaSet", "metadata": {"name": name, "generation": 1,
            "labels": {"rollouts-pod-template-hash": hash},
            "annotations": {"rollout.argoproj.io/revision": rev},
            "ownerReferences": [{"kind": "Rollout", "name": "shop", "uid": "u-1"}]},
            "spec": {"replicas": n, "template": {"spec": {"containers": [{"image": image}]}}},
            "status": {"observedGeneration": 1, "replicas": n, "availableReplicas": n}})
    };
    let pod = json!({"kind": "Pod", "metadata": {"name": "shop-new-a",
        "ownerReferences": [{"kind": "ReplicaSet", "name": "shop-new"}]},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Running", "containerStatuses": [{"ready": true, "state": {"running": {}}}]}});
    let run = json!({"kind": "AnalysisRun", "metadata": {"name": "shop-new-2-2",
        "annotations": {"rollout.argoproj.io/revision": "2"},
        "ownerReferences": [{"kind": "Rollout", "name": "shop", "uid": "u-1"}]},
        "status": {"phase": "Successful", "metricResults": [{"successful": 3}, {"successful": 2, "failed": 1}]}});
    let stranger = json!({"kind": "AnalysisRun", "metadata": {"name": "other",
        "ownerReferences": [{"kind": "Rollout", "name": "other", "uid": "u-2"}]}});
    let related =
        [rs("shop-old", "old", "1", "shop:1", 2), rs("shop-new", "new", "2", "shop:2", 3), pod, run, stranger];
    let i = info(&ro, &related).unwrap();
    assert_eq!((i.status.as_str(), i.icon, i.message.as_str()), ("Paused", "॥", "CanaryPauseStep"));
    assert_eq!((i.strategy.as_str(), i.step.as_str()), ("Canary", "4/5"));
    assert_eq!((i.set_weight.as_str(), i.actual_weight.as_str()), ("60", "60"));
    let images: Vec<(String, Vec<String>)> = i.images.iter().map(|x| (x.image.clone(), x.tags.clone())).collect();
    assert_eq!(images, [("shop:1".into(), vec!["stable".to_string()]), ("shop:2".into(), vec!["canary".to_string()])]);
    assert_eq!(i.revisions.iter().map(|r| r.revision).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(i.revisions[0].replica_sets[0].pods[0].ready, "ready:1/1");
    assert_eq!(i.revisions[0].analysis_runs.len(), 1);
    assert_eq!((i.revisions[0].analysis_runs[0].successful, i.revisions[0].analysis_runs[0].failed), (5, 1));
    assert_eq!(i.replicas.desired, 5);
}

#[test]
fn a_canary_steps_through_and_resolves_args() {
    let mut p = Progress::new(&canary(json!({"stableRS": "old", "currentPodHash": "new"}))).unwrap();
    assert_eq!(p.advance().unwrap(), Next::Wait { step: 1, ms: 10_000 });
    p.pause_done();
    let Next::Analysis(bg) = p.advance().unwrap() else { panic!() };
    assert_eq!((bg.kind, bg.name.as_str()), (Kind::Background, "shop-new-2"));
    assert_eq!(bg.args["hash"], "new");
    let Next::Analysis(step) = p.advance().unwrap() else { panic!() };
    assert_eq!((step.kind, step.name.as_str()), (Kind::Step(2), "shop-new-2-2"));
    assert_eq!(
        (step.args["service"].as_str(), step.args["stable"].as_str(), step.args["n"].as_str()),
        ("shop", "old", "5")
    );
    assert!(p.advance().is_err(), "the step analysis is still running");
    p.analysis_done(Kind::Step(2), "Successful", "");
    assert_eq!(p.advance().unwrap(), Next::Done);
    assert_eq!((p.phase(), p.message(), p.step_index()), ("Paused", "CanaryPauseStep", Some(4)));
    assert_eq!(p.rollout()["status"]["canary"]["currentStepAnalysisRunStatus"]["status"], "Successful");
}

#[test]
fn failures_abort_and_inconclusive_pauses() {
    let mut p =
        Progress::new(&canary(json!({"stableRS": "old", "currentPodHash": "new", "currentStepIndex": 2}))).unwrap();
    let Next::Analysis(_) = p.advance().unwrap() else { panic!() };
    p.analysis_done(Kind::Background, "Failed", "Metric \"x\" assessed Failed due to failed (1) > failureLimit (0)");
    assert_eq!(p.phase(), "Degraded");
    assert_eq!(
        p.message(),
        "RolloutAborted: Rollout aborted update to revision 2: Metric \"x\" assessed Failed due to failed (1) > failureLimit (0)"
    );
    assert_eq!(p.rollout()["status"]["abort"], true);
    assert_eq!(status(p.rollout()).0, "Degraded");
    assert_eq!(set_weight(p.rollout()), 0);

    let mut p =
        Progress::new(&canary(json!({"currentStepIndex": 3, "stableRS": "old", "currentPodHash": "new"}))).unwrap();
    let Next::Analysis(_) = p.advance().unwrap() else { panic!() };
    let mut p2 = p.clone();
    p2.analysis_done(Kind::Background, "Inconclusive", "");
    assert_eq!((p2.phase(), p2.message()), ("Paused", "InconclusiveAnalysisRun"));
    assert_eq!(p.advance().unwrap(), Next::Done);
    assert_eq!(p.phase(), "Paused");
}

#[test]
fn blue_green_switches_after_pre_promotion_and_reverts_on_post_failure() {
    let ro = |status: Value| {
        json!({"kind": "Rollout", "metadata": {"name": "web"}, "spec": {"strategy": {"blueGreen": {
            "activeService": "web", "previewService": "web-preview",
            "prePromotionAnalysis": {"templates": [{"templateName": "t"}]},
            "postPromotionAnalysis": {"templates": [{"templateName": "t"}]}}}}, "status": status})
    };
    let start = json!({"stableRS": "old", "currentPodHash": "new", "blueGreen": {"activeSelector": "old"}});
    let mut p = Progress::new(&ro(start.clone())).unwrap();
    let Next::Analysis(pre) = p.advance().unwrap() else { panic!() };
    assert_eq!((pre.kind, pre.name.as_str()), (Kind::PrePromotion, "web-new-1-pre"));
    p.analysis_done(Kind::PrePromotion, "Failed", "bad");
    assert_eq!(p.rollout()["status"]["blueGreen"]["activeSelector"], "old");
    assert_eq!(p.phase(), "Degraded");

    let mut p = Progress::new(&ro(start)).unwrap();
    let Next::Analysis(_) = p.advance().unwrap() else { panic!() };
    p.analysis_done(Kind::PrePromotion, "Successful", "");
    let Next::Analysis(post) = p.advance().unwrap() else { panic!() };
    assert_eq!(post.kind, Kind::PostPromotion);
    assert_eq!(p.rollout()["status"]["blueGreen"]["activeSelector"], "new");
    let mut failed = p.clone();
    failed.analysis_done(Kind::PostPromotion, "Error", "down");
    assert_eq!(failed.rollout()["status"]["blueGreen"]["activeSelector"], "old");
    p.analysis_done(Kind::PostPromotion, "Successful", "");
    assert_eq!(p.advance().unwrap(), Next::Done);
    assert_eq!((p.phase(), p.rollout()["status"]["stableRS"].as_str()), ("Healthy", Some("new")));
}

#[test]
fn bad_rollouts_are_named() {
    let mut ro = canary(json!({}));
    ro["spec"]["strategy"]["canary"]["steps"][0] = json!({"experiment": {}});
    assert_eq!(Progress::new(&ro).unwrap_err().to_string(), "Rollout/shop: step 0: experiment steps are not run here");
    let mut ro = canary(json!({}));
    ro["spec"]["strategy"]["canary"]["steps"][1] = json!({"pause": {"duration": "soon"}});
    assert!(Progress::new(&ro).unwrap_err().to_string().contains("step 1: pause duration \"soon\""));
    let mut ro = canary(json!({"currentStepIndex": 2}));
    ro["spec"]["strategy"]["canary"]["steps"][2]["analysis"]["args"][0] = json!({"name": "service"});
    let mut p = Progress::new(&ro).unwrap();
    assert!(matches!(p.advance(), Ok(Next::Analysis(_))), "the background analysis");
    let e = p.advance().unwrap_err().to_string();
    assert!(e.contains("argument `service`: needs `value` or `valueFrom`"), "{e}");
}

#[test]
fn an_update_starts_from_the_live_stable_revision() {
    let live = json!({"kind": "Rollout", "metadata": {"name": "web", "uid": "u-9",
        "annotations": {"rollout.argoproj.io/revision": "4"}},
        "spec": {"template": {"spec": {"containers": [{"image": "web:1"}]}}, "strategy": {"blueGreen": {}}},
        "status": {"phase": "Healthy", "stableRS": "s1", "currentPodHash": "s1", "blueGreen": {"activeSelector": "s1"}}});
    let mut desired = live.clone();
    desired["metadata"] = json!({"name": "web"});
    desired.as_object_mut().unwrap().remove("status");
    desired["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:2");
    let update = super::progress::update_of(&live, &desired);
    assert_eq!(update["metadata"]["uid"], "u-9");
    assert_eq!(update["metadata"]["annotations"]["rollout.argoproj.io/revision"], "5");
    assert_eq!(
        (update["status"]["stableRS"].as_str(), update["status"]["blueGreen"]["activeSelector"].as_str()),
        (Some("s1"), Some("s1"))
    );
    let hash = update["status"]["currentPodHash"].as_str().unwrap().to_string();
    assert_ne!(hash, "s1");
    // Nonsense from a file does not panic: it is refused by Progress::new.
    let odd = super::progress::update_of(&live, &json!({"kind": "Rollout", "metadata": "x"}));
    assert!(Progress::new(&odd).is_err());
    assert_eq!(super::progress::update_of(&live, &json!([1])), json!([1]));
    // The same template again: nothing to roll out.
    let mut same = desired.clone();
    same["status"] = json!({"stableRS": hash, "currentPodHash": hash});
    let mut p = Progress::new(&same).unwrap();
    assert_eq!((p.advance().unwrap(), p.phase()), (Next::Done, "Healthy"));
}
