//! `FileCluster`: a directory standing in for a cluster.
//!
//! Reads look like a server's: every stored object carries a `uid`, a `resourceVersion` that
//! grows with every write anywhere in the cluster, a `generation` that grows when anything but
//! metadata and status changes, and a `creationTimestamp`. Writes are atomic (a temporary file
//! beside the target, fsync, rename, fsync of the directory), so a crash leaves every file
//! whole, either old or new; and they need a [`Lock`], an exclusive lock on
//! `<root>/.gitops.lock`, so two syncs never interleave. There are no controllers: nothing
//! changes an object's status, so workload health is not assessed here.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use gitops_core::app::AppSpec;
use gitops_core::sync::options::Propagation;
use gitops_core::{Object, ResourceKey, manifest, names};
use serde_json::{Map, Value};

pub use crate::cluster::Applied;
use crate::cluster::{ApplyMode, Cluster, Resource};

/// Why the file cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A stored object is invalid.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// An object that cannot be stored as given.
    #[error("{key}: {problem}")]
    Invalid {
        /// The object's key.
        key: String,
        /// What is wrong.
        problem: String,
    },
    /// A namespaced object whose namespace is not stored: an API server answers 404, so an
    /// offline sync fails where a real one would.
    #[error("{key}: {}", missing_namespace(namespace))]
    NamespaceNotFound {
        /// The object's key.
        key: String,
        /// The missing namespace.
        namespace: String,
    },
    /// A custom object whose CustomResourceDefinition is not stored: a server serves no such
    /// kind until its CRD is there.
    #[error(
        "{key}: the cluster directory holds no CustomResourceDefinition for {kind} in group {group}; add the CRD to the app (or sync it first)"
    )]
    UnknownKind {
        /// The object's key.
        key: String,
        /// The object's API group.
        group: String,
        /// The object's kind.
        kind: String,
    },
    /// A lock from another cluster directory was given.
    #[error("the lock held is for {held}, not for {wanted}")]
    WrongLock {
        /// The directory the lock is for.
        held: String,
        /// This cluster's directory.
        wanted: String,
    },
    /// Something in the cluster's tree is a symlink or a special file: a FileCluster holds only
    /// plain directories and regular files, so no link can lead a read or a write out of it.
    #[error("{path}: is {what}; a FileCluster holds only plain directories and regular files and follows no links")]
    NotPlain {
        /// The entry.
        path: String,
        /// What it is (`a symlink`, `a FIFO`, ...).
        what: &'static str,
    },
    /// A stored file holds an object whose key does not match its path.
    #[error("{path}: holds {found}, but its path says {expected}")]
    Misplaced {
        /// The file.
        path: String,
        /// The key its path encodes.
        expected: String,
        /// The key of the object inside.
        found: String,
    },
}

fn missing_namespace(namespace: &str) -> String {
    format!(
        "namespace {namespace:?} does not exist in the cluster directory; add the Namespace to the app or sync with CreateNamespace=true"
    )
}

/// A directory standing in for a cluster.
#[derive(Debug, Clone)]
pub struct FileCluster {
    root: PathBuf,
    cache: Option<ListCache>,
}

/// Listings of FileClusters shared by the passes of one walk of a fleet, where each app's pass
/// would otherwise read and parse its whole cluster again (quadratic in the apps of a cluster).
/// A listing is used again while the cluster's resourceVersion counter, which every write
/// through a FileCluster bumps (in any process), is unchanged; files edited by hand are seen by
/// the next walk, not within one.
#[derive(Debug, Clone, Default)]
pub struct ListCache(Arc<Mutex<HashMap<PathBuf, Arc<Listing>>>>);

/// A cluster's objects as read at one value of its resourceVersion counter, indexed by the app
/// names their tracking marks name and by key, so that an app's objects are found without
/// looking at every object of the cluster.
#[derive(Debug)]
struct Listing {
    version: u64,
    objects: Arc<Vec<Object>>,
    by_app: HashMap<String, Vec<usize>>,
    by_key: HashMap<ResourceKey, usize>,
}

impl Listing {
    fn new(version: u64, objects: Vec<Object>) -> Listing {
        let mut by_app: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_key = HashMap::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            for name in gitops_core::app::tracking_names(o) {
                by_app.entry(name.to_string()).or_default().push(i);
            }
            by_key.insert(o.key(""), i);
        }
        Listing { version, objects: Arc::new(objects), by_app, by_key }
    }
}

const CLUSTER_DIR: &str = "_cluster";
const CORE_DIR: &str = "core";
/// The namespaces a new cluster holds before anything is applied (as `kube-apiserver` creates
/// them at start), so an empty directory takes what an empty cluster takes.
const INITIAL_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];
const LOCK_FILE: &str = ".gitops.lock";
const VERSION_FILE: &str = ".resource-version";

