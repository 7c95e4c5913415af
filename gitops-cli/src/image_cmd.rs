//! `gitops image select|scan`: the tag a Flux ImagePolicy or an Argo CD Image Updater image
//! selects, from a list of tags or from a registry.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gitops_core::Object;
use gitops_core::image::flux::{self, ImagePolicy, ImageRepository};
use gitops_core::image::updater::{self, AppConfig, ImageConfig, Tag};
use serde_json::Value;

/// Subcommands of `gitops image`.
#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Print the tag a policy selects from a list of tags (one per line, optionally
    /// `TAG<TAB>RFC3339` creation time, which newest-build needs).
    ///
    /// Exit status: 0 a tag is printed, 1 no tag qualifies (the reason on standard error),
    /// 2 an invalid policy or annotations, or an unreadable file.
    Select(SelectArgs),
    /// List an image's tags from its registry (OCI Distribution API); with a policy, print the
    /// selected `name:tag@digest` instead.
    ///
    /// Exit status: 0 listed or selected, 1 no tag qualifies, 2 bad input or a registry error.
    Scan(ScanArgs),
    /// One round of a Flux ImageUpdateAutomation: set the marked images under its
    /// `update.path` from its ImagePolicies, commit and push.
    ///
    /// Exit status: 0 when the round ran, 1 when Git failed, 2 on bad input (nothing pushed).
    Update(crate::image_update_cmd::UpdateArgs),
}

/// Which policy chooses: a Flux ImagePolicy, or an image of an Argo CD Application.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// A file with a Flux ImagePolicy (and optionally its ImageRepository, whose
    /// `exclusionList` then applies; Flux's default `^.*\.sig$` otherwise).
    #[arg(long, value_name = "POLICY.yaml", conflicts_with = "app")]
    pub policy: Option<PathBuf>,
    /// The ImagePolicy's name, when the file has several.
    #[arg(long, value_name = "NAME", requires = "policy")]
    pub name: Option<String>,
    /// An Argo CD Application file with `argocd-image-updater.argoproj.io/*` annotations.
    #[arg(long, value_name = "APP.yaml", requires = "image")]
    pub app: Option<PathBuf>,
    /// The image of the app's `image-list`: its alias, or its name when it has none.
    #[arg(long, value_name = "ALIAS", requires = "app")]
    pub image: Option<String>,
}

/// Arguments of `gitops image select`.
#[derive(Args, Debug)]
pub struct SelectArgs {
    /// The tags: one per line, `TAG` or `TAG<TAB>RFC3339`; `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub tags: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Arguments of `gitops image scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The image (`ghcr.io/org/app`, `nginx`, `127.0.0.1:5000/team/app`); with --policy or
    /// --app, the ImageRepository's or the Application's image when left out.
    #[arg(value_name = "IMAGE", id = "reference")]
    pub reference: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// A docker-registry Secret (`.dockerconfigjson`) with credentials for the registry.
    #[arg(long, value_name = "SECRET.yaml")]
    pub pull_secret: Option<PathBuf>,
    /// PEM CA certificates to trust, besides the system's.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Talk plain HTTP to the registry (as Docker's insecure registries; also on for
    /// localhost and 127.0.0.1, and for a Flux ImageRepository with `insecure: true`).
    #[arg(long)]
    pub insecure_http: bool,
    /// The platform an index resolves to (`os/arch[/variant]`), for creation times and
    /// digests; the app's `platforms` annotation takes precedence.
    #[arg(long, value_name = "PLATFORM", default_value = "linux/amd64")]
    pub platform: String,
    /// The most tags read (pages are followed until then).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_tags: usize,
}

/// Runs the command; `Err` is bad input (exit 2).
pub fn run(command: ImageCommand) -> Result<ExitCode, String> {
    match command {
        ImageCommand::Select(args) => select(&args),
        ImageCommand::Scan(args) => scan(&args),
        ImageCommand::Update(args) => crate::image_update_cmd::run_update(args),
    }
}

/// The policy read from its file.
enum Chooser {
    Flux { policy: Box<ImagePolicy>, repository: Option<Box<ImageRepository>> },
    Updater { app: Box<Value>, image: Box<ImageConfig> },
}

fn chooser(args: &PolicyArgs) -> Result<Option<Chooser>, String> {
    if let Some(path) = &args.policy {
        let objects = crate::render_cmd::read_objects(path)?;
        let policies: Vec<&Object> = objects
            .iter()
            .filter(|o| o.kind() == "ImagePolicy" && args.name.as_deref().is_none_or(|n| o.name() == n))
            .collect();
        let object = match policies.as_slice() {
            [one] => one,
            [] => return Err(format!("{}: no ImagePolicy{}", path.display(), named(args.name.as_deref()))),
            _ => return Err(format!("{}: several ImagePolicies: choose one with --name", path.display())),
        };
        let policy = ImagePolicy::from_value(object.value()).map_err(|e| format!("{}: {e}", path.display()))?;
        let repository = objects
            .iter()
            .find(|o| o.kind() == "ImageRepository" && o.name() == policy.repository_name)
            .map(|o| ImageRepository::from_value(o.value()).map_err(|e| format!("{}: {e}", path.display())))
            .transpose()?;
        return Ok(Some(Chooser::Flux { policy: Box::new(policy), repository: repository.map(Box::new) }));
    }
    let (Some(path), Some(alias)) = (&args.app, &args.image) else { return Ok(None) };
    let objects = crate::render_cmd::read_objects(path)?;
    let app = first_of_kind(path, &objects, "Application")?;
    let config = AppConfig::from_app(app.value()).map_err(|e| format!("{}: {e}", path.display()))?;
    for w in &config.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    let image = config.image(alias).map_err(|e| format!("{}: {e}", path.display()))?.clone();
    for w in &image.warnings {
        eprintln!("warning: {}: image {alias}: {w}", path.display());
    }
    image.check().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(Chooser::Updater { app: Box::new(app.value().clone()), image: Box::new(image) }))
}

