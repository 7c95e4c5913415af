//! The `status` an ApplicationSet controller writes into the set: its conditions
//! (`ErrorOccurred`, `ParametersGenerated`, `ResourcesUpToDate`, and `RolloutProgressing` for a
//! RollingSync set), the progress of each app under RollingSync (`applicationStatus`), and the
//! apps it owns with their sync and health (`resources`), with Argo CD's reasons and wording, so
//! that `kubectl get applicationset -o yaml` and `argocd appset get` read as they do there.
//!
//! A condition keeps its `lastTransitionTime` while its status, reason and message stay the
//! same, and [`Status::differs`] ignores times, so a pass that changes nothing writes nothing.

use serde_json::{Value, json};

use crate::Object;

/// How the last generation went, for the conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every Application generated and written.
    UpToDate,
    /// A generator failed: no parameters (`ApplicationGenerationFromParamsError`).
    ParamsError(String),
    /// A template failed with some parameter set (`RenderTemplateParamsError`).
    TemplateError(String),
    /// Some generated Applications are invalid (`ApplicationValidationError`): parameters were
    /// generated, and the valid apps written.
    ValidationError(String),
    /// The set itself does not read (its strategy, sync policy, ignore rules): `ErrorOccurred`.
    SpecError(String),
    /// Writing the Applications failed (`UpdateApplicationError`).
    WriteError(String),
}

impl Outcome {
    fn reason(&self) -> &'static str {
        match self {
            Outcome::UpToDate => "ApplicationSetUpToDate",
            Outcome::ParamsError(_) => "ApplicationGenerationFromParamsError",
            Outcome::TemplateError(_) => "RenderTemplateParamsError",
            Outcome::ValidationError(_) => "ApplicationValidationError",
            Outcome::SpecError(_) => "ErrorOccurred",
            Outcome::WriteError(_) => "UpdateApplicationError",
        }
    }

    /// The error's message (`None` when up to date).
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::UpToDate => None,
            Outcome::ParamsError(m)
            | Outcome::TemplateError(m)
            | Outcome::ValidationError(m)
            | Outcome::SpecError(m)
            | Outcome::WriteError(m) => Some(m),
        }
    }

    /// Whether the generators gave their parameters.
    fn parameters_generated(&self) -> bool {
        matches!(self, Outcome::UpToDate | Outcome::ValidationError(_) | Outcome::WriteError(_))
    }
}

/// The status to write, built on the set's current one.
#[derive(Debug, Clone, PartialEq)]
pub struct Status(pub Value);

const GENERATED: &str = "All applications have been generated successfully";
const PARAMETERS: &str = "Successfully generated parameters for all Applications";

impl Status {
    /// The set's new status after a pass with `outcome`. `apps` are the Applications it owns
    /// now (with their `status`), `rollout` the RollingSync progress when the set has that
    /// strategy, `now` the pass's time (RFC 3339).
    pub fn new(
        appset: &Object,
        outcome: &Outcome,
        apps: &[Object],
        rollout: Option<&super::progressive::Progress>,
        now: &str,
    ) -> Status {
        let previous = appset.value().pointer("/status/conditions").and_then(Value::as_array);
        let condition = |kind: &str, status: &str, reason: &str, message: &str| {
            let kept = previous.and_then(|list| {
                list.iter().find(|c| {
                    c.get("type").and_then(Value::as_str) == Some(kind)
                        && c.get("status").and_then(Value::as_str) == Some(status)
                        && c.get("reason").and_then(Value::as_str) == Some(reason)
                        && c.get("message").and_then(Value::as_str) == Some(message)
                })
            });
            let time = kept.and_then(|c| c.get("lastTransitionTime")).and_then(Value::as_str).unwrap_or(now);
            json!({"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": time})
        };
        let mut conditions = Vec::new();
        match outcome.message() {
            None => {
                conditions.push(condition("ErrorOccurred", "False", "ApplicationSetUpToDate", GENERATED));
                conditions.push(condition("ParametersGenerated", "True", "ParametersGenerated", PARAMETERS));
                conditions.push(condition("ResourcesUpToDate", "True", "ApplicationSetUpToDate", GENERATED));
            }
            Some(message) => {
                conditions.push(condition("ErrorOccurred", "True", outcome.reason(), message));
                if outcome.parameters_generated() {
                    conditions.push(condition("ParametersGenerated", "True", "ParametersGenerated", PARAMETERS));
                } else {
                    conditions.push(condition("ParametersGenerated", "False", "ErrorOccurred", message));
                }
                conditions.push(condition("ResourcesUpToDate", "False", "ErrorOccurred", message));
            }
        }
        let mut status = json!({"conditions": conditions});
        if let Some(progress) = rollout {
            let (state, reason, message) = &progress.condition;
            if let Some(c) = status["conditions"].as_array_mut() {
                c.push(condition("RolloutProgressing", state, reason, message));
            }
            status["applicationStatus"] = serde_json::to_value(&progress.statuses).unwrap_or(Value::Null);
        }
        let mut resources: Vec<Value> = apps
            .iter()
            .map(|a| {
                let text = |p: &str| a.value().pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
                let mut r = json!({
                    "group": "argoproj.io", "version": "v1alpha1", "kind": "Application",
                    "namespace": a.namespace(), "name": a.name(),
                    "status": text("/status/sync/status"),
                    "health": {"status": text("/status/health/status")},
                });
                if let Some(m) = a.value().pointer("/status/health/message").filter(|m| m.is_string()) {
                    r["health"]["message"] = m.clone();
                }
                r
            })
            .collect();
        resources.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        if !resources.is_empty() {
            status["resources"] = Value::Array(resources);
        }
        Status(status)
    }