/// The exclusive right to write to one cluster directory, held until dropped. Another process
/// (or thread) asking for it waits.
#[derive(Debug)]
pub struct Lock {
    _file: File,
    root: PathBuf,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

/// Writes `bytes` to `path` so that a crash at any point leaves either the old file or the
/// new one, never a part: a temporary file in the same directory, synced, renamed over the
/// target, then the directory synced so the rename itself is durable.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        // Errors name the file being written, not its temporary name.
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(io_at(path))?;
        f.write_all(bytes).map_err(io_at(path))?;
        f.sync_all().map_err(io_at(path))?;
        std::fs::rename(&tmp, path).map_err(io_at(path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Whether a file name is one of [`write_atomic`]'s temporary files written by another process
/// than this one.
fn foreign_temporary(name: &str) -> bool {
    let Some((_, tail)) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp-")) else { return false };
    let Some((pid, n)) = tail.split_once('-') else { return false };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(pid) && digits(n) && pid.parse::<u32>().ok() != Some(std::process::id())
}

/// Removes the temporary files of writers that died mid-write, under `dir` (the cluster root,
/// its status directory and its object directories, at most four levels down). Called with the
/// lock held: every writer holds it while it writes, so another process's temporary file can only
/// be a dead one's (this process's own may be in flight on another thread, and are left).
/// Best effort: a file that cannot be removed stays hidden from reads, as before.
fn sweep_temporary(dir: &Path, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else { continue };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_dir() && depth < 3 {
            sweep_temporary(&entry.path(), depth + 1);
        } else if kind.is_file() && foreign_temporary(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A Secret's `stringData` folded into `data` (base64), as the API server stores it: what is
/// kept, and so every output that reads it back, never holds the value in clear text.
fn fold_string_data(secret: &mut Map<String, Value>) {
    use base64::Engine as _;
    let Some(Value::Object(strings)) = secret.remove("stringData") else { return };
    let data = secret.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Value::Object(data) = data {
        for (k, v) in strings {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

/// A fresh uid in the form Kubernetes uses (a random UUID, version 4). Uniqueness is what
/// matters here, not secrecy: the standard library's randomly seeded hasher suffices.
fn new_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        h.finish()
    };
    let (a, b) = (word(), word());
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// The object without the fields a server owns, to tell whether an apply changes anything.
fn content(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(Value::Object(meta)) = v.get_mut("metadata") {
        for f in ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"] {
            meta.remove(f);
        }
    }
    v
}

/// What `generation` counts: everything but metadata and status.
fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

impl FileCluster {
    /// A file cluster rooted at `root` (created on first write, later).
    pub fn new(root: impl Into<PathBuf>) -> FileCluster {
        FileCluster { root: root.into(), cache: None }
    }

    /// Where the object with this key is stored: `<root>/<namespace>/<group>/<kind>/<name>.yaml`
    /// (`_cluster` and `core` standing for the empty namespace and group). Every part must pass
    /// the API server's rules first ([`names::check_key`]), so none can hold a separator or
    /// `..` and every path stays inside the root; a name may not start with `.` either, since
    /// such files are hidden from [`FileCluster::list`].
    pub fn path_for(&self, key: &ResourceKey) -> Result<PathBuf, Error> {
        let invalid = |problem: String| Error::Invalid { key: key.to_string(), problem };
        names::check_key(key).map_err(|e| invalid(e.to_string()))?;
        if key.name.starts_with('.') {
            return Err(invalid("metadata.name: a FileCluster cannot store a name starting with '.'".into()));
        }
        let ns = if key.namespace.is_empty() { CLUSTER_DIR } else { &key.namespace };
        let group = if key.group.is_empty() { CORE_DIR } else { &key.group };
        Ok(self.root.join(ns).join(group).join(&key.kind).join(format!("{}.yaml", key.name)))
    }

    /// [`FileCluster::path_for`], after checking that nothing on the way from the root (nor
    /// the file, if it exists) is a symlink or a special file.
    fn plain_path_for(&self, key: &ResourceKey) -> Result<PathBuf, Error> {
        let path = self.path_for(key)?;
        self.check_plain(&path)?;
        Ok(path)
    }

    /// Checks that every existing entry from the root down to `path` is a plain directory, and
    /// `path` itself, if it exists, a regular file. A repository can commit symlinks where the
    /// default target (`.gitops/cluster` next to the app file) lies; none is followed.
    pub(crate) fn check_plain(&self, path: &Path) -> Result<(), Error> {
        let Ok(rel) = path.strip_prefix(&self.root) else { return Ok(()) };
        let mut at = self.root.clone();
        let parts: Vec<_> = rel.components().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let meta = match std::fs::symlink_metadata(&at) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(source) => return Err(Error::Io { path: at.display().to_string(), source }),
            };
            let last = i + 1 == parts.len();
            let ft = meta.file_type();
            if ft.is_symlink() || (last && !ft.is_file()) || (!last && !ft.is_dir()) {
                return Err(Error::NotPlain { path: at.display().to_string(), what: describe(ft) });
            }
        }
        Ok(())
    }

    /// The cluster's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the cluster's write lock, waiting while another sync holds it. Temporary files a
    /// killed writer left behind are removed once the lock is held.
    pub fn lock(&self) -> Result<Lock, Error> {
        std::fs::create_dir_all(&self.root).map_err(io_at(&self.root))?;
        let path = self.root.join(LOCK_FILE);
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_at(&path))?;
        file.lock().map_err(io_at(&path))?;
        let root = self.root.canonicalize().map_err(io_at(&self.root))?;
        sweep_temporary(&root, 0);
        Ok(Lock { _file: file, root })
    }

    fn check_lock(&self, lock: &Lock) -> Result<(), Error> {
        // A directory that does not exist cannot be the one the lock was taken in.
        let root = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
        if root != lock.root {
            return Err(Error::WrongLock { held: lock.root.display().to_string(), wanted: root.display().to_string() });
        }
        Ok(())
    }

    /// The scopes of the custom kinds whose CustomResourceDefinitions are stored here.
    pub fn crd_scopes(&self) -> Result<gitops_core::scope::Scopes, Error> {
        let dir = self.root.join("_cluster").join("apiextensions.k8s.io").join("CustomResourceDefinition");
        let mut scopes = gitops_core::scope::Scopes::new();
        if !dir.is_dir() {
            return Ok(scopes);
        }
        for file in object_files(&dir)? {
            let text = std::fs::read_to_string(&file)
                .map_err(|source| Error::Io { path: file.display().to_string(), source })?;
            for o in manifest::parse(&file.display().to_string(), &text)? {
                scopes.learn_crd(&o);
            }
        }
        Ok(scopes)
    }

    /// The stored object with this key, if any.
    pub fn get(&self, key: &ResourceKey) -> Result<Option<Object>, Error> {
        let path = self.plain_path_for(key)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path: path.display().to_string(), source }),
        };
        Ok(manifest::parse(&path.display().to_string(), &text)?.into_iter().next())
    }

