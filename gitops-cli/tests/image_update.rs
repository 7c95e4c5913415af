//! `gitops image update --automation`: a Flux ImageUpdateAutomation run against a real Git
//! remote (a bare repository), twice, and its bad input.

use std::path::Path;

use crate::{err, git_in, gitops, gitops_env, out, write_under};

const DEPLOYMENT: &str = "\
# The web front end; its image follows the policy.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: web
          image: registry.example.com/team/web:1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}
        - name: sidecar
          image: registry.example.com/team/proxy:2.0 # {\"$imagepolicy\": \"flux-system:proxy\"}
";

const AUTOMATION: &str = "\
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata: {name: fleet, namespace: flux-system}
spec:
  interval: 30m
  sourceRef: {kind: GitRepository, name: flux-system}
  git:
    checkout: {ref: {branch: main}}
    commit:
      author: {name: fluxcdbot, email: fluxcdbot@users.noreply.github.com}
      messageTemplate: |
        Automated image update

        {{ range $resource, $changes := .Changed.Objects -}}
        - {{ $resource.Kind }} {{ $resource.Namespace }}/{{ $resource.Name }}:{{ range $changes }} {{ .OldValue }} -> {{ .NewValue }}{{ end }}
        {{ end -}}
    push: {branch: main}
  update: {path: ./apps, strategy: Setters}
  policySelector: {matchLabels: {automated: \"yes\"}}
";

fn objects(remote: &Path) -> String {
    format!(
        "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{url: {}, ref: {{branch: main}}, interval: 1m}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {{name: web, namespace: flux-system, labels: {{automated: \"yes\"}}}}
spec: {{imageRepositoryRef: {{name: web}}, policy: {{semver: {{range: '>=1.0.0'}}}}}}
status:
  latestRef: {{name: registry.example.com/team/web, tag: 1.2.0}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {{name: proxy, namespace: flux-system}}
spec: {{imageRepositoryRef: {{name: proxy}}, policy: {{semver: {{range: '>=2.0'}}}}}}
status:
  latestRef: {{name: registry.example.com/team/proxy, tag: '3.0'}}
",
        remote.display()
    )
}

/// A `flux bootstrap`-shaped repository pushed to a bare remote; returns the remote.
fn remote(dir: &Path, deployment: &str) -> std::path::PathBuf {
    let seed = dir.join("seed");
    write_under(&seed, "clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n");
    write_under(&seed, "clusters/prod/flux-system/gotk-sync.yaml", "# synced by flux\n");
    write_under(&seed, "apps/web/kustomization.yaml", "resources: [deployment.yaml]\n");
    write_under(&seed, "apps/web/deployment.yaml", deployment);
    git_in(&seed, &["init", "--quiet"]);
    git_in(&seed, &["add", "."]);
    git_in(&seed, &["commit", "--quiet", "-m", "bootstrap"]);
    let bare = dir.join("remote.git");
    git_in(dir, &["clone", "--quiet", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()]);
    bare
}

fn update(dir: &Path, remote: &Path) -> std::process::Output {
    std::fs::write(dir.join("automation.yaml"), AUTOMATION).unwrap();
    std::fs::write(dir.join("objects.yaml"), objects(remote)).unwrap();
    run_files(dir)
}

/// `gitops image update` of `dir`'s automation.yaml with its objects.yaml, cached in dir/cache.
fn run_files(dir: &Path) -> std::process::Output {
    let (a, o, c) = (dir.join("automation.yaml"), dir.join("objects.yaml"), dir.join("cache"));
    let args = ["--automation", a.to_str().unwrap(), "--objects", o.to_str().unwrap(), "--cache", c.to_str().unwrap()];
    gitops(&[&["image", "update"][..], &args[..]].concat(), None)
}

#[test]
fn an_automation_sets_its_markers_commits_pushes_and_then_has_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let bare = remote(dir.path(), DEPLOYMENT);
    let first = update(dir.path(), &bare);
    assert!(first.status.success(), "{}", err(&first));
    let said = out(&first);
    assert!(said.starts_with("ImageUpdateAutomation flux-system/fleet: pushed commit '"), "{said}");
    assert!(said.contains("(1 change in 1 file)"), "{said}");
    assert!(
        said.contains("apps/web/deployment.yaml: Deployment prod/web: registry.example.com/team/web:1.0.0 -> registry.example.com/team/web:1.2.0 (flux-system:web)"),
        "{said}"
    );
    // Only the marked scalar of the selected policy changed; every other byte is kept.
    let pushed = git_in(&bare, &["show", "main:apps/web/deployment.yaml"]);
    assert_eq!(format!("{pushed}\n"), DEPLOYMENT.replace("web:1.0.0", "web:1.2.0"));
    let log = git_in(&bare, &["log", "-1", "--format=%an <%ae>%n%B", "main"]);
    assert_eq!(
        log,
        "fluxcdbot <fluxcdbot@users.noreply.github.com>\nAutomated image update\n\n- Deployment prod/web: registry.example.com/team/web:1.0.0 -> registry.example.com/team/web:1.2.0"
    );
    let head = git_in(&bare, &["rev-parse", "main"]);
    assert!(said.contains(&format!("'{}'", &head[..7])), "{said}");

    let second = update(dir.path(), &bare);
    assert!(second.status.success(), "{}", err(&second));
    assert_eq!(out(&second), "ImageUpdateAutomation flux-system/fleet: repository up-to-date\n");
    assert_eq!(git_in(&bare, &["rev-parse", "main"]), head, "the second run changes nothing");
}

#[test]
fn a_marker_naming_no_policy_stops_the_round_and_leaves_git_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let typo = DEPLOYMENT.replace("flux-system:web\"", "flux-system:wbe\"");
    let bare = remote(dir.path(), &typo);
    let before = git_in(&bare, &["rev-parse", "main"]);
    let run = update(dir.path(), &bare);
    assert_eq!(run.status.code(), Some(2), "{}", err(&run));
    assert_eq!(
        err(&run),
        "gitops: error: apps/web/deployment.yaml line 12: marker names image policy flux-system/wbe, which does not exist\n"
    );
    assert_eq!(git_in(&bare, &["rev-parse", "main"]), before);
}

#[test]
fn a_missing_git_repository_and_a_missing_branch_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("automation.yaml"), AUTOMATION).unwrap();
    let a = dir.path().join("automation.yaml");
    let run = gitops(&["image", "update", "--automation", a.to_str().unwrap()], None);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        err(&run).contains("GitRepository flux-system/flux-system is not among the objects given"),
        "{}",
        err(&run)
    );

    let bare = remote(dir.path(), DEPLOYMENT);
    std::fs::write(dir.path().join("automation.yaml"), AUTOMATION.replace("branch: main", "branch: nope")).unwrap();
    std::fs::write(dir.path().join("objects.yaml"), objects(&bare)).unwrap();
    let run = run_files(dir.path());
    assert_eq!(run.status.code(), Some(1), "{}", err(&run));
    assert!(err(&run).contains("branch `nope` to check out does not exist"), "{}", err(&run));
}

