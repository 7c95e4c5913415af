//! `gitops notify match|send`: Flux Alerts routing events, and every provider sending to a
//! receiver on 127.0.0.1 that records each request (method, path, headers, body).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{err, gitops, out};

/// One request a receiver saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// An HTTP receiver on 127.0.0.1: answers each request with `answer` (status, JSON body),
/// one request per connection; a proxy's `CONNECT` is accepted and the tunnelled request read.
pub struct Receiver {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    pub fn start(answer: impl Fn(&Seen, usize) -> (u16, Value) + Send + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let Some(mut request) = read_request(&mut reader) else { continue };
                if request.method == "CONNECT" {
                    let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    let tunnel = request.target.clone();
                    let Some(inner) = read_request(&mut reader) else { continue };
                    request = Seen { target: format!("{tunnel} {}", inner.target), ..inner };
                }
                let n = {
                    let mut all = record.lock().expect("lock");
                    all.push(request.clone());
                    all.len()
                };
                let (status, body) = answer(&request, n);
                let body = body.to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Receiver { base, seen }
    }

    pub fn ok() -> Receiver {
        Receiver::start(|_, _| (200, json!({"ok": true})))
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Seen> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Seen { method, target, headers, body })
}

pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8").to_string()
}

const ALERTS: &str = "\
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: errors, namespace: apps}
spec:
  providerRef: {name: hook}
  eventSeverity: error
  eventSources: [{kind: Kustomization, name: '*'}]
  exclusionList: ['DependencyNotReady', 'waiting.*socket']
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: all-web, namespace: apps}
spec:
  providerRef: {name: hook}
  eventSources: [{kind: Kustomization, name: web}, {kind: HelmRelease, name: '*', namespace: infra}]
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: team-a, namespace: apps}
spec:
  providerRef: {name: hook}
  eventSources: [{kind: Kustomization, name: '*', matchLabels: {team: a}}]
  inclusionList: ['succeeded']
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: paused, namespace: apps}
spec:
  suspend: true
  providerRef: {name: hook}
  eventSources: [{kind: Kustomization, name: '*'}]
";

fn event(kind: &str, ns: &str, name: &str, severity: &str, reason: &str, message: &str) -> String {
    let group = if kind == "HelmRelease" { "helm.toolkit.fluxcd.io/v2" } else { "kustomize.toolkit.fluxcd.io/v1" };
    format!(
        "involvedObject: {{kind: {kind}, namespace: {ns}, name: {name}, apiVersion: {group}}}\n\
         severity: {severity}\nreason: {reason}\nmessage: '{message}'\nreportingController: kustomize-controller\n\
         timestamp: '2026-08-01T10:00:00Z'\n\
         metadata:\n  kustomize.toolkit.fluxcd.io/revision: main@sha1:0123456789abcdef0123456789abcdef01234567\n"
    )
}

#[test]
fn match_prints_the_alerts_that_take_an_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alerts = write(dir.path(), "alerts.yaml", ALERTS);
    let objects = write(
        dir.path(),
        "live.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: web, namespace: apps, labels: {team: a}}\n",
    );
    let cases: &[(String, &[&str])] = &[
        (
            event("Kustomization", "apps", "web", "error", "HealthCheckFailed", "health check failed"),
            &["apps/all-web", "apps/errors"],
        ),
        (event("Kustomization", "apps", "api", "error", "DependencyNotReady", "dependency DependencyNotReady"), &[]),
        (
            event("Kustomization", "apps", "web", "info", "ReconciliationSucceeded", "Reconciliation succeeded"),
            &["apps/all-web", "apps/team-a"],
        ),
        (event("Kustomization", "apps", "api", "info", "ReconciliationSucceeded", "Reconciliation succeeded"), &[]),
        (event("HelmRelease", "infra", "redis", "info", "UpgradeSucceeded", "upgraded"), &["apps/all-web"]),
        (event("HelmRelease", "apps", "redis", "error", "UpgradeFailed", "failed"), &[]),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let e = write(dir.path(), &format!("event{i}.yaml"), text);
        let o = gitops(&["notify", "match", "--alerts", &alerts, "--event", &e, "--objects", &objects], None);
        assert_eq!(o.status.code(), Some(0), "{text}: {}", err(&o));
        let stdout = out(&o);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines, *want, "{text}: {}", err(&o));
    }
    // Without the live object, matchLabels cannot match: a warning, no line.
    let e = write(dir.path(), "e.yaml", &cases[2].0);
    let o = gitops(&["notify", "match", "--alerts", &alerts, "--event", &e], None);
    assert_eq!(out(&o), "apps/all-web\n");
    assert!(err(&o).contains("not found"), "{}", err(&o));
}