    /// Stores `obj` as an apply would: a new object gets a uid, generation 1 and a creation
    /// time; an existing one keeps them (and its status) and gets generation + 1 when anything
    /// but metadata and status changed. Every write takes the next resourceVersion; an apply
    /// that changes nothing writes nothing. Namespaced objects must name their namespace.
    pub fn apply(&self, lock: &Lock, obj: &Object) -> Result<(Applied, Object), Error> {
        self.check_lock(lock)?;
        let (key, existing, mut value) = self.incoming(obj)?;
        let old = existing.as_ref().map(Object::value);
        if let Some(old) = old
            && content(old) == content(&value)
        {
            return Ok((Applied::Unchanged, existing.unwrap_or_else(|| obj.clone())));
        }
        let kept = |f: &str| old.and_then(|o| o.get("metadata")).and_then(|m| m.get(f)).cloned();
        let generation = match old {
            None => 1,
            Some(o) => {
                let g = o.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
                if spec_part(o) == spec_part(&value) { g } else { g + 1 }
            }
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if let Some(Value::Object(meta)) = value.get_mut("metadata") {
            meta.insert("uid".into(), kept("uid").unwrap_or_else(|| Value::String(new_uid())));
            meta.insert("generation".into(), Value::from(generation));
            let created = kept("creationTimestamp")
                .unwrap_or_else(|| Value::String(gitops_core::time::rfc3339(i64::try_from(now).unwrap_or(0))));
            meta.insert("creationTimestamp".into(), created);
        }
        self.store(&key, &mut value)?;
        let action = if existing.is_some() { Applied::Configured } else { Applied::Created };
        Ok((action, Object::new(value, obj.origin().clone())))
    }

    /// What [`FileCluster::apply`] would do with `obj`, checked as it checks it, without writing:
    /// a server's dry run.
    pub fn dry_apply(&self, obj: &Object) -> Result<Applied, Error> {
        let (_, existing, value) = self.incoming(obj)?;
        Ok(match existing {
            None => Applied::Created,
            Some(old) if content(old.value()) == content(&value) => Applied::Unchanged,
            Some(_) => Applied::Configured,
        })
    }

    /// An object about to be applied, checked as a server checks it, with what is stored under
    /// its key and its value as it would be stored: without the fields a server owns, and with
    /// the stored object's status.
    fn incoming(&self, obj: &Object) -> Result<(ResourceKey, Option<Object>, Value), Error> {
        let key = obj.key("");
        if !obj.is_cluster_scoped() && key.namespace.is_empty() {
            return Err(Error::Invalid {
                key: key.to_string(),
                problem: "a namespaced object needs metadata.namespace to be stored".into(),
            });
        }
        crate::server_rules::check(obj).map_err(|e| Error::Invalid { key: key.to_string(), problem: e.to_string() })?;
        if self.serves(obj.group(), obj.kind())?.is_none() {
            return Err(Error::UnknownKind {
                key: key.to_string(),
                group: obj.group().to_string(),
                kind: obj.kind().to_string(),
            });
        }
        if !key.namespace.is_empty() && !self.namespace_exists(&key.namespace)? {
            return Err(Error::NamespaceNotFound { key: key.to_string(), namespace: key.namespace.clone() });
        }
        let existing = self.get(&key)?;
        let mut value = obj.value().clone();
        let Value::Object(map) = &mut value else {
            return Err(Error::Invalid { key: key.to_string(), problem: "not a map".into() });
        };
        map.remove("status");
        let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(meta) = meta else {
            return Err(Error::Invalid { key: key.to_string(), problem: "metadata is not a map".into() });
        };
        for f in ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"] {
            meta.remove(f);
        }
        if let Some(status) = existing.as_ref().and_then(|o| o.value().get("status")) {
            map.insert("status".into(), status.clone());
        }
        if obj.group().is_empty() && obj.kind() == "Secret" {
            fold_string_data(map);
        }
        Ok((key, existing, value))
    }

    /// Whether this directory takes objects of `group`/`kind`, and if so whether they are
    /// cluster-scoped: built-in kinds always, custom kinds once their CRD is stored.
    pub fn serves(&self, group: &str, kind: &str) -> Result<Option<bool>, Error> {
        if gitops_core::scope::is_built_in(group, kind) {
            return Ok(Some(gitops_core::schema::schema().is_cluster_scoped(group, kind)));
        }
        Ok(gitops_core::scope::ScopeSource::cluster_scoped(&self.crd_scopes()?, group, kind))
    }

    /// Whether `namespace` is stored, or is one every cluster starts with.
    pub fn namespace_exists(&self, namespace: &str) -> Result<bool, Error> {
        if INITIAL_NAMESPACES.contains(&namespace) {
            return Ok(true);
        }
        Ok(self.get(&ResourceKey::new("", "Namespace", "", namespace))?.is_some())
    }

    /// Sets the status of a stored object (what a controller would do; used by tests and by
    /// callers that simulate one). Returns false when there is no such object.
    pub fn set_status(&self, lock: &Lock, key: &ResourceKey, status: Value) -> Result<bool, Error> {
        self.check_lock(lock)?;
        let Some(existing) = self.get(key)? else { return Ok(false) };
        let mut value = existing.into_value();
        if let Value::Object(m) = &mut value {
            m.insert("status".into(), status);
        }
        self.store(key, &mut value)?;
        Ok(true)
    }

