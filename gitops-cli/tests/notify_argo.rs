//! Argo CD notifications from the CLI: `gitops notify app` (subscriptions, triggers, the
//! notified state kept in a file) and `gitops notify template notify` to every service, each
//! against a receiver on 127.0.0.1 that records what it got. Email goes to an SMTP listener
//! written here (it speaks just enough SMTP and records MAIL FROM, RCPT TO and DATA).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::notify::{Receiver, Seen, write};
use crate::{err, gitops, out};

/// An Application: `phase` of the last operation, `health`, subscription annotations.
fn app(phase: &str, health: &str, annotations: &[(&str, &str)]) -> String {
    let annotations: serde_json::Map<String, Value> =
        annotations.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let app = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "argocd", "annotations": annotations},
        "spec": {"project": "default", "source": {"repoURL": "https://github.com/acme/web.git", "path": "deploy"}},
        "status": {
            "sync": {"status": "Synced", "revision": "0123abc"},
            "health": {"status": health},
            "operationState": {"phase": phase, "finishedAt": "2024-05-01T10:00:00Z", "syncResult": {"revision": "0123abc"}},
        },
    });
    serde_json::to_string_pretty(&app).expect("json")
}

/// `notify template notify TEMPLATE` over `app("Succeeded", health)` with `--config CM` and
/// `more` arguments (recipients, `--secret`, ...).
pub fn template_notify(dir: &std::path::Path, template: &str, health: &str, cm: &str, more: &[&str]) -> Output {
    template_notify_env(dir, template, health, cm, more, &[])
}

/// [`template_notify`] with `env` set.
pub fn template_notify_env(
    dir: &std::path::Path,
    template: &str,
    health: &str,
    cm: &str,
    more: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let app_file = write(dir, "app.json", &app("Succeeded", health, &[]));
    let mut args = vec!["notify", "template", "notify", template, "--app", &app_file, "--config", cm];
    args.extend(more);
    crate::gitops_env(&args, None, env)
}

/// The form fields of a Slack Web API call.
fn form(seen: &Seen) -> std::collections::BTreeMap<String, String> {
    let text = String::from_utf8_lossy(&seen.body).to_string();
    text.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            let mut bytes = Vec::new();
            let mut it = v.bytes();
            while let Some(b) = it.next() {
                if b == b'%' {
                    let hex: String =
                        [it.next().unwrap_or(b'0') as char, it.next().unwrap_or(b'0') as char].iter().collect();
                    bytes.push(u8::from_str_radix(&hex, 16).unwrap_or(0));
                } else {
                    bytes.push(b);
                }
            }
            (k.to_string(), String::from_utf8_lossy(&bytes).to_string())
        })
        .collect()
}

