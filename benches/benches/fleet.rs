//! One full pass of a fleet with nothing to do: a root App-of-Apps on a FileCluster hub and the
//! Applications it produced, 50 objects each, spread over the hub and four registered clusters
//! (FileClusters beside it), walked as `gitops reconcile --app ROOT` walks them
//! (`gitops_kube::fleet::Walk`, one `reconcile::pass` per app). Target: under 2 s for 200 apps,
//! linear in apps (100 apps measured in the same run for the ratio). Memory: the process's
//! resident set growth over the fleet's setup and first sync, per app (Linux only).
//!
//! Each fleet is first synced; the measured passes find every app in sync.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gitops_benches::median;
use gitops_core::Object;
use gitops_core::app::{AppKind, AppSpec, Automated};
use gitops_kube::FileCluster;
use gitops_kube::fleet::{Hub, Next, Place, Walk};
use gitops_kube::reconcile::{self, DesiredState, Pass, Policy, Rendered, Request, Silent, Target};
use gitops_render::directory::{self, DirectoryOptions};
use gitops_render::root::RepoRoot;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const OBJECTS_PER_APP: usize = 50;
const SPOKES: usize = 4;
const NAMESPACES: usize = 10;

/// An app's desired state: its directory of the fleet repository.
struct Directory {
    root: RepoRoot,
    path: String,
}

impl DesiredState for Directory {
    fn render(&mut self) -> Result<Rendered, reconcile::RenderError> {
        let objects =
            directory::render(&self.root, &self.path, &DirectoryOptions::default()).map_err(|e| e.to_string())?;
        Ok(Rendered { revision: "bench".into(), objects })
    }
}

/// The objects of app `i`: ConfigMaps, Services and Deployments in one of the shared namespaces.
fn app_manifests(i: usize) -> String {
    let ns = format!("ns-{}", i % NAMESPACES);
    let mut text = String::new();
    for j in 0..OBJECTS_PER_APP {
        let name = format!("app{i}-{j}");
        let doc = match j % 3 {
            0 => format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{key: value-{j}, other: '{i}'}}\n"
            ),
            1 => format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {{app: {name}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"
            ),
            _ => format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: web, image: 'nginx:1.27', ports: [{{containerPort: 8080}}], resources: {{limits: {{cpu: 500m, memory: 128Mi}}}}}}]\n"
            ),
        };
        text.push_str("---\n");
        text.push_str(&doc);
    }
    text
}

/// The root's manifests: an Application per app (every fifth on the hub, the others on the
/// spokes) and the spokes' cluster Secrets.
fn root_manifests(apps: usize) -> String {
    let mut text = String::new();
    for c in 0..SPOKES {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: cluster-c{c}, namespace: argocd, labels: {{argocd.argoproj.io/secret-type: cluster}}}}\nstringData: {{name: c{c}, server: 'https://c{c}.example.com'}}\n"
        ));
    }
    for i in 0..apps {
        let destination = match i % (SPOKES + 1) {
            0 => "server: https://kubernetes.default.svc".to_string(),
            c => format!("name: c{}", c - 1),
        };
        text.push_str(&format!(
            "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: app-{i}, namespace: argocd}}\nspec:\n  project: default\n  source: {{repoURL: 'https://git.example.com/fleet.git', path: apps/app-{i}}}\n  destination: {{{destination}, namespace: ns-{}}}\n  syncPolicy: {{automated: {{prune: true, selfHeal: true}}}}\n",
            i % NAMESPACES
        ));
    }
    text
}

fn root_spec() -> AppSpec {
    AppSpec {
        destination_namespace: Some("argocd".into()),
        automated: Some(Automated { prune: true, self_heal: true, allow_empty: false }),
        ..AppSpec::new(AppKind::ArgoApplication, "root")
    }
}

/// A fleet of `apps` apps on disk: the repository, the hub and the spokes.
struct Fleet {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    hub: PathBuf,
    root_object: Object,
}

