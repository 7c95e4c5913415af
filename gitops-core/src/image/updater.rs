//! Argo CD Image Updater, annotation mode: the `argocd-image-updater.argoproj.io/*`
//! annotations of an Application read into a typed configuration, the tag each image
//! selects from a registry's tags, and whether the app needs an update, as the Image
//! Updater (registry-scanner) decides.
//!
//! Per image of `image-list` (`[alias=]image[:constraint],...`), options are read from
//! `<alias>.<option>` (a `/` in the alias read as `_`), and for `update-strategy`,
//! `allow-tags`, `ignore-tags`, `pull-secret` and `force-update` from the app-wide
//! `<option>` when the alias' annotation is absent (present but empty counts as set).
//!
//! Selection, in the Image Updater's order:
//! 1. a tag survives if the allow matcher accepts it (`allow-tags`: empty or `any` accept
//!    all, `regexp:<re>` an unanchored RE2 search; anything else, a bad regex included,
//!    accepts **nothing**), no `ignore-tags` glob matches it (Go `filepath.Match`, whole tag;
//!    a malformed glob matches nothing), and, for `digest`, it is the constraint itself;
//! 2. the strategy (`semver` by default; an unknown name is `semver` too) sorts what is left
//!    and the **last** wins:
//!    - `semver`: tags read leniently (Masterminds `NewVersion`: `v1`, `1.2` are versions;
//!      others are skipped), checked against the constraint when there is one (no
//!      constraint: every version, prereleases too), sorted by version then by the tag's
//!      text (`v1.0.0` beats `1.0.0`);
//!    - `newest-build` (`latest`): by creation time, then by name;
//!    - `alphabetical` (`name`): by bytes;
//!    - `digest`: the constraint tag, carrying its manifest digest.
//! 3. the app needs an update when the chosen tag differs from the live one (digests
//!    compared when either side has one), whether higher or not ([`decide`]).

use regex::Regex;
use serde_json::{Map, Value};

use super::go;
use super::reference::ImageRef;
use crate::appset::generators::pathmatch::go_path_match;
use crate::semver_range::{Constraints, Version};

/// The annotation prefix.
pub const PREFIX: &str = "argocd-image-updater.argoproj.io";
/// The Helm parameter for the image name when `helm.image-name` is not set.
pub const DEFAULT_HELM_IMAGE_NAME: &str = "image.name";
/// The Helm parameter for the image tag when `helm.image-tag` is not set.
pub const DEFAULT_HELM_IMAGE_TAG: &str = "image.tag";

/// Annotations that cannot configure an update; the message names the annotation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No `image-list` annotation.
    #[error("{app}: no {PREFIX}/image-list annotation")]
    NoImageList {
        /// The Application (`namespace/name`).
        app: String,
    },
    /// `metadata.annotations` holds something other than strings.
    #[error("{app}: metadata.annotations.{key}: must be a string")]
    NotAString {
        /// The Application.
        app: String,
        /// The annotation.
        key: String,
    },
    /// No image has that alias (or name).
    #[error("{app}: no image {alias:?} in {PREFIX}/image-list (images: {known})")]
    UnknownImage {
        /// The Application.
        app: String,
        /// The alias asked for.
        alias: String,
        /// The aliases and names there are.
        known: String,
    },
    /// A `semver` constraint Masterminds refuses.
    #[error("image {image}: invalid constraint {constraint:?}: {reason}")]
    Constraint {
        /// The image as written in `image-list`.
        image: String,
        /// The constraint.
        constraint: String,
        /// Masterminds' reason.
        reason: String,
    },
    /// `digest` with no constraint tag to follow.
    #[error(
        "image {0}: cannot use update strategy 'digest' without a version constraint (the tag to follow, e.g. `app:latest`)"
    )]
    DigestWithoutTag(String),
}

/// An image as the Image Updater identifies it (its `ContainerImage`): compared by
/// registry and name as written, so `nginx` (registry `""`) and `docker.io/nginx` differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdaterImage {
    /// The registry as written (`ghcr.io`), `""` for Docker Hub unless `docker.io` is written.
    pub registry: String,
    /// The path (`nginx`, `team/app`); `library/` only when written first.
    pub name: String,
    /// The tag (in `image-list`, the version constraint).
    pub tag: Option<String>,
    /// The digest.
    pub digest: Option<String>,
    /// The text it was read from (without the alias).
    pub original: String,
}

impl UpdaterImage {
    /// Reads an image as the Image Updater's `NewFromIdentifier` does (its alias already off):
    /// Docker's reference grammar first; text it refuses (a constraint like `~1.2` is not a
    /// tag) is split by the older rules: a first `/` part with a `.` is the registry, then
    /// `@digest`, then the first `:` (so `host:5000/app:~1` reads oddly there too).
    pub fn parse(text: &str) -> UpdaterImage {
        if let Ok(r) = ImageRef::parse(text) {
            let registry =
                if r.registry == "docker.io" && !text.starts_with("docker.io") { String::new() } else { r.registry };
            let name = if text.starts_with("library/") {
                r.repository
            } else {
                r.repository.strip_prefix("library/").map(str::to_owned).unwrap_or(r.repository)
            };
            return UpdaterImage { registry, name, tag: r.tag, digest: r.digest, original: text.to_owned() };
        }
        let parts: Vec<&str> = text.split('/').collect();
        let (registry, rest) = if parts.len() > 1 && parts[0].contains('.') {
            (parts[0].to_owned(), parts[1..].join("/"))
        } else {
            (String::new(), text.to_owned())
        };
        let (name, tag, digest) = if let Some((before, digest)) = rest.split_once('@') {
            match (before.rfind(':'), before.rfind('/')) {
                (Some(colon), slash) if slash.is_none_or(|s| colon > s) => {
                    (before[..colon].to_owned(), Some(before[colon + 1..].to_owned()), Some(digest.to_owned()))
                }
                _ => (before.to_owned(), None, Some(digest.to_owned())),
            }
        } else if let Some((name, tag)) = rest.split_once(':') {
            (name.to_owned(), Some(tag.to_owned()), None)
        } else {
            (rest, None, None)
        };
        let tag = tag.filter(|t| !t.is_empty());
        UpdaterImage { registry, name, tag, digest: digest.filter(|d| !d.is_empty()), original: text.to_owned() }
    }