#[test]
fn an_app_notifies_on_sync_success_and_degraded_health_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let slack = Receiver::start(|s, _| {
        let authorized = s.headers.get("authorization").map(String::as_str) == Some("Bearer xoxb-1");
        (200, if authorized { json!({"ok": true}) } else { json!({"ok": false, "error": "invalid_auth"}) })
    });
    let hook = Receiver::ok();
    let cm = write(
        dir.path(),
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-notifications-cm}}\ndata:\n  context: |\n    argocdUrl: https://cd.example.com\n  service.slack: |\n    token: $slack-token\n    username: argocd\n    apiURL: {}/api/\n  service.webhook.hook: |\n    url: {}/events\n    headers:\n    - name: X-Token\n      value: $hook-token\n  template.app-health-degraded: |\n    message: '{{{{.app.metadata.name}}}} is {{{{.app.status.health.status}}}}'\n    webhook:\n      hook:\n        method: POST\n        path: /apps/{{{{.app.metadata.name}}}}\n        body: '{{\"app\": \"{{{{.app.metadata.name}}}}\", \"health\": \"{{{{.app.status.health.status}}}}\"}}'\n",
            slack.base, hook.base
        ),
    );
    let secret = write(
        dir.path(),
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: argocd-notifications-secret}\nstringData:\n  slack-token: xoxb-1\n  hook-token: h00k\n",
    );
    let subscriptions = [
        ("notifications.argoproj.io/subscribe.on-sync-succeeded.slack", "ops"),
        ("notifications.argoproj.io/subscribe.on-health-degraded.hook", ""),
    ];
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().expect("utf-8");
    let run = |phase: &str, health: &str| {
        let app_file = write(dir.path(), "app.json", &app(phase, health, &subscriptions));
        let o = gitops(
            &["notify", "app", &app_file, "--config", &cm, "--catalog", "--secret", &secret, "--state", state_arg],
            None,
        );
        (o.status.code(), out(&o), err(&o))
    };

    // First run: both triggers hold, both are sent.
    let (code, stdout, stderr) = run("Succeeded", "Degraded");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("on-sync-succeeded: app-sync-succeeded: slack:ops: sent"), "{stdout}");
    assert!(stdout.contains("on-health-degraded: app-health-degraded: hook:: sent"), "{stdout}");
    assert!(!stdout.contains("xoxb-1") && !stdout.contains("h00k"), "secrets stay out: {stdout}");
    let posted = slack.seen();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].target, "/api/chat.postMessage");
    let f = form(&posted[0]);
    assert_eq!(f["channel"], "ops");
    assert_eq!(f["username"], "argocd");
    assert!(
        f["text"].starts_with(
            ":white_check_mark: Application web has been successfully synced at 2024-05-01T10:00:00Z.\nSync operation details are available at: https://cd.example.com/applications/web?operation=true"
        ),
        "{:?}",
        f["text"]
    );
    let attachments: Value = serde_json::from_str(&f["attachments"]).expect("attachments are JSON");
    assert_eq!(attachments[0]["title_link"], "https://cd.example.com/applications/web");
    assert_eq!(attachments[0]["fields"][1]["value"], ":arrow_heading_up: https://github.com/acme/web.git");
    let hooked = hook.seen();
    assert_eq!(hooked.len(), 1);
    assert_eq!((hooked[0].method.as_str(), hooked[0].target.as_str()), ("POST", "/events/apps/web"));
    assert_eq!(hooked[0].headers["x-token"], "h00k");
    assert_eq!(hooked[0].json(), json!({"app": "web", "health": "Degraded"}));
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    assert_eq!(recorded.as_object().map(|m| m.len()), Some(2), "{recorded}");

    // Second run, nothing changed: nothing is sent.
    let (code, stdout, _) = run("Succeeded", "Degraded");
    assert_eq!((code, stdout.trim()), (Some(0), "nothing to send"));
    assert_eq!((slack.seen().len(), hook.seen().len()), (1, 1));

    // Healthy: the degraded entry is forgotten; degraded again: it fires again.
    let (code, stdout, _) = run("Succeeded", "Healthy");
    assert_eq!((code, stdout.trim()), (Some(0), "nothing to send"));
    let (code, stdout, _) = run("Succeeded", "Degraded");
    assert_eq!(code, Some(0));
    assert!(stdout.contains("on-health-degraded: app-health-degraded: hook:: sent"), "{stdout}");
    assert!(!stdout.contains("on-sync-succeeded"), "{stdout}");
    assert_eq!((slack.seen().len(), hook.seen().len()), (1, 2));
}

#[test]
fn a_failed_notification_is_retried_by_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Receiver::start(|_, n| if n == 1 { (400, json!({"error": "no"})) } else { (200, json!({})) });
    let cm = write(
        dir.path(),
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\ndata:\n  service.webhook.hook: |\n    url: {}\n",
            hook.base
        ),
    );
    let app_file = write(
        dir.path(),
        "app.json",
        &app("Failed", "Healthy", &[("notifications.argoproj.io/subscribe.on-sync-failed.hook", "")]),
    );
    let state = dir.path().join("state.json");
    let args = ["notify", "app", &app_file, "--config", &cm, "--catalog", "--state", state.to_str().expect("utf-8")];
    let o = gitops(&args, None);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("HTTP 400"), "{}", out(&o));
    let o = gitops(&args, None);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("on-sync-failed: app-sync-failed: hook:: sent"), "{}", out(&o));
    // No webhook section in the catalog's template: a GET with the message as its body.
    let seen = hook.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].method, "GET");
    assert!(String::from_utf8_lossy(&seen[1].body).contains("The sync operation of application web has failed"));
}

