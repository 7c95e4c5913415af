//! The hub's reach to many clusters, against a real `kube-apiserver` (the `k8s-testenv` harness,
//! `tools/k8s-testenv`, started once for this binary):
//! - `KubeCluster::connect_registered`: an Argo CD registered cluster (server, `tlsClientConfig`,
//!   `bearerToken`) connects and discovers; a ServiceAccount token from the TokenRequest API
//!   lists namespaces; a wrong token is a 401 naming the cluster, never the token; `insecure`
//!   without a CA connects; a wrong CA is a TLS error naming the cluster; a client certificate
//!   is presented to the server's x509 authenticator;
//! - `gitops_kube::lease`: two candidates on one Lease as client-go's leader election has them
//!   (acquire, refusal naming the holder, renewal, take-over after expiry with
//!   `leaseTransitions` counted, the old leader seeing it lost, release and immediate
//!   take-over), and a race of two writers on one resourceVersion won by exactly one.
//!
//! The harness's kubeconfig authenticates with a static token (`tokens.csv`) and the harness
//! keeps no CA key, so no client certificate the server trusts can be made here: the
//! certificate test proves the certificate reaches the x509 authenticator (401, where no
//! credentials at all are the anonymous user's 403), not a successful certificate login.
//!
//! Without `GITOPS_TESTENV` each test says it skipped; with it set, a harness that does not
//! start fails every test.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use gitops_core::fleet::cluster::{ClusterConfig, RegisteredCluster, Sensitive, TlsClientConfig};
use gitops_kube::KubeCluster;
use gitops_kube::cluster::{Cluster, Error};
use gitops_kube::lease::{LeaderState, LeaseLock, Record};
use gitops_standin::testenv::{self, TestEnv};
use kube::api::PostParams;
use kube::core::Request;
use serde_json::{Value, json};

/// The control plane, or `None` (the test is skipped, and says so).
macro_rules! env_or_skip {
    ($name:expr) => {
        match testenv::or_skip($name) {
            Some(env) => env,
            None => return,
        }
    };
}

/// What the harness's kubeconfig says: server, CA (PEM) and the admin's static token.
struct Harness {
    server: String,
    ca: Vec<u8>,
    token: String,
}

fn harness(env: &TestEnv) -> Harness {
    let file = kube::config::Kubeconfig::read_from(env.kubeconfig()).expect("kubeconfig");
    let cluster = file.clusters[0].cluster.clone().expect("cluster");
    let ca = base64::engine::general_purpose::STANDARD
        .decode(cluster.certificate_authority_data.expect("CA data"))
        .expect("base64");
    // The kubeconfig's token, from the file the server reads it from (`TOKEN,USER,UID,"GROUPS"`).
    let tokens = std::fs::read_to_string(env.dir().join("tokens.csv")).expect("tokens.csv");
    let token = tokens.split(',').next().expect("a token").to_string();
    Harness { server: cluster.server.expect("server"), ca, token }
}

/// A cluster registered as Argo CD would hold it, named `testenv`.
fn registered(server: &str, config: ClusterConfig) -> RegisteredCluster {
    RegisteredCluster::new("testenv", server, config)
}

fn tls(ca: &[u8]) -> TlsClientConfig {
    TlsClientConfig { ca_data: ca.to_vec(), ..TlsClientConfig::default() }
}

/// An admin client, to set things up as an operator would.
async fn admin(env: &TestEnv) -> kube::Client {
    KubeCluster::connect(Some(env.kubeconfig()), None).await.expect("connects").client().clone()
}

async fn create(client: &kube::Client, path: &str, body: Value) -> Value {
    let req = Request::new(path).create(&PostParams::default(), body.to_string().into_bytes()).unwrap();
    match client.request::<Value>(req).await {
        Ok(v) => v,
        Err(kube::Error::Api(s)) if s.code == 409 => Value::Null,
        Err(e) => panic!("create at {path}: {e}"),
    }
}

