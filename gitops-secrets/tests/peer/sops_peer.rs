//! Files encrypted by the real sops decrypt with ours to the very bytes `sops --decrypt` prints,
//! files encrypted by ours decrypt with the real sops, and every failure is refused by both.

use std::path::{Path, PathBuf};
use std::process::Command;

use gitops_secrets::sops::creation_rules::rule_for;
use gitops_secrets::sops::keys::pgp_public_keys;
use gitops_secrets::sops::{self, DecryptError, Format, Identities};

use crate::support::{age_key, gpg_export_public, gpg_export_secret, gpg_key, program, run, tempdir};

const NOW: &str = "2024-05-06T07:08:09Z";

const YAML: &str = r#"# top comment

apiVersion: v1   # inline
kind: Secret
metadata:
  name: foo
  labels: {a: b, c: "d"}
stringData:
  # head of password
  password: hunter2
  num: 42
  neg: -7
  octal: 0o17
  flt: 1.50
  big: 1e7
  "yes": true
  off: off
  nul: null
  tilde: ~
  date: 2001-12-14
  stamp: 2001-12-14t21:59:43.10-05:00
  quoted: "123"
  single: 'it''s'
  colon: "a: b"
  hash: "a #b"
  lead: " x"
  multi: |
    line1
    line2
  keep: |+
    kept

  strip: |-
    stripped
  folded: >
    a b
    c
  unicode: "héllo ✓ 😀"
  tab: "a\tb"
  empty: ""
  emptymap: {}
  emptylist: []
  list:
  - one
  # before two
  - 2
  - {x: 1, y: [a, b]}
  - - nested
    - seq
  nested:
    deeper:
      deepest: value   # deep inline
    # foot of nested
  pw_unencrypted: plain
# foot
"#;

const SECOND_DOC: &str = "---\n# second\nanother: doc\nlist:\n  - 1\n";

struct Sops {
    bin: PathBuf,
    home: PathBuf,
}

impl Sops {
    fn new(bin: PathBuf, dir: &Path) -> Sops {
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Sops { bin, home }
    }

