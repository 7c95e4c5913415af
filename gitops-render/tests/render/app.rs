//! Apps end to end: an Argo CD Application or a Flux Kustomization + GitRepository, read,
//! fetched from a real repository made with `git`, and rendered.

use std::path::{Path, PathBuf};
use std::process::Command;

use gitops_core::Object;
use gitops_render::app::{self, Error, Renderers};
use gitops_render::git::Cache;
use gitops_render::helm::Helm;
use gitops_render::plugin::Plugin;
use gitops_render::source;

use crate::{cm, write};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository with `files` committed on `main`; returns its directory and the commit.
pub(crate) struct Repo {
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
}

impl Repo {
    pub(crate) fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("repo");
        std::fs::create_dir(&path).expect("mkdir");
        git(&path, &["init", "-q"]);
        Repo { _dir: dir, path }
    }

    pub(crate) fn commit(&self, files: &[(&str, &str)]) -> String {
        write(&self.path, files);
        git(&self.path, &["add", "-A"]);
        git(&self.path, &["commit", "-q", "-m", "c"]);
        git(&self.path, &["rev-parse", "HEAD"])
    }

    pub(crate) fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }
}

pub(crate) fn parse(text: &str) -> Vec<Object> {
    gitops_core::manifest::parse("app.yaml", text).expect("app parses")
}

pub(crate) fn renderers(cache: &Path) -> Renderers {
    Renderers {
        cache: Cache::new(cache),
        charts: gitops_render::chart_repo::ChartRepos::new(cache.join("charts")),
        helm: Helm::from_env(),
        plugins: Vec::new(),
        reading: Default::default(),
        sops_keys: None,
        locals: Default::default(),
    }
}

fn names(objects: &[Object]) -> Vec<&str> {
    objects.iter().map(Object::name).collect()
}

pub(crate) fn argo(url: &str, revision: &str, path: &str, extra: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop, namespace: argocd}}\nspec:\n  destination: {{namespace: prod}}\n  source:\n    repoURL: {url}\n    targetRevision: {revision}\n    path: {path}\n{extra}"
    )
}

#[test]
fn argo_directory_source_at_a_tag_a_branch_and_an_override() {
    let repo = Repo::new();
    let v1 = repo.commit(&[("deploy/a.yaml", &cm("a")), ("deploy/env/prod.yaml", &cm("prod")), ("README.md", "hi")]);
    git(&repo.path, &["tag", "v1"]);
    let head = repo.commit(&[("deploy/b.yaml", &cm("b")), ("deploy/env/dev.yaml", &cm("dev"))]);
    let cache = tempfile::tempdir().expect("cache");
    let with = renderers(cache.path());
    let extra = "    directory: {recurse: true, exclude: 'env/dev*'}\n";
    let source = source::read(&parse(&argo(&repo.url(), "v1", "deploy", extra))).expect("source");
    let at_tag = app::render(&source, None, &with).expect("render v1");
    assert_eq!((at_tag.commit.as_str(), at_tag.reference.as_str()), (v1.as_str(), "refs/tags/v1"));
    assert_eq!(names(&at_tag.objects), ["a", "prod"]);
    let at_main = app::render(&source, Some("main"), &with).expect("render main");
    assert_eq!((at_main.commit.as_str(), at_main.reference.as_str()), (head.as_str(), "refs/heads/main"));
    assert_eq!(names(&at_main.objects), ["a", "b", "prod"], "dev is excluded");
    let at_sha = app::render(&source, Some(&v1[..10]), &with).expect("render sha");
    assert_eq!(at_sha.commit, v1);
    let head_default = source::read(&parse(&argo(&repo.url(), "HEAD", "deploy", ""))).expect("source");
    assert_eq!(names(&app::render(&head_default, None, &with).expect("HEAD").objects), ["a", "b"], "no recurse");
    let e = app::render(&source, Some("nope"), &with).expect_err("missing revision").to_string();
    assert!(e.contains("revision `nope` not found"), "{e}");
}

