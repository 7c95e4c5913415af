//! `gitops render PATH`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use gitops_render::directory::{self, DirectoryOptions};
use gitops_render::output;
use gitops_render::root::RepoRoot;

/// Arguments of `gitops render`.
#[derive(Args, Debug)]
pub struct RenderArgs {
    /// A directory of manifests (Argo CD's directory source), or one manifest file. The
    /// directory is the repository root: nothing outside it is read.
    pub path: String,
    /// Descend into subdirectories (Argo CD's `directory.recurse`; off by default, as there).
    #[arg(long)]
    pub recurse: bool,
    /// Only files whose path (relative to PATH) matches this glob (`directory.include`).
    #[arg(long, value_name = "GLOB")]
    pub include: Option<String>,
    /// No file whose path matches this glob (`directory.exclude`).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
}

/// Output formats of `gitops render`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML documents separated by `---`.
    Yaml,
    /// A JSON list.
    Json,
}

/// What a directory holds that this version cannot render yet, if anything.
fn unsupported(dir: &Path) -> Option<String> {
    for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
        if dir.join(name).is_file() {
            return Some(format!(
                "{}: holds {name}; Kustomize rendering is not supported yet (render the overlay with `kubectl kustomize` for now)",
                dir.display()
            ));
        }
    }
    dir.join("Chart.yaml").is_file().then(|| {
        format!(
            "{}: holds Chart.yaml; Helm rendering is not supported yet (use `helm template` for now)",
            dir.display()
        )
    })
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(args: RenderArgs) -> Result<ExitCode, String> {
    let path = Path::new(&args.path);
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (root_dir, rel) = if meta.is_dir() {
        if let Some(problem) = unsupported(path) {
            return Err(problem);
        }
        (path.to_path_buf(), ".".to_string())
    } else {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        (parent.to_path_buf(), name)
    };
    let root = RepoRoot::new(&root_dir).map_err(|e| e.to_string())?;
    let options = DirectoryOptions { recurse: args.recurse, include: args.include, exclude: args.exclude };
    let objects = directory::render(&root, &rel, &options).map_err(|e| e.to_string())?;
    let text = match args.output {
        Format::Yaml => output::yaml_stream(&objects)?,
        Format::Json => output::json_list(&objects),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(|e| format!("writing output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