    /// `registry/name` (or `name`), without tag.
    pub fn name_without_tag(&self) -> String {
        if self.registry.is_empty() || self.name.starts_with(&format!("{}/", self.registry)) {
            self.name.clone()
        } else {
            format!("{}/{}", self.registry, self.name)
        }
    }

    /// The image to scan: Docker's normalized reference for this name.
    pub fn reference(&self) -> Result<ImageRef, super::reference::Error> {
        ImageRef::parse(&self.name_without_tag())
    }

    fn same_image(&self, other: &UpdaterImage) -> bool {
        self.name == other.name && self.registry == other.registry
    }
}

/// `<alias>.update-strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `semver` (the default).
    SemVer,
    /// `newest-build` (also `latest`).
    NewestBuild,
    /// `alphabetical` (also `name`).
    Alphabetical,
    /// `digest`.
    Digest,
}

impl Strategy {
    /// Reads a strategy name, case-insensitively; an unknown name is `semver`, with a warning.
    pub fn parse(text: &str) -> (Strategy, Option<String>) {
        match text.to_ascii_lowercase().as_str() {
            "" | "semver" => (Strategy::SemVer, None),
            "latest" => {
                (Strategy::NewestBuild, Some("\"latest\" strategy has been renamed to \"newest-build\"".into()))
            }
            "newest-build" => (Strategy::NewestBuild, None),
            "name" => (Strategy::Alphabetical, Some("\"name\" strategy has been renamed to \"alphabetical\"".into())),
            "alphabetical" => (Strategy::Alphabetical, None),
            "digest" => (Strategy::Digest, None),
            _ => (Strategy::SemVer, Some(format!("unknown update strategy {text:?}: using semver"))),
        }
    }

    /// Whether choosing needs each tag's creation time (a manifest and config per tag).
    pub fn needs_metadata(self) -> bool {
        self == Strategy::NewestBuild
    }
}

/// `<alias>.allow-tags`.
#[derive(Debug, Clone)]
pub enum AllowTags {
    /// Empty, absent or `any`.
    Any,
    /// `regexp:<re>`: an unanchored search.
    Regexp(Regex),
    /// Anything else (a bad regex, no `:`, an unknown prefix): no tag is allowed.
    Nothing,
}

impl AllowTags {
    /// Reads an `allow-tags` value; the warning says why it allows nothing.
    pub fn parse(text: &str) -> (AllowTags, Option<String>) {
        if text.is_empty() || text.eq_ignore_ascii_case("any") {
            return (AllowTags::Any, None);
        }
        let Some((kind, pattern)) = text.split_once(':') else {
            return (AllowTags::Nothing, Some(format!("invalid match option syntax {text:?}: no tag is allowed")));
        };
        if !kind.eq_ignore_ascii_case("regexp") {
            return (AllowTags::Nothing, Some(format!("unknown match function {kind:?}: no tag is allowed")));
        }
        match go::compile(pattern) {
            Ok(re) => (AllowTags::Regexp(re), None),
            Err(e) => {
                (AllowTags::Nothing, Some(format!("could not compile regexp {pattern:?} ({e}): no tag is allowed")))
            }
        }
    }

    /// Whether `tag` is allowed.
    pub fn allows(&self, tag: &str) -> bool {
        match self {
            AllowTags::Any => true,
            AllowTags::Regexp(re) => re.is_match(tag),
            AllowTags::Nothing => false,
        }
    }
}

/// A platform `os/arch[/variant]` of `<alias>.platforms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `arm64`.
    pub arch: String,
    /// `v8` (empty when not given).
    pub variant: String,
}

