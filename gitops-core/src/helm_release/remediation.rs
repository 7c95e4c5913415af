//! What helm-controller does next with a HelmRelease: its release state (its
//! `DetermineReleaseState`) from the release history in storage and the HelmRelease's
//! `status.history`, and the action for that state (its `AtomicRelease.actionForState`), with the
//! failure counters deciding retries, remediation and stalling (`GetActiveRemediation`,
//! `RetriesExhausted`, `MustRemediateLastFailure`, `MustResetFailures`).
//!
//! Left out: tests (`Untested`, failed test hooks), drift detection (`Drifted`), the
//! `reconcile.fluxcd.io/forceAt` and `resetAt` annotations; the caller runs those separately.

use serde_json::{Value, json};

use super::spec::{HelmReleaseSpec, Remediation, Strategy};
use super::status::release_digest;
use crate::helm_storage::{Release, Status};

/// What is to be released now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Desired<'a> {
    /// The chart's name.
    pub chart_name: &'a str,
    /// The chart's version.
    pub chart_version: &'a str,
    /// The digest of the values ([`super::status::config_digest`]).
    pub config_digest: &'a str,
}

/// The next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing to do: the release is deployed with the desired chart and values.
    InSync,
    /// `helm install`.
    Install,
    /// `helm upgrade` (also for a release in storage the HelmRelease did not make or lost track
    /// of: `clear_history` says the caller removes `status.history` before
    /// [`super::status::after_action`], as helm-controller clears it).
    Upgrade {
        /// The release is not the one `status.history` recorded.
        clear_history: bool,
    },
    /// The last revision is left `pending-*`: mark it `failed` ("Release unlocked from stale
    /// '<status>' state") before anything else.
    Unlock {
        /// Its revision.
        version: u32,
        /// Its status.
        status: Status,
    },
    /// Remediate a failed upgrade by rolling back to the previous successful revision.
    Rollback {
        /// That revision.
        to: u32,
    },
    /// Remediate a failed install (or upgrade, with `strategy: uninstall`) by uninstalling.
    Uninstall,
    /// Out of retries: nothing more until the spec, chart or values change. `reason` and
    /// `message` go into the `Stalled` condition.
    Stalled {
        /// `RetriesExceeded` or `MissingRollbackTarget`.
        reason: &'static str,
        /// As helm-controller words it (`Failed to upgrade after 3 attempt(s)`).
        message: String,
    },
}

/// A Helm action helm-controller ran, for the failure counters and the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// An install.
    Install,
    /// An upgrade.
    Upgrade,
    /// A rollback remediation.
    Rollback,
    /// An uninstall remediation.
    Uninstall,
    /// An unlock of a pending release.
    Unlock,
}

/// Why the counters are reset ([`must_reset_failures`]), as helm-controller says it.
pub fn must_reset_failures(status: &Value, generation: i64, desired: &Desired) -> Option<&'static str> {
    let text = |k: &str| status.get(k).and_then(Value::as_str).unwrap_or("");
    if status.get("lastAttemptedGeneration").and_then(Value::as_i64).unwrap_or(0) != generation {
        return Some("generation differs from last attempt");
    }
    if text("lastAttemptedRevision") != desired.chart_version {
        return Some("chart version differs from last attempt");
    }
    let digest = text("lastAttemptedConfigDigest");
    if !digest.is_empty() && digest != desired.config_digest {
        return Some("values differ from last attempt");
    }
    None
}

/// Sets `failures`, `installFailures` and `upgradeFailures` to 0, as `ClearFailures` does.
pub fn clear_failures(status: &mut Value) {
    if let Value::Object(m) = status {
        for k in ["failures", "installFailures", "upgradeFailures"] {
            m.remove(k);
        }
    }
}