/// The first object of `kind` in the file's objects, or an error naming the file.
fn first_of_kind<'a>(path: &Path, objects: &'a [Object], kind: &str) -> Result<&'a Object, String> {
    objects.iter().find(|o| o.kind() == kind).ok_or_else(|| format!("{}: no {kind}", path.display()))
}

fn named(name: Option<&str>) -> String {
    name.map(|n| format!(" named {n:?}")).unwrap_or_default()
}

/// Reads `TAG` or `TAG<TAB>RFC3339` lines; blank lines are skipped.
fn read_tags(path: &Path) -> Result<Vec<Tag>, String> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut s)
            .map_err(|e| format!("standard input: {e}"))?;
        s
    } else {
        gitops_render::regular::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let mut tags = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let (name, created) = match line.split_once('\t') {
            Some((name, time)) => {
                let time = time.trim().parse::<jiff::Timestamp>().map_err(|e| {
                    format!("{}:{}: {:?} is not an RFC 3339 time: {e}", path.display(), n + 1, time.trim())
                })?;
                (name.trim(), Some(time))
            }
            None => (line.trim(), None),
        };
        tags.push(Tag { name: name.to_owned(), created, digest: None });
    }
    Ok(tags)
}

/// What a chooser made of the tags: the tag, or why none.
enum Choice {
    Tag(Tag),
    None(String),
}

fn choose(chooser: &Chooser, tags: &[Tag]) -> Result<Choice, String> {
    match chooser {
        Chooser::Flux { policy, repository } => {
            let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
            let stored = match repository {
                Some(r) => r.exclude(&names),
                None => flux::exclude(&ImageRepository::default_exclusions(), &names),
            };
            Ok(match policy.select(&stored) {
                Ok(name) => {
                    Choice::Tag(tags.iter().rev().find(|t| t.name == name).cloned().unwrap_or_else(|| Tag::named(name)))
                }
                Err(e) => Choice::None(format!("ImagePolicy {}: {e}", policy.name)),
            })
        }
        Chooser::Updater { app, image } => {
            if image.strategy.needs_metadata() && tags.iter().any(|t| t.created.is_none() && image.admits(&t.name)) {
                return Err(format!(
                    "image {}: newest-build needs each tag's creation time (TAG<TAB>RFC3339 lines)",
                    image.image.original
                ));
            }
            let chosen = image.select(tags).map_err(|e| e.to_string())?;
            let Some(tag) = chosen else {
                let constraint = image.constraint();
                return Ok(Choice::None(format!(
                    "image {}: no tag of {} qualifies (strategy {:?}{})",
                    image.image.original,
                    tags.len(),
                    image.strategy,
                    if constraint.is_empty() { String::new() } else { format!(", constraint {constraint:?}") }
                )));
            };
            report_decision(app, image, &tag);
            Ok(Choice::Tag(tag))
        }
    }
}

/// Says on standard error what the Image Updater would do with the app's live image.
fn report_decision(app: &Value, image: &ImageConfig, tag: &Tag) {
    let live = updater::live_images(app);
    if live.is_empty() && app.pointer("/status/summary/images").is_none() {
        return;
    }
    let show = |i: &updater::UpdaterImage| {
        let mut s = i.name_without_tag();
        if let Some(t) = &i.tag {
            s = format!("{s}:{t}");
        }
        if let Some(d) = &i.digest {
            s = format!("{s}@{d}");
        }
        s
    };
    match updater::decide(image, &live, tag) {
        updater::Decision::NotLive => {
            eprintln!("image {}: not live in the app: the Image Updater skips it", image.image.original)
        }
        updater::Decision::UpToDate { live } => {
            eprintln!("image {}: up to date ({})", image.image.original, show(&live))
        }
        updater::Decision::Update { live, new } => {
            eprintln!("image {}: update {} to tag {}", image.image.original, show(&live), new.name)
        }
    }
}

