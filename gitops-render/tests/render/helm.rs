//! Helm charts through a real Helm engine: the real `helm` CLI when `GITOPS_HELM` names it (CI
//! builds it with `tools/helm/build.sh`), else Helm's Go SDK (PyPI `helm-python-sdk`) behind a
//! `helm template`-compatible shim (`tools/helm-shim/helm`), installed here on first use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use gitops_render::helm::{self, Error, Helm, HelmOptions, Parameter};
use gitops_render::root::RepoRoot;

use crate::write;

/// A Helm engine: the `helm` that `GITOPS_HELM` names, else the shim on the pinned SDK,
/// installed once per target directory with pip (PyPI is reachable here). A failure to install
/// fails the tests: they are not skipped silently.
pub fn helm() -> Helm {
    if let Some(program) = real_helm() {
        return Helm { program, env: Vec::new(), timeout: Duration::from_secs(60) };
    }
    static SDK: OnceLock<PathBuf> = OnceLock::new();
    let sdk = SDK.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("helm-python-sdk-0.2.2");
        if !dir.join("helm_python").is_dir() {
            let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
            let status = std::process::Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--target"])
                .arg(&tmp)
                .arg("helm-python-sdk==0.2.2")
                .status()
                .expect("run pip (python3 is needed for the Helm tests)");
            assert!(status.success(), "pip could not install helm-python-sdk for the Helm tests");
            // Another test binary may have won the race; either copy is complete.
            if std::fs::rename(&tmp, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        dir
    });
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/helm-shim/helm");
    Helm {
        program: shim,
        env: vec![("HELM_SHIM_PYTHONPATH".into(), sdk.display().to_string())],
        timeout: Duration::from_secs(60),
    }
}

/// The real helm CLI, when `GITOPS_HELM` names it.
pub fn real_helm() -> Option<PathBuf> {
    std::env::var_os("GITOPS_HELM").filter(|p| !p.is_empty()).map(PathBuf::from)
}

/// A chart under `charts/web` with a CRD, value files beside it and shared values outside it.
pub fn chart(dir: &Path) {
    write(
        dir,
        &[
            ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
            ("charts/web/values.yaml", "replicas: 1\nimage: {repository: nginx, tag: \"1.25\"}\ncolor: blue\n"),
            (
                "charts/web/templates/deployment.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\n  namespace: {{ .Release.Namespace }}\nspec:\n  replicas: {{ .Values.replicas }}\n  template:\n    metadata:\n      annotations:\n        color: {{ .Values.color | quote }}\n        banner: {{ .Values.banner | default \"none\" | quote }}\n    spec:\n      containers:\n      - name: web\n        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n",
            ),
            ("charts/web/templates/NOTES.txt", "Thanks for installing {{ .Release.Name }}."),
            (
                "charts/web/crds/widget.yaml",
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n",
            ),
            ("charts/web/prod.yaml", "replicas: 3\ncolor: green\n"),
            ("values/shared.yaml", "image: {tag: \"1.26\"}\n"),
            ("values/banner.txt", "Spring sale"),
        ],
    );
}

