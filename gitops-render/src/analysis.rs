//! Argo Rollouts analyses run from files: templates read from disk, metrics measured against
//! their providers over HTTP, the schedule of [`gitops_core::analysis::Run`] kept on a clock.
//!
//! Providers live here, beside the other outbound HTTP this crate makes (chart repositories,
//! registries, notifications): they read the world, they do not touch a cluster.
//! - `prometheus`: an instant query (`/api/v1/query`), or a range query (`rangeQuery` with
//!   `start` and `end` as expr over `now()`, and `step`), with `headers`; the result shaped as
//!   Rollouts shapes it: a scalar is a number, a vector a list of numbers, a matrix a list of
//!   lists; shown as Go prints them (`[0.99,1]`). `authentication.oauth2` (`tokenUrl`,
//!   `clientId`, `clientSecret`, `scopes`) gets a token by the client-credentials grant (the
//!   client authenticated with HTTP Basic, as Go's oauth2 package first tries), kept until a
//!   minute before it expires, and sends it as a Bearer token; `authentication.sigv4` (Amazon
//!   Managed Prometheus) is refused.
//! - `web`: a request (`method`, `headers`, `body`/`jsonBody`, `timeoutSeconds`) whose JSON
//!   reply is read at `jsonPath` (`{$.data.ok}`); a number if it reads as one, else the JSON
//!   value, else the text.
//!
//! Other providers (`job`, `datadog`, ...) are refused before anything runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gitops_core::analysis::{self, Measurement, Metric, Phase, Run, Spec, evaluate};
use gitops_core::expr::{Env, Program, Val};
use serde_json::Value;

use crate::regular;

/// Why an analysis could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A template file cannot be read.
    #[error("{path}: {problem}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        problem: String,
    },
    /// The templates or arguments are invalid.
    #[error(transparent)]
    Spec(#[from] analysis::Error),
}

/// The providers this module measures with.
pub const PROVIDERS: &[&str] = &["prometheus", "web"];

/// Reads the analysis documents (AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun) of
/// `paths`, other documents passed over, merged as a Rollout merges its templates.
pub fn read_spec(paths: &[&Path]) -> Result<Spec, Error> {
    Ok(Spec::merge(read_documents(paths)?.into_iter().map(|d| d.spec).collect())?)
}

/// An analysis document read from a file.
#[derive(Debug, Clone)]
pub struct Document {
    /// Its kind: AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// Its spec.
    pub spec: Spec,
}

/// The analysis documents of `paths`, in order; a file without one is an error.
pub fn read_documents(paths: &[&Path]) -> Result<Vec<Document>, Error> {
    let mut found = Vec::new();
    for given in paths {
        // A directory's manifest files are read (those without templates passed over).
        let files = crate::manifest_files(given)
            .map_err(|e| Error::Read { path: given.display().to_string(), problem: e.to_string() })?;
        let directory = files.len() != 1 || files[0] != *given;
        let before_all = found.len();
        for path in &files {
            read_one(path, directory, &mut found)?;
        }
        if directory && found.len() == before_all {
            return Err(Error::Read {
                path: given.display().to_string(),
                problem: "no AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun in the directory".into(),
            });
        }
    }
    Ok(found)
}

/// The templates and runs of one file; with `lenient` (a file of a directory) a file with none
/// is passed over.
fn read_one(path: &Path, lenient: bool, found: &mut Vec<Document>) -> Result<(), Error> {
    {
        let shown = path.display().to_string();
        let text =
            regular::read_to_string(path).map_err(|e| Error::Read { path: shown.clone(), problem: e.to_string() })?;
        let docs = gitops_core::yaml::parse_documents(&text)
            .map_err(|e| Error::Read { path: shown.clone(), problem: e.to_string() })?;
        let before = found.len();
        for d in docs {
            let kind = d.value.get("kind").and_then(Value::as_str).unwrap_or("");
            if matches!(kind, "AnalysisTemplate" | "ClusterAnalysisTemplate" | "AnalysisRun") {
                let spec = Spec::from_document(&d.value)
                    .map_err(|e| Error::Read { path: shown.clone(), problem: e.to_string() })?;
                let name = d.value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
                found.push(Document { kind: kind.to_string(), name, spec });
            }
        }
        if found.len() == before && !lenient {
            return Err(Error::Read {
                path: shown,
                problem: "no AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun".into(),
            });
        }
    }
    Ok(())
}

