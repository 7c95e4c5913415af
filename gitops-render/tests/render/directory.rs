//! Argo CD's directory source.

use gitops_render::directory::{self, DirectoryOptions};
use gitops_render::root::RepoRoot;

use crate::{cm, write};

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[
            ("apps/b.yaml", &cm("b")),
            ("apps/a.yml", &cm("a")),
            ("apps/c.json", r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}"#),
            ("apps/README.md", "# not a manifest"),
            ("apps/env/prod.yaml", &cm("prod")),
            ("apps/env/dev.yaml", &cm("dev")),
            ("apps/.hidden/x.yaml", &cm("hidden")),
            ("other/z.yaml", &cm("z")),
        ],
    );
    dir
}

fn names(root: &RepoRoot, path: &str, options: DirectoryOptions) -> Vec<String> {
    directory::render(root, path, &options).expect("render").iter().map(|o| o.name().to_string()).collect()
}

#[test]
fn top_level_only_by_default_in_path_order() {
    let dir = repo();
    let root = RepoRoot::new(dir.path()).expect("root");
    assert_eq!(names(&root, "apps", DirectoryOptions::default()), ["a", "b", "c"]);
    assert_eq!(
        names(&root, "apps", DirectoryOptions { recurse: true, ..Default::default() }),
        ["a", "b", "c", "dev", "prod"]
    );
}

#[test]
fn include_and_exclude_globs_match_relative_paths() {
    let dir = repo();
    let root = RepoRoot::new(dir.path()).expect("root");
    let opts = |include: Option<&str>, exclude: Option<&str>| DirectoryOptions {
        recurse: true,
        include: include.map(str::to_string),
        exclude: exclude.map(str::to_string),
    };
    assert_eq!(names(&root, "apps", opts(Some("*.yaml"), None)), ["b", "dev", "prod"]);
    assert_eq!(names(&root, "apps", opts(None, Some("{env/*,c.json}"))), ["a", "b"]);
    assert_eq!(names(&root, "apps", opts(Some("env/*"), Some("*dev*"))), ["prod"]);
    let e = directory::render(&root, "apps", &opts(Some("[a"), None)).expect_err("bad glob");
    assert!(e.to_string().starts_with("directory.include: `[a` is not a valid glob"), "{e}");
}

#[test]
fn a_directory_outside_the_repository_is_refused() {
    let dir = repo();
    let root = RepoRoot::new(dir.path().join("apps")).expect("root");
    let e = directory::render(&root, "../other", &DirectoryOptions::default()).expect_err("escape");
    let real = dir.path().join("apps").canonicalize().expect("canonical");
    let expected =
        format!("../other: leaves the repository root {} (a wider root can be given with --root)", real.display());
    assert_eq!(e.to_string(), expected);
}

#[test]
fn a_fifo_among_the_manifests_is_refused_without_blocking() {
    let dir = repo();
    crate::mkfifo(&dir.path().join("apps/pipe.yaml"));
    let root = RepoRoot::new(dir.path()).expect("root");
    let e = crate::within(std::time::Duration::from_secs(10), move || {
        directory::render(&root, "apps", &DirectoryOptions::default())
    })
    .expect_err("FIFO");
    assert_eq!(e.to_string(), "apps/pipe.yaml: is a FIFO, not a regular file");
}

#[test]
fn jsonnet_files_are_refused_not_skipped_unless_excluded() {
    let dir = repo();
    write(dir.path(), &[("apps/env/app.jsonnet", "{a: 1}"), ("apps/lib.libsonnet", "{}")]);
    let root = RepoRoot::new(dir.path()).expect("root");
    // Not reached without recurse; a .libsonnet is a library, not rendered on its own.
    assert_eq!(names(&root, "apps", DirectoryOptions::default()), ["a", "b", "c"]);
    let recurse = DirectoryOptions { recurse: true, ..Default::default() };
    let e = directory::render(&root, "apps", &recurse).expect_err("jsonnet").to_string();
    assert_eq!(
        e,
        "apps/env/app.jsonnet: Jsonnet is not supported (Argo CD's directory source renders .jsonnet files); leave it \
         out with directory.exclude"
    );
    let excluded = DirectoryOptions { exclude: Some("*.jsonnet".into()), ..recurse };
    assert_eq!(names(&root, "apps", excluded), ["a", "b", "c", "dev", "prod"]);
}