#[test]
fn an_image_updater_override_file_is_rendered_as_argo_cd_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_under(&repo, "apps/web/kustomization.yaml", "resources: [deployment.yaml]\n");
    write_under(
        &repo,
        "apps/web/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: 'ghcr.io/o/web:v1'}]\n",
    );
    write_under(&repo, "apps/web/.argocd-source-web.yaml", "kustomize:\n  images:\n  - ghcr.io/o/web:v2\n");
    // Another app's file in the same path is not this app's.
    write_under(&repo, "apps/web/.argocd-source-other.yaml", "kustomize:\n  images:\n  - ghcr.io/o/web:v9\n");
    git_in(&repo, &["init", "--quiet"]);
    git_in(&repo, &["add", "."]);
    git_in(&repo, &["commit", "--quiet", "-m", "one"]);
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: web, namespace: argocd}}\nspec:\n  destination: {{namespace: web}}\n  source: {{repoURL: 'file://{}', targetRevision: main, path: apps/web}}\n",
            repo.display()
        ),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let o = gitops(&["render", "--app", app.to_str().unwrap(), "--cache", cache.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("image: ghcr.io/o/web:v2"), "{}", out(&o));
}

#[test]
fn policies_are_chosen_from_a_real_registry_then_set_and_pushed() {
    let Some(registry) = gitops_standin::registry::or_skip("policies_are_chosen_from_a_real_registry", None) else {
        return;
    };
    for tag in ["1.0.0", "1.1.0", "1.2.0-rc.1", "latest"] {
        registry.push_image("team/web", tag, "2024-01-01T00:00:00Z", "linux", "amd64");
    }
    let dir = tempfile::tempdir().unwrap();
    let image = format!("{}/team/web", registry.host);
    let deployment = format!("image: {image}:1.0.0 # {{\"$imagepolicy\": \"flux-system:web\"}}\n");
    let bare = remote(dir.path(), &deployment);
    // The policy's status says nothing yet: its tag comes from the registry's tags.
    let objects = format!(
        "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{url: {}, ref: {{branch: main}}}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata: {{name: web, namespace: flux-system}}
spec: {{image: {image}, interval: 5m}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {{name: web, namespace: flux-system, labels: {{automated: \"yes\"}}}}
spec: {{imageRepositoryRef: {{name: web}}, policy: {{semver: {{range: '^1.0.0'}}}}}}
",
        bare.display()
    );
    std::fs::write(dir.path().join("automation.yaml"), AUTOMATION).unwrap();
    std::fs::write(dir.path().join("objects.yaml"), objects).unwrap();
    let run = run_files(dir.path());
    assert!(run.status.success(), "{}", err(&run));
    assert!(out(&run).contains(&format!("{image}:1.0.0 -> {image}:1.1.0 (flux-system:web)")), "{}", out(&run));
    assert_eq!(
        git_in(&bare, &["show", "main:apps/web/deployment.yaml"]) + "\n",
        deployment.replace(":1.0.0", ":1.1.0")
    );
    let again = run_files(dir.path());
    assert_eq!(out(&again), "ImageUpdateAutomation flux-system/fleet: repository up-to-date\n", "{}", err(&again));
}

#[test]
fn an_argo_cd_app_is_updated_as_image_updater_does_git_and_argocd_write_back() {
    let Some(registry) = gitops_standin::registry::or_skip("an_argo_cd_app_is_updated_as_image_updater_does", None)
    else {
        return;
    };
    for tag in ["1.0.0", "1.1.0", "2.0.0"] {
        registry.push_image("team/web", tag, "2024-01-01T00:00:00Z", "linux", "amd64");
    }
    let image = format!("{}/team/web", registry.host);
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed");
    let kustomization =
        format!("resources:\n  - deployment.yaml # the app\nimages:\n  - name: {image}\n    newTag: 1.0.0\n");
    write_under(&seed, "apps/web/kustomization.yaml", &kustomization);
    write_under(
        &seed,
        "apps/web/deployment.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      containers: [{{name: web, image: '{image}'}}]\n"
        ),
    );
    git_in(&seed, &["init", "--quiet"]);
    git_in(&seed, &["add", "."]);
    git_in(&seed, &["commit", "--quiet", "-m", "seed"]);
    let bare = dir.path().join("remote.git");
    git_in(dir.path(), &["clone", "--quiet", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()]);
    let p = "argocd-image-updater.argoproj.io";
    let app = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\n  annotations:\n    {p}/image-list: web={image}:~1\n    {p}/write-back-method: git\n    {p}/write-back-target: kustomization\nspec:\n  destination: {{namespace: web}}\n  source: {{repoURL: '{}', targetRevision: main, path: apps/web, kustomize: {{}}}}\n",
        bare.display()
    );
    std::fs::write(dir.path().join("app.yaml"), &app).unwrap();
    let (a, c) = (dir.path().join("app.yaml"), dir.path().join("cache"));
    let args = ["image", "update", "--app", a.to_str().unwrap(), "--cache", c.to_str().unwrap()];
    let run = gitops(&args, None);
    assert!(run.status.success(), "{}", err(&run));
    assert!(out(&run).contains(&format!("Application argocd/web: image {image}: '1.0.0' -> '1.1.0'")), "{}", out(&run));
    assert!(out(&run).contains("pushed commit '"), "{}", out(&run));
    assert_eq!(
        git_in(&bare, &["show", "main:apps/web/kustomization.yaml"]) + "\n",
        kustomization.replace("newTag: 1.0.0", "newTag: 1.1.0")
    );
    let log = git_in(&bare, &["log", "-1", "--format=%an%n%B", "main"]);
    assert_eq!(
        log,
        format!("argocd-image-updater\nbuild: automatic update of web\n\nupdates image {image} tag '1.0.0' to '1.1.0'")
    );
    // What runs now is rendered from Git again: 1.1.0, nothing to do.
    let again = gitops(&args, None);
    assert!(again.status.success(), "{}", err(&again));
    assert_eq!(out(&again), "Application argocd/web: all images up to date\n");

    // The argocd method changes the Application itself: its Helm parameters.
    let helm_app = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: api\n  namespace: argocd\n  annotations:\n    {p}/image-list: api={image}\n    {p}/api.helm.image-name: image.repository\nspec:\n  source: {{repoURL: 'https://charts.example.com', chart: api, targetRevision: 1.0.0, helm: {{parameters: [{{name: replicas, value: '2'}}]}}}}\nstatus:\n  summary: {{images: ['{image}:1.0.0']}}\n"
    );
    std::fs::write(dir.path().join("api.yaml"), &helm_app).unwrap();
    let api = dir.path().join("api.yaml");
    let run = gitops(
        &["image", "update", "--app", api.to_str().unwrap(), "--cache", c.to_str().unwrap(), "--in-place"],
        None,
    );
    assert!(run.status.success(), "{}", err(&run));
    assert!(out(&run).contains("'1.0.0' -> '2.0.0'"), "{}", out(&run));
    let written = std::fs::read_to_string(&api).unwrap();
    let value: serde_json::Value = serde_saphyr::from_str(&written).unwrap();
    assert_eq!(
        value.pointer("/spec/source/helm/parameters").unwrap(),
        &serde_json::json!([
            {"name": "replicas", "value": "2"},
            {"name": "image.repository", "value": image, "forceString": true},
            {"name": "image.tag", "value": "2.0.0", "forceString": true},
        ]),
        "{written}"
    );
}

/// A `flux bootstrap` tree whose ImageUpdateAutomation lives in the hub: `gitops reconcile`
/// applies the image objects, the automation's round pushes the new tag to the fleet's own
/// repository, the next reconcile deploys it, and a third changes nothing.
#[test]
fn a_flux_fleet_updates_its_own_repository_and_deploys_the_new_image() {
    let Some(registry) = gitops_standin::registry::or_skip("a_flux_fleet_updates_its_own_repository", None) else {
        return;
    };
    for tag in ["1.0.0", "1.1.0"] {
        registry.push_image("team/web", tag, "2024-01-01T00:00:00Z", "linux", "amd64");
    }
    let image = format!("{}/team/web", registry.host);
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("fleet.git");
    let seed = dir.path().join("seed");
    let url = bare.display().to_string();
    write_under(
        &seed,
        "clusters/dev/flux-system/gotk-sync.yaml",
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: flux-system, namespace: flux-system}}\nspec: {{url: '{url}', ref: {{branch: main}}, interval: 1m}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: flux-system, namespace: flux-system}}\nspec: {{path: ./clusters/dev, prune: true, interval: 10m, sourceRef: {{kind: GitRepository, name: flux-system}}}}\n"
        ),
    );
    write_under(
        &seed,
        "clusters/dev/flux-system/namespaces.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
    );
    write_under(
        &seed,
        "clusters/dev/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec: {path: ./apps, prune: true, interval: 10m, targetNamespace: web, sourceRef: {kind: GitRepository, name: flux-system}}\n",
    );
    write_under(
        &seed,
        "clusters/dev/image-automation.yaml",
        &format!(
            "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata: {{name: web, namespace: flux-system}}\nspec: {{image: '{image}', interval: 5m}}\n---\napiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImagePolicy\nmetadata: {{name: web, namespace: flux-system}}\nspec: {{imageRepositoryRef: {{name: web}}, policy: {{semver: {{range: '1.x'}}}}}}\n---\n{}",
            AUTOMATION.replace("  policySelector: {matchLabels: {automated: \"yes\"}}\n", "")
        ),
    );
    write_under(
        &seed,
        "apps/deployment.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n        - name: web\n          image: {image}:1.0.0 # {{\"$imagepolicy\": \"flux-system:web\"}}\n"
        ),
    );
    git_in(&seed, &["init", "--quiet"]);
    git_in(&seed, &["add", "."]);
    git_in(&seed, &["commit", "--quiet", "-m", "bootstrap"]);
    git_in(dir.path(), &["clone", "--quiet", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()]);
    // The root app, as `flux bootstrap` leaves it, read from a checkout outside the repository.
    let root = seed.join("clusters/dev/flux-system/gotk-sync.yaml");
    let hub = dir.path().join("hub");
    let target = format!("dir:{}", hub.display());
    let cache = dir.path().join("cache");
    let reconcile = || {
        let o = gitops_env(
            &["reconcile", "--app", root.to_str().unwrap(), "--target", &target],
            None,
            &[("GITOPS_CACHE", cache.to_str().unwrap())],
        );
        assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
        out(&o)
    };
    let deployed = || std::fs::read_to_string(hub.join("web/apps/Deployment/web.yaml")).unwrap_or_default();
    let first = reconcile();
    assert!(first.contains("ImageUpdateAutomation flux-system/fleet: pushed commit"), "{first}");
    assert!(
        git_in(&bare, &["show", "main:apps/deployment.yaml"]).contains(&format!("{image}:1.1.0 # {{\"$imagepolicy\"")),
        "the new tag is in Git"
    );
    let second = reconcile();
    assert!(deployed().contains(&format!("{image}:1.1.0")), "{second}\n{}", deployed());
    assert!(second.contains("ImageUpdateAutomation flux-system/fleet: repository up-to-date"), "{second}");
    let third = reconcile();
    assert!(third.contains("repository up-to-date"), "{third}");
    assert!(!third.contains("pushed commit"), "{third}");
}
