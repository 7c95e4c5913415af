//! `gitops sops decrypt|encrypt` against the real sops (`GITOPS_SOPS`; unset: skipped with a
//! note, set and broken: failed): files sops encrypted print as `sops --decrypt` prints them,
//! keys come from flags and from sops' environment variables, failures exit 2 naming the file
//! and the reason without a decrypted value, and files we encrypt decrypt with sops.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{err, gitops_env, out};

fn real_sops() -> Option<PathBuf> {
    match std::env::var_os("GITOPS_SOPS") {
        None => {
            eprintln!("note: GITOPS_SOPS is not set; skipping the sops CLI tests (tools/sops/build.sh builds it)");
            None
        }
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "GITOPS_SOPS={} is not a file", p.display());
            Some(p)
        }
    }
}

fn age_key(dir: &Path) -> (PathBuf, String) {
    let (identity, recipient) = gitops_secrets::sops::keys::age_generate();
    let path = dir.join("keys.txt");
    std::fs::write(&path, format!("# public key: {recipient}\n{}\n", identity.as_str())).unwrap();
    (path, recipient)
}

fn sops_cmd(sops: &Path, home: &Path) -> Command {
    let mut c = Command::new(sops);
    c.env_clear().env("HOME", home).env("GNUPGHOME", home.join("none"));
    c
}

const PLAIN: &str = "# comment\nuser: admin\npassword: hunter2 # inline\nlist:\n  - 1\n  - two\n";

#[test]
fn decrypt_prints_what_sops_prints_with_keys_from_flags_and_environment() {
    let Some(sops) = real_sops() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(dir.path());
    std::fs::write(dir.path().join("s.yaml"), PLAIN).unwrap();
    let enc = sops_cmd(&sops, dir.path())
        .args(["encrypt", "--age", &recipient])
        .arg(dir.path().join("s.yaml"))
        .output()
        .unwrap();
    assert!(enc.status.success(), "{}", String::from_utf8_lossy(&enc.stderr));
    let file = dir.path().join("s.enc.yaml");
    std::fs::write(&file, &enc.stdout).unwrap();
    let reference =
        sops_cmd(&sops, dir.path()).env("SOPS_AGE_KEY_FILE", &key).arg("decrypt").arg(&file).output().unwrap();
    assert!(reference.status.success());
    let (f, k) = (file.to_str().unwrap(), key.to_str().unwrap());
    let home = dir.path().join("home");
    let h = home.to_str().unwrap();
    let by_flag = gitops_env(&["sops", "decrypt", f, "--age-key", k], None, &[("HOME", h), ("XDG_CONFIG_HOME", "")]);
    assert_eq!(by_flag.status.code(), Some(0), "{}", err(&by_flag));
    assert_eq!(out(&by_flag).as_bytes(), &reference.stdout[..]);
    let by_file = gitops_env(&["sops", "decrypt", f], None, &[("SOPS_AGE_KEY_FILE", k), ("HOME", h)]);
    assert_eq!(out(&by_file).as_bytes(), &reference.stdout[..], "{}", err(&by_file));
    let identity = std::fs::read_to_string(&key).unwrap().lines().last().unwrap().to_string();
    let by_env = gitops_env(&["sops", "decrypt", f], None, &[("SOPS_AGE_KEY", &format!("  {identity} ")), ("HOME", h)]);
    assert_eq!(out(&by_env).as_bytes(), &reference.stdout[..], "{}", err(&by_env));
    // sops' default key file.
    std::fs::create_dir_all(home.join(".config/sops/age")).unwrap();
    std::fs::copy(&key, home.join(".config/sops/age/keys.txt")).unwrap();
    let by_default = gitops_env(&["sops", "decrypt", f], None, &[("HOME", h), ("XDG_CONFIG_HOME", "")]);
    assert_eq!(out(&by_default).as_bytes(), &reference.stdout[..], "{}", err(&by_default));
    // JSON out of YAML in.
    let json = gitops_env(&["sops", "decrypt", f, "--age-key", k, "--output-type", "json"], None, &[("HOME", h)]);
    assert!(out(&json).starts_with("{\n\t\"user\": \"admin\""), "{}", out(&json));
}

