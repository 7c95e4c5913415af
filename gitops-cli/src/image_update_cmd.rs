//! `gitops image update --automation FILE`: one round of a Flux ImageUpdateAutomation (the
//! setters strategy) against its GitRepository, printed as Flux reports it.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use gitops_core::Object;
use gitops_core::image::automation::Automation;
use gitops_core::image::setters::LatestImage;
use gitops_render::git::Cache;
use gitops_render::git_push::Outcome;
use gitops_render::image_update::{self, GitSource, Policies};
use serde_json::json;

use crate::render_cmd::read_objects;

/// `gitops image update`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["automation", "app"]))]
pub struct UpdateArgs {
    /// The Flux ImageUpdateAutomation to run once (a file holding it; other objects in the file
    /// are read as with `--objects`).
    #[arg(long, value_name = "FILE")]
    pub automation: Option<String>,
    /// The Argo CD Application (with `argocd-image-updater.argoproj.io/*` annotations) to update
    /// once, as Argo CD Image Updater does: its images' registries are scanned, and the tags
    /// chosen are written back by its `write-back-method`.
    #[arg(long, value_name = "FILE")]
    pub app: Option<String>,
    /// Files holding the automation's GitRepository, ImageRepositories and ImagePolicies (the
    /// policies of an ImageRepository given are chosen from its registry, the others' from their
    /// `status.latestRef`), and the Secrets of pull secrets.
    #[arg(long = "objects", value_name = "FILE")]
    pub objects: Vec<String>,
    /// Print the automation's status (as Flux writes it) as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Where Git working clones are made (default: the Git cache).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<std::path::PathBuf>,
    /// With `--app` and the `argocd` write-back method: write the updated Application back into
    /// its file (atomically; written anew as YAML, so its comments are not kept) instead of
    /// printing it.
    #[arg(long)]
    pub in_place: bool,
    /// With `--app`: the commit author's name (Image Updater's `--git-commit-user`).
    #[arg(long, value_name = "NAME", default_value = "argocd-image-updater")]
    pub git_commit_user: String,
    /// With `--app`: the commit author's email (`--git-commit-email`).
    #[arg(long, value_name = "EMAIL", default_value = "noreply@argoproj.io")]
    pub git_commit_email: String,
    /// With `--app`: a file holding the commit message template (`--git-commit-message-path`).
    #[arg(long, value_name = "FILE")]
    pub git_commit_message_path: Option<String>,
}