#[test]
fn match_refuses_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alerts = write(dir.path(), "alerts.yaml", ALERTS);
    let good = write(dir.path(), "e.yaml", &event("Kustomization", "apps", "web", "error", "X", "m"));
    let bad_event = write(dir.path(), "bad.yaml", "involvedObject: {kind: K, namespace: apps}\nseverity: info\n");
    let bad_alert = write(
        dir.path(),
        "bad-alert.yaml",
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: x}\nspec: {providerRef: {name: p}}\n",
    );
    for (args, needle) in [
        (vec!["--alerts", alerts.as_str(), "--event", bad_event.as_str()], "involvedObject.name"),
        (vec!["--alerts", bad_alert.as_str(), "--event", good.as_str()], "eventSources"),
        (vec!["--alerts", "/nonexistent.yaml", "--event", good.as_str()], "nonexistent"),
    ] {
        let mut all = vec!["notify", "match"];
        all.extend(args);
        let o = gitops(&all, None);
        assert_eq!(o.status.code(), Some(2), "{all:?}");
        assert!(err(&o).contains(needle), "{all:?}: {}", err(&o));
        assert_eq!(out(&o), "");
    }
}

/// `gitops notify send` of `event` through one Alert (on every Kustomization) to `provider`
/// (a Provider spec) with `secret` data: (exit code, stdout, stderr).
fn send(
    dir: &Path,
    provider: &str,
    secret: &[(&str, &str)],
    event_text: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let alerts = write(
        dir,
        "alert.yaml",
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: a, namespace: apps}\n\
         spec:\n  providerRef: {name: p}\n  summary: prod cluster\n  eventMetadata: {env: prod}\n  eventSources: [{kind: Kustomization, name: '*'}]\n",
    );
    let providers = write(
        dir,
        "provider.yaml",
        &format!(
            "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {{name: p, namespace: apps, uid: 8a2f-77}}\nspec:\n{provider}\n  secretRef: {{name: s}}\n"
        ),
    );
    let data: serde_json::Map<String, Value> = secret.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let secrets = write(
        dir,
        "secret.yaml",
        &serde_json::to_string(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "apps"}, "stringData": data}))
            .expect("json"),
    );
    let e = write(dir, "event.yaml", event_text);
    let mut args = vec![
        "notify",
        "send",
        "--alerts",
        &alerts,
        "--providers",
        &providers,
        "--secrets",
        &secrets,
        "--event",
        &e,
        "--retry-wait-ms",
        "10",
    ];
    args.extend(extra);
    let o = gitops(&args, None);
    (o.status.code().unwrap_or(-1), out(&o), err(&o))
}

fn failure() -> String {
    event("Kustomization", "apps", "web", "error", "HealthCheckFailed", "health check failed")
}

#[test]
fn generic_and_generic_hmac_post_the_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Receiver::ok();
    let (code, stdout, stderr) = send(
        dir.path(),
        &format!("  type: generic-hmac\n  address: {}/hook", r.base),
        &[("token", "s3cret"), ("headers", "X-Team: ops\nAuthorization: Bearer abc\n")],
        &failure(),
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("apps/a: apps/p: sent (POST"), "{stdout}");
    let seen = r.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!((s.method.as_str(), s.target.as_str()), ("POST", "/hook"));
    assert_eq!(s.headers["gotk-component"], "kustomize-controller");
    assert_eq!(s.headers["x-team"], "ops");
    assert_eq!(s.headers["authorization"], "Bearer abc");
    let body = s.json();
    assert_eq!(body["involvedObject"]["name"], "web");
    assert_eq!(body["reason"], "HealthCheckFailed");
    // The notification's metadata: the group prefix dropped, the alert's metadata and summary in.
    assert_eq!(
        body["metadata"],
        json!({"env": "prod", "revision": "main@sha1:0123456789abcdef0123456789abcdef01234567", "summary": "prod cluster"})
    );
    // The signature, checked with openssl over the exact bytes received.
    let file = dir.path().join("body");
    std::fs::write(&file, &s.body).expect("write");
    let o = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", "s3cret", "-r"])
        .arg(&file)
        .output()
        .expect("openssl");
    let hex = String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap_or("").to_string();
    assert_eq!(hex.len(), 64);
    assert_eq!(s.headers["x-signature"], format!("sha256={hex}"));
}

