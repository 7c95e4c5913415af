//! An Argo CD Application whose source is a chart of a Helm chart repository, served over
//! loopback HTTP by a static file server started here: rendered, then synced twice into a
//! directory target. The chart archives are made by `tar`, or by `helm package` when
//! `GITOPS_HELM` names the real helm; the index's digests by `sha256sum`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::{err, gitops_env, out};

/// Serves the files under `root` on 127.0.0.1 (to requests with the `Authorization` header
/// `auth`, if given); the requests per path are counted.
pub(crate) fn serve(root: &Path, auth: Option<&str>) -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let auth = auth.map(str::to_string);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let (root, counted) = (root.to_path_buf(), Arc::clone(&hits));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            let mut authorized = auth.is_none();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.trim().is_empty() {
                if let Some((k, v)) = line.split_once(':') {
                    authorized |= k.eq_ignore_ascii_case("authorization") && Some(v.trim()) == auth.as_deref();
                }
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            *counted.lock().expect("hits").entry(path.clone()).or_default() += 1;
            let file = root.join(path.trim_start_matches('/'));
            let (status, body) = match std::fs::read(&file) {
                _ if !authorized => ("401 Unauthorized", Vec::new()),
                Ok(body) if !path.contains("..") => ("200 OK", body),
                _ => ("404 Not Found", Vec::new()),
            };
            let mut stream = reader.into_inner();
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
        }
    });
    (url, hits)
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("run");
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `web` at each version into the repository directory `repo`, with an `index.yaml`.
pub(crate) fn chart_repository(repo: &Path, versions: &[&str]) {
    let src = tempfile::tempdir().expect("tempdir");
    let mut entries = String::new();
    for v in versions {
        let chart = src.path().join(v).join("web");
        std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
        std::fs::write(chart.join("Chart.yaml"), format!("apiVersion: v2\nname: web\nversion: {v}\n")).expect("w");
        std::fs::write(chart.join("values.yaml"), "color: blue\n").expect("write");
        std::fs::write(
            chart.join("templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata:\n  version: {{ .Chart.Version | quote }}\n  color: {{ .Values.color | quote }}\n",
        )
        .expect("write");
        let archive = repo.join(format!("web-{v}.tgz"));
        match real_helm() {
            Some(helm) => run(Command::new(helm).arg("package").arg(&chart).arg("-d").arg(repo)),
            None => {
                run(Command::new("tar").arg("-czf").arg(&archive).arg("-C").arg(chart.parent().expect("p")).arg("web"))
            }
        };
        let digest = run(Command::new("sha256sum").arg(&archive));
        let digest = digest.split_whitespace().next().expect("digest");
        entries.push_str(&format!("  - {{name: web, version: {v}, urls: [web-{v}.tgz], digest: {digest}}}\n"));
    }
    match real_helm() {
        Some(helm) => {
            run(Command::new(helm).arg("repo").arg("index").arg(repo));
        }
        None => std::fs::write(repo.join("index.yaml"), format!("apiVersion: v1\nentries:\n  web:\n{entries}"))
            .expect("index"),
    }
}

fn real_helm() -> Option<PathBuf> {
    std::env::var_os("GITOPS_HELM").filter(|p| !p.is_empty()).map(PathBuf::from)
}

/// The environment that gives `gitops` a Helm engine: none when `GITOPS_HELM` is set (it is
/// inherited), else the `helm template` shim on Helm's Go SDK, installed once with pip (as
/// gitops-render's tests do; a failure fails the test).
fn helm_env() -> Vec<(String, String)> {
    if real_helm().is_some() {
        return Vec::new();
    }
    let sdk = Path::new(env!("CARGO_TARGET_TMPDIR")).join("helm-python-sdk-0.2.2");
    if !sdk.join("helm_python").is_dir() {
        let tmp = sdk.with_extension(format!("tmp{}", std::process::id()));
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--target"])
            .arg(&tmp)
            .arg("helm-python-sdk==0.2.2")
            .status()
            .expect("run pip (python3 is needed for the Helm tests)");
        assert!(status.success(), "pip could not install helm-python-sdk for the Helm tests");
        if std::fs::rename(&tmp, &sdk).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    let shim = crate::repo().join("tools/helm-shim/helm");
    vec![("GITOPS_HELM".into(), shim.display().to_string()), ("HELM_SHIM_PYTHONPATH".into(), sdk.display().to_string())]
}

#[test]
fn an_application_of_a_chart_repository_renders_and_syncs_once() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("charts");
    std::fs::create_dir_all(&repo).expect("mkdir");
    chart_repository(&repo, &["1.0.0", "1.2.3", "1.3.0-rc.1", "2.0.0"]);
    let (url, hits) = serve(&repo, None);
    let app = work.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop, namespace: argocd}}\nspec:\n  destination: {{namespace: shop}}\n  source:\n    repoURL: {url}\n    chart: web\n    targetRevision: 1.x\n    helm:\n      parameters: [{{name: color, value: green}}]\n  syncPolicy: {{syncOptions: [CreateNamespace=true]}}\n"
        ),
    )
    .expect("write app");
    let cache = work.path().join("cache");
    let target = format!("dir:{}", work.path().join("cluster").display());
    let env = helm_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (app, cache) = (app.to_str().expect("utf-8"), cache.to_str().expect("utf-8"));

    let o = gitops_env(&["render", "--app", app, "--cache", cache], None, &env);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("version: \"1.2.3\"") && out(&o).contains("color: green"), "{}", out(&o));
    assert!(err(&o).contains(&format!("shop {url} at web 1.2.3 (1.2.3): 1 objects")), "{}", err(&o));

    let o = gitops_env(&["sync", "--app", app, "--cache", cache, "--target", &target], None, &env);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("ConfigMap shop/web: created"), "{}", out(&o));
    let stored = std::fs::read_to_string(work.path().join("cluster/shop/core/ConfigMap/web.yaml")).expect("stored");
    assert!(stored.contains("version: \"1.2.3\""), "{stored}");

    let again = gitops_env(&["sync", "--app", app, "--cache", cache, "--target", &target], None, &env);
    assert_eq!(again.status.code(), Some(0), "{}{}", out(&again), err(&again));
    assert!(out(&again).contains("Synced: nothing to apply (1 object in sync)"), "{}", out(&again));
    let hits = hits.lock().expect("hits");
    assert_eq!(hits.get("/web-1.2.3.tgz"), Some(&1), "downloaded once for three runs: {hits:?}");
    assert_eq!(hits.get("/index.yaml"), Some(&3), "{hits:?}");
    drop(hits);

    // A range nothing matches is an input error naming the repository, chart and range.
    let bad = std::fs::read_to_string(app).expect("app").replace("targetRevision: 1.x", "targetRevision: 3.x");
    std::fs::write(app, bad).expect("write");
    let o = gitops_env(&["render", "--app", app, "--cache", cache], None, &env);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains(&format!("chart repository {url}: no version of chart `web` matches `3.x`")),
        "{}",
        err(&o)
    );
}

