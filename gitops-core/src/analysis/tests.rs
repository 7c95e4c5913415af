//! The analysis state machine, as the Rollouts controller decides.

use serde_json::json;

use super::*;

fn metric(extra: Value) -> Metric {
    let mut m = json!({"name": "rate", "provider": {"prometheus": {"address": "http://p", "query": "q"}}});
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    Metric::from_json(&m, false).unwrap()
}

fn floats(xs: &[f64]) -> Val {
    Val::Array(xs.iter().map(|x| Val::Float(*x)).collect())
}

fn measured(phase: Phase, at: u64) -> Measurement {
    Measurement { phase, value: String::new(), message: String::new(), finished_ms: at }
}

#[test]
fn conditions_decide_as_rollouts() {
    let both = metric(json!({"successCondition": "result[0] >= 0.95", "failureCondition": "result[0] < 0.5"}));
    assert_eq!(evaluate(&both, &floats(&[0.99]), 0).0, Phase::Successful);
    assert_eq!(evaluate(&both, &floats(&[0.3]), 0).0, Phase::Failed);
    assert_eq!(evaluate(&both, &floats(&[0.7]), 0).0, Phase::Inconclusive);
    let only_success = metric(json!({"successCondition": "result[0] >= 0.95"}));
    assert_eq!(evaluate(&only_success, &floats(&[0.7]), 0).0, Phase::Failed);
    let only_failure = metric(json!({"failureCondition": "result[0] < 0.5"}));
    assert_eq!(evaluate(&only_failure, &floats(&[0.7]), 0).0, Phase::Successful);
    assert_eq!(evaluate(&metric(json!({})), &floats(&[]), 0).0, Phase::Successful);
    // An empty vector has no result[0]: an error, not a verdict.
    let (phase, message) = evaluate(&only_success, &floats(&[]), 0);
    assert_eq!(phase, Phase::Error);
    assert!(message.unwrap().contains("result[0] >= 0.95"));
    let not_bool = metric(json!({"successCondition": "result[0]"}));
    assert!(evaluate(&not_bool, &floats(&[1.0]), 0).1.unwrap().contains("expected bool"));
    let helpers = metric(
        json!({"successCondition": "all(result, {isNaN(#) or # > 0.9}) and len(result) == 2 and !isInf(result[0]) and asFloat('0.5') < asInt('1') and default(nil, 1) == 1"}),
    );
    assert_eq!(evaluate(&helpers, &floats(&[f64::NAN, 0.95]), 0).0, Phase::Successful);
    let bad =
        Metric::from_json(&json!({"name": "x", "successCondition": "result[0] >=", "provider": {"web": {}}}), false);
    assert!(bad.unwrap_err().to_string().starts_with("metric `x`: `successCondition` does not compile"));
}

#[test]
fn args_are_substituted_and_must_be_given() {
    let doc = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "t"},
        "spec": {"args": [{"name": "service"}, {"name": "ns", "value": "shop"}, {"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                 "metrics": [{"name": "rate", "count": "{{ args.count }}", "interval": "1s", "successCondition": "result[0] > 0",
                              "provider": {"prometheus": {"address": "http://p", "query": "up{svc=\"{{args.service}}\",ns=\"{{args.ns}}\"}"}}}]}});
    let spec = Spec::from_document(&doc).unwrap();
    let mut given =
        BTreeMap::from([("service".to_string(), "web".to_string()), ("token".to_string(), "x".to_string())]);
    let e = spec.resolve(&given).unwrap_err().to_string();
    assert_eq!(e, "metric `rate`: failed to resolve {{args.count}}");
    let with_count = Spec {
        args: [spec.args.clone(), vec![Argument { name: "count".into(), value: Some("3".into()), value_from: false }]]
            .concat(),
        ..spec.clone()
    };
    let metrics = with_count.resolve(&given).unwrap();
    assert_eq!(metrics[0].provider.1["query"], "up{svc=\"web\",ns=\"shop\"}");
    assert_eq!(metrics[0].count, Some(3));
    given.remove("token");
    assert!(with_count.resolve(&given).unwrap_err().to_string().contains("`token` comes from `valueFrom`"));
    given.insert("token".into(), "x".into());
    given.insert("nope".into(), "1".into());
    assert!(with_count.resolve(&given).unwrap_err().to_string().contains("`nope` is not declared"));
}

#[test]
fn a_bad_canary_fails_after_failure_limit_measurements() {
    let mut run = Run::new(vec![metric(json!({"interval": "10s", "count": 5, "failureLimit": 2}))], 0);
    let mut t = 0;
    let mut taken = 0;
    loop {
        assert_eq!(run.due(t), vec![0], "at {t}");
        run.record(0, measured(Phase::Failed, t));
        taken += 1;
        let phase = run.assess();
        if phase.completed() {
            assert_eq!(phase, Phase::Failed);
            break;
        }
        t = run.next_wake().unwrap();
        assert_eq!(t, taken * 10_000);
    }
    assert_eq!(taken, 3, "failed (3) > failureLimit (2)");
    assert_eq!(run.results[0].message, "failed (3) > failureLimit (2)");
    assert!(run.due(t + 100_000).is_empty());
}

