//! `KubeCluster`: a Kubernetes API server, through kube-rs.
//!
//! Objects travel as raw JSON (`serde_json::Value`) so that nothing the server returns is
//! reshaped by typed metadata on the way to the diff. Discovery runs once and is cached; it runs
//! again (at most once a second) when a kind is not found, because a CRD applied by this very
//! sync becomes served only once established. Waits use watches on the objects waited for,
//! from the resourceVersion last seen, so no change between a read and the watch is missed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use gitops_core::app::{AppKind, AppSpec};
use gitops_core::fleet::cluster::RegisteredCluster;
use gitops_core::sync::options::Propagation;
use gitops_core::{Object, Origin, ResourceKey};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind, Request, Resource as _, WatchEvent};
use kube::discovery::{ApiCapabilities, Scope, verbs};
use kube::{Client, Config, Discovery};
use serde_json::Value;

use crate::client_side;
use crate::cluster::{Applied, ApplyMode, Cluster, Error, FIELD_MANAGER, Resource};

/// How often discovery may run again when a kind is not found.
const REDISCOVER_AFTER: Duration = Duration::from_secs(1);
/// Objects asked for per list page.
const PAGE: u32 = 500;
/// Objects watched at once while waiting.
const WATCHES: usize = 16;
/// Lists run at once when the whole cluster is listed.
const PARALLEL_LISTS: usize = 8;

/// What discovery found, and when.
type Discovered = (Instant, Arc<Discovery>);

/// A Kubernetes cluster reached through kube-rs. A clone shares the connection and what
/// discovery found.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    /// The configuration it connected with (to connect again as another user).
    config: Option<Arc<kube::Config>>,
    /// Writes go through this client when set: one impersonating the service account a sync
    /// runs as (Argo CD's sync impersonation); reads stay the controller's.
    writer: Option<Client>,
    /// The user writes impersonate, for messages.
    impersonating: Option<String>,
    name: String,
    /// The API server's URL, named in transport errors (empty when unknown).
    server: String,
    /// `cluster NAME (SERVER)` for a cluster registered with Argo CD: what `describe` and
    /// transport errors name it by.
    registered: Option<String>,
    /// Shared by the clones: apps of a fleet on one cluster discover its kinds once.
    discovery: Arc<tokio::sync::Mutex<Option<Discovered>>>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster").field("name", &self.name).finish_non_exhaustive()
    }
}

fn config_error(what: impl std::fmt::Display) -> Error {
    Error::Config(what.to_string())
}

/// An error from reading or using a kubeconfig, told without its contents: a kubeconfig holds
/// tokens and keys, and kube-rs's parser quotes the lines around a syntax error. What is kept:
/// the file, the line and column, and the parser's reason with every quoted part dropped.
fn kubeconfig_error(path: Option<&Path>, e: impl std::fmt::Display) -> Error {
    let reason = crate::registered::redact(&e);
    let file = path.map_or_else(|| "kubeconfig".to_string(), |p| p.display().to_string());
    Error::Config(format!("{file}: {reason} (contents not shown: a kubeconfig holds credentials)"))
}

/// Reads the kubeconfig at `path` (else the default one), with errors that never quote it.
fn read_kubeconfig(path: Option<&Path>) -> Result<Kubeconfig, Error> {
    match path {
        Some(p) => Kubeconfig::read_from(p).map_err(|e| kubeconfig_error(Some(p), e)),
        None => Kubeconfig::read().map_err(|e| kubeconfig_error(None, e)),
    }
}