#[test]
fn repository_credentials_come_from_argo_cd_secrets() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("charts");
    std::fs::create_dir_all(&repo).expect("mkdir");
    chart_repository(&repo, &["1.0.0"]);
    // deploy:s3cr3t
    let (url, _) = serve(&repo, Some("Basic ZGVwbG95OnMzY3IzdA=="));
    let app = work.path().join("app.yaml");
    std::fs::write(
        &app,
        format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  source: {{repoURL: '{url}', chart: web, targetRevision: 1.0.0}}\n"),
    )
    .expect("write app");
    let secrets = work.path().join("repos.yaml");
    std::fs::write(
        &secrets,
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: charts, namespace: argocd, labels: {{argocd.argoproj.io/secret-type: repository}}}}\nstringData: {{type: helm, url: '{url}', username: deploy, password: s3cr3t}}\n"),
    )
    .expect("write secrets");
    let env = helm_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cache = work.path().join("cache");
    let (app, cache, secrets) =
        (app.to_str().expect("utf-8"), cache.to_str().expect("utf-8"), secrets.to_str().expect("utf-8"));
    let o = gitops_env(&["render", "--app", app, "--cache", cache], None, &env);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("HTTP 401 (check the repository's username and password)"), "{}", err(&o));
    let o = gitops_env(&["render", "--app", app, "--cache", cache, "--repo-creds", secrets], None, &env);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("version: \"1.0.0\""), "{}", out(&o));
    assert!(!err(&o).contains("s3cr3t"));
}

