//! The strict loader.

use std::os::unix::fs::symlink;

use gitops_render::root::{Error, RepoRoot};

use crate::{cm, write};

fn setup() -> (tempfile::TempDir, tempfile::TempDir) {
    let repo = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    write(repo.path(), &[("app/values.yaml", "a: 1\n"), ("app/cm.yaml", &cm("x"))]);
    write(outside.path(), &[("secret.yaml", "token: s3cr3t\n"), ("dir/cm.yaml", &cm("stolen"))]);
    (repo, outside)
}

#[test]
fn paths_inside_the_root_resolve() {
    let (repo, _outside) = setup();
    let root = RepoRoot::new(repo.path()).expect("root");
    assert_eq!(root.read("app/values.yaml").expect("read"), "a: 1\n");
    assert_eq!(root.read("./app/../app/values.yaml").expect("read"), "a: 1\n");
    // A symlink that stays inside is followed.
    symlink(repo.path().join("app/values.yaml"), repo.path().join("app/link.yaml")).expect("symlink");
    assert_eq!(root.read("app/link.yaml").expect("read"), "a: 1\n");
}

#[test]
fn parent_and_absolute_paths_are_refused() {
    let (repo, outside) = setup();
    let root = RepoRoot::new(repo.path()).expect("root");
    for bad in ["../secret.yaml", "app/../../secret.yaml", "app/../../../etc/passwd", ".."] {
        let e = root.read(bad).expect_err(bad);
        assert!(matches!(e, Error::Escapes { .. }), "{bad}: {e}");
        assert_eq!(e.to_string(), format!("{bad}: leaves the repository root"));
    }
    let abs = outside.path().join("secret.yaml");
    let e = root.read(abs.to_str().expect("utf-8")).expect_err("absolute");
    assert!(matches!(e, Error::Absolute { .. }), "{e}");
    assert!(e.to_string().contains("absolute paths are not allowed"));
}

#[test]
fn symlinks_out_of_the_root_are_refused_files_and_directories() {
    let (repo, outside) = setup();
    symlink(outside.path().join("secret.yaml"), repo.path().join("app/secret.yaml")).expect("symlink");
    symlink(outside.path().join("dir"), repo.path().join("app/dir")).expect("symlink");
    let root = RepoRoot::new(repo.path()).expect("root");
    let e = root.read("app/secret.yaml").expect_err("file symlink");
    assert!(matches!(e, Error::Symlink { .. }), "{e}");
    assert!(e.to_string().starts_with("app/secret.yaml: a symlink points outside the repository"), "{e}");
    assert!(!e.to_string().contains("s3cr3t"));
    assert!(matches!(root.read("app/dir/cm.yaml"), Err(Error::Symlink { .. })));
    // Listing refuses them too, even when they would not be read.
    let e = root.files("app", true).expect_err("listing");
    assert!(matches!(e, Error::Symlink { .. }), "{e}");
}

#[test]
fn symlink_cycles_inside_the_root_end() {
    let (repo, _outside) = setup();
    symlink(repo.path().join("app"), repo.path().join("app/again")).expect("symlink");
    let root = RepoRoot::new(repo.path()).expect("root");
    let files = root.files("app", true).expect("files");
    assert_eq!(files, ["app/cm.yaml", "app/values.yaml"]);
}

#[test]
fn flux_source_ignore_rules_leave_files_out() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(
        repo.path(),
        &[
            ("deploy/app.yaml", &cm("app")),
            ("deploy/secret/raw.yaml", &cm("raw")),
            ("deploy/test/fixture.yaml", &cm("fixture")),
            ("deploy/.sourceignore", "secret/\n"),
            ("docs/logo.png", "png"),
            ("docs/guide.yaml", &cm("guide")),
        ],
    );
    let root = RepoRoot::new(repo.path()).expect("root").with_source_ignore(Some("/deploy/test/\n")).expect("ignore");
    assert_eq!(root.files(".", true).expect("files"), ["deploy/app.yaml", "docs/guide.yaml"]);
    let e = root.read("deploy/secret/raw.yaml").expect_err("ignored");
    assert!(e.to_string().contains("excluded from the source by its ignore rules"), "{e}");
    assert!(root.read("deploy/app.yaml").is_ok());
    // `spec.ignore` comes last and can bring a file back.
    let back = RepoRoot::new(repo.path()).expect("root").with_source_ignore(Some("!docs/logo.png\n")).expect("ignore");
    assert!(back.files("docs", false).expect("files").contains(&"docs/logo.png".to_string()));
}