    /// Merge-patches the stored object at `key` (RFC 7386). With `status`, only the patch's
    /// `status` is merged, into the stored status (a status subresource); without, the rest is
    /// merged and stored as an apply stores it (status kept, generation bumped on a spec
    /// change). False when there is no such object.
    pub fn merge_patch(&self, lock: &Lock, key: &ResourceKey, patch: &Value, status: bool) -> Result<bool, Error> {
        self.check_lock(lock)?;
        let Some(existing) = self.get(key)? else { return Ok(false) };
        let origin = existing.origin().clone();
        let mut value = existing.into_value();
        if status {
            let mut merged = value.get("status").cloned().unwrap_or(Value::Null);
            if let Some(p) = patch.get("status") {
                gitops_core::merge_patch::apply(&mut merged, p);
            }
            return self.set_status(lock, key, merged);
        }
        let mut rest = patch.clone();
        if let Value::Object(m) = &mut rest {
            m.remove("status");
        }
        gitops_core::merge_patch::apply(&mut value, &rest);
        if Object::new(value.clone(), origin.clone()).key("") != *key {
            return Err(Error::Invalid {
                key: key.to_string(),
                problem: "a patch may not change the object's kind, name or namespace".into(),
            });
        }
        self.apply(lock, &Object::new(value, origin))?;
        Ok(true)
    }

