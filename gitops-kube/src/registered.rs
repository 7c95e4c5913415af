//! A cluster registered with Argo CD (a cluster Secret, read by `gitops_core::fleet::cluster`)
//! turned into a kube-rs [`kube::Config`], as Argo CD's `Cluster.RawRestConfig`
//! (`pkg/apis/application/v1alpha1/types.go`) turns it into a client-go `rest.Config`:
//!
//! - the server `https://kubernetes.default.svc` is the cluster this process runs in: its
//!   in-cluster configuration (service account token and CA), with the secret's `username`,
//!   `password` or `bearerToken` in place of the service account's when one is set;
//! - any other server: `tlsClientConfig` (`caData`, `certData`, `keyData`, `insecure`,
//!   `serverName`) and one way to authenticate, in Argo CD's order: `awsAuthConfig` (the
//!   `argocd-k8s-auth aws` exec plugin), else `execProviderConfig` (an exec plugin, never
//!   interactive), else `username`/`password` and `bearerToken`;
//! - `proxyUrl` (schemes http, https, socks5) and `disableCompression`.
//!
//! client-go's own refusals are kept, so a secret Argo CD cannot use is not used here either:
//! `caData` with `insecure`, and basic auth with a bearer token.
//!
//! Proxies: kube-rs reaches a proxy only with its `http-proxy` or `socks5` feature, which this
//! build does not enable (they add dependencies); a cluster with a `proxyUrl` is refused with a
//! message saying so, rather than reached directly behind the proxy's back.
//!
//! Compression: kube-rs asks for none unless built with `gzip` (not enabled here), so
//! `disableCompression` is carried over but changes nothing.
//!
//! Errors name the cluster (`cluster prod (https://…)`) and the field, never a credential: the
//! reasons kube-rs gives are stripped of anything they quote.

use base64::Engine as _;
use gitops_core::fleet::cluster::{IN_CLUSTER_SERVER, RegisteredCluster};
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig, KubeconfigError};
use serde_json::{Value, json};

/// The exec plugin Argo CD runs for EKS clusters (`awsAuthConfig`).
const ARGOCD_K8S_AUTH: &str = "argocd-k8s-auth";
/// The ExecCredential version Argo CD asks `argocd-k8s-auth` for.
const AWS_EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

/// Why a registered cluster's config cannot become a client. Each message names the cluster
/// and the field of its secret's `config`, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterConfigError {
    /// client-go refuses a CA together with `insecure` (Argo CD then fails the same way).
    #[error(
        "{cluster}: config.tlsClientConfig sets both caData and insecure: true, which client-go refuses \
         (\"specifying a root certificates file with the insecure flag is not allowed\"); remove one of them"
    )]
    InsecureWithCa {
        /// `cluster NAME (SERVER)`.
        cluster: String,
    },
    /// client-go refuses basic auth together with a bearer token.
    #[error(
        "{cluster}: config sets both username/password and bearerToken, which client-go refuses \
         (\"username/password or bearer token may be set, but not both\"); keep one of them"
    )]
    BasicAndToken {
        /// `cluster NAME (SERVER)`.
        cluster: String,
    },
    /// A client certificate without its key, or a key without its certificate.
    #[error("{cluster}: config.tlsClientConfig.{present} is set but {missing} is not; a client certificate needs both")]
    HalfIdentity {
        /// `cluster NAME (SERVER)`.
        cluster: String,
        /// The field that is set.
        present: &'static str,
        /// The field that is missing.
        missing: &'static str,
    },
    /// `proxyUrl` has a scheme Argo CD refuses (its message).
    #[error(
        "{cluster}: config.proxyUrl: Failed to parse proxy url, unsupported scheme {scheme:?}, must be http, https, or socks5"
    )]
    ProxyScheme {
        /// `cluster NAME (SERVER)`.
        cluster: String,
        /// The scheme found (the rest of the URL may hold credentials and is not shown).
        scheme: String,
    },
    /// `proxyUrl` is set, and this build of kube-rs cannot use a proxy.
    #[error(
        "{cluster}: config.proxyUrl is set, but this build reaches clusters directly only (kube-rs's http-proxy \
         and socks5 features are off); remove proxyUrl if the server is reachable without it"
    )]
    ProxyUnsupported {
        /// `cluster NAME (SERVER)`.
        cluster: String,
    },
    /// A field holds something the client cannot use (a server that is not a URL, a CA or
    /// certificate that is not PEM, an in-cluster configuration that is absent...).
    #[error("{cluster}: {field}: {reason}")]
    Unusable {
        /// `cluster NAME (SERVER)`.
        cluster: String,
        /// The field, e.g. `config.tlsClientConfig.caData`.
        field: &'static str,
        /// Why, with anything quoted removed.
        reason: String,
    },
}

