//! An in-process Kubernetes API server stand-in, for testing code that talks to Kubernetes through
//! kube-rs's real client over real HTTP.
//!
//! [`ApiServer::start`] listens on `127.0.0.1:<random port>` from its own thread and tokio runtime, so
//! sync tests, async tests and child processes (through [`ApiServer::kubeconfig`]) can all use it. It
//! speaks the Kubernetes REST protocol in JSON: discovery, get/list/watch/create/replace/patch/delete,
//! server-side apply with field ownership, dry runs, label/field selectors, pagination, garbage
//! collection, and a few controllers that fill in `status` so health checks see a live cluster.
//!
//! ```no_run
//! use gitops_standin::ApiServer;
//!
//! let server = ApiServer::start();
//! server.insert(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}), "seed");
//! let dir = tempfile::tempdir().unwrap();
//! let kubeconfig = dir.path().join("kubeconfig");
//! std::fs::write(&kubeconfig, server.kubeconfig("standin", "demo")).unwrap();
//! // ... run the code under test with KUBECONFIG=kubeconfig, then inspect:
//! assert!(server.get("v1", "Namespace", "", "demo").is_some());
//! println!("{} requests", server.requests().len());
//! ```
//!
//! # Test knobs
//!
//! Annotations on objects steer the controllers and admission:
//! - [`REJECT_ANNOTATION`] (`standin.gitops.dev/reject: "<text>"`), on any object: the write is refused
//!   with `422 Invalid` and a message containing the text.
//! - [`FAIL_ANNOTATION`] (`standin.gitops.dev/fail: "true"`), on a Job: it fails (condition `Failed`,
//!   reason `BackoffLimitExceeded`, `status.failed: 1`).
//! - [`UNHEALTHY_ANNOTATION`] (`standin.gitops.dev/unhealthy: "true"`), on a Deployment, StatefulSet,
//!   DaemonSet, ReplicaSet or Pod: it never becomes ready (`Progressing` False with reason
//!   `ProgressDeadlineExceeded`; Pods stay not Ready).
//!
//! Admission knows one immutable field: a Deployment's `spec.selector` cannot change (`422
//! Invalid`, `spec.selector: Invalid value: ...: field is immutable`, as the real server says).
//!
//! # Simplifications
//!
//! Field ownership treats lists as atomic leaves (no associative list keys); strategic merge patch is a
//! JSON merge patch; apply bodies must be JSON (which is YAML); no conversion between CRD versions (an
//! object is served at whatever version is asked for); no schema validation or defaulting; pagination
//! reads the current state rather than a snapshot.
//!
//! # Checked against the real thing
//!
//! [`testenv`] starts a real `kube-apiserver`, `kube-controller-manager` and etcd (built from
//! Kubernetes' Go modules by `tools/k8s-testenv/build.sh`); `gitops-kube/tests/apiserver.rs` runs
//! the stand-in suite's ground against it. Where the two disagreed, the stand-in was brought in
//! line or the difference is listed here:
//! - A delete with `propagationPolicy: Orphan` holds the owner (deletion timestamp, finalizer
//!   `orphan`) until the garbage collector has removed it from its dependents' ownerReferences;
//!   the stand-in once did that at once and removed the owner in the same request. It now keeps
//!   the finalizer until its collector runs, as `Foreground` keeps `foregroundDeletion`.
//! - Wrongly typed fields are refused by the real server (a container `name: n`, which YAML 1.1
//!   reads as `false`: "cannot unmarshal bool into Go struct field Container...name of type
//!   string"); the stand-in, without schemas, stores them.
//! - Controllers: the real controller manager makes ReplicaSets and Pods, but without a kubelet
//!   no Pod runs, so Deployments stay Progressing and Jobs never finish (the harness marks Pods
//!   run only in namespaces labelled `k8s-testenv.gitops.dev/kubelet: "true"`); the stand-in's
//!   controllers write ready status themselves.

mod apply;
mod controllers;
mod http;
mod patch;
pub mod prometheus;
pub mod registry;
mod resources;
mod selector;
mod status;
mod store;
pub mod testenv;
mod writes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot, watch};

pub use controllers::{FAIL_ANNOTATION, UNHEALTHY_ANNOTATION};
pub use writes::REJECT_ANNOTATION;

use store::{Key, Store};

/// One HTTP request the server received, for assertions on what a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// The URL path, e.g. `/apis/apps/v1/namespaces/demo/deployments/web`.
    pub path: String,
    /// Query parameters in order, percent-decoded.
    pub query: Vec<(String, String)>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl Request {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// State shared by the HTTP handlers, the controllers and the [`ApiServer`] handle.
pub(crate) struct Shared {
    store: Mutex<Store>,
    requests: Mutex<Vec<Request>>,
    /// The latest resourceVersion, for watches to wait on.
    changes: watch::Sender<u64>,
    /// Wakes the controllers when something was written.
    wake: Notify,
    addr: SocketAddr,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the server down with poisoned locks.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&lock(&self.store))
    }

    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let (result, changed) = {
            let mut store = lock(&self.store);
            let before = (store.rv, store.next_due());
            let result = f(&mut store);
            (result, (store.rv != before.0 || store.next_due() != before.1).then_some(store.rv))
        };
        if let Some(rv) = changed {
            self.changes.send_replace(rv);
            self.wake.notify_one();
        }
        result
    }

    pub(crate) fn log(&self, request: Request) {
        lock(&self.requests).push(request);
    }
}

