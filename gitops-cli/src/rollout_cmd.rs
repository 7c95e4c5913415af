//! `gitops rollout get|promote|abort|retry|pause|resume|run`: Argo Rollouts as the
//! `kubectl argo rollouts` plugin shows and drives them. The verbs are the bundled Rollout
//! actions run through `gitops action`'s machinery; `run` steps a Rollout from files through its
//! canary or blue-green analyses, measured for real.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Args, Subcommand, ValueEnum};
use gitops_core::rollout::info::{Info, analysis_icon, rollout_icon};
use gitops_core::rollout::{self, Verb};
use gitops_core::{Object, Origin, ResourceKey};
use gitops_health::lua::Engine;
use gitops_kube::Cluster;
use gitops_kube::action::{self, Written};
use gitops_render::rollout::Event;
use serde_json::Value;

use crate::action_cmd::{ClusterArgs, OnCluster, on_target};
use crate::analysis_cmd::MeasureArgs;
use crate::output::{BOLD, GREEN, RED, RESET, YELLOW};

/// Subcommands of `gitops rollout`.
#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    /// Shows a Rollout as `kubectl argo rollouts get rollout` does: status, strategy, step,
    /// weights, images and replicas, then its revisions with their ReplicaSets, pods and
    /// AnalysisRuns.
    ///
    /// Exit status: 0 shown, 2 bad usage or no such Rollout.
    Get(GetArgs),
    /// Promotes a paused Rollout (or skips the canary step in progress); `--full` skips every
    /// remaining step and pause.
    ///
    /// Exit status: 0 done, 1 the target refused the write, 2 bad usage or no such Rollout.
    Promote(PromoteArgs),
    /// Aborts the update: back to the stable revision.
    ///
    /// Exit status: as `promote`.
    Abort(VerbArgs),
    /// Retries an aborted update.
    ///
    /// Exit status: as `promote`.
    Retry(VerbArgs),
    /// Pauses the Rollout.
    ///
    /// Exit status: as `promote`.
    Pause(VerbArgs),
    /// Resumes a paused Rollout.
    ///
    /// Exit status: as `promote`.
    Resume(VerbArgs),
    /// Steps a Rollout from a file through its canary steps (setWeight, timed pauses,
    /// analyses, the background analysis) or its blue-green promotion (pre- and post-promotion
    /// analyses) as the Rollouts controller does, measuring each analysis for real; prints each
    /// step and measurement and the final phase. With `--target`, the Rollout (with its status)
    /// and its AnalysisRuns are written there.
    ///
    /// Exit status: 0 Healthy, 1 Degraded (aborted) or Paused, 2 bad input (a missing template,
    /// an unknown provider, an argument that cannot be resolved) or a target that refused a write.
    Run(RunArgs),
}

/// Where the Rollout is.
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// The Rollout's name.
    pub name: String,
    /// Its namespace.
    #[arg(long, short = 'n', value_name = "NS", default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Arguments of `gitops rollout get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// Arguments of `gitops rollout promote`.
#[derive(Args, Debug)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Skip every remaining step and pause (the `promote-full` action).
    #[arg(long)]
    pub full: bool,
}

