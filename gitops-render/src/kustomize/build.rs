//! The build: a kustomization directory, its resources, bases and components accumulated depth
//! first, generators, then the built-in transformers in kustomize's fixed order; at the top,
//! hash suffixes, name references, local-config removal and the output order.

use std::borrow::Cow;
use std::path::PathBuf;

use serde_json::Value;

use std::sync::Arc;

use super::buildmeta::{self, BuildMetadata, Origin, Place};
use super::file::{self, FileKind, Kustomization, PatchSource, SortOptions};
use super::generators::{self, Behavior};
use super::resource::{Id, ResMap, Resource};
use super::schema::Schema;
use super::{Error, Options, Order, SourceDecryptor, fieldspecs, namerefs, order, remote, replace, transform, yaml};
use crate::git::{self, Reference};
use crate::root::{self, RepoRoot};

/// One build in progress.
pub(super) struct Builder<'a> {
    root: &'a RepoRoot,
    options: &'a Options,
    /// Directories being built, outermost first (a directory met again is a cycle).
    stack: Vec<String>,
    /// A custom OpenAPI schema: the top kustomization's, else the first base's that has one.
    schema: Option<Schema>,
    /// Field specs of the kustomization being built: the built-ins, its `configurations` and
    /// `crds` files, and those its bases and components ended with (kustomize keeps them in each
    /// kustomization's accumulator and merges a base's into its parent's, so a sibling base
    /// never sees them). Borrowed from the built-in table until something adds to it.
    pub(super) config: Cow<'static, fieldspecs::Config>,
    /// The top kustomization's `sortOptions`.
    sort: Option<SortOptions>,
    /// `vars` of every kustomization met, resolved at the top.
    vars: Vec<Value>,
    /// How many remote bases lead here.
    remote_depth: usize,
    /// The top kustomization's `buildMetadata`, when it asks for any.
    meta: Option<BuildMetadata>,
    /// Where the kustomization being built sits, for origins.
    place: Place,
}

/// Joins a kustomization directory and a path written in it, lexically (as Go's
/// `filepath.Join` cleans), keeping `..` that climbs above the start so the loader refuses it.
pub(super) fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut climbs = 0usize;
    for part in dir.split('/').chain(rel.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    climbs += 1;
                }
            }
            p => parts.push(p),
        }
    }
    let mut out: Vec<&str> = std::iter::repeat_n("..", climbs).collect();
    out.extend(parts);
    if out.is_empty() { ".".to_string() } else { out.join("/") }
}

/// Go's `path.Join(dir, entry)`, as kustomize joins origin paths: cleaned, and empty (not `.`)
/// when both parts are.
pub(super) fn join_origin(dir: &str, entry: &str) -> String {
    if dir.is_empty() && entry.is_empty() { String::new() } else { join(dir, entry) }
}

/// kustomize's name for the builtin generator of `kind`, as origins print it.
fn generator_kind(kind: generators::Kind) -> &'static str {
    match kind {
        generators::Kind::ConfigMap => "ConfigMapGenerator",
        generators::Kind::Secret => "SecretGenerator",
    }
}

/// The file name of a kustomization file path (`base/kustomization.yaml` → `kustomization.yaml`).
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// How deep remote bases may refer to further remote bases.
const MAX_REMOTE_DEPTH: usize = 8;

