//! `gitops image select`: the tag a Flux ImagePolicy or an Argo CD Image Updater image selects
//! from a tags file, and the exit statuses (0 chosen, 1 none qualifies, 2 bad input).

use std::path::Path;

use crate::{err, gitops, out};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8").to_string()
}

/// `gitops image select ARGS...`: (exit code, stdout, stderr).
fn select(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["image", "select"];
    all.extend(args);
    let o = gitops(&all, None);
    (o.status.code().unwrap_or(-1), out(&o), err(&o))
}

const TAGS: &str = "\
1.0.0
1.2.0
v1.3.0
1.10.0-rc.1
1.9
sha256-0123.sig
main-abc-100
main-def-300
main-fed-200
latest
";

fn flux_policy(policy: &str) -> String {
    format!(
        "apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: flux-system}}
spec:
  image: ghcr.io/org/app
  exclusionList: ['^latest$']
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {{name: app, namespace: flux-system}}
spec:
  imageRepositoryRef: {{name: app}}
{policy}"
    )
}

#[test]
fn flux_policies_select_from_a_tags_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tags = write(dir.path(), "tags.txt", TAGS);
    // (policy body, chosen)
    let table = [
        ("  policy: {semver: {range: '>=1.0.0'}}\n", "v1.3.0"),
        ("  policy: {semver: {range: '>=1.0.0-0'}}\n", "1.10.0-rc.1"),
        ("  policy: {semver: {range: '~1.2'}}\n", "1.2.0"),
        (
            "  filterTags: {pattern: '^main-[a-f]+-(?P<ts>[0-9]+)', extract: '$ts'}\n  policy: {numerical: {order: asc}}\n",
            "main-def-300",
        ),
        ("  filterTags: {pattern: '^main-'}\n  policy: {alphabetical: {order: desc}}\n", "main-abc-100"),
        // The ImageRepository's exclusionList replaces the default: `.sig` tags stay, `latest` goes.
        ("  filterTags: {pattern: '\\.sig$|^latest$'}\n  policy: {alphabetical: {}}\n", "sha256-0123.sig"),
        // Bytes: `v` sorts after every digit.
        ("  policy: {alphabetical: {}}\n", "v1.3.0"),
    ];
    for (body, want) in table {
        let policy = write(dir.path(), "policy.yaml", &flux_policy(body));
        let (code, stdout, stderr) = select(&["--tags", &tags, "--policy", &policy]);
        assert_eq!((code, stdout.as_str()), (0, format!("{want}\n").as_str()), "{body}: {stderr}");
    }
    // Without its ImageRepository, Flux's default exclusion drops the signature tags.
    let alone = flux_policy("  filterTags: {pattern: '\\.sig$|^latest$'}\n  policy: {alphabetical: {}}\n");
    let alone = alone.split("---\n").nth(1).expect("the policy");
    let policy = write(dir.path(), "alone.yaml", alone);
    let (code, stdout, _) = select(&["--tags", &tags, "--policy", &policy]);
    assert_eq!((code, stdout.as_str()), (0, "latest\n"));
}