/// An SMTP listener for one mail: records the client's commands and the DATA.
fn smtp_listener() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else { return };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let _ = stream.write_all(b"220 test ESMTP\r\n");
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            let command = line.trim_end().to_string();
            line.clear();
            record.lock().expect("lock").push(command.clone());
            let reply: &[u8] = match command.split(' ').next().unwrap_or("").to_ascii_uppercase().as_str() {
                "EHLO" => b"250-test\r\n250 AUTH PLAIN\r\n",
                "AUTH" => b"235 ok\r\n",
                "MAIL" | "RCPT" => b"250 ok\r\n",
                "DATA" => {
                    let _ = stream.write_all(b"354 go on\r\n");
                    let mut data = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        if line == ".\r\n" {
                            break;
                        }
                        data.push_str(&line);
                        line.clear();
                    }
                    line.clear();
                    record.lock().expect("lock").push(data);
                    b"250 queued\r\n"
                }
                "QUIT" => {
                    let _ = stream.write_all(b"221 bye\r\n");
                    return;
                }
                _ => b"500 what\r\n",
            };
            let _ = stream.write_all(reply);
        }
    });
    (port, seen)
}

/// A GitHub App's RSA key made by openssl: its file, and its PEM indented for a Secret's
/// `stringData` block.
fn app_key(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let key_file = dir.join("app.pem");
    let generated = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&key_file)
        .output()
        .expect("openssl");
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    let key = std::fs::read_to_string(&key_file).expect("key");
    (key_file, key.lines().map(|l| format!("    {l}\n")).collect())
}