/// A multi-source Application: the chart from the chart repository, its values from a Git
/// repository given as a `ref` source (here its checkout, `--local URL=DIR`): synced, then a
/// second sync has nothing to do; a value changed in Git is applied by the next.
#[test]
fn a_multi_source_app_takes_its_values_from_a_ref_source() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("charts");
    std::fs::create_dir_all(&repo).expect("mkdir");
    chart_repository(&repo, &["1.2.3"]);
    let (url, _) = serve(&repo, None);
    let values = work.path().join("values");
    std::fs::create_dir_all(values.join("shop")).expect("mkdir");
    std::fs::write(values.join("shop/prod.yaml"), "color: purple\n").expect("values");
    let app = work.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop, namespace: argocd}}\nspec:\n  destination: {{namespace: shop}}\n  sources:\n  - repoURL: {url}\n    chart: web\n    targetRevision: 1.x\n    helm: {{valueFiles: [$values/shop/prod.yaml]}}\n  - repoURL: https://git.example.com/values.git\n    targetRevision: main\n    ref: values\n  syncPolicy: {{syncOptions: [CreateNamespace=true]}}\n"
        ),
    )
    .expect("write app");
    let cache = work.path().join("cache");
    let target = format!("dir:{}", work.path().join("cluster").display());
    let local = format!("https://git.example.com/values.git={}", values.display());
    let env = helm_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (app, cache) = (app.to_str().expect("utf-8"), cache.to_str().expect("utf-8"));
    let sync =
        || gitops_env(&["sync", "--app", app, "--cache", cache, "--local", &local, "--target", &target], None, &env);
    let o = sync();
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(
        out(&o).contains("ConfigMap shop/web: created") && out(&o).contains("revision: 1.2.3,local"),
        "{}",
        out(&o)
    );
    assert!(!out(&o).contains("without effect"), "spec.sources is acted on: {}", out(&o));
    let stored = work.path().join("cluster/shop/core/ConfigMap/web.yaml");
    assert!(std::fs::read_to_string(&stored).expect("stored").contains("color: purple"));
    let again = sync();
    assert!(out(&again).contains("Synced: nothing to apply (1 object in sync)"), "{}", out(&again));
    std::fs::write(values.join("shop/prod.yaml"), "color: teal\n").expect("values");
    let changed = sync();
    assert!(out(&changed).contains("ConfigMap shop/web: configured"), "{}", out(&changed));
    assert!(std::fs::read_to_string(&stored).expect("stored").contains("color: teal"));
}

/// The objects a FileCluster directory holds.
fn stored(dir: &Path) -> Vec<gitops_core::Object> {
    gitops_kube::FileCluster::new(dir).list().expect("list the directory cluster")
}

/// The Helm release records of `name` in `namespace` a directory cluster holds.
fn releases(dir: &Path, namespace: &str, name: &str) -> Vec<gitops_core::helm_storage::Release> {
    let secrets: Vec<_> =
        stored(dir).into_iter().filter(|o| o.kind() == "Secret" && o.namespace() == namespace).collect();
    gitops_core::helm_storage::history(&secrets, name).expect("release records read")
}