/// How a registered cluster is named in messages: `cluster NAME (SERVER)`.
pub fn describe(cluster: &RegisteredCluster) -> String {
    format!("cluster {} ({})", cluster.name, cluster.server)
}

/// The kube-rs configuration that reaches `cluster` as Argo CD would reach it. Reads the
/// in-cluster service account files for [`IN_CLUSTER_SERVER`]; nothing else touches the disk or
/// the network (exec plugins run at the first request).
pub async fn config_for(cluster: &RegisteredCluster) -> Result<kube::Config, ClusterConfigError> {
    let name = describe(cluster);
    let c = &cluster.config;
    check_proxy(&name, &c.proxy_url)?;
    let unusable = |field, e: &dyn std::fmt::Display| ClusterConfigError::Unusable {
        cluster: name.clone(),
        field,
        reason: redact(e),
    };
    let mut config = if cluster.server == IN_CLUSTER_SERVER {
        let mut config = kube::Config::incluster().map_err(|e| unusable("in-cluster configuration", &e))?;
        if !c.username.is_empty() || !c.password.expose().is_empty() || !c.bearer_token.expose().is_empty() {
            // Argo CD keeps the in-cluster CA and server and swaps the credentials.
            config.auth_info = auth_info(&basic_and_token(cluster))
                .map_err(|_| unusable("config", &"the credentials do not form a kubeconfig user"))?;
        }
        config
    } else {
        let kubeconfig = kubeconfig_for(cluster)?;
        let options = KubeConfigOptions::default();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| {
            let field = match &e {
                KubeconfigError::ParseClusterUrl(_) | KubeconfigError::MissingClusterUrl => "server",
                KubeconfigError::LoadCertificateAuthority(_) | KubeconfigError::ParseCertificates(_) => {
                    "config.tlsClientConfig.caData"
                }
                KubeconfigError::LoadClientCertificate(_) => "config.tlsClientConfig.certData",
                KubeconfigError::LoadClientKey(_) => "config.tlsClientConfig.keyData",
                KubeconfigError::ParseProxyUrl(_) => "config.proxyUrl",
                _ => "config",
            };
            unusable(field, &e)
        })?;
        // kube-rs skips what is not a CERTIFICATE block; with nothing left, every server would
        // fail as untrusted, which hides the cause.
        if config.root_cert.as_ref().is_some_and(Vec::is_empty) {
            return Err(unusable("config.tlsClientConfig.caData", &"holds no PEM CERTIFICATE block"));
        }
        config
    };
    config.disable_compression = c.disable_compression;
    Ok(config)
}

/// The in-memory kubeconfig (one cluster, one user, one context) that says what Argo CD's
/// `RawRestConfig` says for a cluster other than [`IN_CLUSTER_SERVER`]. Pure: no I/O.
pub fn kubeconfig_for(cluster: &RegisteredCluster) -> Result<Kubeconfig, ClusterConfigError> {
    let name = describe(cluster);
    let c = &cluster.config;
    let tls = &c.tls_client_config;
    if tls.insecure && !tls.ca_data.is_empty() {
        return Err(ClusterConfigError::InsecureWithCa { cluster: name });
    }
    let has_key = !tls.key_data.expose().is_empty();
    match (tls.cert_data.is_empty(), has_key) {
        (false, false) => {
            return Err(ClusterConfigError::HalfIdentity { cluster: name, present: "certData", missing: "keyData" });
        }
        (true, true) => {
            return Err(ClusterConfigError::HalfIdentity { cluster: name, present: "keyData", missing: "certData" });
        }
        _ => {}
    }
    check_proxy(&name, &c.proxy_url)?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut server = json!({"server": cluster.server});
    let fields = server.as_object_mut().expect("an object");
    if !tls.ca_data.is_empty() {
        fields.insert("certificate-authority-data".into(), b64(&tls.ca_data).into());
    }
    if tls.insecure {
        fields.insert("insecure-skip-tls-verify".into(), true.into());
    }
    if !tls.server_name.is_empty() {
        fields.insert("tls-server-name".into(), tls.server_name.clone().into());
    }
    if c.disable_compression {
        fields.insert("disable-compression".into(), true.into());
    }
    if !c.proxy_url.is_empty() {
        fields.insert("proxy-url".into(), c.proxy_url.clone().into());
    }

    // One way to authenticate, in RawRestConfig's order: an exec plugin replaces the rest.
    let mut user = if let Some(aws) = &c.aws_auth_config {
        let mut args = vec!["aws".to_string(), "--cluster-name".into(), aws.cluster_name.clone()];
        if !aws.role_arn.is_empty() {
            args.extend(["--role-arn".to_string(), aws.role_arn.clone()]);
        }
        if !aws.profile.is_empty() {
            args.extend(["--profile".to_string(), aws.profile.clone()]);
        }
        json!({"exec": {"apiVersion": AWS_EXEC_API_VERSION, "command": ARGOCD_K8S_AUTH, "args": args,
                        "interactiveMode": "Never"}})
    } else if let Some(exec) = &c.exec_provider_config {
        let env: Vec<Value> = exec.env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
        let mut plugin = json!({"apiVersion": exec.api_version, "command": exec.command, "args": exec.args,
                                "env": env, "interactiveMode": "Never"});
        if !exec.install_hint.is_empty() {
            plugin["installHint"] = exec.install_hint.clone().into();
        }
        json!({"exec": plugin})
    } else {
        let has_basic = !c.username.is_empty() || !c.password.expose().is_empty();
        if has_basic && !c.bearer_token.expose().is_empty() {
            return Err(ClusterConfigError::BasicAndToken { cluster: name });
        }
        basic_and_token(cluster)
    };
    if !tls.cert_data.is_empty() {
        user["client-certificate-data"] = b64(&tls.cert_data).into();
        user["client-key-data"] = b64(tls.key_data.expose()).into();
    }
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": server}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "cluster", "context": {"cluster": "cluster", "user": "user"}}],
        "current-context": "cluster",
    });
    // The value is built above from strings and booleans only, so it always reads; serde's
    // message could quote a value, so it is not passed on.
    serde_json::from_value(kubeconfig).map_err(|_| ClusterConfigError::Unusable {
        cluster: name,
        field: "config",
        reason: "does not form a kubeconfig".into(),
    })
}