#[test]
fn flux_semver_ref_and_source_ignore() {
    let repo = Repo::new();
    repo.commit(&[("clusters/prod/a.yaml", &cm("old"))]);
    git(&repo.path, &["tag", "v1.0.0"]);
    std::fs::remove_file(repo.path.join("clusters/prod/a.yaml")).expect("rm");
    let v1_1 = repo.commit(&[
        ("clusters/prod/a.yaml", &cm("a")),
        ("clusters/prod/nested/b.yaml", &cm("b")),
        ("clusters/prod/scratch/c.yaml", &cm("scratch")),
        ("clusters/prod/drafts/d.yaml", &cm("draft")),
        ("clusters/prod/.sourceignore", "scratch/\n"),
        // The engine's own state beside an app file in the path (its default target).
        ("clusters/prod/.gitops/cluster/prod/core/ConfigMap/a.yaml", &cm("stored")),
    ]);
    git(&repo.path, &["tag", "v1.1.0"]);
    repo.commit(&[("clusters/prod/z.yaml", &cm("v2"))]);
    git(&repo.path, &["tag", "v2.0.0"]);
    let text = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: shop, namespace: flux-system}}\nspec:\n  url: {}\n  ref: {{semver: '>=1.0.0 <2.0.0'}}\n  ignore: |\n    drafts/\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: shop, namespace: flux-system}}\nspec:\n  sourceRef: {{kind: GitRepository, name: shop}}\n  path: ./clusters/prod\n  targetNamespace: prod\n",
        repo.url()
    );
    let cache = tempfile::tempdir().expect("cache");
    let source = source::read(&parse(&text)).expect("source");
    let r = app::render(&source, None, &renderers(cache.path())).expect("render");
    assert_eq!((r.commit.as_str(), r.reference.as_str()), (v1_1.as_str(), "refs/tags/v1.1.0"));
    assert_eq!(
        names(&r.objects),
        ["a", "b"],
        ".sourceignore and spec.ignore leave scratch and drafts out, and `.gitops/` is the engine's own"
    );
    // Masterminds' reading: a bare version is exact (Cargo's would take 1.1.0 as `^1.0.0`), and a
    // prerelease tag passes only a range that names a prerelease.
    git(&repo.path, &["tag", "v1.2.0-rc.1", &v1_1]);
    for (range, tag) in [("1.0.0", "v1.0.0"), ("1.x", "v1.1.0"), (">=1.0.0-0 <2.0.0", "v1.2.0-rc.1")] {
        let exact = text.replace("'>=1.0.0 <2.0.0'", &format!("'{range}'"));
        let source = source::read(&parse(&exact)).expect("source");
        let r = app::render(&source, None, &renderers(cache.path())).expect("render");
        assert_eq!(r.reference, format!("refs/tags/{tag}"), "{range}");
    }
}

#[test]
fn flux_path_without_kustomization_builds_the_kustomization_flux_generates() {
    let repo = Repo::new();
    crate::kustomize::flux_bootstrap_tree(&repo.path);
    repo.commit(&[]);
    let text = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: flux-system, namespace: flux-system}}\nspec:\n  url: {}\n  ref: {{branch: main}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: flux-system, namespace: flux-system}}\nspec:\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n  path: ./clusters/prod\n  namePrefix: p-\n",
        repo.url()
    );
    let cache = tempfile::tempdir().expect("cache");
    let source = source::read(&parse(&text)).expect("source");
    let r = app::render(&source, None, &renderers(cache.path())).expect("render");
    // flux-system/ is a kustomization, built as one (not its files read as manifests); the
    // generated kustomization takes the Flux Kustomization's namePrefix; .json, .md and .YAML
    // files are not Flux's manifests.
    assert_eq!(
        names(&r.objects),
        [
            "p-apps",
            "flux-system",
            "p-source-controller",
            "p-flux-system",
            "p-flux-system",
            "p-infrastructure",
            "p-dashboards",
            "monitoring"
        ]
    );
}

