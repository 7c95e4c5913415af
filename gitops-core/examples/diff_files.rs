//! Diff two manifest files the way Argo CD compares an app's desired and live objects.
//!
//! ```text
//! cargo run -p gitops-core --example diff_files -- DESIRED.yaml LIVE.yaml
//! ```
//!
//! With no arguments it compares two small built-in documents, so `cargo test --examples`
//! runs it as it is. Objects are paired by identity (group, kind, namespace, name); each pair
//! is normalized (API-server defaults, canonical quantities) before it is compared, so a
//! live object read back from a cluster compares equal to its manifest unless something
//! really changed.

use std::error::Error;

use gitops_core::{Comparator, DiffConfig, Object, SyncStatus, manifest, report};

const DESIRED: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
";

// What an API server returns for that Service: defaults, a cluster IP, server-set metadata,
// and one real change (the port).
const LIVE: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, uid: 1b2c, resourceVersion: '7'}
spec:
  clusterIP: 10.0.0.12
  clusterIPs: [10.0.0.12]
  internalTrafficPolicy: Cluster
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  selector: {app: web}
  sessionAffinity: None
  type: ClusterIP
  ports: [{port: 80, protocol: TCP, targetPort: 9090}]
status: {loadBalancer: {}}
";

fn read(path: Option<String>, builtin: &str, name: &str) -> Result<Vec<Object>, Box<dyn Error>> {
    Ok(match path {
        Some(path) => manifest::parse(&path, &std::fs::read_to_string(&path)?)?,
        None => manifest::parse(name, builtin)?,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let desired = read(args.next(), DESIRED, "desired.yaml")?;
    let live = read(args.next(), LIVE, "live.yaml")?;

    // Objects without a namespace take the app's destination namespace, as in Argo CD.
    let comparator = Comparator::new(DiffConfig { namespace: "default".into(), ..DiffConfig::default() })?;
    let diff = comparator.diff(desired, live)?;
    for object in &diff.objects {
        println!("{}: {:?}", object.key, object.status);
        print!("{}", report::unified(object));
    }
    let s = &diff.summary;
    println!(
        "{} synced, {} out of sync, {} missing, {} to prune",
        s.synced, s.out_of_sync, s.missing, s.requires_pruning
    );
    // The built-in pair differs in one field: the Service's targetPort.
    if std::env::args().len() == 1 {
        assert_eq!(diff.objects[0].status, SyncStatus::OutOfSync);
        assert_eq!(diff.objects[0].changed_paths(), ["/spec/ports/0/targetPort"]);
    }
    Ok(())
}
