//! One pass of the ApplicationSet controller over one set, pure: from what its generators gave
//! and the Applications that exist (with their `status`) to the writes (the [`Plan`]) and the
//! set's new `status`. The caller generates (it holds the clusters and repositories), writes the
//! plan and the status, and syncs the apps whose `operation` asks for it.
//!
//! A set that does not read (its `syncPolicy`, `ignoreApplicationDifferences` or `strategy`) or
//! whose generators or templates fail writes nothing but its status, with the error condition.

use jiff::Timestamp;

use super::plan::{self, Plan, SyncPolicy};
use super::progressive::{self, Progress, RollingSync};
use super::status::{Outcome, Status, outcome_of};
use super::{Error, Generation, ignore::IgnoreDifferences};
use crate::Object;

/// What one pass writes.
#[derive(Debug, Clone)]
pub struct Pass {
    /// The Applications to create, update and delete.
    pub plan: Plan,
    /// The set's new status.
    pub status: Status,
    /// The RollingSync progress, for a set with that strategy.
    pub progress: Option<Progress>,
    /// Why some generated apps were left out (written into the status as well).
    pub invalid: Vec<super::ValidationError>,
    /// How many valid Applications were generated.
    pub generated: usize,
}

/// A pass that writes nothing but the status.
#[derive(Debug, Clone)]
pub struct Failed {
    /// What went wrong, for the user.
    pub message: String,
    /// The set's new status.
    pub status: Status,
}

