//! `gitops appset generate|list|get`: an ApplicationSet's Applications previewed from a file,
//! as `argocd appset generate` does, and the hub's ApplicationSets as `argocd appset list|get`
//! show them. The generators and templates are the core's (`gitops_core::appset`); this
//! gathers what they read (cluster Secrets, repository trees, pull request and SCM APIs)
//! and prints. The readers of the repositories and of the providers are shared with the
//! fleet's ApplicationSet controller (`fleet_cmd`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use gitops_core::Object;
use gitops_core::appset::{self, Inputs, MemoryRepositories, MemoryTree};
use gitops_core::fleet::cluster::ClusterRegistry;
use gitops_kube::fleet::HubApp;
use gitops_render::git::{Cache, Reference};
use serde_json::{Value, json};

use crate::fleet_cmd::{Local, local_for};
use crate::hub_cmd::{HubArgs, sync_and_health, table, text};

/// `gitops appset ...`.
#[derive(Subcommand, Debug)]
pub enum AppsetCommand {
    /// Prints the Applications an ApplicationSet file generates, in generation order, as
    /// `argocd appset generate` does: nothing is written, and destinations are not checked
    /// against the registered clusters.
    ///
    /// What the generators read: `clusters`, the cluster Secrets of `--clusters` (none given:
    /// only the local `in-cluster`); `git`, the repositories of `--local URL=DIR`, others
    /// fetched through the Git cache; `pullRequest` and `scmProvider`, the providers' APIs,
    /// with `tokenRef` Secrets read from `--secrets` (or `--clusters`) files in the set's
    /// namespace, and without a `tokenRef` the GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN
    /// environment variable, as Argo CD does; `plugin`, the ConfigMap of `--objects` and the
    /// service its `baseUrl` names, with the token's Secret from `--secrets`;
    /// `clusterDecisionResource`, the ConfigMap and the duck-typed resources (a
    /// PlacementDecision, ...) of `--objects`, and the clusters of `--clusters`.
    ///
    /// Exit status: 0 when every Application generates, 2 on bad usage or input (the file,
    /// a generator or template error, duplicate or invalid names, a provider's error).
    Generate(GenerateArgs),
    /// The hub's ApplicationSets, as `argocd appset list` shows them: NAME, NAMESPACE,
    /// PROJECT, SYNCPOLICY, CONDITIONS, REPO, PATH and TARGET (the template's).
    ///
    /// Exit status: 0, or 2 when the hub cannot be read.
    List {
        #[command(flatten)]
        hub: HubArgs,
        /// Output: a table (`wide`), or `json`: a list of {name, namespace, project,
        /// syncPolicy, conditions, repo, path, target, applications}.
        #[arg(short, long, value_enum, default_value = "wide")]
        output: ListFormat,
    },
    /// One ApplicationSet of the hub: its template's source and destination, its generators,
    /// and the Applications it owns with their sync status and health.
    ///
    /// Exit status: 0, or 2 when it is not in the hub.
    Get {
        /// Its name (or `namespace/name`).
        name: String,
        #[command(flatten)]
        hub: HubArgs,
    },
}

/// `appset list` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table.
    Wide,
    /// A JSON list.
    Json,
}

/// `appset generate` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// YAML documents separated by `---`.
    Yaml,
    /// A JSON list.
    Json,
}

/// `gitops appset generate` arguments.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The ApplicationSet file (one ApplicationSet).
    pub file: PathBuf,
    /// Argo CD cluster Secrets (label `argocd.argoproj.io/secret-type: cluster`) for the
    /// clusters generator: a file or a directory; repeatable.
    #[arg(long, value_name = "PATH")]
    pub clusters: Vec<String>,
    /// Secrets that `tokenRef`/`passwordRef` name (in the set's namespace, or with none): a
    /// file or a directory; repeatable.
    #[arg(long, value_name = "PATH")]
    pub secrets: Vec<String>,
    /// Objects of the hub the `plugin` and `clusterDecisionResource` generators read (their
    /// ConfigMaps, the duck-typed resources), in the set's namespace or naming none: a file
    /// or a directory; repeatable.
    #[arg(long, value_name = "PATH")]
    pub objects: Vec<String>,
    /// `URL=DIR`: the git generators read the repository URL from the checkout DIR instead of
    /// fetching it; repeatable.
    #[arg(long, value_name = "URL=DIR")]
    pub local: Vec<Local>,
    /// The Git cache for repositories not given by `--local` (default: GITOPS_CACHE, else
    /// ~/.cache/gitops).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<String>,
    /// Output: YAML documents, or a JSON list.
    #[arg(short, long, value_enum, default_value = "yaml")]
    pub output: Format,
}