/// Runs one round. Exit status: 0 when the round ran (pushed or nothing to change), 1 when Git
/// failed (nothing was pushed), 2 on bad input (nothing was pushed).
pub fn run_update(args: UpdateArgs) -> Result<ExitCode, String> {
    let cache = match &args.cache {
        Some(dir) => Cache::new(dir),
        None => {
            Cache::new(Cache::default_dir().ok_or("no cache directory: set GITOPS_CACHE or HOME, or pass --cache")?)
        }
    };
    let Some(file) = &args.automation else { return run_app(&args, &cache) };
    let mut objects: Vec<Object> = read_objects(file)?;
    let automation_object = objects
        .iter()
        .find(|o| o.group() == gitops_core::image::automation::GROUP && o.kind() == "ImageUpdateAutomation")
        .ok_or_else(|| format!("{file}: holds no ImageUpdateAutomation"))?;
    let automation = Automation::from_json(automation_object.value()).map_err(|e| e.to_string())?;
    for file in &args.objects {
        objects.extend(read_objects(file)?);
    }
    if automation.suspend {
        println!("ImageUpdateAutomation {} is suspended: nothing done", automation.id());
        return Ok(ExitCode::SUCCESS);
    }
    let cache = match args.cache {
        Some(dir) => Cache::new(dir),
        None => {
            Cache::new(Cache::default_dir().ok_or("no cache directory: set GITOPS_CACHE or HOME, or pass --cache")?)
        }
    };
    let RoundReport { round, status, .. } = match run_round(&objects, &automation, &cache) {
        Ok(done) => done,
        Err(RoundError::Git(e)) => {
            eprintln!("gitops: error: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(RoundError::Input(e)) => return Err(e),
    };
    let mut out = std::io::stdout().lock();
    let write = |e: std::io::Error| format!("writing output: {e}");
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?).map_err(write)?;
    } else {
        for line in summary(&automation, &round) {
            writeln!(out, "{line}").map_err(write)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a round did not run: bad input (exit 2) or Git (exit 1); nothing was pushed either way.
pub(crate) enum RoundError {
    /// The automation, its source, its policies or its markers.
    Input(String),
    /// Cloning or pushing.
    Git(String),
}

/// Runs one round of `automation` with the GitRepository and ImagePolicies among `objects`;
/// returns what it did and the status Flux would write on the automation.
pub(crate) fn run_round(objects: &[Object], automation: &Automation, cache: &Cache) -> Result<RoundReport, RoundError> {
    let repository = objects
        .iter()
        .find(|o| {
            o.group() == "source.toolkit.fluxcd.io"
                && o.kind() == "GitRepository"
                && o.name() == automation.source_name
                && namespace_of(o) == automation.source_namespace
        })
        .ok_or_else(|| {
            RoundError::Input(format!(
                "ImageUpdateAutomation {}: GitRepository {}/{} is not among the objects given (--objects FILE)",
                automation.id(),
                automation.source_namespace,
                automation.source_name
            ))
        })?;
    let source = GitSource::of(automation, repository.value()).map_err(|e| RoundError::Input(e.to_string()))?;
    let (policies, scanned) = policies_of(objects, automation);
    let round = match image_update::run(cache, automation, &source, &policies) {
        Ok(round) => round,
        Err(e @ (image_update::Error::Git(_) | image_update::Error::Push(_) | image_update::Error::Io { .. })) => {
            return Err(RoundError::Git(e.to_string()));
        }
        Err(e) => return Err(RoundError::Input(e.to_string())),
    };
    for problem in &round.problem_files {
        eprintln!("gitops: warning: skipped (not YAML): {problem}");
    }
    let status = status_of(&round, &policies, &source);
    Ok(RoundReport { round, status, scanned })
}

/// What [`run_round`] did, and the statuses Flux would write.
pub(crate) struct RoundReport {
    /// The round.
    pub round: image_update::Round,
    /// The automation's status.
    pub status: serde_json::Value,
    /// The ImagePolicies and ImageRepositories scanned, with their statuses.
    pub scanned: Vec<(Object, serde_json::Value)>,
}

/// The ImagePolicies among `objects`, with whether `automation` selects each and its latest
/// image: chosen now from its ImageRepository's tags, scanned from the registry, when that
/// ImageRepository is among `objects` (as the image-reflector-controller does at each
/// interval), else its `status.latestRef`. Returns the statuses Flux would write on the
/// policies and repositories scanned.
pub(crate) fn policies_of(objects: &[Object], automation: &Automation) -> (Policies, Vec<(Object, serde_json::Value)>) {
    use gitops_core::image::flux::{ImagePolicy, ImageRepository};
    let mut policies = Policies::default();
    let mut statuses = Vec::new();
    let mut scanned: BTreeMap<(String, String), Result<Vec<String>, String>> = BTreeMap::new();
    let now = now_rfc3339();
    for o in objects.iter().filter(|o| o.group() == gitops_core::image::automation::GROUP && o.kind() == "ImagePolicy")
    {
        let labels: BTreeMap<String, String> = o
            .value()
            .pointer("/metadata/labels")
            .and_then(|l| l.as_object())
            .map(|l| l.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let selected = namespace_of(o) == automation.namespace && automation.selects(&labels);
        let mut latest = LatestImage::from_policy_status(o.value());
        let policy = ImagePolicy::from_value(o.value());
        let repository = policy.as_ref().ok().and_then(|p| {
            let namespace = if p.repository_namespace.is_empty() { namespace_of(o) } else { &p.repository_namespace };
            objects.iter().find(|r| {
                r.group() == gitops_core::image::automation::GROUP
                    && r.kind() == "ImageRepository"
                    && r.name() == p.repository_name
                    && namespace_of(r) == namespace
            })
        });
        if selected && let (Ok(policy), Some(repo_object)) = (&policy, repository) {
            let key = (namespace_of(repo_object).to_string(), repo_object.name().to_string());
            let outcome =
                ImageRepository::from_value(repo_object.value()).map_err(|e| e.to_string()).and_then(|repo| {
                    let tags = scanned
                        .entry(key)
                        .or_insert_with(|| {
                            let tags = scan_repository(objects, repo_object, &repo);
                            statuses.push((repo_object.clone(), repository_status(&repo, &tags, &now)));
                            tags
                        })
                        .clone()?;
                    let names: Vec<&str> = tags.iter().map(String::as_str).collect();
                    let kept = repo.exclude(&names);
                    let tag = policy.select(&kept).map_err(|e| e.to_string())?.to_string();
                    Ok(LatestImage { name: repo.image.clone(), tag, digest: None })
                });
            let status = match &outcome {
                Ok(l) => json!({
                    "latestRef": {"name": l.name, "tag": l.tag},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "lastTransitionTime": now,
                        "message": format!("Latest image tag for {} resolved to {}", l.name, l.tag)}],
                }),
                Err(e) => json!({"conditions": [{"type": "Ready", "status": "False", "reason": "ReconciliationFailed",
                    "lastTransitionTime": now, "message": e}]}),
            };
            statuses.push((o.clone(), status));
            match outcome {
                Ok(l) => latest = Some(l),
                Err(e) => {
                    eprintln!("gitops: warning: ImagePolicy {}/{}: {e}", namespace_of(o), o.name());
                    latest = None;
                }
            }
        }
        policies.insert(namespace_of(o), o.name(), selected, latest);
    }
    (policies, statuses)
}

/// An ImageRepository's tags from its registry, credentials from its `secretRef` Secret
/// (among `objects`).
fn scan_repository(
    objects: &[Object],
    object: &Object,
    repo: &gitops_core::image::flux::ImageRepository,
) -> Result<Vec<String>, String> {
    let image = gitops_core::image::reference::ImageRef::parse(&repo.image).map_err(|e| e.to_string())?;
    let secret = match &repo.secret_name {
        None => None,
        Some(name) => Some(
            objects
                .iter()
                .find(|s| {
                    s.group().is_empty()
                        && s.kind() == "Secret"
                        && s.name() == name
                        && namespace_of(s) == namespace_of(object)
                })
                .ok_or_else(|| {
                    format!("ImageRepository {}/{}: Secret {name} not found", namespace_of(object), object.name())
                })?,
        ),
    };
    let from = secret.map(|s| format!("Secret {}/{}", namespace_of(s), s.name()));
    let options = gitops_render::registry::Options { insecure_http: repo.insecure, ..Default::default() };
    let registry = crate::image_cmd::registry_client(&image, from.as_deref().zip(secret), options)?;
    registry.tags().map_err(|e| e.to_string())
}

/// An ImageRepository's status after a scan, as Flux writes it.
fn repository_status(
    repo: &gitops_core::image::flux::ImageRepository,
    tags: &Result<Vec<String>, String>,
    now: &str,
) -> serde_json::Value {
    match tags {
        Ok(tags) => {
            let mut latest: Vec<&String> = tags.iter().collect();
            latest.sort_by(|a, b| b.cmp(a));
            latest.truncate(10);
            json!({
                "canonicalImageName": repo.image,
                "lastScanResult": {"tagCount": tags.len(), "scanTime": now, "latestTags": latest},
                "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "lastTransitionTime": now,
                    "message": format!("successful scan: found {} tags", tags.len())}],
            })
        }
        Err(e) => json!({"conditions": [{"type": "Ready", "status": "False", "reason": "ReconciliationFailed",
            "lastTransitionTime": now, "message": e}]}),
    }
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    gitops_core::time::rfc3339(i64::try_from(secs).unwrap_or(0))
}

