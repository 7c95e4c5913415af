//! Output order: kustomize's legacy order (what `kubectl kustomize` prints by default) or fifo
//! (accumulation order, what Flux gets from the library).

use std::cmp::Ordering;

use super::resource::Resource;

/// kustomize's default `orderFirst`.
pub(crate) const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// kustomize's default `orderLast`.
pub(crate) const ORDER_LAST: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/// Sorts in legacy order with these kind lists: kinds in `first` lead in that order, kinds in
/// `last` close in that order, others sit between by group/version/kind; then by namespace and
/// name. The sort is stable, so equal ids keep accumulation order.
pub(crate) fn legacy(items: &mut Vec<Resource>, first: &[String], last: &[String]) {
    let rank = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| k == kind) {
            return i as i64 - first.len() as i64;
        }
        if let Some(i) = last.iter().position(|k| k == kind) {
            return i as i64 + 1;
        }
        0
    };
    let mut keyed: Vec<(i64, String, String, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let id = r.id();
            (rank(&id.kind), gvk_string(id.group(), id.version(), &id.kind), ns_name(&id.namespace, &id.name), i)
        })
        .collect();
    keyed.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| compare_gvk(&a.1, &b.1, &items[a.3], &items[b.3])).then_with(|| a.2.cmp(&b.2))
    });
    let mut taken: Vec<Option<Resource>> = std::mem::take(items).into_iter().map(Some).collect();
    items.extend(keyed.into_iter().filter_map(|k| taken[k.3].take()));
}

/// kustomize's GVK string: empty parts spelled `~G`, `~V`, `~K`.
fn gvk_string(group: &str, version: &str, kind: &str) -> String {
    let or = |s: &str, d: &str| if s.is_empty() { d.to_string() } else { s.to_string() };
    format!("{}_{}_{}", or(group, "~G"), or(version, "~V"), or(kind, "~K"))
}

fn ns_name(namespace: &str, name: &str) -> String {
    let or = |s: &str, d: &str| if s.is_empty() { d.to_string() } else { s.to_string() };
    format!("{}|{}", or(namespace, "~X"), or(name, "~N"))
}

/// Compares GVK strings, with kustomize's special case: two Namespace kinds where one is in the
/// core group compare the other way round.
fn compare_gvk(a: &str, b: &str, ra: &Resource, rb: &Resource) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (ia, ib) = (ra.id(), rb.id());
    if ia.kind == "Namespace" && ib.kind == "Namespace" && (ia.group().is_empty() || ib.group().is_empty()) {
        return b.cmp(a);
    }
    a.cmp(b)
}