/// `gitops appset ...`.
pub fn run(command: AppsetCommand) -> Result<ExitCode, String> {
    match command {
        AppsetCommand::Generate(args) => generate(args),
        AppsetCommand::List { hub, output } => list(&hub, output),
        AppsetCommand::Get { name, hub } => get(&hub, &name),
    }
}

fn load_all(paths: &[String], flag: &str) -> Result<Vec<Object>, String> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(gitops_render::load(p).map_err(|e| format!("{flag} {p}: {e}"))?);
    }
    Ok(out)
}

fn generate(args: GenerateArgs) -> Result<ExitCode, String> {
    let file = args.file.display().to_string();
    let objects = crate::render_cmd::read_objects(&file)?;
    let mut sets = objects.iter().filter(|o| o.kind() == "ApplicationSet" && o.group() == "argoproj.io");
    let appset = match (sets.next(), sets.next()) {
        (Some(one), None) => one,
        (None, _) => return Err(format!("{file}: no argoproj.io ApplicationSet in it")),
        (Some(_), Some(_)) => return Err(format!("{file}: more than one ApplicationSet; give one per file")),
    };
    let label = format!("ApplicationSet {}/{}", appset.namespace(), appset.name());
    if let Some(Local::Own(dir)) = args.local.iter().find(|l| matches!(l, Local::Own(_))) {
        return Err(format!("--local {}: appset generate takes URL=DIR (which repository DIR serves)", dir.display()));
    }
    let cluster_objects = load_all(&args.clusters, "--clusters")?;
    let (registry, errors) = ClusterRegistry::from_objects(&cluster_objects);
    if let Some(e) = errors.first() {
        return Err(format!("--clusters: {e}"));
    }
    let mut secrets = load_all(&args.secrets, "--secrets")?;
    secrets.extend(cluster_objects);
    let mut hub_objects = load_all(&args.objects, "--objects")?;
    hub_objects.extend(secrets.iter().cloned());
    let cache = crate::render_cmd::cache_dir(args.cache.as_ref()).ok().map(Cache::new);
    let repositories = repositories(appset, &args.local, cache.as_ref()).map_err(|e| format!("{label}: {e}"))?;
    let scm = scm_client(appset, &secrets);
    let inputs = Inputs {
        clusters: Some(&registry),
        repositories: Some(&repositories),
        pull_requests: Some(&scm),
        scm_repositories: Some(&scm),
        plugins: Some(&scm),
        objects: Some(&hub_objects),
        ..Inputs::default()
    };
    let generation = appset::generate_preview(appset, &inputs).map_err(|e| e.to_string())?;
    if !generation.errors.is_empty() {
        let all: Vec<String> = generation.errors.iter().map(ToString::to_string).collect();
        return Err(format!("{label}: {}", all.join("; ")));
    }
    let apps: Vec<Object> = generation.apps.into_iter().map(without_owner).collect();
    let text = match args.output {
        Format::Yaml => gitops_render::output::yaml_stream(&apps).map_err(|e| e.to_string())?,
        Format::Json => gitops_render::output::json_list(&apps),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(|e| format!("writing output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// The Application as `argocd appset generate` prints it: the controller sets the owner when
/// it creates the object.
fn without_owner(app: Object) -> Object {
    let mut value = app.value().clone();
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("ownerReferences");
    }
    Object::new(value, app.origin().clone())
}

/// The pull request and SCM clients of an ApplicationSet, reading `tokenRef`s from the
/// Secrets among `objects`.
pub(crate) fn scm_client(appset: &Object, objects: &[Object]) -> gitops_render::scm::Client {
    let secrets = objects.iter().filter(|o| o.kind() == "Secret").cloned().collect();
    gitops_render::scm::Client::new(appset.namespace(), secrets)
}

/// The names of the Secrets an ApplicationSet's generators read (`tokenRef`, `passwordRef`,
/// `bearerToken.tokenRef`: every `secretName`; a GitHub App's `appSecretName`), in the set's
/// namespace.
pub(crate) fn referenced_secrets(appset: &Object) -> std::collections::BTreeSet<String> {
    names_in_generators(appset, |k, x| match k {
        "secretName" | "appSecretName" => x.as_str(),
        _ => None,
    })
}

/// The ConfigMaps the `plugin` (`configMapRef.name`) and `clusterDecisionResource`
/// (`configMapRef`) generators of an ApplicationSet name, nested ones included, in the set's
/// namespace.
pub(crate) fn referenced_config_maps(appset: &Object) -> std::collections::BTreeSet<String> {
    names_in_generators(appset, |k, x| match k {
        "plugin" => x.pointer("/configMapRef/name").and_then(Value::as_str),
        "clusterDecisionResource" => x.get("configMapRef").and_then(Value::as_str),
        _ => None,
    })
}

/// The non-empty names `pick` finds at any field (key and value) of an ApplicationSet's
/// generators, nested ones included.
fn names_in_generators(
    appset: &Object,
    pick: impl for<'v> Fn(&str, &'v Value) -> Option<&'v str>,
) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut stack: Vec<&Value> = appset.value().pointer("/spec/generators").into_iter().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if let Some(name) = pick(k, x).filter(|n| !n.is_empty()) {
                        names.insert(name.to_string());
                    }
                    stack.push(x);
                }
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    names
}

