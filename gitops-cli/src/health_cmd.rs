//! `gitops health PATH...` and `gitops health test DIR`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use gitops_core::settings::Settings;
use gitops_health::scripts::ScriptTree;
use gitops_health::{CheckSource, HealthChecks, HealthStatus, Member, aggregate, testfile};
use gitops_render::regular;
use serde_json::{Value, json};

use crate::output::{BOLD, GREEN, RED, RESET, YELLOW};

/// Arguments of `gitops health`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct HealthArgs {
    #[command(subcommand)]
    pub command: Option<HealthCommand>,
    /// Live objects: manifest files, directories (read recursively) or `-` for stdin.
    /// (A path named `test` must be written `./test`.)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// An argocd-cm ConfigMap: its `resource.customizations.health.*` scripts take precedence.
    #[arg(long, value_name = "FILE")]
    pub argocd_cm: Option<PathBuf>,
    /// A directory of health scripts in Argo CD's layout (`<group>/<Kind>/health.lua`),
    /// over the bundled ones.
    #[arg(long, value_name = "DIR")]
    pub customizations: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Refuse manifests that give a key twice in one mapping (by default the last value wins,
    /// with a warning naming both lines, as kubectl and Argo CD read them).
    #[arg(long)]
    pub strict: bool,
}

/// Subcommands of `gitops health`.
#[derive(Subcommand, Debug)]
pub enum HealthCommand {
    /// Run every `health_test.yaml` under DIR as Argo CD's own test runner does.
    ///
    /// Exit status: 0 when every case passes, 1 when one fails, 2 when DIR cannot be read.
    Test {
        /// A directory in Argo CD's `resource_customizations` layout.
        dir: PathBuf,
    },
}

