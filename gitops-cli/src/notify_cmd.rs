//! `gitops notify ...`: Flux alerting (`match`, `send`) and Argo CD notifications
//! (`trigger run`, `template notify`, as `argocd admin notifications`) on files.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use gitops_core::Object;
use gitops_core::notify::event::{Event, InvolvedObject};
use gitops_core::notify::flux::{self, Alert, Provider, Secret};
use gitops_core::notify::{argo, payload};
use gitops_render::notify::Sender;

use crate::render_cmd::read_objects;

/// Subcommands of `gitops notify`.
#[derive(Subcommand, Debug)]
pub enum NotifyCommand {
    /// Which Flux Alerts take an event: prints them as `namespace/name`, one per line, sorted
    /// (nothing when none), as notification-controller's event handler filters (event
    /// sources, severity, matchLabels, inclusion and exclusion lists; suspended Alerts skipped).
    ///
    /// Exit status: 0 (whether or not any Alert matched), 2 invalid input.
    Match(MatchArgs),
    /// Sends an event through the Alerts that take it, to their Providers (generic,
    /// generic-hmac, slack, msteams, discord, googlechat, github, gitlab, gitea), with retries:
    /// a way to test an alerting setup. Prints one line per Alert.
    ///
    /// Exit status: 0 all sent (or nothing to send), 1 a provider failed, 2 invalid input.
    Send(SendArgs),
    /// Argo CD notification triggers, as `argocd admin notifications trigger`.
    #[command(subcommand)]
    Trigger(TriggerCommand),
    /// Argo CD notification templates, as `argocd admin notifications template`.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Argo CD notifications of one Application, as the notifications controller does them
    /// once: every trigger the app subscribes to (its annotations, the ConfigMap's
    /// `subscriptions`, default triggers) is evaluated, what is due is sent, and the notified
    /// state (the `notified.notifications.argoproj.io` annotation's map) is read from and
    /// written to `--state`, so that a second run does not send again. Prints one line per
    /// notification.
    ///
    /// TLS as for `template notify`.
    ///
    /// Exit status: 0 all sent (or nothing due), 1 a notification failed (it is retried by
    /// the next run), 2 invalid input.
    App(AppArgs),
}

/// `gitops notify template ...`.
#[derive(Subcommand, Debug)]
pub enum TemplateCommand {
    /// Renders TEMPLATE over an Application and sends it to one recipient, as `argocd admin
    /// notifications template notify`. Services reached over TLS (HTTPS, SMTP with STARTTLS or
    /// on port 465) trust the CA certificates of `SSL_CERT_FILE` when it is set, else the
    /// bundled Mozilla roots.
    ///
    /// Exit status: 0 sent, 1 the service failed, 2 invalid input.
    Notify(TemplateNotifyArgs),
}

/// Where Argo CD notifications are configured.
#[derive(Args, Debug)]
pub struct ArgoConfigArgs {
    /// The `argocd-notifications-cm` ConfigMap (default: Argo CD's catalog).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,
    /// With `--config`: Argo CD's catalog triggers and templates too, under the ConfigMap's
    /// (as after applying the catalog's install.yaml).
    #[arg(long)]
    pub catalog: bool,
    /// The `argocd-notifications-secret` Secret (`$key` references of services, `.secrets`).
    #[arg(long, value_name = "FILE")]
    pub secret: Option<String>,
    /// The Slack threads started by messages with a `groupingKey` (a JSON map of service to
    /// its threads): read when the file exists, written after the run, so that later messages
    /// of a key go into its thread. Without it every run starts new threads.
    #[arg(long, value_name = "FILE")]
    pub slack_threads: Option<String>,
}

/// The Slack threads of each service.
type Threads = BTreeMap<String, argo::service::SlackThreads>;

/// The Slack threads kept in `path` (none when it does not exist).
fn read_threads(path: &std::path::Path) -> Result<Threads, String> {
    if !path.exists() {
        return Ok(Threads::new());
    }
    let text = gitops_render::regular::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not the Slack threads (a JSON map of service to threads): {e}", path.display()))
}