/// What the ConfigMaps among `config_maps` that an ApplicationSet's generators name send the
/// hub to read: the Secrets of plugin tokens (`$<secret>:<key>`), and the `(apiVersion,
/// kind)` of duck-typed resources.
pub(crate) fn config_map_reads(
    appset: &Object,
    config_maps: &[Object],
) -> (std::collections::BTreeSet<String>, std::collections::BTreeSet<(String, String)>) {
    let named = referenced_config_maps(appset);
    let mut secrets = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeSet::new();
    for cm in config_maps.iter().filter(|o| o.kind() == "ConfigMap" && named.contains(o.name())) {
        let data = |k: &str| cm.value().pointer(&format!("/data/{k}")).and_then(Value::as_str).unwrap_or("");
        if let Some(r) = appset::generators::plugin::token_ref(data("token")) {
            secrets.insert(r.secret_name);
        }
        if !data("apiVersion").is_empty() && !data("kind").is_empty() {
            kinds.insert((data("apiVersion").to_string(), data("kind").to_string()));
        }
    }
    (secrets, kinds)
}

/// The trees the git generators of `appset` read: each repository from its `--local URL=DIR`,
/// else fetched at its revision through `cache`.
pub(crate) fn repositories(
    appset: &Object,
    locals: &[Local],
    cache: Option<&Cache>,
) -> Result<MemoryRepositories, String> {
    let mut repositories = MemoryRepositories::default();
    for (url, revision) in git_generators(appset.value()) {
        let dir = match local_for(locals, &url, false) {
            Some(dir) => dir,
            None => {
                let cache = cache.ok_or_else(|| {
                    format!("{url}: not given by --local URL=DIR, and no Git cache directory (set GITOPS_CACHE)")
                })?;
                let reference = match revision.as_str() {
                    "" | "HEAD" => Reference::Head,
                    r => Reference::Revision(r.to_string()),
                };
                cache.checkout(&url, &reference).map_err(|e| e.to_string())?.dir
            }
        };
        if !dir.is_dir() {
            return Err(format!("{url}: {} is not a directory", dir.display()));
        }
        repositories.insert(&url, &revision, tree_of(&dir));
    }
    Ok(repositories)
}

/// The `(repoURL, revision)` of every git generator in an ApplicationSet (nested in matrix and
/// merge generators too).
fn git_generators(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![value.get("spec").and_then(|s| s.get("generators")).cloned().unwrap_or_default()];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if let Some(git) = map.get("git")
                    && let Some(url) = git.get("repoURL").and_then(Value::as_str)
                {
                    let revision = git.get("revision").and_then(Value::as_str).unwrap_or("");
                    out.push((url.to_string(), revision.to_string()));
                }
                stack.extend(map.into_iter().filter(|(k, _)| k != "git").map(|(_, v)| v));
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The files and directories under `root` (no `.git`), as the git generator reads a checkout:
/// YAML and JSON files with their contents, others listed only.
fn tree_of(root: &Path) -> MemoryTree {
    let mut tree = MemoryTree::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            let Ok(rel) = path.strip_prefix(root) else { continue };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if kind.is_symlink() || rel == ".git" {
                continue;
            }
            if kind.is_dir() {
                tree.add_directory(&rel);
                stack.push(path);
            } else if kind.is_file() {
                let data = path.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json");
                let content = if data { gitops_render::regular::read(&path).unwrap_or_default() } else { Vec::new() };
                tree.add_file(rel, content);
            }
        }
    }
    tree
}

