//! Native Kustomize against the real one: every fixture under `tests/fixtures/kustomize/` is
//! built by us and by the `kubectl kustomize` on this machine, and the bytes must be equal;
//! every fixture under `tests/fixtures/kustomize-errors/` must fail in both, and our error
//! must name the kustomization file and the field its `error.txt` gives.
//!
//! A fixture may say where we part from kubectl on purpose: a `DIFFERS` file gives the reason
//! (we must still build it, and differ; matching again means the file should go), and an
//! `UNSUPPORTED` file names, on its first line, the field we refuse (we must fail naming it).
//!
//! `kubectl` is part of this machine image and of CI; a missing one fails these tests rather
//! than skipping them. `GITOPS_KUBECTL` names another binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use gitops_render::kustomize::{self, Options, Order};
use gitops_render::root::RepoRoot;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Runs `kubectl kustomize` on `dir` (`--reorder none` if asked); `GITOPS_KUBECTL` names another
/// binary, and a missing one fails the test.
pub(crate) fn kubectl(dir: &Path, reorder_none: bool) -> std::process::Output {
    let program = std::env::var("GITOPS_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let mut cmd = Command::new(&program);
    cmd.arg("kustomize").arg(dir);
    if reorder_none {
        cmd.args(["--reorder", "none"]);
    }
    cmd.output().unwrap_or_else(|e| panic!("cannot run `{program} kustomize` (it ships with this machine image): {e}"))
}

/// Runs `each` over `items` on all cores, collecting failure texts.
fn in_parallel<T: Sync>(items: &[T], each: impl Fn(&T) -> Option<String> + Sync) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    if let Some(f) = each(item) {
                        failures.lock().unwrap_or_else(|p| p.into_inner()).push(f);
                    }
                }
            });
        }
    });
    let mut out = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    out.sort();
    out
}

/// The first lines where two outputs part, for a readable failure.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let at = w.iter().zip(&g).position(|(a, b)| a != b).unwrap_or(w.len().min(g.len()));
    let from = at.saturating_sub(2);
    let show =
        |lines: &[&str]| lines.iter().skip(from).take(6).map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n");
    format!("line {}:\n  kubectl:\n{}\n  ours:\n{}", at + 1, show(&w), show(&g))
}

fn compare(dir: &Path, order: Option<Order>) -> Option<String> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let want = kubectl(dir, order == Some(Order::Fifo));
    if !want.status.success() {
        return Some(format!("{name}: kubectl failed: {}", String::from_utf8_lossy(&want.stderr).trim()));
    }
    let want = String::from_utf8_lossy(&want.stdout).into_owned();
    let root = match RepoRoot::new(dir) {
        Ok(r) => r,
        Err(e) => return Some(format!("{name}: {e}")),
    };
    let result = kustomize::render(&root, ".", &Options { order, ..Options::default() });
    if let Ok(unsupported) = std::fs::read_to_string(dir.join("UNSUPPORTED")) {
        let field = unsupported.lines().next().unwrap_or("").trim();
        return match result {
            Err(e) if e.to_string().contains(&format!("`{field}`")) => None,
            Err(e) => Some(format!("{name}: refused, but not naming `{field}`: {e}")),
            Ok(_) => Some(format!("{name}: marked UNSUPPORTED ({field}) but builds; remove the file")),
        };
    }
    if dir.join("DIFFERS").is_file() {
        return match result {
            Ok(got) if got == want => Some(format!("{name}: marked DIFFERS but matches kubectl; remove the file")),
            Ok(_) => None,
            Err(e) => Some(format!("{name}: marked DIFFERS, but we failed: {e}")),
        };
    }
    match result {
        Ok(got) if got == want => None,
        Ok(got) => Some(format!("{name}: output differs at {}", first_difference(&want, &got))),
        Err(e) => Some(format!("{name}: we failed: {e}")),
    }
}

#[test]
fn fixtures_match_kubectl_kustomize_byte_for_byte() {
    let all = fixtures("kustomize");
    assert!(all.len() >= 80, "the corpus has {} fixtures", all.len());
    let failures = in_parallel(&all, |dir| compare(dir, None));
    assert!(failures.is_empty(), "{} of {} fixtures differ:\n{}", failures.len(), all.len(), failures.join("\n"));
}

#[test]
fn fifo_order_matches_reorder_none() {
    let all = fixtures("kustomize");
    let failures = in_parallel(&all, |dir| compare(dir, Some(Order::Fifo)));
    assert!(failures.is_empty(), "{} of {} fixtures differ:\n{}", failures.len(), all.len(), failures.join("\n"));
}