#[test]
fn plugin_from_its_manifest_gets_the_commit() {
    let repo = Repo::new();
    let sha = repo.commit(&[("app/in.txt", "x")]);
    let plugin = parse(
        "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata: {name: gen}\nspec:\n  version: v1\n  generate:\n    command: [sh, -c]\n    args: ['printf \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: %s}\\ndata: {rev: \\\"%s\\\", env: %s}\\n\" \"$ARGOCD_APP_NAME\" \"$ARGOCD_APP_REVISION\" \"$ARGOCD_ENV_STAGE\"']\n",
    );
    let plugin = Plugin::from_manifest(&plugin[0]).expect("plugin");
    assert_eq!(plugin.name, "gen-v1");
    let cache = tempfile::tempdir().expect("cache");
    let mut with = renderers(cache.path());
    let extra = "    plugin:\n      name: gen-v1\n      env: [{name: STAGE, value: prod}]\n";
    let source = source::read(&parse(&argo(&repo.url(), "main", "app", extra))).expect("source");
    let e = app::render(&source, None, &with).expect_err("not configured");
    assert!(matches!(e, Error::UnknownPlugin { .. }), "{e}");
    with.plugins.push(plugin);
    let r = app::render(&source, None, &with).expect("render");
    assert_eq!(r.objects.len(), 1);
    let data = &r.objects[0].value()["data"];
    assert_eq!((r.objects[0].name(), data["rev"].as_str(), data["env"].as_str()), ("shop", Some(&*sha), Some("prod")));
    let init = parse(
        "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata: {name: gen}\nspec:\n  init: {command: [make]}\n  generate: {command: [cat]}\n",
    );
    let e = Plugin::from_manifest(&init[0]).expect_err("init refused").to_string();
    assert!(e.contains("`spec.init`: not supported"), "{e}");
}

#[test]
fn a_chart_is_found_and_rendered_with_the_apps_name_and_namespace() {
    let repo = Repo::new();
    crate::helm::chart(&repo.path);
    let sha = repo.commit(&[]);
    let cache = tempfile::tempdir().expect("cache");
    let mut with = renderers(cache.path());
    with.helm = crate::helm::helm();
    let source = source::read(&parse(&argo(&repo.url(), "main", "charts/web", ""))).expect("source");
    let r = app::render(&source, None, &with).expect("render");
    assert_eq!(r.commit, sha);
    let deploy = r.objects.iter().find(|o| o.kind() == "Deployment").expect("deployment");
    assert_eq!((deploy.name(), deploy.namespace()), ("shop-web", "prod"));
    let values = "    helm:\n      valueFiles: [prod.yaml, ../../../outside.yaml]\n";
    let source = source::read(&parse(&argo(&repo.url(), "main", "charts/web", values))).expect("source");
    let e = app::render(&source, None, &with).expect_err("outside").to_string();
    // A fetched repository is named by its URL and commit, never by the cache directory.
    assert_eq!(e, format!("charts/web/../../../outside.yaml: leaves the repository root {} at {sha}", repo.url()));
}

#[test]
fn paths_leaving_the_checkout_are_refused_and_kustomizations_built_with_overrides() {
    let repo = Repo::new();
    std::fs::create_dir_all(repo.path.join("deploy")).expect("mkdir");
    std::os::unix::fs::symlink("/etc", repo.path.join("deploy/etc")).expect("symlink");
    write(&repo.path, &[("k/kustomization.yaml", "resources: [a.yaml]\n"), ("k/a.yaml", &cm("a"))]);
    let sha = repo.commit(&[]);
    let cache = tempfile::tempdir().expect("cache");
    let with = renderers(cache.path());
    for path in ["../..", "/etc", "deploy/etc"] {
        let source = source::read(&parse(&argo(&repo.url(), "main", path, ""))).expect("source");
        let e = app::render(&source, None, &with).expect_err(path).to_string();
        assert!(e.starts_with(&format!("{} at {sha}: ", repo.url())), "{path}: {e}");
    }
    let source = source::read(&parse(&argo(&repo.url(), "main", "k", ""))).expect("source");
    assert_eq!(names(&app::render(&source, None, &with).expect("kustomize").objects), ["a"]);
    let overrides = "    kustomize:\n      namePrefix: p-\n      commonLabels: {team: shop}\n";
    let source = source::read(&parse(&argo(&repo.url(), "main", "k", overrides))).expect("source");
    let r = app::render(&source, None, &with).expect("kustomize with overrides");
    assert_eq!((names(&r.objects), r.objects[0].label("team")), (vec!["p-a"], Some("shop")));
    let bad = "    kustomize: {version: v5.0.0}\n";
    let e = source::read(&parse(&argo(&repo.url(), "main", "k", bad))).expect_err("version").to_string();
    assert!(e.contains("`spec.source.kustomize.version`: not supported"), "{e}");
}
