//! `gitops sops decrypt|encrypt`: SOPS files, as `sops --decrypt` and `sops --encrypt` print
//! them. Keys come from files named on the command line and, as sops reads them, from
//! `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE` and the user's `sops/age/keys.txt`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gitops_render::regular;
use gitops_secrets::sops::{self, Format, Identities, creation_rules, keys};

/// Subcommands of `gitops sops`.
#[derive(Subcommand, Debug)]
pub enum SopsCommand {
    /// Decrypt a SOPS file to standard output, exactly as `sops --decrypt` prints it.
    ///
    /// Keys: `--age-key` and `--pgp-key` files, `SOPS_AGE_KEY` (identities separated by blanks),
    /// `SOPS_AGE_KEY_FILE`, and `$XDG_CONFIG_HOME/sops/age/keys.txt` (else
    /// `~/.config/sops/age/keys.txt`).
    ///
    /// Exit status: 0 decrypted, 2 on bad usage or when the file cannot be decrypted (the
    /// message names the file and why: no key could decrypt the data key, MAC mismatch, ...;
    /// nothing decrypted is printed).
    Decrypt(DecryptArgs),
    /// Encrypt a file by the first `.sops.yaml` creation rule whose `path_regex` matches it
    /// (age and pgp keys, key_groups, encrypted_regex and the other rules), to standard output.
    ///
    /// Exit status: 0 encrypted, 2 on bad usage or input.
    Encrypt(EncryptArgs),
}

/// Arguments of `gitops sops decrypt`.
#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// The encrypted file.
    pub file: PathBuf,
    /// An age identity file (`AGE-SECRET-KEY-1...` lines; repeatable).
    #[arg(long = "age-key", value_name = "FILE")]
    pub age_keys: Vec<PathBuf>,
    /// An OpenPGP secret key file (armored or binary, one or several keys; repeatable).
    #[arg(long = "pgp-key", value_name = "FILE")]
    pub pgp_keys: Vec<PathBuf>,
    /// The file's format (default: from its extension, else binary).
    #[arg(long, value_name = "yaml|json|dotenv|binary", value_parser = parse_format)]
    pub input_type: Option<Format>,
    /// The output's format (default: the input's).
    #[arg(long, value_name = "yaml|json|dotenv|binary", value_parser = parse_format)]
    pub output_type: Option<Format>,
}

/// Arguments of `gitops sops encrypt`.
#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// The plaintext file.
    pub file: PathBuf,
    /// The `.sops.yaml` (default: the first found from the current directory upwards).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// OpenPGP public key files holding the keys the rule's fingerprints name (repeatable).
    #[arg(long = "pgp-key", value_name = "FILE")]
    pub pgp_keys: Vec<PathBuf>,
    /// The file's format (default: from its extension, else binary).
    #[arg(long, value_name = "yaml|json|dotenv|binary", value_parser = parse_format)]
    pub input_type: Option<Format>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| format!("unknown format {s:?} (yaml, json, dotenv or binary)"))
}

/// Runs the command; `Err` is printed and exits 2.
pub fn run(command: SopsCommand) -> Result<ExitCode, String> {
    match command {
        SopsCommand::Decrypt(args) => decrypt(&args),
        SopsCommand::Encrypt(args) => encrypt(&args),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    regular::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn decrypt(args: &DecryptArgs) -> Result<ExitCode, String> {
    let name = args.file.display().to_string();
    let input = args.input_type.unwrap_or_else(|| Format::from_path(&name));
    let output = args.output_type.unwrap_or(input);
    let bytes = read(&args.file)?;
    let ids = identities(&args.age_keys, &args.pgp_keys)?;
    let plain = sops::decrypt(&name, &bytes, input, output, &ids).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&plain).and_then(|()| stdout.flush()).map_err(|e| format!("writing output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// The keys of the command line and of sops' environment variables and default file.
fn identities(age_keys: &[PathBuf], pgp_keys: &[PathBuf]) -> Result<Identities, String> {
    let mut ids = Identities::new();
    for path in age_keys {
        let text =
            zeroize::Zeroizing::new(regular::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?);
        ids.add_age(&text, false).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    for path in pgp_keys {
        let bytes = zeroize::Zeroizing::new(read(path)?);
        ids.add_pgp(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(text) = std::env::var_os("SOPS_AGE_KEY") {
        let text = zeroize::Zeroizing::new(text.to_string_lossy().into_owned());
        ids.add_age(&text, true).map_err(|e| format!("SOPS_AGE_KEY: {e}"))?;
    }
    if let Some(path) = std::env::var_os("SOPS_AGE_KEY_FILE") {
        let path = PathBuf::from(path);
        let text = zeroize::Zeroizing::new(
            regular::read_to_string(&path).map_err(|e| format!("SOPS_AGE_KEY_FILE {}: {e}", path.display()))?,
        );
        ids.add_age(&text, false).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let config_dir = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(path) = config_dir.map(|d| d.join("sops/age/keys.txt")).filter(|p| p.is_file()) {
        let text =
            zeroize::Zeroizing::new(regular::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?);
        ids.add_age(&text, false).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ids)
}

fn encrypt(args: &EncryptArgs) -> Result<ExitCode, String> {
    let name = args.file.display().to_string();
    let input = args.input_type.unwrap_or_else(|| Format::from_path(&name));
    let config_path = match &args.config {
        Some(p) => p.clone(),
        None => find_config()?,
    };
    let config = read(&config_path)?;
    // sops matches path_regex against the file's path relative to the configuration's directory.
    let absolute = std::path::absolute(&args.file).map_err(|e| format!("{name}: {e}"))?;
    let config_dir = std::path::absolute(&config_path)
        .map_err(|e| format!("{}: {e}", config_path.display()))?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let relative = absolute.strip_prefix(&config_dir).unwrap_or(&absolute).to_string_lossy().replace('\\', "/");
    let rule = creation_rules::rule_for(&config, &relative).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let mut public = Vec::new();
    for path in &args.pgp_keys {
        public.extend(keys::pgp_public_keys(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    let bytes = zeroize::Zeroizing::new(read(&args.file)?);
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let encrypted = sops::encrypt(&name, &bytes, input, &rule, &public, &now).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(encrypted.as_bytes()).and_then(|()| stdout.flush()).map_err(|e| format!("writing output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `.sops.yaml` (or `.sops.yml`) in the current directory or the nearest one above, as sops
/// looks for it.
fn find_config() -> Result<PathBuf, String> {
    let start = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    for dir in start.ancestors().take(100) {
        for name in [".sops.yaml", ".sops.yml"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err("config file not found: no .sops.yaml in the current directory or above (use --config FILE)".into())
}
