//! The algebra of the diff, over random objects of built-in and custom kinds:
//! - compare(x, x) is Synced;
//! - normalization (with defaults) is idempotent;
//! - a path an ignore rule names never shows in a diff;
//! - applying the reported patch to normalized live gives predicted live.

use gitops_core::diff::{Comparator, DiffConfig, SyncStatus};
use gitops_core::ignore::IgnoreRuleSpec;
use gitops_core::normalize::{NormalizeOptions, normalize};
use gitops_core::schema::{schema, split_api_version};
use gitops_core::{Object, Origin, defaults};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const KINDS: &[(&str, &str)] = &[
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "CronJob"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("example.com/v1", "Widget"),
];

const KEYS: &[&str] = &[
    "a",
    "b",
    "name",
    "image",
    "replicas",
    "containers",
    "ports",
    "port",
    "protocol",
    "template",
    "spec",
    "resources",
    "limits",
    "cpu",
    "data",
    "rules",
    "env",
    "value",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..300).prop_map(|n| json!(n)),
        Just(json!(1.5)),
        prop::sample::select(vec!["", "x", "1000m", "1", "0.5", "TCP", "UDP", "nginx", "nginx:1.2"])
            .prop_map(|s| json!(s)),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS.to_vec()).prop_map(String::from), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Object> {
    (prop::sample::select(KINDS.to_vec()), tree(), tree(), prop::sample::select(vec!["a", "b"])).prop_map(
        |((api_version, kind), spec, data, name)| {
            Object::new(
                json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "default"},
                       "spec": spec, "data": data}),
                Origin::inline("proptest"),
            )
        },
    )
}

/// A second object of the same identity, with different content.
fn pair() -> impl Strategy<Value = (Object, Object)> {
    (object(), tree(), tree()).prop_map(|(a, spec, data)| {
        let mut b = a.clone();
        b.value_mut()["spec"] = spec;
        b.value_mut()["data"] = data;
        (a, b)
    })
}

fn comparator() -> Comparator {
    Comparator::new(DiffConfig::default()).unwrap()
}

fn full_normalize(o: &Object) -> Value {
    let mut v = o.value().clone();
    let (group, version) = split_api_version(o.api_version());
    let root = schema().kind(o.api_version(), o.kind());
    normalize(&mut v, group, o.kind(), root, &NormalizeOptions::default());
    if root.is_some() {
        defaults::apply(group, version, o.kind(), &mut v);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn comparing_an_object_with_itself_is_synced(x in object()) {
        let r = comparator().compare(Some(&x), Some(&x)).unwrap();
        prop_assert_eq!(r.status, SyncStatus::Synced, "patch: {}", serde_json::to_string(&r.patch).unwrap());
    }

    #[test]
    fn normalization_is_idempotent(x in object()) {
        let once = full_normalize(&x);
        let twice = full_normalize(&Object::new(once.clone(), Origin::inline("again")));
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn the_patch_turns_normalized_live_into_predicted_live((desired, live) in pair()) {
        let r = comparator().compare(Some(&desired), Some(&live)).unwrap();
        let mut patched = r.normalized_live.clone();
        json_patch::patch(&mut patched, &r.patch).unwrap();
        prop_assert_eq!(&patched, r.predicted_live());
    }

    #[test]
    fn an_ignored_path_never_shows((desired, live) in pair(), key in prop::sample::select(KEYS.to_vec())) {
        for pointer in [format!("/spec/{key}"), format!("/data/{key}"), "/spec".to_string()] {
            let config = DiffConfig {
                ignore_differences: vec![IgnoreRuleSpec {
                    group: "*".into(),
                    kind: "*".into(),
                    json_pointers: vec![pointer.clone()],
                    ..Default::default()
                }],
                ..DiffConfig::default()
            };
            let r = Comparator::new(config).unwrap().compare(Some(&desired), Some(&live)).unwrap();
            for path in r.changed_paths() {
                prop_assert!(
                    !(path == pointer || path.starts_with(&format!("{pointer}/"))),
                    "{} shows although {} is ignored", path, pointer
                );
            }
        }
    }
}