/// Arguments of `gitops rollout abort|retry|pause|resume`.
#[derive(Args, Debug)]
pub struct VerbArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Arguments of `gitops rollout run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The file holding the Rollout (one Rollout; other documents are passed over).
    #[arg(value_name = "ROLLOUT")]
    pub rollout: PathBuf,
    /// Files holding the AnalysisTemplates and ClusterAnalysisTemplates the Rollout names.
    #[arg(long = "templates", value_name = "PATH", num_args = 1.., required = true)]
    pub templates: Vec<PathBuf>,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Write the Rollout (with its status) and its AnalysisRuns to this target: `dir:PATH`,
    /// `kube` or `kube:CONTEXT`.
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// The kubeconfig for a kube target.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Output format of the end: the Rollout's status and the runs' phases.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// Output formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text for people.
    Table,
    /// A YAML document.
    Yaml,
    /// A JSON document.
    Json,
}

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(command: RolloutCommand) -> Result<ExitCode, String> {
    match command {
        RolloutCommand::Get(args) => get(&args),
        RolloutCommand::Promote(a) => verb(&a.target, if a.full { Verb::PromoteFull } else { Verb::Promote }),
        RolloutCommand::Abort(a) => verb(&a.target, Verb::Abort),
        RolloutCommand::Retry(a) => verb(&a.target, Verb::Retry),
        RolloutCommand::Pause(a) => verb(&a.target, Verb::Pause),
        RolloutCommand::Resume(a) => verb(&a.target, Verb::Resume),
        RolloutCommand::Run(args) => run_rollout(&args),
    }
}

struct Get<'a>(&'a ResourceKey);

impl OnCluster for Get<'_> {
    type Output = Result<(Value, Vec<Value>), gitops_kube::rollout::Error>;

    async fn on<C: Cluster>(&self, cluster: &C) -> Self::Output {
        gitops_kube::rollout::get(cluster, self.0).await
    }
}

fn get(args: &GetArgs) -> Result<ExitCode, String> {
    let t = &args.target;
    let key = gitops_kube::rollout::key(&t.namespace, &t.name);
    let (rollout, related) = t.cluster.on(&Get(&key))?.map_err(|e| e.to_string())?;
    let info = rollout::info(&rollout, &related).map_err(|e| e.to_string())?;
    let text = match args.output {
        Format::Table => table(&info),
        Format::Json | Format::Yaml => document(serde_json::to_value(&info).map_err(|e| e.to_string())?, args.output)?,
    };
    write_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn write_out(text: &str) -> Result<(), String> {
    let mut out = anstream::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|_| out.flush()).map_err(|e| format!("writing output: {e}"))
}

fn document(value: Value, format: Format) -> Result<String, String> {
    if format == Format::Json {
        return Ok(serde_json::to_string_pretty(&value).map_err(|e| e.to_string())? + "\n");
    }
    let text = gitops_render::output::yaml_stream(&[Object::new(value, Origin::inline("rollout"))])
        .map_err(|e| e.to_string())?;
    Ok(text.strip_prefix("---\n").unwrap_or(&text).to_string())
}

fn colour(status: &str) -> &'static str {
    match status {
        "Healthy" | "Successful" | "Running" => GREEN,
        "Degraded" | "Failed" | "Error" | "ReplicaFailure" | "InvalidSpec" => RED,
        _ => YELLOW,
    }
}

/// The plugin's layout: the summary, then the tree.
fn table(i: &Info) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let field = |s: &mut String, name: &str, value: &str| {
        let _ = if value.is_empty() {
            writeln!(s, "{BOLD}{name}:{RESET}")
        } else {
            writeln!(s, "{BOLD}{:<17}{RESET}{value}", format!("{name}:"))
        };
    };
    field(&mut s, "Name", &i.name);
    field(&mut s, "Namespace", &i.namespace);
    field(&mut s, "Status", &format!("{}{} {}{RESET}", colour(&i.status), i.icon, i.status));
    if !i.message.is_empty() {
        field(&mut s, "Message", &i.message);
    }
    if !i.strategy.is_empty() {
        field(&mut s, "Strategy", &i.strategy);
    }
    if i.strategy == "Canary" {
        if !i.step.is_empty() {
            field(&mut s, "  Step", &i.step);
        }
        field(&mut s, "  SetWeight", &i.set_weight);
        field(&mut s, "  ActualWeight", &i.actual_weight);
    }
    let images: Vec<String> = i
        .images
        .iter()
        .map(|im| if im.tags.is_empty() { im.image.clone() } else { format!("{} ({})", im.image, im.tags.join(", ")) })
        .collect();
    field(&mut s, "Images", &images.join(&format!("\n{:17}", "")));
    field(&mut s, "Replicas", "");
    let r = &i.replicas;
    for (name, n) in [
        ("Desired", r.desired),
        ("Current", r.current),
        ("Updated", r.updated),
        ("Ready", r.ready),
        ("Available", r.available),
    ] {
        field(&mut s, &format!("  {name}"), &n.to_string());
    }
    // The tree: (indent, name, kind, icon, status, info).
    let mut rows: Vec<(String, String, &str, &str, String, String)> =
        vec![(String::new(), format!("⟳ {}", i.name), "Rollout", i.icon, i.status.clone(), String::new())];
    for (ri, rev) in i.revisions.iter().enumerate() {
        let last_rev = ri + 1 == i.revisions.len();
        rows.push((branch("", last_rev), format!("# revision:{}", rev.revision), "", "", String::new(), String::new()));
        let under = if last_rev { "   " } else { "│  " };
        let n = rev.replica_sets.len() + rev.analysis_runs.len();
        let mut k = 0;
        for rs in &rev.replica_sets {
            k += 1;
            let last = k == n;
            rows.push((
                branch(under, last),
                format!("⧉ {}", rs.name),
                "ReplicaSet",
                rs.icon,
                rs.status.clone(),
                rs.tags.join(","),
            ));
            let under_rs = format!("{under}{}", if last { "   " } else { "│  " });
            for (pi, pod) in rs.pods.iter().enumerate() {
                let last_pod = pi + 1 == rs.pods.len();
                rows.push((
                    branch(&under_rs, last_pod),
                    format!("□ {}", pod.name),
                    "Pod",
                    pod.icon,
                    pod.status.clone(),
                    pod.ready.clone(),
                ));
            }
        }
        for ar in &rev.analysis_runs {
            k += 1;
            let mut counts = Vec::new();
            for (icon, n) in [("✔", ar.successful), ("✖", ar.failed), ("?", ar.inconclusive), ("⚠", ar.error)] {
                if n > 0 {
                    counts.push(format!("{icon} {n}"));
                }
            }
            rows.push((
                branch(under, k == n),
                format!("α {}", ar.name),
                "AnalysisRun",
                ar.icon,
                ar.status.clone(),
                counts.join(","),
            ));
        }
    }
    let width = rows.iter().map(|r| r.0.chars().count() + r.1.chars().count()).max().unwrap_or(4).max(4);
    let _ = writeln!(s, "\n{BOLD}{:<width$}  {:<11}  {:<15}  INFO{RESET}", "NAME", "KIND", "STATUS");
    for (indent, name, kind, icon, status, info) in rows {
        if kind.is_empty() {
            let _ = writeln!(s, "{indent}{name}");
            continue;
        }
        let pad = width - indent.chars().count() - name.chars().count();
        let shown = if status.is_empty() { String::new() } else { format!("{icon} {status}") };
        let spaces = 15usize.saturating_sub(shown.chars().count());
        let line =
            format!("{indent}{name}{:pad$}  {kind:<11}  {}{shown}{RESET}{:spaces$}  {info}", "", colour(&status), "");
        let _ = writeln!(s, "{}", line.trim_end());
    }
    s
}

fn branch(under: &str, last: bool) -> String {
    format!("{under}{}", if last { "└──" } else { "├──" })
}

struct Act<'a> {
    key: &'a ResourceKey,
    verb: Verb,
    actions: &'a gitops_health::action::Actions,
}

impl OnCluster for Act<'_> {
    type Output = Result<(&'static str, Vec<Written>), action::Error>;

    async fn on<C: Cluster>(&self, cluster: &C) -> Self::Output {
        let live = cluster
            .get(self.key)
            .await?
            .ok_or_else(|| action::Error::NotFound { key: self.key.to_string(), target: cluster.describe() })?;
        let name = rollout::verb_action(self.verb, live.value());
        let written = action::run(cluster, self.actions, self.key, name, &Default::default()).await?;
        Ok((name, written))
    }
}

fn verb(t: &TargetArgs, verb: Verb) -> Result<ExitCode, String> {
    let actions = gitops_render::action::actions(None, None, Engine::default()).map_err(|e| e.to_string())?;
    let key = gitops_kube::rollout::key(&t.namespace, &t.name);
    match t.cluster.on(&Act { key: &key, verb, actions: &actions })? {
        Ok((name, _)) => {
            let done = match verb {
                Verb::Promote => "promoted",
                Verb::PromoteFull => "fully promoted",
                Verb::Abort => "aborted",
                Verb::Retry => "retried",
                Verb::Pause => "paused",
                Verb::Resume => "resumed",
            };
            write_out(&format!("rollout '{}' {GREEN}{done}{RESET} (action {name})\n", t.name))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(action::Error::Cluster(e)) => {
            eprintln!("gitops: error: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.to_string()),
    }
}

struct WriteBack<'a> {
    rollout: &'a Value,
    runs: &'a [Value],
}

impl OnCluster for WriteBack<'_> {
    type Output = Result<Vec<gitops_kube::rollout::Written>, gitops_kube::rollout::Error>;

    async fn on<C: Cluster>(&self, cluster: &C) -> Self::Output {
        gitops_kube::rollout::write(cluster, self.rollout, self.runs).await
    }
}

fn read_rollout(path: &Path) -> Result<Value, String> {
    let shown = path.display();
    let text = gitops_render::regular::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let docs = gitops_core::yaml::parse_documents(&text).map_err(|e| format!("{shown}: {e}"))?;
    let mut found: Vec<Value> = docs
        .into_iter()
        .map(|d| d.value)
        .filter(|v| v.get("kind").and_then(Value::as_str) == Some("Rollout"))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!("{shown}: no Rollout")),
        n => Err(format!("{shown}: {n} Rollouts; give one per file")),
    }
}

fn describe_step(step: &Value) -> String {
    let Some((k, v)) = step.as_object().and_then(|m| m.iter().next()) else { return "?".into() };
    match k.as_str() {
        "setWeight" => format!("setWeight: {v}"),
        "pause" => match v.get("duration") {
            Some(Value::String(d)) => format!("pause: {d}"),
            Some(d) => format!("pause: {d}s"),
            None => "pause".into(),
        },
        "analysis" => {
            let names: Vec<&str> = v
                .get("templates")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| t.get("templateName").and_then(Value::as_str))
                .collect();
            format!("analysis: {}", names.join(", "))
        }
        other => other.to_string(),
    }
}

fn run_rollout(args: &RunArgs) -> Result<ExitCode, String> {
    let options = args.measure.options()?;
    let mut rollout = read_rollout(&args.rollout)?;
    if let Some(target) = &args.target {
        // The Rollout on the target, if there, is what this one updates: its stable revision
        // (and active service) is the starting point.
        let name = str_of(&rollout, "/metadata/name").to_string();
        let namespace = match str_of(&rollout, "/metadata/namespace") {
            "" => "default".to_string(),
            ns => ns.to_string(),
        };
        let key = gitops_kube::rollout::key(&namespace, &name);
        match on_target(target, args.kubeconfig.as_deref(), &Get(&key))? {
            Ok((live, _)) => rollout = rollout::progress::update_of(&live, &rollout),
            Err(gitops_kube::rollout::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
        if let Some(meta) = rollout.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.entry("namespace").or_insert(Value::String(namespace));
        }
    }
    let paths: Vec<&Path> = args.templates.iter().map(PathBuf::as_path).collect();
    let templates = gitops_render::rollout::read_templates(&paths).map_err(|e| e.to_string())?;
    let table = args.output == Format::Table;
    let failed_write: Mutex<Option<io::Error>> = Mutex::new(None);
    let report = |event: Event<'_>| {
        if !table {
            return;
        }
        let line = match event {
            Event::Step(i, step) => format!("{BOLD}step {i}:{RESET} {}", describe_step(step)),
            Event::AnalysisStarted(s) => format!("{BOLD}analysis {}{RESET} ({}) started", s.name, s.kind.label()),
            Event::Measurement(s, metric, m) => {
                let dry = if metric.dry_run { " (dry run)" } else { "" };
                let msg = if m.message.is_empty() { String::new() } else { format!("  {}", m.message) };
                format!(
                    "  {} {}{dry}: {}{}{RESET} {}{msg}",
                    s.name,
                    metric.name,
                    colour(m.phase.as_str()),
                    m.phase,
                    m.value
                )
            }
            Event::AnalysisEnded(s, phase, message) => {
                let why = if message.is_empty() { String::new() } else { format!(": {message}") };
                format!("{BOLD}analysis {}{RESET} {}{phase}{RESET}{why}", s.name, colour(phase.as_str()))
            }
            Event::Promoted(hash) => format!("{BOLD}active service{RESET} now selects {hash}"),
        };
        let mut out = anstream::stdout().lock();
        if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush())
            && let Ok(mut slot) = failed_write.lock()
        {
            slot.get_or_insert(e);
        }
    };
    let outcome = gitops_render::rollout::run(&rollout, &templates, &options, &report).map_err(|e| e.to_string())?;
    if let Some(e) = failed_write.into_inner().ok().flatten() {
        return Err(format!("writing output: {e}"));
    }
    let progress = &outcome.progress;
    let mut written = Vec::new();
    if let Some(target) = &args.target {
        match on_target(
            target,
            args.kubeconfig.as_deref(),
            &WriteBack { rollout: progress.rollout(), runs: &outcome.runs },
        )? {
            Ok(w) => written = w,
            Err(e) => return Err(e.to_string()),
        }
    }
    let phase = progress.phase().to_string();
    if table {
        let mut text = String::new();
        for w in &written {
            text.push_str(&format!("{}: {}\n", w.key, w.applied));
        }
        let message = if progress.message().is_empty() { String::new() } else { format!(": {}", progress.message()) };
        text.push_str(&format!(
            "{BOLD}rollout {}:{RESET} {}{} {phase}{RESET}{message}\n",
            str_of(progress.rollout(), "/metadata/name"),
            colour(&phase),
            rollout_icon(&phase)
        ));
        write_out(&text)?;
    } else {
        let runs: Vec<Value> = outcome
            .runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": str_of(r, "/metadata/name"),
                    "type": str_of(r, "/metadata/labels/rollout-type"),
                    "phase": str_of(r, "/status/phase"),
                    "icon": analysis_icon(str_of(r, "/status/phase")),
                    "message": str_of(r, "/status/message"),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "phase": phase,
            "message": progress.message(),
            "status": progress.rollout().get("status"),
            "analysisRuns": runs,
            "written": written,
        });
        write_out(&document(doc, args.output)?)?;
    }
    Ok(match phase.as_str() {
        "Healthy" => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

fn str_of<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}