#[test]
fn slack_webhooks_and_bot_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Receiver::ok();
    let (code, stdout, _) = send(
        dir.path(),
        "  type: slack\n  channel: ops\n",
        &[("address", &format!("{}/services/T/B/X", hook.base))],
        &failure(),
        &[],
    );
    assert_eq!(code, 0, "{stdout}");
    let body = hook.seen()[0].json();
    assert_eq!(body["channel"], "ops");
    assert_eq!(body["username"], "kustomize-controller");
    let a = &body["attachments"][0];
    assert_eq!(a["color"], "danger");
    assert_eq!(a["author_name"], "kustomization/web.apps");
    assert_eq!(a["text"], "health check failed");
    assert_eq!(a["fields"].as_array().map(Vec::len), Some(3));
    assert!(!hook.seen()[0].headers.contains_key("authorization"));

    // The Web API with a bot token: `ok: false` is a failure, named.
    let api = Receiver::start(|s, _| {
        if s.headers.get("authorization").map(String::as_str) == Some("Bearer xoxb-1") {
            (200, json!({"ok": true}))
        } else {
            (200, json!({"ok": false, "error": "invalid_auth"}))
        }
    });
    let spec = format!("  type: slack\n  channel: ops\n  username: flux\n  address: {}/api/chat.postMessage", api.base);
    let (code, stdout, _) = send(dir.path(), &spec, &[("token", "xoxb-1")], &failure(), &[]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(api.seen()[0].json()["username"], "flux");
    let (code, stdout, _) = send(dir.path(), &spec, &[("token", "xoxb-wrong")], &failure(), &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Slack responded with error: invalid_auth"), "{stdout}");
    assert!(!stdout.contains("xoxb-wrong"));
}

#[test]
fn teams_discord_and_google_chat_payloads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Receiver::ok();
    for (spec, path) in [
        (format!("  type: msteams\n  address: {}/workflows/1", r.base), "/workflows/1"),
        (format!("  type: discord\n  address: {}/api/webhooks/1/tok", r.base), "/api/webhooks/1/tok/slack"),
        (
            format!("  type: googlechat\n  address: {}/v1/spaces/S/messages?key=k", r.base),
            "/v1/spaces/S/messages?key=k",
        ),
    ] {
        let (code, stdout, stderr) = send(dir.path(), &spec, &[], &failure(), &[]);
        assert_eq!(code, 0, "{spec}: {stdout}{stderr}");
        assert_eq!(r.seen().last().expect("a request").target, path);
    }
    let seen = r.seen();
    let teams = seen[0].json();
    let card = &teams["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["body"][0]["items"][0]["text"], "kustomization/web.apps");
    assert_eq!(card["body"][0]["items"][2]["facts"][0], json!({"title": "summary", "value": "prod cluster"}));
    let discord = seen[1].json();
    assert_eq!(discord["attachments"][0]["color"], "danger");
    let chat = seen[2].json();
    assert_eq!(chat["cards"][0]["header"]["title"], "kustomization/web.apps");
    assert_eq!(
        chat["cards"][0]["sections"][0]["widgets"][0]["textParagraph"]["text"],
        "<font color=\"#ff0000\">health check failed</font>"
    );
}

#[test]
fn commit_statuses_on_github_gitlab_and_gitea() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    // Each forge lists no status the first time, and the one just set afterwards.
    let r = Receiver::start(|s, _| {
        if s.method == "POST" {
            return (201, s.json());
        }
        (200, json!([]))
    });
    let cases = [
        ("github", "/api/v3/repos/org/app/statuses", "authorization", "Bearer ghp", "state", "failure", "context"),
        ("gitlab", "/api/v4/projects/org%2Fapp/statuses", "private-token", "ghp", "state", "failed", "name"),
        ("gitea", "/api/v1/repos/org/app/statuses", "authorization", "token ghp", "state", "failure", "context"),
    ];
    for (kind, path, header, value, state_key, state, context_key) in cases {
        let spec = format!("  type: {kind}\n  address: {}/org/app.git", r.base);
        let (code, stdout, stderr) = send(dir.path(), &spec, &[("token", "ghp")], &failure(), &[]);
        assert_eq!(code, 0, "{kind}: {stdout}{stderr}");
        let seen = r.seen();
        let (list, create) = (&seen[seen.len() - 2], &seen[seen.len() - 1]);
        assert_eq!(list.method, "GET", "{kind}");
        assert!(list.target.contains(sha), "{kind}: {}", list.target);
        assert_eq!(create.target, format!("{path}/{sha}"), "{kind}");
        assert_eq!(create.headers[header], value, "{kind}");
        let body = create.json();
        assert_eq!(body[state_key], state, "{kind}");
        assert_eq!(body[context_key], "kustomization/web/8a2f", "{kind}");
        assert_eq!(body["description"], "health check failed", "{kind}");
    }
    // Progressing events set no GitHub status.
    let before = r.seen().len();
    let progressing = event("Kustomization", "apps", "web", "info", "Progressing", "reconciling");
    let (code, stdout, _) = send(
        dir.path(),
        &format!("  type: github\n  address: {}/org/app", r.base),
        &[("token", "t")],
        &progressing,
        &[],
    );
    assert_eq!((code, r.seen().len()), (0, before), "{stdout}");
    assert!(stdout.contains("nothing sent"), "{stdout}");

    // A status already there is not set again.
    let there = Receiver::start(|s, _| {
        assert_eq!(s.method, "GET", "nothing is posted");
        (200, json!([{"context": "kustomization/web/8a2f", "state": "failure", "description": "health check failed"}]))
    });
    let (code, stdout, _) = send(
        dir.path(),
        &format!("  type: github\n  address: {}/org/app", there.base),
        &[("token", "t")],
        &failure(),
        &[],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("already failure"), "{stdout}");
    // A revision without a commit is named.
    let no_commit = failure().replace("main@sha1:0123456789abcdef0123456789abcdef01234567", "main@sha1:abc");
    let (code, stdout, _) = send(
        dir.path(),
        &format!("  type: gitlab\n  address: {}/org/app", there.base),
        &[("token", "t")],
        &no_commit,
        &[],
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("failed to extract commit hash from 'main@sha1:abc'"), "{stdout}");
}

