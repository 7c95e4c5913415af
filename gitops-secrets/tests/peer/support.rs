//! Finding the real programs, temporary directories, keys.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The program named by `var`, or `None` (with a note) when unset. Set but unusable: panic.
pub fn program(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        None => {
            eprintln!("note: {var} is not set; skipping the test against the real program");
            None
        }
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "{var}={} is not a file", path.display());
            Some(path)
        }
    }
}

/// Runs a command, returning its output (never panics on a non-zero exit).
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

/// A temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A fresh age identity file in `dir`; returns (path, identity text, recipient).
pub fn age_key(dir: &Path, name: &str) -> (PathBuf, String, String) {
    let (identity, recipient) = gitops_secrets::sops::keys::age_generate();
    let path = dir.join(name);
    std::fs::write(&path, format!("# created: test\n# public key: {recipient}\n{}\n", identity.as_str())).unwrap();
    (path, identity.to_string(), recipient)
}

/// A GnuPG home with a new key without passphrase (`algo` as gpg's --quick-gen-key takes it:
/// `rsa1024`, `rsa3072`, `ed25519/cv25519`...); returns (home, fingerprint).
pub fn gpg_key(dir: &Path, name: &str, algo: &str) -> (PathBuf, String) {
    let home = dir.join(format!("gnupg-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let (primary, sub) = algo.split_once('/').unwrap_or((algo, algo));
    let out = run(Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key"])
        .arg(format!("{name} <{name}@example.invalid>"))
        .args([primary, "cert", "never"]));
    assert!(out.status.success(), "gpg --quick-gen-key: {}", String::from_utf8_lossy(&out.stderr));
    let fp = fingerprint(&home);
    let out = run(Command::new("gpg").env("GNUPGHOME", &home).args([
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-add-key",
        &fp,
        sub,
        "encr",
        "never",
    ]));
    assert!(out.status.success(), "gpg --quick-add-key: {}", String::from_utf8_lossy(&out.stderr));
    (home, fp)
}

fn fingerprint(home: &Path) -> String {
    let out = run(Command::new("gpg").env("GNUPGHOME", home).args(["--batch", "--with-colons", "--list-secret-keys"]));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find(|l| l.starts_with("fpr:")).and_then(|l| l.split(':').nth(9)).expect("a fingerprint").to_string()
}

/// The armored secret keys of a GnuPG home.
pub fn gpg_export_secret(home: &Path) -> Vec<u8> {
    let out = run(Command::new("gpg").env("GNUPGHOME", home).args([
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--armor",
        "--export-secret-keys",
    ]));
    assert!(out.status.success(), "gpg --export-secret-keys: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The armored public keys of a GnuPG home.
pub fn gpg_export_public(home: &Path) -> Vec<u8> {
    let out = run(Command::new("gpg").env("GNUPGHOME", home).args(["--batch", "--armor", "--export"]));
    assert!(out.status.success());
    out.stdout
}
