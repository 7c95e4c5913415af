//! `autoscaling` HorizontalPodAutoscaler (`v1` and `v2`): judged by its conditions.
//!
//! `v2` keeps them in `status.conditions`. `v1` has no such field, so the API server serialises them as a
//! JSON list into the annotation `autoscaling.alpha.kubernetes.io/conditions`, which is parsed here the way
//! Go's `encoding/json` would (field names matched case-insensitively, unknown fields ignored).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::Failure;
use super::access::{Node, Read, conditions};
use crate::status::{Health, HealthStatus};

/// Where the API server keeps a `v1` autoscaler's conditions, which `v1` has no field for.
const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";

/// The (type, reason) pairs upstream reads as a failure to scale, whatever the condition's status: the reasons
/// the HPA controller gives when it cannot read its target's scale or one of its metrics (every metric source
/// type has its own `FailedGet...Metric`), cannot compute replicas, or has an unusable selector.
const DEGRADED: [(&str, &str); 9] = [
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "FailedGetContainerResourceMetric"),
    ("ScalingActive", "FailedGetObjectMetric"),
    ("ScalingActive", "FailedGetPodsMetric"),
    ("ScalingActive", "FailedGetExternalMetric"),
    ("ScalingActive", "FailedComputeMetricsReplicas"),
    ("ScalingActive", "InvalidSelector"),
];

/// `autoscaling/v1` or `autoscaling/v2` HorizontalPodAutoscaler (the caller has checked the version).
pub(super) fn horizontal_pod_autoscaler(obj: &Value, version: &str) -> Result<Health, Failure> {
    let root = Node::root(obj);
    if version != "v1" {
        let status = root.child("status")?;
        let all = conditions(&status)?.map(|condition| {
            let condition = condition?;
            let (status, reason, message) = (condition.status()?, condition.reason()?, condition.message()?);
            Ok(HpaCondition { kind: condition.kind, status, reason, message })
        });
        return Ok(decide(all)?);
    }
    let metadata = root.child("metadata")?;
    let annotation = metadata.child("annotations")?.string_opt(CONDITIONS_ANNOTATION)?;
    let Some(text) = annotation.filter(|text| !text.is_empty()) else {
        return Ok(waiting());
    };
    // Go reads `null` as an empty list, and a `null` entry as an all-empty condition, which matches no rule.
    let parsed: Option<Vec<Option<AnnotationCondition<'_>>>> =
        serde_json::from_str(text).map_err(Failure::ConditionsAnnotation)?;
    let all = parsed.iter().flatten().flatten();
    let all =
        all.map(|c| Ok(HpaCondition { kind: &c.kind, status: &c.status, reason: &c.reason, message: &c.message }));
    Ok(decide(all)?)
}

/// A failure to scale anywhere in the list decides first (the message of the first one), then the first
/// condition that says the autoscaler can scale (or is at its limit); an autoscaler no condition speaks for is
/// waiting. The controller lists `AbleToScale` (usually True) before `ScalingActive`, so reading the list in
/// one pass and stopping at the first verdict, as Argo CD did until argo-cd PR #26274 (February 2026), would call an
/// autoscaler that cannot read its metrics healthy. Every condition is read, so a malformed one fails the check
/// even after another has decided.
fn decide<'a>(conditions: impl Iterator<Item = Read<HpaCondition<'a>>>) -> Read<Health> {
    let (mut degraded, mut healthy) = (None, None);
    for condition in conditions {
        let condition = condition?;
        if degraded.is_none() && is_degraded(condition) {
            degraded = Some(Health::new(HealthStatus::Degraded, condition.message));
        } else if healthy.is_none() && is_healthy(condition) {
            healthy = Some(Health::new(HealthStatus::Healthy, condition.message));
        }
    }
    Ok(degraded.or(healthy).unwrap_or_else(waiting))
}

/// A known failure to scale.
fn is_degraded(condition: HpaCondition<'_>) -> bool {
    DEGRADED.contains(&(condition.kind, condition.reason))
}

/// An autoscaler able to scale, or held at its limit.
fn is_healthy(condition: HpaCondition<'_>) -> bool {
    matches!(condition.kind, "AbleToScale" | "ScalingLimited") && condition.status == "True"
}

/// A condition as the rules read it, from `status.conditions` or from the `v1` annotation; every field of
/// every condition is read.
#[derive(Debug, Clone, Copy)]
struct HpaCondition<'a> {
    kind: &'a str,
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

/// An autoscaler no condition speaks for yet.
fn waiting() -> Health {
    Health::new(HealthStatus::Progressing, "Waiting to Autoscale")
}

/// One condition of the `v1` annotation. The strings borrow from the annotation unless they hold escapes.
#[derive(Debug, Default)]
struct AnnotationCondition<'a> {
    kind: Cow<'a, str>,
    status: Cow<'a, str>,
    reason: Cow<'a, str>,
    message: Cow<'a, str>,
}

impl<'de> Deserialize<'de> for AnnotationCondition<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ConditionVisitor)
    }
}

/// Reads one condition object of the annotation.
struct ConditionVisitor;

