//! Native Kustomize: builds a kustomization as `kubectl kustomize` does, byte for byte, with no
//! binary and through the strict loader (nothing outside the repository is read).
//!
//! The reference is the `kubectl kustomize` of this machine image: kubectl v1.32.4, kustomize
//! v5.5.0. The pipeline follows kustomize's: per kustomization, the file is read as kustomize
//! reads it (go-yaml v2 through `sigs.k8s.io/yaml`, see [`yaml::parse_kustomization`]), resources
//! (files, directories, nested kustomizations) are accumulated depth first, then generators,
//! then components, then the built-in transformers in kustomize's fixed order
//! (patchesStrategicMerge, patches, namespace, namePrefix/nameSuffix, labels and commonLabels,
//! commonAnnotations, patchesJson6902, replicas, images, replacements), then its `vars` are bound
//! to their objects; field specs (`configurations`, `crds`) live in each kustomization's scope and
//! reach its parents. At the top, generated names get their content hash, name references are
//! fixed, vars are resolved, `config.kubernetes.io/local-config` objects are dropped, the output
//! is ordered (legacy by default, as the CLI; fifo on request or by `sortOptions`), and
//! `buildMetadata` annotations and labels are written. Fields this renderer does not support are
//! refused by name, never ignored. For Flux, a path without a kustomization file is built from
//! the one Flux generates ([`generated_resources`]).
//!
//! ```no_run
//! use gitops_render::kustomize::{self, Options};
//! use gitops_render::root::RepoRoot;
//!
//! let root = RepoRoot::new("examples/kustomize")?;
//! let yaml = kustomize::render(&root, "overlays/production", &Options::default())?;
//! print!("{yaml}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod build;
mod buildmeta;
mod fieldspecs;
mod file;
mod generators;
mod namerefs;
mod order;
mod remote;
mod replace;
mod resource;
mod schema;
mod select;
mod shared;
mod smp;
mod transform;
pub mod yaml;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::root::RepoRoot;

pub use file::FILE_NAMES;

/// The output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// kustomize's legacy order: by kind rank, then group/version/kind, namespace and name
    /// (what `kubectl kustomize` prints by default).
    Legacy,
    /// Accumulation order (`--reorder none`; what Flux's kustomize-controller gets).
    Fifo,
}

/// Changes an app makes to the top kustomization before it is built: Argo CD's `kustomize`
/// source section (applied there with `kustomize edit`) and a Flux Kustomization's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Replaces `namePrefix`.
    pub name_prefix: Option<String>,
    /// Replaces `nameSuffix`.
    pub name_suffix: Option<String>,
    /// Replaces `namespace`.
    pub namespace: Option<String>,
    /// Added to `commonLabels` (over existing keys).
    pub common_labels: BTreeMap<String, String>,
    /// Added to `commonAnnotations` (over existing keys).
    pub common_annotations: BTreeMap<String, String>,
    /// `images` entries, in `kustomize edit set image` syntax (`name=new:tag@digest`,
    /// `name:tag`, `name@digest`) or as maps; an entry for a name already listed replaces it.
    pub images: Vec<Value>,
    /// `replicas` entries (`{name, count}`); one for a name already listed replaces it.
    pub replicas: Vec<Value>,
    /// Appended to `patches` (each as a `patches` entry: `path` or `patch`, `target`, `options`).
    pub patches: Vec<Value>,
}

/// How to build.
#[derive(Debug, Clone)]
pub struct Options {
    /// The order when the top kustomization has no `sortOptions` (which win, as they do over
    /// `kubectl kustomize --reorder`); `None` is legacy.
    pub order: Option<Order>,
    /// kustomize's default load restrictor: a file named by a kustomization must sit in or
    /// below that kustomization's directory. Flux turns it off; the repository root always
    /// confines.
    pub restrict_to_kustomization_dir: bool,
    /// Changes to the top kustomization.
    pub overrides: Overrides,
    /// Where remote bases (Git URLs) are fetched; without it they are refused.
    pub git: Option<crate::git::Cache>,
    /// Flux: when the top directory has no kustomization file, build the one Flux's
    /// kustomize-controller generates (see [`generated_resources`]) instead of failing.
    pub generate_missing: bool,
    /// Flux's `spec.decryption`: each file a `secretGenerator` or `configMapGenerator` reads
    /// (`files`, `envs`) is handed to it with its path, and what it returns, if anything, is
    /// used instead (a SOPS file decrypted before the build, as kustomize-controller does).
    pub decrypt_sources: Option<SourceDecryptor>,
}