/// The kubeconfig user of `username`, `password` and `bearerToken` (the empty ones left out).
fn basic_and_token(cluster: &RegisteredCluster) -> Value {
    let c = &cluster.config;
    let mut user = json!({});
    for (key, value) in
        [("username", c.username.as_str()), ("password", c.password.expose()), ("token", c.bearer_token.expose())]
    {
        if !value.is_empty() {
            user[key] = value.into();
        }
    }
    user
}

fn auth_info(user: &Value) -> Result<AuthInfo, serde_json::Error> {
    serde_json::from_value(user.clone())
}

/// Argo CD's `ParseProxyUrl` check, then this build's limit.
fn check_proxy(cluster: &str, proxy_url: &str) -> Result<(), ClusterConfigError> {
    if proxy_url.is_empty() {
        return Ok(());
    }
    let scheme = proxy_url.split_once("://").map_or("", |(s, _)| s);
    if !matches!(scheme, "http" | "https" | "socks5") {
        // Only a plain scheme is named; anything longer may be part of the credentials.
        let shown = if scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) { scheme } else { "…" };
        return Err(ClusterConfigError::ProxyScheme { cluster: cluster.to_string(), scheme: shown.to_string() });
    }
    Err(ClusterConfigError::ProxyUnsupported { cluster: cluster.to_string() })
}