/// A Flux HelmRelease of a HelmRepository on loopback HTTP, with values from a ConfigMap
/// (`valuesFrom`) under inline `values`: released into a directory cluster with Helm's release
/// record (revision 1 deployed); reconciled again, nothing changes; new values are revision 2,
/// the first superseded.
#[test]
fn a_helm_release_is_installed_once_then_upgraded_when_its_values_change() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("charts");
    std::fs::create_dir_all(&repo).expect("mkdir");
    chart_repository(&repo, &["1.0.0", "1.2.3", "2.0.0"]);
    let (url, _) = serve(&repo, None);
    let app = work.path().join("release.yaml");
    let manifest = |color: &str| {
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: charts, namespace: flux-system}}\nspec: {{url: '{url}', interval: 10m}}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web-values, namespace: apps}}\ndata:\n  values.yaml: |\n    color: {color}\n    size: small\n---\n\
             apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: web, namespace: apps}}\nspec:\n  interval: 5m\n  targetNamespace: shop\n\
             \x20 chart: {{spec: {{chart: web, version: 1.x, sourceRef: {{kind: HelmRepository, name: charts, namespace: flux-system}}}}}}\n\
             \x20 valuesFrom: [{{kind: ConfigMap, name: web-values}}]\n  values: {{size: large}}\n  install: {{createNamespace: true}}\n"
        )
    };
    std::fs::write(&app, manifest("green")).expect("write the release");
    let cluster = work.path().join("cluster");
    let cache = work.path().join("cache");
    let target = format!("dir:{}", cluster.display());
    let env = helm_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (app, cache) = (app.to_str().expect("utf-8"), cache.to_str().expect("utf-8"));
    let reconcile = || gitops_env(&["reconcile", "--app", app, "--cache", cache, "--target", &target], None, &env);
    // Helm keeps its records in the HelmRelease's namespace, which must exist.
    let o = reconcile();
    assert_eq!(o.status.code(), Some(2), "{}{}", out(&o), err(&o));
    assert!(err(&o).contains("the storage namespace `apps` does not exist"), "{}", err(&o));
    assert!(!cluster.join("shop").exists(), "nothing applied: {}", out(&o));
    crate::write_under(
        &cluster,
        "_cluster/core/Namespace/apps.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n",
    );

    let o = reconcile();
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let cm = std::fs::read_to_string(cluster.join("shop/core/ConfigMap/web.yaml")).expect("the chart's ConfigMap");
    assert!(cm.contains("version: \"1.2.3\"") && cm.contains("color: green"), "{cm}");
    // Flux's origin labels and Helm's ownership marks, so helm adopts what was applied.
    for mark in [
        "helm.toolkit.fluxcd.io/name: web",
        "helm.toolkit.fluxcd.io/namespace: apps",
        "app.kubernetes.io/managed-by: Helm",
        "meta.helm.sh/release-name: shop-web",
        "meta.helm.sh/release-namespace: shop",
    ] {
        assert!(cm.contains(mark), "{mark} missing: {cm}");
    }
    // The release is `<targetNamespace>-<name>`, kept in the HelmRelease's namespace.
    let history = releases(&cluster, "apps", "shop-web");
    let [first] = history.as_slice() else { panic!("one revision: {history:?}") };
    assert_eq!((first.version, first.status.as_str()), (1, "deployed"));
    assert_eq!((first.chart(), first.namespace.as_str()), ("web-1.2.3".to_string(), "shop"));
    assert_eq!(first.config, serde_json::json!({"color": "green", "size": "large"}), "values: valuesFrom, then values");
    assert_eq!(first.description, "Install complete");
    assert!(first.manifest.contains("name: web"), "{}", first.manifest);

    let again = reconcile();
    assert_eq!(again.status.code(), Some(0), "{}{}", out(&again), err(&again));
    assert_eq!(releases(&cluster, "apps", "shop-web").len(), 1, "in sync: no new revision\n{}", out(&again));

    std::fs::write(app, manifest("teal")).expect("new values");
    let o = reconcile();
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let history = releases(&cluster, "apps", "shop-web");
    let shown: Vec<(u32, &str, &str)> =
        history.iter().map(|r| (r.version, r.status.as_str(), r.description.as_str())).collect();
    assert_eq!(shown, [(1, "superseded", "Install complete"), (2, "deployed", "Upgrade complete")]);
    let cm = std::fs::read_to_string(cluster.join("shop/core/ConfigMap/web.yaml")).expect("the chart's ConfigMap");
    assert!(cm.contains("color: teal"), "{cm}");
    let o = reconcile();
    assert_eq!(releases(&cluster, "apps", "shop-web").len(), 2, "{}{}", out(&o), err(&o));
}

