//! `gitops analysis run` against a real Prometheus scraping canaries served on loopback, and
//! its bad input.

use gitops_standin::prometheus::{self, Canaries, Service};

use crate::{err, gitops, out, write_under};

const CANARY: &str = "examples/analysis/canary.yaml";

fn canaries() -> Canaries {
    Canaries::serve(vec![
        Service { name: "good".into(), error_ratio: 0.0, p99_seconds: 0.12 },
        Service { name: "bad".into(), error_ratio: 0.2, p99_seconds: 0.15 },
    ])
    .expect("serve metrics")
}

#[test]
fn a_healthy_canary_passes_and_a_bad_one_fails_after_failure_limit() {
    let metrics = canaries();
    let Some(prom) = prometheus::or_skip("analysis::a_healthy_canary_passes", &metrics.address) else { return };
    // A minute's interval scaled to 0.3 s.
    let run = |service: &str| {
        gitops(
            &[
                "analysis",
                "run",
                CANARY,
                "--arg",
                &format!("service={service}"),
                "--prometheus",
                &prom.url,
                "--interval-scale",
                "0.005",
            ],
            None,
        )
    };
    let o = run("good");
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    for n in 1..=5 {
        assert!(text.contains(&format!("success-rate #{n}: Successful [1]")), "{text}");
        assert!(text.contains(&format!("latency #{n}: Successful [0.12]")), "{text}");
    }
    assert!(text.contains("metric success-rate: Successful (count (5) reached): 5 successful, 0 failed"), "{text}");
    assert!(text.trim_end().ends_with("phase: Successful"), "{text}");

    let o = run("bad");
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    for n in 1..=3 {
        // Prometheus' rate extrapolation may give 0.7999999999999999.
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("success-rate #{n}: Failed [")))
            .unwrap_or_else(|| panic!("{text}"));
        let value: f64 =
            line.rsplit('[').next().and_then(|v| v.strip_suffix(']')).and_then(|v| v.parse().ok()).expect(line);
        assert!((value - 0.8).abs() < 1e-6, "{line}");
    }
    assert!(!text.contains("success-rate #4"), "{text}");
    assert!(text.contains("metric success-rate: Failed (failed (3) > failureLimit (2))"), "{text}");
    assert!(text.trim_end().ends_with("phase: Failed"), "{text}");
}

#[test]
fn bad_templates_and_unreachable_providers_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let template = |name: &str, metric: &str| {
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: {name}\nspec:\n  metrics:\n{metric}"
        );
        write_under(dir.path(), &format!("{name}.yaml"), &text);
        dir.path().join(format!("{name}.yaml")).display().to_string()
    };
    let job = template("job", "  - name: smoke\n    provider:\n      job: {}\n");
    let o = gitops(&["analysis", "run", &job], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("metric `smoke`: provider `job` is not supported (supported: prometheus, web)"),
        "{}",
        err(&o)
    );
    let cond = template(
        "cond",
        "  - name: rate\n    successCondition: result[0] >=\n    provider:\n      prometheus: {address: 'http://127.0.0.1:9', query: up}\n",
    );
    let o = gitops(&["analysis", "run", &cond], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("metric `rate`: `successCondition` does not compile"), "{}", err(&o));
    // Nothing listens on port 9: five errors in a row (consecutiveErrorLimit 4), then Error.
    let unreachable = template(
        "down",
        "  - name: rate\n    interval: 10s\n    successCondition: result[0] > 0\n    provider:\n      prometheus: {address: 'http://127.0.0.1:9', query: up}\n",
    );
    let o = gitops(&["analysis", "run", &unreachable, "--interval-scale", "0.001"], None);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("rate #5: Error"), "{text}");
    assert!(text.contains("127.0.0.1:9"), "{text}");
    assert!(text.contains("metric rate: Error (consecutiveErrors (5) > consecutiveErrorLimit (4))"), "{text}");
    let o = gitops(&["analysis", "run", CANARY], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("argument `service` has no value"), "{}", err(&o));
}