/// Output formats of `gitops health`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One line per object, then the app's health.
    Table,
    /// A JSON document: `objects` (key fields, `status`, `message`, `check`) and `health`.
    Json,
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(args: HealthArgs) -> Result<ExitCode, String> {
    if let Some(HealthCommand::Test { dir }) = args.command {
        return run_tests(&dir);
    }
    let checks = health_checks(args.customizations.as_deref(), args.argocd_cm.as_deref())?;
    if args.paths.iter().filter(|p| *p == "-").count() > 1 {
        return Err("standard input (`-`) can be read only once".into());
    }
    let mut rows = Vec::new();
    let reading = crate::app_input::reading(args.strict);
    for path in &args.paths {
        gitops_render::for_each_object_with(path, &reading, |o| {
            let assessment = checks.assess(o.value());
            let key = o.key(o.namespace());
            let member = Member::live(key.to_string(), o.value(), assessment.health.clone());
            rows.push((o.api_version().to_string(), key, assessment, member));
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    }
    crate::app_input::print_warnings(&reading);
    let app = aggregate(rows.iter().map(|r| &r.3));
    let mut out = anstream::stdout().lock();
    let written = match args.output {
        Format::Json => {
            let objects: Vec<Value> = rows
                .iter()
                .map(|(api_version, key, a, _)| {
                    json!({
                        "apiVersion": api_version,
                        "group": key.group,
                        "kind": key.kind,
                        "namespace": key.namespace,
                        "name": key.name,
                        "status": a.health.as_ref().map(|h| h.status),
                        "message": a.health.as_ref().map(|h| h.message.as_str()),
                        "check": a.source,
                    })
                })
                .collect();
            let doc = json!({"objects": objects, "health": app});
            serde_json::to_writer_pretty(&mut out, &doc).map_err(io::Error::other).and_then(|_| writeln!(out))
        }
        Format::Table => print_table(&mut out, &rows, &app),
    };
    written.map_err(|e| format!("writing output: {e}"))?;
    Ok(if app.status == HealthStatus::Healthy { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

type Row = (String, gitops_core::ResourceKey, gitops_health::Assessment, Member);

fn colour(status: HealthStatus) -> &'static str {
    match status {
        HealthStatus::Healthy => GREEN,
        HealthStatus::Progressing | HealthStatus::Suspended => YELLOW,
        HealthStatus::Missing | HealthStatus::Degraded | HealthStatus::Unknown => RED,
    }
}

fn print_table(out: &mut impl Write, rows: &[Row], app: &gitops_health::AppHealth) -> io::Result<()> {
    let kind_of = |k: &gitops_core::ResourceKey| {
        if k.group.is_empty() { k.kind.clone() } else { format!("{}/{}", k.group, k.kind) }
    };
    let width = |f: &dyn Fn(&Row) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let wk = width(&|r| kind_of(&r.1).len(), 4);
    let wn = width(&|r| r.1.namespace.len(), 9);
    let wm = width(&|r| r.1.name.len(), 4);
    writeln!(out, "{BOLD}{:<11}  {:<wk$}  {:<wn$}  {:<wm$}  MESSAGE{RESET}", "STATUS", "KIND", "NAMESPACE", "NAME")?;
    for (_, key, a, member) in rows {
        let (status, colour, message) = match &a.health {
            Some(h) => (h.status.as_str(), colour(h.status), h.message.replace('\n', " ")),
            None if a.source == CheckSource::None => ("-", "", "no health check".to_string()),
            None => ("-", "", "the check gave no status".to_string()),
        };
        let note = if member.hook {
            " (hook: not counted)"
        } else if member.ignored {
            " (ignore-healthcheck: not counted)"
        } else {
            ""
        };
        writeln!(
            out,
            "{colour}{status:<11}{RESET}  {:<wk$}  {:<wn$}  {:<wm$}  {message}{note}",
            kind_of(key),
            key.namespace,
            key.name
        )?;
    }
    let colour = colour(app.status);
    let detail = if app.message.is_empty() { String::new() } else { format!(" ({})", app.message) };
    writeln!(out, "\n{BOLD}app health:{RESET} {colour}{}{RESET}{detail}", app.status)
}

/// The bundled and built-in checks, with the scripts of a `resource_customizations` directory
/// and of an `argocd-cm` ConfigMap file over them.
pub(crate) fn health_checks(customizations: Option<&Path>, argocd_cm: Option<&Path>) -> Result<HealthChecks, String> {
    let mut checks = HealthChecks::default();
    if let Some(dir) = customizations {
        checks = checks.with_tree(read_tree(dir)?);
    }
    if let Some(p) = argocd_cm {
        let text = regular::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let cm = testfile::first_document(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        let settings = Settings::from_config_map(&cm).map_err(|e| format!("{}: {e}", p.display()))?;
        checks = checks.with_settings(&settings).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(checks)
}

/// Reads every `health.lua` under `dir` into a tree, keyed by its path relative to `dir`.
fn read_tree(dir: &Path) -> Result<ScriptTree, String> {
    let mut tree = ScriptTree::new();
    for file in files_named(dir, "health.lua")? {
        let rel = relative(dir, &file);
        let source = regular::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        tree.insert(&rel, &source, &file.display().to_string()).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(tree)
}

/// `file` relative to `root`, with `/` separators.
fn relative(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Files called `name` under `dir`, sorted; hidden entries and symlinked directories are
/// skipped (no cycles, no wandering out of the tree). They are read with
/// `regular::read_to_string`, which refuses a FIFO or device without blocking on it.
fn files_named(dir: &Path, name: &str) -> Result<Vec<PathBuf>, String> {
    let meta = regular::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", d.display()))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let ty = entry.file_type().map_err(|e| format!("{}: {e}", path.display()))?;
            if ty.is_dir() {
                stack.push(path);
            } else if entry.file_name() == name {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `gitops health test DIR`.
fn run_tests(dir: &Path) -> Result<ExitCode, String> {
    let tree = read_tree(dir)?;
    let tests = files_named(dir, "health_test.yaml")?;
    let checks = HealthChecks::builtin_only(Default::default()).replace_tree(tree);
    let mut out = anstream::stdout().lock();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut fail = |out: &mut dyn Write, what: String, detail: &[String]| -> io::Result<()> {
        failed += 1;
        writeln!(out, "{RED}FAIL{RESET} {what}")?;
        detail.iter().try_for_each(|d| writeln!(out, "  {d}"))
    };
    let io_err = |e: io::Error| format!("writing output: {e}");
    // Argo CD requires a test file beside every script.
    for script in files_named(dir, "health.lua")? {
        if !script.with_file_name("health_test.yaml").is_file() {
            fail(&mut out, format!("{}: no health_test.yaml beside it", relative(dir, &script)), &[])
                .map_err(io_err)?;
        }
    }
    for test_file in &tests {
        let shown = relative(dir, test_file);
        let base = test_file.parent().unwrap_or(dir);
        let cases = regular::read_to_string(test_file)
            .map_err(|e| e.to_string())
            .and_then(|text| testfile::parse(&text).map_err(|e| e.to_string()));
        let cases = match cases {
            Ok(c) => c,
            Err(e) => {
                fail(&mut out, format!("{shown}: {e}"), &[]).map_err(io_err)?;
                continue;
            }
        };
        for case in cases {
            let what = format!("{shown} tests[{}] ({})", case.index, case.input_path);
            let input = base.join(&case.input_path);
            let obj = regular::read_to_string(&input)
                .map_err(|e| format!("{}: {e}", input.display()))
                .and_then(|t| testfile::first_document(&t).map_err(|e| format!("{}: {e}", input.display())));
            let obj = match obj {
                Ok(o) => o,
                Err(e) => {
                    fail(&mut out, what, &[e]).map_err(io_err)?;
                    continue;
                }
            };
            let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let group = gitops_core::schema::split_api_version(api_version).0;
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
            let Some(script) = checks.script_for(group, kind) else {
                let gk = gitops_health::scripts::group_kind_key(group, kind);
                fail(&mut out, what, &[format!("no health.lua in {} for {gk}", dir.display())]).map_err(io_err)?;
                continue;
            };
            match testfile::check(&case, &checks.run(script, &obj)) {
                Ok(()) => passed += 1,
                Err(m) => {
                    let detail = [
                        format!("expected: {:?} {:?}", m.expected.0, m.expected.1),
                        format!("got:      {:?} {:?}", m.got.0, m.got.1),
                    ];
                    fail(&mut out, what, &detail).map_err(io_err)?;
                }
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed").map_err(io_err)?;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