/// A failed upgrade remediated as the HelmRelease says (`upgrade.remediation.retries: 1`, the
/// default strategy rollback): the failed revision recorded failed, the last good one rolled
/// back to ("Rollback to 1"), the upgrade tried once more, and then the release stalls,
/// never left on the broken revision.
#[test]
fn a_failed_helm_upgrade_is_rolled_back_then_stalls_when_retries_run_out() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("charts");
    std::fs::create_dir_all(&repo).expect("mkdir");
    // The chart puts its ConfigMap into a namespace nobody made when `broken` is set.
    let chart = work.path().join("src/web");
    crate::write_under(&chart, "Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n");
    crate::write_under(&chart, "values.yaml", "color: blue\nbroken: false\n");
    crate::write_under(
        &chart,
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n{{- if .Values.broken }}\n  namespace: nowhere\n{{- end }}\ndata:\n  color: {{ .Values.color | quote }}\n",
    );
    match real_helm() {
        Some(helm) => {
            run(Command::new(&helm).arg("package").arg(&chart).arg("-d").arg(&repo));
            run(Command::new(&helm).arg("repo").arg("index").arg(&repo));
        }
        None => {
            let archive = repo.join("web-1.0.0.tgz");
            run(Command::new("tar").arg("-czf").arg(&archive).arg("-C").arg(work.path().join("src")).arg("web"));
            let digest = run(Command::new("sha256sum").arg(&archive));
            let digest = digest.split_whitespace().next().expect("digest");
            let index = format!(
                "apiVersion: v1\nentries:\n  web:\n  - {{name: web, version: 1.0.0, urls: [web-1.0.0.tgz], digest: {digest}}}\n"
            );
            std::fs::write(repo.join("index.yaml"), index).expect("index");
        }
    }
    let (url, _) = serve(&repo, None);
    let app = work.path().join("release.yaml");
    let manifest = |values: &str| {
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: charts, namespace: apps}}\nspec: {{url: '{url}'}}\n---\n\
             apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: web, namespace: apps}}\nspec:\n  interval: 5m\n\
             \x20 chart: {{spec: {{chart: web, sourceRef: {{kind: HelmRepository, name: charts}}}}}}\n\
             \x20 upgrade: {{remediation: {{retries: 1}}}}\n  values: {values}\n"
        )
    };
    std::fs::write(&app, manifest("{color: green}")).expect("write the release");
    let cluster = work.path().join("cluster");
    crate::write_under(
        &cluster,
        "_cluster/core/Namespace/apps.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n",
    );
    let cache = work.path().join("cache");
    let target = format!("dir:{}", cluster.display());
    let env = helm_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (app, cache) = (app.to_str().expect("utf-8"), cache.to_str().expect("utf-8"));
    let reconcile = || gitops_env(&["reconcile", "--app", app, "--cache", cache, "--target", &target], None, &env);
    let history = || -> Vec<(u32, String, String)> {
        releases(&cluster, "apps", "web")
            .iter()
            .map(|r| (r.version, r.status.as_str().to_string(), r.description.clone()))
            .collect()
    };
    let color = || std::fs::read_to_string(cluster.join("apps/core/ConfigMap/web.yaml")).expect("the ConfigMap");

    let o = reconcile();
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(history(), [(1, "deployed".into(), "Install complete".into())]);

    std::fs::write(app, manifest("{color: red, broken: true}")).expect("broken values");
    let o = reconcile();
    assert_eq!(o.status.code(), Some(1), "the upgrade fails: {}{}", out(&o), err(&o));
    let h = history();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!((h[1].0, h[1].1.as_str()), (2, "failed"), "{h:?}");
    assert!(h[1].2.starts_with("Upgrade \"web\" failed: "), "{h:?}");
    assert_eq!(h[0].1, "deployed", "a failed upgrade leaves the deployed revision: {h:?}");

    // Remediated: rolled back to revision 1, whose ConfigMap (green) stays.
    let o = reconcile();
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let h = history();
    assert_eq!(h.last(), Some(&(3, "deployed".to_string(), "Rollback to 1".to_string())), "{h:?}");
    assert!(color().contains("color: green"), "{}", color());

    // Retried once more, failed and rolled back again; then out of retries: nothing more runs.
    let mut runs = 0;
    loop {
        let before = history();
        reconcile();
        runs += 1;
        if history() == before {
            break;
        }
        assert!(runs < 5, "still acting after {runs} runs: {:?}", history());
    }
    let h = history();
    let shown: Vec<(u32, &str, &str)> =
        h.iter().map(|(v, s, d)| (*v, s.as_str(), d.split(':').next().unwrap_or(""))).collect();
    assert_eq!(
        shown,
        [
            (1, "superseded", "Install complete"),
            (2, "failed", "Upgrade \"web\" failed"),
            (3, "superseded", "Rollback to 1"),
            (4, "failed", "Upgrade \"web\" failed"),
            (5, "deployed", "Rollback to 3"),
        ],
        "retried once, each failure rolled back, never left on the broken revision"
    );
    assert!(h[1].2.contains("namespace \"nowhere\" does not exist"), "the failure says why: {h:?}");
    assert!(color().contains("color: green"), "{}", color());
    let kept =
        walk_files(&cluster).into_iter().find(|p| p.to_string_lossy().ends_with(".release.json")).expect("status kept");
    let kept = std::fs::read_to_string(kept).expect("read");
    assert!(kept.contains("RetriesExceeded") && kept.contains("Failed to upgrade after 2 attempt(s)"), "{kept}");
}