/// Decrypts a generator's source file: `(path, bytes)` to the plaintext, `None` when the file
/// is not encrypted; an error is the generator's.
#[derive(Clone)]
pub struct SourceDecryptor(pub std::sync::Arc<DecryptFn>);

/// What a [`SourceDecryptor`] runs.
pub type DecryptFn = dyn Fn(&str, &[u8]) -> Result<Option<Vec<u8>>, String> + Send + Sync;

impl std::fmt::Debug for SourceDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceDecryptor")
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            order: None,
            restrict_to_kustomization_dir: true,
            overrides: Overrides::default(),
            git: None,
            generate_missing: false,
            decrypt_sources: None,
        }
    }
}

/// The `resources` Flux's kustomize-controller writes into the kustomization it generates for a
/// path without one (fluxcd/pkg `kustomize` generator): the directory is walked as Go's
/// `filepath.Walk` walks it (depth first, names in byte order, files and directories
/// interleaved); a subdirectory holding a kustomization file (`kustomization.yaml`,
/// `kustomization.yml` or `Kustomization`) is listed as a directory and not entered; other
/// subdirectories are entered; files ending in `.yaml` or `.yml` (exactly; not `.json`, not
/// `.YAML`) are listed. Paths are `./`-relative to `dir`, as Flux writes them. This is the
/// layout `flux bootstrap` writes: `clusters/<name>/` holds `flux-system/` (a kustomization)
/// and the cluster's own manifests.
pub fn generated_resources(root: &RepoRoot, dir: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let shown = |e: crate::root::Error| Error::File { file: dir.to_string(), problem: e.to_string() };
    root.walk_in_order(dir, &mut |below, is_dir| {
        let path = build::join(dir, below);
        if is_dir {
            let has_kustomization =
                FILE_NAMES.iter().any(|name| root.resolve(&build::join(&path, name)).is_ok_and(|p| p.is_file()));
            if has_kustomization {
                out.push(format!("./{below}"));
                return Ok(false);
            }
            return Ok(true);
        }
        if below.ends_with(".yaml") || below.ends_with(".yml") {
            out.push(format!("./{below}"));
        }
        Ok(true)
    })
    .map_err(shown)?;
    Ok(out)
}

/// Why a kustomization could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A field of a kustomization file is wrong or cannot be honoured.
    #[error("{file}: `{field}`: {problem}")]
    Field {
        /// The kustomization file, relative to the repository root.
        file: String,
        /// The field, e.g. `patches[1]`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A kustomization file (or directory) as a whole.
    #[error("{file}: {problem}")]
    File {
        /// The file or directory, relative to the repository root.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

impl Error {
    /// An error met while building something `field` of `file` named (a base, a component):
    /// the inner error keeps its own file and field, and says where it was reached from.
    fn within(self, file: &str, field: &str) -> Error {
        let via = format!(" (reached from {file} `{field}`)");
        match self {
            Error::Field { file, field, problem } => Error::Field { file, field, problem: problem + &via },
            Error::File { file, problem } => Error::File { file, problem: problem + &via },
        }
    }
}

/// Builds the kustomization in `dir` (relative to `root`) into its objects, in output order.
pub fn build(root: &RepoRoot, dir: &str, options: &Options) -> Result<Vec<Value>, Error> {
    build::Builder::new(root, options).build(dir)
}

/// Builds the kustomization in `dir` and prints it exactly as `kubectl kustomize` does:
/// YAML documents joined by `---`.
pub fn render(root: &RepoRoot, dir: &str, options: &Options) -> Result<String, Error> {
    Ok(to_yaml(&build(root, dir, options)?))
}

/// Prints objects as `kubectl kustomize` does.
pub fn to_yaml(objects: &[Value]) -> String {
    let mut out = String::with_capacity(objects.len() * 512);
    for (i, obj) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        yaml::write_document(obj, &mut out);
    }
    out
}