/// The automation's status as Flux writes it after a round.
fn status_of(round: &image_update::Round, policies: &Policies, source: &GitSource) -> serde_json::Value {
    let observed: serde_json::Map<String, serde_json::Value> = policies
        .observed()
        .into_iter()
        .map(|(name, l)| (name, json!({"name": l.name, "tag": l.tag, "digest": l.digest.unwrap_or_default()})))
        .collect();
    let now = now_rfc3339();
    let mut status = json!({"lastAutomationRunTime": now, "observedPolicies": observed});
    let message = match &round.outcome {
        Outcome::Pushed { commit, branch, .. } => {
            status["lastPushCommit"] = json!(commit);
            status["lastPushTime"] = json!(now);
            format!("pushed commit '{}' to branch '{branch}'", short(commit))
        }
        Outcome::Unchanged { base } => {
            status["observedSourceRevision"] = json!(format!("{}@sha1:{base}", source.checkout_branch));
            "repository up-to-date".to_string()
        }
    };
    status["conditions"] = json!([{
        "type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
        "message": message, "lastTransitionTime": now,
    }]);
    status
}

/// What a round did, a line each: the outcome, then each change.
pub(crate) fn summary(automation: &Automation, round: &image_update::Round) -> Vec<String> {
    let Outcome::Pushed { commit, branch, attempts } = &round.outcome else {
        return vec![format!("ImageUpdateAutomation {}: repository up-to-date", automation.id())];
    };
    let count: usize = round.changes.iter().flat_map(|f| &f.objects).map(|(_, c)| c.len()).sum();
    let files = round.changes.len();
    let retried = if *attempts > 1 { format!(", after {} rejected pushes", attempts - 1) } else { String::new() };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut lines = vec![format!(
        "ImageUpdateAutomation {}: pushed commit '{}' to branch '{branch}' ({count} change{} in {files} file{}{retried})",
        automation.id(),
        short(commit),
        plural(count),
        plural(files),
    )];
    for file in &round.changes {
        for (object, changes) in &file.objects {
            let name = if object.namespace.is_empty() {
                object.name.clone()
            } else {
                format!("{}/{}", object.namespace, object.name)
            };
            for c in changes {
                lines.push(format!(
                    "  {}: {} {name}: {} -> {} ({})",
                    file.file, object.kind, c.old_value, c.new_value, c.setter
                ));
            }
        }
    }
    lines
}