/// Every file under `dir`, recursively (dot directories too).
fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// HelmReleases in a Flux tree (a root Kustomization puts them into a directory hub): `web`
/// `dependsOn` `cache`, whose chart range matches nothing. `cache` gets a condition naming the
/// repository, the chart and the range, and `web` waits for it; once `cache`'s range is fixed,
/// one run releases both, `cache` first.
#[test]
fn a_helm_release_waits_for_the_release_it_depends_on() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("charts");
    std::fs::create_dir_all(&repo).expect("mkdir");
    chart_repository(&repo, &["1.0.0"]);
    let (url, _) = serve(&repo, None);
    const GIT: &str = "https://git.example.com/helm-tree.git";
    let fleet = work.path().join("fleet");
    let root = |range: &str| {
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: fleet, namespace: flux-system}}\nspec: {{url: '{GIT}', ref: {{branch: main}}}}\n---\n\
             apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: releases, namespace: flux-system}}\nspec: {{interval: 10m, path: ./releases, prune: true, sourceRef: {{kind: GitRepository, name: fleet}}}}\n---\n\
             # {range}\n"
        )
    };
    let releases = |range: &str| {
        let release = |name: &str, range: &str, depends: &str| {
            format!(
                "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n  interval: 5m\n  releaseName: {name}\n  targetNamespace: {name}-ns\n  install: {{createNamespace: true}}\n\
                 \x20 chart: {{spec: {{chart: web, version: '{range}', sourceRef: {{kind: HelmRepository, name: charts}}}}}}\n  values: {{color: {name}}}\n{depends}"
            )
        };
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: apps}}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: charts, namespace: apps}}\nspec: {{url: '{url}'}}\n{}{}",
            release("cache", range, ""),
            release("web", "1.x", "  dependsOn: [{name: cache}]\n"),
        )
    };
    crate::write_under(&fleet, "root.yaml", &root("2.x"));
    crate::write_under(&fleet, "releases/all.yaml", &releases("2.x"));
    let hub = work.path().join("hub");
    let cache = work.path().join("cache");
    let local = format!("{GIT}={}", fleet.display());
    let target = format!("dir:{}", hub.display());
    let env = helm_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = fleet.join("root.yaml");
    let args = [
        "reconcile",
        "--app",
        app.to_str().unwrap(),
        "--local",
        &local,
        "--target",
        &target,
        "--cache",
        cache.to_str().unwrap(),
    ];
    let o = gitops_env(&args, None, &env);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", err(&o));
    assert!(text.contains(&format!("chart repository {url}: no version of chart `web` matches `2.x`")), "{text}");
    assert!(text.contains("dependency 'apps/cache' is not ready"), "{text}");
    assert!(!hub.join("cache-ns").exists() && !hub.join("web-ns").exists(), "nothing released: {text}");

    crate::write_under(&fleet, "releases/all.yaml", &releases("1.x"));
    let o = gitops_env(&args, None, &env);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    let (first, second) =
        (text.find("cache -> dir:").expect("cache passed"), text.find("web -> dir:").expect("web passed"));
    assert!(first < second, "the dependency first: {text}");
    assert_eq!(releases_of(&hub, "apps", "cache"), [(1, "deployed".to_string())]);
    assert_eq!(releases_of(&hub, "apps", "web"), [(1, "deployed".to_string())]);
    assert!(hub.join("web-ns/core/ConfigMap/web.yaml").is_file(), "{text}");

    // `web` removed from Git: pruned from the hub, it is uninstalled, records and all.
    let only_cache = releases("1.x");
    let only_cache = &only_cache[..only_cache.rfind("---\napiVersion: helm.toolkit.fluxcd.io/v2").expect("web")];
    crate::write_under(&fleet, "releases/all.yaml", only_cache);
    let o = gitops_env(&args, None, &env);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(!hub.join("web-ns/core/ConfigMap/web.yaml").exists(), "{}", out(&o));
    assert_eq!(releases_of(&hub, "apps", "web"), [], "{}", out(&o));
    assert_eq!(releases_of(&hub, "apps", "cache"), [(1, "deployed".to_string())], "the other release stays");
}