#[test]
fn retries_with_backoff_then_gives_up_without_blocking_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two 503s, then 200.
    let flaky = Receiver::start(|_, n| if n <= 2 { (503, json!({})) } else { (200, json!({})) });
    let (code, stdout, _) =
        send(dir.path(), &format!("  type: generic\n  address: {}/h", flaky.base), &[], &failure(), &[]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(flaky.seen().len(), 3);
    // A 400 is not retried; the error names the status and body, the exit status is 1.
    let refusing = Receiver::start(|_, _| (400, json!({"error": "bad payload"})));
    let (code, stdout, _) =
        send(dir.path(), &format!("  type: generic\n  address: {}/h", refusing.base), &[], &failure(), &[]);
    assert_eq!((code, refusing.seen().len()), (1, 1), "{stdout}");
    assert!(stdout.contains("HTTP 400") && stdout.contains("bad payload"), "{stdout}");
    // Nothing listening: every retry made, then a failure (never a panic).
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let (code, stdout, stderr) = send(
        dir.path(),
        &format!("  type: generic\n  address: http://{closed}/h"),
        &[],
        &failure(),
        &["--retries", "2"],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("after 3 attempt(s)"), "{stdout}");
}

#[test]
fn a_proxy_carries_the_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = Receiver::ok();
    let spec = format!("  type: generic\n  address: http://notify.invalid:8080/hook\n  proxy: {}", proxy.base);
    let (code, stdout, stderr) = send(dir.path(), &spec, &[], &failure(), &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    // Through a CONNECT tunnel or in absolute form: either way the proxy saw the hook.
    assert!(
        seen[0].target.contains("notify.invalid:8080") && seen[0].target.ends_with("/hook"),
        "{:?}",
        seen[0].target
    );
    assert_eq!(seen[0].json()["involvedObject"]["name"], "web");
}

