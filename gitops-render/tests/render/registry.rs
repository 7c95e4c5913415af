//! The registry client against a real registry (Debian's `docker-registry`, started by
//! `gitops_standin::registry` when `GITOPS_REGISTRY` names it): images pushed through the
//! registry API, then tags (paginated, capped), manifests and indexes (platform, digest,
//! creation time), 404s and basic auth named; and the bearer-token challenge, retries and
//! `Retry-After` against a small loopback server written here (docker-registry's token auth
//! needs a token server with certificates, which this stands in for).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gitops_core::image::docker_config::Credentials;
use gitops_core::image::reference::ImageRef;
use gitops_core::image::updater::Platform;
use gitops_render::registry::{Error, Options, Registry};
use gitops_standin::registry::or_skip;

fn client(image: &str, options: Options) -> Registry {
    Registry::new(&ImageRef::parse(image).expect("reference"), options).expect("client")
}

fn platform(text: &str) -> Platform {
    Platform::parse(text).0
}

#[test]
fn tags_manifests_and_indexes_from_a_real_registry() {
    let Some(registry) = or_skip("tags_manifests_and_indexes_from_a_real_registry", None) else { return };
    let repo = "team/app";
    let mut pushed = Vec::new();
    for (i, tag) in ["1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1", "latest", "main-100", "main-200"].iter().enumerate() {
        let created = format!("2024-01-0{}T00:00:00Z", i + 1);
        pushed.push(registry.push_image(repo, tag, &created, "linux", "amd64"));
    }
    let (index, images) = registry.push_index(
        repo,
        "multi",
        &[("linux", "amd64", "", "2024-05-01T00:00:00Z"), ("linux", "arm64", "v8", "2024-06-01T00:00:00Z")],
    );

    // Pages of 3 are followed through `Link` until the end: all 8 tags, each once, in the
    // registry's order (docker-registry 2.8 lists them in storage order).
    let image = format!("{}/{repo}", registry.host);
    let all = client(&image, Options { page_size: 3, ..Options::default() }).tags().expect("tags");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(sorted, ["1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1", "latest", "main-100", "main-200", "multi"]);
    assert_eq!(client(&image, Options::default()).tags().expect("one page"), all, "the same order in one page");
    // The cap stops reading.
    let capped = client(&image, Options { page_size: 3, max_tags: 5, ..Options::default() }).tags().expect("tags");
    assert_eq!(capped, &all[..5]);

    // A plain image: its digest is the manifest's, its creation time the config's.
    let c = client(&image, Options::default());
    let r = c.resolve("1.1.0", &[], true).expect("resolve");
    assert_eq!(r.digest, pushed[1].digest);
    assert_eq!(r.image_digest, pushed[1].digest);
    assert_eq!(r.created.map(|t| t.to_string()).as_deref(), Some("2024-01-02T00:00:00Z"));

    // An index: the tag's digest is the index's; the platform picks the image and its time.
    let arm = c.resolve("multi", &[platform("linux/arm64")], true).expect("arm64");
    assert_eq!(arm.digest, index.digest);
    assert_eq!(arm.image_digest, images[1].digest);
    assert_eq!(arm.created.map(|t| t.to_string()).as_deref(), Some("2024-06-01T00:00:00Z"));
    let amd = c.resolve("multi", &[platform("linux/amd64")], true).expect("amd64");
    assert_eq!(
        (amd.image_digest.as_str(), amd.created.map(|t| t.to_string())),
        (images[0].digest.as_str(), Some("2024-05-01T00:00:00Z".into()))
    );
    let v7 = c.resolve("multi", &[platform("linux/arm64/v7")], false).unwrap_err().to_string();
    assert!(v7.contains("no image for platform linux/arm64/v7") && v7.contains(repo), "{v7}");
    let manifest = c.manifest("multi").expect("index");
    assert!(manifest.is_index() && manifest.media_type.contains("index"), "{}", manifest.media_type);

    // Missing things are named with the registry, repository and status.
    let err = client(&format!("{}/team/missing", registry.host), Options::default()).tags().unwrap_err().to_string();
    assert!(err.starts_with(&format!("404 Not Found from {} for repository team/missing", registry.host)), "{err}");
    let err = c.manifest("9.9.9").unwrap_err().to_string();
    assert!(err.contains("404") && err.contains("manifest 9.9.9"), "{err}");
}

