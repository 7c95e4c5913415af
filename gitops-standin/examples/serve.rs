//! Serves the stand-in until killed, for trying `gitops --target kube` by hand:
//! `cargo run -p gitops-standin --example serve -- /tmp/standin.kubeconfig`, then
//! `gitops sync --app ... --target kube:standin --kubeconfig /tmp/standin.kubeconfig`.

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "standin.kubeconfig".into());
    let server = gitops_standin::ApiServer::start();
    if let Err(e) = std::fs::write(&path, server.kubeconfig("standin", "default")) {
        eprintln!("{path}: {e}");
        std::process::exit(2);
    }
    eprintln!("serving {} (kubeconfig: {path}, context: standin); Ctrl-C stops", server.url());
    loop {
        std::thread::park();
    }
}