#[test]
fn template_notify_sends_to_webhook_teams_email_and_github() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Receiver::ok();
    let teams = Receiver::start(|_, _| (200, json!(1)));
    let github = Receiver::start(|s, _| {
        if s.target.ends_with("/access_tokens") { (201, json!({"token": "ghs_inst"})) } else { (201, json!({"id": 1})) }
    });
    let (smtp_port, mail) = smtp_listener();
    let (key_file, indented) = app_key(dir.path());
    let cm = write(
        dir.path(),
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-notifications-cm}}\ndata:\n\
             \x20 service.webhook.hook: |\n    url: {hook}/base\n    basicAuth: {{username: u, password: $pw}}\n\
             \x20 service.teams: |\n    recipientUrls:\n      ops: {teams}/webhook\n\
             \x20 service.email: |\n    host: 127.0.0.1\n    port: {smtp_port}\n    from: cd@example.com\n    username: cd\n    password: $pw\n\
             \x20 service.github: |\n    appID: 12\n    installationID: 34\n    enterpriseBaseURL: {github}\n    privateKey: $gh-key\n\
             \x20 template.deployed: |\n    message: Application {{{{.app.metadata.name}}}} is deployed.\n\
             \x20   email:\n      subject: Deployed {{{{.app.metadata.name}}}}\n\
             \x20   teams:\n      title: Deployed\n      facts: '[{{\"name\": \"Revision\", \"value\": \"{{{{.app.status.sync.revision}}}}\"}}]'\n\
             \x20   webhook:\n      hook:\n        method: PUT\n        path: '{{{{call .repo.FullNameByRepoURL .app.spec.source.repoURL}}}}'\n        body: '{{{{.app.status.sync.revision}}}}'\n\
             \x20   github:\n      status:\n        state: success\n        label: continuous-delivery/{{{{.app.metadata.name}}}}\n        targetURL: '{{{{.context.argocdUrl}}}}/applications/{{{{.app.metadata.name}}}}'\n",
            hook = hook.base,
            teams = teams.base,
            github = github.base,
        ),
    );
    let secret = write(
        dir.path(),
        "secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  pw: pa55\n  gh-key: |\n{indented}"
        ),
    );
    let app_file = write(dir.path(), "app.json", &app("Succeeded", "Healthy", &[]));
    let o = gitops(
        &[
            "notify",
            "template",
            "notify",
            "deployed",
            "--app",
            &app_file,
            "--config",
            &cm,
            "--secret",
            &secret,
            "--recipient",
            "hook:",
            "--recipient",
            "teams:ops",
            "--recipient",
            "email:dev@example.com",
            "--recipient",
            "github:",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(out(&o).lines().filter(|l| l.contains(": sent")).count(), 4, "{}", out(&o));
    assert!(!out(&o).contains("pa55") && !out(&o).contains("ghs_inst"), "{}", out(&o));

    let h = &hook.seen()[0];
    assert_eq!((h.method.as_str(), h.target.as_str(), h.body.as_slice()), ("PUT", "/base/acme/web", &b"0123abc"[..]));
    assert_eq!(h.headers["authorization"], "Basic dTpwYTU1");

    let t = teams.seen()[0].json();
    assert_eq!(
        (t["@type"].as_str(), t["title"].as_str(), t["text"].as_str()),
        (Some("MessageCard"), Some("Deployed"), Some("Application web is deployed."))
    );
    assert_eq!(t["sections"][0]["facts"][0]["value"], "0123abc");

    let commands = mail.lock().expect("lock").clone();
    assert!(commands.iter().any(|c| c == "MAIL FROM:<cd@example.com>"), "{commands:?}");
    assert!(commands.iter().any(|c| c == "RCPT TO:<dev@example.com>"), "{commands:?}");
    assert!(commands.iter().any(|c| c == "AUTH PLAIN AGNkAHBhNTU="), "{commands:?}");
    let data = commands.iter().find(|c| c.contains("Subject:")).expect("DATA");
    assert!(
        data.contains("Subject: Deployed web\r\n") && data.contains("\r\n\r\nApplication web is deployed.\r\n"),
        "{data}"
    );

    // GitHub: an installation token for a JWT signed by the app's key, then the status.
    let gh = github.seen();
    assert_eq!(gh.len(), 2);
    assert_eq!((gh[0].method.as_str(), gh[0].target.as_str()), ("POST", "/app/installations/34/access_tokens"));
    let jwt = gh[0].headers["authorization"].strip_prefix("Bearer ").expect("bearer").to_string();
    let (input, signature) = jwt.rsplit_once('.').expect("jwt");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims: Value =
        serde_json::from_slice(&b64.decode(input.split('.').nth(1).expect("claims")).expect("b64")).expect("json");
    assert_eq!(claims["iss"], 12);
    std::fs::write(dir.path().join("input"), input).expect("write");
    std::fs::write(dir.path().join("sig"), b64.decode(signature).expect("b64")).expect("write");
    let verified = Command::new("openssl")
        .args(["dgst", "-sha256", "-prverify"])
        .arg(&key_file)
        .arg("-signature")
        .arg(dir.path().join("sig"))
        .arg(dir.path().join("input"))
        .output()
        .expect("openssl");
    assert!(
        verified.status.success(),
        "the JWT is signed by the app's key: {}",
        String::from_utf8_lossy(&verified.stdout)
    );
    assert_eq!(gh[1].target, "/api/v3/repos/acme/web/statuses/0123abc");
    assert_eq!(gh[1].headers["authorization"], "token ghs_inst");
    assert_eq!(
        gh[1].json(),
        json!({"state": "success", "context": "continuous-delivery/web", "description": "Application web is deployed.", "target_url": "https://localhost:4000/applications/web"})
    );

    // Bad input: exit 2, nothing sent.
    for (args, needle) in [
        (vec!["nope", "--recipient", "hook:"], "template 'nope' is not configured"),
        (vec!["deployed", "--recipient", "pager:x"], "service 'pager' is not configured"),
        (vec!["deployed", "--recipient", "hook"], "SERVICE:DESTINATION"),
    ] {
        let mut full = vec!["notify", "template", "notify"];
        full.extend(args);
        full.extend(["--app", &app_file, "--config", &cm]);
        let o = gitops(&full, None);
        assert_eq!(o.status.code(), Some(2), "{full:?}");
        assert!(err(&o).contains(needle), "{full:?}: {}", err(&o));
    }
    assert_eq!(hook.seen().len(), 1);
}

#[test]
fn teams_workflows_posts_adaptive_cards() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Power Automate accepts a run with 202 and an empty JSON body.
    let flow = Receiver::start(|_, _| (202, json!({})));
    let cm = write(
        dir.path(),
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-notifications-cm}}\ndata:\n\
             \x20 context: |\n    argocdUrl: https://cd.example.com\n\
             \x20 service.teams-workflows: |\n    recipientUrls:\n      ops: $flow-url\n\
             \x20 service.teams-workflows.raw: |\n    recipientUrls:\n      ops: {flow}/powerautomate/raw\n    rawCardPayload: true\n\
             \x20 template.deployed: |\n    message: Application {{{{.app.metadata.name}}}} is deployed.\n\
             \x20   teams-workflows:\n      title: Deployed {{{{.app.metadata.name}}}}\n      themeColor: Good\n\
             \x20     facts: '[{{\"name\": \"Revision\", \"value\": \"{{{{.app.status.sync.revision}}}}\"}}]'\n\
             \x20     potentialAction: '[{{\"@type\": \"OpenUri\", \"name\": \"Open\", \"targets\": [{{\"os\": \"default\", \"uri\": \"{{{{.context.argocdUrl}}}}/applications/{{{{.app.metadata.name}}}}\"}}]}}]'\n",
            flow = flow.base,
        ),
    );
    let secret = write(
        dir.path(),
        "secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  flow-url: {}/powerautomate/ops?sig=t0p\n",
            flow.base
        ),
    );
    let recipients = ["--secret", &secret, "--recipient", "teams-workflows:ops", "--recipient", "raw:ops"];
    let o = template_notify(dir.path(), "deployed", "Healthy", &cm, &recipients);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(out(&o).lines().filter(|l| l.contains(": sent")).count(), 2, "{}", out(&o));
    assert!(!out(&o).contains("t0p"), "the webhook's secret stays out: {}", out(&o));

    let seen = flow.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].method.as_str(), seen[0].target.as_str()), ("POST", "/powerautomate/ops?sig=t0p"));
    assert_eq!(seen[0].headers["content-type"], "application/json");
    let card = json!({
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": "Deployed web", "size": "Large", "weight": "Bolder", "color": "Good", "wrap": true},
            {"type": "TextBlock", "text": "Application web is deployed.", "wrap": true},
            {"type": "FactSet", "facts": [{"title": "Revision", "value": "0123abc"}]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://cd.example.com/applications/web"}],
    });
    assert_eq!(
        seen[0].json(),
        json!({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]})
    );
    assert_eq!(seen[1].target, "/powerautomate/raw");
    assert_eq!(seen[1].json(), card, "rawCardPayload: the card alone");

    // A URL that is no Workflows webhook is refused before anything is sent.
    let text = std::fs::read_to_string(&cm).expect("read").replace("/powerautomate/raw", "/hooks/raw");
    let bad = write(dir.path(), "bad.yaml", &text);
    let o = template_notify(dir.path(), "deployed", "Healthy", &bad, &["--recipient", "raw:ops"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("does not appear to be a valid Microsoft Teams Workflows URL"), "{}", out(&o));
    assert_eq!(flow.seen().len(), 2);
}

