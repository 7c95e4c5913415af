//! Request routing: URL → kind + verb, query parsing, list/watch responses.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::apply::Scope;
use crate::resources::{self, Kind};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Event, Store};
use crate::writes::{self, PatchType, Propagation, WriteOpts};
use crate::{Request, Shared};

/// Response body: a whole JSON document or a watch stream.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Entry point for every HTTP request.
pub(crate) async fn handle(shared: Arc<Shared>, req: hyper::Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let header_str =
        |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let request = Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parse_query(parts.uri.query().unwrap_or_default()),
        content_type: header_str(header::CONTENT_TYPE),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    shared.log(request.clone());
    let user_agent = header_str(header::USER_AGENT).unwrap_or_default();
    let ctx = Ctx { method: parts.method, req: request, raw_body: bytes, user_agent };
    Ok(route(&shared, &ctx).unwrap_or_else(|e| json_response(e.code, &e.to_status())))
}

struct Ctx {
    method: Method,
    req: Request,
    raw_body: Bytes,
    user_agent: String,
}

impl Ctx {
    fn param(&self, name: &str) -> Option<&str> {
        self.req.param(name)
    }

    fn dry_run(&self) -> bool {
        self.req.query.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }

    /// `fieldManager`, else what the real server derives from the User-Agent.
    fn manager(&self) -> String {
        match self.param("fieldManager") {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => {
                let ua = self.user_agent.split('/').next().unwrap_or_default();
                if ua.is_empty() { "unknown".to_string() } else { ua.chars().take(128).collect() }
            }
        }
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.raw_body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }
}

/// Decodes `a=b&c=d` with percent-escapes and `+` as space.
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b))) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_response(code: u16, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())).boxed_unsync());
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp
}

fn route(shared: &Arc<Shared>, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let segments: Vec<&str> = ctx.req.path.split('/').filter(|s| !s.is_empty()).collect();
    let doc = |v: Option<Value>| -> Result<Response<Body>, ApiError> {
        if ctx.method != Method::GET {
            return Err(ApiError::method_not_allowed(ctx.method.as_str()));
        }
        v.map(|v| json_response(200, &v)).ok_or_else(ApiError::no_route)
    };
    match segments.as_slice() {
        ["version"] => doc(Some(resources::version())),
        ["api"] => doc(Some(resources::api_versions(&shared.addr.to_string()))),
        ["apis"] => doc(Some(shared.read(resources::group_list))),
        ["api", version] => doc(shared.read(|s| resources::resource_list(s, "", version))),
        ["apis", group] => doc(shared.read(|s| resources::group(s, group))),
        ["apis", group, version] => doc(shared.read(|s| resources::resource_list(s, group, version))),
        ["api", version, rest @ ..] => resource(shared, ctx, "", version, rest),
        ["apis", group, version, rest @ ..] => resource(shared, ctx, group, version, rest),
        _ => Err(ApiError::no_route()),
    }
}

