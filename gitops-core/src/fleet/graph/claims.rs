//! Resources two apps both render: each would overwrite the other's version, and one app's
//! prune could delete what the other still wants.

use std::collections::HashMap;

use super::AppId;
use crate::ResourceKey;

/// The resources claimed by more than one app, each with its claimants: resources in key
/// order, apps in id order, an app that lists a key twice counted once.
pub fn claims(apps: &[(AppId, Vec<ResourceKey>)]) -> Vec<(ResourceKey, Vec<AppId>)> {
    let mut claimants: HashMap<&ResourceKey, Vec<usize>> = HashMap::new();
    for (i, (_, keys)) in apps.iter().enumerate() {
        for key in keys {
            let list = claimants.entry(key).or_default();
            // Keys of one app arrive together, so a repeat is always the last entry.
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    let mut conflicts: Vec<(ResourceKey, Vec<AppId>)> = claimants
        .into_iter()
        .filter(|(_, owners)| owners.len() > 1)
        .map(|(key, owners)| {
            let mut ids: Vec<AppId> = owners.into_iter().map(|i| apps[i].0.clone()).collect();
            ids.sort();
            ids.dedup();
            (key.clone(), ids)
        })
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    conflicts.sort_by(|a, b| a.0.cmp(&b.0));
    conflicts
}

#[cfg(test)]
mod tests {
    use super::super::tests::app;
    use super::*;

    #[test]
    fn only_shared_keys_in_a_stable_order() {
        let key = |name: &str| ResourceKey::new("apps", "Deployment", "web", name);
        let apps = vec![
            (app("zeta"), vec![key("shared"), key("own-z"), key("shared")]),
            (app("alpha"), vec![key("shared"), key("own-a"), key("also")]),
            (app("mid"), vec![key("also")]),
            (app("alone"), vec![key("solo"), key("solo")]),
        ];
        let conflicts = claims(&apps);
        let text: Vec<String> = conflicts
            .iter()
            .map(|(k, ids)| format!("{k}: {}", ids.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(",")))
            .collect();
        assert_eq!(text, ["apps/Deployment/web/also: alpha,mid", "apps/Deployment/web/shared: alpha,zeta"]);
    }

    #[test]
    fn the_same_app_listed_twice_is_not_a_conflict() {
        let key = ResourceKey::new("", "ConfigMap", "web", "cfg");
        let apps = vec![(app("a"), vec![key.clone()]), (app("a"), vec![key])];
        assert!(claims(&apps).is_empty());
    }

    #[test]
    fn a_large_fleet_stays_cheap() {
        let apps: Vec<(AppId, Vec<ResourceKey>)> = (0..200)
            .map(|a| {
                let keys =
                    (0..50).map(|o| ResourceKey::new("", "ConfigMap", &format!("ns{a}"), &format!("o{o}"))).collect();
                (app(&format!("app{a}")), keys)
            })
            .collect();
        assert!(claims(&apps).is_empty());
    }
}