/// Checks that every metric's provider is one this module measures with.
pub fn check_providers(metrics: &[Metric]) -> Result<(), Error> {
    for m in metrics {
        if !PROVIDERS.contains(&m.provider.0.as_str()) {
            return Err(analysis::Error::Metric {
                metric: m.name.clone(),
                problem: format!("provider `{}` is not supported (supported: {})", m.provider.0, PROVIDERS.join(", ")),
            }
            .into());
        }
        if m.provider.0 == "prometheus" && m.provider.1.pointer("/authentication/sigv4").is_some() {
            return Err(analysis::Error::Metric {
                metric: m.name.clone(),
                problem: "prometheus: authentication.sigv4 is not supported (oauth2 is)".into(),
            }
            .into());
        }
    }
    Ok(())
}

/// How measurements are taken.
#[derive(Debug, Clone)]
pub struct Options {
    /// Every Prometheus metric's `address` replaced by this one.
    pub prometheus: Option<String>,
    /// Intervals and delays multiplied by this (1: real time; 0.01 runs a minute in 0.6 s).
    pub interval_scale: f64,
    /// Terminate the run after this long (scaled time), so metrics measured indefinitely end.
    pub terminate_after: Option<Duration>,
    /// Terminate the run once this is set (by another thread: a Rollout's background analysis
    /// when its steps are done).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for Options {
    fn default() -> Self {
        Options { prometheus: None, interval_scale: 1.0, terminate_after: None, stop: None }
    }
}

/// Runs `metrics` to the end, calling `report` after each measurement with the metric and it.
/// Returns the run, whose results say everything.
pub fn run(metrics: Vec<Metric>, options: &Options, report: &mut dyn FnMut(&Metric, &Measurement)) -> (Phase, Run) {
    let start = Instant::now();
    let scale = if options.interval_scale > 0.0 { options.interval_scale } else { 1.0 };
    // Scaled milliseconds since the start: what the schedule is kept in.
    let now_ms = || (start.elapsed().as_secs_f64() * 1000.0 / scale) as u64;
    let wall_ns =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("gitops/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    let tokens = Tokens::default();
    let mut run = Run::new(metrics, 0);
    let limit_ms = options.terminate_after.map(|d| d.as_millis() as u64);
    loop {
        let now = now_ms();
        let stopped = || options.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
        if limit_ms.is_some_and(|l| now >= l) || stopped() {
            run.terminate();
        }
        for i in run.due(now) {
            let metric = run.metrics[i].clone();
            let (phase, value, message) = measure(&agent, &tokens, &metric, options, wall_ns());
            let m = Measurement { phase, value, message, finished_ms: now_ms() };
            report(&metric, &m);
            run.record(i, m);
        }
        let phase = run.assess();
        if phase.completed() {
            return (phase, run);
        }
        let mut wake = run.next_wake();
        if let Some(l) = limit_ms {
            wake = Some(wake.map_or(l, |w| w.min(l)));
        }
        let Some(wake) = wake else { return (phase, run) };
        let now = now_ms();
        if wake > now {
            let mut left = Duration::from_secs_f64((wake - now) as f64 * scale / 1000.0);
            // With a stop flag, wake up now and then to look at it.
            let slice = if options.stop.is_some() { Duration::from_millis(20) } else { left };
            while !left.is_zero() && !stopped() {
                let nap = left.min(slice);
                std::thread::sleep(nap);
                left -= nap;
            }
        }
    }
}

/// OAuth2 access tokens of one run, by token URL and client id, with when they expire.
type Tokens = std::sync::Mutex<BTreeMap<(String, String), (String, Option<Instant>)>>;

/// One measurement: phase, value shown, message.
fn measure(
    agent: &ureq::Agent,
    tokens: &Tokens,
    metric: &Metric,
    options: &Options,
    now_ns: i128,
) -> (Phase, String, String) {
    let taken = match metric.provider.0.as_str() {
        "prometheus" => prometheus(agent, tokens, &metric.provider.1, options, now_ns),
        "web" => web(agent, &metric.provider.1),
        other => Err(format!("provider `{other}` is not supported")),
    };
    match taken {
        Err(e) => (Phase::Error, String::new(), e),
        Ok((shown, value)) => {
            let (phase, message) = evaluate(metric, &value, now_ns);
            (phase, shown, message.unwrap_or_default())
        }
    }
}

fn headers(settings: &Value) -> Vec<(String, String)> {
    settings
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h.get("key")?.as_str()?.to_string(), h.get("value")?.as_str()?.to_string())))
        .collect()
}

fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    query: &[(&str, String)],
    headers: &[(String, String)],
    body: Option<String>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let mut uri = url.to_string();
    for (i, (k, v)) in query.iter().enumerate() {
        uri.push(if i == 0 && !url.contains('?') { '?' } else { '&' });
        uri.push_str(&encode(k));
        uri.push('=');
        uri.push_str(&encode(v));
    }
    let mut builder = ureq::http::Request::builder().method(method).uri(&uri);
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder.body(body.unwrap_or_default().into_bytes()).map_err(|e| format!("{url}: {e}"))?;
    let request = agent.configure_request(request).timeout_global(Some(timeout)).build();
    let mut response = agent.run(request).map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(16 << 20).read_to_vec().map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body))
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`, as Prometheus' client prints sample values.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{f}")
    }
}

fn sample(v: &Value) -> Result<f64, String> {
    let text = v.get(1).and_then(Value::as_str).ok_or("a sample without a value")?;
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        t => t.parse().map_err(|_| format!("sample value {t:?} is not a number")),
    }
}

fn list(xs: &[f64]) -> (String, Val) {
    let shown: Vec<String> = xs.iter().map(|x| go_float(*x)).collect();
    (format!("[{}]", shown.join(",")), Val::Array(xs.iter().map(|x| Val::Float(*x)).collect()))
}

/// The Bearer token of `authentication.oauth2`, from the cache or the token endpoint.
fn oauth2_token(agent: &ureq::Agent, tokens: &Tokens, oauth: &Value) -> Result<String, String> {
    let field = |k: &str| oauth.get(k).and_then(Value::as_str).unwrap_or("");
    let (url, id, secret) = (field("tokenUrl"), field("clientId"), field("clientSecret"));
    if url.is_empty() || id.is_empty() {
        return Err("prometheus: authentication.oauth2 needs `tokenUrl` and `clientId`".into());
    }
    let cache_key = (url.to_string(), id.to_string());
    if let Ok(cache) = tokens.lock()
        && let Some((token, expiry)) = cache.get(&cache_key)
        && expiry.is_none_or(|e| Instant::now() < e)
    {
        return Ok(token.clone());
    }
    let scopes: Vec<&str> =
        oauth.get("scopes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let mut form = String::from("grant_type=client_credentials");
    if !scopes.is_empty() {
        form.push_str(&format!("&scope={}", encode(&scopes.join(" "))));
    }
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", encode(id), encode(secret)));
    let headers = [
        ("Authorization".to_string(), format!("Basic {basic}")),
        ("Content-Type".to_string(), "application/x-www-form-urlencoded".to_string()),
        ("Accept".to_string(), "application/json".to_string()),
    ];
    let (status, body) = send(agent, "POST", url, &[], &headers, Some(form), Duration::from_secs(30))?;
    let reply: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let why = reply.get("error").and_then(Value::as_str).unwrap_or("no error given");
        return Err(format!("oauth2: {url}: HTTP {status}: {why}"));
    }
    let token = reply
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("oauth2: {url}: the reply has no `access_token`"))?
        .to_string();
    // Renewed a minute early, so that a token never expires between the check and the query.
    let expiry = reply
        .get("expires_in")
        .and_then(Value::as_u64)
        .map(|s| Instant::now() + Duration::from_secs(s.saturating_sub(60)));
    if let Ok(mut cache) = tokens.lock() {
        cache.insert(cache_key, (token.clone(), expiry));
    }
    Ok(token)
}

fn prometheus(
    agent: &ureq::Agent,
    tokens: &Tokens,
    settings: &Value,
    options: &Options,
    now_ns: i128,
) -> Result<(String, Val), String> {
    let address = options
        .prometheus
        .clone()
        .or_else(|| settings.get("address").and_then(Value::as_str).map(str::to_string))
        .ok_or("prometheus: `address` is missing")?;
    let query = settings.get("query").and_then(Value::as_str).ok_or("prometheus: `query` is missing")?;
    let timeout = Duration::from_secs(settings.get("timeout").and_then(Value::as_u64).unwrap_or(30));
    let base = address.trim_end_matches('/');
    let (url, params) = match settings.get("rangeQuery") {
        Some(range) => {
            let at = |key: &str, default: &str| -> Result<String, String> {
                let text = range.get(key).and_then(Value::as_str).unwrap_or(default);
                let program = Program::parse(text).map_err(|e| format!("rangeQuery.{key}: {e}"))?;
                match program.eval(&Env::new().at(now_ns)).map_err(|e| format!("rangeQuery.{key}: {e}"))? {
                    Val::Time(ns) => Ok(format!("{:.3}", ns as f64 / 1e9)),
                    other => Err(format!("rangeQuery.{key}: expected a time, got {}", other.type_name())),
                }
            };
            let step = range.get("step").and_then(Value::as_str).unwrap_or("1m");
            let step_s = gitops_core::quantity::go_duration_nanos(step)
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("rangeQuery.step: `{step}` is not a duration"))?;
            let params = vec![
                ("query", query.to_string()),
                ("start", at("start", "now() - duration('10m')")?),
                ("end", at("end", "now()")?),
                ("step", format!("{}", step_s as f64 / 1e9)),
            ];
            (format!("{base}/api/v1/query_range"), params)
        }
        None => (format!("{base}/api/v1/query"), vec![("query", query.to_string())]),
    };
    let mut hs = headers(settings);
    if let Some(oauth) = settings.pointer("/authentication/oauth2") {
        hs.push(("Authorization".into(), format!("Bearer {}", oauth2_token(agent, tokens, oauth)?)));
    }
    let (status, body) = send(agent, "GET", &url, &params, &hs, None, timeout)?;
    let reply: Value = serde_json::from_slice(&body)
        .map_err(|_| format!("{url}: HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)])))?;
    if reply.get("status").and_then(Value::as_str) != Some("success") {
        let error = reply.get("error").and_then(Value::as_str).unwrap_or("no error given");
        return Err(format!("{url}: HTTP {status}: {error}"));
    }
    let data = reply.get("data").ok_or("prometheus: the reply has no `data`")?;
    let result = data.get("result").ok_or("prometheus: the reply has no `data.result`")?;
    match data.get("resultType").and_then(Value::as_str) {
        Some("scalar") => {
            let x = sample(result)?;
            Ok((go_float(x), Val::Float(x)))
        }
        Some("vector") => {
            let xs = result
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| sample(s.get("value").unwrap_or(&Value::Null)))
                .collect::<Result<Vec<f64>, _>>()?;
            Ok(list(&xs))
        }
        Some("matrix") => {
            let mut shown = Vec::new();
            let mut vals = Vec::new();
            for series in result.as_array().into_iter().flatten() {
                let xs =
                    series.get("values").and_then(Value::as_array).into_iter().flatten().map(sample).collect::<Result<
                        Vec<f64>,
                        _,
                    >>(
                    )?;
                let (s, v) = list(&xs);
                shown.push(s);
                vals.push(v);
            }
            Ok((format!("[{}]", shown.join(",")), Val::Array(vals)))
        }
        other => Err(format!("Prometheus metric type not supported: {}", other.unwrap_or("none"))),
    }
}

fn web(agent: &ureq::Agent, settings: &Value) -> Result<(String, Val), String> {
    let url = settings.get("url").and_then(Value::as_str).ok_or("web: `url` is missing")?;
    let method = settings.get("method").and_then(Value::as_str).unwrap_or("GET");
    let timeout = Duration::from_secs(settings.get("timeoutSeconds").and_then(Value::as_u64).unwrap_or(10));
    let mut hs = headers(settings);
    let body = match (settings.get("body").and_then(Value::as_str), settings.get("jsonBody")) {
        (Some(b), _) => Some(b.to_string()),
        (None, Some(j)) => {
            if !hs.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                hs.push(("Content-Type".into(), "application/json".into()));
            }
            Some(j.to_string())
        }
        (None, None) => None,
    };
    let (status, bytes) = send(agent, method, url, &[], &hs, body, timeout)?;
    if !(200..300).contains(&status) {
        return Err(format!("received non 2xx response code: {status}"));
    }
    let data: Value = serde_json::from_slice(&bytes).map_err(|e| format!("Could not parse JSON body: {e}"))?;
    let path = settings.get("jsonPath").and_then(Value::as_str).unwrap_or("{$}");
    let found = json_path(&data, path).ok_or_else(|| format!("Could not find JSONPath in body: {path}"))?;
    let shown = match found {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let value = match shown.trim().parse::<f64>() {
        Ok(x) => Val::Float(x),
        Err(_) => match found {
            Value::String(s) => {
                serde_json::from_str::<Value>(s).map_or_else(|_| Val::Str(s.clone()), |v| Val::from_json(&v))
            }
            other => Val::from_json(other),
        },
    };
    Ok((shown, value))
}

/// The value at a Kubernetes JSONPath of the simple form `{$.a.b[0].c}` (or `{.a}`, `{$}`).
fn json_path<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    let inner = path.trim().strip_prefix('{')?.strip_suffix('}')?.trim();
    let inner = inner.strip_prefix('$').unwrap_or(inner);
    let mut at = data;
    let mut rest = inner;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            at = at.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let key = r[..end].trim_matches(|c| c == '\'' || c == '"');
            at = match key.parse::<usize>() {
                Ok(i) => at.get(i)?,
                Err(_) => at.get(key)?,
            };
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(at)
}

/// Parses `name=value` arguments, the last of a name winning.
pub fn parse_args<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<BTreeMap<String, String>, String> {
    crate::action::parse_params(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::AtomicUsize;

    /// A token endpoint and a Prometheus query API on loopback: the token is given for the
    /// right client credentials, the query answered only with that token.
    fn oauth_server(token_requests: Arc<AtomicUsize>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("addr"));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let (mut head, mut line) = (String::new(), String::new());
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    head.push_str(&line);
                    line.clear();
                }
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).to_string();
                // Header names are case-insensitive (ureq sends them in lower case).
                let authorization = head
                    .lines()
                    .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")))
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_default();
                // gitops:s3cret/x, each part URL-encoded first.
                let basic = "Basic Z2l0b3BzOnMzY3JldCUyRng=";
                let (status, reply) = if head.starts_with("POST /token ") {
                    token_requests.fetch_add(1, Ordering::SeqCst);
                    if authorization == basic && body == "grant_type=client_credentials&scope=read%20metrics" {
                        (200, r#"{"access_token":"t0k3n","token_type":"Bearer","expires_in":3600}"#)
                    } else {
                        (401, r#"{"error":"invalid_client"}"#)
                    }
                } else if authorization == "Bearer t0k3n" {
                    (
                        200,
                        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.99"]}]}}"#,
                    )
                } else {
                    (401, r#"{"status":"error","error":"no token"}"#)
                };
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                        reply.len()
                    )
                    .as_bytes(),
                );
            }
        });
        address
    }

    #[test]
    fn oauth2_client_credentials_give_a_bearer_token_kept_for_the_run() {
        let requests = Arc::new(AtomicUsize::new(0));
        let address = oauth_server(requests.clone());
        let metric = |secret: &str| {
            let m = serde_json::json!({
                "name": "rate", "interval": "1s", "count": 2, "successCondition": "result[0] > 0.9",
                "provider": {"prometheus": {"address": address, "query": "up", "authentication": {"oauth2": {
                    "tokenUrl": format!("{address}/token"), "clientId": "gitops", "clientSecret": secret,
                    "scopes": ["read", "metrics"]}}}}
            });
            Metric::from_json(&m, false).expect("metric")
        };
        let options = Options { interval_scale: 0.01, ..Default::default() };
        let (phase, run) = super::run(vec![metric("s3cret/x")], &options, &mut |_, _| {});
        assert_eq!(phase, Phase::Successful, "{:?}", run.results);
        assert_eq!(run.results[0].successful, 2);
        assert_eq!(requests.load(Ordering::SeqCst), 1, "one token for the run");
        let mut wrong = metric("nope");
        wrong.count = Some(1);
        wrong.consecutive_error_limit = 0;
        let (phase, run) = super::run(vec![wrong], &options, &mut |_, _| {});
        assert_eq!(phase, Phase::Error);
        let message = &run.results[0].measurements[0].message;
        assert_eq!(message, &format!("oauth2: {address}/token: HTTP 401: invalid_client"));
        let sigv4 = serde_json::json!({"name": "x", "provider": {"prometheus": {"address": address, "query": "up",
            "authentication": {"sigv4": {"region": "eu-west-1"}}}}});
        let e = check_providers(&[Metric::from_json(&sigv4, false).expect("metric")]).unwrap_err();
        assert!(e.to_string().contains("authentication.sigv4 is not supported"), "{e}");
    }

    #[test]
    fn json_paths_and_go_floats() {
        let v = serde_json::json!({"data": {"ok": true, "items": [{"rate": 0.5}]}});
        assert_eq!(json_path(&v, "{$.data.items[0].rate}"), Some(&serde_json::json!(0.5)));
        assert_eq!(json_path(&v, "{.data.ok}"), Some(&serde_json::json!(true)));
        assert_eq!(json_path(&v, "{$}"), Some(&v));
        assert_eq!(json_path(&v, "{$.nope}"), None);
        assert_eq!(list(&[0.99, 1.0, f64::NAN]).0, "[0.99,1,NaN]");
        assert_eq!(encode("up{a=\"b c\"}"), "up%7Ba%3D%22b%20c%22%7D");
    }
}