#[test]
fn basic_auth_from_credentials_and_a_named_401_without() {
    let Some(registry) = or_skip("basic_auth_from_credentials_and_a_named_401_without", Some(("robot", "s3cret")))
    else {
        return;
    };
    registry.push_image("team/app", "1.0.0", "2024-01-01T00:00:00Z", "linux", "amd64");
    let image = format!("{}/team/app", registry.host);
    let err = client(&image, Options::default()).tags().unwrap_err();
    assert!(matches!(err, Error::Status { .. }));
    let err = err.to_string();
    assert!(err.starts_with(&format!("401 Unauthorized from {} for repository team/app", registry.host)), "{err}");
    assert!(err.contains("pull secret"), "{err}");
    let wrong = Credentials { username: "robot".into(), password: "nope".into() };
    let err =
        client(&image, Options { credentials: Some(wrong), ..Options::default() }).tags().unwrap_err().to_string();
    assert!(err.starts_with("401"), "{err}");
    let right = Credentials { username: "robot".into(), password: "s3cret".into() };
    let c = client(&image, Options { credentials: Some(right), ..Options::default() });
    assert_eq!(c.tags().expect("tags"), ["1.0.0"]);
    assert!(c.resolve("1.0.0", &[], true).expect("resolve").created.is_some());
}

/// A loopback registry that wants a bearer token from its own `/token`, and answers the first
/// tags request with a 503 (`Retry-After: 1`) and the second with a 429.
struct TokenRegistry {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

fn token_registry() -> TokenRegistry {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut failures = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut authorization = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if lower.starts_with("authorization:") {
                    authorization = line["authorization:".len()..].trim().to_owned();
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
            seen.lock().expect("log").push(format!("{path} {authorization}"));
            let (status, headers, body) = if path.starts_with("/token?") {
                // robot:pw
                if authorization == "Basic cm9ib3Q6cHc="
                    && path.contains("service=token-registry")
                    && path.contains("scope=repository%3Ateam%2Fapp%3Apull")
                {
                    ("200 OK", String::new(), r#"{"token":"t0k3n"}"#.to_owned())
                } else {
                    ("401 Unauthorized", String::new(), "{}".to_owned())
                }
            } else if authorization != "Bearer t0k3n" {
                let challenge = format!(
                    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"token-registry\",scope=\"repository:team/app:pull\"\r\n"
                );
                ("401 Unauthorized", challenge, "{}".to_owned())
            } else if failures == 0 {
                failures += 1;
                ("503 Service Unavailable", "Retry-After: 1\r\n".to_owned(), "{}".to_owned())
            } else if failures == 1 {
                failures += 1;
                ("429 Too Many Requests", String::new(), "{}".to_owned())
            } else {
                ("200 OK", String::new(), r#"{"name":"team/app","tags":["1.0.0","1.1.0"]}"#.to_owned())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    TokenRegistry { port, log }
}

#[test]
fn bearer_tokens_are_fetched_from_the_challenge_and_failures_retried() {
    let server = token_registry();
    let image = format!("127.0.0.1:{}/team/app", server.port);
    let credentials = Credentials { username: "robot".into(), password: "pw".into() };
    let options = Options { credentials: Some(credentials), backoff: Duration::from_millis(50), ..Options::default() };
    let started = Instant::now();
    assert_eq!(client(&image, options).tags().expect("tags"), ["1.0.0", "1.1.0"]);
    // The 503's Retry-After (1 s) was honoured; the 429 waited the second backoff.
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    let log = server.log.lock().expect("log").clone();
    assert_eq!(log.len(), 5, "{log:#?}");
    assert!(log[0].ends_with("/v2/team/app/tags/list?n=1000 "), "anonymous first: {log:#?}");
    assert!(log[1].starts_with("/token?") && log[1].ends_with("Basic cm9ib3Q6cHc="), "{log:#?}");
    assert!(log[2..].iter().all(|l| l.ends_with("Bearer t0k3n")), "{log:#?}");

    // Without credentials the token service refuses: the error names it.
    let server = token_registry();
    let image = format!("127.0.0.1:{}/team/app", server.port);
    let err = client(&image, Options::default()).tags().unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "401 Unauthorized from 127.0.0.1:{} for repository team/app (token from",
            server.port
        )),
        "{err}"
    );

    // Retries run out: the status is named.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let options = Options { retries: 2, backoff: Duration::from_millis(10), ..Options::default() };
    let err = client(&format!("127.0.0.1:{port}/team/app"), options).tags().unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("502 Bad Gateway from 127.0.0.1:{port} for repository team/app"))
            && err.contains("retries exhausted"),
        "{err}"
    );

    // Nothing listening: unreachable, named.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let err = client(&format!("127.0.0.1:{port}/team/app"), Options::default()).tags().unwrap_err().to_string();
    assert!(err.starts_with(&format!("registry 127.0.0.1:{port} unreachable for repository team/app")), "{err}");
}