fn namespace_of(o: &Object) -> &str {
    if o.namespace().is_empty() { "default" } else { o.namespace() }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

/// `gitops image update --app FILE`: one Image Updater run over one Application. Exit 0 when
/// it ran (updated or nothing to do), 1 when an image could not be checked or Git failed, 2
/// on bad input.
fn run_app(args: &UpdateArgs, cache: &Cache) -> Result<ExitCode, String> {
    use gitops_core::image::updater::{self, AppConfig, Decision, Platform};
    use gitops_core::image::write_back::{self, AppType, AppUpdate, Method};
    let file = args.app.as_deref().unwrap_or_default();
    let mut objects = read_objects(file)?;
    for extra in &args.objects {
        objects.extend(read_objects(extra)?);
    }
    let app = objects
        .iter()
        .find(|o| o.group() == "argoproj.io" && o.kind() == "Application")
        .ok_or_else(|| format!("{file}: holds no Argo CD Application"))?
        .clone();
    let label = format!("Application {}/{}", namespace_of(&app), app.name());
    let config = AppConfig::from_app(app.value()).map_err(|e| format!("{file}: {e}"))?;
    for w in config.warnings.iter().chain(config.images.iter().flat_map(|i| &i.warnings)) {
        eprintln!("gitops: warning: {label}: {w}");
    }
    let app_type = AppType::of(app.value())
        .ok_or_else(|| format!("{label}: neither a Helm nor a Kustomize app; Image Updater updates only those"))?;
    let method = write_back::method(app.value(), &config, gitops_core::fleet::children::DEFAULT_CONTROLLER_NAMESPACE)
        .map_err(|e| e.to_string())?;
    // What runs now: `status.summary.images`, else the images of the app rendered from Git.
    let mut live = updater::live_images(app.value());
    if live.is_empty() {
        let rendered = crate::render_cmd::render_objects(std::slice::from_ref(&app), cache, &[])?;
        live = gitops_core::image::summary::images(&rendered).iter().map(|i| updater::UpdaterImage::parse(i)).collect();
    }
    let mut failed = 0;
    let mut updates = Vec::new();
    for image in &config.images {
        let chosen = (|| -> Result<Option<updater::Tag>, String> {
            image.check().map_err(|e| e.to_string())?;
            let reference = image.image.reference().map_err(|e| e.to_string())?;
            let secret = pull_secret(&objects, image)?;
            let registry = crate::image_cmd::registry_client(
                &reference,
                secret.as_ref().map(|(f, s)| (f.as_str(), s)),
                Default::default(),
            )?;
            let names = registry.tags().map_err(|e| e.to_string())?;
            let default = vec![Platform { os: "linux".into(), arch: "amd64".into(), variant: String::new() }];
            let platforms = image.platforms.clone().unwrap_or(default);
            let tags = crate::image_cmd::updater_tags(&registry, image, &names, &platforms)?;
            image.select(&tags).map_err(|e| e.to_string())
        })();
        match chosen {
            Err(e) => {
                eprintln!("gitops: error: {label}: image {}: {e}", image.image.original);
                failed += 1;
            }
            Ok(None) => eprintln!("{label}: image {}: no suitable tag found", image.image.original),
            Ok(Some(tag)) => match updater::decide(image, &live, &tag) {
                Decision::NotLive => {
                    eprintln!("{label}: image {} is not live in the app: skipped", image.image.original)
                }
                Decision::UpToDate { .. } => {}
                Decision::Update { live, new } => updates.push(AppUpdate { config: image, live, new }),
            },
        }
    }
    let changes: Vec<_> = updates.iter().map(AppUpdate::change).collect();
    for c in &changes {
        println!("{label}: image {}: '{}' -> '{}'", c.image, c.old_tag, c.new_tag);
    }
    let code = if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS };
    if updates.is_empty() {
        println!("{label}: all images up to date");
        return Ok(code);
    }
    let managed = write_back::managed(app_type, &updates);
    match method {
        Method::Argocd => {
            let mut value = app.value().clone();
            write_back::apply_to_application(&mut value, &managed);
            let mut updated = app.clone();
            *updated.value_mut() = value;
            let text = gitops_render::output::yaml_stream(std::slice::from_ref(&updated)).map_err(|e| e.to_string())?;
            if args.in_place {
                gitops_render::regular::write_atomic(std::path::Path::new(file), text.as_bytes())
                    .map_err(|e| format!("{file}: {e}"))?;
                println!("{label}: spec updated in {file}");
            } else {
                print!("{text}");
            }
        }
        Method::Git(git) => {
            let template = args
                .git_commit_message_path
                .as_ref()
                .map(|p| {
                    gitops_render::regular::read_to_string(std::path::Path::new(p)).map_err(|e| format!("{p}: {e}"))
                })
                .transpose()?;
            let who = gitops_render::git_push::Signature {
                name: args.git_commit_user.clone(),
                email: args.git_commit_email.clone(),
            };
            let request = image_update::AppWriteBack {
                app_name: app.name(),
                app_namespace: namespace_of(&app),
                git: &git,
                managed: &managed,
                changes: &changes,
                who: &who,
                template: template.as_deref(),
            };
            match image_update::write_back_git(cache, &request) {
                Ok(round) => match round.outcome {
                    Outcome::Pushed { commit, branch, .. } => {
                        println!("{label}: pushed commit '{}' to branch '{branch}'", short(&commit));
                    }
                    Outcome::Unchanged { .. } => println!("{label}: the write-back target already holds these images"),
                },
                Err(
                    e @ (image_update::Error::Git(_) | image_update::Error::Push(_) | image_update::Error::Io { .. }),
                ) => {
                    eprintln!("gitops: error: {e}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(code)
}

/// The Secret an image's `pull-secret` names (`pullsecret:<ns>/<name>`), among `objects`.
fn pull_secret(
    objects: &[Object],
    image: &gitops_core::image::updater::ImageConfig,
) -> Result<Option<(String, Object)>, String> {
    use gitops_core::image::updater::PullSecret;
    match &image.pull_secret {
        None => Ok(None),
        Some(PullSecret::PullSecret { namespace, name }) => objects
            .iter()
            .find(|s| s.group().is_empty() && s.kind() == "Secret" && s.name() == name && namespace_of(s) == namespace)
            .map(|s| Some((format!("Secret {namespace}/{name}"), s.clone())))
            .ok_or_else(|| {
                format!("pull-secret: Secret {namespace}/{name} is not among the objects given (--objects FILE)")
            }),
        Some(other) => Err(format!("pull-secret {other:?}: only pullsecret:<namespace>/<name> is supported here")),
    }
}
