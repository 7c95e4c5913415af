//! Run the reconcile controller on a FileCluster, the directory that stands in for a cluster:
//! an automated Argo CD Application whose desired state your program provides.
//!
//! ```text
//! cargo run -p gitops-kube --example controller_on_file_cluster
//! ```
//!
//! The controller passes the app when due and again after its interval. Each pass renders
//! the desired state (here a [`DesiredState`] that returns a new revision on the third pass),
//! compares it with what the target holds, decides what the app's policy allows and syncs. The
//! status of every pass is kept in the target, as `gitops status` reads it. Point `TargetSpec`
//! at `kube:CONTEXT` instead and the same code drives a real cluster.

use std::time::Duration;

use gitops_core::{app, manifest};
use gitops_health::HealthChecks;
use gitops_kube::controller::{AppRunner, CancellationToken, Controller, Reconciler, Schedule, TargetSpec};
use gitops_kube::reconcile::{self, DesiredState, RenderError, Rendered, Request, Verdict};

const APP: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop, namespace: argocd}
spec:
  destination: {namespace: shop}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
";

/// Desired state from memory: the image moves to 1.28 from the third render on, as a new
/// commit would.
struct Releases {
    renders: u32,
}

impl DesiredState for Releases {
    fn render(&mut self) -> Result<Rendered, RenderError> {
        self.renders += 1;
        let (revision, image) = if self.renders < 3 { ("a1", "nginx:1.27") } else { ("b2", "nginx:1.28") };
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: '{image}'}}]}}\n"
        );
        Ok(Rendered { revision: revision.into(), objects: manifest::parse("web.yaml", &text)? })
    }
}

/// What the controller drives: one pass of the runner, printed.
struct Printed(AppRunner<Releases>);

impl Reconciler for Printed {
    async fn reconcile(&mut self, n: u64) -> Verdict {
        match self.0.pass(Request::default(), &mut reconcile::Silent).await {
            Ok(pass) => {
                println!("pass {n}: {} at {} ({})", pass.status.sync, pass.status.revision, pass.status.message);
                pass.verdict(false)
            }
            Err(e) => {
                println!("pass {n}: {e}");
                Verdict::Failed
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let spec = app::read("app.yaml", &manifest::parse("app.yaml", APP)?)?;
    let target = TargetSpec::Dir(dir.path().join("cluster"));
    let runner = AppRunner::new(spec, Releases { renders: 0 }, target, None, dir.path(), HealthChecks::default())?;
    let schedule = Schedule::of(&runner.spec, Some(Duration::from_millis(10)))?;
    let status = runner.status_store()?;
    let status_name = runner.spec.status_name();

    let mut controller = Controller::new(CancellationToken::new());
    controller.add(Printed(runner), schedule, Some(3));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(controller.run());

    // Pass 1 synced a1, pass 2 found it in sync, pass 3 synced the new revision b2.
    let kept = status.read(&status_name)?.ok_or("no status kept")?;
    println!("kept: {} at {}", kept.sync, kept.synced_revision.as_deref().unwrap_or("-"));
    assert_eq!(kept.synced_revision.as_deref(), Some("b2"));
    let stored = std::fs::read_to_string(dir.path().join("cluster/shop/apps/Deployment/web.yaml"))?;
    assert!(stored.contains("nginx:1.28"), "{stored}");
    Ok(())
}