#[test]
fn failures_exit_2_naming_the_file_and_the_reason_without_plaintext() {
    let Some(sops) = real_sops() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(dir.path());
    std::fs::write(dir.path().join("s.yaml"), PLAIN).unwrap();
    let enc = sops_cmd(&sops, dir.path())
        .args(["encrypt", "--age", &recipient])
        .arg(dir.path().join("s.yaml"))
        .output()
        .unwrap();
    let text = String::from_utf8(enc.stdout).unwrap();
    let home = dir.path().join("home");
    let h = home.to_str().unwrap();
    let k = key.to_str().unwrap();
    let tampered = dir.path().join("tampered.yaml");
    std::fs::write(&tampered, text.replacen("user: ENC[AES256_GCM,data:", "user: ENC[AES256_GCM,data:AA", 1)).unwrap();
    let no_key = dir.path().join("nokey.yaml");
    std::fs::write(&no_key, &text).unwrap();
    let mac = dir.path().join("mac.yaml");
    let first = text.lines().find(|l| l.starts_with("    - ENC[")).unwrap();
    let second = text.lines().filter(|l| l.starts_with("    - ENC[")).nth(1).unwrap();
    std::fs::write(&mac, text.replacen(first, "@@", 1).replacen(second, first, 1).replacen("@@", second, 1)).unwrap();
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, text.replacen("mac: ENC[", "mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]#", 1))
        .unwrap();
    for (file, extra, reason) in [
        (&tampered, vec!["--age-key", k], "Could not decrypt value"),
        (&no_key, vec![], "no key could decrypt the data key"),
        (&other, vec!["--age-key", k], "MAC mismatch"),
    ] {
        let f = file.to_str().unwrap();
        let mut args = vec!["sops", "decrypt", f];
        args.extend(extra);
        let o = gitops_env(&args, None, &[("HOME", h), ("XDG_CONFIG_HOME", "")]);
        assert_eq!(o.status.code(), Some(2), "{f}: {}", err(&o));
        assert!(out(&o).is_empty(), "{f}: printed {}", out(&o));
        assert!(err(&o).contains(f) && err(&o).contains(reason), "{f}: {}", err(&o));
        for secret in ["hunter2", "admin", "two", "comment", "inline"] {
            assert!(!err(&o).contains(secret), "{f}: {secret} in {}", err(&o));
        }
    }
    // Two list items swapped: both still decrypt (same path) but the MAC sees the order.
    let o = gitops_env(&["sops", "decrypt", mac.to_str().unwrap(), "--age-key", k], None, &[("HOME", h)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("MAC mismatch"), "{}", err(&o));
}

#[test]
fn encrypt_follows_the_creation_rules_and_sops_decrypts_the_result() {
    let Some(sops) = real_sops() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(dir.path());
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::write(
        dir.path().join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    encrypted_regex: ^(password|list)$\n    age: {recipient}\n"),
    )
    .unwrap();
    let file = dir.path().join("secrets/app.yaml");
    std::fs::write(&file, PLAIN).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops"));
    let o = cmd.current_dir(dir.path()).args(["sops", "encrypt", "secrets/app.yaml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("user: admin")
            && !text.contains("hunter2")
            && text.contains("encrypted_regex: ^(password|list)$"),
        "{text}"
    );
    let enc = dir.path().join("secrets/app.enc.yaml");
    std::fs::write(&enc, &text).unwrap();
    let real = sops_cmd(&sops, dir.path()).env("SOPS_AGE_KEY_FILE", &key).arg("decrypt").arg(&enc).output().unwrap();
    assert!(real.status.success(), "{}", String::from_utf8_lossy(&real.stderr));
    // Comments stay plaintext under encrypted_regex, so the inline one stays inline.
    assert_eq!(
        String::from_utf8_lossy(&real.stdout),
        "# comment\nuser: admin\npassword: hunter2 # inline\nlist:\n    - 1\n    - two\n"
    );
    // No rule for the file: exit 2.
    std::fs::write(dir.path().join("other.yaml"), PLAIN).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .current_dir(dir.path())
        .args(["sops", "encrypt", "other.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no matching creation rules"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
