//! `gitops seal` and `gitops unseal`: Sealed Secrets as kubeseal makes them (`--cert`,
//! `--scope`, `--merge-into`, `--raw`) and opens them offline (`--recovery-private-key`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, ValueEnum};
use gitops_render::regular;
use gitops_secrets::sealed::{self, Scope};
use serde_json::Value;

/// Output formats of SealedSecrets and Secrets.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// JSON (kubeseal's default).
    Json,
    /// YAML.
    Yaml,
}

/// Arguments of `gitops seal`.
#[derive(Args, Debug)]
pub struct SealArgs {
    /// The Secret (YAML or JSON; `-` or nothing: standard input). Not with `--raw`.
    pub file: Option<PathBuf>,
    /// The controller's public certificate (PEM), as `kubeseal --fetch-cert` saves it.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// strict (the default: name and namespace), namespace-wide or cluster-wide; overrides the
    /// Secret's `sealedsecrets.bitnami.com/*` annotations.
    #[arg(long, value_name = "SCOPE", value_parser = parse_scope)]
    pub scope: Option<Scope>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "json")]
    pub format: Format,
    /// Seal the Secret's values into this SealedSecret file (under its name and namespace),
    /// rewriting it in place (atomically) instead of printing.
    #[arg(long, value_name = "FILE", conflicts_with = "raw")]
    pub merge_into: Option<PathBuf>,
    /// Seal one value (`--from-file`) and print its base64 ciphertext.
    #[arg(long, requires = "from_file")]
    pub raw: bool,
    /// With `--raw`: the Secret's name (needed in the strict scope).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// With `--raw`: the Secret's namespace (needed unless cluster-wide).
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// With `--raw`: the file holding the value (`[KEY=]FILE`, as kubectl's).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<String>,
}

/// Arguments of `gitops unseal`.
#[derive(Args, Debug)]
pub struct UnsealArgs {
    /// The SealedSecret (YAML or JSON; `-` or nothing: standard input).
    pub file: Option<PathBuf>,
    /// The controller's private keys: PEM files, or its key Secrets (or a List of them) as
    /// backed up from the cluster (repeatable).
    #[arg(long = "recovery-private-key", value_name = "FILE", required = true)]
    pub keys: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "json")]
    pub format: Format,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::from_name(s).ok_or_else(|| format!("unknown scope {s:?} (strict, namespace-wide or cluster-wide)"))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    regular::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The input file or standard input, with its name for messages.
fn input(file: Option<&Path>) -> Result<(String, String), String> {
    match file.filter(|f| f != &Path::new("-")) {
        Some(path) => {
            let bytes = read(path)?;
            let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8", path.display()))?;
            Ok((path.display().to_string(), text))
        }
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("standard input: {e}"))?;
            Ok(("standard input".into(), text))
        }
    }
}

/// The single object of a YAML or JSON text.
fn one_object(name: &str, text: &str) -> Result<Value, String> {
    let mut objects = gitops_core::manifest::parse(name, text).map_err(|e| e.to_string())?;
    match objects.len() {
        1 => Ok(objects.remove(0).into_value()),
        n => Err(format!("{name}: expected one object, found {n}")),
    }
}

fn print(value: &Value, format: Format) -> Result<(), String> {
    let text = match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(value).map_err(|e| e.to_string())?),
        Format::Yaml => gitops_render::kustomize::to_yaml(std::slice::from_ref(value)),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| format!("writing output: {e}"))
}

/// `gitops seal`; `Err` exits 2.
pub fn seal(args: SealArgs) -> Result<ExitCode, String> {
    let cert = read(&args.cert)?;
    let key = sealed::public_key_from_cert(&cert).map_err(|e| format!("{}: {e}", args.cert.display()))?;
    if args.raw {
        let spec = args.from_file.as_deref().unwrap_or_default();
        let path = Path::new(spec.split_once('=').map_or(spec, |(_, f)| f));
        let value = zeroize::Zeroizing::new(read(path)?);
        let scope = args.scope.unwrap_or_default();
        let namespace = args.namespace.as_deref().unwrap_or("");
        let name = args.name.as_deref().unwrap_or("");
        let sealed = sealed::seal_raw(&key, &value, namespace, name, scope)
            .map_err(|e| format!("--raw: {e} (give --namespace and, in the strict scope, --name)"))?;
        let mut out = std::io::stdout().lock();
        out.write_all(sealed.as_bytes()).and_then(|()| out.flush()).map_err(|e| format!("writing output: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let (name, text) = input(args.file.as_deref())?;
    let secret = one_object(&name, &text)?;
    match &args.merge_into {
        None => {
            let sealed =
                sealed::seal_secret(&secret, &key, args.scope, None, None).map_err(|e| format!("{name}: {e}"))?;
            print(&sealed, args.format)?;
        }
        Some(target) => {
            let existing_text =
                String::from_utf8(read(target)?).map_err(|_| format!("{}: not UTF-8", target.display()))?;
            let existing = one_object(&target.display().to_string(), &existing_text)?;
            let merged = sealed::merge_into(&existing, &secret, &key, args.scope)
                .map_err(|e| format!("{}: {e}", target.display()))?;
            // Keep the file's format: JSON stays JSON.
            let json = existing_text.trim_start().starts_with('{');
            let text = if json {
                format!("{}\n", serde_json::to_string_pretty(&merged).map_err(|e| e.to_string())?)
            } else {
                gitops_render::kustomize::to_yaml(std::slice::from_ref(&merged))
            };
            gitops_render::regular::write_atomic(target, text.as_bytes())
                .map_err(|e| format!("{}: {e}", target.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gitops unseal`; `Err` exits 2.
pub fn unseal(args: UnsealArgs) -> Result<ExitCode, String> {
    let mut keys = Vec::new();
    for path in &args.keys {
        keys.extend(private_keys(path)?);
    }
    let (name, text) = input(args.file.as_deref())?;
    let sealed_secret = one_object(&name, &text)?;
    let secret = sealed::unseal(&sealed_secret, &keys).map_err(|e| format!("{name}: {e}"))?;
    print(&secret, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// The keys of a PEM file, or of the controller's key Secrets (`data."tls.key"`, a List too).
pub(crate) fn private_keys(path: &Path) -> Result<Vec<rsa::RsaPrivateKey>, String> {
    let bytes = zeroize::Zeroizing::new(read(path)?);
    let at = |e: String| format!("{}: {e}", path.display());
    if let Ok(key) = sealed::private_key_from_pem(&bytes) {
        return Ok(vec![key]);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| at("not a PEM key nor a Secret".into()))?;
    let objects = gitops_core::manifest::parse(&path.display().to_string(), text).map_err(|e| at(e.to_string()))?;
    let mut secrets = Vec::new();
    for object in objects {
        let value = object.into_value();
        match value.get("items").and_then(Value::as_array) {
            Some(items) => secrets.extend(items.iter().cloned()),
            None => secrets.push(value),
        }
    }
    let mut keys = Vec::new();
    for secret in secrets {
        let encoded = secret
            .pointer("/data/tls.key")
            .and_then(Value::as_str)
            .ok_or_else(|| at("secret must contain a 'tls.key' key".into()))?;
        let pem = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| at(e.to_string()))?,
        );
        keys.push(sealed::private_key_from_pem(&pem).map_err(|e| at(e.to_string()))?);
    }
    if keys.is_empty() {
        return Err(at("no private key found".into()));
    }
    Ok(keys)
}