#[test]
fn values_precedence_namespace_and_crds() {
    let dir = tempfile::tempdir().expect("tempdir");
    chart(dir.path());
    let root = RepoRoot::new(dir.path()).expect("root");
    let options = HelmOptions {
        release_name: "shop".into(),
        namespace: "prod".into(),
        value_files: vec!["prod.yaml".into(), "../../values/shared.yaml".into()],
        values: Some("color: red\n".into()),
        parameters: vec![
            Parameter { name: "replicas".into(), value: "4".into(), force_string: false },
            Parameter { name: "image.tag".into(), value: "2".into(), force_string: true },
        ],
        file_parameters: vec![("banner".into(), "../../values/banner.txt".into())],
        ..Default::default()
    };
    let objects = helm::render(&root, "charts/web", &options, &helm()).expect("render");
    let kinds: Vec<&str> = objects.iter().map(|o| o.kind()).collect();
    assert_eq!(kinds, ["CustomResourceDefinition", "Deployment"], "NOTES.txt is not a manifest");
    let d = objects[1].value();
    assert_eq!(d["metadata"]["name"], "shop-web");
    assert_eq!(d["metadata"]["namespace"], "prod");
    // chart values < value files in order < inline values < --set < --set-string < --set-file
    assert_eq!(d["spec"]["replicas"], 4);
    let pod = &d["spec"]["template"];
    assert_eq!(pod["metadata"]["annotations"]["color"], "red");
    assert_eq!(pod["metadata"]["annotations"]["banner"], "Spring sale");
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:2");
    let skipped =
        helm::render(&root, "charts/web", &HelmOptions { skip_crds: true, ..options }, &helm()).expect("render");
    assert_eq!(skipped.len(), 1);
}

/// Argo CD's `skipSchemaValidation` and `skipTests`: a chart whose values break its
/// `values.schema.json` renders only with the first; its test hook is left out with the second.
#[test]
fn schema_validation_and_tests_can_be_skipped() {
    if real_helm().is_none() {
        eprintln!("note: GITOPS_HELM is not set; skipping (the flags are the real helm's)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[
            ("web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n"),
            ("web/values.yaml", "replicas: many\n"),
            ("web/values.schema.json", r#"{"properties": {"replicas": {"type": "integer"}}}"#),
            (
                "web/templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {replicas: '{{ .Values.replicas }}'}\n",
            ),
            (
                "web/templates/tests/check.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-check\n  annotations: {helm.sh/hook: test}\nspec: {containers: [{name: c, image: busybox}]}\n",
            ),
        ],
    );
    let root = RepoRoot::new(dir.path()).expect("root");
    let options = HelmOptions { release_name: "web".into(), ..Default::default() };
    let e = helm::render(&root, "web", &options, &helm()).expect_err("the schema refuses `many`").to_string();
    assert!(e.contains("replicas"), "{e}");
    let skipping = HelmOptions { skip_schema_validation: true, ..options };
    let kinds = |o: &HelmOptions| -> Vec<String> {
        helm::render(&root, "web", o, &helm()).expect("render").iter().map(|o| o.kind().to_string()).collect()
    };
    assert_eq!(kinds(&skipping), ["ConfigMap", "Pod"], "the test hook is a manifest of the chart");
    assert_eq!(kinds(&HelmOptions { skip_tests: true, ..skipping }), ["ConfigMap"]);
}

/// Found syncing public examples: a chart whose dependencies were never built rendered without
/// them, exit 0. `helm template` refuses it, and so do we; present ones (a subchart directory,
/// or an archive named `<name>-<version>.tgz`) render.
#[test]
fn dependencies_missing_from_charts_are_an_error_as_in_helm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart_yaml = "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- {name: redis, version: 17.0.0, repository: 'https://charts.example.com'}\n- {name: pg, version: 1.0.0, repository: 'https://charts.example.com', condition: pg.enabled}\n";
    write(
        dir.path(),
        &[
            ("app/Chart.yaml", chart_yaml),
            ("app/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"),
        ],
    );
    let root = RepoRoot::new(dir.path()).expect("root");
    let options = HelmOptions { release_name: "shop".into(), ..Default::default() };
    let e = helm::render(&root, "app", &options, &helm()).expect_err("missing dependencies");
    assert_eq!(
        e.to_string(),
        "helm template app: found in Chart.yaml, but missing in charts/ directory: redis, pg; run `helm dependency build`"
    );
    write(
        dir.path(),
        &[
            ("app/charts/redis/Chart.yaml", "apiVersion: v2\nname: redis\nversion: 17.0.0\n"),
            ("app/charts/redis/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: redis}\n"),
            ("app/charts/pg/Chart.yaml", "apiVersion: v2\nname: pg\nversion: 1.0.0\n"),
        ],
    );
    let mut names: Vec<String> = helm::render(&root, "app", &options, &helm())
        .expect("dependencies present")
        .iter()
        .map(|o| o.name().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["app", "redis"]);
}