    /// Runs sops with only the given keys available.
    fn cmd(&self, env: &[(&str, &Path)]) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_clear().env("HOME", &self.home).env("PATH", std::env::var_os("PATH").unwrap_or_default());
        c.env("GNUPGHOME", self.home.join("no-gnupg"));
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    fn encrypt(&self, file: &Path, args: &[&str], env: &[(&str, &Path)]) -> Vec<u8> {
        // `--config` is a global flag: before the command.
        let (global, args) = if args.first() == Some(&"--config") { args.split_at(2) } else { (&[][..], args) };
        let out = run(self.cmd(env).args(global).arg("encrypt").args(args).arg(file));
        assert!(out.status.success(), "sops encrypt {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn decrypt(&self, file: &Path, args: &[&str], env: &[(&str, &Path)]) -> Result<Vec<u8>, String> {
        let out = run(self.cmd(env).arg("decrypt").args(args).arg(file));
        if out.status.success() { Ok(out.stdout) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
    }
}

fn age_ids(path: &Path) -> Identities {
    let mut ids = Identities::new();
    ids.add_age(&std::fs::read_to_string(path).unwrap(), false).unwrap();
    ids
}

fn ours(name: &str, bytes: &[u8], format: Format, ids: &Identities) -> Result<Vec<u8>, DecryptError> {
    sops::decrypt(name, bytes, format, format, ids).map(|z| z.to_vec())
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Encrypts `plain` (named `name`) with the real sops for an age key, then checks that ours
/// prints exactly what the real `sops --decrypt` prints.
fn same_as_sops(sops: &Sops, dir: &Path, name: &str, plain: &[u8], extra: &[&str]) -> Vec<u8> {
    same_as_sops_with(sops, dir, name, plain, extra, None)
}

/// As [`same_as_sops`], with a creation rule's extra lines in a `.sops.yaml` (`--config`).
fn same_as_sops_with(sops: &Sops, dir: &Path, name: &str, plain: &[u8], extra: &[&str], rule: Option<&str>) -> Vec<u8> {
    let (key, _, recipient) = age_key(dir, &format!("{name}.key"));
    let path = dir.join(name);
    std::fs::write(&path, plain).unwrap();
    let config = dir.join("sops-config.yaml");
    let config_arg = config.to_string_lossy().into_owned();
    let mut args = vec!["--age", recipient.as_str()];
    if let Some(rule) = rule {
        std::fs::write(&config, format!("creation_rules:\n  - age: {recipient}\n{rule}")).unwrap();
        args = vec!["--config", config_arg.as_str()];
    }
    args.extend_from_slice(extra);
    let encrypted = sops.encrypt(&path, &args, &[]);
    let enc_path = dir.join(format!("enc.{name}"));
    std::fs::write(&enc_path, &encrypted).unwrap();
    let real = sops.decrypt(&enc_path, &[], &[("SOPS_AGE_KEY_FILE", &key)]).expect("the real sops decrypts");
    let format = Format::from_path(name);
    let mine = ours(name, &encrypted, format, &age_ids(&key)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(show(&mine), show(&real), "{name}: our decryption differs from sops --decrypt");
    encrypted
}

#[test]
fn yaml_from_sops_decrypts_byte_for_byte() {
    let Some(bin) = program("GITOPS_SOPS") else { return };
    let dir = tempdir();
    let sops = Sops::new(bin, dir.path());
    let plain = format!("{YAML}{SECOND_DOC}");
    let encrypted = same_as_sops(&sops, dir.path(), "secret.yaml", plain.as_bytes(), &[]);
    let text = show(&encrypted);
    assert!(!text.contains("hunter2") && text.contains("pw_unencrypted: plain"));
}

#[test]
fn every_format_from_sops_decrypts_byte_for_byte() {
    let Some(bin) = program("GITOPS_SOPS") else { return };
    let dir = tempdir();
    let sops = Sops::new(bin, dir.path());
    let json = r#"{"a": 1, "b": {"c": [true, 1.5, null, "x<y>&"]}, "d": "s\n\"q\"", "e": 1e3, "f": {}, "g": [], "h_unencrypted": 2, "t": 0.0000001}"#;
    same_as_sops(&sops, dir.path(), "secret.json", json.as_bytes(), &[]);
    same_as_sops(
        &sops,
        dir.path(),
        "secret.env",
        b"# a comment\nA=1\nB=hello world\nC=multi\\nline\nD_unencrypted=x\n",
        &[],
    );
    same_as_sops(&sops, dir.path(), "secret.bin", b"binary data\nwith lines\n", &[]);
    // Named by the type flags, as `--input-type`.
    same_as_sops(&sops, dir.path(), "other.yaml", b"k: v\n", &["--input-type", "yaml", "--output-type", "yaml"]);
}

#[test]
fn the_file_rules_and_mac_only_encrypted_are_honoured() {
    let Some(bin) = program("GITOPS_SOPS") else { return };
    let dir = tempdir();
    let sops = Sops::new(bin, dir.path());
    let plain = "data:\n  password: p1\n  user: admin\nspec:\n  replicas: 3\n# sops:enc\nsecret: s\nplain: x\n";
    for (rule, field) in [
        ("    encrypted_regex: ^(data|stringData)$\n", "encrypted_regex: ^(data|stringData)$"),
        ("    unencrypted_regex: ^spec$\n    mac_only_encrypted: true\n", "mac_only_encrypted: true"),
        ("    encrypted_suffix: word\n", "encrypted_suffix: word"),
        ("    encrypted_comment_regex: sops:enc\n", "encrypted_comment_regex: sops:enc"),
        ("    unencrypted_comment_regex: sops:enc\n", "unencrypted_comment_regex: sops:enc"),
    ] {
        let encrypted = same_as_sops_with(&sops, dir.path(), "rules.yaml", plain.as_bytes(), &[], Some(rule));
        assert!(show(&encrypted).contains(field), "{rule}: the rule is in the metadata: {}", show(&encrypted));
    }
}

#[test]
fn openpgp_keys_from_gpg_and_go_openpgp_rsa_1024_and_several_keys_per_file() {
    let Some(bin) = program("GITOPS_SOPS") else { return };
    let dir = tempdir();
    let sops = Sops::new(bin, dir.path());
    let plain = dir.path().join("p.yaml");
    std::fs::write(&plain, "password: hunter2\nn: 1\n").unwrap();
    let (home_small, fp_small) = gpg_key(dir.path(), "small", "rsa1024");
    let (home_ecc, fp_ecc) = gpg_key(dir.path(), "ecc", "ed25519/cv25519");
    // gpg encrypts (GnuPG's keybox, no pubring.gpg for Go's openpgp).
    for (home, fp) in [(&home_small, &fp_small), (&home_ecc, &fp_ecc)] {
        let encrypted = sops.encrypt(&plain, &["--pgp", fp], &[("GNUPGHOME", home)]);
        let real = sops.decrypt(&write(dir.path(), "g.enc.yaml", &encrypted), &[], &[("GNUPGHOME", home)]).unwrap();
        let mut ids = Identities::new();
        ids.add_pgp(&gpg_export_secret(home)).unwrap();
        assert_eq!(show(&ours("g.yaml", &encrypted, Format::Yaml, &ids).unwrap()), show(&real), "{fp}");
    }
    // Go's openpgp encrypts: only a legacy pubring.gpg, no gpg keyring.
    let go_home = dir.path().join("go-openpgp");
    std::fs::create_dir_all(&go_home).unwrap();
    let public = run(Command::new("gpg").env("GNUPGHOME", &home_small).args(["--batch", "--export", &fp_small]));
    std::fs::write(go_home.join("pubring.gpg"), &public.stdout).unwrap();
    let encrypted = sops.encrypt(&plain, &["--pgp", &fp_small], &[("GNUPGHOME", &go_home)]);
    // A key file with several keys: the one that opens is the second.
    let mut both = gpg_export_secret(&home_ecc);
    both.extend(gpg_export_secret(&home_small));
    let mut ids = Identities::new();
    assert_eq!(ids.add_pgp(&both).unwrap(), 2);
    let mine = ours("go.yaml", &encrypted, Format::Yaml, &ids).unwrap();
    // `n` is a YAML 1.1 boolean, so go-yaml quotes it.
    assert_eq!(show(&mine), "password: hunter2\n\"n\": 1\n");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn age_and_pgp_recipients_in_one_file_each_open_it() {
    let Some(bin) = program("GITOPS_SOPS") else { return };
    let dir = tempdir();
    let sops = Sops::new(bin, dir.path());
    let (key, _, recipient) = age_key(dir.path(), "a.key");
    let (home, fp) = gpg_key(dir.path(), "mixed", "rsa3072");
    let plain = write(dir.path(), "m.yaml", b"token: abc\n");
    let encrypted = sops.encrypt(&plain, &["--age", &recipient, "--pgp", &fp], &[("GNUPGHOME", &home)]);
    assert_eq!(show(&ours("m.yaml", &encrypted, Format::Yaml, &age_ids(&key)).unwrap()), "token: abc\n");
    let mut ids = Identities::new();
    ids.add_pgp(&gpg_export_secret(&home)).unwrap();
    assert_eq!(show(&ours("m.yaml", &encrypted, Format::Yaml, &ids).unwrap()), "token: abc\n");
}

#[test]
fn tampering_and_wrong_keys_are_refused_without_plaintext() {
    let Some(bin) = program("GITOPS_SOPS") else { return };
    let dir = tempdir();
    let sops = Sops::new(bin, dir.path());
    let (key, _, recipient) = age_key(dir.path(), "t.key");
    let plain = write(dir.path(), "t.yaml", b"password: hunter2\nother: s3cr3t\nnote_unencrypted: public\n");
    let encrypted = show(&sops.encrypt(&plain, &["--age", &recipient], &[]));
    let ids = age_ids(&key);
    let check = |name: &str, text: &str, want: &str| {
        let err = ours(name, text.as_bytes(), Format::Yaml, &ids).expect_err(name).to_string();
        assert!(err.contains(want) && err.starts_with(name), "{name}: {err}");
        assert!(!err.contains("hunter2") && !err.contains("s3cr3t"), "{name}: plaintext in {err}");
        let real = sops.decrypt(&write(dir.path(), name, text.as_bytes()), &[], &[("SOPS_AGE_KEY_FILE", &key)]);
        assert!(real.is_err(), "{name}: the real sops accepts it");
    };
    // An unencrypted value changed: only the MAC tells.
    check(
        "plain-changed.yaml",
        &encrypted.replace("note_unencrypted: public", "note_unencrypted: changed"),
        "MAC mismatch",
    );
    // Two encrypted values swapped: their paths no longer match.
    let lines: Vec<&str> = encrypted.lines().collect();
    let (p, o) = (lines[0].trim_start_matches("password: "), lines[1].trim_start_matches("other: "));
    let swapped = encrypted.replacen(p, "@@", 1).replacen(o, p, 1).replacen("@@", o, 1);
    check("swapped.yaml", &swapped, "Could not decrypt value");
    // The MAC itself changed.
    let mac_line = encrypted.lines().find(|l| l.trim_start().starts_with("mac: ")).unwrap();
    let other_mac = mac_line.replacen("data:", "data:A", 1);
    check("mac.yaml", &encrypted.replace(mac_line, &other_mac), "MAC mismatch");
    // A key that is not the file's.
    let (_, other_identity, _) = age_key(dir.path(), "other.key");
    let mut wrong = Identities::new();
    wrong.add_age(&other_identity, false).unwrap();
    let err = ours("wrong.yaml", encrypted.as_bytes(), Format::Yaml, &wrong).unwrap_err().to_string();
    assert!(err.contains("no key could decrypt the data key"), "{err}");
    let err = ours("none.yaml", encrypted.as_bytes(), Format::Yaml, &Identities::new()).unwrap_err().to_string();
    assert!(err.contains("no key could decrypt the data key"), "{err}");
}

#[test]
fn files_we_encrypt_decrypt_with_the_real_sops() {
    let Some(bin) = program("GITOPS_SOPS") else { return };
    let dir = tempdir();
    let sops = Sops::new(bin, dir.path());
    let (key, _, recipient) = age_key(dir.path(), "e.key");
    let (home, fp) = gpg_key(dir.path(), "enc", "rsa1024");
    let public = pgp_public_keys(&gpg_export_public(&home)).unwrap();
    let config = format!(
        "creation_rules:\n  - path_regex: only-age\\.yaml$\n    age: {recipient}\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {recipient}\n    pgp: {fp}\n  - path_regex: groups\\.json$\n    key_groups:\n      - age: [{recipient}]\n      - pgp: [{fp}]\n  - age: {recipient}\n"
    );
    let cases: [(&str, &[u8]); 5] = [
        ("only-age.yaml", YAML.as_bytes()),
        ("app.yaml", b"kind: Secret\nstringData:\n  a: b # c\n  n: 5\nmetadata:\n  name: x\n"),
        ("groups.json", br#"{"a": {"b": [1, "two", false]}}"#),
        ("x.env", b"A=1\n#c\nB=two\n"),
        ("blob.bin", b"\x01binary\n"),
    ];
    for (name, plain) in cases {
        let rule = rule_for(config.as_bytes(), name).unwrap();
        let format = Format::from_path(name);
        let encrypted = sops::encrypt(name, plain, format, &rule, &public, NOW).unwrap_or_else(|e| panic!("{e}"));
        let path = write(dir.path(), name, encrypted.as_bytes());
        let env: [(&str, &Path); 2] = [("SOPS_AGE_KEY_FILE", &key), ("GNUPGHOME", &home)];
        let real = sops.decrypt(&path, &[], &env).unwrap_or_else(|e| panic!("{name}: sops --decrypt: {e}"));
        // What the real sops prints for its own encryption of the same plaintext.
        let reference_path = write(dir.path(), &format!("ref-{name}"), plain);
        let reference = sops.encrypt(&reference_path, &["--age", &recipient], &[]);
        let reference = sops.decrypt(&write(dir.path(), &format!("ref-enc-{name}"), &reference), &[], &env).unwrap();
        assert_eq!(show(&real), show(&reference), "{name}");
        if name == "groups.json" {
            // Two groups: both keys are needed (shamir_threshold = 2).
            assert!(sops.decrypt(&path, &[], &[("SOPS_AGE_KEY_FILE", &key)]).is_err());
            let mut ids = age_ids(&key);
            ids.add_pgp(&gpg_export_secret(&home)).unwrap();
            assert_eq!(show(&ours(name, encrypted.as_bytes(), format, &ids).unwrap()), show(&real));
        }
    }
}