/// Configures an [`ApiServer`] before starting it.
#[derive(Debug, Clone)]
pub struct Builder {
    controller_delay: Duration,
    history_limit: usize,
}

impl Builder {
    /// How long controllers and the garbage collector wait after a change before reacting (default 100 ms).
    pub fn controller_delay(mut self, delay: Duration) -> Builder {
        self.controller_delay = delay;
        self
    }

    /// How many events watches can resume from (default 10 000); older resourceVersions get `410 Expired`.
    pub fn history_limit(mut self, events: usize) -> Builder {
        self.history_limit = events;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on a thread of its own.
    ///
    /// # Panics
    /// If the loopback port or the thread cannot be had.
    pub fn start(self) -> ApiServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(self.controller_delay, self.history_limit)),
            requests: Mutex::new(Vec::new()),
            changes: watch::Sender::new(1),
            wake: Notify::new(),
            addr,
        });
        let (shutdown, shutdown_rx) = oneshot::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("gitops-standin-{}", addr.port()))
            .spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
                runtime.block_on(serve(thread_shared, listener, shutdown_rx));
            })
            .expect("spawn the API server thread");
        ApiServer { shared, shutdown: Some(shutdown), thread: Some(thread) }
    }
}

async fn serve(shared: Arc<Shared>, listener: std::net::TcpListener, mut shutdown: oneshot::Receiver<()>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    let controllers = run_controllers(shared.clone());
    tokio::pin!(controllers);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            () = &mut controllers => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| http::handle(shared.clone(), req));
                    // A client hanging up mid-request is its business, not an error of the server.
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}

async fn run_controllers(shared: Arc<Shared>) {
    loop {
        match shared.read(Store::next_due) {
            Some(due) => {
                tokio::select! {
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => {}
                    () = shared.wake.notified() => continue,
                }
            }
            None => {
                shared.wake.notified().await;
                continue;
            }
        }
        shared.write(|s| controllers::run_due(s, std::time::Instant::now()));
    }
}

/// A running API server stand-in; dropping it stops the server.
pub struct ApiServer {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").field("url", &self.url()).finish()
    }
}

impl ApiServer {
    /// Starts a server with default settings; see [`Builder::start`].
    pub fn start() -> ApiServer {
        ApiServer::builder().start()
    }

    /// A builder for non-default settings.
    pub fn builder() -> Builder {
        Builder { controller_delay: Duration::from_millis(100), history_limit: 10_000 }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// Kubeconfig YAML with one cluster, one user (token `standin`) and one context named `context`,
    /// whose default namespace is `namespace`; it is the current context.
    pub fn kubeconfig(&self, context: &str, namespace: &str) -> String {
        // JSON strings are valid YAML scalars, so quoting through serde_json is safe for any name.
        let q = |s: &str| Value::from(s).to_string();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: {url}\n\
             users:\n- name: standin\n  user:\n    token: standin\ncontexts:\n- name: {ctx}\n  context:\n    \
             cluster: standin\n    user: standin\n    namespace: {ns}\ncurrent-context: {ctx}\npreferences: {{}}\n",
            url = q(&self.url()),
            ctx = q(context),
            ns = q(namespace),
        )
    }

    /// Every stored object, as a GET at its stored version would return it, ordered by group, kind,
    /// namespace and name.
    pub fn objects(&self) -> Vec<Value> {
        self.shared.read(|s| s.objects.values().map(|o| o.obj.clone()).collect())
    }

    /// One object (`namespace` is ignored for cluster-scoped kinds; pass `""`).
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        self.shared.read(|s| {
            let namespaced = resources::by_group_kind(s, group, kind).is_none_or(|k| k.namespaced);
            let key = Key {
                group: group.to_string(),
                kind: kind.to_string(),
                namespace: if namespaced { namespace.to_string() } else { String::new() },
                name: name.to_string(),
            };
            s.get(&key).map(|o| {
                let mut obj = o.obj.clone();
                obj["apiVersion"] = json!(api_version);
                obj
            })
        })
    }

    /// Seeds an object as if `manager` had created (or updated) it with an Update operation, skipping
    /// the namespace-exists check; a `status` in `obj` is written too. Returns the object as stored.
    ///
    /// # Panics
    /// If the kind is not served or the object is refused (e.g. the reject knob): seeding is test setup.
    pub fn insert(&self, obj: Value, manager: &str) -> Value {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind_name = obj["kind"].as_str().unwrap_or_default().to_string();
        self.shared.write(|s| {
            let kind = resources::by_kind(s, &api_version, &kind_name)
                .unwrap_or_else(|| panic!("the stand-in does not serve {api_version} {kind_name}"));
            writes::upsert(s, &kind, obj, manager).unwrap_or_else(|e| panic!("insert refused: {e}"))
        })
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the logged requests, to assert on what a later step sends.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.read(|s| s.rv)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