/// `helm.ignoreMissingValueFiles` leaves out a value file that is not there (and only that: one
/// leaving the repository still fails).
#[test]
fn missing_value_files_are_an_error_unless_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    chart(dir.path());
    let root = RepoRoot::new(dir.path()).expect("root");
    let options = HelmOptions {
        release_name: "shop".into(),
        value_files: vec!["prod.yaml".into(), "absent.yaml".into()],
        ..Default::default()
    };
    let e = helm::render(&root, "charts/web", &options, &helm()).expect_err("missing value file");
    assert!(e.to_string().contains("absent.yaml"), "{e}");
    let ignoring = HelmOptions { ignore_missing_value_files: true, ..options.clone() };
    let objects = helm::render(&root, "charts/web", &ignoring, &helm()).expect("missing file left out");
    assert_eq!(objects.last().expect("deployment").value()["spec"]["replicas"], 3, "prod.yaml still applies");
    let escaping = HelmOptions { value_files: vec!["../../../../outside.yaml".into()], ..ignoring };
    assert!(
        helm::render(&root, "charts/web", &escaping, &helm()).is_err(),
        "leaving the repository is no missing file"
    );
}

#[test]
fn helm_errors_are_surfaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    chart(dir.path());
    write(dir.path(), &[("charts/web/templates/broken.yaml", "{{ .Values.nope.deeper }}")]);
    let root = RepoRoot::new(dir.path()).expect("root");
    let options = HelmOptions { release_name: "shop".into(), namespace: "prod".into(), ..Default::default() };
    let e = helm::render(&root, "charts/web", &options, &helm()).expect_err("failing template");
    assert!(matches!(e, Error::Failed { .. }), "{e}");
    assert!(e.to_string().contains("broken.yaml") && e.to_string().contains("nil pointer"), "{e}");
    let missing = Helm { program: "/no/such/helm".into(), ..helm() };
    let e = helm::render(&root, "charts/web", &options, &missing).expect_err("no helm");
    assert!(e.to_string().starts_with("helm is not installed"), "{e}");
}

#[test]
fn value_files_outside_the_repository_are_refused_before_helm_runs() {
    let outside = tempfile::tempdir().expect("tempdir");
    write(outside.path(), &[("secrets.yaml", "password: s3cr3t\n")]);
    let dir = tempfile::tempdir().expect("tempdir");
    chart(dir.path());
    std::os::unix::fs::symlink(outside.path().join("secrets.yaml"), dir.path().join("charts/web/linked.yaml"))
        .expect("symlink");
    let root = RepoRoot::new(dir.path()).expect("root");
    // Any helm would fail on these arguments; a refusal (not a helm failure) shows it never ran.
    let spy = Helm { program: "false".into(), ..helm() };
    let absolute = outside.path().join("secrets.yaml").display().to_string();
    for bad in ["../../../secrets.yaml", absolute.as_str(), "linked.yaml", "https://evil.example.com/values.yaml"] {
        let options =
            HelmOptions { release_name: "x".into(), value_files: vec![bad.to_string()], ..Default::default() };
        let e = helm::render(&root, "charts/web", &options, &spy).expect_err(bad);
        assert!(matches!(e, Error::Path(_) | Error::Remote(_)), "{bad}: {e}");
        assert!(!e.to_string().contains("s3cr3t"));
        let file_param = HelmOptions {
            release_name: "x".into(),
            file_parameters: vec![("p".into(), bad.to_string())],
            ..Default::default()
        };
        let e = helm::render(&root, "charts/web", &file_param, &spy).expect_err(bad);
        assert!(matches!(e, Error::Path(_) | Error::Remote(_)), "{bad}: {e}");
    }
}