#[test]
fn no_qualifying_tag_exits_1_and_bad_input_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tags = write(dir.path(), "tags.txt", TAGS);
    let none = write(dir.path(), "none.yaml", &flux_policy("  policy: {semver: {range: '>=5.0.0'}}\n"));
    let (code, stdout, stderr) = select(&["--tags", &tags, "--policy", &none]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("unable to determine latest version"), "{stderr}");
    let numeric = write(dir.path(), "num.yaml", &flux_policy("  policy: {numerical: {}}\n"));
    let (code, _, stderr) = select(&["--tags", &tags, "--policy", &numeric]);
    assert_eq!(code, 1);
    assert!(stderr.contains("failed to parse invalid numeric value"), "{stderr}");
    let empty = write(dir.path(), "empty.txt", "\n");
    let (code, _, stderr) = select(&["--tags", &empty, "--policy", &none]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no tags"), "{stderr}");

    // Invalid policies, files that do not read: 2, naming the file and field.
    let cases = [
        (flux_policy("  policy: {semver: {range: '>=a.b'}}\n"), "spec.policy.semver.range"),
        (flux_policy("  filterTags: {pattern: '(oops'}\n  policy: {alphabetical: {}}\n"), "spec.filterTags.pattern"),
        (flux_policy("  policy: {alphabetical: {order: sideways}}\n"), "invalid order argument"),
        ("kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n".to_string(), "no ImagePolicy"),
    ];
    for (text, want) in cases {
        let policy = write(dir.path(), "bad.yaml", &text);
        let (code, stdout, stderr) = select(&["--tags", &tags, "--policy", &policy]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{want}");
        assert!(stderr.contains(want) && stderr.contains("bad.yaml"), "{want}: {stderr}");
    }
    let (code, _, stderr) = select(&["--tags", "/nonexistent/tags", "--policy", &none]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/tags"), "{stderr}");
    let bad_time = write(dir.path(), "times.txt", "1.0.0\tyesterday\n");
    let (code, _, stderr) = select(&["--tags", &bad_time, "--policy", &none]);
    assert_eq!(code, 2);
    assert!(stderr.contains("times.txt:1") && stderr.contains("RFC 3339"), "{stderr}");
}

fn argo_app(annotations: &str, live: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: web=ghcr.io/org/web:~1.2, tools=org/tools
{annotations}spec:
  project: default
  source: {{repoURL: 'https://example.invalid/repo.git', path: app}}
  destination: {{server: 'https://kubernetes.default.svc', namespace: web}}
status:
  summary:
    images: [{live}]
"
    )
}

#[test]
fn argo_image_updater_annotations_select_and_say_what_would_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tags = write(
        dir.path(),
        "tags.txt",
        "1.2.0\t2024-01-01T00:00:00Z\n1.2.7\t2024-01-03T00:00:00Z\nv1.2.7\t2024-01-02T00:00:00Z\n1.3.0\t2024-02-01T00:00:00Z\nnightly\t2024-03-01T00:00:00Z\n",
    );
    // (annotations, alias, live images, chosen, what stderr says)
    let table = [
        ("", "web", "'ghcr.io/org/web:1.2.0'", "v1.2.7", "update ghcr.io/org/web:1.2.0 to tag v1.2.7"),
        ("", "web", "'ghcr.io/org/web:v1.2.7'", "v1.2.7", "up to date"),
        // Down as well as up: the live tag is outside ~1.2.
        ("", "web", "'ghcr.io/org/web:1.3.0'", "v1.2.7", "update ghcr.io/org/web:1.3.0 to tag v1.2.7"),
        ("", "web", "'nginx:1'", "v1.2.7", "not live"),
        ("    argocd-image-updater.argoproj.io/web.update-strategy: newest-build\n", "web", "", "nightly", ""),
        (
            "    argocd-image-updater.argoproj.io/web.update-strategy: latest\n    argocd-image-updater.argoproj.io/web.ignore-tags: 'night*'\n",
            "web",
            "",
            "1.3.0",
            "renamed",
        ),
        ("    argocd-image-updater.argoproj.io/update-strategy: name\n", "tools", "", "v1.2.7", ""),
        ("    argocd-image-updater.argoproj.io/tools.allow-tags: 'regexp:^1\\.2'\n", "tools", "", "1.2.7", ""),
    ];
    for (annotations, alias, live, want, note) in table {
        let app = write(dir.path(), "app.yaml", &argo_app(annotations, live));
        let (code, stdout, stderr) = select(&["--tags", &tags, "--app", &app, "--image", alias]);
        assert_eq!((code, stdout.as_str()), (0, format!("{want}\n").as_str()), "{annotations} {live}: {stderr}");
        assert!(stderr.contains(note), "{annotations} {live}: {stderr}");
    }

    // No qualifying tag: 1. A bad allow-tags value allows nothing (a warning), so 1 as well.
    let app =
        write(dir.path(), "app.yaml", &argo_app("    argocd-image-updater.argoproj.io/tools.allow-tags: '^1'\n", ""));
    let (code, stdout, stderr) = select(&["--tags", &tags, "--app", &app, "--image", "tools"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("no tag is allowed") && stderr.contains("no tag of 5 qualifies"), "{stderr}");

    // Invalid annotations: 2.
    let cases = [
        (argo_app("", ""), "nope", "no image \"nope\""),
        (
            argo_app("    argocd-image-updater.argoproj.io/tools.update-strategy: digest\n", ""),
            "tools",
            "without a version constraint",
        ),
        (
            argo_app("    argocd-image-updater.argoproj.io/web.update-strategy: newest-build\n", ""),
            "web",
            "needs each tag's creation time",
        ),
        (argo_app("", "").replace("ghcr.io/org/web:~1.2", "ghcr.io/org/web:~x.y"), "web", "invalid constraint"),
        (
            argo_app("", "").replace("argocd-image-updater.argoproj.io/image-list", "other"),
            "web",
            "no argocd-image-updater.argoproj.io/image-list",
        ),
    ];
    for (text, alias, want) in cases {
        let app = write(dir.path(), "bad-app.yaml", &text);
        let plain = write(dir.path(), "plain.txt", "1.2.0\n1.3.0\n");
        let (code, stdout, stderr) = select(&["--tags", &plain, "--app", &app, "--image", alias]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{want}: {stderr}");
        assert!(stderr.contains(want) && stderr.contains("bad-app.yaml"), "{want}: {stderr}");
    }
}
