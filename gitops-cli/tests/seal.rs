//! `gitops seal` / `gitops unseal` against the real kubeseal (`GITOPS_KUBESEAL`; unset: the
//! kubeseal halves are skipped with a note, set and broken: failed). A controller key pair is
//! made with `openssl`. Proves: ours unseals kubeseal's SealedSecrets, kubeseal
//! `--recovery-unseal` opens ours, scopes bind values to the name and namespace, `--raw` and
//! `--merge-into` work, and errors exit 2 without values.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{err, gitops, out};

fn kubeseal() -> Option<PathBuf> {
    match std::env::var_os("GITOPS_KUBESEAL") {
        None => {
            eprintln!(
                "note: GITOPS_KUBESEAL is not set; skipping the kubeseal halves (tools/kubeseal/build.sh builds it)"
            );
            None
        }
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "GITOPS_KUBESEAL={} is not a file", p.display());
            Some(p)
        }
    }
}

/// A controller key pair: (private key PEM, certificate PEM).
fn controller_keys(dir: &Path) -> (PathBuf, PathBuf) {
    let (key, cert) = (dir.join("tls.key"), dir.join("tls.crt"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=sealed-secret"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    (key, cert)
}

fn kubeseal_run(bin: &Path, dir: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(bin)
        .env_clear()
        .env("HOME", dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubeseal");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: team\n  labels: {app: db}\ntype: Opaque\nstringData:\n  password: hunter2\ndata:\n  user: YWRtaW4=\n";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn data_of(secret: &str) -> Value {
    let v: Value = serde_json::from_str(secret).unwrap_or_else(|e| panic!("{e}: {secret}"));
    v["data"].clone()
}

#[test]
fn sealed_by_us_unsealed_by_us_and_bound_to_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = controller_keys(dir.path());
    let secret = dir.path().join("secret.yaml");
    std::fs::write(&secret, SECRET).unwrap();
    let sealed = gitops(&["seal", s(&secret), "--cert", s(&cert)], None);
    assert_eq!(sealed.status.code(), Some(0), "{}", err(&sealed));
    assert!(!out(&sealed).contains("hunter2") && !out(&sealed).contains("YWRtaW4="));
    let sealed_path = dir.path().join("sealed.json");
    std::fs::write(&sealed_path, out(&sealed)).unwrap();
    let opened = gitops(&["unseal", s(&sealed_path), "--recovery-private-key", s(&key)], None);
    assert_eq!(opened.status.code(), Some(0), "{}", err(&opened));
    assert_eq!(data_of(&out(&opened)), serde_json::json!({"password": "aHVudGVyMg==", "user": "YWRtaW4="}));
    // Strict: under another name it does not open, and the error names the keys only.
    let renamed = dir.path().join("renamed.json");
    std::fs::write(&renamed, out(&sealed).replace("\"db\"", "\"other\"")).unwrap();
    let refused = gitops(&["unseal", s(&renamed), "--recovery-private-key", s(&key)], None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(err(&refused).contains("password") && !err(&refused).contains("hunter2"), "{}", err(&refused));
    // Namespace-wide: another name opens, another namespace does not.
    let wide = gitops(&["seal", s(&secret), "--cert", s(&cert), "--scope", "namespace-wide"], None);
    let text = out(&wide);
    assert!(text.contains("sealedsecrets.bitnami.com/namespace-wide"));
    let other_name = dir.path().join("wide.json");
    std::fs::write(&other_name, text.replace("\"db\"", "\"other\"")).unwrap();
    let o = gitops(&["unseal", s(&other_name), "--recovery-private-key", s(&key)], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    std::fs::write(&other_name, text.replace("\"team\"", "\"elsewhere\"")).unwrap();
    assert_eq!(gitops(&["unseal", s(&other_name), "--recovery-private-key", s(&key)], None).status.code(), Some(2));
    // A key that is not the controller's.
    let other = tempfile::tempdir().unwrap();
    let (other_key, _) = controller_keys(other.path());
    let o = gitops(&["unseal", s(&sealed_path), "--recovery-private-key", s(&other_key)], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no key could decrypt secret") && out(&o).is_empty(), "{}", err(&o));
}

#[test]
fn interoperates_with_kubeseal_raw_and_merge_into() {
    let Some(bin) = kubeseal() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = controller_keys(dir.path());
    // kubeseal seals, we unseal.
    let theirs = kubeseal_run(&bin, dir.path(), &["--cert", s(&cert), "-o", "yaml"], SECRET);
    assert!(theirs.status.success(), "{}", String::from_utf8_lossy(&theirs.stderr));
    let theirs_path = dir.path().join("theirs.yaml");
    std::fs::write(&theirs_path, &theirs.stdout).unwrap();
    let opened = gitops(&["unseal", s(&theirs_path), "--recovery-private-key", s(&key)], None);
    assert_eq!(opened.status.code(), Some(0), "{}", err(&opened));
    assert_eq!(data_of(&out(&opened)), serde_json::json!({"password": "aHVudGVyMg==", "user": "YWRtaW4="}));
    // We seal (each scope), kubeseal unseals.
    let secret = dir.path().join("secret.yaml");
    std::fs::write(&secret, SECRET).unwrap();
    for scope in ["strict", "namespace-wide", "cluster-wide"] {
        let ours = gitops(&["seal", s(&secret), "--cert", s(&cert), "--scope", scope], None);
        assert_eq!(ours.status.code(), Some(0), "{}", err(&ours));
        let back = kubeseal_run(
            &bin,
            dir.path(),
            &["--recovery-unseal", "--recovery-private-key", s(&key), "-o", "json"],
            &out(&ours),
        );
        assert!(back.status.success(), "{scope}: {}", String::from_utf8_lossy(&back.stderr));
        assert_eq!(
            data_of(&String::from_utf8_lossy(&back.stdout)),
            serde_json::json!({"password": "aHVudGVyMg==", "user": "YWRtaW4="})
        );
    }
    // --raw: one value for team/db, put into a SealedSecret; kubeseal's --raw likewise, ours opens it.
    let value = dir.path().join("value.txt");
    std::fs::write(&value, "raw-secret").unwrap();
    let raw = gitops(
        &["seal", "--cert", s(&cert), "--raw", "--name", "db", "--namespace", "team", "--from-file", s(&value)],
        None,
    );
    assert_eq!(raw.status.code(), Some(0), "{}", err(&raw));
    let wrapped = format!(
        "{{\"apiVersion\":\"bitnami.com/v1alpha1\",\"kind\":\"SealedSecret\",\"metadata\":{{\"name\":\"db\",\"namespace\":\"team\"}},\"spec\":{{\"encryptedData\":{{\"v\":\"{}\"}},\"template\":{{\"metadata\":{{\"name\":\"db\",\"namespace\":\"team\"}}}}}}}}",
        out(&raw)
    );
    let back = kubeseal_run(
        &bin,
        dir.path(),
        &["--recovery-unseal", "--recovery-private-key", s(&key), "-o", "json"],
        &wrapped,
    );
    assert!(back.status.success(), "{}", String::from_utf8_lossy(&back.stderr));
    assert_eq!(data_of(&String::from_utf8_lossy(&back.stdout))["v"], "cmF3LXNlY3JldA==");
    let theirs_raw = kubeseal_run(
        &bin,
        dir.path(),
        &["--cert", s(&cert), "--raw", "--name", "db", "--namespace", "team", "--from-file", s(&value)],
        "",
    );
    assert!(theirs_raw.status.success(), "{}", String::from_utf8_lossy(&theirs_raw.stderr));
    let wrapped_theirs = wrapped.replace(&out(&raw), &String::from_utf8_lossy(&theirs_raw.stdout));
    let wrapped_path = dir.path().join("raw.json");
    std::fs::write(&wrapped_path, wrapped_theirs).unwrap();
    let opened = gitops(&["unseal", s(&wrapped_path), "--recovery-private-key", s(&key)], None);
    assert_eq!(data_of(&out(&opened))["v"], "cmF3LXNlY3JldA==", "{}", err(&opened));
    // --merge-into kubeseal's file: a new key added, the old ones kept; kubeseal opens the result.
    let update = dir.path().join("update.yaml");
    std::fs::write(&update, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ignored\nstringData:\n  token: t0k3n\n")
        .unwrap();
    let merged = gitops(&["seal", s(&update), "--cert", s(&cert), "--merge-into", s(&theirs_path)], None);
    assert_eq!(merged.status.code(), Some(0), "{}", err(&merged));
    let text = std::fs::read_to_string(&theirs_path).unwrap();
    let back =
        kubeseal_run(&bin, dir.path(), &["--recovery-unseal", "--recovery-private-key", s(&key), "-o", "json"], &text);
    assert!(back.status.success(), "{}", String::from_utf8_lossy(&back.stderr));
    assert_eq!(
        data_of(&String::from_utf8_lossy(&back.stdout)),
        serde_json::json!({"password": "aHVudGVyMg==", "user": "YWRtaW4=", "token": "dDBrM24="})
    );
}

/// `gitops diff --sealed-secrets-key`: a SealedSecret sealed again with the same values is
/// told apart from one whose values changed, and which keys changed is said without a value.
#[test]
fn diff_with_the_controller_key_names_the_keys_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = controller_keys(dir.path());
    let seal = |name: &str, secret: &str| {
        let input = dir.path().join(format!("{name}-secret.yaml"));
        std::fs::write(&input, secret).unwrap();
        let o = gitops(&["seal", s(&input), "--cert", s(&cert), "-o", "yaml"], None);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, out(&o)).unwrap();
        path
    };
    let live = seal("live", SECRET);
    let again = seal("again", SECRET);
    let changed =
        seal("changed", &SECRET.replace("hunter2", "hunter3").replace("  user: YWRtaW4=\n", "  token: dA==\n"));
    let diff = |desired: &Path| gitops(&["diff", s(desired), s(&live), "--sealed-secrets-key", s(&key)], None);
    let o = diff(&again);
    assert_eq!(o.status.code(), Some(1), "the ciphertexts differ: {}", err(&o));
    assert!(out(&o).contains("SealedSecret team/db: values unchanged (sealed again)"), "{}", out(&o));
    let o = diff(&changed);
    assert!(
        out(&o).contains("SealedSecret team/db: values changed: password; added: token; removed: user"),
        "{}",
        out(&o)
    );
    assert!(!out(&o).contains("hunter") && !out(&o).contains("YWRtaW4="), "{}", out(&o));
}