impl<'de> Visitor<'de> for ConditionVisitor {
    type Value = AnnotationCondition<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an HPA condition object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut condition = AnnotationCondition::default();
        // Go assigns keys in document order, so a repeated key (in any case) takes the last value.
        while let Some(Key(field)) = map.next_key::<Key>()? {
            let slot = match field {
                Some(Field::Type) => &mut condition.kind,
                Some(Field::Status) => &mut condition.status,
                Some(Field::Reason) => &mut condition.reason,
                Some(Field::Message) => &mut condition.message,
                None => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            // Go leaves a field untouched when its value is `null`.
            if let Some(Text(text)) = map.next_value::<Option<Text<'de>>>()? {
                *slot = text;
            }
        }
        Ok(condition)
    }
}

/// The condition fields the rules read.
#[derive(Debug, Clone, Copy)]
enum Field {
    Type,
    Status,
    Reason,
    Message,
}

/// A key of a condition object, matched to a field as Go's `encoding/json` does.
struct Key(Option<Field>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// Matches a key of a condition object to a field.
struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        let field =
            [("type", Field::Type), ("status", Field::Status), ("reason", Field::Reason), ("message", Field::Message)]
                .into_iter()
                .find(|(name, _)| same_field_name(key, name))
                .map(|(_, field)| field);
        Ok(Key(field))
    }
}

/// Go's case-insensitive match of a JSON key to a (lower-case ASCII) field name, which also folds the long s
/// (U+017F) to `s` and the Kelvin sign (U+212A) to `k`.
fn same_field_name(key: &str, name: &str) -> bool {
    let mut key_chars = key.chars();
    for expected in name.chars() {
        match key_chars.next() {
            Some(c) if c.to_ascii_lowercase() == expected => {}
            Some('\u{17F}') if expected == 's' => {}
            Some('\u{212A}') if expected == 'k' => {}
            _ => return false,
        }
    }
    key_chars.next().is_none()
}

/// A JSON string that borrows from the input when it can.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Reads a string, borrowed when the input allows.
struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn v1(annotation: &str) -> Result<Health, Failure> {
        horizontal_pod_autoscaler(&json!({"metadata": {"annotations": {CONDITIONS_ANNOTATION: annotation}}}), "v1")
    }

    #[test]
    fn annotation_fields_match_case_insensitively_and_last_wins() {
        let h = v1(r#"[{"TYPE":"AbleToScale","Status":"False","status":"True","mEssAge":"ok \"quoted\"","x":[1]}]"#);
        assert_eq!(h.ok(), Some(Health::new(HealthStatus::Healthy, "ok \"quoted\"")));
        let h = v1("[{\"\u{17F}tatu\u{17F}\":\"True\",\"type\":\"ScalingLimited\",\"message\":null}]");
        assert_eq!(h.ok(), Some(Health::bare(HealthStatus::Healthy)));
    }

    #[test]
    fn null_and_empty_annotations_are_waiting() {
        for text in ["", "null", "[]", "[null]"] {
            assert_eq!(v1(text).ok(), Some(waiting()), "{text:?}");
        }
    }

    #[test]
    fn malformed_annotations_are_failures() {
        for text in ["{", "{}", "[1]", "[{\"type\": 1}]", "[] x"] {
            assert!(matches!(v1(text), Err(Failure::ConditionsAnnotation(_))), "{text:?}");
        }
    }

    #[test]
    fn a_failure_anywhere_outranks_an_able_autoscaler() {
        let obj = json!({"status": {"conditions": [
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "able"},
            {"type": "ScalingLimited", "status": "True", "message": "limited"},
            {"type": "ScalingActive", "status": "True", "reason": "FailedGetPodsMetric", "message": "no pods metric"},
            {"type": "ScalingActive", "status": "False", "reason": "InvalidSelector", "message": "second failure"}]}});
        assert_eq!(
            horizontal_pod_autoscaler(&obj, "v2").ok(),
            Some(Health::new(HealthStatus::Degraded, "no pods metric"))
        );
        let obj = json!({"status": {"conditions": [
            {"type": "AbleToScale", "status": "False", "reason": "BackoffBoth"},
            {"type": "ScalingLimited", "status": "True", "message": "limited"},
            {"type": "AbleToScale", "status": "True", "message": "able"}]}});
        assert_eq!(horizontal_pod_autoscaler(&obj, "v2").ok(), Some(Health::new(HealthStatus::Healthy, "limited")));
    }

    #[test]
    fn every_metric_failure_reason_is_degraded_in_the_v1_annotation() {
        let reasons = [
            ("ScalingActive", "FailedGetObjectMetric"),
            ("ScalingActive", "FailedGetResourceMetric"),
            ("ScalingActive", "FailedGetExternalMetric"),
            ("ScalingActive", "FailedGetPodsMetric"),
            ("ScalingActive", "FailedGetContainerResourceMetric"),
            ("AbleToScale", "FailedGetScale"),
            ("AbleToScale", "FailedUpdateScale"),
        ];
        for (kind, reason) in reasons {
            let annotation = json!([
                {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "able"},
                {"type": kind, "status": "False", "reason": reason, "message": reason}
            ])
            .to_string();
            assert_eq!(v1(&annotation).ok(), Some(Health::new(HealthStatus::Degraded, reason)), "{reason}");
        }
    }
}