impl KubeCluster {
    /// Connects as kubectl would: the kubeconfig at `kubeconfig` (else `$KUBECONFIG`, else
    /// `~/.kube/config`, else the in-cluster service account), at `context` (else the current one).
    pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<KubeCluster, Error> {
        let options = KubeConfigOptions { context: context.map(str::to_string), ..KubeConfigOptions::default() };
        let (config, name) = match kubeconfig {
            Some(path) => {
                let file = read_kubeconfig(Some(path))?;
                let name = options.context.clone().or_else(|| file.current_context.clone()).unwrap_or_default();
                let config = Config::from_custom_kubeconfig(file, &options).await;
                (config.map_err(|e| kubeconfig_error(Some(path), e))?, name)
            }
            None if context.is_some() => {
                let config = Config::from_kubeconfig(&options).await.map_err(|e| kubeconfig_error(None, e))?;
                (config, context.unwrap_or("").to_string())
            }
            None => {
                let name =
                    Kubeconfig::read().ok().and_then(|k| k.current_context).unwrap_or_else(|| "in-cluster".into());
                (Config::infer().await.map_err(|e| kubeconfig_error(None, e))?, name)
            }
        };
        let server = config.cluster_url.to_string();
        let kept = Some(Arc::new(config.clone()));
        // Credentials are decoded only now: errors here may quote them too.
        let client = Client::try_from(config).map_err(|e| kubeconfig_error(kubeconfig, e))?;
        Ok(KubeCluster { server, config: kept, ..KubeCluster::from_client(client, &name) })
    }

    /// Connects with the kubeconfig `text` at its current context, as Flux connects with a
    /// Kustomization's `spec.kubeConfig` Secret; `name` says where it came from (errors name it,
    /// never quote the text).
    pub async fn connect_kubeconfig_text(text: &str, name: &str) -> Result<KubeCluster, Error> {
        let shown = Path::new(name);
        let file = Kubeconfig::from_yaml(text).map_err(|e| kubeconfig_error(Some(shown), e))?;
        let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
            .await
            .map_err(|e| kubeconfig_error(Some(shown), e))?;
        let server = config.cluster_url.to_string();
        let kept = Some(Arc::new(config.clone()));
        let client = Client::try_from(config).map_err(|e| kubeconfig_error(Some(shown), e))?;
        Ok(KubeCluster { server, config: kept, ..KubeCluster::from_client(client, name) })
    }