impl<'a> Builder<'a> {
    pub(super) fn new(root: &'a RepoRoot, options: &'a Options) -> Builder<'a> {
        Builder {
            root,
            options,
            stack: Vec::new(),
            schema: None,
            config: Cow::Borrowed(fieldspecs::Config::builtin()),
            sort: None,
            vars: Vec::new(),
            remote_depth: 0,
            meta: None,
            place: Place::default(),
        }
    }

    pub(super) fn schema(&self) -> &Schema {
        self.schema.as_ref().unwrap_or_else(|| Schema::builtin())
    }

    /// Builds the kustomization in `dir` (relative to the root) into its output objects.
    pub(super) fn build(mut self, dir: &str) -> Result<Vec<Value>, Error> {
        let mut acc = ResMap::default();
        let dir = join("", dir);
        let top_file = self.run(&dir, &mut acc, FileKind::Kustomization, true)?;
        self.finish(&top_file, &mut acc)?;
        Ok(acc.items.into_iter().map(|r| r.obj).collect())
    }

    /// The kustomization file in `dir`: exactly one of kustomize's names.
    fn find_file(&self, dir: &str) -> Result<String, Error> {
        let mut present: Vec<&str> = Vec::new();
        for name in file::FILE_NAMES {
            match self.root.resolve(&join(dir, name)) {
                Ok(p) if p.is_file() => present.push(name),
                // Present but unreadable as a file: say so rather than "no kustomization file".
                Err(root::Error::Special { path, what }) => {
                    return Err(Error::File { file: path, problem: format!("is {what}, not a regular file") });
                }
                _ => {}
            }
        }
        match present.as_slice() {
            [one] => Ok(join(dir, one)),
            [] => Err(Error::File {
                file: dir.to_string(),
                problem: format!("no kustomization file (one of {}) in this directory", file::FILE_NAMES.join(", ")),
            }),
            many => Err(Error::File {
                file: dir.to_string(),
                problem: format!("found multiple kustomization files ({}); keep one", many.join(", ")),
            }),
        }
    }

    fn load(&mut self, dir: &str, top: bool) -> Result<(String, Kustomization), Error> {
        let path = match self.find_file(dir) {
            Ok(path) => path,
            Err(_) if top && self.options.generate_missing && !self.has_any_kustomization_file(dir) => {
                return self.generated(dir);
            }
            Err(e) => return Err(e),
        };
        let text = self.root.read(&path).map_err(|e| Error::File { file: path.clone(), problem: e.to_string() })?;
        // kustomize reads only the first document of the file, with sigs.k8s.io/yaml.
        let doc = yaml::parse_kustomization(&path, &text)
            .map_err(|e| Error::File { file: path.clone(), problem: e.to_string() })?
            .unwrap_or(Value::Null);
        if file::is_empty(&doc) {
            return Err(Error::File { file: path, problem: "the kustomization is empty".into() });
        }
        let k =
            file::read(&doc).map_err(|e| Error::Field { file: path.clone(), field: e.field, problem: e.problem })?;
        if self.schema.is_none()
            && let Some(openapi) = &k.openapi_path
        {
            let text = self.read_text(dir, openapi, &path, "openapi.path")?;
            let doc = yaml::parse_stream(openapi, &text)
                .map_err(|e| self.field_error(&path, "openapi.path", e))?
                .into_iter()
                .next()
                .unwrap_or(Value::Null);
            self.schema = Some(Schema::from_openapi(&doc).map_err(|e| self.field_error(&path, "openapi.path", e))?);
        }
        Ok((path, k))
    }

    fn has_any_kustomization_file(&self, dir: &str) -> bool {
        file::FILE_NAMES.iter().any(|name| self.root.resolve(&join(dir, name)).is_ok_and(|p| p.exists()))
    }

    /// The kustomization Flux generates for a directory without one: its manifests and the
    /// subdirectories that hold a kustomization, as `resources`. Named as the file Flux writes.
    fn generated(&mut self, dir: &str) -> Result<(String, Kustomization), Error> {
        let resources = super::generated_resources(self.root, dir)?;
        let path = join(dir, "kustomization.yaml");
        let k = Kustomization {
            resources: resources
                .into_iter()
                .enumerate()
                .map(|(i, entry)| (format!("resources[{i}] (generated)"), entry))
                .collect(),
            ..Kustomization::default()
        };
        if k.resources.is_empty() && self.options.overrides == super::Overrides::default() {
            return Err(Error::File {
                file: dir.to_string(),
                problem: "no kustomization file and no manifests: the kustomization Flux generates here is empty"
                    .into(),
            });
        }
        Ok((path, k))
    }

    fn field_error(&self, file: &str, field: &str, problem: impl std::fmt::Display) -> Error {
        Error::Field { file: file.to_string(), field: field.to_string(), problem: problem.to_string() }
    }

    /// Resolves a file named in the kustomization in `dir`: inside the repository always, and
    /// inside `dir` too unless the load restrictor is off (kustomize's `LoadRestrictionsRootOnly`).
    fn resolve_file(&self, dir: &str, rel: &str, file: &str, field: &str) -> Result<PathBuf, Error> {
        let path = join(dir, rel);
        let real = self.root.resolve(&path).map_err(|e| self.field_error(file, field, e))?;
        if self.options.restrict_to_kustomization_dir {
            let base = self.root.resolve(dir).map_err(|e| self.field_error(file, field, e))?;
            if !real.starts_with(&base) {
                return Err(self.field_error(
                    file,
                    field,
                    format!("security: file `{rel}` is not in or below the kustomization's directory `{dir}`"),
                ));
            }
        }
        Ok(real)
    }

    fn read_bytes(&self, dir: &str, rel: &str, file: &str, field: &str) -> Result<Vec<u8>, Error> {
        let real = self.resolve_file(dir, rel, file, field)?;
        crate::regular::read(&real).map_err(|e| self.field_error(file, field, format!("{rel}: {e}")))
    }

    fn read_text(&self, dir: &str, rel: &str, file: &str, field: &str) -> Result<String, Error> {
        let bytes = self.read_bytes(dir, rel, file, field)?;
        String::from_utf8(bytes).map_err(|_| self.field_error(file, field, format!("{rel}: not UTF-8 text")))
    }

    /// Runs the kustomization in `dir` on `acc` (empty for a kustomization, the parent's for a
    /// component). Returns the kustomization file's path.
    fn run(&mut self, dir: &str, acc: &mut ResMap, expect: FileKind, top: bool) -> Result<String, Error> {
        if self.stack.iter().any(|d| d == dir) {
            return Err(Error::File {
                file: dir.to_string(),
                problem: format!("cycle: {} -> {dir}", self.stack.join(" -> ")),
            });
        }
        self.stack.push(dir.to_string());
        let (path, k) = self.load(dir, top)?;
        let kind = k.kind.unwrap_or(FileKind::Kustomization);
        if kind != expect {
            let problem = match kind {
                FileKind::Component => {
                    "a Component cannot be used as a resource or built on its own; list it under `components`"
                }
                FileKind::Kustomization => "a Kustomization cannot be used as a component; list it under `resources`",
            };
            return Err(self.field_error(&path, "kind", problem));
        }
        let mut k = k;
        if top {
            self.sort = k.sort_options.clone();
            self.meta = BuildMetadata::from_options(&k.build_metadata);
            file::apply_overrides(&mut k, &self.options.overrides).map_err(|e| Error::Field {
                file: path.clone(),
                field: e.field,
                problem: e.problem,
            })?;
        }
        self.accumulate_resources(dir, &path, &k, acc)?;
        self.add_configurations(dir, &path, &k)?;
        self.generate(dir, &path, &k, acc)?;
        for (field, entry) in &k.components {
            if remote::is_remote(entry) {
                return Err(self.field_error(&path, field, "remote components are not supported"));
            }
            let sub = join(dir, entry);
            self.root.resolve(&sub).map_err(|e| self.field_error(&path, field, e))?;
            let outer = self.enter(entry);
            let result = self.run(&sub, acc, FileKind::Component, false);
            self.place.dir = outer;
            result.map_err(|e| e.within(&path, field))?;
        }
        self.transform(dir, &path, &k, acc)?;
        self.stack.pop();
        Ok(path)
    }

    /// Moves the origin place into `entry` (a base or component directory written in the
    /// current kustomization); returns the place to go back to.
    fn enter(&mut self, entry: &str) -> String {
        let inner = join_origin(&self.place.dir, entry);
        std::mem::replace(&mut self.place.dir, inner)
    }

    /// With `buildMetadata`, records that the transformer `by`, configured in the kustomization
    /// file `path`, ran over everything accumulated.
    fn ran(&self, acc: &mut ResMap, path: &str, by: &'static str) {
        if self.meta.is_some() {
            let origin: Arc<Origin> = Arc::new(self.place.configured(file_name(path), by));
            buildmeta::record_transformer(&mut acc.items, &origin);
        }
    }

    fn accumulate_resources(
        &mut self,
        dir: &str,
        path: &str,
        k: &Kustomization,
        acc: &mut ResMap,
    ) -> Result<(), Error> {
        for (field, entry) in &k.resources {
            if remote::is_remote(entry) {
                for r in self.remote_base(entry, path, field)? {
                    acc.add(r, self.schema()).map_err(|e| self.field_error(path, field, e))?;
                }
                continue;
            }
            let sub = join(dir, entry);
            let real = self.root.resolve(&sub).map_err(|e| self.field_error(path, field, e))?;
            if real.is_dir() {
                let mut base = ResMap::default();
                let outer = self.enter(entry);
                let outer_config = std::mem::replace(&mut self.config, Cow::Borrowed(fieldspecs::Config::builtin()));
                let result = self.run(&sub, &mut base, FileKind::Kustomization, false);
                self.place.dir = outer;
                let theirs = std::mem::replace(&mut self.config, outer_config);
                result.map_err(|e| e.within(path, field))?;
                if let Cow::Owned(theirs) = &theirs {
                    self.config.to_mut().merge_config(theirs).map_err(|e| self.field_error(path, field, e))?;
                }
                for r in base.items {
                    acc.add(r, self.schema()).map_err(|e| self.field_error(path, field, e))?;
                }
                continue;
            }
            let text = self.read_text(dir, entry, path, field)?;
            let origin = self.meta.map(|_| Arc::new(self.place.file(entry)));
            for obj in self.parse_resources(&sub, &text, path, field)? {
                let mut r = Resource::new(obj, sub.clone());
                r.meta_origin.clone_from(&origin);
                acc.add(r, self.schema()).map_err(|e| self.field_error(path, field, e))?;
            }
        }
        Ok(())
    }

    /// A remote base: fetched through the Git cache at its `ref`, then built as a base rooted
    /// in its own checkout (nothing outside that checkout is read). Field specs, the schema and
    /// vars it brings join this build's, as a local base's would.
    fn remote_base(&mut self, entry: &str, path: &str, field: &str) -> Result<Vec<Resource>, Error> {
        let remote = remote::parse(entry).map_err(|e| self.field_error(path, field, format!("`{entry}`: {e}")))?;
        let Some(cache) = &self.options.git else {
            return Err(self.field_error(path, field, format!("`{entry}`: remote bases need a Git cache")));
        };
        if self.remote_depth >= MAX_REMOTE_DEPTH {
            return Err(self.field_error(path, field, "remote bases nested too deep (a cycle?)"));
        }
        let reference = remote.revision.clone().map_or(Reference::Head, Reference::Revision);
        let checkout = cache.checkout(&remote.repo, &reference).map_err(|e| self.field_error(path, field, e))?;
        let root = RepoRoot::new(&checkout.dir)
            .map_err(|e| self.field_error(path, field, e))?
            .fetched(&crate::git::scrub(&remote.repo), &checkout.commit);
        let mut nested = Builder::new(&root, self.options);
        nested.remote_depth = self.remote_depth + 1;
        nested.schema = self.schema.take();
        // A remote base starts from the built-in field specs, as a local base does.
        nested.meta = self.meta;
        // Origins inside a remote base are paths from the repository's root, with its URL and ref.
        nested.place = Place {
            dir: if remote.path == "." { String::new() } else { remote.path.clone() },
            repo: git::scrub(&remote.repo),
            reference: remote.revision.clone().unwrap_or_default(),
        };
        let mut base = ResMap::default();
        let result = nested.run(&remote.path, &mut base, FileKind::Kustomization, false);
        self.schema = nested.schema.take();
        result.map_err(|e| e.within(path, field))?;
        if let Cow::Owned(theirs) = &nested.config {
            self.config.to_mut().merge_config(theirs).map_err(|e| self.field_error(path, field, e))?;
        }
        self.vars.extend(nested.vars);
        let shown = git::scrub(&remote.repo);
        Ok(base
            .items
            .into_iter()
            .map(|mut r| {
                r.origin = format!("{shown}//{} at {}", r.origin, checkout.commit);
                r
            })
            .collect())
    }

    /// The objects of a resource file: every document, with `List` items after the file's
    /// other documents (kustomize's order).
    fn parse_resources(&self, source: &str, text: &str, path: &str, field: &str) -> Result<Vec<Value>, Error> {
        let docs = yaml::parse_stream(source, text).map_err(|e| self.field_error(path, field, e))?;
        let mut out = Vec::new();
        let mut items = Vec::new();
        for (i, doc) in docs.into_iter().enumerate() {
            let Value::Object(map) = &doc else {
                return Err(self.field_error(path, field, format!("{source}: document {}: not a map", i + 1)));
            };
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind.ends_with("List") && map.contains_key("items") {
                if let Some(Value::Array(list)) = map.get("items") {
                    items.extend(list.iter().cloned());
                }
                continue;
            }
            if kind.is_empty() {
                return Err(self.field_error(path, field, format!("{source}: document {}: missing `kind`", i + 1)));
            }
            out.push(doc);
        }
        out.extend(items);
        Ok(out)
    }

    fn add_configurations(&mut self, dir: &str, path: &str, k: &Kustomization) -> Result<(), Error> {
        for (i, rel) in k.configurations.iter().enumerate() {
            let field = format!("configurations[{i}]");
            let text = self.read_text(dir, rel, path, &field)?;
            // kustomize reads a configurations file as it reads the kustomization (first document
            // only, sigs.k8s.io/yaml).
            if let Some(doc) = yaml::parse_kustomization(rel, &text).map_err(|e| self.field_error(path, &field, e))? {
                self.config.to_mut().merge_configuration(&doc).map_err(|e| self.field_error(path, &field, e))?;
            }
        }
        for (i, rel) in k.crds.iter().enumerate() {
            let field = format!("crds[{i}]");
            let text = self.read_text(dir, rel, path, &field)?;
            for doc in yaml::parse_stream(rel, &text).map_err(|e| self.field_error(path, &field, e))? {
                namerefs::add_crd_references(self.config.to_mut(), &doc)
                    .map_err(|e| self.field_error(path, &field, e))?;
            }
        }
        Ok(())
    }

    fn generate(&mut self, dir: &str, path: &str, k: &Kustomization, acc: &mut ResMap) -> Result<(), Error> {
        for (field, args) in &k.generators {
            // A file the loader refuses already has an error naming the kustomization and the
            // field; it is returned as is rather than inside the generator's message.
            let mut failure = None;
            let decrypt = self.options.decrypt_sources.clone();
            let generated = generators::generate(args, k.generator_options.as_ref(), &mut |rel| {
                let bytes = self.read_bytes(dir, rel, path, field).map_err(|e| {
                    let text = e.to_string();
                    failure = Some(e);
                    text
                })?;
                match &decrypt {
                    Some(SourceDecryptor(decrypt)) => match decrypt(rel, &bytes)? {
                        Some(plain) => Ok(plain),
                        None => Ok(bytes),
                    },
                    None => Ok(bytes),
                }
            });
            let generated = match (generated, failure) {
                (Ok(g), _) => g,
                (Err(_), Some(io)) => return Err(io),
                (Err(e), None) => return Err(self.field_error(path, field, e)),
            };
            let id = Id::of(&generated.object);
            match args.behavior {
                Behavior::Create => {
                    let mut r = Resource::new(generated.object, path.to_string());
                    r.hash = Some(generated.hash);
                    if self.meta.is_some() {
                        let by = generator_kind(args.kind);
                        r.meta_origin = Some(Arc::new(self.place.configured(file_name(path), by)));
                    }
                    acc.add(r, self.schema()).map_err(|e| {
                        self.field_error(path, field, format!("{e}; to change it, set behavior to merge or replace"))
                    })?;
                }
                behavior => {
                    let found = acc.find(&id, self.schema());
                    let [i] = found.as_slice() else {
                        let problem = if found.is_empty() {
                            format!("{}: does not exist; cannot merge or replace", id.shown())
                        } else {
                            format!("{}: matches several objects; cannot merge or replace", id.shown())
                        };
                        return Err(self.field_error(path, field, problem));
                    };
                    let existing = &mut acc.items[*i];
                    let flag =
                        generators::merge_into(&mut existing.obj, existing.hash.unwrap_or(false), &generated, behavior)
                            .map_err(|e| Error::Field {
                                file: path.to_string(),
                                field: field.clone(),
                                problem: e.to_string(),
                            })?;
                    existing.hash = Some(flag);
                    // kustomize keeps the origin of what a merge went into, but a replacement
                    // comes from this generator (its transformations stay either way).
                    if behavior == Behavior::Replace && self.meta.is_some() {
                        let by = generator_kind(args.kind);
                        let origin = Arc::new(self.place.configured(file_name(path), by));
                        acc.items[*i].meta_origin = Some(origin);
                    }
                }
            }
        }
        Ok(())
    }

    fn transform(&mut self, dir: &str, path: &str, k: &Kustomization, acc: &mut ResMap) -> Result<(), Error> {
        let mut smp_docs = Vec::new();
        for p in &k.patches_strategic_merge {
            let (source, text) = self.patch_text(dir, path, &p.source, &p.field)?;
            let docs = yaml::parse_stream(&source, &text).map_err(|e| self.field_error(path, &p.field, e))?;
            smp_docs.extend(docs.into_iter().map(|d| (p.field.clone(), d)));
        }
        if !k.patches_strategic_merge.is_empty() && smp_docs.is_empty() {
            return Err(self.field_error(path, "patchesStrategicMerge", "patch appears to be empty"));
        }
        for (field, doc) in &smp_docs {
            transform::strategic_merge(acc, doc, None, false, false, self.schema())
                .map_err(|e| self.field_error(path, field, e))?;
        }
        if !k.patches_strategic_merge.is_empty() {
            self.ran(acc, path, "PatchStrategicMergeTransformer");
        }
        for p in &k.patches {
            let (source, text) = self.patch_text(dir, path, &p.source, &p.field)?;
            transform::patch(acc, &source, &text, p, self.schema()).map_err(|e| self.field_error(path, &p.field, e))?;
            self.ran(acc, path, "PatchTransformer");
        }
        if let Some(ns) = &k.namespace {
            transform::namespace(acc, ns, &self.config, self.schema())
                .map_err(|e| self.field_error(path, "namespace", e))?;
            self.ran(acc, path, "NamespaceTransformer");
        }
        if k.name_prefix.is_some() || k.name_suffix.is_some() {
            transform::prefix_suffix(acc, k.name_prefix.as_deref(), k.name_suffix.as_deref(), &self.config)
                .map_err(|e| self.field_error(path, "namePrefix", e))?;
            // kustomize runs the prefix and the suffix as two transformers, each only when set.
            if k.name_prefix.as_deref().is_some_and(|p| !p.is_empty()) {
                self.ran(acc, path, "PrefixTransformer");
            }
            if k.name_suffix.as_deref().is_some_and(|s| !s.is_empty()) {
                self.ran(acc, path, "SuffixTransformer");
            }
        }
        for (i, labels) in k.labels.iter().enumerate() {
            transform::labels(acc, labels, &self.config)
                .map_err(|e| self.field_error(path, &format!("labels[{i}]"), e))?;
            self.ran(acc, path, "LabelTransformer");
        }
        if !k.common_labels.is_empty() {
            transform::common_labels(acc, &k.common_labels, &self.config)
                .map_err(|e| self.field_error(path, "commonLabels", e))?;
        }
        // kustomize configures a commonLabels transformer whenever `labels` or `commonLabels`
        // is set, even with no common labels.
        if !k.common_labels.is_empty() || !k.labels.is_empty() {
            self.ran(acc, path, "LabelTransformer");
        }
        if !k.common_annotations.is_empty() {
            transform::annotations(acc, &k.common_annotations, &self.config)
                .map_err(|e| self.field_error(path, "commonAnnotations", e))?;
            self.ran(acc, path, "AnnotationsTransformer");
        }
        for p in &k.patches_json6902 {
            let (source, text) = self.patch_text(dir, path, &p.source, &p.field)?;
            transform::patch(acc, &source, &text, p, self.schema()).map_err(|e| self.field_error(path, &p.field, e))?;
            self.ran(acc, path, "PatchJson6902Transformer");
        }
        for (i, r) in k.replicas.iter().enumerate() {
            transform::replicas(acc, r, &self.config)
                .map_err(|e| self.field_error(path, &format!("replicas[{i}]"), e))?;
            self.ran(acc, path, "ReplicaCountTransformer");
        }
        for (i, image) in k.images.iter().enumerate() {
            transform::images(acc, image, &self.config)
                .map_err(|e| self.field_error(path, &format!("images[{i}]"), e))?;
            self.ran(acc, path, "ImageTagTransformer");
        }
        if !k.replacements.is_empty() {
            let mut entries = Vec::new();
            for (i, entry) in k.replacements.iter().enumerate() {
                match entry.get("path").and_then(Value::as_str) {
                    Some(rel) => {
                        let field = format!("replacements[{i}]");
                        let text = self.read_text(dir, rel, path, &field)?;
                        for doc in yaml::parse_stream(rel, &text).map_err(|e| self.field_error(path, &field, e))? {
                            match doc {
                                Value::Array(items) => entries.extend(items),
                                other => entries.push(other),
                            }
                        }
                    }
                    None => entries.push(entry.clone()),
                }
            }
            replace::replacements(acc, &entries).map_err(|e| self.field_error(path, "replacements", e))?;
            self.ran(acc, path, "ReplacementTransformer");
        }
        replace::bind_vars(acc, &k.vars, self.schema()).map_err(|e| self.field_error(path, "vars", e))?;
        self.vars.extend(k.vars.iter().cloned());
        Ok(())
    }

    fn patch_text(&self, dir: &str, path: &str, source: &PatchSource, field: &str) -> Result<(String, String), Error> {
        match source {
            PatchSource::Inline(text) => Ok((format!("{path} {field}"), text.clone())),
            PatchSource::Path(rel) => Ok((join(dir, rel), self.read_text(dir, rel, path, field)?)),
        }
    }

    /// The top-level steps: hash suffixes, name references, local-config removal, order.
    fn finish(&mut self, top: &str, acc: &mut ResMap) -> Result<(), Error> {
        for r in &mut acc.items {
            if r.hash == Some(true) {
                let suffix = generators::hash_suffix(&r.obj);
                r.remember();
                let name = format!("{}-{suffix}", r.name());
                r.set_meta("name", name);
            }
        }
        namerefs::fix(acc, &self.config, self.schema())
            .map_err(|e| Error::File { file: top.to_string(), problem: e })?;
        replace::vars(acc, &self.vars, &self.config.var_references).map_err(|e| self.field_error(top, "vars", e))?;
        acc.items.retain(|r| {
            r.obj.pointer("/metadata/annotations/config.kubernetes.io~1local-config").and_then(Value::as_str)
                != Some("true")
        });
        // The top kustomization's sortOptions win over the caller's order, as they win over
        // `kubectl kustomize --reorder` (fixture 151-sort-legacy-explicit-order-first-last).
        let order = match (&self.sort, self.options.order) {
            (Some(SortOptions::Fifo), _) => Order::Fifo,
            (Some(SortOptions::Legacy { .. }), _) => Order::Legacy,
            (None, Some(o)) => o,
            (None, None) => Order::Legacy,
        };
        if order == Order::Legacy {
            let (first, last) = match &self.sort {
                Some(SortOptions::Legacy { order_first, order_last }) => (order_first.clone(), order_last.clone()),
                _ => (None, None),
            };
            let to_strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            let first = first.unwrap_or_else(|| to_strings(order::ORDER_FIRST));
            let last = last.unwrap_or_else(|| to_strings(order::ORDER_LAST));
            order::legacy(&mut acc.items, &first, &last);
        }
        if let Some(meta) = self.meta {
            buildmeta::annotate(&mut acc.items, meta);
        }
        // kustomize rewrites every object's annotations after removing its internal ones, and
        // an empty (or null) map is left out (fixture 193-buildmetadata-unknown-option-prints-nothing).
        for r in &mut acc.items {
            if let Some(Value::Object(m)) = r.obj.get_mut("metadata")
                && m.get("annotations").is_some_and(|a| a.is_null() || a.as_object().is_some_and(|a| a.is_empty()))
            {
                m.remove("annotations");
            }
        }
        Ok(())
    }
}