const APP: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  source: {repoURL: 'https://git.example/web.git', path: deploy}
  destination: {server: 'https://kubernetes.default.svc', namespace: web}
status:
  sync: {status: Synced, revision: 0123456789abcdef0123456789abcdef01234567}
  health: {status: HEALTH, lastTransitionTime: '2020-01-01T00:00:00Z'}
  operationState: {phase: PHASE, startedAt: '2020-01-01T00:00:00Z', finishedAt: '2020-01-01T00:01:00Z',
    syncResult: {revision: 0123456789abcdef0123456789abcdef01234567}}
";

#[test]
fn trigger_run_evaluates_catalog_and_configured_triggers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = |health: &str, phase: &str| {
        write(dir.path(), "app.yaml", &APP.replace("HEALTH", health).replace("PHASE", phase))
    };
    let run = |args: &[&str]| {
        let mut all = vec!["notify", "trigger", "run"];
        all.extend(args);
        let o = gitops(&all, None);
        (o.status.code().unwrap_or(-1), out(&o), err(&o))
    };
    let healthy = app("Healthy", "Succeeded");
    let (code, stdout, stderr) = run(&["on-sync-succeeded", "--app", &healthy]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("CONDITION") && lines[0].ends_with("RESULT"), "{stdout}");
    assert!(
        lines[1].starts_with("app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']")
    );
    assert!(lines[1].ends_with("  true"), "{stdout}");
    for (trigger, want) in [("on-deployed", "true"), ("on-health-degraded", "false"), ("on-sync-failed", "false")] {
        let (code, stdout, _) = run(&[trigger, "--app", &healthy]);
        assert_eq!(code, 0);
        assert!(stdout.lines().nth(1).expect("a condition").ends_with(want), "{trigger}: {stdout}");
    }
    let degraded = app("Degraded", "Failed");
    let (_, stdout, _) = run(&["on-health-degraded", "--app", &degraded]);
    assert!(stdout.lines().nth(1).expect("a condition").ends_with("true"), "{stdout}");

    // A configured trigger with the time helpers; a condition that errors is false and said.
    let cm = write(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-notifications-cm}\ndata:\n  trigger.on-stuck: |\n    \
         - when: app.status.health.status == 'Degraded' and time.Now().Sub(time.Parse(app.status.health.lastTransitionTime)).Minutes() >= 5\n      \
         send: [stuck]\n    - when: app.status.missing.deeper == 1\n      send: [never]\n",
    );
    let (code, stdout, stderr) = run(&["on-stuck", "--app", &degraded, "--config", &cm]);
    assert_eq!(code, 0, "{stderr}");
    let results: Vec<&str> = stdout.lines().skip(1).map(|l| l.rsplit(' ').next().unwrap_or("")).collect();
    assert_eq!(results, ["true", "false"], "{stdout}");
    assert!(stderr.contains("cannot fetch deeper from <nil>"), "{stderr}");
    // Unknown triggers and broken conditions are bad input.
    let (code, _, stderr) = run(&["on-nothing", "--app", &degraded, "--config", &cm]);
    assert_eq!(code, 2);
    assert!(stderr.contains("trigger 'on-nothing' is not configured"), "{stderr}");
    let broken = write(
        dir.path(),
        "broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  trigger.t: '- when: app =='\n",
    );
    let (code, _, stderr) = run(&["t", "--app", &degraded, "--config", &broken]);
    assert_eq!(code, 2);
    assert!(stderr.contains("trigger.t[0].when") && stderr.contains("syntax error"), "{stderr}");
}