fn fleet(apps: usize) -> Fleet {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    for i in 0..apps {
        let path = repo.join(format!("apps/app-{i}"));
        std::fs::create_dir_all(&path).expect("mkdir");
        std::fs::write(path.join("all.yaml"), app_manifests(i)).expect("write");
    }
    std::fs::create_dir_all(repo.join("root")).expect("mkdir");
    std::fs::write(repo.join("root/apps.yaml"), root_manifests(apps)).expect("write");
    let hub = dir.path().join("hub");
    let clusters: Vec<PathBuf> =
        std::iter::once(hub.clone()).chain((0..SPOKES).map(|c| dir.path().join(format!("clusters/c{c}")))).collect();
    for c in &clusters {
        let cluster = FileCluster::new(c);
        let lock = cluster.lock().expect("lock");
        for ns in (0..NAMESPACES).map(|n| format!("ns-{n}")).chain(["argocd".to_string()]) {
            let text = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n");
            cluster.apply(&lock, &gitops_core::manifest::parse("ns", &text).expect("ns")[0]).expect("namespace");
        }
    }
    gitops_kube::hub::install_controller_crds(&FileCluster::new(&hub)).expect("crds");
    let root_object = gitops_core::manifest::parse(
        "root",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: root, namespace: argocd}\nspec: {}\n",
    )
    .expect("root")
    .remove(0);
    Fleet { _dir: dir, repo, hub, root_object }
}

fn pass_one(
    runtime: &tokio::runtime::Runtime,
    walk: &Walk,
    spec: &AppSpec,
    repo: &Path,
    path: &str,
    target: &Path,
) -> Pass {
    let checks = gitops_health::HealthChecks::default();
    let locked = FileCluster::new(target).with_cache(walk.cache().clone()).locked().expect("lock");
    let status = reconcile::status_path(&FileCluster::new(target), &spec.name).expect("status");
    let t = Target { cluster: &locked, status: &status, health: &checks };
    let mut desired = Directory { root: RepoRoot::new(repo).expect("root"), path: path.to_string() };
    runtime
        .block_on(reconcile::pass(spec, &mut desired, &t, Policy::of(spec), Request::default(), &mut Silent))
        .expect("pass")
}

/// One full pass: the root, then every app it produced. Returns how many apps synced.
fn full_pass(runtime: &tokio::runtime::Runtime, fleet: &Fleet) -> (usize, usize) {
    let root = root_spec();
    let hub = Place::Dir(fleet.hub.clone());
    let mut walk = Walk::new(Hub::Dir(fleet.hub.clone()), &root, &fleet.root_object);
    let mut synced = usize::from(pass_one(runtime, &walk, &root, &fleet.repo, "root", &fleet.hub).synced);
    let objects = walk.dir_objects().expect("hub");
    walk.passed(&root, &hub, &objects);
    let mut apps = 0;
    while let Some(next) = walk.next() {
        let Next::Pass(member) = next else { panic!("a condition: {next:?}") };
        let Place::Dir(target) = &member.target else { panic!("a FileCluster: {:?}", member.target) };
        let path = format!("apps/{}", member.spec.name);
        let pass = pass_one(runtime, &walk, &member.spec, &fleet.repo, &path, target);
        synced += usize::from(pass.synced);
        apps += 1;
        // Apps on a spoke produce none, and the hub is not read for them.
        let objects = if member.target.is(&Hub::Dir(fleet.hub.clone())) {
            walk.dir_objects().expect("hub")
        } else {
            Default::default()
        };
        walk.passed(&member.spec, &member.target, &objects);
    }
    (apps, synced)
}

/// The resident set size, from /proc (0 where there is none).
fn rss_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = text.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn measure(runtime: &tokio::runtime::Runtime, apps: usize) -> (f64, f64) {
    let before = rss_bytes();
    let fleet = fleet(apps);
    let (walked, synced) = full_pass(runtime, &fleet);
    assert_eq!((walked, synced), (apps, apps + 1), "the first pass syncs the root and every app");
    let grown = rss_bytes().saturating_sub(before);
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (walked, synced) = full_pass(runtime, &fleet);
        times.push(t.elapsed().as_secs_f64());
        assert_eq!((walked, synced), (apps, 0), "nothing to apply");
    }
    (median(times), grown as f64 / apps as f64)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (half, _) = measure(&runtime, 100);
    let (full, per_app) = measure(&runtime, 200);
    println!("== fleet target (median of 3 full passes, one run) ==");
    println!(
        "fleet pass, 200 apps x {OBJECTS_PER_APP} objects on 5 FileClusters, nothing to apply: {:.0} ms (target < 2000 ms)",
        full * 1e3
    );
    println!("  100 apps: {:.0} ms; 200/100 = {:.2} (linear: 2.0)", half * 1e3, full / half);
    println!("  resident memory grown over setup and first sync: {:.0} KiB per app", per_app / 1024.0);
    println!();
}
