//! Hostile and broken input through the CLI: identities that would leave the target, hostile
//! app fields, kubeconfigs holding tokens, unbounded standard input, a full disk, and dry runs
//! that must not take the target's lock.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{err, gitops, out};

fn app(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: '{name}', namespace: argocd}}
spec:
  destination: {{namespace: '{namespace}'}}
  source: {{repoURL: https://git.example.com/shop.git, targetRevision: main, path: deploy}}
  syncPolicy: {{syncOptions: [CreateNamespace=true]}}
"
    )
}

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: blue}\n";

fn repo(app_yaml: &str, manifests: &str) -> tempfile::TempDir {
    crate::app_repo(app_yaml, manifests)
}

fn sync(dir: &Path, extra: &[&str]) -> std::process::Output {
    crate::sync_local(dir, extra)
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("inside").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn identities_an_api_server_refuses_never_become_paths() {
    // Each object aims at a file outside the target `<repo>/.gitops/cluster`; one aims at an
    // empty file that exists, which the old code overwrote. (The custom kinds name their
    // namespace: without one, or a CRD, its scope is unknown and the whole sync is refused.)
    let hostile = "apiVersion: v1
kind: ConfigMap
metadata: {name: x, namespace: '../../escaped-ns'}
---
apiVersion: '../../../outside-grp/v1'
kind: Foo
metadata: {name: yy, namespace: shop}
---
apiVersion: v1
kind: '../../../../victim'
metadata: {name: zz, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: '../../../../../victim2/zz'}
";
    let dir = repo(&app("shop", "shop"), &format!("{hostile}---\n{CONFIG_MAP}"));
    std::fs::create_dir_all(dir.path().join("victim")).expect("mkdir");
    std::fs::write(dir.path().join("victim/zz.yaml"), "").expect("canary");
    let before = files(dir.path());
    let o = sync(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    let stdout = out(&o);
    for field in ["metadata.namespace: Invalid value", "apiVersion: Invalid value", "kind: Invalid value"] {
        assert!(stdout.contains(field), "{field}: {stdout}");
    }
    assert!(stdout.contains("metadata.name: Invalid value"), "{stdout}");
    assert_eq!(std::fs::read(dir.path().join("victim/zz.yaml")).expect("canary"), b"", "the canary is untouched");
    let outside: Vec<PathBuf> =
        files(dir.path()).into_iter().filter(|f| !f.starts_with(".gitops") && !before.contains(f)).collect();
    assert!(outside.is_empty(), "files written outside the target: {outside:?}");
    // The valid object was synced into the target.
    assert!(dir.path().join(".gitops/cluster/shop/core/ConfigMap/settings.yaml").is_file(), "{stdout}");
}

#[test]
fn hostile_app_names_and_namespaces_are_refused_before_anything_is_written() {
    for (name, namespace, field) in [
        ("../../x", "shop", "metadata.name"),
        ("shop", "../../../etc", "spec.destination.namespace"),
        ("shop", "Shop", "spec.destination.namespace"),
    ] {
        let dir = repo(&app(name, namespace), CONFIG_MAP);
        let before = files(dir.path());
        let o = sync(dir.path(), &[]);
        assert_eq!(o.status.code(), Some(2), "{name} {namespace}: {}", out(&o));
        assert!(err(&o).contains(&format!("field `{field}`: Invalid value")), "{}", err(&o));
        assert_eq!(files(dir.path()), before, "nothing written");
    }
    let o = gitops(&["diff", "-n", "../x", "examples/shop/desired", "examples/shop/live"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("not an RFC 1123 label"), "{}", err(&o));
}

#[test]
fn kubeconfig_errors_name_the_file_and_line_but_never_its_contents() {
    let dir = repo(&app("shop", "shop"), CONFIG_MAP);
    let cases = [
        "users:\n- name: dev\n  user:\n    token: SECRET-TOKEN-1\n    bad: [unclosed\n",
        "users:\n- name: dev\n  user: {token: SECRET-TOKEN-2, client-key-data: 12}\ncontexts: 7\n",
        "users: 'SECRET-TOKEN-3'\n",
        "contexts: [{name: dev, context: {cluster: c, user: dev}}]\nclusters: [{name: c, cluster: {server: \
         'https://127.0.0.1:1'}}]\nusers: [{name: dev, user: {client-certificate-data: '!SECRET-TOKEN-4'}}]\n",
    ];
    for (i, body) in cases.iter().enumerate() {
        let kubeconfig = dir.path().join(format!("kubeconfig-{i}"));
        std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\ncurrent-context: dev\n{body}"))
            .expect("write");
        let o = sync(dir.path(), &["--target", "kube", "--kubeconfig", kubeconfig.to_str().expect("utf-8")]);
        let all = format!("{}{}", out(&o), err(&o));
        assert_eq!(o.status.code(), Some(2), "{all}");
        assert!(!all.contains("SECRET-TOKEN"), "the kubeconfig's contents leak: {all}");
        assert!(all.contains("contents not shown"), "{all}");
        if i < 3 {
            assert!(all.contains(&format!("kubeconfig-{i}: ")) && all.contains(" line "), "{all}");
        }
    }
}

#[test]
fn standard_input_is_capped() {
    let zero = std::fs::File::open("/dev/zero").expect("/dev/zero");
    let o = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["diff", "-", "examples/shop/live"])
        .current_dir(crate::repo())
        .stdin(Stdio::from(zero))
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("-: larger than 256 MiB"), "{}", err(&o));
}

/// Runs `gitops` and waits at most `limit`, killing it after that.
fn run_within(args: &[&str], limit: Duration) -> Option<std::process::Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn a_dry_run_takes_no_lock_and_writes_nothing() {
    let dir = repo(&app("shop", "shop"), CONFIG_MAP);
    let target = dir.path().join("target");
    let target_arg = format!("dir:{}", target.display());
    let app_path = dir.path().join("app.yaml");
    let args = |extra: &[&'static str]| {
        let mut a: Vec<String> =
            ["sync", "--app", app_path.to_str().expect("utf-8"), "--local"].iter().map(|s| s.to_string()).collect();
        a.push(dir.path().display().to_string());
        a.extend(["--target".to_string(), target_arg.clone()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: &[String]| run_within(&a.iter().map(String::as_str).collect::<Vec<_>>(), Duration::from_secs(30));
    // On a target that does not exist, a dry run creates nothing.
    let o = run(&args(&["--dry-run"])).expect("finishes");
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("created (dry run)"), "{}", out(&o));
    assert!(!target.exists(), "a dry run made the target");
    let o = run(&args(&[])).expect("finishes");
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    // While another sync holds the lock, a dry run still runs, and changes nothing.
    std::fs::write(dir.path().join("deploy/all.yaml"), CONFIG_MAP.replace("blue", "green")).expect("write");
    let before: Vec<(PathBuf, Vec<u8>)> =
        files(&target).into_iter().map(|f| (f.clone(), std::fs::read(target.join(&f)).expect("read"))).collect();
    let held = gitops_kube::FileCluster::new(&target).lock().expect("lock");
    let o = run(&args(&["--dry-run"])).expect("a dry run waited for the lock");
    drop(held);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("configured (dry run)"), "{}", out(&o));
    let after: Vec<(PathBuf, Vec<u8>)> =
        files(&target).into_iter().map(|f| (f.clone(), std::fs::read(target.join(&f)).expect("read"))).collect();
    assert_eq!(before, after, "a dry run wrote to the target");
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(bytes: usize) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_ends_the_sync_with_exit_1_and_its_summary() {
    let Some(disk) = Tmpfs::mount(48 * 1024) else {
        // Mounting needs root (CI runs as root); said out loud rather than passed silently.
        eprintln!("SKIPPED a_full_disk_ends_the_sync_with_exit_1_and_its_summary: cannot mount a tmpfs here");
        return;
    };
    let manifests: String = (0..40)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{i}}}\ndata: {{a: '{}'}}\n---\n",
                "x".repeat(2000)
            )
        })
        .collect();
    let dir = repo(&app("shop", "shop"), &manifests);
    let target = format!("dir:{}", disk.0.path().join("c").display());
    let o = sync(dir.path(), &["--target", &target]);
    let stdout = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{}", err(&o));
    assert!(stdout.contains("No space left on device"), "{stdout}");
    assert!(stdout.contains("KIND") && stdout.contains(" failed\n"), "the summary is printed: {stdout}");
    // Every object file written is whole.
    let c = gitops_kube::FileCluster::new(disk.0.path().join("c"));
    let listed = c.list().expect("every stored file reads whole");
    assert!(listed.len() < 40, "the disk was not full: {}", listed.len());
}

#[test]
fn a_repository_cannot_link_the_default_target_elsewhere() {
    let dir = repo(&app("shop", "shop"), CONFIG_MAP);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".gitops")).expect("mkdir");
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(".gitops/cluster")).expect("symlink");
    let o = sync(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains(".gitops/cluster: is a symlink"), "{}", err(&o));
    assert_eq!(files(elsewhere.path()), Vec::<PathBuf>::new());
    // A link inside the target (a committed `.gitops/cluster/shop`) is not followed either.
    std::fs::remove_file(dir.path().join(".gitops/cluster")).expect("rm");
    std::fs::create_dir_all(dir.path().join(".gitops/cluster")).expect("mkdir");
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(".gitops/cluster/shop")).expect("symlink");
    let o = sync(dir.path(), &[]);
    assert_ne!(o.status.code(), Some(0), "{}", out(&o));
    assert!(format!("{}{}", out(&o), err(&o)).contains("is a symlink"), "{}{}", out(&o), err(&o));
    assert_eq!(files(elsewhere.path()), Vec::<PathBuf>::new());
}