#[test]
fn error_fixtures_fail_naming_file_and_field() {
    let all = fixtures("kustomize-errors");
    let failures = in_parallel(&all, |dir| {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let expect = std::fs::read_to_string(dir.join("error.txt")).unwrap_or_default();
        let mut lines = expect.lines();
        let (file, field) = (lines.next().unwrap_or("").trim(), lines.next().unwrap_or("").trim());
        if kubectl(dir, false).status.success() {
            return Some(format!("{name}: kubectl succeeded; not an error fixture"));
        }
        let root = match RepoRoot::new(dir) {
            Ok(r) => r,
            Err(e) => return Some(format!("{name}: {e}")),
        };
        match kustomize::render(&root, ".", &Options::default()) {
            Ok(_) => Some(format!("{name}: we succeeded where kubectl fails")),
            Err(e) => {
                let text = e.to_string();
                // `-`: the error is about the file as a whole.
                (!text.contains(file) || (field != "-" && !text.contains(field)))
                    .then(|| format!("{name}: error does not name `{file}` and `{field}`: {text}"))
            }
        }
    });
    assert!(failures.is_empty(), "{} of {} error fixtures:\n{}", failures.len(), all.len(), failures.join("\n"));
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn remote_bases_come_through_the_git_cache_as_kubectl_fetches_them() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("repo");
    let base = repo.join("deploy/base");
    std::fs::create_dir_all(&base).expect("mkdir");
    std::fs::write(base.join("kustomization.yaml"), "resources: [app.yaml]\ncommonLabels: {app: web}\n")
        .expect("write");
    let app = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n";
    std::fs::write(base.join("app.yaml"), app).expect("write");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "v1"]);
    git(&repo, &["tag", "v1"]);
    std::fs::write(base.join("app.yaml"), app.replace("80", "8080")).expect("write");
    git(&repo, &["commit", "-q", "-am", "v2"]);
    let overlay = work.path().join("overlay");
    std::fs::create_dir_all(&overlay).expect("mkdir");
    let url = format!("file://{}//deploy/base", repo.display());
    for (revision, port) in [("?ref=v1", "port: 80\n"), ("", "port: 8080\n")] {
        std::fs::write(overlay.join("kustomization.yaml"), format!("namePrefix: p-\nresources:\n- {url}{revision}\n"))
            .expect("write");
        let want = kubectl(&overlay, false);
        assert!(want.status.success(), "{}", String::from_utf8_lossy(&want.stderr));
        let root = RepoRoot::new(&overlay).expect("root");
        let cache = gitops_render::git::Cache::new(work.path().join("cache"));
        let options = Options { git: Some(cache), ..Options::default() };
        let got = kustomize::render(&root, ".", &options).expect("remote base builds");
        assert_eq!(got, String::from_utf8_lossy(&want.stdout), "{revision}");
        assert!(got.contains(port), "{got}");
        let e = kustomize::render(&root, ".", &Options::default()).expect_err("no cache, no remote").to_string();
        assert!(e.contains("`resources[0]`") && e.contains("need a Git cache"), "{e}");
    }
    // buildMetadata: origins inside a remote base name the repository, its ref and paths from its root.
    let meta = format!("buildMetadata: [originAnnotations, transformerAnnotations]\nresources:\n- {url}?ref=v1\n");
    std::fs::write(overlay.join("kustomization.yaml"), meta).expect("write");
    let want = kubectl(&overlay, false);
    assert!(want.status.success(), "{}", String::from_utf8_lossy(&want.stderr));
    let root = RepoRoot::new(&overlay).expect("root");
    let options =
        Options { git: Some(gitops_render::git::Cache::new(work.path().join("cache"))), ..Options::default() };
    let got = kustomize::render(&root, ".", &options).expect("remote base builds");
    assert_eq!(got, String::from_utf8_lossy(&want.stdout));
    assert!(got.contains("ref: v1") && got.contains("path: deploy/base/app.yaml"), "{got}");
    std::fs::write(overlay.join("kustomization.yaml"), "resources:\n- https://example.com/app.yaml\n").expect("write");
    let root = RepoRoot::new(&overlay).expect("root");
    let e = kustomize::render(&root, ".", &Options::default()).expect_err("plain URL").to_string();
    assert!(e.contains("kustomization.yaml: `resources[0]`: `https://example.com/app.yaml`: cannot tell"), "{e}");
}