#[test]
fn github_deployments_and_pull_request_comments() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The deployment list is empty the first time (one is created), then holds deployment 42.
    let listed = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&listed);
    let github = Receiver::start(move |s, _| {
        let t = s.target.as_str();
        match (s.method.as_str(), t) {
            ("POST", "/app/installations/34/access_tokens") => (201, json!({"token": "ghs_inst"})),
            ("GET", _) if t.starts_with("/api/v3/repos/acme/web/deployments?") => {
                let mut n = counter.lock().expect("lock");
                *n += 1;
                (200, if *n == 1 { json!([]) } else { json!([{"id": 42, "ref": "0123abc"}]) })
            }
            ("POST", "/api/v3/repos/acme/web/deployments") => (201, json!({"id": 42})),
            ("POST", "/api/v3/repos/acme/web/deployments/42/statuses") => (201, json!({"id": 1})),
            ("GET", "/api/v3/repos/acme/web/commits/0123abc/pulls") => (200, json!([{"number": 7}, {"number": 9}])),
            ("GET", "/api/v3/repos/acme/web/issues/7/comments") => {
                (200, json!([{"id": 100, "body": "Deployed older\n<!-- argocd-notifications prod -->"}]))
            }
            ("GET", "/api/v3/repos/acme/web/issues/9/comments") => (200, json!([{"id": 101, "body": "LGTM"}])),
            ("PATCH", "/api/v3/repos/acme/web/issues/comments/100") => (200, json!({"id": 100})),
            ("POST", "/api/v3/repos/acme/web/issues/9/comments") => (201, json!({"id": 102})),
            _ => (404, json!({"message": "Not Found"})),
        }
    });
    let (_, indented) = app_key(dir.path());
    let cm = write(
        dir.path(),
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-notifications-cm}}\ndata:\n\
             \x20 service.github: |\n    appID: 12\n    installationID: 34\n    enterpriseBaseURL: {github}\n    privateKey: $gh-key\n\
             \x20 template.deployed: |\n    message: Application {{{{.app.metadata.name}}}} is deployed.\n\
             \x20   github:\n      deployment:\n        state: success\n        environment: prod\n\
             \x20       environmentURL: https://web.example.com\n        logURL: '{{{{.context.argocdUrl}}}}/applications/{{{{.app.metadata.name}}}}'\n\
             \x20       requiredContexts: []\n\
             \x20     pullRequestComment:\n        content: 'Deployed {{{{.app.status.sync.revision}}}} to prod'\n        commentTag: prod\n",
            github = github.base,
        ),
    );
    let secret = write(
        dir.path(),
        "secret.yaml",
        &format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  gh-key: |\n{indented}"),
    );
    let run =
        || template_notify(dir.path(), "deployed", "Healthy", &cm, &["--secret", &secret, "--recipient", "github:"]);
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(!out(&o).contains("ghs_inst"), "{}", out(&o));
    let calls = |seen: &[crate::notify::Seen]| -> Vec<String> {
        seen.iter().map(|s| format!("{} {}", s.method, s.target)).collect()
    };
    let seen = github.seen();
    assert_eq!(
        calls(&seen),
        [
            "POST /app/installations/34/access_tokens",
            "GET /api/v3/repos/acme/web/deployments?ref=0123abc&environment=prod",
            "POST /api/v3/repos/acme/web/deployments",
            "POST /api/v3/repos/acme/web/deployments/42/statuses",
            "GET /api/v3/repos/acme/web/commits/0123abc/pulls",
            "GET /api/v3/repos/acme/web/issues/7/comments",
            "PATCH /api/v3/repos/acme/web/issues/comments/100",
            "GET /api/v3/repos/acme/web/issues/9/comments",
            "POST /api/v3/repos/acme/web/issues/9/comments",
        ]
    );
    assert!(seen[1..].iter().all(|s| s.headers["authorization"] == "token ghs_inst"));
    assert_eq!(
        seen[2].json(),
        json!({"ref": "0123abc", "environment": "prod", "required_contexts": [], "auto_merge": true, "transient_environment": false})
    );
    assert_eq!(
        seen[3].json(),
        json!({"state": "success", "environment": "prod", "environment_url": "https://web.example.com", "log_url": "https://localhost:4000/applications/web", "description": "Application web is deployed."})
    );
    let comment = json!({"body": "Deployed 0123abc to prod\n<!-- argocd-notifications prod -->"});
    assert_eq!((seen[6].json(), seen[8].json()), (comment.clone(), comment));

    // Again: the deployment listed is reused, nothing created.
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let again = calls(&github.seen()[9..]);
    assert_eq!(
        again[1..4],
        [
            "GET /api/v3/repos/acme/web/deployments?ref=0123abc&environment=prod",
            "POST /api/v3/repos/acme/web/deployments/42/statuses",
            "GET /api/v3/repos/acme/web/commits/0123abc/pulls"
        ]
    );
}