/// A directory outside any repository: what a hostile chart would like helm to print.
fn outside() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let stolen = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen}\ndata: {password: s3cr3t}\n";
    write(
        dir.path(),
        &[
            ("secret.yaml", stolen),
            ("templates/stolen.yaml", stolen),
            ("Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\ndescription: s3cr3t\n"),
            ("values.yaml", "replicas: 1\nimage: {repository: nginx, tag: \"1\"}\ncolor: s3cr3t\n"),
            ("secret.txt", "s3cr3t"),
            ("helmignore", "# s3cr3t\n*.bak\n"),
            ("sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
            ("sub/templates/stolen.yaml", stolen),
        ],
    );
    dir
}

/// A template that prints `files/secret.txt` through `.Files.Get`.
const FILES_GET: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: files}\ndata:\n  content: {{ .Files.Get \"files/secret.txt\" | quote }}\n";

#[test]
fn chart_files_symlinked_out_of_the_repository_are_refused_before_helm_reads_them() {
    let out = outside();
    let real_out = out.path().canonicalize().expect("canonical");
    // (the chart file replaced by a symlink, its target outside)
    let cases = [
        ("templates/leak.yaml", "secret.yaml"),
        ("templates", "templates"),
        ("Chart.yaml", "Chart.yaml"),
        ("values.yaml", "values.yaml"),
        ("files/secret.txt", "secret.txt"),
        (".helmignore", "helmignore"),
        ("crds/leak.yaml", "secret.yaml"),
        ("charts/sub", "sub"),
    ];
    for (file, target) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        chart(dir.path());
        write(dir.path(), &[("charts/web/templates/files.yaml", FILES_GET), ("charts/web/files/keep.txt", "x")]);
        let link = dir.path().join("charts/web").join(file);
        if link.is_dir() {
            std::fs::remove_dir_all(&link).expect("rm dir");
        } else if link.exists() {
            std::fs::remove_file(&link).expect("rm file");
        }
        std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(out.path().join(target), &link).expect("symlink");
        let root = RepoRoot::new(dir.path()).expect("root");
        let options = HelmOptions { release_name: "shop".into(), namespace: "prod".into(), ..Default::default() };
        let e = helm::render(&root, "charts/web", &options, &helm()).expect_err(file);
        let text = e.to_string();
        assert!(matches!(e, Error::Path(_)), "{file}: {text}");
        let expected = format!(
            "charts/web/{file}: a symlink points outside the repository root {} (to {})",
            dir.path().canonicalize().expect("canonical").display(),
            real_out.join(target).display()
        );
        assert_eq!(text, expected, "{file}");
        assert!(!text.contains("s3cr3t"), "{file}: {text}");
    }
}

#[test]
fn symlinks_that_stay_in_the_repository_keep_working_in_a_chart() {
    let dir = tempfile::tempdir().expect("tempdir");
    chart(dir.path());
    write(
        dir.path(),
        &[
            ("shared/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n"),
            ("shared/files/secret.txt", "not a secret"),
            ("charts/web/templates/files.yaml", FILES_GET),
        ],
    );
    std::os::unix::fs::symlink(
        "../../../shared/templates/cm.yaml",
        dir.path().join("charts/web/templates/shared.yaml"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink("../../shared/files", dir.path().join("charts/web/files")).expect("symlink");
    let root = RepoRoot::new(dir.path()).expect("root");
    let options = HelmOptions { release_name: "shop".into(), namespace: "prod".into(), ..Default::default() };
    let objects = helm::render(&root, "charts/web", &options, &helm()).expect("render");
    // CRDs come first; the order of the rest is helm's (real helm sorts by kind, the shim by
    // template path), which the engine does not rely on.
    let mut names: Vec<&str> = objects.iter().map(|o| o.name()).collect();
    names[1..].sort_unstable();
    assert_eq!(names, ["widgets.example.com", "files", "shared", "shop-web"]);
    let files = objects.iter().find(|o| o.name() == "files").expect("files");
    assert_eq!(files.value()["data"]["content"], "not a secret");
}

#[test]
fn a_chart_from_git_with_a_committed_symlink_out_is_refused() {
    use gitops_render::app;
    use gitops_render::source;

    use crate::app::{Repo, argo, parse, renderers};

    let out = outside();
    let real_out = out.path().canonicalize().expect("canonical");
    let repo = Repo::new();
    chart(&repo.path);
    std::os::unix::fs::symlink(out.path().join("secret.yaml"), repo.path.join("charts/web/templates/leak.yaml"))
        .expect("symlink");
    let leaky = repo.commit(&[]);
    let cache = tempfile::tempdir().expect("cache");
    let mut with = renderers(cache.path());
    with.helm = helm();
    let source = source::read(&parse(&argo(&repo.url(), &leaky, "charts/web", ""))).expect("source");
    let e = app::render(&source, None, &with).expect_err("symlink out").to_string();
    let expected = format!(
        "charts/web/templates/leak.yaml: a symlink points outside the repository root {} at {leaky} (to {})",
        repo.url(),
        real_out.join("secret.yaml").display()
    );
    assert_eq!(e, expected);
    // The same link pointing inside the checkout renders.
    std::fs::remove_file(repo.path.join("charts/web/templates/leak.yaml")).expect("rm");
    write(&repo.path, &[("shared/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n")]);
    std::os::unix::fs::symlink("../../../shared/cm.yaml", repo.path.join("charts/web/templates/leak.yaml"))
        .expect("symlink");
    let fixed = repo.commit(&[]);
    let source = source::read(&parse(&argo(&repo.url(), &fixed, "charts/web", ""))).expect("source");
    let r = app::render(&source, None, &with).expect("render");
    assert!(r.objects.iter().any(|o| o.name() == "shared"), "{:?}", r.objects);
}

#[test]
fn special_files_in_a_chart_or_its_value_files_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    chart(dir.path());
    crate::mkfifo(&dir.path().join("charts/web/templates/pipe.yaml"));
    let root = RepoRoot::new(dir.path()).expect("root");
    let options = HelmOptions { release_name: "shop".into(), namespace: "prod".into(), ..Default::default() };
    let (r, o) = (root.clone(), options.clone());
    let e = crate::within(Duration::from_secs(30), move || helm::render(&r, "charts/web", &o, &helm()))
        .expect_err("FIFO in the chart");
    assert_eq!(e.to_string(), "charts/web/templates/pipe.yaml: is a FIFO, not a regular file");
    std::fs::remove_file(dir.path().join("charts/web/templates/pipe.yaml")).expect("rm");
    crate::mkfifo(&dir.path().join("values/pipe.yaml"));
    for options in [
        HelmOptions { value_files: vec!["../../values/pipe.yaml".into()], ..options.clone() },
        HelmOptions { file_parameters: vec![("banner".into(), "../../values/pipe.yaml".into())], ..options },
    ] {
        let r = root.clone();
        let e = crate::within(Duration::from_secs(30), move || helm::render(&r, "charts/web", &options, &helm()))
            .expect_err("FIFO as a value file");
        assert_eq!(e.to_string(), "charts/web/../../values/pipe.yaml: is a FIFO, not a regular file");
    }
}

#[test]
fn a_directory_cycle_in_a_chart_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    chart(dir.path());
    std::os::unix::fs::symlink("..", dir.path().join("charts/web/templates/again")).expect("symlink");
    let root = RepoRoot::new(dir.path()).expect("root");
    let options = HelmOptions { release_name: "shop".into(), ..Default::default() };
    let e = crate::within(Duration::from_secs(60), move || helm::render(&root, "charts/web", &options, &helm()))
        .expect_err("cycle");
    assert_eq!(e.to_string(), "directory cycle through charts/web/templates/again (it leads back to charts/web)");
}