fn counter(status: &Value, key: &str) -> i64 {
    status.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn bump(status: &mut Value, key: &str) {
    let n = counter(status, key) + 1;
    if !status.is_object() {
        *status = json!({});
    }
    status[key] = json!(n);
}

/// Updates the failure counters after `done`: a failure counts in `failures`, and an install or
/// upgrade that wrote a revision (`stored`) in `installFailures` or `upgradeFailures` (a failure
/// before anything was stored is retried at once, uncounted). Success leaves them: with
/// remediation (not the `RetryOnFailure` strategy, not read here) helm-controller clears them
/// only when the generation, chart version or values change ([`must_reset_failures`]).
pub fn count(status: &mut Value, done: Done, failed: bool, stored: bool) {
    match (done, failed) {
        (_, false) => {}
        (d, true) => {
            bump(status, "failures");
            if stored {
                match d {
                    Done::Install => bump(status, "installFailures"),
                    Done::Upgrade => bump(status, "upgradeFailures"),
                    _ => {}
                }
            }
        }
    }
}

/// The remediation of the last release action (`status.lastAttemptedReleaseAction`), with the
/// failure count it goes by.
fn active(spec: &HelmReleaseSpec, status: &Value) -> Option<(&'static str, Remediation, i64)> {
    match status.get("lastAttemptedReleaseAction").and_then(Value::as_str) {
        Some("install") => Some(("install", spec.install.remediation, counter(status, "installFailures"))),
        Some("upgrade") => Some(("upgrade", spec.upgrade.remediation, counter(status, "upgradeFailures"))),
        _ => None,
    }
}

fn exhausted(r: &Remediation, failures: i64) -> bool {
    r.retries >= 0 && failures > r.retries
}

fn stalled(action: &str, failures: i64) -> Next {
    Next::Stalled { reason: "RetriesExceeded", message: format!("Failed to {action} after {failures} attempt(s)") }
}

/// The next step for the HelmRelease `spec` with status `status` and `metadata.generation`
/// `generation`, its release history `history` (from storage), and `desired`. The failure
/// counters are read as reset when [`must_reset_failures`] says so (the caller resets them in
/// the status it writes).
pub fn next(spec: &HelmReleaseSpec, status: &Value, generation: i64, history: &[Release], desired: &Desired) -> Next {
    let mut status = status.clone();
    if must_reset_failures(&status, generation, desired).is_some() {
        clear_failures(&mut status);
    }
    let Some(last) = super::history::current(history) else {
        return absent(spec, &status);
    };
    if matches!(last.status, Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback) {
        return Next::Unlock { version: last.version, status: last.status };
    }
    let snapshots = status.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
    let Some(latest) = snapshots.first() else {
        if last.status == Status::Uninstalled {
            return absent(spec, &status);
        }
        return Next::Upgrade { clear_history: true };
    };
    if latest.get("digest").and_then(Value::as_str) != Some(release_digest(last).as_str()) {
        return Next::Upgrade { clear_history: true };
    }
    match last.status {
        Status::Uninstalled => absent(spec, &status),
        Status::Deployed => {
            let chart = |k: &str| last.chart_metadata.get(k).and_then(Value::as_str).unwrap_or("");
            let same = chart("name") == desired.chart_name
                && chart("version") == desired.chart_version
                && latest.get("configDigest").and_then(Value::as_str) == Some(desired.config_digest);
            if same && tests_failed(spec, &status, latest) {
                // A failed test fails the release (unless its failures are ignored): remediated
                // as a failed install or upgrade is.
                failed(spec, &status, &snapshots, history)
            } else if same {
                Next::InSync
            } else if exhausted(&spec.upgrade.remediation, counter(&status, "upgradeFailures")) {
                stalled("upgrade", counter(&status, "upgradeFailures"))
            } else {
                Next::Upgrade { clear_history: false }
            }
        }
        Status::Failed => failed(spec, &status, &snapshots, history),
        // Superseded or unknown as the latest revision: helm-controller cannot tell; an upgrade
        // brings the release back under management.
        _ => Next::Upgrade { clear_history: true },
    }
}

/// Whether the tests of the latest revision (`testHooks` of its snapshot) failed, and the
/// HelmRelease does not ignore it (`test.ignoreFailures`, or the last action's
/// `remediation.ignoreTestFailures`).
fn tests_failed(spec: &HelmReleaseSpec, status: &Value, latest: &Value) -> bool {
    let failed = latest
        .get("testHooks")
        .and_then(Value::as_object)
        .is_some_and(|hooks| hooks.values().any(|h| h.get("phase").and_then(Value::as_str) == Some("Failed")));
    let ignored = spec.test_ignore_failures
        || active(spec, status).is_some_and(|(_, r, _)| r.ignore_test_failures.unwrap_or(false));
    failed && !ignored
}

fn absent(spec: &HelmReleaseSpec, status: &Value) -> Next {
    let failures = counter(status, "installFailures");
    if exhausted(&spec.install.remediation, failures) { stalled("install", failures) } else { Next::Install }
}

fn failed(spec: &HelmReleaseSpec, status: &Value, snapshots: &[Value], history: &[Release]) -> Next {
    let Some((action, remediation, failures)) = active(spec, status) else {
        return Next::Upgrade { clear_history: false };
    };
    if failures <= 0 {
        // The conditions of the failure changed (counters reset): try again.
        return Next::Upgrade { clear_history: false };
    }
    if exhausted(&remediation, failures) && !remediation.remediate_last_failure {
        return stalled(action, failures);
    }
    match remediation.strategy {
        Strategy::Uninstall => Next::Uninstall,
        Strategy::Rollback => {
            let previous = snapshots
                .iter()
                .skip(1)
                .find(|s| matches!(s.get("status").and_then(Value::as_str), Some("deployed" | "superseded")));
            let Some(previous) = previous else {
                return Next::Stalled {
                    reason: "MissingRollbackTarget",
                    message: "Failed to perform remediation: missing target release for rollback: cannot remediate failed release".into(),
                };
            };
            let version = previous.get("version").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
            let stored = version.and_then(|v| history.iter().find(|r| r.version == v));
            match (version, stored) {
                // The target is still there and unchanged: roll back to it.
                (Some(v), Some(r)) if previous.get("digest").and_then(Value::as_str) == Some(&release_digest(r)) => {
                    Next::Rollback { to: v }
                }
                // Gone or changed: the most correct remediation is to upgrade again.
                _ => Next::Upgrade { clear_history: false },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::super::history::{self, Attempt, Failure, Kind, Stage};
    use super::super::status::{Outcome, after_action, config_digest};
    use super::*;

    fn spec(extra: &str) -> HelmReleaseSpec {
        let yaml = format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: podinfo, namespace: apps}}\n\
             spec:\n  chart: {{spec: {{chart: podinfo, sourceRef: {{kind: HelmRepository, name: charts}}}}}}\n{extra}"
        );
        HelmReleaseSpec::read(&crate::manifest::parse("hr.yaml", &yaml).unwrap()[0]).unwrap()
    }

    /// A HelmRelease under reconciliation: its status, generation and release history.
    struct World {
        spec: HelmReleaseSpec,
        status: Value,
        generation: i64,
        history: Vec<Release>,
        version: String,
        values: Value,
        clock: u32,
    }

    impl World {
        fn new(spec: HelmReleaseSpec) -> World {
            World {
                spec,
                status: json!({}),
                generation: 1,
                history: Vec::new(),
                version: "6.5.0".into(),
                values: json!({"replicas": 2}),
                clock: 0,
            }
        }

        fn digest(&self) -> String {
            config_digest(&self.values)
        }

        fn next(&self) -> Next {
            let d = self.digest();
            let desired = Desired { chart_name: "podinfo", chart_version: &self.version, config_digest: &d };
            next(&self.spec, &self.status, self.generation, &self.history, &desired)
        }

        /// Runs a Helm action as the wiring would, then updates the status.
        fn run(&mut self, kind: Kind, error: Option<&str>) {
            self.clock += 1;
            let now = format!("2026-12-07T10:00:{:02}Z", self.clock);
            let attempt = Attempt {
                kind,
                failure: error.map(|m| Failure { stage: Stage::Wait, message: m.into() }),
                chart_metadata: json!({"name": "podinfo", "version": self.version, "appVersion": "6.5"}),
                chart_values: json!({}),
                config: self.values.clone(),
                manifest: String::new(),
                notes: String::new(),
                extra: Map::new(),
                now: now.clone(),
            };
            let w = history::record(&self.history, "podinfo", "apps", &attempt, self.spec.max_history).unwrap();
            self.history.retain(|r| !w.delete.contains(&r.secret_name()));
            for r in w.put.clone() {
                self.history.retain(|o| o.version != r.version);
                self.history.push(r);
            }
            self.history.sort_by_key(|r| r.version);
            let done = match kind {
                Kind::Install { .. } => Done::Install,
                Kind::Upgrade => Done::Upgrade,
                Kind::Rollback { .. } => Done::Rollback,
                Kind::Uninstall { .. } => Done::Uninstall,
            };
            let d = self.digest();
            let outcome = Outcome {
                done,
                error,
                desired: Desired { chart_name: "podinfo", chart_version: &self.version, config_digest: &d },
                written: &w.put,
                now: &now,
            };
            self.status = after_action(&self.spec, &self.status, self.generation, &outcome);
        }

        fn condition(&self, kind: &str) -> (String, String, String) {
            let c = self.status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == kind).unwrap();
            let t = |k: &str| c[k].as_str().unwrap().to_string();
            (t("status"), t("reason"), t("message"))
        }
    }

    #[test]
    fn a_failed_test_fails_the_release_unless_ignored() {
        let mut w = World::new(spec("  upgrade: {remediation: {retries: 1}}\n"));
        w.run(Kind::Install { replace: false }, None);
        w.values = json!({"replicas": 3});
        w.run(Kind::Upgrade, None);
        assert_eq!(w.next(), Next::InSync);
        // What the wiring records after the upgrade's tests failed.
        w.status["history"][0]["testHooks"] = json!({"apps/podinfo-check": {"phase": "Failed"}});
        count(&mut w.status, Done::Upgrade, true, true);
        assert_eq!(w.next(), Next::Rollback { to: 1 });
        w.spec.test_ignore_failures = true;
        assert_eq!(w.next(), Next::InSync, "test.ignoreFailures");
        w.spec.test_ignore_failures = false;
        w.spec.upgrade.remediation.ignore_test_failures = Some(true);
        assert_eq!(w.next(), Next::InSync, "upgrade.remediation.ignoreTestFailures");
    }

    #[test]
    fn install_succeeds_then_in_sync() {
        let mut w = World::new(spec(""));
        assert_eq!(w.next(), Next::Install);
        w.run(Kind::Install { replace: false }, None);
        let msg = "Helm install succeeded for release apps/podinfo.v1 with chart podinfo@6.5.0";
        assert_eq!(w.condition("Released"), ("True".into(), "InstallSucceeded".into(), msg.into()));
        assert_eq!(w.condition("Ready"), ("True".into(), "InstallSucceeded".into(), msg.into()));
        assert_eq!(w.status["history"][0]["status"], "deployed");
        assert_eq!(w.status["history"][0]["appVersion"], "6.5");
        assert_eq!(w.status["lastAttemptedReleaseAction"], "install");
        assert_eq!(w.status["helmChart"], "apps/apps-podinfo");
        assert_eq!(w.next(), Next::InSync);
        // New values: an upgrade.
        w.values = json!({"replicas": 3});
        w.generation = 2;
        assert_eq!(w.next(), Next::Upgrade { clear_history: false });
        w.run(Kind::Upgrade, None);
        assert_eq!(
            w.condition("Ready").2,
            "Helm upgrade succeeded for release apps/podinfo.v2 with chart podinfo@6.5.0"
        );
        assert_eq!(w.next(), Next::InSync);
        // The Ready time stays while it stays True.
        let ready = |w: &World| {
            w.status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap()
                ["lastTransitionTime"]
                .clone()
        };
        assert_eq!(ready(&w), "2026-12-07T10:00:01Z");
    }

    #[test]
    fn failed_install_is_uninstalled_and_retried_until_retries_run_out() {
        let mut w = World::new(spec("  install: {remediation: {retries: 2}}\n"));
        for attempt in 1..=3 {
            assert_eq!(w.next(), Next::Install, "attempt {attempt}");
            w.run(Kind::Install { replace: false }, Some("timed out waiting for the condition"));
            assert_eq!(w.status["installFailures"], attempt);
            let (status, reason, msg) = w.condition("Released");
            assert_eq!((status.as_str(), reason.as_str()), ("False", "InstallFailed"));
            assert_eq!(
                msg,
                "Helm install failed for release apps/podinfo with chart podinfo@6.5.0: timed out waiting for the condition"
            );
            if attempt < 3 {
                assert_eq!(w.next(), Next::Uninstall);
                w.run(Kind::Uninstall { keep_history: false }, None);
                assert!(w.history.is_empty());
                assert_eq!(w.status["history"][0]["status"], "uninstalling");
                assert_eq!(w.condition("Ready").0, "False");
                assert_eq!(w.condition("Remediated").1, "UninstallSucceeded");
            }
        }
        // Out of retries (3 failures > 2 retries), and an install's last failure is not
        // remediated by default (Flux's remediateLastFailure): the failed revision stays.
        assert_eq!(
            w.next(),
            Next::Stalled { reason: "RetriesExceeded", message: "Failed to install after 3 attempt(s)".into() }
        );
        assert_eq!(w.history.last().map(|r| r.status), Some(Status::Failed));
        // A spec change resets the counters: the failed revision is upgraded.
        w.generation = 2;
        assert_eq!(w.next(), Next::Upgrade { clear_history: false });
        w.run(Kind::Upgrade, None);
        assert!(w.status.get("installFailures").is_none());
        assert_eq!(w.next(), Next::InSync);
    }

    #[test]
    fn failed_upgrade_is_rolled_back_to_the_previous_release() {
        let mut w = World::new(spec("  upgrade: {remediation: {retries: 1}}\n"));
        w.run(Kind::Install { replace: false }, None);
        w.version = "6.5.1".into();
        w.generation = 2;
        assert_eq!(w.next(), Next::Upgrade { clear_history: false });
        w.run(Kind::Upgrade, Some("deadline exceeded"));
        assert_eq!(
            w.condition("Released").2,
            "Helm upgrade failed for release apps/podinfo with chart podinfo@6.5.1: deadline exceeded"
        );
        assert_eq!(w.next(), Next::Rollback { to: 1 });
        w.run(Kind::Rollback { to: 1 }, None);
        let h: Vec<_> = w.history.iter().map(|r| (r.version, r.status.as_str(), r.description.as_str())).collect();
        assert_eq!(
            h,
            [
                (1, "superseded", "Install complete"),
                (2, "failed", "Upgrade \"podinfo\" failed: deadline exceeded"),
                (3, "deployed", "Rollback to 1")
            ]
        );
        let msg = "Helm rollback to previous release apps/podinfo.v1 with chart podinfo@6.5.0 succeeded";
        assert_eq!(w.condition("Remediated"), ("True".into(), "RollbackSucceeded".into(), msg.into()));
        assert_eq!(w.condition("Ready"), ("False".into(), "RollbackSucceeded".into(), msg.into()));
        let versions: Vec<_> = w.status["history"].as_array().unwrap().iter().map(|s| s["version"].clone()).collect();
        assert_eq!(versions, [json!(3), json!(2), json!(1)]);
        // The deployed release has the old chart: an upgrade is tried again (1 retry).
        assert_eq!(w.next(), Next::Upgrade { clear_history: false });
        w.run(Kind::Upgrade, Some("deadline exceeded"));
        assert_eq!(w.status["upgradeFailures"], 2);
        // The last failure is remediated too (retries set), then the release stalls.
        assert_eq!(w.next(), Next::Rollback { to: 3 });
        w.run(Kind::Rollback { to: 3 }, None);
        assert_eq!(
            w.next(),
            Next::Stalled { reason: "RetriesExceeded", message: "Failed to upgrade after 2 attempt(s)".into() }
        );
    }

    #[test]
    fn uninstall_strategy_and_no_retries() {
        let mut w = World::new(spec("  upgrade: {remediation: {retries: 3, strategy: uninstall}}\n"));
        w.run(Kind::Install { replace: false }, None);
        w.version = "7.0.0".into();
        w.run(Kind::Upgrade, Some("boom"));
        assert_eq!(w.next(), Next::Uninstall);
        // Without retries a failed upgrade stays failed until something changes.
        let mut w = World::new(spec(""));
        w.run(Kind::Install { replace: false }, None);
        w.version = "7.0.0".into();
        w.run(Kind::Upgrade, Some("boom"));
        assert_eq!(
            w.next(),
            Next::Stalled { reason: "RetriesExceeded", message: "Failed to upgrade after 1 attempt(s)".into() }
        );
        w.values = json!({"fixed": true});
        assert_eq!(
            must_reset_failures(
                &w.status,
                w.generation,
                &Desired { chart_name: "podinfo", chart_version: "7.0.0", config_digest: &w.digest() }
            ),
            Some("values differ from last attempt")
        );
        assert_eq!(w.next(), Next::Upgrade { clear_history: false });
    }

    #[test]
    fn pending_release_is_unlocked_and_unknown_release_upgraded() {
        let mut w = World::new(spec(""));
        w.run(Kind::Install { replace: false }, None);
        w.history[0].status = Status::PendingUpgrade;
        assert_eq!(w.next(), Next::Unlock { version: 1, status: Status::PendingUpgrade });
        let unlocked = history::unlock(&w.history).unwrap();
        assert_eq!(
            (unlocked.status, unlocked.description.as_str()),
            (Status::Failed, "Release unlocked from stale 'pending-upgrade' state")
        );
        let d = w.digest();
        let outcome = Outcome {
            done: Done::Unlock,
            error: None,
            desired: Desired { chart_name: "podinfo", chart_version: "6.5.0", config_digest: &d },
            written: std::slice::from_ref(&unlocked),
            now: "2026-12-07T11:00:00Z",
        };
        let st = after_action(&w.spec, &w.status, w.generation, &outcome);
        assert_eq!(st["history"][0]["status"], "failed");
        let released = st["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Released").unwrap();
        assert_eq!(
            (released["status"].as_str(), released["reason"].as_str(), released["message"].as_str()),
            (
                Some("False"),
                Some("PendingRelease"),
                Some("Unlocked Helm release apps/podinfo.v1 with chart podinfo@6.5.0 in pending-upgrade state")
            )
        );
        // A release changed behind the controller's back no longer matches its snapshot.
        w.history[0].status = Status::Deployed;
        w.history[0].description = "edited".into();
        assert_eq!(w.next(), Next::Upgrade { clear_history: true });
        // A release in storage the HelmRelease never recorded is taken over by an upgrade.
        let mut fresh = World::new(spec(""));
        fresh.history = w.history.clone();
        assert_eq!(fresh.next(), Next::Upgrade { clear_history: true });
    }

    #[test]
    fn failures_count_only_what_was_stored() {
        let mut st = json!({});
        count(&mut st, Done::Install, true, false);
        assert_eq!(st, json!({"failures": 1}));
        count(&mut st, Done::Upgrade, true, true);
        count(&mut st, Done::Rollback, true, true);
        assert_eq!(st, json!({"failures": 3, "upgradeFailures": 1}));
        count(&mut st, Done::Upgrade, false, true);
        assert_eq!(st["upgradeFailures"], 1);
        let desired = Desired { chart_name: "c", chart_version: "1.0.0", config_digest: "sha256:x" };
        let attempted = json!({"lastAttemptedGeneration": 3, "lastAttemptedRevision": "1.0.0"});
        assert_eq!(must_reset_failures(&attempted, 3, &desired), None);
        assert_eq!(must_reset_failures(&attempted, 4, &desired), Some("generation differs from last attempt"));
        let other = Desired { chart_version: "1.0.1", ..desired };
        assert_eq!(must_reset_failures(&attempted, 3, &other), Some("chart version differs from last attempt"));
        clear_failures(&mut st);
        assert_eq!(st, json!({}));
    }
}