/// Keeps `threads` in `path`, whole or not at all.
fn write_threads(path: &std::path::Path, threads: &Threads) -> Result<(), String> {
    let text = serde_json::to_string_pretty(threads).map_err(|e| e.to_string())? + "\n";
    gitops_render::regular::write_atomic(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Arguments of `gitops notify template notify`.
#[derive(Args, Debug)]
pub struct TemplateNotifyArgs {
    /// The template (`app-sync-succeeded`, ...).
    pub template: String,
    /// A file holding the Application.
    #[arg(long, value_name = "FILE")]
    pub app: String,
    /// `SERVICE:DESTINATION` (`slack:ops`, `email:me@example.com`, `<webhook name>:`).
    #[arg(long, value_name = "SERVICE:DEST", required = true)]
    pub recipient: Vec<String>,
    #[command(flatten)]
    pub config: ArgoConfigArgs,
}

/// Arguments of `gitops notify app`.
#[derive(Args, Debug)]
pub struct AppArgs {
    /// A file holding the Application (and optionally its AppProject, whose subscription
    /// annotations apply too).
    pub app: String,
    #[command(flatten)]
    pub config: ArgoConfigArgs,
    /// The notified state: a JSON map, as the annotation holds it. Read when the file
    /// exists (else the app's annotation is), written after the run. Without it the state
    /// is the app's annotation and is not kept.
    #[arg(long, value_name = "FILE")]
    pub state: Option<String>,
}

/// `gitops notify trigger ...`.
#[derive(Subcommand, Debug)]
pub enum TriggerCommand {
    /// Evaluates TRIGGER's conditions over an Application: prints each condition and whether
    /// it holds (`true`/`false`), as `argocd admin notifications trigger run`. A condition
    /// that fails to evaluate is false, with the error on standard error.
    ///
    /// Exit status: 0, 2 bad input (an unknown trigger, a condition that does not compile).
    Run(TriggerRunArgs),
}

/// Arguments of `gitops notify trigger run`.
#[derive(Args, Debug)]
pub struct TriggerRunArgs {
    /// The trigger (`on-sync-succeeded`, ...).
    pub trigger: String,
    /// A file holding the Application.
    #[arg(long, value_name = "FILE")]
    pub app: String,
    /// The `argocd-notifications-cm` ConfigMap (default: Argo CD's catalog triggers).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,
}

/// Arguments of `gitops notify match`.
#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Files holding Alerts (`notification.toolkit.fluxcd.io` v1beta3, v1beta2 or v1beta1);
    /// other objects in them are passed over.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub alerts: Vec<String>,
    /// The event (YAML or JSON, as Flux controllers post it).
    #[arg(long, value_name = "EVENT.yaml")]
    pub event: String,
    /// Live objects, whose labels `matchLabels` is checked against (the involved object is
    /// looked up by kind, namespace and name).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub objects: Vec<String>,
}

/// Arguments of `gitops notify send`.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// Files holding Alerts.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub alerts: Vec<String>,
    /// Files holding the Providers the Alerts name.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub providers: Vec<String>,
    /// The event.
    #[arg(long, value_name = "EVENT.yaml")]
    pub event: String,
    /// Files holding the Secrets of the Providers (`secretRef`, `certSecretRef`).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub secrets: Vec<String>,
    /// Live objects, for `matchLabels`.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub objects: Vec<String>,
    /// Retries after a failed attempt (connection errors, 429, 5xx).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,
    /// The first wait between attempts, in milliseconds (it doubles, up to 30 s).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub retry_wait_ms: u64,
}

/// Runs the command; `Err` is bad input (exit 2).
pub fn run(command: NotifyCommand) -> Result<ExitCode, String> {
    match command {
        NotifyCommand::Match(args) => run_match(&args),
        NotifyCommand::Send(args) => run_send(&args),
        NotifyCommand::Trigger(TriggerCommand::Run(args)) => run_trigger(&args),
        NotifyCommand::Template(TemplateCommand::Notify(args)) => run_template_notify(&args),
        NotifyCommand::App(args) => run_app(&args),
    }
}

fn read_all(paths: &[String]) -> Result<Vec<Object>, String> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(read_objects(p)?);
    }
    Ok(out)
}

fn source_of(o: &Object) -> String {
    o.origin().source.to_string()
}