/// The seed's Flux flow: an Alert on a Kustomization's errors to Slack. Info events are not
/// sent; an error event reaches the Slack webhook in the shape Flux posts.
#[test]
fn a_kustomizations_errors_reach_slack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let slack = Receiver::ok();
    let alerts = write(
        dir.path(),
        "alert.yaml",
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: web-errors, namespace: apps}\n\
         spec:\n  providerRef: {name: slack}\n  eventSeverity: error\n  eventSources: [{kind: Kustomization, name: web}]\n",
    );
    let providers = write(
        dir.path(),
        "provider.yaml",
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: slack, namespace: apps}\n\
         spec:\n  type: slack\n  channel: deploys\n  secretRef: {name: slack-url}\n",
    );
    let secrets = write(
        dir.path(),
        "secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: slack-url, namespace: apps}}\nstringData:\n  address: {}/services/T0/B0/x\n",
            slack.base
        ),
    );
    let send = |event_text: &str| {
        let e = write(dir.path(), "event.yaml", event_text);
        let o = gitops(
            &["notify", "send", "--alerts", &alerts, "--providers", &providers, "--secrets", &secrets, "--event", &e],
            None,
        );
        (o.status.code(), out(&o))
    };
    let (code, stdout) = send(&event(
        "Kustomization",
        "apps",
        "web",
        "info",
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:0123",
    ));
    assert_eq!((code, stdout.trim()), (Some(0), "no Alert takes the event"));
    assert!(slack.seen().is_empty());

    let (code, stdout) = send(&event(
        "Kustomization",
        "apps",
        "web",
        "error",
        "HealthCheckFailed",
        "health check failed after 5m: Deployment/apps/web not ready",
    ));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("apps/web-errors: apps/slack: sent"), "{stdout}");
    let seen = slack.seen();
    assert_eq!((seen.len(), seen[0].target.as_str()), (1, "/services/T0/B0/x"));
    let body = seen[0].json();
    assert_eq!(body["channel"], "deploys");
    assert_eq!(body["username"], "kustomize-controller");
    let a = &body["attachments"][0];
    assert_eq!(a["color"], "danger");
    assert_eq!(a["author_name"], "kustomization/web.apps");
    assert_eq!(a["text"], "health check failed after 5m: Deployment/apps/web not ready");
    assert_eq!(a["fields"][0]["title"], "revision");
    assert_eq!(a["fields"][0]["value"], "main@sha1:0123456789abcdef0123456789abcdef01234567");
}