fn resource(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let (namespace, plural, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if *plural != "status" && *plural != "finalize" => {
            (Some(*ns), *plural, tail)
        }
        [plural, tail @ ..] => (None, *plural, tail),
        [] => return Err(ApiError::no_route()),
    };
    let (name, sub) = match tail {
        [] => (None, None),
        [name] => (Some(*name), None),
        [name, "status"] => (Some(*name), Some("status")),
        _ => return Err(ApiError::no_route()),
    };
    let kind = shared.read(|s| resources::resolve(s, group, version, plural)).ok_or_else(ApiError::no_route)?;
    if (namespace.is_some() && !kind.namespaced)
        || (namespace.is_none() && kind.namespaced && name.is_some())
        || (sub.is_some() && !kind.status)
    {
        return Err(ApiError::no_route());
    }
    let ns = namespace.unwrap_or_default();
    let scope = if sub.is_some() { Scope::Status } else { Scope::Main };
    let manager = ctx.manager();
    let opts =
        WriteOpts { manager: &manager, dry_run: ctx.dry_run(), force: ctx.param("force") == Some("true"), scope };
    let present = |v: Value| present(v, &kind);
    match (name, &ctx.method) {
        (None, &Method::GET) => {
            if matches!(ctx.param("watch"), Some("true" | "1")) {
                watch(shared, ctx, &kind, namespace)
            } else {
                let list = shared.read(|s| list(s, ctx, &kind, namespace))?;
                Ok(json_response(200, &list))
            }
        }
        (None, &Method::POST) if namespace.is_some() || !kind.namespaced => {
            let body = ctx.json_body()?;
            let obj = shared.write(|s| writes::create(s, &kind, ns, body, opts))?;
            Ok(json_response(201, &present(obj)))
        }
        (None, &Method::DELETE) => {
            let victims: Vec<(String, String)> = shared.read(|s| list(s, ctx, &kind, namespace))?["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| {
                    let field = |f: &str| o["metadata"][f].as_str().unwrap_or_default().to_string();
                    (field("namespace"), field("name"))
                })
                .collect();
            let policy = delete_options(ctx)?.0;
            for (victim_ns, victim) in victims {
                // Gone in the meantime (GC, another client) is what the caller wanted anyway.
                let _ = shared.write(|s| writes::delete(s, &kind, &victim_ns, &victim, policy, opts.dry_run));
            }
            Ok(json_response(200, &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})))
        }
        (Some(name), &Method::GET) => {
            let key = writes::key(&kind, ns, name);
            let obj = shared.read(|s| s.get(&key).map(|o| o.obj.clone()));
            obj.map(|o| json_response(200, &present(o)))
                .ok_or_else(|| ApiError::not_found(&kind.group, &kind.plural, name))
        }
        (Some(name), &Method::PUT) => {
            let body = ctx.json_body()?;
            let obj = shared.write(|s| writes::replace(s, &kind, ns, name, body, opts))?;
            Ok(json_response(200, &present(obj)))
        }
        (Some(name), &Method::PATCH) => {
            let content_type = ctx.req.content_type.as_deref().unwrap_or_default();
            let patch_type = match content_type.split(';').next().unwrap_or_default().trim() {
                "application/apply-patch+yaml" => PatchType::Apply,
                "application/merge-patch+json" => PatchType::Merge,
                "application/json-patch+json" => PatchType::Json,
                "application/strategic-merge-patch+json" => PatchType::Strategic,
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            if patch_type == PatchType::Apply && ctx.param("fieldManager").is_none_or(str::is_empty) {
                return Err(ApiError::bad_request(
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                ));
            }
            let body = ctx.json_body()?;
            let (code, obj) = shared.write(|s| writes::patch(s, &kind, ns, name, patch_type, body, opts))?;
            Ok(json_response(code, &present(obj)))
        }
        (Some(name), &Method::DELETE) if sub.is_none() => {
            let (policy, dry_run) = delete_options(ctx)?;
            let out = shared.write(|s| writes::delete(s, &kind, ns, name, policy, dry_run))?;
            let out = if out["kind"] == "Status" { out } else { present(out) };
            Ok(json_response(200, &out))
        }
        (_, method) => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

/// DeleteOptions from the body (what kube-rs sends) or the query.
fn delete_options(ctx: &Ctx) -> Result<(Propagation, bool), ApiError> {
    let body = if ctx.raw_body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { ctx.json_body()? };
    let policy = body["propagationPolicy"].as_str().or_else(|| ctx.param("propagationPolicy"));
    let policy = match policy {
        None | Some("") | Some("Background") => {
            if body["orphanDependents"] == true || ctx.param("orphanDependents") == Some("true") {
                Propagation::Orphan
            } else {
                Propagation::Background
            }
        }
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let dry_run = ctx.dry_run() || body["dryRun"].as_array().is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok((policy, dry_run))
}

/// The object as served at the requested version.
fn present(mut obj: Value, kind: &Kind) -> Value {
    if obj.is_object() {
        obj["apiVersion"] = json!(kind.api_version());
    }
    obj
}

/// What a list or watch selects.
struct Filter {
    kind: Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn new(ctx: &Ctx, kind: &Kind, namespace: Option<&str>) -> Result<Filter, ApiError> {
        Ok(Filter {
            kind: kind.clone(),
            namespace: namespace.map(str::to_string),
            labels: LabelSelector::parse(ctx.param("labelSelector").unwrap_or_default())?,
            fields: FieldSelector::parse(ctx.param("fieldSelector").unwrap_or_default())?,
        })
    }

    fn matches(&self, obj: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| obj["metadata"]["namespace"] == ns)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }

    /// The event a watcher with this filter sees for `ev`, if any: a change across the selector's
    /// boundary is an ADDED or DELETED, as with the real server.
    fn translate<'a>(&self, ev: &'a Event) -> Option<(&'static str, &'a Value)> {
        if ev.key.group != self.kind.group || ev.key.kind != self.kind.kind {
            return None;
        }
        let now = self.matches(&ev.object);
        let before = ev.previous.as_ref().is_some_and(|p| self.matches(p));
        let kind = match (ev.kind, before, now) {
            ("ADDED", _, true) => "ADDED",
            ("MODIFIED", true, true) => "MODIFIED",
            ("MODIFIED", false, true) => "ADDED",
            ("MODIFIED", true, false) => "DELETED",
            ("DELETED", b, n) if b || n => "DELETED",
            _ => return None,
        };
        Some((kind, &ev.object))
    }
}