#[test]
fn fifos_named_by_a_kustomization_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::mkfifo(&dir.path().join("pipe.yaml"));
    crate::mkfifo(&dir.path().join("pipe.env"));
    crate::mkfifo(&dir.path().join("fifo/kustomization.yaml"));
    let cases = [
        ("resources: [pipe.yaml]\n", "kustomization.yaml: `resources[0]`: pipe.yaml: is a FIFO, not a regular file"),
        (
            "configMapGenerator:\n- name: c\n  envs: [pipe.env]\n",
            "kustomization.yaml: `configMapGenerator[0]`: pipe.env: is a FIFO, not a regular file",
        ),
        (
            "resources: [fifo]\n",
            "fifo/kustomization.yaml: is a FIFO, not a regular file (reached from kustomization.yaml `resources[0]`)",
        ),
    ];
    for (kustomization, expected) in cases {
        std::fs::write(dir.path().join("kustomization.yaml"), kustomization).expect("write");
        let root = RepoRoot::new(dir.path()).expect("root");
        let e = crate::within(std::time::Duration::from_secs(10), move || {
            kustomize::render(&root, ".", &Options::default())
        })
        .expect_err(kustomization);
        assert_eq!(e.to_string(), expected);
    }
}

/// The tree `flux bootstrap` writes, plus what users add next to it.
pub(crate) fn flux_bootstrap_tree(dir: &Path) {
    let ks = |name: &str, path: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m0s\n  path: {path}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        )
    };
    let components = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: source-controller\n  namespace: flux-system\nspec:\n  selector:\n    matchLabels: {app: source-controller}\n  template:\n    metadata:\n      labels: {app: source-controller}\n    spec:\n      containers:\n      - name: manager\n        image: ghcr.io/fluxcd/source-controller:v1.4.1\n";
    let sync = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    branch: main\n  url: ssh://git@github.com/org/fleet\n---\n{}",
        ks("flux-system", "./clusters/prod")
    );
    crate::write(
        dir,
        &[
            ("clusters/prod/flux-system/gotk-components.yaml", components),
            ("clusters/prod/flux-system/gotk-sync.yaml", &sync),
            (
                "clusters/prod/flux-system/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n",
            ),
            ("clusters/prod/apps.yaml", &ks("apps", "./apps/prod")),
            ("clusters/prod/infrastructure.yml", &ks("infrastructure", "./infrastructure/prod")),
            (
                "clusters/prod/monitoring/namespace.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n",
            ),
            ("clusters/prod/monitoring/dashboards/cm.yaml", &crate::cm("dashboards")),
            ("clusters/prod/monitoring/notes.json", "{\"not\": \"read by Flux\"}"),
            ("clusters/prod/README.md", "# prod\n"),
            ("clusters/prod/values.YAML", "not: read\n"),
        ],
    );
}

#[test]
fn flux_generated_kustomization_lists_manifests_and_kustomization_directories() {
    let work = tempfile::tempdir().expect("tempdir");
    flux_bootstrap_tree(work.path());
    let root = RepoRoot::new(work.path()).expect("root");
    // Walk order (names in byte order, a directory's contents right after it); a directory with
    // a kustomization is listed, not entered; only .yaml and .yml files.
    assert_eq!(
        kustomize::generated_resources(&root, "clusters/prod").expect("scan"),
        [
            "./apps.yaml",
            "./flux-system",
            "./infrastructure.yml",
            "./monitoring/dashboards/cm.yaml",
            "./monitoring/namespace.yaml"
        ]
    );
    let options = Options { order: Some(Order::Fifo), generate_missing: true, ..Options::default() };
    let got = kustomize::render(&root, "clusters/prod", &options).expect("Flux builds a path without kustomization");
    // The same tree with the kustomization Flux writes, built by kubectl as Flux builds it.
    let resources = kustomize::generated_resources(&root, "clusters/prod").expect("scan");
    let written = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {}\n",
        resources.join("\n- ")
    );
    std::fs::write(work.path().join("clusters/prod/kustomization.yaml"), written).expect("write");
    let want = kubectl(&work.path().join("clusters/prod"), true);
    assert!(want.status.success(), "{}", String::from_utf8_lossy(&want.stderr));
    assert_eq!(got, String::from_utf8_lossy(&want.stdout));
    assert!(
        got.starts_with("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n"),
        "{got}"
    );
    // Without the option (kustomize's own behaviour) a missing kustomization file is an error.
    std::fs::remove_file(work.path().join("clusters/prod/kustomization.yaml")).expect("rm");
    let e = kustomize::render(&root, "clusters/prod", &Options::default()).expect_err("no kustomization").to_string();
    assert!(e.contains("no kustomization file"), "{e}");
    // An empty directory generates an empty kustomization, which Flux cannot build either.
    std::fs::create_dir_all(work.path().join("empty")).expect("mkdir");
    let e = kustomize::render(&root, "empty", &options).expect_err("empty").to_string();
    assert!(e.contains("empty"), "{e}");
}
