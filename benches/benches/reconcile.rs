//! One reconcile pass with nothing to apply, for an app of 2 000 objects on a FileCluster:
//! render the app's directory, list the target, compare, plan (target: under 300 ms).
//!
//! The app is first synced into the FileCluster; the measured passes find it in sync.

use std::time::Instant;

use gitops_benches::median;
use gitops_core::app::{AppKind, AppSpec, Automated};
use gitops_kube::FileCluster;
use gitops_kube::reconcile::{self, DesiredState, Policy, Rendered, Request, Silent, Target};
use gitops_render::directory::{self, DirectoryOptions};
use gitops_render::root::RepoRoot;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 2_000;

/// The app's desired state: a directory of manifests, rendered as Argo CD's directory source.
struct Directory(RepoRoot);

impl DesiredState for Directory {
    fn render(&mut self) -> Result<Rendered, reconcile::RenderError> {
        let objects = directory::render(&self.0, ".", &DirectoryOptions::default()).map_err(|e| e.to_string())?;
        Ok(Rendered { revision: "bench".into(), objects })
    }
}

fn app() -> AppSpec {
    AppSpec {
        destination_namespace: Some("bench".into()),
        automated: Some(Automated { prune: true, self_heal: true, allow_empty: false }),
        ..AppSpec::new(AppKind::ArgoApplication, "bench")
    }
}

fn main() {
    let repo = tempfile::tempdir().expect("tempdir");
    let mut namespaces = std::collections::BTreeSet::new();
    for (i, (desired, _)) in gitops_benches::pairs(N).into_iter().enumerate() {
        namespaces.insert(desired.namespace().to_string());
        let text = gitops_core::report::display_yaml(desired.value());
        std::fs::write(repo.path().join(format!("{i:05}.yaml")), text).expect("write");
    }
    let target = tempfile::tempdir().expect("tempdir");
    let cluster = FileCluster::new(target.path());
    // The namespaces exist in the cluster before the app arrives, as a FileCluster (like a
    // server) refuses objects in namespaces it does not hold.
    let lock = cluster.lock().expect("lock");
    for ns in namespaces.iter().filter(|ns| !ns.is_empty()).chain([&"bench".to_string()]) {
        let text = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n");
        cluster.apply(&lock, &gitops_core::manifest::parse("ns", &text).expect("namespace")[0]).expect("namespace");
    }
    drop(lock);
    let mut desired = Directory(RepoRoot::new(repo.path()).expect("root"));
    let app = app();
    let policy = Policy::of(&app);
    let checks = gitops_health::HealthChecks::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let pass = |desired: &mut Directory| {
        // The lock is taken per pass, as `gitops watch` does.
        let locked = FileCluster::new(target.path()).locked().expect("lock");
        let status = reconcile::status_path(&cluster, &app.name).expect("a valid app name");
        let target = Target { cluster: &locked, status: &status, health: &checks };
        runtime.block_on(reconcile::pass(&app, desired, &target, policy, Request::default(), &mut Silent))
    };
    let first = pass(&mut desired).expect("sync");
    assert!(first.synced, "the first pass syncs");
    let mut times = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let pass = pass(&mut desired).expect("pass");
        times.push(t.elapsed().as_secs_f64());
        assert!(!pass.synced, "nothing to apply: {}", pass.status.message);
        assert_eq!(pass.status.sync, "Synced");
    }
    let objects = cluster.list().expect("list").len();
    println!("== reconcile target (median of 7 passes, one run) ==");
    println!(
        "reconcile pass, {objects} objects on a FileCluster, nothing to apply: {:.1} ms (target < 300 ms)",
        median(times) * 1e3
    );
    println!();
}
