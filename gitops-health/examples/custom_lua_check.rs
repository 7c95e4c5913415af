//! Assess the health of custom resources with your own Lua check, as Argo CD runs the scripts
//! of its `resource_customizations` directory, next to the built-in checks.
//!
//! ```text
//! cargo run -p gitops-health --example custom_lua_check
//! ```
//!
//! The script is the one a team would keep at
//! `resource_customizations/example.com/Widget/health.lua`; the same file works in Argo CD.

use gitops_health::scripts::ScriptTree;
use gitops_health::{AppHealth, CheckSource, HealthChecks, HealthStatus, Member, aggregate};
use serde_json::json;

const WIDGET_HEALTH: &str = r#"
hs = {}
if obj.status == nil or obj.status.readyReplicas == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the widget controller"
  return hs
end
if obj.status.readyReplicas < obj.spec.replicas then
  hs.status = "Degraded"
  hs.message = obj.status.readyReplicas .. " of " .. obj.spec.replicas .. " widgets ready"
  return hs
end
hs.status = "Healthy"
return hs
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut tree = ScriptTree::new();
    tree.insert(
        "example.com/Widget/health.lua",
        WIDGET_HEALTH,
        "resource_customizations/example.com/Widget/health.lua",
    )?;
    // Bundled scripts and built-in checks stay; the tree's scripts come on top of them.
    let checks = HealthChecks::default().with_tree(tree);

    let widget = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "gear", "namespace": "shop"},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 1},
    });
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
    });

    let mut members = Vec::new();
    for (name, object) in [("shop/Widget/gear", &widget), ("shop/Deployment/web", &deployment)] {
        let assessment = checks.assess(object);
        let health = assessment.health.clone();
        match (&health, &assessment.source) {
            (Some(h), CheckSource::Lua { origin }) => println!("{name}: {:?} {:?} (by {origin})", h.status, h.message),
            (Some(h), source) => println!("{name}: {:?} {:?} ({source:?})", h.status, h.message),
            (None, source) => println!("{name}: no health ({source:?})"),
        }
        members.push(Member::live(name, object, health));
    }
    let app: AppHealth = aggregate(&members);
    println!("app: {:?}", app.status);

    // The widget has one of three ready: the script says Degraded, and so does the app.
    assert_eq!(checks.assess(&widget).health.map(|h| h.status), Some(HealthStatus::Degraded));
    assert_eq!(app.status, HealthStatus::Degraded);
    Ok(())
}