fn read_alerts(paths: &[String]) -> Result<Vec<Alert>, String> {
    let mut alerts = Vec::new();
    let mut warnings = Vec::new();
    for o in read_all(paths)? {
        if let Some(a) = flux::read_alert(&source_of(&o), o.value(), &mut warnings).map_err(|e| e.to_string())? {
            alerts.push(a);
        }
    }
    for w in warnings {
        eprintln!("gitops: warning: {w}");
    }
    Ok(alerts)
}

fn read_event(path: &str) -> Result<Event, String> {
    let text =
        gitops_render::regular::read_to_string(std::path::Path::new(path)).map_err(|e| format!("{path}: {e}"))?;
    Event::parse(path, &text).map_err(|e| e.to_string())
}

/// Labels by the object's kind, namespace and name.
type LabelsByObject = BTreeMap<(String, String, String), BTreeMap<String, String>>;

/// The labels of live objects, by kind, namespace and name.
fn labels_of(paths: &[String]) -> Result<LabelsByObject, String> {
    let mut out = BTreeMap::new();
    for o in read_all(paths)? {
        let labels = o
            .value()
            .pointer("/metadata/labels")
            .and_then(|l| l.as_object())
            .map(|l| l.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        out.insert((o.kind().to_string(), o.namespace().to_string(), o.name().to_string()), labels);
    }
    Ok(out)
}

fn route(alerts: &[Alert], event: &Event, objects: &[String]) -> Result<Vec<usize>, String> {
    let labels = labels_of(objects)?;
    let lookup = |o: &InvolvedObject| labels.get(&(o.kind.clone(), o.namespace.clone(), o.name.clone())).cloned();
    let routing = flux::route(alerts, event, &lookup);
    for w in &routing.warnings {
        eprintln!("gitops: warning: {w}");
    }
    Ok(routing.alerts)
}

fn run_match(args: &MatchArgs) -> Result<ExitCode, String> {
    let alerts = read_alerts(&args.alerts)?;
    let event = read_event(&args.event)?;
    let matched = route(&alerts, &event, &args.objects)?;
    let mut ids: Vec<String> = matched.iter().map(|&i| alerts[i].id()).collect();
    ids.sort();
    ids.dedup();
    let mut out = std::io::stdout().lock();
    for id in ids {
        writeln!(out, "{id}").map_err(|e| format!("writing output: {e}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_send(args: &SendArgs) -> Result<ExitCode, String> {
    let alerts = read_alerts(&args.alerts)?;
    let event = read_event(&args.event)?;
    let mut providers: Vec<Provider> = Vec::new();
    for o in read_all(&args.providers)? {
        if let Some(p) = flux::read_provider(&source_of(&o), o.value()).map_err(|e| e.to_string())? {
            providers.push(p);
        }
    }
    let mut secrets = Vec::new();
    for o in read_all(&args.secrets)? {
        if o.kind() == "Secret" && o.group().is_empty() {
            secrets.push(Secret::from_value(&source_of(&o), o.value()).map_err(|e| e.to_string())?);
        }
    }
    let matched = route(&alerts, &event, &args.objects)?;
    let mut out = std::io::stdout().lock();
    if matched.is_empty() {
        writeln!(out, "no Alert takes the event").map_err(|e| format!("writing output: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let sender =
        Sender { retries: args.retries, backoff: Duration::from_millis(args.retry_wait_ms), ..Sender::default() };
    let failed = deliver(&alerts, &providers, &secrets, &event, &matched, &sender, &mut out)?;
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Sends `event` through each Alert of `matched` to its Provider, a line each on `out`;
/// whether any failed. A Provider missing from `providers` is an error (bad input).
fn deliver(
    alerts: &[Alert],
    providers: &[Provider],
    secrets: &[Secret],
    event: &Event,
    matched: &[usize],
    sender: &Sender,
    out: &mut dyn Write,
) -> Result<bool, String> {
    let w = |e: std::io::Error| format!("writing output: {e}");
    let mut failed = false;
    for &i in matched {
        let alert = &alerts[i];
        let Some(provider) = providers.iter().find(|p| p.name == alert.provider && p.namespace == alert.namespace)
        else {
            return Err(format!(
                "Alert {}: Provider {}/{} is not among the providers given (--providers)",
                alert.id(),
                alert.namespace,
                alert.provider
            ));
        };
        if provider.suspend {
            writeln!(out, "{}: Provider {} is suspended: nothing sent", alert.id(), provider.id()).map_err(w)?;
            continue;
        }
        let config = flux::resolve(provider, secrets).map_err(|e| e.to_string())?;
        let timeout = match &provider.timeout {
            Some(t) => gitops_core::quantity::go_duration_nanos(t)
                .and_then(|n| u64::try_from(n).ok())
                .map(Duration::from_nanos)
                .ok_or_else(|| format!("Provider {}: spec.timeout {t:?} is not a duration (20s, 1m)", provider.id()))?,
            None => Duration::from_secs(20),
        };
        let (metadata, warnings) = flux::notification_metadata(event, alert);
        for warning in warnings {
            eprintln!("gitops: warning: {warning}");
        }
        let notification = Event { metadata, ..event.clone() };
        let delivery = match payload::build(&config, &notification) {
            Ok(d) => d,
            Err(e) => {
                writeln!(out, "{}: {}: failed: {e}", alert.id(), provider.id()).map_err(w)?;
                failed = true;
                continue;
            }
        };
        let sender = Sender { timeout, ..sender.clone() };
        match sender.deliver(&config, &delivery) {
            Ok(done) => match done.skipped {
                Some(why) => writeln!(out, "{}: {}: nothing sent: {why}", alert.id(), provider.id()).map_err(w)?,
                None => writeln!(out, "{}: {}: sent ({})", alert.id(), provider.id(), done.requests.join(", "))
                    .map_err(w)?,
            },
            Err(e) => {
                writeln!(out, "{}: {}: failed: {e}", alert.id(), provider.id()).map_err(w)?;
                failed = true;
            }
        }
    }
    Ok(failed)
}

/// Notifications from the controller (`gitops reconcile|watch --notify DIR`): after each pass of
/// a Flux Kustomization, the event kustomize-controller would emit, routed through the Alerts
/// of DIR to their Providers (Secrets from DIR); identical events within Flux's 5 minute window
/// are sent once. A failing provider is a warning line: it never stops a reconcile.
pub(crate) struct Notifier {
    alerts: Vec<Alert>,
    providers: Vec<Provider>,
    secrets: Vec<Secret>,
    limiter: flux::RateLimiter,
    sender: Sender,
    /// `argocd-notifications-cm` (and `-secret`) of DIR, for Argo CD Applications, and the
    /// sender of their services.
    argo: Option<(argo::Config, BTreeMap<String, String>, Sender)>,
    /// Where each Application's notified state is kept: `DIR/.notified/<namespace>_<name>.json`.
    state_dir: std::path::PathBuf,
}

impl Notifier {
    /// Reads the Alerts, Providers and Secrets of the files under `dir`.
    pub(crate) fn load(dir: &str) -> Result<Notifier, String> {
        let mut objects = Vec::new();
        gitops_render::for_each_object(dir, |o| {
            objects.push(o);
            Ok(())
        })
        .map_err(|e| format!("--notify {dir}: {e}"))?;
        let (mut alerts, mut providers, mut secrets) = (Vec::new(), Vec::new(), Vec::new());
        for o in &objects {
            let from = source_of(o);
            if o.group() == "notification.toolkit.fluxcd.io" && o.kind() == "Alert" {
                let mut warnings = Vec::new();
                if let Some(a) = flux::read_alert(&from, o.value(), &mut warnings).map_err(|e| e.to_string())? {
                    alerts.push(a);
                }
                for w in warnings {
                    eprintln!("gitops: warning: {w}");
                }
            } else if o.group() == "notification.toolkit.fluxcd.io" && o.kind() == "Provider" {
                if let Some(p) = flux::read_provider(&from, o.value()).map_err(|e| e.to_string())? {
                    providers.push(p);
                }
            } else if o.group().is_empty() && o.kind() == "Secret" {
                secrets.push(Secret::from_value(&from, o.value()).map_err(|e| e.to_string())?);
            }
        }
        let argo = match objects.iter().find(|o| o.kind() == "ConfigMap" && o.name() == "argocd-notifications-cm") {
            None => None,
            Some(cm) => {
                let config = argo::Config::from_config_map(&source_of(cm), cm.value()).map_err(|e| e.to_string())?;
                let values = secrets
                    .iter()
                    .find(|s| s.name == "argocd-notifications-secret")
                    .map(|s| s.data.clone().into_iter().collect())
                    .unwrap_or_default();
                Some((config, values, argo_sender()?))
            }
        };
        Ok(Notifier {
            alerts,
            providers,
            secrets,
            limiter: flux::RateLimiter::new(300.0),
            sender: Sender::default(),
            argo,
            state_dir: std::path::Path::new(dir).join(".notified"),
        })
    }

    /// An Argo CD Application after a pass: its subscribed triggers over the app with the
    /// status the pass left, what is due sent, the notified state kept in DIR.
    fn after_application_pass(
        &mut self,
        object: &Object,
        status: &gitops_core::sync::status::Status,
        out: &mut dyn Write,
    ) {
        let Some((config, secrets, sender)) = &self.argo else { return };
        let mut app = object.value().clone();
        app["status"] = gitops_core::fleet::status::application_status(status);
        let annotations: BTreeMap<String, String> = app
            .pointer("/metadata/annotations")
            .and_then(|a| a.as_object())
            .map(|a| a.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let labels = app.pointer("/metadata/labels").cloned().unwrap_or(serde_json::Value::Null);
        let dests = argo::destinations(config, &annotations, &labels);
        if dests.is_empty() {
            return;
        }
        let namespace = if object.namespace().is_empty() { "argocd" } else { object.namespace() };
        let path = self.state_dir.join(format!("{namespace}_{}.json", object.name()));
        let mut state = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .map(argo::NotifiedState)
            .unwrap_or_else(|| argo::NotifiedState::parse(None));
        let threads_path = self.state_dir.join("slack-threads.json");
        let mut threads = read_threads(&threads_path).unwrap_or_else(|e| {
            let _ = writeln!(out, "notify: warning: {e} (starting new Slack threads)");
            Threads::new()
        });
        let mut lines: Vec<u8> = Vec::new();
        let result = send_due(config, secrets, sender, &mut threads, &app, &dests, &mut state, &mut lines);
        for line in String::from_utf8_lossy(&lines).lines() {
            let _ = writeln!(out, "notify: {line}");
        }
        if let Err(e) = result {
            let _ = writeln!(out, "notify: warning: {e}");
        }
        let text = format!("{}\n", state.to_annotation());
        let written = std::fs::create_dir_all(&self.state_dir)
            .and_then(|()| gitops_render::regular::write_atomic(&path, text.as_bytes()));
        if let Err(e) = written {
            let _ = writeln!(out, "notify: warning: keeping the notified state in {}: {e}", path.display());
        }
        if !threads.is_empty()
            && let Err(e) = write_threads(&threads_path, &threads)
        {
            let _ = writeln!(out, "notify: warning: keeping the Slack threads: {e}");
        }
    }

    /// After a pass of the app `object` that left `status`; `synced` when it applied something.
    pub(crate) fn after_pass(
        &mut self,
        object: &Object,
        status: &gitops_core::sync::status::Status,
        synced: bool,
        out: &mut dyn Write,
    ) {
        if object.group() == "argoproj.io" && object.kind() == "Application" {
            return self.after_application_pass(object, status, out);
        }
        if object.group() != "kustomize.toolkit.fluxcd.io" || object.kind() != "Kustomization" {
            return;
        }
        let Some(event) = kustomization_event(object, status, synced) else { return };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        if !self.limiter.admit(&event, now) {
            return;
        }
        let routing = flux::route(&self.alerts, &event, &|_| None);
        for w in &routing.warnings {
            let _ = writeln!(out, "notify: warning: {w}");
        }
        if routing.alerts.is_empty() {
            return;
        }
        let mut lines: Vec<u8> = Vec::new();
        let result =
            deliver(&self.alerts, &self.providers, &self.secrets, &event, &routing.alerts, &self.sender, &mut lines);
        for line in String::from_utf8_lossy(&lines).lines() {
            let _ = writeln!(out, "notify: {line}");
        }
        if let Err(e) = result {
            let _ = writeln!(out, "notify: warning: {e}");
        }
    }
}

/// The event kustomize-controller emits after a pass: `ReconciliationFailed` (error) when the
/// pass failed or left the app out of sync, `HealthCheckFailed` (error) when it is degraded,
/// `DependencyNotReady` (info) when it waits for one, `ReconciliationSucceeded` (info) when it
/// applied something; nothing for a pass that found nothing to do.
fn kustomization_event(object: &Object, status: &gitops_core::sync::status::Status, synced: bool) -> Option<Event> {
    use gitops_core::sync::status::{HealthStatus, SyncStatus};
    let failed = status.last_operation.as_ref().is_some_and(|o| !o.succeeded());
    let (severity, reason) = if status.message.contains("dependency") && status.message.contains("not ready") {
        ("info", "DependencyNotReady")
    } else if failed || (synced && status.sync != SyncStatus::Synced) {
        ("error", "ReconciliationFailed")
    } else if status.health.status == HealthStatus::Degraded {
        ("error", "HealthCheckFailed")
    } else if synced {
        ("info", "ReconciliationSucceeded")
    } else {
        return None;
    };
    let message = match &status.last_operation {
        Some(op) if failed && !op.message.is_empty() => op.message.clone(),
        _ if status.health.status == HealthStatus::Degraded && !status.health.message.is_empty() => {
            status.health.message.clone()
        }
        _ => status.message.clone(),
    };
    let mut metadata = BTreeMap::new();
    metadata.insert("kustomize.toolkit.fluxcd.io/revision".to_string(), status.revision.clone());
    Some(Event {
        involved_object: InvolvedObject {
            kind: "Kustomization".into(),
            namespace: if object.namespace().is_empty() { "default".into() } else { object.namespace().into() },
            name: object.name().into(),
            uid: object.value().pointer("/metadata/uid").and_then(serde_json::Value::as_str).map(String::from),
            api_version: object.api_version().into(),
        },
        severity: severity.into(),
        timestamp: status.reconciled_at.clone(),
        message,
        reason: reason.into(),
        metadata,
        reporting_controller: "kustomize-controller".into(),
        reporting_instance: None,
    })
}

/// Evaluates the triggers `dests` subscribes the app to and sends what is due, a line each on
/// `out`, keeping `state`; how many were sent, and whether one failed (it is then forgotten, so
/// the next run tries again).
#[allow(clippy::too_many_arguments)]
fn send_due(
    config: &argo::Config,
    secrets: &BTreeMap<String, String>,
    sender: &Sender,
    threads: &mut Threads,
    app: &serde_json::Value,
    dests: &BTreeMap<String, std::collections::BTreeSet<argo::Destination>>,
    state: &mut argo::NotifiedState,
    out: &mut dyn Write,
) -> Result<(usize, bool), String> {
    let now = jiff::Timestamp::now();
    let env = gitops_core::expr::Env::new().with("app", app.clone()).at(now.as_nanosecond());
    let w = |e: std::io::Error| format!("writing output: {e}");
    let mut failed = false;
    let mut sent = 0;
    for (trigger, trigger_dests) in dests {
        let results = match argo::run_trigger(config, trigger, &env) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("gitops: warning: {e}");
                continue;
            }
        };
        for r in &results {
            if let Some(e) = &r.error {
                eprintln!("gitops: warning: {trigger}: {e}");
            }
        }
        for due in argo::plan_sends(trigger, &results, trigger_dests, state, now.as_second()) {
            let d = &due.destination;
            let line = match notify_one(config, secrets, sender, threads, app, &due.template, d) {
                Ok(line) => {
                    sent += 1;
                    line
                }
                Err(line) => {
                    failed = true;
                    state.forget(&due.key);
                    line
                }
            };
            writeln!(out, "{trigger}: {}: {}:{}: {line}", due.template, d.service, d.recipient).map_err(w)?;
        }
    }
    Ok((sent, failed))
}

/// The Application of `--app FILE`: the first Argo CD Application in the file.
fn read_app(file: &str) -> Result<serde_json::Value, String> {
    read_objects(file)?
        .into_iter()
        .find(|o| o.kind() == "Application" && o.group() == "argoproj.io")
        .map(|o| o.value().clone())
        .ok_or_else(|| format!("{file}: holds no Argo CD Application"))
}

/// `--config FILE`, or the catalog (triggers and templates).
fn read_notifications_config(file: Option<&str>) -> Result<argo::Config, String> {
    let Some(file) = file else { return Ok(argo::Config::catalog()) };
    let cm = read_objects(file)?
        .into_iter()
        .find(|o| o.kind() == "ConfigMap")
        .ok_or_else(|| format!("{file}: holds no ConfigMap (argocd-notifications-cm)"))?;
    argo::Config::from_config_map(file, cm.value()).map_err(|e| e.to_string())
}

fn run_trigger(args: &TriggerRunArgs) -> Result<ExitCode, String> {
    let app = read_app(&args.app)?;
    let config = read_notifications_config(args.config.as_deref())?;
    let now = jiff::Timestamp::now().as_nanosecond();
    let env = gitops_core::expr::Env::new().with("app", app).at(now);
    let results = argo::run_trigger(&config, &args.trigger, &env).map_err(|e| e.to_string())?;
    let conditions = &config.triggers[&args.trigger];
    let width = conditions.iter().map(|c| c.when.len()).max().unwrap_or(0).max("CONDITION".len());
    let mut out = std::io::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    writeln!(out, "{:width$}  RESULT", "CONDITION").map_err(w)?;
    for (c, r) in conditions.iter().zip(&results) {
        if let Some(e) = &r.error {
            eprintln!("gitops: warning: {}: {e}", args.trigger);
        }
        writeln!(out, "{:width$}  {}", c.when, r.triggered).map_err(w)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The sender of Argo CD services: two retries, and the CA certificates of `SSL_CERT_FILE`
/// (when set) trusted instead of the bundled Mozilla roots, as Go (Argo CD's controller) reads
/// that variable for its system roots.
fn argo_sender() -> Result<Sender, String> {
    let ca_pem = match std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        None => None,
        Some(file) => {
            let file = std::path::PathBuf::from(file);
            let pem = gitops_render::regular::read_to_string(&file)
                .map_err(|e| format!("SSL_CERT_FILE={}: {e}", file.display()))?;
            Some(pem.into())
        }
    };
    Ok(Sender { retries: 2, backoff: Duration::from_millis(500), ca_pem, ..Sender::default() })
}

/// The configuration and secret of `--config`, `--catalog` and `--secret`.
fn read_argo(args: &ArgoConfigArgs) -> Result<(argo::Config, BTreeMap<String, String>), String> {
    let mut config = read_notifications_config(args.config.as_deref())?;
    if args.catalog && args.config.is_some() {
        config = config.over_catalog();
    }
    let mut secrets = BTreeMap::new();
    if let Some(file) = &args.secret {
        let secret = read_objects(file)?
            .into_iter()
            .find(|o| o.kind() == "Secret" && o.group().is_empty())
            .ok_or_else(|| format!("{file}: holds no Secret (argocd-notifications-secret)"))?;
        let secret = Secret::from_value(file, secret.value()).map_err(|e| e.to_string())?;
        secrets = secret.data.into_iter().collect();
    }
    Ok((config, secrets))
}

/// One notification: `template` rendered for `dest` and sent. Errors are the line to print.
fn notify_one(
    config: &argo::Config,
    secrets: &BTreeMap<String, String>,
    sender: &Sender,
    threads: &mut Threads,
    app: &serde_json::Value,
    template: &str,
    dest: &argo::Destination,
) -> Result<String, String> {
    let Some(t) = config.templates.get(template) else {
        return Err(format!("template '{template}' is not configured"));
    };
    let Some((kind, options)) = config.services.get(&dest.service) else {
        return Err(format!("service '{}' is not configured (service.<type>[.<name>] in the ConfigMap)", dest.service));
    };
    let data = argo::template::data(app, &config.context, secrets, &dest.service);
    let rendered = argo::template::render(template, t, kind, &dest.service, &data).map_err(|e| e.to_string())?;
    let options = argo::service::resolve_secrets(options, secrets);
    let outgoing =
        argo::service::build(kind, &dest.service, &options, &rendered, &dest.recipient).map_err(|e| e.to_string())?;
    let masked: Vec<String> = secrets.values().cloned().collect();
    let now = jiff::Timestamp::now().as_second();
    let sent = sender.send_argo(&outgoing, &masked, now, threads.entry(dest.service.clone()).or_default());
    // Only services with threads are kept.
    threads.retain(|_, t| *t != argo::service::SlackThreads::default());
    match sent {
        Ok(done) => Ok(format!("sent ({})", done.requests.join(", "))),
        Err(e) => Err(format!("failed: {e}")),
    }
}

fn parse_recipient(text: &str) -> Result<argo::Destination, String> {
    let (service, recipient) =
        text.split_once(':').ok_or_else(|| format!("--recipient {text:?}: SERVICE:DESTINATION is expected"))?;
    Ok(argo::Destination { service: service.trim().to_string(), recipient: recipient.trim().to_string() })
}

fn run_template_notify(args: &TemplateNotifyArgs) -> Result<ExitCode, String> {
    let app = read_app(&args.app)?;
    let (config, secrets) = read_argo(&args.config)?;
    if !config.templates.contains_key(&args.template) {
        return Err(format!("template '{}' is not configured", args.template));
    }
    let dests = args.recipient.iter().map(|r| parse_recipient(r)).collect::<Result<Vec<_>, _>>()?;
    for d in &dests {
        if !config.services.contains_key(&d.service) {
            return Err(format!(
                "service '{}' is not configured (service.<type>[.<name>] in the ConfigMap)",
                d.service
            ));
        }
    }
    let sender = argo_sender()?;
    let threads_path = args.config.slack_threads.as_deref().map(std::path::Path::new);
    let mut threads = threads_path.map(read_threads).transpose()?.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let w = |e: std::io::Error| format!("writing output: {e}");
    let mut failed = false;
    for d in &dests {
        let line = notify_one(&config, &secrets, &sender, &mut threads, &app, &args.template, d).unwrap_or_else(|e| {
            failed = true;
            e
        });
        writeln!(out, "{}: {}:{}: {line}", args.template, d.service, d.recipient).map_err(w)?;
    }
    if let Some(p) = threads_path {
        write_threads(p, &threads)?;
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn run_app(args: &AppArgs) -> Result<ExitCode, String> {
    let objects = read_objects(&args.app)?;
    let app = objects
        .iter()
        .find(|o| o.kind() == "Application" && o.group() == "argoproj.io")
        .map(|o| o.value().clone())
        .ok_or_else(|| format!("{}: holds no Argo CD Application", args.app))?;
    let (config, secrets) = read_argo(&args.config)?;
    let strings = |v: Option<&serde_json::Value>| -> BTreeMap<String, String> {
        v.and_then(|a| a.as_object())
            .map(|a| a.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default()
    };
    // The AppProject's subscriptions apply to its apps; the app's own win.
    let project = app.pointer("/spec/project").and_then(|p| p.as_str()).unwrap_or("default");
    let mut annotations: BTreeMap<String, String> = objects
        .iter()
        .find(|o| o.kind() == "AppProject" && o.name() == project)
        .map(|p| strings(p.value().pointer("/metadata/annotations")))
        .unwrap_or_default();
    annotations.extend(strings(app.pointer("/metadata/annotations")));
    let labels = app.pointer("/metadata/labels").cloned().unwrap_or(serde_json::Value::Null);
    let dests = argo::destinations(&config, &annotations, &labels);

    let state_path = args.state.as_deref().map(std::path::Path::new);
    let mut state = match state_path.filter(|p| p.exists()) {
        Some(p) => {
            let text = gitops_render::regular::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let map = serde_json::from_str(&text).map_err(|e| {
                format!("{}: not the notified state (a JSON map of key to Unix time): {e}", p.display())
            })?;
            argo::NotifiedState(map)
        }
        None => argo::NotifiedState::parse(annotations.get(argo::NOTIFIED_ANNOTATION).map(String::as_str)),
    };
    let sender = argo_sender()?;
    let threads_path = args.config.slack_threads.as_deref().map(std::path::Path::new);
    let mut threads = threads_path.map(read_threads).transpose()?.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let (sent, failed) = send_due(&config, &secrets, &sender, &mut threads, &app, &dests, &mut state, &mut out)?;
    if sent == 0 && !failed {
        writeln!(out, "nothing to send").map_err(|e| format!("writing output: {e}"))?;
    }
    match state_path {
        Some(p) => gitops_render::regular::write_atomic(p, format!("{}\n", state.to_annotation()).as_bytes())
            .map_err(|e| format!("{}: {e}", p.display()))?,
        None => eprintln!("gitops: note: the notified state is not kept (no --state): {}", state.to_annotation()),
    }
    if let Some(p) = threads_path {
        write_threads(p, &threads)?;
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