async fn namespace(client: &kube::Client, name: &str) {
    create(client, "/api/v1/namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        .await;
}

/// Discovery of a built-in kind, the first request a KubeCluster makes.
async fn discovers(cluster: &KubeCluster) -> Result<bool, Error> {
    Ok(cluster.resource("apps/v1", "Deployment").await?.is_some())
}

#[tokio::test(flavor = "current_thread")]
async fn registered_cluster_with_ca_connects_and_presents_its_client_certificate() {
    let env = env_or_skip!("registered_cluster_with_ca_connects_and_presents_its_client_certificate");
    let h = harness(env);
    let config = ClusterConfig {
        bearer_token: Sensitive::new(h.token.clone()),
        tls_client_config: tls(&h.ca),
        ..ClusterConfig::default()
    };
    let cluster = KubeCluster::connect_registered(&registered(&h.server, config)).await.expect("connects");
    assert_eq!(cluster.describe(), format!("cluster testenv ({})", h.server));
    assert!(discovers(&cluster).await.expect("discovery"), "Deployments are served");
    assert!(cluster.resource("v1", "ConfigMap").await.unwrap().is_some_and(|r| r.namespaced));

    // The serving certificate is signed by the CA the server trusts for clients, but made for
    // server authentication only: the x509 authenticator rejects it, which it can only do if the
    // client presented it.
    let cert = std::fs::read(env.dir().join("serving.crt")).expect("serving.crt");
    let key = std::fs::read(env.dir().join("serving.key")).expect("serving.key");
    let config = ClusterConfig {
        tls_client_config: TlsClientConfig { cert_data: cert, key_data: Sensitive::new(key.clone()), ..tls(&h.ca) },
        ..ClusterConfig::default()
    };
    let cluster = KubeCluster::connect_registered(&registered(&h.server, config)).await.expect("connects");
    let e = discovers(&cluster).await.unwrap_err().to_string();
    assert!(e.contains("401 Unauthorized") && e.contains("cluster testenv ("), "{e}");
    let key_text = String::from_utf8(key).unwrap();
    let key_body = key_text.lines().nth(1).unwrap();
    assert!(!e.contains(key_body), "{e}");

    // No credentials at all: the anonymous user, who may not discover (403, not 401).
    let anonymous = ClusterConfig { tls_client_config: tls(&h.ca), ..ClusterConfig::default() };
    let cluster = KubeCluster::connect_registered(&registered(&h.server, anonymous)).await.expect("connects");
    let e = discovers(&cluster).await.unwrap_err().to_string();
    assert!(e.contains("403") && !e.contains("401"), "{e}");
}

#[tokio::test(flavor = "current_thread")]
async fn bearer_token_from_a_token_request_lists_namespaces_and_a_wrong_one_is_401() {
    let env = env_or_skip!("bearer_token_from_a_token_request_lists_namespaces_and_a_wrong_one_is_401");
    let h = harness(env);
    let admin = admin(env).await;
    namespace(&admin, "clusters-sa").await;
    create(
        &admin,
        "/api/v1/namespaces/clusters-sa/serviceaccounts",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "hub"}}),
    )
    .await;
    create(
        &admin,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "clusters-sa-hub"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "ServiceAccount", "name": "hub", "namespace": "clusters-sa"}]}),
    )
    .await;
    let issued = create(
        &admin,
        "/api/v1/namespaces/clusters-sa/serviceaccounts/hub/token",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}),
    )
    .await;
    let token = issued.pointer("/status/token").and_then(Value::as_str).expect("the server issued a token").to_string();
    assert_ne!(token, h.token);

    let config = ClusterConfig {
        bearer_token: Sensitive::new(token.clone()),
        tls_client_config: tls(&h.ca),
        ..Default::default()
    };
    let cluster = KubeCluster::connect_registered(&registered(&h.server, config)).await.expect("connects");
    assert!(discovers(&cluster).await.expect("discovery as the service account"));
    let req = Request::new("/api/v1/namespaces").list(&Default::default()).unwrap();
    let list: Value = cluster.client().request(req).await.expect("lists namespaces");
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().filter_map(|n| n["metadata"]["name"].as_str()).collect();
    assert!(names.contains(&"clusters-sa") && names.contains(&"kube-system"), "{names:?}");
    // The server saw the service account, not the admin.
    let review = create(
        cluster.client(),
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await;
    assert_eq!(review.pointer("/status/userInfo/username"), Some(&json!("system:serviceaccount:clusters-sa:hub")));

    // The same claims under another signature. (Changing only the last character would not do:
    // in base64url it may carry padding bits only, leaving the signature as it was.)
    let (signed, signature) = token.rsplit_once('.').expect("a JWT");
    let wrong = format!("{signed}.{}", "A".repeat(signature.len()));
    let config = ClusterConfig {
        bearer_token: Sensitive::new(wrong.clone()),
        tls_client_config: tls(&h.ca),
        ..Default::default()
    };
    let cluster = KubeCluster::connect_registered(&registered(&h.server, config)).await.expect("connects");
    let e = discovers(&cluster).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(text.starts_with(&format!("discovery at cluster testenv ({}", h.server)), "{text}");
    assert!(text.contains("401 Unauthorized") && text.contains("bearerToken"), "{text}");
    assert!(!text.contains(&wrong) && !text.contains(&token) && !format!("{e:?}").contains(&wrong), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn insecure_connects_without_a_ca_and_a_wrong_ca_is_a_tls_error() {
    let env = env_or_skip!("insecure_connects_without_a_ca_and_a_wrong_ca_is_a_tls_error");
    let h = harness(env);
    let token = Sensitive::new(h.token.clone());
    let insecure = ClusterConfig {
        bearer_token: token.clone(),
        tls_client_config: TlsClientConfig { insecure: true, ..Default::default() },
        ..Default::default()
    };
    let cluster = KubeCluster::connect_registered(&registered(&h.server, insecure)).await.expect("connects");
    assert!(discovers(&cluster).await.expect("discovery without verifying the server"));

    // A certificate that did not sign the server's: the server is not trusted.
    let not_the_ca = std::fs::read(env.dir().join("serving.crt")).expect("serving.crt");
    let config =
        ClusterConfig { bearer_token: token.clone(), tls_client_config: tls(&not_the_ca), ..Default::default() };
    let cluster = KubeCluster::connect_registered(&registered(&h.server, config)).await.expect("connects");
    let e = discovers(&cluster).await.unwrap_err().to_string();
    assert!(e.starts_with(&format!("discovery at cluster testenv ({}", h.server)), "{e}");
    assert!(e.contains("UnknownIssuer") && e.contains("does not verify against config.tlsClientConfig.caData"), "{e}");
    assert!(!e.contains(&h.token), "{e}");

    // Both: refused before any request, as client-go refuses it.
    let both = ClusterConfig {
        bearer_token: token,
        tls_client_config: TlsClientConfig { insecure: true, ..tls(&h.ca) },
        ..Default::default()
    };
    let e = KubeCluster::connect_registered(&registered(&h.server, both)).await.unwrap_err().to_string();
    assert!(e.contains("cluster testenv (") && e.contains("caData and insecure"), "{e}");
}

async fn lease_record(client: &kube::Client, ns: &str, name: &str) -> (Value, Record) {
    let req = Request::new(format!("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"))
        .get(name, &Default::default())
        .unwrap();
    let lease: Value = client.request(req).await.expect("the lease");
    let record = Record::from_lease(&lease, name).expect("reads");
    (lease, record)
}

#[tokio::test(flavor = "current_thread")]
async fn two_candidates_share_a_lease_as_client_go_candidates_do() {
    let env = env_or_skip!("two_candidates_share_a_lease_as_client_go_candidates_do");
    let client = admin(env).await;
    let ns = "lease-election";
    namespace(&client, ns).await;

    // A long lease: acquire, refuse, renew.
    let a = LeaseLock::new(ns, "hub", "a", Duration::from_secs(15));
    let b = LeaseLock::new(ns, "hub", "b", Duration::from_secs(15));
    let first = a.try_acquire_or_renew(&client).await.expect("a's round");
    assert!(matches!(first, LeaderState::Leading { acquired: true, transitions: 0, .. }), "{first:?}");
    let (lease, created) = lease_record(&client, ns, "hub").await;
    assert_eq!((created.holder.as_str(), created.lease_duration_seconds), ("a", 15));
    let renew_text = lease.pointer("/spec/renewTime").and_then(Value::as_str).unwrap();
    assert!(renew_text.len() == 27 && renew_text.ends_with('Z') && renew_text.as_bytes()[19] == b'.', "{renew_text}");
    match b.try_acquire_or_renew(&client).await.expect("b's round") {
        LeaderState::Following { holder, expires } => {
            assert_eq!(holder, "a");
            assert!(expires > SystemTime::now() + Duration::from_secs(10), "{expires:?}");
        }
        other => panic!("b must follow a: {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let renewed = a.try_acquire_or_renew(&client).await.expect("a renews");
    assert!(matches!(renewed, LeaderState::Leading { acquired: false, transitions: 0, .. }), "{renewed:?}");
    let (_, after) = lease_record(&client, ns, "hub").await;
    assert_eq!(after.acquire_time, created.acquire_time);
    assert!(after.renew_time > created.renew_time);

    // A one-second lease left to expire: b takes over, a sees it lost.
    let a = LeaseLock::new(ns, "short", "a", Duration::from_secs(1));
    let b = LeaseLock::new(ns, "short", "b", Duration::from_secs(1));
    assert!(a.try_acquire_or_renew(&client).await.unwrap().is_leader());
    assert!(!b.try_acquire_or_renew(&client).await.unwrap().is_leader());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let took = b.try_acquire_or_renew(&client).await.expect("b's round");
    assert!(matches!(took, LeaderState::Leading { acquired: true, transitions: 1, .. }), "{took:?}");
    assert_eq!(lease_record(&client, ns, "short").await.1.transitions, 1);
    let lost = a.try_acquire_or_renew(&client).await.expect("a's round");
    assert!(matches!(&lost, LeaderState::Following { holder, .. } if holder == "b"), "{lost:?}");
    assert!(!a.release(&client).await.unwrap(), "a holds nothing to release");

    // a takes it back once b's lease runs out, then releases it: b takes it at once.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let back = a.try_acquire_or_renew(&client).await.expect("a's round");
    assert!(matches!(back, LeaderState::Leading { acquired: true, transitions: 2, .. }), "{back:?}");
    assert!(a.release(&client).await.expect("a releases"));
    let (_, released) = lease_record(&client, ns, "short").await;
    assert_eq!((released.holder.as_str(), released.lease_duration_seconds, released.transitions), ("", 1, 2));
    let next = b.try_acquire_or_renew(&client).await.expect("b's round");
    assert!(matches!(next, LeaderState::Leading { acquired: true, transitions: 3, .. }), "{next:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn of_two_candidates_racing_for_an_expired_lease_exactly_one_leads() {
    let env = env_or_skip!("of_two_candidates_racing_for_an_expired_lease_exactly_one_leads");
    let client = admin(env).await;
    let ns = "lease-race";
    namespace(&client, ns).await;
    for round in 0..5 {
        let name = format!("race-{round}");
        // A lease whose holder vanished long ago.
        create(
            &client,
            &format!("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"),
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
                   "spec": {"holderIdentity": "gone", "leaseDurationSeconds": 1, "leaseTransitions": 7,
                            "renewTime": "2020-01-01T00:00:00.000000Z", "acquireTime": "2020-01-01T00:00:00.000000Z"}}),
        )
        .await;
        let a = LeaseLock::new(ns, &name, "a", Duration::from_secs(15));
        let b = LeaseLock::new(ns, &name, "b", Duration::from_secs(15));
        let (ra, rb) = tokio::join!(a.try_acquire_or_renew(&client), b.try_acquire_or_renew(&client));
        let (ra, rb) = (ra.expect("a's round"), rb.expect("b's round"));
        assert!(ra.is_leader() != rb.is_leader(), "exactly one leads: {ra:?} {rb:?}");
        let (_, record) = lease_record(&client, ns, &name).await;
        let winner = if ra.is_leader() { "a" } else { "b" };
        assert_eq!((record.holder.as_str(), record.transitions), (winner, 8));
        let loser = if ra.is_leader() { &rb } else { &ra };
        assert!(
            matches!(loser, LeaderState::LostRace)
                || matches!(loser, LeaderState::Following { holder, .. } if holder == winner),
            "{loser:?}"
        );
    }
}
