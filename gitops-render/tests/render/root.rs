//! The strict loader.

use std::os::unix::fs::symlink;
use std::time::Duration;

use gitops_render::root::{Error, Limits, RepoRoot};

use crate::{cm, mkfifo, within, write};

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
        let real = repo.path().canonicalize().expect("canonical");
        let expected =
            format!("{bad}: leaves the repository root {} (a wider root can be given with --root)", real.display());
        assert_eq!(e.to_string(), expected);
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

#[test]
fn special_files_are_refused_before_they_are_opened() {
    let (repo, _outside) = setup();
    mkfifo(&repo.path().join("app/pipe.yaml"));
    // A symlink that stays inside the repository but leads to a FIFO is no better.
    symlink("pipe.yaml", repo.path().join("app/via-link.yaml")).expect("symlink");
    std::fs::create_dir_all(repo.path().join("sock")).expect("mkdir");
    let socket = std::os::unix::net::UnixListener::bind(repo.path().join("sock/s.yaml")).expect("socket");
    let root = RepoRoot::new(repo.path()).expect("root");
    let r = root.clone();
    let (pipe, link, sock, listing) = within(Duration::from_secs(10), move || {
        (r.read("app/pipe.yaml"), r.read("app/via-link.yaml"), r.read("sock/s.yaml"), r.files("app", true))
    });
    let pipe = pipe.expect_err("FIFO").to_string();
    assert_eq!(pipe, "app/pipe.yaml: is a FIFO, not a regular file");
    let link = link.expect_err("link to a FIFO").to_string();
    assert_eq!(link, "app/via-link.yaml: is a FIFO, not a regular file");
    assert_eq!(sock.expect_err("socket").to_string(), "sock/s.yaml: is a socket, not a regular file");
    // Listing refuses them too, as it refuses symlinks out of the repository.
    let listing = listing.expect_err("listing").to_string();
    assert!(listing.ends_with("is a FIFO, not a regular file"), "{listing}");
    drop(socket);
    // Regular files beside them still read.
    assert_eq!(root.read("app/values.yaml").expect("read"), "a: 1\n");
}

#[test]
fn symlink_loops_are_named_shortly() {
    let (repo, _outside) = setup();
    symlink("b", repo.path().join("app/a")).expect("symlink");
    symlink("a", repo.path().join("app/b")).expect("symlink");
    let root = RepoRoot::new(repo.path()).expect("root");
    let e = root.read("app/a").expect_err("loop").to_string();
    assert_eq!(e, "app/a: a symlink loop (a -> b -> a)");
    let e = root.read("app/b/x.yaml").expect_err("loop below").to_string();
    assert_eq!(e, "app/b/x.yaml: a symlink loop (b -> a -> b)");
    let e = root.files("app", true).expect_err("listing").to_string();
    assert_eq!(e, "app/a: a symlink loop (a -> b -> a)");
}

#[test]
fn a_tree_is_copied_with_symlinks_inside_materialised_and_within_limits() {
    let (repo, outside) = setup();
    write(repo.path(), &[("shared/common.yaml", "c: 1\n"), ("app/.hidden", "h"), ("app/sub/deep.yaml", "d: 1\n")]);
    symlink("../shared/common.yaml", repo.path().join("app/common.yaml")).expect("symlink");
    symlink("../shared", repo.path().join("app/shared")).expect("symlink");
    let root = RepoRoot::new(repo.path()).expect("root");
    let dest = tempfile::tempdir().expect("tempdir");
    let limits = Limits { bytes: 1 << 20, entries: 100 };
    root.copy_tree("app", &dest.path().join("copy"), limits).expect("copy");
    let copy = dest.path().join("copy");
    for (file, content) in
        [("common.yaml", "c: 1\n"), ("shared/common.yaml", "c: 1\n"), (".hidden", "h"), ("sub/deep.yaml", "d: 1\n")]
    {
        let meta = std::fs::symlink_metadata(copy.join(file)).expect(file);
        assert!(meta.file_type().is_file(), "{file} is a plain file in the copy");
        assert_eq!(std::fs::read_to_string(copy.join(file)).expect(file), content);
    }
    assert!(std::fs::symlink_metadata(copy.join("shared")).expect("dir").file_type().is_dir());
    let small = Limits { bytes: 5, entries: 100 };
    let e = root.copy_tree("app", &dest.path().join("small"), small).expect_err("bytes");
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    let few = Limits { bytes: 1 << 20, entries: 2 };
    let e = root.copy_tree("app", &dest.path().join("few"), few).expect_err("entries");
    assert_eq!(e.to_string(), "app: too large to copy (more than 2 files and directories)");
    // What the walk refuses, the copy refuses (and `check_tree` too, reading nothing).
    symlink(outside.path().join("secret.yaml"), repo.path().join("app/sub/leak.yaml")).expect("symlink");
    let e = root.copy_tree("app", &dest.path().join("leak"), limits).expect_err("symlink out");
    assert!(e.to_string().starts_with("app/sub/leak.yaml: a symlink points outside the repository"), "{e}");
    assert!(matches!(root.check_tree("app"), Err(Error::Symlink { .. })));
}