/// An error's text, first line only, with every quoted part replaced by `…` (parsers quote the
/// input around a mistake, and here the input holds keys and tokens), and the value of an
/// invalid base64 symbol dropped.
pub(crate) fn redact(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let mut reason = String::with_capacity(first.len());
    let mut quote: Option<char> = None;
    for c in first.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '"' | '\'' | '`') => {
                quote = Some(c);
                reason.push('…');
            }
            None => reason.push(c),
        }
    }
    if let Some(at) = reason.find("Invalid symbol ") {
        reason.truncate(at);
        reason.push_str("an invalid symbol");
    }
    reason.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_core::fleet::cluster::{AwsAuthConfig, ClusterConfig, ExecProviderConfig, Sensitive, TlsClientConfig};

    fn cluster(config: ClusterConfig) -> RegisteredCluster {
        RegisteredCluster::new("prod", "https://prod.example.com:6443", config)
    }

    fn user(k: &Kubeconfig) -> &AuthInfo {
        k.auth_infos[0].auth_info.as_ref().expect("user")
    }

    #[test]
    fn tls_and_token_go_where_client_go_puts_them() {
        let k = kubeconfig_for(&cluster(ClusterConfig {
            bearer_token: Sensitive::new("tok".into()),
            tls_client_config: TlsClientConfig {
                server_name: "api.internal".into(),
                ca_data: b"CA".to_vec(),
                cert_data: b"CERT".to_vec(),
                key_data: Sensitive::new(b"KEY".to_vec()),
                ..Default::default()
            },
            disable_compression: true,
            ..Default::default()
        }))
        .unwrap();
        let c = k.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(c.server.as_deref(), Some("https://prod.example.com:6443"));
        assert_eq!(c.certificate_authority_data.as_deref(), Some("Q0E="));
        assert_eq!(c.tls_server_name.as_deref(), Some("api.internal"));
        assert_eq!((c.insecure_skip_tls_verify, c.disable_compression), (None, Some(true)));
        let u = user(&k);
        assert!(u.token.is_some() && u.username.is_none() && u.exec.is_none());
        assert_eq!(u.client_certificate_data.as_deref(), Some("Q0VSVA=="));
        assert!(u.client_key_data.is_some());
    }

    #[test]
    fn exec_plugins_replace_basic_and_token_auth() {
        let exec = ExecProviderConfig {
            command: "gke-auth".into(),
            args: vec!["--x".into()],
            env: [("A".to_string(), "1".to_string())].into(),
            api_version: "client.authentication.k8s.io/v1".into(),
            install_hint: "install gke-auth".into(),
        };
        let k = kubeconfig_for(&cluster(ClusterConfig {
            bearer_token: Sensitive::new("ignored".into()),
            exec_provider_config: Some(exec),
            ..Default::default()
        }))
        .unwrap();
        let u = user(&k);
        assert!(u.token.is_none(), "RawRestConfig sets no token beside an exec plugin");
        let e = u.exec.as_ref().unwrap();
        assert_eq!(
            (e.command.as_deref(), e.api_version.as_deref()),
            (Some("gke-auth"), Some("client.authentication.k8s.io/v1"))
        );
        assert_eq!(e.args.as_deref(), Some(&["--x".to_string()][..]));
        assert_eq!(e.env.as_ref().unwrap()[0].get("name").map(String::as_str), Some("A"));
        assert_eq!(e.install_hint.as_deref(), Some("install gke-auth"));
        assert_eq!(e.interactive_mode, Some(kube::config::ExecInteractiveMode::Never));

        let k = kubeconfig_for(&cluster(ClusterConfig {
            aws_auth_config: Some(AwsAuthConfig {
                cluster_name: "eks".into(),
                role_arn: "arn:aws:iam::1:role/x".into(),
                profile: String::new(),
            }),
            ..Default::default()
        }))
        .unwrap();
        let e = user(&k).exec.clone().unwrap();
        assert_eq!(e.command.as_deref(), Some("argocd-k8s-auth"));
        assert_eq!(e.args.unwrap(), ["aws", "--cluster-name", "eks", "--role-arn", "arn:aws:iam::1:role/x"]);
    }

    #[test]
    fn client_go_refusals_name_the_cluster_and_field_and_no_secret() {
        let refused = |config: ClusterConfig| kubeconfig_for(&cluster(config)).unwrap_err().to_string();
        let e = refused(ClusterConfig {
            tls_client_config: TlsClientConfig { insecure: true, ca_data: b"CA".to_vec(), ..Default::default() },
            ..Default::default()
        });
        assert!(
            e.starts_with(
                "cluster prod (https://prod.example.com:6443): config.tlsClientConfig sets both caData and insecure"
            ),
            "{e}"
        );
        let e = refused(ClusterConfig {
            username: "admin".into(),
            password: Sensitive::new("hunter2".into()),
            bearer_token: Sensitive::new("s3cr3t".into()),
            ..Default::default()
        });
        assert!(
            e.contains("both username/password and bearerToken") && !e.contains("hunter2") && !e.contains("s3cr3t"),
            "{e}"
        );
        let e = refused(ClusterConfig {
            tls_client_config: TlsClientConfig { key_data: Sensitive::new(b"KEY".to_vec()), ..Default::default() },
            ..Default::default()
        });
        assert!(
            e.ends_with("config.tlsClientConfig.keyData is set but certData is not; a client certificate needs both"),
            "{e}"
        );
        let e = refused(ClusterConfig { proxy_url: "ftp://user:pw@proxy".into(), ..Default::default() });
        assert!(e.contains("unsupported scheme \"ftp\"") && !e.contains("pw@"), "{e}");
        let e = refused(ClusterConfig { proxy_url: "http://user:pw@proxy:3128".into(), ..Default::default() });
        assert!(
            e.contains("config.proxyUrl is set, but this build reaches clusters directly only") && !e.contains("pw@"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn unusable_pem_names_the_field_without_its_contents() {
        for pem in [
            "-----BEGIN CERTIFICATE-----\nsecretish\n",
            "-----BEGIN CERTIFICATE-----\nsecretish\n-----END CERTIFICATE-----\n",
        ] {
            let tls = TlsClientConfig { ca_data: pem.as_bytes().to_vec(), ..Default::default() };
            let e = config_for(&cluster(ClusterConfig { tls_client_config: tls, ..Default::default() }))
                .await
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("cluster prod (https://prod.example.com:6443): config.tlsClientConfig.caData:"),
                "{e}"
            );
            assert!(!e.contains("secretish"), "{e}");
        }
        let e = config_for(&RegisteredCluster { server: "not a url".into(), ..cluster(ClusterConfig::default()) })
            .await
            .unwrap_err();
        assert!(matches!(e, ClusterConfigError::Unusable { field: "server", .. }), "{e}");
    }
}