    /// Deletes the object with this key; false when there was none. Empty directories left
    /// behind are removed.
    pub fn delete(&self, lock: &Lock, key: &ResourceKey) -> Result<bool, Error> {
        self.check_lock(lock)?;
        let path = self.plain_path_for(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(Error::Io { path: path.display().to_string(), source }),
        }
        self.next_version()?;
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root.as_path()) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(true)
    }

    /// Writes an object with the next resourceVersion.
    fn store(&self, key: &ResourceKey, value: &mut Value) -> Result<(), Error> {
        let version = self.next_version()?;
        if let Some(Value::Object(meta)) = value.get_mut("metadata") {
            meta.insert("resourceVersion".into(), Value::String(version.to_string()));
        }
        let text = serde_saphyr::to_string(&*value)
            .map_err(|e| Error::Invalid { key: key.to_string(), problem: format!("cannot be written as YAML: {e}") })?;
        write_atomic(&self.plain_path_for(key)?, text.as_bytes())
    }

    /// This cluster, its listings kept in `cache` (see [`ListCache`]).
    pub fn with_cache(mut self, cache: ListCache) -> FileCluster {
        self.cache = Some(cache);
        self
    }

    /// The resourceVersion counter as it stands (0 before the first write).
    fn version(&self) -> Result<u64, Error> {
        let path = self.root.join(VERSION_FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(t.trim().parse::<u64>().unwrap_or(0)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(Error::Io { path: path.display().to_string(), source }),
        }
    }

    /// The next resourceVersion: a cluster-wide counter, bumped on every write.
    fn next_version(&self) -> Result<u64, Error> {
        let path = self.root.join(VERSION_FILE);
        let next = self.version()? + 1;
        write_atomic(&path, format!("{next}\n").as_bytes())?;
        Ok(next)
    }

    /// Every stored object, ordered by key. A file whose content does not match its path is
    /// an error: the path is the object's identity.
    pub fn list(&self) -> Result<Vec<Object>, Error> {
        Ok(self.list_shared()?.as_ref().clone())
    }

    /// [`FileCluster::list`], shared: from the cache when one is set and nothing was written
    /// since it was filled.
    pub fn list_shared(&self) -> Result<Arc<Vec<Object>>, Error> {
        match self.listing()? {
            Some(listing) => Ok(listing.objects.clone()),
            None => Ok(Arc::new(self.read_all()?)),
        }
    }

    /// The cached listing, read again when something was written since (none without a cache).
    fn listing(&self) -> Result<Option<Arc<Listing>>, Error> {
        let Some(cache) = &self.cache else { return Ok(None) };
        let version = self.version()?;
        let cached = cache.0.lock().ok().and_then(|m| m.get(&self.root).cloned());
        if let Some(listing) = cached
            && listing.version == version
        {
            return Ok(Some(listing));
        }
        let listing = Arc::new(Listing::new(version, self.read_all()?));
        if let Ok(mut m) = cache.0.lock() {
            m.insert(self.root.clone(), listing.clone());
        }
        Ok(Some(listing))
    }

    /// The objects `app` tracks and those at its `desired` keys, in key order (what
    /// [`Cluster::live_for`] answers); through the cached index when there is a cache.
    pub fn live_for(&self, app: &AppSpec, desired: &HashSet<ResourceKey>) -> Result<Vec<Object>, Error> {
        let Some(listing) = self.listing()? else {
            let all = self.read_all()?;
            return Ok(all.into_iter().filter(|o| crate::cluster::is_live_for(o, app, desired)).collect());
        };
        let mut found: Vec<usize> = listing.by_app.get(&app.name).cloned().unwrap_or_default();
        found.extend(desired.iter().filter_map(|k| listing.by_key.get(k).copied()));
        found.sort_unstable();
        found.dedup();
        let objects = &listing.objects;
        Ok(found
            .into_iter()
            .map(|i| &objects[i])
            .filter(|o| crate::cluster::is_live_for(o, app, desired))
            .cloned()
            .collect())
    }

    fn read_all(&self) -> Result<Vec<Object>, Error> {
        let mut out = Vec::new();
        if !self.root.exists() {
            return Ok(out);
        }
        // Hidden entries (the lock, the version counter, app status, temporary files of a write
        // in progress or of a crashed one) are not objects; other files between the levels are
        // not either. A link or special file anywhere is an error: none is followed.
        let hidden = |p: &Path| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let dirs = |dir: &Path| -> Result<Vec<PathBuf>, Error> {
            let mut out = Vec::new();
            for (p, ft) in read_dir_sorted(dir)? {
                if hidden(&p) || ft.is_file() {
                    continue;
                }
                if !ft.is_dir() {
                    return Err(Error::NotPlain { path: p.display().to_string(), what: describe(ft) });
                }
                out.push(p);
            }
            Ok(out)
        };
        for ns in dirs(&self.root)? {
            for group in dirs(&ns)? {
                for kind in dirs(&group)? {
                    for file in object_files(&kind)? {
                        let text = std::fs::read_to_string(&file)
                            .map_err(|source| Error::Io { path: file.display().to_string(), source })?;
                        for o in manifest::parse(&file.display().to_string(), &text)? {
                            let found = o.key("");
                            let expected = self.key_of_path(&file).unwrap_or_else(|| found.clone());
                            if found != expected {
                                return Err(Error::Misplaced {
                                    path: file.display().to_string(),
                                    expected: expected.to_string(),
                                    found: found.to_string(),
                                });
                            }
                            out.push(o);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn key_of_path(&self, file: &Path) -> Option<ResourceKey> {
        let rel = file.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        let [ns, group, kind, name] = parts.as_slice() else { return None };
        let ns = if *ns == CLUSTER_DIR { "" } else { ns };
        let group = if *group == CORE_DIR { "" } else { group };
        Some(ResourceKey::new(group, kind, ns, name.strip_suffix(".yaml")?))
    }
}

/// A [`FileCluster`] with its lock held: the [`Cluster`] the executor and the reconcile loop
/// write to, so that a whole sync (or pass) runs under one lock. Made by
/// [`FileCluster::for_dry_run`], it holds no lock and refuses every write that is not a dry run,
/// so a dry run works on a directory it may not write to.
#[derive(Debug)]
pub struct LockedFileCluster {
    cluster: FileCluster,
    lock: Option<Lock>,
}

impl FileCluster {
    /// Takes the lock (waiting while another sync holds it) for a whole sync.
    pub fn locked(self) -> Result<LockedFileCluster, Error> {
        let lock = self.lock()?;
        Ok(LockedFileCluster { cluster: self, lock: Some(lock) })
    }

    /// The cluster for a dry run: no lock is taken and nothing is written (a real write is an
    /// error), so the directory may be read-only.
    pub fn for_dry_run(self) -> LockedFileCluster {
        LockedFileCluster { cluster: self, lock: None }
    }
}

impl LockedFileCluster {
    /// The directory cluster.
    pub fn cluster(&self) -> &FileCluster {
        &self.cluster
    }

    /// The lock held, or none for a dry run's cluster.
    pub fn lock(&self) -> Option<&Lock> {
        self.lock.as_ref()
    }

    fn write_lock(&self, key: &ResourceKey) -> Result<&Lock, Error> {
        self.lock.as_ref().ok_or_else(|| Error::Invalid {
            key: key.to_string(),
            problem: "this FileCluster was opened for a dry run: it refuses writes".into(),
        })
    }
}

impl Cluster for LockedFileCluster {
    fn describe(&self) -> String {
        format!("dir:{}", self.cluster.root.display())
    }

    fn assesses_health(&self) -> bool {
        false
    }

    /// Built-in kinds, and custom kinds whose CRD is stored: the directory's discovery.
    async fn resource(&self, api_version: &str, kind: &str) -> Result<Option<Resource>, crate::cluster::Error> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Ok(self.cluster.serves(group, kind)?.map(|cluster_scoped| Resource {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: format!("{}s", kind.to_ascii_lowercase()),
            namespaced: !cluster_scoped,
        }))
    }

    async fn list_labeled(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        labels: &[(&str, &str)],
    ) -> Result<Vec<Object>, crate::cluster::Error> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let all = self.cluster.list_shared()?;
        Ok(all
            .iter()
            .filter(|o| o.group() == group && o.kind() == kind && o.namespace() == namespace)
            .filter(|o| labels.iter().all(|(k, v)| o.label(k) == Some(*v)))
            .cloned()
            .collect())
    }

    async fn namespace_objects(&self, namespace: &str) -> Result<Vec<Object>, crate::cluster::Error> {
        let all = self.cluster.list_shared()?;
        Ok(all.iter().filter(|o| o.namespace() == namespace).cloned().collect())
    }

    /// Built-in kinds from the schema table, custom kinds from the CRDs stored here: a
    /// directory has no discovery, and guessing would put a cluster-scoped kind in a namespace.
    async fn cluster_scoped(&self, api_version: &str, kind: &str) -> Result<Option<bool>, crate::cluster::Error> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Ok(self.cluster.serves(group, kind)?)
    }

    async fn live_for(
        &self,
        app: &AppSpec,
        desired: &HashSet<ResourceKey>,
    ) -> Result<Vec<Object>, crate::cluster::Error> {
        Ok(self.cluster.live_for(app, desired)?)
    }

    async fn get(&self, key: &ResourceKey) -> Result<Option<Object>, crate::cluster::Error> {
        Ok(self.cluster.get(key)?)
    }

    async fn merge_patch(&self, key: &ResourceKey, patch: &Value, status: bool) -> Result<bool, crate::cluster::Error> {
        Ok(self.cluster.merge_patch(self.write_lock(key)?, key, patch, status)?)
    }

    /// Every mode stores the object whole: with no other writers, applying and replacing agree.
    /// A client-side apply also records what it applied in kubectl's last-applied annotation,
    /// as `kubectl apply` does, so that a field later dropped from the manifest shows in the
    /// three-way diff (and is removed by the next apply) as on a real cluster.
    async fn apply(
        &self,
        obj: &Object,
        mode: ApplyMode,
        dry_run: bool,
    ) -> Result<(Applied, Object), crate::cluster::Error> {
        let recorded;
        let obj = if mode == ApplyMode::ClientSide {
            let mut o = obj.clone();
            *o.value_mut() = crate::client_side::with_last_applied(obj.value());
            recorded = o;
            &recorded
        } else {
            obj
        };
        let applied = if dry_run {
            // A server validates a dry run as it validates a write, and tells what it would do.
            self.cluster.dry_apply(obj).map(|a| (a, obj.clone()))
        } else {
            self.cluster.apply(self.write_lock(&obj.key(""))?, obj)
        };
        applied.map_err(|e| match e {
            // What a server answers, so the executor treats both targets alike (a dry run of
            // an object in a namespace the same sync creates is checked, not failed).
            Error::NamespaceNotFound { key, namespace } => crate::cluster::Error::Refused {
                key,
                message: missing_namespace(&namespace),
                code: 404,
                reason: "NotFound".into(),
            },
            Error::UnknownKind { .. } => crate::cluster::Error::UnknownKind {
                api_version: obj.api_version().to_string(),
                kind: obj.kind().to_string(),
            },
            e => e.into(),
        })
    }

    /// Deletion is immediate: there are no dependents to wait for.
    async fn delete(
        &self,
        key: &ResourceKey,
        _propagation: Propagation,
        dry_run: bool,
    ) -> Result<bool, crate::cluster::Error> {
        if dry_run {
            return Ok(self.cluster.get(key)?.is_some());
        }
        Ok(self.cluster.delete(self.write_lock(key)?, key)?)
    }

    /// Nothing but this sync writes here: nothing changes while it waits.
    async fn changed(
        &self,
        _watched: &[(ResourceKey, Option<String>)],
        timeout: Duration,
    ) -> Result<(), crate::cluster::Error> {
        tokio::time::sleep(timeout).await;
        Ok(())
    }
}

/// The entries of `dir` with their types (links not followed), sorted by path.
fn read_dir_sorted(dir: &Path) -> Result<Vec<(PathBuf, std::fs::FileType)>, Error> {
    let io = |source| Error::Io { path: dir.display().to_string(), source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let ft = entry.file_type().map_err(|source| Error::Io { path: entry.path().display().to_string(), source })?;
        out.push((entry.path(), ft));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The object files of a kind directory, sorted: `*.yaml` entries that are not hidden (hidden
/// ones are temporary files of a write in progress, or of a crashed one), each a regular file.
fn object_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for (file, ft) in read_dir_sorted(dir)? {
        let hidden = file.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || file.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        if !ft.is_file() {
            return Err(Error::NotPlain { path: file.display().to_string(), what: describe(ft) });
        }
        out.push(file);
    }
    Ok(out)
}

/// What a directory entry that is neither a plain directory nor a regular file is.
fn describe(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_symlink() {
        "a symlink"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else if ft.is_dir() {
        "a directory where a file belongs"
    } else {
        "a file where a directory belongs"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(yaml: &str) -> Object {
        manifest::parse("test", yaml).expect("parses").remove(0)
    }

    fn meta<'a>(o: &'a Object, field: &str) -> &'a Value {
        o.value().pointer(&format!("/metadata/{field}")).unwrap_or(&Value::Null)
    }

    /// The scope of custom kinds comes from the CRDs stored; a cluster-scoped custom object is
    /// stored without a namespace once its scope is known.
    #[test]
    fn stored_crds_tell_the_scope_of_custom_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCluster::new(dir.path().join("cluster"));
        assert_eq!(c.crd_scopes().unwrap(), gitops_core::scope::Scopes::new());
        let lock = c.lock().unwrap();
        let mut early = object("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: early}\n");
        early.set_cluster_scoped(true);
        let e = c.apply(&lock, &early).unwrap_err();
        assert!(matches!(e, Error::UnknownKind { .. }), "a custom object before its CRD is refused: {e}");
        assert!(
            e.to_string().contains("no CustomResourceDefinition for ClusterIssuer in group cert-manager.io"),
            "{e}"
        );
        assert_eq!(c.serves("cert-manager.io", "ClusterIssuer").unwrap(), None);
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: clusterissuers.cert-manager.io}\nspec: {group: cert-manager.io, scope: Cluster, names: {kind: ClusterIssuer, plural: clusterissuers}}\n";
        c.apply(&lock, &object(crd)).unwrap();
        assert_eq!(c.serves("cert-manager.io", "ClusterIssuer").unwrap(), Some(true));
        let scopes = c.crd_scopes().unwrap();
        assert_eq!(
            gitops_core::scope::ScopeSource::cluster_scoped(&scopes, "cert-manager.io", "ClusterIssuer"),
            Some(true)
        );
        let mut issuer = object("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\n");
        assert!(c.apply(&lock, &issuer).is_err(), "a kind of unknown scope without a namespace is refused");
        issuer.set_cluster_scoped(true);
        c.apply(&lock, &issuer).unwrap();
        assert!(dir.path().join("cluster/_cluster/cert-manager.io/ClusterIssuer/letsencrypt.yaml").is_file());
    }

    #[test]
    fn applies_look_like_a_servers() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCluster::new(dir.path().join("cluster"));
        let lock = c.lock().unwrap();
        let v1 =
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec: {replicas: 1}\n";
        let (action, first) = c.apply(&lock, &object(v1)).unwrap();
        assert_eq!(action, Applied::Created);
        assert_eq!((meta(&first, "generation"), meta(&first, "resourceVersion")), (&Value::from(1), &Value::from("1")));
        let uid = meta(&first, "uid").as_str().unwrap().to_string();
        assert_eq!(uid.len(), 36, "{uid}");
        assert!(meta(&first, "creationTimestamp").as_str().unwrap().ends_with('Z'));
        assert_eq!(c.apply(&lock, &object(v1)).unwrap().0, Applied::Unchanged);
        let (action, second) = c.apply(&lock, &object(&v1.replace("replicas: 1", "replicas: 3"))).unwrap();
        assert_eq!(action, Applied::Configured);
        assert_eq!(
            (meta(&second, "generation"), meta(&second, "resourceVersion")),
            (&Value::from(2), &Value::from("2"))
        );
        assert_eq!(
            (meta(&second, "uid"), meta(&second, "creationTimestamp")),
            (meta(&first, "uid"), meta(&first, "creationTimestamp"))
        );
        // Metadata alone does not move the generation; the status survives an apply.
        let key = second.key("");
        assert!(c.set_status(&lock, &key, serde_json::json!({"readyReplicas": 3})).unwrap());
        let labelled = v1
            .replace("replicas: 1", "replicas: 3")
            .replace("namespace: default", "namespace: default, labels: {a: b}");
        let (_, third) = c.apply(&lock, &object(&labelled)).unwrap();
        assert_eq!((meta(&third, "generation"), meta(&third, "resourceVersion")), (&Value::from(2), &Value::from("4")));
        assert_eq!(third.value()["status"]["readyReplicas"], 3);
        assert_eq!(c.get(&key).unwrap().unwrap().value(), third.value());
        assert_eq!(c.list().unwrap().len(), 1);
        assert!(c.delete(&lock, &key).unwrap());
        assert!(!c.delete(&lock, &key).unwrap());
        assert!(c.get(&key).unwrap().is_none());
        assert!(!dir.path().join("cluster/default").exists(), "empty directories go");
        let e = c.apply(&lock, &object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")).unwrap_err();
        assert!(e.to_string().contains("needs metadata.namespace"), "{e}");
        let e = c.apply(&lock, &object(&v1.replace("namespace: default", "namespace: absent"))).unwrap_err();
        assert!(matches!(e, Error::NamespaceNotFound { .. }), "{e}");
        assert!(e.to_string().contains("namespace \"absent\" does not exist"), "{e}");
        let other = FileCluster::new(dir.path().join("other"));
        let e = other.apply(&lock, &object(v1)).unwrap_err();
        assert!(matches!(e, Error::WrongLock { .. }), "{e}");
    }

    #[test]
    fn the_lock_keeps_writers_apart() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCluster::new(dir.path());
        let held = c.lock().unwrap();
        let acquired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiter = {
            let (c, acquired) = (c.clone(), acquired.clone());
            std::thread::spawn(move || {
                let _lock = c.lock().unwrap();
                acquired.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!acquired.load(Ordering::SeqCst), "a second writer waits");
        drop(held);
        waiter.join().unwrap();
        assert!(acquired.load(Ordering::SeqCst));
    }

    /// Not a test on its own: the child process of `a_killed_writer_leaves_every_file_whole`,
    /// which writes until it is killed.
    #[test]
    #[ignore = "run by a_killed_writer_leaves_every_file_whole"]
    fn crash_writer() {
        let Some(dir) = std::env::var_os("GITOPS_CRASH_DIR") else { return };
        let c = FileCluster::new(dir);
        let lock = c.lock().unwrap();
        let big = "x".repeat(256 * 1024);
        for round in 0.. {
            for i in 0..8 {
                let yaml = format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{i}, namespace: default}}\ndata: {{round: '{round}', big: {big}}}\n"
                );
                c.apply(&lock, &object(&yaml)).unwrap();
            }
        }
    }

    #[test]
    fn a_killed_writer_leaves_every_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "file_cluster::tests::crash_writer", "--nocapture"])
            .env("GITOPS_CRASH_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let c = FileCluster::new(dir.path());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while c.list().map_or(0, |l| l.len()) < 8 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(150));
        child.kill().unwrap();
        child.wait().unwrap();
        let objects = c.list().expect("every file reads whole after the kill");
        assert_eq!(objects.len(), 8);
        for o in &objects {
            assert_eq!(o.value()["data"]["big"].as_str().map(str::len), Some(256 * 1024), "{}", o.name());
        }
        // The lock died with the process.
        drop(c.lock().unwrap());
    }

    #[test]
    fn lists_objects_by_path_and_checks_identity() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCluster::new(dir.path());
        let key = ResourceKey::new("", "ConfigMap", "web", "settings");
        let p = c.path_for(&key).unwrap();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: web}\n").unwrap();
        let ns = c.path_for(&ResourceKey::new("", "Namespace", "", "web")).unwrap();
        std::fs::create_dir_all(ns.parent().unwrap()).unwrap();
        std::fs::write(&ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n").unwrap();
        let keys: Vec<String> = c.list().unwrap().iter().map(|o| o.key("").to_string()).collect();
        assert_eq!(keys, ["/Namespace//web", "/ConfigMap/web/settings"]);
        std::fs::write(&p, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: web}\n").unwrap();
        assert!(matches!(c.list(), Err(Error::Misplaced { .. })));
    }

    #[test]
    fn temporary_files_of_a_dead_writer_go_when_the_lock_is_next_taken() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCluster::new(dir.path());
        let key = ResourceKey::new("", "ConfigMap", "web", "settings");
        let kind_dir = c.path_for(&key).unwrap().parent().unwrap().to_path_buf();
        std::fs::create_dir_all(&kind_dir).unwrap();
        std::fs::create_dir_all(dir.path().join(".status")).unwrap();
        let dead = [
            kind_dir.join(".settings.yaml.tmp-4000000000-0"),
            dir.path().join("..resource-version.tmp-4000000001-7"),
            dir.path().join(".status/.shop.json.tmp-4000000002-1"),
        ];
        let own = kind_dir.join(format!(".other.yaml.tmp-{}-3", std::process::id()));
        let unrelated = kind_dir.join(".notes.tmp-x-y");
        for f in dead.iter().chain([&own, &unrelated]) {
            std::fs::write(f, "half a fi").unwrap();
        }
        drop(c.lock().unwrap());
        for f in &dead {
            assert!(!f.exists(), "{} is left", f.display());
        }
        assert!(own.exists(), "this process's own may be in flight");
        assert!(unrelated.exists(), "only write_atomic's temporary names are removed");
    }

    #[test]
    fn a_dry_apply_says_what_an_apply_would_do() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCluster::new(dir.path());
        let cm = |v: &str| {
            object(&format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a, namespace: default}}\ndata: {{k: '{v}'}}\n"
            ))
        };
        assert_eq!(c.dry_apply(&cm("1")).unwrap(), Applied::Created);
        c.apply(&c.lock().unwrap(), &cm("1")).unwrap();
        assert_eq!(c.dry_apply(&cm("1")).unwrap(), Applied::Unchanged);
        assert_eq!(c.dry_apply(&cm("2")).unwrap(), Applied::Configured);
        assert_eq!(c.get(&cm("1").key("")).unwrap().unwrap().value()["data"]["k"], "1", "nothing written");
    }

    #[test]
    fn a_shared_listing_is_read_again_after_any_write_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ListCache::default();
        let reader = FileCluster::new(dir.path()).with_cache(cache.clone());
        let writer = FileCluster::new(dir.path());
        let cm = |name: &str| {
            object(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\n"))
        };
        writer.apply(&writer.lock().unwrap(), &cm("a")).unwrap();
        let first = reader.list_shared().unwrap();
        assert_eq!(first.len(), 1);
        assert!(Arc::ptr_eq(&first, &reader.list_shared().unwrap()), "nothing written: the same listing");
        // A write through any FileCluster (here one without the cache) bumps the counter.
        writer.apply(&writer.lock().unwrap(), &cm("b")).unwrap();
        assert_eq!(reader.list_shared().unwrap().len(), 2);
        writer.delete(&writer.lock().unwrap(), &cm("a").key("")).unwrap();
        assert_eq!(reader.list().unwrap().len(), 1);
        // Without a cache every listing reads the directory.
        assert!(!Arc::ptr_eq(&writer.list_shared().unwrap(), &writer.list_shared().unwrap()));
    }

    #[test]
    fn the_indexed_live_set_is_the_scanned_one() {
        let dir = tempfile::tempdir().unwrap();
        let writer = FileCluster::new(dir.path());
        let lock = writer.lock().unwrap();
        let docs = [
            "metadata: {name: by-id, namespace: default, annotations: {argocd.argoproj.io/tracking-id: 'argocd_shop:/ConfigMap:default/by-id'}}",
            "metadata: {name: by-label, namespace: default, labels: {app.kubernetes.io/instance: shop}}",
            "metadata: {name: copied, namespace: default, annotations: {argocd.argoproj.io/tracking-id: 'shop:/ConfigMap:default/other'}}",
            "metadata: {name: other-app, namespace: default, labels: {app.kubernetes.io/instance: web}}",
            "metadata: {name: desired-only, namespace: default}",
            "metadata: {name: untracked, namespace: default}",
        ];
        for d in docs {
            writer.apply(&lock, &object(&format!("apiVersion: v1\nkind: ConfigMap\n{d}\n"))).unwrap();
        }
        drop(lock);
        let mut app = AppSpec::new(gitops_core::app::AppKind::ArgoApplication, "shop");
        app.rollout.app_namespace = "argocd".into();
        let desired: HashSet<ResourceKey> = [ResourceKey::new("", "ConfigMap", "default", "desired-only")].into();
        let names = |objects: Vec<Object>| objects.iter().map(|o| o.name().to_string()).collect::<Vec<_>>();
        let scanned = names(writer.live_for(&app, &desired).unwrap());
        let indexed =
            names(FileCluster::new(dir.path()).with_cache(ListCache::default()).live_for(&app, &desired).unwrap());
        assert_eq!(scanned, ["by-id", "by-label", "desired-only"]);
        assert_eq!(indexed, scanned);
    }

    #[test]
    fn a_dry_run_cluster_refuses_real_writes() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCluster::new(dir.path().join("absent")).for_dry_run();
        let cm = object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (applied, _) = rt.block_on(c.apply(&cm, ApplyMode::ClientSide, true)).unwrap();
        assert_eq!(applied, Applied::Created);
        let e = rt.block_on(c.apply(&cm, ApplyMode::ClientSide, false)).unwrap_err();
        assert!(e.to_string().contains("opened for a dry run"), "{e}");
        let bad =
            object("apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: default}\ndata: {k: 'not base64!'}\n");
        let e = rt.block_on(c.apply(&bad, ApplyMode::ClientSide, true)).unwrap_err();
        assert!(e.to_string().contains("data.k: the value (not shown) is not valid base64"), "{e}");
        assert!(!dir.path().join("absent").exists());
    }

    #[test]
    fn links_and_special_files_in_the_tree_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let c = FileCluster::new(dir.path().join("cluster"));
        let lock = c.lock().unwrap();
        let cm =
            |ns: &str| object(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a, namespace: {ns}}}\n"));
        for ns in ["shop", "web"] {
            c.apply(&lock, &object(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"))).unwrap();
        }
        // A namespace directory that is a link out.
        std::os::unix::fs::symlink(&outside, dir.path().join("cluster/shop")).unwrap();
        let e = c.apply(&lock, &cm("shop")).unwrap_err();
        assert!(matches!(e, Error::NotPlain { what: "a symlink", .. }), "{e}");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "nothing written through the link");
        assert!(matches!(c.list(), Err(Error::NotPlain { .. })));
        assert!(c.get(&cm("shop").key("")).is_err());
        std::fs::remove_file(dir.path().join("cluster/shop")).unwrap();
        // An object file that is a link to a file elsewhere is neither read nor replaced.
        c.apply(&lock, &cm("web")).unwrap();
        let file = c.path_for(&cm("web").key("")).unwrap();
        std::fs::remove_file(&file).unwrap();
        std::fs::write(outside.join("secret"), "token: hunter2\n").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), &file).unwrap();
        assert!(c.get(&cm("web").key("")).unwrap_err().to_string().contains("is a symlink"));
        assert!(c.delete(&lock, &cm("web").key("")).is_err());
        assert_eq!(std::fs::read_to_string(outside.join("secret")).unwrap(), "token: hunter2\n");
        std::fs::remove_file(&file).unwrap();
        // A FIFO is refused, not opened (opening it would block).
        let fifo = c.path_for(&ResourceKey::new("", "ConfigMap", "web", "b")).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(c.list().unwrap_err().to_string().contains("is a FIFO"));
        assert!(c.get(&ResourceKey::new("", "ConfigMap", "web", "b")).unwrap_err().to_string().contains("is a FIFO"));
    }
}