impl Platform {
    /// Reads `os/arch[/variant]`; anything else keeps the text as the OS, so that it
    /// matches no image (the Image Updater's way of not updating to a wrong platform).
    pub fn parse(text: &str) -> (Platform, Option<String>) {
        let trimmed = text.trim();
        let mut parts = trimmed.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(os), Some(arch), variant) => {
                (Platform { os: os.into(), arch: arch.into(), variant: variant.unwrap_or("").into() }, None)
            }
            _ => (
                Platform { os: text.into(), arch: String::new(), variant: String::new() },
                Some(format!("could not parse platform identifier {trimmed:?}: it matches no image")),
            ),
        }
    }

    /// Whether an image for `os/arch/variant` is for this platform (an empty variant here
    /// accepts any).
    pub fn matches(&self, os: &str, arch: &str, variant: &str) -> bool {
        self.os == os && self.arch == arch && (self.variant.is_empty() || self.variant == variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// `<alias>.pull-secret`: where registry credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullSecret {
    /// `pullsecret:<namespace>/<name>`: a docker-registry Secret's `.dockerconfigjson`.
    PullSecret {
        /// The Secret's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
    },
    /// `secret:<namespace>/<name>#<field>`: `username:password` in a Secret field.
    Secret {
        /// The Secret's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
        /// The field.
        field: String,
    },
    /// `env:<VAR>`: `username:password` in an environment variable of the updater.
    Env(String),
    /// `ext:<path>`: a script printing `username:password`.
    Ext(String),
}

impl PullSecret {
    /// Reads a credential reference (`ParseCredentialSource`, no registry prefix required).
    pub fn parse(text: &str) -> Option<PullSecret> {
        let def = match text.split_once('=') {
            Some((registry, def)) if !registry.is_empty() && !def.is_empty() => def,
            _ => text,
        };
        let parts: Vec<&str> = def.split(':').collect();
        let [kind, rest] = parts.as_slice() else { return None };
        if kind.is_empty() || rest.is_empty() {
            return None;
        }
        let ns_name = |s: &str| -> Option<(String, String)> {
            let parts: Vec<&str> = s.split('/').collect();
            match parts.as_slice() {
                [ns, name] if !ns.is_empty() && !name.is_empty() => Some(((*ns).into(), (*name).into())),
                _ => None,
            }
        };
        match kind.to_ascii_lowercase().as_str() {
            "pullsecret" => ns_name(rest).map(|(namespace, name)| PullSecret::PullSecret { namespace, name }),
            "secret" => {
                let parts: Vec<&str> = rest.split('#').collect();
                let [secret, field] = parts.as_slice() else { return None };
                if field.is_empty() {
                    return None;
                }
                ns_name(secret).map(|(namespace, name)| PullSecret::Secret { namespace, name, field: (*field).into() })
            }
            "env" => Some(PullSecret::Env((*rest).into())),
            "ext" => Some(PullSecret::Ext((*rest).into())),
            _ => None,
        }
    }
}

/// One image of `image-list` with its options.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// The alias (empty when none).
    pub alias: String,
    /// The image; its tag is the version constraint.
    pub image: UpdaterImage,
    /// `update-strategy`.
    pub strategy: Strategy,
    /// `allow-tags` (or the deprecated `tag-match`).
    pub allow_tags: AllowTags,
    /// `ignore-tags`: `filepath.Match` globs.
    pub ignore_tags: Vec<String>,
    /// `platforms` (`None`: not set; the updater then uses its own platform).
    pub platforms: Option<Vec<Platform>>,
    /// `pull-secret`.
    pub pull_secret: Option<PullSecret>,
    /// `force-update`: update even when the image is not live in the app.
    pub force_update: bool,
    /// `helm.image-name`.
    pub helm_image_name: Option<String>,
    /// `helm.image-tag`.
    pub helm_image_tag: Option<String>,
    /// `helm.image-spec`.
    pub helm_image_spec: Option<String>,
    /// `kustomize.image-name`: the image as the kustomization names it.
    pub kustomize_image: Option<UpdaterImage>,
    /// What the Image Updater would log as warnings about this image's annotations.
    pub warnings: Vec<String>,
}

/// The annotations of one Application.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `namespace/name` of the Application.
    pub app: String,
    /// `image-list`, in order.
    pub images: Vec<ImageConfig>,
    /// `write-back-method` (`argocd` when absent): `argocd`, `git`, `git:secret:<ns>/<name>`,
    /// `git:repocreds`.
    pub write_back_method: String,
    /// `write-back-target` (`kustomization[:path]`, `helmvalues[:path]`, a file).
    pub write_back_target: Option<String>,
    /// `git-branch` (`base[:write]`, the write branch a template).
    pub git_branch: Option<String>,
    /// `git-repository`: another repository to write to.
    pub git_repository: Option<String>,
    /// Warnings about the list itself.
    pub warnings: Vec<String>,
}

/// A tag of the registry with what selection may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tag.
    pub name: String,
    /// The image's creation time (`newest-build`); none counts as the Unix epoch.
    pub created: Option<jiff::Timestamp>,
    /// The manifest digest (`digest`).
    pub digest: Option<String>,
}

impl Tag {
    /// A tag with neither time nor digest.
    pub fn named(name: impl Into<String>) -> Tag {
        Tag { name: name.into(), created: None, digest: None }
    }
}

struct Annotations<'a> {
    map: &'a Map<String, Value>,
}

impl Annotations<'_> {
    fn get(&self, suffix: &str) -> Option<&str> {
        self.map.get(&format!("{PREFIX}/{suffix}")).and_then(Value::as_str)
    }

    /// The alias' option, else the app-wide one; present-but-empty counts as set.
    fn option(&self, alias: &str, option: &str, app_wide: bool) -> Option<&str> {
        self.get(&format!("{alias}.{option}")).or_else(|| if app_wide { self.get(option) } else { None })
    }
}

impl AppConfig {
    /// Reads the annotations of an Application object.
    pub fn from_app(app: &Value) -> Result<AppConfig, Error> {
        let ns = app.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
        let name = app.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let id = if ns.is_empty() { name.to_owned() } else { format!("{ns}/{name}") };
        let empty = Map::new();
        let map = app.pointer("/metadata/annotations").and_then(Value::as_object).unwrap_or(&empty);
        for (key, value) in map {
            if key.starts_with(PREFIX) && !value.is_string() {
                return Err(Error::NotAString { app: id, key: key.clone() });
            }
        }
        AppConfig::from_annotations(&id, map)
    }