/// The controller notifies: `gitops reconcile --notify DIR` sends the event kustomize-controller
/// emits after each pass through DIR's Alerts, so a Kustomization that fails to apply reaches
/// Slack with its error, and one that succeeds reaches an info Alert once (identical events are
/// rate-limited; a pass with nothing to apply sends nothing).
#[test]
fn reconcile_sends_the_kustomizations_events_through_the_alerts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let slack = Receiver::ok();
    let repo = one_file_repo(
        dir.path(),
        "apps/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: apps}\ndata: {a: b}\n",
    );
    let git = |args: &[&str]| crate::git_in(&repo, args);
    let app = dir.path().join("ks.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: repo, namespace: flux-system}}\nspec: {{url: '{}', ref: {{branch: main}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: web, namespace: flux-system}}\nspec: {{path: ./apps, prune: true, sourceRef: {{kind: GitRepository, name: repo}}}}\n",
            repo.display()
        ),
    )
    .unwrap();
    let notify = dir.path().join("notify");
    std::fs::create_dir_all(&notify).unwrap();
    write(
        &notify,
        "alerts.yaml",
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: all, namespace: flux-system}\nspec:\n  providerRef: {name: slack}\n  eventSources: [{kind: Kustomization, name: '*'}]\n",
    );
    write(
        &notify,
        "provider.yaml",
        &format!(
            "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {{name: slack, namespace: flux-system}}\nspec: {{type: slack, channel: deploys, address: '{}/services/T0/B0/x'}}\n",
            slack.base
        ),
    );
    let reconcile = || reconcile_notifying(dir.path(), &app, &notify);
    // The namespace is missing: the apply fails, and the error reaches Slack.
    let failed = reconcile();
    assert!(out(&failed).contains("notify: flux-system/all: flux-system/slack: sent"), "{}", out(&failed));
    let seen = slack.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let body = seen[0].json().to_string();
    assert!(body.contains("\"channel\":\"deploys\""), "{body}");
    assert!(body.contains("danger") && body.contains("namespace"), "{body}");
    // Fixed in Git: the success is sent once; the next pass has nothing to apply and is quiet.
    std::fs::write(repo.join("apps/ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "namespace"]);
    let fixed = reconcile();
    assert_eq!(fixed.status.code(), Some(0), "{}{}", out(&fixed), crate::err(&fixed));
    let quiet = reconcile();
    assert!(!out(&quiet).contains("notify:"), "{}", out(&quiet));
    let seen = slack.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let body = seen[1].json().to_string();
    assert!(body.contains("good"), "an info event: {body}");
}

/// The controller evaluates an Argo CD app's subscribed triggers after each pass, with the
/// status the pass left: a sync to a new revision is sent once (the notified state is kept under
/// DIR, so the next reconcile, another process, sends nothing); the Slack thread its message
/// started is kept there too.
#[test]
fn reconcile_runs_an_applications_triggers_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Receiver::ok();
    let slack = Receiver::start(|_, _| (200, json!({"ok": true, "channel": "C0PS", "ts": "1700000000.000001"})));
    let repo = one_file_repo(
        dir.path(),
        "deploy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n",
    );
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\n  annotations:\n    notifications.argoproj.io/subscribe.on-synced.hook: ''\n    notifications.argoproj.io/subscribe.on-synced.slack: ops\nspec:\n  destination: {{namespace: default}}\n  source: {{repoURL: 'file://{}', targetRevision: main, path: deploy}}\n  syncPolicy: {{automated: {{}}}}\n",
            repo.display()
        ),
    )
    .unwrap();
    let notify = dir.path().join("notify");
    std::fs::create_dir_all(&notify).unwrap();
    write(
        &notify,
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-notifications-cm}}\ndata:\n  service.webhook.hook: |\n    url: {}/events\n  service.slack: |\n    token: xoxb-1\n    apiURL: {}/api\n  trigger.on-synced: |\n    - when: app.status.sync.status == 'Synced'\n      oncePer: app.status.sync.revision\n      send: [synced]\n  template.synced: |\n    webhook:\n      hook:\n        method: POST\n        body: '{{{{.app.metadata.name}}}} {{{{.app.status.sync.status}}}}'\n    slack:\n      groupingKey: '{{{{.app.metadata.name}}}}'\n",
            hook.base, slack.base
        ),
    );
    let reconcile = || reconcile_notifying(dir.path(), &app, &notify);
    let first = reconcile();
    assert_eq!(first.status.code(), Some(0), "{}{}", out(&first), crate::err(&first));
    assert!(
        out(&first).contains("notify: on-synced: synced: webhook:hook: sent")
            || out(&first).contains("notify: on-synced: synced:"),
        "{}",
        out(&first)
    );
    let seen = hook.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(String::from_utf8_lossy(&seen[0].body), "web Synced");
    assert_eq!(slack.seen().len(), 1);
    let threads = std::fs::read_to_string(notify.join(".notified/slack-threads.json")).expect("the threads are kept");
    assert_eq!(
        serde_json::from_str::<Value>(&threads).expect("json"),
        json!({"slack": {"ThreadTSs": {"ops": {"web": "1700000000.000001"}}, "ChannelIDs": {"ops": "C0PS"}}})
    );
    let second = reconcile();
    assert!(!out(&second).contains("notify:"), "{}", out(&second));
    assert_eq!((hook.seen().len(), slack.seen().len()), (1, 1), "not sent again");
}

/// A Git repository under `dir/repo` with one file committed on main.
fn one_file_repo(dir: &Path, file: &str, text: &str) -> std::path::PathBuf {
    let repo = dir.join("repo");
    let path = repo.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    crate::git_in(&repo, &["init", "--quiet"]);
    crate::git_in(&repo, &["add", "."]);
    crate::git_in(&repo, &["commit", "--quiet", "-m", "one"]);
    repo
}

/// `gitops reconcile --app APP --target dir:DIR/cluster --notify NOTIFY`, cached in DIR/cache.
fn reconcile_notifying(dir: &Path, app: &Path, notify: &Path) -> std::process::Output {
    let target = format!("dir:{}", dir.join("cluster").display());
    crate::gitops_env(
        &["reconcile", "--app", app.to_str().unwrap(), "--target", &target, "--notify", notify.to_str().unwrap()],
        None,
        &[("GITOPS_CACHE", dir.join("cache").to_str().unwrap())],
    )
}
