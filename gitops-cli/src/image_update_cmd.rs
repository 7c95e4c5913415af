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
pub struct UpdateArgs {
    /// The ImageUpdateAutomation to run once (a file holding it; other objects in the file
    /// are read as with `--objects`).
    #[arg(long, value_name = "FILE")]
    pub automation: String,
    /// Files holding the automation's GitRepository and its ImagePolicies (their
    /// `status.latestRef` says each policy's latest image).
    #[arg(long = "objects", value_name = "FILE")]
    pub objects: Vec<String>,
    /// Print the automation's status (as Flux writes it) as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Where Git working clones are made (default: the Git cache).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<std::path::PathBuf>,
}

/// Runs one round. Exit status: 0 when the round ran (pushed or nothing to change), 1 when Git
/// failed (nothing was pushed), 2 on bad input (nothing was pushed).
pub fn run_update(args: UpdateArgs) -> Result<ExitCode, String> {
    let mut objects: Vec<Object> = read_objects(&args.automation)?;
    let automation_object = objects
        .iter()
        .find(|o| o.group() == gitops_core::image::automation::GROUP && o.kind() == "ImageUpdateAutomation")
        .ok_or_else(|| format!("{}: holds no ImageUpdateAutomation", args.automation))?;
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
    let (round, status) = match run_round(&objects, &automation, &cache) {
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
pub(crate) fn run_round(
    objects: &[Object],
    automation: &Automation,
    cache: &Cache,
) -> Result<(image_update::Round, serde_json::Value), RoundError> {
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
    let policies = policies_of(objects, automation);
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
    Ok((round, status))
}

/// The ImagePolicies among `objects`, with whether `automation` selects each.
fn policies_of(objects: &[Object], automation: &Automation) -> Policies {
    let mut policies = Policies::default();
    for o in objects.iter().filter(|o| o.group() == gitops_core::image::automation::GROUP && o.kind() == "ImagePolicy")
    {
        let labels: BTreeMap<String, String> = o
            .value()
            .pointer("/metadata/labels")
            .and_then(|l| l.as_object())
            .map(|l| l.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let selected = namespace_of(o) == automation.namespace && automation.selects(&labels);
        policies.insert(namespace_of(o), o.name(), selected, LatestImage::from_policy_status(o.value()));
    }
    policies
}

/// The automation's status as Flux writes it after a round.
fn status_of(round: &image_update::Round, policies: &Policies, source: &GitSource) -> serde_json::Value {
    let observed: serde_json::Map<String, serde_json::Value> = policies
        .observed()
        .into_iter()
        .map(|(name, l)| (name, json!({"name": l.name, "tag": l.tag, "digest": l.digest.unwrap_or_default()})))
        .collect();
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let now = gitops_core::time::rfc3339(i64::try_from(secs).unwrap_or(0));
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