#[test]
fn count_reached_is_successful_even_with_some_failures_and_inconclusive_ends_it() {
    let mut run = Run::new(vec![metric(json!({"interval": "1s", "count": 3, "failureLimit": 1}))], 0);
    for (i, p) in [Phase::Successful, Phase::Failed, Phase::Successful].into_iter().enumerate() {
        run.record(0, measured(p, i as u64 * 1000));
        let phase = run.assess();
        assert_eq!(phase.completed(), i == 2);
    }
    assert_eq!(run.assess(), Phase::Successful);
    let mut run = Run::new(vec![metric(json!({"interval": "1s", "count": 3}))], 0);
    run.record(0, measured(Phase::Inconclusive, 0));
    assert_eq!(run.assess(), Phase::Inconclusive);
}

#[test]
fn errors_are_retried_until_the_consecutive_limit() {
    let mut run = Run::new(vec![metric(json!({"consecutiveErrorLimit": 2}))], 0);
    for k in 0..3 {
        assert_eq!(run.due(k * ERROR_RETRY_MS), vec![0]);
        run.record(0, measured(Phase::Error, k * ERROR_RETRY_MS));
        let phase = run.assess();
        assert_eq!(phase, if k == 2 { Phase::Error } else { Phase::Running }, "after {} errors", k + 1);
        if k < 2 {
            assert_eq!(run.next_wake(), Some((k + 1) * ERROR_RETRY_MS));
        }
    }
    // An error, then a success: the single measurement counts, errors do not.
    let mut run = Run::new(vec![metric(json!({}))], 0);
    run.record(0, measured(Phase::Error, 0));
    assert_eq!(run.assess(), Phase::Running);
    run.record(0, measured(Phase::Successful, ERROR_RETRY_MS));
    assert_eq!(run.assess(), Phase::Successful);
}

#[test]
fn initial_delay_dry_run_and_termination() {
    let delayed = metric(json!({"initialDelay": "30s"}));
    let mut forever = metric(json!({"interval": "5s"}));
    forever.name = "latency".into();
    let mut dry = metric(json!({}));
    dry.name = "dry".into();
    dry.dry_run = true;
    let mut run = Run::new(vec![delayed, forever, dry], 1000);
    assert_eq!(run.due(1000), vec![1, 2]);
    assert_eq!(run.due(31_000), vec![0, 1, 2]);
    run.record(1, measured(Phase::Successful, 1000));
    run.record(2, measured(Phase::Failed, 1000));
    // The dry-run failure neither terminates nor fails the run.
    assert_eq!(run.assess(), Phase::Running);
    assert_eq!(run.results[2].phase, Some(Phase::Failed));
    assert!(!run.terminating());
    run.record(0, measured(Phase::Successful, 31_000));
    // `latency` runs until the run ends; it ends when something terminates it.
    assert_eq!(run.assess(), Phase::Running);
    run.terminate();
    assert_eq!(run.assess(), Phase::Successful);
    assert_eq!(run.results[1].message, "run terminated");
    assert_eq!(run.next_wake(), None);
}

#[test]
fn a_failed_metric_ends_indefinite_ones() {
    let mut fail = metric(json!({}));
    fail.name = "fail".into();
    let forever = metric(json!({"interval": "5s"}));
    let mut run = Run::new(vec![fail, forever], 0);
    run.record(0, measured(Phase::Failed, 0));
    run.record(1, measured(Phase::Successful, 0));
    assert_eq!(run.assess(), Phase::Failed);
    assert_eq!(run.results[1].phase, Some(Phase::Successful));
}

#[test]
fn documents_are_checked() {
    let e = Spec::from_document(&json!({"kind": "Rollout", "metadata": {"name": "r"}})).unwrap_err();
    assert_eq!(e.to_string(), "Rollout/r: expected an AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun");
    let e =
        Spec::from_document(&json!({"kind": "AnalysisTemplate", "metadata": {"name": "t"}, "spec": {"metrics": []}}));
    assert!(e.unwrap_err().to_string().contains("non-empty list"));
    let two = |n: &str| json!({"kind": "AnalysisTemplate", "metadata": {"name": n}, "spec": {"metrics": [{"name": "m", "provider": {"web": {}}}]}});
    let specs = vec![Spec::from_document(&two("a")).unwrap(), Spec::from_document(&two("b")).unwrap()];
    assert_eq!(Spec::merge(specs).unwrap_err().to_string(), "two templates define metric `m`");
    let e = Metric::from_json(&json!({"name": "m", "count": 3, "provider": {"web": {}}}), false).unwrap_err();
    assert_eq!(e.to_string(), "metric `m`: `count` above 1 needs an `interval`");
}