    /// Whether this status says something the set's current one does not (times aside).
    pub fn differs(&self, appset: &Object) -> bool {
        fn timeless(v: &Value) -> Value {
            match v {
                Value::Object(m) => Value::Object(
                    m.iter()
                        .filter(|(k, _)| *k != "lastTransitionTime")
                        .map(|(k, v)| (k.clone(), timeless(v)))
                        .collect(),
                ),
                Value::Array(a) => Value::Array(a.iter().map(timeless).collect()),
                other => other.clone(),
            }
        }
        let current = appset.value().get("status").cloned().unwrap_or(Value::Null);
        timeless(&current) != timeless(&self.0)
    }
}

/// The outcome of a generation error of [`super::generate_all`].
pub fn outcome_of(error: &super::Error) -> Outcome {
    match error {
        super::Error::Generator { .. } => Outcome::ParamsError(error.to_string()),
        super::Error::Template { .. } => Outcome::TemplateError(error.to_string()),
        super::Error::Invalid { .. } => Outcome::ValidationError(error.to_string()),
        super::Error::Spec { .. } => Outcome::SpecError(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Origin;

    fn appset(status: Value) -> Object {
        Object::new(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
                   "metadata": {"name": "s", "namespace": "argocd"}, "status": status}),
            Origin::inline("test"),
        )
    }

    fn app(name: &str, sync: &str, health: &str) -> Object {
        Object::new(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                   "metadata": {"name": name, "namespace": "argocd"},
                   "status": {"sync": {"status": sync}, "health": {"status": health}}}),
            Origin::inline("test"),
        )
    }

    fn kinds(s: &Status) -> Vec<(String, String, String)> {
        s.0["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let f = |k: &str| c[k].as_str().unwrap().to_string();
                (f("type"), f("status"), f("reason"))
            })
            .collect()
    }

    #[test]
    fn a_good_pass_says_up_to_date_and_lists_the_apps() {
        let apps = [app("b", "Synced", "Healthy"), app("a", "OutOfSync", "Missing")];
        let s = Status::new(&appset(Value::Null), &Outcome::UpToDate, &apps, None, "2026-12-07T10:00:00Z");
        assert_eq!(
            kinds(&s),
            [
                ("ErrorOccurred".into(), "False".into(), "ApplicationSetUpToDate".into()),
                ("ParametersGenerated".into(), "True".into(), "ParametersGenerated".into()),
                ("ResourcesUpToDate".into(), "True".into(), "ApplicationSetUpToDate".into()),
            ]
        );
        assert_eq!(s.0["resources"][0]["name"], "a");
        assert_eq!(s.0["resources"][0]["status"], "OutOfSync");
        assert_eq!(s.0["resources"][1]["health"]["status"], "Healthy");
        // Written once, the same pass later changes nothing and keeps the times.
        let written = appset(s.0.clone());
        let again = Status::new(&written, &Outcome::UpToDate, &apps, None, "2026-12-07T11:00:00Z");
        assert!(!again.differs(&written));
        assert_eq!(again.0["conditions"][0]["lastTransitionTime"], "2026-12-07T10:00:00Z");
    }

    #[test]
    fn errors_name_their_reason_and_parameters_are_told_apart() {
        let s = Status::new(&appset(Value::Null), &Outcome::ParamsError("git: no such repo".into()), &[], None, "t");
        assert_eq!(
            kinds(&s)[0],
            ("ErrorOccurred".into(), "True".into(), "ApplicationGenerationFromParamsError".into())
        );
        assert_eq!(kinds(&s)[1], ("ParametersGenerated".into(), "False".into(), "ErrorOccurred".into()));
        assert_eq!(s.0["conditions"][0]["message"], "git: no such repo");
        let s = Status::new(&appset(Value::Null), &Outcome::ValidationError("duplicate".into()), &[], None, "t");
        assert_eq!(kinds(&s)[1].1, "True", "a validation error comes after the parameters");
        assert_eq!(kinds(&s)[2], ("ResourcesUpToDate".into(), "False".into(), "ErrorOccurred".into()));
        assert!(s.0.get("resources").is_none());
        let before = appset(Status::new(&appset(Value::Null), &Outcome::UpToDate, &[], None, "t").0);
        assert!(s.differs(&before));
    }
}