/// An ApplicationSet of the hub and the Applications it owns.
struct HubSet<'a> {
    object: &'a Object,
    apps: Vec<&'a HubApp>,
}

fn owned_by(app: &HubApp, set: &Object) -> bool {
    app.object.namespace() == set.namespace()
        && app
            .object
            .value()
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|r| r.get("kind") == Some(&json!("ApplicationSet")) && r.get("name") == Some(&json!(set.name())))
}

fn hub_sets<'a>(objects: &'a [Object], apps: &'a [HubApp]) -> Vec<HubSet<'a>> {
    let mut sets: Vec<HubSet<'a>> = objects
        .iter()
        .filter(|o| o.kind() == "ApplicationSet" && o.group() == "argoproj.io")
        .map(|object| HubSet {
            object,
            apps: apps.iter().filter(|a| a.id.kind.kind() == "Application" && owned_by(a, object)).collect(),
        })
        .collect();
    sets.sort_by(|a, b| (a.object.namespace(), a.object.name()).cmp(&(b.object.namespace(), b.object.name())));
    sets
}

/// What `argocd appset list` prints of the sync policy: the `applicationsSync` policy.
fn set_sync_policy(o: &Value) -> String {
    let policy = text(o, "/spec/syncPolicy/applicationsSync");
    if policy.is_empty() { "<none>".into() } else { policy.to_string() }
}

fn set_conditions(o: &Value) -> Vec<String> {
    o.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let (kind, status, message) = (text(c, "/type"), text(c, "/status"), text(c, "/message"));
            if message.is_empty() { format!("{kind}={status}") } else { format!("{kind}={status}: {message}") }
        })
        .collect()
}

