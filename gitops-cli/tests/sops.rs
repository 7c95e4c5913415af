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

/// A Flux Kustomization with `spec.decryption`: its SOPS-encrypted Secret (encrypted by the
/// real sops when `GITOPS_SOPS` names it, else by `gitops sops encrypt`) is decrypted with the
/// age key of the decryption Secret the target holds, applied, and no output of either sync
/// holds the plaintext; a second sync applies nothing. A missing or wrong key stops the sync
/// before anything is applied, naming the Secret or the reason.
#[test]
fn a_flux_kustomization_decrypts_its_secrets_with_the_targets_key_and_never_prints_them() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = gitops_secrets::sops::keys::age_generate();
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(seed.join("apps")).unwrap();
    std::fs::write(
        seed.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: .*\\.env$\n    age: {recipient}\n  - path_regex: .*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {recipient}\n"),
    )
    .unwrap();
    let plain = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: web}\nstringData:\n  password: correct-horse-battery-staple\n";
    std::fs::write(seed.join("apps/db.yaml"), plain).unwrap();
    let encrypted = match real_sops() {
        Some(sops) => {
            let o =
                sops_cmd(&sops, dir.path()).current_dir(&seed).args(["--encrypt", "apps/db.yaml"]).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap()
        }
        None => {
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_gitops"))
                .current_dir(&seed)
                .args(["sops", "encrypt", "apps/db.yaml"])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap()
        }
    };
    assert!(!encrypted.contains("correct-horse"), "encrypted");
    std::fs::write(seed.join("apps/db.yaml"), &encrypted).unwrap();
    // A secretGenerator over an encrypted dotenv file: decrypted before the build, as Flux does.
    std::fs::write(seed.join("apps/app.env"), "API_TOKEN=tr0ub4dor-and-3\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gitops"))
        .current_dir(&seed)
        .args(["sops", "encrypt", "apps/app.env"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("tr0ub4dor"));
    std::fs::write(seed.join("apps/app.env"), &o.stdout).unwrap();
    std::fs::write(
        seed.join("apps/kustomization.yaml"),
        "resources: [ns.yaml, db.yaml]\nsecretGenerator:\n  - name: app\n    namespace: web\n    envs: [app.env]\n    options: {disableNameSuffixHash: true}\n",
    )
    .unwrap();
    std::fs::write(seed.join("apps/ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n").unwrap();
    let git = |d: &Path, args: &[&str]| crate::git_in(d, args);
    git(&seed, &["init", "--quiet"]);
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "--quiet", "-m", "encrypted"]);
    let bare = dir.path().join("repo.git");
    git(dir.path(), &["clone", "--quiet", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()]);
    let ks = dir.path().join("ks.yaml");
    std::fs::write(
        &ks,
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: apps, namespace: flux-system}}\nspec: {{url: '{}', ref: {{branch: main}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: apps, namespace: flux-system}}\nspec:\n  path: ./apps\n  prune: true\n  sourceRef: {{kind: GitRepository, name: apps}}\n  decryption: {{provider: sops, secretRef: {{name: sops-age}}}}\n",
            bare.display()
        ),
    )
    .unwrap();
    let target = dir.path().join("cluster");
    let key_secret = |identity: &str| {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{identity}\n"));
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: sops-age, namespace: flux-system}}\ndata: {{age.agekey: {encoded}}}\n"
        )
    };
    let cache = dir.path().join("cache");
    let env = [("GITOPS_CACHE", cache.to_str().unwrap())];
    let sync = || {
        gitops_env(
            &["sync", "--app", ks.to_str().unwrap(), "--target", &format!("dir:{}", target.display())],
            None,
            &env,
        )
    };

    // No decryption Secret in the target yet: named, nothing applied.
    std::fs::create_dir_all(target.join("flux-system")).unwrap();
    let missing = sync();
    assert_ne!(missing.status.code(), Some(0));
    assert!(err(&missing).contains("Secret flux-system/sops-age not found in the target"), "{}", err(&missing));
    assert!(!target.join("web").exists(), "nothing applied");
    // A key that is not the file's.
    let (other, _) = gitops_secrets::sops::keys::age_generate();
    let key_path = target.join("flux-system/core/Secret/sops-age.yaml");
    std::fs::create_dir_all(key_path.parent().unwrap()).unwrap();
    std::fs::write(&key_path, key_secret(other.as_str())).unwrap();
    let wrong = sync();
    assert_ne!(wrong.status.code(), Some(0));
    // The generator's file is the first to need the key: it is named, with the reason.
    assert!(
        err(&wrong).contains("envs: failed to decrypt app.env: no key could decrypt the data key"),
        "{}",
        err(&wrong)
    );
    assert!(!target.join("web/core/Secret").exists(), "nothing applied");

    std::fs::write(&key_path, key_secret(identity.as_str())).unwrap();
    let first = sync();
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), err(&first));
    let second = sync();
    assert_eq!(second.status.code(), Some(0), "{}{}", out(&second), err(&second));
    assert!(out(&second).contains("nothing to apply"), "{}", out(&second));
    let stored = std::fs::read_to_string(target.join("web/core/Secret/db.yaml")).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode("correct-horse-battery-staple");
    assert!(stored.contains(&encoded), "the Secret holds the decrypted value as the API server keeps it: {stored}");
    let generated = std::fs::read_to_string(target.join("web/core/Secret/app.yaml")).unwrap();
    let token = base64::engine::general_purpose::STANDARD.encode("tr0ub4dor-and-3");
    assert!(generated.contains(&format!("API_TOKEN: {token}")), "{generated}");
    // Never printed, never in a status, never in the Git cache.
    for (what, text) in
        [("first", format!("{}{}", out(&first), err(&first))), ("second", format!("{}{}", out(&second), err(&second)))]
    {
        assert!(
            !text.contains("correct-horse") && !text.contains(&encoded) && !text.contains("tr0ub4dor"),
            "{what} sync printed the secret: {text}"
        );
    }
    for root in [&target, &cache] {
        for file in walk(root) {
            if file.ends_with("web/core/Secret/db.yaml") || file.ends_with("web/core/Secret/app.yaml") {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            for secret in ["correct-horse", &encoded, "tr0ub4dor", &token] {
                assert!(!text.contains(secret), "{} holds a secret", file.display());
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