    /// Reads a map of annotations; `app` names the Application in errors.
    pub fn from_annotations(app: &str, map: &Map<String, Value>) -> Result<AppConfig, Error> {
        let a = Annotations { map };
        let list = a.get("image-list").ok_or_else(|| Error::NoImageList { app: app.to_owned() })?;
        let mut warnings = Vec::new();
        let mut images = Vec::new();
        for entry in list.split(',').map(str::trim) {
            if entry.is_empty() {
                warnings.push("an empty entry in image-list is skipped".to_owned());
                continue;
            }
            images.push(image_config(&a, entry));
        }
        Ok(AppConfig {
            app: app.to_owned(),
            images,
            write_back_method: a.get("write-back-method").filter(|m| !m.is_empty()).unwrap_or("argocd").to_owned(),
            write_back_target: a.get("write-back-target").map(str::to_owned),
            git_branch: a.get("git-branch").map(str::to_owned),
            git_repository: a.get("git-repository").map(str::to_owned),
            warnings,
        })
    }

    /// The image with that alias, else the one whose name (as written, or without tag) it is.
    pub fn image(&self, alias: &str) -> Result<&ImageConfig, Error> {
        self.images
            .iter()
            .find(|i| !i.alias.is_empty() && i.alias == alias)
            .or_else(|| self.images.iter().find(|i| i.image.original == alias || i.image.name_without_tag() == alias))
            .ok_or_else(|| Error::UnknownImage {
                app: self.app.clone(),
                alias: alias.to_owned(),
                known: self
                    .images
                    .iter()
                    .map(|i| if i.alias.is_empty() { i.image.original.clone() } else { i.alias.clone() })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

fn image_config(a: &Annotations<'_>, entry: &str) -> ImageConfig {
    let (alias, text) = match entry.split_once('=') {
        Some((alias, text)) => (alias.to_owned(), text),
        None => (String::new(), entry),
    };
    let key = alias.replace('/', "_");
    let mut warnings = Vec::new();
    let (strategy, w) = Strategy::parse(a.option(&key, "update-strategy", true).unwrap_or(""));
    warnings.extend(w);
    let mut allow = a.option(&key, "allow-tags", true).unwrap_or("");
    if allow.is_empty()
        && let Some(old) = a.get(&format!("{key}.tag-match"))
    {
        warnings.push("the tag-match annotation is deprecated: use allow-tags".to_owned());
        allow = old;
    }
    let (allow_tags, w) = AllowTags::parse(allow);
    warnings.extend(w);
    let ignore_tags = a
        .option(&key, "ignore-tags", true)
        .map(|v| v.trim().split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let platforms = a.get(&format!("{key}.platforms")).map(|v| {
        v.split(',')
            .map(|p| {
                let (platform, w) = Platform::parse(p);
                warnings.extend(w);
                platform
            })
            .collect()
    });
    let pull_secret = match a.option(&key, "pull-secret", true).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => {
            let parsed = PullSecret::parse(v);
            if parsed.is_none() {
                warnings.push(format!("invalid credential reference {v:?}: no pull secret is used"));
            }
            parsed
        }
    };
    let force_update = a.option(&key, "force-update", true) == Some("true");
    let image = UpdaterImage::parse(text);
    let option = |name: &str| a.get(&format!("{key}.{name}")).map(str::to_owned);
    ImageConfig {
        alias,
        strategy,
        allow_tags,
        ignore_tags,
        platforms,
        pull_secret,
        force_update,
        helm_image_name: option("helm.image-name"),
        helm_image_tag: option("helm.image-tag"),
        helm_image_spec: option("helm.image-spec"),
        kustomize_image: option("kustomize.image-name").filter(|k| !k.is_empty()).map(|k| UpdaterImage::parse(&k)),
        image,
        warnings,
    }
}

impl ImageConfig {
    /// The version constraint: the tag written in `image-list` (empty when none).
    pub fn constraint(&self) -> &str {
        self.image.tag.as_deref().unwrap_or("")
    }

    /// Whether a tag listed by the registry is a candidate: allowed, not ignored, and for
    /// `digest` the constraint tag.
    pub fn admits(&self, tag: &str) -> bool {
        self.allow_tags.allows(tag)
            && !self.ignore_tags.iter().any(|p| go_path_match(p, tag).unwrap_or(false))
            && (self.strategy != Strategy::Digest || tag == self.constraint())
    }

    /// Checks what selection would refuse: a `semver` constraint Masterminds cannot read,
    /// `digest` with no tag to follow.
    pub fn check(&self) -> Result<Option<Constraints>, Error> {
        let constraint = self.constraint();
        match self.strategy {
            Strategy::SemVer if !constraint.is_empty() => {
                Constraints::parse(constraint).map(Some).map_err(|e| Error::Constraint {
                    image: self.image.original.clone(),
                    constraint: constraint.to_owned(),
                    reason: e.to_string(),
                })
            }
            Strategy::Digest if constraint.is_empty() => Err(Error::DigestWithoutTag(self.image.original.clone())),
            _ => Ok(None),
        }
    }

    /// The tag this image should run, from the registry's tags: `None` when no tag
    /// qualifies. A tag listed twice counts once (its last entry).
    pub fn select(&self, tags: &[Tag]) -> Result<Option<Tag>, Error> {
        let constraints = self.check()?;
        let mut unique: Vec<&Tag> = Vec::new();
        for tag in tags.iter().filter(|t| self.admits(&t.name)) {
            match unique.iter_mut().find(|t| t.name == tag.name) {
                Some(slot) => *slot = tag,
                None => unique.push(tag),
            }
        }
        let best = match self.strategy {
            Strategy::SemVer => unique
                .into_iter()
                .filter_map(|t| Version::parse(&t.name).ok().map(|v| (v, t)))
                .filter(|(v, _)| constraints.as_ref().is_none_or(|c| c.matches(v)))
                .max_by(|(va, a), (vb, b)| va.cmp(vb).then_with(|| a.name.as_bytes().cmp(b.name.as_bytes())))
                .map(|(_, t)| t),
            Strategy::NewestBuild => unique.into_iter().max_by(|a, b| {
                let time = |t: &Tag| t.created.unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                time(a).cmp(&time(b)).then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
            }),
            Strategy::Alphabetical | Strategy::Digest => {
                unique.into_iter().max_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()))
            }
        };
        Ok(best.cloned())
    }
}

/// `status.summary.images` of an Application, read as the Image Updater reads them.
pub fn live_images(app: &Value) -> Vec<UpdaterImage> {
    app.pointer("/status/summary/images")
        .and_then(Value::as_array)
        .map(|images| images.iter().filter_map(Value::as_str).map(UpdaterImage::parse).collect())
        .unwrap_or_default()
}

/// What the Image Updater does with one image of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The image is not live in the app (and not `force-update`): skipped.
    NotLive,
    /// The live image already runs the chosen tag.
    UpToDate {
        /// The live image.
        live: UpdaterImage,
    },
    /// The app should run the chosen tag instead of the live one (which may be higher:
    /// the Image Updater follows the constraint, not the order).
    Update {
        /// The live image (no tag when `force-update` brought it in).
        live: UpdaterImage,
        /// The chosen tag.
        new: Tag,
    },
}

/// Whether the app needs `latest` for this image, given its live images (`needsUpdate`).
pub fn decide(config: &ImageConfig, live: &[UpdaterImage], latest: &Tag) -> Decision {
    let found = config
        .kustomize_image
        .as_ref()
        .and_then(|k| live.iter().find(|l| l.same_image(k)))
        .or_else(|| live.iter().find(|l| l.same_image(&config.image)));
    let mut current = match found {
        Some(image) => image.clone(),
        None if config.force_update => UpdaterImage { tag: None, digest: None, ..config.image.clone() },
        None => return Decision::NotLive,
    };
    if config.strategy == Strategy::Digest && current.digest.is_none() {
        // Any digest compares unequal to this one, so the first run pins the digest.
        current.digest = Some("dummy".to_owned());
    }
    let tag_differs = if current.digest.is_some() || latest.digest.is_some() {
        current.digest != latest.digest
    } else {
        current.tag.as_deref().unwrap_or("") != latest.name
    };
    let kustomize_differs = config.kustomize_image.is_some() && !config.image.same_image(&current);
    if config.strategy == Strategy::Digest && current.digest.as_deref() == Some("dummy") {
        current.digest = None;
    }
    if tag_differs || kustomize_differs {
        Decision::Update { live: current, new: latest.clone() }
    } else {
        Decision::UpToDate { live: current }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(annotations: Value) -> AppConfig {
        AppConfig::from_app(&json!({"metadata": {"name": "web", "namespace": "argocd", "annotations": annotations}}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn names(tags: &[&str]) -> Vec<Tag> {
        tags.iter().map(|t| Tag::named(*t)).collect()
    }

    fn chosen(config: &ImageConfig, tags: &[&str]) -> Option<String> {
        config.select(&names(tags)).unwrap().map(|t| t.name)
    }

    #[test]
    fn images_read_as_the_updater_identifies_them() {
        // (written, registry, name, tag, digest)
        let sha = format!("sha256:{}", "a".repeat(64));
        let with_digest = format!("ghcr.io/org/app:1.0@{sha}");
        type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
        let cases: Vec<Case> = vec![
            ("nginx", "", "nginx", None, None),
            ("nginx:1.2.x", "", "nginx", Some("1.2.x"), None),
            ("docker.io/nginx", "docker.io", "nginx", None, None),
            ("docker.io/library/nginx", "docker.io", "nginx", None, None),
            ("library/nginx", "", "library/nginx", None, None),
            ("index.docker.io/team/app", "", "team/app", None, None),
            ("ghcr.io/org/app:v1", "ghcr.io", "org/app", Some("v1"), None),
            ("localhost:5000/app:1", "localhost:5000", "app", Some("1"), None),
            (&with_digest, "ghcr.io", "org/app", Some("1.0"), Some(&sha)),
            // Constraints that are no tags fall back to the older split.
            ("nginx:~1.26", "", "nginx", Some("~1.26"), None),
            ("ghcr.io/org/app:^1.0", "ghcr.io", "org/app", Some("^1.0"), None),
            ("quay.io/a/b:>=1.0 <2", "quay.io", "a/b", Some(">=1.0 <2"), None),
            // ... in which a port without a dot is no registry: the first `:` splits.
            ("localhost:5000/app:~1", "", "localhost", Some("5000/app:~1"), None),
        ];
        for (text, registry, name, tag, digest) in cases {
            let i = UpdaterImage::parse(text);
            assert_eq!((i.registry.as_str(), i.name.as_str()), (registry, name), "{text}");
            assert_eq!((i.tag.as_deref(), i.digest.as_deref()), (tag, digest), "{text}");
        }
        assert_eq!(UpdaterImage::parse("nginx:1").reference().unwrap().to_string(), "docker.io/library/nginx");
        assert_eq!(UpdaterImage::parse("ghcr.io/org/app:^1").name_without_tag(), "ghcr.io/org/app");
    }

    #[test]
    fn annotations_read_per_alias_then_app_wide() {
        let c = app(json!({
            "argocd-image-updater.argoproj.io/image-list": " web=ghcr.io/org/web:^1.0 , worker=org/worker, ghcr.io/org/plain ,",
            "argocd-image-updater.argoproj.io/web.update-strategy": "Latest",
            "argocd-image-updater.argoproj.io/web.allow-tags": "regexp:^v?[0-9]",
            "argocd-image-updater.argoproj.io/web.ignore-tags": " 1.0.*, ,latest ",
            "argocd-image-updater.argoproj.io/web.platforms": "linux/amd64, linux/arm64/v8,bogus",
            "argocd-image-updater.argoproj.io/web.pull-secret": "pullsecret:argocd/regcred",
            "argocd-image-updater.argoproj.io/web.force-update": "true",
            "argocd-image-updater.argoproj.io/web.helm.image-name": "web.image.repository",
            "argocd-image-updater.argoproj.io/web.helm.image-tag": "web.image.tag",
            "argocd-image-updater.argoproj.io/web.kustomize.image-name": "org/web-base",
            "argocd-image-updater.argoproj.io/update-strategy": "alphabetical",
            "argocd-image-updater.argoproj.io/allow-tags": "any",
            "argocd-image-updater.argoproj.io/force-update": "yes",
            "argocd-image-updater.argoproj.io/pull-secret": "secret:argocd/creds#token",
            "argocd-image-updater.argoproj.io/write-back-method": "git:secret:argocd/git-creds",
            "argocd-image-updater.argoproj.io/write-back-target": "kustomization:../base",
            "argocd-image-updater.argoproj.io/git-branch": "main:image-updater-{{.SHA256}}",
        }));
        assert_eq!(c.images.len(), 3);
        assert_eq!(c.warnings.len(), 1, "the trailing empty entry");
        let web = c.image("web").unwrap();
        assert_eq!((web.strategy, web.constraint()), (Strategy::NewestBuild, "^1.0"));
        assert!(web.warnings.iter().any(|w| w.contains("newest-build")));
        assert!(web.allow_tags.allows("v2") && !web.allow_tags.allows("latest"));
        assert_eq!(web.ignore_tags, ["1.0.*", "latest"]);
        let platforms: Vec<String> = web.platforms.as_ref().unwrap().iter().map(|p| p.to_string()).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8", "bogus/"]);
        assert!(web.warnings.iter().any(|w| w.contains("bogus")));
        assert_eq!(
            web.pull_secret,
            Some(PullSecret::PullSecret { namespace: "argocd".into(), name: "regcred".into() })
        );
        assert!(web.force_update);
        assert_eq!(web.helm_image_name.as_deref(), Some("web.image.repository"));
        assert_eq!(web.helm_image_spec, None);
        assert_eq!(web.kustomize_image.as_ref().map(|k| k.name.as_str()), Some("org/web-base"));
        // The worker has none of its own: the app-wide ones apply; force-update wants "true".
        let worker = c.image("worker").unwrap();
        assert_eq!(worker.strategy, Strategy::Alphabetical);
        assert!(matches!(worker.allow_tags, AllowTags::Any));
        assert!(!worker.force_update);
        assert!(worker.platforms.is_none());
        assert_eq!(
            worker.pull_secret,
            Some(PullSecret::Secret { namespace: "argocd".into(), name: "creds".into(), field: "token".into() })
        );
        // An image without alias is found by its name.
        assert_eq!(c.image("ghcr.io/org/plain").unwrap().alias, "");
        assert!(c.image("nope").unwrap_err().to_string().contains("web, worker, ghcr.io/org/plain"));
        assert_eq!(c.write_back_method, "git:secret:argocd/git-creds");
        assert_eq!(c.write_back_target.as_deref(), Some("kustomization:../base"));
        assert_eq!(c.git_branch.as_deref(), Some("main:image-updater-{{.SHA256}}"));
        assert_eq!(c.git_repository, None);

        // The alias' annotation present but empty hides the app-wide one (then the default).
        let c = app(json!({
            "argocd-image-updater.argoproj.io/image-list": "a/b=org/app",
            "argocd-image-updater.argoproj.io/a_b.update-strategy": "",
            "argocd-image-updater.argoproj.io/update-strategy": "digest",
            "argocd-image-updater.argoproj.io/a_b.tag-match": "regexp:^x",
        }));
        let img = c.image("a/b").unwrap();
        assert_eq!(img.strategy, Strategy::SemVer, "a `/` in the alias reads as `_`");
        assert!(img.allow_tags.allows("x1") && !img.allow_tags.allows("y"), "the old tag-match");
        assert_eq!(c.write_back_method, "argocd");

        let err = AppConfig::from_app(&json!({"metadata": {"name": "web", "annotations": {}}})).unwrap_err();
        assert_eq!(err, Error::NoImageList { app: "web".into() });
        let err = AppConfig::from_app(
            &json!({"metadata": {"name": "web", "annotations": {"argocd-image-updater.argoproj.io/image-list": 3}}}),
        );
        assert!(matches!(err, Err(Error::NotAString { .. })));
    }

    #[test]
    fn strategy_names_and_credential_references() {
        for (text, want, warns) in [
            ("semver", Strategy::SemVer, false),
            ("SemVer", Strategy::SemVer, false),
            ("newest-build", Strategy::NewestBuild, false),
            ("latest", Strategy::NewestBuild, true),
            ("ALPHABETICAL", Strategy::Alphabetical, false),
            ("name", Strategy::Alphabetical, true),
            ("digest", Strategy::Digest, false),
            ("newest", Strategy::SemVer, true),
        ] {
            let (s, w) = Strategy::parse(text);
            assert_eq!((s, w.is_some()), (want, warns), "{text}");
        }
        let cases = [
            ("pullsecret:ns/name", Some(PullSecret::PullSecret { namespace: "ns".into(), name: "name".into() })),
            (
                "ghcr.io=pullsecret:ns/name",
                Some(PullSecret::PullSecret { namespace: "ns".into(), name: "name".into() }),
            ),
            ("PullSecret:ns/name", Some(PullSecret::PullSecret { namespace: "ns".into(), name: "name".into() })),
            (
                "secret:ns/name#f",
                Some(PullSecret::Secret { namespace: "ns".into(), name: "name".into(), field: "f".into() }),
            ),
            ("env:REG_CREDS", Some(PullSecret::Env("REG_CREDS".into()))),
            ("ext:/bin/creds", Some(PullSecret::Ext("/bin/creds".into()))),
            ("pullsecret:ns", None),
            ("pullsecret:ns/a/b", None),
            ("secret:ns/name", None),
            ("ext:/a:b", None),
            ("vault:x", None),
            ("nothing", None),
        ];
        for (text, want) in cases {
            assert_eq!(PullSecret::parse(text), want, "{text}");
        }
    }

    fn image(annotations: &[(&str, &str)], list: &str) -> ImageConfig {
        let mut map = Map::new();
        map.insert(format!("{PREFIX}/image-list"), Value::String(list.into()));
        for (k, v) in annotations {
            map.insert(format!("{PREFIX}/{k}"), Value::String((*v).into()));
        }
        AppConfig::from_annotations("app", &map).unwrap().images.remove(0)
    }

    #[test]
    fn semver_reads_leniently_breaks_ties_by_text_and_takes_the_last() {
        let tags = ["0.1", "0.5.1", "0.9", "1.0", "1.0.1", "1.1.2", "2.0.3", "latest", "2.1.0-rc.1"];
        // (constraint, chosen)
        let cases = [
            ("", Some("2.1.0-rc.1")),
            ("^1.0", Some("1.1.2")),
            ("~1.0", Some("1.0.1")),
            ("1.x", Some("1.1.2")),
            ("<1", Some("0.9")),
            (">=2.1.0-0", Some("2.1.0-rc.1")),
            ("~3", None),
        ];
        for (constraint, want) in cases {
            let list = if constraint.is_empty() { "a=org/app".to_owned() } else { format!("a=org/app:{constraint}") };
            assert_eq!(chosen(&image(&[], &list), &tags).as_deref(), want, "{constraint:?}");
        }
        // Equal versions: the lexically greater text wins, so `v1.0.0` over `1.0.0` and `1.0`.
        let img = image(&[], "a=org/app:1.x");
        assert_eq!(chosen(&img, &["v1.0.0", "1.0.0", "1.0"]).as_deref(), Some("v1.0.0"));
        assert_eq!(chosen(&img, &["1.0.0+b", "1.0.0+a"]).as_deref(), Some("1.0.0+b"));
        // A bad constraint is an error, not "nothing qualifies".
        let err = image(&[], "a=org/app:latest").select(&names(&["1.0"])).unwrap_err();
        assert!(err.to_string().contains("invalid constraint \"latest\""), "{err}");
        assert!(chosen(&img, &[]).is_none());
    }

    #[test]
    fn allow_and_ignore_filter_before_the_strategy() {
        let tags = ["1.0.0", "1.1.0", "1.2.0-alpine", "1.2.0", "2.0.0", "latest", "dev-2"];
        // (annotations, strategy, chosen)
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (&[("a.allow-tags", "regexp:^1\\.")], Some("1.2.0")),
            // Unanchored: `alpine` is found inside the tag.
            (&[("a.allow-tags", "regexp:alpine"), ("a.update-strategy", "alphabetical")], Some("1.2.0-alpine")),
            (&[("a.allow-tags", "REGEXP:^1\\.")], Some("1.2.0")),
            (&[("a.allow-tags", "Any")], Some("2.0.0")),
            // No `regexp:`, an unknown kind or a bad regex: nothing is allowed.
            (&[("a.allow-tags", "^1\\.")], None),
            (&[("a.allow-tags", "glob:1.*")], None),
            (&[("a.allow-tags", "regexp:(")], None),
            // No constraint: prereleases are versions like any other.
            (&[("a.ignore-tags", "2.*, 1.2.?")], Some("1.2.0-alpine")),
            (&[("a.ignore-tags", "[12].*")], None),
            (&[("a.ignore-tags", "[^2]*"), ("a.update-strategy", "name")], Some("2.0.0")),
            // A malformed glob ignores nothing.
            (&[("a.ignore-tags", "[2.0.0")], Some("2.0.0")),
            (&[("a.ignore-tags", "\\2.0.0")], Some("1.2.0")),
            (&[("ignore-tags", "2.0.0")], Some("1.2.0")),
        ];
        for (annotations, want) in cases {
            assert_eq!(chosen(&image(annotations, "a=org/app"), &tags).as_deref(), *want, "{annotations:?}");
        }
    }

    #[test]
    fn newest_build_alphabetical_and_digest() {
        let at = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap());
        let tags = vec![
            Tag { name: "zz".into(), created: at("2024-01-01T00:00:00Z"), digest: None },
            Tag { name: "bb".into(), created: at("2024-03-01T00:00:00Z"), digest: None },
            Tag { name: "aa".into(), created: at("2024-03-01T00:00:00Z"), digest: None },
            Tag { name: "yy".into(), created: None, digest: None },
        ];
        let img = image(&[("a.update-strategy", "newest-build")], "a=org/app");
        assert_eq!(img.select(&tags).unwrap().map(|t| t.name).as_deref(), Some("bb"), "same time: the greater name");
        // The constraint does not filter newest-build.
        let img = image(&[("a.update-strategy", "latest")], "a=org/app:1.x");
        assert_eq!(img.select(&tags).unwrap().map(|t| t.name).as_deref(), Some("bb"));
        let img = image(&[("a.update-strategy", "alphabetical")], "a=org/app:1.x");
        assert_eq!(img.select(&tags).unwrap().map(|t| t.name).as_deref(), Some("zz"));
        assert_eq!(chosen(&img, &["B", "a", "10", "9"]).as_deref(), Some("a"));

        let digest = format!("sha256:{}", "b".repeat(64));
        let tags = vec![
            Tag { name: "latest".into(), created: None, digest: Some(digest.clone()) },
            Tag { name: "main".into(), created: None, digest: Some("sha256:other".into()) },
        ];
        let img = image(&[("a.update-strategy", "digest")], "a=org/app:latest");
        let got = img.select(&tags).unwrap().unwrap();
        assert_eq!((got.name.as_str(), got.digest.as_deref()), ("latest", Some(digest.as_str())));
        let img = image(&[("a.update-strategy", "digest")], "a=org/app:stable");
        assert_eq!(img.select(&tags).unwrap(), None);
        let img = image(&[("a.update-strategy", "digest")], "a=org/app");
        assert!(matches!(img.select(&tags), Err(Error::DigestWithoutTag(_))));
    }

    #[test]
    fn updates_follow_any_difference_not_only_higher_versions() {
        let live = |images: &[&str]| live_images(&json!({"status": {"summary": {"images": images}}}));
        let img = image(&[], "a=org/app:1.x");
        let new = Tag::named("1.2.0");
        // (live images, decision kind)
        let update = |d: &Decision| matches!(d, Decision::Update { .. });
        assert!(update(&decide(&img, &live(&["org/app:1.1.0"]), &new)));
        assert!(matches!(decide(&img, &live(&["org/app:1.2.0", "redis:7"]), &new), Decision::UpToDate { .. }));
        // Down as well as up: the live tag is outside the constraint.
        assert!(update(&decide(&img, &live(&["org/app:1.5.0"]), &new)));
        // A live image with no tag always updates.
        assert!(update(&decide(&img, &live(&["org/app"]), &new)));
        // A live digest compares by digest: a plain tag never equals it.
        let pinned = format!("org/app:1.2.0@sha256:{}", "c".repeat(64));
        assert!(update(&decide(&img, &live(&[&pinned]), &new)));
        // Registry and name as written: docker.io/org/app is not org/app.
        assert_eq!(decide(&img, &live(&["docker.io/org/app:1.0.0"]), &new), Decision::NotLive);
        assert_eq!(decide(&img, &live(&[]), &new), Decision::NotLive);
        // force-update brings a missing image in with no tag: it updates.
        let forced = image(&[("a.force-update", "true")], "a=org/app:1.x");
        match decide(&forced, &live(&[]), &new) {
            Decision::Update { live, new } => assert_eq!((live.tag, new.name.as_str()), (None, "1.2.0")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(decide(&forced, &live(&["org/app:1.2.0"]), &new), Decision::UpToDate { .. }));

        // digest: a live image without a digest updates; the same digest does not.
        let d = format!("sha256:{}", "d".repeat(64));
        let img = image(&[("a.update-strategy", "digest")], "a=org/app:latest");
        let new = Tag { name: "latest".into(), created: None, digest: Some(d.clone()) };
        assert!(update(&decide(&img, &live(&["org/app:latest"]), &new)));
        assert!(matches!(decide(&img, &live(&[&format!("org/app:latest@{d}")]), &new), Decision::UpToDate { .. }));

        // kustomize.image-name: the live image is found by that name, and differs by name.
        let img = image(&[("a.kustomize.image-name", "org/base")], "a=org/app:1.x");
        let new = Tag::named("1.2.0");
        assert!(update(&decide(&img, &live(&["org/base:1.2.0"]), &new)));
        assert!(matches!(decide(&img, &live(&["org/app:1.2.0"]), &new), Decision::UpToDate { .. }));
    }
}