    /// The context [`KubeCluster::connect`] would use, without connecting: `context`, else the
    /// kubeconfig's current context, else `in-cluster` when there is no kubeconfig.
    pub fn context_name(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<String, Error> {
        if let Some(c) = context {
            return Ok(c.to_string());
        }
        let file = match kubeconfig {
            Some(path) => read_kubeconfig(Some(path))?,
            None => match Kubeconfig::read() {
                Ok(k) => k,
                Err(_) => return Ok("in-cluster".into()),
            },
        };
        file.current_context.ok_or_else(|| config_error("the kubeconfig names no current-context; pass kube:CONTEXT"))
    }

    /// The context that reaches an Argo CD Application's destination: the context called
    /// `name` (`spec.destination.name`), else the one whose cluster's server is `server`
    /// (`spec.destination.server`); `None` for neither, or for `https://kubernetes.default.svc`
    /// (the cluster Argo CD runs in: the current context here).
    pub fn context_for_destination(
        kubeconfig: Option<&Path>,
        name: Option<&str>,
        server: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let server = server.filter(|s| s.trim_end_matches('/') != "https://kubernetes.default.svc");
        if name.is_none() && server.is_none() {
            return Ok(None);
        }
        let file = match kubeconfig {
            Some(path) => read_kubeconfig(Some(path))?,
            None => read_kubeconfig(None)?,
        };
        if let Some(name) = name {
            return match file.contexts.iter().find(|c| c.name == name) {
                Some(c) => Ok(Some(c.name.clone())),
                None => Err(config_error(format!(
                    "spec.destination.name `{name}` is not a context of the kubeconfig; pass --target kube:CONTEXT"
                ))),
            };
        }
        let server = server.unwrap_or_default().trim_end_matches('/');
        let cluster = file.clusters.iter().find(|c| {
            c.cluster.as_ref().and_then(|c| c.server.as_deref()).map(|s| s.trim_end_matches('/')) == Some(server)
        });
        let context = cluster
            .and_then(|cl| file.contexts.iter().find(|c| c.context.as_ref().is_some_and(|ctx| ctx.cluster == cl.name)));
        context.map(|c| Some(c.name.clone())).ok_or_else(|| {
            config_error(format!(
                "no kubeconfig context reaches spec.destination.server `{server}`; pass --target kube:CONTEXT"
            ))
        })
    }

    /// Connects to a cluster registered with Argo CD (a cluster Secret), with the server, TLS
    /// settings and credentials its `config` gives, as Argo CD's `RESTConfig()` reads them
    /// ([`crate::registered`] says how each field is used). Discovery runs at the first use and
    /// is cached, as for [`KubeCluster::connect`]. [`Cluster::describe`] and transport errors
    /// name it `cluster NAME (SERVER)`; no error shows a token, password or key.
    pub async fn connect_registered(cluster: &RegisteredCluster) -> Result<KubeCluster, Error> {
        let described = crate::registered::describe(cluster);
        let config = crate::registered::config_for(cluster).await.map_err(|e| Error::Config(e.to_string()))?;
        let server = config.cluster_url.to_string();
        let kept = Some(Arc::new(config.clone()));
        // Keys and certificates are decoded only now: the reason is told without its quotes.
        let client = Client::try_from(config).map_err(|e| {
            Error::Config(format!(
                "{described}: config.tlsClientConfig (certData, keyData) or the exec plugin cannot be used: {}",
                crate::registered::redact(&causes(&e))
            ))
        })?;
        Ok(KubeCluster {
            server,
            registered: Some(described),
            config: kept,
            ..KubeCluster::from_client(client, &cluster.name)
        })
    }

    /// A cluster reached through `client`, named `name` in output.
    pub fn from_client(client: Client, name: &str) -> KubeCluster {
        KubeCluster {
            client,
            config: None,
            writer: None,
            impersonating: None,
            name: name.to_string(),
            server: String::new(),
            registered: None,
            discovery: Arc::default(),
        }
    }

    /// This cluster, its writes impersonating `user` (`system:serviceaccount:NS:NAME`, as
    /// Argo CD's sync impersonation sets `Impersonate-User`): the API server then authorizes
    /// every apply and delete as that user, while reads (and discovery, shared) stay the
    /// connection's own.
    pub fn impersonating(&self, user: &str) -> Result<KubeCluster, Error> {
        let config = self.config.as_deref().ok_or_else(|| {
            config_error(format!(
                "{}: cannot impersonate {user}: the connection's configuration is not kept",
                self.name
            ))
        })?;
        let mut config = config.clone();
        config.auth_info.impersonate = Some(user.to_string());
        let writer = Client::try_from(config).map_err(|e| config_error(format!("impersonating {user}: {e}")))?;
        Ok(KubeCluster { writer: Some(writer), impersonating: Some(user.to_string()), ..self.clone() })
    }

    /// The user writes impersonate, if any.
    pub fn impersonated(&self) -> Option<&str> {
        self.impersonating.as_deref()
    }

    /// The client writes go through.
    fn writer(&self) -> &Client {
        self.writer.as_ref().unwrap_or(&self.client)
    }

    /// The kube-rs client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The cached discovery; run again when `stale` and the last run is older than a second.
    async fn discovery(&self, stale: bool) -> Result<Arc<Discovery>, Error> {
        let mut cached = self.discovery.lock().await;
        if let Some((at, d)) = cached.as_ref()
            && (!stale || at.elapsed() < REDISCOVER_AFTER)
        {
            return Ok(d.clone());
        }
        let d = Discovery::new(self.client.clone()).run().await.map_err(|e| self.transport("discovery", &e))?;
        let d = Arc::new(d);
        *cached = Some((Instant::now(), d.clone()));
        Ok(d)
    }

    /// The API of an exact apiVersion and kind.
    async fn resolve(&self, api_version: &str, kind: &str) -> Result<Option<(ApiResource, ApiCapabilities)>, Error> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        for stale in [false, true] {
            if let Some(found) = self.discovery(stale).await?.resolve_gvk(&gvk) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The preferred API of a group and kind (a key carries no version). A key the API server
    /// would refuse is refused here, before its parts become a URL path.
    async fn resolve_key(&self, key: &ResourceKey) -> Result<Option<(ApiResource, ApiCapabilities)>, Error> {
        check_identity(key, None)?;
        for stale in [false, true] {
            let d = self.discovery(stale).await?;
            if let Some(found) = d.get(&key.group).and_then(|g| g.recommended_kind(&key.kind)) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn request(ar: &ApiResource, caps: &ApiCapabilities, namespace: &str) -> Request {
        let ns = (caps.scope == Scope::Namespaced && !namespace.is_empty()).then_some(namespace);
        Request::new(DynamicObject::url_path(ar, ns))
    }

    /// The object as the engine holds it: the server leaves apiVersion and kind out of list items.
    fn object(&self, mut value: Value, ar: &ApiResource) -> Object {
        if let Value::Object(map) = &mut value {
            map.entry("apiVersion").or_insert_with(|| ar.api_version.clone().into());
            map.entry("kind").or_insert_with(|| ar.kind.clone().into());
        }
        Object::new(value, Origin::inline(&format!("kube:{}", self.name)))
    }

    async fn get_raw(
        &self,
        ar: &ApiResource,
        caps: &ApiCapabilities,
        key: &ResourceKey,
    ) -> Result<Option<Value>, Error> {
        let req = Self::request(ar, caps, &key.namespace).get(&key.name, &Default::default()).map_err(build(key))?;
        match self.client.request::<Value>(req).await {
            Ok(v) => Ok(Some(v)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(api_error(&key.to_string(), e)),
        }
    }

    /// Removes `finalizers` from the object at `key`, as the controller that owns them does once
    /// its cleanup is done (the object then goes, if it was being deleted). The write carries
    /// the resourceVersion read, so a finalizer another controller added meanwhile is not lost
    /// (a conflict is an error; the next pass tries again). Returns whether anything was removed.
    pub async fn remove_finalizers(&self, key: &ResourceKey, finalizers: &[String]) -> Result<bool, Error> {
        let Some((ar, caps)) = self.resolve_key(key).await? else { return Ok(false) };
        let Some(live) = self.get_raw(&ar, &caps, key).await? else { return Ok(false) };
        let current: Vec<&str> = live
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|f| f.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let kept: Vec<&str> = current.iter().copied().filter(|f| !finalizers.iter().any(|r| r == f)).collect();
        if kept.len() == current.len() {
            return Ok(false);
        }
        let version = live.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
        let patch = serde_json::json!({"metadata": {"finalizers": kept, "resourceVersion": version}});
        let name = key.to_string();
        let req = Self::request(&ar, &caps, &key.namespace)
            .patch(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .map_err(build(&name))?;
        let _: Value = self.writer().request(req).await.map_err(|e| api_error(&name, e))?;
        Ok(true)
    }

    /// Merge-patches the object at `key` (as `kubectl patch --type=merge`, as field manager
    /// `gitops`): `flux suspend`'s `spec.suspend`, say. Returns false when there is no such object.
    pub async fn merge_patch(&self, key: &ResourceKey, patch: &Value) -> Result<bool, Error> {
        let Some((ar, caps)) = self.resolve_key(key).await? else { return Ok(false) };
        let name = key.to_string();
        let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        let req = Self::request(&ar, &caps, &key.namespace)
            .patch(&key.name, &pp, &Patch::Merge(patch))
            .map_err(build(&name))?;
        match self.writer().request::<Value>(req).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(api_error(&name, e)),
        }
    }

    /// Writes `status` into the status subresource of the object at `key` (a controller's
    /// report on a custom resource it owns: an Application's or a Kustomization's status).
    /// Returns false when there is no such object or kind.
    pub async fn patch_status(&self, key: &ResourceKey, status: &Value) -> Result<bool, Error> {
        let Some((ar, caps)) = self.resolve_key(key).await? else { return Ok(false) };
        let name = key.to_string();
        let patch = serde_json::json!({"status": status});
        let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        let req = Self::request(&ar, &caps, &key.namespace)
            .patch_subresource("status", &key.name, &pp, &Patch::Merge(&patch))
            .map_err(build(&name))?;
        match self.writer().request::<Value>(req).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(api_error(&name, e)),
        }
    }

    /// Every object of `kind` in `api_version` (in every namespace, or in `namespace`),
    /// optionally selected by `labels`; none when the cluster does not serve the kind (a hub
    /// without Flux has no Kustomizations).
    pub async fn list_kind(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Vec<Object>, Error> {
        let Some((ar, _)) = self.resolve(api_version, kind).await? else { return Ok(Vec::new()) };
        let mut objects = self.list_all(&ar, labels).await?;
        if let Some(ns) = namespace {
            objects.retain(|o| o.namespace() == ns);
        }
        Ok(objects)
    }

    /// Every object of the resource `resource` (its plural name, as a dynamic client takes
    /// it, or its kind) in `api_version` and `namespace`: what Argo CD's clusterDecisionResource
    /// generator lists. None when the cluster does not serve it.
    pub async fn list_resource(
        &self,
        api_version: &str,
        resource: &str,
        namespace: &str,
    ) -> Result<Vec<Object>, Error> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        for stale in [false, true] {
            let d = self.discovery(stale).await?;
            let found = d.get(group).and_then(|g| {
                g.versioned_resources(version)
                    .into_iter()
                    .find(|(ar, _)| ar.plural == resource || ar.kind.eq_ignore_ascii_case(resource))
            });
            if let Some((ar, caps)) = found {
                let ns = (caps.scope == Scope::Namespaced).then_some(namespace);
                return self.list_pages(&ar, ns, None).await;
            }
        }
        Ok(Vec::new())
    }

    /// Every object of one resource (all namespaces), page by page.
    async fn list_all(&self, ar: &ApiResource, labels: Option<&str>) -> Result<Vec<Object>, Error> {
        self.list_pages(ar, None, labels).await
    }

    /// Every object of one namespaced resource in `namespace`, page by page.
    async fn list_in(&self, ar: &ApiResource, namespace: &str) -> Result<Vec<Object>, Error> {
        self.list_pages(ar, Some(namespace), None).await
    }

    async fn list_pages(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Vec<Object>, Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().limit(PAGE);
            if let Some(l) = labels {
                lp = lp.labels(l);
            }
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let req = Request::new(DynamicObject::url_path(ar, namespace)).list(&lp).map_err(build(&ar.plural))?;
            let mut page: Value =
                self.client.request(req).await.map_err(|e| api_error(&format!("list {}", ar.plural), e))?;
            if let Some(Value::Array(items)) = page.get_mut("items").map(Value::take) {
                out.extend(items.into_iter().map(|v| self.object(v, ar)));
            }
            token = page
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn write(&self, obj: &Object, mode: ApplyMode, dry_run: bool) -> Result<(Applied, Object), Error> {
        check_identity(&obj.key(""), Some(obj.api_version()))?;
        let key = obj.key("").to_string();
        let (ar, caps) = self
            .resolve(obj.api_version(), obj.kind())
            .await?
            .ok_or_else(|| Error::UnknownKind { api_version: obj.api_version().into(), kind: obj.kind().into() })?;
        let request = Self::request(&ar, &caps, obj.namespace());
        let name = obj.name();
        let failed = |e| api_error(&key, e);
        let stored = |v: Value| self.object(v, &ar);
        match mode {
            ApplyMode::ServerSide { force, take_over } => {
                if take_over
                    && !dry_run
                    && let Some(live) = self.get_raw(&ar, &caps, &obj.key("")).await?
                    && let Some(patch) = gitops_core::sync::flux::takeover_patch(&live, FIELD_MANAGER)
                {
                    // kube's typed JSON patch is tied to another json-patch version: the
                    // request is built as a merge patch and given the JSON patch's type and body.
                    let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
                    let mut req = request.patch(name, &pp, &Patch::Merge(Value::Null)).map_err(build(&key))?;
                    req.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json-patch+json"),
                    );
                    *req.body_mut() = serde_json::to_vec(&patch).map_err(|e| encode(&key, e))?;
                    let _: Value = self.writer().request(req).await.map_err(failed)?;
                }
                let mut pp = PatchParams::apply(FIELD_MANAGER);
                pp.force = force;
                pp.dry_run = dry_run;
                let req = request.patch(name, &pp, &Patch::Apply(obj.value())).map_err(build(&key))?;
                let v: Value = self.writer().request(req).await.map_err(failed)?;
                Ok((Applied::ServerSideApplied, stored(v)))
            }
            ApplyMode::ClientSide | ApplyMode::Replace => {
                let live = self.get_raw(&ar, &caps, &obj.key("")).await?;
                let pp = PostParams { dry_run, field_manager: Some(FIELD_MANAGER.into()) };
                let desired = if mode == ApplyMode::ClientSide {
                    client_side::with_last_applied(obj.value())
                } else {
                    obj.value().clone()
                };
                let Some(live) = live else {
                    let body = serde_json::to_vec(&desired).map_err(|e| encode(&key, e))?;
                    let v: Value =
                        self.writer().request(request.create(&pp, body).map_err(build(&key))?).await.map_err(failed)?;
                    return Ok((Applied::Created, stored(v)));
                };
                if mode == ApplyMode::Replace {
                    let mut desired = desired;
                    if let (Some(rv), Some(Value::Object(meta))) =
                        (live.pointer("/metadata/resourceVersion").cloned(), desired.get_mut("metadata"))
                    {
                        meta.insert("resourceVersion".into(), rv);
                    }
                    let body = serde_json::to_vec(&desired).map_err(|e| encode(&key, e))?;
                    let v: Value = self
                        .writer()
                        .request(request.replace(name, &pp, body).map_err(build(&key))?)
                        .await
                        .map_err(failed)?;
                    let applied = if same_version(&live, &v) { Applied::Unchanged } else { Applied::Configured };
                    return Ok((applied, stored(v)));
                }
                let patch = client_side::merge_patch(client_side::last_applied(&live).as_ref(), &desired, &live);
                if patch.as_object().is_some_and(|m| m.is_empty()) {
                    return Ok((Applied::Unchanged, stored(live)));
                }
                let pp = PatchParams { dry_run, field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
                let req = request.patch(name, &pp, &Patch::Merge(&patch)).map_err(build(&key))?;
                let v: Value = self.writer().request(req).await.map_err(failed)?;
                let applied = if same_version(&live, &v) { Applied::Unchanged } else { Applied::Configured };
                Ok((applied, stored(v)))
            }
        }
    }
}

/// Refuses, as the API server would (422 Invalid), an identity whose parts break its rules:
/// such parts would otherwise be pasted into a URL path (`..` segments included).
fn check_identity(key: &ResourceKey, api_version: Option<&str>) -> Result<(), Error> {
    let checked = api_version.map_or(Ok(()), gitops_core::names::check_api_version);
    checked.and_then(|()| gitops_core::names::check_key(key)).map_err(|e| Error::Refused {
        key: key.to_string(),
        message: e.to_string(),
        code: 422,
        reason: "Invalid".into(),
    })
}

fn same_version(a: &Value, b: &Value) -> bool {
    let rv = |v: &Value| v.pointer("/metadata/resourceVersion").cloned();
    rv(a).is_some() && rv(a) == rv(b)
}

impl KubeCluster {
    /// A transport error while doing `context`, naming the server and every cause down the
    /// chain (kube-rs's own text stops at "client error (Connect)").
    fn transport(&self, context: &str, e: &kube::Error) -> Error {
        let context = match (&self.registered, self.server.is_empty()) {
            (Some(described), _) => format!("{context} at {described}"),
            (None, true) => context.to_string(),
            (None, false) => format!("{context} at {}", self.server),
        };
        let message = match e {
            // kube-rs's text is the status struct; what the operator needs is which credentials.
            kube::Error::Api(s) if s.code == 401 => {
                let which = if self.registered.is_some() {
                    "the cluster secret's credentials (bearerToken, username/password, client certificate or exec plugin)"
                } else {
                    "the kubeconfig user's credentials"
                };
                format!("401 Unauthorized: the API server did not accept {which}; renew or replace them")
            }
            other => {
                let mut text = causes(other);
                if self.registered.is_some() && text.contains("invalid peer certificate") {
                    text.push_str(
                        "; the server's certificate does not verify against config.tlsClientConfig.caData (the \
                         system's roots when it is empty): fix caData or serverName",
                    );
                }
                text
            }
        };
        Error::Transport { context, message }
    }
}

/// An error and its sources, each once: `client error (Connect): tcp connect error: Connection
/// refused (os error 111)`.
pub(crate) fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn build<'a>(what: &'a (impl std::fmt::Display + ?Sized)) -> impl Fn(kube::core::request::Error) -> Error + 'a {
    move |e| Error::Transport { context: what.to_string(), message: format!("cannot build the request: {e}") }
}

fn encode(key: &str, e: serde_json::Error) -> Error {
    Error::Transport { context: key.to_string(), message: format!("cannot encode the object: {e}") }
}

/// The server's refusal in its own words; a server-side apply conflict is its own error.
fn api_error(key: &str, e: kube::Error) -> Error {
    match e {
        kube::Error::Api(s) if s.code == 409 && s.message.starts_with("Apply failed") => {
            Error::Conflict { key: key.to_string(), message: s.message.clone() }
        }
        kube::Error::Api(s) => {
            Error::Refused { key: key.to_string(), message: s.message.clone(), code: s.code, reason: s.reason.clone() }
        }
        other => Error::Transport { context: key.to_string(), message: causes(&other) },
    }
}

impl Cluster for KubeCluster {
    async fn list_labeled(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        labels: &[(&str, &str)],
    ) -> Result<Vec<Object>, Error> {
        let selector = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        self.list_kind(api_version, kind, Some(namespace), Some(&selector)).await
    }

    fn describe(&self) -> String {
        let shown = self.registered.clone().unwrap_or_else(|| format!("kube:{}", self.name));
        match &self.impersonating {
            Some(user) => format!("{shown} as {user}"),
            None => shown,
        }
    }

    fn assesses_health(&self) -> bool {
        true
    }

    async fn resource(&self, api_version: &str, kind: &str) -> Result<Option<Resource>, Error> {
        Ok(self.resolve(api_version, kind).await?.map(|(ar, caps)| Resource {
            api_version: ar.api_version,
            kind: ar.kind,
            plural: ar.plural,
            namespaced: caps.scope == Scope::Namespaced,
        }))
    }

    async fn cluster_scoped(&self, api_version: &str, kind: &str) -> Result<Option<bool>, Error> {
        Ok(self.resolve(api_version, kind).await?.map(|(_, caps)| caps.scope == Scope::Cluster))
    }

    /// Argo CD apps track by annotation, which no selector can find: every listable kind is
    /// listed, as Argo CD's cluster cache does. Flux apps track by label, so the server filters;
    /// kinds of desired objects are listed whole, as those objects are adopted if untracked.
    async fn live_for(&self, app: &AppSpec, desired: &HashSet<ResourceKey>) -> Result<Vec<Object>, Error> {
        let discovery = self.discovery(false).await?;
        let desired_kinds: HashSet<(&str, &str)> =
            desired.iter().map(|k| (k.group.as_str(), k.kind.as_str())).collect();
        let flux_selector = format!("kustomize.toolkit.fluxcd.io/name={}", app.name);
        let mut lists = Vec::new();
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                if !caps.supports_operation(verbs::LIST) || ar.kind == "Event" {
                    continue;
                }
                let wanted = desired_kinds.contains(&(ar.group.as_str(), ar.kind.as_str()));
                let labels = match app.kind {
                    _ if wanted => None,
                    AppKind::FluxKustomization => Some(flux_selector.clone()),
                    AppKind::FluxHelmRelease => {
                        Some(format!("{}={}", gitops_core::app::HELM_RELEASE_NAME_LABEL, app.name))
                    }
                    AppKind::ArgoApplication => None,
                };
                lists.push((ar, labels, wanted));
            }
        }
        let pages: Vec<Vec<Object>> = futures::stream::iter(lists)
            .map(|(ar, labels, wanted)| async move {
                match self.list_all(&ar, labels.as_deref()).await {
                    // A kind this account may not list (or that went away) holds nothing this app
                    // can prune; a kind the app deploys must be readable, so that error stands.
                    Err(Error::Refused { code: 403..=405, .. }) if !wanted => Ok(Vec::new()),
                    other => other,
                }
            })
            .buffer_unordered(PARALLEL_LISTS)
            .try_collect()
            .await?;
        let mut objects: Vec<Object> = pages.into_iter().flatten().collect();
        objects.sort_by_key(|o| o.key(""));
        Ok(crate::cluster::select_live(app, desired, objects))
    }

    async fn namespace_objects(&self, namespace: &str) -> Result<Vec<Object>, Error> {
        let discovery = self.discovery(false).await?;
        let mut lists = Vec::new();
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                if caps.scope == Scope::Namespaced && caps.supports_operation(verbs::LIST) && ar.kind != "Event" {
                    lists.push(ar);
                }
            }
        }
        let pages: Vec<Vec<Object>> = futures::stream::iter(lists)
            .map(|ar| async move {
                match self.list_in(&ar, namespace).await {
                    // What this account may not list, it cannot report on.
                    Err(Error::Refused { code: 403..=405, .. }) => Ok(Vec::new()),
                    other => other,
                }
            })
            .buffer_unordered(PARALLEL_LISTS)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    async fn get(&self, key: &ResourceKey) -> Result<Option<Object>, Error> {
        let Some((ar, caps)) = self.resolve_key(key).await? else { return Ok(None) };
        Ok(self.get_raw(&ar, &caps, key).await?.map(|v| self.object(v, &ar)))
    }