fn releases_of(dir: &Path, namespace: &str, name: &str) -> Vec<(u32, String)> {
    releases(dir, namespace, name).iter().map(|r| (r.version, r.status.as_str().to_string())).collect()
}

/// A HelmRepository behind basic auth: its `spec.secretRef` Secret (username and password, as
/// source-controller reads them) authenticates; without it the repository's 401 is named.
#[test]
fn a_helm_repository_authenticates_with_its_secret() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("charts");
    std::fs::create_dir_all(&repo).expect("mkdir");
    chart_repository(&repo, &["1.0.0"]);
    // deploy:s3cr3t
    let (url, _) = serve(&repo, Some("Basic ZGVwbG95OnMzY3IzdA=="));
    let release = |secret_ref: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: charts-auth, namespace: apps}}\ndata: {{username: ZGVwbG95, password: czNjcjN0}}\n---\n\
             apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: charts, namespace: apps}}\nspec: {{url: '{url}'{secret_ref}}}\n---\n\
             apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: web, namespace: apps}}\nspec:\n\
             \x20 chart: {{spec: {{chart: web, sourceRef: {{kind: HelmRepository, name: charts}}}}}}\n"
        )
    };
    let app = work.path().join("release.yaml");
    let cache = work.path().join("cache");
    let env = helm_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (app_path, cache) = (app.to_str().expect("utf-8"), cache.to_str().expect("utf-8"));
    std::fs::write(&app, release("")).expect("write");
    let o = gitops_env(&["render", "--app", app_path, "--cache", cache], None, &env);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("HTTP 401"), "{}", err(&o));
    std::fs::write(&app, release(", secretRef: {name: charts-auth}")).expect("write");
    let o = gitops_env(&["render", "--app", app_path, "--cache", cache], None, &env);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("version: \"1.0.0\""), "{}", out(&o));
    std::fs::write(&app, release(", secretRef: {name: nope}")).expect("write");
    let o = gitops_env(&["render", "--app", app_path, "--cache", cache], None, &env);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        err(&o).contains("`spec.secretRef.name`: Secret `apps/nope` is not among the objects given"),
        "{}",
        err(&o)
    );
}