fn list(store: &Store, ctx: &Ctx, kind: &Kind, namespace: Option<&str>) -> Result<Value, ApiError> {
    let filter = Filter::new(ctx, kind, namespace)?;
    let limit = match ctx.param("limit") {
        None | Some("") => 0,
        Some(l) => l.parse::<usize>().map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
    };
    let after = match ctx.param("continue") {
        None | Some("") => None,
        Some(token) => {
            let (ns, name) = token.split_once('/').ok_or_else(|| ApiError::bad_request("continue key is not valid"))?;
            Some((ns.to_string(), name.to_string()))
        }
    };
    let mut matching = store
        .list_kind(&kind.group, &kind.kind)
        .map(|s| &s.obj)
        .filter(|o| {
            after.as_ref().is_none_or(|(ns, name)| {
                let key = (
                    o["metadata"]["namespace"].as_str().unwrap_or_default(),
                    o["metadata"]["name"].as_str().unwrap_or_default(),
                );
                key > (ns.as_str(), name.as_str())
            })
        })
        .filter(|o| filter.matches(o));
    let mut items = Vec::new();
    let mut metadata = json!({"resourceVersion": store.rv.to_string()});
    for obj in matching.by_ref() {
        if limit > 0 && items.len() == limit {
            let remaining = 1 + matching.count();
            let last: &Value = items.last().unwrap_or(&Value::Null);
            metadata["continue"] = json!(format!(
                "{}/{}",
                last["metadata"]["namespace"].as_str().unwrap_or_default(),
                last["metadata"]["name"].as_str().unwrap_or_default()
            ));
            metadata["remainingItemCount"] = json!(remaining);
            break;
        }
        let mut item = present(obj.clone(), kind);
        // The real server leaves apiVersion/kind off built-in list items but keeps them on custom resources.
        if kind.builtin
            && let Some(m) = item.as_object_mut()
        {
            m.remove("apiVersion");
            m.remove("kind");
        }
        items.push(item);
    }
    Ok(
        json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(), "metadata": metadata, "items": items}),
    )
}

fn event_line(kind: &str, obj: Value) -> Bytes {
    let mut line = json!({"type": kind, "object": obj}).to_string();
    line.push('\n');
    Bytes::from(line)
}

struct WatchState {
    shared: Arc<Shared>,
    changes: tokio::sync::watch::Receiver<u64>,
    filter: Filter,
    last: u64,
    pending: VecDeque<Bytes>,
    deadline: Option<tokio::time::Instant>,
    bookmarks: bool,
    done: bool,
}

fn expired(rv: u64, compacted: u64) -> Bytes {
    let message = format!("too old resource version: {rv} ({})", compacted + 1);
    event_line("ERROR", ApiError::expired(message).to_status())
}

fn bookmark(kind: &Kind, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line("BOOKMARK", json!({"kind": kind.kind, "apiVersion": kind.api_version(), "metadata": metadata}))
}

fn watch(shared: &Arc<Shared>, ctx: &Ctx, kind: &Kind, namespace: Option<&str>) -> Result<Response<Body>, ApiError> {
    let filter = Filter::new(ctx, kind, namespace)?;
    let timeout = match ctx.param("timeoutSeconds") {
        None | Some("") => None,
        Some(t) => Some(t.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?),
    };
    let rv = ctx.param("resourceVersion").unwrap_or_default();
    let send_initial = ctx.param("sendInitialEvents") == Some("true");
    let mut changes = shared.changes.subscribe();
    changes.borrow_and_update();
    let mut pending = VecDeque::new();
    let mut done = false;
    let last = shared.read(|store| -> Result<u64, ApiError> {
        if rv.is_empty() || rv == "0" || send_initial {
            for obj in store.list_kind(&kind.group, &kind.kind).map(|s| &s.obj).filter(|o| filter.matches(o)) {
                pending.push_back(event_line("ADDED", present(obj.clone(), kind)));
            }
            if send_initial {
                pending.push_back(bookmark(kind, store.rv, true));
            }
            return Ok(store.rv);
        }
        let rv: u64 = rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
        if rv < store.compacted {
            pending.push_back(expired(rv, store.compacted));
            done = true;
        }
        Ok(rv)
    })?;
    let state = WatchState {
        shared: shared.clone(),
        changes,
        filter,
        last,
        pending,
        deadline: timeout.map(|t| tokio::time::Instant::now() + std::time::Duration::from_secs(t)),
        bookmarks: ctx.param("allowWatchBookmarks") == Some("true"),
        done,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(line) = st.pending.pop_front() {
                return Some((line, st));
            }
            if st.done {
                return None;
            }
            // Mark changes seen before reading the store, so a write landing after the read still wakes us.
            st.changes.borrow_and_update();
            st.shared.read(|store| {
                if st.last < store.compacted {
                    st.pending.push_back(expired(st.last, store.compacted));
                    st.done = true;
                    return;
                }
                for ev in store.events_after(st.last) {
                    if let Some((kind, obj)) = st.filter.translate(ev) {
                        st.pending.push_back(event_line(kind, present(obj.clone(), &st.filter.kind)));
                    }
                }
                st.last = store.rv;
            });
            if !st.pending.is_empty() {
                continue;
            }
            let deadline = st.deadline;
            let timed_out = tokio::select! {
                changed = st.changes.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                    false
                }
                _ = async move {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => true,
            };
            if timed_out {
                if st.bookmarks {
                    st.pending.push_back(bookmark(&st.filter.kind, st.last, false));
                }
                st.done = true;
            }
        }
    });
    let body = StreamBody::new(stream.map(|b| Ok::<_, Infallible>(Frame::data(b))));
    let mut resp = Response::new(body.boxed_unsync());
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch&x=%zz"),
            vec![
                ("labelSelector".into(), "app=web,tier in (a)".into()),
                ("watch".into(), String::new()),
                ("x".into(), "%zz".into())
            ]
        );
        assert_eq!(decode("%4"), "%4");
    }
}