    async fn apply(&self, obj: &Object, mode: ApplyMode, dry_run: bool) -> Result<(Applied, Object), Error> {
        self.write(obj, mode, dry_run).await
    }

    async fn merge_patch(&self, key: &ResourceKey, patch: &Value, status: bool) -> Result<bool, Error> {
        if status {
            let Some(status) = patch.get("status") else { return Ok(true) };
            return self.patch_status(key, status).await;
        }
        KubeCluster::merge_patch(self, key, patch).await
    }

    async fn delete(&self, key: &ResourceKey, propagation: Propagation, dry_run: bool) -> Result<bool, Error> {
        let Some((ar, caps)) = self.resolve_key(key).await? else { return Ok(false) };
        let mut dp = match propagation {
            Propagation::Foreground => DeleteParams::foreground(),
            Propagation::Background => DeleteParams::background(),
            Propagation::Orphan => DeleteParams::orphan(),
        };
        dp.dry_run = dry_run;
        let req = Self::request(&ar, &caps, &key.namespace).delete(&key.name, &dp).map_err(build(key))?;
        match self.writer().request_text(req).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(api_error(&key.to_string(), e)),
        }
    }

    async fn changed(&self, watched: &[(ResourceKey, Option<String>)], timeout: Duration) -> Result<(), Error> {
        let mut streams = Vec::new();
        // One watch per object, for a few: the rest are looked at again after the timeout anyway.
        for (key, rv) in watched.iter().take(WATCHES) {
            let Some((ar, caps)) = self.resolve_key(key).await? else { continue };
            let wp = WatchParams::default().fields(&format!("metadata.name={}", key.name)).timeout(290);
            // Without a version (the object did not exist) any event is news: watch from "now"
            // would miss a creation between the read and the watch, so start from the start.
            let version = rv.clone().unwrap_or_else(|| "0".into());
            let req = Self::request(&ar, &caps, &key.namespace).watch(&wp, &version).map_err(build(key))?;
            let events = self.client.request_events::<Value>(req).await.map_err(|e| api_error(&key.to_string(), e))?;
            let key = key.clone();
            let seen = rv.clone();
            streams.push(
                events
                    .filter(move |e: &Result<WatchEvent<Value>, kube::Error>| {
                        // A fresh watch replays the object as ADDED: that is news only if it is new.
                        let news = match e {
                            Ok(WatchEvent::Added(v) | WatchEvent::Modified(v) | WatchEvent::Deleted(v)) => {
                                v.pointer("/metadata/resourceVersion").and_then(Value::as_str) != seen.as_deref()
                            }
                            Ok(WatchEvent::Bookmark(_)) => false,
                            Ok(WatchEvent::Error(_)) | Err(_) => true,
                        };
                        std::future::ready(news)
                    })
                    .map(move |e| (key.clone(), e.is_ok()))
                    .boxed(),
            );
        }
        if streams.is_empty() {
            tokio::time::sleep(timeout).await;
            return Ok(());
        }
        let mut all = futures::stream::select_all(streams);
        // A timeout, an event, an error or a closed watch all mean: look again.
        let _ = tokio::time::timeout(timeout, all.next()).await;
        Ok(())
    }
}