fn list(hub: &HubArgs, output: ListFormat) -> Result<ExitCode, String> {
    let (objects, apps) = hub.objects_and_apps()?;
    let sets = hub_sets(&objects, &apps);
    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    if output == ListFormat::Json {
        let list: Vec<Value> = sets
            .iter()
            .map(|s| {
                let o = s.object.value();
                json!({
                    "name": s.object.name(),
                    "namespace": s.object.namespace(),
                    "project": text(o, "/spec/template/spec/project"),
                    "syncPolicy": set_sync_policy(o),
                    "conditions": set_conditions(o),
                    "repo": text(o, "/spec/template/spec/source/repoURL"),
                    "path": text(o, "/spec/template/spec/source/path"),
                    "target": text(o, "/spec/template/spec/source/targetRevision"),
                    "applications": s.apps.iter().map(|a| a.id.name.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list).unwrap_or_default()).map_err(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = sets
        .iter()
        .map(|s| {
            let o = s.object.value();
            let conditions = set_conditions(o);
            vec![
                s.object.name().to_string(),
                s.object.namespace().to_string(),
                text(o, "/spec/template/spec/project").into(),
                set_sync_policy(o),
                if conditions.is_empty() { "<none>".into() } else { conditions.join("; ") },
                text(o, "/spec/template/spec/source/repoURL").into(),
                text(o, "/spec/template/spec/source/path").into(),
                text(o, "/spec/template/spec/source/targetRevision").into(),
            ]
        })
        .collect();
    let header = ["NAME", "NAMESPACE", "PROJECT", "SYNCPOLICY", "CONDITIONS", "REPO", "PATH", "TARGET"];
    table(&mut out, &header, &rows).map_err(w)?;
    Ok(ExitCode::SUCCESS)
}

fn get(hub: &HubArgs, name: &str) -> Result<ExitCode, String> {
    let (objects, apps) = hub.objects_and_apps()?;
    let sets = hub_sets(&objects, &apps);
    let (ns, name) = name.split_once('/').map_or((None, name), |(n, a)| (Some(n), a));
    let set = sets
        .iter()
        .find(|s| s.object.name() == name && ns.is_none_or(|n| s.object.namespace() == n))
        .ok_or_else(|| format!("applicationset '{name}' not found in the hub"))?;
    let o = set.object.value();
    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    let field = |out: &mut dyn Write, k: &str, v: &str| writeln!(out, "{:<15}{v}", format!("{k}:"));
    field(&mut out, "Name", &format!("{}/{}", set.object.namespace(), set.object.name())).map_err(w)?;
    field(&mut out, "Project", text(o, "/spec/template/spec/project")).map_err(w)?;
    let server = [text(o, "/spec/template/spec/destination/server"), text(o, "/spec/template/spec/destination/name")]
        .into_iter()
        .find(|c| !c.is_empty())
        .unwrap_or("");
    field(&mut out, "Server", server).map_err(w)?;
    field(&mut out, "Namespace", text(o, "/spec/template/spec/destination/namespace")).map_err(w)?;
    field(&mut out, "Repo", text(o, "/spec/template/spec/source/repoURL")).map_err(w)?;
    field(&mut out, "Target", text(o, "/spec/template/spec/source/targetRevision")).map_err(w)?;
    field(&mut out, "Path", text(o, "/spec/template/spec/source/path")).map_err(w)?;
    field(&mut out, "SyncPolicy", &set_sync_policy(o)).map_err(w)?;
    let generators: Vec<String> = o
        .pointer("/spec/generators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|g| appset::generators::kinds_of(g).join("+"))
        .collect();
    field(&mut out, "Generators", &generators.join(", ")).map_err(w)?;
    if let Some(wait) = o.get("spec").and_then(appset::generators::appset_requeue_after_seconds) {
        field(&mut out, "Requeue", &format!("every {wait} s")).map_err(w)?;
    }
    for c in set_conditions(o) {
        field(&mut out, "Condition", &c).map_err(w)?;
    }
    writeln!(out).map_err(w)?;
    // A RollingSync set's progress per app: its step and where it stands.
    let progress: BTreeMap<String, (String, String)> = appset::progressive::previous(set.object)
        .into_iter()
        .map(|p| (p.application, (p.step, format!("{:?}", p.status))))
        .collect();
    let rows: Vec<Vec<String>> = set
        .apps
        .iter()
        .map(|a| {
            let ao = a.object.value();
            let (sync, health) = sync_and_health(a);
            let cluster = [text(ao, "/spec/destination/server"), text(ao, "/spec/destination/name")]
                .into_iter()
                .find(|c| !c.is_empty())
                .unwrap_or("")
                .to_string();
            let mut row =
                vec![a.id.name.clone(), cluster, text(ao, "/spec/destination/namespace").into(), sync, health];
            if !progress.is_empty() {
                let (step, status) = progress.get(&a.id.name).cloned().unwrap_or_else(|| ("-".into(), "-".into()));
                row.extend([step, status]);
            }
            row
        })
        .collect();
    let mut header = vec!["APPLICATION", "CLUSTER", "NAMESPACE", "SYNC", "HEALTH"];
    if !progress.is_empty() {
        header.extend(["STEP", "ROLLOUT"]);
    }
    table(&mut out, &header, &rows).map_err(w)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secrets_a_set_reads_are_found_in_every_generator() {
        let set = Object::new(
            json!({"kind": "ApplicationSet", "apiVersion": "argoproj.io/v1alpha1", "metadata": {"name": "s"},
            "spec": {"generators": [
                {"pullRequest": {"github": {"owner": "o", "tokenRef": {"secretName": "gh", "key": "token"}}}},
                {"matrix": {"generators": [
                    {"scmProvider": {"gitea": {"owner": "o", "tokenRef": {"secretName": "gitea", "key": "t"}}}},
                    {"scmProvider": {"github": {"organization": "o", "appSecretName": "app"}}},
                ]}},
            ]}}),
            gitops_core::object::Origin::inline("test"),
        );
        assert_eq!(referenced_secrets(&set).into_iter().collect::<Vec<_>>(), ["app", "gh", "gitea"]);
    }

    #[test]
    fn git_generators_are_found_nested() {
        let v = json!({"spec": {"generators": [
            {"git": {"repoURL": "https://a", "revision": "main"}},
            {"matrix": {"generators": [{"git": {"repoURL": "https://b"}}, {"list": {}}]}},
        ]}});
        assert_eq!(git_generators(&v), [("https://a".into(), "main".into()), ("https://b".into(), String::new())]);
    }
}