fn select(args: &SelectArgs) -> Result<ExitCode, String> {
    let chooser = chooser(&args.policy)?.ok_or("give --policy POLICY.yaml, or --app APP.yaml with --image ALIAS")?;
    let tags = read_tags(&args.tags)?;
    let source =
        args.policy.app.as_ref().or(args.policy.policy.as_ref()).map(|p| p.display().to_string()).unwrap_or_default();
    match choose(&chooser, &tags).map_err(|e| format!("{source}: {e} (tags from {})", args.tags.display()))? {
        Choice::Tag(tag) => {
            println!("{}", tag.name);
            Ok(ExitCode::SUCCESS)
        }
        Choice::None(reason) => {
            eprintln!("gitops: {reason}");
            Ok(ExitCode::from(1))
        }
    }
}

fn scan(args: &ScanArgs) -> Result<ExitCode, String> {
    use gitops_core::image::reference::ImageRef;
    use gitops_core::image::updater::Platform;
    use gitops_render::registry::Options;

    let chooser = chooser(&args.policy)?;
    let written = match (&args.reference, &chooser) {
        (Some(image), _) => image.clone(),
        (None, Some(Chooser::Flux { repository: Some(r), .. })) => r.image.clone(),
        (None, Some(Chooser::Updater { image, .. })) => image.image.name_without_tag(),
        (None, _) => {
            return Err("give the IMAGE to scan (or a --policy file with its ImageRepository, or --app)".into());
        }
    };
    let image = ImageRef::parse(&written).map_err(|e| e.to_string())?;
    let secret = match &args.pull_secret {
        None => None,
        Some(path) => Some((
            path.display().to_string(),
            first_of_kind(path, &crate::render_cmd::read_objects(path)?, "Secret")?.clone(),
        )),
    };
    let ca_pem = args
        .ca
        .as_ref()
        .map(|p| gitops_render::regular::read_to_string(p).map_err(|e| format!("{}: {e}", p.display())))
        .transpose()?;
    let flux_insecure = matches!(&chooser, Some(Chooser::Flux { repository: Some(r), .. }) if r.insecure);
    let options = Options {
        insecure_http: args.insecure_http || flux_insecure,
        ca_pem,
        max_tags: args.max_tags,
        ..Options::default()
    };
    let registry = registry_client(&image, secret.as_ref().map(|(f, s)| (f.as_str(), s)), options)?;
    let (default_platform, warning) = Platform::parse(&args.platform);
    if let Some(w) = warning {
        return Err(format!("--platform: {w}"));
    }
    let platforms = match &chooser {
        Some(Chooser::Updater { image, .. }) => image.platforms.clone().unwrap_or_else(|| vec![default_platform]),
        _ => vec![default_platform],
    };
    let names = registry.tags().map_err(|e| e.to_string())?;
    let Some(chooser) = chooser else {
        for name in &names {
            println!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let tags = match &chooser {
        Chooser::Updater { image, .. } => updater_tags(&registry, image, &names, &platforms)?,
        Chooser::Flux { .. } => names.iter().map(Tag::named).collect(),
    };
    match choose(&chooser, &tags)? {
        Choice::Tag(tag) => {
            let digest = match tag.digest {
                Some(d) => d,
                None => registry.resolve(&tag.name, &platforms, false).map_err(|e| e.to_string())?.digest,
            };
            println!("{}", image.without_tag().with_tag(tag.name).with_digest(digest));
            Ok(ExitCode::SUCCESS)
        }
        Choice::None(reason) => {
            eprintln!("gitops: {reason}");
            Ok(ExitCode::from(1))
        }
    }
}

/// A registry client for `image`, with the credentials a docker-registry Secret (`secret`,
/// with the file or object it came from, for messages) holds for its registry.
pub(crate) fn registry_client(
    image: &gitops_core::image::reference::ImageRef,
    secret: Option<(&str, &Object)>,
    mut options: gitops_render::registry::Options,
) -> Result<gitops_render::registry::Registry, String> {
    use gitops_core::image::docker_config;
    if let Some((from, secret)) = secret {
        let config = docker_config::from_secret(secret.value()).map_err(|e| format!("{from}: {e}"))?;
        let found = docker_config::credentials_for(&config, &image.registry).map_err(|e| format!("{from}: {e}"))?;
        if found.is_none() {
            eprintln!("warning: {from}: no credentials for {} in .dockerconfigjson", image.registry);
        }
        options.credentials = found;
    }
    gitops_render::registry::Registry::new(image, options).map_err(|e| e.to_string())
}

/// The registry's tags as an Image Updater image's strategy needs them: with creation time
/// (newest-build) or digest (digest) for the tags its filters admit (metadata costs a
/// manifest and a config per tag).
pub(crate) fn updater_tags(
    registry: &gitops_render::registry::Registry,
    image: &ImageConfig,
    names: &[String],
    platforms: &[gitops_core::image::updater::Platform],
) -> Result<Vec<Tag>, String> {
    let mut tags: Vec<Tag> = names.iter().map(Tag::named).collect();
    if image.strategy.needs_metadata() || image.strategy == updater::Strategy::Digest {
        for tag in tags.iter_mut().filter(|t| image.admits(&t.name)) {
            let resolved =
                registry.resolve(&tag.name, platforms, image.strategy.needs_metadata()).map_err(|e| e.to_string())?;
            tag.created = resolved.created;
            tag.digest = Some(resolved.digest);
        }
    }
    Ok(tags)
}