#[test]
fn slack_messages_with_a_grouping_key_share_a_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let slack = Receiver::start(|s, n| {
        if s.target.ends_with("/chat.update") {
            (200, json!({"ok": true, "channel": "C0PS", "ts": "1700000000.000100"}))
        } else {
            (200, json!({"ok": true, "channel": "C0PS", "ts": format!("1700000000.{n:06}")}))
        }
    });
    let cm = write(
        dir.path(),
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-notifications-cm}}\ndata:\n\
             \x20 service.slack: |\n    token: xoxb-1\n    apiURL: {}/api\n\
             \x20 template.synced: |\n    message: '{{{{.app.metadata.name}}}} is {{{{.app.status.health.status}}}}'\n\
             \x20   slack:\n      groupingKey: '{{{{.app.metadata.name}}}}-{{{{.app.status.sync.revision}}}}'\n\
             \x20     notifyBroadcast: true\n      deliveryPolicy: PostAndUpdate\n",
            slack.base
        ),
    );
    let threads = dir.path().join("threads.json");
    let threads_file = threads.to_str().expect("utf-8");
    let send = |health: &str| {
        template_notify(
            dir.path(),
            "synced",
            health,
            &cm,
            &["--recipient", "slack:ops", "--slack-threads", threads_file],
        )
    };
    let run = |health: &str| {
        let o = send(health);
        assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    };
    run("Progressing");
    let first = slack.seen();
    assert_eq!(first.len(), 1);
    let f = form(&first[0]);
    assert_eq!((f["channel"].as_str(), f.get("thread_ts")), ("ops", None), "the first message starts the thread");
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&threads).expect("threads")).expect("json");
    assert_eq!(
        kept,
        json!({"slack": {"ThreadTSs": {"ops": {"web-0123abc": "1700000000.000001"}}, "ChannelIDs": {"ops": "C0PS"}}})
    );

    // The next message of the key: a reply in the thread, broadcast, and the first one updated.
    run("Healthy");
    let seen = slack.seen();
    assert_eq!(seen.len(), 3);
    let (reply, update) = (form(&seen[1]), form(&seen[2]));
    assert_eq!(seen[1].target, "/api/chat.postMessage");
    assert_eq!(
        (
            reply["channel"].as_str(),
            reply["thread_ts"].as_str(),
            reply["reply_broadcast"].as_str(),
            reply["text"].as_str()
        ),
        ("ops", "1700000000.000001", "true", "web is Healthy")
    );
    assert_eq!(seen[2].target, "/api/chat.update");
    assert_eq!(
        (update["channel"].as_str(), update["ts"].as_str(), update["text"].as_str()),
        ("C0PS", "1700000000.000001", "web is Healthy")
    );
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&threads).expect("threads")).expect("json");
    assert_eq!(again, kept, "replies do not move the thread");

    // An unreadable threads file is bad input: nothing sent.
    std::fs::write(&threads, "{not json").expect("write");
    let o = send("Healthy");
    assert_eq!(o.status.code(), Some(2), "{}{}", out(&o), err(&o));
    assert!(err(&o).contains("not the Slack threads"), "{}", err(&o));
    assert_eq!(slack.seen().len(), 3);
}