/// Runs one pass of `appset`: `generated` is what [`super::generate_all`] gave, `existing`
/// every Application of the set's namespace (with its status), `now` the time of the pass.
pub fn pass(
    appset: &Object,
    generated: Result<Generation, Error>,
    existing: &[Object],
    now: Timestamp,
) -> Result<Pass, Failed> {
    let now_text = now.to_string();
    let owned: Vec<Object> = existing.iter().filter(|a| plan::is_owned_by(a, appset.name())).cloned().collect();
    let failed = |outcome: Outcome| {
        let message = outcome.message().unwrap_or_default().to_string();
        Failed { message, status: Status::new(appset, &outcome, &owned, None, &now_text) }
    };
    let spec = (|| {
        Ok::<_, String>((
            SyncPolicy::of(appset).map_err(|e| e.to_string())?,
            IgnoreDifferences::of(appset).map_err(|e| e.to_string())?,
            RollingSync::of(appset).map_err(|e| e.to_string())?,
        ))
    })();
    let (policy, ignore, rolling) = spec.map_err(|m| failed(Outcome::SpecError(m)))?;
    let generation = generated.map_err(|e| failed(outcome_of(&e)))?;
    let mut desired = generation.with_ignored(existing, &ignore);
    let progress = rolling.as_ref().map(|rolling| {
        let prunes = desired
            .iter_mut()
            .map(|app| {
                let prune = progressive::without_autosync(app, rolling);
                (app.name().to_string(), prune)
            })
            .collect();
        let progress = progressive::advance(rolling, &progressive::previous(appset), &owned, &desired, now);
        desired = progressive::rollout_apps(std::mem::take(&mut desired), &progress, &prunes);
        progress
    });
    let plan = plan::plan_keeping(appset.name(), &desired, existing, policy, &generation.names);
    let outcome = match generation.errors.first() {
        None => Outcome::UpToDate,
        Some(_) => outcome_of(&Error::Invalid {
            appset: format!("{}/{}", appset.namespace(), appset.name()),
            errors: generation.errors.clone(),
        }),
    };
    let status = Status::new(appset, &outcome, &owned, progress.as_ref(), &now_text);
    Ok(Pass { plan, status, progress, generated: generation.apps.len(), invalid: generation.errors })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::appset::{Inputs, generate_all};
    use crate::object::Origin;

    fn object(v: Value) -> Object {
        Object::new(v, Origin::inline("test"))
    }

    fn set(extra: Value) -> Object {
        let mut v = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
            "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {
                "goTemplate": true,
                "generators": [{"list": {"elements": [{"env": "dev"}, {"env": "prod"}]}}],
                "template": {
                    "metadata": {"name": "web-{{.env}}", "labels": {"env": "{{.env}}"}},
                    "spec": {"project": "default",
                             "source": {"repoURL": "https://git.example/web", "path": "{{.env}}"},
                             "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
                             "syncPolicy": {"automated": {"prune": true}}},
                },
            },
        });
        if let (Some(spec), Some(extra)) = (v["spec"].as_object_mut(), extra.as_object()) {
            for (k, x) in extra {
                spec.insert(k.clone(), x.clone());
            }
        }
        object(v)
    }

    fn now() -> Timestamp {
        "2026-12-07T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_plain_set_writes_its_apps_and_says_it_is_up_to_date() {
        let s = set(json!({}));
        let p = pass(&s, generate_all(&s, &Inputs::default()), &[], now()).unwrap();
        assert_eq!(p.plan.create.len(), 2);
        assert_eq!(p.plan.create[0].value()["spec"]["syncPolicy"]["automated"], json!({"prune": true}));
        assert!(p.progress.is_none());
        assert_eq!(p.status.0["conditions"][2]["type"], "ResourcesUpToDate");
    }

    #[test]
    fn a_rolling_set_writes_apps_without_autosync_and_syncs_the_first_step() {
        let s = set(json!({"strategy": {"type": "RollingSync", "rollingSync": {"steps": [
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]},
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]},
        ]}}}));
        // First pass: the apps are created, none exists yet to sync.
        let first = pass(&s, generate_all(&s, &Inputs::default()), &[], now()).unwrap();
        assert_eq!(first.plan.create.len(), 2);
        for app in &first.plan.create {
            assert_eq!(app.value()["spec"]["syncPolicy"]["automated"]["enabled"], false);
            assert!(app.value().get("operation").is_none());
        }
        // Second pass: they exist, out of sync: dev is asked to sync, with its prune.
        let mut existing = first.plan.create.clone();
        for app in &mut existing {
            app.value_mut()["status"] =
                json!({"sync": {"status": "OutOfSync", "revision": "abc"}, "health": {"status": "Missing"}});
        }
        let s = object({
            let mut v = s.value().clone();
            v["status"] = first.status.0.clone();
            v
        });
        let second = pass(&s, generate_all(&s, &Inputs::default()), &existing, now()).unwrap();
        let names: Vec<&str> = second.plan.update.iter().map(Object::name).collect();
        assert_eq!(names, ["web-dev"]);
        assert_eq!(second.plan.update[0].value()["operation"]["sync"]["prune"], true);
        let entries = &second.status.0["applicationStatus"];
        assert_eq!(entries[0]["status"], "Pending");
        assert_eq!(entries[1]["status"], "Waiting");
        assert_eq!(second.status.0["conditions"][3]["message"], "ApplicationSet is performing rollout of step 1");
    }

    #[test]
    fn a_bad_strategy_or_generator_writes_only_the_status() {
        let s = set(json!({"strategy": {"type": "RollingSync", "rollingSync": {"steps": [{"maxUpdate": "x"}]}}}));
        let f = pass(&s, generate_all(&s, &Inputs::default()), &[], now()).unwrap_err();
        assert!(f.message.contains("maxUpdate"), "{}", f.message);
        assert_eq!(f.status.0["conditions"][0]["status"], "True");
        let s = set(
            json!({"generators": [{"git": {"repoURL": "https://git.example/x", "revision": "HEAD", "directories": [{"path": "*"}]}}]}),
        );
        let f = pass(&s, generate_all(&s, &Inputs::default()), &[], now()).unwrap_err();
        assert_eq!(f.status.0["conditions"][0]["reason"], "ApplicationGenerationFromParamsError", "{}", f.message);
    }
}
